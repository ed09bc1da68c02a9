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
    from bgpdoctor.engine.world import Path, World


def _hop_unknown(world: World, host: str, *facts: str) -> Unknown | None:
    for fact in facts:
        if (problem := world.command_problem(host, fact)) is not None:
            return problem
    return None


def rp_filter_facts(world: World, s: Subject, path: Path, pair: NodePair) -> None:
    """rp_filter at every hop that receives the packet (transit and destination), judged against
    the route each has back to the source. An IPv6 path is not judged: the sysctl is IPv4's alone."""
    if ":" in path.dst_ip:
        return
    drops = []
    rp_unknown: Unknown | None = None
    for hop in path.hops[1:]:
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


def transit_forwarding_facts(world: World, s: Subject, path: Path) -> None:
    """Forwarding of the path's family on every transit hop (known only where its sysctls could be
    read): net.ipv4.ip_forward says nothing about IPv6, which needs net.ipv6.conf.all.forwarding."""
    off, unread = [], None
    fact, key = (
        ("sysctl.ipv6", "net.ipv6.conf.all.forwarding")
        if ":" in path.dst_ip
        else ("sysctl", "net.ipv4.ip_forward")
    )
    for hop in path.hops[1:-1]:
        value = (world.parsed(hop.host, fact, parse_proc_sysctl) or {}).get(key)
        if value is None:
            unread = (
                unread
                or _hop_unknown(world, hop.host, fact)
                or Unknown("parse-error", f"no {key} in the {fact} output of {hop.host}")
            )
        elif value == "0":
            off.append(hop.host)
    if off:
        quoted = [world.evidence(host, fact) for host in off] if fact == "sysctl.ipv6" else []
        s.add("forwarding_ok", False, *quoted)
    elif unread is not None or path.unknown is not None:
        s.unknown("forwarding_ok", unread or path.unknown)
    else:
        s.add("forwarding_ok", True)
