"""Namespaces, links, addresses, routes and sysctls of the lab (pyroute2 for netlink work).

ensure_topology() is idempotent: it only creates or changes what differs from the baseline and
reports the veths it created, so offloads are switched off once per interface.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bgpdoctor.errors import LabError
from bgpdoctor.lab.procs import ns_run, run
from bgpdoctor.lab.state import LabState
from bgpdoctor.lab.topology import (
    DUAL_STACK_HOSTS,
    LB_LAN,
    LB_NODE_IP,
    LB_NODES,
    LB_PORT,
    LB_ROUTERS,
    LB_VIP,
    MGMT_ID,
    MS_NODE,
    MS_POD_IP,
    MS_POD_IP6,
    NAMESPACES,
    NODE,
    NODE6,
    NODES,
    POD,
    ROUTER,
    ROUTER6,
    ROUTERS,
    SWITCH,
    TOR_IP,
    TOR_VLAN6,
    WDS_GATEWAY_IP,
    WDS_LAN,
    WDS_NODE,
    WDS_NODES,
    WDS_ROUTERS,
    WDS_TRANSIT,
    YUUKO_ZT_IP,
    YUUKO_ZT_MAC,
    ZT_MTU,
    LabSettings,
)

RTPROT_STATIC = 4
SCOPE_LINK = 253
RTNH_F_ONLINK = 4
IFF_UP = 1


class Net:
    """pyroute2 handles for the root namespace (key None) and every lab namespace."""

    def __init__(self, s: LabSettings, namespaces: tuple[str, ...] = NAMESPACES) -> None:
        from pyroute2 import IPRoute

        self.s = s
        self.h: dict[str | None, Any] = {None: IPRoute()}
        for host in namespaces:
            self.h[host] = IPRoute(netns=s.ns(host))

    def close(self) -> None:
        for ipr in self.h.values():
            ipr.close()

    def __enter__(self) -> Net:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def link(self, host: str | None, name: str) -> Any | None:
        i = self.idx(host, name)
        return None if i is None else self.h[host].get_links(i)[0]

    def idx(self, host: str | None, name: str) -> int | None:
        found = self.h[host].link_lookup(ifname=name)
        return int(found[0]) if found else None

    def ensure_link(
        self,
        host: str | None,
        name: str,
        *,
        up: bool = True,
        mtu: int | None = None,
        master: str | None = None,
        address: str | None = None,
    ) -> None:
        lk = self.link(host, name)
        if lk is None:
            raise LabError(f"link {name} missing in {host or 'root namespace'}")
        kw: dict[str, Any] = {}
        if mtu is not None and lk.get("mtu") != mtu:
            kw["mtu"] = mtu
        if master is not None:
            midx = self.idx(host, master)
            if lk.get("master") != midx:
                kw["master"] = midx
        if address is not None and str(lk.get("address")).lower() != address:
            kw["address"] = address
        if up and not lk["flags"] & IFF_UP:
            kw["state"] = "up"
        if kw:
            self.h[host].link("set", index=lk["index"], **kw)

    def ensure_bridge(self, host: str | None, name: str) -> bool:
        if self.idx(host, name) is None:
            self.h[host].link("add", ifname=name, kind="bridge")
            return True
        return False

    def ensure_addr(self, host: str | None, name: str, cidr: str) -> None:
        ip, plen = cidr.split("/")
        idx = self.idx(host, name)
        have = {(a.get("address"), a["prefixlen"]) for a in self.h[host].get_addr(index=idx)}
        if (ip, int(plen)) not in have:
            self.h[host].addr("replace", index=idx, address=ip, prefixlen=int(plen))

    def ensure_veth(
        self, st: LabState, save: Callable[[], None], a: tuple[str | None, str], b: tuple[str, str]
    ) -> list[tuple[str | None, str]]:
        """Veth a <-> b (a may be in the root namespace); returns the ends it created."""
        (ah, an), (bh, bn) = a, b
        if self.idx(ah, an) is not None and self.idx(bh, bn) is not None:
            return []
        for h, n in (a, b):
            i = self.idx(h, n)
            if i is not None:
                self.h[h].link("del", index=i)
        root = self.h[None]
        tmp = an if ah is None else f"{self.s.prefix}tmp"
        if tmp not in st.root_links:
            st.root_links.append(tmp)
            save()
        root.link("add", ifname=tmp, kind="veth", peer={"ifname": bn, "net_ns_fd": self.s.ns(bh)})
        if ah is not None:
            i = self.idx(None, tmp)
            root.link("set", index=i, net_ns_fd=self.s.ns(ah), ifname=an)
            st.root_links.remove(tmp)
            save()
        return [a, b]


def create_namespaces(s: LabSettings, st: LabState, save: Callable[[], None]) -> None:
    """Create the lab namespaces; each name is recorded before it is created."""
    from pyroute2 import netns

    existing = set(netns.listnetns())
    for host in NAMESPACES:
        name = s.ns(host)
        if name in existing:
            if name not in st.namespaces:
                raise LabError(
                    f"namespace {name} exists but was not created by this lab "
                    f"({s.state_path}); remove it or set BGPDOCTOR_LAB_PREFIX"
                )
            continue
        st.namespaces.append(name)
        save()
        netns.create(name)


def ensure_topology(s: LabSettings, st: LabState, save: Callable[[], None]) -> dict[str | None, list[str]]:
    """Build or repair links, addresses and routes; returns the new veth names per namespace."""
    new: list[tuple[str | None, str]] = []
    with Net(s) as n:
        for host in NAMESPACES:
            n.ensure_link(host, "lo")
        # management: root bridge, one veth per host, on-link routes only
        br = s.mgmt_bridge
        if br not in st.root_links:
            st.root_links.append(br)
            save()
        n.ensure_bridge(None, br)
        n.ensure_link(None, br)
        n.ensure_addr(None, br, f"{s.mgmt_gw}/{s.mgmt_net.prefixlen}")
        for host in MGMT_ID:
            rl = s.mgmt_veth(host)
            if rl not in st.root_links:
                st.root_links.append(rl)
                save()
            new += n.ensure_veth(st, save, (None, rl), (host, "mgmt0"))
            n.ensure_link(None, rl, master=br)
            n.ensure_link(host, "mgmt0")
            n.ensure_addr(host, "mgmt0", f"{s.mgmt_ip(host)}/{s.mgmt_net.prefixlen}")
        # site LANs: br-lan on each router, the node's eth0 on port lan1
        for node in NODES:
            spec = NODE[node]
            r = ROUTER[spec.router]
            new += n.ensure_veth(st, save, (spec.router, "lan1"), (node, "eth0"))
            n.ensure_bridge(spec.router, "br-lan")
            n.ensure_link(spec.router, "br-lan")
            n.ensure_link(spec.router, "lan1", master="br-lan")
            n.ensure_addr(spec.router, "br-lan", f"{r.lan_ip}/24")
            n.ensure_link(node, "eth0")
            n.ensure_addr(node, "eth0", f"{spec.lan_ip}/24")
            # cilium_host/cilium_net: a veth pair, this kernel has no dummy module
            new += n.ensure_veth(st, save, (node, "cilium_host"), (node, "cilium_net"))
            n.ensure_link(node, "cilium_net")
            n.ensure_link(node, "cilium_host")
            n.ensure_addr(node, "cilium_host", f"{spec.pod_ip}/32")
            n.h[node].route("replace", dst="0.0.0.0/0", gateway=spec.gateway, oif=n.idx(node, "eth0"))
        # ZeroTier stand-in: L2 switch namespace, MTU 1420 end to end
        n.ensure_bridge(SWITCH, "ztbr")
        for router, port in (("router-mine", "p-rmine"), ("router-home", "p-rhome")):
            new += n.ensure_veth(st, save, (router, "zt0"), (SWITCH, port))
            n.ensure_link(SWITCH, port, mtu=ZT_MTU, master="ztbr")
            n.ensure_link(router, "zt0", mtu=ZT_MTU)
            n.ensure_addr(router, "zt0", f"{ROUTER[router].zt_ip}/24")
        n.ensure_link(SWITCH, "ztbr", mtu=ZT_MTU)
        new += n.ensure_veth(st, save, ("router-mine", "bk0"), ("router-home", "bk0"))
        for router in ROUTERS:
            n.ensure_link(router, "bk0")
            n.ensure_addr(router, "bk0", f"{ROUTER[router].bk_ip}/30")
        # ZeroTier managed routes, as ZeroTier One installs them
        for router, other in (("router-mine", "router-home"), ("router-home", "router-mine")):
            n.h[router].route(
                "replace",
                dst=ROUTER[other].lan,
                gateway=ROUTER[other].zt_ip,
                oif=n.idx(router, "zt0"),
                proto=RTPROT_STATIC,
            )
        # the metrics-server pod on sakamoto, Cilium style: /32 pod IP, default via cilium_host onlink
        new += n.ensure_veth(st, save, (MS_NODE, "lxc-ms"), (POD, "eth0"))
        n.ensure_link(MS_NODE, "lxc-ms")
        # the pod's gateway lives on lxc-ms too, so sakamoto ARPs for the pod from 10.42.0.1, not mgmt
        n.ensure_addr(MS_NODE, "lxc-ms", f"{NODE[MS_NODE].pod_ip}/32")
        n.ensure_link(POD, "eth0")
        n.ensure_addr(POD, "eth0", f"{MS_POD_IP}/32")
        n.h[POD].route("replace", dst=f"{NODE[MS_NODE].pod_ip}/32", oif=n.idx(POD, "eth0"), scope=SCOPE_LINK)
        n.h[POD].route(
            "replace",
            dst="0.0.0.0/0",
            gateway=NODE[MS_NODE].pod_ip,
            oif=n.idx(POD, "eth0"),
            flags=RTNH_F_ONLINK,
        )
        n.h[MS_NODE].route("replace", dst=f"{MS_POD_IP}/32", oif=n.idx(MS_NODE, "lxc-ms"), scope=SCOPE_LINK)
        new += _wds_topology(n, st, save)
        new += _lb_topology(n, st, save)
    out: dict[str | None, list[str]] = {}
    for h, name in new:
        out.setdefault(h, []).append(name)
    return out


def _wds_topology(n: Net, st: LabState, save: Callable[[], None]) -> list[tuple[str | None, str]]:
    """Seed 002: gateway's vmbr0 with the two Calico VMs, and the iepl0 transit to cn-ns."""
    new: list[tuple[str | None, str]] = []
    plen = WDS_LAN.split("/")[1]
    n.ensure_bridge("gateway", "vmbr0")
    n.ensure_link("gateway", "vmbr0")
    n.ensure_addr("gateway", "vmbr0", f"{WDS_GATEWAY_IP}/{plen}")
    for node in WDS_NODES:
        spec = WDS_NODE[node]
        new += n.ensure_veth(st, save, ("gateway", spec.port), (node, "eth0"))
        n.ensure_link("gateway", spec.port, master="vmbr0")
        n.ensure_link(node, "eth0")
        n.ensure_addr(node, "eth0", f"{spec.lan_ip}/{plen}")
        n.h[node].route("replace", dst="0.0.0.0/0", gateway=WDS_GATEWAY_IP, oif=n.idx(node, "eth0"))
        # a workload address on the host side of a cali* veth (no pod namespace needed to ping it)
        new += n.ensure_veth(st, save, (node, spec.cali_if), (node, "calipeer0"))
        n.ensure_link(node, "calipeer0")
        n.ensure_link(node, spec.cali_if)
        n.ensure_addr(node, spec.cali_if, f"{spec.pod_ip}/32")
    a, b = WDS_ROUTERS
    new += n.ensure_veth(st, save, (a, "iepl0"), (b, "iepl0"))
    for router in WDS_ROUTERS:
        n.ensure_link(router, "iepl0")
        n.ensure_addr(router, "iepl0", f"{WDS_TRANSIT[router]}/30")
    return new


