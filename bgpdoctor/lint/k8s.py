"""Kubernetes manifests read from files for lint: the objects go through the same parsers as the
live cluster's (bgpdoctor.kube.view), each model keeping its Source so findings point at file:line.

What is lint's own: multi-document and List files, Helm values and HelmRelease, the cilium-config
ConfigMap folded with them into one routing design, the node addresses that Talos, talhelper,
K3s/RKE2 and inventory files state, and the notes for documents it does not use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from bgpdoctor.intent import Loc
from bgpdoctor.kube.view import (
    CalicoBgpConfig,
    CalicoPeer,
    CiliumAdvertisement,
    CiliumClusterConfig,
    CiliumNodeOverride,
    CiliumPeerConfig,
    CiliumPeeringPolicy,
    KubeNode,
    LbPool,
    Source,
    cilium_routing,
    parse_calico_bgp_config,
    parse_calico_ippool,
    parse_calico_peer,
    parse_cilium_advertisement,
    parse_cilium_cluster_config,
    parse_cilium_config,
    parse_cilium_node_override,
    parse_cilium_peer_config,
    parse_lb_pool,
    parse_node,
    parse_peering_policy,
)
from bgpdoctor.lint.yamlsrc import Y

CILIUM_VALUE_KEYS = {
    "autoDirectNodeRoutes", "routingMode", "bgpControlPlane", "ipv4NativeRoutingCIDR", "kubeProxyReplacement",
    "tunnelProtocol", "ipam", "k8sServiceHost", "loadBalancer", "bpf",
}  # fmt: skip


# files that state hosts' addresses without being Kubernetes objects: Talos machine configs and
# talhelper's talconfig.yaml, K3s/RKE2 config.yaml, bgpdoctor and Ansible inventories
HOST_CONFIG_HINT = re.compile(
    r"^(machine|node-ip|node-external-ip|advertise-address|cluster-cidr|flannel-backend|clusterName"
    r"|talosVersion|hosts)\s*:|^\s+ansible_host\s*:",
    re.M,
)
_CLUSTER_GROUP = re.compile(r"k3s|k8s|kube|rke|talos|cluster|master|worker|node|control|server|agent", re.I)

CiliumBgpConfig = CiliumClusterConfig | CiliumPeeringPolicy  # v2, or a v2alpha1 policy's virtual router


def src_loc(src: Source | None, name: str = "") -> Loc:
    """Where a model object (or its field ``name``) is stated; objects lint reads always have a Source."""
    return Loc(src.file, src.line_of(name)) if src is not None else Loc("?", 0)


def src_at(src: Source | None, name: str) -> Loc | None:
    """Where field ``name`` is stated, None when the object does not state it."""
    return Loc(src.file, src.lines[name]) if src is not None and name in src.lines else None


def node_ips(node: KubeNode) -> list[tuple[IPv4Address, Loc]]:
    """The node's IPv4 addresses, each with the line stating it."""
    return [(IPv4Address(a), src_loc(node.source, f"addresses.{i}")) for i, a in enumerate(node.addresses)]


def node_subnets(node: KubeNode) -> list[tuple[IPv4Network, Loc]]:
    """The subnets the node's annotations state (an address with its prefix length)."""
    return [(IPv4Network(n), src_loc(node.source, f"subnets.{i}")) for i, n in enumerate(node.subnets)]


@dataclass
class HostAddress:
    """A Kubernetes node's address stated outside the Node objects.

    Example: HostAddress("cp-1", IPv4Address("10.0.60.11"), IPv4Network("10.0.60.0/24"),
    Loc("talconfig.yaml", 12), "talconfig")
    """

    name: str
    addr: IPv4Address
    subnet: IPv4Network | None
    loc: Loc
    source: str


