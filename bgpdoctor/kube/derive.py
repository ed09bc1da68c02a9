"""Pure functions from a ClusterView to per-node BGP facts and to findings.

``node_bgp(view)`` answers, per node: which BGP config selects it, its ASN, its peers (address,
ASN, multihop, which ClusterConfig/BGPPeer they come from, what is advertised to them, the session
state the cluster reports), its pod CIDRs. ``kube_findings(view)`` states, as facts named in
bgpdoctor.engine.facts, what departs from a working design: a node no BGP configuration selects, one
selected without peers, one whose pod CIDR no peer is sent (native routing only), a LoadBalancer pool
inside a node subnet, autoDirectNodeRoutes across subnets. It names no root cause: the playbooks
judge these facts (bgpdoctor.engine.cluster), as they judge a live run's. The service records
(bgpdoctor.kube.services) and the metrics APIService follow.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bgpdoctor.kube.selectors import LabelSelector, SelectorError, calico_selector_matches
from bgpdoctor.kube.services import ServiceFinding, ServiceState, service_findings, state_from_view
from bgpdoctor.kube.view import CalicoView, CiliumPeerConfig, CiliumView, ClusterView, KubeNode, LbPool

__all__ = [
    "NODE_BGP",
    "AdvertisementFact",
    "DerivedPeer",
    "KubeFacts",
    "KubeFinding",
    "LbPoolOverlap",
    "NodeBgp",
    "advertisement_facts",
    "kube_findings",
    "lb_pool_overlaps",
    "node_bgp",
    "node_subnets",
    "selector_label",
]

CALICO_ASN_ANNOTATION = "projectcalico.org/ASNumber"
CALICO_IPV4_ANNOTATION = "projectcalico.org/IPv4Address"
ASSUMED_PREFIXLEN = 24
NODE_BGP = "node-bgp"  # the family of a node's BGP records (dropped when Calico runs no BGP)


@dataclass
class KubeFinding:
    """A configuration-level finding. Example: KubeFinding(root_cause="node-not-selected",
    subject="node/yuuko-k8s", message="...", evidence={"labels": {...}, "configs": [...]})"""

    root_cause: str
    subject: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class KubeFacts:
    """Facts the cluster's configuration states about one subject (a node, a pool, cilium-config),
    named as in bgpdoctor.engine.facts; the playbooks decide what they mean.

    Example: KubeFacts(subject="node/yuuko-k8s", message="node yuuko-k8s is selected by no ...",
    facts={"unselected_nodes": ["yuuko-k8s"], "node_selectors": "bgp-remote: node-type=remote",
    "selector_label": "node-type=remote"}, evidence={"labels": {...}, "node_selectors": {...}},
    hosts=["yuuko-k8s"], related=["yuuko-k8s"], family="node-bgp")
    """

    subject: str
    message: str
    facts: dict[str, Any]
    evidence: dict[str, Any] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    family: str = ""


@dataclass
class DerivedPeer:
    """One BGP neighbor of a node as the cluster configures it.

    Example: DerivedPeer(address="192.168.6.1", asn=64513, multihop=None, name="router-mine",
    source="CiliumBGPClusterConfig/bgp-local", peer_config="l3-bgp-peer-config",
    advertises=["PodCIDR"], state="established", peer_node=None, problems=[])
    """

    address: str | None
    asn: int | None
    multihop: int | None
    name: str
    source: str
    peer_config: str | None = None
    advertises: list[str] = field(default_factory=list)
    state: str | None = None
    peer_node: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class NodeBgp:
    """The BGP intent for one node. speaker: gobgp (Cilium), bird1 (Calico) or none.

    Example: NodeBgp(node="sakamoto", internal_ip="192.168.6.80", speaker="gobgp", asn=64514,
    router_id=None, pod_cidrs=["10.42.0.0/24"], selected_by=["CiliumBGPClusterConfig/bgp-local"],
    peers=[DerivedPeer(...)], advertises_pod_cidr=True, listens=False, ready=True)
    """

    node: str
    internal_ip: str | None
    speaker: str
    asn: int | None
    router_id: str | None
    pod_cidrs: list[str]
    selected_by: list[str]
    peers: list[DerivedPeer]
    advertises_pod_cidr: bool | None
    listens: bool | None
    ready: bool | None


@dataclass
class AdvertisementFact:
    """One advertisement and what it reaches.

    Example: AdvertisementFact(name="bgp-advertisements", type="PodCIDR", used_by=["l3-bgp-peer-config"],
    selects_services=None)
    """

    name: str
    type: str
    used_by: list[str]
    selects_services: list[str] | None  # for Service adverts: "ns/name" of LB services selected


@dataclass
class LbPoolOverlap:
    pool: str
    block: str
    subnet: str
    nodes: list[str]
    subnet_assumed: bool


def _pool_networks(pool: LbPool) -> list[tuple[str, list[ipaddress.IPv4Network]]]:
    out: list[tuple[str, list[ipaddress.IPv4Network]]] = []
    for b in pool.blocks:
        try:
            if b.cidr:
                net = ipaddress.ip_network(b.cidr, strict=False)
                if isinstance(net, ipaddress.IPv4Network):
                    out.append((b.cidr, [net]))
            elif b.start:
                start = ipaddress.ip_address(b.start)
                stop = ipaddress.ip_address(b.stop or b.start)
                if isinstance(start, ipaddress.IPv4Address) and isinstance(stop, ipaddress.IPv4Address):
                    out.append((f"{start}-{stop}", list(ipaddress.summarize_address_range(start, stop))))
        except ValueError:
            continue
    return out


def node_subnets(
    view: ClusterView, known: Mapping[str, str] | None = None
) -> dict[str, tuple[ipaddress.IPv4Network, bool]]:
    """Each node's L3 subnet and whether it is assumed.

    Taken from ``known`` (node -> CIDR, e.g. from inventory sites), else Calico's
    ``projectcalico.org/IPv4Address`` annotation (it carries the mask), else the /24 around the
    InternalIP (assumed=True). Example: {"sakamoto": (IPv4Network("192.168.6.0/24"), True)}
    """
    out: dict[str, tuple[ipaddress.IPv4Network, bool]] = {}
    for node in view.nodes:
        try:
            if known and node.name in known:
                out[node.name] = (ipaddress.IPv4Network(known[node.name], strict=False), False)
            elif "/" in node.annotations.get(CALICO_IPV4_ANNOTATION, ""):
                out[node.name] = (
                    ipaddress.IPv4Network(node.annotations[CALICO_IPV4_ANNOTATION], strict=False),
                    False,
                )
            elif node.internal_ip:
                out[node.name] = (
                    ipaddress.IPv4Network(f"{node.internal_ip}/{ASSUMED_PREFIXLEN}", strict=False),
                    True,
                )
        except ValueError:
            continue
    return out


# --- Cilium ----------------------------------------------------------------------------------


def _advertised_types(cilium: CiliumView, pc: CiliumPeerConfig | None) -> list[str]:
    if pc is None:
        return []
    types: list[str] = []
    for fam in pc.families:
        if fam.advertisements is None:
            continue
        for adv in cilium.advertisements:
            if fam.advertisements.matches(adv.labels):
                types += [i.type for i in adv.items if i.type not in types]
    return types


def _cilium_node(view: ClusterView, cilium: CiliumView, node: KubeNode) -> NodeBgp:
    selected: list[str] = []
    peers: list[DerivedPeer] = []
    asn: int | None = None
    router_id: str | None = None
    override = cilium.node_overrides.get(node.name)
    status = cilium.node_configs.get(node.name)
    for cc in cilium.cluster_configs:
        sel = cc.node_selector if cc.node_selector is not None else LabelSelector()
        if not sel.matches(node.labels):
            continue
        selected.append(f"CiliumBGPClusterConfig/{cc.name}")
        for inst in cc.instances:
            inst_asn = (override.local_asns.get(inst.name) if override else None) or inst.local_asn
            asn = asn or inst_asn
            router_id = router_id or (override.router_ids.get(inst.name) if override else None)
            for p in inst.peers:
                pc = cilium.peer_configs.get(p.peer_config) if p.peer_config else None
                problems = []
                if p.peer_config and pc is None:
                    problems.append(f"peerConfigRef {p.peer_config!r} names no CiliumBGPPeerConfig")
                state = None
                if status is not None:
                    state = next(
                        (
                            s.state
                            for s in status.peer_states
                            if (s.instance == inst.name and s.name == p.name)
                            or (p.address and s.address == p.address)
                        ),
                        None,
                    )
                multihop = pc.ebgp_multihop if pc is not None and (pc.ebgp_multihop or 1) > 1 else None
                peers.append(
                    DerivedPeer(
                        address=p.address,
                        asn=p.asn,
                        multihop=multihop,
                        name=p.name,
                        source=f"CiliumBGPClusterConfig/{cc.name}",
                        peer_config=p.peer_config,
                        advertises=_advertised_types(cilium, pc),
                        state=state,
                        problems=problems,
                    )
                )
    for pol in cilium.peering_policies:
        sel = pol.node_selector if pol.node_selector is not None else LabelSelector()
        if not sel.matches(node.labels):
            continue
        tag = f"CiliumBGPPeeringPolicy/{pol.name}"
        if tag not in selected:
            selected.append(tag)
        asn = asn or pol.local_asn
        for n in pol.neighbors:
            adv = ["PodCIDR"] if pol.export_pod_cidr else []
            for t in n.advertises:
                t = "Service" if t == "CiliumLoadBalancerIPPool" else t
                if t not in adv:
                    adv.append(t)
            if pol.service_selector is not None and "Service" not in adv:
                adv.append("Service")
            peers.append(
                DerivedPeer(
                    address=n.address,
                    asn=n.asn,
                    multihop=n.multihop if (n.multihop or 1) > 1 else None,
                    name=n.address,
                    source=tag,
                    advertises=adv,
                )
            )
    return NodeBgp(
        node=node.name,
        internal_ip=node.internal_ip,
        speaker="gobgp",
        asn=asn,
        router_id=router_id,
        pod_cidrs=list(node.pod_cidrs),
        selected_by=selected,
        peers=peers,
        advertises_pod_cidr=any("PodCIDR" in p.advertises for p in peers) if peers else None,
        listens=False,  # Cilium's embedded GoBGP only dials out (no listener on 179)
        ready=node.ready,
    )


# --- Calico ----------------------------------------------------------------------------------


def _calico_asn(calico: CalicoView, node: KubeNode) -> int:
    value = node.annotations.get(CALICO_ASN_ANNOTATION, "")
    return int(value) if value.isdigit() else calico.default_asn


def _calico_ip(node: KubeNode) -> str | None:
    value = node.annotations.get(CALICO_IPV4_ANNOTATION, "")
    return value.split("/")[0] if value else node.internal_ip


def _matches(selector: str | None, labels: Mapping[str, str]) -> bool | None:
    if not selector:
        return None
    try:
        return calico_selector_matches(selector, labels)
    except SelectorError:
        return None


def _calico_node(view: ClusterView, calico: CalicoView, node: KubeNode) -> NodeBgp:
    asn = _calico_asn(calico, node)
    selected: list[str] = []
    peers: list[DerivedPeer] = []
    status = next((s for s in calico.node_statuses if (s.node or s.name) == node.name), None)

    def state_of(address: str | None) -> str | None:
        if status is None or address is None:
            return None
        return next((p.get("state") for p in status.peers if p.get("peerIP") == address), None)

    for bp in calico.peers:
        problems: list[str] = []
        if bp.node:
            applies = bp.node == node.name
        elif bp.node_selector:
            m = _matches(bp.node_selector, node.labels)
            if m is None:
                problems.append(f"nodeSelector {bp.node_selector!r} does not parse")
            applies = bool(m)
        else:
            applies = True  # a global peer
        if not applies:
            continue
        selected.append(f"BGPPeer/{bp.name}")
        if bp.peer_ip:
            address = bp.peer_ip.rsplit(":", 1)[0] if bp.peer_ip.count(":") == 1 else bp.peer_ip
            peers.append(
                DerivedPeer(
                    address=address,
                    asn=bp.asn or asn,
                    multihop=None,
                    name=bp.name,
                    source=f"BGPPeer/{bp.name}",
                    advertises=["PodCIDR"],
                    state=state_of(address),
                    problems=problems,
                )
            )
        if bp.peer_selector:
            for other in view.nodes:
                if other.name != node.name and _matches(bp.peer_selector, other.labels):
                    ip = _calico_ip(other)
                    peers.append(
                        DerivedPeer(
                            address=ip,
                            asn=_calico_asn(calico, other),
                            multihop=None,
                            name=bp.name,
                            source=f"BGPPeer/{bp.name}",
                            advertises=["PodCIDR"],
                            state=state_of(ip),
                            peer_node=other.name,
                        )
                    )
    if calico.mesh_enabled:
        selected.append("node-to-node mesh")
        for other in view.nodes:
            ip = _calico_ip(other)
            if other.name == node.name or ip is None or any(p.address == ip for p in peers):
                continue
            peers.append(
                DerivedPeer(
                    address=ip,
                    asn=_calico_asn(calico, other),
                    multihop=None,
                    name="Mesh_" + ip.replace(".", "_"),
                    source="node-to-node mesh",
                    advertises=["PodCIDR"],
                    state=state_of(ip),
                    peer_node=other.name,
                )
            )
    pools = [p for p in calico.ippools if not p.disabled]
    exported = any(not p.disable_bgp_export for p in pools) if pools else None
    if not exported:
        for p in peers:
            p.advertises = [t for t in p.advertises if t != "PodCIDR"]
    return NodeBgp(
        node=node.name,
        internal_ip=node.internal_ip,
        speaker="bird1",
        asn=asn,
        router_id=_calico_ip(node),
        pod_cidrs=list(node.pod_cidrs),
        selected_by=selected,
        peers=peers,
        advertises_pod_cidr=(exported if peers else None),
        listens=True,
        ready=node.ready,
    )


def node_bgp(view: ClusterView) -> list[NodeBgp]:
    """The BGP intent of every node, in node order (see NodeBgp for the shape)."""
    out = []
    for node in view.nodes:
        if view.cilium is not None:
            out.append(_cilium_node(view, view.cilium, node))
        elif view.calico is not None:
            out.append(_calico_node(view, view.calico, node))
        else:
            out.append(
                NodeBgp(
                    node.name,
                    node.internal_ip,
                    "none",
                    None,
                    None,
                    list(node.pod_cidrs),
                    [],
                    [],
                    None,
                    None,
                    node.ready,
                )
            )
    return out


def advertisement_facts(view: ClusterView) -> list[AdvertisementFact]:
    """Every CiliumBGPAdvertisement item: which peer configs pick it up, which LB services it selects.

    A Service advertisement without a selector selects no service (Cilium's documented way to
    select all is a NotIn on a dummy value). Example: [AdvertisementFact(name="lb", type="Service",
    used_by=["l3-bgp-peer-config"], selects_services=["default/web"])]
    """
    cilium = view.cilium
    if cilium is None:
        return []
    out = []
    for adv in cilium.advertisements:
        used_by = [
            pc.name
            for pc in cilium.peer_configs.values()
            if any(f.advertisements is not None and f.advertisements.matches(adv.labels) for f in pc.families)
        ]
        for item in adv.items:
            selects: list[str] | None = None
            if item.type == "Service":
                selects = []
                if item.selector is not None and "LoadBalancerIP" in item.service_addresses:
                    selects = [
                        f"{s.namespace}/{s.name}"
                        for s in view.lb_services
                        if item.selector.matches(s.selector_labels())
                    ]
            out.append(AdvertisementFact(adv.name, item.type, used_by, selects))
    return out


def lb_pool_overlaps(
    view: ClusterView, known_subnets: Mapping[str, str] | None = None
) -> list[LbPoolOverlap]:
    """LoadBalancer pools (Cilium LB-IPAM, Calico serviceLoadBalancerIPs) that overlap a node subnet.

    Example: [LbPoolOverlap(pool="CiliumLoadBalancerIPPool/lb", block="10.0.4.200-10.0.4.250",
    subnet="10.0.4.0/24", nodes=["master-01", "node-01"], subnet_assumed=True)]
    """
    subnets = node_subnets(view, known_subnets)
    by_subnet: dict[ipaddress.IPv4Network, tuple[list[str], bool]] = {}
    for name, (net, assumed) in subnets.items():
        entry = by_subnet.setdefault(net, ([], assumed))
        entry[0].append(name)
    pools: list[tuple[str, str, list[ipaddress.IPv4Network]]] = []
    if view.cilium is not None:
        for pool in view.cilium.lb_pools:
            if not pool.disabled:
                pools += [
                    (f"CiliumLoadBalancerIPPool/{pool.name}", b, nets) for b, nets in _pool_networks(pool)
                ]
    if view.calico is not None:
        for cfg in view.calico.configurations.values():
            for cidr in cfg.service_lb_cidrs:
                try:
                    pools.append(
                        (f"BGPConfiguration/{cfg.name}", cidr, [ipaddress.IPv4Network(cidr, strict=False)])
                    )
                except ValueError:
                    continue
    out = []
    for pool_name, block, nets in pools:
        for subnet, (nodes, assumed) in by_subnet.items():
            if any(n.overlaps(subnet) for n in nets):
                out.append(LbPoolOverlap(pool_name, block, str(subnet), sorted(nodes), assumed))
    return out


def _subject(node: str) -> str:
    return f"node/{node}"


_LABEL = re.compile(r"([\w./-]+)=([\w.-]+)|([\w./-]+) in \(([\w.-]+)")


def selector_label(selectors: Mapping[str, str]) -> str | None:
    """A label that one of the selectors would match, e.g. "node-type=remote"."""
    for text in selectors.values():
        for part in text.split(","):
            m = _LABEL.fullmatch(part.strip())
            if m:
                return f"{m.group(1)}={m.group(2)}" if m.group(1) else f"{m.group(3)}={m.group(4)}"
    return None


def _unselected(node: str, selectors: dict[str, str], message: str, evidence: dict[str, Any]) -> KubeFacts:
    facts: dict[str, Any] = {
        "unselected_nodes": [node],
        "node_selectors": "; ".join(f"{k}: {v}" for k, v in selectors.items()),
    }
    if label := selector_label(selectors):
        facts["selector_label"] = label
    return KubeFacts(_subject(node), message, facts, evidence, hosts=[node], related=[node], family=NODE_BGP)


def _node_facts(view: ClusterView, nb: NodeBgp, bgp_in_use: bool, tunnel: bool) -> KubeFacts | None:
    """What the cluster's BGP configuration says of one node, when it departs from a working design."""
    cilium, calico = view.cilium, view.calico
    node = view.node(nb.node)
    labels = node.labels if node else {}
    if cilium is not None and bgp_in_use and not nb.selected_by:
        configs = {
            cc.name: cc.node_selector.describe() if cc.node_selector else "<all>"
            for cc in cilium.cluster_configs
        }
        configs.update(
            {
                f"policy:{p.name}": p.node_selector.describe() if p.node_selector else "<all>"
                for p in cilium.peering_policies
            }
        )
        why = "no CiliumBGPClusterConfig exists" if not configs else "no nodeSelector matches its labels"
        return _unselected(
            nb.node,
            configs,
            f"node {nb.node} is selected by no Cilium BGP config ({why}), "
            "so it runs no BGP and its pod CIDR is never announced",
            {"labels": labels, "node_selectors": configs},
        )
    if calico is not None and not nb.peers and any(p.node or p.node_selector for p in calico.peers):
        return _unselected(
            nb.node,
            {},
            f"node {nb.node} has no BGP peer: the node-to-node mesh is off "
            "and no BGPPeer's node or nodeSelector selects it",
            {
                "labels": labels,
                "bgp_peers": {p.name: p.node_selector or f"node == {p.node}" for p in calico.peers},
            },
        )
    if not ((cilium is not None and bgp_in_use) or calico is not None):
        return None
    if not nb.peers:
        return KubeFacts(
            _subject(nb.node),
            f"node {nb.node} is selected ({', '.join(nb.selected_by) or 'mesh off'}) but has no BGP peers",
            {"host": nb.node, "bgp_peer_count": 0, "selected_by": list(nb.selected_by)},
            {"selected_by": nb.selected_by},
            hosts=[nb.node],
            related=[nb.node],
            family=NODE_BGP,
        )
    # a tunnel carries the pod CIDRs: whether they must be announced follows from the routing design
    if nb.advertises_pod_cidr is not False or tunnel:
        return None
    evidence: dict[str, Any] = {
        "pod_cidrs": nb.pod_cidrs,
        "peers": [
            {
                "name": p.name,
                "address": p.address,
                "peer_config": p.peer_config,
                "advertises": p.advertises,
                "problems": p.problems,
            }
            for p in nb.peers
        ],
    }
    if cilium is not None:
        evidence["podcidr_advertisements"] = [
            a.name for a in cilium.advertisements if any(i.type == "PodCIDR" for i in a.items)
        ]
        msg = (
            f"no peer of node {nb.node} is sent a PodCIDR advertisement (no "
            "CiliumBGPAdvertisement of type PodCIDR is selected by the peers' "
            "CiliumBGPPeerConfig families)"
        )
    else:
        msg = f"every Calico IPPool has disableBGPExport, so node {nb.node}'s pod blocks are never announced"
    return KubeFacts(
        _subject(nb.node),
        msg,
        {"host": nb.node, "advertises_pod_cidrs": False},
        evidence,
        hosts=[nb.node],
        related=[nb.node],
        family=NODE_BGP,
    )


