"""The lab's fixed topology (seed 001 plus the seed-000 multihop session, the seed-002 Calico
site) and its settings.

Everything the other lab modules need to know about hosts, addresses and AS numbers lives here,
so the configs, the inventory and the health checks can never disagree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address
from pathlib import Path

DEFAULT_RUN_DIR = "/var/lib/bgpdoctor/lab"
DEFAULT_PREFIX = "bdl-"
DEFAULT_MGMT_NET = "172.31.254.0/24"

ROUTERS = ("router-mine", "router-home")
NODES = ("sakamoto", "yuuko-k8s")
POD = "metrics-server"
SWITCH = "zt"
# seed 002: Calico (BIRD 1.6) nodes behind a BIRD 2 route reflector "gateway", iBGP on to "cn-ns"
WDS_ROUTERS = ("gateway", "cn-ns")
WDS_NODES = ("kubemaster", "kubenode-wds1")
# seed 003: a switch-like BGP peer "tor" (FRR) and two Cilium-like GoBGP nodes announcing LB VIPs
LB_ROUTERS = ("tor",)
LB_NODES = ("master-01", "node-01")
HOSTS = (*ROUTERS, *NODES, POD, *WDS_ROUTERS, *WDS_NODES, *LB_ROUTERS, *LB_NODES)  # sshd + mgmt0
NAMESPACES = (*HOSTS, SWITCH)

NODE_ASN = 64514
POD_CIDR = "10.42.0.0/16"
KUBELET_PORT = 10250
ZT_MTU = 1420


@dataclass(frozen=True)
class RouterSpec:
    asn: int
    router_id: str
    lan_ip: str
    lan: str
    site: str
    zt_ip: str
    bk_ip: str


@dataclass(frozen=True)
class NodeSpec:
    lan_ip: str
    gateway: str
    pod_cidr: str
    pod_ip: str  # cilium_host
    site: str
    router: str


ROUTER = {
    "router-mine": RouterSpec(
        64513, "192.168.6.1", "192.168.6.1", "192.168.6.0/24", "mine", "192.168.191.12", "10.255.255.1"
    ),
    "router-home": RouterSpec(
        64515, "192.168.191.10", "192.168.0.1", "192.168.0.0/24", "home", "192.168.191.10", "10.255.255.2"
    ),
}
NODE = {
    "sakamoto": NodeSpec("192.168.6.80", "192.168.6.1", "10.42.0.0/24", "10.42.0.1", "mine", "router-mine"),
    "yuuko-k8s": NodeSpec("192.168.0.81", "192.168.0.1", "10.42.3.0/24", "10.42.3.1", "home", "router-home"),
}
MS_POD_IP = "10.42.0.10"
MS_NODE = "sakamoto"
MGMT_ID = {
    "router-mine": 11,
    "router-home": 12,
    "gateway": 13,
    "cn-ns": 14,
    "sakamoto": 21,
    "yuuko-k8s": 22,
    "kubemaster": 23,
    "kubenode-wds1": 24,
    "tor": 15,
    "master-01": 25,
    "node-01": 26,
    "metrics-server": 31,
}
YUUKO_ZT_IP = "192.168.191.81"  # only with the unexpected-source-address fault
YUUKO_ZT_MAC = "02:5a:74:00:00:81"


# -- seed 002: the Calico site ("WDS") --------------------------------------------------------
WDS_ASN = 64512  # one AS for the nodes, the gateway and the backbone namespace (iBGP throughout)
ZT_NET = "192.168.191.0/24"  # the ZeroTier network: zt0 on both routers, through the `zt` switch
WDS_LAN = "192.168.100.0/24"
WDS_GATEWAY_IP = "192.168.100.1"  # gateway's vmbr0, the nodes' default gateway and reflector
WDS_TRANSIT = {"gateway": "10.255.100.1", "cn-ns": "10.255.100.2"}  # iepl0, a /30
BIRD16 = "/opt/bgpdoctor/bird16/usr/sbin/bird"
BIRDC16 = "/opt/bgpdoctor/bird16/usr/sbin/birdc"  # Calico ships it as birdcl; same protocol


@dataclass(frozen=True)
class CalicoNodeSpec:
    lan_ip: str
    block: str  # the node's Calico IPAM block (blockSize 26)
    pod_ip: str  # a workload address, on the node's cali* interface
    cali_if: str
    port: str  # the gateway's bridge port towards the node (a Proxmox tap)


WDS_NODE = {
    "kubemaster": CalicoNodeSpec(
        "192.168.100.251", "10.42.141.0/26", "10.42.141.9", "caliac6501d3794", "tap101i0"
    ),
    "kubenode-wds1": CalicoNodeSpec(
        "192.168.100.252", "10.42.64.64/26", "10.42.64.66", "cali026d8f1ddb7", "tap102i0"
    ),
}


# -- seed 003: LoadBalancer VIPs announced to a switch ----------------------------------------
TOR_ASN = 65000
LB_NODE_ASN = 65001
LB_LAN = "10.0.4.0/24"
TOR_IP = "10.0.4.250"  # vlanif4, the switch's address in the node VLAN
LB_NODE_IP = {"master-01": "10.0.4.109", "node-01": "10.0.4.110"}
LB_PORT = {"master-01": "ge0-0-1", "node-01": "ge0-0-2"}
LB_POOL = "10.0.6.0/24"  # CiliumLoadBalancerIPPool, its own subnet as the write-up insists
LB_VIP = "10.0.6.1"  # one LoadBalancer service, externalTrafficPolicy Cluster: every node announces it
TOR_VLAN6 = ("vlanif6", "10.0.6.254/24")  # connected-route-shadows-bgp: an address in the LB VLAN


def bird16_host(host: str) -> bool:
    """True for the hosts that run Calico's BIRD 1.6 (birdcl), not BIRD 2."""
    return host in WDS_NODES


