"""The normalised session and route shape every router parser returns (FRR, RouterOS, FortiGate,
Huawei VRP), so the engine reads one model whatever the daemon; BIRD's and GoBGP's drivers read
their own outputs onto the same NeighborState.

``None`` always means "this output does not say" (unknown), never zero or false::

    NeighborState(address="10.213.4.2", state="idle", peer_as=65099, local_as=65001,
                  local_address="10.213.4.1", remote_router_id=None, up_for_s=14,
                  hold_time_s=None, configured_hold_s=9, keepalive_s=None,
                  received=None, accepted=0, advertised=None,
                  last_error="BGP Notification send: OPEN Message Error/Bad Peer AS",
                  last_notification="OPEN Message Error/Bad Peer AS", notification_sent=True,
                  capabilities=[], families=[], policy_missing=False,
                  inbound_policy_missing=False, outbound_policy_missing=False,
                  max_prefix_exceeded=None, admin_down=False, description="bad-as")

    RouterRoute(prefix="10.90.3.0/24", next_hop="10.213.2.2", protocol="bgp", interface="f1-b",
                selected=True, installed=True, as_path="65003", peer="10.213.2.2", distance=20,
                metric=0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bgpdoctor.parsers import ParseError

FSM_STATES = ("idle", "connect", "active", "opensent", "openconfirm", "established")

CAPABILITY_NAMES: dict[str, str] = {  # vendor spelling (lower case) -> the one name used here
    "4byteas": "4-byte-as",
    "as4": "4-byte-as",
    "4-byte-as": "4-byte-as",
    "routerefresh": "route-refresh",
    "rr": "route-refresh",
    "route-refresh": "route-refresh",
    "enhancedrouterefresh": "enhanced-route-refresh",
    "err": "enhanced-route-refresh",
    "gracefulrestart": "graceful-restart",
    "gr": "graceful-restart",
    "graceful-restart": "graceful-restart",
    "longlivedgracefulrestart": "long-lived-graceful-restart",
    "llgr": "long-lived-graceful-restart",
    "multiprotocolextensions": "multiprotocol",
    "mp": "multiprotocol",
    "multi-protocol": "multiprotocol",
    "extendedmessage": "extended-message",
    "extendednexthop": "extended-nexthop",
    "enhe": "extended-nexthop",
    "addpath": "add-path",
    "ap": "add-path",
    "dynamic": "dynamic",
    "hostname": "hostname",
}


@dataclass
class NeighborState:
    """One BGP neighbor as its daemon reports it, in the one daemon-independent shape every driver
    and router parser produces (re-exported as bgpdoctor.drivers.NeighborState).

    `state` is lower case: one of FSM_STATES, passive, down (BIRD: the protocol is disabled or
    stopped) or admin-down. `last_error` says why a neighbor that is not Established went down, as
    the daemon words it (a NOTIFICATION after a colon); None while Established. A field the daemon
    does not report is None, never zero or false.
    Example: NeighborState(address="192.168.0.81", name="yuuko_k8s", state="active",
    last_error="Socket: Connection refused", local_as=65001, peer_as=65010)
    """

    address: str | None
    state: str
    name: str | None = None  # BIRD's protocol, FRR's unnumbered interface, a router's description
    last_error: str | None = None
    error_wait: bool = False  # BIRD holds the protocol back after an error before it retries
    local_as: int | None = None  # the AS this end announces (None: the daemon does not print it)
    peer_as: int | None = None  # the AS this end expects from the neighbor
    passive: bool | None = None
    multihop_ttl: int | None = None  # None with multihop_shown: multihop is off
    multihop_shown: bool = False  # the daemon reports multihop even while the session is down
    since: str | None = None  # when the state began, as the daemon prints it
    up_for_s: int | None = None  # seconds in this state, when the daemon's own clock tells
    since_epoch: int | None = None  # when the state began, Unix seconds
    received: int | None = None  # prefixes before inbound policy
    accepted: int | None = None  # prefixes after inbound policy
    advertised: int | None = None
    hold_time_s: int | None = None  # negotiated hold time (None while not established)
    configured_hold_s: int | None = None
    keepalive_s: int | None = None  # negotiated keepalive interval
    local_address: str | None = None
    remote_router_id: str | None = None
    last_notification: str | None = None  # e.g. "OPEN Message Error/Bad Peer AS"
    notification_sent: bool | None = None  # True: this end sent it, False: received it
    capabilities: list[str] = field(default_factory=list)  # negotiated (both sides), CAPABILITY_NAMES
    families: list[str] = field(default_factory=list)  # negotiated address families, "ipv4-unicast"
    policy_missing: bool | None = None  # RFC 8212: an eBGP peer without policy in or out
    inbound_policy_missing: bool | None = None  # RFC 8212: updates from this peer are discarded
    outbound_policy_missing: bool | None = None  # RFC 8212: nothing is sent to this peer
    max_prefix_exceeded: bool | None = None  # the session was stopped by a maximum-prefix limit
    admin_down: bool = False
    description: str | None = None
    bfd: bool | None = None  # BFD configured for the session (RouterOS `use-bfd`; None: not shown)
    bfd_state: str | None = None  # "down" when the router says its BFD session is down
    # this end reflects the neighbor's iBGP routes to its other iBGP peers and theirs to it
    # (FRR `route-reflector-client`); None: the daemon's output does not say
    reflector_client: bool | None = None


@dataclass
class RouterRoute:
    """One route of a router's BGP table or RIB/FIB; ``selected`` is best path / active route."""

    prefix: str
    next_hop: str | None
    protocol: str  # bgp, connected, static, kernel, ... (lower case)
    interface: str | None = None
    selected: bool = False
    installed: bool | None = None  # in the FIB (None: the output does not say)
    as_path: str | None = None  # space separated ASNs
    peer: str | None = None  # the neighbor it was learned from
    distance: int | None = None
    metric: int | None = None
    table: str | None = None  # the routing table (None: the output does not say, the main one)