def _lb_topology(n: Net, st: LabState, save: Callable[[], None]) -> list[tuple[str | None, str]]:
    """Seed 003: the switch's node VLAN (vlanif4) with two nodes; the VIP on each node's lo."""
    new: list[tuple[str | None, str]] = []
    plen = LB_LAN.split("/")[1]
    n.ensure_bridge("tor", "vlanif4")
    n.ensure_link("tor", "vlanif4")
    n.ensure_addr("tor", "vlanif4", f"{TOR_IP}/{plen}")
    for node in LB_NODES:
        new += n.ensure_veth(st, save, ("tor", LB_PORT[node]), (node, "eth0"))
        n.ensure_link("tor", LB_PORT[node], master="vlanif4")
        n.ensure_link(node, "eth0")
        n.ensure_addr(node, "eth0", f"{LB_NODE_IP[node]}/{plen}")
        n.h[node].route("replace", dst="0.0.0.0/0", gateway=TOR_IP, oif=n.idx(node, "eth0"))
        # Cilium answers for LoadBalancer IPs in eBPF; the lab puts the VIP on lo
        n.ensure_addr(node, "lo", f"{LB_VIP}/32")
    return new


def add_tor_vlan6(s: LabSettings) -> None:
    """connected-route-shadows-bgp: tor gets an interface address in the LoadBalancer VLAN."""
    name, cidr = TOR_VLAN6
    with Net(s, ("tor",)) as n:
        n.ensure_bridge("tor", name)
        n.ensure_link("tor", name)
        n.ensure_addr("tor", name, cidr)


