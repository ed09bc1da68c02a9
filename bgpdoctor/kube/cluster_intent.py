"""What the cluster intends its BGP speakers and LoadBalancer controllers to do, compared with itself.

Facts read from the API alone (KubeFacts, named as in bgpdoctor.engine.facts; the playbooks decide
which root cause they show, engine/cluster.py):

- ``mesh_with_reflectors``: Calico's node-to-node mesh is on (the default BGPConfiguration says
  so, or none states it) while route reflectors are configured: nodes with a
  ``projectcalico.org/RouteReflectorClusterID`` or BGPPeers that select nodes by ``peerSelector``
  (calico#1939, calico#3819). Mesh and reflector sessions then run to the same addresses.
- ``lb_controller_conflict``: a LoadBalancer Service without ``loadBalancerClass`` that two
  controllers claim: K3s servicelb (its ``svclb-*`` DaemonSets), MetalLB (its controller and an
  IPAddressPool) and Cilium LB-IPAM (a CiliumLoadBalancerIPPool whose serviceSelector matches). They
  rewrite ``status.loadBalancer.ingress`` in turn (k3s#269).
- ``speaker_collision``: MetalLB and the CNI's speaker on one node both peer with one router
  address (metallb#114); ``readiness_gated_on_peer``: a Calico BGPPeer to 127.0.0.1 or the node's
  own address, which calico-node's ``-bird-ready`` waits for (calico#2620).
- ``unselected_nodes`` when every node MetalLB peers from carries
  ``node.kubernetes.io/exclude-from-external-load-balancers`` (cozystack#4043), and
  ``node_ip_suspect`` per node while metrics-server is not Available and the node's InternalIP
  is an overlay address (100.64.0.0/10), off the nodes' subnet, or shared with another node: a
  fact about the Node object, never a verdict on its kubelet (only a probe of it decides that).
- Calico's operator turning BGP off (``Installation spec.calicoNetwork.bgp: Disabled``, calico#6697):
  ``disable_calico_bgp`` then expects no speaker on the nodes and drops the records about BGP.

And one record the daemons decide (``evidence["verify"] == "daemon-neighbors"``): the peers each
node's speaker should run, compared by engine/cluster_intent.py with the neighbor table the run
read from the daemon (``speaker_config_stale``).

``read_intent_objects(kc, raw)`` adds DaemonSets, Deployments and Calico's operator Installation to
a RawCluster, pruned to names, labels, images and ``spec.calicoNetwork.bgp``; a 403 leaves the key
out of ``raw.objects`` with the refusal in ``raw.problems``, so what depends on it is unknown.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bgpdoctor.drivers import CALICO, agent_for
from bgpdoctor.intent import address_text
from bgpdoctor.kube.cilium_agent import bind_capability_findings
from bgpdoctor.kube.config import KubeClient
from bgpdoctor.kube.derive import NODE_BGP, KubeFacts, node_bgp
from bgpdoctor.kube.families import CALICO_MESH, CONFIGURED_NEIGHBORS, KUBELET_ADDRESS, LB_CLAIMS, LOCAL_PEER
from bgpdoctor.kube.ipam import announcement_checks
from bgpdoctor.kube.metallb import metallb_findings
from bgpdoctor.kube.selectors import SelectorError, calico_selector_matches
from bgpdoctor.kube.services import service_state
from bgpdoctor.kube.view import CalicoPeer, ClusterView, KubeNode, RawCluster
from bgpdoctor.redact import redact, redact_object

__all__ = [
    "CALICO_BGP_FAMILIES",
    "DAEMONSETS",
    "DEPLOYMENTS",
    "INSTALLATIONS",
    "RR_CLUSTER_ANNOTATION",
    "calico_bgp_disabled",
    "disable_calico_bgp",
    "intent_findings",
    "read_intent_objects",
    "route_reflectors",
    "without_calico_bgp",
]

DAEMONSETS = "apps/daemonsets"
DEPLOYMENTS = "apps/deployments"
INSTALLATIONS = "operator.tigera.io/installations"
RR_CLUSTER_ANNOTATION = "projectcalico.org/RouteReflectorClusterID"
SVCLB_NAME_LABEL = "svccontroller.k3s.cattle.io/svcname"
SVCLB_NAMESPACE_LABEL = "svccontroller.k3s.cattle.io/svcnamespace"
METALLB_POOLS = "metallb.io/ipaddresspools"
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
OVERLAY = ipaddress.IPv4Network("100.64.0.0/10")  # CGNAT space: Tailscale, other overlays
Obj = Mapping[str, Any]
# what the cluster says about BGP on Calico's nodes; moot when Calico runs no BGP at all
CALICO_BGP_FAMILIES = (CALICO_MESH, CONFIGURED_NEIGHBORS, LOCAL_PEER)

if TYPE_CHECKING:
    from bgpdoctor.kube.discover import Discovery


# --- reading ---------------------------------------------------------------------------------


def _pruned(obj: Obj) -> dict[str, Any]:
    """The parts bgpdoctor reads: names, labels, container images, Calico's BGP switch."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    out: dict[str, Any] = {
        "metadata": {k: meta[k] for k in ("name", "namespace", "labels") if meta.get(k) is not None}
    }
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers")
    if isinstance(containers, list):
        out["spec"] = {
            "template": {
                "spec": {
                    "containers": [
                        {"name": c.get("name"), "image": c.get("image"), **_security(c)}
                        for c in containers
                        if isinstance(c, Mapping)
                    ]
                }
            }
        }
    network = spec.get("calicoNetwork")
    if isinstance(network, Mapping) and "bgp" in network:
        out["spec"] = {"calicoNetwork": {"bgp": network.get("bgp")}}
    return out


