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


ROUTEROS = {
    "/routing/bgp/session print detail": (FIXTURES / "routeros" / "routing_bgp_session_print.txt").read_text()
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
    assert cli.asked == ["/routing/bgp/session print detail"]  # no sh batch, no `ip -j`, no sysctl
    assert list(facts.outputs) == ["routeros.sessions"] and facts.outputs["routeros.sessions"].ok
    assert fact_commands(inv.hosts["edge"]) == {"routeros.sessions": "/routing/bgp/session print detail"}
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
