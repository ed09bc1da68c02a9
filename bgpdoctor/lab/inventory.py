"""The inventory `lab up` writes: the lab described the way a user describes a real cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bgpdoctor.lab.configs import WDS_CN_PROTO, WDS_GW_PROTO, calico_proto
from bgpdoctor.lab.frr import lab_frr_dir
from bgpdoctor.lab.topology import (
    DUAL_STACK_HOSTS,
    KUBELET_PORT,
    LB_LAN,
    LB_NODE_ASN,
    LB_NODE_IP,
    LB_NODES,
    MS_NODE,
    NODE,
    NODE6,
    NODE_ASN,
    POD,
    POD_CIDR,
    POD_CIDR6,
    ROUTER,
    ROUTER6,
    TOR_ASN,
    TOR_IP,
    WDS_ASN,
    WDS_GATEWAY_IP,
    WDS_LAN,
    WDS_NODE,
    WDS_NODES,
    WDS_TRANSIT,
    ZT_NET,
    ZT_NET6,
    LabSettings,
    host_addresses,
    host_addresses6,
)

HEADER = """\
# bgpdoctor inventory for the network-namespace lab, written by `bgpdoctor lab up`.
# Regenerated on every `lab up`; edits are lost. Lab state: {state}
#
# Two sites joined by a ZeroTier stand-in (an L2 switch namespace, MTU 1420):
#   mine: router-mine (BIRD 2, AS 64513) + node sakamoto (GoBGP like Cilium, AS 64514)
#   home: router-home (BIRD 2, AS 64515) + node yuuko-k8s (GoBGP like Cilium, AS 64514)
# plus the seed-000 session router-mine <-> yuuko-k8s (eBGP multihop across ZeroTier).
# metrics-server is a pod namespace on sakamoto (10.42.0.10), the vantage point for kubelet checks.
# Seed 002, a separate Calico site (AS 64512, iBGP): kubemaster and kubenode-wds1 (BIRD 1.6) peer
# with the route reflector gateway (BIRD 2), which peers on with cn-ns (BIRD 2) over iepl0.
# Seed 003: tor (FRR as a switch, AS 65000) peers with master-01 and node-01 (GoBGP like Cilium,
# AS 65001), which both announce the LoadBalancer VIP 10.0.6.1/32 (pool 10.0.6.0/24); tor's
# control_socket is FRR's vty socket directory (`vtysh --vty_socket DIR`).
# Every host runs sshd on its management address ({mgmt}), reached through the root bridge
# {bridge}; `lab.interface_prefix` makes bgpdoctor refuse any lab target routed elsewhere.
# Host keys are pinned in defaults.ssh.known_hosts (generated per lab; no accept-new needed).
"""


def _peer(
    host: str | None,
    address: str,
    asn: int,
    name: str | None = None,
    passive: bool | None = None,
    multihop: int | None = None,
) -> dict[str, Any]:
    p: dict[str, Any] = {"host": host, "address": address, "asn": asn}
    if passive is not None:
        p["passive"] = passive
    if multihop is not None:
        p["multihop"] = multihop
    if name is not None:
        p["name"] = name
    return p


def build_inventory(s: LabSettings, passive_home: bool = True, multihop_yuuko: bool = True) -> dict[str, Any]:
    """The inventory as plain data (validates against bgpdoctor.inventory_model.Inventory).

    Example: build_inventory(s)["hosts"]["router-mine"]["peers"][1] ->
    {"host": "yuuko-k8s", "address": "192.168.0.81", "asn": 64514, "passive": True, "multihop": 4,
     "name": "yuuko_k8s"}
    """
    mine, home = ROUTER["router-mine"], ROUTER["router-home"]
    sak, yuu = NODE["sakamoto"], NODE["yuuko-k8s"]

    def ssh(host: str) -> dict[str, Any]:
        return {"ssh": {"host": s.mgmt_ip(host)}}

    def addrs(host: str) -> list[str]:
        return [str(a) for a in host_addresses(host)]

    hosts: dict[str, Any] = {
        "router-mine": {
            "role": "router",
            "site": "mine",
            "speaker": "bird2",
            "connect": ssh("router-mine"),
            "asn": mine.asn,
            "router_id": mine.router_id,
            "addresses": addrs("router-mine"),
            "control_socket": str(s.bird_socket("router-mine")),
            "peers": [
                _peer("sakamoto", sak.lan_ip, NODE_ASN, "sakamoto", passive=True),
                _peer("yuuko-k8s", yuu.lan_ip, NODE_ASN, "yuuko_k8s", passive=True, multihop=4),
                _peer("router-home", home.zt_ip, home.asn, "router_home", passive=False),
            ],
        },
        "router-home": {
            "role": "router",
            "site": "home",
            "speaker": "bird2",
            "connect": ssh("router-home"),
            "asn": home.asn,
            "router_id": home.router_id,
            "addresses": addrs("router-home"),
            "control_socket": str(s.bird_socket("router-home")),
            "peers": [
                _peer("yuuko-k8s", yuu.lan_ip, NODE_ASN, "yuuko_k8s", passive=passive_home),
                _peer("router-mine", mine.zt_ip, mine.asn, "router_mine", passive=False),
            ],
        },
    }
    for node, peers in (
        ("sakamoto", [_peer("router-mine", mine.lan_ip, mine.asn, passive=False)]),
        (
            "yuuko-k8s",
            [
                _peer("router-home", home.lan_ip, home.asn, passive=False),
                _peer(
                    "router-mine",
                    mine.lan_ip,
                    mine.asn,
                    passive=False,
                    multihop=4 if multihop_yuuko else None,
                ),
            ],
        ),
    ):
        n = NODE[node]
        hosts[node] = {
            "role": "node",
            "site": n.site,
            "speaker": "gobgp",
            "connect": ssh(node),
            "asn": NODE_ASN,
            "router_id": n.lan_ip,
            "addresses": addrs(node),
            "pod_cidrs": [n.pod_cidr],
            "pod_probe_ip": n.pod_ip,
            "internal_ip": n.lan_ip,
            "listens": False,
            "gobgp_api": "127.0.0.1:50051",
            "peers": peers,
        }
    hosts[POD] = {"role": "vantage", "site": NODE[MS_NODE].site, "connect": ssh(POD), "addresses": addrs(POD)}
    hosts.update(_wds_hosts(s, ssh, addrs))
    hosts.update(_lb_hosts(s, ssh, addrs))
    if s.dual_stack:
        _add_ipv6(hosts)
    inventory: dict[str, Any] = {
        "version": 1,
        "lab": {"interface_prefix": s.prefix},
        "defaults": {
            "ssh": {
                "user": "root",
                "identity_file": str(s.run_dir / "ssh" / "id_ed25519"),
                "known_hosts": str(s.run_dir / "ssh" / "known_hosts"),
                "connect_timeout": 5.0,
            }
        },
        "sites": {
            "mine": {"description": "main site (K3s control plane), router-mine", "lan": mine.lan},
            "home": {"description": "remote site over ZeroTier, router-home", "lan": home.lan},
            "wds": {"description": "seed 002: Calico VMs behind the reflector gateway", "lan": WDS_LAN},
            "iepl": {"description": "seed 002: the backbone namespace cn-ns, iBGP to the gateway"},
            "lb": {
                "description": "seed 003: Cilium nodes announce LoadBalancer VIPs to a switch",
                "lan": LB_LAN,
            },
        },
        "hosts": hosts,
        "switches": {
            "zt": {
                "description": "the ZeroTier network between the sites (an L2 switch, no login)",
                "segments": [ZT_NET],
            }
        },
        "vantage": {"metrics_server": POD, "kubelet_port": KUBELET_PORT},
        "pod_cidr": POD_CIDR,
    }
    if s.dual_stack:  # the two sites' IPv6 LANs, and the overlay carries both families
        inventory["sites"]["mine"]["lans"] = [ROUTER6["router-mine"].lan]
        inventory["sites"]["home"]["lans"] = [ROUTER6["router-home"].lan]
        inventory["switches"]["zt"]["segments"].append(ZT_NET6)
        inventory["pod_cidr"] = [POD_CIDR, POD_CIDR6]  # the cluster's pod range in each family
    return inventory


def _wds_hosts(
    s: LabSettings, ssh: Callable[[str], dict[str, Any]], addrs: Callable[[str], list[str]]
) -> dict[str, Any]:
    """Seed 002: gateway (BIRD 2 route reflector), cn-ns (BIRD 2), two Calico nodes (BIRD 1.6).

    The Calico nodes have no internal_ip: the kubelet vantage (metrics-server) belongs to the
    seed-001 cluster and has no route to this site.
    """
    nodes = list(WDS_NODES)
    hosts: dict[str, Any] = {
        "gateway": {
            "role": "router",
            "site": "wds",
            "speaker": "bird2",
            "connect": ssh("gateway"),
            "asn": WDS_ASN,
            "router_id": WDS_GATEWAY_IP,
            "addresses": addrs("gateway"),
            "control_socket": str(s.bird_socket("gateway")),
            "peers": [_peer(n, WDS_NODE[n].lan_ip, WDS_ASN, WDS_GW_PROTO[n], passive=False) for n in nodes]
            + [_peer("cn-ns", WDS_TRANSIT["cn-ns"], WDS_ASN, WDS_GW_PROTO["cn-ns"], passive=False)],
        },
        "cn-ns": {
            "role": "router",
            "site": "iepl",
            "speaker": "bird2",
            "connect": ssh("cn-ns"),
            "asn": WDS_ASN,
            "router_id": WDS_TRANSIT["cn-ns"],
            "addresses": addrs("cn-ns"),
            "control_socket": str(s.bird_socket("cn-ns")),
            "peers": [_peer("gateway", WDS_TRANSIT["gateway"], WDS_ASN, WDS_CN_PROTO, passive=False)],
        },
    }
    for node in nodes:
        w = WDS_NODE[node]
        hosts[node] = {
            "role": "node",
            "site": "wds",
            "speaker": "bird1",
            "connect": ssh(node),
            "asn": WDS_ASN,
            "router_id": w.lan_ip,
            "addresses": addrs(node),
            "pod_cidrs": [w.block],
            "pod_probe_ip": w.pod_ip,
            "listens": True,
            "control_socket": str(s.bird_socket(node)),
            "peers": [_peer("gateway", WDS_GATEWAY_IP, WDS_ASN, calico_proto(WDS_GATEWAY_IP), passive=False)],
        }
    return hosts


def _lb_hosts(
    s: LabSettings, ssh: Callable[[str], dict[str, Any]], addrs: Callable[[str], list[str]]
) -> dict[str, Any]:
    """Seed 003: tor (FRR as the switch, AS 65000) and two Cilium-like GoBGP nodes (AS 65001).

    The nodes announce LoadBalancer VIPs, not pod CIDRs: no pod_cidrs, no pod paths, no kubelet.
    """
    hosts: dict[str, Any] = {
        "tor": {
            "role": "router",
            "site": "lb",
            "speaker": "frr",
            "connect": ssh("tor"),
            "asn": TOR_ASN,
            "router_id": TOR_IP,
            "addresses": addrs("tor"),
            "control_socket": str(lab_frr_dir(s.ns("tor"))),
            "peers": [_peer(n, LB_NODE_IP[n], LB_NODE_ASN, passive=True) for n in LB_NODES],
        }
    }
    for node in LB_NODES:
        hosts[node] = {
            "role": "node",
            "site": "lb",
            "speaker": "gobgp",
            "connect": ssh(node),
            "asn": LB_NODE_ASN,
            "router_id": LB_NODE_IP[node],
            "addresses": addrs(node),
            "listens": False,
            "gobgp_api": "127.0.0.1:50051",
            "peers": [_peer("tor", TOR_IP, TOR_ASN, passive=False)],
        }
    return hosts


def render_inventory(s: LabSettings) -> str:
    """YAML text with the explanatory header."""
    import yaml

    head = HEADER.format(state=s.state_path, mgmt=s.mgmt_net, bridge=s.mgmt_bridge)
    if s.dual_stack:
        head += DUAL_STACK_NOTE
    return head + yaml.safe_dump(build_inventory(s), sort_keys=False, default_flow_style=False, width=110)


DUAL_STACK_NOTE = f"""\
# Dual stack (lab up --dual-stack): the seed-001 site runs IPv6 too. ULA plan: 192.168.c.0/24 ->
# fd00:192:168:c::/64 (host .h -> ::h), pods {POD_CIDR6} with one /64 per node; each node and router
# pair has a second, IPv6 BGP session (BIRD protocols *_v6), announcing the IPv6 pod CIDRs.
"""


def _add_ipv6(hosts: dict[str, Any]) -> None:
    """Dual stack: the seed-001 hosts' IPv6 addresses, pod CIDRs and IPv6 peers, as a user adds
    them to an IPv4 inventory (one peer entry per session; the BIRD protocol names)."""
    mine, home = ROUTER["router-mine"], ROUTER["router-home"]
    mine6, home6 = ROUTER6["router-mine"], ROUTER6["router-home"]
    sak6, yuu6 = NODE6["sakamoto"], NODE6["yuuko-k8s"]
    for host in DUAL_STACK_HOSTS:
        hosts[host]["addresses"] += [str(a) for a in host_addresses6(host)]
    hosts["router-mine"]["peers"] += [
        _peer("sakamoto", sak6.lan_ip, NODE_ASN, "sakamoto_v6", passive=True),
        _peer("router-home", home6.zt_ip, home.asn, "router_home_v6", passive=False),
    ]
    hosts["router-home"]["peers"] += [
        _peer("yuuko-k8s", yuu6.lan_ip, NODE_ASN, "yuuko_k8s_v6", passive=True),
        _peer("router-mine", mine6.zt_ip, mine.asn, "router_mine_v6", passive=False),
    ]
    for node, router in (("sakamoto", "router-mine"), ("yuuko-k8s", "router-home")):
        hosts[node]["pod_cidrs"].append(NODE6[node].pod_cidr)
        hosts[node]["peers"].append(_peer(router, ROUTER6[router].lan_ip, ROUTER[router].asn, passive=False))