@dataclass
class K8sInputs:
    """Everything read from manifests (all files together), as the live cluster's models."""

    nodes: list[KubeNode] = field(default_factory=list)
    cluster_configs: list[CiliumClusterConfig] = field(default_factory=list)
    peering_policies: list[CiliumPeeringPolicy] = field(default_factory=list)
    peer_configs: dict[str, CiliumPeerConfig] = field(default_factory=dict)
    advertisements: list[CiliumAdvertisement] = field(default_factory=list)
    overrides: dict[str, CiliumNodeOverride] = field(default_factory=dict)  # by node name
    lb_pools: list[LbPool] = field(default_factory=list)
    auto_direct: list[tuple[bool, Loc]] = field(default_factory=list)
    pod_cidrs: list[tuple[IPv4Network, Loc]] = field(default_factory=list)
    calico_peers: list[CalicoPeer] = field(default_factory=list)
    calico_configs: list[CalicoBgpConfig] = field(default_factory=list)
    calico_present: bool = False
    routing: list[tuple[str, Loc]] = field(default_factory=list)  # ("native" | "tunnel", where)
    host_addresses: list[HostAddress] = field(default_factory=list)
    l2_announcements: Loc | None = None  # LB IPs answered by ARP (CiliumL2AnnouncementPolicy), not BGP

    def bgp_configs(self) -> list[CiliumBgpConfig]:
        return [*self.cluster_configs, *self.peering_policies]

    def calico_asn(self) -> tuple[int, Loc] | None:
        """The cluster's Calico ASN (the last BGPConfiguration stating one) and where."""
        stated = [(c.as_number, src_at(c.source, "as_number")) for c in self.calico_configs if c.as_number]
        return (stated[-1][0], stated[-1][1] or Loc("?", 0)) if stated else None

    def calico_mesh(self) -> tuple[bool, Loc] | None:
        """Calico's node-to-node mesh setting (the last BGPConfiguration stating it) and where."""
        stated = [(c.node_to_node_mesh, src_loc(c.source, "node_to_node_mesh")) for c in self.calico_configs
                  if c.node_to_node_mesh is not None]  # fmt: skip
        return (bool(stated[-1][0]), stated[-1][1]) if stated else None

    def empty(self) -> bool:
        return not (
            self.nodes or self.bgp_configs() or self.peer_configs or self.advertisements or self.lb_pools
            or self.auto_direct or self.pod_cidrs or self.calico_peers or self.calico_present
            or self.routing or self.host_addresses
        )  # fmt: skip


def _net(text: str) -> IPv4Network | None:
    try:
        return IPv4Network(text.strip(), strict=False)
    except ValueError:
        return None


def _v4_nets(texts: list[str], where: Loc) -> list[tuple[IPv4Network, Loc]]:
    nets = [n for n in (_net(t) for t in texts) if n is not None]
    return [(n, where) for n in dict.fromkeys(nets)]


def _iface_addr(text: str) -> tuple[IPv4Address, IPv4Network | None] | None:
    try:
        iface = IPv4Interface(text.strip())
    except ValueError:
        return None
    return iface.ip, iface.network if "/" in text and iface.network.prefixlen < 32 else None


def _host(out: K8sInputs, name: str, text: str, y: Y, file: str, source: str) -> None:
    for part in text.split(","):
        got = _iface_addr(part)
        if got is not None and not got[0].is_loopback and not got[0].is_unspecified:
            out.host_addresses.append(HostAddress(name, got[0], got[1], Loc(file, y.line), source))


def _talos_interfaces(out: K8sInputs, name: str, y: Y | None, file: str, source: str) -> None:
    for iface in y.ls() if y is not None else []:
        for a in iface.ls("addresses"):
            _host(out, name, a.text(), a, file, source)
        for vlan in iface.ls("vlans"):
            for a in vlan.ls("addresses"):
                _host(out, name, a.text(), a, file, source)


