"""Build the subjects that checks/ and playbooks/ judge: one per host in scope, per expected BGP
session (both ends), per path between two nodes' pods (or a session's segment), and per kubelet.

This module decides which facts apply to which subject; each family of facts is derived in its own
module: the Subject itself (subject.py), what a host says about itself (host_facts.py), the two
ends of a session against each other (compatibility.py), how a session's connection is made
(dialing.py) and what its SYN captures show (syn_capture.py), forwarding and rp_filter along a
path (forwarding.py), path MTU (mtu.py), nftables rules (firewall.py), tunnels (tunnels.py).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from bgpdoctor.drivers import driver_for
from bgpdoctor.engine import (
    asymmetry,
    client_paths,
    cni_drops,
    compatibility,
    conntrack_flows,
    dialing,
    firewall,
    forwarding,
    hijack,
    host_facts,
    ipv6,
    loops,
    mtu,
    routing,
    speaker_state,
    tunnels,
    untracked,
)
from bgpdoctor.engine import drops as kernel_drops
from bgpdoctor.engine.active import ActiveResults, NodePair
from bgpdoctor.engine.sessions import established
from bgpdoctor.engine.subject import Subject
from bgpdoctor.engine.world import Hop, Path, Session, Unknown, World, route_fact
from bgpdoctor.inventory import peer_distances, sessions_graph
from bgpdoctor.probes.kubelet import KubeletProbe
from bgpdoctor.report.model import Evidence


def host_subjects(world: World, scope: list[str], active: ActiveResults | None = None) -> list[Subject]:
    return [
        _isolated(world, "host", name, [name], lambda name=name: _host_subject(world, name, active))
        for name in scope
    ]


def _isolated(world: World, kind: str, label: str, hosts: list[str], build: Any) -> Subject:
    """Build one subject; a bug or odd output while deriving it makes its facts unknown, and the
    run goes on (the reason names the host, the command and how its output starts)."""
    world.last_read = None
    try:
        subject: Subject = build()
        return subject
    except Exception as exc:
        where = ""
        if world.last_read is not None:
            host, fact = world.last_read
            result = world.facts[host].outputs.get(fact) if host in world.facts else None
            if result is not None:
                where = f" while reading `{result.command}` on {host} (output starts {result.stdout[:60]!r})"
        s = Subject(kind, label, hosts, hosts)
        s.blanket = Unknown(
            "internal-error",
            f"could not derive the facts of {label}{where}: {type(exc).__name__}: {exc}"[:400],
        )
        return s


def _host_subject(world: World, name: str, active: ActiveResults | None = None) -> Subject:
    host = world.inv.hosts[name]
    facts = world.facts.get(name)
    s = Subject("host", name, [name], [name])
    reachable = facts is not None and facts.reachable
    s.add("host", name)
    s.add("role", host.role)
    # the inventory may say a router or node is not meant to route (a route server): ip_forward = 0 is fine
    s.add(
        "forwarding_expected", host.forwards if host.forwards is not None else host.role in ("router", "node")
    )
    s.add("reachable", reachable)
    if not reachable:
        err = facts.error if facts else None
        why = Unknown("unreachable", f"{name}: {err.kind}: {err.message}" if err else f"{name} not collected")
        s.problems["reachable"] = why
        s.blanket = why
        s.add("host_error_kind", err.kind if err else "unknown")
        return s
    driver = driver_for(host.speaker)  # None: the host runs no BGP daemon
    # a vendor CLI has no sysctl, ss or nft: those facts do not apply to it, they are not unknown
    linux = driver is None or not driver.appliance
    if linux:
        host_facts.ip_forward_facts(world, s, name)
        ipv6.host_facts(world, s, name)
        tunnels.host_facts(world, s, name)
        cni_drops.host_facts(world, s, name)
    if linux and host.role == "router":
        loops.vip_loop_facts(world, s, name)
    if host.role == "node" and host.pod_cidrs:
        host_facts.pod_probe_facts(world, s, name)
    if driver is not None and linux:
        host_facts.port_179_facts(world, s, name)
    if driver is not None:
        driver.host_facts(world, s, name)  # what only this daemon's own outputs say
        host_facts.speaker_answers(world, s, name)
        speaker_state.host_facts(world, s, name)
    if active is not None:
        kernel_drops.host_drop_facts(s, active, name)
    return s


def session_subjects(world: World, sessions: list[Session], active: ActiveResults) -> list[Subject]:
    out = []
    dialers_of: dict[str, int] = {}
    for session in sessions:
        if not all(established(e) for e in session.ends):
            for e in session.ends:
                if e.peer is not None:
                    dialers_of[str(e.peer.address)] = dialers_of.get(str(e.peer.address), 0) + 1
    for session in sessions:
        out.append(
            _isolated(
                world,
                "session",
                session.label,
                session.hosts,
                lambda session=session: _session_subject(world, session, active, dialers_of),
            )
        )
    return out


def _session_subject(
    world: World, session: Session, active: ActiveResults, dialers_of: dict[str, int]
) -> Subject:
    s = Subject("session", session.label, session.hosts, list(session.hosts))
    for end in session.ends:
        facts = world.facts.get(end.host)
        if facts is None or not facts.reachable:
            s.blanket = world.command_problem(end.host, host_facts.speaker_fact(world, end.host))
    a, b = session.a, session.b
    s.add("a", a.host)
    s.add("b", b.host if b else str(a.peer.address if a.peer else "?"))
    s.add("a_state", a.state or "unknown", *a.evidence[:1])
    s.add("b_state", (b.state or "unknown") if b else "not in inventory")
    errors = [
        f"{e.host}: {e.observed.last_error}" for e in session.ends if e.observed and e.observed.last_error
    ]
    s.add("last_errors", "; ".join(errors) if errors else "none")
    ends_known = all(e.state not in (None, "unknown") for e in session.ends)
    up = all(established(e) for e in session.ends)
    state_evidence = [ev for e in session.ends for ev in e.evidence]
    # one end seen not Established is enough to know the session is down
    seen_down = any(e.state not in (None, "unknown") and not established(e) for e in session.ends)
    if ends_known or up or seen_down:
        s.add("established", up, *state_evidence)
    else:
        why = next(
            (
                p
                for e in session.ends
                if e.state in (None, "unknown")
                and (p := world.command_problem(e.host, host_facts.speaker_fact(world, e.host))) is not None
            ),
            Unknown("not-collected", f"the state of {session.label} was not found in either end's output"),
        )
        s.unknown("established", why, *state_evidence)
    s.add("both_configured", all(e.peer is not None for e in session.ends))
    _compatibility_facts(world, s, session, up, active)
    from bgpdoctor.engine.capabilities import capability_facts
    from bgpdoctor.engine.limits import max_prefix_facts
    from bgpdoctor.engine.timers import hold_time_facts

    max_prefix_facts(world, s, session)
    hold_time_facts(world, s, session)
    capability_facts(world, s, session)
    speaker_state.session_facts(world, s, session)
    ipv6.session_facts(world, s, session, up)
    conntrack_flows.session_facts(world, s, session)
    waiting = [e.host for e in session.ends if e.observed and e.observed.error_wait]
    # BIRD's error back-off (60 s, up to 300 s by default) after a fault that is gone: the
    # session is down because BIRD waits, not because something is still broken.
    s.add("in_error_backoff", bool(waiting) and not up)
    if waiting:
        s.add("backoff_host", waiting[0])
    transit = dialing.dial_facts(world, s, session, up, active, dialers_of)
    from bgpdoctor.engine import liveness

    liveness.session_facts(world, s, session)  # after the SYN captures: GTSM reads their TTL
    s.related = sorted(set(session.hosts) | set(transit))
    kernel_drops.subject_proof(world, s, active)
    return s


def _compatibility_facts(world: World, s: Subject, session: Session, up: bool, active: ActiveResults) -> None:
    """The session's compatibility facts (engine/compatibility.py), called through this name so
    that a test can make deriving one session fail."""
    compatibility.compatibility_facts(world, s, session, up, active)


def path_subjects(world: World, pairs: list[NodePair], active: ActiveResults) -> list[Subject]:
    """Pod to pod paths, then the test clients' paths (engine/client_paths.py)."""
    nodes = [
        _isolated(world, "path", pair.key, [pair.source, pair.destination],
                  lambda pair=pair: _path_subject(world, pair, active))
        for pair in pairs
    ]  # fmt: skip
    clients = [
        _isolated(world, "path", pair.key, [pair.source, pair.destination],
                  lambda pair=pair: client_paths.client_subject(world, pair))
        for pair in client_paths.client_pairs(world)
    ]  # fmt: skip
    return nodes + clients