def _security(container: Obj) -> dict[str, Any]:
    """A container's privileged flag and capabilities, the rest of its securityContext left out."""
    ctx = container.get("securityContext")
    if not isinstance(ctx, Mapping):
        return {}
    kept: dict[str, Any] = {}
    if ctx.get("privileged") is not None:
        kept["privileged"] = ctx.get("privileged")
    caps = ctx.get("capabilities")
    if isinstance(caps, Mapping):
        kept["capabilities"] = {k: caps[k] for k in ("add", "drop") if isinstance(caps.get(k), list)}
    return {"securityContext": kept} if kept else {}


def read_intent_objects(
    kc: KubeClient, raw: RawCluster, progress: Callable[[str], None] | None = None
) -> None:
    """Add DaemonSets and Deployments (apps/v1) and Installations (operator.tigera.io/v1) to `raw`.

    Example: raw.objects["apps/daemonsets"] -> [{"metadata": {"name": "svclb-web-4f1c2a9e",
    "namespace": "kube-system", "labels": {"svccontroller.k3s.cattle.io/svcname": "web", ...}},
    "spec": {"template": {"spec": {"containers": [{"name": "lb-tcp-80", "image": "..."}]}}}}]
    """
    from kubernetes import client

    from bgpdoctor.kube.reader import ResourceForbidden, ResourceNotFound, api_json

    (progress or (lambda _msg: None))(
        f"reading DaemonSets, Deployments and Calico's Installation from {kc.where}"
    )
    apps = client.AppsV1Api(kc.api)
    custom = client.CustomObjectsApi(kc.api)
    reads: list[tuple[str, str, str, Callable[..., Any], tuple[Any, ...]]] = [
        (DAEMONSETS, "apps/v1", "daemonsets.apps/v1", apps.list_daemon_set_for_all_namespaces, ()),
        (DEPLOYMENTS, "apps/v1", "deployments.apps/v1", apps.list_deployment_for_all_namespaces, ()),
        (
            INSTALLATIONS,
            "operator.tigera.io/v1",
            "installations.operator.tigera.io/v1",
            custom.list_cluster_custom_object,
            ("operator.tigera.io", "v1", "installations"),
        ),
    ]
    for key, version, what, fn, args in reads:
        try:
            body = api_json(kc, what, fn, *args)
        except ResourceNotFound:
            raw.resources[key] = None
            continue
        except ResourceForbidden as exc:
            raw.resources[key] = None
            raw.problems.append(redact(str(exc)))
            continue
        raw.resources[key] = version
        raw.objects[key] = redact_object([_pruned(o) for o in body.get("items") or []])


