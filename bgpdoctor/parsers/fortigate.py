"""Parsers for FortiGate (FortiOS) ``get router info bgp summary`` and ``get router info bgp
neighbors``, normalised onto :class:`bgpdoctor.parsers.routers.NeighborState`.

FortiOS's BGP daemon descends from the same code as Quagga/FRR, so the text looks like FRR's::

    Neighbor        V         AS MsgRcvd MsgSent   TblVer  InQ OutQ Up/Down  State/PfxRcd
    10.204.35.84   4      65302   43173   43182        0    0    0 09w3d01h Active
    10.205.35.95   4      65302  107081  107168       12    0    0 04w5d09h        1

A number in the last column means Established with that many accepted prefixes; a word is the
state. ``neighbors`` gives one block per ``BGP neighbor is A, remote AS N, local AS M, ... link``
with timers, capabilities, per-family counts and the last reset and NOTIFICATION::

    NeighborState(address="10.105.1.254", state="established", peer_as=65400, local_as=65400,
                  hold_time_s=3, keepalive_s=1, accepted=423, advertised=3,
                  last_notification="Hold Timer Expired/Unspecified Error Subcode",
                  notification_sent=True, families=["ipv4-unicast", "ipv6-unicast"], ...)

FortiOS has no RFC 8212 default deny, so the policy fields stay None.
"""

from __future__ import annotations

import re

from bgpdoctor.parsers import ParseError, to_int
from bgpdoctor.parsers.routers import NeighborState, capability_name, duration_seconds, fsm_state, settled

P = "fortigate"
_HEADER = re.compile(r"^Neighbor\s+V\s+AS\s+MsgRcvd\s+MsgSent\s+TblVer\s+InQ\s+OutQ\s+Up/Down\s+State/PfxRcd")
_LOCAL = re.compile(r"BGP router identifier (\S+), local AS number (\d+)")
_BLOCK = re.compile(r"^BGP neighbor is (?P<addr>[^\s,]+), remote AS (?P<ras>\d+)(?:, local AS (?P<las>\d+))?")
_STATE = re.compile(r"^\s*BGP state = (?P<state>[A-Za-z]+)(?P<note>\s*\([^)]*\))?(?:, up for (?P<up>\S+))?")
_TIMERS = re.compile(r"hold time is (\d+), keepalive interval is (\d+) seconds")
_CONFIGURED = re.compile(r"^\s*Configured hold time is (\d+)")
_CAPABILITY = re.compile(r"^\s{4}(?P<name>[^:]+):\s*(?P<how>.*)$")
_ACCEPTED = re.compile(r"^\s*(\d+) accepted prefixes")
_ANNOUNCED = re.compile(r"^\s*(\d+) announced prefixes")
_LOCAL_HOST = re.compile(r"^Local host: ([^,\s]+)")
_REMOTE_ID = re.compile(r"remote router ID (\S+)")
_LAST_RESET = re.compile(r"^\s*Last Reset: [^,]*, due to (?P<why>.*\S)")
_NOTIFICATION = re.compile(r"^\s*Notification Error Message: \((?P<what>.*)\)")


def _int(text: str, what: str) -> int:
    return to_int(text, P, what)


def _state(word: str, note: str | None) -> tuple[str, bool]:
    state = fsm_state(word, P)
    return state, bool(note and "admin" in note.lower())


def parse_bgp_summary(text: str) -> list[NeighborState]:
    """Parse ``get router info bgp summary``.

    Example: [NeighborState(address="10.205.35.95", state="established", peer_as=65302,
    local_as=65302, up_for_s=2970000, accepted=1, ...)]
    """
    if not text.strip():
        return []
    lines = text.splitlines()
    local = next((m for line in lines if (m := _LOCAL.search(line))), None)
    local_as = _int(local.group(2), "local AS number") if local else None
    start = next((i for i, line in enumerate(lines) if _HEADER.match(line.strip())), None)
    if start is None:
        raise ParseError(P, "no 'Neighbor V AS MsgRcvd ... State/PfxRcd' header: not a bgp summary")
    sessions: list[NeighborState] = []
    for line in lines[start + 1 :]:
        words = line.split()
        if not words:
            continue
        if words[0] == "Total":
            break
        if len(words) < 10:
            raise ParseError(P, f"summary row with {len(words)} columns: {line[:80]!r}")
        address, peer_as, up_down, last = words[0], words[2], words[8], words[9:]
        session = NeighborState(address=address, state="idle", peer_as=_int(peer_as, "AS"), local_as=local_as)
        if len(last) == 1 and last[0].isascii() and last[0].isdigit():
            session.state = "established"
            session.accepted = _int(last[0], "State/PfxRcd")
            session.up_for_s = duration_seconds(up_down, P)
        else:
            session.state, session.admin_down = _state(last[0], " ".join(last[1:]))
        sessions.append(session)
    return settled(sessions, True)


