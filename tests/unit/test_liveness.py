"""Liveness, GTSM and recursive peer routes, diagnosed from real BIRD 2.0.12 and FRR 8.4 outputs.

The outputs (captures/outputs/liveness, README there) come from frr1 (AS 65001, 10.213.61.1) peering
with bird1 (AS 65002, 10.213.61.2) in two namespaces: BFD at one end, then both; an nftables rule in
bird1's namespace dropping its segments to frr1 with hold times of 240 s; BIRD `ttl security on`,
then FRR `neighbor ... ttl-security hops 1`; FRR announcing 10.213.61.1/32 with next hop 10.213.62.9,
which BIRD installs in the kernel. Expected values below were read by hand from those files.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgpdoctor.drivers import driver_for
from bgpdoctor.engine.active import ActiveResults
from bgpdoctor.engine.collect import NETSTAT_COMMAND, SS_TCP_INFO_COMMAND, fact_commands
from bgpdoctor.engine.run import Collected, RunOptions, evaluate
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.parsers import ParseError
from bgpdoctor.parsers.liveness import (
    BfdSession,
    BirdBfd,
    parse_bird_bfd,
    parse_frr_liveness,
    parse_tcp_info,
)
from bgpdoctor.report.model import CheckResult, Diagnosis, Report
from bgpdoctor.transport.base import CommandResult

OUTPUTS = Path(__file__).resolve().parents[2] / "captures" / "outputs" / "liveness"
TAKEN = datetime(2026, 12, 6, 5, 20, tzinfo=UTC)
FRR_IP, BIRD_IP = "10.213.61.1", "10.213.61.2"

FRR1: dict[str, Any] = {
    "role": "router",
    "speaker": "frr",
    "asn": 65001,
    "addresses": [FRR_IP],
    "peers": [{"host": "bird1", "address": BIRD_IP, "asn": 65002}],
}
BIRD1: dict[str, Any] = {
    "role": "router",
    "speaker": "bird2",
    "asn": 65002,
    "addresses": [BIRD_IP],
    "peers": [{"host": "frr1", "address": FRR_IP, "asn": 65001, "name": "frr1"}],
}


def _report(outputs: dict[str, dict[str, str]], hosts: dict[str, dict[str, Any]] | None = None) -> Report:
    """A run over frr1 and bird1 whose commands answered with `outputs` (host -> fact -> file of
    OUTPUTS, or `fail:STDERR` for a command that failed)."""
    hosts = hosts or {"frr1": FRR1, "bird1": BIRD1}
    inv = Inventory.model_validate(
        {"hosts": {n: {**h, "connect": {"netns": "bdv"}} for n, h in hosts.items()}}
    )
    facts = {}
    for name, files in outputs.items():
        commands = fact_commands(inv.hosts[name])
        results = {
            fact: CommandResult(commands[fact], 1, b"", file[5:])
            if file.startswith("fail:")
            else CommandResult(commands[fact], 0, (OUTPUTS / file).read_bytes())
            for fact, file in files.items()
        }
        from bgpdoctor.engine.collect import HostFacts

        facts[name] = HostFacts(name, inv.hosts[name], outputs=results, contacted=True)
    collected = Collected(
        scope=list(outputs), facts=facts, active=ActiveResults(), started=TAKEN, wall_seconds=1
    )
    return evaluate(inv, "inventory.yaml", collected, RunOptions(nodes=[]))


def _status(report: Report, check: str) -> dict[str, str]:
    return {r.host: r.status for r in report.results if r.check == check}


def _check(report: Report, check: str) -> CheckResult:
    [result] = [r for r in report.results if r.check == check]
    return result


def _diagnosis(report: Report, cause: str) -> Diagnosis:
    found = [d for d in report.diagnoses if d.root_cause == cause]
    assert found, [(d.root_cause, d.summary) for d in report.diagnoses]
    return found[0]


def _fix(diagnosis: Diagnosis, platform: str) -> str:
    return next(f.text for f in diagnosis.fixes if f.platform == platform)


HEALTHY = {
    "frr1": {
        "frr.neighbors": "frr_healthy_neighbors.json",
        "ss.bgp_tcp": "frr_healthy_ss_ti.txt",
        "netstat": "frr_healthy_netstat.txt",
    },
    "bird1": {
        "bird.protocols": "bird2_healthy_show_protocols_all.txt",
        "bird.bfd": "bird2_healthy_show_bfd_sessions.txt",
        "bird.bgp_routes": "bird2_healthy_show_route_all.txt",
        "ip.route": "bird_healthy_ip_route.json",
        "ss.bgp_tcp": "bird_healthy_ss_ti.txt",
        "netstat": "bird_healthy_netstat.txt",
    },
}


FACTS = {
    "bird_bfd": "bird.bfd",
    "bird_protocols": "bird.protocols",
    "bird_bgp_routes": "bird.bgp_routes",
    "ss_bgp_tcp": "ss.bgp_tcp",
    "ip_route": "ip.route",
    "netstat": "netstat",
}


def _with(host: str, **files: str) -> dict[str, dict[str, str]]:
    """HEALTHY with some of one host's outputs replaced (keys of FACTS)."""
    out = {h: dict(f) for h, f in HEALTHY.items()}
    out[host].update({FACTS[key]: file for key, file in files.items()})
    return out


