"""Parsers for FRR 8.4 ``vtysh -c '... json'`` output, normalised onto :mod:`bgpdoctor.parsers.routers`.

``show bgp summary json`` is keyed by address family, then ``peers`` by address; ``show bgp
neighbors [ADDR] json`` is keyed by address. Both become ``NeighborState`` lists::

    show bgp neighbors json  ->  [NeighborState(address="10.213.1.2", state="established",
        peer_as=65002, local_as=65001, local_address="10.213.1.1", remote_router_id="10.213.0.2",
        up_for_s=13, hold_time_s=9, configured_hold_s=9, keepalive_s=3, accepted=0,
        advertised=2, capabilities=["4-byte-as", ...], families=["ipv4-unicast"],
        policy_missing=False, inbound_policy_missing=False, outbound_policy_missing=False, ...)]

``neighbor X passive`` shows as ``"bgpStateIs": "passive"`` while the neighbor is in Active (it
waits for the peer to connect); FRR prints no passive flag in any other state, so ``passive`` is
True or False in Active and None otherwise.

RFC 8212 shows as ``inboundEbgpRequiresPolicy`` / ``outboundEbgpRequiresPolicy`` per address family
of a neighbor, and as ``"peerState": "Policy"`` in the summary. A NOTIFICATION shows as
``lastNotificationReason`` and ``lastResetDueTo`` ("BGP Notification send" / "received").
``pfxRcd`` of the summary and ``acceptedPrefixCounter`` count prefixes *after* inbound policy; FRR
says how many arrived before policy only in ``received-routes`` (soft-reconfiguration inbound).

Routes: ``show bgp ipv4 unicast json`` and ``... neighbors X routes json`` (``routes``: prefix ->
paths), ``... neighbors X received-routes|filtered-routes|advertised-routes json`` (``receivedRoutes``
or ``advertisedRoutes``: prefix -> one entry) and ``show ip route json`` (prefix -> entries with
``installed`` and next hops) all become ``RouterRoute`` lists.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from bgpdoctor.parsers import ParseError, json_int, json_list, json_object, json_str, load_json
from bgpdoctor.parsers.routers import NeighborState, RouterRoute, capability_name, fsm_state, settled

P = "frr"
_STATE_ALIASES = {"clearing": "idle", "deleted": "idle"}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_UNKNOWN_ADDRESSES = ("Unknown", "0.0.0.0", "")


def _obj(value: Any, what: str) -> dict[str, Any]:
    return json_object(value, P, what)


def _str(value: Any, what: str) -> str | None:
    return json_str(value, P, what)


def _int(value: Any, what: str) -> int | None:
    return json_int(value, P, what)


def _bool(value: Any, what: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ParseError(P, f"{what}: expected true or false, got {str(value)[:40]!r}")


def _load_object(text: str, what: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    data = _obj(load_json(text, P, what), what)
    warning = data.get("warning")
    if isinstance(warning, str) and len(data) == 1:  # {"warning": "No such neighbor in this view/vrf"}
        raise ParseError(P, f"{what}: {warning[:120]}")
    return data


def _state(text: str | None, what: str) -> tuple[str, bool]:
    """("Idle (Admin)") -> ("idle", True): the FSM state and whether it is shut down by config."""
    if text is None:
        raise ParseError(P, f"{what}: no state")
    word, _, note = text.partition("(")
    key = word.strip().lower()
    state = _STATE_ALIASES.get(key) or fsm_state(word, P)
    return state, note.strip().rstrip(")").lower() == "admin"


def _family(name: str) -> str:
    """FRR's ``ipv4Unicast`` / ``l2VpnEvpn`` -> ``ipv4-unicast`` / ``l2-vpn-evpn``."""
    return _CAMEL.sub("-", name).lower()


def _seconds(msecs: Any, what: str) -> int | None:
    value = _int(msecs, what)
    return None if value is None else value // 1000


def _address(value: Any, what: str) -> str | None:
    text = _str(value, what)
    return None if text in _UNKNOWN_ADDRESSES else text


def _add(total: int | None, value: int | None) -> int | None:
    if value is None:
        return total
    return value if total is None else total + value


