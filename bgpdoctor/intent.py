"""One model of what a BGP session is meant to be, from whichever source states it.

The inventory (`inventory_model.Peer.intent()`), a daemon's configuration file (`bgpdoctor lint`)
and the cluster's BGP objects (`kube.derive`) each read the same session end into a PeerIntent;
what the daemon reports is the other half, `parsers.routers.NeighborState`. None means "not
stated". Every stated field can say where it was stated, as a Loc: a file and line
("bird.conf:34", "inventory.yaml:12") or an object ("CiliumBGPPeerConfig/foo").

Imports nothing of the engine, lint or kube (and nothing heavy): every reader can use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any, Literal, TypeVar

LINK_LOCAL = IPv6Network("fe80::/10")
End = TypeVar("End")


def family_of(address: object) -> Literal[4, 6]:
    """4 or 6: the address family a session to `address` runs over."""
    return 6 if isinstance(address, IPv6Address) else 4


def end_to_dial(able: Iterable[tuple[End, bool]]) -> End | None:
    """Of the two ends of a session that both only wait, the one to make dial: among those that can
    (their peer listens, they have an address to dial), given as (end, it is a router), a router
    before a node, else the first given. The one rule of a live run (engine/dialing.py) and lint
    (lint/checks.py), so both print the same end's fix.

    Example: end_to_dial([("yuuko-k8s", False), ("router-home", True)]) -> "router-home"
    """
    ordered = sorted(able, key=lambda end_router: not end_router[1])
    return ordered[0][0] if ordered else None


def is_link_local(address: object) -> bool:
    """An IPv6 link-local (fe80::/10) neighbor, reached only through a named interface."""
    return isinstance(address, IPv6Address) and address in LINK_LOCAL


@dataclass(frozen=True)
class Loc:
    """Where something was stated: a file and its line, or a named object (line 0: no line).

    Example: str(Loc("bird.conf", 12)) -> "bird.conf:12"; str(Loc("CiliumBGPPeerConfig/foo")) ->
    "CiliumBGPPeerConfig/foo"
    """

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


def parse_address(text: str | None) -> IPv4Address | IPv6Address | None:
    """An address as a source writes it; None when there is none or it is not one.

    Example: parse_address("192.168.6.1") -> IPv4Address("192.168.6.1"); parse_address("x") -> None
    """
    try:
        return ip_address(text) if text else None
    except ValueError:
        return None


def address_text(address: IPv4Address | IPv6Address | None) -> str | None:
    """The address as text, None when not stated.

    Example: address_text(IPv4Address("10.0.0.1")) -> "10.0.0.1"
    """
    return None if address is None else str(address)


def located(**where: Loc | None) -> dict[str, Loc]:
    """The origins of the fields that were stated (a None place: not stated, dropped).

    Example: located(asn=Loc("bird.conf", 7), multihop=None) -> {"asn": Loc("bird.conf", 7)}
    """
    return {name: loc for name, loc in where.items() if loc is not None}


@dataclass(kw_only=True)
class PeerIntent:
    """One end of a BGP session as it is meant to be: this end's configuration for the other end.

    Example: PeerIntent(address=IPv4Address("192.168.6.1"), asn=64513, multihop=2,
    name="router-mine", loc=Loc("CiliumBGPClusterConfig/bgp-local"),
    origins={"multihop": Loc("CiliumBGPPeerConfig/l3-bgp-peer-config")})
    """

    loc: Loc  # where the session end as a whole is stated (the neighbor line, the peer entry)
    address: IPv4Address | IPv6Address | None = None  # the neighbor address this end dials/accepts
    asn: int | None = None  # the neighbor's AS
    local_asn: int | None = None  # this end's AS toward the neighbor
    local_address: IPv4Address | IPv6Address | None = None  # an explicit source / local address
    passive: bool | None = None  # this end only waits for the other to connect
    multihop: int | None = None  # TTL of an eBGP multihop session (BIRD `multihop;` = 64)
    name: str | None = None  # the protocol / peer name (BIRD protocol, Cilium peer, Calico BGPPeer)
    route_reflector_client: bool | None = None  # this end reflects iBGP routes to the neighbor
    next_hop_self: bool | None = None  # this end rewrites the next hop of what it sends
    graceful_restart: bool | None = None  # a restart of this end must not withdraw its routes
    md5: bool | None = None  # the session is meant to use TCP MD5
    md5_ref: str | None = None  # where the password is ("env:VAR", "file:PATH", "Secret/x"), never it
    # GTSM (RFC 5082): the hops this end allows, so it needs TTL >= 256 - hops; None: no TTL check
    ttl_security_hops: int | None = None
    peer_range: IPv4Network | IPv6Network | None = None  # dynamic peers: any address inside may connect
    as4: bool | None = None  # False: a 4-byte local ASN is sent as AS_TRANS (23456)
    interface: str | None = None  # the interface a link-local neighbor is reached on
    host: str | None = None  # the inventory host at the other end, when known
    # a reader that keeps the session but cannot state its IPv4 address: why ("IPv6", "unnumbered",
    # "dynamic peers") and the statement (e.g. "neighbor 2001:db8::1")
    unpaired: str | None = None
    unpaired_detail: str = ""
    origins: dict[str, Loc] = field(default_factory=dict)  # field name -> where it was stated

    def origin(self, name: str) -> Loc | None:
        """Where field `name` was stated; None when it was not (or the source has no place for it).

        The key "config" names the block that holds the session's settings (a BIRD protocol, a
        CiliumBGPPeerConfig). Example: p.origin("asn") -> Loc("bird.conf", 7)
        """
        return self.origins.get(name)

    def origins_of(self, *names: str) -> list[Loc]:
        """The places of the named fields that were stated, in the order asked."""
        return [loc for name in names if (loc := self.origins.get(name)) is not None]

    def set(self, name: str, value: Any, loc: Loc | None) -> None:
        """Set field `name` to `value`, stated at `loc` (None: no place)."""
        setattr(self, name, value)
        if loc is not None:
            self.origins[name] = loc
        else:
            self.origins.pop(name, None)

    def values(self) -> dict[str, Any]:
        """The stated intent alone: every field but the places and lint's pairing notes."""
        skip = {"loc", "origins", "unpaired", "unpaired_detail"}
        return {f.name: getattr(self, f.name) for f in fields(PeerIntent) if f.name not in skip}

    @property
    def address_v4(self) -> IPv4Address | None:
        """The neighbor address when it is IPv4 (what lint pairs sessions by), else None."""
        return self.address if isinstance(self.address, IPv4Address) else None

    @property
    def family(self) -> Literal[4, 6]:
        """4 or 6: the address family the session runs over."""
        return family_of(self.address)

    @property
    def link_local(self) -> bool:
        return is_link_local(self.address)


INTENT_FIELDS = frozenset(f.name for f in fields(PeerIntent))