# -- the fixtures, read by hand -----------------------------------------------------------------


def test_the_fixtures_say_what_the_cases_rest_on() -> None:
    one_sided = (OUTPUTS / "bird2_bfd_on_frr_without_show_bfd_sessions.txt").read_text()
    assert "10.213.61.1               eth0       Down" in one_sided
    assert "There is no BFD protocol running" in (OUTPUTS / "bird2_no_bfd_show_bfd_sessions.txt").read_text()
    assert '"status":"Down"' in (OUTPUTS / "frr_bfd_bird_without_neighbors.json").read_text().replace(" ", "")
    assert "peerBfdInfo" not in (OUTPUTS / "frr_without_bfd_bird_bfd_on_neighbors.json").read_text()
    assert "backoff:5" in (OUTPUTS / "frr_stale_ss_ti.txt").read_text()
    assert '"bgpState":"Established"' in (OUTPUTS / "frr_stale_neighbors.json").read_text().replace(" ", "")
    assert " 40 " in _tcp_ext_line(OUTPUTS / "bird_ttl_security_netstat.txt")
    assert (
        "10.213.61.1/32       unicast [frr1" in (OUTPUTS / "bird2_recursive_show_route_all.txt").read_text()
    )


def _tcp_ext_line(path: Path) -> str:
    lines = [ln for ln in path.read_text().splitlines() if ln.startswith("TcpExt:")]
    names, values = lines[0].split(), lines[1].split()
    return f" {values[names.index('TCPMinTTLDrop')]} "


# -- parsers ----------------------------------------------------------------------------------------


def test_bird_bfd_sessions_are_read() -> None:
    assert parse_bird_bfd(
        (OUTPUTS / "bird2_bfd_on_frr_without_show_bfd_sessions.txt").read_text()
    ) == BirdBfd(True, [BfdSession("10.213.61.1", "eth0", "down")])
    assert parse_bird_bfd((OUTPUTS / "bird2_bfd_up_show_bfd_sessions.txt").read_text()).sessions == [
        BfdSession("10.213.61.1", "eth0", "up")
    ]
    assert parse_bird_bfd((OUTPUTS / "bird2_no_bfd_show_bfd_sessions.txt").read_text()) == BirdBfd(False)


def test_bird16_bfd_sessions_are_read_the_same() -> None:
    text = (OUTPUTS / "bird16_bfd_on_show_bfd_sessions.txt").read_text()
    assert parse_bird_bfd(text) == BirdBfd(True, [BfdSession("10.213.63.1", "eth0", "down")])


def test_a_multihop_bfd_session_has_no_interface() -> None:
    text = (
        "bfd1:\nIP address  Interface  State  Since  Interval  Timeout\n"
        "192.0.2.9  ---  Init  10:00:00  1.000  0.000\n"
    )
    assert parse_bird_bfd(text).sessions == [BfdSession("192.0.2.9", None, "init")]


