"""Parser for ``ss -Htanp`` / ``ss -Htlnp`` / ``ss -Htni`` (iproute2 ss, TCP, numeric).

Input (``-i`` adds a tab-indented info line under each socket)::

    LISTEN 0      8       0.0.0.0:179  0.0.0.0:*     users:(("bird",pid=6709,fd=8))
    ESTAB  0      0      10.0.5.2:179 10.0.4.1:57423 users:(("bird",pid=6709,fd=9))
    <TAB> bbr wscale:10,10 rto:208 rtt:4.748/8.828 ato:40 mss:1348 pmtu:1400 rcvmss:536 ...

Output::

    [Socket(state="LISTEN", local_address="0.0.0.0", local_port=179, peer_address="0.0.0.0",
            peer_port=None, process="bird", mss=None, pmtu=None, pid=6709),
     Socket(state="ESTAB", local_address="10.0.5.2", local_port=179, peer_address="10.0.4.1",
            peer_port=57423, process="bird", mss=1348, pmtu=1400, pid=6709)]

A header line (without ``-H``) and a Netid column (without ``-t``) are tolerated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bgpdoctor.parsers import ParseError, to_int

_STATES = frozenset(
    {
        "LISTEN",
        "ESTAB",
        "SYN-SENT",
        "SYN-RECV",
        "FIN-WAIT-1",
        "FIN-WAIT-2",
        "TIME-WAIT",
        "CLOSE-WAIT",
        "LAST-ACK",
        "CLOSING",
        "CLOSE",
        "UNCONN",
        "UNKNOWN",
    }
)
_NETIDS = frozenset({"tcp", "udp", "raw", "u_str", "u_dgr", "u_seq", "p_raw", "p_dgr", "nl", "mptcp", "sctp"})
_PROC_RE = re.compile(r'users:\(\("(?P<name>[^"]*)",pid=(?P<pid>[0-9]+)')


@dataclass
class Socket:
    """One socket; ``peer_port`` is None for ``*``; ``mss``/``pmtu`` come from ``-i`` info lines."""

    state: str
    local_address: str
    local_port: int
    peer_address: str
    peer_port: int | None
    process: str | None = None
    mss: int | None = None
    pmtu: int | None = None
    pid: int | None = None


def _endpoint(value: str) -> tuple[str, int | None]:
    addr, sep, port = value.rpartition(":")
    if not sep:
        raise ParseError("ss", f"address without a port: {value!r}")
    if addr.startswith("[") and addr.endswith("]"):
        addr = addr[1:-1]
    addr = addr.split("%", 1)[0]  # 0.0.0.0%lo: bound to an interface
    if port == "*":
        return addr, None
    if not (port.isascii() and port.isdigit()):
        raise ParseError("ss", f"bad port in {value!r}")
    return addr, to_int(port, "ss", "port")


def parse_ss(text: str) -> list[Socket]:
    """Parse ``ss -Ht[a|l]n[p][i]`` output into sockets.

    Example: [Socket(state="LISTEN", local_address="10.0.3.2", local_port=179,
    peer_address="0.0.0.0", peer_port=None, process="gobgpd", mss=None, pmtu=None, pid=6711)]
    """
    sockets: list[Socket] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0] in " \t":
            if not sockets:
                raise ParseError("ss", f"info line before any socket: {line!r}")
            for key in ("mss", "pmtu"):
                m = re.search(rf"(?:^|\s){key}:([0-9]+)", line)
                if m:
                    setattr(sockets[-1], key, to_int(m.group(1), "ss", key))
            continue
        words = line.split()
        if words[0] in ("State", "Netid"):
            continue
        if words[0] in _NETIDS:
            words = words[1:]
        if len(words) < 5 or words[0] not in _STATES:
            raise ParseError("ss", f"cannot parse socket line: {line!r}")
        local, lport = _endpoint(words[3])
        peer, pport = _endpoint(words[4])
        if lport is None:
            raise ParseError("ss", f"local port missing in {line!r}")
        proc = _PROC_RE.search(line)
        sockets.append(
            Socket(
                state=words[0],
                local_address=local,
                local_port=lport,
                peer_address=peer,
                peer_port=pport,
                process=proc.group("name") if proc else None,
                pid=to_int(proc.group("pid"), "ss", "pid") if proc else None,
            )
        )
    return sockets


def listening_on(sockets: list[Socket], port: int) -> list[Socket]:
    """The LISTEN sockets on ``port``.

    Example: listening_on(parse_ss(text), 179) -> [Socket(state="LISTEN", local_address="0.0.0.0",
    local_port=179, ..., process="bird")]
    """
    return [s for s in sockets if s.state == "LISTEN" and s.local_port == port]
