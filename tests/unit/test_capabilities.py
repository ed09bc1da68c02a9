"""Graceful restart and address-family/capability mismatches, from each daemon's own view of a session.

Every output is real: BIRD 2.0.12, BIRD 1.6.8, gobgpd 3.10.0 and FRR 8.4.4 run in bdc- namespaces by
scripts/capture_capability_fixtures.py (x = 10.252.0.1 AS 65201, FRR or GoBGP; y = 10.252.0.2 AS
65202, BIRD; captures/outputs/capabilities/commands.json has each command). The parser cases under
tests/unit/parsers/cases/capabilities.* freeze the parsers' output; here the values are read again by
hand from the raw text, each end's view is checked against the other end's (two daemons, two
parsers, one OPEN), and whole runs are judged.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from bgpdoctor.drivers import driver_for
from bgpdoctor.engine.active import ActiveResults
from bgpdoctor.engine.collect import HostFacts
from bgpdoctor.engine.run import Collected, RunOptions, evaluate
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.parsers import ParseError
from bgpdoctor.parsers.capabilities import (
    Advertised,
    GrRecovery,
    parse_bird_gr_recovery,
    parse_bird_protocols,
    parse_frr_neighbors,
    parse_gobgp_neighbors,
    protobuf_fields,
)
from bgpdoctor.report.model import Report
from bgpdoctor.transport.base import CommandResult

OUTPUTS = Path(__file__).resolve().parents[2] / "captures" / "outputs" / "capabilities"
TAKEN = datetime(2026, 12, 6, 1, 40, tzinfo=UTC)
CHECKS = ("bgp-graceful-restart-consistent", "bgp-families-negotiated", "bgp-as4-negotiated")
CAUSES = ("graceful-restart-misbehaviour", "afi-capability-mismatch")


def raw(name: str) -> str:
    return (OUTPUTS / name).read_text()


# -- the parsers against values read by hand from the raw outputs ---------------------------------


def test_bird2_reads_both_sides_and_the_restart_mode() -> None:
    # gr_off_bird_protocols_all.txt: `Local capabilities` has no `Graceful restart` line (graceful
    # restart off); under `Neighbor capabilities` FRR's has `Restart time: 120`, `AF supported: ipv4`
    [p] = parse_bird_protocols(raw("gr_off_bird_protocols_all.txt"))
    assert (p.name, p.address, p.established, p.as4_session) == ("peer_x", "10.252.0.1", True, True)
    assert p.local is not None and p.remote is not None
    assert p.local.names == ["multiprotocol", "route-refresh", "4-byte-as", "enhanced-route-refresh"]
    assert not p.local.graceful_restart
    assert (p.remote.graceful_restart, p.remote.gr_restart_mode) == (True, True)
    assert (p.remote.gr_families, p.remote.gr_restart_time) == (["ipv4-unicast"], 120)
    # healthy: BIRD's default `Graceful restart` alone is a helper (aware), not restart mode
    [h] = parse_bird_protocols(raw("healthy_bird_protocols_all.txt"))
    assert h.local is not None and (h.local.graceful_restart, h.local.gr_restart_mode) == (True, False)


def test_bird2_families_and_extended_next_hop_of_gobgp() -> None:
    # gobgp_gr_v4v6_bird_protocols_all.txt: `AF announced: ipv4 ipv6`, `IPv6 nexthop: ipv4`,
    # `AF supported: ipv4 ipv6` from GoBGP; BIRD's own `AF announced: ipv4`
    [p] = parse_bird_protocols(raw("gobgp_gr_v4v6_bird_protocols_all.txt"))
    assert p.remote is not None and p.local is not None
    assert p.remote.families == ["ipv4-unicast", "ipv6-unicast"]
    assert p.remote.gr_families == ["ipv4-unicast", "ipv6-unicast"]
    assert p.remote.extended_nexthop == ["ipv4-unicast"]
    assert p.local.families == ["ipv4-unicast"] and p.configured_families == ["ipv4-unicast"]


def test_bird16_prints_only_the_neighbors_side() -> None:
    # gr_off16: `Neighbor caps:    refresh enhanced-refresh restart-able llgr-able AS4 add-path-rx`
    [p] = parse_bird_protocols(raw("gr_off16_bird_protocols_all.txt"))
    assert p.local is None and p.remote is not None
    assert (p.remote.graceful_restart, p.remote.gr_restart_mode, p.remote.as4) == (True, True, True)
    assert not p.remote.families_shown
    # as4_off16: `Session: external` without AS4 (BIRD 1.6 with `enable as4 off`)
    [q] = parse_bird_protocols(raw("as4_off16_bird_protocols_all.txt"))
    assert q.as4_session is False


def test_bird_recovery_and_stale_lines() -> None:
    # recovery_bird_status.txt: "Waiting for 1 channels to recover", "Wait timer is 234.917/240"
    assert parse_bird_gr_recovery(raw("recovery_bird_status.txt")) == GrRecovery(1, 234, 240)
    assert parse_bird_gr_recovery(raw("recovery16_bird_status.txt")) == GrRecovery(1, 234, 240)
    assert parse_bird_gr_recovery(raw("healthy_bird_status.txt")) is None
    for name in ("recovery_bird_protocols_all.txt", "recovery16_bird_protocols_all.txt"):
        pending = {p.name: p.gr_recovery_pending for p in parse_bird_protocols(raw(name))}
        assert pending == {"peer_x": False, "peer_dead": True}, name  # `GR recovery:    pending`
    # stale_bird_protocols_all.txt: `Neighbor graceful restart active`, `Restart timer: 116.978/-`
    [s] = parse_bird_protocols(raw("stale_bird_protocols_all.txt"))
    assert (s.established, s.gr_helper_active, s.gr_restart_timer_s) == (False, True, 116)


def test_frr_reads_grmode_and_one_sided_capabilities() -> None:
    # gr_off_frr_neighbors.txt: "gracefulRestartCapability": "advertised", "localGrMode": "Restart*"
    [n] = parse_frr_neighbors(raw("gr_off_frr_neighbors.txt"))
    assert n.local is not None and n.remote is not None
    assert (n.local.graceful_restart, n.local.gr_restart_mode) == (True, True)
    assert not n.remote.graceful_restart
    # v6_frr_only: "ipv6Unicast": {"advertised": true} under multiprotocolExtensions
    [v] = parse_frr_neighbors(raw("v6_frr_only_frr_neighbors.txt"))
    assert v.local is not None and v.remote is not None
    assert (v.local.families, v.remote.families) == (["ipv4-unicast", "ipv6-unicast"], ["ipv4-unicast"])
    # as4_off: "4byteAs": "advertised"
    [a] = parse_frr_neighbors(raw("as4_off_frr_neighbors.txt"))
    assert a.local is not None and a.remote is not None
    assert (a.local.as4, a.remote.as4, a.as4_session) == (True, False, False)
    # stale: "bgpState": "Active", "restartTimerRemaining": 116
    [s] = parse_frr_neighbors(raw("stale_frr_neighbors.txt"))
    assert (s.established, s.local, s.gr_helper_active, s.gr_restart_timer_s) == (False, None, True, 116)


def test_gobgp_capabilities_decoded_by_hand() -> None:
    # GracefulRestartCapability "EHgaBgoECAEQARoGCgQIAhAB": 10 78 = time 120; 1a 06 = tuple of
    # 6 bytes: 0a 04 = family of 4 bytes: 08 01 afi 1, 10 01 safi 1; the second tuple afi 2
    data = base64.b64decode("EHgaBgoECAEQARoGCgQIAhAB")
    assert data.hex() == "10781a060a04080110011a060a0408021001"
    assert protobuf_fields(data) == [
        (2, 120),
        (3, bytes.fromhex("0a0408011001")),
        (3, bytes.fromhex("0a0408021001")),
    ]
    [n] = parse_gobgp_neighbors(raw("gobgp_gr_v4v6_gobgp_neighbor.txt"))
    assert n.local is not None and n.remote is not None
    assert n.local.gr_families == ["ipv4-unicast", "ipv6-unicast"] and n.local.gr_restart_time == 120
    # BIRD's "EHg=" (10 78): time 120 and no family: a helper
    assert (n.remote.graceful_restart, n.remote.gr_families, n.remote.gr_restart_mode) == (True, [], False)
    assert n.configured_families == ["ipv4-unicast", "ipv6-unicast"]


@pytest.mark.parametrize(
    "text",
    [
        "[{}]",
        '[{"conf": {"neighbor_address": "10.0.0.1"}, "state": {"session_state": 6, "local_cap": '
        '[{"type_url": "x.MultiProtocolCapability", "value": "CgQIARA="}]}}]',
        '[{"conf": {"neighbor_address": "10.0.0.1"}, "state": {"session_state": 6, "local_cap": '
        '[{"type_url": "x.MultiProtocolCapability", "value": "@@"}]}}]',
        '[{"conf": {"neighbor_address": "10.0.0.1"}, "state": {"session_state": 6, "local_cap": 5}}]',
    ],
)
def test_odd_gobgp_capabilities_raise_parse_error_only(text: str) -> None:
    """Odd JSON or protobuf is a ParseError (an unknown fact), never a crash or a made-up capability."""
    try:
        found = parse_gobgp_neighbors(text)
    except ParseError:
        return
    assert all(n.local is None or n.local.families == ["ipv4-unicast"] for n in found)


# -- two daemons, two parsers, one OPEN each way ---------------------------------------------------


def _same_open(sent: Advertised, seen: Advertised) -> None:
    assert sent.as4 == seen.as4
    assert sent.graceful_restart == seen.graceful_restart
    if sent.families_shown and seen.families_shown:
        assert sent.families == seen.families
    if sent.gr_restart_mode is not None and seen.gr_restart_mode is not None:
        assert sent.gr_restart_mode == seen.gr_restart_mode


@pytest.mark.parametrize(
    "scenario",
    ["healthy", "gr_off", "gr_off16", "gr_both", "v6_frr_only", "v6_bird_only", "as4_off", "as4_off16"],
)
def test_frr_and_bird_agree_on_what_each_sent(scenario: str) -> None:
    [frr] = parse_frr_neighbors(raw(f"{scenario}_frr_neighbors.txt"))
    [bird] = parse_bird_protocols(raw(f"{scenario}_bird_protocols_all.txt"))
    assert frr.local is not None and frr.remote is not None and bird.remote is not None
    _same_open(frr.local, bird.remote)
    if bird.local is not None:  # BIRD 1.6 does not print its own side
        _same_open(bird.local, frr.remote)
    assert frr.as4_session == bird.as4_session


@pytest.mark.parametrize("scenario", ["gobgp_gr_v4v6", "gobgp_gr_v4", "gobgp_nogr"])
def test_gobgp_and_bird_agree_on_what_each_sent(scenario: str) -> None:
    [gobgp] = parse_gobgp_neighbors(raw(f"{scenario}_gobgp_neighbor.txt"))
    [bird] = parse_bird_protocols(raw(f"{scenario}_bird_protocols_all.txt"))
    assert gobgp.local and gobgp.remote and bird.local and bird.remote
    _same_open(gobgp.local, bird.remote)
    _same_open(bird.local, gobgp.remote)
    assert gobgp.local.gr_families == bird.remote.gr_families
    assert bird.local.gr_families == gobgp.remote.gr_families


# -- whole runs ------------------------------------------------------------------------------------


def _host(speaker: str, asn: int, peers: list[dict[str, Any]], role: str = "router") -> dict[str, Any]:
    return {"role": role, "speaker": speaker, "asn": asn, "connect": {"netns": "bdc"}, "peers": peers}


def _report(hosts: dict[str, dict[str, Any]], outputs: dict[str, dict[str, str | CommandResult]]) -> Report:
    inv = Inventory.model_validate({"hosts": hosts})
    facts = {}
    for name, files in outputs.items():
        driver = driver_for(inv.hosts[name].speaker)
        assert driver is not None
        commands = driver.commands(inv.hosts[name])
        results = {
            fact: f
            if isinstance(f, CommandResult)
            else CommandResult(commands[fact], 0, (OUTPUTS / f).read_bytes())
            for fact, f in files.items()
        }
        facts[name] = HostFacts(name, inv.hosts[name], outputs=results, contacted=True)
    collected = Collected(
        scope=list(outputs), facts=facts, active=ActiveResults(), started=TAKEN, wall_seconds=1
    )
    return evaluate(inv, "inventory.yaml", collected, RunOptions(nodes=[]))


FRR_PEERS = [{"host": "bird1", "address": "10.252.0.2", "asn": 65202}]
BIRD_PEERS = [{"host": "frr1", "address": "10.252.0.1", "asn": 65201, "name": "peer_x"}]


def frr_bird(scenario: str, bird: str = "bird2", bird_file: str | CommandResult | None = None) -> Report:
    bird_outputs: dict[str, str | CommandResult] = {
        "bird.protocols": bird_file or f"{scenario}_bird_protocols_all.txt"
    }
    if (OUTPUTS / f"{scenario}_bird_status.txt").exists():
        bird_outputs["bird.status"] = f"{scenario}_bird_status.txt"
    return _report(
        {"frr1": _host("frr", 65201, FRR_PEERS), "bird1": _host(bird, 65202, BIRD_PEERS, "node")},
        {"frr1": {"frr.neighbors": f"{scenario}_frr_neighbors.txt"}, "bird1": bird_outputs},
    )


def gobgp_bird(scenario: str) -> Report:
    return _report(
        {
            "node1": _host(
                "gobgp", 65201, [{"host": "router", "address": "10.252.0.2", "asn": 65202}], "node"
            ),
            "router": _host(
                "bird2", 65202, [{"host": "node1", "address": "10.252.0.1", "asn": 65201, "name": "peer_x"}]
            ),
        },
        {
            "node1": {"gobgp.neighbors": f"{scenario}_gobgp_neighbor.txt"},
            "router": {"bird.protocols": f"{scenario}_bird_protocols_all.txt"},
        },
    )


def statuses(report: Report) -> dict[str, str]:
    return {r.check: r.status for r in report.results if r.check in CHECKS}


def ours(report: Report) -> list[Any]:
    return [d for d in report.diagnoses if d.root_cause in CAUSES]


@pytest.mark.parametrize(
    "report",
    [frr_bird("healthy"), frr_bird("gr_both"), gobgp_bird("gobgp_gr_v4")],
    ids=["healthy", "gr_both", "gobgp_gr_v4"],
)
def test_agreeing_ends_give_no_finding(report: Report) -> None:
    assert statuses(report) == dict.fromkeys(CHECKS, "pass")
    assert ours(report) == []


@pytest.mark.parametrize(("scenario", "bird"), [("gr_off", "bird2"), ("gr_off16", "bird1")])
def test_restart_mode_against_gr_off_names_the_end_that_does_not_help(scenario: str, bird: str) -> None:
    report = frr_bird(scenario, bird)
    [d] = ours(report)
    assert (d.root_cause, d.hosts) == ("graceful-restart-misbehaviour", ["bird1"])
    assert d.summary.startswith(
        "frr1 runs graceful restart (restart mode) and relies on bird1 to keep its routes while it "
        "restarts, but bird1 sends no graceful-restart capability"
    )
    bird_fix = next(f for f in d.fixes if f.platform == "bird2")
    assert "graceful restart aware;" in bird_fix.text and bird_fix.target == "protocol bgp peer_x"
    assert statuses(report)["bgp-graceful-restart-consistent"] == "fail"


def test_gobgp_without_gr_against_bird_in_restart_mode() -> None:
    [d] = ours(gobgp_bird("gobgp_nogr"))
    assert d.hosts == ["node1"] and d.summary.startswith("router runs graceful restart (restart mode)")
    gobgp_fix = next(f for f in d.fixes if f.platform == "gobgp")
    assert "helper-only = true" in gobgp_fix.text and gobgp_fix.target == "neighbor 10.252.0.2"


def test_gobgp_gr_for_a_family_the_peer_does_not_run_is_corpus_case_50() -> None:
    report = gobgp_bird("gobgp_gr_v4v6")
    gr, afi = ours(report)
    assert (gr.root_cause, gr.hosts) == ("graceful-restart-misbehaviour", ["node1"])
    assert "node1 announces graceful restart for ipv6-unicast, which router does not run" in gr.summary
    gobgp_fix = next(f for f in gr.fixes if f.platform == "gobgp")
    assert 'afi-safi-name = "ipv4-unicast"' in gobgp_fix.text and "ipv6" not in gobgp_fix.text
    assert (afi.root_cause, afi.hosts) == ("afi-capability-mismatch", ["router"])


@pytest.mark.parametrize(
    ("scenario", "culprit", "offering"), [("v6_frr_only", "bird1", "frr1"), ("v6_bird_only", "frr1", "bird1")]
)
def test_ipv6_on_one_end_of_an_ipv4_session_is_not_negotiated(
    scenario: str, culprit: str, offering: str
) -> None:
    report = frr_bird(scenario)
    [d] = ours(report)
    assert (d.root_cause, d.hosts) == ("afi-capability-mismatch", [culprit])
    assert d.summary.startswith(
        f"{offering} offers ipv6-unicast on this session and {culprit} does not run it"
    )
    assert statuses(report) == {
        "bgp-graceful-restart-consistent": "pass",
        "bgp-families-negotiated": "fail",
        "bgp-as4-negotiated": "pass",
    }
    if culprit == "bird1":
        assert "ipv6 { import all; export none; };" in next(f for f in d.fixes if f.platform == "bird2").text
    else:
        frr_fix = next(f for f in d.fixes if f.platform == "frr").text
        assert "router bgp 65201\n address-family ipv6 unicast\n  neighbor 10.252.0.2 activate\n" in frr_fix


@pytest.mark.parametrize(("scenario", "bird"), [("as4_off", "bird2"), ("as4_off16", "bird1")])
def test_as4_off_with_two_byte_asns_is_a_warning(scenario: str, bird: str) -> None:
    report = frr_bird(scenario, bird)
    assert statuses(report)["bgp-as4-negotiated"] == "warn"
    assert statuses(report)["bgp-families-negotiated"] == "pass"
    assert ours(report) == []


def test_as4_off_is_the_cause_once_the_peer_rejected_an_as_path() -> None:
    text = raw("as4_off_bird_protocols_all.txt").replace(
        "    Session:", "    Last error:       Received: Malformed AS_PATH\n    Session:"
    )
    report = frr_bird("as4_off", bird_file=CommandResult("birdc -r show protocols all", 0, text.encode()))
    [d] = ours(report)
    assert (d.root_cause, d.hosts) == ("afi-capability-mismatch", ["bird1"])
    assert "enable as4 on;" in next(f for f in d.fixes if f.platform == "bird2").text


@pytest.mark.parametrize(("bird", "scenario"), [("bird2", "recovery"), ("bird1", "recovery16")])
def test_bird_recovery_waiting_for_a_dead_peer_is_corpus_case_53(bird: str, scenario: str) -> None:
    peers = [*BIRD_PEERS, {"address": "10.252.0.9", "asn": 65209, "name": "peer_dead"}]
    report = _report(
        {"frr1": _host("frr", 65201, FRR_PEERS), "bird1": _host(bird, 65202, peers, "node")},
        {
            "frr1": {"frr.neighbors": "recovery_frr_neighbors.txt"},
            "bird1": {
                "bird.protocols": f"{scenario}_bird_protocols_all.txt",
                "bird.status": f"{scenario}_bird_status.txt",
            },
        },
    )
    [d] = ours(report)
    assert d.hosts == ["bird1"] and d.summary.startswith(
        "BIRD on bird1 restarted in graceful-restart recovery and waits for 10.252.0.9, which is down: "
        "until its wait timer runs out (234 s of 240 s left)"
    )
    assert any("birdc disable peer_dead" in step for step in d.next_steps)
    fix = next(f for f in d.fixes if f.platform == "bird2")
    assert fix.target == "protocol bgp peer_dead" and "graceful restart off;" in fix.text
    by_session = {r.host: r.status for r in report.results if r.check == "bgp-graceful-restart-consistent"}
    assert by_session == {"frr1<->bird1": "pass", "bird1<->10.252.0.9": "fail"}


DOWN = CommandResult("birdc -r show protocols all", 1, b"", "Unable to connect to server control socket")


def test_a_helper_keeping_a_dead_peers_routes_names_the_dead_peer() -> None:
    report = _report(
        {"frr1": _host("frr", 65201, FRR_PEERS), "bird1": _host("bird2", 65202, BIRD_PEERS, "node")},
        {"frr1": {"frr.neighbors": "stale_frr_neighbors.txt"}, "bird1": {"bird.protocols": DOWN}},
    )
    [d] = ours(report)
    assert d.hosts == ["bird1"] and d.summary.startswith(
        "frr1 keeps the routes of bird1 as stale for 116 s more, waiting for it to restart"
    )
    # the restart time is bird1's to announce: the fix is in BIRD's syntax, not FRR's
    assert [(f.platform, f.host) for f in d.fixes] == [("bird2", "bird1")]
    assert "graceful restart time 30;" in d.fixes[0].text


def _cease(scenario: str) -> Report:
    """gobgpd on node1 (GR restart mode) stopped with SIGTERM; FRR (helper) on frr1 still answers."""
    return _report(
        {
            "frr1": _host("frr", 65201, [{"host": "node1", "address": "10.252.0.2", "asn": 65202}]),
            "node1": _host("gobgp", 65202, [{"host": "frr1", "address": "10.252.0.1", "asn": 65201}], "node"),
        },
        {
            "frr1": {"frr.neighbors": f"{scenario}_frr_neighbors.txt"},
            "node1": {"gobgp.neighbors": CommandResult("gobgp -j neighbor", 1, b"", "connection refused")},
        },
    )


def test_a_cease_at_stop_that_cancels_graceful_restart_is_corpus_case_51() -> None:
    # cease_frr_neighbors.txt: "lastNotificationReason": "Cease/Peer De-configured", "lastResetDueTo":
    # "BGP Notification received", "receivedRestartTimer": 120, no restartTimerRemaining; and
    # cease_frr_bgp_ipv4.txt no longer has node1's 10.92.2.0/24
    assert "10.92.2.0/24" not in raw("cease_frr_bgp_ipv4.txt")
    [d] = ours(_cease("cease"))
    assert d.hosts == ["node1"] and d.summary.startswith(
        "node1 announced graceful restart but stopped with a NOTIFICATION Cease/Peer De-configured (6/3), "
        "which cancels it: frr1 flushed the routes of node1 instead of keeping them"
    )
    gobgp_fix = next(f for f in d.fixes if f.platform == "gobgp")
    assert "notification-enabled = true" in gobgp_fix.text and gobgp_fix.target == "neighbor 10.252.0.1"


def test_with_rfc_8538_the_cease_keeps_graceful_restart() -> None:
    # the same stop with GoBGP's `notification-enabled = true` (captured for real): FRR keeps the
    # route as stale (`"stale":true`): no longer the Cease variant, only the stale window while down
    assert '"stale":true' in raw("cease_nbit_frr_bgp_ipv4.txt")
    [d] = ours(_cease("cease_nbit"))
    assert d.summary.startswith("frr1 keeps the routes of node1 as stale for 116 s more")


def test_an_unreadable_end_of_an_established_session_is_unknown_never_a_mismatch() -> None:
    bad = CommandResult("birdc -r show protocols all", 0, b"BIRD 2.0.12 ready.\nsomething else\n")
    report = frr_bird("gr_off", bird_file=bad)
    found = {r.check: (r.status, r.unknown_kind) for r in report.results if r.check in CHECKS}
    assert found == dict.fromkeys(CHECKS, ("unknown", "parse-error"))
    assert ours(report) == []


def test_a_session_seen_down_is_not_judged() -> None:
    report = _report(
        {"frr1": _host("frr", 65201, FRR_PEERS), "bird1": _host("bird2", 65202, BIRD_PEERS, "node")},
        {
            "frr1": {"frr.neighbors": "healthy_frr_neighbors.txt"},
            "bird1": {"bird.protocols": "stale_bird_protocols_all.txt"},
        },
    )
    # BIRD shows the session down: no OPEN to compare, and the helper line is its own variant
    [d] = ours(report)
    assert d.summary.startswith("bird1 keeps the routes of frr1 as stale for 116 s more")


def test_cilium_dbg_prints_no_capabilities_so_the_other_end_tells() -> None:
    from bgpdoctor.engine.capabilities import EndView, _sent

    [bird] = parse_bird_protocols(raw("gobgp_nogr_bird_protocols_all.txt"))
    sent = _sent(EndView(None, "cilium-node"), EndView(None, "router", bird))
    assert sent is not None and not sent.graceful_restart and sent.families == ["ipv4-unicast"]


def test_fix_snippets_of_every_variant_pass_the_daemons_own_checkers(tmp_path: Path) -> None:
    from test_fix_snippets import _bird_wrap, _check_bird, _check_frr, _check_gobgp

    from tests.unit.vendor_syntax import CHECKS as VENDOR_CHECKS

    # every platform's fix: these networks have no vendor router, and a run gives each host only its
    # own daemon's fix
    with mock.patch("bgpdoctor.engine.run._fixes_for_what_runs_there", lambda _diagnoses, _inv: None):
        reports = [
            frr_bird("gr_off"),
            gobgp_bird("gobgp_gr_v4v6"),
            frr_bird("v6_frr_only"),
            frr_bird("v6_bird_only"),
            _report(
                {"frr1": _host("frr", 65201, FRR_PEERS), "bird1": _host("bird2", 65202, BIRD_PEERS, "node")},
                {"frr1": {"frr.neighbors": "stale_frr_neighbors.txt"}, "bird1": {"bird.protocols": DOWN}},
            ),
            _cease("cease"),
            _enh("frr_without"),
            _groff(True),
        ]
    seen = set()
    for report in reports:
        for d in ours(report):
            for fix in d.fixes:
                seen.add((d.root_cause, fix.platform))
                if fix.platform == "bird2":
                    _check_bird("/usr/sbin/bird", _bird_wrap(fix.text, fix.fragment or ""), tmp_path)
                elif fix.platform == "frr":
                    _check_frr(fix.text)
                elif fix.platform == "gobgp":
                    _check_gobgp(fix.text, tmp_path)
                elif fix.platform in VENDOR_CHECKS:
                    assert VENDOR_CHECKS[fix.platform](fix.text) == [], fix.text
    assert len(seen) == 10  # the six above, Cilium's CiliumBGPPeerConfig, RouterOS, FortiGate, Huawei VRP


def test_capture_commands_are_recorded() -> None:
    commands = json.loads(raw("commands.json"))
    for path in OUTPUTS.glob("*.txt"):
        assert path.stem in commands, path.name


# -- the extended next hop capability (RFC 8950) on an IPv6 session (cilium#29951) ---------------

ENH_HOST: dict[str, Any] = {"role": "router", "connect": {"netns": "bdm"}}
ENH_FRR_PEERS = [{"host": "bird1", "address": "fd00:213:173::2", "asn": 65002}]
ENH_BIRD_PEERS = [{"host": "frr1", "address": "fd00:213:173::1", "asn": 65001, "name": "frr1"}]


def _statuses(report: Report, check: str) -> dict[str, str]:
    return {r.host: r.status for r in report.results if r.check == check}


def _enh(scenario: str, frr_file: str | CommandResult | None = None) -> Report:
    return _report(
        {
            "frr1": {**ENH_HOST, "speaker": "frr", "asn": 65001, "peers": ENH_FRR_PEERS},
            "bird1": {**ENH_HOST, "speaker": "bird2", "asn": 65002, "peers": ENH_BIRD_PEERS},
        },
        {
            "frr1": {"frr.neighbors": frr_file or f"enh_{scenario}_frr_neighbors.txt"},
            "bird1": {"bird.protocols": f"enh_{scenario}_bird_protocols_all.txt"},
        },
    )


def test_extended_next_hop_is_read_from_frr_and_bird_alike() -> None:
    # enh_frr_without_frr_neighbors.txt: "extendedNexthop":"received",
    # "extendedNexthopFamililesByPeer":{"ipv4Unicast":"recieved"}; BIRD: `Extended next hop /
    # IPv6 nexthop: ipv4` under Local capabilities only
    [frr] = parse_frr_neighbors(raw("enh_frr_without_frr_neighbors.txt"))
    assert frr.local is not None and frr.remote is not None
    assert (frr.local.extended_nexthop, frr.remote.extended_nexthop) == ([], ["ipv4-unicast"])
    [bird] = parse_bird_protocols(raw("enh_frr_without_bird_protocols_all.txt"))
    assert bird.local is not None and bird.remote is not None
    assert (bird.local.extended_nexthop, bird.remote.extended_nexthop) == (["ipv4-unicast"], [])
    [frr_with] = parse_frr_neighbors(raw("enh_frr_with_frr_neighbors.txt"))
    assert frr_with.local is not None and frr_with.local.extended_nexthop == ["ipv4-unicast"]


def test_extended_next_hop_announced_by_one_end_of_an_ipv6_session_is_an_afi_capability_mismatch() -> None:
    report = _enh("frr_without")
    [found] = [d for d in report.diagnoses if d.root_cause == "afi-capability-mismatch"]
    assert found.hosts == ["frr1"]
    assert found.summary == (
        "bird1 announces the extended next hop capability (RFC 8950) for ipv4-unicast on this IPv6 "
        "session and frr1 does not: ipv4-unicast routes with an IPv6 next hop cannot cross it (BIRD "
        "withholds or refuses them; a peer without IPv4 addresses on the link has no other next hop to give)."
    )
    assert _statuses(report, "bgp-families-negotiated") == {"frr1<->bird1/ipv6": "fail"}
    frr_fix = next(f.text for f in found.fixes if f.platform == "frr")
    assert "neighbor fd00:213:173::2 capability extended-nexthop" in frr_fix
    assert "router bgp 65001" in frr_fix


def test_extended_next_hop_on_both_ends_passes_and_an_unreadable_end_decides_nothing() -> None:
    report = _enh("frr_with")
    assert "afi-capability-mismatch" not in [d.root_cause for d in report.diagnoses]
    assert _statuses(report, "bgp-families-negotiated") == {"frr1<->bird1/ipv6": "pass"}
    failed = CommandResult("vtysh -c 'show bgp neighbors json'", 1, b"", "vtysh: permission denied")
    report = _enh("frr_without", frr_file=failed)
    assert "afi-capability-mismatch" not in [d.root_cause for d in report.diagnoses]
    assert _statuses(report, "bgp-families-negotiated") == {"frr1<->bird1/ipv6": "unknown"}


# -- graceful restart off on both ends while restarts must keep routes (cilium#24256) --------------


def _groff(intent: bool | None, frr_file: str | CommandResult = "groff_both_frr_neighbors.txt") -> Report:
    """Real FRR 8.4 (`bgp graceful-restart-disable`) and BIRD 2 (`graceful restart off`); bird1 is
    the node whose speaker restarts, `intent` its peer's graceful_restart in the inventory."""
    node_peer: dict[str, Any] = {"host": "frr1", "address": "10.213.175.1", "asn": 65001, "name": "frr1"}
    if intent is not None:
        node_peer["graceful_restart"] = intent
    return _report(
        {
            "frr1": _host("frr", 65001, [{"host": "bird1", "address": "10.213.175.2", "asn": 65002}]),
            "bird1": _host("bird2", 65002, [node_peer], "node"),
        },
        {
            "frr1": {"frr.neighbors": frr_file},
            "bird1": {
                "bird.protocols": "groff_both_bird_protocols_all.txt",
                "bird.status": "groff_both_bird_status.txt",
            },
        },
    )


