"""The typed ClusterView and the pure functions that build it from raw API objects.

``RawCluster`` is what ``reader.read_cluster`` fetched (plain JSON dicts, camelCase, exactly as the
API server sent them, so a recording can be replayed); ``build_view(raw)`` turns it into dataclasses.
Every field rename and version difference is absorbed here: ``CiliumLoadBalancerIPPool.spec.cidrs``
(before cilium#32693) and ``spec.blocks``; Cilium ``v2`` and ``v2alpha1``; Calico ``projectcalico.org/v3``
and ``crd.projectcalico.org/v1``.

The same parsers read manifests from files (``bgpdoctor lint``): given a ``Located`` mapping, each
model object also records its ``Source`` (file, line, and the line of each field), so a finding
can point at the line that states a value. Objects from the API have ``source=None``. Malformed
objects never raise: a field of the wrong shape reads as absent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bgpdoctor.kube.selectors import LabelSelector, label_value, parse_label_selector

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
    "Located",
    "RawCluster",
    "Source",
    "build_view",
    "cilium_allocations",
    "cilium_routing",
]

Obj = Mapping[str, Any]

# annotations that state a node's address (K3s, the kubelet's --node-ip, Calico's autodetection)
NODE_ADDRESS_ANNOTATIONS = (
    "k3s.io/internal-ip",
    "alpha.kubernetes.io/provided-node-ip",
    "projectcalico.org/IPv4Address",
)
CALICO_ASN_ANNOTATION = "projectcalico.org/ASNumber"


class Located(dict[str, Any]):
    """A mapping read from a file that remembers where: the file, its own line and each key's line.

    Example: Located({"peerASN": 65000}, "bgp.yaml", 12, {"peerASN": 14})
    """

    __slots__ = ("file", "key_lines", "line")

    def __init__(self, items: Mapping[str, Any], file: str, line: int, key_lines: Mapping[str, int]) -> None:
        super().__init__(items)
        self.file = file
        self.line = line
        self.key_lines = dict(key_lines)


@dataclass(frozen=True)
class Source:
    """Where a model object was stated in a file: the object's line and each field's line by name.

    Example: Source("bgp.yaml", 10, {"asn": 14, "address": 13}).line_of("asn") -> 14
    """

    file: str
    line: int
    lines: Mapping[str, int] = field(default_factory=dict)

    def line_of(self, name: str) -> int:
        """The line of field ``name``, else the object's own line."""
        return self.lines.get(name, self.line)


def _line(obj: Any, key: str) -> int | None:
    return obj.key_lines.get(key) if isinstance(obj, Located) else None


def _source(obj: Any, **lines: int | None) -> Source | None:
    if not isinstance(obj, Located):
        return None
    return Source(obj.file, obj.line, {k: v for k, v in lines.items() if v is not None})


def _map(value: Any) -> Obj:
    return value if isinstance(value, Mapping) else {}


def _maps(value: Any) -> list[Obj]:
    return [x for x in value if isinstance(x, Mapping)] if isinstance(value, list) else []


def _opt_str(value: Any) -> str | None:
    if value is None or isinstance(value, Mapping | list) or value == "":
        return None
    return label_value(value)


def cilium_routing(value: str | None) -> str | None:
    """Cilium's routing design from routing-mode / routingMode, or the older tunnel setting:
    "native", "tunnel" or None (not stated or not understood).

    Example: cilium_routing("vxlan") -> "tunnel"; cilium_routing("disabled") -> "native"
    """
    text = (value or "").strip().lower()
    if text in ("native", "disabled"):
        return "native"
    if text in ("tunnel", "vxlan", "geneve"):
        return "tunnel"
    return None


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
    addresses: list[str] = field(default_factory=list)  # every IPv4 it states (status, annotations)
    subnets: list[str] = field(default_factory=list)  # stated with a prefix length in an annotation
    source: Source | None = field(default=None, compare=False, repr=False)  # name, addresses.N, subnets.N
    pod_cidr_source: str = "Node spec.podCIDRs"  # where pod_cidrs come from (the IPAM in use)
    spec_pod_cidrs: list[str] = field(default_factory=list)  # Node spec.podCIDRs, whatever the IPAM

    @property
    def calico_asn(self) -> int | None:
        """The node's own ASN from Calico's annotation, None when it has none."""
        value = self.annotations.get(CALICO_ASN_ANNOTATION, "")
        return int(value) if value.isascii() and value.isdigit() and len(value) <= 10 else None


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
    source: Source | None = field(default=None, compare=False, repr=False)


