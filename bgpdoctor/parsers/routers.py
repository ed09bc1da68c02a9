"""The normalised session and route shape every router parser returns (FRR, RouterOS, FortiGate,
Huawei VRP), so the engine reads one model whatever the daemon.

``None`` always means "this output does not say" (unknown), never zero or false::

    RouterSession(address="10.213.4.2", state="idle", remote_as=65099, local_as=65001,
                  local_address="10.213.4.1", remote_router_id=None, uptime_seconds=None,
                  hold_time=None, configured_hold_time=9, keepalive=None,
                  prefixes_received=None, prefixes_accepted=0, prefixes_advertised=None,
                  last_error="BGP Notification send",
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
class RouterSession:
    """One BGP neighbor as a router reports it; ``state`` is one of FSM_STATES (lower case)."""

    address: str
    state: str
    remote_as: int | None = None
    local_as: int | None = None
    local_address: str | None = None
    remote_router_id: str | None = None
    uptime_seconds: int | None = None  # time in Established (None: not established or not shown)
    hold_time: int | None = None  # negotiated, seconds (None before an OPEN exchange)
    configured_hold_time: int | None = None
    keepalive: int | None = None  # negotiated keepalive interval, seconds
    prefixes_received: int | None = None  # before inbound policy
    prefixes_accepted: int | None = None  # after inbound policy
    prefixes_advertised: int | None = None
    last_error: str | None = None  # why the session last went down / was reset, as the router words it
    last_notification: str | None = None  # e.g. "OPEN Message Error/Bad Peer AS"
    notification_sent: bool | None = None  # True: this router sent it, False: received it
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
    "RouterRoute",
    "RouterSession",
    "capability_name",
    "duration_seconds",
    "fsm_state",
]
