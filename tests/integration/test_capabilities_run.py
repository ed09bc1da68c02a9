"""Capability mismatches made for real: FRR 8.4 (zebra + bgpd) against BIRD 2 in two namespaces.

FRR runs in bdc-frr-PID, BIRD 2 in bdc-bird-PID, joined by a veth pair created inside the FRR
namespace. Each test starts both daemons with its own configuration, waits for FRR to show the
session Established, and runs `bgpdoctor run` against them: the cause and the end to fix must come
out of each daemon's own view of the negotiated capabilities.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bgpdoctor.lab.frr import FRR_DAEMON_DIR, FrrInstance, start_frr  # noqa: E402
from bgpdoctor.lab.procs import kill_proc, ns_run, start_in_ns  # noqa: E402
from bgpdoctor.lab.state import ProcRecord  # noqa: E402

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
    pytest.mark.skipif(not (FRR_DAEMON_DIR / "bgpd").exists(), reason="FRR is not installed (apt frr)"),
    pytest.mark.skipif(shutil.which("bird") is None, reason="bird2 is not installed"),
    pytest.mark.skipif(shutil.which("gobgpd") is None, reason="gobgpd is not installed"),
]

FRR_IP, BIRD_IP = "10.213.19.1", "10.213.19.2"
FRR_AS, BIRD_AS = 65001, 65002
CHECKS = ("bgp-graceful-restart-consistent", "bgp-families-negotiated", "bgp-as4-negotiated")


def frr_conf(graceful_restart: bool = False, ipv6: bool = False) -> str:
    policy = f"  neighbor {BIRD_IP} route-map ALL in\n  neighbor {BIRD_IP} route-map ALL out\n"
    v6 = (
        f" address-family ipv6 unicast\n  neighbor {BIRD_IP} activate\n{policy} exit-address-family\n"
        if ipv6
        else ""
    )
    return (
        "hostname frr1\nlog stdout informational\nroute-map ALL permit 10\nexit\n"
        f"router bgp {FRR_AS}\n bgp router-id {FRR_IP}\n timers bgp 3 9\n"
        + (" bgp graceful-restart\n" if graceful_restart else "")
        + f" neighbor {BIRD_IP} remote-as {BIRD_AS}\n neighbor {BIRD_IP} timers connect 1\n"
        f" address-family ipv4 unicast\n  redistribute connected\n{policy} exit-address-family\n{v6}exit\n"
    )


def bird_conf(protocol_extra: str = "") -> str:
    return f"""
