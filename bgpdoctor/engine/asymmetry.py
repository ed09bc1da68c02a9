"""Forward and return paths that cross different hosts, and the stateful rule that drops the flow.

A host that routes only one direction of a flow sees half of each TCP handshake: its conntrack
marks the SYN-ACK (or the client's ACK) INVALID, so a `ct state invalid drop` (kube-proxy's
`-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP`) or a firewall that forwards only
established traffic drops it. An ICMP echo request is NEW on every packet, so a ping may pass one
way while TCP fails: the rule is the evidence, not the ping.

Pure code over World; `path_facts` adds its facts to a path subject built in engine/subjects.py.
Example facts: path_symmetric=False, return_hops="n2(->eth1) -> rb(eth1>eth0) -> n1(eth1>-)",
asymmetric_stateful_drop=True, stateful_drop_host="ra",
stateful_drop_rule="ct state invalid counter drop", stateful_drop_table="inet bda_fw".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bgpdoctor.engine.world import Hop, Path, Unknown
from bgpdoctor.parsers import nft

if TYPE_CHECKING:
    from bgpdoctor.engine.active import NodePair
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import World

TRANSIT_HOOKS = ("prerouting", "forward")
IPV4_FAMILIES = ("ip", "inet")
STATEFUL_XT = ("conntrack", "state")  # iptables-nft matches `nft -j` shows without their states


@dataclass(frozen=True)
class StatefulDrop:
    """A rule on a transit hook that drops by conntrack state, or a forward chain that lets only
    established traffic through.

    Example: StatefulDrop(table="ip filter", chain="KUBE-FORWARD", rule="conntrack match
    (iptables-nft: `nft -j` hides its --ctstate) counter drop", kind="invalid-drop", handle=4)
    """

    table: str
    chain: str
    rule: str
    kind: str  # "invalid-drop" or "established-only"
    handle: int | None = None


def hops_text(path: Path) -> str:
    """Example: "n2(->eth1) -> rb(eth1>eth0) -> n1(eth0>-)"."""
    tables = [f" table {h.table}" if h.table else "" for h in path.hops]
    return " -> ".join(
        f"{h.host}({h.iif or '-'}>{h.oif or '-'}{t})" for h, t in zip(path.hops, tables, strict=True)
    )


def _ct_states(expr: dict[str, Any]) -> tuple[set[str], str | None] | None:
    """(conntrack states, their verdict) of one `ct state` expression, None when it is not one;
    an iptables-nft conntrack match gives ({"?"}, None) since its states are not in the JSON."""
    match, vmap, xt = expr.get("match"), expr.get("vmap"), expr.get("xt")
    if isinstance(xt, dict) and xt.get("type") == "match" and xt.get("name") in STATEFUL_XT:
        return {"?"}, None
    if isinstance(match, dict):
        left = match.get("left")
        if isinstance(left, dict) and left.get("ct") == {"key": "state"} and match.get("op") in ("==", "in"):
            right = match.get("right")
            values = right if isinstance(right, list) else [right]
            return {str(v) for v in values}, None
    if isinstance(vmap, dict) and vmap.get("key") == {"ct": {"key": "state"}}:
        entries = (vmap.get("data") or {}).get("set")
        states: set[str] = set()
        for entry in entries if isinstance(entries, list) else []:
            verdict = entry[1] if isinstance(entry, list) and len(entry) == 2 else None
            if isinstance(verdict, dict) and ("drop" in verdict or "reject" in verdict):
                states.add(str(entry[0]))
        return (states, "drop") if states else None
    return None


def _excludes(rule: nft.Rule, src: str, dst: str, iif: str | None, oif: str | None) -> bool:
    """The rule's address or interface matches leave this packet out."""
    for e in rule.expr:
        m = e.get("match") if isinstance(e, dict) else None
        if not isinstance(m, dict) or m.get("op", "==") not in ("==", "in"):
            continue
        left = m.get("left")
        payload = left.get("payload") if isinstance(left, dict) else None
        meta = left.get("meta") if isinstance(left, dict) else None
        if isinstance(payload, dict) and payload.get("field") in ("saddr", "daddr"):
            address = ipaddress.ip_address(src if payload["field"] == "saddr" else dst)
            networks = nft._networks(m.get("right"))
            if networks and not any(n.version == address.version and address in n for n in networks):
                return True
        if isinstance(meta, dict) and meta.get("key") in ("iifname", "oifname"):
            have = iif if meta["key"] == "iifname" else oif
            want = str(m.get("right"))
            if have is not None and not (have == want or (want.endswith("*") and have.startswith(want[:-1]))):
                return True
    return False


def _only_addresses(rule: nft.Rule) -> bool:
    """Every match of the rule is on addresses or interfaces (a port or mark match takes a part)."""
    for e in rule.expr:
        if not isinstance(e, dict) or "counter" in e or any(v in e for v in nft._VERDICTS):
            continue
        left = e["match"].get("left") if isinstance(e.get("match"), dict) else None
        payload = left.get("payload") if isinstance(left, dict) else None
        meta = left.get("meta") if isinstance(left, dict) else None
        if isinstance(payload, dict) and payload.get("field") in ("saddr", "daddr"):
            continue
        if isinstance(meta, dict) and meta.get("key") in ("iifname", "oifname"):
            continue
        if isinstance(e.get("xt"), dict) and e["xt"].get("name") == "comment":
            continue
        return False
    return True


def _reachable_chains(ruleset: nft.Ruleset) -> list[tuple[nft.Chain, list[nft.Rule]]]:
    """Chains a forwarded IPv4 packet traverses after conntrack, with their rules: filter base
    chains on the transit hooks and every chain they jump or go to (kube-proxy's thousands of nat
    chains are never walked)."""
    rules: dict[tuple[str, str, str], list[nft.Rule]] = {}
    for r in ruleset.rules:
        rules.setdefault((r.family, r.table, r.chain), []).append(r)
    by_name = {(c.family, c.table, c.name): c for c in ruleset.chains}
    todo = [
        c
        for c in ruleset.chains
        if c.hook in TRANSIT_HOOKS and c.type == "filter" and c.family in IPV4_FAMILIES
    ]
    seen: dict[tuple[str, str, str], tuple[nft.Chain, list[nft.Rule]]] = {}
    while todo:
        chain = todo.pop(0)
        key = (chain.family, chain.table, chain.name)
        if key in seen:
            continue
        seen[key] = (chain, rules.get(key, []))
        for r in seen[key][1]:
            verb, _, target = (r.verdict or "").partition(" ")
            if verb in ("jump", "goto") and (nxt := by_name.get((r.family, r.table, target))) is not None:
                todo.append(nxt)
    return list(seen.values())


def _rule_text(rule: nft.Rule) -> str:
    """The rule as nft prints it, an iptables-nft match named as iptables names it.

    Example: "-m conntrack (its --ctstate is not in `nft -j`) drop (12 packets)"
    """
    names = iter(
        f"-m {x.get('name')}"
        + (" (its --ctstate is not in `nft -j`)" if x.get("name") in STATEFUL_XT else "")
        for e in rule.expr
        if isinstance(e, dict) and isinstance(x := e.get("xt"), dict)
    )
    text = " ".join(next(names, word) if word == "xt" else word for word in rule.matches.split(" "))
    return f"{text} ({rule.counter_packets} packets)" if rule.counter_packets is not None else text


def stateful_drop(
    ruleset: nft.Ruleset, src: str, dst: str, iif: str | None, oif: str | None, replies: bool = True
) -> StatefulDrop | None:
    """The first rule that drops this one-way packet by its conntrack state, if any.

    A `ct state invalid` drop breaks either direction (the SYN-ACK with no SYN before it, the
    client's ACK after a SYN-ACK never seen). A forward chain that lets only established traffic
    through breaks only the replies (`replies`): a request it does not accept would be dropped on
    a symmetric path too, which is a firewall that blocks, not an asymmetry.

    Example: stateful_drop(rs, "10.61.1.1", "10.61.2.1", "eth0", "eth1")
        -> StatefulDrop(table="inet bda_fw", chain="forward", rule="ct state invalid counter
           packets 3 drop", kind="invalid-drop", handle=2)
    """
    for chain, rules in _reachable_chains(ruleset):
        established_accept: nft.Rule | None = None
        for rule in rules:
            if _excludes(rule, src, dst, iif, oif):
                continue
            found = [x for e in rule.expr if isinstance(e, dict) and (x := _ct_states(e)) is not None]
            verdict = rule.verdict
            if found:
                states, vmap_verdict = found[0]
                if (vmap_verdict or verdict) in ("drop", "reject") and ("invalid" in states or "?" in states):
                    return StatefulDrop(
                        f"{chain.family} {chain.table}",
                        chain.name,
                        _rule_text(rule),
                        "invalid-drop",
                        rule.handle,
                    )
                if verdict == "accept" and "established" in states:
                    established_accept = established_accept or rule
                continue
            if verdict == "accept" and _only_addresses(rule):
                break  # the flow is accepted without conntrack before any later state rule
        else:
            if (
                replies
                and chain.hook == "forward"
                and chain.policy == "drop"
                and established_accept is not None
            ):
                rule = established_accept
                return StatefulDrop(
                    f"{chain.family} {chain.table}",
                    chain.name,
                    f"{_rule_text(rule)}; policy drop",
                    "established-only",
                    rule.handle,
                )
    return None


def _address_on(world: World, host: str, ifname: str | None) -> str | None:
    return next(
        (a.address for a in world.addresses(host) if a.ifname == ifname and ":" not in a.address), None
    )


def _return_fix(world: World, s: Subject, forward: Path, back: Path, pair: NodePair) -> None:
    """Where the reply leaves the way the request came, and the gateway that would bring it back
    the same way (an address of the previous forward hop on the link it used)."""
    mirrored: list[Hop] = list(reversed(forward.hops))
    for i, hop in enumerate(back.hops[:-1]):
        if i + 1 >= len(mirrored) or mirrored[i].host != hop.host:
            return
        if back.hops[i + 1].host != mirrored[i + 1].host:
            previous = mirrored[i + 1]
            gateway = _address_on(world, previous.host, previous.oif)
            if gateway is None:
                return
            source = world.inv.hosts[pair.source]
            prefix = next(
                (str(c) for c in source.pod_cidrs if ipaddress.ip_address(pair.src_ip) in c),
                f"{pair.src_ip}/32",
            )
            s.add("return_fix_host", hop.host, world.route_excerpt(hop.host, [hop.route or ""]))
            s.add("return_fix_prefix", prefix)
            s.add("return_fix_gateway", gateway)
            s.add("return_fix_wrong_gateway", hop.gateway or f"dev {hop.oif}")
            return


def _snat_fix(world: World, s: Subject, forward: Path, return_hosts: set[str]) -> None:
    """The host whose masquerade would bring replies back through itself: the first host the
    request crosses that the reply misses, else the source (Calico's natOutgoing)."""
    hops = [h for h in forward.hops[1:-1] if h.host not in return_hosts] or forward.hops[:1]
    hop = hops[0]
    address = _address_on(world, hop.host, hop.oif)
    if hop.oif and address:
        s.add("snat_host", hop.host)
        s.add("snat_interface", hop.oif)
        s.add("snat_address", address)


def _inferred_hop(world: World, path: Path) -> Unknown | None:
    """A hop that sends the packet into an interface without a gateway, to an address outside that
    interface's subnets (a tunnel): the trace takes the destination's owner as the next host, so the
    hosts behind the tunnel are a guess, and so is any asymmetry they would make."""
    for hop in path.hops[:-1]:
        if hop.oif and not hop.gateway and world.interface_for_subnet(hop.host, path.dst_ip) != hop.oif:
            return Unknown(
                "ambiguous",
                f"{hop.host} sends {path.dst_ip} into {hop.oif} without a gateway: the hosts behind it "
                "are not known, so neither is whether the reply crosses the same ones",
            )
    return None


def path_facts(world: World, s: Subject, forward: Path, back: Path, pair: NodePair) -> None:
    """Is the reply routed through other hosts than the request, and does a host that sees only
    one direction drop by conntrack state?

    Adds return_hops, path_symmetric (bool), one_way_hosts (["ra", "rb"]),
    asymmetric_stateful_drop (bool, unknown while a one-way host's ruleset cannot be read) and,
    when one is found, stateful_drop_host/_table/_chain/_rule/_kind/_sees and the values the
    fixes are rendered with (return_fix_*, snat_*).
    """
    if pair.segment:
        return  # a BGP session's own path: its state says whether the BGP flow gets through
    s.add("return_hops", hops_text(back))
    if forward.unknown is not None or back.unknown is not None:
        why = forward.unknown or back.unknown
        s.unknown("path_symmetric", why)
        s.unknown("asymmetric_stateful_drop", why)
        return
    if not forward.complete or not back.complete:
        return  # a route is missing: pod-route-present says so, symmetry does not apply
    guessed = _inferred_hop(world, forward) or _inferred_hop(world, back)
    if guessed is not None:
        s.unknown("path_symmetric", guessed)
        s.unknown("asymmetric_stateful_drop", guessed)
        return
    there, home = [h.host for h in forward.hops], [h.host for h in back.hops]
    forward_only = [h for h in forward.hops[1:-1] if h.host not in home]
    return_only = [h for h in back.hops[1:-1] if h.host not in there]
    evidence = [world.route_excerpt(h.host, [h.route]) for h in back.hops if h.oif and h.route]
    s.add("path_symmetric", not forward_only and not return_only, *evidence)
    if not forward_only and not return_only:
        s.add("asymmetric_stateful_drop", False)
        return
    s.add("one_way_hosts", [h.host for h in [*forward_only, *return_only]])
    unread: Unknown | None = None
    one_way = [(h, pair.src_ip, pair.dst_ip, False) for h in forward_only] + [
        (h, pair.dst_ip, pair.src_ip, True) for h in return_only
    ]
    for hop, src, dst, replies in one_way:
        ruleset = world.ruleset(hop.host)
        if ruleset is None:
            unread = (
                unread
                or world.command_problem(hop.host, "nft.ruleset")
                or Unknown("not-collected", f"the nft ruleset of {hop.host} was not read")
            )
            continue
        found = stateful_drop(ruleset, src, dst, hop.iif, hop.oif, replies)
        if found is None:
            continue
        s.add(
            "asymmetric_stateful_drop",
            True,
            world.evidence(hop.host, "nft.ruleset", f"{found.table} {found.chain}: {found.rule}"),
        )
        s.add("stateful_drop_host", hop.host, world.evidence(hop.host, "nft.ruleset"))
        s.add("stateful_drop_table", found.table)
        s.add("stateful_drop_chain", found.chain)
        s.add("stateful_drop_rule", found.rule)
        s.add("stateful_drop_kind", found.kind)
        s.add("stateful_drop_sees", f"only {src} -> {dst}")
        _return_fix(world, s, forward, back, pair)
        _snat_fix(world, s, forward, set(home))
        return
    if unread is not None:
        s.unknown("asymmetric_stateful_drop", unread)
    else:
        s.add("asymmetric_stateful_drop", False)
