"""Kubernetes manifests that carry BGP intent: Nodes, Cilium BGP (v2, v2alpha1), LB IP pools,
cilium-config / Helm values, Calico BGPPeer / BGPConfiguration / IPPool / Installation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, summarize_address_range

from bgpdoctor.lint.model import Loc
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

ADDRESS_ANNOTATIONS = (
    "k3s.io/internal-ip",
    "alpha.kubernetes.io/provided-node-ip",
    "projectcalico.org/IPv4Address",
)


@dataclass
class LabelSel:
    """A Kubernetes LabelSelector. Example: LabelSel({"node-type": "remote"}, [], Loc("n.yaml", 9))"""

    match_labels: dict[str, str]
    exprs: list[tuple[str, str, list[str]]]
    loc: Loc

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        for key, op, values in self.exprs:
            present = key in labels
            if op == "In" and not (present and labels[key] in values):
                return False
            if op == "NotIn" and present and labels[key] in values:
                return False
            if op == "Exists" and not present:
                return False
            if op == "DoesNotExist" and present:
                return False
        return True

    def text(self) -> str:
        parts = [f"{k}={v}" for k, v in self.match_labels.items()]
        parts += [f"{k} {op} {v}" for k, op, v in self.exprs]
        return ", ".join(parts) or "{}"


def label_selector(y: Y | None, file: str) -> LabelSel | None:
    if y is None:
        return None
    ml = {k: v.text() for k, v in y.m("matchLabels").items()}
    ex = [
        (e.s("key") or "", e.s("operator") or "In", [x.text() for x in e.ls("values")])
        for e in y.ls("matchExpressions")
    ]
    return LabelSel(ml, ex, Loc(file, y.line))


@dataclass
class K8sNode:
    name: str
    loc: Loc
    labels: dict[str, str]
    addresses: list[tuple[IPv4Address, Loc]]
    subnets: list[tuple[IPv4Network, Loc]]
    pod_cidrs: list[tuple[IPv4Network, Loc]]
    asn: int | None = None


@dataclass
class CiliumPeer:
    name: str
    loc: Loc
    addr: IPv4Address | None
    addr_loc: Loc
    asn: int | None
    asn_loc: Loc
    peer_config: str | None
    peer_config_loc: Loc | None
    local_asn: int | None
    local_asn_loc: Loc | None
    instance: str = ""
    multihop: int | None = None  # v2alpha1 peering policy inline
    auth: bool = False
    export_pod_cidr: bool | None = None  # v2alpha1


@dataclass
class ClusterConfig:
    """A CiliumBGPClusterConfig, or a v2alpha1 CiliumBGPPeeringPolicy made to look like one."""

    name: str
    loc: Loc
    kind: str
    selector: LabelSel | None
    peers: list[CiliumPeer]
    service_selector: bool = False


@dataclass
class Family:
    afi: str
    safi: str
    adv: LabelSel | None
    loc: Loc


@dataclass
class PeerConfig:
    name: str
    loc: Loc
    multihop: int | None
    multihop_loc: Loc | None
    auth: bool
    auth_loc: Loc | None
    families: list[Family]


@dataclass
class AdvItem:
    type: str
    addresses: list[str]
    has_selector: bool
    loc: Loc


@dataclass
class Advertisement:
    name: str
    loc: Loc
    labels: dict[str, str]
    items: list[AdvItem]


@dataclass
class LbPool:
    name: str
    loc: Loc
    blocks: list[tuple[list[IPv4Network], str, Loc]]


@dataclass
class CalicoPeer:
    name: str
    loc: Loc
    node: str | None
    selector: str | None
    selector_loc: Loc | None
    peer_ip: IPv4Address | None
    peer_ip_loc: Loc
    asn: int | None
    asn_loc: Loc
    password: bool
    password_loc: Loc | None


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
    """Everything read from manifests (all files together)."""

    nodes: list[K8sNode] = field(default_factory=list)
    cluster_configs: list[ClusterConfig] = field(default_factory=list)
    peer_configs: dict[str, PeerConfig] = field(default_factory=dict)
    advertisements: list[Advertisement] = field(default_factory=list)
    overrides: dict[str, tuple[Loc, dict[str, tuple[IPv4Address | None, Loc]], int | None]] = field(
        default_factory=dict
    )
    lb_pools: list[LbPool] = field(default_factory=list)
    auto_direct: list[tuple[bool, Loc]] = field(default_factory=list)
    pod_cidrs: list[tuple[IPv4Network, Loc]] = field(default_factory=list)
    calico_peers: list[CalicoPeer] = field(default_factory=list)
    calico_asn: tuple[int, Loc] | None = None
    calico_mesh: tuple[bool, Loc] | None = None
    calico_present: bool = False
    routing: list[tuple[str, Loc]] = field(default_factory=list)  # ("native" | "tunnel", where)
    host_addresses: list[HostAddress] = field(default_factory=list)
    l2_announcements: Loc | None = None  # LB IPs answered by ARP (CiliumL2AnnouncementPolicy), not BGP

    def empty(self) -> bool:
        return not (
            self.nodes or self.cluster_configs or self.peer_configs or self.advertisements or self.lb_pools
            or self.auto_direct or self.pod_cidrs or self.calico_peers or self.calico_present
            or self.routing or self.host_addresses
        )  # fmt: skip


def _ip(text: str | None) -> IPv4Address | None:
    if not text:
        return None
    try:
        return IPv4Interface(text).ip
    except ValueError:
        return None


def _net(text: str) -> IPv4Network | None:
    try:
        return IPv4Network(text, strict=False)
    except ValueError:
        return None


def _routing_mode(text: str) -> str | None:
    """Cilium's routing mode from routingMode / routing-mode or the older tunnel setting."""
    t = text.strip().lower()
    if t in ("native", "disabled"):
        return "native"
    if t in ("tunnel", "vxlan", "geneve"):
        return "tunnel"
    return None


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
    if mode is not None and isinstance(mode.v, str) and _routing_mode(mode.v):
        out.routing.append((_routing_mode(mode.v) or "", Loc(file, mode.line)))
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