def test_graceful_restart_off_on_both_ends_is_named_when_restarts_must_keep_routes() -> None:
    report = _groff(True)
    [found] = [d for d in report.diagnoses if d.root_cause == "graceful-restart-misbehaviour"]
    assert found.hosts == ["bird1"]
    assert found.summary.startswith(
        "the inventory says restarts of bird1's speaker keep its routes at frr1 (graceful_restart: true), "
        "but neither end sends the graceful-restart capability: every restart of bird1 (an agent restart, "
        "an upgrade) withdraws its routes until the session is back"
    )
    assert "graceful restart on;" in next(f.text for f in found.fixes if f.platform == "bird2")
    assert "enabled: true" in next(f.text for f in found.fixes if f.platform == "cilium")
    assert [r.status for r in report.results if r.check == "bgp-graceful-restart-consistent"] == ["fail"]


def test_graceful_restart_off_on_both_ends_without_the_expectation_is_a_choice() -> None:
    for intent in (None, False):
        report = _groff(intent)
        assert not ours(report)
        assert [r.status for r in report.results if r.check == "bgp-graceful-restart-consistent"] == ["pass"]


def test_a_helper_only_end_that_must_keep_its_routes_is_named_and_restart_mode_passes() -> None:
    # healthy_*: FRR helper, BIRD 2 default `Graceful restart` (aware): nobody is in restart mode
    bird_peer = {**BIRD_PEERS[0], "graceful_restart": True}
    hosts = {"frr1": _host("frr", 65201, FRR_PEERS), "bird1": _host("bird2", 65202, [bird_peer], "node")}
    report = _report(
        hosts,
        {
            "frr1": {"frr.neighbors": "healthy_frr_neighbors.txt"},
            "bird1": {"bird.protocols": "healthy_bird_protocols_all.txt"},
        },
    )
    [found] = ours(report)
    assert "but bird1 announces graceful restart as a helper only, not in restart mode" in found.summary
    # gr_both_*: BIRD 2 `graceful restart on` (restart mode) and FRR in restart mode: kept
    report = _report(
        hosts,
        {
            "frr1": {"frr.neighbors": "gr_both_frr_neighbors.txt"},
            "bird1": {"bird.protocols": "gr_both_bird_protocols_all.txt"},
        },
    )
    assert not ours(report)


