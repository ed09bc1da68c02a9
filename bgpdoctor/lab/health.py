"""Probes of the running lab (all run inside its namespaces) and the overall health verdict."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bgpdoctor.errors import LabError
from bgpdoctor.lab.procs import ns_run, proc_alive
from bgpdoctor.lab.state import LabState
from bgpdoctor.lab.topology import (
    BIRDC16,
    KUBELET_PORT,
    LB_NODES,
    LB_VIP,
    MS_POD_IP,
    MS_POD_IP6,
    NODE,
    NODE6,
    NODES,
    POD,
    ROUTERS,
    WDS_NODE,
    WDS_NODES,
    WDS_ROUTERS,
    LabSettings,
    bird16_host,
)

STUB = str(Path(__file__).with_name("kubelet_stub.py"))
# gobgp's session_state enum (api.PeerState.SessionState)
GOBGP_STATES = {
    0: "UNKNOWN",
    1: "IDLE",
    2: "CONNECT",
    3: "ACTIVE",
    4: "OPENSENT",
    5: "OPENCONFIRM",
    6: "ESTABLISHED",
}


def birdc(s: LabSettings, router: str, *args: str) -> subprocess.CompletedProcess[str]:
    """birdc on the router's own control socket.

    Example: birdc(s, "router-mine", "show", "protocols").stdout -> "BIRD 2.0.12 ready.\\nName ..."
    """
    client = BIRDC16 if bird16_host(router) else "birdc"
    return ns_run(s.ns(router), [client, "-s", str(s.bird_socket(router)), *args], check=False, timeout=10)


def bird_bgp_states(s: LabSettings, router: str) -> dict[str, str]:
    """BGP protocol -> Info column of `show protocols` (default short time format: one Since field).

    Example: {"sakamoto": "Established", "yuuko_k8s": "Active        Socket: Connection refused"}
    """
    out: dict[str, str] = {}
    cp = birdc(s, router, "show", "protocols")
    for line in cp.stdout.splitlines():
        f = line.split(None, 5)
        if len(f) >= 5 and f[1] == "BGP":
            out[f[0]] = f[5].strip() if len(f) > 5 else f[3]
    return out


def vtysh(s: LabSettings, router: str, command: str) -> subprocess.CompletedProcess[str]:
    """One vtysh command on the FRR router's own vty sockets.

    Example: vtysh(s, "tor", "show bgp summary json").stdout -> '{"ipv4Unicast":{"routerId":...'
    """
    from bgpdoctor.lab.frr import lab_frr_dir

    argv = ["vtysh", "--vty_socket", str(lab_frr_dir(s.ns(router))), "-c", command]
    return ns_run(s.ns(router), argv, check=False, timeout=10)


def frr_json(s: LabSettings, router: str, command: str) -> dict[str, Any]:
    """A vtysh `... json` command's object; {} when bgpd does not answer or prints no object."""
    try:
        data = json.loads(vtysh(s, router, command).stdout or "{}")
    except (json.JSONDecodeError, subprocess.TimeoutExpired):
        return {}
    return data if isinstance(data, dict) else {}


def frr_states(s: LabSettings, router: str) -> dict[str, str]:
    """Neighbor address -> bgpState of FRR's `show bgp neighbors json`. Example: {"10.0.4.109":
    "Established", "10.0.4.110": "Active"}"""
    return {
        addr: str(nb.get("bgpState", "?"))
        for addr, nb in frr_json(s, router, "show bgp neighbors json").items()
        if isinstance(nb, dict)
    }


def frr_paths(s: LabSettings, router: str, prefix: str) -> int:
    """How many BGP paths FRR holds for a prefix (`show bgp ipv4 unicast PREFIX json`)."""
    paths = frr_json(s, router, f"show bgp ipv4 unicast {prefix} json").get("paths")
    return len(paths) if isinstance(paths, list) else 0


def frr_session_problems(s: LabSettings, router: str) -> list[str]:
    """FRR neighbors that are not Established. Example: ["tor: FRR neighbor 10.0.4.109 is 'Active'"]"""
    states = frr_states(s, router)
    problems = [] if states else [f"{router}: vtysh show bgp neighbors gave no neighbors"]
    return problems + [
        f"{router}: FRR neighbor {a} is {st!r}" for a, st in states.items() if st != "Established"
    ]


