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

import ipaddress
from typing import TYPE_CHECKING, Any

from bgpdoctor.drivers import CILIUM, agent_for, driver_for
from bgpdoctor.engine.lb_services import cluster_evidence
from bgpdoctor.engine.subject import Subject
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
    "cilium-no-bind-capability",
    "unallocated-prefix-advertised",
    "max-prefix-exceeded",
)


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
    driver = driver_for(world.inv.hosts[node].speaker)
    if driver is None or driver.agent is None:
        return None  # the cluster configures only the daemons its agents run
    table_fact = driver.session_fact
    s = Subject("cluster", f"node/{node} speaker config", [node], [node])
    s.add("root_cause", f.root_cause)
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
    """The subject of one record of bgpdoctor.kube.cluster_intent; [] when nothing can be said.

    The record's kind (`family`; an unjudged record's id) says which facts it states; its
    `root_cause` is the one the playbooks gave those facts (engine/cluster.py judges them)."""
    kind = f.family or f.root_cause
    if kind == "stale-speaker-config" and f.evidence.get("speaker") == "metallb":
        return [_metallb_stale_subject(f, context)]
    if kind == "stale-speaker-config":
        s = _stale_subject(f, world)
        return [s] if s is not None else []
    if kind == "max-prefix-exceeded":
        return [_metallb_prefix_subject(f, context)]
    if kind == "mesh-vs-rr-transition":
        return [_mesh_subject(f, context)]
    if kind == "duplicate-lb-controller":
        return [_lb_subject(f, context)]
    if kind == "cilium-no-bind-capability":
        return [_bind_subject(f, context, world)]
    if kind == "unallocated-prefix-advertised":
        s = _prefix_subject(f, context, world)
        return [s] if s is not None else []
    return [_local_peer_subject(f, context)]


def _bind_subject(f: ClusterFinding, context: str | None, world: World | None) -> Subject:
    """cilium-no-bind-capability: the agent may not bind a port below 1024 it is given. The run's
    own listeners decide where they were read: a node seen listening on 179 binds it after all
    (its host lets unprivileged processes bind low ports, as Docker and kind do)."""
    ev = f.evidence
    node = str(ev.get("node"))
    ports = [p for p in ev.get("ports", []) if isinstance(p, dict)]
    s = Subject("cluster", f"{f.subject} (cilium-no-bind-capability)", [node], [node])
    s.add("root_cause", f.root_cause)
    s.add("host", node)
    s.add("cilium_low_ports", [f"{p.get('owner')} {p.get('field')} {p.get('port')}" for p in ports])
    s.add("cilium_port_patch", "\n".join(dict.fromkeys(str(p.get("patch")) for p in ports)))
    why = _unknown_of(ev)
    if why is not None:
        s.add("message", f.message)
        s.unknown("ok", why, cluster_evidence(f, context))
        s.unknown("cilium_no_bind_capability", why)
        return s
    added = [str(c) for c in ev.get("capabilities_add", [])]
    namespace, _, name = str(ev.get("daemonset")).partition("/")
    s.add("cilium_agent_daemonset", str(ev.get("daemonset")))
    s.add("cilium_agent_capabilities", [*added, "NET_BIND_SERVICE"])
    path = f"/spec/template/spec/containers/{ev.get('container_index', 0)}/securityContext/capabilities/add"
    op = (
        f'{{"op":"add","path":"{path}/-","value":"NET_BIND_SERVICE"}}'
        if added
        else f'{{"op":"add","path":"{path}","value":["NET_BIND_SERVICE"]}}'
    )
    s.add("cilium_daemonset_patch", f"kubectl -n {namespace} patch daemonset {name} --type json -p '[{op}]'")
    listen_179 = bool(ports) and all(p.get("use") == "listen" and p.get("port") == 179 for p in ports)
    listening = world.listening_179(node) if world is not None and node in world.facts else None
    config_ev = cluster_evidence(f, context)
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
    s.add("ok", False, *proof)
    s.add("cilium_no_bind_capability", True, *proof)
    return s


