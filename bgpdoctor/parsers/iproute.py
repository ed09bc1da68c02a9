"""Parsers for iproute2 JSON output: ``ip -j route show [table all]``, ``ip -j addr``,
``ip -j route get X``.

``ip -j route show`` input (one element)::

    {"dst":"10.42.3.0/24","gateway":"10.0.4.2","dev":"r2-mid","protocol":"bird","metric":32,"flags":[]}

Output: ``Route(dst="10.42.3.0/24", gateway="10.0.4.2", dev="r2-mid", protocol="bird",
scope=None, type="unicast", metric=32, prefsrc=None, mtu=None, nexthops=[], table="main")``.
``"default"`` becomes ``0.0.0.0/0`` (``::/0`` for IPv6), a bare address gets ``/32`` (``/128``),
ECMP routes list ``nexthops=[("10.0.1.2", "r2-g1"), ("10.0.3.2", "r2-g2")]``.

``ip -j route get`` either prints JSON or, on failure, only ``RTNETLINK answers: <reason>`` on
stderr; pass that text in and get ``RouteGet(..., error="Network is unreachable")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bgpdoctor.parsers import ParseError, json_int, json_list, json_str, load_json


@dataclass
class Route:
    """One route; ``type`` is unicast, unreachable, blackhole, prohibit, local, broadcast..."""

    dst: str
    gateway: str | None = None
    dev: str | None = None
    protocol: str | None = None
    scope: str | None = None
    type: str = "unicast"
    metric: int | None = None
    prefsrc: str | None = None
    mtu: int | None = None
    nexthops: list[tuple[str | None, str | None]] = field(default_factory=list)
    table: str = "main"


@dataclass
class Address:
    """One address of ``ip -j addr``; ``mtu`` and ``state`` (operstate) come from its link."""

    ifname: str
    address: str
    prefixlen: int
    mtu: int | None
    state: str | None
    family: str = "inet"
    # the link's hardware address: which host holds a link-local next hop (not part of equality)
    lladdr: str | None = field(default=None, compare=False, repr=False)


@dataclass
class RouteGet:
    """``ip -j route get``; ``error`` holds the RTNETLINK reason when the kernel refused."""

    dst: str | None
    gateway: str | None = None
    dev: str | None = None
    prefsrc: str | None = None
    mtu: int | None = None
    error: str | None = None
    type: str = "unicast"
    expires: int | None = None


def _load_list(json_text: str, what: str) -> list[dict[str, Any]]:
    data = load_json(json_text, "iproute", what)
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise ParseError("iproute", f"{what}: expected a JSON list of objects")
    return data


def _int(value: Any, what: str) -> int | None:
    return json_int(value, "iproute", what)


def _str(value: Any, what: str) -> str | None:
    return json_str(value, "iproute", what)


def _mtu(entry: dict[str, Any]) -> int | None:
    for metric in json_list(entry.get("metrics"), "iproute", "metrics"):
        if isinstance(metric, dict) and "mtu" in metric:
            return _int(metric["mtu"], "mtu")
    return _int(entry.get("mtu"), "mtu")


def _table(value: Any) -> str:
    if value is None:
        return "main"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _str(value, "table") or "main"


def _normalise_dst(entry: dict[str, Any], ipv6: bool = False) -> str:
    dst = entry.get("dst")
    if not isinstance(dst, str) or not dst:
        raise ParseError("iproute", f"route without dst: {entry!r}")
    v6 = ipv6 or ":" in dst or ":" in str(entry.get("gateway", "")) or ":" in str(entry.get("prefsrc", ""))
    if dst == "default":
        return "::/0" if v6 else "0.0.0.0/0"
    if "/" not in dst:
        return f"{dst}/{128 if ':' in dst else 32}"
    return dst


def parse_routes(json_text: str, ipv6: bool = False) -> list[Route]:
    """Parse ``ip -j route show [table all]`` (also ``ip -6 -j route``, better read by parse_routes6).

    Example: [Route(dst="203.0.113.0/24", gateway=None, dev=None, protocol="bird", scope=None,
    type="blackhole", metric=32, prefsrc=None, mtu=None, nexthops=[], table="main")]
    """
    routes: list[Route] = []
    for entry in _load_list(json_text, "route"):
        hops = [
            (_str(h.get("gateway"), "nexthops[].gateway"), _str(h.get("dev"), "nexthops[].dev"))
            for h in json_list(entry.get("nexthops"), "iproute", "nexthops")
            if isinstance(h, dict)
        ]
        routes.append(
            Route(
                dst=_normalise_dst(entry, ipv6),
                gateway=_str(entry.get("gateway"), "gateway"),
                dev=_str(entry.get("dev"), "dev"),
                protocol=_str(entry.get("protocol"), "protocol"),
                scope=_str(entry.get("scope"), "scope"),
                type=_str(entry.get("type"), "type") or "unicast",
                metric=_int(entry.get("metric"), "metric"),
                prefsrc=_str(entry.get("prefsrc"), "prefsrc"),
                mtu=_mtu(entry),
                nexthops=hops,
                table=_table(entry.get("table")),
            )
        )
    return routes


def parse_routes6(json_text: str) -> list[Route]:
    """Parse ``ip -6 -j route show``: every route is IPv6, so a gatewayless ``default dev wg0``
    is ``::/0`` (its JSON names no address that would tell the family).

    Example: {"dst":"default","dev":"rb","metric":2000} -> Route(dst="::/0", dev="rb", metric=2000)
    """
    return parse_routes(json_text, ipv6=True)


def parse_addresses(json_text: str) -> list[Address]:
    """Parse ``ip -j addr [show]`` into one entry per address.

    Example: [Address(ifname="r2-mid", address="10.0.4.1", prefixlen=24, mtu=1500, state="UP",
    family="inet")]
    """
    out: list[Address] = []
    for link in _load_list(json_text, "addr"):
        ifname = link.get("ifname")
        if not isinstance(ifname, str):
            raise ParseError("iproute", f"addr: link without ifname: {link!r}")
        for info in json_list(link.get("addr_info"), "iproute", "addr_info"):
            if not isinstance(info, dict) or "local" not in info:
                continue  # entries without a local address only carry lifetimes
            prefixlen = _int(info.get("prefixlen"), "prefixlen")
            address = _str(info["local"], "local")
            if address is None:
                raise ParseError("iproute", f"addr: {ifname}: local address is null")
            out.append(
                Address(
                    ifname=ifname,
                    address=address,
                    prefixlen=prefixlen if prefixlen is not None else 32,
                    mtu=_int(link.get("mtu"), "mtu"),
                    state=_str(link.get("operstate"), "operstate"),
                    family=_str(info.get("family"), "family") or "inet",
                    lladdr=hardware if isinstance(hardware := link.get("address"), str) else None,
                )
            )
    return out


@dataclass
class Neighbour:
    """One entry of the neighbour (ARP) table; ``lladdr`` is None while nobody has answered."""

    address: str
    dev: str | None
    lladdr: str | None
    states: list[str]

    @property
    def answered(self) -> bool:
        return self.lladdr is not None and not {"FAILED", "INCOMPLETE"} & set(self.states)


def parse_neighbours(json_text: str) -> list[Neighbour]:
    """Parse ``ip -j neigh show``.

    Example: [Neighbour(address="192.0.2.240", dev="br-lan", lladdr=None, states=["FAILED"])]
    """
    out: list[Neighbour] = []
    for entry in _load_list(json_text, "neigh"):
        address = _str(entry.get("dst"), "dst")
        if address is None:
            raise ParseError("iproute", f"neigh: entry without dst: {entry!r}")
        states = [str(x) for x in json_list(entry.get("state"), "iproute", "neigh state")]
        out.append(
            Neighbour(address, _str(entry.get("dev"), "dev"), _str(entry.get("lladdr"), "lladdr"), states)
        )
    return out


def parse_route_get(json_text: str) -> RouteGet:
    """Parse ``ip -j route get X`` output or its ``RTNETLINK answers: ...`` error text.

    Examples: RouteGet(dst="10.0.5.2", gateway="10.0.1.1", dev="g1-r2", prefsrc="10.0.1.2",
    mtu=1400, error=None, type="unicast", expires=599)   # after a Frag needed
    RouteGet(dst=None, error="Network is unreachable")
    """
    stripped = json_text.strip()
    for line in stripped.splitlines():
        if line.startswith("RTNETLINK answers:"):
            return RouteGet(dst=None, error=line.split(":", 1)[1].strip())
    entries = _load_list(stripped, "route get")
    if not entries:
        raise ParseError("iproute", "route get: empty answer")
    e = entries[0]
    return RouteGet(
        dst=_str(e.get("dst"), "dst"),
        gateway=_str(e.get("gateway"), "gateway"),
        dev=_str(e.get("dev"), "dev"),
        prefsrc=_str(e.get("prefsrc"), "prefsrc"),
        mtu=_mtu(e),
        type=_str(e.get("type"), "type") or "unicast",
        expires=_int(e.get("expires"), "expires"),
    )