def _node(d: Y, file: str) -> K8sNode:
    meta = d.m("metadata")
    name = d.s("metadata", "name") or "?"
    labels = {k: v.text() for k, v in d.m("metadata", "labels").items()}
    ann = d.m("metadata", "annotations")
    addrs: list[tuple[IPv4Address, Loc]] = []
    subnets: list[tuple[IPv4Network, Loc]] = []
    for a in d.ls("status", "addresses"):
        if a.s("type") in ("InternalIP", "ExternalIP"):
            ip = _ip(a.s("address"))
            if ip:
                addrs.append((ip, Loc(file, a.line)))
    for key in ADDRESS_ANNOTATIONS:
        if key in ann:
            for part in ann[key].text().split(","):
                try:
                    iface = IPv4Interface(part.strip())
                except ValueError:
                    continue
                if iface.ip not in [x for x, _ in addrs]:
                    addrs.append((iface.ip, Loc(file, ann[key].line)))
                if "/" in part and iface.network.prefixlen < 32:
                    subnets.append((iface.network, Loc(file, ann[key].line)))
    pods: list[tuple[IPv4Network, Loc]] = []
    for key in ("podCIDR", "podCIDRs"):
        y = d.get("spec", key)
        if y is None:
            continue
        for it in y.v if isinstance(y.v, list) else [y]:
            n = _net(it.text())
            if n and n.version == 4 and n not in [p for p, _ in pods]:
                pods.append((n, Loc(file, it.line)))
    asn = ann.get("projectcalico.org/ASNumber")
    return K8sNode(
        name, Loc(file, meta["name"].line if "name" in meta else d.line), labels, addrs, subnets, pods,
        int(asn.text()) if asn is not None and re.fullmatch(r"[0-9]{1,10}", asn.text()) else None,
    )  # fmt: skip