def links_of(s: LabSettings, host: str) -> list[str]:
    with Net(s, (host,)) as n:
        return [str(lk.get("ifname")) for lk in n.h[host].get_links()]


def apply_sysctls(s: LabSettings) -> None:
    """Explicit sysctls in every namespace (gotcha 1: never inherit the host's values)."""
    for host in NAMESPACES:
        fwd = 1 if host in (*ROUTERS, *NODES, *WDS_ROUTERS, *WDS_NODES, *LB_ROUTERS, *LB_NODES) else 0
        v6 = s.dual_stack and host in DUAL_STACK_HOSTS
        args = [
            f"net.ipv6.conf.all.disable_ipv6={0 if v6 else 1}",
            f"net.ipv6.conf.default.disable_ipv6={0 if v6 else 1}",
            f"net.ipv4.ip_forward={fwd}",
        ]
        if v6:
            # no router advertisements or autoconfiguration: the ULA plan is static, as on the site
            args += [f"net.ipv6.conf.all.forwarding={fwd}", "net.ipv6.conf.mgmt0.disable_ipv6=1"]
            args += [
                f"net.ipv6.conf.{sc}.{key}=0"
                for sc in ("all", "default")
                for key in ("accept_ra", "autoconf")
            ]
        for scope in ("all", "default", *links_of(s, host)):
            args += [
                f"net.ipv4.conf.{scope}.rp_filter=0",
                f"net.ipv4.conf.{scope}.accept_redirects=0",
                f"net.ipv4.conf.{scope}.send_redirects=0",
            ]
        if host != SWITCH:
            # written after ip_forward (which resets per-interface values): never route via mgmt
            args.append("net.ipv4.conf.mgmt0.forwarding=0")
        ns_run(s.ns(host), ["sysctl", "-q", "-w", *args])
    # our root-side links: no routing through mgmt, no IPv6 link-local chatter into the lab
    settings = [(f"ipv4/conf/{s.mgmt_bridge}/forwarding", "0")]
    root_links = (s.mgmt_bridge, *map(s.mgmt_veth, MGMT_ID))
    settings += [(f"ipv6/conf/{name}/disable_ipv6", "1") for name in root_links]
    for key, value in settings:
        p = Path("/proc/sys/net") / key
        if p.exists() and p.read_text().strip() != value:
            p.write_text(value + "\n")


