"""Parser for iputils ``ping`` output (Linux), including ``-M do`` and ``-I``.

Input (``ping -c 3 -M do -s 1472 10.0.5.2`` across a 1400-byte hop)::

    PING 10.0.5.2 (10.0.5.2) 1472(1500) bytes of data.
    From 10.0.4.2 icmp_seq=1 Frag needed and DF set (mtu = 1400)
    ping: local error: message too long, mtu=1400

    --- 10.0.5.2 ping statistics ---
    3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 407ms

Output::

    PingResult(transmitted=3, received=0, errors=3, loss_percent=100.0, local_error_mtu=1400,
               frag_needed_mtu=1400, frag_needed_from="10.0.4.2", unreachable=None,
               unreachable_from=None, time_exceeded_from=None, rtt_avg_ms=None,
               outcome="frag-needed", local_too_big=True, error=None)

``outcome`` is one of reply, local-too-big, frag-needed, unreachable, time-exceeded,
silent-loss, error (ping could not run: unknown host, no route of its own...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bgpdoctor.parsers import ParseError, to_float, to_int

OUTCOMES = ("reply", "local-too-big", "frag-needed", "unreachable", "time-exceeded", "silent-loss", "error")

_STATS_RE = re.compile(
    r"(?P<tx>\d+) packets transmitted, (?P<rx>\d+) (?:packets )?received"
    r"(?:, \+(?P<dup>\d+) duplicates)?(?:, \+(?P<err>\d+) errors)?, (?P<loss>[\d.]+)% packet loss"
)
_RTT_RE = re.compile(r"^(?:rtt|round-trip) min/avg/max(?:/mdev)? = [\d.]+/(?P<avg>[\d.]+)/")
_LOCAL_MTU_RE = re.compile(r"local error: message too long, mtu[=:]? ?(?P<mtu>\d+)", re.IGNORECASE)
_FROM_RE = re.compile(r"^From (?P<src>\S+)(?: \([^)]*\))?:? icmp_seq=\d+ (?P<msg>.*)$")
# IPv4's ICMP frag-needed, or ICMPv6 Packet Too Big (`ping -6`: "Packet too big: mtu=1400")
_FRAG_RE = re.compile(r"(?:Frag needed and DF set \(mtu = |Packet too big: mtu=)(?P<mtu>\d+)")
_DROPPED_ON_SEND = "sendmsg: No buffer space available"
_ERROR_RE = re.compile(r"^ping: (?!local error)(?P<msg>.*)$")


@dataclass
class PingResult:
    """Summary of one ping run; see the module docstring."""

    transmitted: int
    received: int
    errors: int
    loss_percent: float
    local_error_mtu: int | None = None
    frag_needed_mtu: int | None = None
    frag_needed_from: str | None = None
    unreachable: str | None = None
    unreachable_from: str | None = None
    time_exceeded_from: str | None = None
    rtt_avg_ms: float | None = None
    outcome: str = "error"
    local_too_big: bool = False  # also set by "sendmsg: Message too long", which names no MTU
    error: str | None = None


def parse_ping(text: str) -> PingResult:
    """Parse the output of one iputils ``ping`` run (stdout and stderr together).

    Example (``ping -t 1``): PingResult(transmitted=2, received=0, errors=1, loss_percent=100.0,
    time_exceeded_from="10.0.1.1", outcome="time-exceeded", ...)
    """
    r = PingResult(transmitted=0, received=0, errors=0, loss_percent=100.0)
    seen_stats = False
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        m = _STATS_RE.search(s)
        if m:
            seen_stats = True
            r.transmitted = to_int(m.group("tx"), "ping", "packets transmitted")
            r.received = to_int(m.group("rx"), "ping", "packets received")
            r.errors = to_int(m.group("err") or "0", "ping", "errors")
            r.loss_percent = to_float(m.group("loss"), "ping", "packet loss")
            continue
        m = _RTT_RE.match(s)
        if m:
            r.rtt_avg_ms = to_float(m.group("avg"), "ping", "rtt avg")
            continue
        m = _LOCAL_MTU_RE.search(s)
        if m:
            r.local_too_big = True
            r.local_error_mtu = to_int(m.group("mtu"), "ping", "local error mtu")
            continue
        if "Message too long" in s and s.startswith("ping:"):
            r.local_too_big = True
            continue
        m = _FROM_RE.match(s)
        if m:
            src, msg = m.group("src"), m.group("msg").strip()
            frag = _FRAG_RE.search(msg)
            if frag:
                r.frag_needed_from = r.frag_needed_from or src
                r.frag_needed_mtu = r.frag_needed_mtu or to_int(frag.group("mtu"), "ping", "frag needed mtu")
            elif "Time to live exceeded" in msg:
                r.time_exceeded_from = r.time_exceeded_from or src
            elif r.unreachable is None:
                r.unreachable, r.unreachable_from = msg, src
            continue
        m = _ERROR_RE.match(s)
        if m and r.error is None:
            r.error = m.group("msg")
    if not seen_stats and r.error is None:
        raise ParseError("ping", f"no statistics line and no ping error in {text[:120]!r}")
    if r.received > 0:
        r.outcome = "reply"
    elif r.frag_needed_mtu is not None:
        r.outcome = "frag-needed"
    elif r.local_too_big:
        r.outcome = "local-too-big"
    elif r.unreachable is not None:
        r.outcome = "unreachable"
    elif r.time_exceeded_from is not None:
        r.outcome = "time-exceeded"
    elif seen_stats and r.transmitted > 0 and (r.error is None or _DROPPED_ON_SEND in r.error):
        # ENOBUFS: the device refused the packet (a veth whose peer has a smaller MTU drops it so):
        # it vanished without an ICMP error, like a loss further on
        r.outcome = "silent-loss"
    else:
        r.outcome = "error"
    return r