def _cluster_config(d: Y, file: str) -> ClusterConfig:
    peers: list[CiliumPeer] = []
    for inst in d.ls("spec", "bgpInstances"):
        la = inst.get("localASN")
        for p in inst.ls("peers"):
            addr_y, asn_y, ref = p.get("peerAddress"), p.get("peerASN"), p.get("peerConfigRef", "name")
            peers.append(
                CiliumPeer(
                    p.s("name") or "?", Loc(file, p.line), _ip(p.s("peerAddress")),
                    Loc(file, addr_y.line if addr_y else p.line), p.i("peerASN"),
                    Loc(file, asn_y.line if asn_y else p.line), p.s("peerConfigRef", "name"),
                    Loc(file, ref.line) if ref else None, inst.i("localASN"),
                    Loc(file, la.line) if la else None, inst.s("name") or "",
                )
            )  # fmt: skip
    return ClusterConfig(
        d.s("metadata", "name") or "?", Loc(file, d.line), "CiliumBGPClusterConfig",
        label_selector(d.get("spec", "nodeSelector"), file), peers,
    )  # fmt: skip


def _peering_policy(d: Y, file: str) -> ClusterConfig:
    peers: list[CiliumPeer] = []
    svc = False
    for vr in d.ls("spec", "virtualRouters"):
        la = vr.get("localASN")
        epc = vr.b("exportPodCIDR")
        svc = svc or vr.get("serviceSelector") is not None
        for n in vr.ls("neighbors"):
            addr_y, asn_y = n.get("peerAddress"), n.get("peerASN")
            peers.append(
                CiliumPeer(
                    n.s("peerAddress") or "?", Loc(file, n.line), _ip(n.s("peerAddress")),
                    Loc(file, addr_y.line if addr_y else n.line), n.i("peerASN"),
                    Loc(file, asn_y.line if asn_y else n.line), None, None, vr.i("localASN"),
                    Loc(file, la.line) if la else None, "", n.i("eBGPMultihopTTL"),
                    n.get("authSecretRef") is not None, bool(epc),
                )
            )  # fmt: skip
    return ClusterConfig(
        d.s("metadata", "name") or "?", Loc(file, d.line), "CiliumBGPPeeringPolicy",
        label_selector(d.get("spec", "nodeSelector"), file), peers, svc,
    )  # fmt: skip


def _peer_config(d: Y, file: str) -> PeerConfig:
    mh, auth = d.get("spec", "ebgpMultihop"), d.get("spec", "authSecretRef")
    fams = [
        Family(
            f.s("afi") or "",
            f.s("safi") or "",
            label_selector(f.get("advertisements"), file),
            Loc(file, f.line),
        )
        for f in d.ls("spec", "families")
    ]
    return PeerConfig(
        d.s("metadata", "name") or "?", Loc(file, d.line), d.i("spec", "ebgpMultihop"),
        Loc(file, mh.line) if mh else None, auth is not None, Loc(file, auth.line) if auth else None, fams,
    )  # fmt: skip


def _advertisement(d: Y, file: str) -> Advertisement:
    items = [
        AdvItem(
            a.s("advertisementType") or "",
            [x.text() for x in a.ls("service", "addresses")],
            a.get("selector") is not None,
            Loc(file, a.line),
        )
        for a in d.ls("spec", "advertisements")
    ]
    labels = {k: v.text() for k, v in d.m("metadata", "labels").items()}
    return Advertisement(d.s("metadata", "name") or "?", Loc(file, d.line), labels, items)


def _lb_pool(d: Y, file: str) -> LbPool:
    blocks: list[tuple[list[IPv4Network], str, Loc]] = []
    for b in d.ls("spec", "blocks") + d.ls("spec", "cidrs"):
        if b.s("cidr"):
            n = _net(b.s("cidr") or "")
            if n and n.version == 4:
                blocks.append(([n], b.s("cidr") or "", Loc(file, b.line)))
        elif b.s("start"):
            try:
                a, z = IPv4Address(b.s("start")), IPv4Address(b.s("stop") or b.s("start"))
                nets = list(summarize_address_range(a, z))
            except ValueError:  # not IPv4, or stop before start
                continue
            blocks.append((nets, f"{a}-{z}", Loc(file, b.line)))
    return LbPool(d.s("metadata", "name") or "?", Loc(file, d.line), blocks)


