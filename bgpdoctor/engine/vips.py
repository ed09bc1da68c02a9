"""LoadBalancer VIPs as a router sees them: host routes learned over BGP inside its own LANs.

A VIP inside a connected subnet is on-link for every host of that subnet: they ARP for it instead of
sending it to the BGP next hop. The cluster's pool objects say so when bgpdoctor can read them (see
engine/cluster.py); these facts say the same from the router alone, so a run without cluster access
still finds it, and the neighbour table tells whether anybody answers ARP for the VIP (an L2
announcement by MetalLB or Cilium makes the design work).
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
from typing import TYPE_CHECKING

from bgpdoctor.engine.routing import router_bgp_paths
from bgpdoctor.engine.world import World
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.parsers import iproute
from bgpdoctor.report.model import Evidence

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=65536)  # every router's BGP paths repeat the same prefixes
def _network(text: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def vip_facts(world: World, s: Subject, name: str) -> None:
    """Adds, on a router holding BGP host routes inside one of its connected subnets:
    lb_pool_overlaps (["192.168.0.0/24"]), lb_pool_cidr ("192.168.0.240/32"), lb_pool_name
    ("lb-pool", a name for the fix), lb_vip_announcer ("yuuko-k8s"), lb_pool_suggested,
    lb_vip_arp ("192.168.0.240: FAILED") when the neighbour table was read, and lb_vip_answered (True
    when someone answers ARP for every such VIP: an L2 announcement, so no finding).

    BGP paths are BIRD's (`bird.bgp_routes`) or FRR's (`frr.bgp_ipv4`); nothing is added when neither
    was collected. Addresses of inventory hosts and the cluster's pod range never count as VIPs.
    """
    if world.inv.hosts[name].role != "router":
        return
    held = router_bgp_paths(world, name)
    if held is None:
        return
    source, paths = held
    note = (
        "BGP host routes and their next hops"
        if source == "bird.bgp_routes"
        else "BGP host routes FRR holds and their next hops"
    )
    connected = [
        (net, r.dev)
        for r in world.known(name, "ip.route", iproute.parse_routes)
        if r.protocol == "kernel" and r.scope == "link" and not r.gateway
        if (net := _network(r.dst)) is not None
    ]
    own = world.memo(("own addresses",), lambda: _own_addresses(world))
    pod_ranges = world.inv.cluster_pod_cidrs
    vips: dict[str, tuple[str, str | None, str]] = {}  # vip -> (subnet, dev, next hop)
    for prefix, hop in paths:
        net = _network(prefix)
        if net is None or not hop or net.num_addresses != 1 or str(net.network_address) in own:
            continue
        if any(net.version == r.version and net.subnet_of(r) for r in pod_ranges):  # type: ignore[arg-type]
            continue
        for cnet, dev in connected:
            if (
                cnet.version == net.version
                and cnet.num_addresses > 1
                and net.subnet_of(cnet)  # type: ignore[arg-type]
                and ipaddress.ip_address(hop) in cnet
            ):
                vips.setdefault(str(net.network_address), (str(cnet), dev, hop))
                break
    evidence = (
        world.evidence(name, source, note),
        world.evidence(name, "ip.route", "connected routes (proto kernel scope link)"),
    )
    if not vips:
        s.add("lb_pool_overlaps", [], *evidence)
        return
    announcers = sorted({world.owner_of(hop) or hop for _, _, hop in vips.values()})
    subnets = sorted({subnet for subnet, _, _ in vips.values()})
    s.add("lb_vip_announcer", ", ".join(announcers))
    s.add("lb_pool_cidr", ", ".join(f"{vip}/{32 if ':' not in vip else 128}" for vip in sorted(vips)))
    s.add("lb_pool_name", "lb-pool")  # the pool object is not visible from a router
    s.add("lb_pool_suggested", suggest_pool(subnets[0], subnets))
    if not world.collected(name, "ip.neigh"):
        s.add("lb_pool_overlaps", subnets, *evidence)
        return
    with s.deriving("lb_pool_overlaps"):
        table = {n.address: n for n in world.known(name, "ip.neigh", iproute.parse_neighbours)}
        seen = [f"{vip}: {' '.join(table[vip].states) or 'no state'}" for vip in sorted(vips) if vip in table]
        answered = all(vip in table and table[vip].answered for vip in vips)
        s.add("lb_vip_answered", answered, world.evidence(name, "ip.neigh"))
        if seen:
            s.add("lb_vip_arp", "; ".join(seen))
        # somebody answers ARP for every VIP (an L2 announcement): the design works as it is
        s.add("lb_pool_overlaps", [] if answered else subnets, *evidence, world.evidence(name, "ip.neigh"))


def suggest_pool(block: str, taken: list[str]) -> str:
    """The first /24 in the /16 of `block` that overlaps none of `taken` (the pool's own range).

    Example: suggest_pool("192.168.0.240/28", ["192.168.0.0/24"]) -> "192.168.1.0/24"
    """
    net = ipaddress.ip_network(block, strict=False)
    base = ipaddress.ip_network(f"{net.network_address}/16", strict=False)
    used = [ipaddress.ip_network(t, strict=False) for t in taken]
    for candidate in base.subnets(new_prefix=24):
        if not any(candidate.overlaps(u) for u in used):
            return str(candidate)
    return "a range outside the node subnets"


class _Intervals:
    """Whether an address lies in any of some networks: merged address ranges per IP version, bisected."""

    def __init__(self, networks: list[IPNetwork]) -> None:
        self._ranges: dict[int, tuple[list[int], list[int]]] = {}
        for version in (4, 6):
            spans = sorted(
                (int(n.network_address), int(n.broadcast_address)) for n in networks if n.version == version
            )
            merged: list[list[int]] = []
            for first, last in spans:
                if merged and first <= merged[-1][1] + 1:
                    merged[-1][1] = max(merged[-1][1], last)
                else:
                    merged.append([first, last])
            self._ranges[version] = ([m[0] for m in merged], [m[1] for m in merged])

    def holds(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        starts, ends = self._ranges[address.version]
        at = bisect.bisect_right(starts, int(address)) - 1
        return at >= 0 and int(address) <= ends[at]


def inventory_pool_subjects(inv: Inventory) -> list[Subject]:
    """The inventory's `lb_pools` against its site subnets and node addresses: one cluster-kind
    subject per pool that overlaps one, unless the pool says `l2: true` (ARP answered on the LAN)."""
    from bgpdoctor.engine.subject import Subject

    subnets: dict[str, str] = {}  # network -> whose, in the order a finding lists them
    for site_name, site in inv.sites.items():
        for net in site.subnets:
            subnets[str(net)] = f"site {site_name}"
    site_networks = [ipaddress.ip_network(n) for n in subnets]
    outside = _Intervals(site_networks)
    # node addresses outside every site subnet, each once: sorted per IP version for a range lookup
    points: dict[int, list[tuple[int, str]]] = {4: [], 6: []}
    for host_name, host in inv.hosts.items():
        if host.role == "node":
            for address in [*host.addresses, *([host.internal_ip] if host.internal_ip else [])]:
                key = f"{address}/32"
                if key not in subnets and not outside.holds(address):
                    subnets[key] = f"node {host_name}"
                    points[address.version].append((int(address), key))
    order = {key: i for i, key in enumerate(subnets)}
    for sorted_points in points.values():
        sorted_points.sort()
    out = []
    for name, pool in sorted(inv.lb_pools.items()):
        first, last = int(pool.cidr.network_address), int(pool.cidr.broadcast_address)
        hits = [str(n) for n in site_networks if pool.cidr.overlaps(n)]
        candidates = points[pool.cidr.version]
        start = bisect.bisect_left(candidates, (first, ""))
        stop = bisect.bisect_right(candidates, (last, "\uffff"))
        hits += [key for _, key in candidates[start:stop]]
        overlaps = [f"{net} ({subnets[net]})" for net in sorted(set(hits), key=order.__getitem__)]
        s = Subject("cluster", f"inventory lb_pools.{name}", [], [])
        evidence = Evidence(
            host="inventory",
            command=f"lb_pools.{name}",
            output=f"cidr: {pool.cidr}" + (", l2: true" if pool.l2 else ""),
            note="the inventory's LoadBalancer pool against its site subnets and node addresses",
        )
        found = bool(overlaps) and not pool.l2
        s.add("ok", not found, evidence)
        s.add("root_cause", "lb-pool-in-node-subnet" if found else "")
        s.add(
            "message",
            f"LoadBalancer pool {pool.cidr} overlaps {', '.join(overlaps)}" if found else "no overlap",
        )
        s.add("lb_pool_name", name)
        s.add("lb_pool_cidr", str(pool.cidr))
        s.add("lb_pool_overlaps", overlaps if found else [], evidence)
        taken = [o.split()[0] for o in overlaps]
        s.add("lb_pool_suggested", suggest_pool(taken[0], taken) if taken else str(pool.cidr))
        out.append(s)
    return out


def _own_addresses(world: World) -> set[str]:
    """Every address a host of the run holds or the inventory gives it: made once per run, not
    once per router (each scanned every node's addresses)."""
    own = {a.address for host in world.facts for a in world.addresses(host)}
    own |= {str(a) for h in world.inv.hosts.values() for a in [*h.addresses, h.internal_ip] if a}
    return own
