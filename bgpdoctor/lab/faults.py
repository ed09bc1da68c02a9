"""The fault registry: each fault is a root cause bgpdoctor must name (ids match the playbooks).

A fault changes the daemons' configs through Knobs and/or applies runtime changes (nft, sysctl,
routes, RIB, links). condition() says whether its symptom is visible yet: `lab up --fault` waits
for it. Healing never undoes a fault piecemeal: `lab up` rebuilds the baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bgpdoctor.errors import LabError
from bgpdoctor.lab import health
from bgpdoctor.lab.configs import FAULT_NAT_TABLE, FAULT_TABLE, FW_TABLE
from bgpdoctor.lab.netlink import add_yuuko_zt, route, set_mtu
from bgpdoctor.lab.procs import ns_run
from bgpdoctor.lab.topology import MS_POD_IP, NODE, POD, ROUTER, SWITCH, YUUKO_ZT_IP, LabSettings

MTU_FAULT = 1380
RP_ROUTE = ("10.42.0.0/24", "10.255.255.1", "bk0", 5)  # dst, gateway, dev, metric on router-home


@dataclass
class FaultContext:
    """What a fault needs: the lab settings and marks recorded before it was applied."""

    s: LabSettings
    marks: dict[str, int] = field(default_factory=dict)

    def log_size(self, host: str, name: str) -> int:
        try:
            return (self.s.host_dir(host) / name).stat().st_size
        except FileNotFoundError:
            return 0

    def new_log(self, host: str, name: str) -> str:
        """Log text written since apply() marked it."""
        path: Path = self.s.host_dir(host) / name
        try:
            with open(path, "rb") as f:
                f.seek(self.marks.get(f"log:{host}/{name}", 0))
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""


@dataclass(frozen=True)
class Fault:
    """Example: Fault(name="ip-forward-disabled", description="net.ipv4.ip_forward=0 on router-home ...")"""

    name: str
    description: str
    apply: Callable[[FaultContext], None]
    condition: Callable[[FaultContext], str | None]  # None once the symptom shows, else what is missing
    knobs: dict[str, bool] = field(default_factory=dict)


def _nft(s: LabSettings, host: str, text: str) -> None:
    ns_run(s.ns(host), ["nft", "-f", "-"], input_text=text)


def _fault_table(s: LabSettings, host: str, rule_chain: str, rule: str) -> None:
    _nft(
        s,
        host,
        f"""table inet {FAULT_TABLE} {{
  chain input {{ type filter hook input priority -10; policy accept; }}
  chain output {{ type filter hook output priority -10; policy accept; }}
  chain forward {{ type filter hook forward priority -10; policy accept; }}
}}
add rule inet {FAULT_TABLE} {rule_chain} {rule}
""",
    )


def _kill_yuuko_session(s: LabSettings) -> None:
    """Drop yuuko-k8s's TCP session to router-mine so the next one is new (NAT: gotcha 7).

    ss -K behaves like a lost connection; `gobgp neighbor reset` would park the peer Idle 30 s.
    """
    mine = ROUTER["router-mine"].lan_ip
    ns_run(s.ns("yuuko-k8s"), ["ss", "-K", "-tn", f"dst {mine} and dport = :179"], check=False)


def _mark_log(ctx: FaultContext, host: str, name: str = "bird.log") -> None:
    ctx.marks[f"log:{host}/{name}"] = ctx.log_size(host, name)


def _bird_info(ctx: FaultContext, router: str, proto: str) -> str:
    return health.bird_bgp_states(ctx.s, router).get(proto, "")


def _pod_ping_fails(ctx: FaultContext) -> bool:
    a, b = NODE["sakamoto"], NODE["yuuko-k8s"]
    return health.ping(ctx.s, "sakamoto", b.pod_ip, src=a.pod_ip).returncode != 0


def _all_bird_up(ctx: FaultContext, router: str) -> bool:
    states = health.bird_bgp_states(ctx.s, router)
    return bool(states) and all(v.startswith("Established") for v in states.values())


# -- node-not-listening ---------------------------------------------------------------------
def _nnl_apply(ctx: FaultContext) -> None:
    pass  # config only (knobs)


def _nnl_cond(ctx: FaultContext) -> str | None:
    out = health.birdc(ctx.s, "router-home", "show", "protocols", "all", "yuuko_k8s").stdout
    return None if "Connection refused" in out else "router-home yuuko_k8s shows no 'Connection refused' yet"


# -- nat-rewrites-bgp-source ----------------------------------------------------------------
def _nat_apply(ctx: FaultContext) -> None:
    _mark_log(ctx, "router-mine")
    _nft(
        ctx.s,
        "router-home",
        f"""table ip {FAULT_NAT_TABLE} {{
  chain post {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname "zt0" counter masquerade comment "fault: masquerade on the zt zone"
  }}
}}
""",
    )
    _kill_yuuko_session(ctx.s)


def _unexpected_from(addr: str) -> Callable[[FaultContext], str | None]:
    def cond(ctx: FaultContext) -> str | None:
        if f"Unexpected connect from unknown address {addr}" in ctx.new_log("router-mine", "bird.log"):
            return None
        return f"router-mine has not logged an unexpected connect from {addr} yet"

    return cond


# -- unexpected-source-address --------------------------------------------------------------
def _src_apply(ctx: FaultContext) -> None:
    _mark_log(ctx, "router-mine")
    add_yuuko_zt(ctx.s)
    _kill_yuuko_session(ctx.s)


# -- ebgp-multihop-missing ------------------------------------------------------------------
def _mh_apply(ctx: FaultContext) -> None:
    pass  # knob only; the counter is marked before the config changes (see api.apply_faults)


def _mh_cond(ctx: FaultContext) -> str | None:
    now = health.proc_net(ctx.s, "router-home", "Icmp", "OutTimeExcds")
    if now <= ctx.marks.get("router-home:OutTimeExcds", 0):
        return "router-home has sent no ICMP time exceeded yet"
    if health.gobgp_states(ctx.s, "yuuko-k8s").get(ROUTER["router-mine"].lan_ip) == "ESTABLISHED":
        return "yuuko-k8s -> router-mine still Established"
    return None


# -- firewall-blocks-pod-cidr ---------------------------------------------------------------
def _fw_apply(ctx: FaultContext) -> None:
    ns_run(ctx.s.ns("router-mine"), ["nft", "flush", "chain", "inet", FW_TABLE, "pod_cidr"])


def _fw_cond(ctx: FaultContext) -> str | None:
    if not _all_bird_up(ctx, "router-mine"):
        return "router-mine BGP not all Established"
    return None if _pod_ping_fails(ctx) else "pod ping still works"


# -- ip-forward-disabled --------------------------------------------------------------------
def _fwd_apply(ctx: FaultContext) -> None:
    ns_run(ctx.s.ns("router-home"), ["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"])


def _fwd_cond(ctx: FaultContext) -> str | None:
    if health.ping(ctx.s, "yuuko-k8s", ROUTER["router-mine"].lan_ip).returncode == 0:
        return "yuuko-k8s still reaches 192.168.6.1"
    if _bird_info(ctx, "router-mine", "yuuko_k8s").startswith("Established"):
        return "router-mine yuuko_k8s still Established (hold timer)"
    return None


# -- rp-filter-strict -----------------------------------------------------------------------
def _rp_apply(ctx: FaultContext) -> None:
    ctx.marks["router-home:IPReversePathFilter"] = health.proc_net(
        ctx.s, "router-home", "TcpExt", "IPReversePathFilter"
    )
    dst, gw, dev, metric = RP_ROUTE
    route(ctx.s, "router-home", "replace", dst, gw, dev, metric)
    ns_run(ctx.s.ns("router-home"), ["sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=1"])


def _rp_cond(ctx: FaultContext) -> str | None:
    if not _pod_ping_fails(ctx):
        return "pod ping still works"
    now = health.proc_net(ctx.s, "router-home", "TcpExt", "IPReversePathFilter")
    if now <= ctx.marks.get("router-home:IPReversePathFilter", 0):
        return "router-home IPReversePathFilter counter did not grow"
    return None


# -- mtu-blackhole --------------------------------------------------------------------------
def _mtu_apply(ctx: FaultContext) -> None:
    set_mtu(ctx.s, "router-mine", "zt0", MTU_FAULT)
    set_mtu(ctx.s, SWITCH, "p-rmine", MTU_FAULT)
    _fault_table(
        ctx.s,
        "router-mine",
        "output",
        'icmp type destination-unreachable icmp code frag-needed counter drop comment "fault: pmtu"',
    )
    for host in ("sakamoto", "router-mine", "router-home", "yuuko-k8s"):
        ns_run(ctx.s.ns(host), ["ip", "route", "flush", "cache"], check=False)


def _mtu_cond(ctx: FaultContext) -> str | None:
    dst = NODE["yuuko-k8s"].lan_ip
    if health.ping(ctx.s, "sakamoto", dst, size=MTU_FAULT - 28, df=True).returncode != 0:
        return f"{MTU_FAULT}-byte packets do not pass"
    if health.ping(ctx.s, "sakamoto", dst, size=1392, df=True).returncode == 0:
        return "1420-byte packets still pass"
    return None


# -- podcidr-not-advertised -----------------------------------------------------------------
def _pc_apply(ctx: FaultContext) -> None:
    cp = health.gobgp(ctx.s, "yuuko-k8s", "global", "rib", "del", "-a", "ipv4", NODE["yuuko-k8s"].pod_cidr)
    if cp.returncode != 0:
        raise LabError(f"gobgp global rib del failed: {cp.stderr.strip()}")


def _pc_cond(ctx: FaultContext) -> str | None:
    cidr = NODE["yuuko-k8s"].pod_cidr
    for router in ("router-mine", "router-home"):
        if cidr in health.kernel_prefixes(ctx.s, router):
            return f"{router} still has {cidr}"
    return None if _all_bird_up(ctx, "router-home") else "router-home BGP not all Established"


# -- kubelet-unreachable --------------------------------------------------------------------
def _kub_apply(ctx: FaultContext) -> None:
    home_lan = ROUTER["router-home"].lan
    _fault_table(
        ctx.s,
        "yuuko-k8s",
        "input",
        f'ip saddr != {home_lan} tcp dport 10250 counter drop comment "fault: kubelet only from LAN"',
    )


def _kub_cond(ctx: FaultContext) -> str | None:
    target = NODE["yuuko-k8s"].lan_ip
    if health.tls_probe(ctx.s, POD, target, timeout=1.5).returncode == 0:
        return "kubelet still reachable from metrics-server"
    if health.ping(ctx.s, POD, target).returncode != 0:
        return f"{POD} ({MS_POD_IP}) cannot even ping {target}"
    return None


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault(
            "node-not-listening",
            "router-home BIRD connects actively (passive off) to yuuko-k8s, whose GoBGP never listens and "
            "waits too (passive-mode) -> Active, Connection refused",
            _nnl_apply,
            _nnl_cond,
            {"home_yuuko_passive": False, "yuuko_home_passive": True},
        ),
        Fault(
            "nat-rewrites-bgp-source",
            "router-home masquerades traffic leaving zt0: yuuko-k8s's multihop session reaches router-mine "
            "from 192.168.191.10",
            _nat_apply,
            _unexpected_from(ROUTER["router-home"].zt_ip),
        ),
        Fault(
            "unexpected-source-address",
            "yuuko-k8s joins ZeroTier (192.168.191.81) with a managed route to 192.168.6.0/24: its SYN to "
            "router-mine leaves from the ZeroTier IP, BIRD expects 192.168.0.81",
            _src_apply,
            _unexpected_from(YUUKO_ZT_IP),
        ),
        Fault(
            "ebgp-multihop-missing",
            "yuuko-k8s GoBGP peers with router-mine without ebgp-multihop (TTL 1, Cilium's default)",
            _mh_apply,
            _mh_cond,
            {"yuuko_multihop": False},
        ),
        Fault(
            "firewall-blocks-pod-cidr",
            "router-mine firewall pod_cidr chain flushed: zone forwarding drops 10.42.0.0/16, BGP stays up",
            _fw_apply,
            _fw_cond,
        ),
        Fault("ip-forward-disabled", "net.ipv4.ip_forward=0 on router-home", _fwd_apply, _fwd_cond),
        Fault(
            "rp-filter-strict",
            "router-home routes 10.42.0.0/24 via the backup link bk0 (asymmetric) with rp_filter=1",
            _rp_apply,
            _rp_cond,
        ),
        Fault(
            "mtu-blackhole",
            "router-mine zt0 MTU 1380 and its frag-needed ICMP dropped: packets above 1380 bytes vanish",
            _mtu_apply,
            _mtu_cond,
        ),
        Fault(
            "podcidr-not-advertised",
            "yuuko-k8s GoBGP withdraws its pod CIDR 10.42.3.0/24 (rib del)",
            _pc_apply,
            _pc_cond,
        ),
        Fault(
            "kubelet-unreachable",
            "yuuko-k8s firewall drops tcp/10250 from outside 192.168.0.0/24: metrics-server cannot reach it",
            _kub_apply,
            _kub_cond,
        ),
    )
}


def get_fault(name: str) -> Fault:
    try:
        return FAULTS[name]
    except KeyError:
        raise LabError(f"unknown fault {name!r} (known: {', '.join(FAULTS)})") from None


def mark_before_knobs(ctx: FaultContext, names: list[str]) -> None:
    """Counters to record before knob faults restart daemons."""
    if "ebgp-multihop-missing" in names:
        ctx.marks["router-home:OutTimeExcds"] = health.proc_net(ctx.s, "router-home", "Icmp", "OutTimeExcds")


def remove_runtime_artefacts(s: LabSettings, hosts: tuple[str, ...]) -> bool:
    """Delete fault nft tables, yuuko's zt0 and the bk0 route; True when something was removed."""
    from bgpdoctor.lab.netlink import del_link

    changed = False
    for host in hosts:
        cp = ns_run(s.ns(host), ["nft", "list", "tables"], check=False)
        for fam, name in (("inet", FAULT_TABLE), ("ip", FAULT_NAT_TABLE)):
            if f"table {fam} {name}" in cp.stdout:
                ns_run(s.ns(host), ["nft", "delete", "table", fam, name])
                changed = True
    changed |= del_link(s, "yuuko-k8s", "zt0")
    dst, gw, dev, metric = RP_ROUTE
    changed |= route(s, "router-home", "del", dst, gw, dev, metric)
    return changed