def offloads_off(s: LabSettings, created: dict[str | None, list[str]]) -> None:
    """ethtool offloads off on new veths (gotcha 8: GSO would sail through MTU faults)."""
    for host, names in created.items():
        script = "; ".join(f"ethtool -K {i} tx off tso off gso off gro off >/dev/null 2>&1" for i in names)
        if host is None:
            run(["sh", "-c", script + "; true"])
        else:
            ns_run(s.ns(host), ["sh", "-c", script + "; true"])


def add_yuuko_zt(s: LabSettings) -> None:
    """unexpected-source-address: yuuko-k8s joins ZeroTier with a managed route to the main LAN."""
    with Net(s, ("yuuko-k8s", SWITCH)) as n:
        created = n.idx("yuuko-k8s", "zt0") is None
        if created:
            n.h[None].link(
                "add", ifname="p-yuuko", kind="veth", peer={"ifname": "zt0", "net_ns_fd": s.ns("yuuko-k8s")}
            )
            n.h[None].link("set", index=n.idx(None, "p-yuuko"), net_ns_fd=s.ns(SWITCH))
        n.ensure_link(SWITCH, "p-yuuko", mtu=ZT_MTU, master="ztbr")
        # fixed MAC, as ZeroTier's are: a random one leaves stale ARP after heal (gotcha 10)
        n.ensure_link("yuuko-k8s", "zt0", mtu=ZT_MTU, address=YUUKO_ZT_MAC)
        n.ensure_addr("yuuko-k8s", "zt0", f"{YUUKO_ZT_IP}/24")
        mine = ROUTER["router-mine"]
        n.h["yuuko-k8s"].route(
            "replace", dst=mine.lan, gateway=mine.zt_ip, oif=n.idx("yuuko-k8s", "zt0"), proto=RTPROT_STATIC
        )
    if created:
        offloads_off(s, {"yuuko-k8s": ["zt0"], SWITCH: ["p-yuuko"]})
        ns_run(s.ns("yuuko-k8s"), ["sysctl", "-q", "-w", "net.ipv4.conf.zt0.rp_filter=0"])


