"""FRR and BIRD 2 as receivers, and FRR as the sender, replayed from runs recorded on real daemons
(tests/integration/test_receivers_run.py, its recordings in tests/fixtures/recordings/):

- corpus cases 67/68: GoBGP carries IPv6 over its IPv4 sessions to BIRD 2 and to FRR with an
  IPv4-mapped next hop; BIRD ignores the routes, FRR cannot install them;
- corpus case 91: an FRR ToR passes same-AS BIRD nodes each other's routes, BIRD drops them as loops.
"""

from __future__ import annotations

from pathlib import Path

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import Collected, RunOptions, evaluate
from bgpdoctor.report.model import CheckResult, Report
from bgpdoctor.transport.base import CommandResult

RECORDINGS = Path(__file__).resolve().parents[1] / "fixtures" / "recordings"


def _collected(name: str) -> tuple[object, str, list[str], Collected]:
    return load_recording(RECORDINGS / f"{name}.json")


def _replay(name: str, drop: tuple[str, str] | None = None, fail: tuple[str, str] | None = None) -> Report:
    inv, path, nodes, collected = load_recording(RECORDINGS / f"{name}.json")
    if drop is not None:  # a recording made before that output was collected
        del collected.facts[drop[0]].outputs[drop[1]]
    if fail is not None:
        old = collected.facts[fail[0]].outputs[fail[1]]
        collected.facts[fail[0]].outputs[fail[1]] = CommandResult(
            old.command, 1, b"", "% Unknown command: vtysh is not running"
        )
    return evaluate(inv, path, collected, RunOptions(nodes=nodes))


def _results(report: Report, check: str) -> list[CheckResult]:
    return [r for r in report.results if r.check == check]


def _causes(report: Report) -> list[tuple[str, list[str]]]:
    return [(d.root_cause, d.hosts) for d in report.diagnoses]


# -- cases 67/68: IPv6 over an IPv4 session, BIRD 2 and FRR receiving -------------------------------


def test_ipv6_over_ipv4_sessions_refused_by_bird_and_frr_is_afi_capability_mismatch() -> None:
    report = _replay("ipv6_over_ipv4_receivers")
    [afi] = [d for d in report.diagnoses if d.root_cause == "afi-capability-mismatch"]
    assert afi.hosts == ["node1"], _causes(report)
    reasons = sorted(r.reason for r in _results(report, "bgp-ipv6-over-ipv4-next-hop") if r.status == "fail")
    assert reasons == [
        "node1 sends IPv6 routes over the IPv4 session to bird1 with its IPv4 address as next hop, and "
        "BIRD 2 on bird1 cannot use them (1 IPv6 update(s) ignored by the ipv6 channel, none imported "
        "(`Import withdraws: ... 1`)): IPv4 works, IPv6 does not",
        "node1 sends IPv6 routes over the IPv4 session to frr1 with its IPv4 address as next hop, and "
        "FRR on frr1 cannot use them (fd00:42:77::/64 via ::ffff:ad5:4e02): IPv4 works, IPv6 does not",
    ]
    fixes = {f.platform: f.text for f in afi.fixes}
    assert fixes["gobgp"].strip().splitlines() == [
        "[[neighbors.afi-safis]]",
        "  [neighbors.afi-safis.config]",
        '    afi-safi-name = "ipv4-unicast"',
    ]


def test_ipv4_only_sessions_between_the_same_daemons_are_clean() -> None:
    report = _replay("ipv4_only_receivers")
    assert report.diagnoses == []
    # FRR's IPv6 table is clean, and node1 (GoBGP) has no IPv6 route to send BIRD
    assert [r.status for r in _results(report, "bgp-ipv6-over-ipv4-next-hop")] == ["pass", "pass"]


def test_an_frr_ipv6_table_that_cannot_be_read_is_unknown_not_clean() -> None:
    failed = _replay("ipv6_over_ipv4_receivers", fail=("frr1", "frr.bgp_ipv6"))
    frr_session = [r for r in _results(failed, "bgp-ipv6-over-ipv4-next-hop") if "frr1" in r.hosts]
    assert [r.status for r in frr_session] == ["unknown"]
    assert "vtysh is not running" in frr_session[0].reason
    older = _replay("ipv6_over_ipv4_receivers", drop=("frr1", "frr.bgp_ipv6"))
    assert [r.status for r in _results(older, "bgp-ipv6-over-ipv4-next-hop") if "frr1" in r.hosts] == ["skip"]


