"""Facts from BIRD's routing table compared across peers and with the kernel FIB.

- where an unreachable BGP route came from (the peer that should rewrite the next hop);
- whether a BIRD node learned the other node's pod CIDR, and if not, which iBGP speaker holds it
  without reflecting it (split horizon: no `rr client`, no full mesh).

Pure functions over World; they add facts to the subjects built in engine/subjects.py.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import TYPE_CHECKING

from bgpdoctor.drivers import SplitHorizon, driver_for
from bgpdoctor.parsers import bird, frr, iproute
from bgpdoctor.parsers.routers import RouterRoute

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import World


def covers(prefix: str, cidr: str) -> bool:
    """True when `prefix` contains `cidr` (equal counts), the default route excluded.

    Example: covers("10.42.64.0/24", "10.42.64.64/26") -> True; covers("0.0.0.0/0", "10.0.0.0/8") -> False
    """
    try:
        outer, inner = ipaddress.ip_network(prefix, strict=False), ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    return outer.prefixlen > 0 and inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def _protocol_towards(world: World, host: str, other: str) -> bird.BirdProtocol | None:
    """`host`'s BGP protocol for the session with inventory host `other` (by name or address)."""
    peer = next((p for p in world.inv.hosts[host].peers if p.host == other), None)
    if peer is None:
        return None
    for p in world.bird_protocols(host) or []:
        if p.proto == "BGP" and (
            p.neighbor_address == str(peer.address) or (peer.name and p.name == peer.name)
        ):
            return p
    return None


def _plain_ibgp(p: bird.BirdProtocol | None) -> bool:
    """An Established iBGP session without route reflection (BIRD prints `Session:` only when up)."""
    session = (p.session or "").split() if p else []
    return "internal" in session and "route-reflector" not in session


def next_hop_sender(world: World, s: Subject, name: str, unreachable: list[str]) -> None:
    """The peer that sent the routes BIRD on `name` cannot resolve, and its protocol towards `name`.

    Adds unreachable_sender ("gateway"), unreachable_sender_protocol ("k3s_backbone_cn_v4"),
    unreachable_next_hops (["192.168.100.251"], when `bird.bgp_routes` was collected), and what an
    FRR sender's fix is written with, as BIRD on `name` shows the session: the sender's AS
    (unreachable_sender_asn, 64512) and this host's address on it (unreachable_sender_neighbor,
    "10.255.100.2": the sender's `neighbor`).
    """
    routes = [r for r in world.bird_routes(name) or [] if r.prefix in unreachable and r.kind == "unreachable"]
    hops = sorted(
        {
            r.bgp_next_hop
            for r in world.bird_bgp_routes(name) or []
            if r.prefix in unreachable and r.bgp_next_hop
        }
    )
    if hops:
        s.add("unreachable_next_hops", hops, world.evidence(name, "bird.bgp_routes", "BGP.next_hop"))
    protocols = {p.name: p for p in world.bird_protocols(name) or []}
    for r in routes:
        p = protocols.get(r.protocol)
        address = (p.neighbor_address if p else None) or r.from_address
        sender = world.owner_of(address) if address else None
        if sender is None:
            continue
        s.add("unreachable_sender", sender, world.evidence(name, "bird.protocols"))
        s.add("unreachable_via_protocol", r.protocol)
        if p is not None and p.neighbor_as is not None:
            s.add("unreachable_sender_asn", p.neighbor_as)
        if p is not None and p.source_address:
            s.add("unreachable_sender_neighbor", p.source_address)
        toward = _protocol_towards(world, sender, name) if sender in world.facts else None
        peer = next((x for x in world.inv.hosts[sender].peers if x.host == name), None)
        proto_name = toward.name if toward else (peer.name if peer else None)
        if proto_name:
            s.add("unreachable_sender_protocol", proto_name)
        return


def _traces_reflection(speaker: str) -> bool:
    """Whether the speaker's tables show which session each route came from (BIRD's do)."""
    driver = driver_for(speaker)
    return driver is not None and driver.reads_protocol_routes