def _calico_peer(d: Y, file: str) -> CalicoPeer:
    sel, ip, asn = d.get("spec", "nodeSelector"), d.get("spec", "peerIP"), d.get("spec", "asNumber")
    pw = d.get("spec", "password")
    peer_ip = (d.s("spec", "peerIP") or "").split(":")[0]
    return CalicoPeer(
        d.s("metadata", "name") or "?", Loc(file, d.line), d.s("spec", "node"), d.s("spec", "nodeSelector"),
        Loc(file, sel.line) if sel else None, _ip(peer_ip), Loc(file, ip.line if ip else d.line),
        d.i("spec", "asNumber"), Loc(file, asn.line if asn else d.line), pw is not None,
        Loc(file, pw.line) if pw else None,
    )  # fmt: skip


QUIET_KINDS = {"Secret", "Namespace", "Service", "Deployment", "DaemonSet", "ServiceAccount"}


def read_document(d: Y, file: str, out: K8sInputs) -> str | None:
    """Fold one YAML document into out. Returns a note for documents it ignores, else None."""
    kind = d.s("kind")
    api = d.s("apiVersion") or ""
    if kind is None:
        if isinstance(d.v, dict) and CILIUM_VALUE_KEYS & set(d.v):
            _cilium_values(d, file, out)
            return None
        if isinstance(d.v, dict) and _host_config(d, file, out):
            return None
        return "no apiVersion/kind: not a Kubernetes object, ignored"
    if kind == "Node":
        node = _node(d, file)
        out.nodes.append(node)
        out.pod_cidrs += node.pod_cidrs
    elif kind == "NodeList" or (kind == "List" and d.ls("items")):
        for it in d.ls("items"):
            if isinstance(it.v, dict):
                sub = it if it.s("kind") else Y({**it.v, "kind": Y("Node", it.line)}, it.line)
                read_document(sub, file, out)
    elif api.startswith("cilium.io/") and kind == "CiliumBGPClusterConfig":
        out.cluster_configs.append(_cluster_config(d, file))
    elif api.startswith("cilium.io/") and kind == "CiliumBGPPeeringPolicy":
        out.cluster_configs.append(_peering_policy(d, file))
    elif api.startswith("cilium.io/") and kind == "CiliumBGPPeerConfig":
        pc = _peer_config(d, file)
        out.peer_configs[pc.name] = pc
    elif api.startswith("cilium.io/") and kind == "CiliumBGPAdvertisement":
        out.advertisements.append(_advertisement(d, file))
    elif api.startswith("cilium.io/") and kind == "CiliumBGPNodeConfigOverride":
        peers: dict[str, tuple[IPv4Address | None, Loc]] = {}
        asn = None
        for inst in d.ls("spec", "bgpInstances"):
            asn = inst.i("localASN") or asn
            for p in inst.ls("peers"):
                la = p.get("localAddress")
                peers[p.s("name") or "?"] = (_ip(p.s("localAddress")), Loc(file, la.line if la else p.line))
        out.overrides[d.s("metadata", "name") or "?"] = (Loc(file, d.line), peers, asn)
    elif api.startswith("cilium.io/") and kind == "CiliumL2AnnouncementPolicy":
        out.l2_announcements = Loc(file, d.line)
    elif api.startswith("cilium.io/") and kind == "CiliumLoadBalancerIPPool":
        out.lb_pools.append(_lb_pool(d, file))
    elif kind == "ConfigMap" and d.s("metadata", "name") == "cilium-config":
        data = d.m("data")
        for key in ("routing-mode", "tunnel"):
            if key in data and _routing_mode(data[key].text()):
                out.routing.append((_routing_mode(data[key].text()) or "", Loc(file, data[key].line)))
                break
        if "auto-direct-node-routes" in data:
            y = data["auto-direct-node-routes"]
            out.auto_direct.append((y.text().lower() == "true", Loc(file, y.line)))
        if "cluster-pool-ipv4-cidr" in data:
            y = data["cluster-pool-ipv4-cidr"]
            for part in re.split(r"[ ,]+", y.text()):
                n = _net(part)
                if n:
                    out.pod_cidrs.append((n, Loc(file, y.line)))
    elif kind == "HelmRelease" and d.get("spec", "values") is not None:
        _cilium_values(d.get("spec", "values") or Y({}, 0), file, out)
    elif api.startswith(("crd.projectcalico.org/", "projectcalico.org/")) and kind == "BGPPeer":
        out.calico_present = True
        out.calico_peers.append(_calico_peer(d, file))
    elif api.startswith(("crd.projectcalico.org/", "projectcalico.org/")) and kind == "BGPConfiguration":
        out.calico_present = True
        if d.i("spec", "asNumber") is not None:
            out.calico_asn = (d.i("spec", "asNumber") or 0, Loc(file, (d.get("spec", "asNumber") or d).line))
        mesh = d.get("spec", "nodeToNodeMeshEnabled")
        if mesh is not None:
            out.calico_mesh = (bool(d.b("spec", "nodeToNodeMeshEnabled")), Loc(file, mesh.line))
    elif api.startswith(("crd.projectcalico.org/", "projectcalico.org/")) and kind == "IPPool":
        out.calico_present = True
        n = _net(d.s("spec", "cidr") or "")
        if n and n.version == 4:
            out.pod_cidrs.append((n, Loc(file, (d.get("spec", "cidr") or d).line)))
    elif api.startswith("operator.tigera.io/") and kind == "Installation":
        out.calico_present = True
        for p in d.ls("spec", "calicoNetwork", "ipPools"):
            n = _net(p.s("cidr") or "")
            if n and n.version == 4:
                out.pod_cidrs.append((n, Loc(file, (p.get("cidr") or p).line)))
    elif kind in QUIET_KINDS:
        return None
    else:
        return f"kind {kind} ({api or 'no apiVersion'}) is not used by the linter, ignored"
    return None