def _unread(raw: RawCluster | ClusterView, key: str, what: str) -> str | None:
    """Why `key` is unknown (refused, or never read), None when it was read or is not installed."""
    objects = getattr(raw, "objects", None)
    if objects is not None and key in objects:
        return None
    refused = [p for p in raw.problems if what in p]
    if refused:
        return refused[0]
    if key not in raw.resources:
        return f"{what} were not read"
    return None


# --- Calico's operator switch ----------------------------------------------------------------


def calico_bgp_disabled(raw: RawCluster) -> str | None:
    """The Installation that turns Calico's BGP off (``spec.calicoNetwork.bgp: Disabled``), or None.

    Example: -> "Installation default (spec.calicoNetwork.bgp: Disabled)"
    """
    for obj in raw.objects.get(INSTALLATIONS, []):
        network = (obj.get("spec") or {}).get("calicoNetwork") or {}
        if str(network.get("bgp") or "").lower() == "disabled":
            name = (obj.get("metadata") or {}).get("name", "default")
            return f"Installation {name} (spec.calicoNetwork.bgp: Disabled)"
    return None


def without_calico_bgp(findings: list[Any]) -> list[Any]:
    """The findings that still hold when Calico runs no BGP (none about its peers, mesh, speakers)."""
    return [
        f
        for f in findings
        if getattr(f, "family", "") != NODE_BGP
        and (
            getattr(f, "family", "") not in CALICO_BGP_FAMILIES
            or (f.evidence or {}).get("speaker") == "metallb"
        )
        and (f.evidence or {}).get("announcer") != "calico"
    ]


def disable_calico_bgp(discovery: Discovery, why: str) -> None:
    """Calico runs no BGP by design: no node expects a speaker or peers (so the speaker and the
    session checks stay silent), the routers found as peer addresses go, and so do the findings
    about Calico's BGP."""
    inv = discovery.inventory
    for name in discovery.routers:
        inv.hosts.pop(name, None)
    for host in inv.hosts.values():
        if host.role == "node" and agent_for(host.speaker) is CALICO:
            host.speaker = "none"
            host.peers = []
    discovery.routers = []
    discovery.findings = without_calico_bgp(discovery.findings)
    discovery.speaker_checks = []
    discovery.notes.append(f"Calico's BGP is off by design ({why}): no node is expected to run a BGP speaker")


# --- findings --------------------------------------------------------------------------------


def route_reflectors(
    nodes: Sequence[KubeNode], peers: Sequence[CalicoPeer]
) -> tuple[dict[str, str], list[CalicoPeer]]:
    """Calico's route-reflector design: the reflector nodes with their cluster id, and the BGPPeers
    that peer nodes with nodes by peerSelector.

    Example: -> ({"kubemaster": "244.0.0.1"}, [CalicoPeer(name="peer-with-route-reflectors", ...)])
    """
    reflectors = {
        n.name: n.annotations[RR_CLUSTER_ANNOTATION]
        for n in nodes
        if n.annotations.get(RR_CLUSTER_ANNOTATION)
    }
    return reflectors, [p for p in peers if p.peer_selector]


def _mesh_facts(reflectors: dict[str, str], rr_peers: list[str], asn: int | None) -> dict[str, Any]:
    return {
        "rr_nodes": sorted(reflectors),
        "rr_cluster_ids": sorted(set(reflectors.values())),
        "rr_peers": list(rr_peers),
        "calico_asn": int(asn or 64512),
    }


