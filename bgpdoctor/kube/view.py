"""The typed ClusterView and the pure functions that build it from raw API objects.

``RawCluster`` is what ``reader.read_cluster`` fetched (plain JSON dicts, camelCase, exactly as the
API server sent them, so a recording can be replayed); ``build_view(raw)`` turns it into dataclasses.
Every field rename and version difference is absorbed here: ``CiliumLoadBalancerIPPool.spec.cidrs``
(before cilium#32693) and ``spec.blocks``; Cilium ``v2`` and ``v2alpha1``; Calico ``projectcalico.org/v3``
and ``crd.projectcalico.org/v1``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bgpdoctor.kube.selectors import LabelSelector, parse_label_selector

__all__ = [
    "ApiServiceStatus",
    "CalicoBgpConfig",
    "CalicoIPPool",
    "CalicoNodeStatus",
    "CalicoPeer",
    "CalicoView",
    "CiliumAdvertItem",
    "CiliumAdvertisement",
    "CiliumBgpInstance",
    "CiliumClusterConfig",
    "CiliumConfig",
    "CiliumFamily",
    "CiliumNeighbor",
    "CiliumNodeConfig",
    "CiliumNodeOverride",
    "CiliumPeer",
    "CiliumPeerConfig",
    "CiliumPeerState",
    "CiliumPeeringPolicy",
    "CiliumView",
    "ClusterView",
    "KubeNode",
    "LbBlock",
    "LbPool",
    "LbService",
    "RawCluster",
    "build_view",
]

Obj = Mapping[str, Any]


@dataclass
class RawCluster:
    """Raw API objects by resource plural, plus which group/version served each.

    ``resources[plural]`` is ``"cilium.io/v2"`` etc., or None when the resource is not installed.
    Example: RawCluster(context="home", server="https://10.0.0.1:6443",
    resources={"nodes": "v1", "ciliumbgpclusterconfigs": "cilium.io/v2", "bgppeers": None},
    objects={"nodes": [{...}], "ciliumbgpclusterconfigs": [{...}]},
    cilium_config={"routing-mode": "native"}, metrics_apiservice={...})
    """

    context: str | None
    server: str
    resources: dict[str, str | None] = field(default_factory=dict)
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    cilium_config: dict[str, str] | None = None
    metrics_apiservice: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)  # e.g. a 403 on an optional resource


@dataclass
class KubeNode:
    name: str
    internal_ip: str | None
    labels: dict[str, str]
    pod_cidrs: list[str]
    ready: bool | None
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class LbService:
    namespace: str
    name: str
    labels: dict[str, str]
    ingress_ips: list[str]
    requested_ips: list[str]
    load_balancer_class: str | None = None

    def selector_labels(self) -> dict[str, str]:
        """Labels plus the two Cilium adds for selection (io.kubernetes.service.name/namespace)."""
        return {
            **self.labels,
            "io.kubernetes.service.name": self.name,
            "io.kubernetes.service.namespace": self.namespace,
        }


@dataclass
class ApiServiceStatus:
    """The Available condition of an APIService. available None = no condition reported yet."""

    name: str
    available: bool | None
    reason: str | None
    message: str | None


@dataclass
class CiliumConfig:
    """The cilium-config ConfigMap keys bgpdoctor cares about (raw keeps all of them)."""

    routing_mode: str | None
    auto_direct_node_routes: bool
    bgp_control_plane: bool
    mtu: int | None
    cluster_pool_cidrs: list[str]
    native_routing_cidr: str | None
    raw: dict[str, str]


@dataclass
class CiliumPeer:
    name: str
    address: str | None
    asn: int | None
    peer_config: str | None


@dataclass
class CiliumBgpInstance:
    name: str
    local_asn: int | None
    local_port: int | None
    peers: list[CiliumPeer]
    router_id: str | None = None


@dataclass
class CiliumClusterConfig:
    name: str
    api_version: str
    node_selector: LabelSelector | None
    instances: list[CiliumBgpInstance]


@dataclass
class CiliumFamily:
    afi: str
    safi: str
    advertisements: LabelSelector | None


@dataclass
class CiliumPeerConfig:
    name: str
    ebgp_multihop: int | None
    auth_secret: str | None
    peer_port: int | None
    families: list[CiliumFamily]


@dataclass
class CiliumAdvertItem:
    type: str  # PodCIDR, Service, CiliumPodIPPool
    selector: LabelSelector | None
    service_addresses: list[str]


@dataclass
class CiliumAdvertisement:
    name: str
    labels: dict[str, str]
    items: list[CiliumAdvertItem]


@dataclass
class CiliumPeerState:
    instance: str
    name: str
    address: str
    asn: int | None
    state: str | None
    established_time: str | None


@dataclass
class CiliumNodeConfig:
    """A CiliumBGPNodeConfig: the operator's per-node rendering (named like the node) and its status."""

    name: str
    instances: list[CiliumBgpInstance]
    peer_states: list[CiliumPeerState]


