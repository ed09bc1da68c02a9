"""Paths of test clients: external hosts and clients in the node subnet, to and from the pods and
to the LoadBalancer VIPs, each traced both ways through the FIBs and `ip rule`.

A client is an inventory host of role `vantage` whose address is outside every pod CIDR (the
metrics-server pod is a vantage too, but it is a pod: its paths are pod paths). For each client:
- client -> each node's pod probe address (an external host reaching a pod, calico#7434) and the
  pod -> the client (pod egress without outbound NAT whose replies come back through another node,
  calico#7901);
- client -> each VIP of the inventory (`lb_vips`): the request ends on the host that holds the VIP
  as an address (a DSR backend) or else on the node announcing it (an eBPF load balancer answers
  there), and the reply is traced from that host with the VIP as its source (cilium#34972: via the
  router there, on-link back; cilium#12895: answered by another node than the one announcing it).
The answering host's interfaces are judged too: the request arriving on one, the reply leaving by
another (cilium#40521: BGP on eth1, replies by eth0's default route).

No probe is sent: the paths are read from the collected FIBs, and engine/asymmetry.py judges them.
Example subject labels: "client->bdx-n1", "bdx-n1->client", "client->bdx-n1 vip 10.64.0.1".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bgpdoctor.engine import asymmetry
from bgpdoctor.engine.active import NodePair, pod_address, pod_cidr_of
from bgpdoctor.engine.world import Hop, Path

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import World


@dataclass
class ClientPair(NodePair):
    """A path of a test client: `kind` "pod" (client to pod or pod to client) or "vip"."""

    kind: str = "pod"

    @property
    def key(self) -> str:
        base = f"{self.source}->{self.destination}" + ("/ipv6" if self.ipv6 else "")
        return f"{base} vip {self.dst_ip}" if self.kind == "vip" else base


def _pod_networks(world: World) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    nets = [c for h in world.inv.hosts.values() for c in h.pod_cidrs]
    return nets + world.inv.cluster_pod_cidrs


def client_address(world: World, name: str) -> str | None:
    """The client's IPv4 address: the first the inventory gives, else the first collected one."""
    listed = [str(a) for a in world.inv.hosts[name].addresses if a.version == 4]
    if listed:
        return listed[0]
    seen = [a.address for a in world.addresses(name) if ":" not in a.address and a.ifname != "lo"]
    return seen[0] if seen else None


def client_address6(world: World, name: str) -> str | None:
    """The client's global IPv6 address: the first the inventory gives, else the first collected one."""
    listed = [str(a) for a in world.inv.hosts[name].addresses if a.version == 6 and not a.is_link_local]
    seen = [a.address for a in world.addresses(name) if ":" in a.address and a.ifname != "lo"]
    return next((a for a in listed + seen if not a.lower().startswith("fe80:")), None)


def clients(world: World) -> list[tuple[str, str]]:
    """(name, address) of every test client whose facts were collected.

    Example: [("client", "10.214.0.10")]
    """
    pods = _pod_networks(world)
    found = []
    for name, host in world.inv.hosts.items():
        if host.role != "vantage" or name not in world.facts:
            continue
        address = client_address(world, name)
        if address is None:
            continue
        ip = ipaddress.ip_address(address)
        if any(ip.version == n.version and ip in n for n in pods):
            continue
        found.append((name, address))
    return found


def client_pairs(world: World) -> list[ClientPair]:
    """The paths of every client: both ways to each node's pod, and to each inventory VIP."""
    pairs: list[ClientPair] = []
    pods = {name: pod_address(world, name) for name, h in world.inv.hosts.items() if h.role == "node"}
    nodes = [
        (name, pod)
        for name, pod in pods.items()
        if pod is not None and ipaddress.ip_address(pod).version == 4
    ]
    vips = [(str(v), name) for name, h in world.inv.hosts.items() for v in h.lb_vips]
    for client, address in clients(world):
        for node, pod in nodes:
            pairs.append(ClientPair(client, node, address, pod, pod_cidr_of(world, node, pod)))
            pairs.append(ClientPair(node, client, pod, address, f"{address}/32"))
        for vip, node in vips:
            pairs.append(ClientPair(client, node, address, vip, f"{vip}/32", kind="vip"))
    return pairs + _ipv6_pairs(world, [n for n, _h in nodes])