def _direct_routes_facts(view: ClusterView, known_subnets: Mapping[str, str] | None) -> KubeFacts | None:
    cilium = view.cilium
    if cilium is None or cilium.config is None or not cilium.config.auto_direct_node_routes:
        return None
    if cilium.config.routing_mode == "tunnel":
        return None
    groups: dict[str, list[str]] = {}
    assumed = False
    for name, (net, was_assumed) in sorted(node_subnets(view, known_subnets).items()):
        groups.setdefault(str(net), []).append(name)
        assumed = assumed or was_assumed
    if len(groups) < 2:
        return None
    ordered = sorted(groups.values(), key=len, reverse=True)
    return KubeFacts(
        "configmap/kube-system/cilium-config",
        f"auto-direct-node-routes is true but the nodes sit in {len(groups)} different "
        "subnets; direct routes only work between nodes on one L2 segment, so pods on "
        "other subnets are unreachable",
        {
            "auto_direct_routes_across_l3": True,
            "local_nodes": ordered[0],
            "remote_nodes": [n for g in ordered[1:] for n in g],
        },
        {"routing_mode": cilium.config.routing_mode, "subnets": groups, "subnets_assumed": assumed},
        hosts=[n for g in ordered for n in g],
    )


def kube_findings(
    view: ClusterView,
    known_subnets: Mapping[str, str] | None = None,
    services: ServiceState | None = None,
) -> list[KubeFacts | KubeFinding | ServiceFinding]:
    """What the cluster's configuration states, most basic first: facts on nodes, pools and the
    cilium-config (the playbooks name the root cause), then the service records.

    Example: [KubeFacts(subject="configmap/kube-system/cilium-config",
    message="auto-direct-node-routes is true but the nodes sit in 2 subnets ...",
    facts={"auto_direct_routes_across_l3": True, "local_nodes": [...], "remote_nodes": [...]}, ...)]
    """
    findings: list[KubeFacts | KubeFinding | ServiceFinding] = []
    cilium = view.cilium
    bgp_in_use = False
    if cilium is not None:
        bgp_in_use = bool(cilium.cluster_configs or cilium.peering_policies) or bool(
            cilium.config and cilium.config.bgp_control_plane
        )
    tunnel = bool(cilium and cilium.config and cilium.config.routing_mode == "tunnel")
    for nb in node_bgp(view):
        if (record := _node_facts(view, nb, bgp_in_use, tunnel)) is not None:
            findings.append(record)

    findings += service_findings(view, services if services is not None else state_from_view(view))

    for ov in lb_pool_overlaps(view, known_subnets):
        findings.append(
            KubeFacts(
                ov.pool.lower(),
                f"LoadBalancer pool {ov.pool} block {ov.block} lies inside the node subnet {ov.subnet}"
                f"{' (assumed /24 around the InternalIPs)' if ov.subnet_assumed else ''}: the upstream "
                "router already has that subnet as connected and will ARP for the VIPs instead of "
                "using the BGP routes",
                {"lb_pool_name": ov.pool, "lb_pool_cidr": ov.block, "lb_pool_overlaps": [ov.subnet]},
                vars(ov),
            )
        )

    if (record := _direct_routes_facts(view, known_subnets)) is not None:
        findings.append(record)

    if view.metrics is not None and view.metrics.available is False:
        findings.append(
            KubeFinding(
                "kubelet-unreachable",
                f"apiservice/{view.metrics.name}",
                f"APIService {view.metrics.name} is not Available ({view.metrics.reason}): "
                "metrics-server cannot scrape some kubelets, so `kubectl top node` fails",
                {"reason": view.metrics.reason, "message": view.metrics.message},
            )
        )
    return findings
