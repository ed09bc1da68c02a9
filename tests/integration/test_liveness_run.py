"""Liveness, GTSM and recursive peer routes made for real: bgpdoctor names the cause and the end.

Two namespaces, bdv-frr-PID (FRR 8.4, AS 65001, 10.213.61.1) and bdv-bird-PID (BIRD 2, AS 65002,
10.213.61.2), joined by a veth pair created inside them (no interface in the root namespace). Each
test starts the daemons with its own configuration:
- healthy: every liveness check passes, no diagnosis;
- BIRD `bfd on` while FRR has no `neighbor ... bfd`, then the reverse (bfdd running): session-liveness
  names the end that expects BFD; FRR's fix, applied, brings BFD up and the finding goes;
- hold times of 240 s and an nftables rule in bird1's namespace dropping what it sends to frr1 (a
  firewall that lost the connection's state): session-liveness names the stale connection;
- BIRD `ttl security on` against FRR at TTL 1, then FRR `ttl-security hops 1` against BIRD:
  ttl-security-gtsm names the end that requires TTL 255;
- FRR announcing its own address as a /32 with another next hop, which BIRD installs:
  recursive-peer-route.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bgpdoctor.lab.frr import _start_daemon  # noqa: E402
from bgpdoctor.lab.procs import ns_run  # noqa: E402
from tests.integration import speakers  # noqa: E402
from tests.integration.speakers import (  # noqa: E402
    Pair,
    frr_bird_pair,
    needs_bird2,
    needs_frr,
    needs_root,
    poll,
    sh,
)

pytestmark = [needs_root, needs_frr, needs_bird2]

FRR_IP, BIRD_IP = "10.213.61.1", "10.213.61.2"
LIVENESS_CHECKS = (
    "bgp-bfd-both-ends",
    "bgp-tcp-alive",
    "bgp-session-stable",
    "bgp-ttl-security-matched",
    "bgp-peer-not-via-itself",
)


def frr_conf(
    neighbor: str = "", router: str = "", hold: int = 9, route_map: str = "", network: str = ""
) -> str:
    return (
        f"hostname frr1\nlog stdout informational\nroute-map ALL permit 10\n{route_map}exit\n"
        f"router bgp 65001\n bgp router-id {FRR_IP}\n timers bgp 3 {hold}\n{router}"
        f" neighbor {BIRD_IP} remote-as 65002\n neighbor {BIRD_IP} timers connect 1\n{neighbor}"
        f" address-family ipv4 unicast\n  redistribute connected\n{network}"
        f"  neighbor {BIRD_IP} route-map ALL in\n  neighbor {BIRD_IP} route-map ALL out\n"
        " exit-address-family\nexit\n"
    )


def bird_conf(protocol: str = "", top: str = "", hold: int = 9, keepalive: int = 3) -> str:
    return f"""
log stderr all;
router id {BIRD_IP};
protocol device {{ scan time 10; }}
{top}
protocol static {{ ipv4; route 10.90.61.0/24 blackhole; }}
protocol bgp frr1 {{
  local {BIRD_IP} as 65002; neighbor {FRR_IP} as 65001;
  hold time {hold}; keepalive time {keepalive}; connect delay time 1; connect retry time 2;
  error wait time 1, 2;
  {protocol}
  ipv4 {{ import all; export where source = RTS_STATIC; }};
}}
"""


@pytest.fixture
def pair() -> Iterator[Pair]:
    with frr_bird_pair("bdv", FRR_IP, BIRD_IP) as p:
        yield p


def birdc(p: Pair, *args: str) -> str:
    return ns_run(p.bird_ns, ["birdc", "-s", str(p.run_dir / "bird.ctl"), *args], check=False).stdout


def start_bfdd(p: Pair) -> None:
    assert p.frr is not None
    p.frr.procs.append(_start_daemon(p.frr_ns, "frr1", p.run_dir / "frr", "bfdd", "hostname bfdd\n", []))


def min_ttl_drops(ns: str) -> int:
    """TcpExt TCPMinTTLDrop of the namespace's kernel."""
    lines = [ln.split() for ln in ns_run(ns, ["cat", "/proc/net/netstat"]).stdout.splitlines()]
    names, values = [ln for ln in lines if ln and ln[0] == "TcpExt:"][:2]
    return int(values[names.index("TCPMinTTLDrop")])


def established(p: Pair) -> bool:
    return "Established" in birdc(p, "show", "protocols", "frr1")


def wait(what: str, ok: Any, timeout: float = 40) -> None:
    assert poll(ok, timeout, ignore=(Exception,)), f"never saw {what} in {timeout}s"


def run(p: Pair, tmp_path: Path) -> tuple[int, dict[str, Any]]:
    code, report, _ = speakers.run(p.inventory(tmp_path / "inventory.yaml"), timeout=240)
    return code, report