@pytest.mark.parametrize("text", ["bfd1:\nnot-an-address eth0 Up\n", "bfd1:\n10.0.0.1 eth0 Sideways 1 2 3\n"])
def test_a_bfd_line_that_is_not_birds_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_bird_bfd(text)


def test_tcp_info_gives_the_retransmission_state() -> None:
    [frr] = parse_tcp_info((OUTPUTS / "frr_stale_ss_ti.txt").read_text())
    assert (frr.state, frr.local, frr.local_port, frr.peer, frr.peer_port) == (
        "ESTAB", "10.213.61.1", 179, "10.213.61.2", 50035,
    )  # fmt: skip
    assert (frr.backoff, frr.unacked, frr.retrans, frr.retrans_total, frr.last_ack_ms) == (5, 1, 1, 6, 11500)
    [healthy] = parse_tcp_info((OUTPUTS / "bird_healthy_ss_ti.txt").read_text())
    assert (healthy.backoff, healthy.unacked, healthy.retrans) == (0, 0, 0)
    # the smoothed round trip, not bbr's mrtt nor minrtt on the same line
    assert (frr.rtt_ms, healthy.rtt_ms) == (4.545, 2.186)


def test_frr_liveness_fields_are_read() -> None:
    [entry] = parse_frr_liveness((OUTPUTS / "frr_bfd_bird_without_neighbors.json").read_text()).values()
    assert (entry.address, entry.bfd_state, entry.established, entry.dropped) == (BIRD_IP, "down", 1, 0)
    [plain] = parse_frr_liveness((OUTPUTS / "frr_healthy_neighbors.json").read_text()).values()
    assert plain.bfd_state is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("bfd1:IPaddres 0123456789.\n\t-ethUpDownInit%")), max_size=200))
def test_liveness_parsers_raise_only_parse_error(text: str) -> None:
    for parser in (parse_bird_bfd, parse_tcp_info, parse_frr_liveness):
        with contextlib.suppress(ParseError):
            parser(text)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.ip_addresses(v=4).map(str),
            st.sampled_from(["eth0", "ens3", "---"]),
            st.sampled_from(["Up", "Down", "Init", "adminDown"]),
        ),
        max_size=5,
    )
)
def test_bird_bfd_lines_round_trip(sessions: list[tuple[str, str, str]]) -> None:
    lines = [
        "BIRD 2.0.12 ready.",
        "bfd1:",
        "IP address                Interface  State      Since         Interval  Timeout",
    ]
    lines += [f"{a:<25} {i:<10} {s:<10} 05:13:36.125    1.000    0.000" for a, i, s in sessions]
    parsed = parse_bird_bfd("\n".join(lines) + "\n")
    assert parsed.running
    assert [(b.address, b.interface or "---", b.state) for b in parsed.sessions] == [
        (a, i, {"Up": "up", "Down": "down", "Init": "init", "adminDown": "admin-down"}[s])
        for a, i, s in sessions
    ]


# -- the collected commands -------------------------------------------------------------------------


def test_bfd_and_tcp_info_are_collected_read_only() -> None:
    inv = Inventory.model_validate({"hosts": {"bird1": {**BIRD1, "connect": {"netns": "bdv"}}}})
    commands = fact_commands(inv.hosts["bird1"])
    assert commands["bird.bfd"] == "birdc -r show bfd sessions"
    # root reads it without CAP_NET_ADMIN, so ss has no TCP MD5 key to print (test_ss_md5_keys.py)
    assert commands["ss.bgp_tcp"] == SS_TCP_INFO_COMMAND
    assert "setpriv --bounding-set=-net_admin ss -Htni" in SS_TCP_INFO_COMMAND
    assert commands["netstat"] == NETSTAT_COMMAND
    assert driver_for("bird1") is not None and "bird.bfd" in driver_for("bird1").commands(inv.hosts["bird1"])  # type: ignore[union-attr]