@dataclass
class CiliumPeer:
    name: str
    address: str | None
    asn: int | None
    peer_config: str | None
    source: Source | None = field(default=None, compare=False, repr=False)  # address, asn, peer_config


@dataclass
class CiliumBgpInstance:
    name: str
    local_asn: int | None
    local_port: int | None
    peers: list[CiliumPeer]
    router_id: str | None = None
    source: Source | None = field(default=None, compare=False, repr=False)  # lines: local_asn


@dataclass
class CiliumClusterConfig:
    name: str
    api_version: str
    node_selector: LabelSelector | None
    instances: list[CiliumBgpInstance]
    source: Source | None = field(default=None, compare=False, repr=False)  # lines: node_selector


@dataclass
class CiliumFamily:
    afi: str
    safi: str
    advertisements: LabelSelector | None
    source: Source | None = field(default=None, compare=False, repr=False)


@dataclass
class CiliumPeerConfig:
    name: str
    ebgp_multihop: int | None
    auth_secret: str | None
    peer_port: int | None
    families: list[CiliumFamily]
    source: Source | None = field(default=None, compare=False, repr=False)  # ebgp_multihop, auth_secret
    local_port: int | None = None  # transport.localPort (deprecated): the source port it binds


@dataclass
class CiliumAdvertItem:
    type: str  # PodCIDR, Service, CiliumPodIPPool
    selector: LabelSelector | None
    service_addresses: list[str]
    source: Source | None = field(default=None, compare=False, repr=False)


@dataclass
class CiliumAdvertisement:
    name: str
    labels: dict[str, str]
    items: list[CiliumAdvertItem]
    source: Source | None = field(default=None, compare=False, repr=False)


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
    source: Source | None = field(default=None, compare=False, repr=False)  # local_address.<inst>.<peer>
    local_ports: dict[str, int] = field(default_factory=dict)  # instance -> localPort (it listens there)
    instances: list[str] = field(default_factory=list)  # the overridden instances, in spec order


@dataclass
class LbBlock:
    cidr: str | None
    start: str | None
    stop: str | None
    source: Source | None = field(default=None, compare=False, repr=False)

    def text(self) -> str:
        """As written: the CIDR, or "start-stop"."""
        return self.cidr or f"{self.start}-{self.stop or self.start}"

    def networks(self) -> list[ipaddress.IPv4Network]:
        """The IPv4 networks the block covers; [] for IPv6 or a value that does not parse.

        Example: LbBlock(None, "10.0.6.1", "10.0.6.2").networks() -> [IPv4Network("10.0.6.1/32"),
        IPv4Network("10.0.6.2/32")]
        """
        try:
            if self.cidr:
                net = ipaddress.ip_network(self.cidr, strict=False)
                return [net] if isinstance(net, ipaddress.IPv4Network) else []
            if self.start:
                start = ipaddress.ip_address(self.start)
                stop = ipaddress.ip_address(self.stop or self.start)
                if isinstance(start, ipaddress.IPv4Address) and isinstance(stop, ipaddress.IPv4Address):
                    return list(ipaddress.summarize_address_range(start, stop))
        except (ValueError, TypeError):  # not an address, or stop before start
            pass
        return []


@dataclass
class LbPool:
    name: str
    blocks: list[LbBlock]
    disabled: bool
    service_selector: LabelSelector | None
    field_name: str  # "blocks" or the pre-rename "cidrs"
    source: Source | None = field(default=None, compare=False, repr=False)


@dataclass
class CiliumNeighbor:
    address: str
    asn: int | None
    multihop: int | None
    advertises: list[str]  # selectorTypes from advertisedPathAttributes
    auth_secret: str | None = None
    source: Source | None = field(default=None, compare=False, repr=False)  # address, asn