# -- sessions ------------------------------------------------------------------------------------


def parse_bgp_summary(text: str) -> list[NeighborState]:
    """Parse ``show bgp summary json`` (every address family) or ``show bgp ipv4 unicast summary
    json`` (one). A peer in several families is one session with its counts added up; the summary
    shows no capabilities, timers or notifications (``parse_bgp_neighbors`` does).

    Example: [NeighborState(address="10.213.1.1", state="established", peer_as=65001,
    local_as=65002, up_for_s=13, accepted=0, advertised=0,
    policy_missing=True, description="f1-no-policy", ...)]
    """
    data = _load_object(text, "summary")
    families = [("", data)] if "peers" in data else [(k, _obj(v, k)) for k, v in data.items()]
    sessions: dict[str, NeighborState] = {}
    for family, summary in families:
        if "peers" not in summary:
            raise ParseError(P, f"summary: {family or 'output'} has no peers: not a bgp summary")
        for address, raw in _obj(summary["peers"], f"{family}.peers").items():
            peer = _obj(raw, f"peer {address}")
            state, admin = _state(_str(peer.get("state"), "state"), f"peer {address}")
            peer_state = _str(peer.get("peerState"), "peerState")
            session = sessions.get(address)
            if session is None:
                session = sessions[address] = NeighborState(
                    address=address,
                    state=state,
                    peer_as=_int(peer.get("remoteAs"), "remoteAs"),
                    local_as=_int(peer.get("localAs"), "localAs"),
                    description=_str(peer.get("desc"), "desc"),
                )
            session.admin_down = session.admin_down or admin or peer_state == "Admin"
            if peer_state is not None:
                session.policy_missing = bool(session.policy_missing) or peer_state == "Policy"
                session.max_prefix_exceeded = bool(session.max_prefix_exceeded) or peer_state == "PfxCt"
            if state == "established":
                session.up_for_s = _seconds(peer.get("peerUptimeMsec"), "peerUptimeMsec")
                session.accepted = _add(session.accepted, _int(peer.get("pfxRcd"), "pfxRcd"))
                session.advertised = _add(session.advertised, _int(peer.get("pfxSnt"), "pfxSnt"))
    return settled(list(sessions.values()), False)


def _capabilities(raw: Any) -> tuple[list[str], list[str]]:
    """(negotiated capabilities, negotiated families) from ``neighborCapabilities``."""
    caps = _obj(raw, "neighborCapabilities")
    names: list[str] = []
    families: list[str] = []
    for key, value in caps.items():
        if isinstance(value, str) and value.startswith("advertisedAndReceived"):
            names.append(capability_name(key))
        elif isinstance(value, dict) and key in ("multiprotocolExtensions", "addPath"):
            both = [
                family
                for family, flags in value.items()
                if any(
                    k.endswith("AdvertisedAndReceived") or k == "advertisedAndReceived"
                    for k in _obj(flags, key)
                )
            ]
            if key == "multiprotocolExtensions":
                families.extend(_family(f) for f in both)
                if both:
                    names.append(capability_name(key))
            elif both:
                names.append(capability_name(key))
    return names, families


def _passive(peer: dict[str, Any], state: str, address: str) -> bool | None:
    """`neighbor X passive`: FRR says it (``"bgpStateIs": "passive"``) only while the neighbor is in
    Active, where it waits for the peer; in any other state the flag is not shown (None)."""
    shown = _str(peer.get("bgpStateIs"), f"neighbor {address} bgpStateIs")
    if state != "active":
        return None
    return shown == "passive"