def reflection_facts(world: World, s: Subject, source: str, dst_cidr: str) -> None:
    """Did BIRD on the source node learn dst_cidr over BGP? If not, who holds it without reflecting it.

    Adds pod_route_learned (bool) for nodes whose speaker is BIRD (Calico installs what it learns;
    Cilium's GoBGP does not, so its nodes get no such fact), and when the route is missing:
    ibgp_not_reflected ("gateway"), ibgp_client_protocol ("k3s_master_v4", the reflector's protocol
    towards the source) and ibgp_learned_from ("k3s_wds1_v4", where the reflector has the route from).
    """
    host = world.inv.hosts[source]
    if not _traces_reflection(host.speaker):
        return
    routes = world.bird_routes(source)
    protocols = world.bird_protocols(source)
    if routes is None or protocols is None:
        fact = "bird.routes" if routes is None else "bird.protocols"
        s.unknown("pod_route_learned", world.command_problem(source, fact))
        return
    bgp = {p.name for p in protocols if p.proto == "BGP"}
    learned = [r for r in routes if r.protocol in bgp and r.kind == "unicast" and covers(r.prefix, dst_cidr)]
    if not learned and _routes_by_default(world, source, protocols, routes):
        # by design nothing is sent to this node: it forwards along its default route
        s.add("pod_route_by_default", True, world.evidence(source, "bird.protocols"))
        return
    s.add("pod_route_learned", bool(learned), world.evidence(source, "bird.routes"))
    if learned:
        return
    for peer in host.peers:
        x = peer.host
        if x is None or x not in world.facts:
            continue
        if not _traces_reflection(world.inv.hosts[x].speaker):
            if _split_horizon_facts(world, s, x, source, dst_cidr):
                return
            continue
        toward = _protocol_towards(world, x, source)
        if toward is None or not _plain_ibgp(toward):
            continue
        by_name = {p.name: p for p in world.bird_protocols(x) or []}
        held = [
            r
            for r in world.bird_routes(x) or []
            if r.primary
            and r.kind == "unicast"
            and covers(r.prefix, dst_cidr)
            and _plain_ibgp(by_name.get(r.protocol))
        ]
        if held:
            s.add(
                "ibgp_not_reflected",
                x,
                world.evidence(x, "bird.protocols", "Session: internal, no route-reflector"),
                world.evidence(x, "bird.routes", f"{dst_cidr} learned over iBGP"),
            )
            s.add("ibgp_client_protocol", toward.name)
            s.add("ibgp_learned_from", held[0].protocol)
            # every plain iBGP session of the reflector towards a node: all of them must be clients
            clients = []
            for other in world.inv.hosts[x].peers:
                if other.host and world.inv.hosts[other.host].role == "node":
                    p = _protocol_towards(world, x, other.host)
                    if p is not None and _plain_ibgp(p) and p.name not in clients:
                        clients.append(p.name)
            s.add("ibgp_client_protocols", clients or [toward.name])
            return


def _withheld(world: World, host: str, node: str, prefix: str | None) -> SplitHorizon | None:
    """What `host` (a daemon whose driver reads split horizon, e.g. FRR) keeps from `node` by iBGP
    split horizon; None when nothing or when it cannot say."""
    driver = driver_for(world.inv.hosts[host].speaker)
    entry = next((p for p in world.inv.hosts[host].peers if p.host == node), None)
    if driver is None or entry is None:
        return None
    return driver.split_horizon(world, host, str(entry.address), prefix)


def _split_horizon_facts(world: World, s: Subject, x: str, source: str, dst_cidr: str) -> bool:
    """ibgp_not_reflected and what an FRR fix is written with, when `x` keeps dst_cidr from
    `source` by split horizon: ibgp_learned_from_neighbor, ibgp_client_neighbor (source's address
    there), ibgp_client_addresses (its plain iBGP neighbors that are nodes), ibgp_reflector_asn."""
    held = _withheld(world, x, source, dst_cidr)
    if held is None:
        return False
    driver = driver_for(world.inv.hosts[x].speaker)
    assert driver is not None  # _withheld found one
    entry = next(p for p in world.inv.hosts[x].peers if p.host == source)
    s.add(
        "ibgp_not_reflected",
        x,
        world.evidence(x, driver.session_fact, "iBGP, not a route-reflector client"),
        world.evidence(x, driver.rib_fact or driver.session_fact, f"{held.prefix} learned over iBGP"),
    )
    s.add("ibgp_learned_from_neighbor", held.learned_from)
    s.add("ibgp_client_neighbor", str(entry.address))
    nodes = [a for a in held.plain_ibgp if (o := world.owner_of(a)) and world.inv.hosts[o].role == "node"]
    s.add("ibgp_client_addresses", nodes or [str(entry.address)])
    if held.local_as is not None:
        s.add("ibgp_reflector_asn", held.local_as)
    return True


