"""A policy rule that sends pod traffic into a tunnel the main table would not use.

Tailscale puts the subnet routes it accepts into table 52 and looks it up at rule 5270, before
the main table; its `throw` routes keep out only the ranges it knows (flannel's pod CIDR, not
Calico's). A pod CIDR inside an accepted subnet route then leaves through tailscale0 although the
CNI's route in the main table says otherwise (tailscale/tailscale#14706). wg-quick's table 51820
does the same with AllowedIPs = 0.0.0.0/0.

Pure code over World; `hijack_facts` adds its facts to a path subject (engine/subjects.py).
Example facts: policy_hijacked=True, policy_hijack_host="yuuko-k8s", policy_hijack_table="52",
policy_hijack_interface="tailscale0", policy_hijack_route="10.42.0.0/16 dev tailscale0 table 52",
policy_hijack_main_route="default via 192.168.0.1 dev eth0", policy_hijack_rule="5270: from all lookup 52",
policy_hijack_priority=5270.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bgpdoctor.parsers import iproute

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Path, World

TUNNEL_PREFIXES = ("tailscale", "wg", "zt")


def _route_text(route: iproute.Route) -> str:
    via = f" via {route.gateway}" if route.gateway else ""
    dev = f" dev {route.dev}" if route.dev else ""
    dst = "default" if route.dst in ("0.0.0.0/0", "default") else route.dst
    return f"{dst}{via}{dev}"


def hijack_facts(world: World, s: Subject, path: Path) -> None:
    """Adds policy_hijacked (bool; unknown with the path) and, for the first hop whose policy rule
    sends the packet into a tunnel interface while the main table routes it out another one,
    policy_hijack_host/_table/_interface/_route/_main_route/_rule/_priority/_tailscale."""
    if path.unknown is not None:
        s.unknown("policy_hijacked", path.unknown)
        return
    for hop in path.hops:
        if not hop.table or not hop.oif or not hop.oif.startswith(TUNNEL_PREFIXES):
            continue
        main = world.lookup(hop.host, path.dst_ip)
        if main is None or main.type in ("unreachable", "blackhole", "prohibit") or main.dev == hop.oif:
            continue
        answer = world.policy_route(hop.host, path.dst_ip, path.src_ip, hop.iif)
        if answer.rule is None or answer.route is None:
            continue
        s.add(
            "policy_hijacked",
            True,
            world.evidence(hop.host, "ip.rule", "the rule that picks the table"),
            world.evidence(hop.host, "ip.route.rules", "the tables the rules look up"),
            world.route_excerpt(hop.host, [main.dst], "the main table's route, not used"),
        )
        s.add("policy_hijack_host", hop.host)
        s.add("policy_hijack_table", hop.table)
        s.add("policy_hijack_interface", hop.oif)
        s.add("policy_hijack_route", f"{_route_text(answer.route)} table {hop.table}")
        s.add("policy_hijack_main_route", _route_text(main))
        s.add("policy_hijack_rule", answer.rule.text())
        s.add("policy_hijack_priority", answer.rule.priority)
        s.add("policy_hijack_tailscale", hop.table == "52" and hop.oif.startswith("tailscale"))
        return
    s.add("policy_hijacked", False)
