"""A LoadBalancer VIP whose traffic the routers and the node send back and forth (cilium#14176).

The router learns the VIP over BGP and sends it to the announcing node. When the VIP is not an
address of that node (Cilium's eBPF load balancer, a DSR setup), whatever the load balancer does
not take (ICMP, a port no Service listens on) is routed by the node's FIB: its default route
leads back to the router, which sends it to the node again, until the TTL runs out. A trace that
comes back to a host it already crossed is that loop, a finding, not an unknown path.

Pure code over World; `vip_loop_facts` adds its facts to a router's host subject.
Example facts: vip_routing_loop=True, vip_loop_vip="10.62.0.1", vip_loop_node="bda-n1",
vip_loop_hosts=["bda-ra", "bda-n1"], vip_loop_path="bda-ra(->eth0) -> bda-n1(eth0>eth0) -> bda-ra".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bgpdoctor.engine.world import Path, Unknown

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import World

LOOP = "routing loop"


def loop_hosts(world: World, path: Path) -> list[str]:
    """The hosts of the loop a trace stopped at: from the host it came back to, to the last one.

    Example: ["bda-ra", "bda-n1"] for bda-ra -> bda-n1 -> (bda-ra again)
    """
    if path.stop_reason != LOOP or not path.hops:
        return []
    last = path.hops[-1]
    back_to = world.owner_of(last.gateway or path.dst_ip)
    hosts = [h.host for h in path.hops]
    return hosts[hosts.index(back_to) :] if back_to in hosts else hosts


def vip_loop_facts(world: World, s: Subject, router: str) -> None:
    """Trace every LoadBalancer VIP of the inventory (`lb_vips` of its nodes) from this router.

    Adds vip_routing_loop (bool; unknown when a trace reached a host whose routes could not be
    read) and, for the first VIP that loops, vip_loop_vip, vip_loop_node (the node announcing
    it), vip_loop_hosts and vip_loop_path. Nothing is added when the inventory names no VIP.
    """
    vips = [(str(v), name) for name, h in world.inv.hosts.items() for v in h.lb_vips]
    if not vips:
        return
    inventory = world.inv.hosts[router].addresses
    source = str(inventory[0]) if inventory else next((a.address for a in world.addresses(router)), None)
    if source is None:
        s.unknown("vip_routing_loop", world.command_problem(router, "ip.addr"))
        return
    unknown: Unknown | None = None
    for vip, node in vips:
        path = world.trace(router, source, vip, f"{vip}/32", node)
        if path.unknown is not None:
            unknown = unknown or path.unknown
            continue
        hosts = loop_hosts(world, path)
        if not hosts:
            continue
        shown = " -> ".join(f"{h.host}({h.iif or '-'}>{h.oif or '-'})" for h in path.hops)
        s.add(
            "vip_routing_loop",
            True,
            *(
                world.route_excerpt(h.host, [h.route], f"the route {h.host} uses")
                for h in path.hops
                if h.route
            ),
        )
        s.add("vip_loop_vip", vip)
        s.add("vip_loop_node", node)
        s.add("vip_loop_hosts", hosts)
        s.add("vip_loop_path", f"{shown} -> {hosts[0]}")
        return
    if unknown is not None:
        s.unknown("vip_routing_loop", unknown)
    else:
        s.add("vip_routing_loop", False)
