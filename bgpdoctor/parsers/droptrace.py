"""Parsers for the kernel's packet-drop tracepoint ``skb:kfree_skb`` (Linux 5.17+ records a reason).

Three inputs, each read by a pure function that raises only :class:`ParseError`:

- the tracepoint's format file (``/sys/kernel/tracing/events/skb/kfree_skb/format``), whose
  ``__print_symbolic`` list names every drop reason of *that* kernel::

      field:enum skb_drop_reason reason;	offset:36;	size:4;	signed:0;
      print fmt: "... reason: %s", ..., __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, ...)

  -> ``{2: "NOT_SPECIFIED", 3: "NO_SOCKET", ...}`` (``{}`` for a kernel without drop reasons);
- bgpdoctor's bpftrace program's lines (netns of the device or socket, reason number, symbol,
  packet 5-tuple)::

      drop netns=4026533079 reason=16 location=ip_rcv_finish_core proto=6 src=10.213.9.1 sport=45397
      dst=10.213.0.2 dport=179   (one line)

- the tracepoint's own text, as tracefs (``trace``) and ``perf script`` print it::

      ping-5824 [001] ..s1. 12936.210675: kfree_skb: skbaddr=00000000ff23ab88 rx_sk=0000000000000000
      protocol=2048 location=ip_rcv_finish_core+0x260/0x470 reason: IP_RPFILTER   (one line, tracefs)
      ping  5003 [000] 12928.786570: skb:kfree_skb: skbaddr=0xffff8885dceb1300 rx_sk=(nil)
      protocol=2048 location=ip_rcv_finish_core+0x260 reason: IP_RPFILTER   (one line, perf script)

Both event parsers return :class:`DropEvent` records, identical drops merged with a count, e.g.
``DropEvent(host="router-home", netns=4026533079, reason="IP_RPFILTER",
location="ip_rcv_finish_core", count=2, ethertype=2048, protocol=6, src="10.213.9.1",
sport=45397, dst="10.213.0.2", dport=179)``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from typing import Any

from bgpdoctor.parsers import ParseError

_REASON_FIELD = re.compile(r"field:enum skb_drop_reason reason;")
_SYMBOLIC = re.compile(r"__print_symbolic\(REC->reason,(.*)\)", re.S)
_PAIR = re.compile(r'\{\s*(0x[0-9a-fA-F]+|[0-9]+)\s*,\s*"([A-Za-z0-9_]+)"\s*\}')
_REASON_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_SYMBOL = re.compile(r"[A-Za-z0-9_.$]+|0x[0-9a-fA-F]+")
# the tracepoint's print format; `rx_sk=` exists from Linux 6.10, `skb:` only in perf's output
_TRACE_LINE = re.compile(
    r"(?:skb:)?kfree_skb: skbaddr=\S+ (?:rx_sk=\S+ )?protocol=([0-9]+) location=(\S+) "
    r"reason: ([A-Za-z0-9_]+)\s*$"
)
_LOST = re.compile(r"CPU:[0-9]+ \[LOST ([0-9]+) EVENTS\]")
_BPFTRACE_LOST = re.compile(r"Lost ([0-9]+) events")
# tracefs's header when its ring buffer overwrote events: "# entries-in-buffer/entries-written: 5924/20000"
_ENTRIES = re.compile(r"#\s*entries-in-buffer/entries-written:\s*([0-9]+)/([0-9]+)")
_BPFTRACE_FIELDS = ("netns", "reason", "location", "proto", "src", "sport", "dst", "dport")
# lines bgpdoctor's bpftrace program and bpftrace itself print around the events
_BPFTRACE_CHATTER = ("Attaching ", "READY", "END")
LIMIT_MARK = "LIMIT"
MAX_COUNT = 10**9


@dataclass(frozen=True)
class DropEvent:
    """Packets the kernel dropped with one reason at one place; fields the method cannot see are None."""

    host: str
    netns: int | None
    reason: str
    location: str
    count: int
    ethertype: int | None = None
    protocol: int | None = None
    src: str | None = None
    sport: int | None = None
    dst: str | None = None
    dport: int | None = None
    icmp_type: int | None = None  # of an ICMP packet (3: unreachable/frag-needed, 11: time exceeded)

    def to_dict(self) -> dict[str, Any]:
        """Example: {"host": "r1", "netns": None, "reason": "IP_RPFILTER", "location": "ip_rcv_finish_core",
        "count": 2, "ethertype": 2048, "protocol": None, "src": None, ...}"""
        return dict(self.__dict__)


@dataclass(frozen=True)
class DropLog:
    """A trace's events, and whether a bound cut it short (events limit reached, or lost events)."""

    events: list[DropEvent]
    limited: bool = False
    lost: int = 0


def parse_drop_reasons(text: str) -> dict[int, str]:
    """The drop reasons of this kernel from the tracepoint's format file; {} when it has none.

    Example: parse_drop_reasons(format_text)[16] -> "IP_RPFILTER"
    """
    if "name: kfree_skb" not in text or "format:" not in text:
        raise ParseError("droptrace", "not the format file of the skb:kfree_skb tracepoint")
    if not _REASON_FIELD.search(text):
        return {}
    symbolic = _SYMBOLIC.search(text)
    if symbolic is None:
        raise ParseError("droptrace", "the format has a reason field but no __print_symbolic list of names")
    reasons = {int(number, 0): name for number, name in _PAIR.findall(symbolic.group(1))}
    if not reasons:
        raise ParseError("droptrace", "the __print_symbolic list of drop reasons is empty")
    return reasons