def _host_config(d: Y, file: str, out: K8sInputs) -> bool:
    """Node addresses (and pod CIDRs) from Talos, talhelper, K3s/RKE2 and inventory files."""
    before = (len(out.host_addresses), len(out.pod_cidrs))
    net = d.get("machine", "network")
    if net is not None:  # Talos machine config or patch
        name = d.s("machine", "network", "hostname") or file.rsplit("/", 1)[-1]
        _talos_interfaces(out, name, net.get("interfaces"), file, "Talos machine config")
    for sub in d.ls("cluster", "network", "podSubnets") + d.ls("clusterPodNets"):
        n = _net(sub.text())
        if n and n.version == 4:
            out.pod_cidrs.append((n, Loc(file, sub.line)))
    if d.get("clusterName") is not None:  # talhelper talconfig.yaml
        for node in d.ls("nodes"):
            name = node.s("hostname") or "?"
            ip = node.get("ipAddress")
            if ip is not None:
                _host(out, name, ip.text(), ip, file, "talconfig")
            _talos_interfaces(out, name, node.get("networkInterfaces"), file, "talconfig")
    for key in ("node-ip", "node-external-ip", "advertise-address"):  # K3s / RKE2 config.yaml
        y = d.get(key)
        if y is not None:
            for it in y.v if isinstance(y.v, list) else [y]:
                _host(out, f"k3s node ({file.rsplit('/', 1)[-1]})", it.text(), it, file, "K3s config")
    cc = d.get("cluster-cidr")
    if cc is not None:
        for part in cc.text().split(","):
            n = _net(part.strip())
            if n and n.version == 4:
                out.pod_cidrs.append((n, Loc(file, cc.line)))
    hosts = d.m("hosts")
    if d.get("version") is not None and hosts:  # bgpdoctor inventory
        for name, h in hosts.items():
            if h.s("role") == "node":
                for a in h.ls("addresses") + [x for x in [h.get("internal_ip")] if x is not None]:
                    _host(out, name, a.text(), a, file, "inventory")
    elif not d.get("version"):
        _ansible(d, file, out, False)
    return (len(out.host_addresses), len(out.pod_cidrs)) != before


def _ansible(group: Y, file: str, out: K8sInputs, cluster: bool, depth: int = 0) -> None:
    """Ansible YAML inventory: hosts with ansible_host in groups whose names say Kubernetes."""
    if depth > 16:
        return
    for gname, g in group.m().items():
        if not isinstance(g.v, dict):
            continue
        inside = cluster or bool(_CLUSTER_GROUP.search(gname))
        if inside:
            for hname, h in g.m("hosts").items():
                ip = h.get("ansible_host")
                if ip is not None:
                    _host(out, hname, ip.text(), ip, file, "Ansible inventory")
        _ansible(Y(g.m("children"), g.line), file, out, inside, depth + 1)


def _cilium_values(v: Y, file: str, out: K8sInputs) -> None:
    mode = v.get("routingMode") or v.get("tunnel")
    routing = cilium_routing(mode.v) if mode is not None and isinstance(mode.v, str) else None
    if mode is not None and routing is not None:
        out.routing.append((routing, Loc(file, mode.line)))
    l2 = v.get("l2announcements", "enabled")
    if l2 is not None and v.b("l2announcements", "enabled"):
        out.l2_announcements = Loc(file, l2.line)
    host = v.get("k8sServiceHost")
    if host is not None and isinstance(host.v, str):
        _host(out, "the API server (k8sServiceHost)", host.v, host, file, "Cilium values")
    adr = v.get("autoDirectNodeRoutes")
    if adr is not None and v.b("autoDirectNodeRoutes") is not None:
        out.auto_direct.append((bool(v.b("autoDirectNodeRoutes")), Loc(file, adr.line)))
    pool = v.get("ipam", "operator", "clusterPoolIPv4PodCIDRList")
    if pool is not None:
        items = pool.v if isinstance(pool.v, list) else [pool]
        for it in items:
            for part in it.text().split(","):
                n = _net(part.strip())
                if n:
                    out.pod_cidrs.append((n, Loc(file, it.line)))


def _cilium_config_map(data: Y, file: str, out: K8sInputs) -> None:
    cfg = parse_cilium_config(data.located(file))
    routing = cilium_routing(cfg.routing_mode)
    if routing is not None:
        out.routing.append((routing, src_loc(cfg.source, "routing_mode")))
    where = src_at(cfg.source, "auto_direct_node_routes")
    if where is not None:
        out.auto_direct.append((cfg.auto_direct_node_routes, where))
    out.pod_cidrs += _v4_nets(cfg.cluster_pool_cidrs, src_loc(cfg.source, "cluster_pool_cidrs"))