def _neighbor(address: str, raw: Any) -> NeighborState:
    peer = _obj(raw, f"neighbor {address}")
    state, _ = _state(_str(peer.get("bgpState"), "bgpState"), f"neighbor {address}")
    established = state == "established"
    session = NeighborState(
        address=address,
        state=state,
        peer_as=_int(peer.get("remoteAs"), "remoteAs"),
        local_as=_int(peer.get("localAs"), "localAs"),
        local_address=_address(peer.get("hostLocal"), "hostLocal"),
        remote_router_id=_address(peer.get("remoteRouterId"), "remoteRouterId"),
        description=_str(peer.get("nbrDesc"), "nbrDesc"),
        admin_down=bool(_bool(peer.get("adminShutDown"), "adminShutDown")),
        configured_hold_s=_seconds(peer.get("bgpTimerConfiguredHoldTimeMsecs"), "configured hold time"),
    )
    if established:
        session.up_for_s = _seconds(peer.get("bgpTimerUpMsec"), "bgpTimerUpMsec")
        session.hold_time_s = _seconds(peer.get("bgpTimerHoldTimeMsecs"), "bgpTimerHoldTimeMsecs")
        session.keepalive_s = _seconds(peer.get("bgpTimerKeepAliveIntervalMsecs"), "keepalive")
        session.capabilities, session.families = _capabilities(peer.get("neighborCapabilities"))
    reset = _str(peer.get("lastResetDueTo"), "lastResetDueTo")
    session.last_notification = _str(peer.get("lastNotificationReason"), "lastNotificationReason")
    if session.last_notification is not None and reset is not None:
        lowered = reset.lower()
        session.notification_sent = "send" in lowered or "sent" in lowered
    if not established:
        session.last_error = reset
    session.passive = _passive(peer, state, address)
    session.max_prefix_exceeded = bool(_bool(peer.get("prefixesConfigExceedMax"), "prefixesConfigExceedMax"))
    session.inbound_policy_missing = session.outbound_policy_missing = False
    for family, info_raw in _obj(peer.get("addressFamilyInfo"), "addressFamilyInfo").items():
        info = _obj(info_raw, f"addressFamilyInfo.{family}")
        if family == "ipv4Unicast":  # FRR prints the key only on a client (bgpd/bgp_vty.c)
            session.reflector_client = bool(_bool(info.get("routeReflectorClient"), "routeReflectorClient"))
        if info.get("inboundEbgpRequiresPolicy"):
            session.inbound_policy_missing = True
        if info.get("outboundEbgpRequiresPolicy"):
            session.outbound_policy_missing = True
        session.accepted = _add(
            session.accepted, _int(info.get("acceptedPrefixCounter"), "acceptedPrefixCounter")
        )
        session.advertised = _add(
            session.advertised, _int(info.get("sentPrefixCounter"), "sentPrefixCounter")
        )
    session.policy_missing = session.inbound_policy_missing or session.outbound_policy_missing
    return session


def parse_bgp_neighbors(text: str) -> list[NeighborState]:
    """Parse ``show bgp neighbors json`` or ``show bgp neighbors ADDR json``.

    Example: [NeighborState(address="10.213.4.2", state="idle", peer_as=65099, local_as=65001,
    last_error="BGP Notification send", last_notification="OPEN Message Error/Bad Peer AS",
    notification_sent=True, ...)]
    """
    data = _load_object(text, "neighbors")
    out = []
    for address, raw in data.items():
        [session] = settled([_neighbor(address, raw)], False)
        if session.state != "established":
            # FRR counts the time since the last reset while down
            reset = _int(_obj(raw, f"neighbor {address}").get("lastResetTimerMsecs"), "lastResetTimerMsecs")
            session.up_for_s = None if reset is None else reset // 1000
        if not _is_address(address):  # an unnumbered neighbor is keyed by its interface
            session.address, session.name = None, address
        out.append(session)
    return out


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# -- routes --------------------------------------------------------------------------------------


def _bgp_path(prefix: str, raw: Any) -> RouterRoute:
    path = _obj(raw, f"path of {prefix}")
    next_hop = None
    interface = None
    for hop_raw in json_list(path.get("nexthops"), P, "nexthops"):
        hop = _obj(hop_raw, "nexthop")
        if next_hop is None or hop.get("used"):
            next_hop = _str(hop.get("ip"), "nexthop.ip")
            interface = _str(hop.get("interface"), "nexthop.interface")
    return RouterRoute(
        prefix=prefix,
        next_hop=next_hop,
        protocol="bgp",
        interface=interface,
        selected=bool(path.get("bestpath")),
        as_path=_str(path.get("path"), "path"),
        peer=_address(path.get("peerId"), "peerId") if path.get("peerId") != "(unspec)" else None,
        metric=_int(path.get("metric"), "metric"),
    )