def _path_subject(world: World, pair: NodePair, active: ActiveResults) -> Subject:
    path = world.trace(pair.source, pair.src_ip, pair.dst_ip, pair.dst_cidr, pair.destination)
    hosts = [h.host for h in path.hops]
    # a ping needs its answer too: the hosts on the way back can cause this path's symptoms
    return_path = world.trace(pair.destination, pair.dst_ip, pair.src_ip, f"{pair.src_ip}/32", pair.source)
    # a hop with no route to the far end learns it over BGP: the hosts on the way the route comes by
    carriers = _route_carriers(world, path, pair.destination) | _route_carriers(
        world, return_path, pair.source
    )
    s = Subject(
        "path",
        pair.key,
        [pair.source, pair.destination],
        sorted(set(hosts) | {h.host for h in return_path.hops} | {pair.source, pair.destination} | carriers),
    )
    s.add("segment", pair.segment)
    s.add("source", pair.source)
    s.add("destination", pair.destination)
    cluster_cidr = world.inv.cluster_pod_cidr_of(pair.dst_ip)  # the path's own family on a dual-stack cluster
    s.add("cluster_pod_cidr", str(cluster_cidr) if cluster_cidr else pair.dst_cidr)
    s.add("src_ip", pair.src_ip)
    s.add("dst_ip", pair.dst_ip)
    s.add("dst_cidr", pair.dst_cidr)
    s.add("hops", " -> ".join(f"{h.host}({h.iif or '-'}>{h.oif or '-'}{_by_table(h)})" for h in path.hops))
    route_evidence = _route_evidence(world, path)
    if path.unknown is not None:
        # the trace reached a hop whose routes could not be read: the route is neither there nor missing
        s.unknown("route_complete", path.unknown, *route_evidence)
    else:
        s.add("route_complete", path.complete, *route_evidence)
        if not path.complete:
            last = path.hops[-1].host if path.hops else pair.source
            s.add("route_missing_on", last)
            s.add("route_stop_reason", path.stop_reason)
    forwarding.rp_filter_facts(world, s, path, pair)
    tunnels.wireguard_path_facts(world, s, path, pair)
    hijack.hijack_facts(world, s, path)
    tunnels.path_facts(world, s, path, pair)
    if not pair.segment:
        routing.reflection_facts(world, s, pair.source, pair.dst_cidr)
    forwarding.transit_forwarding_facts(world, s, path)
    ping = active.pings.get(pair.key)
    if ping is not None:
        result, cmd, raw = ping
        ev = Evidence(host=pair.source, command=cmd, output=raw.rstrip())
        if result.transmitted == 0 and result.received == 0:
            first = raw.strip().splitlines()[0][:200] if raw.strip() else "no output"
            s.unknown(
                "pod_ping_ok", Unknown("failed", f"the ping from {pair.source} did not run: {first}"), ev
            )
        else:
            s.add("pod_ping_ok", result.received > 0, ev)
            s.add("pod_ping_outcome", result.outcome)
    elif f"ping {pair.key}" in active.errors:
        s.unknown("pod_ping_ok", Unknown("failed", f"ping probe failed: {active.errors[f'ping {pair.key}']}"))
    sweep = active.sweeps.get(pair.key)
    if sweep is not None:
        mtu.sweep_facts(world, s, path, pair, sweep)
    elif f"mtu {pair.key}" in active.errors:
        s.unknown("mtu_blackhole", Unknown("failed", f"MTU sweep failed: {active.errors[f'mtu {pair.key}']}"))
    if not path.complete or (ping and ping[0].received == 0):
        firewall.forward_drop_facts(world, s, path, pair)
        untracked.input_drop_facts(world, s, path, return_path, pair)
    asymmetry.path_facts(world, s, path, return_path, pair)
    kernel_drops.subject_proof(world, s, active)
    return s


