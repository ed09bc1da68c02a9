"""What tells whether a BGP session is really alive: BFD at each end and the TCP state of its socket.

- BIRD `show bfd sessions` (BIRD 2 and 1.6): one line per BFD session, or `There is no BFD protocol
  running`;
- FRR `show bgp neighbors json`: `peerBfdInfo` (only when `neighbor X bfd` is configured),
  `connectionsEstablished`, `connectionsDropped`, `lastResetDueTo`;
- `ss -Htni 'sport = :179 or dport = :179'`: each socket's line, then its TCP info (`backoff:3`,
  `unacked:1`, `retrans:1/6`, `lastack:11500` ms).

Example: parse_bird_bfd("bfd1:\\nIP address ...\\n10.213.61.1  eth0  Down  05:13:36.125  1.000  0.000")
-> BirdBfd(running=True, sessions=[BfdSession(address="10.213.61.1", interface="eth0", state="down")])
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from bgpdoctor.parsers import ParseError, json_int, json_object, json_str, load_json, to_int
from bgpdoctor.parsers.ss import parse_ss

NO_BFD = "there is no bfd protocol running"
_BIRD_NOISE = re.compile(r"^(BIRD \S+ ready\.|Access restricted|\d{4}[- ])")
_BFD_STATES = {"adminDown": "admin-down", "Down": "down", "Init": "init", "Up": "up"}


@dataclass
class BfdSession:
    """One BFD session: the peer's address, the interface (None for multihop) and its state (lower case:
    up, down, init, admin-down)."""

    address: str
    interface: str | None
    state: str


@dataclass
class BirdBfd:
    """BIRD's `show bfd sessions`: whether a BFD protocol runs at all, and its sessions."""

    running: bool
    sessions: list[BfdSession] = field(default_factory=list)


def parse_bird_bfd(text: str) -> BirdBfd:
    """`birdc show bfd sessions` -> BirdBfd; raises ParseError on a line it cannot read."""
    if NO_BFD in text.lower():
        return BirdBfd(running=False)
    found = BirdBfd(running=False)
    for line in text.splitlines():
        words = line.split()
        if not words or _BIRD_NOISE.match(line) or words[0] == "IP":
            continue
        if len(words) == 1 and words[0].endswith(":"):
            found.running = True  # `bfd1:` heads the sessions of one BFD protocol
            continue
        try:
            address = str(ipaddress.ip_address(words[0].split("%", 1)[0]))
        except ValueError:
            raise ParseError("bird-bfd", f"not a BFD session line: {line!r}") from None
        if len(words) < 3:
            raise ParseError("bird-bfd", f"BFD session line too short: {line!r}")
        # a multihop session has no interface: `10.0.0.1  ---  Up ...`
        interface, state = (words[1], words[2]) if words[2] in _BFD_STATES else (None, words[1])
        if state not in _BFD_STATES:
            raise ParseError("bird-bfd", f"unknown BFD state {state!r} in {line!r}")
        found.running = True
        found.sessions.append(
            BfdSession(address, None if interface == "---" else interface, _BFD_STATES[state])
        )
    return found


@dataclass
class FrrLiveness:
    """What FRR's `show bgp neighbors json` says of one neighbor's liveness.

    Example: FrrLiveness(address="10.213.61.2", bfd_state="down", established=1, dropped=0,
    last_reset="Waiting for peer OPEN")
    """

    address: str
    bfd_state: str | None  # None: no `neighbor X bfd`
    established: int | None
    dropped: int | None
    last_reset: str | None


def parse_frr_liveness(text: str) -> dict[str, FrrLiveness]:
    """`vtysh -c 'show bgp neighbors json'` -> {neighbor: FrrLiveness}."""
    if not text.strip():
        return {}
    data = json_object(load_json(text, "frr", "neighbors"), "frr", "neighbors")
    out: dict[str, FrrLiveness] = {}
    for address, raw in data.items():
        peer = json_object(raw, "frr", f"neighbor {address}")
        bfd = peer.get("peerBfdInfo")
        bfd_state = None
        if bfd is not None:
            status = json_str(
                json_object(bfd, "frr", "peerBfdInfo").get("status"), "frr", "peerBfdInfo.status"
            )
            bfd_state = (status or "unknown").lower()
        out[address] = FrrLiveness(
            address=address,
            bfd_state=bfd_state,
            established=json_int(peer.get("connectionsEstablished"), "frr", "connectionsEstablished"),
            dropped=json_int(peer.get("connectionsDropped"), "frr", "connectionsDropped"),
            last_reset=json_str(peer.get("lastResetDueTo"), "frr", "lastResetDueTo"),
        )
    return out


@dataclass
class TcpInfo:
    """One TCP socket of `ss -Htni`, with the retransmission state of its info line.

    `backoff`: how many retransmission timeouts in a row went unanswered; `last_ack_ms`: how long ago
    the peer last acknowledged anything. Example: TcpInfo(state="ESTAB", local="10.213.61.1",
    local_port=179, peer="10.213.61.2", peer_port=50035, backoff=5, unacked=1, retrans=1,
    retrans_total=6, last_ack_ms=11500, last_rcv_ms=12124, rtt_ms=4.545,
    line="ESTAB 0 207 10.213.61.1:179 ...")

    `rtt_ms`: the kernel's smoothed round-trip time of the connection (ss's `rtt:<srtt>/<rttvar>`).
    """

    state: str
    local: str
    local_port: int
    peer: str
    peer_port: int | None
    backoff: int = 0
    unacked: int = 0
    retrans: int = 0
    retrans_total: int = 0
    last_ack_ms: int | None = None
    last_rcv_ms: int | None = None
    rtt_ms: float | None = None
    line: str = ""


_SRTT_RE = re.compile(r"(?:^|\s)rtt:([0-9]{1,9}(?:\.[0-9]{1,9})?)/[0-9]")
_INFO_INT = {"backoff": "backoff", "unacked": "unacked", "lastack": "last_ack_ms", "lastrcv": "last_rcv_ms"}


def parse_tcp_info(text: str) -> list[TcpInfo]:
    """`ss -Htni 'sport = :179 or dport = :179'` -> one TcpInfo per socket."""
    sockets = parse_ss(text)  # validates the socket lines; raises ParseError
    out: list[TcpInfo] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0] not in " \t":
            if line.split()[0] in ("State", "Netid"):
                continue
            s = sockets[len(out)]
            out.append(
                TcpInfo(s.state, s.local_address, s.local_port, s.peer_address, s.peer_port, line=line)
            )
            continue
        info = out[-1]
        for key, value in re.findall(r"(?:^|\s)([a-z_]+):([0-9/]+)(?=\s|$)", line):
            if key == "retrans":
                now, _, total = value.partition("/")
                info.retrans = to_int(now, "ss", "retrans")
                info.retrans_total = to_int(total or now, "ss", "retrans")
            elif key in _INFO_INT and "/" not in value:
                setattr(info, _INFO_INT[key], to_int(value, "ss", key))
        if srtt := _SRTT_RE.search(line):
            info.rtt_ms = float(srtt.group(1))
        info.line = f"{info.line.rstrip()}\n{line.rstrip()}"
    return out
