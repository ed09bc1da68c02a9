"""Vendor routers (RouterOS v7, FortiGate, Huawei VRP) in a run: their own CLI, their own answers.

Nothing real can run here for these routers, so each is a CLI that knows only the commands its
vendor documents and answers them with the real outputs quoted in tests/fixtures/parsers/<vendor>/
(sources in SOURCE.md there); any other command gets the vendor's own error, as the real CLI does.
The engine, the drivers, the parsers and the judge are the real ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bgpdoctor.drivers import driver_for, is_appliance
from bgpdoctor.engine.collect import collect_host, fact_commands
from bgpdoctor.engine.run import Collected, RunOptions, run_diagnosis
from bgpdoctor.engine.sessions import expected_sessions
from bgpdoctor.engine.world import World
from bgpdoctor.errors import HostError
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.parsers import ParseError, routeros
from bgpdoctor.report.model import Report
from bgpdoctor.report.status import build_status
from bgpdoctor.transport.base import CommandResult

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "parsers"


@dataclass
class VendorCli:
    """A router login that is its vendor's CLI: documented commands answer, others are refused."""

    host: str
    answers: dict[str, str]
    refusal: str
    asked: list[str] = field(default_factory=list)

    def run(self, command: str, timeout: float = 10.0, max_output: int = 8 << 20) -> CommandResult:
        self.asked.append(command)
        if command in self.answers:
            return CommandResult(command, 0, self.answers[command].encode())
        return CommandResult(command, 1, self.refusal.encode())

    def close(self) -> None:
        pass


ROUTEROS_ROUTES = "/ip/route print detail where bgp"
ROUTEROS = {
    "/routing/bgp/session print detail": (
        FIXTURES / "routeros" / "routing_bgp_session_print.txt"
    ).read_text(),
    ROUTEROS_ROUTES: (FIXTURES / "routeros" / "ip_route_print_detail.txt").read_text(),
}
FORTIGATE = {
    "get router info bgp neighbors": (
        FIXTURES / "fortigate" / "get_router_info_bgp_neighbors.txt"
    ).read_text(),
    "get router info bgp summary": (FIXTURES / "fortigate" / "get_router_info_bgp_summary.txt").read_text(),
}


def inventory(speaker: str, router_address: str, peer_address: str, asn: int, peer_asn: int) -> Inventory:
    return Inventory.model_validate(
        {
            "version": 1,
            "hosts": {
                "edge": {
                    "role": "router",
                    "speaker": speaker,
                    "asn": asn,
                    "addresses": [router_address],
                    "connect": {"ssh": {"host": "198.51.100.1", "user": "admin"}},
                    "peers": [{"host": "node-a", "address": peer_address, "asn": peer_asn}],
                },
                "node-a": {
                    "role": "node",
                    "speaker": "gobgp",
                    "asn": peer_asn,
                    "addresses": [peer_address],
                    "connect": {"ssh": {"host": "198.51.100.2"}},
                    "peers": [{"host": "edge", "address": router_address, "asn": asn}],
                },
            },
        }
    )


def test_an_appliance_is_asked_only_its_own_commands_one_exec_each() -> None:
    inv = inventory("routeros", "192.168.1.1", "192.168.1.2", 65531, 65532)
    cli = VendorCli("edge", ROUTEROS, "bad command name print (line 1 column 1)")
    facts = collect_host("edge", inv, lambda _: cli, 5.0, lambda _: None)
    # no sh batch, no `ip -j`, no sysctl
    assert sorted(cli.asked) == [ROUTEROS_ROUTES, "/routing/bgp/session print detail"]
    assert sorted(facts.outputs) == ["routeros.routes", "routeros.sessions"]
    assert all(r.ok for r in facts.outputs.values())
    assert fact_commands(inv.hosts["edge"]) == {
        "routeros.sessions": "/routing/bgp/session print detail",
        "routeros.routes": ROUTEROS_ROUTES,
    }
    assert is_appliance("fortigate") and is_appliance("huawei") and not is_appliance("bird2")


def _run(inv: Inventory, cli: VendorCli) -> tuple[Report, Collected]:
    def connect(name: str) -> VendorCli:
        if name != "edge":
            raise HostError(name, "timeout", "no answer within 5s (test)")
        return cli

    return run_diagnosis(inv, "inv.yaml", ["edge", "node-a"], connect, RunOptions(), lambda _: None)