def del_link(s: LabSettings, host: str, name: str) -> bool:
    with Net(s, (host,)) as n:
        i = n.idx(host, name)
        if i is None:
            return False
        n.h[host].link("del", index=i)
        return True


def set_mtu(s: LabSettings, host: str, name: str, mtu: int) -> None:
    with Net(s, (host,)) as n:
        n.ensure_link(host, name, mtu=mtu)


def route(s: LabSettings, host: str, cmd: str, dst: str, gateway: str, dev: str, metric: int) -> bool:
    """Add ("replace") or remove ("del") one route; False when a del found nothing."""
    from pyroute2.netlink.exceptions import NetlinkError

    with Net(s, (host,)) as n:
        try:
            n.h[host].route(cmd, dst=dst, gateway=gateway, oif=n.idx(host, dev), priority=metric)
        except NetlinkError:
            if cmd == "del":
                return False
            raise
    return True


def _ip(s: LabSettings, host: str, *args: str) -> None:
    ns_run(s.ns(host), ["ip", *args])


def ensure_dual_stack(s: LabSettings) -> None:
    """Dual stack: the seed-001 site's ULA addresses and static IPv6 routes (idempotent; after
    apply_sysctls enabled IPv6 there). No DAD: the plan has no duplicates and sessions start at once."""
    for router, other in (("router-mine", "router-home"), ("router-home", "router-mine")):
        r6 = ROUTER6[router]
        _ip(s, router, "addr", "replace", f"{r6.lan_ip}/64", "dev", "br-lan", "nodad")
        _ip(s, router, "addr", "replace", f"{r6.zt_ip}/64", "dev", "zt0", "nodad")
        # the ZeroTier managed route of the other site's IPv6 LAN
        o6 = ROUTER6[other]
        _ip(s, router, "-6", "route", "replace", o6.lan, "via", o6.zt_ip, "dev", "zt0", "proto", "static")
    for node in NODES:
        n6 = NODE6[node]
        _ip(s, node, "addr", "replace", f"{n6.lan_ip}/64", "dev", "eth0", "nodad")
        _ip(s, node, "addr", "replace", f"{n6.pod_ip}/128", "dev", "cilium_host", "nodad")
        _ip(s, node, "-6", "route", "replace", "default", "via", n6.gateway, "dev", "eth0")
    pod_gw = NODE6[MS_NODE].pod_ip
    _ip(s, MS_NODE, "addr", "replace", f"{pod_gw}/128", "dev", "lxc-ms", "nodad")
    _ip(s, MS_NODE, "-6", "route", "replace", f"{MS_POD_IP6}/128", "dev", "lxc-ms")
    _ip(s, POD, "addr", "replace", f"{MS_POD_IP6}/128", "dev", "eth0", "nodad")
    _ip(s, POD, "-6", "route", "replace", f"{pod_gw}/128", "dev", "eth0")
    _ip(s, POD, "-6", "route", "replace", "default", "via", pod_gw, "dev", "eth0", "onlink")
