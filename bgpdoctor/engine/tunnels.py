"""Overlays (WireGuard, Tailscale) seen from their own state rather than from the routes.

Two causes read it:

- `tunnel-over-cni-loop` (host): a tunnel whose peer endpoint in use lies inside the cluster's pod
  range, on an address of a CNI interface, or behind a CNI device. The tunnel's own UDP packets
  then ride the pod network, which itself runs over the tunnel: a loop (tailscale/tailscale#7594,
  magicsock picking `10.244.55.193:41641`; cilium#48694, `now using 172.30.3.193:41641`, the
  peer's cilium_host address).
- `tunnel-drops-pod-cidr`, Tailscale variant (path): a hop routes the pod address into tailscale0
  but no peer's AllowedIPs carry it, so tailscaled drops it (`no matching peer`,
  tailscale/tailscale#10988). The destination's `tailscale debug prefs` say whether the pod CIDR
  is advertised (then it awaits approval) or not (k3s' `tailscale set --advertise-routes=$SUBNET`
  replaced the list, Bpazy/blog#320); the source's RouteAll says whether it accepts routes.

WireGuard is read once per host, from `wg show all dump` (`wg.dump`: each peer's endpoint and
AllowedIPs; the private and preshared keys it prints are redacted where collected). Recordings made
before hold `wg show all endpoints` (`wg.endpoints`) and `wg show all allowed-ips` (`wg.allowed`)
instead; those are read when the dump is absent.

A missing `wg` or `tailscale` binary is "not used" (the commands print nothing); a failing one
makes the facts unknown. Outputs of recordings made before these commands existed are not
collected at all: nothing is said then.

Example host facts: tunnel_over_cni=True, tunnel_loop_kind="tailscale",
tunnel_loop_interface="tailscale0", tunnel_loop_peer="node-b", tunnel_loop_endpoint="10.244.55.193:41641",
tunnel_loop_range="10.244.0.0/16 (the cluster's pod CIDR)".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bgpdoctor.engine.world import Unknown
from bgpdoctor.parsers import tailscale, wireguard

if TYPE_CHECKING:
    from bgpdoctor.engine.active import NodePair
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Path, World
    from bgpdoctor.report.model import Evidence

WG_DUMP = "wg.dump"
WG_ENDPOINTS = "wg.endpoints"  # older recordings
WG_ALLOWED = "wg.allowed"  # older recordings
TS_STATUS = "tailscale.status"
TS_PREFS = "tailscale.prefs"
TS_INTERFACE = "tailscale0"
# devices of the CNIs (Cilium, Calico, Flannel, kube-router, Weave, Antrea): an address on one, or a
# route through one, is the pod network
CNI_DEVICES = (
    "cilium_",
    "lxc",
    "cali",
    "vxlan.calico",
    "vxlan-v6.calico",
    "tunl0",
    "flannel",
    "cni0",
    "kube-bridge",
    "kube-ipvs0",
    "weave",
    "antrea-",
    "genev_sys",
)


def commands() -> dict[str, str]:
    """The read-only commands (fact -> command) run on routers and nodes.

    `wg show all dump` prints each interface's private key and each peer's preshared key, and
    `tailscale debug prefs` the node's private keys in `Persist`: collection redacts them
    (bgpdoctor.redact) before anything is kept.
    """
    return {
        WG_DUMP: "command -v wg >/dev/null 2>&1 || exit 0; wg show all dump",
        TS_STATUS: "command -v tailscale >/dev/null 2>&1 || exit 0; tailscale status --json",
        TS_PREFS: "command -v tailscale >/dev/null 2>&1 || exit 0; tailscale debug prefs",
    }


def is_cni_device(ifname: str | None) -> bool:
    return bool(ifname) and str(ifname).startswith(CNI_DEVICES)


@dataclass
class LoopEndpoint:
    kind: str  # "wireguard" or "tailscale"
    interface: str
    peer: str
    endpoint: str
    why: str  # "10.244.0.0/16 (the cluster's pod CIDR)", "172.30.3.193 (cilium_host of node-b)", ...
    block: str  # the range to keep the tunnel's packets out of, e.g. "10.244.0.0/16"


def _cluster_ranges(world: World) -> list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]]:
    ranges: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = []
    ranges += [(net, "the cluster's pod CIDR") for net in world.inv.cluster_pod_cidrs]
    for name, host in sorted(world.inv.hosts.items()):
        ranges += [(net, f"the pod CIDR of {name}") for net in host.pod_cidrs]
    return ranges


def _cni_addresses(world: World) -> dict[str, str]:
    """Every address held on a CNI device by a host in scope -> "cilium_host of node-b"."""

    def compute() -> dict[str, str]:
        found: dict[str, str] = {}
        for name in sorted(world.facts):
            for a in world.addresses(name):
                if is_cni_device(a.ifname):
                    found.setdefault(a.address, f"{a.ifname} of {name}")
        return found

    return world.memo(("tunnels", "cni_addresses"), compute)


def _inside_cni(world: World, host: str, endpoint: str) -> tuple[str, str] | None:
    """(why an endpoint is on the pod network seen from `host`, the range to block); None when not."""
    address = tailscale.endpoint_address(endpoint)
    if address is None:
        return None
    for net, label in _cluster_ranges(world):
        if address.version == net.version and address in net:
            return f"{net} ({label})", str(net)
    single = f"{address}/{address.max_prefixlen}"
    held = _cni_addresses(world).get(str(address))
    if held is not None:
        return f"{address} ({held})", single
    route = world.lookup(host, str(address)) if address.version == 4 else None
    if route is not None and route.dst not in ("default", "0.0.0.0/0") and is_cni_device(route.dev):
        block = route.dst if "/" in route.dst else single
        return f"{address} (routed by {host} through {route.dev}: {route.dst})", block
    return None


def wireguard_fact(world: World, host: str, older: str) -> str:
    """The fact WireGuard's state is read from: the dump, or in an older recording `older`."""
    return WG_DUMP if world.collected(host, WG_DUMP) or not world.collected(host, older) else older