def test_a_routeros_session_is_read_from_the_router_end_in_a_run() -> None:
    inv = inventory("routeros", "192.168.1.1", "192.168.1.2", 65531, 65532)
    report, collected = _run(inv, VendorCli("edge", ROUTEROS, "bad command name"))
    world = World(inv, collected.facts)
    driver = driver_for("routeros")
    assert driver is not None
    (neighbor,) = driver.neighbors(world, "edge") or []
    assert (neighbor.address, neighbor.state, neighbor.local_as, neighbor.peer_as) == (
        "192.168.1.2",
        "established",
        65531,
        65532,
    )
    assert driver.router_id(world, "edge") == "192.168.44.2"
    now = datetime.now(UTC)
    (session,) = build_status(world, expected_sessions(world, collected.scope), collected.scope, now).sessions
    edge_end = next(e for e in (session.a, session.b) if e is not None and e.host == "edge")
    assert edge_end.state == "established"
    # a host that could not be reached is not healthy, and an appliance's Linux facts were never asked
    assert report.summary.unreachable_hosts == 1
    edge_results = [r for r in report.results if r.host == "edge"]
    assert edge_results and all(r.status != "fail" for r in edge_results)
    assert not [r for r in edge_results if r.status == "unknown"]  # sysctl, ss: not asked, not unknown


def test_a_fortigate_reports_its_neighbors_and_its_router_id() -> None:
    inv = inventory("fortigate", "10.105.3.254", "10.105.1.254", 65400, 65400)
    cli = VendorCli("edge", FORTIGATE, "Unknown action 0\nCommand fail. Return code -61")
    facts = collect_host("edge", inv, lambda _: cli, 5.0, lambda _: None)
    world = World(inv, {"edge": facts})
    driver = driver_for("fortigate")
    assert driver is not None
    neighbors = {n.address: n for n in driver.neighbors(world, "edge") or []}
    assert (neighbors["10.105.1.254"].state, neighbors["10.105.1.254"].hold_time_s) == ("established", 3)
    assert driver.router_id(world, "edge") == "85.31.8.8"


@pytest.mark.parametrize("speaker", ["routeros", "fortigate", "huawei"])
def test_an_appliance_that_refuses_its_command_is_unknown_not_down(speaker: str) -> None:
    inv = inventory(speaker, "192.168.1.1", "192.168.1.2", 65531, 65532)
    facts = collect_host("edge", inv, lambda _: VendorCli("edge", {}, "syntax error"), 5.0, lambda _: None)
    driver = driver_for(speaker)
    assert driver is not None
    assert driver.neighbors(World(inv, {"edge": facts}), "edge") is None


# -- RouterOS routes: one installed path of several (metallb#773) ----------------------------------

# metallb#773's router (a MikroTik hAP ac) learned 10.50.0.2/32 from the three nodes 10.0.0.110,
# 10.0.0.111 and 10.0.0.7 and used only the one to 10.0.0.7 ("A means active"); the issue shows it
# as a screenshot, so its content is written here in the layout of the quoted v7 `print detail`
# output (tests/fixtures/parsers/routeros/ip_route_print_detail.txt)
LEGEND = (
    "Flags: D - dynamic; X - disabled, I - inactive, A - active; c - connect, s - static, r - rip, "
    "b - bgp, o - ospf, i - is-is, d - dhcp, v - vpn, m - modem, y - bgp-mpls-vpn; \n"
    "H - hw-offloaded; + - ecmp \n"
)


def _bgp_path(flags: str, gateway: str) -> str:
    return (
        f"   {flags:<5} dst-address=10.50.0.2/32 routing-table=main gateway={gateway} "
        f"immediate-gw={gateway}%bridge distance=20 scope=40 target-scope=10 \n"
    )


ONE_OF_THREE = (
    LEGEND + _bgp_path("DAb", "10.0.0.7") + _bgp_path("D b", "10.0.0.110") + _bgp_path("D b", "10.0.0.111")
)
ALL_THREE = LEGEND + "".join(_bgp_path("DAb+", hop) for hop in ("10.0.0.7", "10.0.0.110", "10.0.0.111"))


def test_routeros_route_print_detail_reads_every_route_and_its_table() -> None:
    routes = routeros.parse_ip_routes((FIXTURES / "routeros" / "ip_route_print_detail.txt").read_text())
    assert [(r.prefix, r.protocol, r.next_hop, r.interface, r.installed, r.table) for r in routes] == [
        ("111.11.0.0/24", "connected", None, "sfp-sfpplus1", True, "main"),
        ("203.0.113.1/32", "connected", None, "lo", True, "main"),
        ("203.0.113.2/32", "ospf", "111.11.0.1", "sfp-sfpplus1", True, "main"),
        ("111.13.0.0/24", "connected", None, "sfp-sfpplus2", True, "myVrf"),
        ("111.15.0.0/24", "bgp", "203.0.113.2", None, True, "myVrf"),
    ]
    assert routes[2].distance == 110


