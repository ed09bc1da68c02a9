"""The skb:kfree_skb parsers and the drop-trace probe's pure parts, on outputs captured on Linux 6.18
(tests/fixtures/droptrace/: an rp_filter drop of 2 pings and 1 SYN to port 179, seen by bpftrace,
perf and a tracefs instance in namespace bdk-b, netns inode 4026533079)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgpdoctor.parsers import ParseError
from bgpdoctor.parsers.droptrace import (
    DropEvent,
    parse_bpftrace_drops,
    parse_drop_reasons,
    parse_trace_drops,
)
from bgpdoctor.probes import droptrace as dt

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "droptrace"
NETNS_B = 4026533079


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


REASONS = parse_drop_reasons(fixture("kfree_skb-format-linux-6.18.txt"))


def test_reason_names_come_from_the_kernels_format_file() -> None:
    # hand-read from the format file: { 2, "NOT_SPECIFIED" } ... { 130, "MAX" }
    assert REASONS[2] == "NOT_SPECIFIED"
    assert REASONS[16] == "IP_RPFILTER"
    assert REASONS[12] == "NETFILTER_DROP"
    assert (REASONS[22], REASONS[23], REASONS[24]) == (
        "TCP_MD5NOTFOUND",
        "TCP_MD5UNEXPECTED",
        "TCP_MD5FAILURE",
    )
    assert (REASONS[58], REASONS[93], REASONS[97]) == ("NEIGH_FAILED", "PKT_TOO_BIG", "TCP_MINTTL")
    assert sorted(REASONS) == list(range(2, 131))


def test_a_kernel_without_drop_reasons_has_none() -> None:
    old = fixture("kfree_skb-format-linux-6.18.txt").replace(
        "\tfield:enum skb_drop_reason reason;\toffset:36;\tsize:4;\tsigned:0;\n", ""
    )
    old = old.split("print fmt:")[0] + 'print fmt: "skbaddr=%p protocol=%u location=%p"\n'
    assert parse_drop_reasons(old) == {}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "name: consume_skb\nformat:\n",
        'name: kfree_skb\nformat:\n\tfield:enum skb_drop_reason reason;\n print fmt: "x"\n',
    ],
)
def test_a_format_that_is_not_kfree_skb_with_names_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_drop_reasons(text)


def test_bpftrace_output_gives_netns_reason_place_and_packet() -> None:
    log = parse_bpftrace_drops(fixture("stop-bpftrace-linux-6.18.txt").split(dt.STDERR_MARK)[0], "b", REASONS)
    assert log.events == [
        DropEvent(
            *("b", NETNS_B, "IP_RPFILTER", "ip_rcv_finish_core", 2, 2048, 1, "10.213.9.1", None),
            dst="10.213.0.2",
            icmp_type=8,  # echo request
        ),
        DropEvent(
            "b",
            NETNS_B,
            "IP_RPFILTER",
            "ip_rcv_finish_core",
            1,
            2048,
            6,
            "10.213.9.1",
            60143,
            "10.213.0.2",
            179,
        ),
    ]
    assert not log.limited


def test_bpftrace_limit_line_marks_the_trace_cut_short() -> None:
    line = "drop netns=1 reason=999 location=tcp_v4_rcv proto=6 src=1.2.3.4 sport=1 dst=5.6.7.8 dport=179"
    text = f"READY\n{line}\nLIMIT\n"
    log = parse_bpftrace_drops(text, "r", REASONS)
    assert log.limited
    assert log.events[0].reason == "REASON_999"  # a number this kernel's format does not name


@pytest.mark.parametrize("name", ["stop-perf-linux-6.18.txt", "stop-tracefs-linux-6.18.txt"])
def test_perf_and_tracefs_give_reason_and_place_without_packet(name: str) -> None:
    log = parse_trace_drops(fixture(name).split(dt.STDERR_MARK)[0], "b")
    assert log.events == [DropEvent("b", None, "IP_RPFILTER", "ip_rcv_finish_core", 3, 2048)]


def test_lost_events_are_counted() -> None:
    log = parse_trace_drops("CPU:1 [LOST 17 EVENTS]\n", "r")
    assert (log.lost, log.limited, log.events) == (17, True, [])
    # tracefs's ring buffer overwrote 14076 of 20000 events (seen under a 20000-packet flood)
    log = parse_trace_drops("# entries-in-buffer/entries-written: 5924/20000   #P:2\n", "r")
    assert (log.lost, log.limited) == (14076, True)
    tracefs = fixture("stop-tracefs-linux-6.18.txt").split(dt.STDERR_MARK)[0]
    assert not parse_trace_drops(tracefs, "r").limited  # 3/3
    log = parse_bpftrace_drops("READY\nLost 6927 events\n", "r", REASONS)
    assert (log.lost, log.limited) == (6927, True)


@pytest.mark.parametrize(
    "line",
    [
        "drop netns=1 reason=16 location=x proto=6 src=10.0.0.300 sport=1 dst=10.0.0.1 dport=2",
        "drop netns=1 reason=16 location=x proto=6 src=10.0.0.3 dst=10.0.0.1 dport=2",
        "drop netns=1 reason=sixteen location=x proto=6 src=10.0.0.3 sport=1 dst=10.0.0.1 dport=2",
        "drop netns=1 reason=16 location=a;b proto=6 src=10.0.0.3 sport=1 dst=10.0.0.1 dport=2",
        "Error: something else",
    ],
)
def test_malformed_bpftrace_lines_are_parse_errors(line: str) -> None:
    with pytest.raises(ParseError):
        parse_bpftrace_drops(line, "r", REASONS)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_is_a_parse_error(text: str) -> None:
    for parse in (
        lambda: parse_bpftrace_drops(text, "r", REASONS),
        lambda: parse_trace_drops(text, "r"),
        lambda: parse_drop_reasons(text),
        lambda: dt.parse_capabilities(text),
        lambda: dt.parse_start(text),
    ):
        with contextlib.suppress(ParseError):
            parse()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(sorted(REASONS)), min_size=1, max_size=30))
def test_counts_add_up_to_the_lines(numbers: list[int]) -> None:
    text = "".join(
        f"drop netns=7 reason={n} location=f proto=1 src=10.0.0.1 sport=0 dst=10.0.0.2 dport=0\n"
        for n in numbers
    )
    log = parse_bpftrace_drops(text, "r", REASONS)
    assert sum(e.count for e in log.events) == len(numbers)
    assert {e.reason for e in log.events} == {REASONS[n] for n in numbers}


# the probe's pure parts


def caps(**change: object) -> dt.Capabilities:
    real = dt.parse_capabilities(fixture("capabilities-netns-linux-6.18.txt"))
    return dt.Capabilities(**{**real.__dict__, **change})  # type: ignore[arg-type]


def test_capabilities_of_a_lab_namespace() -> None:
    real = caps()
    assert (real.uid, real.netns, real.little_endian) == (0, NETNS_B, True)
    assert real.bpftrace == "/usr/bin/bpftrace" and real.tracefs == "/sys/kernel/tracing"
    assert real.reasons == REASONS


@pytest.mark.parametrize(
    ("change", "shared", "method", "kind"),
    [
        ({}, True, "bpftrace", ""),
        ({"bpftrace": ""}, False, "perf", ""),
        ({"bpftrace": "", "perf": ""}, False, "tracefs", ""),
        ({"bpftrace": ""}, True, None, "not-collected"),  # no attribution on a shared kernel
        ({"uid": 1000}, False, None, "permission-denied"),
        ({"tracefs": ""}, False, None, "not-collected"),
        ({"reasons": {}}, False, None, "not-collected"),
    ],
)
def test_method_by_what_the_host_has(
    change: dict[str, object], shared: bool, method: str | None, kind: str
) -> None:
    chosen, why_kind, why = dt.choose_method(caps(**change), shared)
    assert (chosen, why_kind) == (method, kind)
    assert bool(why) == (method is None)


def test_bpftrace_filter_matches_the_probe_flows_in_kernel_byte_order() -> None:
    program = dt.bpftrace_program([dt.Flow("10.213.9.1", "10.213.0.2", 6, 179)], [NETNS_B, 7], True, 50)
    # 10.213.9.1 read as a little-endian u32 is 0x0109d50a
    assert f"$src == {0x0109D50A}" in program and "$proto == 6" in program and "$dport == 179" in program
    assert f"($ns == 7 || $ns == {NETNS_B})" not in program  # kept in the order given
    assert f"($ns == {NETNS_B} || $ns == 7)" in program and "@events >= 50" in program
    big = dt.bpftrace_program([dt.Flow(None, "10.213.9.1", 1)], None, False, 50)
    assert f"$src == {0x0AD50901}" in big and "$ns ==" not in big


def test_ipv6_flows_are_left_to_other_evidence() -> None:
    assert dt.ipv4_flows([dt.Flow("fd00::1", "fd00::2", 6, 179), dt.Flow(None, "10.0.0.1", 1)]) == [
        dt.Flow(None, "10.0.0.1", 1)
    ]


def outputs(
    stop: str, start: str = "dir=/tmp/bgpdoctor-drops.AbC123 pid=42 ready=yes\n"
) -> dict[str, dict[str, str]]:
    capabilities = fixture("capabilities-netns-linux-6.18.txt")
    other = capabilities.replace(str(NETNS_B), "4026533080")
    return {
        # one kernel: the tracer on "b" (first by name) sees both namespaces
        "b": {dt.CAPABILITIES_FACT: capabilities, dt.START_FACT: start, dt.STOP_FACT: stop},
        "c": {dt.CAPABILITIES_FACT: other},
    }


def test_recorded_outputs_give_each_host_its_trace_or_why_not() -> None:
    traces = dt.traces_from_outputs(outputs(fixture("stop-bpftrace-linux-6.18.txt")))
    b = traces["b"]
    assert (b.method, b.netns, b.unknown) == ("bpftrace", NETNS_B, None)
    assert dt.drop_facts(b)["drop_reason_names"] == ["IP_RPFILTER"]
    assert dt.drop_facts(b)["drop_count"] == 3
    c = traces["c"]
    assert (c.method, c.netns, c.unknown, c.events) == ("bpftrace", 4026533080, None, [])


def test_a_tracer_that_did_not_attach_is_unknown_with_its_error() -> None:
    start = "dir=/tmp/bgpdoctor-drops.AbC123 pid=42 ready=no\n--- stderr\nERROR: permission denied\n"
    traces = dt.traces_from_outputs(outputs("", start))
    assert traces["b"].unknown_kind == "failed" and "permission denied" in (traces["b"].unknown or "")
    assert traces["c"].unknown_kind == "failed" and "the tracer on b" in (traces["c"].unknown or "")


def test_garbage_from_the_tracer_is_unknown_not_a_crash() -> None:
    b = dt.traces_from_outputs(outputs("segfault\n"))["b"]
    assert b.unknown_kind == "parse-error"


def test_benign_reasons_are_not_faults() -> None:
    normal = [
        DropEvent("r", 1, "QUEUE_PURGE", "sk_stream_kill_queues", 4),
        DropEvent("r", 1, "NO_SOCKET", "ping_rcv", 3),  # echo replies to a raw-socket ping
    ]
    trace = dt.DropTrace("r", "bpftrace", [*normal, DropEvent("r", 1, "NO_SOCKET", "tcp_v4_rcv", 2)])
    assert dt.drop_facts(trace)["drop_reason_names"] == ["NO_SOCKET"]  # a SYN to a closed port is one
    assert dt.drop_facts(trace)["drop_count"] == 2


def test_stop_command_refuses_a_foreign_directory() -> None:
    with pytest.raises(ValueError):
        dt.stop_command("bpftrace", "/etc", 1)