def test_an_unreadable_end_leaves_the_restart_expectation_unknown() -> None:
    failed = CommandResult("vtysh -c 'show bgp neighbors json'", 1, b"", "vtysh: connection refused")
    report = _groff(True, frr_file=failed)
    assert not ours(report)
    assert [r.status for r in report.results if r.check == "bgp-graceful-restart-consistent"] == ["unknown"]


# -- a 4-byte AS_PATH sent to a peer without the 4-byte AS capability (metallb#497) ----------------


def _as4_rejected(log: str | CommandResult | None) -> Report:
    """Real BIRD 2 (`enable as4 off`, protocol metallb1) and a speaker outside the inventory that
    sent a 4-byte AS_PATH without the capability; `log` the speaker-log output (None: not collected)."""
    peer = {"address": "10.213.176.1", "asn": 65001, "name": "metallb1"}
    outputs: dict[str, str | CommandResult] = {"bird.protocols": "as4_rejected_bird_protocols_all.txt"}
    if log is not None:
        outputs["speaker.log"] = (
            log
            if isinstance(log, CommandResult)
            else CommandResult("grep ...", 0, (OUTPUTS / log).read_bytes())
        )
    return _report({"bird1": _host("bird2", 65002, [peer])}, {"bird1": outputs})


def test_a_malformed_as_path_logged_on_a_session_without_as4_is_the_cause() -> None:
    report = _as4_rejected("as4_rejected_speaker_log.txt")
    [found] = [d for d in report.diagnoses if d.root_cause == "afi-capability-mismatch"]
    assert found.summary == (
        "bird1 does not send the 4-byte AS capability, so the session runs without it while a 4-byte AS is "
        "in use or an AS_PATH was rejected (NOTIFICATION 3/11; bird1 logged `2026-12-06 08:50:51.175 <RMT> "
        "metallb1: Malformed AS_PATH attribute - segment framing error (4) at 6`): AS numbers above 65535 "
        "reach it only as AS_TRANS 23456."
    )
    assert "enable as4 on;" in next(f.text for f in found.fixes if f.platform == "bird2")
    assert {r.check: r.status for r in report.results if r.check in CHECKS}[
        "bgp-families-negotiated"
    ] == "fail"


def test_as4_off_without_a_rejection_stays_a_warning_and_a_missing_log_concludes_nothing() -> None:
    quiet = CommandResult("grep ...", 0, b"")
    other = CommandResult("grep ...", 0, b"2026-12-06 08:50:51 <RMT> other9: Malformed AS_PATH attribute\n")
    for log in (None, quiet, other, CommandResult("grep ...", 1, b"", "permission denied")):
        report = _as4_rejected(log)
        assert "afi-capability-mismatch" not in [d.root_cause for d in report.diagnoses]
        found = {r.check: r.status for r in report.results if r.check in CHECKS}
        assert (found["bgp-families-negotiated"], found["bgp-as4-negotiated"]) == ("pass", "warn")
