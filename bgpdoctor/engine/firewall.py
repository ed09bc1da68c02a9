"""nftables rules that explain a drop or a rewrite, quoted as readable excerpts.

- TCP 179 dropped or rejected on the receiving end or a transit host (session: port_filter_*),
- a forward hook with policy drop that accepts nothing for the pod CIDR (path: firewall_*),
- a masquerade rule rewriting a BGP session's source (session: nat_*),
- the node's own rule dropping the kubelet port (kubelet: kubelet_filter_*).

The rule that drops ICMP "fragmentation needed" is an MTU fact (engine/mtu.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bgpdoctor.engine import forwarding
from bgpdoctor.engine.world import Unknown
from bgpdoctor.parsers import nft
from bgpdoctor.report.model import Evidence

if TYPE_CHECKING:
    from bgpdoctor.engine.active import NodePair
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Path, World


def rule_line(rule: nft.Rule) -> str:
    counter = f" (counter packets {rule.counter_packets})" if rule.counter_packets is not None else ""
    comment = f' comment "{rule.comment}"' if rule.comment else ""
    return f"{rule.family} {rule.table} {rule.chain}: {rule.matches}{counter}{comment}"


def nft_excerpt(world: World, host: str, lines: list[str], note: str) -> Evidence | None:
    """A readable excerpt of `nft -j list ruleset` (the raw JSON stays in the check evidence)."""
    raw = world.evidence(host, "nft.ruleset")
    if raw is None:
        return None
    return Evidence(
        host=host,
        command=raw.command,
        output="\n".join(lines),
        exit_status=raw.exit_status,
        note=f"excerpt: {note}",
    )


def _nat_iface(rule: str) -> str:
    if 'oifname "' in rule:
        return rule.split('oifname "', 1)[1].split('"', 1)[0]
    return ""


def _nat_on_path(world: World, path: Path) -> list[tuple[str, nft.Rule]]:
    found = []
    for hop in path.hops[:-1] if path.complete else path.hops:
        ruleset = world.ruleset(hop.host)
        if ruleset is None:
            continue
        for rule in nft.masquerade_rules(ruleset):
            iface = _nat_iface(rule.matches)
            if not iface or iface == hop.oif:
                found.append((hop.host, rule))
    return found


def port_filter(world: World, s: Subject, hosts: list[str]) -> list[str]:
    """A drop/reject rule for TCP 179 on the receiving end or a transit host; returns the hosts
    whose rules could not be read (a rule there cannot be ruled out)."""
    unread = []
    for host in hosts:
        ruleset = world.ruleset(host) if host in world.facts else None
        if ruleset is None:
            unread.append(host)
            continue
        for rule in ruleset.rules:
            if "dport 179" in rule.matches and (rule.verdict or "") in ("drop", "reject"):
                s.add(
                    "port_filter_host",
                    host,
                    nft_excerpt(world, host, [rule_line(rule)], "the rule that drops BGP"),
                    world.evidence(host, "nft.ruleset"),
                )
                s.add("port_filter_rule", rule.matches)
                s.add("port_filter_table", f"{rule.family} {rule.table}")
                s.add("port_filter_chain", rule.chain)
                return []
    return unread


def forward_drop_facts(world: World, s: Subject, path: Path, pair: NodePair) -> None:
    """Routers on the path whose forward hook drops by default and accept nothing for the pod CIDR,
    and whether the packet gets that far (firewall_reached): a fault further along, met only by what
    this router would let through, cannot rule it out."""
    cluster = world.inv.cluster_pod_cidr_of(pair.dst_ip)
    cidrs = [str(cluster)] if cluster else []
    cidrs += [pair.dst_cidr]
    for index, hop in enumerate(path.hops[1:-1], start=1):
        ruleset = world.ruleset(hop.host)
        if ruleset is None or not nft.forward_policy_drop(ruleset):
            continue
        matching = [r for c in cidrs for r in nft.rules_matching_network(ruleset, c)]
        if not matching:
            chain = next(c for c in ruleset.chains if c.hook == "forward" and c.policy == "drop")
            lines = [f"{chain.family} {chain.table} {chain.name}: type filter hook forward policy drop"]
            lines += [
                rule_line(r) for r in ruleset.rules if (r.family, r.table) == (chain.family, chain.table)
            ]
            lines.append(f"(no rule matches {' or '.join(cidrs)})")
            s.add(
                "firewall_host",
                hop.host,
                nft_excerpt(world, hop.host, lines, "forward policy drop, nothing accepts the pod CIDR"),
                world.evidence(hop.host, "nft.ruleset"),
            )
            s.add("firewall_table", f"{chain.family} {chain.table}")
            s.add("firewall_chain", chain.name)
            s.add("firewall_in", hop.iif or "")
            s.add("firewall_out", hop.oif or "")
            reached = forwarding.reaches(world, path, pair, index)
            _add_reached(s, reached)
            if reached is True:
                # the request dies here, so no reply exists: hosts further along cannot explain the
                # failure (a fault there is not met first and must not absorb this cause)
                s.related = sorted({h.host for h in path.hops[: index + 1]} | set(s.hosts))
            return
    _add_reached(s, _reaches_the_end(s, path))


def _reaches_the_end(s: Subject, path: Path) -> bool | Unknown:
    """For a drop on an end's own input path (engine/untracked.py): the whole path must deliver."""
    needed = ["route_complete", "forwarding_ok"] + ([] if ":" in path.dst_ip else ["rp_filter_ok"])
    values = [s.facts.get(fact) for fact in needed]
    if False in values:
        return False
    for fact, value in zip(needed, values, strict=True):
        if value is None:
            return s.problem(fact) or Unknown("not-collected", f"{fact} could not be derived")
    return True


def _add_reached(s: Subject, reached: bool | Unknown) -> None:
    if isinstance(reached, Unknown):
        s.unknown("firewall_reached", reached)
    else:
        s.add("firewall_reached", reached)


def kubelet_filter(world: World, s: Subject, node: str, port: int) -> None:
    """The node's own rule that drops or rejects the kubelet port, and the chain to fix."""
    ruleset = world.ruleset(node)
    if ruleset is None:
        return
    for rule in ruleset.rules:
        if f"dport {port}" in rule.matches and (rule.verdict or "") in ("drop", "reject"):
            s.add(
                "kubelet_filter_rule",
                rule.matches,
                nft_excerpt(world, node, [rule_line(rule)], "the rule that drops the kubelet port"),
                world.evidence(node, "nft.ruleset"),
            )
            s.add("kubelet_filter_table", f"{rule.family} {rule.table}")
            s.add("kubelet_filter_chain", rule.chain)
            return


def nat_facts(world: World, s: Subject, path: Path, up: bool) -> None:
    """Hosts on a BGP session's path that masquerade its packets (looked for only while it is down)."""
    nat = _nat_on_path(world, path) if not up else []
    s.add("nat_hosts_on_path", [h for h, _r in nat])
    if nat:
        host, rule = nat[0]
        s.add(
            "nat_host",
            host,
            nft_excerpt(world, host, [rule_line(rule)], "the masquerade rule"),
            world.evidence(host, "nft.ruleset"),
        )
        s.add("nat_rule", rule.matches)
        s.add("nat_interface", _nat_iface(rule.matches))
        s.add("nat_table", f"{rule.family} {rule.table}")
        s.add("nat_chain", rule.chain)
