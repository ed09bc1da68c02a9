"""Parser for ``conntrack -L -p tcp --dport 179`` (conntrack-tools) and ``/proc/net/nf_conntrack``.

Input (conntrack-tools 1.4.7; /proc adds ``ipv4     2 `` in front and ``zone=0`` near the end;
the tool's "N flow entries have been shown." goes to stderr)::

    tcp      6 431998 ESTABLISHED src=10.215.0.1 dst=10.215.0.2 sport=58916 dport=179 \
src=10.215.0.2 dst=10.215.0.1 sport=1179 dport=58916 [ASSURED] mark=0 use=1
    tcp      6 99 SYN_SENT src=10.215.0.1 dst=10.215.0.2 sport=60112 dport=179 [UNREPLIED] \
src=10.215.0.2 dst=10.215.0.1 sport=179 dport=60112 mark=0 use=1

Output::

    [Entry(protocol="tcp", timeout=431998, state="ESTABLISHED",
           original=Tuple("10.215.0.1", "10.215.0.2", 58916, 179),
           reply=Tuple("10.215.0.2", "10.215.0.1", 1179, 58916), flags=("ASSURED",)),
     Entry(protocol="tcp", timeout=99, state="SYN_SENT", original=..., reply=...,
           flags=("UNREPLIED",))]

An entry whose reply tuple is not the original one turned around was translated (NAT): above,
the first connection to port 179 was redirected to port 1179. Lines of other protocols than TCP
and UDP are skipped; a line that is neither an entry nor the tool's summary raises ParseError.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from bgpdoctor.parsers import ParseError, to_int

_SUMMARY = re.compile(
    r"conntrack v[\d.]+ \(conntrack-tools\): \d+ flow entr(?:y|ies) ha(?:s|ve) been shown\."
)
_FAMILY = re.compile(r"ipv[46]\s+\d+\s+")
_STATES = frozenset(
    {
        "NONE",
        "SYN_SENT",
        "SYN_RECV",
        "ESTABLISHED",
        "FIN_WAIT",
        "CLOSE_WAIT",
        "LAST_ACK",
        "TIME_WAIT",
        "CLOSE",
        "SYN_SENT2",
    }
)


@dataclass(frozen=True)
class Tuple:
    """One direction of a connection as conntrack keys it."""

    src: str
    dst: str
    sport: int
    dport: int

    def turned(self) -> Tuple:
        """The tuple a reply has when nothing is translated."""
        return Tuple(self.dst, self.src, self.dport, self.sport)


@dataclass(frozen=True)
class Entry:
    protocol: str
    timeout: int
    state: str | None  # TCP only
    original: Tuple
    reply: Tuple
    flags: tuple[str, ...] = ()

    @property
    def translated(self) -> bool:
        """NAT changed the flow: the reply does not come from where the request was sent."""
        return self.reply != self.original.turned()

    @property
    def unreplied(self) -> bool:
        return "UNREPLIED" in self.flags

    @property
    def text(self) -> str:
        """Example: "ESTABLISHED 10.215.0.1:58916 -> 10.215.0.2:179, reply from 10.215.0.2:1179 [ASSURED]"
        (an IPv6 address in brackets: "[fd00::1]:58916")."""
        o, r = self.original, self.reply
        flags = "".join(f" [{f}]" for f in self.flags)
        flow = (
            f"{endpoint(o.src, o.sport)} -> {endpoint(o.dst, o.dport)}, reply from {endpoint(r.src, r.sport)}"
        )
        return f"{self.state or self.protocol} {flow}{flags}"


def endpoint(address: str, port: int) -> str:
    """Example: endpoint("10.0.0.1", 179) -> "10.0.0.1:179"; endpoint("fd00::1", 179) -> "[fd00::1]:179"."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _address(value: str, line: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError as exc:
        raise ParseError("conntrack", f"bad address {value!r} in {line[:120]!r}") from exc


def _tuple(fields: dict[str, str], line: str) -> Tuple:
    for key in ("src", "dst", "sport", "dport"):
        if key not in fields:
            raise ParseError("conntrack", f"no {key}= in {line[:120]!r}")
    return Tuple(
        _address(fields["src"], line),
        _address(fields["dst"], line),
        to_int(fields["sport"], "conntrack", "sport"),
        to_int(fields["dport"], "conntrack", "dport"),
    )


def _entry(line: str) -> Entry | None:
    body = _FAMILY.sub("", line, count=1) if _FAMILY.match(line) else line
    words = body.split()
    if len(words) < 3 or words[0] not in ("tcp", "udp", "icmp", "icmpv6", "sctp", "dccp", "gre", "unknown"):
        raise ParseError("conntrack", f"not a conntrack entry: {line[:120]!r}")
    protocol = words[0]
    if protocol not in ("tcp", "udp"):
        return None
    timeout = to_int(words[2], "conntrack", "timeout")
    rest = words[3:]
    state = None
    if protocol == "tcp":
        if not rest or rest[0] not in _STATES:
            raise ParseError("conntrack", f"no TCP state in {line[:120]!r}")
        state, rest = rest[0], rest[1:]
    sides: list[dict[str, str]] = [{}]
    flags: list[str] = []
    for word in rest:
        if word.startswith("[") and word.endswith("]"):
            flags.append(word[1:-1])
            continue
        key, sep, value = word.partition("=")
        if not sep:
            raise ParseError("conntrack", f"unexpected {word!r} in {line[:120]!r}")
        if key in sides[-1] and key in ("src", "dst", "sport", "dport"):
            sides.append({})
        sides[-1][key] = value
    if len(sides) < 2:
        raise ParseError("conntrack", f"no reply tuple in {line[:120]!r}")
    return Entry(protocol, timeout, state, _tuple(sides[0], line), _tuple(sides[1], line), tuple(flags))


def parse_entries(text: str) -> list[Entry]:
    """Every TCP and UDP entry of ``conntrack -L`` or ``/proc/net/nf_conntrack`` output."""
    entries = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or _SUMMARY.fullmatch(line):
            continue
        entry = _entry(line)
        if entry is not None:
            entries.append(entry)
    return entries