def bird_binary(host: str) -> str:
    """The BIRD daemon binary a lab host runs. Example: bird_binary("kubemaster") -> BIRD16"""
    return BIRD16 if bird16_host(host) else "bird"


def bird_hosts() -> tuple[str, ...]:
    """Every host that runs a BIRD daemon (its control socket is <run>/<host>/bird.ctl)."""
    return (*ROUTERS, *WDS_ROUTERS, *WDS_NODES)  # tor (LB_ROUTERS) runs FRR


@dataclass(frozen=True)
class LabSettings:
    """Where the lab lives and how its names are prefixed.

    Example: LabSettings(run_dir=Path("/var/lib/bgpdoctor/lab"), prefix="bdl-",
    mgmt_net=IPv4Network("172.31.254.0/24"))
    """

    run_dir: Path
    prefix: str = DEFAULT_PREFIX
    mgmt_net: IPv4Network = field(default_factory=lambda: IPv4Network(DEFAULT_MGMT_NET))
    dual_stack: bool = False  # `lab up --dual-stack`: the seed-001 site runs IPv6 as well

    def ns(self, host: str) -> str:
        return f"{self.prefix}{host}"

    @property
    def mgmt_bridge(self) -> str:
        return f"{self.prefix}mgmt"

    def mgmt_veth(self, host: str) -> str:
        return f"{self.prefix}m{MGMT_ID[host]}"

    def mgmt_ip(self, host: str) -> str:
        return str(self.mgmt_net.network_address + MGMT_ID[host])

    @property
    def mgmt_gw(self) -> str:
        return str(self.mgmt_net.network_address + 1)

    def host_dir(self, host: str) -> Path:
        return self.run_dir / host

    def bird_socket(self, router: str) -> Path:
        return self.host_dir(router) / "bird.ctl"

    @property
    def inventory_path(self) -> Path:
        return self.run_dir / "inventory.yaml"

    @property
    def state_path(self) -> Path:
        return self.run_dir / "state.json"


def settings_from_env(run_dir: str | os.PathLike[str] | None = None) -> LabSettings:
    """Settings from arguments and BGPDOCTOR_LAB_DIR / _PREFIX / _MGMT_NET.

    Example: settings_from_env("/tmp/lab") -> LabSettings(run_dir=Path("/tmp/lab"), prefix="bdl-", ...)
    """
    from bgpdoctor.errors import LabError

    rd = Path(run_dir or os.environ.get("BGPDOCTOR_LAB_DIR") or DEFAULT_RUN_DIR).absolute()
    prefix = os.environ.get("BGPDOCTOR_LAB_PREFIX") or DEFAULT_PREFIX
    if not (1 <= len(prefix) <= 8) or not all(c.isalnum() or c in "-_" for c in prefix):
        raise LabError(f"bad lab prefix {prefix!r}: 1-8 characters of [A-Za-z0-9_-]")
    try:
        net = IPv4Network(os.environ.get("BGPDOCTOR_LAB_MGMT_NET") or DEFAULT_MGMT_NET)
    except ValueError as exc:
        raise LabError(f"bad BGPDOCTOR_LAB_MGMT_NET: {exc}") from exc
    if net.prefixlen > 24:
        raise LabError("BGPDOCTOR_LAB_MGMT_NET must be a /24 or larger")
    return LabSettings(run_dir=rd, prefix=prefix, mgmt_net=net)