# -- Calico selectors ---------------------------------------------------------------------------
MAX_SELECTOR_NESTING = 50
_SEL_TOK = re.compile(r"\s*(==|!=|&&|\|\||!|\(|\)|\{|\}|,|'[^']*'|\"[^\"]*\"|[A-Za-z0-9_./-]+)")


def calico_selector_matches(expr: str, labels: dict[str, str]) -> bool:
    """Evaluate a Calico selector (==, !=, in {..}, not in, has(), all(), !, &&, ||, parentheses).

    Example: calico_selector_matches("region == 'WDS'", {"region": "WDS"}) -> True
    Raises ValueError on syntax it does not understand.
    """
    toks: list[str] = []
    pos = 0
    while pos < len(expr):
        if expr[pos:].strip() == "":
            break
        m = _SEL_TOK.match(expr, pos)
        if not m:
            raise ValueError(f"bad selector near {expr[pos:]!r}")
        toks.append(m.group(1))
        pos = m.end()
    i = 0
    depth = 0

    def peek() -> str | None:
        return toks[i] if i < len(toks) else None

    def take() -> str:
        nonlocal i
        if i >= len(toks):
            raise ValueError("selector ends too early")
        i += 1
        return toks[i - 1]

    def lit(t: str) -> str:
        return t[1:-1] if t[:1] in "'\"" else t

    def or_() -> bool:
        v = and_()
        while peek() == "||":
            take()
            v = and_() or v
        return v

    def and_() -> bool:
        v = unary()
        while peek() == "&&":
            take()
            v = unary() and v
        return v

    def unary() -> bool:
        nonlocal depth
        t = take()
        if t in ("!", "("):
            depth += 1
            if depth > MAX_SELECTOR_NESTING:
                raise ValueError(f"selector nested deeper than {MAX_SELECTOR_NESTING} levels")
            v = not unary() if t == "!" else or_()
            if t == "(" and take() != ")":
                raise ValueError("missing )")
            depth -= 1
            return v
        if t in ("all", "has") and peek() == "(":
            take()
            if t == "all":
                take() if peek() == ")" else None
                return True
            key = take()
            take()
            return key in labels
        key = t
        op = take()
        if op == "not" and peek() == "in":
            take()
            op = "not in"
        if op in ("in", "not in"):
            if take() != "{":
                raise ValueError("expected {")
            vals: list[str] = []
            while peek() not in ("}", None):
                x = take()
                if x != ",":
                    vals.append(lit(x))
            take()
            inside = key in labels and labels[key] in vals
            return inside if op == "in" else not inside
        val = lit(take())
        if op == "==":
            return labels.get(key) == val
        if op == "!=":
            return labels.get(key) != val
        raise ValueError(f"unknown operator {op}")

    result = or_()
    if i != len(toks):
        raise ValueError(f"unexpected {toks[i]!r}")
    return result