def _route_carriers(world: World, path: Path, announcer: str) -> set[str]:
    """The hosts a route to `announcer`'s pods would come by to the hop where `path` stopped for the
    lack of one: every host on a shortest chain of configured BGP sessions between the two (a
    session down on that chain, or a host on it that does not pass the route on, leaves the hop
    without it). Nothing when the trace did not stop for a missing route.

    Example: ember97 -> vetch stops (no route); vetch peers ez19, ez19 peers karst-wrem, karst-wrem
    peers ferro-jrn: _route_carriers(world, path, "ferro-jrn") -> {"vetch", "ez19", "karst-wrem",
    "ferro-jrn"}"""
    if path.complete or not (path.stop_reason or "").startswith("no route to ") or not path.hops:
        return set()
    gap = path.hops[-1].host
    graph = world.memo(("bgp_peer_graph",), lambda: sessions_graph(world.inv))
    if gap not in graph or announcer not in graph:
        return set()
    to_gap, to_announcer = peer_distances(graph, gap), peer_distances(graph, announcer)
    if announcer not in to_gap:
        return set()
    length = to_gap[announcer]
    return {h for h, d in to_gap.items() if h in to_announcer and d + to_announcer[h] == length}


def _route_evidence(world: World, path: Path) -> list[Evidence | None]:
    """The route each forwarding hop used; the whole table of a hop where the trace stopped (it is
    the evidence of what is missing), nothing for the host that delivers locally."""
    quoted = []
    for i, hop in enumerate(path.hops):
        if hop.oif and hop.route:
            quoted.append(world.route_excerpt(hop.host, [hop.route], f"the route {hop.host} uses"))
        elif not (path.complete and i == len(path.hops) - 1):
            quoted.append(world.evidence(hop.host, route_fact(path.dst_ip)))
    return quoted