def host_addresses(host: str) -> list[IPv4Address]:
    """Data-plane addresses a host owns (mgmt excluded).

    Example: host_addresses("sakamoto") -> [IPv4Address("192.168.6.80"), IPv4Address("10.42.0.1")]
    """
    if host in ROUTER:
        r = ROUTER[host]
        return [IPv4Address(a) for a in (r.lan_ip, r.zt_ip, r.bk_ip)]
    if host in NODE:
        n = NODE[host]
        return [IPv4Address(n.lan_ip), IPv4Address(n.pod_ip)]
    if host == "gateway":
        return [IPv4Address(WDS_GATEWAY_IP), IPv4Address(WDS_TRANSIT["gateway"])]
    if host == "cn-ns":
        return [IPv4Address(WDS_TRANSIT["cn-ns"])]
    if host in WDS_NODE:
        w = WDS_NODE[host]
        return [IPv4Address(w.lan_ip), IPv4Address(w.pod_ip)]
    if host == "tor":
        return [IPv4Address(TOR_IP)]
    if host in LB_NODE_IP:
        return [IPv4Address(LB_NODE_IP[host])]  # the VIP is on every node: owned by none
    return [IPv4Address(MS_POD_IP)]


# -- dual stack (`lab up --dual-stack`): the seed-001 site gets IPv6 as well --------------------
# ULA plan: each IPv4 /24 a.b.c.0 of the site becomes fd00:a:b:c::/64 (its decimal digits kept as
# the groups) and host .h becomes ::h; the pod range 10.42.0.0/16 becomes fd00:10:42::/48 with one
# /64 per node, the node's /24 10.42.n.0 -> fd00:10:42:n::/64.
DUAL_STACK_HOSTS = (*ROUTERS, *NODES, POD)
POD_CIDR6 = "fd00:10:42::/48"
ULA_SITES6 = "fd00:192:168::/48"  # the LANs and the overlay: 192.168.0.0/16 of the IPv4 plan
ZT_NET6 = "fd00:192:168:191::/64"


@dataclass(frozen=True)
class RouterSpec6:
    lan_ip: str
    lan: str
    zt_ip: str


@dataclass(frozen=True)
class NodeSpec6:
    lan_ip: str
    gateway: str
    pod_cidr: str
    pod_ip: str  # cilium_host


ROUTER6 = {
    "router-mine": RouterSpec6("fd00:192:168:6::1", "fd00:192:168:6::/64", "fd00:192:168:191::12"),
    "router-home": RouterSpec6("fd00:192:168::1", "fd00:192:168::/64", "fd00:192:168:191::10"),
}
NODE6 = {
    "sakamoto": NodeSpec6("fd00:192:168:6::80", "fd00:192:168:6::1", "fd00:10:42::/64", "fd00:10:42::1"),
    "yuuko-k8s": NodeSpec6("fd00:192:168::81", "fd00:192:168::1", "fd00:10:42:3::/64", "fd00:10:42:3::1"),
}
MS_POD_IP6 = "fd00:10:42::10"


def host_addresses6(host: str) -> list[IPv6Address]:
    """IPv6 data-plane addresses of a dual-stack host; [] for the hosts that stay IPv4 only.

    Example: host_addresses6("sakamoto") -> [IPv6Address("fd00:192:168:6::80"), IPv6Address("fd00:10:42::1")]
    """
    if host in ROUTER6:
        return [IPv6Address(ROUTER6[host].lan_ip), IPv6Address(ROUTER6[host].zt_ip)]
    if host in NODE6:
        return [IPv6Address(NODE6[host].lan_ip), IPv6Address(NODE6[host].pod_ip)]
    return [IPv6Address(MS_POD_IP6)] if host == POD else []