router id {BIRD_IP};
protocol device {{ scan time 10; }}
protocol static {{ ipv4; route 10.90.18.0/24 blackhole; }}
protocol bgp frr1 {{
  local {BIRD_IP} as {BIRD_AS};
  neighbor {FRR_IP} as {FRR_AS};
  hold time 9;
  keepalive time 3;
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 2;
{protocol_extra}
  ipv4 {{ import all; export where source = RTS_STATIC; }};
}}
"""


@dataclass
class Pair:
    frr_ns: str
    bird_ns: str
    run_dir: Path
    frr: FrrInstance | None = None
    procs: list[ProcRecord] = field(default_factory=list)

    def start_gobgp(self, frr: str) -> None:
        """gobgpd in the second namespace (as Cilium's agent runs it), graceful restart on."""
        toml = f"""[global.config]
  as = {BIRD_AS}
  router-id = "{BIRD_IP}"
  port = 179
  local-address-list = ["{BIRD_IP}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{FRR_IP}"
    peer-as = {FRR_AS}
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 1
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 120
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
"""
        (self.run_dir / "gobgpd.toml").write_text(toml)
        argv = ["gobgpd", "-t", "toml", "-f", str(self.run_dir / "gobgpd.toml"), "-p"]
        self.procs.append(start_in_ns(self.bird_ns, "node1", "gobgpd", argv, self.run_dir / "gobgpd.log"))
        self.frr = start_frr(self.frr_ns, "frr1", self.run_dir / "frr", bgpd_conf=frr)

    def start(self, frr: str, bird: str) -> None:
        (self.run_dir / "bird.conf").write_text(bird)
        argv = ["bird", "-f", "-c", str(self.run_dir / "bird.conf"), "-s", str(self.run_dir / "bird.ctl")]
        self.procs.append(start_in_ns(self.bird_ns, "bird1", "bird", argv, self.run_dir / "bird.log"))
        self.frr = start_frr(self.frr_ns, "frr1", self.run_dir / "frr", bgpd_conf=frr)

    def neighbor(self) -> dict[str, Any]:
        assert self.frr is not None
        data: dict[str, Any] = json.loads(self.frr.vtysh(f"show bgp neighbors {BIRD_IP} json"))
        return data.get(BIRD_IP, {})

    def wait_for(self, what: str, ok: Callable[[dict[str, Any]], bool], timeout: float = 40) -> None:
        deadline = time.monotonic() + timeout
        seen: dict[str, Any] = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(json.JSONDecodeError):
                seen = self.neighbor()
                if ok(seen):
                    return
            time.sleep(0.5)
        pytest.fail(f"FRR never showed {what} in {timeout}s: {seen.get('bgpState')}")

    def inventory(self, path: Path) -> Path:
        inv = {
            "hosts": {
                "frr1": {
                    "role": "router",
                    "speaker": "frr",
                    "asn": FRR_AS,
                    "router_id": FRR_IP,
                    "addresses": [FRR_IP],
                    "connect": {"netns": self.frr_ns},
                    "control_socket": str(self.run_dir / "frr"),
                    "peers": [{"host": "bird1", "address": BIRD_IP, "asn": BIRD_AS}],
                },
                "bird1": {
                    "role": "router",
                    "speaker": "bird2",
                    "asn": BIRD_AS,
                    "router_id": BIRD_IP,
                    "addresses": [BIRD_IP],
                    "connect": {"netns": self.bird_ns},
                    "control_socket": str(self.run_dir / "bird.ctl"),
                    "peers": [{"host": "frr1", "address": FRR_IP, "asn": FRR_AS, "name": "frr1"}],
                },
            }
        }
        path.write_text(yaml.safe_dump(inv))
        return path


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=20)


@pytest.fixture
def pair() -> Iterator[Pair]:
    tag = str(os.getpid() % 100000)
    run_dir = Path(tempfile.mkdtemp(prefix=f"bdc-frr-{tag}-"))  # not under tmp_path: frr must read it
    run_dir.chmod(0o755)
    p = Pair(f"bdc-frr-{tag}", f"bdc-bird-{tag}", run_dir)
    created: list[str] = []
    try:
        for ns in (p.frr_ns, p.bird_ns):
            sh("ip", "netns", "add", ns)
            created.append(ns)
        sh(
            "ip",
            "-n",
            p.frr_ns,
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            p.bird_ns,
        )
        for ns, ip in ((p.frr_ns, FRR_IP), (p.bird_ns, BIRD_IP)):
            sh("ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        yield p
    finally:
        if p.frr is not None:
            p.frr.stop()
        for rec in p.procs:
            kill_proc(rec)
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        shutil.rmtree(run_dir, ignore_errors=True)


def run(inventory: Path) -> tuple[int, dict[str, Any]]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "NO_COLOR": "1",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bgpdoctor", "run", "-i", str(inventory), "-o", "json", "--no-mtu",
         "--timeout", "8"],
        capture_output=True, text=True, env=env, timeout=180, check=False, cwd=ROOT,
    )  # fmt: skip
    assert proc.stdout, (proc.returncode, proc.stderr[-3000:])
    (inventory.parent / "report.json").write_text(proc.stdout)
    return proc.returncode, json.loads(proc.stdout)


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {r["check"]: r["status"] for r in report["results"] if r["check"] in CHECKS}


def established(n: dict[str, Any]) -> bool:
    return n.get("bgpState") == "Established"


def test_agreeing_capabilities_pass(pair: Pair, tmp_path: Path) -> None:
    pair.start(frr_conf(), bird_conf())
    pair.wait_for("Established", established)
    code, report = run(pair.inventory(tmp_path / "inventory.yaml"))
    assert statuses(report) == dict.fromkeys(CHECKS, "pass"), statuses(report)
    assert report["diagnoses"] == [] and code == 0, report["diagnoses"]