def _by_table(hop: Hop) -> str:
    return f" table {hop.table}" if hop.table else ""


def kubelet_subjects(world: World, active: ActiveResults) -> list[Subject]:
    vantage = world.inv.vantage.metrics_server
    port = world.inv.vantage.kubelet_port
    failed = []
    for key, error in sorted(active.errors.items()):
        node = key.removeprefix("kubelet ")
        if key.startswith("kubelet ") and node not in active.kubelets:
            s = Subject("kubelet", f"{vantage}->{node}:{port}", [node], [node])
            s.unknown(
                "kubelet_reachable", Unknown("failed", f"the kubelet probe from {vantage} failed: {error}")
            )
            failed.append(s)
    return failed + [
        _isolated(
            world,
            "kubelet",
            f"{vantage}->{node}:{world.inv.vantage.kubelet_port}",
            [node],
            lambda node=node, probe=probe, cmd=cmd, raw=raw: _kubelet_subject(
                world, node, probe, cmd, raw, active
            ),
        )
        for node, (probe, cmd, raw) in sorted(active.kubelets.items())
    ]


def _kubelet_subject(
    world: World, node: str, probe: KubeletProbe, cmd: str, raw: str, active: ActiveResults | None = None
) -> Subject:
    vantage = world.inv.vantage.metrics_server
    address = probe.target.rsplit(":", 1)[0]
    related = {node, vantage or node}
    vantage_host = world.inv.hosts[vantage] if vantage else None
    source = probe.source or (
        str(vantage_host.addresses[0]) if vantage_host and vantage_host.addresses else None
    )
    if vantage and source:
        related |= {h.host for h in world.trace(vantage, source, address, f"{address}/32", node).hops}
    s = Subject("kubelet", f"{vantage}->{node}:{world.inv.vantage.kubelet_port}", [node], sorted(related))
    ev = Evidence(host=vantage or "?", command=cmd.split(";")[0][:120] + " ...", output=raw.strip())
    s.add("node", node)
    s.add("vantage", vantage)
    s.add("target", probe.target)
    s.add("address", address)
    s.add("tcp", probe.tcp or "unknown", ev)
    if probe.tcp in ("ok", "timeout", "refused", "error"):
        s.add("kubelet_reachable", probe.tcp == "ok" and probe.tls in ("ok", None), ev)
    else:
        # the probe did not run, or its answer could not be read: nothing was learned
        first = raw.strip().splitlines()[0][:200] if raw.strip() else "no output"
        s.unknown(
            "kubelet_reachable",
            Unknown("failed", f"the kubelet probe from {vantage} did not give a result: {first}"),
            ev,
        )
    s.add("tls", probe.tls or "not tried")
    s.add("probe_error", probe.error or "")
    s.add("source", source or "unknown")
    cluster_cidr = world.inv.cluster_pod_cidr_of(address)
    s.add("cluster_pod_cidr", str(cluster_cidr) if cluster_cidr else f"{source}/32")
    if probe.tcp != "ok":
        firewall.kubelet_filter(world, s, node, world.inv.vantage.kubelet_port)
    host = world.inv.hosts[node]
    try:
        site = world.inv.sites.get(host.site or "")
        subnets = [n for n in (site.subnets if site else []) if ipaddress.ip_address(address) in n]
        s.add(
            "node_lan",
            str(subnets[0]) if subnets else str(ipaddress.ip_network(f"{address}/24", strict=False)),
        )
    except ValueError:
        s.add("node_lan", address)
    if active is not None:
        kernel_drops.subject_proof(world, s, active)
    return s