def _capability(session: NeighborState, name: str, how: str) -> None:
    if "advertised and received" not in how:
        return
    family = re.fullmatch(r"Address family (\S+) (\S+)", name.strip())
    if family:
        session.families.append(f"{family.group(1)}-{family.group(2)}".lower())
        return
    cleaned = re.sub(r"\s*capabilt?i?ty$", "", name.strip(), flags=re.IGNORECASE)
    session.capabilities.append(capability_name(cleaned))


def _add(total: int | None, value: int) -> int:
    return value if total is None else total + value


def _apply_line(session: NeighborState, line: str, in_capabilities: bool) -> bool:
    """Read one detail line into session; returns whether the capability list continues."""
    if in_capabilities and (m := _CAPABILITY.match(line)):
        _capability(session, m.group("name"), m.group("how"))
        return True
    if line.strip() == "Neighbor capabilities:":
        return True
    if m := _STATE.match(line):
        session.state, session.admin_down = _state(m.group("state"), m.group("note"))
        if m.group("up") and session.state == "established":
            session.up_for_s = duration_seconds(m.group("up"), P)
    elif m := _CONFIGURED.match(line):
        session.configured_hold_s = _int(m.group(1), "configured hold time")
    elif m := _TIMERS.search(line):
        session.hold_time_s = _int(m.group(1), "hold time")
        session.keepalive_s = _int(m.group(2), "keepalive interval")
    elif (m := _REMOTE_ID.search(line)) and "BGP version" in line:
        session.remote_router_id = None if m.group(1) == "0.0.0.0" else m.group(1)
    elif m := _ACCEPTED.match(line):
        session.accepted = _add(session.accepted, _int(m.group(1), "accepted prefixes"))
    elif m := _ANNOUNCED.match(line):
        session.advertised = _add(session.advertised, _int(m.group(1), "announced prefixes"))
    elif m := _LOCAL_HOST.match(line):
        session.local_address = m.group(1)
    elif m := _LAST_RESET.match(line):
        session.last_error = m.group("why")
    elif m := _NOTIFICATION.match(line):
        session.last_notification = m.group("what")
    elif "exceeded the max" in line.lower():
        session.max_prefix_exceeded = True
    return False


def parse_bgp_neighbors(text: str) -> list[NeighborState]:
    """Parse ``get router info bgp neighbors [ADDR]``.

    Example: [NeighborState(address="10.105.2.254", state="established", up_for_s=45712,
    hold_time_s=3, configured_hold_s=3, last_error=None,
    last_notification="Hold Timer Expired/Unspecified Error Subcode", notification_sent=True, ...)]
    """
    sessions: list[NeighborState] = []
    session: NeighborState | None = None
    in_capabilities = False
    for line in text.splitlines():
        if m := _BLOCK.match(line):
            session = NeighborState(
                address=m.group("addr"),
                state="idle",
                peer_as=_int(m.group("ras"), "remote AS"),
                local_as=_int(m.group("las"), "local AS") if m.group("las") else None,
            )
            sessions.append(session)
            in_capabilities = False
            continue
        if session is not None:
            in_capabilities = _apply_line(session, line, in_capabilities)
    if not sessions and text.strip() and "neighbor table" not in text:
        raise ParseError(P, "no 'BGP neighbor is' block: not bgp neighbors output")
    for s in sessions:
        if s.state != "established":
            s.hold_time_s = s.keepalive_s = None
        reset = s.last_error
        if s.last_notification is not None and reset is not None:
            s.notification_sent = "sent" in reset.lower() or "send" in reset.lower()
    return settled(sessions, True)


__all__ = ["parse_bgp_neighbors", "parse_bgp_summary"]