def _announces_nothing(world: World, host: str, node: str) -> bool:
    """`host` (FRR, GoBGP: no export filter to read) has its session with `node` Established and
    announces it no route, as FRR does behind a route-map that denies everything."""
    entry = next((p for p in world.inv.hosts[host].peers if p.host == node), None)
    state = world.neighbor_for(host, entry.intent()) if entry is not None else None
    return state is not None and state.state == "established" and state.advertised == 0


def _routes_by_default(
    world: World, node: str, protocols: list[bird.BirdProtocol], routes: list[bird.BirdRoute]
) -> bool:
    """The node learns no BGP route at all because its peers are configured to send it none
    (`export none`, shown as `Export filter: REJECT`), or it is configured to take none."""
    bgp = [p for p in protocols if p.proto == "BGP"]
    if not bgp or any(r.protocol in {p.name for p in bgp} and r.kind == "unicast" for r in routes):
        return False
    if all(p.import_filter == "REJECT" for p in bgp):
        return True
    peers = [x.host for x in world.inv.hosts[node].peers if x.host]
    if not peers:
        return False
    for peer in peers:
        if peer not in world.facts:
            return False
        if not _traces_reflection(world.inv.hosts[peer].speaker):
            # nothing sent by design (a route-map), not held back by split horizon
            if not _announces_nothing(world, peer, node) or _withheld(world, peer, node, None):
                return False
            continue
        toward = _protocol_towards(world, peer, node)
        if toward is None or toward.export_filter != "REJECT":
            return False
    return True