def settled(sessions: list[NeighborState], named: bool) -> list[NeighborState]:
    """A router parser's sessions in the shape's terms, once parsed: `last_error` joins the router's
    reason and its NOTIFICATION and is None while Established (a reset then is history), an
    uptime counts only while Established, an administratively shut neighbor is `admin-down`;
    `named`: the router's description names the neighbor (vendor routers)."""
    for s in sessions:
        if s.state == "established":
            s.last_error = None
        else:
            s.last_error = ": ".join(x for x in (s.last_error, s.last_notification) if x) or None
            s.up_for_s = None
        if s.admin_down:
            s.state = "admin-down"
        if named:
            s.name = s.description
    return sessions


def fsm_state(text: str, parser: str) -> str:
    """A vendor's state word to one of FSM_STATES. Example: fsm_state("Established", "frr")."""
    word = text.strip().lower().replace("_", "").replace("-", "").replace(" ", "")
    if word in FSM_STATES:
        return word
    raise ParseError(parser, f"unknown BGP state {text[:40]!r}")


def capability_name(text: str) -> str:
    """Example: capability_name("4byteAs") -> "4-byte-as"; unknown names kept, lower-cased."""
    key = text.strip().lower()
    return CAPABILITY_NAMES.get(key.replace("-", "").replace(" ", ""), CAPABILITY_NAMES.get(key, key))


_DURATION_PART = re.compile(r"(\d+)(w|d|h|ms|m|s)")
_DURATION_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0}


def duration_seconds(text: str, parser: str) -> int:
    """``1w2d03:04:05``, ``03:04:05``, ``00h57m53s``, ``3m``, ``4s70ms``, ``1d2h`` -> whole seconds."""
    value = text.strip().lower()
    total = 0
    clock = re.fullmatch(r"(?:(\d{1,9})w)?(?:(\d{1,9})d)?\s*(?:(\d{1,9}):)?(\d{1,9}):(\d{1,9})", value)
    if clock:
        weeks, days, hours, minutes, seconds = (int(g) if g else 0 for g in clock.groups())
        return weeks * 604800 + days * 86400 + hours * 3600 + minutes * 60 + seconds
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise ParseError(parser, f"not a duration: {text[:40]!r}")
    for number, unit in parts:
        if len(number) > 12:
            raise ParseError(parser, f"duration out of range: {text[:40]!r}")
        total += int(number) * _DURATION_UNITS[unit]
    return total


__all__ = [
    "CAPABILITY_NAMES",
    "FSM_STATES",
    "NeighborState",
    "RouterRoute",
    "capability_name",
    "duration_seconds",
    "fsm_state",
    "settled",
]
