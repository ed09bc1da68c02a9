"""Does each hop of a path pass the packet on: forwarding of the path's family on every transit hop
(net.ipv4.ip_forward, net.ipv6.conf.all.forwarding), and the reverse-path filter (rp_filter) at
every hop that receives an IPv4 packet, judged against the route back. IPv6 has no rp_filter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bgpdoctor.engine.world import Unknown, effective_rp_filter, parse_proc_sysctl
from bgpdoctor.parsers import iproute

if TYPE_CHECKING:
    from bgpdoctor.engine.active import NodePair
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Hop, Path, World


def _hop_unknown(world: World, host: str, *facts: str) -> Unknown | None:
    for fact in facts:
        if (problem := world.command_problem(host, fact)) is not None:
            return problem
    return None


def _rp_filter_drops(
    world: World, path: Path, pair: NodePair, hops: list[Hop]
) -> tuple[list[tuple[str, str, str | None, int]], Unknown | None]:
    """The hops of `hops` whose rp_filter drops the packet (host, iif, return dev, value), and why
    a hop could not be judged."""
    drops = []
    rp_unknown: Unknown | None = None
    for hop in hops:
        if hop.iif is None:
            continue
        values = world.sysctl(hop.host)
        rp = effective_rp_filter(values, hop.iif)
        if rp is None or world.parsed(hop.host, "ip.route", iproute.parse_routes) is None:
            rp_unknown = (
                rp_unknown
                or _hop_unknown(world, hop.host, "sysctl", "ip.route")
                or Unknown("parse-error", f"rp_filter of {hop.iif} not in the sysctl output of {hop.host}")
            )
            continue
        back = world.lookup(hop.host, pair.src_ip)
        back_dev = back.dev if back else None
        if (rp == 1 and back_dev != hop.iif) or (rp == 2 and back is None):
            drops.append((hop.host, hop.iif, back_dev, rp))
    return drops, rp_unknown


def rp_filter_facts(world: World, s: Subject, path: Path, pair: NodePair) -> None:
    """rp_filter at every hop that receives the packet (transit and destination), judged against
    the route each has back to the source. An IPv6 path is not judged: the sysctl is IPv4's alone."""
    if ":" in path.dst_ip:
        return
    drops, rp_unknown = _rp_filter_drops(world, path, pair, path.hops[1:])
    if drops:
        s.add("rp_filter_ok", False)
        host, iif, back_dev, rp = drops[0]
        s.add("rp_filter_host", host, world.evidence(host, "sysctl"), world.evidence(host, "ip.route"))
        s.add("rp_filter_iif", iif)
        s.add("rp_filter_return_dev", back_dev or "none")
        s.add("rp_filter_value", rp)
    elif rp_unknown is not None or path.unknown is not None:
        s.unknown("rp_filter_ok", rp_unknown or path.unknown)
    else:
        s.add("rp_filter_ok", True)


def _not_forwarding(world: World, path: Path, hops: list[Hop]) -> tuple[list[str], str, Unknown | None]:
    """The hops of `hops` with forwarding of the path's family off, the sysctl fact read, and why
    a hop could not be read: net.ipv4.ip_forward says nothing about IPv6, which needs
    net.ipv6.conf.all.forwarding."""
    off, unread = [], None
    fact, key = (
        ("sysctl.ipv6", "net.ipv6.conf.all.forwarding")
        if ":" in path.dst_ip
        else ("sysctl", "net.ipv4.ip_forward")
    )
    for hop in hops:
        value = (world.parsed(hop.host, fact, parse_proc_sysctl) or {}).get(key)
        if value is None:
            unread = (
                unread
                or _hop_unknown(world, hop.host, fact)
                or Unknown("parse-error", f"no {key} in the {fact} output of {hop.host}")
            )
        elif value == "0":
            off.append(hop.host)
    return off, fact, unread


def transit_forwarding_facts(world: World, s: Subject, path: Path) -> None:
    """Forwarding of the path's family on every transit hop (known only where its sysctls could be
    read)."""
    off, fact, unread = _not_forwarding(world, path, path.hops[1:-1])
    if off:
        quoted = [world.evidence(host, fact) for host in off] if fact == "sysctl.ipv6" else []
        s.add("forwarding_ok", False, *quoted)
    elif unread is not None or path.unknown is not None:
        s.unknown("forwarding_ok", unread or path.unknown)
    else:
        s.add("forwarding_ok", True)


def reaches(world: World, path: Path, pair: NodePair, index: int) -> bool | Unknown:
    """Does the packet get as far as the forward hook of `path.hops[index]`: every hop after the
    source up to it (itself included) forwards and passes rp_filter? (Each of them has a route on:
    the trace went past it.) What lies further along does not matter; a hop up to it that could
    not be read makes it unknown, unless another already stops the packet."""
    hops = path.hops[1 : index + 1]
    off, _fact, unread = _not_forwarding(world, path, hops)
    drops, rp_unknown = ([], None) if ":" in path.dst_ip else _rp_filter_drops(world, path, pair, hops)
    if off or drops:
        return False
    return unread or rp_unknown or True