def _ipv6_pairs(world: World, nodes: list[str]) -> list[ClientPair]:
    """Both ways between each client's IPv6 address and each dual-stack node's IPv6 pod address."""
    from bgpdoctor.engine.ipv6 import pod_address6

    pairs: list[ClientPair] = []
    for client, _address in clients(world):
        address6 = client_address6(world, client)
        if address6 is None:
            continue
        for node in nodes:
            pod = pod_address6(world, node)
            if pod is None:
                continue
            cidrs = world.inv.hosts[node].pod_cidrs
            cidr = next((str(c) for c in cidrs if ipaddress.ip_address(pod) in c), f"{pod}/128")
            pairs.append(ClientPair(client, node, address6, pod, cidr, ipv6=True))
            pairs.append(ClientPair(node, client, pod, address6, f"{address6}/128", ipv6=True))
    return pairs


def _vip_request(world: World, pair: ClientPair) -> Path:
    """The request to a VIP, ending on the host that holds it as an address, or else on the first
    node on the way that announces it (its load balancer answers without the address)."""
    path = world.trace(pair.source, pair.src_ip, pair.dst_ip, pair.dst_cidr, pair.destination)
    if path.complete or path.unknown is not None:
        return path
    announcing = {n for n, h in world.inv.hosts.items() if ipaddress.ip_address(pair.dst_ip) in h.lb_vips}
    for at, hop in enumerate(path.hops):
        if hop.host in announcing and at > 0:
            hops = [*path.hops[:at], Hop(hop.host, hop.iif, None, None, pair.dst_cidr)]
            return Path(path.source, hop.host, pair.src_ip, pair.dst_ip, pair.dst_cidr, hops, True)
    return path


def client_subject(world: World, pair: ClientPair) -> Subject:
    from bgpdoctor.engine.subject import Subject

    forward = _vip_request(world, pair) if pair.kind == "vip" else world.trace(
        pair.source, pair.src_ip, pair.dst_ip, pair.dst_cidr, pair.destination
    )  # fmt: skip
    answering = forward.hops[-1].host if forward.complete and forward.hops else pair.destination
    back = world.trace(answering, pair.dst_ip, pair.src_ip, f"{pair.src_ip}/32", pair.source)
    related = {h.host for h in forward.hops} | {h.host for h in back.hops} | {pair.source, answering}
    s = Subject("path", pair.key, [pair.source, answering], sorted(related))
    s.add("segment", False)
    s.add("client_kind", pair.kind)
    s.add("source", pair.source)
    s.add("destination", answering)
    s.add("src_ip", pair.src_ip)
    s.add("dst_ip", pair.dst_ip)
    s.add("dst_cidr", pair.dst_cidr)
    s.add("hops", asymmetry.hops_text(forward))
    if forward.unknown is not None:
        s.unknown("route_complete", forward.unknown)
    elif forward.complete:
        # an incomplete client path is no finding: outside hosts often have no route to the pods by design
        s.add("route_complete", True)
    if forward.complete and back.complete and forward.unknown is None and back.unknown is None:
        _interface_facts(world, s, forward, back)
    asymmetry.path_facts(world, s, forward, back, pair)
    return s


def _interface_facts(world: World, s: Subject, forward: Path, back: Path) -> None:
    """Does the answering host reply by the interface the request came in on?"""
    arrived, leaves = forward.hops[-1].iif, back.hops[0].oif
    if arrived is None or leaves is None:
        return
    first = back.hops[0]
    s.add("answering_host", first.host)
    s.add("request_interface", arrived)
    s.add("reply_interface", leaves)
    s.add(
        "reply_same_interface",
        arrived == leaves,
        world.route_excerpt(first.host, [first.route or ""], f"the route {first.host} replies by"),
    )