def parse_bgp_routes(text: str) -> list[RouterRoute]:
    """Parse ``show bgp ipv4 unicast json`` or ``show bgp ipv4 unicast neighbors X routes json``.

    Example: [RouterRoute(prefix="10.90.3.0/24", next_hop="10.213.2.2", protocol="bgp",
    selected=True, installed=None, as_path="65003", peer="10.213.2.2", metric=None, ...)]
    """
    data = _load_object(text, "bgp table")
    if data and "routes" not in data:
        raise ParseError(P, "bgp table: no routes object: not a bgp table")
    routes: list[RouterRoute] = []
    for prefix, paths in _obj(data.get("routes"), "routes").items():
        routes.extend(_bgp_path(prefix, raw) for raw in json_list(paths, P, f"paths of {prefix}"))
    return routes


def parse_neighbor_routes(text: str) -> list[RouterRoute]:
    """Parse ``show bgp ipv4 unicast neighbors X received-routes|filtered-routes|advertised-routes
    json`` (FRR 8.4 lists filtered routes under ``receivedRoutes`` as well).

    Example: [RouterRoute(prefix="10.90.4.0/24", next_hop="10.213.2.2", protocol="bgp",
    selected=True, as_path="65003", ...)]
    """
    data = _load_object(text, "neighbor routes")
    if data and "receivedRoutes" not in data and "advertisedRoutes" not in data:
        raise ParseError(P, "neighbor routes: no receivedRoutes or advertisedRoutes")
    table = data.get("receivedRoutes", data.get("advertisedRoutes"))
    routes: list[RouterRoute] = []
    for prefix, raw in _obj(table, "routes").items():
        entry = _obj(raw, f"route {prefix}")
        symbols = _obj(entry.get("appliedStatusSymbols"), "appliedStatusSymbols")
        routes.append(
            RouterRoute(
                prefix=prefix,
                next_hop=_str(entry.get("nextHop"), "nextHop"),
                protocol="bgp",
                selected=bool(symbols.get(">")),
                as_path=_str(entry.get("path"), "path"),
                metric=_int(entry.get("metric"), "metric"),
            )
        )
    return routes


def parse_ip_route(text: str) -> list[RouterRoute]:
    """Parse ``show ip route json``: one RouterRoute per next hop, ``installed`` from zebra's FIB
    flag (a BGP route zebra did not install shows ``installed`` missing, i.e. False).

    Example: [RouterRoute(prefix="10.90.3.0/24", next_hop="10.213.2.2", protocol="bgp",
    interface="f1-b", selected=True, installed=True, distance=20, metric=0, ...)]
    """
    data = _load_object(text, "ip route")
    routes: list[RouterRoute] = []
    for prefix, entries in data.items():
        for raw in json_list(entries, P, f"routes of {prefix}"):
            entry = _obj(raw, f"route {prefix}")
            prefix_text = _str(entry.get("prefix"), "prefix") or prefix
            protocol = (_str(entry.get("protocol"), "protocol") or "unknown").lower()
            distance = _int(entry.get("distance"), "distance")
            metric = _int(entry.get("metric"), "metric")
            hops = [_obj(h, "nexthop") for h in json_list(entry.get("nexthops"), P, "nexthops")] or [{}]
            routes.extend(
                RouterRoute(
                    prefix=prefix_text,
                    next_hop=_str(hop.get("ip"), "nexthop.ip"),
                    protocol=protocol,
                    interface=_str(hop.get("interfaceName"), "nexthop.interfaceName"),
                    selected=bool(entry.get("selected")),
                    installed=bool(entry.get("installed")),
                    distance=distance,
                    metric=metric,
                )
                for hop in hops
            )
    return routes


__all__ = [
    "parse_bgp_neighbors",
    "parse_bgp_routes",
    "parse_bgp_summary",
    "parse_ip_route",
    "parse_neighbor_routes",
]