def _number(text: str, what: str, line: str, limit: int = MAX_COUNT) -> int:
    if not text.isascii() or not text.isdigit() or int(text) > limit:
        raise ParseError("droptrace", f"{what} is not a number in {line[:200]!r}")
    return int(text)


def _address(text: str, line: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ParseError("droptrace", f"not an IP address: {text[:60]!r} in {line[:200]!r}") from None


def _location(text: str, line: str) -> str:
    """The symbol of a kernel location: "ip_rcv_finish_core+0x260/0x470" -> "ip_rcv_finish_core"."""
    symbol = text.split("+", 1)[0]
    if not _SYMBOL.fullmatch(symbol):
        raise ParseError("droptrace", f"not a kernel symbol: {text[:80]!r} in {line[:200]!r}")
    return symbol


def _merged(events: list[DropEvent]) -> list[DropEvent]:
    counts: dict[DropEvent, int] = {}
    for event in events:
        key = replace(event, count=1)
        counts[key] = counts.get(key, 0) + event.count
    return [replace(key, count=count) for key, count in counts.items()]


def parse_bpftrace_drops(text: str, host: str, reasons: dict[int, str]) -> DropLog:
    """Lines of bgpdoctor's bpftrace program to merged drop events (reason numbers named by `reasons`).

    Example: parse_bpftrace_drops("READY\\ndrop netns=4026533079 reason=16 location=ip_rcv_finish_core "
    "proto=1 src=10.213.9.1 sport=0 dst=10.213.0.2 dport=0\\n", "b", {16: "IP_RPFILTER"}).events ->
    [DropEvent(host="b", netns=4026533079, reason="IP_RPFILTER", location="ip_rcv_finish_core", count=1,
    ethertype=2048, protocol=1, src="10.213.9.1", sport=None, dst="10.213.0.2", dport=None)]
    """
    events: list[DropEvent] = []
    limited = False
    lost = 0
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(_BPFTRACE_CHATTER):
            continue
        if line == LIMIT_MARK:
            limited = True
            continue
        lost_events = _BPFTRACE_LOST.fullmatch(line)
        if lost_events:  # bpftrace's output buffer overflowed
            lost += _number(lost_events.group(1), "lost events", line)
            continue
        words = line.split()
        if words[0] != "drop":
            raise ParseError("droptrace", f"not a drop line: {line[:200]!r}")
        pairs = [w.partition("=") for w in words[1:]]
        fields = {k: v for k, sep, v in pairs if sep}
        if tuple(k for k, _sep, _v in pairs) != _BPFTRACE_FIELDS:
            raise ParseError("droptrace", f"expected fields {' '.join(_BPFTRACE_FIELDS)} in {line[:200]!r}")
        number = _number(fields["reason"], "reason", line, 65535)
        protocol = _number(fields["proto"], "proto", line, 255)
        ports = protocol in (6, 17, 132)
        # the program reads the first transport bytes as ports: for ICMP that is type and code
        first = _number(fields["sport"], "sport", line, 65535)
        netns = _number(fields["netns"], "netns", line, 2**64)
        events.append(
            DropEvent(
                host=host,
                netns=netns or None,
                reason=reasons.get(number, f"REASON_{number}"),
                location=_location(fields["location"], line),
                count=1,
                ethertype=0x0800,
                protocol=protocol,
                src=_address(fields["src"], line),
                sport=first if ports else None,
                dst=_address(fields["dst"], line),
                dport=_number(fields["dport"], "dport", line, 65535) if ports else None,
                icmp_type=first >> 8 if protocol == 1 else None,
            )
        )
    return DropLog(_merged(events), limited=limited or lost > 0, lost=lost)


def parse_trace_drops(text: str, host: str) -> DropLog:
    """tracefs ``trace`` or ``perf script`` text to merged drop events (no netns, no packet fields).

    Example: parse_trace_drops("ping 5003 [000] 1.5: skb:kfree_skb: skbaddr=0x1 rx_sk=(nil) protocol=2048 "
    "location=ip_rcv_finish_core+0x260 reason: IP_RPFILTER\\n", "r1").events ->
    [DropEvent(host="r1", netns=None, reason="IP_RPFILTER", location="ip_rcv_finish_core", count=1,
    ethertype=2048)]
    """
    events: list[DropEvent] = []
    lost = 0
    for line in text.splitlines():
        entries = _ENTRIES.search(line)
        if entries:
            kept, written = (_number(n, "entries", line) for n in entries.groups())
            lost += max(0, written - kept)
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        lost_events = _LOST.search(line)
        if lost_events:
            lost += _number(lost_events.group(1), "lost events", line)
            continue
        match = _TRACE_LINE.search(line)
        if match is None:
            raise ParseError("droptrace", f"not a kfree_skb event: {line[:200]!r}")
        ethertype, location, reason = match.groups()
        if not _REASON_NAME.fullmatch(reason):
            raise ParseError("droptrace", f"not a drop reason name: {reason[:60]!r}")
        events.append(
            DropEvent(
                host=host,
                netns=None,
                reason=reason,
                location=_location(location, line),
                count=1,
                ethertype=_number(ethertype, "protocol", line, 65535),
            )
        )
    return DropLog(_merged(events), limited=lost > 0, lost=lost)
