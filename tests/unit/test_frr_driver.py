"""FRR as a speaker: the driver reads FRR 8.4's real `vtysh -c '... json'` outputs (captured in the
namespace lab, captures/outputs/frr/) onto the neighbor shape, and the run diagnoses from them.

f1 (AS 65001) peers with f2 (AS 65002, 10.213.1.2, Established, f2 has no policy for it), a BIRD
(10.213.2.2, Established), a closed port (10.213.3.2), f2 again with a wrong remote-as 65099
(10.213.4.2), a BIRD stopped by maximum-prefix 1 (10.213.5.2) and a neighbor shut down (10.213.6.2).
f3 and f4 (scripts/capture_frr_passive.py) both have `neighbor ... passive` towards each other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bgpdoctor.drivers import NeighborState, driver_for
from bgpdoctor.drivers.frr import FRR
from bgpdoctor.engine.active import ActiveResults
from bgpdoctor.engine.collect import HostFacts
from bgpdoctor.engine.run import Collected, RunOptions, evaluate
from bgpdoctor.engine.sessions import expected_sessions
from bgpdoctor.engine.world import World
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.report.model import Report
from bgpdoctor.report.status import build_status, render_status_text
from bgpdoctor.transport.base import CommandResult

FIXTURES = Path(__file__).resolve().parents[2] / "captures" / "outputs" / "frr"
TAKEN = datetime(2026, 12, 5, 22, 35, 16, tzinfo=UTC)


def _inventory(f1_peer_of_f2: str = "10.213.1.2", f2_peer_of_f1: str = "10.213.1.1") -> Inventory:
    return Inventory.model_validate(
        {
            "hosts": {
                "f1": {
                    "role": "router",
                    "speaker": "frr",
                    "asn": 65001,
                    "connect": {"netns": "bdv-f1"},
                    "control_socket": "/run/bdv-f1 frr",
                    "peers": [{"host": "f2", "address": f1_peer_of_f2, "asn": 65002}],
                },
                "f2": {
                    "role": "router",
                    "speaker": "frr",
                    "asn": 65002,
                    "connect": {"netns": "bdv-f2"},
                    "peers": [{"host": "f1", "address": f2_peer_of_f1, "asn": 65001}],
                },
            }
        }
    )


def _facts(inv: Inventory, overrides: dict[tuple[str, str], str] | None = None) -> dict[str, HostFacts]:
    """Each host's FRR outputs as the driver's commands would have returned them."""
    out: dict[str, HostFacts] = {}
    for name in ("f1", "f2"):
        host = inv.hosts[name]
        commands = FRR.commands(host)
        files = {"frr.neighbors": "neighbors", "frr.summary": "summary", "frr.ip_route": "ip_route"}
        outputs = {}
        for fact, stem in files.items():
            text = (overrides or {}).get((name, fact)) or (FIXTURES / f"{name}_{stem}.txt").read_text()
            outputs[fact] = CommandResult(commands[fact], 0, text.encode())
        out[name] = HostFacts(name, host, outputs=outputs, contacted=True)
    return out


def _neighbors(host: str = "f1") -> dict[str | None, NeighborState]:
    inv = _inventory()
    found = FRR.neighbors(World(inv, _facts(inv)), host)
    assert found is not None
    return {n.address: n for n in found}


def _report(inv: Inventory, facts: dict[str, HostFacts]) -> Report:
    collected = Collected(
        scope=["f1", "f2"], facts=facts, active=ActiveResults(), started=TAKEN, wall_seconds=1
    )
    return evaluate(inv, "inventory.yaml", collected, RunOptions(nodes=[]))


def test_commands_ask_vtysh_for_json_on_the_inventorys_vty_socket_dir() -> None:
    inv = _inventory()
    assert driver_for("frr") is FRR
    assert FRR.commands(inv.hosts["f1"]) == {
        "frr.neighbors": "vtysh --vty_socket '/run/bdv-f1 frr' -c 'show bgp neighbors json'",
        "frr.summary": "vtysh --vty_socket '/run/bdv-f1 frr' -c 'show bgp summary json'",
        "frr.ip_route": "vtysh --vty_socket '/run/bdv-f1 frr' -c 'show ip route json'",
        "frr.bgp_ipv4": "vtysh --vty_socket '/run/bdv-f1 frr' -c 'show bgp ipv4 unicast json'",
        "frr.bgp_ipv6": "vtysh --vty_socket '/run/bdv-f1 frr' -c 'show bgp ipv6 unicast json'",
    }
    assert FRR.commands(inv.hosts["f2"])["frr.neighbors"] == "vtysh -c 'show bgp neighbors json'"


def test_established_neighbor_with_uptime_hold_time_and_counts() -> None:
    n = _neighbors()["10.213.2.2"]
    # "bgpState":"Established", "bgpTimerUpMsec":13000, "bgpTimerHoldTimeMsecs":9000,
    # ipv4Unicast "acceptedPrefixCounter":1, "sentPrefixCounter":2
    assert (n.state, n.local_as, n.peer_as) == ("established", 65001, 65003)
    assert (n.up_for_s, n.hold_time_s) == (13, 9)
    assert (n.received, n.accepted, n.advertised) == (None, 1, 2)  # FRR counts after policy only
    assert n.last_error is None


def test_neighbors_that_are_down_say_why_and_for_how_long() -> None:
    ns = _neighbors()
    bad_as = ns["10.213.4.2"]
    assert bad_as.state == "idle" and (bad_as.local_as, bad_as.peer_as) == (65001, 65099)
    assert bad_as.last_error == "BGP Notification send: OPEN Message Error/Bad Peer AS"
    assert bad_as.up_for_s == 14  # "lastResetTimerMsecs":14000
    assert bad_as.hold_time_s is None  # the configured 9 s is not a negotiated hold time
    max_prefix = ns["10.213.5.2"]
    assert max_prefix.state == "idle" and max_prefix.up_for_s == 9
    assert max_prefix.last_error == "BGP Notification send: Cease/Maximum Number of Prefixes Reached"
    assert ns["10.213.6.2"].state == "admin-down"
    assert ns["10.213.3.2"].state == "active"
    assert sorted(ns, key=str) == [
        "10.213.1.2",
        "10.213.2.2",
        "10.213.3.2",
        "10.213.4.2",
        "10.213.5.2",
        "10.213.6.2",
    ]


def test_router_id_from_the_summary_and_an_unreadable_answer_is_unknown() -> None:
    inv = _inventory()
    world = World(inv, _facts(inv))
    assert FRR.router_id(world, "f1") == "10.213.0.1"
    assert FRR.router_id(world, "f2") == "10.213.0.2"
    broken = World(inv, _facts(inv, {("f1", "frr.neighbors"): "% Unknown command: show bgp neighbors json"}))
    assert FRR.neighbors(broken, "f1") is None
    problem = broken.command_problem("f1", "frr.neighbors")
    assert problem is not None and problem.kind == "parse-error"


def test_status_shows_the_frr_ends_with_their_counts() -> None:
    inv = _inventory()
    world = World(inv, _facts(inv))
    report = build_status(world, expected_sessions(world, ["f1", "f2"]), ["f1", "f2"], TAKEN)
    [row] = report.sessions
    assert row.verdict == "established" and report.exit_code == 0
    f1 = row.a if row.a.host == "f1" else row.b
    assert f1 is not None
    assert (f1.speaker, f1.state, f1.for_s, f1.accepted, f1.advertised, f1.hold_time_s) == (
        "frr",
        "established",
        13,
        0,
        2,
        9,
    )
    text = render_status_text(report)
    assert "f1   established  13s  -/0/2        9s" in text
    # f1 sends 2 prefixes, f2 discards them: it has no inbound policy for f1 (RFC 8212)
    assert "f2   established  13s  -/0/0        9s" in text


def _diagnosis(report: Report, cause: str) -> Any:
    return next((d for d in report.diagnoses if d.root_cause == cause), None)


def test_wrong_remote_as_on_frr_is_asn_mismatch_naming_the_wrong_end() -> None:
    inv = _inventory(f1_peer_of_f2="10.213.4.2", f2_peer_of_f1="10.213.4.1")
    report = _report(inv, _facts(inv))
    assert report.diagnoses[0].root_cause == "asn-mismatch", [d.root_cause for d in report.diagnoses]
    d = report.diagnoses[0]
    assert d.hosts == ["f1"]
    assert d.summary.startswith(
        "f1 is configured to expect AS 65099 from 10.213.4.2, but f2 announces AS 65002"
    )


def test_frr_without_ebgp_policy_is_the_rfc_8212_cause_with_an_frr_fix() -> None:
    inv = _inventory()
    report = _report(inv, _facts(inv))
    d = _diagnosis(report, "bird-ebgp-no-policy")
    assert d is not None and d.hosts == ["f2"], [x.root_cause for x in report.diagnoses]
    assert d.summary.startswith(
        "FRR on f2 has no inbound or outbound policy for eBGP neighbors 10.213.1.1, 10.213.4.1: "
        "the session may be Established, but every route received from 10.213.1.1, 10.213.4.1 is discarded"
    )
    fix = next(f for f in d.fixes if f.platform == "frr")
    assert "router bgp 65002" in fix.text
    assert "  neighbor 10.213.1.1 route-map BGPDOCTOR-IN in" in fix.text
    assert "  neighbor 10.213.1.1 route-map BGPDOCTOR-OUT out" in fix.text
    assert any("inboundEbgpRequiresPolicy" in e.output for e in d.evidence)
    check = next(r for r in report.results if r.check == "ebgp-policy-present" and r.host == "f2")
    assert check.status == "fail"
    f1_check = next(r for r in report.results if r.check == "ebgp-policy-present" and r.host == "f1")
    assert f1_check.status == "pass"  # f1 has route-maps for every eBGP neighbor


def test_max_prefix_stop_is_a_host_fact() -> None:
    from bgpdoctor.engine.subjects import host_subjects

    inv = _inventory()
    world = World(inv, _facts(inv))
    f1, f2 = host_subjects(world, ["f1", "f2"])
    assert f1.facts["max_prefix_exceeded"] is True and f1.facts["max_prefix_neighbors"] == ["10.213.5.2"]
    assert f2.facts["max_prefix_exceeded"] is False


def test_frr_facts_are_unknown_when_the_neighbors_cannot_be_read() -> None:
    from bgpdoctor.engine.subjects import host_subjects

    inv = _inventory()
    facts = _facts(inv)
    facts["f2"].outputs["frr.neighbors"] = CommandResult(
        FRR.commands(inv.hosts["f2"])["frr.neighbors"], 0, b'{"10.213.1.1": {"bgpState": "Sleeping"}}'
    )
    [f2] = host_subjects(World(inv, facts), ["f2"])
    for fact in ("ebgp_policy_missing", "max_prefix_exceeded"):
        problem = f2.problem(fact)
        assert fact not in f2.facts and problem is not None and problem.kind == "parse-error"
        assert "unknown BGP state 'Sleeping'" in problem.detail


def test_vtysh_saying_bgpd_is_down_is_speaker_down() -> None:
    """What FRR 8.4's vtysh prints (exit 1) when bgpd is stopped, and when every daemon is."""
    from bgpdoctor.engine.subjects import host_subjects

    inv = _inventory()
    for said in ("bgpd is not running\n", "Exiting: failed to connect to any daemons.\n"):
        facts = _facts(inv)
        command = FRR.commands(inv.hosts["f2"])["frr.neighbors"]
        facts["f2"].outputs["frr.neighbors"] = CommandResult(command, 1, b"", stderr=said)
        [f2] = host_subjects(World(inv, facts), ["f2"])
        assert f2.facts["speaker_answers"] is False, said
        assert f2.facts["speaker_problem"] == f"`{command}` failed on f2: {said.strip()}"


