"""The cluster's intent as `cluster` subjects: the facts bgpdoctor.kube states on each record,
with what the run read from the daemons where they decide.

A record's `family` (bgpdoctor/kube/families.py) says which facts it states; it names no root
cause: engine/cluster.py judges the subject with the run's playbooks and sets `root_cause`.

- The mesh next to route reflectors, LoadBalancer controllers claiming one Service, two speakers of
  a node meeting at one peer, and the Cilium agent's capabilities are read from the API alone; a
  fact whose objects could not be read is unknown (None in the record, the reason in its
  evidence), never true or false.
- ``configured-neighbors`` (``evidence["verify"] == "daemon-neighbors"``): the neighbors the cluster
  configures for a node (address and ASN), compared with the neighbor table the run read from the
  node's daemon. A configured neighbor the daemon does not run, one it runs with another ASN, or
  Calico ``Mesh_*`` protocols while the BGPConfiguration turned the mesh off, mean the daemon did
  not apply its configuration (``speaker_config_stale``). A node whose daemon was not read makes no
  subject; one whose table could not be read makes the fact unknown.
- ``originated-prefixes`` (``evidence["verify"] == "speaker-rib"``): what the node's GoBGP
  originates against its allocation (``advertises_unallocated_prefix``).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from bgpdoctor.drivers import CILIUM, agent_for, driver_for
from bgpdoctor.engine.facts import BY_NAME
from bgpdoctor.engine.lb_services import cluster_evidence
from bgpdoctor.engine.subject import Subject
from bgpdoctor.engine.world import Unknown, World
from bgpdoctor.kube.families import (
    AGENT_BIND,
    CALICO_MESH,
    CONFIGURED_NEIGHBORS,
    INTENT_FAMILIES,
    LB_CLAIMS,
    LOCAL_PEER,
    METALLB_SESSION,
    METALLB_SPEAKER,
    ORIGINATED,
)
from bgpdoctor.report.model import Evidence

if TYPE_CHECKING:
    from bgpdoctor.engine.cluster import ClusterFinding

__all__ = ["INTENT_FAMILIES", "intent_subjects", "pending_intent_subject", "settle"]

# the subject's label names the cause the playbooks give (several records share one object)
_LABELLED_BY_CAUSE = (LOCAL_PEER, AGENT_BIND)


def _unknown_of(ev: dict[str, Any]) -> Unknown | None:
    unknown = ev.get("unknown")
    if not isinstance(unknown, dict):
        return None
    if unknown.get("kind") == "permission-denied":
        return Unknown("permission-denied", str(unknown.get("reason")))
    return Unknown("not-collected", str(unknown.get("reason")))


class _Stated:
    """The facts a record states, each taken once; one the catalogue does not know for a cluster
    subject is an error naming it (a misspelled fact is never dropped silently)."""

    def __init__(self, f: ClusterFinding) -> None:
        self.subject = f.subject
        self.facts = dict(f.facts or {})
        bad = sorted(n for n in self.facts if n not in BY_NAME or "cluster" not in BY_NAME[n].kinds)
        if bad:
            raise ValueError(f"{f.subject}: cluster facts not in the catalogue: {', '.join(bad)}")

    def get(self, name: str, default: Any = None) -> Any:
        return self.facts.get(name, default)


def _mesh_subject(f: ClusterFinding, context: str | None) -> Subject:
    st = _Stated(f)
    s = Subject("cluster", f.subject, [], [])
    s.add("root_cause", "")
    s.add("message", f.message)
    s.add("rr_nodes", list(st.get("rr_nodes", [])))
    s.add("rr_cluster_ids", list(st.get("rr_cluster_ids", [])))
    s.add("rr_peers", list(st.get("rr_peers", [])))
    s.add("calico_asn", int(st.get("calico_asn") or 64512))
    proof = cluster_evidence(f, context)
    if st.get("mesh_with_reflectors") is None:
        why = _unknown_of(f.evidence)
        s.unknown("ok", why, proof)
        s.unknown("mesh_with_reflectors", why)
        return s
    s.add("ok", not st.get("mesh_with_reflectors"), proof)
    s.add("mesh_with_reflectors", bool(st.get("mesh_with_reflectors")), proof)
    s.add("calico_mesh", str(st.get("calico_mesh")))
    s.hosts = list(f.hosts)
    return s


def _lb_subject(f: ClusterFinding, context: str | None) -> Subject:
    st = _Stated(f)
    s = Subject("cluster", f"{f.subject} (LoadBalancer controllers)", [], [])
    s.add("root_cause", "")
    s.add("message", f.message)
    s.add("lb_service", str(st.get("lb_service")))
    s.add("lb_service_namespace", str(st.get("lb_service_namespace")))
    s.add("lb_service_name", str(st.get("lb_service_name")))
    s.add("lb_controllers", [str(c) for c in st.get("lb_controllers", [])])
    proof = cluster_evidence(f, context)
    if st.get("lb_controller_conflict") is None:
        why = _unknown_of(f.evidence)
        s.unknown("ok", why, proof)
        s.unknown("lb_controller_conflict", why)
        return s
    s.add("ok", not st.get("lb_controller_conflict"), proof)
    s.add("lb_controller_conflict", bool(st.get("lb_controller_conflict")), proof)
    return s


def _stale_subject(f: ClusterFinding, world: World | None) -> Subject | None:
    ev = f.evidence
    st = _Stated(f)
    node = str(st.get("host"))
    speaker = str(st.get("node_speaker"))
    if world is None or node not in world.facts or node not in world.inv.hosts:
        return None
    driver = driver_for(world.inv.hosts[node].speaker)
    if driver is None or driver.agent is None:
        return None  # the cluster configures only the daemons its agents run
    table_fact = driver.session_fact
    s = Subject("cluster", f"node/{node} speaker config", [node], [node])
    s.add("root_cause", "")
    s.add("host", node)
    s.add("node_speaker", speaker)
    agent = agent_for(speaker) or CILIUM
    s.add("agent_namespace", agent.namespace)
    s.add("restart_agent", agent.restart.format(ns=agent.namespace, node=node))
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
    mesh_prefix = driver.mesh_prefix
    if ev.get("calico_mesh") is False and mesh_prefix is not None:
        mesh = sorted(n.name for n in running if n.name and n.name.startswith(mesh_prefix))
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
    """The subject of one record of bgpdoctor.kube (its `family`: which facts it states); [] when
    nothing can be said. Its `root_cause` is "" until engine/cluster.py judges it (see `settle`)."""
    kind = f.family
    if kind == METALLB_SPEAKER:
        return [_metallb_stale_subject(f, context)]
    if kind == CONFIGURED_NEIGHBORS:
        s = _stale_subject(f, world)
        return [s] if s is not None else []
    if kind == METALLB_SESSION:
        return [_metallb_prefix_subject(f, context)]
    if kind == CALICO_MESH:
        return [_mesh_subject(f, context)]
    if kind == LB_CLAIMS:
        return [_lb_subject(f, context)]
    if kind == AGENT_BIND:
        return [_bind_subject(f, context, world)]
    if kind == ORIGINATED:
        s = _prefix_subject(f, context, world)
        return [s] if s is not None else []
    if kind == LOCAL_PEER:
        return [_local_peer_subject(f, context)]
    raise ValueError(f"{f.subject}: a cluster record of an unknown family {kind!r}")


def pending_intent_subject(f: ClusterFinding) -> Subject | None:
    """A record the daemons decide, before they are read: the fact they will state, unknown until
    then (so the cause it can show is named, e.g. in a recording's `cluster` entries)."""
    why = Unknown("not-collected", "the node's daemon decides")
    if f.family == CONFIGURED_NEIGHBORS:
        s = Subject("cluster", f.subject, list(f.hosts), list(f.hosts))
        s.add("root_cause", "")
        s.unknown("speaker_config_stale", why)
        return s
    if f.family == ORIGINATED:
        s = Subject("cluster", f.subject, list(f.hosts), list(f.hosts))
        s.add("root_cause", "")
        s.unknown("advertises_unallocated_prefix", why)
        return s
    return None


def settle(s: Subject, f: ClusterFinding, cause: str) -> None:
    """The cause the playbooks gave the subject: its `root_cause`, the note of the API's evidence and,
    where several records share one object, its label (`root_cause`, added by every builder above,
    is given its value)."""
    s.facts["root_cause"] = cause
    for proofs in s.evidence.values():
        for e in proofs:
            if e.command == f"kubernetes API: {f.subject}" and (e.note or "").startswith("root cause"):
                e.note = f"root cause {cause}"
    if f.family in _LABELLED_BY_CAUSE:
        s.label = f"{f.subject} ({cause})"


def _bind_subject(f: ClusterFinding, context: str | None, world: World | None) -> Subject:
    """The agent may not bind a port below 1024 it is given (`cilium_no_bind_capability`). The run's
    own listeners decide where they were read: a node seen listening on 179 binds it after all
    (its host lets unprivileged processes bind low ports, as Docker and kind do)."""
    ev = f.evidence
    st = _Stated(f)
    node = str(st.get("host"))
    ports = [p for p in ev.get("ports", []) if isinstance(p, dict)]
    s = Subject("cluster", f.subject, [node], [node])
    s.add("root_cause", "")
    s.add("host", node)
    s.add("cilium_low_ports", [str(p) for p in st.get("cilium_low_ports", [])])
    s.add("cilium_port_patch", str(st.get("cilium_port_patch", "")))
    config_ev = cluster_evidence(f, context)
    if st.get("cilium_no_bind_capability") is None:
        why = _unknown_of(ev)
        s.add("message", f.message)
        s.unknown("ok", why, config_ev)
        s.unknown("cilium_no_bind_capability", why)
        return s
    s.add("cilium_agent_daemonset", str(st.get("cilium_agent_daemonset")))
    s.add("cilium_agent_capabilities", [str(c) for c in st.get("cilium_agent_capabilities", [])])
    s.add("cilium_daemonset_patch", str(st.get("cilium_daemonset_patch")))
    listen_179 = bool(ports) and all(p.get("use") == "listen" and p.get("port") == 179 for p in ports)
    listening = world.listening_179(node) if world is not None and node in world.facts else None
    if listen_179 and listening is True and world is not None:
        live = world.evidence(node, "ss.listen", "listening sockets on TCP 179")
        s.add("ok", True, config_ev, *([live] if live else []))
        s.add("cilium_no_bind_capability", False, config_ev, *([live] if live else []))
        s.add(
            "message",
            f"{node} listens on TCP 179 although its agent lacks NET_BIND_SERVICE: its host lets "
            "unprivileged processes bind low ports (net.ipv4.ip_unprivileged_port_start)",
        )
        return s
    proof = [config_ev]
    message = f.message
    if listening is False and world is not None:
        if live := world.evidence(node, "ss.listen", "listening sockets on TCP 179: none"):
            proof.append(live)
        message += f"; nothing listens on TCP 179 on {node}"
    s.add("message", message)
    stated = bool(st.get("cilium_no_bind_capability"))
    s.add("ok", not stated, *proof)
    s.add("cilium_no_bind_capability", stated, *proof)
    return s


def _local_peer_subject(f: ClusterFinding, context: str | None) -> Subject:
    """Two speakers of one node meeting at one peer: `speaker_collision` (MetalLB and the CNI's
    speaker) or `readiness_gated_on_peer` (a Calico BGPPeer to the node itself)."""
    st = _Stated(f)
    node = str(st.get("host"))
    s = Subject("cluster", f.subject, [node], [node])
    s.add("root_cause", "")
    s.add("message", f.message)
    s.add("host", node)
    s.add("local_peer_address", str(st.get("local_peer_address")))
    proof = cluster_evidence(f, context)
    if "speaker_collision" in st.facts:
        s.add("ok", not st.get("speaker_collision"), proof)
        s.add("speaker_collision", bool(st.get("speaker_collision")), proof)
        s.add("colliding_speakers", [str(x) for x in st.get("colliding_speakers", [])])
        s.add("metallb_peer", str(st.get("metallb_peer")))
        s.add("calico_lb_cidrs", [str(x) for x in st.get("calico_lb_cidrs", [])])
    else:
        s.add("ok", not st.get("readiness_gated_on_peer"), proof)
        s.add("readiness_gated_on_peer", bool(st.get("readiness_gated_on_peer")), proof)
        s.add("calico_bgp_peer", str(st.get("calico_bgp_peer")))
    return s


def _within(prefix: str, allowed: list[str], host_routes: bool = False) -> bool:
    try:
        net = ipaddress.IPv4Network(prefix, strict=False)
    except ValueError:
        return True  # not IPv4: judged elsewhere
    if host_routes and net.prefixlen == 32:
        return True  # a Service IP the cluster advertises (ClusterIP, ExternalIP)
    for text in allowed:
        first, _, last = text.partition("-")
        try:
            nets = (
                list(
                    ipaddress.summarize_address_range(
                        ipaddress.IPv4Address(first), ipaddress.IPv4Address(last)
                    )
                )
                if last
                else [ipaddress.IPv4Network(first, strict=False)]
            )
        except ValueError:
            continue
        if any(net.subnet_of(n) for n in nets):
            return True
    return False


def _prefix_subject(f: ClusterFinding, context: str | None, world: World | None) -> Subject | None:
    """`advertises_unallocated_prefix`: the prefixes the node's GoBGP originates (no neighbor: its
    own) against its IPAM allocation, the LoadBalancer pools and the Service IPs. A node the run did
    not read makes no subject; a RIB that could not be read makes the fact unknown."""
    ev = f.evidence
    st = _Stated(f)
    node = str(st.get("host"))
    if world is None or node not in world.facts or node not in world.inv.hosts:
        return None
    driver = driver_for(world.inv.hosts[node].speaker)
    if driver is None or driver.agent is not CILIUM or driver.rib_fact is None:
        return None  # the prefixes Cilium's agent originates
    rib_fact = driver.rib_fact
    allocations = [str(c) for c in ev.get("allocations", [])]
    s = Subject("cluster", f"node/{node} announced prefixes", [node], [node])
    s.add("root_cause", "")
    s.add("host", node)
    s.add("pod_cidr", str(st.get("pod_cidr")))
    s.add("pod_cidr_source", str(st.get("pod_cidr_source")))
    s.add("ipam_mode", str(st.get("ipam_mode")))
    s.add("advertisement_label_key", str(st.get("advertisement_label_key")))
    s.add("advertisement_label_value", str(st.get("advertisement_label_value")))
    rib = driver.received_paths(world, node)
    if rib is None:
        why = world.command_problem(node, rib_fact) or Unknown(
            "parse-error", f"{node}'s {driver.daemon} RIB ({rib_fact}) could not be read"
        )
        s.unknown("ok", why)
        s.unknown("advertises_unallocated_prefix", why)
        return s
    own = sorted({p.prefix for p in rib if p.neighbor_ip is None and ":" not in p.prefix})
    allowed = [str(a) for a in ev.get("allowed", [])]
    host_routes = bool(ev.get("host_routes_allowed"))
    unallocated = [p for p in own if not _within(p, allowed, host_routes)]
    proof = [
        x
        for x in (
            world.evidence(node, rib_fact, f"the prefixes the node's {driver.daemon} originates"),
            cluster_evidence(f, context),
        )
        if x is not None
    ]
    s.add("ok", not unallocated, *proof)
    s.add("advertises_unallocated_prefix", bool(unallocated), *proof)
    s.add("unallocated_prefixes", unallocated)
    stray = [str(c) for c in ev.get("ciliumnode_stray_podcidrs", [])]
    where = f"{ev.get('allocation_source')}, IPAM {ev.get('ipam_mode')}"
    if unallocated:
        message = (
            f"{node} announces {', '.join(unallocated)}, which no IPAM allocation ({', '.join(allocations)} "
            f"from {where}), LoadBalancer pool or Service IP holds"
        )
        spec = [str(c) for c in ev.get("node_spec_pod_cidrs", []) if str(c) in unallocated]
        if spec:
            message += f"; {', '.join(spec)} is the Node's spec.podCIDR, which this IPAM does not use"
        if stray:
            message += f"; the agent wrote {', '.join(stray)} into its CiliumNode's spec.ipam.podCIDRs"
    else:
        message = f"{node} announces only prefixes it owns ({', '.join(own) or 'none'})"
    s.add("message", message)
    return s


def _metallb_log_evidence(f: ClusterFinding, lines: list[str], note: str) -> Evidence:
    pod = str(f.evidence.get("speaker_pod") or "the speaker pod")
    return Evidence(
        host="cluster",
        command=f"kubernetes API: pods/log {pod} -c speaker",
        output="\n".join(lines) or "no line about the session",
        note=note,
    )


def _metallb_prefix_subject(f: ClusterFinding, context: str | None) -> Subject:
    """A MetalLB session as its native speaker's log tells it: the peer's NOTIFICATION Cease 6/1
    (`max_prefix_hit`), the enforcing end being the peer (often a provider's router outside the run)."""
    ev = f.evidence
    st = _Stated(f)
    node = str(st.get("host"))
    s = Subject("cluster", f"node/{node} MetalLB session to {st.get('max_prefix_end')}", [node], [node])
    s.add("root_cause", "")
    log = _metallb_log_evidence(f, [str(x) for x in ev.get("log_lines", [])], "the speaker's session log")
    s.add("message", f.message)
    s.add("host", node)
    hit = bool(st.get("max_prefix_hit"))
    s.add("ok", not hit, log, cluster_evidence(f, context))
    s.add("max_prefix_hit", hit, log)
    s.add("max_prefix_end", str(st.get("max_prefix_end")))
    s.add("max_prefix_sender", str(st.get("max_prefix_sender")))
    s.add("max_prefix_reported_by", str(st.get("max_prefix_reported_by")))
    s.add("max_prefix_daemon", str(st.get("max_prefix_daemon")))
    s.add("max_prefix_sender_address", str(st.get("max_prefix_sender_address")))
    if st.get("max_prefix_end_asn"):
        s.add("max_prefix_end_asn", int(st.get("max_prefix_end_asn")))
    return s


def _metallb_stale_subject(f: ClusterFinding, context: str | None) -> Subject:
    """MetalLB's speaker: its log and ServiceBGPStatus against its BGPPeers (`speaker_config_stale`)."""
    ev = f.evidence
    st = _Stated(f)
    node = str(st.get("host"))
    pod = str(ev.get("speaker_pod") or "")
    namespace = pod.partition("/")[0] or "metallb-system"
    s = Subject("cluster", f"node/{node} MetalLB speaker config", [node], [node])
    s.add("root_cause", "")
    s.add("message", f.message)
    s.add("host", node)
    s.add("node_speaker", str(st.get("node_speaker")))
    s.add("agent_namespace", namespace)
    s.add(
        "restart_agent",
        f"kubectl -n {namespace} delete pod -l component=speaker --field-selector spec.nodeName={node}",
    )
    s.add("stale_neighbors", [str(x) for x in st.get("stale_neighbors", [])])
    stale = bool(st.get("speaker_config_stale"))
    s.add("ok", not stale, cluster_evidence(f, context))
    s.add("speaker_config_stale", stale, cluster_evidence(f, context))
    return s