def test_routeros_route_print_reads_ecmp_entries_with_the_outputs_own_legend() -> None:
    routes = routeros.parse_ip_routes((FIXTURES / "routeros" / "ip_route_print_ecmp.txt").read_text())
    assert [(r.prefix, r.protocol, r.next_hop, r.installed, r.distance) for r in routes] == [
        ("192.168.2.0/24", "static", "10.155.125.1", True, 1),
        ("192.168.2.0/24", "static", "172.16.1.2", True, 1),
    ]
    inactive = routeros.parse_ip_routes(ONE_OF_THREE)
    assert [(r.next_hop, r.protocol, r.installed) for r in inactive] == [
        ("10.0.0.7", "bgp", True),
        ("10.0.0.110", "bgp", False),
        ("10.0.0.111", "bgp", False),
    ]


def test_routeros_route_print_refused_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        routeros.parse_ip_routes("bad command name route (line 1 column 5)")


def _routeros_run(routes: str | None) -> Report:
    answers = dict(ROUTEROS)
    if routes is None:
        del answers[ROUTEROS_ROUTES]
    else:
        answers[ROUTEROS_ROUTES] = routes
    inv = inventory("routeros", "192.168.1.1", "192.168.1.2", 65531, 65532)
    report, _collected = _run(inv, VendorCli("edge", answers, "bad command name print (line 1 column 1)"))
    return report


def test_routeros_installing_one_of_three_node_paths_is_ecmp_single_path_as_designed() -> None:
    report = _routeros_run(ONE_OF_THREE)
    [check] = [r for r in report.results if r.check == "bgp-ecmp-installed" and r.host == "edge"]
    assert check.status == "fail"
    assert check.reason == (
        "RouterOS on edge holds several equal BGP paths but installs fewer "
        "(10.50.0.2/32: 10.0.0.110, 10.0.0.111, 10.0.0.7 (installed: 10.0.0.7))"
    )
    [diagnosis] = [d for d in report.diagnoses if d.root_cause == "ecmp-single-path"]
    assert diagnosis.hosts == ["edge"]
    assert "RouterOS v7 installs one best BGP path per prefix" in diagnosis.summary
    assert "With externalTrafficPolicy Cluster that works as designed" in diagnosis.summary


def test_routeros_with_every_path_active_or_its_routes_unread_is_no_ecmp_finding() -> None:
    healthy = _routeros_run(ALL_THREE)
    assert [r.status for r in healthy.results if r.check == "bgp-ecmp-installed" and r.host == "edge"] == [
        "pass"
    ]
    refused = _routeros_run(None)
    [unknown] = [r for r in refused.results if r.check == "bgp-ecmp-installed" and r.host == "edge"]
    assert unknown.status == "unknown" and "bad command name" in unknown.reason
    assert "ecmp-single-path" not in [d.root_cause for d in refused.diagnoses]


# -- RouterOS BFD towards a peer without BFD (cilium#45435) ---------------------------------------

BFD_SESSION = (FIXTURES / "routeros" / "routing_bgp_session_print_bfd.txt").read_text()


def test_routeros_session_print_reads_use_bfd_and_the_bfd_session_down_note() -> None:
    (session,) = routeros.parse_bgp_sessions(BFD_SESSION)
    assert (session.address, session.local_address, session.description) == (
        "111.111.11.11",
        "111.111.11.12",
        "ovpn_test1-1",
    )
    assert (session.bfd, session.bfd_state, session.hold_time_s, session.received) == (
        True,
        "down",
        0,
        3853,
    )
    (plain,) = routeros.parse_bgp_sessions(ROUTEROS["/routing/bgp/session print detail"])
    assert (plain.bfd, plain.bfd_state) == (None, None)


def _bfd_run(sessions: str) -> Report:
    inv = inventory("routeros", "111.111.11.12", "111.111.11.11", 555, 65530)
    answers = {"/routing/bgp/session print detail": sessions, ROUTEROS_ROUTES: ALL_THREE}
    report, _collected = _run(inv, VendorCli("edge", answers, "bad command name"))
    return report


def test_routeros_expecting_bfd_from_a_gobgp_peer_is_session_liveness() -> None:
    report = _bfd_run(BFD_SESSION)
    [check] = [r for r in report.results if r.check == "bgp-bfd-both-ends"]
    assert check.status == "fail"
    assert check.reason == (
        "edge expects BFD (RouterOS has `use-bfd=yes` for its session to 111.111.11.11, BFD state down) "
        "but GoBGP has no BFD"
    )
    assert "session-liveness" in [d.root_cause for d in report.diagnoses]


def test_routeros_without_use_bfd_towards_gobgp_is_clean() -> None:
    without = BFD_SESSION.replace(" use-bfd=yes", "").replace(";;; BFD session down\n     ", "")
    assert routeros.parse_bgp_sessions(without)[0].bfd is None
    report = _bfd_run(without)
    assert [r.status for r in report.results if r.check == "bgp-bfd-both-ends"] == ["pass"]
    assert "session-liveness" not in [d.root_cause for d in report.diagnoses]
