"""What one host says about itself: IPv4 forwarding, who holds TCP 179, whether its BGP daemon
answers, and what only its daemon's own outputs say (BIRD's selected routes against the kernel FIB
and its `configure check`, FRR's RFC 8212 denials and maximum-prefix stops, the pod CIDRs GoBGP
advertises). Each function adds facts to a host subject built in engine/subjects.py.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections import Counter
from typing import TYPE_CHECKING

from bgpdoctor.drivers import NeighborState, driver_for
from bgpdoctor.engine import ipv6, routing, vips
from bgpdoctor.engine.world import Unknown
from bgpdoctor.parsers import bird, gobgp, iproute, ss
from bgpdoctor.report.model import Evidence

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import World


def speaker_fact(world: World, name: str) -> str:
    """The fact holding the neighbors' states; a host without a daemon has none ("bgp.sessions",
    never collected, so it reads as not collected)."""
    driver = driver_for(world.inv.hosts[name].speaker)
    return driver.session_fact if driver is not None else "bgp.sessions"


# what a BGP client prints when its daemon does not answer (the daemon is down, not unknown)
SPEAKER_DOWN_WORDS = (
    "unable to connect",
    "connection refused",
    "no such file or directory",
    "failed to connect",
    "code = unavailable",
    "error while dialing",
    "cannot connect",
    "bgpd is not running",  # vtysh, while zebra still answers
)


def ip_forward_facts(world: World, s: Subject, name: str) -> None:
    """net.ipv4.ip_forward of the host (whether it should forward is the inventory's role)."""
    with s.deriving("ip_forward"):
        forward = world.sysctl_int(name, "sysctl", "net.ipv4.ip_forward")
        s.add("ip_forward", forward, world.evidence(name, "sysctl"))


def pod_probe_facts(world: World, s: Subject, name: str) -> None:
    """pod_probe_address: where a node with pod CIDRs has its pod paths probed from (its inventory
    `pod_probe_ip`, or an address it holds inside them). Unknown when it has neither: its pod paths
    are then never probed, and a run must not call them healthy. Asked only of a node that has pod
    paths: another such node in its routing domain, or a test client (a `vantage` host)."""
    from bgpdoctor.engine.active import pod_address, pod_cidr_of

    host = world.inv.hosts[name]
    if not world.memo(("pod_path_nodes",), lambda: _nodes_with_pod_paths(world)).get(name, False):
        return
    s.add("pod_probe_expected", True)
    address = pod_address(world, name)
    if address is not None:
        held = (
            None if host.pod_probe_ip is not None else f"{address} inside {pod_cidr_of(world, name, address)}"
        )
        s.add("pod_probe_address", address, world.evidence(name, "ip.addr", held) if held else None)
        return
    cidrs = ", ".join(str(c) for c in host.pod_cidrs)
    why = (
        world.command_problem(name, "ip.addr")
        if world.parsed(name, "ip.addr", iproute.parse_addresses) is None
        else None
    )
    s.unknown(
        "pod_probe_address",
        why
        or Unknown(
            "not-collected",
            f"{name} has no pod_probe_ip in the inventory and holds no IPv4 address inside {cidrs}: "
            "its pod paths are not probed",
        ),
        world.evidence(name, "ip.addr"),
    )


def _nodes_with_pod_paths(world: World) -> dict[str, bool]:
    """Each node with pod CIDRs: whether any pod path could be probed to or from it."""
    from bgpdoctor.engine.active import routing_domains

    inv = world.inv
    nodes = [n for n, h in inv.hosts.items() if h.role == "node" and h.pod_cidrs]
    clients = any(h.role == "vantage" for h in inv.hosts.values())
    domain = routing_domains(inv)
    per_domain = Counter(domain[n] for n in nodes)
    return {n: clients or per_domain[domain[n]] > 1 for n in nodes}


def gobgp_pod_cidr_facts(world: World, s: Subject, name: str) -> None:
    """Are this node's pod CIDRs in GoBGP's RIB (what it advertises)?"""
    host = world.inv.hosts[name]
    with s.deriving("advertises_pod_cidrs"):
        rib = world.known(name, "gobgp.rib", gobgp.parse_rib)
        prefixes = {p.prefix for p in rib}
        v6_prefixes, v6_rib = ipv6.gobgp_ipv6_prefixes(world, name, [str(c) for c in host.pod_cidrs])
        prefixes |= v6_prefixes
        missing = [str(c) for c in host.pod_cidrs if str(c) not in prefixes]
        s.add("advertises_pod_cidrs", not missing, world.evidence(name, "gobgp.rib"), v6_rib)
        s.add("unadvertised_pod_cidrs", missing)
        s.add("pod_cidr", ", ".join(str(c) for c in host.pod_cidrs))


def port_179_facts(world: World, s: Subject, name: str) -> None:
    """Who listens on TCP 179: a second owner, or another program than this host's BGP speaker."""
    host = world.inv.hosts[name]
    with s.deriving("port_179_conflict"):
        listeners = [x for x in world.known(name, "ss.listen", ss.parse_ss) if x.local_port == 179]
        owners = sorted({x.process or "?" for x in listeners})
        driver = driver_for(host.speaker)
        own = driver.process if driver is not None else None
        foreign = [o for o in owners if o not in (own, "?")]
        # two owners, or TCP 179 held by another program than this host's BGP speaker
        s.add("port_179_conflict", len(owners) > 1 or bool(foreign), world.evidence(name, "ss.listen"))
        s.add("port_179_owners", owners)
        if foreign:
            s.add("port_179_foreign", foreign)
            s.add(
                "port_179_foreign_pids",
                sorted({x.pid for x in listeners if x.process in foreign and x.pid}),
            )
            s.add("speaker_process", own or host.speaker)


# -- FRR: what only its neighbor JSON says (facts of bgpdoctor/drivers/frr.py) ---------------


def frr_facts(world: World, s: Subject, name: str) -> None:
    """RFC 8212 (an eBGP neighbor without policy: FRR discards what it would receive or send) and
    neighbors stopped by their maximum-prefix limit, from `show bgp neighbors json`."""
    from bgpdoctor.drivers.frr import parse_neighbors, parse_summary
    from bgpdoctor.engine.policy import policy_denials

    with s.deriving("ebgp_policy_missing", "max_prefix_exceeded"):
        neighbors = world.known(name, "frr.neighbors", parse_neighbors)
        raw = world.evidence(name, "frr.neighbors")
        log = world.facts[name].outputs.get("speaker.log") if name in world.facts else None
        denied = policy_denials(log.stdout if log is not None and log.ok else "")  # FRR's log says so
        missing = [n for n in neighbors if n.policy_missing or _key(n) in denied.neighbors]
        lines = [
            f"{_key(n)}: {where} updates discarded due to missing policy ({key}EbgpRequiresPolicy)"
            for n in missing
            for where, key, flag in (
                ("inbound", "inbound", n.inbound_policy_missing),
                ("outbound", "outbound", n.outbound_policy_missing),
            )
            if flag
        ]
        excerpt = (
            Evidence(host=name, command=raw.command, output="\n".join(lines), note="excerpt: RFC 8212")
            if raw and lines
            else None
        )
        logged = [line for n, line in denied.lines if n in {_key(m) for m in missing}][-3:]
        logged_excerpt = (
            Evidence(host=name, command=log.command, output="\n".join(logged), note="excerpt: FRR's log")
            if log is not None and logged
            else None
        )
        s.add("ebgp_policy_missing", bool(missing), excerpt, logged_excerpt, raw)
        if missing:
            s.add("ebgp_policy_daemon", "FRR")
            s.add("ebgp_policy_neighbors", [_key(n) for n in missing])
            inbound, outbound = denied.inbound, denied.outbound
            s.add(
                "ebgp_policy_missing_in",
                [_key(n) for n in missing if n.inbound_policy_missing or _key(n) in inbound],
            )
            s.add(
                "ebgp_policy_missing_out",
                [_key(n) for n in missing if n.outbound_policy_missing or _key(n) in outbound],
            )
            s.add(
                "ebgp_policy_ibgp",
                [_key(n) for n in missing if n.peer_as is not None and n.peer_as == n.local_as],
            )
            summary = world.parsed(name, "frr.summary", parse_summary)
            router_as = (summary.local_as if summary else None) or world.inv.hosts[name].asn
            if router_as is not None:
                s.add("frr_bgp_as", router_as, world.evidence(name, "frr.summary"))
        stopped = [_key(n) for n in neighbors if n.max_prefix_exceeded]
        s.add("max_prefix_exceeded", bool(stopped), raw)
        if stopped:
            s.add("max_prefix_neighbors", stopped)


def _key(n: NeighborState) -> str | None:
    """FRR keys an unnumbered neighbor by its interface."""
    return n.address or n.name


def speaker_answers(world: World, s: Subject, name: str) -> None:
    """Does the BGP daemon answer its own client? Down only when the client says it cannot reach
    the daemon; an answer that timed out or could not be read is unknown."""
    driver = driver_for(world.inv.hosts[name].speaker)
    if driver is None:
        return
    fact = driver.session_fact
    world.neighbors(name)  # reading it records a parse error as the fact's problem
    problem = world.command_problem(name, fact)
    result = world.facts[name].outputs.get(fact)
    said = (result.stderr + "\n" + result.stdout).lower() if result else ""
    if problem is None:
        s.add("speaker_answers", True, world.evidence(name, fact))
    elif problem.kind == "failed" and any(w in said for w in SPEAKER_DOWN_WORDS):
        s.add("speaker_answers", False, world.evidence(name, fact))
        s.add("speaker_problem", problem.detail)
    else:
        s.unknown("speaker_answers", problem, world.evidence(name, fact))


def bird_config_check(world: World, s: Subject, name: str) -> None:
    """`birdc configure check`: does the configuration file on disk parse? (BIRD keeps running the old one)"""
    result = world.facts[name].outputs.get("bird.config_check")
    if result is None or result.timed_out or result.command_missing:
        s.unknown("bird_config_ok", world.command_problem(name, "bird.config_check"))
        return
    lines = [ln.strip() for ln in (result.stdout + result.stderr).splitlines() if ln.strip()]
    if any(ln.startswith("Unable to connect") for ln in lines):
        # BIRD is not running: that is speaker-down, the file cannot be judged this way
        s.unknown("bird_config_ok", Unknown("failed", f"BIRD on {name} does not answer `configure check`"))
        return
    body = [ln for ln in lines if not ln.startswith(("BIRD ", "Reading configuration", "Access restricted"))]
    if any(ln.startswith("Configuration OK") for ln in body):
        s.add("bird_config_ok", True, world.evidence(name, "bird.config_check"))
    elif any(w in ln.lower() for ln in body for w in ("permission denied", "access denied")):
        s.unknown("bird_config_ok", Unknown("permission-denied", f"{name}: {body[0]}"))
    elif body:
        s.add("bird_config_ok", False, world.evidence(name, "bird.config_check"))
        s.add("bird_config_error", body[0], world.evidence(name, "bird.config_check"))
        where = re.match(r"(?P<file>/\S+?):(?P<line>\d+):\d+ ", body[0])
        if where:
            s.add("bird_config_file", where["file"])
            s.add("bird_config_line", int(where["line"]))


def rib_vs_fib(world: World, s: Subject, name: str) -> None:
    """Pod CIDRs BIRD has selected (primary, unicast) but the kernel FIB does not carry."""
    with s.deriving("bird_routes_in_fib", "unreachable_bgp_routes"):
        routes = world.known(name, "bird.routes", bird.parse_show_route)
        fib_routes = world.known(name, "ip.route", iproute.parse_routes)
        pod_cidrs = set(
            world.memo(
                ("inventory pod cidrs",),
                lambda: {str(c) for h in world.inv.hosts.values() for c in h.pod_cidrs},
            )
        )
        for cluster_cidr in world.inv.cluster_pod_cidrs:
            pod_cidrs |= {r.prefix for r in routes if _inside(r.prefix, str(cluster_cidr))}
        fib = {r.dst for r in fib_routes}
        fib |= ipv6.ipv6_fib(world, name, {r.prefix for r in routes if r.prefix in pod_cidrs})
        selected = sorted(
            {r.prefix for r in routes if r.primary and r.kind == "unicast" and r.prefix in pod_cidrs}
        )
        missing = [p for p in selected if p not in fib]
        s.add(
            "bird_routes_in_fib",
            not missing,
            world.evidence(name, "bird.routes"),
            world.evidence(name, "ip.route"),
        )
        s.add("bird_routes_missing_in_fib", missing)
        s.add("bird_pod_routes", selected)
        by_prefix: dict[str, list[bird.BirdRoute]] = {}
        for r in routes:
            if r.prefix in pod_cidrs:
                by_prefix.setdefault(r.prefix, []).append(r)
        unreachable = sorted(
            p for p, rs in by_prefix.items() if rs and all(r.kind == "unreachable" for r in rs)
        )
        s.add("unreachable_bgp_routes", unreachable, world.evidence(name, "bird.routes"))
        if unreachable:
            routing.next_hop_sender(world, s, name, unreachable)
    with s.deriving("ecmp_single_path"):
        routing.ecmp_facts(world, s, name)
    routing_table_facts(world, s, name)


def routing_table_facts(world: World, s: Subject, name: str) -> None:
    """What a router's own tables show, for any daemon whose tables bgpdoctor reads (BIRD, FRR):
    BGP routes shadowed by connected ones, and LoadBalancer VIPs announced inside a connected subnet."""
    with s.deriving("shadowed_bgp_routes"):
        routing.shadow_facts(world, s, name)
    with s.deriving("lb_pool_overlaps"):
        vips.vip_facts(world, s, name)


@functools.lru_cache(maxsize=65536)  # each router's table repeats the other routers' prefixes
def _inside(prefix: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_network(prefix, strict=False).subnet_of(ipaddress.ip_network(cidr))  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False