def gobgp(s: LabSettings, node: str, *args: str) -> subprocess.CompletedProcess[str]:
    return ns_run(s.ns(node), ["gobgp", "-u", "127.0.0.1", "-p", "50051", *args], check=False, timeout=10)


def wait_bird_socket(s: LabSettings, host: str, log: Path, tries: int = 100) -> None:
    """Block until a (re)started BIRD opened its control socket; LabError naming its log otherwise."""
    sock = s.bird_socket(host)
    for _ in range(tries):
        if sock.exists():
            return
        time.sleep(0.05)
    raise LabError(f"BIRD on {host} did not open {sock} (see {log})")


def wait_gobgp_api(s: LabSettings, node: str, log: Path, tries: int = 100) -> None:
    """Block until a (re)started gobgpd answers on its API; LabError naming its log otherwise."""
    for _ in range(tries):
        if gobgp(s, node, "global").returncode == 0:
            return
        time.sleep(0.05)
    raise LabError(f"gobgpd on {node} did not answer its API (see {log})")


def gobgp_states(s: LabSettings, node: str) -> dict[str, str]:
    """Neighbor address -> session state name. Example: {"192.168.0.1": "ESTABLISHED"}"""
    cp = gobgp(s, node, "neighbor", "-j")
    try:
        data = json.loads(cp.stdout or "[]")
    except json.JSONDecodeError:
        return {}
    out: dict[str, str] = {}
    for nb in data or []:
        addr = nb.get("conf", {}).get("neighbor_address", "?")
        out[addr] = GOBGP_STATES.get(int(nb.get("state", {}).get("session_state", 0)), "UNKNOWN")
    return out


def gobgp_prefixes(s: LabSettings, node: str) -> list[str]:
    """Prefixes in the node's GoBGP global RIB. Example: ["10.0.6.1/32"]"""
    cp = gobgp(s, node, "global", "rib", "-a", "ipv4", "-j")
    try:
        data = json.loads(cp.stdout or "{}")
    except json.JSONDecodeError:
        return []
    return sorted(data) if isinstance(data, dict) else []


def kernel_routes(s: LabSettings, host: str, dst: str) -> list[dict[str, object]]:
    """`ip -j route show exact DST` in a namespace. Example: [{"dst": "10.0.6.1", "nexthops": [...]}]"""
    cp = ns_run(s.ns(host), ["ip", "-j", "route", "show", "exact", dst], check=False)
    try:
        data = json.loads(cp.stdout or "[]")
    except json.JSONDecodeError:
        return []
    return data if isinstance(data, list) else []


def forwarding_route(s: LabSettings, host: str, dst: str) -> dict[str, object] | None:
    """The route the kernel forwards dst with: longest prefix, then lowest metric (a VIP may be
    announced as a /32 or inside an aggregate). Example: {"dst": "10.0.6.1", "nexthops": [...]}"""
    cp = ns_run(s.ns(host), ["ip", "-j", "route", "show", "match", dst], check=False)
    try:
        routes = json.loads(cp.stdout or "[]")
    except json.JSONDecodeError:
        return None

    def rank(r: dict[str, object]) -> tuple[int, int]:
        d = str(r.get("dst", ""))
        plen = 0 if d == "default" else int(d.split("/")[1]) if "/" in d else 32
        metric = r.get("metric", 0)
        return plen, -(metric if isinstance(metric, int) else 0)

    return max(routes, key=rank, default=None) if isinstance(routes, list) else None


def bird_session_problems(s: LabSettings, host: str) -> list[str]:
    """BIRD BGP protocols of a host that are not Established. Example: ["tor: BGP n1 is 'Active'"]"""
    states = bird_bgp_states(s, host)
    problems = [] if states else [f"{host}: show protocols gave no BGP protocols"]
    return problems + [
        f"{host}: BGP {n} is {i!r}" for n, i in states.items() if not i.startswith("Established")
    ]


