"""FRR as a speaker end to end: a real FRR 8.4 (zebra + bgpd) peers with a real BIRD 2.

FRR runs in namespace bdw-frr-PID, BIRD 2 in bdw-bird-PID, joined by a veth pair created inside the
FRR namespace (no interface ever exists in the root one). bgpdoctor reaches both with
`connect: {netns: ...}` and FRR through `vtysh --vty_socket RUN_DIR` (the inventory's
`control_socket`). Each test starts FRR with its own configuration: healthy, a wrong remote-as, and
no policy on the eBGP neighbor (FRR's default `bgp ebgp-requires-policy`, RFC 8212).
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
]

FRR_IP, BIRD_IP = "10.213.9.1", "10.213.9.2"
FRR_AS, BIRD_AS = 65001, 65002


def frr_conf(remote_as: int = BIRD_AS, policy: bool = True) -> str:
    route_maps = (
        f"  neighbor {BIRD_IP} route-map ALL in\n  neighbor {BIRD_IP} route-map ALL out\n" if policy else ""
    )
    return (
        "hostname frr1\nlog stdout informational\n"
        + ("route-map ALL permit 10\nexit\n" if policy else "")
        + f"router bgp {FRR_AS}\n bgp router-id {FRR_IP}\n timers bgp 3 9\n"
        f" neighbor {BIRD_IP} remote-as {remote_as}\n neighbor {BIRD_IP} timers connect 1\n"
        " address-family ipv4 unicast\n  redistribute connected\n"
        f"{route_maps} exit-address-family\nexit\n"
    )


BIRD_CONF = f"""
router id {BIRD_IP};
protocol device {{ scan time 10; }}
protocol static {{ ipv4; route 10.90.8.0/24 blackhole; }}
protocol bgp frr1 {{
  local {BIRD_IP} as {BIRD_AS};
  neighbor {FRR_IP} as {FRR_AS};
  hold time 9;
  keepalive time 3;
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 2;
  ipv4 {{ import all; export where source = RTS_STATIC; }};
}}
"""


@dataclass
class Pair:
    frr_ns: str
    bird_ns: str
    run_dir: Path  # FRR's vty socket dir, BIRD's control socket; readable by the frr user
    frr: FrrInstance | None = None
    procs: list[ProcRecord] = field(default_factory=list)

    def start_frr(self, conf: str) -> FrrInstance:
        self.frr = start_frr(self.frr_ns, "frr1", self.run_dir / "frr", bgpd_conf=conf)
        return self.frr

    def neighbor(self) -> dict[str, Any]:
        assert self.frr is not None
        data: dict[str, Any] = json.loads(self.frr.vtysh(f"show bgp neighbors {BIRD_IP} json"))
        return data.get(BIRD_IP, {})

    def wait_for(self, what: str, ok: Callable[[dict[str, Any]], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        seen: dict[str, Any] = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(json.JSONDecodeError):
                seen = self.neighbor()
                if ok(seen):
                    return
            time.sleep(0.5)
        keys = ("bgpState", "lastResetDueTo", "lastNotificationReason")
        pytest.fail(f"FRR never showed {what} in {timeout}s: { ({k: seen.get(k) for k in keys}) }")

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
    # not under pytest's tmp_path: its 0700 parents would keep the frr user out of the vty dir
    run_dir = Path(tempfile.mkdtemp(prefix=f"bdw-frr-{tag}-"))
    run_dir.chmod(0o755)
    p = Pair(f"bdw-frr-{tag}", f"bdw-bird-{tag}", run_dir)
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
        (run_dir / "bird.conf").write_text(BIRD_CONF)
        argv = ["bird", "-f", "-c", str(run_dir / "bird.conf"), "-s", str(run_dir / "bird.ctl")]
        p.procs.append(start_in_ns(p.bird_ns, "bird1", "bird", argv, run_dir / "bird.log"))
        yield p
    finally:
        if p.frr is not None:
            p.frr.stop()
        for rec in p.procs:
            kill_proc(rec)
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        shutil.rmtree(run_dir, ignore_errors=True)


def bgpdoctor(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "NO_COLOR": "1",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "bgpdoctor", *args],
        capture_output=True, text=True, env=env, timeout=180, check=False, cwd=ROOT,
    )  # fmt: skip


def run(inventory: Path) -> tuple[int, dict[str, Any], str]:
    proc = bgpdoctor("run", "-i", str(inventory), "-o", "json", "--no-mtu", "--timeout", "8")
    assert proc.stdout, (proc.returncode, proc.stderr[-3000:])
    (inventory.parent / "report.json").write_text(proc.stdout)  # kept for a failing test
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def not_passing(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (r["check"], r["host"], r["status"], r["reason"])
        for r in report["results"]
        if r["status"] not in ("pass", "skip")
    ]


def test_healthy_frr_and_bird_established_at_both_ends(pair: Pair, tmp_path: Path) -> None:
    pair.start_frr(frr_conf())
    pair.wait_for("Established with BIRD's route", lambda n: n.get("bgpState") == "Established")
    inventory = pair.inventory(tmp_path / "inventory.yaml")
    code, report, stderr = run(inventory)
    assert all(h["reachable"] for h in report["hosts"]), report["hosts"]
    session = next(r for r in report["results"] if r["check"] == "bgp-session-established")
    assert session["status"] == "pass", session
    assert report["diagnoses"] == [], report["diagnoses"]
    assert code == 0, (not_passing(report), stderr[-2000:])

    status = bgpdoctor("status", "-i", str(inventory), "-o", "json", "--timeout", "8")
    assert status.returncode == 0, status.stdout + status.stderr[-2000:]
    [row] = json.loads(status.stdout)["sessions"]
    frr = row["a"] if row["a"]["host"] == "frr1" else row["b"]
    assert row["verdict"] == "established"
    assert (frr["speaker"], frr["state"], frr["hold_time_s"]) == ("frr", "established", 9)
    # BIRD's static 10.90.8.0/24 accepted; FRR sends its connected 10.213.9.0/30 and, without
    # sender-side loop detection, 10.90.8.0/24 back to BIRD (which drops it: its own AS in the path)
    assert (frr["received"], frr["accepted"], frr["advertised"]) == (None, 1, 2), frr
    assert frr["for_s"] is not None and frr["for_s"] < 120
    text = bgpdoctor("status", "-i", str(inventory), "--timeout", "8").stdout
    print(text)
    assert "frr1   established" in text and "-/1/2" in text, text


def test_wrong_remote_as_on_frr_is_diagnosed_as_asn_mismatch(pair: Pair, tmp_path: Path) -> None:
    pair.start_frr(frr_conf(remote_as=65099))
    pair.wait_for(
        "a Bad Peer AS notification", lambda n: "Bad Peer AS" in str(n.get("lastNotificationReason"))
    )
    code, report, stderr = run(pair.inventory(tmp_path / "inventory.yaml"))
    assert report["diagnoses"], not_passing(report)
    top = report["diagnoses"][0]
    print(top["summary"])
    assert top["root_cause"] == "asn-mismatch", [d["root_cause"] for d in report["diagnoses"]]
    assert top["hosts"] == ["frr1"]
    assert top["summary"].startswith(
        f"frr1 is configured to expect AS 65099 from {BIRD_IP}, but bird1 announces AS {BIRD_AS}"
    )
    assert code == 1, stderr[-2000:]


def test_frr_without_ebgp_policy_is_the_rfc_8212_diagnosis(pair: Pair, tmp_path: Path) -> None:
    pair.start_frr(frr_conf(policy=False))
    pair.wait_for("Established", lambda n: n.get("bgpState") == "Established")
    code, report, stderr = run(pair.inventory(tmp_path / "inventory.yaml"))
    causes = [d["root_cause"] for d in report["diagnoses"]]
    assert causes and causes[0] == "bird-ebgp-no-policy", (causes, not_passing(report))
    top = report["diagnoses"][0]
    print(top["summary"])
    assert top["hosts"] == ["frr1"]
    assert top["summary"].startswith(
        f"FRR on frr1 has no inbound or outbound policy for eBGP neighbor {BIRD_IP}: "
        "the session may be Established, but every route received from"
    )
    fix = next(f for f in top["fixes"] if f["platform"] == "frr")
    print(fix["text"])
    assert f"router bgp {FRR_AS}" in fix["text"]
    assert f"  neighbor {BIRD_IP} route-map BGPDOCTOR-IN in" in fix["text"]
    assert f"  neighbor {BIRD_IP} route-map BGPDOCTOR-OUT out" in fix["text"]
    check = next(r for r in report["results"] if r["check"] == "ebgp-policy-present" and r["host"] == "frr1")
    assert check["status"] == "fail", check
    assert code == 1, stderr[-2000:]

    # the fix, pasted into FRR's configuration as it is, makes FRR accept BIRD's route
    lines = [ln for ln in fix["text"].splitlines() if ln.strip() and not ln.startswith("!")]
    args = [a for ln in ["configure terminal", *lines] for a in ("-c", ln)]
    applied = ns_run(pair.frr_ns, ["vtysh", "--vty_socket", str(pair.run_dir / "frr"), *args], check=False)
    assert applied.returncode == 0 and "%" not in applied.stdout, applied.stdout + applied.stderr
    pair.wait_for(
        "BIRD's route accepted",
        lambda n: n.get("addressFamilyInfo", {}).get("ipv4Unicast", {}).get("acceptedPrefixCounter") == 1,
    )
    code, report, stderr = run(pair.inventory(tmp_path / "inventory.yaml"))
    assert report["diagnoses"] == [] and code == 0, (report["diagnoses"], not_passing(report))