# -- case 91: an FRR ToR as the sender of looped routes ----------------------------------------------


def test_frr_tor_sending_same_as_nodes_each_others_routes_is_as_path_loop() -> None:
    report = _replay("frr_tor_as_path_loop")
    loops = {tuple(d.hosts): d for d in report.diagnoses if d.root_cause == "as-path-loop"}
    assert set(loops) == {("node-a",), ("node-b",)}, _causes(report)
    assert loops[("node-b",)].summary.startswith(
        "tor sends node-b routes whose AS path already holds node-b's own AS 65002 "
        "(10.90.87.0/24: AS path 65002), so node-b drops them as loops"
    )


def test_frr_tor_whose_bgp_table_is_not_read_judges_no_loop() -> None:
    older = _replay("frr_tor_as_path_loop", drop=("tor", "frr.bgp_ipv4"))
    assert "as-path-loop" not in [d.root_cause for d in older.diagnoses]
    failed = _replay("frr_tor_as_path_loop", fail=("tor", "frr.bgp_ipv4"))
    assert "as-path-loop" not in [d.root_cause for d in failed.diagnoses]
    statuses = {r.status for r in _results(failed, "bgp-no-as-path-loop")}
    assert statuses == {"unknown"}, [(r.status, r.reason) for r in _results(failed, "bgp-no-as-path-loop")]


# -- case 65: a dual-homed GoBGP node uses one of its two BGP default routes -------------------------


def test_a_second_default_route_the_kernel_does_not_use_is_learned_routes_not_installed() -> None:
    report = _replay("dual_homed_one_default")
    [found] = [d for d in report.diagnoses if d.root_cause == "learned-routes-not-installed"]
    assert found.hosts == ["node1"], _causes(report)
    assert found.summary.startswith(
        "node1 is dual-homed over BGP and receives 0.0.0.0/0 via 10.213.92.1 (from 10.213.92.1), but its "
        "kernel default uses only 10.213.91.1"
    )
    [fix] = found.fixes
    assert fix.text.strip() == "ip route replace default nexthop via 10.213.91.1 nexthop via 10.213.92.1"
    [check] = [r for r in _results(report, "bgp-learned-default-installed") if r.host == "node1"]
    assert check.status == "fail"


def test_both_default_routes_in_the_kernel_or_an_unread_rib_is_no_finding() -> None:
    healthy = _replay("dual_homed_both_defaults")
    assert "learned-routes-not-installed" not in [d.root_cause for d in healthy.diagnoses]
    assert [r.status for r in _results(healthy, "bgp-learned-default-installed") if r.host == "node1"] == [
        "pass"
    ]
    unread = _replay("dual_homed_one_default", fail=("node1", "gobgp.rib"))
    assert "learned-routes-not-installed" not in [d.root_cause for d in unread.diagnoses]
    assert [r.status for r in _results(unread, "bgp-learned-default-installed") if r.host == "node1"] == [
        "unknown"
    ]


# -- case 71: IPv6 routes with a link-local-only next hop, BIRD 2 and FRR receiving ---------------


def test_link_local_only_next_hops_dropped_by_bird_and_frr_are_ipv6_link_local() -> None:
    report = _replay("ipv6_link_local_next_hop_receivers")
    assert _causes(report) == [("ipv6-link-local", ["sender"])]
    reasons = sorted(r.reason for r in _results(report, "bgp-ipv6-next-hop-global") if r.status == "fail")
    assert reasons == [
        "bird1 drops the IPv6 routes of sender: 1 IPv6 update(s) ignored by the ipv6 channel, none imported "
        "(`Import withdraws: ... 1`); sender sends them with `BGP Next hop: ::` (link-local only)",
        "frr1 drops the IPv6 routes of sender: 1 IPv6 route(s) sender exported, none in FRR's table; "
        "sender sends them with `BGP Next hop: ::` (link-local only)",
    ]


def test_a_global_next_hop_is_clean_and_an_unread_sender_judges_nothing() -> None:
    healthy = _replay("ipv6_global_next_hop_receivers")
    assert healthy.diagnoses == []
    assert [r.status for r in _results(healthy, "bgp-ipv6-next-hop-global")] == ["pass", "pass"]
    # BIRD counts loops as ignored withdraws too: without the sender's channel nothing is claimed
    unread = _replay("ipv6_link_local_next_hop_receivers", fail=("sender", "bird.protocols"))
    assert "ipv6-link-local" not in [d.root_cause for d in unread.diagnoses]