def _wg_endpoints(world: World, host: str) -> list[wireguard.WgEndpoint] | None:
    if wireguard_fact(world, host, WG_ENDPOINTS) == WG_DUMP:
        dump = world.parsed(host, WG_DUMP, wireguard.parse_dump)
        return dump.endpoints() if dump is not None else None
    return world.parsed(host, WG_ENDPOINTS, wireguard.parse_endpoints)


def _wireguard_loops(world: World, host: str, found: list[LoopEndpoint]) -> tuple[bool, Unknown | None]:
    """(WireGuard in use on the host, why its endpoints are unknown)."""
    fact = wireguard_fact(world, host, WG_ENDPOINTS)
    if not world.collected(host, fact):
        return False, None
    peers = _wg_endpoints(world, host)
    if peers is None:
        return False, world.command_problem(host, fact)
    for p in peers:
        inside = _inside_cni(world, host, p.endpoint) if p.endpoint else None
        if inside is not None and p.endpoint is not None:
            found.append(LoopEndpoint("wireguard", p.interface, p.peer_key, p.endpoint, *inside))
    return bool(peers), None


def _tailscale_loops(
    world: World, host: str, found: list[LoopEndpoint], candidates: list[str]
) -> tuple[bool, Unknown | None]:
    if not world.collected(host, TS_STATUS):
        return False, None
    status = world.parsed(host, TS_STATUS, tailscale.parse_status)
    if status is None:
        return False, world.command_problem(host, TS_STATUS)
    for peer in status.peers:
        if peer.cur_addr and (inside := _inside_cni(world, host, peer.cur_addr)) is not None:
            found.append(LoopEndpoint("tailscale", TS_INTERFACE, peer.name, peer.cur_addr, *inside))
        candidates += [f"{peer.name} {a}" for a in peer.addrs if _inside_cni(world, host, a) is not None]
    return status.used, None