@dataclass
class CiliumNodeOverride:
    name: str  # the node it applies to
    router_ids: dict[str, str]  # instance -> routerID
    local_asns: dict[str, int]
    local_addresses: dict[tuple[str, str], str]  # (instance, peer) -> localAddress


@dataclass
class LbBlock:
    cidr: str | None
    start: str | None
    stop: str | None


@dataclass
class LbPool:
    name: str
    blocks: list[LbBlock]
    disabled: bool
    service_selector: LabelSelector | None
    field_name: str  # "blocks" or the pre-rename "cidrs"


@dataclass
class CiliumNeighbor:
    address: str
    asn: int | None
    multihop: int | None
    advertises: list[str]  # selectorTypes from advertisedPathAttributes


@dataclass
class CiliumPeeringPolicy:
    """BGPv1 CiliumBGPPeeringPolicy (deprecated); one virtual router per localASN."""

    name: str
    node_selector: LabelSelector | None
    local_asn: int | None
    export_pod_cidr: bool
    neighbors: list[CiliumNeighbor]
    service_selector: LabelSelector | None


@dataclass
class CiliumView:
    cluster_configs: list[CiliumClusterConfig] = field(default_factory=list)
    peer_configs: dict[str, CiliumPeerConfig] = field(default_factory=dict)
    advertisements: list[CiliumAdvertisement] = field(default_factory=list)
    node_configs: dict[str, CiliumNodeConfig] = field(default_factory=dict)
    node_overrides: dict[str, CiliumNodeOverride] = field(default_factory=dict)
    lb_pools: list[LbPool] = field(default_factory=list)
    peering_policies: list[CiliumPeeringPolicy] = field(default_factory=list)
    config: CiliumConfig | None = None


@dataclass
class CalicoPeer:
    name: str
    node: str | None
    node_selector: str | None
    peer_ip: str | None
    peer_selector: str | None
    asn: int | None
    has_password: bool
    source_address: str | None
    ttl_security: int | None


@dataclass
class CalicoBgpConfig:
    name: str
    as_number: int | None
    node_to_node_mesh: bool | None
    listen_port: int | None
    service_lb_cidrs: list[str]


@dataclass
class CalicoIPPool:
    name: str
    cidr: str
    ipip_mode: str | None
    vxlan_mode: str | None
    disabled: bool
    disable_bgp_export: bool
    node_selector: str | None
    nat_outgoing: bool

    @property
    def encapsulated(self) -> bool:
        """True when IPIP or VXLAN is on (Always/CrossSubnet); pods then need no BGP routes across L3."""
        return (self.ipip_mode or "Never") != "Never" or (self.vxlan_mode or "Never") != "Never"


@dataclass
class CalicoNodeStatus:
    name: str
    node: str | None
    peers: list[dict[str, str]]  # {"peerIP", "type", "state", "since"}
    bird_state: str | None


@dataclass
class CalicoView:
    peers: list[CalicoPeer] = field(default_factory=list)
    configurations: dict[str, CalicoBgpConfig] = field(default_factory=dict)
    ippools: list[CalicoIPPool] = field(default_factory=list)
    node_statuses: list[CalicoNodeStatus] = field(default_factory=list)

    @property
    def default_config(self) -> CalicoBgpConfig | None:
        return self.configurations.get("default")

    @property
    def mesh_enabled(self) -> bool:
        """Calico's node-to-node mesh; on unless the default BGPConfiguration turns it off."""
        cfg = self.default_config
        return True if cfg is None or cfg.node_to_node_mesh is None else cfg.node_to_node_mesh

    @property
    def default_asn(self) -> int:
        cfg = self.default_config
        return cfg.as_number if cfg is not None and cfg.as_number else 64512