def _mesh_vs_rr(view: ClusterView) -> list[KubeFacts]:
    """The mesh switch next to route reflectors: `mesh_with_reflectors` true when both are on,
    unknown (None, the reason in evidence["unknown"]) when the BGPConfigurations were not read."""
    calico = view.calico
    if calico is None:
        return []
    reflectors, selecting = route_reflectors(view.nodes, calico.peers)
    rr_peers = [p.name for p in selecting]
    if not reflectors and not rr_peers:
        return []
    subject = "bgpconfiguration/default"
    base: dict[str, Any] = {"reflector_nodes": reflectors, "rr_peers": rr_peers}
    if "bgpconfigurations" not in view.resources or view.resources.get("bgpconfigurations") is None:
        refused = [p for p in view.problems if "bgpconfigurations" in p]
        reason = refused[0] if refused else "BGPConfigurations could not be read"
        return [
            KubeFacts(
                subject,
                "route reflectors are configured, but whether the node-to-node mesh is on is unknown: "
                f"{reason}",
                {**_mesh_facts(reflectors, rr_peers, None), "mesh_with_reflectors": None},
                {
                    **base,
                    "unknown": {
                        "kind": "permission-denied" if refused else "not-collected",
                        "reason": reason,
                    },
                },
                family=CALICO_MESH,
            )
        ]
    if not calico.mesh_enabled:
        return []
    cfg = calico.default_config
    stated = (
        "nodeToNodeMeshEnabled: true"
        if cfg is not None and cfg.node_to_node_mesh
        else (
            "nodeToNodeMeshEnabled unset, which means on"
            if cfg is not None
            else "no default BGPConfiguration, so the mesh is on"
        )
    )
    what = []
    if reflectors:
        what.append(
            f"nodes {', '.join(sorted(reflectors))} are route reflectors (routeReflectorClusterID "
            f"{', '.join(sorted(set(reflectors.values())))})"
        )
    if rr_peers:
        what.append(f"BGPPeers {', '.join(rr_peers)} peer nodes with each other by peerSelector")
    return [
        KubeFacts(
            subject,
            f"Calico's node-to-node mesh is still on ({stated}) while {' and '.join(what)}: every node "
            "runs mesh and reflector sessions to the same addresses, which collide and reset",
            {
                **_mesh_facts(reflectors, rr_peers, calico.default_asn),
                "mesh_with_reflectors": True,
                "calico_mesh": stated,
            },
            {**base, "mesh": stated, "calico_asn": calico.default_asn},
            hosts=sorted(reflectors),
            family=CALICO_MESH,
        )
    ]


def _images(obj: Obj) -> list[str]:
    containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    return [str(c.get("image") or "") for c in containers if isinstance(c, Mapping)]


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _duplicate_lb(view: ClusterView, raw: RawCluster) -> list[KubeFacts]:
    """Per class-less LoadBalancer Service: the controllers claiming it; `lb_controller_conflict`
    true with two or more, unknown (None) with one while another's objects were not read."""
    services = [s for s in view.lb_services if s.load_balancer_class is None]
    if not services:
        return []
    unknown: dict[str, str] = {}
    # servicelb: one svclb DaemonSet per Service it serves (its labels name the Service)
    svclb: dict[str, str] = {}
    why = _unread(raw, DAEMONSETS, "daemonsets")
    if why:
        unknown["servicelb"] = why
    for ds in raw.objects.get(DAEMONSETS, []):
        meta = _meta(ds)
        name = str(meta.get("name", ""))
        labels = meta.get("labels") or {}
        if not name.startswith("svclb-"):
            continue
        svc_name = labels.get(SVCLB_NAME_LABEL) or name.removeprefix("svclb-")
        svc_ns = labels.get(SVCLB_NAMESPACE_LABEL) or str(meta.get("namespace", "default"))
        svclb[f"{svc_ns}/{svc_name}"] = f"{meta.get('namespace', 'kube-system')}/{name}"
    # MetalLB: its controller assigns every class-less Service once a pool exists
    metallb: str | None = None
    why = _unread(raw, DEPLOYMENTS, "deployments")
    controller = next(
        (
            f"{_meta(d).get('namespace')}/{_meta(d).get('name')}"
            for d in raw.objects.get(DEPLOYMENTS, [])
            if any("metallb/controller" in i or "metallb-controller" in i for i in _images(d))
        ),
        None,
    )
    pools = raw.objects.get(METALLB_POOLS, [])
    if controller and pools:
        metallb = f"MetalLB (controller {controller}, IPAddressPool {_meta(pools[0]).get('name')})"
    elif why and pools:
        unknown["MetalLB"] = why
    # Cilium LB-IPAM: every pool whose serviceSelector matches (no selector: every Service)
    cilium_pools = [p for p in (view.cilium.lb_pools if view.cilium else []) if not p.disabled]
    out: list[KubeFacts] = []
    for svc in services:
        ref = f"{svc.namespace}/{svc.name}"
        claims: list[str] = []
        if ref in svclb:
            claims.append(f"K3s servicelb (DaemonSet {svclb[ref]})")
        if metallb:
            claims.append(metallb)
        matching = [
            p.name
            for p in cilium_pools
            if p.service_selector is None or p.service_selector.matches(svc.selector_labels())
        ]
        if matching:
            claims.append(f"Cilium LB-IPAM (CiliumLoadBalancerIPPool {', '.join(matching)})")
        base: dict[str, Any] = {
            "namespace": svc.namespace,
            "name": svc.name,
            "controllers": claims,
            "ingress_ips": svc.ingress_ips,
        }
        facts: dict[str, Any] = {
            "lb_service": ref,
            "lb_service_namespace": svc.namespace,
            "lb_service_name": svc.name,
            "lb_controllers": claims,
        }
        if len(claims) >= 2:
            out.append(
                KubeFacts(
                    f"service/{ref}",
                    f"Service {ref} (type LoadBalancer, no loadBalancerClass) is claimed by "
                    f"{' and '.join(claims)}: each rewrites its status.loadBalancer.ingress "
                    f"(now {', '.join(svc.ingress_ips) or 'none'}) in turn",
                    {**facts, "lb_controller_conflict": True},
                    base,
                    family=LB_CLAIMS,
                )
            )
        elif claims and unknown:
            reason = "; ".join(f"{who}: {w}" for who, w in unknown.items())
            out.append(
                KubeFacts(
                    f"service/{ref}",
                    f"Service {ref} is claimed by {claims[0]}; whether another controller claims it too "
                    f"is unknown: {reason}",
                    {**facts, "lb_controller_conflict": None},
                    {**base, "unknown": {"kind": "permission-denied", "reason": reason}},
                    family=LB_CLAIMS,
                )
            )
    return out