def host_facts(world: World, s: Subject, name: str) -> None:
    """Adds tunnel_over_cni (bool) when the host runs WireGuard or Tailscale (or their state could
    not be read: unknown), and for the first endpoint in use on the pod network tunnel_loop_kind,
    _interface, _peer, _endpoint, _range, _block, _port (and _peer_host, _underlay: the peer's node
    and its inventory address, when the endpoint is an address of a host in the inventory);
    tunnel_cni_candidates lists Tailscale endpoints a peer offers on the pod network that are not
    in use (magicsock may switch to them)."""
    found: list[LoopEndpoint] = []
    candidates: list[str] = []
    wg_used, wg_unknown = _wireguard_loops(world, name, found)
    ts_used, ts_unknown = _tailscale_loops(world, name, found, candidates)
    if found:
        loop = found[0]
        fact = TS_STATUS if loop.kind == "tailscale" else wireguard_fact(world, name, WG_ENDPOINTS)
        note = "peers and the endpoint each uses (CurAddr)" if loop.kind == "tailscale" else "peer endpoints"
        s.add("tunnel_over_cni", True, world.evidence(name, fact, note), world.evidence(name, "ip.route"))
        s.add("tunnel_loop_kind", loop.kind)
        s.add("tunnel_loop_interface", loop.interface)
        s.add("tunnel_loop_peer", loop.peer)
        s.add("tunnel_loop_endpoint", loop.endpoint)
        s.add("tunnel_loop_range", loop.why)
        s.add("tunnel_loop_block", loop.block)
        port = loop.endpoint.rsplit(":", 1)[-1]
        if port.isascii() and port.isdigit():
            s.add("tunnel_loop_port", int(port))
        owner = world.owner_of(str(tailscale.endpoint_address(loop.endpoint)))
        inventory = world.inv.hosts[owner].addresses if owner in world.inv.hosts else []
        underlay = [str(a) for a in inventory if str(a) != str(tailscale.endpoint_address(loop.endpoint))]
        if owner and underlay:
            s.add("tunnel_loop_peer_host", owner)
            s.add("tunnel_loop_underlay", underlay[0])
        s.add("tunnel_cni_candidates", candidates)
        return
    unknown = wg_unknown or ts_unknown
    if unknown is not None:
        s.unknown("tunnel_over_cni", unknown)
    elif wg_used or ts_used:
        s.add(
            "tunnel_over_cni",
            False,
            world.evidence(name, wireguard_fact(world, name, WG_ENDPOINTS)) if wg_used else None,
            world.evidence(name, TS_STATUS) if ts_used else None,
        )
        s.add("tunnel_cni_candidates", candidates)


# -- Tailscale: the pod CIDR is not a route the tailnet carries ------------------------------


def _contains(prefixes: list[str], address: str) -> bool:
    ip = ipaddress.ip_address(address)
    for p in prefixes:
        net = ipaddress.ip_network(p, strict=False)
        if net.version == ip.version and ip in net:
            return True
    return False


def wireguard_path_facts(world: World, s: Subject, path: Path, pair: NodePair) -> None:
    """A hop that sends the pod traffic into a WireGuard interface whose peers may not carry it."""
    dst = ipaddress.ip_address(pair.dst_ip)
    for hop in path.hops:
        peers = world.wireguard(hop.host).get(hop.oif or "")
        if not peers:
            continue
        carried = any(dst in ipaddress.ip_network(c, strict=False) for _key, cidrs in peers for c in cidrs)
        if not carried:
            key, cidrs = peers[0]
            fact = wireguard_fact(world, hop.host, WG_ALLOWED)
            s.add("tunnel_drops", hop.host, world.evidence(hop.host, fact, "WireGuard allowed-ips"))
            s.add("tunnel_interface", hop.oif)
            s.add("tunnel_peer_key", key)  # a public key: safe to show
            s.add("tunnel_allowed_ips", ",".join(cidrs))
            return