@dataclass
class ClusterView:
    """Everything bgpdoctor learned from one cluster, typed.

    ``cilium``/``calico`` are None when none of their resources is installed; ``metrics`` is None
    when the APIService is not registered. ``resources`` tells which API version served each kind
    (None = not installed, i.e. the feature is not used).
    """

    context: str | None
    server: str
    nodes: list[KubeNode]
    lb_services: list[LbService]
    cilium: CiliumView | None
    calico: CalicoView | None
    metrics: ApiServiceStatus | None
    resources: dict[str, str | None]
    problems: list[str] = field(default_factory=list)

    @property
    def cni(self) -> str:
        """``cilium``, ``calico`` or ``unknown``."""
        if self.cilium is not None:
            return "cilium"
        if self.calico is not None:
            return "calico"
        return "unknown"

    def node(self, name: str) -> KubeNode | None:
        return next((n for n in self.nodes if n.name == name), None)


# --- parsing ---------------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _bool(value: Any, default: bool = False) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "enabled")
    return default


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _str_dict(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def parse_node(obj: Obj) -> KubeNode:
    """A Node object to KubeNode.

    Example: KubeNode(name="sakamoto", internal_ip="192.168.6.80", labels={...},
    pod_cidrs=["10.42.0.0/24"], ready=True)
    """
    meta = obj.get("metadata") or {}
    spec = _spec(obj)
    status = obj.get("status") or {}
    internal = next(
        (
            a.get("address")
            for a in status.get("addresses") or []
            if a.get("type") == "InternalIP" and ":" not in str(a.get("address", ""))
        ),
        None,
    )
    cidrs = [str(c) for c in spec.get("podCIDRs") or []]
    if not cidrs and spec.get("podCIDR"):
        cidrs = [str(spec["podCIDR"])]
    ready: bool | None = None
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            ready = cond.get("status") == "True"
    return KubeNode(
        name=str(meta.get("name", "")),
        internal_ip=str(internal) if internal else None,
        labels=_str_dict(meta.get("labels")),
        pod_cidrs=[c for c in cidrs if ":" not in c],
        ready=ready,
        annotations={k: v for k, v in _str_dict(meta.get("annotations")).items() if "projectcalico" in k},
    )


def parse_service(obj: Obj) -> LbService | None:
    """A Service to LbService when it is type LoadBalancer, else None."""
    spec = _spec(obj)
    if spec.get("type") != "LoadBalancer":
        return None
    meta = obj.get("metadata") or {}
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    requested = [str(spec["loadBalancerIP"])] if spec.get("loadBalancerIP") else []
    ann = _str_dict(meta.get("annotations"))
    for key in ("lbipam.cilium.io/ips", "io.cilium/lb-ipam-ips"):
        requested += [ip.strip() for ip in ann.get(key, "").split(",") if ip.strip()]
    return LbService(
        namespace=str(meta.get("namespace", "default")),
        name=str(meta.get("name", "")),
        labels=_str_dict(meta.get("labels")),
        ingress_ips=[str(i["ip"]) for i in ingress if isinstance(i, Mapping) and i.get("ip")],
        requested_ips=requested,
        load_balancer_class=spec.get("loadBalancerClass"),
    )


def parse_cilium_config(data: Mapping[str, str]) -> CiliumConfig:
    """The cilium-config ConfigMap data to CiliumConfig.

    Example: {"routing-mode": "native", "auto-direct-node-routes": "true"} -> CiliumConfig(
    routing_mode="native", auto_direct_node_routes=True, bgp_control_plane=False, mtu=None, ...)
    """
    routing = data.get("routing-mode")
    if routing is None and "tunnel" in data:  # before Cilium 1.14: tunnel: disabled|vxlan|geneve
        routing = "native" if data["tunnel"] == "disabled" else "tunnel"
    cidrs = [c for key in ("cluster-pool-ipv4-cidr",) for c in data.get(key, "").replace(",", " ").split()]
    return CiliumConfig(
        routing_mode=routing,
        auto_direct_node_routes=_bool(data.get("auto-direct-node-routes")),
        bgp_control_plane=_bool(data.get("enable-bgp-control-plane")),
        mtu=_int(data.get("mtu")),
        cluster_pool_cidrs=cidrs,
        native_routing_cidr=data.get("ipv4-native-routing-cidr") or None,
        raw=dict(data),
    )


def _instances(spec: Obj) -> list[CiliumBgpInstance]:
    out = []
    for inst in spec.get("bgpInstances") or []:
        peers = [
            CiliumPeer(
                name=str(p.get("name", "")),
                address=p.get("peerAddress"),
                asn=_int(p.get("peerASN")),
                peer_config=(p.get("peerConfigRef") or {}).get("name"),
            )
            for p in inst.get("peers") or []
        ]
        out.append(
            CiliumBgpInstance(
                name=str(inst.get("name", "")),
                local_asn=_int(inst.get("localASN")),
                local_port=_int(inst.get("localPort")),
                peers=peers,
                router_id=inst.get("routerID"),
            )
        )
    return out


def parse_cilium_cluster_config(obj: Obj) -> CiliumClusterConfig:
    spec = _spec(obj)
    return CiliumClusterConfig(
        name=_name(obj),
        api_version=str(obj.get("apiVersion", "")),
        node_selector=parse_label_selector(spec.get("nodeSelector")),
        instances=_instances(spec),
    )


def parse_cilium_peer_config(obj: Obj) -> CiliumPeerConfig:
    spec = _spec(obj)
    return CiliumPeerConfig(
        name=_name(obj),
        ebgp_multihop=_int(spec.get("ebgpMultihop")),
        auth_secret=spec.get("authSecretRef"),
        peer_port=_int((spec.get("transport") or {}).get("peerPort")),
        families=[
            CiliumFamily(
                afi=str(f.get("afi", "")),
                safi=str(f.get("safi", "")),
                advertisements=parse_label_selector(f.get("advertisements")),
            )
            for f in spec.get("families") or []
        ],
    )


def parse_cilium_advertisement(obj: Obj) -> CiliumAdvertisement:
    return CiliumAdvertisement(
        name=_name(obj),
        labels=_str_dict((obj.get("metadata") or {}).get("labels")),
        items=[
            CiliumAdvertItem(
                type=str(a.get("advertisementType", "")),
                selector=parse_label_selector(a.get("selector")),
                service_addresses=[str(x) for x in (a.get("service") or {}).get("addresses") or []],
            )
            for a in _spec(obj).get("advertisements") or []
        ],
    )


def parse_cilium_node_config(obj: Obj) -> CiliumNodeConfig:
    states = []
    for inst in (obj.get("status") or {}).get("bgpInstances") or []:
        for p in inst.get("peers") or []:
            states.append(
                CiliumPeerState(
                    instance=str(inst.get("name", "")),
                    name=str(p.get("name", "")),
                    address=str(p.get("peerAddress", "")),
                    asn=_int(p.get("peerASN")),
                    state=p.get("peeringState"),
                    established_time=p.get("establishedTime"),
                )
            )
    return CiliumNodeConfig(name=_name(obj), instances=_instances(_spec(obj)), peer_states=states)


def parse_cilium_node_override(obj: Obj) -> CiliumNodeOverride:
    router_ids: dict[str, str] = {}
    asns: dict[str, int] = {}
    local_addresses: dict[tuple[str, str], str] = {}
    for inst in _spec(obj).get("bgpInstances") or []:
        iname = str(inst.get("name", ""))
        if inst.get("routerID"):
            router_ids[iname] = str(inst["routerID"])
        asn = _int(inst.get("localASN"))
        if asn:
            asns[iname] = asn
        for p in inst.get("peers") or []:
            if p.get("localAddress"):
                local_addresses[(iname, str(p.get("name", "")))] = str(p["localAddress"])
    return CiliumNodeOverride(_name(obj), router_ids, asns, local_addresses)


def parse_lb_pool(obj: Obj) -> LbPool:
    """A CiliumLoadBalancerIPPool; reads ``blocks`` and the pre-rename ``cidrs`` alike.

    Example: spec {"blocks": [{"cidr": "10.0.6.0/24"}]} -> LbPool(name=..., blocks=[LbBlock(
    cidr="10.0.6.0/24", start=None, stop=None)], disabled=False, service_selector=None, field_name="blocks")
    """
    spec = _spec(obj)
    field_name = "blocks" if spec.get("blocks") is not None or spec.get("cidrs") is None else "cidrs"
    blocks = [
        LbBlock(cidr=b.get("cidr"), start=b.get("start"), stop=b.get("stop"))
        for b in spec.get(field_name) or []
        if isinstance(b, Mapping)
    ]
    return LbPool(
        name=_name(obj),
        blocks=blocks,
        disabled=_bool(spec.get("disabled")),
        service_selector=parse_label_selector(spec.get("serviceSelector")),
        field_name=field_name,
    )


def parse_peering_policy(obj: Obj) -> list[CiliumPeeringPolicy]:
    spec = _spec(obj)
    out = []
    for vr in spec.get("virtualRouters") or []:
        neighbors = [
            CiliumNeighbor(
                address=str(n.get("peerAddress", "")).split("/")[0],
                asn=_int(n.get("peerASN")),
                multihop=_int(n.get("eBGPMultihopTTL")),
                advertises=[str(a.get("selectorType")) for a in n.get("advertisedPathAttributes") or []],
            )
            for n in vr.get("neighbors") or []
        ]
        out.append(
            CiliumPeeringPolicy(
                name=_name(obj),
                node_selector=parse_label_selector(spec.get("nodeSelector")),
                local_asn=_int(vr.get("localASN")),
                export_pod_cidr=_bool(vr.get("exportPodCIDR")),
                neighbors=neighbors,
                service_selector=parse_label_selector(vr.get("serviceSelector")),
            )
        )
    return out


def parse_calico_peer(obj: Obj) -> CalicoPeer:
    spec = _spec(obj)
    return CalicoPeer(
        name=_name(obj),
        node=spec.get("node") or None,
        node_selector=spec.get("nodeSelector") or None,
        peer_ip=str(spec["peerIP"]) if spec.get("peerIP") else None,
        peer_selector=spec.get("peerSelector") or None,
        asn=_int(spec.get("asNumber")),
        has_password=bool(spec.get("password")),
        source_address=spec.get("sourceAddress"),
        ttl_security=_int(spec.get("ttlSecurity")),
    )


def parse_calico_bgp_config(obj: Obj) -> CalicoBgpConfig:
    spec = _spec(obj)
    mesh = spec.get("nodeToNodeMeshEnabled")
    return CalicoBgpConfig(
        name=_name(obj),
        as_number=_int(spec.get("asNumber")),
        node_to_node_mesh=mesh if isinstance(mesh, bool) else None,
        listen_port=_int(spec.get("listenPort")),
        service_lb_cidrs=[
            str(c.get("cidr")) for c in spec.get("serviceLoadBalancerIPs") or [] if c.get("cidr")
        ],
    )


def parse_calico_ippool(obj: Obj) -> CalicoIPPool:
    spec = _spec(obj)
    ipip = spec.get("ipipMode")
    if ipip is None and isinstance(spec.get("ipip"), Mapping):  # the old v1 `ipip: {enabled, mode}`
        old = spec["ipip"]
        ipip = (
            ("Always" if old.get("mode") in (None, "always") else "CrossSubnet")
            if old.get("enabled")
            else "Never"
        )
    return CalicoIPPool(
        name=_name(obj),
        cidr=str(spec.get("cidr", "")),
        ipip_mode=ipip,
        vxlan_mode=spec.get("vxlanMode"),
        disabled=_bool(spec.get("disabled")),
        disable_bgp_export=_bool(spec.get("disableBGPExport")),
        node_selector=spec.get("nodeSelector"),
        nat_outgoing=_bool(spec.get("natOutgoing")) or _bool(spec.get("nat-outgoing")),
    )


def parse_calico_node_status(obj: Obj) -> CalicoNodeStatus:
    status = obj.get("status") or {}
    bgp = status.get("bgp") or {}
    peers = [{k: str(v) for k, v in p.items()} for p in bgp.get("peersV4") or [] if isinstance(p, Mapping)]
    bird = ((status.get("agent") or {}).get("birdV4") or {}).get("state")
    return CalicoNodeStatus(name=_name(obj), node=_spec(obj).get("node"), peers=peers, bird_state=bird)


_CILIUM_KINDS = (
    "ciliumbgpclusterconfigs",
    "ciliumbgppeerconfigs",
    "ciliumbgpadvertisements",
    "ciliumbgpnodeconfigs",
    "ciliumbgpnodeconfigoverrides",
    "ciliumloadbalancerippools",
    "ciliumbgppeeringpolicies",
)
_CALICO_KINDS = ("bgppeers", "bgpconfigurations", "ippools", "caliconodestatuses", "ipamblocks")


def calico_blocks(objs: Sequence[Obj]) -> dict[str, list[str]]:
    """IPv4 IPAM blocks per node from their affinity ("host:<node>"): the pod CIDRs Calico announces.

    Example: calico_blocks([{"spec": {"cidr": "10.244.120.64/26", "affinity": "host:kubemaster", ...}}])
    -> {"kubemaster": ["10.244.120.64/26"]}
    """
    out: dict[str, list[str]] = {}
    for obj in objs:
        spec = _spec(obj)
        cidr, affinity = str(spec.get("cidr") or ""), str(spec.get("affinity") or "")
        if cidr and ":" not in cidr and affinity.startswith("host:") and not spec.get("deleted"):
            out.setdefault(affinity.removeprefix("host:"), []).append(cidr)
    return {node: sorted(set(c), key=lambda x: ipaddress.ip_network(x)) for node, c in out.items()}


def build_view(raw: RawCluster) -> ClusterView:
    """Parse a RawCluster into a ClusterView (pure; no API calls).

    Example: build_view(raw).cilium.cluster_configs[0] -> CiliumClusterConfig(name="bgp-local",
    api_version="cilium.io/v2", node_selector=LabelSelector(...), instances=[CiliumBgpInstance(...)])
    """
    objs = raw.objects
    nodes = [parse_node(o) for o in objs.get("nodes", [])]
    blocks = calico_blocks(objs.get("ipamblocks", []))
    for n in nodes:
        if n.name in blocks:  # Calico IPAM announces the node's affine blocks, not Node.spec.podCIDR
            n.pod_cidrs = blocks[n.name]
    services = [s for s in (parse_service(o) for o in objs.get("services", [])) if s is not None]

    cilium: CiliumView | None = None
    if raw.cilium_config is not None or any(raw.resources.get(k) for k in _CILIUM_KINDS):
        cilium = CiliumView(
            cluster_configs=[parse_cilium_cluster_config(o) for o in objs.get("ciliumbgpclusterconfigs", [])],
            peer_configs={
                pc.name: pc
                for pc in (parse_cilium_peer_config(o) for o in objs.get("ciliumbgppeerconfigs", []))
            },
            advertisements=[parse_cilium_advertisement(o) for o in objs.get("ciliumbgpadvertisements", [])],
            node_configs={
                nc.name: nc
                for nc in (parse_cilium_node_config(o) for o in objs.get("ciliumbgpnodeconfigs", []))
            },
            node_overrides={
                no.name: no
                for no in (
                    parse_cilium_node_override(o) for o in objs.get("ciliumbgpnodeconfigoverrides", [])
                )
            },
            lb_pools=[parse_lb_pool(o) for o in objs.get("ciliumloadbalancerippools", [])],
            peering_policies=[
                p for o in objs.get("ciliumbgppeeringpolicies", []) for p in parse_peering_policy(o)
            ],
            config=parse_cilium_config(raw.cilium_config) if raw.cilium_config is not None else None,
        )

    calico: CalicoView | None = None
    if any(raw.resources.get(k) for k in _CALICO_KINDS):
        calico = CalicoView(
            peers=[parse_calico_peer(o) for o in objs.get("bgppeers", [])],
            configurations={
                c.name: c for c in (parse_calico_bgp_config(o) for o in objs.get("bgpconfigurations", []))
            },
            ippools=[parse_calico_ippool(o) for o in objs.get("ippools", [])],
            node_statuses=[parse_calico_node_status(o) for o in objs.get("caliconodestatuses", [])],
        )

    metrics: ApiServiceStatus | None = None
    if raw.metrics_apiservice is not None:
        available: bool | None = None
        reason = message = None
        for cond in (raw.metrics_apiservice.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Available":
                available = cond.get("status") == "True"
                reason, message = cond.get("reason"), cond.get("message")
        metrics = ApiServiceStatus(_name(raw.metrics_apiservice), available, reason, message)

    return ClusterView(
        context=raw.context,
        server=raw.server,
        nodes=nodes,
        lb_services=services,
        cilium=cilium,
        calico=calico,
        metrics=metrics,
        resources=dict(raw.resources),
        problems=list(raw.problems),
    )