def statuses(report: dict[str, Any], check: str) -> dict[str, str]:
    return {r["host"]: r["status"] for r in report["results"] if r["check"] == check}


def causes(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(d["root_cause"], d["summary"]) for d in report["diagnoses"]]


def test_healthy_pair_passes_every_liveness_check(pair: Pair, tmp_path: Path) -> None:
    pair.start(frr_conf(), bird_conf())
    wait("the session Established", lambda: established(pair))
    code, report = run(pair, tmp_path)
    assert report["diagnoses"] == [], causes(report)
    for check in LIVENESS_CHECKS:
        assert set(statuses(report, check).values()) == {"pass"}, (check, statuses(report, check))
    assert code == 0


def test_bird_bfd_without_frr_bfd_is_named_and_frr_fix_clears_it(pair: Pair, tmp_path: Path) -> None:
    pair.start(frr_conf(), bird_conf("bfd on;", "protocol bfd { }"))
    wait("the session Established", lambda: established(pair))
    code, report = run(pair, tmp_path)
    top = report["diagnoses"][0]
    print(top["summary"])
    assert (top["root_cause"], top["hosts"]) == ("session-liveness", ["bird1"]), causes(report)
    assert top["summary"].startswith(
        f"bird1 expects BFD (BIRD 2 runs a BFD session to {FRR_IP} (`bfd on`), state down) "
        f"but FRR has no `neighbor {BIRD_IP} bfd`."
    )
    assert statuses(report, "bgp-bfd-both-ends") == {"bird1<->frr1": "fail"}
    assert code == 1

    # FRR's fix, applied as it is (bfdd running), brings BFD up and the finding goes
    fix = next(f for f in top["fixes"] if f["platform"] == "frr")
    start_bfdd(pair)
    args = [a for ln in ["configure terminal", *fix["text"].splitlines()] for a in ("-c", ln)]
    applied = ns_run(pair.frr_ns, ["vtysh", "--vty_socket", str(pair.run_dir / "frr"), *args], check=False)
    assert applied.returncode == 0 and "%" not in applied.stdout, applied.stdout + applied.stderr
    wait("BIRD's BFD session Up", lambda: " Up " in birdc(pair, "show", "bfd", "sessions"))
    wait("the session Established", lambda: established(pair))
    code, report = run(pair, tmp_path)
    assert report["diagnoses"] == [] and code == 0, causes(report)
    assert statuses(report, "bgp-bfd-both-ends") == {"bird1<->frr1": "pass"}


def test_frr_bfd_without_bird_bfd_is_named(pair: Pair, tmp_path: Path) -> None:
    pair.start(frr_conf(f" neighbor {BIRD_IP} bfd\n"), bird_conf())
    start_bfdd(pair)
    wait("the session Established", lambda: established(pair))
    code, report = run(pair, tmp_path)
    top = report["diagnoses"][0]
    print(top["summary"])
    assert (top["root_cause"], top["hosts"]) == ("session-liveness", ["frr1"]), causes(report)
    assert top["summary"].startswith(
        f"frr1 expects BFD (FRR has `neighbor {BIRD_IP} bfd`, BFD state down) but BIRD 2 runs no BFD "
        f"session to {FRR_IP} (no `bfd on` in frr1)."
    )
    fix = next(f for f in top["fixes"] if f["platform"] == "bird2")
    assert "bfd on;" in fix["text"]
    assert code == 1


def test_connection_dropped_under_an_established_session_is_named(pair: Pair, tmp_path: Path) -> None:
    pair.start(frr_conf(hold=240), bird_conf(hold=240))
    wait("the session Established", lambda: established(pair))
    # a firewall that lost the connection's state: what bird1 sends to frr1 goes nowhere
    rule = (
        "add table inet bdvstale { chain out { type filter hook output priority 0; policy accept; "
        f"ip daddr {FRR_IP} tcp dport 179 drop; ip daddr {FRR_IP} tcp sport 179 drop; }}; }}"
    )
    sh("ip", "netns", "exec", pair.bird_ns, "nft", rule)

    def frr_backed_off() -> bool:
        out = ns_run(pair.frr_ns, ["ss", "-Htni", "sport = :179"], check=False).stdout
        return any(f"backoff:{n}" in out for n in range(3, 10))

    wait("FRR's retransmissions backing off", frr_backed_off, timeout=60)
    assert established(pair) and pair.neighbor()["bgpState"] == "Established"
    code, report = run(pair, tmp_path)
    top = report["diagnoses"][0]
    print(top["summary"])
    assert top["root_cause"] == "session-liveness", causes(report)
    assert "gets no answer" in top["summary"] and "still shows the session Established" in top["summary"]
    assert "the hold time of 240 s ends it only then" in top["summary"]
    assert statuses(report, "bgp-tcp-alive") == {"bird1<->frr1": "fail"}
    assert code == 1