def gobgp_session_problems(s: LabSettings, node: str) -> list[str]:
    """GoBGP neighbors of a node that are not ESTABLISHED.

    Example: ["sakamoto: GoBGP neighbor 192.168.6.1 is ACTIVE"]
    """
    states = gobgp_states(s, node)
    problems = [] if states else [f"{node}: gobgp neighbor gave nothing"]
    return problems + [
        f"{node}: GoBGP neighbor {a} is {st}" for a, st in states.items() if st != "ESTABLISHED"
    ]


def kernel_prefixes(s: LabSettings, host: str) -> set[str]:
    """IPv4 unicast destinations in the main table. Example: {"10.42.0.0/24", "192.168.0.0/24", ...}"""
    from pyroute2 import IPRoute

    with IPRoute(netns=s.ns(host)) as ipr:
        return {f"{r.get('dst') or '0.0.0.0'}/{r['dst_len']}" for r in ipr.get_routes(family=2, table=254)}


def ping(
    s: LabSettings,
    host: str,
    dst: str,
    src: str | None = None,
    size: int | None = None,
    df: bool = False,
    count: int = 1,
    wait: float = 1.0,
) -> subprocess.CompletedProcess[str]:
    argv = ["ping", "-n", "-c", str(count), "-W", str(wait), "-i", "0.2"]
    if src:
        argv += ["-I", src]
    if size is not None:
        argv += ["-s", str(size)]
    if df:
        argv += ["-M", "do"]
    return ns_run(s.ns(host), [*argv, dst], check=False, timeout=count * wait + 5)


def tls_probe(
    s: LabSettings, host: str, target: str, timeout: float = 2.0
) -> subprocess.CompletedProcess[str]:
    """TLS GET /healthz from a lab namespace. stdout on success: "TLSv1.3 ok"."""
    return ns_run(
        s.ns(host),
        [sys.executable, STUB, "probe", target, "--port", str(KUBELET_PORT), "--timeout", str(timeout)],
        check=False,
        timeout=timeout + 10,
    )


def proc_net(s: LabSettings, host: str, table: str, key: str) -> int:
    """A counter from /proc/net/snmp or /proc/net/netstat of a namespace.

    Example: proc_net(s, "router-home", "TcpExt", "IPReversePathFilter") -> 4
    """
    cp = ns_run(s.ns(host), ["cat", "/proc/net/snmp", "/proc/net/netstat"], check=False)
    rows = [ln.split() for ln in cp.stdout.splitlines() if ln.startswith(table + ":")]
    for names, values in zip(rows[::2], rows[1::2], strict=False):
        if key in names:
            return int(values[names.index(key)])
    return 0


def health_problems(s: LabSettings, st: LabState) -> list[str]:
    """Every deviation from the healthy baseline, as short lines; [] when healthy.

    Example: ["router-mine: BGP yuuko_k8s is 'Active  Socket: Connection refused'",
              "ping 10.42.0.1 -> 10.42.3.1 from sakamoto fails"]
    """
    from pyroute2 import netns

    problems: list[str] = []
    have = set(netns.listnetns())
    missing = [n for n in st.namespaces if n not in have]
    if missing:
        return [f"namespace {n} missing" for n in missing]
    for key, rec in st.procs.items():
        if not proc_alive(rec):
            problems.append(f"{key} (pid {rec.pid}) not running")
    for router in ROUTERS:
        problems += bird_session_problems(s, router)
    for node in NODES:
        problems += gobgp_session_problems(s, node)
    for router in ROUTERS:
        pfx = kernel_prefixes(s, router)
        for node in NODES:
            if NODE[node].pod_cidr not in pfx:
                problems.append(f"{router}: kernel has no route to {NODE[node].pod_cidr}")
    for a, b in (("sakamoto", "yuuko-k8s"), ("yuuko-k8s", "sakamoto")):
        src, dst = NODE[a].pod_ip, NODE[b].pod_ip
        if ping(s, a, dst, src=src).returncode != 0:
            problems.append(f"ping {src} -> {dst} from {a} fails")
    for node in NODES:
        if tls_probe(s, POD, NODE[node].lan_ip).returncode != 0:
            problems.append(
                f"kubelet {NODE[node].lan_ip}:{KUBELET_PORT} unreachable from {POD} ({MS_POD_IP})"
            )
    if s.dual_stack:
        problems += dual_stack_problems(s)
    return problems + wds_problems(s) + lb_problems(s)


