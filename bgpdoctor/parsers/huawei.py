"""Parsers for Huawei VRP ``display bgp peer`` and ``display bgp peer ADDR verbose``, normalised
onto :class:`bgpdoctor.parsers.routers.NeighborState`.

``display bgp peer``::

     BGP local router ID : 10.2.3.4
     Local AS number : 10
      Peer          V    AS  MsgRcvd  MsgSent  OutQ  Up/Down       State PrefRcv
      10.1.1.1       4   100        0        0     0 00:00:07        Idle       0
      10.2.2.2       4   200       32       35     0 00:17:49 Established       0

Up/Down is how long the peer has been in its current state, so it is an uptime only when the
state is Established. PrefRcv counts the prefixes the peer sent (before policy).

``display bgp peer ADDR verbose`` gives one block per ``BGP Peer is A, remote AS N``; its
capabilities are those the peer announced (``Peer supports bgp ... capability``) and the
address families both sides announced. VRP's verbose view shows no NOTIFICATION text (that is in
``display bgp peer ADDR log-info``), so ``last_notification`` stays None.
"""

from __future__ import annotations

import re

from bgpdoctor.parsers import ParseError, to_int
from bgpdoctor.parsers.routers import NeighborState, capability_name, duration_seconds, fsm_state, settled

P = "huawei"
_HEADER = re.compile(r"^Peer\s+V\s+AS\s+MsgRcvd\s+MsgSent\s+OutQ\s+Up/Down\s+State\s+PrefRcv$")
_LOCAL_AS = re.compile(r"^local AS number\s*:\s*(\S+)\s*$", re.IGNORECASE)
_BLOCK = re.compile(r"^BGP Peer is (?P<addr>[^\s,]+),\s*remote AS (?P<ras>\S+)")
_STATE = re.compile(r"^BGP current state:\s*(?P<state>[A-Za-z]+)(?:,\s*(?:Up|Down) for (?P<for>\S+))?")
_HOLD = re.compile(r"Hold Time:\s*(\d+)\s*sec(?:\s+Keepalive Time:\s*(\d+)\s*sec)?")
_PEER_SUPPORTS = re.compile(r"^Peer supports bgp (?P<name>.*\S)")
_FAMILY = re.compile(r"^Address family (?P<afi>\S+) (?P<safi>\S+): advertised and received\s*$")
_GR = re.compile(r"^Graceful Restart Capability: advertised and received", re.IGNORECASE)


def _int(text: str, what: str) -> int:
    return to_int(text, P, what)


def _as_number(text: str, what: str) -> int:
    """VRP may print a 4-byte AS in asdot (``1.10``); both forms become one integer."""
    high, dot, low = text.partition(".")
    if dot:
        return _int(high, what) * 65536 + _int(low, what)
    return _int(text, what)


def parse_bgp_peer(text: str) -> list[NeighborState]:
    """Parse ``display bgp peer`` (IPv4 unicast peers table).

    Example: [NeighborState(address="10.1.1.1", state="idle", peer_as=100, local_as=10,
    up_for_s=None, received=None, ...), NeighborState(address="10.2.2.2",
    state="established", peer_as=200, local_as=10, up_for_s=1069, received=0, ...)]
    """
    if not text.strip():
        return []
    lines = [line.strip() for line in text.splitlines()]
    local_as = next(
        (_as_number(m.group(1), "local AS number") for line in lines if (m := _LOCAL_AS.match(line))), None
    )
    start = next((i for i, line in enumerate(lines) if _HEADER.match(line)), None)
    if start is None:
        raise ParseError(P, "no 'Peer V AS MsgRcvd MsgSent OutQ Up/Down State PrefRcv' header")
    sessions: list[NeighborState] = []
    for line in lines[start + 1 :]:
        words = line.split()
        if words and words[0].startswith("*"):  # "* - Dynamic" marks a dynamic peer
            words = [words[0][1:], *words[1:]] if len(words[0]) > 1 else words[1:]
        if not words:
            continue
        if len(words) < 9:
            raise ParseError(P, f"peer row with {len(words)} columns: {line[:80]!r}")
        address, up_down, state_words, received = words[0], words[6], words[7:-1], words[-1]
        state = fsm_state("".join(state_words), P)
        session = NeighborState(
            address=address, state=state, peer_as=_as_number(words[2], "AS"), local_as=local_as
        )
        if state == "established":
            session.up_for_s = duration_seconds(up_down, P)
            session.received = _int(received, "PrefRcv")
        sessions.append(session)
    return settled(sessions, True)


def _apply_line(session: NeighborState, line: str) -> None:
    if m := _STATE.match(line):
        session.state = fsm_state(m.group("state"), P)
        if session.state == "established" and m.group("for"):
            session.up_for_s = duration_seconds(m.group("for"), P)
    elif line.startswith("BGP version") and "Remote router ID" in line:
        router_id = line.rsplit(None, 1)[-1]
        session.remote_router_id = None if router_id == "0.0.0.0" else router_id
    elif line.startswith("Received total routes:"):
        session.received = _int(line.split(":", 1)[1], "received total routes")
    elif line.startswith("Advertised total routes:"):
        session.advertised = _int(line.split(":", 1)[1], "advertised total routes")
    elif line.startswith(("Negotiated:", "Configured:")) and (m := _HOLD.search(line)):
        if line.startswith("Configured:"):
            session.configured_hold_s = _int(m.group(1), "configured hold time")
        else:
            session.hold_time_s = _int(m.group(1), "negotiated hold time")
            session.keepalive_s = _int(m.group(2), "negotiated keepalive") if m.group(2) else None
    elif m := _PEER_SUPPORTS.match(line):
        name = m.group("name").removesuffix(" capability").removesuffix(" extension")
        session.capabilities.append(capability_name(name))
    elif m := _FAMILY.match(line):
        session.families.append(f"{m.group('afi')}-{m.group('safi')}".lower())
    elif _GR.match(line):
        session.capabilities.append("graceful-restart")


def parse_bgp_peer_verbose(text: str) -> list[NeighborState]:
    """Parse ``display bgp peer [ADDR] verbose``.

    Example: [NeighborState(address="10.2.2.9", state="established", peer_as=100,
    remote_router_id="10.1.1.1", up_for_s=3473, hold_time_s=180, configured_hold_s=180,
    keepalive_s=60, received=0, advertised=2,
    capabilities=["multiprotocol", "route-refresh", "4-byte-as"], families=["ipv4-unicast"], ...)]
    """
    sessions: list[NeighborState] = []
    for raw in text.splitlines():
        line = raw.strip()
        if m := _BLOCK.match(line):
            sessions.append(
                NeighborState(address=m.group("addr"), state="idle", peer_as=_as_number(m.group("ras"), "AS"))
            )
        elif sessions:
            _apply_line(sessions[-1], line)
    if not sessions and text.strip():
        raise ParseError(P, "no 'BGP Peer is' block: not display bgp peer verbose output")
    for s in sessions:
        if s.state != "established":
            s.hold_time_s = s.keepalive_s = None
    return settled(sessions, True)


__all__ = ["parse_bgp_peer", "parse_bgp_peer_verbose"]
