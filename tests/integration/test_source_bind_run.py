"""A source address BIRD cannot bind, made for real (calico#9549): bgpdoctor reads why from BIRD's log.

Two namespaces, bdm-frr-PID (FRR 8.4, AS 65001, 10.213.171.1, `neighbor ... passive`) and
bdm-bird-PID (BIRD 1.6.8 as Calico embeds it, AS 65002, 10.213.171.2) joined by a veth pair created
inside them. BIRD's protocol towards FRR has `source address 10.213.171.9`, on none of its
interfaces: its state says only `Socket: Connection closed`, its log `frr1: Socket error: bind:
Cannot assign requested address`. BIRD logs to the file its configuration names (`log "FILE" all;`),
and that configuration is /etc/bird/bird.conf inside the namespace (`ip netns exec` binds
/etc/netns/NS/bird over /etc/bird), where bgpdoctor's speaker-log command finds the file.
The fix (the node's own address) brings the session up and the check passes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bgpdoctor.lab.procs import ns_run, start_in_ns  # noqa: E402
from bgpdoctor.lab.scenario import birdcl_wrapper  # noqa: E402
from bgpdoctor.lab.topology import BIRD16  # noqa: E402
from tests.integration import speakers  # noqa: E402
from tests.integration.speakers import Pair, frr_bird_pair, needs_frr, needs_root, poll  # noqa: E402

pytestmark = [
    needs_root,
    needs_frr,
    pytest.mark.skipif(not os.path.exists(BIRD16), reason=f"BIRD 1.6 is not installed ({BIRD16})"),
]

FRR_IP, BIRD_IP, NOT_HERE = "10.213.171.1", "10.213.171.2", "10.213.171.9"
FRR_CONF = (
    "hostname frr1\nlog stdout informational\nroute-map ALL permit 10\nexit\n"
    f"router bgp 65001\n bgp router-id {FRR_IP}\n timers bgp 3 9\n"
    f" neighbor {BIRD_IP} remote-as 65002\n neighbor {BIRD_IP} passive\n"
    f" address-family ipv4 unicast\n  neighbor {BIRD_IP} route-map ALL in\n"
    f"  neighbor {BIRD_IP} route-map ALL out\n exit-address-family\nexit\n"
)


def bird16_conf(log: Path, source: str) -> str:
    """Calico's BIRD 1.6 mesh protocol, trimmed: `source address` is the node's IP as Calico sees it."""
    return f"""
log "{log}" all;
router id {BIRD_IP};
protocol device {{ scan time 10; }}
protocol bgp frr1 {{
  local as 65002; neighbor {FRR_IP} as 65001;
  source address {source};
  hold time 9; keepalive time 3; connect delay time 1; connect retry time 2; error wait time 1, 2;
  import all; export none;
}}
"""


@contextlib.contextmanager
def etc_bird(ns: str, conf: Path) -> Iterator[None]:
    """/etc/bird/bird.conf inside `ns` is `conf` (a link in /etc/netns/NS/bird), removed afterwards."""
    etc = Path("/etc/netns") / ns
    made_root = not etc.parent.exists()
    (etc / "bird").mkdir(parents=True)
    try:
        (etc / "bird" / "bird.conf").symlink_to(conf)
        yield
    finally:
        (etc / "bird" / "bird.conf").unlink(missing_ok=True)
        for d in (etc / "bird", etc, *([etc.parent] if made_root else [])):
            with contextlib.suppress(OSError):
                d.rmdir()


@pytest.fixture
def pair() -> Iterator[Pair]:
    with frr_bird_pair("bdm", FRR_IP, BIRD_IP, wait_timeout=60) as p:
        (p.run_dir / "bin").mkdir()
        (p.run_dir / "bin" / "birdcl").write_text(birdcl_wrapper())
        (p.run_dir / "bin" / "birdcl").chmod(0o755)
        with etc_bird(p.bird_ns, p.run_dir / "bird.conf"):
            yield p


def start_bird16(p: Pair, source: str) -> None:
    conf = p.run_dir / "bird.conf"
    conf.write_text(bird16_conf(p.run_dir / "bird16.log", source))
    argv = [BIRD16, "-f", "-c", str(conf), "-s", str(p.run_dir / "bird.ctl")]
    p.procs.append(start_in_ns(p.bird_ns, "bird1", "bird", argv, p.run_dir / "bird.out"))


def birdcl(p: Pair, *args: str) -> str:
    wrapper = str(p.run_dir / "bin" / "birdcl")
    return ns_run(p.bird_ns, [wrapper, "-s", str(p.run_dir / "bird.ctl"), *args], check=False).stdout


def run(p: Pair, tmp_path: Path) -> dict[str, Any]:
    """`bgpdoctor run` with birdcl (BIRD 1.6's client, as Calico names it) first on PATH."""
    inventory = p.inventory(tmp_path / "inventory.yaml")
    data = yaml.safe_load(inventory.read_text())
    data["hosts"]["bird1"].update({"role": "node", "speaker": "bird1"})
    inventory.write_text(yaml.safe_dump(data))
    path = f"{p.run_dir / 'bin'}:{os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
    old = os.environ["PATH"]
    os.environ["PATH"] = path
    try:
        proc = speakers.bgpdoctor(
            "run", "-i", str(inventory), "-o", "json", "--no-mtu", "--timeout", "8", timeout=300
        )
    finally:
        os.environ["PATH"] = old
    assert proc.stdout, (proc.returncode, proc.stderr[-3000:])
    (tmp_path / "report.json").write_text(proc.stdout)
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def statuses(report: dict[str, Any], check: str) -> dict[str, str]:
    return {r["host"]: r["status"] for r in report["results"] if r["check"] == check}


def test_bird16_that_cannot_bind_its_source_address_is_named_and_the_fix_clears_it(
    pair: Pair, tmp_path: Path
) -> None:
    pair.start_frr(pair.frr_ns, FRR_CONF)
    start_bird16(pair, NOT_HERE)
    log = pair.run_dir / "bird16.log"
    assert poll(lambda: "bind: Cannot assign requested address" in log.read_text(), 60, (OSError,)), birdcl(
        pair, "show", "protocols", "all", "frr1"
    )
    state = birdcl(pair, "show", "protocols", "all", "frr1")
    assert "bind" not in state  # BIRD's own state does not say why; its log does

    report = run(pair, tmp_path)
    found = [d for d in report["diagnoses"] if d["root_cause"] == "unexpected-source-address"]
    assert found, [(d["root_cause"], d["summary"]) for d in report["diagnoses"]]
    assert found[0]["hosts"] == ["bird1"]
    assert found[0]["summary"].startswith(
        f"BIRD 1.6 on bird1 cannot bind the source address of its session to {FRR_IP} ("
    )
    assert (
        "frr1: Socket error: bind: Cannot assign requested address`): that address is on none of "
        in (found[0]["summary"])
    )
    assert statuses(report, "bgp-source-address-bindable") == {"bird1<->frr1": "fail"}

    # the node's own address, as Calico would write it once it detects the right IP
    (pair.run_dir / "bird.conf").write_text(bird16_conf(pair.run_dir / "bird16.log", BIRD_IP))
    assert "Reconfigur" in birdcl(pair, "configure")
    pair.wait_for("the session Established", lambda n: n.get("bgpState") == "Established", timeout=60)
    report = run(pair, tmp_path)
    assert "unexpected-source-address" not in [d["root_cause"] for d in report["diagnoses"]]
    assert statuses(report, "bgp-source-address-bindable") == {"bird1<->frr1": "pass"}