# -- healthy --------------------------------------------------------------------------------------------


def test_healthy_pair_passes_every_liveness_check() -> None:
    report = _report(HEALTHY)
    assert report.diagnoses == [], [(d.root_cause, d.summary) for d in report.diagnoses]
    for check in (
        "bgp-bfd-both-ends",
        "bgp-tcp-alive",
        "bgp-session-stable",
        "bgp-ttl-security-matched",
        "bgp-peer-not-via-itself",
    ):
        assert set(_status(report, check).values()) == {"pass"}, (check, _status(report, check))
    assert _check(report, "bgp-bfd-both-ends").reason == "no end runs BFD"


def test_bfd_up_at_both_ends_passes() -> None:
    report = _report(
        _with(
            "bird1",
            bird_bfd="bird2_bfd_up_show_bfd_sessions.txt",
            bird_protocols="bird2_bfd_up_show_protocols_all.txt",
        )
        | {"frr1": {**HEALTHY["frr1"], "frr.neighbors": "frr_bfd_up_neighbors.json"}}
    )
    assert report.diagnoses == []
    assert _check(report, "bgp-bfd-both-ends").reason == "BFD at both ends (frr1: up, bird1: up)"


# -- session-liveness -------------------------------------------------------------------------------


def test_bird_bfd_without_frr_bfd_names_bird_and_fixes_frr() -> None:
    report = _report(
        _with(
            "bird1",
            bird_bfd="bird2_bfd_on_frr_without_show_bfd_sessions.txt",
            bird_protocols="bird2_bfd_on_show_protocols_all.txt",
        )
        | {"frr1": {**HEALTHY["frr1"], "frr.neighbors": "frr_without_bfd_bird_bfd_on_neighbors.json"}}
    )
    top = report.diagnoses[0]
    assert (top.root_cause, top.hosts) == ("session-liveness", ["bird1"])
    assert top.summary.startswith(
        "bird1 expects BFD (BIRD 2 runs a BFD session to 10.213.61.1 (`bfd on`), state down) "
        "but FRR has no `neighbor 10.213.61.2 bfd`."
    )
    assert _fix(top, "frr").splitlines() == ["router bgp 65001", " neighbor 10.213.61.2 bfd", "exit"]
    assert _status(report, "bgp-bfd-both-ends") == {"frr1<->bird1": "fail"}


def test_frr_bfd_without_bird_bfd_fixes_bird() -> None:
    report = _report(
        _with(
            "bird1",
            bird_bfd="bird2_no_bfd_show_bfd_sessions.txt",
            bird_protocols="bird2_frr_bfd_show_protocols_all.txt",
        )
        | {"frr1": {**HEALTHY["frr1"], "frr.neighbors": "frr_bfd_bird_without_neighbors.json"}}
    )
    top = _diagnosis(report, "session-liveness")
    assert top.hosts == ["frr1"]
    assert (
        "frr1 expects BFD (FRR has `neighbor 10.213.61.2 bfd`, BFD state down) but BIRD 2 runs no BFD"
        in top.summary
    )
    assert "bfd on;" in _fix(top, "bird2")


def test_bfd_towards_gobgp_is_turned_off_where_it_is_configured() -> None:
    gobgp = {"role": "router", "speaker": "gobgp", "asn": 65001, "addresses": [FRR_IP],
             "peers": [{"host": "bird1", "address": BIRD_IP, "asn": 65002}]}  # fmt: skip
    outputs = _with(
        "bird1",
        bird_bfd="bird2_bfd_on_frr_without_show_bfd_sessions.txt",
        bird_protocols="bird2_bfd_on_show_protocols_all.txt",
    )
    outputs["gobgp1"] = {}
    del outputs["frr1"]
    bird = {**BIRD1, "peers": [{"host": "gobgp1", "address": FRR_IP, "asn": 65001, "name": "frr1"}]}
    report = _report(outputs, {"gobgp1": gobgp, "bird1": bird})
    result = [r for r in report.results if r.check == "bgp-bfd-both-ends"]
    assert [r.status for r in result] == ["fail"]
    assert result[0].reason.endswith("but GoBGP has no BFD")
    top = _diagnosis(report, "session-liveness")
    assert "bfd off;" in _fix(top, "bird2")


