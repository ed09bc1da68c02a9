"""Graceful restart off on both ends (cilium#24256) and the extended next hop capability announced by
one end only (cilium#29951), made for real with FRR 8.4 and BIRD 2 and judged by `bgpdoctor run`.

Namespaces bdm-frr-PID and bdm-bird-PID joined by a veth pair created inside them:
- FRR `bgp graceful-restart-disable` (10.213.175.1) and BIRD 2 `graceful restart off` (10.213.175.2):
  a fault only when the inventory says bird1's restarts must keep its routes (`graceful_restart:
  true` on its peer), a choice otherwise;
- an IPv6 session (fd00:213:173::1 / ::2) carrying IPv4 unicast, BIRD `extended next hop on` in its
  ipv4 channel, FRR without `capability extended-nexthop`: afi-capability-mismatch names FRR; FRR's
  fix, applied, clears it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.integration.speakers import (  # noqa: E402
    Pair,
    frr_bird_pair,
    needs_bird2,
    needs_frr,
    needs_root,
    poll,
    run,
    sh,
)

pytestmark = [needs_root, needs_frr, needs_bird2]

FRR_IP, BIRD_IP = "10.213.175.1", "10.213.175.2"
FRR6, BIRD6 = "fd00:213:173::1", "fd00:213:173::2"


def frr_conf(neighbor: str, router: str = "", extra: str = "") -> str:
    return (
        "hostname frr1\nlog stdout informational\nroute-map ALL permit 10\nexit\n"
        f"router bgp 65001\n bgp router-id {FRR_IP}\n timers bgp 3 9\n{router}"
        f" neighbor {neighbor} remote-as 65002\n neighbor {neighbor} timers connect 1\n{extra}"
        f" address-family ipv4 unicast\n  redistribute connected\n  neighbor {neighbor} route-map ALL in\n"
        f"  neighbor {neighbor} route-map ALL out\n exit-address-family\nexit\n"
    )


def bird_conf(local: str, neighbor: str, protocol: str = "", channel: str = "") -> str:
    return f"""
log stderr all;
router id {BIRD_IP};
protocol device {{ scan time 10; }}
protocol static {{ ipv4; route 10.90.75.0/24 blackhole; }}
protocol bgp frr1 {{
  local {local} as 65002; neighbor {neighbor} as 65001;
  hold time 9; keepalive time 3; connect delay time 1; connect retry time 2; error wait time 1, 2;
  {protocol}
  ipv4 {{ import all; export where source = RTS_STATIC; {channel} }};
}}
"""


@pytest.fixture
def pair() -> Iterator[Pair]:
    with frr_bird_pair("bdm", FRR_IP, BIRD_IP, wait_timeout=60) as p:
        yield p


def established(n: dict[str, Any]) -> bool:
    return n.get("bgpState") == "Established"


def inventory(p: Pair, path: Path, edit: Any) -> Path:
    data = yaml.safe_load(p.inventory(path).read_text())
    data["hosts"]["bird1"]["role"] = "node"
    edit(data)
    path.write_text(yaml.safe_dump(data))
    return path


def causes(report: dict[str, Any]) -> list[tuple[str, list[str], str]]:
    return [(d["root_cause"], d["hosts"], d["summary"]) for d in report["diagnoses"]]


def statuses(report: dict[str, Any], check: str) -> dict[str, str]:
    return {r["host"]: r["status"] for r in report["results"] if r["check"] == check}


def test_graceful_restart_off_on_both_ends_is_a_fault_only_where_restarts_must_keep_routes(
    pair: Pair, tmp_path: Path
) -> None:
    pair.start(
        frr_conf(BIRD_IP, router=" bgp graceful-restart-disable\n"),
        bird_conf(BIRD_IP, FRR_IP, protocol="graceful restart off;"),
    )
    pair.wait_for("the session Established", established)

    def must_keep(data: dict[str, Any]) -> None:
        data["hosts"]["bird1"]["peers"][0]["graceful_restart"] = True

    _, report, _ = run(inventory(pair, tmp_path / "intent.yaml", must_keep), timeout=240)
    found = [c for c in causes(report) if c[0] == "graceful-restart-misbehaviour"]
    assert found and found[0][1] == ["bird1"], causes(report)
    assert found[0][2].startswith(
        "the inventory says restarts of bird1's speaker keep its routes at frr1 (graceful_restart: true), "
        "but neither end sends the graceful-restart capability"
    )
    assert statuses(report, "bgp-graceful-restart-consistent") == {"bird1<->frr1": "fail"}

    _, report, _ = run(inventory(pair, tmp_path / "no-intent.yaml", lambda data: None), timeout=240)
    assert "graceful-restart-misbehaviour" not in [c[0] for c in causes(report)]
    assert statuses(report, "bgp-graceful-restart-consistent") == {"bird1<->frr1": "pass"}


def test_extended_next_hop_on_one_end_of_an_ipv6_session_is_named_and_frrs_fix_clears_it(
    pair: Pair, tmp_path: Path
) -> None:
    for ns, ip in ((pair.frr_ns, FRR6), (pair.bird_ns, BIRD6)):
        sh("ip", "-n", ns, "addr", "add", f"{ip}/64", "dev", "eth0", "nodad")
    pair.bird_ip = BIRD6  # FRR's neighbor, as Pair.neighbor() asks for it
    pair.start(frr_conf(BIRD6), bird_conf(BIRD6, FRR6, channel="extended next hop on;"))
    pair.wait_for("the IPv6 session Established", established)

    def over_ipv6(data: dict[str, Any]) -> None:
        data["hosts"]["frr1"]["addresses"].append(FRR6)
        data["hosts"]["frr1"]["peers"][0]["address"] = BIRD6
        data["hosts"]["bird1"].update({"addresses": [BIRD_IP, BIRD6], "router_id": BIRD_IP})
        data["hosts"]["bird1"]["peers"][0]["address"] = FRR6

    inv = inventory(pair, tmp_path / "inventory.yaml", over_ipv6)
    _, report, _ = run(inv, timeout=240)
    found = [c for c in causes(report) if c[0] == "afi-capability-mismatch"]
    assert found and found[0][1] == ["frr1"], causes(report)
    assert found[0][2].startswith(
        "bird1 announces the extended next hop capability (RFC 8950) for ipv4-unicast on this IPv6 "
        "session and frr1 does not"
    )
    [session] = statuses(report, "bgp-families-negotiated")
    assert statuses(report, "bgp-families-negotiated")[session] == "fail"
    fix = next(
        f["text"]
        for d in report["diagnoses"]
        if d["root_cause"] == "afi-capability-mismatch"
        for f in d["fixes"]
        if f["platform"] == "frr"
    )
    assert f"neighbor {BIRD6} capability extended-nexthop" in fix

    assert pair.frr is not None
    pair.frr.configure([line.strip() for line in fix.splitlines() if line.strip() and line.strip() != "exit"])
    pair.frr.vtysh(f"clear bgp {BIRD6}")  # a capability takes effect with the next OPEN

    def renegotiated() -> bool:
        n = json.loads(pair.frr.vtysh(f"show bgp neighbors {BIRD6} json")).get(BIRD6, {})  # type: ignore[union-attr]
        return established(n) and "advertised" in str(
            n.get("neighborCapabilities", {}).get("extendedNexthop")
        )

    assert poll(renegotiated, 60, ignore=(json.JSONDecodeError,)), pair.neighbor()
    _, report, _ = run(inv, timeout=240)
    assert "afi-capability-mismatch" not in [c[0] for c in causes(report)]
    assert statuses(report, "bgp-families-negotiated")[session] == "pass"