def test_a_session_end_holds_the_daemons_own_reading_of_the_other_end() -> None:
    """One model of a session's observed state: the end keeps its driver's NeighborState (what
    the status and every check read), next to the inventory's intent, and copies none of it."""
    inv = _inventory(f1_peer_of_f2="10.213.4.2")  # f1's neighbor with the wrong remote-as
    world = World(inv, _facts(inv))
    (session,) = expected_sessions(world, ["f1", "f2"])
    f1 = session.a
    assert f1.observed is world.neighbor_for("f1", inv.hosts["f1"].peers[0])
    assert f1.observed is not None and f1.peer is not None
    assert (f1.state, f1.observed.peer_as, f1.peer.asn) == ("idle", 65099, 65002)  # observed vs intent
    assert f1.observed.last_error == "BGP Notification send: OPEN Message Error/Bad Peer AS"
    assert f1.local_as == 65001  # the AS f1 announces, as FRR says it


def test_two_frr_ends_both_passive_is_neither_end_connects_naming_both() -> None:
    """f3 and f4 (captured with `neighbor ... passive` on both) each wait in Active: FRR shows
    `"bgpStateIs": "passive"` on both, so the run names neither-end-connects with both ends."""
    inv = Inventory.model_validate(
        {
            "hosts": {
                "f3": {
                    "role": "router",
                    "speaker": "frr",
                    "asn": 65031,
                    "connect": {"netns": "bdv-f3"},
                    "peers": [{"host": "f4", "address": "10.213.7.2", "asn": 65041}],
                },
                "f4": {
                    "role": "router",
                    "speaker": "frr",
                    "asn": 65041,
                    "connect": {"netns": "bdv-f4"},
                    "peers": [{"host": "f3", "address": "10.213.7.1", "asn": 65031}],
                },
            }
        }
    )
    facts: dict[str, HostFacts] = {}
    for name in ("f3", "f4"):
        commands = FRR.commands(inv.hosts[name])
        text = (FIXTURES / f"{name}_neighbors.txt").read_text()
        outputs = {"frr.neighbors": CommandResult(commands["frr.neighbors"], 0, text.encode())}
        facts[name] = HostFacts(name, inv.hosts[name], outputs=outputs, contacted=True)
    collected = Collected(
        scope=["f3", "f4"], facts=facts, active=ActiveResults(), started=TAKEN, wall_seconds=1
    )
    report = evaluate(inv, "inventory.yaml", collected, RunOptions(nodes=[]))
    d = _diagnosis(report, "neither-end-connects")
    assert d is not None, [x.root_cause for x in report.diagnoses]
    assert d.summary.startswith("f3 and f4 are both set to wait for the other to open the BGP connection")
    assert sum('"bgpStateIs": "passive"' in e.output for e in d.evidence) == 2
    assert _diagnosis(report, "node-not-listening") is None
