"""FRR's integrated configuration (frr.conf, bgpd.conf): `router bgp`, its neighbors and peer-groups,
`bgp listen range`, the interfaces' addresses, and the RFC 8212 policy each eBGP neighbor has.

A line FRR itself would refuse is not judged here (`vtysh --dryrun -f FILE` tells); what is read is
kept with its line. IPv6 and unnumbered (`neighbor eth0 interface`) neighbors are kept as peers lint
does not pair.

Example: parse_frr(text, "r1/frr.conf", []) -> FrrConfig(speaker=Speaker(kind="frr", name="r1 (FRR)",
...), asn=64513, requires_policy=True, neighbors={"192.168.6.80": FrrNeighbor(...)})
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, ip_address, ip_interface, ip_network

from bgpdoctor.intent import Loc, PeerIntent, located
from bgpdoctor.lint.model import Speaker

_ROUTER_BGP = re.compile(r"^router bgp (\d+)(?:\s+vrf\s+(\S+))?\s*$", re.M)
_DATACENTER = re.compile(r"^frr defaults datacenter", re.M)  # that profile turns RFC 8212 off
_POLICY = re.compile(r"^(route-map|prefix-list|distribute-list|filter-list) \S+ (in|out)$")


def looks_like_frr(text: str) -> bool:
    """FRR's configuration: a `router bgp ASN` block at the start of a line.

    Example: looks_like_frr("router bgp 64513\\n neighbor 10.0.0.1 remote-as 64514\\n") -> True
    """
    return bool(_ROUTER_BGP.search(text))


@dataclass
class FrrNeighbor:
    """One `neighbor X ...` name: an address, an interface (unnumbered) or a peer-group."""

    name: str
    loc: Loc
    is_group: bool = False
    group: str | None = None
    remote_as: str | None = None  # a number, "internal" or "external"
    remote_as_loc: Loc | None = None
    local_as: int | None = None
    update_source: str | None = None
    update_source_loc: Loc | None = None
    multihop: int | None = None
    multihop_loc: Loc | None = None
    passive_loc: Loc | None = None
    password_loc: Loc | None = None
    shutdown: bool = False
    description: str | None = None
    interface: bool = False  # `neighbor eth0 interface ...`: unnumbered
    policy: dict[str, Loc] = field(default_factory=dict)  # "in"/"out" -> where a filter is applied
    rr_client_loc: Loc | None = None
    ttl_security_hops: int | None = None
    ttl_security_loc: Loc | None = None
    activated: bool | None = None  # `neighbor X activate` / `no neighbor X activate` for ipv4 unicast


@dataclass
class FrrConfig:
    """What lint reads of one frr.conf; ``speaker`` carries the peers the session checks pair."""

    file: str
    speaker: Speaker
    asn: int | None
    asn_loc: Loc
    # RFC 8212 on: FRR's default (bgpd's FRR_CFG_DEFAULT_BOOL) unless the `frr defaults datacenter`
    # profile, a `frr version` line before 7.4, or `no bgp ebgp-requires-policy`
    requires_policy: bool
    requires_policy_why: str
    default_ipv4_unicast: bool
    neighbors: dict[str, FrrNeighbor] = field(default_factory=dict)
    listen_ranges: list[tuple[IPv4Network, str, Loc]] = field(default_factory=list)

    def effective(self, name: str) -> FrrNeighbor:
        """The neighbor with what its peer-group gives it (the neighbor's own settings win)."""
        n = self.neighbors[name]
        g = self.neighbors.get(n.group or "")
        if g is None:
            return n
        merged = FrrNeighbor(**{k: getattr(n, k) for k in n.__dataclass_fields__})
        for attr in ("remote_as", "remote_as_loc", "local_as", "update_source", "update_source_loc",
                     "multihop", "multihop_loc", "passive_loc", "password_loc", "rr_client_loc",
                     "ttl_security_hops", "ttl_security_loc", "activated"):  # fmt: skip
            if getattr(merged, attr) is None:
                setattr(merged, attr, getattr(g, attr))
        merged.policy = {**g.policy, **n.policy}
        return merged


def _written_before_7_4(text: str) -> bool:
    m = re.search(r"^frr version (\d+)\.(\d+)", text, re.M)
    return m is not None and (int(m.group(1)), int(m.group(2))) < (7, 4)


def _ip(text: str) -> IPv4Address | str | None:
    try:
        addr = ip_address(text)
    except ValueError:
        return None
    return addr if isinstance(addr, IPv4Address) else str(addr)


def parse_frr(text: str, file: str, problems: list[tuple[Loc, str]]) -> FrrConfig | None:
    """Read one frr.conf; None (and a problem) only when it has no `router bgp`."""
    lines = text.splitlines()
    host = os.path.basename(os.path.dirname(os.path.abspath(file)))
    hostname = next((m.group(1) for m in re.finditer(r"^hostname (\S+)", text, re.M)), None)
    routers = list(_ROUTER_BGP.finditer(text))
    default = [m for m in routers if m.group(2) is None]
    if not default:
        problems.append((Loc(file, 1), "FRR: no `router bgp ASN` outside a VRF"))
        return None
    if len(default) > 1:
        at = text[: default[1].start()].count("\n") + 1
        problems.append(
            (Loc(file, at), "FRR: a second `router bgp` for the default VRF; only the first is read")
        )
    asn = int(default[0].group(1))
    start = text[: default[0].start()].count("\n")
    asn_loc = Loc(file, start + 1)
    sp = Speaker("frr", f"{hostname or host} (FRR)", asn_loc, asn=asn)
    _interfaces(lines, file, sp)
    cfg = FrrConfig(
        file=file,
        speaker=sp,
        asn=asn,
        asn_loc=asn_loc,
        requires_policy=not _written_before_7_4(text)
        and not re.search(r"^frr defaults datacenter", text, re.M),
        requires_policy_why="FRR's default",
        default_ipv4_unicast=True,
    )
    if _written_before_7_4(text):
        cfg.requires_policy_why = "a config written by FRR before 7.4 keeps that version's default (off)"
    family = "ipv4 unicast"
    for i in range(start + 1, len(lines)):
        raw = lines[i]
        line = raw.strip()
        here = Loc(file, i + 1)
        if line and line != "!" and not raw[:1].isspace():
            break  # the block ends at `exit` or at the next top-level command
        if line.startswith("address-family "):
            family = line.removeprefix("address-family ").strip()
            continue
        if line == "exit-address-family":
            family = "ipv4 unicast"
            continue
        if line == "no bgp ebgp-requires-policy":
            cfg.requires_policy, cfg.requires_policy_why = False, f"`no bgp ebgp-requires-policy` ({here})"
        elif line == "bgp ebgp-requires-policy":
            cfg.requires_policy = True
        elif line == "no bgp default ipv4-unicast":
            cfg.default_ipv4_unicast = False
        elif m := re.match(r"bgp router-id (\S+)$", line):
            rid = _ip(m.group(1))
            if isinstance(rid, IPv4Address):
                sp.addresses.setdefault(rid, here)
        elif m := re.match(r"bgp listen range (\S+) peer-group (\S+)$", line):
            try:
                net = ip_network(m.group(1), strict=False)
            except ValueError:
                problems.append((here, f"FRR: listen range {m.group(1)!r} is not a prefix"))
                continue
            if isinstance(net, IPv4Network):
                cfg.listen_ranges.append((net, m.group(2), here))
        elif m := re.match(r"(no )?neighbor (\S+) (.*)$", line):
            _neighbor_line(cfg, m.group(2), m.group(3), bool(m.group(1)), family, here, problems)
    sp.peers = _peers(cfg)
    return cfg


def _interfaces(lines: list[str], file: str, sp: Speaker) -> None:
    iface: str | None = None
    for i, raw in enumerate(lines):
        if m := re.match(r"^interface (\S+)", raw):
            iface = m.group(1)
        elif not raw.startswith(" "):
            iface = None
        elif iface and (m := re.match(r"^\s+ip address (\S+)", raw)):
            try:
                addr = ip_interface(m.group(1))
            except ValueError:
                continue
            if isinstance(addr, IPv4Interface):
                sp.addresses.setdefault(addr.ip, Loc(file, i + 1))
                sp.subnets.append((addr.network, iface, Loc(file, i + 1)))


def _neighbor_line(
    cfg: FrrConfig,
    name: str,
    rest: str,
    negated: bool,
    family: str,
    here: Loc,
    problems: list[tuple[Loc, str]],
) -> None:
    n = cfg.neighbors.get(name)
    words = rest.split()
    if n is None:
        if negated:
            return
        n = cfg.neighbors[name] = FrrNeighbor(name, here)
    if not words:
        return
    if family != "ipv4 unicast":
        return  # other families are not judged here
    key = words[0]
    if key == "peer-group":
        if len(words) == 1:
            n.is_group = True
        else:
            n.group = words[1]
    elif key == "interface":
        n.interface = True
        after = words[words.index("remote-as") + 1 :] if "remote-as" in words else []
        if after:
            n.remote_as, n.remote_as_loc = after[0], here
    elif key == "remote-as" and len(words) > 1:
        n.remote_as, n.remote_as_loc = words[1], here
        if not n.is_group and n.loc.line > here.line:
            n.loc = here
    elif key == "local-as" and len(words) > 1 and words[1].isdigit():
        n.local_as = int(words[1])
    elif key == "update-source" and len(words) > 1:
        n.update_source, n.update_source_loc = words[1], here
    elif key == "ebgp-multihop":
        n.multihop = int(words[1]) if len(words) > 1 and words[1].isdigit() else 255
        n.multihop_loc = here
    elif key == "ttl-security" and len(words) > 2 and words[2].isdigit():
        n.ttl_security_hops, n.ttl_security_loc = int(words[2]), here
    elif key == "passive":
        n.passive_loc = here
    elif key == "password":
        n.password_loc = here
    elif key == "shutdown":
        n.shutdown = not negated
    elif key == "description":
        n.description = " ".join(words[1:])
    elif key == "activate":
        n.activated = not negated
    elif key == "route-reflector-client":
        n.rr_client_loc = here
    elif _POLICY.match(rest):
        if not negated:
            n.policy[words[-1]] = here
    elif key in ("remote-as", "local-as", "update-source"):
        problems.append((here, f"FRR: `neighbor {name} {rest}` is missing its value"))


def _peers(cfg: FrrConfig) -> list[PeerIntent]:
    peers: list[PeerIntent] = []
    for name, own in cfg.neighbors.items():
        if own.is_group:
            continue
        peer = _peer(cfg, cfg.effective(name))
        peer.loc = own.remote_as_loc or own.loc  # the neighbor's own line, not its group's
        peers.append(peer)
    for net, group, loc in cfg.listen_ranges:
        g = cfg.neighbors.get(group)
        if g is None:
            continue
        peer = _peer(cfg, g)
        peer.address, peer.peer_range, peer.loc = None, net, loc
        peer.unpaired, peer.unpaired_detail = None, ""
        peer.name = f"{group} (listen range {net})"
        peer.set("passive", True, loc)  # FRR only accepts from a listen range
        peers.append(peer)
    return peers


def _peer(cfg: FrrConfig, n: FrrNeighbor) -> PeerIntent:
    addr = _ip(n.name)
    unpaired, detail = None, ""
    if n.interface:
        unpaired, detail = "unnumbered", f"neighbor on {n.name}"
    elif isinstance(addr, str):
        unpaired, detail = "IPv6", f"neighbor {addr}"
    local_as = n.local_as or cfg.asn
    peer_asn: int | None = None
    if n.remote_as is not None and n.remote_as.isdigit():
        peer_asn = int(n.remote_as)
    elif n.remote_as == "internal":
        peer_asn = local_as
    source = _ip(n.update_source) if n.update_source else None
    return PeerIntent(
        name=n.description or n.name,
        loc=n.remote_as_loc or n.loc,
        address=addr if isinstance(addr, IPv4Address) else None,
        asn=peer_asn,
        local_asn=local_as,
        local_address=source if isinstance(source, IPv4Address) else None,
        multihop=n.multihop,
        passive=True if n.passive_loc is not None else None,
        md5=True if n.password_loc is not None else None,
        route_reflector_client=True if n.rr_client_loc is not None else None,
        ttl_security_hops=n.ttl_security_hops,
        origins=located(
            asn=n.remote_as_loc,
            local_asn=cfg.asn_loc,
            local_address=n.update_source_loc,
            multihop=n.multihop_loc,
            passive=n.passive_loc,
            md5=n.password_loc,
            route_reflector_client=n.rr_client_loc,
            ttl_security_hops=n.ttl_security_loc,
        ),
        unpaired=unpaired,
        unpaired_detail=detail,
    )


def ebgp_without_policy(cfg: FrrConfig) -> list[tuple[FrrNeighbor, list[str]]]:
    """The eBGP neighbors (ipv4 unicast active, not shut down) lacking an in or out filter while
    RFC 8212 is on. Example: [(FrrNeighbor(name="192.168.6.80", ...), ["in", "out"])]"""
    if not cfg.requires_policy:
        return []
    out = []
    for name, own in cfg.neighbors.items():
        if own.is_group:
            continue
        n = cfg.effective(name)
        active = n.activated if n.activated is not None else cfg.default_ipv4_unicast
        if not active or n.shutdown or n.remote_as is None:
            continue
        external = n.remote_as == "external" or (
            n.remote_as.isdigit() and int(n.remote_as) != (n.local_as or cfg.asn)
        )
        missing = [d for d in ("in", "out") if d not in n.policy]
        if external and missing:
            out.append((n, missing))
    return out