@dataclass
class CiliumPeeringPolicy:
    """BGPv1 CiliumBGPPeeringPolicy (deprecated); one virtual router per localASN."""

    name: str
    node_selector: LabelSelector | None
    local_asn: int | None
    export_pod_cidr: bool
    neighbors: list[CiliumNeighbor]
    service_selector: LabelSelector | None
    source: Source | None = field(default=None, compare=False, repr=False)  # node_selector, local_asn


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
    source: Source | None = field(default=None, compare=False, repr=False)  # node_selector, peer_ip, ...

    @property
    def peer_address(self) -> str | None:
        """peerIP without the port Calico allows after it ("10.0.0.1:1790" -> "10.0.0.1")."""
        if self.peer_ip and self.peer_ip.count(":") == 1:
            return self.peer_ip.rsplit(":", 1)[0]
        return self.peer_ip


@dataclass
class CalicoBgpConfig:
    name: str
    as_number: int | None
    node_to_node_mesh: bool | None
    listen_port: int | None
    service_lb_cidrs: list[str]
    source: Source | None = field(default=None, compare=False, repr=False)  # as_number, node_to_node_mesh


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
    source: Source | None = field(default=None, compare=False, repr=False)  # cidr

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
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        try:
            return int(value.strip())
        except ValueError:  # more digits than int() accepts
            return None
    return None


def _bool(value: Any, default: bool = False) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "enabled")
    return default