def _local_peer_subject(f: ClusterFinding, context: str | None) -> Subject:
    """speaker-collision and readiness-gated-on-peer: two speakers of one node meet at one peer."""
    ev = f.evidence
    node = str(ev.get("node"))
    kind = f.family or f.root_cause
    s = Subject("cluster", f"{f.subject} ({kind})", [node], [node])
    s.add("root_cause", f.root_cause)
    s.add("message", f.message)
    s.add("host", node)
    s.add("local_peer_address", str(ev.get("peer_address")))
    s.add("ok", False, cluster_evidence(f, context))
    if kind == "speaker-collision":
        s.add("speaker_collision", True, cluster_evidence(f, context))
        s.add("colliding_speakers", [str(x) for x in ev.get("speakers", [])])
        s.add("metallb_peer", str(ev.get("metallb_peer")))
        s.add("calico_lb_cidrs", [str(x) for x in ev.get("lb_cidrs", [])])
    else:
        s.add("readiness_gated_on_peer", True, cluster_evidence(f, context))
        s.add("calico_bgp_peer", str(ev.get("bgp_peer")))
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
    """unallocated-prefix-advertised: the prefixes the node's GoBGP originates (no neighbor: its own)
    against its IPAM allocation, the LoadBalancer pools and the Service IPs. A node the run did not
    read makes no subject; a RIB that could not be read makes the fact unknown."""
    ev = f.evidence
    node = str(ev.get("node"))
    if world is None or node not in world.facts or node not in world.inv.hosts:
        return None
    driver = driver_for(world.inv.hosts[node].speaker)
    if driver is None or driver.agent is not CILIUM or driver.rib_fact is None:
        return None  # the prefixes Cilium's agent originates
    rib_fact = driver.rib_fact
    allocations = [str(c) for c in ev.get("allocations", [])]
    s = Subject("cluster", f"node/{node} announced prefixes", [node], [node])
    s.add("root_cause", f.root_cause)
    s.add("host", node)
    s.add("pod_cidr", ", ".join(allocations))
    s.add("pod_cidr_source", str(ev.get("allocation_source")))
    s.add("ipam_mode", str(ev.get("ipam_mode")))
    labels = dict(ev.get("advertisement_labels") or {}) or {"advertise": "bgp"}
    key, value = next(iter(labels.items()))
    s.add("advertisement_label_key", str(key))
    s.add("advertisement_label_value", str(value))
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
    """max-prefix-exceeded seen by MetalLB's native speaker: the peer's NOTIFICATION Cease 6/1 in
    the speaker's log, the enforcing end being the peer (often a provider's router outside the run)."""
    ev = f.evidence
    node = str(ev.get("node"))
    s = Subject("cluster", f"node/{node} MetalLB session to {ev.get('peer_address')}", [node], [node])
    log = _metallb_log_evidence(f, [str(x) for x in ev.get("log_lines", [])], "the speaker's session log")
    s.add("root_cause", f.root_cause)
    s.add("message", f.message)
    s.add("host", node)
    s.add("ok", False, log, cluster_evidence(f, context))
    s.add("max_prefix_hit", True, log)
    s.add("max_prefix_end", str(ev.get("peer_address")))
    s.add("max_prefix_sender", node)
    s.add("max_prefix_reported_by", f"{node} (MetalLB speaker log)")
    s.add("max_prefix_daemon", "unknown")
    s.add("max_prefix_sender_address", str(ev.get("node_address") or node))
    if ev.get("peer_asn"):
        s.add("max_prefix_end_asn", int(ev["peer_asn"]))
    return s


def _metallb_stale_subject(f: ClusterFinding, context: str | None) -> Subject:
    """stale-speaker-config for MetalLB's speaker: its log and ServiceBGPStatus against its BGPPeers."""
    ev = f.evidence
    node = str(ev.get("node"))
    pod = str(ev.get("speaker_pod") or "")
    namespace = pod.partition("/")[0] or "metallb-system"
    s = Subject("cluster", f"node/{node} MetalLB speaker config", [node], [node])
    s.add("root_cause", f.root_cause)
    s.add("message", f.message)
    s.add("host", node)
    s.add("node_speaker", "metallb")
    s.add("agent_namespace", namespace)
    s.add(
        "restart_agent",
        f"kubectl -n {namespace} delete pod -l component=speaker --field-selector spec.nodeName={node}",
    )
    s.add("stale_neighbors", [str(x) for x in ev.get("stale", [])])
    s.add("ok", False, cluster_evidence(f, context))
    s.add("speaker_config_stale", True, cluster_evidence(f, context))
    return s
