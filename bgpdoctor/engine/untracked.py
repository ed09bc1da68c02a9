"""A host firewall that accepts its own traffic only by conntrack state, while that traffic is untracked.

A `notrack` rule in a raw-priority prerouting chain (Cilium marks its decrypted WireGuard and
tunnel traffic so; users add such rules for performance) leaves the packet in conntrack state
`untracked`. An input chain with policy drop that lets the host's own flows in by `ct state
established,related accept` then drops the replies to the host's own connections: the SYN-ACK of
a BGP or API connection, the echo reply of a ping (gist ElXreno/9117838f8b449fd1de49450db91c966c:
Talos + Cilium WireGuard, `nft_do_chain -> SKB_DROP_REASON_NETFILTER_DROP`). Only packets the
host receives itself (input hook) are judged: a forwarded pod packet never crosses input.

Pure code over World; `input_drop_facts` adds the facts of firewall-blocks-pod-cidr to a path
subject (engine/subjects.py) when its ping failed: firewall_host, firewall_table, firewall_chain,
firewall_in, firewall_out, firewall_untracked=True, firewall_notrack_rule, firewall_notrack_table,
firewall_notrack_chain, firewall_untracked_packet.
Example: firewall_host="sakamoto", firewall_table="inet bdn_fw", firewall_chain="input",
firewall_notrack_rule="ip saddr 10.42.0.0/16 notrack",
firewall_untracked_packet="10.42.3.1 -> 10.42.0.1 (the reply) on eth0".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bgpdoctor.parsers import nft

if TYPE_CHECKING:
    from bgpdoctor.engine.active import NodePair
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Path, World

CONNTRACK_PRIORITY = -200  # a rule of a chain hooked before conntrack decides whether it tracks
L4_PROTOCOLS = ("tcp", "udp", "sctp", "dccp", "udplite", "icmp", "icmpv6")
_SKIP = ("counter", "notrack", "log", "limit")


@dataclass(frozen=True)
class Packet:
    src: str
    dst: str
    iif: str | None
    protocol: str  # "icmp" for the ping probe, "tcp" for BGP


@dataclass(frozen=True)
class UntrackedDrop:
    notrack: nft.Rule
    chain: nft.Chain  # the input chain whose policy drops it
    established: nft.Rule  # the state rule that would have let it in, were it tracked
    rules: list[nft.Rule]  # that chain's rules, for the evidence


def _applies(rule: nft.Rule, packet: Packet) -> bool | None:
    """Does the rule's match take this packet (True), leave it out (False), or match on something
    this packet's description does not say (None: a mark, a set lookup, a conntrack field)?"""
    for e in rule.expr:
        if not isinstance(e, dict) or any(k in e for k in _SKIP) or any(v in e for v in nft._VERDICTS):
            continue
        m = e.get("match")
        if not isinstance(m, dict):
            return None
        left, op, right = m.get("left"), m.get("op", "=="), m.get("right")
        payload = left.get("payload") if isinstance(left, dict) else None
        meta = left.get("meta") if isinstance(left, dict) else None
        if isinstance(left, dict) and left.get("ct") == {"key": "state"}:
            continue  # judged by the caller
        if (
            isinstance(payload, dict)
            and payload.get("field") in ("saddr", "daddr")
            and op in ("==", "in", "!=")
        ):
            if payload.get("protocol") not in ("ip", None):
                return False  # an IPv6 match never takes an IPv4 packet
            address = ipaddress.ip_address(packet.src if payload["field"] == "saddr" else packet.dst)
            inside = any(n.version == 4 and address in n for n in nft._networks(right))
            if inside == (op == "!="):
                return False
            continue
        if isinstance(payload, dict) and payload.get("protocol") in L4_PROTOCOLS:
            if payload["protocol"] != packet.protocol:
                return False
            return None  # a port or type match: not known for the packet
        if isinstance(meta, dict) and meta.get("key") in ("iifname", "iif") and op == "==":
            want = str(right)
            wildcard = want.endswith("*") and packet.iif is not None and packet.iif.startswith(want[:-1])
            if packet.iif is None or not (packet.iif == want or wildcard):
                return False
            continue
        values = [str(v) for v in (right if isinstance(right, list) else [right])]
        if isinstance(meta, dict) and meta.get("key") in ("protocol", "nfproto"):
            if ("ip" in values or "ipv4" in values) != (op in ("==", "in")):
                return False  # an IPv6-only rule (or one excluding IPv4)
            continue
        l4 = isinstance(meta, dict) and meta.get("key") == "l4proto"
        if l4 or (isinstance(payload, dict) and payload.get("field") == "protocol"):
            if (packet.protocol in values) != (op in ("==", "in")):
                return False
            continue
        return None
    return True


