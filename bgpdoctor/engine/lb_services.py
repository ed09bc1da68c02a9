"""LoadBalancer Services as `cluster` subjects, judged with the routers' BGP routes where a run has them.

The cluster side (bgpdoctor.kube.services) says which Services announce an IP over BGP, from which
nodes, and where their ready endpoints run. Two kinds of record arrive here:

- facts proven from the API alone (`lb_advert_missing`, `etp_gap`); the playbooks name the cause,
  and the facts are unknown when the EndpointSlices could not be read;
- a router check (``evidence["verify"] == "router-rib"``): the API shows nothing wrong, and the
  routers' routes state the facts: a Service's /32 whose next hop is a node without a ready
  endpoint (externalTrafficPolicy: Local) is an `etp_gap`, a /32 missing from every router that
  learns routes from the announcing nodes is `lb_advert_missing`. Without any router whose BGP
  routes were read, a router check makes no subject: nothing is claimed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bgpdoctor.engine.subject import Subject
from bgpdoctor.engine.world import Unknown, World
from bgpdoctor.parsers import bird, frr
from bgpdoctor.report.model import Evidence

if TYPE_CHECKING:
    from bgpdoctor.engine.cluster import ClusterFinding

DEFAULT_ADVERT_LABELS = {"advertise": "bgp"}


@dataclass
class RouterRoutes:
    """The BGP routes of every router whose routes were read, reduced to what a Service needs.

    Example: RouterRoutes(read=["tor"], unknown={}, hops={"10.0.6.1": {"tor": ["10.0.4.109",
    "10.0.4.110"]}}, next_hops={"tor": {"10.0.4.109", "10.0.4.110"}}, evidence=[Evidence(...)])
    """

    read: list[str] = field(default_factory=list)
    unknown: dict[str, Unknown] = field(default_factory=dict)
    hops: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # vip -> router -> next hops
    next_hops: dict[str, set[str]] = field(default_factory=dict)  # router -> every BGP next hop
    evidence: list[Evidence] = field(default_factory=list)


def _host_route(prefix: str) -> str | None:
    try:
        net = ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return None
    return str(net.network_address) if net.num_addresses == 1 else None


def router_routes(world: World, vips: list[str]) -> RouterRoutes:
    """Read the BGP routes of every router in the run (BIRD `show route all`, FRR `show ip route`)."""
    out = RouterRoutes()
    wanted = set(vips)
    for name in world.facts:
        host = world.inv.hosts.get(name)
        if host is None or host.role != "router":
            continue
        paths: list[tuple[str, str | None]] | None = None
        if world.collected(name, "bird.bgp_routes"):
            fact = "bird.bgp_routes"
            bird_routes = world.parsed(name, fact, bird.parse_show_route)
            if bird_routes is not None:
                paths = [(r.prefix, r.bgp_next_hop or r.gateway) for r in bird_routes]
        elif world.collected(name, "frr.ip_route"):
            fact = "frr.ip_route"
            frr_routes = world.parsed(name, fact, frr.parse_ip_route)
            if frr_routes is not None:
                paths = [(r.prefix, r.next_hop) for r in frr_routes if r.protocol == "bgp"]
        else:
            continue
        if paths is None:
            problem = world.command_problem(name, fact)
            out.unknown[name] = problem or Unknown("parse-error", f"{fact} on {name} could not be read")
            continue
        out.read.append(name)
        out.next_hops[name] = {hop for _, hop in paths if hop}
        for prefix, hop in paths:
            vip = _host_route(prefix)
            if vip in wanted and hop:
                hops = out.hops.setdefault(vip, {}).setdefault(name, [])
                if hop not in hops:
                    hops.append(hop)
        ev = world.evidence(name, fact, "the router's BGP routes and their next hops")
        if ev is not None:
            out.evidence.append(ev)
    return out


def _service_facts(s: Subject, f: ClusterFinding) -> None:
    ev = f.evidence
    s.add("root_cause", "")
    s.add("message", f.message)
    s.add("lb_service", f"{ev.get('namespace')}/{ev.get('name')}")
    s.add("lb_service_namespace", str(ev.get("namespace")))
    s.add("lb_service_name", str(ev.get("name")))
    s.add("lb_service_ips", [str(i) for i in ev.get("ips", [])])
    s.add("lb_announcer", str(ev.get("announcer")))
    s.add("metallb_namespace", str(ev.get("pool_namespace") or "metallb-system"))
    if ev.get("pool"):
        s.add("lb_pool_name", str(ev["pool"]))
    labels = dict(ev.get("peer_advertisement_labels") or DEFAULT_ADVERT_LABELS)
    s.add("lb_advert_labels", [f"{k}={v}" for k, v in sorted(labels.items())])
    ips = [str(i) for i in ev.get("ips", [])]
    # a Service no speaker announces, or a router check of its announcement (not of its endpoints)
    advert = "lb_advert_missing" in (f.facts or {}) or (
        f.pending and ev.get("external_traffic_policy") != "Local"
    )
    lb_out = [str(i) for i in ev.get("lb_ips_outside", ips if advert else [])]
    ext_out = [str(i) for i in ev.get("external_ips_outside", [])]
    s.add(
        "calico_lb_cidrs",
        [*ev.get("calico_lb_cidrs", []), *(f"{ip}/32" for ip in lb_out if ip not in ext_out)],
    )
    s.add("calico_external_cidrs", [*ev.get("calico_external_cidrs", []), *(f"{ip}/32" for ip in ext_out)])
    s.add("endpoint_nodes", [str(n) for n in ev.get("endpoint_nodes", [])])
    s.add("speaker_nodes", [str(n) for n in ev.get("speaker_nodes", [])])


def cluster_evidence(f: ClusterFinding, context: str | None) -> Evidence:
    """The API finding itself as evidence (the cluster, the object, the message)."""
    return Evidence(
        host=f"cluster {context or '(current context)'}",
        command=f"kubernetes API: {f.subject}",
        output=f.message,
        note=f"root cause {f.root_cause}",
    )


def _node_of(hop: str, node_ips: dict[str, Any], world: World | None) -> str | None:
    named = next((node for node, ip in node_ips.items() if ip == hop), None)
    return named or (world.owner_of(hop) if world is not None else None)


def pending_subject(f: ClusterFinding) -> Subject:
    """A router check before the routers are read: the fact it will state, unknown until then."""
    s = Subject("cluster", f.subject, [], [])
    why = Unknown("not-collected", "the routers' BGP routes decide")
    if f.evidence.get("external_traffic_policy") == "Local":
        s.unknown("etp_gap", why)
    else:
        s.unknown("lb_advert_missing", why)
    return s


Judge = Callable[[Subject], str | None]  # the root cause the playbooks give a subject (None: none)


def service_subjects(
    f: ClusterFinding, context: str | None, world: World | None, judge: Judge
) -> list[Subject]:
    """The subject of one Service record (see the module docstring), its root cause the one `judge`
    gives; [] when nothing can be said or no playbook calls the state a mistake."""
    ev = f.evidence
    ips = [str(i) for i in ev.get("ips", [])]
    s = Subject("cluster", f.subject, [], [])
    _service_facts(s, f)
    if not f.pending:
        unknown = ev.get("unknown")
        if isinstance(unknown, dict):
            why = Unknown("permission-denied", str(unknown.get("reason")))
            s.unknown("ok", why)
            s.unknown("etp_gap", why)
            s.add("root_cause", judge(s) or "")  # the cause its unknown facts could show
            s.unknown("ok", why, cluster_evidence(replace(f, root_cause=str(s.facts["root_cause"])), context))
            return [s]
        stated = dict(f.facts or {})
        for name in ("etp_gap", "advertising_without_endpoint", "lb_advert_missing"):
            if name in stated:
                s.add(name, stated.pop(name))
        if stated:  # a fact this list does not know: never dropped silently
            raise ValueError(f"{f.subject}: service facts not in the catalogue: {', '.join(sorted(stated))}")
        cause = judge(s)
        if cause is None:
            return []  # a state no playbook calls a mistake
        proof = cluster_evidence(replace(f, root_cause=cause), context)
        s.add("root_cause", cause)
        s.add("ok", False, proof)
        for name in ("etp_gap", "lb_advert_missing"):
            if name in s.facts:
                s.add(name, s.facts[name], proof)
        s.hosts = [str(n) for n in ev.get("endpoint_nodes", [])]
        return [s]
    if world is None:
        return []
    routes = router_routes(world, ips)
    if not routes.read:
        return []
    node_ips: dict[str, Any] = dict(ev.get("node_ips") or {})
    speakers = [str(n) for n in ev.get("speaker_nodes", [])]
    speaker_ips = {str(node_ips[n]) for n in speakers if node_ips.get(n)}
    announced: dict[str, set[str]] = {}  # node (or next hop) -> routers that use it
    for vip in ips:
        for router, hops in routes.hops.get(vip, {}).items():
            for hop in hops:
                announced.setdefault(_node_of(hop, node_ips, world) or hop, set()).add(router)
    seen_on = ", ".join(
        f"{vip} on {router} via {', '.join(hops)}"
        for vip in ips
        for router, hops in routes.hops.get(vip, {}).items()
    )
    local = ev.get("external_traffic_policy") == "Local"
    learners = [r for r in routes.read if routes.next_hops.get(r, set()) & speaker_ips]
    # IPv4 only: the routers' IPv6 tables are not read (FRR's `show ip route`)
    missing = [v for v in ips if ":" not in v and not any(r in routes.hops.get(v, {}) for r in learners)]
    ready = set(str(n) for n in ev.get("endpoint_nodes", []))
    without = sorted(n for n in announced if n in node_ips and n not in ready) if local else []
    router_ev = Evidence(
        host=", ".join(routes.read),
        command="BGP routes of the routers",
        output=seen_on or f"no route for {', '.join(ips)}",
        note="the Service's /32 as the routers learn it; nodes with ready endpoints: "
        + (", ".join(sorted(ready)) or "none"),
    )
    gap = "advertised-without-endpoint" if without else ""
    advert_missing = ""
    if learners and missing:
        advert_missing = (
            f"{', '.join(missing)} is missing from the BGP routes of {', '.join(learners)}, which learn "
            f"other routes from the announcing nodes ({', '.join(speakers)})"
        )
    ref = f"{ev.get('namespace')}/{ev.get('name')}"
    if without:
        message = (
            f"Service {ref} (externalTrafficPolicy: Local, {', '.join(ips)}) "
            f"is announced from {', '.join(without)}, where no ready endpoint runs ({seen_on}): the routers "
            "send part of the traffic to nodes that drop it"
        )
    elif advert_missing:
        message = f"Service {ref} is configured to be announced, but {advert_missing}"
    else:
        message = f"Service {ref} is announced as configured ({seen_on or 'no /32'})"
    s.add("message", message)
    s.add("etp_gap", gap, router_ev, *routes.evidence)
    s.add("advertising_without_endpoint", without, router_ev, *routes.evidence)
    s.add("lb_advert_missing", advert_missing, router_ev, *routes.evidence)
    s.add("vip_next_hops", seen_on)
    cause = judge(s) or ""
    s.add("root_cause", cause)
    s.add("ok", not cause, router_ev, *routes.evidence)
    s.hosts = sorted({*without, *routes.read})
    s.related = sorted(ready)
    return [s]