def path_facts(world: World, s: Subject, path: Path, pair: NodePair) -> None:
    """The Tailscale variant of tunnel_drops: the first hop that routes the pod address into
    tailscale0 while no peer's AllowedIPs carry it (or only a subnet route this host does not
    accept). Adds tunnel_drops, tunnel_interface, tunnel_tailscale, tunnel_route_state
    ('not-advertised', 'not-approved', 'not-accepted' or 'not-carried' when the advertising side's
    prefs are unread), tunnel_route_router and tunnel_advertise_routes. A WireGuard finding already
    made (wireguard_path_facts) stays. Then tunnel_carries_pod_cidr: False when a tunnel drops it,
    True when the path crosses a WireGuard or Tailscale tunnel that carries it, unknown when a
    tunnel hop's state could not be read; absent on a path without tunnels."""
    crossed = False
    if "tunnel_drops" not in s.facts:
        for i, hop in enumerate(path.hops):
            if world.wireguard(hop.host).get(hop.oif or ""):
                crossed = True
            if not hop.oif or not hop.oif.startswith("tailscale") or not world.collected(hop.host, TS_STATUS):
                continue
            status = world.parsed(hop.host, TS_STATUS, tailscale.parse_status)
            if status is None:
                s.unknown("tunnel_carries_pod_cidr", world.command_problem(hop.host, TS_STATUS))
                s.unknown("tunnel_drops", s.problems["tunnel_carries_pod_cidr"])
                return
            if not status.used:
                continue
            crossed = True
            if status.backend_state not in ("Running", ""):
                # a stopped or logged-out tailscaled carries nothing: not a route that is missing
                why = f"tailscaled on {hop.host} is {status.backend_state}, not Running: it carries no route"
                s.unknown(
                    "tunnel_carries_pod_cidr", Unknown("ambiguous", why), world.evidence(hop.host, TS_STATUS)
                )
                s.unknown("tunnel_drops", s.problems["tunnel_carries_pod_cidr"])
                return
            router = path.hops[i + 1].host if i + 1 < len(path.hops) else pair.destination
            dropped = _tailscale_drop(world, s, hop.host, hop.oif, router, status, pair)
            if dropped is None:
                return  # unknown: its reason is set
            if dropped:
                break
    if "tunnel_drops" in s.facts:
        s.add("tunnel_carries_pod_cidr", False, *s.evidence.get("tunnel_drops", []))
    elif crossed:
        s.add("tunnel_carries_pod_cidr", True)


def _tailscale_drop(
    world: World,
    s: Subject,
    host: str,
    interface: str,
    router: str,
    status: tailscale.TailscaleStatus,
    pair: NodePair,
) -> bool | None:
    """Does tailscaled on `host` drop the pod address (facts added), carry it (False), or is that
    unknown (None, reason added)?"""
    evidence = world.evidence(host, TS_STATUS, "the peers and the AllowedIPs the tunnel carries")
    carried = [p for p in status.peers if _contains(p.allowed_ips, pair.dst_ip)]
    if carried:
        if any(pair.dst_ip in p.tailscale_ips for p in carried) or not world.collected(host, TS_PREFS):
            return False  # a peer's own address, or prefs not collected (an older recording)
        prefs = world.parsed(host, TS_PREFS, tailscale.parse_prefs)
        if prefs is None:
            s.unknown("tunnel_carries_pod_cidr", world.command_problem(host, TS_PREFS))
            s.unknown("tunnel_drops", s.problems["tunnel_carries_pod_cidr"])
            return None
        if not prefs.used or prefs.route_all is not False:
            return False
        state = "not-accepted"
        evidence_prefs = world.evidence(host, TS_PREFS, "RouteAll is --accept-routes")
        router = carried[0].name
    else:
        state, evidence_prefs = _advertised_state(world, router, pair.dst_ip)
    advertised = _advertised(world, router)
    routes = [*advertised, pair.dst_cidr] if pair.dst_cidr not in advertised else advertised
    s.add("tunnel_drops", host, evidence, evidence_prefs)
    s.add("tunnel_interface", interface)
    s.add("tunnel_tailscale", True)
    s.add("tunnel_route_state", state)
    s.add("tunnel_route_router", router)
    s.add("tunnel_advertise_routes", ",".join(routes))
    return True


def _advertised(world: World, host: str) -> list[str]:
    prefs = world.parsed(host, TS_PREFS, tailscale.parse_prefs) if host in world.facts else None
    return list(prefs.advertise_routes) if prefs is not None else []


def _advertised_state(world: World, router: str, dst_ip: str) -> tuple[str, Evidence | None]:
    """Is the pod address advertised by the node that should carry it (then it waits for approval)?"""
    prefs = world.parsed(router, TS_PREFS, tailscale.parse_prefs) if router in world.facts else None
    if prefs is None or not prefs.used:
        return "not-carried", None
    evidence = world.evidence(router, TS_PREFS, "AdvertiseRoutes: what this node offers the tailnet")
    if _contains(prefs.advertise_routes, dst_ip):
        return "not-approved", evidence
    return "not-advertised", evidence
