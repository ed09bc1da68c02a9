"""Policy routing: which table the kernel consults for a packet, rule by rule (`ip rule`); and the
routing policy FRR says it lacks (RFC 8212), read from its log (`policy_denials`).

Hosts running Tailscale (rules 5210-5270, table 52), wg-quick (`not fwmark 51820 lookup 51820`,
`lookup main suppress_prefixlength 0`) or a VRF do not route by the main table alone. A trace
that read only the main table would claim a path the packet never takes.

The packet is taken to carry no firewall mark (pod and BGP traffic is not marked by the tools
above); a rule whose selectors depend on what a path trace does not know (protocol, ports, owner
uid, TOS, the outgoing interface) makes the answer ambiguous, but only when that rule's action
would change it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from bgpdoctor.engine.routing import RouteTable
from bgpdoctor.parsers.iproute import Route
from bgpdoctor.parsers.iprule import Rule


@dataclass
class PolicyAnswer:
    """The route the kernel picks, the rule that picked it (None: plain main-table lookup) and,
    when the rules do not decide it, why.

    Example: PolicyAnswer(route=Route("10.42.0.0/16", dev="tailscale0", table="52"),
    rule=Rule(priority=5270, table="52"), ambiguous=None)
    """

    route: Route | None
    rule: Rule | None = None
    ambiguous: str | None = None


def _inside(address: str, prefix: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return False


def _selects(rule: Rule, dst: str, src: str | None, iif: str | None) -> bool | None:
    """Does the rule select this packet? None when it depends on what a trace cannot know."""
    unknown = False
    if rule.src is not None:
        if src is None:
            unknown = True
        elif not _inside(src, rule.src):
            return rule.invert
    if rule.dst is not None and not _inside(dst, rule.dst):
        return rule.invert
    if rule.iif is not None:
        if iif is None:  # where the packet entered the first host (a pod's veth, a socket) is not known
            unknown = True
        elif rule.iif != iif:
            return rule.invert
    mask = rule.fwmask if rule.fwmask is not None else 0xFFFFFFFF
    if rule.fwmark is not None and rule.fwmark & mask != 0:  # the kernel: (mark ^ fwmark) & mask == 0
        return rule.invert
    if rule.opaque or unknown:
        return None
    return not rule.invert


def _outcome(rule: Rule, dst: str, tables: dict[str, RouteTable], main: RouteTable) -> Route | str | None:
    """What the rule's action gives: a route, None (nothing here, go on), or "missing" (table not read)."""
    if rule.action in ("unreachable", "blackhole", "prohibit"):
        return Route(dst=dst, type=rule.action, table=f"rule {rule.priority}")
    if rule.action != "lookup" or rule.table is None or rule.table in ("local", "255"):
        return None
    if rule.table in ("main", "254"):
        table: RouteTable | None = main
    elif rule.table in ("default", "253"):
        return None  # empty on Linux unless filled by hand, and not collected
    else:
        table = tables.get(rule.table)
    if table is None:
        return "missing"
    route = table.lookup(dst)
    if route is None or route.type == "throw":
        return None
    if rule.suppress_prefixlen is not None:
        length = int(route.dst.rsplit("/", 1)[1]) if "/" in route.dst else 32
        if length <= rule.suppress_prefixlen:
            return None
    return route


def policy_lookup(
    rules: list[Rule] | None,
    tables: dict[str, RouteTable],
    main: RouteTable,
    dst: str,
    src: str | None = None,
    iif: str | None = None,
) -> PolicyAnswer:
    """The route for `dst` as the kernel's rules would choose it.

    `rules` None (not collected, e.g. an older recording) or the three default rules: the main table.
    """
    if not rules or all(
        r.action == "lookup" and r.table in ("local", "main", "default") and _plain(r) for r in rules
    ):
        return PolicyAnswer(main.lookup(dst))
    index = 0
    ordered = sorted(rules, key=lambda r: r.priority)
    while index < len(ordered):
        rule = ordered[index]
        index += 1
        selected = _selects(rule, dst, src, iif)
        if selected is False:
            continue
        if rule.action == "goto" and rule.goto is not None:
            if selected is None:
                return PolicyAnswer(None, rule, f"rule `{rule.text()}` may skip ahead; the trace cannot tell")
            index = next((i for i, r in enumerate(ordered) if r.priority >= rule.goto), len(ordered))
            continue
        outcome = _outcome(rule, dst, tables, main)
        if outcome is None:
            continue
        if isinstance(outcome, str):
            return PolicyAnswer(
                None, rule, f"rule `{rule.text()}` looks up table {rule.table}, which was not read"
            )
        if selected is None:
            reason = f"rule `{rule.text()}` sends some packets to {dst} elsewhere ({_route_text(outcome)})"
            return PolicyAnswer(
                None, rule, f"{reason}; the trace cannot tell whether this packet is one of them"
            )
        plain_main = rule.table in ("main", "254") and _plain(rule)
        return PolicyAnswer(outcome, None if plain_main else rule)
    return PolicyAnswer(None)


def _plain(rule: Rule) -> bool:
    return (
        rule.src is None
        and rule.dst is None
        and rule.iif is None
        and rule.fwmark is None
        and not rule.opaque
        and not rule.invert
        and rule.suppress_prefixlen is None
    )


def _route_text(route: Route) -> str:
    if route.type != "unicast":
        return route.type
    via = f" via {route.gateway}" if route.gateway else ""
    return f"table {route.table}: {route.dst}{via}{f' dev {route.dev}' if route.dev else ''}"


# FRR (`debug bgp updates in`): `10.213.172.2(Unknown) rcvd UPDATE about 10.90.72.0/24 IPv4 unicast --
# DENIED due to: inbound policy missing`; FRR 7.2 printed the bare address, and did so for iBGP
# neighbors too (FRRouting/frr#5565)
_DENIED = re.compile(
    r"(?P<neighbor>[0-9A-Fa-f:.]+)(?:\([^)]*\))? rcvd UPDATE about \S+.*?-- DENIED due to: "
    r"(?P<direction>inbound|outbound) policy missing"
)


@dataclass
class PolicyDenials:
    """Neighbors whose updates FRR logged as discarded for a missing policy (RFC 8212), per
    direction, with the log lines that say so.

    Example: PolicyDenials(inbound={"10.213.172.2"}, outbound=set(), lines=[("10.213.172.2",
    "2026/12/06 08:38:57 BGP: [RZMGQ-A03CG] 10.213.172.2(Unknown) rcvd UPDATE about ... DENIED due
    to: inbound policy missing")])
    """

    inbound: set[str] = field(default_factory=set)
    outbound: set[str] = field(default_factory=set)
    lines: list[tuple[str, str]] = field(default_factory=list)  # (neighbor, the log line)

    @property
    def neighbors(self) -> set[str]:
        return self.inbound | self.outbound


def policy_denials(log: str) -> PolicyDenials:
    """The `DENIED due to: inbound|outbound policy missing` lines of FRR's log (the speaker-log fact)."""
    found = PolicyDenials()
    for line in log.splitlines():
        m = _DENIED.search(line)
        if m is None:
            continue
        try:
            neighbor = str(ipaddress.ip_address(m.group("neighbor")))
        except ValueError:
            continue
        (found.inbound if m.group("direction") == "inbound" else found.outbound).add(neighbor)
        found.lines.append((neighbor, line.strip()))
    return found