def test_bfd_unreadable_is_unknown_not_pass() -> None:
    report = _report(_with("bird1", bird_bfd="fail:birdc: command not found"))
    result = _check(report, "bgp-bfd-both-ends")
    assert result.status not in ("pass", "fail"), result


def test_stale_connection_under_an_established_session_is_named() -> None:
    report = _report(
        _with("bird1", bird_protocols="bird2_stale_show_protocols_all.txt", ss_bgp_tcp="bird_stale_ss_ti.txt")
        | {
            "frr1": {
                **HEALTHY["frr1"],
                "frr.neighbors": "frr_stale_neighbors.json",
                "ss.bgp_tcp": "frr_stale_ss_ti.txt",
            }
        }
    )
    top = report.diagnoses[0]
    assert top.root_cause == "session-liveness"
    assert top.hosts == ["frr1"]
    assert top.summary.startswith(
        "frr1's TCP connection 10.213.61.1:179 -> 10.213.61.2:50035 gets no answer (5 retransmission "
        "timeouts in a row, 1 segment(s) unacknowledged, last ACK 11.5 s ago) while FRR still shows "
        "the session Established; the hold time of 240 s ends it only then."
    )
    assert _status(report, "bgp-tcp-alive") == {"frr1<->bird1": "fail"}


def test_tcp_info_that_cannot_be_read_is_unknown() -> None:
    report = _report(
        _with("frr1", ss_bgp_tcp="fail:ss: command not found")
        | {"bird1": {**HEALTHY["bird1"], "ss.bgp_tcp": "fail:ss: command not found"}}
    )
    assert _check(report, "bgp-tcp-alive").status not in ("pass", "fail")


# -- ttl-security-gtsm ---------------------------------------------------------------------------------


def test_bird_ttl_security_against_frr_at_ttl_1_is_named() -> None:
    report = _report(
        _with(
            "bird1",
            bird_protocols="bird2_ttl_security_show_protocols_all.txt",
            netstat="bird_ttl_security_netstat.txt",
        )
        | {
            "frr1": {
                **HEALTHY["frr1"],
                "frr.neighbors": "frr_peer_of_bird_ttl_neighbors.json",
                "netstat": "frr_peer_of_bird_ttl_netstat.txt",
            }
        }
    )
    top = report.diagnoses[0]
    assert (top.root_cause, top.hosts) == ("ttl-security-gtsm", ["bird1"])
    assert top.summary.startswith(
        "the kernel of bird1 dropped 40 TCP segment(s) below the minimum TTL its BGP socket requires "
        "(GTSM, TTL 255): frr1 sends a lower TTL."
    )
    assert _fix(top, "frr").splitlines() == [
        "router bgp 65001",
        " neighbor 10.213.61.2 ttl-security hops 1",
        "exit",
    ]


def test_frr_ttl_security_against_bird_at_ttl_1_is_named() -> None:
    report = _report(
        _with(
            "bird1",
            bird_protocols="bird2_peer_of_frr_ttl_show_protocols_all.txt",
            netstat="bird_peer_of_frr_ttl_netstat.txt",
        )
        | {
            "frr1": {
                **HEALTHY["frr1"],
                "frr.neighbors": "frr_ttl_security_neighbors.json",
                "netstat": "frr_ttl_security_netstat.txt",
            }
        }
    )
    top = report.diagnoses[0]
    assert (top.root_cause, top.hosts) == ("ttl-security-gtsm", ["frr1"])
    assert "ttl security on;" in _fix(top, "bird2")


# -- recursive-peer-route ----------------------------------------------------------------------------


