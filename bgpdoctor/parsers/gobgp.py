"""Parsers for GoBGP 3.10 ``gobgp -j`` output.

GoBGP marshals its protobuf API structs with Go's ``encoding/json``: keys are snake_case, enums are
integers and zero values are left out (``admin_state`` is missing while the peer is up,
``received`` is missing when it is 0), so every field has a default here.

``gobgp -j neighbor`` prints a list, ``gobgp -j neighbor 10.0.1.1`` a single object; both become::

    [GobgpNeighbor(address="10.0.1.1", peer_as=64512, local_as=64514, state="established",
                   admin_down=False, passive=False, multihop_ttl=None, local_address="10.0.1.2",
                   router_id="10.0.4.1", uptime_epoch=1795382528, downtime_epoch=None,
                   hold_time=9, received=4, accepted=4,
                   advertised=None, description="router-mine")]

``gobgp -j global`` -> ``GobgpGlobal(asn=64514, router_id="10.0.1.2", listen_port=-1,
listen_addresses=["0.0.0.0", "::"])`` (``listen_port`` -1 means it never listens, as in Cilium).

``gobgp -j global rib -a ipv4`` (an object keyed by prefix) -> ``[GobgpPath(prefix="10.42.3.0/24",
next_hop="10.0.1.1", as_path="64512 64513", best=True, neighbor_ip="10.0.1.1")]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bgpdoctor.parsers import ParseError, json_int, json_list, json_object, json_str, load_json

SESSION_STATES: dict[int, str] = {
    0: "unknown",
    1: "idle",
    2: "connect",
    3: "active",
    4: "opensent",
    5: "openconfirm",
    6: "established",
}
_ADMIN_DOWN = (1, "ADMIN_STATE_DOWN", "down")


@dataclass
class GobgpNeighbor:
    """One peer of ``gobgp -j neighbor``; ``state`` is the lower-case session state name."""

    address: str
    peer_as: int
    local_as: int
    state: str
    admin_down: bool = False
    passive: bool = False
    multihop_ttl: int | None = None
    local_address: str | None = None
    router_id: str | None = None
    uptime_epoch: int | None = None  # when the session last came up (Unix seconds)
    downtime_epoch: int | None = None  # when it last went down
    hold_time: int | None = None  # negotiated hold time in seconds (None before an OPEN exchange)
    received: int | None = None
    accepted: int | None = None
    advertised: int | None = None
    description: str | None = None


@dataclass
class GobgpGlobal:
    """``gobgp -j global``."""

    asn: int
    router_id: str
    listen_port: int
    listen_addresses: list[str] = field(default_factory=list)


@dataclass
class GobgpPath:
    """One path of ``gobgp -j global rib``; ``as_path`` is space separated, AS_SETs in braces."""

    prefix: str
    next_hop: str | None
    as_path: str
    best: bool
    neighbor_ip: str | None = None


def _load(text: str) -> Any:
    return load_json(text, "gobgp")


def _obj(value: Any, what: str) -> dict[str, Any]:
    return json_object(value, "gobgp", what)


def _list(value: Any, what: str) -> list[Any]:
    return json_list(value, "gobgp", what)


def _str(value: Any, what: str) -> str | None:
    return json_str(value, "gobgp", what)


def _int_or_none(value: Any, what: str) -> int | None:
    return json_int(value, "gobgp", what)


def _state_name(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, str):  # protojson spelling, e.g. "ESTABLISHED" or "SESSION_STATE_ACTIVE"
        return value.lower().removeprefix("session_state_")
    n = _int_or_none(value, "session_state")
    return SESSION_STATES.get(n if n is not None else 0, f"state-{n}")


def _neighbor(raw: Any) -> GobgpNeighbor:
    peer = _obj(raw, "neighbor")
    conf = _obj(peer.get("conf"), "conf")
    state = _obj(peer.get("state"), "state")
    transport = _obj(peer.get("transport"), "transport")
    multihop = _obj(peer.get("ebgp_multihop"), "ebgp_multihop")
    timers_state = _obj(_obj(peer.get("timers"), "timers").get("state"), "timers.state")
    address = _str(conf.get("neighbor_address"), "conf.neighbor_address") or _str(
        state.get("neighbor_address"), "state.neighbor_address"
    )
    if not address:
        raise ParseError("gobgp", "neighbor without neighbor_address")
    counts: dict[str, int | None] = {"received": None, "accepted": None, "advertised": None}
    for afi in _list(peer.get("afi_safis"), "afi_safis"):
        afi_state = _obj(_obj(afi, "afi_safi").get("state"), "afi_safi.state")
        for key in ("received", "accepted"):
            counts[key] = (counts[key] or 0) + (_int_or_none(afi_state.get(key), key) or 0)
        if "advertised" in afi_state:  # only computed when asked for one neighbor; None = unknown
            counts["advertised"] = (counts["advertised"] or 0) + (
                _int_or_none(afi_state["advertised"], "advertised") or 0
            )
    uptime = _obj(timers_state.get("uptime"), "uptime")
    downtime = _obj(timers_state.get("downtime"), "downtime")
    ttl = _int_or_none(multihop.get("multihop_ttl"), "multihop_ttl")
    return GobgpNeighbor(
        address=address,
        peer_as=_int_or_none(conf.get("peer_asn", conf.get("peer_as", state.get("peer_asn"))), "peer_asn")
        or 0,
        local_as=_int_or_none(conf.get("local_asn", conf.get("local_as")), "local_asn") or 0,
        state=_state_name(state.get("session_state")),
        admin_down=state.get("admin_state") in _ADMIN_DOWN or bool(conf.get("admin_down")),
        passive=bool(transport.get("passive_mode", False)),
        multihop_ttl=ttl if multihop.get("enabled") else None,
        local_address=_str(transport.get("local_address"), "transport.local_address") or None,
        router_id=_str(state.get("router_id"), "state.router_id") or None,
        uptime_epoch=_int_or_none(uptime.get("seconds"), "uptime.seconds"),
        downtime_epoch=_int_or_none(downtime.get("seconds"), "downtime.seconds"),
        hold_time=_int_or_none(timers_state.get("negotiated_hold_time"), "negotiated_hold_time"),
        received=counts["received"],
        accepted=counts["accepted"],
        advertised=counts["advertised"],
        description=_str(conf.get("description"), "conf.description") or None,
    )


def parse_neighbors(text: str) -> list[GobgpNeighbor]:
    """Parse ``gobgp -j neighbor`` (a list) or ``gobgp -j neighbor ADDR`` (one object).

    Example: [GobgpNeighbor(address="10.0.5.99", peer_as=64513, local_as=64514, state="active",
    admin_down=False, passive=False, multihop_ttl=4, local_address="0.0.0.0", router_id=None,
    uptime_epoch=None, downtime_epoch=None, hold_time=None, received=0, accepted=0, advertised=None,
    description=None)]
    """
    return neighbors_of(_load(text))


def neighbors_of(data: Any) -> list[GobgpNeighbor]:
    """parse_neighbors of `gobgp -j neighbor` already decoded (World.json decodes it once per run)."""
    if data is None:
        return []
    items = data if isinstance(data, list) else [data]
    return [_neighbor(item) for item in items]


def parse_global(text: str) -> GobgpGlobal:
    """Parse ``gobgp -j global``.

    Example: GobgpGlobal(asn=64515, router_id="10.0.3.2", listen_port=179,
    listen_addresses=["10.0.3.2"])
    """
    data = _obj(_load(text), "global")
    asn = _int_or_none(data.get("asn", data.get("as")), "asn")
    router_id = _str(data.get("router_id"), "router_id")
    if asn is None or router_id is None:
        raise ParseError("gobgp", "global: missing asn or router_id")
    addresses = [
        _str(a, "listen_addresses[]") for a in _list(data.get("listen_addresses"), "listen_addresses")
    ]
    return GobgpGlobal(
        asn=asn,
        router_id=router_id,
        listen_port=_int_or_none(data.get("listen_port"), "listen_port") or 0,
        listen_addresses=[a for a in addresses if a is not None],
    )


def _as_path(attrs: list[Any]) -> str:
    parts: list[str] = []
    for attr in attrs:
        a = _obj(attr, "attr")
        if a.get("type") != 2:
            continue
        for raw_seg in _list(a.get("as_paths"), "as_paths"):
            seg = _obj(raw_seg, "as_path segment")
            asns = [str(_int_or_none(x, "asns[]")) for x in _list(seg.get("asns"), "asns")]
            if seg.get("segment_type") == 1:  # AS_SET
                parts.append("{" + ",".join(asns) + "}")
            else:
                parts.extend(asns)
    return " ".join(parts)


def _next_hop(attrs: list[Any]) -> str | None:
    for attr in attrs:
        a = _obj(attr, "attr")
        if a.get("type") in (3, 14) and a.get("nexthop"):  # NEXT_HOP, MP_REACH_NLRI
            return _str(a["nexthop"], "nexthop")
    return None


def parse_rib(text: str) -> list[GobgpPath]:
    """Parse ``gobgp -j global rib [-a ipv4]`` (``{prefix: [path, ...]}``; ``{}`` when empty).

    Example: [GobgpPath(prefix="10.42.0.0/24", next_hop="0.0.0.0", as_path="", best=True,
    neighbor_ip=None)]   # a locally injected pod CIDR
    """
    data = _load(text)
    if data is None:
        return []
    if isinstance(data, dict):
        groups = list(data.items())
    elif isinstance(data, list):  # older releases: [{"prefix": ..., "paths": [...]}]
        destinations = [_obj(d, "destination") for d in data]
        groups = [(_str(d.get("prefix"), "prefix") or "", d.get("paths")) for d in destinations]
    else:
        raise ParseError("gobgp", f"rib: unexpected JSON {type(data).__name__}")
    paths: list[GobgpPath] = []
    for prefix, items in groups:
        if not isinstance(items, list):
            raise ParseError("gobgp", f"rib: paths of {prefix} are not a list")
        for raw in items:
            p = _obj(raw, "path")
            attrs = _list(p.get("attrs"), "attrs")
            nlri = _obj(p.get("nlri"), "nlri")
            paths.append(
                GobgpPath(
                    prefix=_str(nlri.get("prefix"), "nlri.prefix") or prefix,
                    next_hop=_next_hop(attrs),
                    as_path=_as_path(attrs),
                    best=bool(p.get("best", False)),
                    neighbor_ip=_str(p.get("neighbor-ip"), "neighbor-ip") or None,
                )
            )
    return paths
