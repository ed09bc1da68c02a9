"""Capability mismatches made for real: FRR 8.4 (zebra + bgpd) against BIRD 2 in two namespaces.

FRR runs in bdc-frr-PID, BIRD 2 in bdc-bird-PID, joined by a veth pair created inside the FRR
namespace. Each test starts both daemons with its own configuration, waits for FRR to show the
session Established, and runs `bgpdoctor run` against them: the cause and the end to fix must come
out of each daemon's own view of the negotiated capabilities.
"""

from __future__ import annotations

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

from bgpdoctor.lab.procs import ns_run  # noqa: E402
from tests.integration.speakers import (  # noqa: E402
    BIRD_AS,
    FRR_AS,
    Pair,
    frr_bird_pair,
    needs_bird2,
    needs_frr,
    needs_gobgpd,
    needs_root,
    run,
)

pytestmark = [needs_root, needs_frr, needs_bird2, needs_gobgpd]

FRR_IP, BIRD_IP = "10.213.19.1", "10.213.19.2"
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


def start_gobgp(pair: Pair, frr: str) -> None:
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
    pair.start_gobgp(pair.bird_ns, "node1", toml, "-p")
    pair.start_frr(pair.frr_ns, frr)


@pytest.fixture
def pair() -> Iterator[Pair]:
    with frr_bird_pair("bdc", FRR_IP, BIRD_IP, wait_timeout=40) as p:
        yield p


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {r["check"]: r["status"] for r in report["results"] if r["check"] in CHECKS}


def established(n: dict[str, Any]) -> bool:
    return n.get("bgpState") == "Established"


def test_agreeing_capabilities_pass(pair: Pair, tmp_path: Path) -> None:
    pair.start(frr_conf(), bird_conf())
    pair.wait_for("Established", established)
    code, report, _ = run(pair.inventory(tmp_path / "inventory.yaml"))
    assert statuses(report) == dict.fromkeys(CHECKS, "pass"), statuses(report)
    assert report["diagnoses"] == [] and code == 0, [
        (d["root_cause"], d["summary"]) for d in report["diagnoses"]
    ]


def test_ipv6_activated_on_frr_only_is_an_afi_capability_mismatch_on_bird(pair: Pair, tmp_path: Path) -> None:
    pair.start(frr_conf(ipv6=True), bird_conf())
    pair.wait_for("Established", established)
    code, report, _ = run(pair.inventory(tmp_path / "inventory.yaml"))
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
    code, report, _ = run(inventory)
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
    code, report, _ = run(inventory)
    assert report["diagnoses"] == [] and code == 0, [
        (d["root_cause"], d["summary"]) for d in report["diagnoses"]
    ]
    assert statuses(report) == dict.fromkeys(CHECKS, "pass")


def test_gobgp_stopping_with_a_cease_cancels_graceful_restart_on_frr(pair: Pair, tmp_path: Path) -> None:
    """cilium#31346 for real: the agent's GoBGP stops with Cease 6/3 and FRR drops its routes."""
    start_gobgp(pair, frr_conf())
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
    code, report, _ = run(inventory)
    [gr] = [d for d in report["diagnoses"] if d["root_cause"] == "graceful-restart-misbehaviour"]
    print(gr["summary"])
    assert gr["hosts"] == ["node1"]
    assert gr["summary"].startswith(
        "node1 announced graceful restart but stopped with a NOTIFICATION Cease/Peer De-configured (6/3)"
    )
    fix = next(f for f in gr["fixes"] if f["platform"] == "gobgp")
    assert "notification-enabled = true" in fix["text"] and fix["target"] == f"neighbor {FRR_IP}"
    assert code == 1