def test_ipv6_activated_on_frr_only_is_an_afi_capability_mismatch_on_bird(pair: Pair, tmp_path: Path) -> None:
    pair.start(frr_conf(ipv6=True), bird_conf())
    pair.wait_for("Established", established)
    code, report = run(pair.inventory(tmp_path / "inventory.yaml"))
    causes = [d["root_cause"] for d in report["diagnoses"]]
    assert causes == ["afi-capability-mismatch"], causes
    top = report["diagnoses"][0]
    print(top["summary"])
    assert top["hosts"] == ["bird1"]
    assert top["summary"].startswith(
        "frr1 offers ipv6-unicast on this session and bird1 does not run it, "
        "so ipv6-unicast is not negotiated"
    )
    assert statuses(report)["bgp-families-negotiated"] == "fail"
    assert code == 1


def test_gr_restart_mode_against_gr_off_is_graceful_restart_misbehaviour_and_the_fix_clears_it(
    pair: Pair, tmp_path: Path
) -> None:
    pair.start(frr_conf(graceful_restart=True), bird_conf("  graceful restart off;"))
    pair.wait_for("Established", established)
    inventory = pair.inventory(tmp_path / "inventory.yaml")
    code, report = run(inventory)
    causes = [d["root_cause"] for d in report["diagnoses"]]
    assert causes == ["graceful-restart-misbehaviour"], causes
    top = report["diagnoses"][0]
    print(top["summary"])
    assert top["hosts"] == ["bird1"]
    assert top["summary"].startswith(
        "frr1 runs graceful restart (restart mode) and relies on bird1 to keep its routes while it restarts, "
        "but bird1 sends no graceful-restart capability"
    )
    assert code == 1

    # BIRD's fix, pasted into its protocol instead of `graceful restart off;`, then `birdc configure`
    fix = next(f for f in top["fixes"] if f["platform"] == "bird2")
    assert fix["target"] == "protocol bgp frr1"
    lines = "\n".join(ln for ln in fix["text"].splitlines() if not ln.strip().startswith("#"))
    (pair.run_dir / "bird.conf").write_text(bird_conf(lines))
    applied = ns_run(pair.bird_ns, ["birdc", "-s", str(pair.run_dir / "bird.ctl"), "configure"], check=False)
    assert "Reconfigur" in applied.stdout, applied.stdout + applied.stderr
    pair.wait_for(
        "graceful restart negotiated",
        lambda n: (
            established(n)
            and n.get("neighborCapabilities", {}).get("gracefulRestart") == "advertisedAndReceived"
        ),
    )
    code, report = run(inventory)
    assert report["diagnoses"] == [] and code == 0, report["diagnoses"]
    assert statuses(report) == dict.fromkeys(CHECKS, "pass")


def test_gobgp_stopping_with_a_cease_cancels_graceful_restart_on_frr(pair: Pair, tmp_path: Path) -> None:
    """cilium#31346 for real: the agent's GoBGP stops with Cease 6/3 and FRR drops its routes."""
    pair.start_gobgp(frr_conf())
    pair.wait_for("Established", established)
    gobgpd = next(p for p in pair.procs if p.name == "gobgpd")
    os.kill(gobgpd.pid, 15)  # SIGTERM, as the agent is stopped
    pair.wait_for("the Cease", lambda n: "Peer De-configured" in str(n.get("lastNotificationReason")))
    inventory = pair.inventory(tmp_path / "inventory.yaml")
    data = yaml.safe_load(inventory.read_text())
    node = data["hosts"].pop("bird1")
    node.update(speaker="gobgp", role="node")
    node.pop("control_socket")
    node["peers"][0].pop("name")
    data["hosts"]["node1"] = node
    data["hosts"]["frr1"]["peers"][0]["host"] = "node1"
    inventory.write_text(yaml.safe_dump(data))
    code, report = run(inventory)
    [gr] = [d for d in report["diagnoses"] if d["root_cause"] == "graceful-restart-misbehaviour"]
    print(gr["summary"])
    assert gr["hosts"] == ["node1"]
    assert gr["summary"].startswith(
        "node1 announced graceful restart but stopped with a NOTIFICATION Cease/Peer De-configured (6/3)"
    )
    fix = next(f for f in gr["fixes"] if f["platform"] == "gobgp")
    assert "notification-enabled = true" in fix["text"] and fix["target"] == f"neighbor {FRR_IP}"
    assert code == 1