QUIET_KINDS = {"Secret", "Namespace", "Service", "Deployment", "DaemonSet", "ServiceAccount"}
CALICO_APIS = ("crd.projectcalico.org/", "projectcalico.org/")


def read_document(d: Y, file: str, out: K8sInputs) -> str | None:
    """Fold one YAML document into out. Returns a note for documents it ignores, else None."""
    kind = d.s("kind")
    api = d.s("apiVersion") or ""
    cilium = api.startswith("cilium.io/")
    calico = api.startswith(CALICO_APIS)
    if kind is None:
        if isinstance(d.v, dict) and CILIUM_VALUE_KEYS & set(d.v):
            _cilium_values(d, file, out)
            return None
        if isinstance(d.v, dict) and _host_config(d, file, out):
            return None
        return "no apiVersion/kind: not a Kubernetes object, ignored"
    if kind == "Node":
        node = parse_node(d.located(file))
        out.nodes.append(node)
        out.pod_cidrs += _v4_nets(node.pod_cidrs, src_loc(node.source, "name"))
    elif kind == "NodeList" or (kind == "List" and d.ls("items")):
        for it in d.ls("items"):
            if isinstance(it.v, dict):
                sub = it if it.s("kind") else Y({**it.v, "kind": Y("Node", it.line)}, it.line)
                read_document(sub, file, out)
    elif cilium and kind == "CiliumBGPClusterConfig":
        out.cluster_configs.append(parse_cilium_cluster_config(d.located(file)))
    elif cilium and kind == "CiliumBGPPeeringPolicy":
        out.peering_policies += parse_peering_policy(d.located(file))
    elif cilium and kind == "CiliumBGPPeerConfig":
        pc = parse_cilium_peer_config(d.located(file))
        out.peer_configs[pc.name or "?"] = pc
    elif cilium and kind == "CiliumBGPAdvertisement":
        out.advertisements.append(parse_cilium_advertisement(d.located(file)))
    elif cilium and kind == "CiliumBGPNodeConfigOverride":
        override = parse_cilium_node_override(d.located(file))
        out.overrides[override.name or "?"] = override
    elif cilium and kind == "CiliumL2AnnouncementPolicy":
        out.l2_announcements = Loc(file, d.line)
    elif cilium and kind == "CiliumLoadBalancerIPPool":
        out.lb_pools.append(parse_lb_pool(d.located(file)))
    elif kind == "ConfigMap" and d.s("metadata", "name") == "cilium-config":
        data = d.get("data")
        _cilium_config_map(
            data if data is not None and isinstance(data.v, dict) else Y({}, d.line), file, out
        )
    elif kind == "HelmRelease" and d.get("spec", "values") is not None:
        _cilium_values(d.get("spec", "values") or Y({}, 0), file, out)
    elif calico and kind == "BGPPeer":
        out.calico_present = True
        out.calico_peers.append(parse_calico_peer(d.located(file)))
    elif calico and kind == "BGPConfiguration":
        out.calico_present = True
        out.calico_configs.append(parse_calico_bgp_config(d.located(file)))
    elif calico and kind == "IPPool":
        out.calico_present = True
        pool = parse_calico_ippool(d.located(file))
        out.pod_cidrs += _v4_nets([pool.cidr], src_loc(pool.source, "cidr"))
    elif api.startswith("operator.tigera.io/") and kind == "Installation":
        out.calico_present = True
        for p in d.ls("spec", "calicoNetwork", "ipPools"):
            n = _net(p.s("cidr") or "")
            if n:
                out.pod_cidrs.append((n, Loc(file, (p.get("cidr") or p).line)))
    elif kind in QUIET_KINDS:
        return None
    else:
        return f"kind {kind} ({api or 'no apiVersion'}) is not used by the linter, ignored"
    return None