def test_bird_ttl_security_against_frr_at_ttl_1_is_named(pair: Pair, tmp_path: Path) -> None:
    pair.start(frr_conf(), bird_conf("ttl security on;"))
    wait("bird1's kernel dropping FRR's segments", lambda: min_ttl_drops(pair.bird_ns) > 0)
    code, report = run(pair, tmp_path)
    top = report["diagnoses"][0]
    print(top["summary"])
    assert (top["root_cause"], top["hosts"]) == ("ttl-security-gtsm", ["bird1"]), causes(report)
    assert top["summary"].startswith("the kernel of bird1 dropped ")
    assert (
        "below the minimum TTL its BGP socket requires (GTSM, TTL 255): frr1 sends a lower TTL"
        in top["summary"]
    )
    assert statuses(report, "bgp-ttl-security-matched") == {"bird1<->frr1": "fail"}
    fix = next(f for f in top["fixes"] if f["platform"] == "frr")
    assert fix["text"].splitlines() == [
        "router bgp 65001",
        f" neighbor {BIRD_IP} ttl-security hops 1",
        "exit",
    ]
    assert code == 1


def test_gtsm_at_both_ends_is_clean(pair: Pair, tmp_path: Path) -> None:
    # the FRR fix above in FRR's configuration, BIRD's `ttl security on` unchanged
    pair.start(frr_conf(f" neighbor {BIRD_IP} ttl-security hops 1\n"), bird_conf("ttl security on;"))
    wait("the session Established with GTSM at both ends", lambda: established(pair))
    code, report = run(pair, tmp_path)
    assert report["diagnoses"] == [] and code == 0, causes(report)
    assert statuses(report, "bgp-ttl-security-matched") == {"bird1<->frr1": "pass"}


def test_frr_ttl_security_against_bird_at_ttl_1_is_named(pair: Pair, tmp_path: Path) -> None:
    pair.start(frr_conf(f" neighbor {BIRD_IP} ttl-security hops 1\n"), bird_conf())
    wait("frr1's kernel dropping BIRD's segments", lambda: min_ttl_drops(pair.frr_ns) > 0)
    code, report = run(pair, tmp_path)
    top = report["diagnoses"][0]
    print(top["summary"])
    assert (top["root_cause"], top["hosts"]) == ("ttl-security-gtsm", ["frr1"]), causes(report)
    assert "bird1 sends a lower TTL" in top["summary"]
    assert "ttl security on;" in next(f for f in top["fixes"] if f["platform"] == "bird2")["text"]
    assert code == 1


def test_peer_reached_through_a_route_learned_from_it_is_named(pair: Pair, tmp_path: Path) -> None:
    # FRR announces its own address with a next hop nobody answers for; BIRD (multihop: its socket
    # follows the kernel's routes) installs it, loses the session and keeps the route as stale
    sh("ip", "-n", pair.bird_ns, "addr", "add", "10.213.62.2/24", "dev", "eth0")
    pair.start(
        frr_conf(
            router=" no bgp network import-check\n",
            route_map=" set ip next-hop 10.213.62.9\n",
            network=f"  network {FRR_IP}/32\n",
        ),
        bird_conf(
            "multihop;",
            top="protocol kernel { ipv4 { export where source != RTS_DEVICE; }; }\n"
            'protocol direct { ipv4; interface "eth0"; }',
        ),
    )
    wait(
        "BIRD losing frr1 through the learned /32",
        lambda: (
            "No route to host" in birdc(pair, "show", "protocols", "frr1")
            and "via 10.213.62.9" in ns_run(pair.bird_ns, ["ip", "route", "get", FRR_IP]).stdout
        ),
    )
    inventory = pair.inventory(tmp_path / "inventory.yaml")
    data = yaml.safe_load(inventory.read_text())
    data["hosts"]["bird1"]["peers"][0]["multihop"] = 2  # as configured; BIRD shows it only while up
    inventory.write_text(yaml.safe_dump(data))
    code, report, _ = speakers.run(inventory, timeout=240)
    top = report["diagnoses"][0]
    print(top["summary"])
    assert (top["root_cause"], top["hosts"]) == ("recursive-peer-route", ["frr1"]), causes(report)
    assert top["summary"].startswith(
        f"bird1 reaches its peer {FRR_IP} through {FRR_IP}/32, a route it learned over this same session "
        f"({FRR_IP}/32 via 10.213.62.9, proto bird)."
    )
    assert statuses(report, "bgp-peer-not-via-itself") == {"bird1<->frr1": "fail"}
    assert code == 1