def _speaker_checks(view: ClusterView) -> list[KubeFacts]:
    """Per node, the neighbors its speaker should run (evidence "peers"): the daemon's own table
    states whether it runs them (engine/cluster_intent.py)."""
    mesh = view.calico.mesh_enabled if view.calico is not None else None
    out = []
    for nb in node_bgp(view):
        if agent_for(nb.speaker) is None:
            continue  # no speaker on the node
        peers = [
            {"address": address_text(p.address), "asn": p.asn, "name": p.name, "source": p.source}
            for p in nb.peers
            if p.address_v4 is not None
        ]
        out.append(
            KubeFacts(
                f"node/{nb.node}",
                f"node {nb.node}: the cluster configures {len(peers)} BGP neighbors: to be compared with "
                "the neighbors its daemon runs",
                {"host": nb.node, "node_speaker": nb.speaker},
                {
                    "verify": "daemon-neighbors",
                    "node": nb.node,
                    "speaker": nb.speaker,
                    "asn": nb.asn,
                    "peers": peers,
                    "calico_mesh": mesh,
                    "cni": view.cni,
                },
                hosts=[nb.node],
                related=[nb.node],
                family=CONFIGURED_NEIGHBORS,
            )
        )
    return out


def _metallb_excluded(view: ClusterView, raw: RawCluster) -> list[KubeFacts]:
    """MetalLB's speaker skips nodes labelled exclude-from-external-load-balancers (metallb PR#2280):
    a finding when that leaves none of the nodes its BGPPeers select (Talos control planes,
    cozystack#4043). Some labelled nodes among others are the label's purpose."""
    metallb = service_state(raw).metallb
    if metallb is None or not metallb.peers:
        return []
    peered = [
        n
        for n in view.nodes
        if any(
            not p.node_selectors or any(s.matches(n.labels) for s in p.node_selectors) for p in metallb.peers
        )
    ]
    if not peered or not all(EXCLUDE_LB_LABEL in n.labels for n in peered):
        return []
    selector = {"MetalLB speaker": f"!{EXCLUDE_LB_LABEL}"}
    return [
        KubeFacts(
            f"node/{n.name}",
            f"node {n.name} carries {EXCLUDE_LB_LABEL}, so MetalLB's speaker announces nothing from it, "
            "and no node MetalLB peers from is left: no LoadBalancer IP is announced",
            {
                "unselected_nodes": [n.name],
                "node_selectors": "; ".join(f"{k}: {v}" for k, v in selector.items()),
                "selector_label": f"{EXCLUDE_LB_LABEL}-",
            },
            {"labels": n.labels, "node_selectors": selector, "selector_label": f"{EXCLUDE_LB_LABEL}-"},
            hosts=[n.name],
            related=[n.name],
            family=NODE_BGP,
        )
        for n in peered
    ]