@functools.lru_cache(maxsize=65536)  # a router's N routes, read by several facts and routers
def _net(prefix: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return None


def _equally_good(r: bird.BirdRoute, best: bird.BirdRoute) -> bool:
    """What BIRD's `merge paths` needs to merge two BGP paths: the same local preference, AS path
    length, origin and MED (an attribute missing on both counts as the same)."""
    return (
        r.local_pref == best.local_pref
        and len((r.as_path or "").split()) == len((best.as_path or "").split())
        and r.origin == best.origin
        and r.med == best.med
    )


def ecmp_facts(world: World, s: Subject, name: str) -> None:
    """Prefixes with several equally good BGP paths (same local preference, AS path length, origin
    and MED; different next hops) of which the kernel FIB carries fewer next hops.

    Adds ecmp_single_path (["10.0.6.1/32"]) and ecmp_paths ("10.0.6.1/32: 10.0.4.109, 10.0.4.110").
    Nothing is added when `bird.bgp_routes` was not collected (older recordings).
    """
    if not world.collected(name, "bird.bgp_routes"):
        return
    paths = world.known(name, "bird.bgp_routes", bird.parse_show_route)
    fib = {_net(r.dst): r for r in world.known(name, "ip.route", iproute.parse_routes) if r.table == "main"}
    by_prefix: dict[str, list[bird.BirdRoute]] = {}
    for r in paths:
        if r.kind == "unicast" and r.gateway:
            by_prefix.setdefault(r.prefix, []).append(r)
    single: list[str] = []
    shown: list[str] = []
    for prefix, rs in sorted(by_prefix.items()):
        best = next((r for r in rs if r.primary), None)
        if best is None or len(rs) < 2:
            continue
        equal = sorted({r.gateway for r in rs if _equally_good(r, best) and r.gateway})
        kernel = fib.get(_net(prefix))
        if len(equal) < 2 or kernel is None:
            continue
        installed = len(kernel.nexthops) or (1 if kernel.gateway else 0)
        if installed < len(equal):
            single.append(prefix)
            shown.append(f"{prefix}: {', '.join(str(g) for g in equal)}")
    s.add(
        "ecmp_single_path",
        single,
        world.evidence(name, "bird.bgp_routes", "every BGP path BIRD holds"),
        world.evidence(name, "ip.route", "the kernel FIB"),
    )
    if shown:
        s.add("ecmp_paths", "; ".join(shown))


def _frr_equally_good(r: RouterRoute, best: RouterRoute) -> bool:
    """What FRR's multipath needs of two eBGP paths (without `as-path multipath-relax`): the same
    neighbor AS, AS path length and MED (local preference and origin are not in the JSON read)."""
    path, best_path = (r.as_path or "").split(), (best.as_path or "").split()
    return len(path) == len(best_path) and path[:1] == best_path[:1] and r.metric == best.metric


def frr_ecmp_facts(world: World, s: Subject, name: str) -> None:
    """ecmp_single_path on FRR: prefixes whose equally good BGP paths (`show bgp ipv4 unicast
    json`) have more distinct next hops than zebra installed (`show ip route json`, FIB flag):
    `maximum-paths` lower than the number of nodes that announce a prefix.

    Adds ecmp_single_path, ecmp_paths, ecmp_daemon ("FRR") and frr_bgp_as (for the fix); nothing
    when either table was not collected (older recordings).
    """
    if not (world.collected(name, "frr.bgp_ipv4") and world.collected(name, "frr.ip_route")):
        return
    paths = world.known(name, "frr.bgp_ipv4", frr.parse_bgp_routes)
    rib = world.known(name, "frr.ip_route", frr.parse_ip_route)
    by_prefix: dict[str, list[RouterRoute]] = {}
    for r in paths:
        if r.next_hop:
            by_prefix.setdefault(r.prefix, []).append(r)
    single: list[str] = []
    shown: list[str] = []
    for prefix, rs in sorted(by_prefix.items()):
        best = next((r for r in rs if r.selected), None)
        if best is None or len(rs) < 2:
            continue
        equal = sorted({str(r.next_hop) for r in rs if _frr_equally_good(r, best)})
        installed = sorted(
            {
                str(r.next_hop)
                for r in rib
                if r.prefix == prefix and r.protocol == "bgp" and r.installed and r.next_hop
            }
        )
        if len(equal) >= 2 and installed and len(installed) < len(equal):
            single.append(prefix)
            shown.append(f"{prefix}: {', '.join(equal)} (installed: {', '.join(installed)})")
    s.add(
        "ecmp_single_path",
        single,
        world.evidence(name, "frr.bgp_ipv4", "every BGP path FRR holds"),
        world.evidence(name, "frr.ip_route", "zebra's routes; installed = in the kernel FIB"),
    )
    s.add("ecmp_daemon", "FRR")
    if shown:
        s.add("ecmp_paths", "; ".join(shown))
        asn = world.inv.hosts[name].asn
        if asn is not None and "frr_bgp_as" not in s.facts:
            s.add("frr_bgp_as", asn)


def router_bgp_paths(world: World, name: str) -> tuple[str, list[tuple[str, str | None]]] | None:
    """(fact, [(prefix, next hop)]) of every BGP path a router learned, from BIRD's `show route` or
    FRR's BGP table; None when neither was collected; FactUnknown (World.known) when it cannot be read."""
    if world.collected(name, "bird.bgp_routes"):
        routes = world.known(name, "bird.bgp_routes", bird.parse_show_route)
        return "bird.bgp_routes", [(r.prefix, r.bgp_next_hop or r.gateway) for r in routes]
    if world.collected(name, "frr.bgp_ipv4"):
        frr_routes = world.known(name, "frr.bgp_ipv4", frr.parse_bgp_routes)
        # FRR's table holds its own networks too (peerId "(unspec)", next hop 0.0.0.0): not learned
        return "frr.bgp_ipv4", [(r.prefix, r.next_hop) for r in frr_routes if r.peer is not None]
    return None


def shadow_facts(world: World, s: Subject, name: str) -> None:
    """BGP prefixes the kernel does not forward along BGP: a connected route on the host is equal
    to or more specific than the BGP prefix, while the BGP next hop lies outside that subnet.

    Adds shadowed_bgp_routes (["10.0.6.0/24"]), shadow_connected ("10.0.6.0/24 dev vlanif6"),
    shadow_interface ("vlanif6") and shadow_address ("10.0.6.254/24").
    A router that learns its own LAN back from a peer (next hop inside the LAN) is not flagged.
    """
    held = router_bgp_paths(world, name)
    if held is None:
        return
    source, paths = held
    note = (
        "BGP paths and their next hops"
        if source == "bird.bgp_routes"
        else "BGP paths FRR holds and their next hops"
    )
    connected = [
        (net, r)
        for r in world.known(name, "ip.route", iproute.parse_routes)
        if r.protocol == "kernel" and r.scope == "link" and not r.gateway and (net := _net(r.dst)) is not None
    ]
    shadowed: list[str] = []
    where: list[str] = []
    for prefix, hop in paths:
        net = _net(prefix)
        if net is None or not hop or prefix in shadowed:
            continue
        for cnet, route in connected:
            if cnet.version == net.version and cnet.subnet_of(net) and ipaddress.ip_address(hop) not in cnet:  # type: ignore[arg-type]
                shadowed.append(prefix)
                where.append(f"{route.dst} dev {route.dev}")
                break
    s.add(
        "shadowed_bgp_routes",
        shadowed,
        world.evidence(name, source, note),
        world.evidence(name, "ip.route", "connected routes (proto kernel scope link)"),
    )
    if where:
        s.add("shadow_connected", ", ".join(where))
        subnet = _net(where[0].split()[0])
        dev = where[0].split(" dev ")[-1]
        for a in world.addresses(name):
            if a.ifname == dev and subnet is not None and ipaddress.ip_address(a.address) in subnet:
                s.add("shadow_interface", dev, world.evidence(name, "ip.addr"))
                s.add("shadow_address", f"{a.address}/{a.prefixlen}")
                break


class RouteTable:
    """One host's routes indexed once for longest-prefix match: what `World.lookup` answers.

    Each prefix is parsed once; a lookup probes one dict per prefix length present (at most 33
    for IPv4) instead of parsing every route again. Among routes to the same prefix the lowest
    metric wins, then the first listed (what the kernel would pick). Unparsable destinations are
    skipped, as before.
    Example: RouteTable([Route("0.0.0.0/0", gateway="10.0.0.1"), Route("10.42.0.0/24", dev="eth0")])
        .lookup("10.42.0.9") -> Route("10.42.0.0/24", dev="eth0")
    """

    def __init__(self, routes: list[iproute.Route]) -> None:
        best: dict[tuple[int, int, int], iproute.Route] = {}
        for r in routes:
            net = _net(r.dst)
            if net is None:
                continue
            key = (net.version, net.prefixlen, int(net.network_address))
            held = best.get(key)
            if held is None or (r.metric or 0) < (held.metric or 0):
                best[key] = r
        self._routes = best
        # per family, longest first: (prefix length, its netmask as an integer)
        self._masks = {
            version: [
                (length, ((1 << length) - 1) << (bits - length) if length else 0)
                for length in sorted({length for v, length, _ in best if v == version}, reverse=True)
            ]
            for version, bits in ((4, 32), (6, 128))
        }

    def lookup(self, address: str) -> iproute.Route | None:
        version, value = _address_value(address)
        for length, mask in self._masks[version]:
            route = self._routes.get((version, length, value & mask))
            if route is not None:
                return route
        return None


@functools.lru_cache(maxsize=65536)  # every hop of every path looks up the same few addresses
def _address_value(address: str) -> tuple[int, int]:
    """(IP version, the address as an integer); ValueError when it is not an address."""
    ip = ipaddress.ip_address(address)
    return ip.version, int(ip)


def address_owners(
    collected: list[tuple[str, list[iproute.Address]]], inventory: list[tuple[str, list[str]]]
) -> dict[str, str]:
    """Address -> owning host, built once: collected addresses first (in host order), then the
    inventory's addresses and internal IPs, the first owner winning (what `World.owner_of` answers).

    Example: address_owners([("r1", [Address("eth0", "10.0.0.1", 24)])], [("n1", ["10.0.0.9"])])
        -> {"10.0.0.1": "r1", "10.0.0.9": "n1"}
    """
    owners: dict[str, str] = {}
    for name, addresses in collected:
        for a in addresses:
            owners.setdefault(a.address, name)
    for name, listed in inventory:
        for address in listed:
            owners.setdefault(address, name)
    return owners