def test_peer_reached_through_a_route_learned_from_it_is_named() -> None:
    # BIRD `multihop;` follows the kernel's routes: it installed FRR's 10.213.61.1/32 via 10.213.62.9,
    # lost the session (`No route to host`) and keeps the route as stale (graceful restart)
    report = _report(
        _with(
            "bird1",
            bird_protocols="bird2_recursive_multihop_show_protocols_all.txt",
            bird_bgp_routes="bird2_recursive_multihop_show_route_bgp.txt",
            ip_route="bird_recursive_multihop_ip_route.json",
        )
        | {"frr1": {**HEALTHY["frr1"], "frr.neighbors": "frr_recursive_multihop_neighbors.json"}},
        # the session is down, so BIRD does not show `multihop`: the inventory says it
        {"frr1": FRR1, "bird1": {**BIRD1, "peers": [{**BIRD1["peers"][0], "multihop": 2}]}},
    )
    top = report.diagnoses[0]
    assert (top.root_cause, top.hosts) == ("recursive-peer-route", ["frr1"]), [
        d.root_cause for d in report.diagnoses
    ]
    assert top.summary.startswith(
        "bird1 reaches its peer 10.213.61.1 through 10.213.61.1/32, a route it learned over this same "
        "session (10.213.61.1/32 via 10.213.62.9, proto bird)."
    )
    assert "import where net != 10.213.61.1/32;" in _fix(top, "bird2")
    assert _status(report, "bgp-peer-not-via-itself") == {"frr1<->bird1": "fail"}


def test_a_direct_bird_session_does_not_follow_the_learned_route() -> None:
    # the same route on a direct eBGP session: BIRD sends to its neighbor on the interface whatever
    # the table says, and the session stays Established
    report = _report(
        _with(
            "bird1",
            bird_protocols="bird2_recursive_show_protocols_all.txt",
            bird_bgp_routes="bird2_recursive_show_route_all.txt",
            ip_route="bird_recursive_ip_route.json",
        )
        | {"frr1": {**HEALTHY["frr1"], "frr.neighbors": "frr_recursive_neighbors.json"}}
    )
    assert (
        "Session:          external AS4" in (OUTPUTS / "bird2_recursive_show_protocols_all.txt").read_text()
    )
    assert "recursive-peer-route" not in [d.root_cause for d in report.diagnoses]
    assert _status(report, "bgp-peer-not-via-itself") == {"frr1<->bird1": "pass"}


def test_a_learned_route_covering_the_peer_but_not_used_is_fine() -> None:
    # the healthy BIRD holds FRR's connected 10.213.61.0/30, which covers 10.213.61.1; the kernel
    # reaches the peer through its own connected route
    assert "10.213.61.0/30" in (OUTPUTS / "bird2_healthy_show_route_all.txt").read_text()
    report = _report(HEALTHY)
    assert _status(report, "bgp-peer-not-via-itself") == {"frr1<->bird1": "pass"}


def test_birdc_failing_because_no_bfd_runs_means_no_bfd() -> None:
    # birdc exits non-zero with this message when the configuration has no `protocol bfd`
    report = _report(_with("bird1", bird_bfd="fail:There is no BFD protocol running"))
    assert _check(report, "bgp-bfd-both-ends").status == "pass"


# -- unexpected-source-address: a source address BIRD cannot bind (calico#9549) -------------------


def test_bird16_that_cannot_bind_its_source_address_is_named() -> None:
    # BIRD 1.6.8 with `source address 10.213.63.9` (not on the host) towards a passive FRR: its state
    # says only `Socket: Connection closed`, its log says why
    state = (OUTPUTS / "bird16_source_address_missing_show_protocols_all.txt").read_text()
    assert "Active        Socket: Connection closed" in state and "bind" not in state
    node = {
        "role": "node",
        "speaker": "bird1",
        "asn": 65002,
        "addresses": ["10.213.63.2"],
        "peers": [{"address": "10.213.63.1", "asn": 65001, "name": "frr1"}],
    }
    report = _report(
        {
            "node1": {
                "bird.protocols": "bird16_source_address_missing_show_protocols_all.txt",
                "speaker.log": "bird16_source_address_missing_speaker_log.txt",
            }
        },
        {"node1": node},
    )
    top = _diagnosis(report, "unexpected-source-address")
    assert top.hosts == ["node1"]
    assert top.summary.startswith(
        "BIRD 1.6 on node1 cannot bind the source address of its session to 10.213.63.1 "
        "(`2026-12-06 05:26:26 <ERR> frr1: Socket error: bind: Cannot assign requested address`): "
        "that address is on none of node1's interfaces, so no SYN leaves for that session."
    )
    assert _status(report, "bgp-source-address-bindable") == {"node1<->10.213.63.1": "fail"}