def _v4(text: str | None) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(text or "")
    except ValueError:
        return None


def _kubelet_addresses(view: ClusterView) -> list[KubeFacts]:
    """While metrics-server is not Available, the nodes whose InternalIP is not the address the
    cluster reaches them on: an overlay address (100.64.0.0/10, Tailscale: k0s#5189), an address
    outside the nodes' shared subnet while the node states one inside it, or the same address on
    several nodes (a NAT interface, metrics-server#1408)."""
    if view.metrics is None or view.metrics.available is not False:
        return []
    ips = {n.name: ip for n in view.nodes if (ip := _v4(n.internal_ip)) is not None}
    out = []
    for node in view.nodes:
        ip = ips.get(node.name)
        if ip is None:
            continue
        others = [v for k, v in ips.items() if k != node.name]
        stated = [a for a in (_v4(x) for x in node.addresses) if a is not None and a != ip]
        lans = {ipaddress.IPv4Network(f"{o}/24", strict=False) for o in others if o not in OVERLAY}
        inside = [a for a in stated if any(a in lan for lan in lans)]
        why = ""
        if ip in OVERLAY and (lans or [a for a in stated if a not in OVERLAY]):
            why = (
                f"its InternalIP {ip} is an overlay address (100.64.0.0/10, e.g. Tailscale) that node-IP "
                "autodetection picked"
            )
        elif lans and not any(ip in lan for lan in lans) and inside:
            why = (
                f"its InternalIP {ip} lies outside the nodes' subnet ({', '.join(sorted(map(str, lans)))}), "
                f"while it also has {', '.join(map(str, inside))} there: the kubelet registered the wrong NIC"
            )
        elif ip in others:
            why = f"its InternalIP {ip} is also another node's: the kubelet registered a NAT interface"
        if why:  # a fact about the Node object; whether its kubelet answers there only a probe tells
            out.append(
                KubeFacts(
                    f"node/{node.name}",
                    f"metrics-server is not Available and node {node.name}'s {why.removeprefix('its ')}: "
                    f"probe its kubelet at {ip}:10250 from metrics-server's vantage (`bgpdoctor run` with "
                    "vantage.metrics_server) before setting the kubelet's --node-ip",
                    {"host": node.name, "node_internal_ip": str(ip), "node_ip_suspect": why},
                    {"internal_ip": str(ip), "addresses": [str(a) for a in stated]},
                    hosts=[node.name],
                    related=[node.name],
                    family=KUBELET_ADDRESS,
                )
            )
    return out


def _colliding_speakers(view: ClusterView, raw: RawCluster) -> list[KubeFacts]:
    """MetalLB's speaker and the CNI's (Calico BIRD, Cilium GoBGP) on one node, both configured to
    peer with the same router address: both connect from the node's address to the same peer, so
    the router sees a connection collision and keeps one of them (metallb#114)."""
    metallb = service_state(raw).metallb
    if metallb is None or not metallb.peers:
        return []
    out = []
    for nb in node_bgp(view):
        node = view.node(nb.node)
        agent = agent_for(nb.speaker)
        if node is None or agent is None:
            continue
        cni_peers = {str(p.address): p for p in nb.peers if p.address}
        for mp in metallb.peers:
            if not mp.address or mp.address not in cni_peers:
                continue
            if mp.node_selectors and not any(s.matches(node.labels) for s in mp.node_selectors):
                continue
            other = cni_peers[mp.address]
            cni = agent.cni
            pools = [str(n) for p in metallb.pools for a in p.addresses for n in _networks(a)]
            out.append(
                KubeFacts(
                    f"node/{nb.node}",
                    f"node {nb.node} runs two BGP speakers that both peer with {mp.address}: MetalLB "
                    f"(BGPPeer {mp.name}) and {cni} ({other.source}); the router sees two connections from "
                    f"{node.internal_ip or nb.node} and keeps only one (connection collision, Cease 6/7)",
                    {
                        "host": nb.node,
                        "local_peer_address": mp.address,
                        "speaker_collision": True,
                        "colliding_speakers": [f"MetalLB BGPPeer {mp.name}", f"{cni} {other.source}"],
                        "metallb_peer": mp.name,
                        "calico_lb_cidrs": pools,
                    },
                    {
                        "node": nb.node,
                        "peer_address": mp.address,
                        "speakers": [f"MetalLB BGPPeer {mp.name}", f"{cni} {other.source}"],
                        "metallb_peer": mp.name,
                        "cni": cni.lower(),
                        "lb_cidrs": pools,
                    },
                    hosts=[nb.node],
                    related=[nb.node],
                    family=LOCAL_PEER,
                )
            )
    return out