def _states(rule: nft.Rule) -> set[str] | None:
    for e in rule.expr:
        m = e.get("match") if isinstance(e, dict) else None
        left = m.get("left") if isinstance(m, dict) else None
        if isinstance(m, dict) and isinstance(left, dict) and left.get("ct") == {"key": "state"}:
            right = m.get("right")
            return {str(v) for v in (right if isinstance(right, list) else [right])}
    return None


def untracked_drop(ruleset: nft.Ruleset, packet: Packet) -> UntrackedDrop | None:
    """The notrack rule that leaves `packet` untracked and the input chain that then drops it,
    or None when either is not proven (a jump, or a match this cannot evaluate, counts as maybe
    accepted: no finding rather than a wrong one).

    Example: untracked_drop(rs, Packet("10.42.3.1", "10.42.0.1", "eth0", "icmp"))
        -> UntrackedDrop(notrack=Rule(..., matches="ip saddr 10.42.0.0/16 notrack"), ...)
    """
    by_chain: dict[tuple[str, str, str], list[nft.Rule]] = {}
    for r in ruleset.rules:
        by_chain.setdefault((r.family, r.table, r.chain), []).append(r)
    notrack = next(
        (
            r
            for c in ruleset.chains
            if c.hook == "prerouting" and c.family in ("ip", "inet") and (c.prio or 0) < CONNTRACK_PRIORITY
            for r in by_chain.get((c.family, c.table, c.name), [])
            if any(isinstance(e, dict) and "notrack" in e for e in r.expr) and _applies(r, packet) is True
        ),
        None,
    )
    if notrack is None:
        return None
    for chain in ruleset.chains:
        if chain.hook != "input" or chain.policy != "drop" or chain.family not in ("ip", "inet"):
            continue
        rules = by_chain.get((chain.family, chain.table, chain.name), [])
        established: nft.Rule | None = None
        for rule in rules:
            applies = _applies(rule, packet)
            if applies is False:
                continue
            states = _states(rule)
            verdict = (rule.verdict or "").split(" ")[0]
            if states is not None and "untracked" not in states:
                if verdict == "accept" and "established" in states and applies:
                    established = established or rule
                continue  # a state match that an untracked packet never meets
            if verdict in ("drop", "reject") and applies:
                break  # dropped by a rule of its own: not this cause
            if verdict in ("accept", "jump", "goto", "queue") or applies is None:
                established = None  # accepted, or maybe: nothing proven
                break
        else:
            if established is not None:
                return UntrackedDrop(notrack, chain, established, rules)
    return None


def _line(rule: nft.Rule) -> str:
    return f"{rule.family} {rule.table} {rule.chain}: {rule.matches}"


def input_drop_facts(world: World, s: Subject, path: Path, back: Path, pair: NodePair) -> None:
    """For the request at the destination and the reply at the source, when that host holds the
    address it is sent to: the firewall facts of an untracked drop on its input path."""
    if s.facts.get("firewall_host") or path.unknown is not None:
        return
    last_back = back.hops[-1] if back.hops else None
    reply_iif = last_back.iif if last_back else None
    request_iif = path.hops[-1].iif if path.hops else None
    packets = [
        (pair.source, Packet(pair.dst_ip, pair.src_ip, reply_iif, "icmp"), "the reply"),
        (pair.destination, Packet(pair.src_ip, pair.dst_ip, request_iif, "icmp"), "the request"),
    ]
    for host, packet, which in packets:
        if not world.is_local(host, packet.dst):
            continue
        ruleset = world.ruleset(host)
        found = untracked_drop(ruleset, packet) if ruleset is not None else None
        if found is None:
            continue
        chain = found.chain
        lines = [
            _line(found.notrack) + "   <- leaves it untracked (before conntrack)",
            f"{chain.family} {chain.table} {chain.name}: type filter hook input policy drop",
            *(_line(r) for r in found.rules),
            f"(an untracked packet meets no `ct state {','.join(sorted(_states(found.established) or []))}`)",
        ]
        raw = world.evidence(host, "nft.ruleset")
        note = "excerpt: notrack, then input policy drop"
        excerpt = raw.model_copy(update={"output": "\n".join(lines), "note": note}) if raw else None
        s.add("firewall_host", host, excerpt, raw)
        s.add("firewall_table", f"{chain.family} {chain.table}")
        s.add("firewall_chain", chain.name)
        s.add("firewall_in", packet.iif or "")
        s.add("firewall_out", "")
        s.add("firewall_untracked", True)
        s.add("firewall_notrack_rule", found.notrack.matches)
        s.add("firewall_notrack_table", f"{found.notrack.family} {found.notrack.table}")
        s.add("firewall_notrack_chain", found.notrack.chain)
        s.add("firewall_untracked_packet", f"{packet.src} -> {packet.dst} ({which}) on {packet.iif or '?'}")
        return
