"""Path MTU from the DF ping sweep of a path: the MTU measured, a black hole (large packets lost
without "fragmentation needed"), the interface where the MTU drops (or two ends of one layer 2
with different MTUs), and the nftables rule that drops ICMP "fragmentation needed" (on an IPv6
path `ping -6 -M do` and ICMPv6 "packet too big").
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from bgpdoctor.engine.firewall import nft_excerpt, rule_line
from bgpdoctor.engine.world import Unknown
from bgpdoctor.report.model import Evidence

if TYPE_CHECKING:
    from bgpdoctor.engine.active import NodePair
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Path, World


def sweep_facts(world: World, s: Subject, path: Path, pair: NodePair, sweep: Any) -> None:
    """What the DF ping sweep from `pair.source` measured; where the MTU drops when it found a black hole."""
    raw = "\n".join(p.raw for p in sweep.probes)
    ev = Evidence(
        host=pair.source,
        command=f"ping{' -6' if ':' in pair.dst_ip else ''} -M do sweep ({len(sweep.probes)} probes)",
        output=raw,
        note="binary search of the largest DF packet that gets a reply",
    )
    s.add("mtu_probes", len(sweep.probes), ev)
    s.add("mtu_start", sweep.start)
    if sweep.path_mtu is None:
        # not even the smallest probe came back: the sweep could not measure anything
        outcome = sweep.probes[-1].outcome if sweep.probes else "no probe sent"
        s.unknown(
            "mtu_blackhole",
            Unknown(
                "not-collected",
                f"no DF ping from {pair.source} reached {pair.dst_ip} (last probe: {outcome}), "
                "so the path MTU could not be measured",
            ),
            ev,
        )
        s.unknown("path_mtu", s.problems["mtu_blackhole"])
        return
    s.add("path_mtu", sweep.path_mtu)
    s.add("mtu_blackhole", sweep.blackhole)
    if sweep.silent_above:
        s.add("mtu_silent_above", sweep.silent_above)
    if sweep.frag_needed_from:
        s.add("frag_needed_from", sweep.frag_needed_from)
    if sweep.blackhole and sweep.path_mtu:
        at = _mtu_bottleneck(world, path, sweep.path_mtu)
        narrow = path.hops[at].host if at is not None else None
        if at is not None:
            s.add("mtu_bottleneck_host", narrow, world.evidence(path.hops[at].host, "ip.addr"))
            s.add("mtu_bottleneck_iface", path.hops[at].oif)
            _two_mtus_behind(world, s, path, at, sweep.path_mtu)
        else:
            _mtu_l2_mismatch(world, s, path, sweep.path_mtu)
        _pmtu_filter(world, s, [h.host for h in path.hops], narrow, ":" in pair.dst_ip)


def _iface_mtu(world: World, host: str, ifname: str | None) -> int | None:
    return next((a.mtu for a in world.addresses(host) if a.ifname == ifname and a.mtu), None)


def _mtu_bottleneck(world: World, path: Path, path_mtu: int) -> int | None:
    """The index of the first hop whose outgoing interface MTU is the path MTU (where frag-needed
    should come from)."""
    for i, hop in enumerate(path.hops):
        if hop.oif and _iface_mtu(world, hop.host, hop.oif) == path_mtu:
            return i
    return None


# Linux takes a received frame up to a VLAN header over the interface's MTU (is_skb_forwardable:
# mtu + hard_header_len + VLAN_HLEN), so a DF probe up to 4 bytes above the receiver's MTU still
# gets through: the sweep then measures 1461 across an interface of MTU 1460
L2_RECEIVE_SLACK = 4


def _mtu_l2_mismatch(world: World, s: Subject, path: Path, path_mtu: int) -> None:
    """A sender whose interface MTU is above what the next hop's interface takes, on one layer 2
    (overlay members with different MTUs): the frame is dropped without any ICMP."""
    for prev, hop in zip(path.hops, path.hops[1:], strict=False):
        sent, taken = _iface_mtu(world, prev.host, prev.oif), _iface_mtu(world, hop.host, hop.iif)
        if sent and taken and taken <= path_mtu <= taken + L2_RECEIVE_SLACK and sent > path_mtu:
            s.add("mtu_bottleneck_host", prev.host, world.evidence(prev.host, "ip.addr"))
            s.add("mtu_bottleneck_iface", prev.oif)
            s.add("mtu_sender_mtu", sent)
            s.add("mtu_receiver", hop.host, world.evidence(hop.host, "ip.addr"))
            s.add("mtu_receiver_iface", hop.iif)
            s.add("mtu_receiver_mtu", taken)
            s.add("mtu_odd_hosts", ", ".join(_odd_mtu_ends(world, prev.host, sent, hop.host, hop.iif, taken)))
            return


def _two_mtus_behind(world: World, s: Subject, path: Path, at: int, mtu: int) -> None:
    """When the next hop on the narrow interface's layer 2 takes larger frames, the segment has two
    MTUs: the frames it sends back are dropped without any ICMP as well. Named as the reverse
    direction names them (`_odd_mtu_ends`): when the narrow host is the odd member, or nothing tells,
    this diagnosis also carries the repair of the segment; when the other end is the odd one, that
    is a finding of its own (the reverse path's layer-2 mismatch)."""
    if at + 1 >= len(path.hops):
        return
    host, ifname, peer = path.hops[at].host, path.hops[at].oif, path.hops[at + 1]
    peer_mtu = _iface_mtu(world, peer.host, peer.iif)
    if not peer_mtu or peer_mtu <= mtu + L2_RECEIVE_SLACK:
        return
    odd = _odd_mtu_ends(world, peer.host, peer_mtu, host, ifname, mtu)
    if host not in odd:
        return
    s.add("mtu_segment_peer", peer.host, world.evidence(peer.host, "ip.addr"))
    s.add("mtu_segment_peer_iface", peer.iif)
    s.add("mtu_segment_mtu", peer_mtu)
    s.add("mtu_odd_hosts", ", ".join(odd))


def _network(address: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_interface(f"{address.address}/{address.prefixlen}").network
    except ValueError:
        return None


def _holds(net: ipaddress.IPv4Network | ipaddress.IPv6Network, address: str) -> bool:
    try:
        return ipaddress.ip_address(address) in net
    except ValueError:
        return False


def _odd_mtu_ends(
    world: World, sender: str, sent: int, receiver: str, iif: str | None, taken: int
) -> list[str]:
    """The end of a layer 2 with two MTUs whose MTU differs from the segment's other members (the
    hosts holding an address in the receiver's subnet); both ends when nothing else tells."""
    nets = [net for a in world.addresses(receiver) if a.ifname == iif and (net := _network(a))]
    like_sender = like_receiver = 0
    for host in world.facts:
        if host in (sender, receiver):
            continue
        for a in world.addresses(host):
            if a.mtu and any(_holds(net, a.address) for net in nets):
                like_sender += a.mtu == sent
                like_receiver += a.mtu == taken
    if like_sender > like_receiver:
        return [receiver]
    if like_receiver > like_sender:
        return [sender]
    return [sender, receiver]


def _pmtu_filter(world: World, s: Subject, hosts: list[str], first: str | None, ipv6: bool = False) -> None:
    """The rule on the path that drops ICMP "fragmentation needed", or on an IPv6 path ICMPv6
    "packet too big" (a small MTU becomes a black hole)."""
    signal = "packet-too-big" if ipv6 else "frag-needed"
    for host in sorted(set(hosts), key=lambda h: h != first):
        ruleset = world.ruleset(host)
        for rule in ruleset.rules if ruleset else []:
            if signal in rule.matches and (rule.verdict or "") in ("drop", "reject"):
                s.add(
                    "pmtu_filter_rule",
                    rule.matches,
                    nft_excerpt(world, host, [rule_line(rule)], "the rule that drops frag-needed"),
                    world.evidence(host, "nft.ruleset"),
                )
                s.add("pmtu_filter_host", host)
                s.add("pmtu_filter_table", f"{rule.family} {rule.table}")
                s.add("pmtu_filter_chain", rule.chain)
                return