def test_a_bind_failure_of_another_protocol_is_not_this_sessions() -> None:
    node = {
        "role": "node",
        "speaker": "bird1",
        "asn": 65002,
        "addresses": ["10.213.63.2"],
        "peers": [{"address": "10.213.63.1", "asn": 65001, "name": "other"}],
    }
    report = _report(
        {
            "node1": {
                "bird.protocols": "bird16_source_address_missing_show_protocols_all.txt",
                "speaker.log": "bird16_source_address_missing_speaker_log.txt",
            }
        },
        {"node1": node},
    )
    assert "unexpected-source-address" not in [d.root_cause for d in report.diagnoses]


def test_frr_counting_recent_resets_is_a_warning_not_a_diagnosis() -> None:
    # FRR of captures/outputs/speaker_state, whose BIRD peer the lab restarted many times
    frr = {**FRR1, "addresses": ["10.213.19.1"], "peers": [{"address": "10.213.19.2", "asn": 65002}]}
    report = _report(
        {"frr1": {"frr.neighbors": "../speaker_state/frr_healthy_neighbors.json"}}, {"frr1": frr}
    )
    result = _check(report, "bgp-session-stable")
    assert result.status == "warn"
    assert result.reason == (
        "FRR on frr1 counts 7 drops of the session to 10.213.19.2 (8 established), the last 14 s ago: "
        "No AFI/SAFI activated for peer"
    )
    assert "session-liveness" not in [d.root_cause for d in report.diagnoses]


def test_a_peer_outside_the_inventory_that_never_answers_bfd() -> None:
    # bird1 alone: its BFD session to 10.213.61.1 is Down while BGP is Established
    bird = {**BIRD1, "peers": [{"address": FRR_IP, "asn": 65001, "name": "frr1"}]}
    outputs = _with(
        "bird1",
        bird_bfd="bird2_bfd_on_frr_without_show_bfd_sessions.txt",
        bird_protocols="bird2_bfd_on_show_protocols_all.txt",
    )
    report = _report({"bird1": outputs["bird1"]}, {"bird1": bird})
    result = _check(report, "bgp-bfd-both-ends")
    assert (result.status, result.reason) == (
        "fail",
        "bird1 expects BFD (BIRD 2 runs a BFD session to 10.213.61.1 (`bfd on`), state down) but "
        "10.213.61.1 never answers BFD (BFD down while BGP is Established)",
    )
    assert "bfd off;" in _fix(_diagnosis(report, "session-liveness"), "bird2")


# -- mesh-vs-rr-transition: Calico's mesh and a reflector BGPPeer to one neighbor (calico#3819) -----


def _calico_node(peer_name: str) -> dict[str, Any]:
    return {
        "role": "node",
        "speaker": "bird1",
        "asn": 64512,
        "addresses": ["10.213.174.1"],
        "peers": [{"address": "10.213.174.2", "asn": 64512, "name": peer_name}],
    }


