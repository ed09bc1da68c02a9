"""The cluster's intent as `cluster` subjects (bgpdoctor.kube.cluster_intent gives the records).

- ``mesh-vs-rr-transition``, ``duplicate-lb-controller``, ``speaker-collision`` and
  ``readiness-gated-on-peer`` are proven from the API alone; a record whose objects could not be
  read makes its facts (and the `cluster-config` check) unknown, never true or false.
- ``stale-speaker-config`` (``evidence["verify"] == "daemon-neighbors"``): the neighbors the cluster
  configures for a node (address and ASN), compared with the neighbor table the run read from the
  node's daemon. A configured neighbor the daemon does not run, one it runs with another ASN, or
  Calico ``Mesh_*`` protocols while the BGPConfiguration turned the mesh off, mean the daemon did
  not apply its configuration. A node whose daemon was not read makes no subject; one whose
  table could not be read makes the fact unknown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bgpdoctor.engine.lb_services import cluster_evidence
from bgpdoctor.engine.subjects import Subject
from bgpdoctor.engine.world import Unknown, World
from bgpdoctor.report.model import Evidence

if TYPE_CHECKING:
    from bgpdoctor.engine.cluster import ClusterFinding

INTENT_CAUSES = (
    "stale-speaker-config",
    "mesh-vs-rr-transition",
    "duplicate-lb-controller",
    "speaker-collision",
    "readiness-gated-on-peer",
)
DAEMON_TABLES = {"bird1": "bird.protocols", "bird2": "bird.protocols", "gobgp": "gobgp.neighbors"}
RESTART = {
    "bird1": "kubectl -n {ns} delete pod -l k8s-app=calico-node --field-selector spec.nodeName={node}",
    "gobgp": "kubectl -n {ns} delete pod -l k8s-app=cilium --field-selector spec.nodeName={node}",
}


def _unknown_of(ev: dict[str, Any]) -> Unknown | None:
    unknown = ev.get("unknown")
    if not isinstance(unknown, dict):
        return None
    if unknown.get("kind") == "permission-denied":
        return Unknown("permission-denied", str(unknown.get("reason")))
    return Unknown("not-collected", str(unknown.get("reason")))


def _mesh_subject(f: ClusterFinding, context: str | None) -> Subject:
    ev = f.evidence
    s = Subject("cluster", f.subject, [], [])
    s.add("root_cause", f.root_cause)
    s.add("message", f.message)
    reflectors: dict[str, str] = dict(ev.get("reflector_nodes") or {})
    s.add("rr_nodes", sorted(reflectors))
    s.add("rr_cluster_ids", sorted(set(reflectors.values())))
    s.add("rr_peers", [str(p) for p in ev.get("rr_peers", [])])
    s.add("calico_asn", int(ev.get("calico_asn") or 64512))
    why = _unknown_of(ev)
    if why is not None:
        s.unknown("ok", why, cluster_evidence(f, context))
        s.unknown("mesh_with_reflectors", why)
        return s
    s.add("ok", False, cluster_evidence(f, context))
    s.add("mesh_with_reflectors", True, cluster_evidence(f, context))
    s.add("calico_mesh", str(ev.get("mesh")))
    s.hosts = sorted(reflectors)
    return s


def _lb_subject(f: ClusterFinding, context: str | None) -> Subject:
    ev = f.evidence
    s = Subject("cluster", f"{f.subject} (LoadBalancer controllers)", [], [])
    s.add("root_cause", f.root_cause)
    s.add("message", f.message)
    s.add("lb_service", f"{ev.get('namespace')}/{ev.get('name')}")
    s.add("lb_service_namespace", str(ev.get("namespace")))
    s.add("lb_service_name", str(ev.get("name")))
    s.add("lb_controllers", [str(c) for c in ev.get("controllers", [])])
    why = _unknown_of(ev)
    if why is not None:
        s.unknown("ok", why, cluster_evidence(f, context))
        s.unknown("lb_controller_conflict", why)
        return s
    s.add("ok", False, cluster_evidence(f, context))
    s.add("lb_controller_conflict", True, cluster_evidence(f, context))
    return s


def _stale_subject(f: ClusterFinding, world: World | None) -> Subject | None:
    ev = f.evidence
    node = str(ev.get("node"))
    speaker = str(ev.get("speaker"))
    if world is None or node not in world.facts or node not in world.inv.hosts:
        return None
    table_fact = DAEMON_TABLES.get(world.inv.hosts[node].speaker)
    if table_fact is None:
        return None
    s = Subject("cluster", f"node/{node} speaker config", [node], [node])
    s.add("root_cause", f.root_cause)
    s.add("host", node)
    s.add("node_speaker", speaker)
    namespace = "calico-system" if speaker == "bird1" else "kube-system"
    s.add("agent_namespace", namespace)
    s.add("restart_agent", RESTART.get(speaker, RESTART["gobgp"]).format(ns=namespace, node=node))
    running = world.neighbors(node)
    if running is None:
        why = world.command_problem(node, table_fact) or Unknown(
            "parse-error", f"the neighbor table of {node}'s daemon ({table_fact}) could not be read"
        )
        s.unknown("ok", why)
        s.unknown("speaker_config_stale", why)
        return s
    by_address = {n.address: n for n in running if n.address}
    stale: list[str] = []
    for peer in ev.get("peers", []):
        address, asn = str(peer.get("address")), peer.get("asn")
        got = by_address.get(address)
        where = str(peer.get("source"))
        if got is None:
            stale.append(f"{address} (AS {asn}, from {where}) is configured but not running")
        elif asn is not None and got.peer_as is not None and got.peer_as != asn:
            stale.append(f"{address} runs with AS {got.peer_as}, the cluster says AS {asn} ({where})")
    if ev.get("calico_mesh") is False:
        mesh = sorted(n.name for n in running if n.name and n.name.startswith("Mesh_"))
        if mesh:
            stale.append(
                f"BIRD still runs the node-to-node mesh ({', '.join(mesh)}) although the BGPConfiguration "
                "turned it off (nodeToNodeMeshEnabled: false)"
            )
    daemon_ev = world.evidence(node, table_fact, "the neighbors the daemon runs, with their ASN")
    cluster_ev = Evidence(
        host="cluster",
        command=f"kubernetes API: BGP neighbors of node {node}",
        output="\n".join(
            f"{p.get('address')} AS {p.get('asn')} ({p.get('source')})" for p in ev.get("peers", [])
        )
        or "no neighbor",
        note="the neighbors the cluster configures for the node",
    )
    s.add("ok", not stale, cluster_ev, daemon_ev)
    s.add("speaker_config_stale", bool(stale), cluster_ev, daemon_ev)
    s.add("stale_neighbors", stale)
    s.add(
        "message",
        f"{node}'s {speaker} does not run what the cluster configures: {'; '.join(stale)}"
        if stale
        else f"{node}'s {speaker} runs the {len(ev.get('peers', []))} neighbors the cluster configures",
    )
    return s


def intent_subjects(f: ClusterFinding, context: str | None, world: World | None) -> list[Subject]:
    """The subject of one record of bgpdoctor.kube.cluster_intent; [] when nothing can be said."""
    if f.root_cause == "stale-speaker-config":
        s = _stale_subject(f, world)
        return [s] if s is not None else []
    if f.root_cause == "mesh-vs-rr-transition":
        return [_mesh_subject(f, context)]
    if f.root_cause == "duplicate-lb-controller":
        return [_lb_subject(f, context)]
    return [_local_peer_subject(f, context)]


def _local_peer_subject(f: ClusterFinding, context: str | None) -> Subject:
    """speaker-collision and readiness-gated-on-peer: two speakers of one node meet at one peer."""
    ev = f.evidence
    node = str(ev.get("node"))
    s = Subject("cluster", f"{f.subject} ({f.root_cause})", [node], [node])
    s.add("root_cause", f.root_cause)
    s.add("message", f.message)
    s.add("host", node)
    s.add("local_peer_address", str(ev.get("peer_address")))
    s.add("ok", False, cluster_evidence(f, context))
    if f.root_cause == "speaker-collision":
        s.add("speaker_collision", True, cluster_evidence(f, context))
        s.add("colliding_speakers", [str(x) for x in ev.get("speakers", [])])
        s.add("metallb_peer", str(ev.get("metallb_peer")))
        s.add("calico_lb_cidrs", [str(x) for x in ev.get("lb_cidrs", [])])
    else:
        s.add("readiness_gated_on_peer", True, cluster_evidence(f, context))
        s.add("calico_bgp_peer", str(ev.get("bgp_peer")))
    return s
