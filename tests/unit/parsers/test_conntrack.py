"""The conntrack parser on real outputs and on generated ones.

Fixtures (tests/fixtures/conntrack/) were captured with conntrack-tools 1.4.7 on Linux in two
namespaces joined by a veth, A 10.215.0.1 and B 10.215.0.2: B DNATs TCP 179 from A to its own
port 1179, where a listener accepts; A connects to B:179 (redirected) and B:180 (not), and once
to B:179 while B dropped the redirected SYN (an entry left UNREPLIED on A). The expected values
below are read off the raw lines by hand.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgpdoctor.engine.collect import CONNTRACK_BGP_AWK
from bgpdoctor.parsers import ParseError
from bgpdoctor.parsers.conntrack import Entry, Tuple, parse_entries

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "conntrack"


def _read(name: str) -> list[Entry]:
    return parse_entries((FIXTURES / name).read_text())


def test_a_redirected_179_flow_is_translated() -> None:
    [entry] = _read("conntrack-L-dnat-redirected-179.txt")
    assert entry == Entry(
        "tcp",
        431998,
        "ESTABLISHED",
        Tuple("10.215.0.1", "10.215.0.2", 58916, 179),
        Tuple("10.215.0.2", "10.215.0.1", 1179, 58916),
        ("ASSURED",),
    )
    assert entry.translated and not entry.unreplied
    assert (
        entry.text == "ESTABLISHED 10.215.0.1:58916 -> 10.215.0.2:179, reply from 10.215.0.2:1179 [ASSURED]"
    )


def test_the_proc_table_reads_the_same_as_the_tool() -> None:
    proc = _read("proc-nf_conntrack-dnat.txt")
    assert [e.original.dport for e in proc] == [180, 179]
    assert proc[1] == _read("conntrack-L-dnat-redirected-179.txt")[0]
    assert not proc[0].translated


def test_an_unanswered_syn_is_unreplied_and_not_translated() -> None:
    unreplied, closed = _read("conntrack-L-unreplied-and-established.txt")
    assert (unreplied.state, unreplied.timeout, unreplied.flags) == ("SYN_SENT", 99, ("UNREPLIED",))
    assert unreplied.unreplied and not unreplied.translated
    assert (closed.state, closed.original.sport, closed.flags) == ("TIME_WAIT", 58916, ("ASSURED",))
    client = _read("proc-nf_conntrack-client.txt")
    assert [(e.state, e.original.dport) for e in client] == [
        ("SYN_SENT", 179),
        ("TIME_WAIT", 180),
        ("TIME_WAIT", 179),
    ]


def test_the_tools_summary_and_other_protocols_are_skipped() -> None:
    text = (
        "icmp     1 29 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=7 "
        "src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=7 mark=0 use=1\n"
        "conntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.\n"
    )
    assert parse_entries(text) == []
    assert parse_entries("") == []


_REPLY = "src=10.0.0.2 dst=10.0.0.1 sport=179 dport=1"


@pytest.mark.parametrize(
    "line",
    [
        "Operation not permitted",
        f"tcp      6 99 BOGUS src=10.0.0.1 dst=10.0.0.2 sport=1 dport=179 {_REPLY}",
        "tcp      6 99 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=1 dport=179",
        f"tcp      6 99 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=x dport=179 {_REPLY}",
        f"tcp      6 99 SYN_SENT src=10.0.0.999 dst=10.0.0.2 sport=1 dport=179 {_REPLY}",
    ],
)
def test_what_is_not_an_entry_is_a_parse_error(line: str) -> None:
    with pytest.raises(ParseError):
        parse_entries(line)


_ADDRESS = st.ip_addresses(v=4).map(str) | st.ip_addresses(v=6).map(str)
_PORT = st.integers(0, 65535)
_TUPLE = st.builds(Tuple, _ADDRESS, _ADDRESS, _PORT, _PORT)
_STATE = st.sampled_from(
    ["SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "TIME_WAIT", "CLOSE"]
)


def _line(entry: Entry, proc: bool) -> str:
    """The entry as the kernel prints it (flags where it puts them), the /proc form optionally."""
    o, r = entry.original, entry.reply
    unreplied = " [UNREPLIED]" if "UNREPLIED" in entry.flags else ""
    assured = " [ASSURED]" if "ASSURED" in entry.flags else ""
    head = ("ipv4     2 " if proc else "") + f"{entry.protocol}      6 {entry.timeout} "
    state = f"{entry.state} " if entry.state else ""
    return (
        f"{head}{state}src={o.src} dst={o.dst} sport={o.sport} dport={o.dport}{unreplied} "
        f"src={r.src} dst={r.dst} sport={r.sport} dport={r.dport}{assured} "
        f"mark=0 {'zone=0 ' if proc else ''}use=1"
    )


@st.composite
def _entries(draw: st.DrawFn) -> Entry:
    tcp = draw(st.booleans())
    original = draw(_TUPLE)
    reply = draw(st.just(original.turned()) | _TUPLE)
    flags = tuple(f for f in ("UNREPLIED", "ASSURED") if draw(st.booleans()))
    return Entry(
        "tcp" if tcp else "udp",
        draw(st.integers(0, 432000)),
        draw(_STATE) if tcp else None,
        original,
        reply,
        flags,
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(_entries(), max_size=5), st.booleans())
def test_printed_entries_read_back_the_same(entries: list[Entry], proc: bool) -> None:
    text = "\n".join(_line(e, proc) for e in entries) + "\n"
    assert parse_entries(text) == entries
    assert [e.translated for e in parse_entries(text)] == [e.reply != e.original.turned() for e in entries]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_entries_or_a_parse_error(text: str) -> None:
    with contextlib.suppress(ParseError):
        parse_entries(text)


def test_the_collected_proc_cut_reads_the_same_as_the_tool() -> None:
    """engine/collect.py's conntrack.bgp reads /proc/net/nf_conntrack through awk, keeping the lines
    `conntrack -L -p tcp --dport 179` prints. Captured on the lab's router-mine (three BGP sessions)
    within a second of each other: the whole table, the command's output and the tool's."""
    whole = _read("proc-nf_conntrack-lab-router-whole.txt")
    cut = _read("proc-nf_conntrack-awk-lab-router.txt")
    tool = _read("conntrack-L-lab-router.txt")
    assert len(cut) == 3
    assert [(e.original, e.reply, e.state, e.flags) for e in cut] == [
        (e.original, e.reply, e.state, e.flags) for e in tool
    ]
    # the table also holds an IGMP entry (protocol "unknown"), which the cut leaves out
    raw = (FIXTURES / "proc-nf_conntrack-lab-router-whole.txt").read_text().splitlines()
    assert len(raw) == 4 and " unknown " in raw[3]
    assert [e.original for e in whole] == [e.original for e in cut]


def test_the_collected_proc_cut_keeps_ipv6_entries_as_the_tool_does() -> None:
    """The awk of engine/collect.py's conntrack.bgp run over a real dual-stack table: B held an IPv6
    and an IPv4 connection to its port 179 and an IPv6 one to 180 (conntrack-tools 1.4.7, Linux
    6.18, captured within a second). /proc prints IPv6 addresses in full; the parser reads them as
    the tool prints them. The cut keeps the lines the tool lists, IPv6 included: before, it kept
    `$1 == "ipv4"` only, and an IPv6 session's entry went unseen."""
    if shutil.which("awk") is None:
        pytest.skip("no awk")
    whole = FIXTURES / "proc-nf_conntrack-dual-stack-whole.txt"
    cut = subprocess.run(["awk", CONNTRACK_BGP_AWK, str(whole)], capture_output=True, text=True, check=True)
    tool = _read("conntrack-L-dual-stack.txt")
    assert [(e.original, e.reply) for e in parse_entries(cut.stdout)] == [(e.original, e.reply) for e in tool]
    assert [e.original.src for e in tool] == ["fd00:bd6::1", "10.216.0.1"]
    assert len(_read("proc-nf_conntrack-dual-stack-whole.txt")) == 3  # and one to port 180