def _networks(text: str) -> list[ipaddress.IPv4Network]:
    """A MetalLB pool entry ("10.0.6.0/28" or "10.0.6.1-10.0.6.9") as IPv4 networks; [] otherwise."""
    first, _, last = text.partition("-")
    try:
        if not last:
            return [ipaddress.IPv4Network(first.strip(), strict=False)]
        start, stop = ipaddress.IPv4Address(first.strip()), ipaddress.IPv4Address(last.strip())
        return list(ipaddress.summarize_address_range(start, stop))
    except ValueError:
        return []


def _readiness_on_local_peer(view: ClusterView) -> list[KubeFacts]:
    """A Calico BGPPeer to 127.0.0.1 or to the node's own address (a MetalLB speaker on the same
    node): calico-node's readiness (`-bird-ready`) waits for that session, and the local speaker
    cannot start before calico-node is ready (calico#2620)."""
    calico = view.calico
    if calico is None:
        return []
    out = []
    for bp in calico.peers:
        address = _v4(bp.peer_address)
        if address is None:
            continue
        for node in view.nodes:
            if bp.node and bp.node != node.name:
                continue
            if bp.node_selector and not _calico_selects(bp.node_selector, node.labels):
                continue
            own = [a for a in (_v4(x) for x in node.addresses) if a is not None]
            if not (address.is_loopback or address in own):
                continue
            out.append(
                KubeFacts(
                    f"node/{node.name}",
                    f"Calico BGPPeer {bp.name} makes node {node.name} peer with {address}, "
                    f"{'a loopback address' if address.is_loopback else 'its own address'}: calico-node's "
                    "readiness (-bird-ready) waits for that session, and the local speaker answering it "
                    "cannot start before calico-node is ready",
                    {
                        "host": node.name,
                        "local_peer_address": str(address),
                        "readiness_gated_on_peer": True,
                        "calico_bgp_peer": bp.name,
                    },
                    {"node": node.name, "peer_address": str(address), "bgp_peer": bp.name},
                    hosts=[node.name],
                    related=[node.name],
                    family=LOCAL_PEER,
                )
            )
    return out


def _calico_selects(selector: str, labels: Mapping[str, str]) -> bool:
    try:
        return calico_selector_matches(selector, labels)
    except SelectorError:
        return False


def intent_findings(view: ClusterView, raw: RawCluster) -> list[KubeFacts]:
    """Facts the cluster's intent states against itself: the mesh next to route reflectors, the
    LoadBalancer controllers of each Service, MetalLB nodes all excluded from load balancers, node
    addresses while metrics-server fails, speakers meeting at one peer, the Cilium agent's
    capabilities, then the records the daemons decide (see the module docstring). The playbooks
    name the root causes (engine/cluster.py)."""
    return [
        *_mesh_vs_rr(view),
        *_duplicate_lb(view, raw),
        *_metallb_excluded(view, raw),
        *_kubelet_addresses(view),
        *_colliding_speakers(view, raw),
        *_readiness_on_local_peer(view),
        *bind_capability_findings(view, raw),
        *announcement_checks(view, raw),
        *metallb_findings(view, raw),
        *_speaker_checks(view),
    ]