def _opt_bool(value: Any) -> bool | None:
    """A boolean field that may be unset: a YAML/JSON boolean or the strings "true"/"false"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _name(obj: Obj) -> str:
    return label_value(_map(obj.get("metadata")).get("name", ""))


def _spec(obj: Obj) -> Obj:
    return _map(obj.get("spec"))


def _str_dict(value: Any) -> dict[str, str]:
    return {label_value(k): label_value(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def _own_line(obj: Any) -> int | None:
    return obj.line if isinstance(obj, Located) else None


def _node_addresses(
    status_addresses: list[Obj], annotations: Obj
) -> tuple[list[str], list[str], dict[str, int]]:
    """(addresses, subnets, their lines) a Node states: its InternalIP/ExternalIP, then the
    address annotations, which may carry the prefix length ("10.0.0.5/24" gives a subnet)."""
    addresses: list[str] = []
    subnets: list[str] = []
    lines: dict[str, int] = {}

    def add(kind: str, items: list[str], value: str, line: int | None) -> None:
        if value not in items:
            if line is not None:
                lines[f"{kind}.{len(items)}"] = line
            items.append(value)

    for a in status_addresses:
        if a.get("type") in ("InternalIP", "ExternalIP"):
            try:
                iface = ipaddress.IPv4Interface(label_value(a.get("address")).strip())
            except ValueError:
                continue
            add("addresses", addresses, str(iface.ip), _own_line(a))
    for key in NODE_ADDRESS_ANNOTATIONS:
        if key not in annotations:
            continue
        for part in label_value(annotations[key]).split(","):
            try:
                iface = ipaddress.IPv4Interface(part.strip())
            except ValueError:
                continue
            add("addresses", addresses, str(iface.ip), _line(annotations, key))
            if "/" in part and iface.network.prefixlen < 32:
                add("subnets", subnets, str(iface.network), _line(annotations, key))
    return addresses, subnets, lines


def parse_node(obj: Obj) -> KubeNode:
    """A Node object to KubeNode.

    Example: KubeNode(name="sakamoto", internal_ip="192.168.6.80", labels={...},
    pod_cidrs=["10.42.0.0/24"], ready=True, addresses=["192.168.6.80"], subnets=[])
    """
    meta = _map(obj.get("metadata"))
    spec = _spec(obj)
    status = _map(obj.get("status"))
    status_addresses = _maps(status.get("addresses"))
    internal = next(
        (
            a.get("address")
            for a in status_addresses
            if a.get("type") == "InternalIP" and ":" not in str(a.get("address", ""))
        ),
        None,
    )
    pod_cidrs = spec.get("podCIDRs")
    cidrs = [label_value(c) for c in pod_cidrs] if isinstance(pod_cidrs, list) else []
    if not cidrs and spec.get("podCIDR"):
        cidrs = [label_value(spec["podCIDR"])]
    ready: bool | None = None
    for cond in _maps(status.get("conditions")):
        if cond.get("type") == "Ready":
            ready = cond.get("status") == "True"
    raw_annotations = _map(meta.get("annotations"))
    addresses, subnets, lines = _node_addresses(status_addresses, raw_annotations)
    return KubeNode(
        name=label_value(meta.get("name", "")),
        internal_ip=label_value(internal) if internal else None,
        labels=_str_dict(meta.get("labels")),
        pod_cidrs=[c for c in cidrs if ":" not in c],
        spec_pod_cidrs=[c for c in cidrs if ":" not in c],
        ready=ready,
        annotations={k: v for k, v in _str_dict(raw_annotations).items() if "projectcalico" in k},
        addresses=addresses,
        subnets=subnets,
        source=_source(obj, name=_line(meta, "name"), **lines),
    )


def parse_service(obj: Obj) -> LbService | None:
    """A Service to LbService when it is type LoadBalancer, else None."""
    spec = _spec(obj)
    if spec.get("type") != "LoadBalancer":
        return None
    meta = _map(obj.get("metadata"))
    ingress = _maps(_map(_map(obj.get("status")).get("loadBalancer")).get("ingress"))
    requested = [label_value(spec["loadBalancerIP"])] if spec.get("loadBalancerIP") else []
    ann = _str_dict(meta.get("annotations"))
    for key in ("lbipam.cilium.io/ips", "io.cilium/lb-ipam-ips"):
        requested += [ip.strip() for ip in ann.get(key, "").split(",") if ip.strip()]
    return LbService(
        namespace=label_value(meta.get("namespace", "default")),
        name=label_value(meta.get("name", "")),
        labels=_str_dict(meta.get("labels")),
        ingress_ips=[label_value(i["ip"]) for i in ingress if i.get("ip")],
        requested_ips=requested,
        load_balancer_class=_opt_str(spec.get("loadBalancerClass")),
    )


def parse_cilium_config(data: Mapping[str, Any]) -> CiliumConfig:
    """The cilium-config ConfigMap data to CiliumConfig.

    Example: {"routing-mode": "native", "auto-direct-node-routes": "true"} -> CiliumConfig(
    routing_mode="native", auto_direct_node_routes=True, bgp_control_plane=False, mtu=None, ...)
    """
    routing = _opt_str(data.get("routing-mode"))
    routing_key = "routing-mode"
    if routing is None and "tunnel" in data:  # before Cilium 1.14: tunnel: disabled|vxlan|geneve
        routing = "native" if label_value(data["tunnel"]) == "disabled" else "tunnel"
        routing_key = "tunnel"
    cidrs = label_value(data.get("cluster-pool-ipv4-cidr", "")).replace(",", " ").split()
    return CiliumConfig(
        routing_mode=routing,
        auto_direct_node_routes=_bool(data.get("auto-direct-node-routes")),
        bgp_control_plane=_bool(data.get("enable-bgp-control-plane")),
        mtu=_int(data.get("mtu")),
        cluster_pool_cidrs=cidrs,
        native_routing_cidr=_opt_str(data.get("ipv4-native-routing-cidr")),
        raw=_str_dict(data),
        source=_source(
            data,
            routing_mode=_line(data, routing_key),
            auto_direct_node_routes=_line(data, "auto-direct-node-routes"),
            cluster_pool_cidrs=_line(data, "cluster-pool-ipv4-cidr"),
        ),
    )


def _instances(spec: Obj) -> list[CiliumBgpInstance]:
    out = []
    for inst in _maps(spec.get("bgpInstances")):
        peers = []
        for p in _maps(inst.get("peers")):
            ref = _map(p.get("peerConfigRef"))
            peers.append(
                CiliumPeer(
                    name=label_value(p.get("name", "")),
                    address=_opt_str(p.get("peerAddress")),
                    asn=_int(p.get("peerASN")),
                    peer_config=_opt_str(ref.get("name")),
                    source=_source(
                        p,
                        address=_line(p, "peerAddress"),
                        asn=_line(p, "peerASN"),
                        peer_config=_line(ref, "name"),
                    ),
                )
            )
        out.append(
            CiliumBgpInstance(
                name=label_value(inst.get("name", "")),
                local_asn=_int(inst.get("localASN")),
                local_port=_int(inst.get("localPort")),
                peers=peers,
                router_id=_opt_str(inst.get("routerID")),
                source=_source(inst, local_asn=_line(inst, "localASN")),
            )
        )
    return out


def parse_cilium_cluster_config(obj: Obj) -> CiliumClusterConfig:
    spec = _spec(obj)
    return CiliumClusterConfig(
        name=_name(obj),
        api_version=label_value(obj.get("apiVersion", "")),
        node_selector=parse_label_selector(spec.get("nodeSelector")),
        instances=_instances(spec),
        source=_source(obj, node_selector=_line(spec, "nodeSelector")),
    )


def parse_cilium_peer_config(obj: Obj) -> CiliumPeerConfig:
    spec = _spec(obj)
    return CiliumPeerConfig(
        name=_name(obj),
        ebgp_multihop=_int(spec.get("ebgpMultihop")),
        auth_secret=_opt_str(spec.get("authSecretRef")),
        peer_port=_int(_map(spec.get("transport")).get("peerPort")),
        local_port=_int(_map(spec.get("transport")).get("localPort")),
        families=[
            CiliumFamily(
                afi=label_value(f.get("afi", "")),
                safi=label_value(f.get("safi", "")),
                advertisements=parse_label_selector(f.get("advertisements")),
                source=_source(f),
            )
            for f in _maps(spec.get("families"))
        ],
        source=_source(
            obj, ebgp_multihop=_line(spec, "ebgpMultihop"), auth_secret=_line(spec, "authSecretRef")
        ),
    )


def parse_cilium_advertisement(obj: Obj) -> CiliumAdvertisement:
    items = []
    for a in _maps(_spec(obj).get("advertisements")):
        addresses = _map(a.get("service")).get("addresses")
        items.append(
            CiliumAdvertItem(
                type=label_value(a.get("advertisementType", "")),
                selector=parse_label_selector(a.get("selector")),
                service_addresses=[label_value(x) for x in addresses] if isinstance(addresses, list) else [],
                source=_source(a),
            )
        )
    labels = _str_dict(_map(obj.get("metadata")).get("labels"))
    return CiliumAdvertisement(name=_name(obj), labels=labels, items=items, source=_source(obj))


def parse_cilium_node_config(obj: Obj) -> CiliumNodeConfig:
    states = []
    for inst in _maps(_map(obj.get("status")).get("bgpInstances")):
        for p in _maps(inst.get("peers")):
            states.append(
                CiliumPeerState(
                    instance=label_value(inst.get("name", "")),
                    name=label_value(p.get("name", "")),
                    address=label_value(p.get("peerAddress", "")),
                    asn=_int(p.get("peerASN")),
                    state=_opt_str(p.get("peeringState")),
                    established_time=_opt_str(p.get("establishedTime")),
                )
            )
    return CiliumNodeConfig(name=_name(obj), instances=_instances(_spec(obj)), peer_states=states)


def parse_cilium_node_override(obj: Obj) -> CiliumNodeOverride:
    router_ids: dict[str, str] = {}
    asns: dict[str, int] = {}
    local_addresses: dict[tuple[str, str], str] = {}
    lines: dict[str, int | None] = {}
    ports: dict[str, int] = {}
    order: list[str] = []
    for inst in _maps(_spec(obj).get("bgpInstances")):
        iname = label_value(inst.get("name", ""))
        order.append(iname)
        port = _int(inst.get("localPort"))
        if port:
            ports[iname] = port
        if inst.get("routerID"):
            router_ids[iname] = label_value(inst["routerID"])
        asn = _int(inst.get("localASN"))
        if asn:
            asns[iname] = asn
        for p in _maps(inst.get("peers")):
            if p.get("localAddress"):
                pname = label_value(p.get("name", ""))
                local_addresses[(iname, pname)] = label_value(p["localAddress"])
                lines[f"local_address.{iname}.{pname}"] = _line(p, "localAddress")
    return CiliumNodeOverride(
        _name(obj), router_ids, asns, local_addresses, _source(obj, **lines), ports, order
    )


def parse_lb_pool(obj: Obj) -> LbPool:
    """A CiliumLoadBalancerIPPool; reads ``blocks`` and the pre-rename ``cidrs`` alike.

    Example: spec {"blocks": [{"cidr": "10.0.6.0/24"}]} -> LbPool(name=..., blocks=[LbBlock(
    cidr="10.0.6.0/24", start=None, stop=None)], disabled=False, service_selector=None, field_name="blocks")
    """
    spec = _spec(obj)
    field_name = "blocks" if spec.get("blocks") is not None or spec.get("cidrs") is None else "cidrs"
    blocks = [
        LbBlock(
            cidr=_opt_str(b.get("cidr")),
            start=_opt_str(b.get("start")),
            stop=_opt_str(b.get("stop")),
            source=_source(b),
        )
        for b in _maps(spec.get(field_name))
    ]
    return LbPool(
        name=_name(obj),
        blocks=blocks,
        disabled=_bool(spec.get("disabled")),
        service_selector=parse_label_selector(spec.get("serviceSelector")),
        field_name=field_name,
        source=_source(obj),
    )


def parse_peering_policy(obj: Obj) -> list[CiliumPeeringPolicy]:
    """A BGPv1 CiliumBGPPeeringPolicy: one CiliumPeeringPolicy per virtual router."""
    spec = _spec(obj)
    out = []
    for vr in _maps(spec.get("virtualRouters")):
        neighbors = [
            CiliumNeighbor(
                address=label_value(n.get("peerAddress", "")).split("/")[0],
                asn=_int(n.get("peerASN")),
                multihop=_int(n.get("eBGPMultihopTTL")),
                advertises=[
                    label_value(a.get("selectorType")) for a in _maps(n.get("advertisedPathAttributes"))
                ],
                auth_secret=_opt_str(n.get("authSecretRef")),
                source=_source(n, address=_line(n, "peerAddress"), asn=_line(n, "peerASN")),
            )
            for n in _maps(vr.get("neighbors"))
        ]
        out.append(
            CiliumPeeringPolicy(
                name=_name(obj),
                node_selector=parse_label_selector(spec.get("nodeSelector")),
                local_asn=_int(vr.get("localASN")),
                export_pod_cidr=_bool(vr.get("exportPodCIDR")),
                neighbors=neighbors,
                service_selector=parse_label_selector(vr.get("serviceSelector")),
                source=_source(
                    obj, node_selector=_line(spec, "nodeSelector"), local_asn=_line(vr, "localASN")
                ),
            )
        )
    return out


def parse_calico_peer(obj: Obj) -> CalicoPeer:
    spec = _spec(obj)
    return CalicoPeer(
        name=_name(obj),
        node=_opt_str(spec.get("node")),
        node_selector=_opt_str(spec.get("nodeSelector")),
        peer_ip=_opt_str(spec.get("peerIP")),
        peer_selector=_opt_str(spec.get("peerSelector")),
        asn=_int(spec.get("asNumber")),
        has_password=bool(spec.get("password")),
        source_address=_opt_str(spec.get("sourceAddress")),
        ttl_security=_int(spec.get("ttlSecurity")),
        source=_source(
            obj,
            node_selector=_line(spec, "nodeSelector"),
            peer_ip=_line(spec, "peerIP"),
            asn=_line(spec, "asNumber"),
            password=_line(spec, "password"),
        ),
    )


def parse_calico_bgp_config(obj: Obj) -> CalicoBgpConfig:
    spec = _spec(obj)
    return CalicoBgpConfig(
        name=_name(obj),
        as_number=_int(spec.get("asNumber")),
        node_to_node_mesh=_opt_bool(spec.get("nodeToNodeMeshEnabled")),
        listen_port=_int(spec.get("listenPort")),
        service_lb_cidrs=[
            label_value(c.get("cidr")) for c in _maps(spec.get("serviceLoadBalancerIPs")) if c.get("cidr")
        ],
        source=_source(
            obj, as_number=_line(spec, "asNumber"), node_to_node_mesh=_line(spec, "nodeToNodeMeshEnabled")
        ),
    )


def parse_calico_ippool(obj: Obj) -> CalicoIPPool:
    spec = _spec(obj)
    ipip = _opt_str(spec.get("ipipMode"))
    if ipip is None and isinstance(spec.get("ipip"), Mapping):  # the old v1 `ipip: {enabled, mode}`
        old = spec["ipip"]
        ipip = (
            ("Always" if old.get("mode") in (None, "always") else "CrossSubnet")
            if old.get("enabled")
            else "Never"
        )
    return CalicoIPPool(
        name=_name(obj),
        cidr=label_value(spec.get("cidr", "")),
        ipip_mode=ipip,
        vxlan_mode=_opt_str(spec.get("vxlanMode")),
        disabled=_bool(spec.get("disabled")),
        disable_bgp_export=_bool(spec.get("disableBGPExport")),
        node_selector=_opt_str(spec.get("nodeSelector")),
        nat_outgoing=_bool(spec.get("natOutgoing")) or _bool(spec.get("nat-outgoing")),
        source=_source(obj, cidr=_line(spec, "cidr")),
    )


def parse_calico_node_status(obj: Obj) -> CalicoNodeStatus:
    status = _map(obj.get("status"))
    bgp = _map(status.get("bgp"))
    peers = [{label_value(k): label_value(v) for k, v in p.items()} for p in _maps(bgp.get("peersV4"))]
    bird = _opt_str(_map(_map(status.get("agent")).get("birdV4")).get("state"))
    return CalicoNodeStatus(
        name=_name(obj), node=_opt_str(_spec(obj).get("node")), peers=peers, bird_state=bird
    )


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


def cilium_allocations(obj: Obj, mode: str = "cluster-pool") -> tuple[str, list[str], str]:
    """A CiliumNode's IPv4 pod CIDRs as Cilium's operator allocated them: (node, CIDRs, field).

    cluster-pool writes ``spec.ipam.podCIDRs``; multi-pool writes ``spec.ipam.pools.allocated``
    (one entry per pool, each with its ``cidrs``), and there podCIDRs is no allocation.
    Example: {"metadata": {"name": "worker-1"}, "spec": {"ipam": {"podCIDRs": ["10.216.137.32/27"]}}}
    -> ("worker-1", ["10.216.137.32/27"], "CiliumNode spec.ipam.podCIDRs")
    """
    ipam = _map(_spec(obj).get("ipam"))
    cidrs = [label_value(c) for c in ipam.get("podCIDRs") or [] if isinstance(c, str)]
    where = "CiliumNode spec.ipam.podCIDRs"
    allocated = _maps(_map(ipam.get("pools")).get("allocated"))
    if allocated or mode == "multi-pool":
        # multi-pool: spec.ipam.podCIDRs is no allocation there; agents before cilium commit 1568558
        # wrote their autogenerated range into it (cilium#28632)
        cidrs = [label_value(c) for a in allocated for c in a.get("cidrs") or [] if isinstance(c, str)]
        where = "CiliumNode spec.ipam.pools.allocated"
    return _name(obj), [c for c in cidrs if ":" not in c], where


def _ipam_mode(raw: RawCluster) -> str:
    """Cilium's IPAM mode from cilium-config (cluster-pool when unset, Cilium's default)."""
    return (raw.cilium_config or {}).get("ipam", "").strip() or "cluster-pool"


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
            n.pod_cidr_source = "Calico IPAMBlocks (affinity host:NODE)"
    if objs.get("ciliumnodes") and _ipam_mode(raw) != "kubernetes":
        # cluster-pool and multi-pool: Cilium's operator, not the Node's podCIDR, says what the node owns
        allocations = {
            name: (cidrs, where)
            for name, cidrs, where in (cilium_allocations(o, _ipam_mode(raw)) for o in objs["ciliumnodes"])
        }
        for n in nodes:
            if allocations.get(n.name, ([], ""))[0]:
                n.pod_cidrs, n.pod_cidr_source = allocations[n.name]
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