def lb_problems(s: LabSettings) -> list[str]:
    """Deviations of the seed-003 site: tor's sessions, one ECMP route for the VIP, the VIP answers.

    Example: ["tor: 10.0.6.1 has 1 next hop(s) in the kernel, not 2"]
    """
    problems = frr_session_problems(s, "tor")
    for node in LB_NODES:
        problems += gobgp_session_problems(s, node)
    best = forwarding_route(s, "tor", LB_VIP)
    nexthops = best.get("nexthops") if best else None
    hops = len(nexthops) if isinstance(nexthops, list) else int(bool(best and best.get("gateway")))
    if hops != len(LB_NODES):
        problems.append(f"tor: {LB_VIP} has {hops} next hop(s) in the kernel, not {len(LB_NODES)}")
    if ping(s, "tor", LB_VIP).returncode != 0:
        problems.append(f"ping {LB_VIP} (LoadBalancer VIP) from tor fails")
    return problems


def wds_problems(s: LabSettings) -> list[str]:
    """Deviations of the seed-002 Calico site: sessions, pod blocks on every node, pings.

    Example: ["kubemaster: kernel has no route to 10.42.64.64/26",
              "ping 10.42.141.9 from cn-ns fails"]
    """
    problems: list[str] = []
    for host in (*WDS_ROUTERS, *WDS_NODES):
        problems += bird_session_problems(s, host)
    for host in (*WDS_ROUTERS, *WDS_NODES):
        pfx = kernel_prefixes(s, host)
        for node in WDS_NODES:
            if node != host and WDS_NODE[node].block not in pfx:
                problems.append(f"{host}: kernel has no route to {WDS_NODE[node].block}")
    a, b = WDS_NODES
    for x, y in ((a, b), (b, a)):
        src, dst = WDS_NODE[x].pod_ip, WDS_NODE[y].pod_ip
        if ping(s, x, dst, src=src).returncode != 0:
            problems.append(f"ping {src} -> {dst} from {x} fails")
    for node in WDS_NODES:
        if ping(s, "cn-ns", WDS_NODE[node].pod_ip).returncode != 0:
            problems.append(f"ping {WDS_NODE[node].pod_ip} from cn-ns fails")
    return problems


def kernel_prefixes6(s: LabSettings, host: str) -> set[str]:
    """IPv6 unicast destinations in the main table. Example: {"fd00:10:42:3::/64", ...}"""
    from pyroute2 import IPRoute

    with IPRoute(netns=s.ns(host)) as ipr:
        return {f"{r.get('dst') or '::'}/{r['dst_len']}" for r in ipr.get_routes(family=10, table=254)}


def dual_stack_problems(s: LabSettings) -> list[str]:
    """Deviations of the seed-001 site's IPv6 half (its sessions are in bird/gobgp_session_problems):
    the IPv6 pod CIDRs in the routers' kernels, pod to pod and pod to metrics-server over IPv6.

    Example: ["router-home: kernel has no route to fd00:10:42::/64",
              "ping fd00:10:42:3::1 -> fd00:10:42::1 from yuuko-k8s fails"]
    """
    problems: list[str] = []
    for router in ROUTERS:
        pfx = kernel_prefixes6(s, router)
        missing = [NODE6[n].pod_cidr for n in NODES if NODE6[n].pod_cidr not in pfx]
        problems += [f"{router}: kernel has no route to {cidr}" for cidr in missing]
    for a, b in (("sakamoto", "yuuko-k8s"), ("yuuko-k8s", "sakamoto")):
        src, dst = NODE6[a].pod_ip, NODE6[b].pod_ip
        if ping(s, a, dst, src=src).returncode != 0:
            problems.append(f"ping {src} -> {dst} from {a} fails")
    if ping(s, POD, NODE6["yuuko-k8s"].pod_ip).returncode != 0:
        problems.append(f"ping {NODE6['yuuko-k8s'].pod_ip} from {POD} ({MS_POD_IP6}) fails")
    return problems