def test_mesh_and_reflector_protocols_to_one_neighbor_are_the_mesh_to_rr_transition() -> None:
    # real BIRD 1.6.8: Mesh_10_213_174_2 Established, Node_10_213_174_2 `start Idle` with no error
    state = (OUTPUTS / "bird16_mesh_and_rr_show_protocols_all.txt").read_text()
    assert "Node_10_213_174_2 BGP      master   start" in state and "Last error" not in state
    report = _report(
        {"node1": {"bird.protocols": "bird16_mesh_and_rr_show_protocols_all.txt"}},
        {"node1": _calico_node("Mesh_10_213_174_2")},
    )
    top = _diagnosis(report, "mesh-vs-rr-transition")
    assert top.hosts == ["node1"]
    assert top.summary == (
        "BIRD on node1 runs the mesh protocol Mesh_10_213_174_2 and Node_10_213_174_2 to the same neighbor "
        "10.213.174.2 (Mesh_10_213_174_2 Established; Node_10_213_174_2 Idle): only one session per "
        "address pair can be up, so Node_10_213_174_2 waits behind the other, and turning the mesh off "
        "drops the routes of that neighbor until the reflector session comes up (calico#3819)."
    )
    assert _status(report, "bgp-mesh-and-reflector-apart") == {"node1<->10.213.174.2": "fail"}
    assert "nodeToNodeMeshEnabled: false" in _fix(top, "calico")


def test_a_mesh_protocol_alone_is_clean_and_unread_protocols_judge_nothing() -> None:
    alone = _report(
        {"node1": {"bird.protocols": "bird16_source_address_missing_show_protocols_all.txt"}},
        {
            "node1": {
                **_calico_node("frr1"),
                "peers": [{"address": "10.213.63.1", "asn": 65001, "name": "frr1"}],
            }
        },
    )
    assert _status(alone, "bgp-mesh-and-reflector-apart") == {"node1<->10.213.63.1": "pass"}
    unread = _report(
        {"node1": {"bird.protocols": "fail:birdcl: unable to connect to server control socket"}},
        {"node1": _calico_node("Mesh_10_213_174_2")},
    )
    assert "mesh-vs-rr-transition" not in [d.root_cause for d in unread.diagnoses]
    assert _status(unread, "bgp-mesh-and-reflector-apart") == {"node1<->10.213.174.2": "unknown"}


# -- session-liveness: resets caused by configuration reloads (metallb PR#2454) ---------------------


def _reloaded(log: str | None) -> Report:
    frr = {**FRR1, "addresses": ["10.213.175.1"], "peers": [{"address": "10.213.175.2", "asn": 65002}]}
    outputs = {"frr.neighbors": "frr_bfd_reload_neighbors.json"}
    if log is not None:
        outputs["speaker.log"] = log
    return _report({"frr1": outputs}, {"frr1": frr})


def test_resets_that_follow_logged_neighbor_removals_are_named_as_config_reloads() -> None:
    report = _reloaded("frr_bfd_reload_speaker_log.txt")
    top = _diagnosis(report, "session-liveness")
    assert top.hosts == ["frr1"]
    assert top.summary == (
        "FRR on frr1 counts 3 drops of the session to 10.213.175.2 (4 established), the last 3 s ago: BGP "
        "Notification received; FRR's log shows its configuration removing settings of that neighbor "
        "(3 time(s), the last `no neighbor 10.213.175.2 bfd`): a configuration reload that removes and "
        "re-adds them resets the session each time. Each reset withdraws the peer's routes until the "
        "session is back."
    )
    assert _status(report, "bgp-resets-not-from-config") == {"frr1<->10.213.175.2": "fail"}
    assert _check(report, "bgp-session-stable").status == "warn"
    assert "neighbor 10.213.175.2 bfd" in _fix(top, "frr")


def test_resets_without_logged_removals_stay_a_warning_and_an_unread_log_is_unknown() -> None:
    report = _reloaded("../rfc8212/frr84_ibgp_speaker_log.txt")  # bgpd's log with nothing matching
    assert "session-liveness" not in [d.root_cause for d in report.diagnoses]
    assert _status(report, "bgp-resets-not-from-config") == {"frr1<->10.213.175.2": "pass"}
    assert _check(report, "bgp-session-stable").status == "warn"
    unread = _reloaded("fail:journalctl: permission denied")
    assert "session-liveness" not in [d.root_cause for d in unread.diagnoses]
    assert _status(unread, "bgp-resets-not-from-config") == {"frr1<->10.213.175.2": "unknown"}
