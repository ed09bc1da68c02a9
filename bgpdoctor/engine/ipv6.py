"""IPv6 and dual stack: what an IPv6 session or host needs beyond what IPv4 ones are judged on.

The commands a host with IPv6 in its inventory entry is asked (IPv6 forwarding, the IPv6 neighbour
cache, the IPv6 routes its GoBGP received), which listening sockets accept an IPv6 session, and the
facts of the `ipv6-link-local` cause: link-local peering whose Neighbor Discovery fails (a FAILED or
INCOMPLETE entry for the peer's fe80:: address, an nft rule dropping ICMPv6 ND), and IPv6 routes a
receiver got with a next hop it cannot use (`::` or a link-local address without its interface).

Example: commands(host) -> {"sysctl.ipv6": "grep -H . /proc/sys/net/ipv6/conf/all/forwarding",
"ip6.neigh": "ip -6 -j neigh show"} for a host with an IPv6 peer.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv6Address, IPv6Network, ip_address
from typing import TYPE_CHECKING

from bgpdoctor.drivers import driver_for, ipv4_next_hop
from bgpdoctor.engine.world import Unknown
from bgpdoctor.intent import PeerIntent
from bgpdoctor.inventory_model import Host
from bgpdoctor.parsers import gobgp, iproute, nft
from bgpdoctor.parsers.iprule import RULE_TABLES_COMMAND
from bgpdoctor.report.model import Evidence

if TYPE_CHECKING:
    from bgpdoctor.engine.active import NodePair
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Session, SessionEnd, World

SYSCTL6_COMMAND = "grep -H . /proc/sys/net/ipv6/conf/all/forwarding"
NEIGH6_COMMAND = "ip -6 -j neigh show"
ROUTE6_COMMAND = "ip -6 -j route show table main"
RULE6_COMMAND = "ip -6 -j rule show"
# the IPv6 tables the IPv6 rules look up, read the way the IPv4 ones are (parsers/iprule.py)
RULE6_TABLES_COMMAND = RULE_TABLES_COMMAND.replace("ip rule show", "ip -6 rule show").replace(
    "ip -j route show", "ip -6 -j route show"
)
LINK_LOCAL = IPv6Network("fe80::/10")
# a neighbour cache entry in one of these states: nobody answered the Neighbor Solicitation
NDP_FAILED_STATES = ("FAILED", "INCOMPLETE")
ND_TYPES = ("nd-neighbor-solicit", "nd-neighbor-advert", "nd-router-solicit", "nd-router-advert")


def uses_ipv6(host: Host) -> bool:
    """The inventory gives the host an IPv6 peer, address or pod CIDR."""
    return (
        any(p.family == 6 for p in host.peers)
        or any(a.version == 6 for a in host.addresses)
        or any(c.version == 6 for c in host.pod_cidrs)
    )


def commands(host: Host) -> dict[str, str]:
    """The IPv6 commands run on a host whose inventory entry has IPv6 (not on others: a kernel
    without IPv6 has no /proc/sys/net/ipv6, and asking it would only add a failed command); a
    daemon's own IPv6 table is among its driver's commands (GoBGP's on every GoBGP host)."""
    return (
        {
            "sysctl.ipv6": SYSCTL6_COMMAND,
            "ip6.neigh": NEIGH6_COMMAND,
            "ip6.route": ROUTE6_COMMAND,
            "ip6.rule": RULE6_COMMAND,  # IPv6 has its own rules and tables
            "ip6.route.rules": RULE6_TABLES_COMMAND,
        }
        if uses_ipv6(host)
        else {}
    )


def route_get_command(peer: PeerIntent) -> str:
    """`ip -j route get ADDR`, with `oif IFACE` for a link-local neighbor (its address alone names
    no link). Example: route_get_command(fe80::2 on eth0) -> "ip -j route get fe80::2 oif eth0"."""
    oif = f" oif {peer.interface}" if peer.interface else ""
    return f"ip -j route get {peer.address}{oif}"


def listening_for(world: World, host: str, peer: PeerIntent | None) -> bool | None:
    """Does the host accept a BGP connection of the peer's family on TCP 179? A socket on 0.0.0.0
    takes no IPv6 connection: an IPv6 session needs `[::]:179`, `*:179` or an IPv6 address."""
    if peer is None or peer.family == 4:
        return world.listening_179(host)
    sockets = world.listeners_179(host)
    if sockets is None:
        return None
    return any(s.local_address == "*" or ":" in s.local_address for s in sockets)


def ipv6_fib(world: World, name: str, prefixes: Iterable[str]) -> set[str]:
    """The destinations of the host's IPv6 main table when `prefixes` holds an IPv6 one (`ip -j
    route` lists IPv4 only); FactUnknown when that table cannot be read, empty when not needed."""
    if not any(":" in p for p in prefixes):
        return set()
    return {r.dst for r in world.known(name, "ip6.route", iproute.parse_routes6)}


def gobgp_ipv6_prefixes(world: World, name: str, cidrs: Iterable[str]) -> tuple[set[str], Evidence | None]:
    """The IPv6 prefixes in GoBGP's table when `cidrs` holds an IPv6 one (`-a ipv4` has none)."""
    if not any(":" in c for c in cidrs):
        return set(), None
    return {p.prefix for p in world.known(name, "gobgp.rib6", gobgp.parse_rib)}, world.evidence(
        name, "gobgp.rib6"
    )


# -- IPv6 pod paths ------------------------------------------------------------------------------


def pod_address6(world: World, name: str) -> str | None:
    """The node's IPv6 pod address: its inventory `pod_probe_ip` when that is IPv6, else the first
    address it holds inside one of its IPv6 pod CIDRs (Cilium's cilium_host holds one per family).

    Example: pod_address6(world, "n1") -> "fd00:42:1::1"
    """
    host = world.inv.hosts[name]
    if host.pod_probe_ip is not None and host.pod_probe_ip.version == 6:
        return str(host.pod_probe_ip)
    from bgpdoctor.engine.active import held_inside

    cidrs = [c for c in host.pod_cidrs if isinstance(c, IPv6Network)]
    return held_inside(world, name, cidrs) if cidrs else None


def pod_pairs(world: World, ordered: list[tuple[str, str]]) -> list[NodePair]:
    """The IPv6 pod paths of the node pairs whose pod probe addresses are IPv4 (dual stack): the
    same pairs, between the nodes' IPv6 pod addresses. Nodes probed over IPv6 already (an IPv6
    `pod_probe_ip`) or without an IPv6 pod address get none.
    """
    from bgpdoctor.engine.active import NodePair, pod_address

    pairs: list[NodePair] = []
    for a, b in ordered:
        probes = [pod_address(world, n) for n in (a, b)]
        if any(p is None or ip_address(p).version == 6 for p in probes):
            continue
        src, dst = pod_address6(world, a), pod_address6(world, b)
        if src is None or dst is None:
            continue
        cidr = next(
            (str(c) for c in world.inv.hosts[b].pod_cidrs if c.version == 6 and ip_address(dst) in c),
            f"{dst}/128",
        )
        pairs.append(NodePair(a, b, src, dst, cidr, ipv6=True))
    return pairs


# -- host facts ----------------------------------------------------------------------------------


def host_facts(world: World, s: Subject, name: str) -> None:
    """`ipv6_forward` on a host whose inventory entry has IPv6; the IPv6 routes GoBGP received with
    a next hop it cannot use."""
    if uses_ipv6(world.inv.hosts[name]):
        s.add("ipv6_in_use", True)
        _forwarding(world, s, name)
    if world.collected(name, "gobgp.rib6"):
        _next_hops(world, s, name)


def _forwarding(world: World, s: Subject, name: str) -> None:
    with s.deriving("ipv6_forward"):
        forward = world.sysctl_int(name, "sysctl.ipv6", "net.ipv6.conf.all.forwarding")
        s.add("ipv6_forward", forward, world.evidence(name, "sysctl.ipv6"))


def _next_hops(world: World, s: Subject, name: str) -> None:
    with s.deriving("ipv6_unusable_next_hops", "ipv6_ipv4_next_hops"):
        paths = world.known(name, "gobgp.rib6", gobgp.parse_rib)
        bad = [p for p in paths if p.neighbor_ip and _unusable_next_hop(p.next_hop)]
        s.add("ipv6_unusable_next_hops", [f"{p.prefix} via {p.next_hop}" for p in bad])
        raw = world.evidence(name, "gobgp.rib6")
        if bad and raw is not None:
            excerpt = Evidence(
                host=name,
                command=raw.command,
                output="\n".join(f"{p.prefix} next hop {p.next_hop} from {p.neighbor_ip}" for p in bad),
                note="excerpt: IPv6 routes whose next hop this daemon cannot use",
            )
            s.add("ipv6_next_hop_receiver", name, excerpt, raw)
            s.add("ipv6_next_hop_senders", sorted({p.neighbor_ip or "" for p in bad}))
        # an IPv6 route carried over an IPv4 session arrives with the session's IPv4 address as
        # next hop (sent IPv4-mapped, ::ffff:a.b.c.d): no IPv6 next hop to forward to
        mapped = [p for p in paths if p.neighbor_ip and ipv4_next_hop(p.next_hop)]
        s.add("ipv6_ipv4_next_hops", [f"{p.prefix} via {p.next_hop}" for p in mapped], raw)


def _unusable_next_hop(next_hop: str | None) -> bool:
    """`::` (no global next hop was sent) or a link-local one: GoBGP has no interface to reach it by,
    so it cannot hand the route to a FIB (what Cisco IOS refuses outright)."""
    try:
        address = ip_address(str(next_hop).split("%", 1)[0])
    except ValueError:
        return False
    return isinstance(address, IPv6Address) and (address.is_unspecified or address in LINK_LOCAL)


# -- IPv6 carried over an IPv4 session ------------------------------------------------------------


def _sends_ipv6(world: World, sender: SessionEnd, receiver: SessionEnd) -> bool | None:
    """Does the sender hold IPv6 routes it would send the receiver? Its driver's answer (None when
    its table is not read)."""
    driver = driver_for(world.inv.hosts[sender.host].speaker)
    if driver is None:
        return None
    return driver.ipv6_sent(world, sender.host, sender.peer, str(receiver.local_as or ""))


def _sent_without_global_next_hop(world: World, sender: SessionEnd) -> int | None:
    driver = driver_for(world.inv.hosts[sender.host].speaker)
    return driver.ipv6_sent_without_global_next_hop(world, sender.host, sender.peer) if driver else None


def ipv6_over_ipv4_facts(world: World, s: Subject, session: Session) -> None:
    """ipv6_over_ipv4_unusable: IPv6 routes arrive over this IPv4 session with the sender's IPv4
    address (IPv4-mapped, ::ffff:a.b.c.d) as next hop, and the receiver (BIRD 2, FRR) cannot use
    them: BIRD drops them, FRR holds them but cannot install them (cilium#31911, cilium#37831).
    Judged at each end whose driver can tell; GoBGP never installs what it receives (its own
    warning is `bgp-ipv6-next-hop-family`)."""
    judged = False
    for receiver in session.ends:
        if receiver.peer is None:
            continue
        neighbor = str(receiver.peer.address)
        driver = driver_for(world.inv.hosts[receiver.host].speaker)
        other = next((e for e in session.ends if e is not receiver), None)

        def sender_sends(other: SessionEnd | None = other, receiver: SessionEnd = receiver) -> bool | None:
            return _sends_ipv6(world, other, receiver) if other is not None else None

        if driver is None:
            continue
        found = driver.ipv6_mapped_refused(world, receiver.host, receiver.peer, sender_sends)
        if found is None:
            continue
        judged = True
        refused, fact = found
        if not refused:
            continue
        sender = other.host if other is not None else neighbor
        raw = world.evidence(receiver.host, fact)
        excerpt = _excerpt(raw, refused, f"excerpt: IPv6 routes from {neighbor} with an IPv4 next hop")
        s.add("ipv6_over_ipv4_unusable", True, excerpt, raw)
        s.add("ipv6_over_ipv4_receiver", receiver.host)
        s.add("ipv6_over_ipv4_sender", sender)
        s.add("ipv6_over_ipv4_neighbor", neighbor)
        if receiver.peer.name:
            s.add("ipv6_over_ipv4_protocol", receiver.peer.name)  # the receiver's own name of the session
        if other is not None and other.peer is not None:
            s.add("ipv6_over_ipv4_sender_neighbor", str(other.peer.address))  # where the sender's fix goes
        s.add("ipv6_over_ipv4_routes", refused)
        asn = receiver.local_as
        if asn:
            s.add("ipv6_over_ipv4_asn", asn)
        s.add(
            "ipv6_over_ipv4_problem",
            f"{sender} sends IPv6 routes over the IPv4 session to {receiver.host} with its IPv4 address as "
            f"next hop, and {driver.daemon} on {receiver.host} cannot use them ({'; '.join(refused)}): "
            "IPv4 works, IPv6 does not",
        )
        return
    if judged:
        s.add("ipv6_over_ipv4_unusable", False)


# -- IPv6 routes sent without a global next hop, BIRD 2 or FRR receiving ---------------------------


def no_global_next_hop_facts(world: World, s: Subject, session: Session) -> None:
    """ipv6_unusable_next_hops on an Established IPv6 session: IPv6 routes its BIRD 2 or FRR
    receiver dropped because their next hop is link-local only (`::` global). BIRD counts them as
    ignored withdraws of its ipv6 channel; FRR keeps none in `show bgp ipv6 unicast json` while a
    BIRD sender exported them with `BGP Next hop: ::` (corpus case 71: what Cisco IOS refuses)."""
    if session.b is None:
        return
    judged = False
    for receiver, sender in ((session.a, session.b), (session.b, session.a)):
        if receiver.peer is None:
            continue
        neighbor = str(receiver.peer.address)
        driver = driver_for(world.inv.hosts[receiver.host].speaker)
        sent_without = _sent_without_global_next_hop(world, sender)
        found = (
            driver.ipv6_link_local_refused(world, receiver.host, receiver.peer, sender.host, sent_without)
            if driver is not None
            else None
        )
        if found is None:
            continue
        judged = True
        refused, fact = found
        if not refused:
            continue
        if sent_without:
            refused = [*refused, f"{sender.host} sends them with `BGP Next hop: ::` (link-local only)"]
        raw = world.evidence(receiver.host, fact)
        excerpt = _excerpt(raw, refused, f"excerpt: IPv6 routes from {neighbor} dropped for their next hop")
        s.add("ipv6_unusable_next_hops", refused, excerpt, raw, world.evidence(sender.host, "bird.protocols"))
        s.add("ipv6_next_hop_receiver", receiver.host)
        s.add("ipv6_next_hop_senders", [sender.host])
        return
    if judged:
        s.add("ipv6_unusable_next_hops", [])


# -- session facts -------------------------------------------------------------------------------


def session_facts(world: World, s: Subject, session: Session, up: bool) -> None:
    """The session's family; on an IPv6 session, Neighbor Discovery between the two ends."""
    peers = [e.peer for e in session.ends if e.peer is not None]
    if not peers:
        return
    family = peers[0].family
    s.add("session_family", family)
    if family == 4 and up:
        with s.deriving("ipv6_over_ipv4_unusable"):
            ipv6_over_ipv4_facts(world, s, session)
    if family != 6:
        return
    s.add("link_local", any(p.link_local for p in peers))
    if up:
        s.add("ndp_ok", True)
        with s.deriving("ipv6_unusable_next_hops"):
            no_global_next_hop_facts(world, s, session)
        return
    with s.deriving("ndp_ok"):
        failed = _ndp_failure(world, session)
        s.add("ndp_ok", failed is None)
    if s.facts.get("ndp_ok") is False and failed is not None:
        host, entry = failed
        s.add(
            "ndp_failed_host",
            host,
            Evidence(
                host=host,
                command=NEIGH6_COMMAND,
                output=f"{entry.address} dev {entry.dev} {' '.join(entry.states)}",
                note="excerpt: nobody answers Neighbor Solicitations for the peer",
            ),
            world.evidence(host, "ip6.neigh"),
        )
        s.add("ndp_failed_address", entry.address)
        s.add("ndp_failed_interface", entry.dev or "")
        s.add("ndp_state", entry.states[0] if entry.states else "")
        _icmpv6_drop(world, s, [e.host for e in session.ends])


def _ndp_failure(world: World, session: Session) -> tuple[str, iproute.Neighbour] | None:
    """The first end whose neighbour cache has the other end's address (the neighbor address it
    dials) FAILED or INCOMPLETE; FactUnknown when an end's cache cannot be read."""
    for end in session.ends:
        if end.peer is None or end.peer.family != 6:
            continue
        entries = world.known(end.host, "ip6.neigh", iproute.parse_neighbours)
        want = str(end.peer.address)
        for entry in entries:
            same_link = end.peer.interface is None or entry.dev == end.peer.interface
            failed = any(state in NDP_FAILED_STATES for state in entry.states)
            if entry.address.split("%", 1)[0] == want and same_link and failed:
                return end.host, entry
    return None


def _icmpv6_drop(world: World, s: Subject, hosts: list[str]) -> None:
    """An nft rule on either end that drops Neighbor Discovery (or all ICMPv6)."""
    unread = []
    for host in hosts:
        ruleset = world.ruleset(host) if host in world.facts else None
        if ruleset is None:
            if world.collected(host, "nft.ruleset"):
                unread.append(host)
            continue
        for rule in ruleset.rules:
            if _drops_nd(rule):
                raw = world.evidence(host, "nft.ruleset")
                counter = f" (counter packets {rule.counter_packets})" if rule.counter_packets else ""
                line = f"{rule.family} {rule.table} {rule.chain}: {rule.matches}{counter}"
                excerpt = (
                    Evidence(
                        host=host,
                        command=raw.command,
                        output=line,
                        note="excerpt: the rule that drops Neighbor Discovery",
                    )
                    if raw is not None
                    else None
                )
                s.add("icmpv6_drop_host", host, excerpt, raw)
                s.add("icmpv6_drop_rule", rule.matches)
                s.add("icmpv6_drop_table", f"{rule.family} {rule.table}")
                s.add("icmpv6_drop_chain", rule.chain)
                return
    if unread:
        s.unknown(
            "icmpv6_drop_host",
            Unknown("not-collected", f"the nft ruleset of {', '.join(unread)} could not be read"),
        )


def _drops_nd(rule: nft.Rule) -> bool:
    if (rule.verdict or "") not in ("drop", "reject"):
        return False
    text = rule.matches
    if "icmpv6" not in text and "ipv6-icmp" not in text:
        return False
    if "type" not in text:
        return True  # all of ICMPv6
    return any(kind in text for kind in ND_TYPES)


def _excerpt(raw: Evidence | None, lines: list[str], note: str) -> Evidence | None:
    """The lines that show the refusal, quoted from the receiver's output."""
    if raw is None:
        return None
    return Evidence(host=raw.host, command=raw.command, output="\n".join(lines), note=note)
