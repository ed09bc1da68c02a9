"""The fault registry: each fault is a root cause bgpdoctor must name (ids match the playbooks).

A fault changes the daemons' configs through Knobs and/or applies runtime changes (nft, sysctl,
routes, RIB, links). condition() says whether its symptom is visible yet: `lab up --fault` waits
for it. Healing never undoes a fault piecemeal: `lab up` rebuilds the baseline.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bgpdoctor.errors import LabError
from bgpdoctor.lab import health
from bgpdoctor.lab.configs import (
    FAULT_NAT_TABLE,
    FAULT_TABLE,
    FW_TABLE,
    WRONG_ASN,
    Knobs,
    bird_argv,
    bird_conf,
    rogue_gobgp_toml,
)
from bgpdoctor.lab.netlink import add_tor_vlan6, add_yuuko_zt, route, set_mtu
from bgpdoctor.lab.procs import kill_proc, ns_run, proc_alive, start_in_ns
from bgpdoctor.lab.state import LabState
from bgpdoctor.lab.topology import (
    LB_NODE_IP,
    LB_NODES,
    LB_POOL,
    LB_VIP,
    MS_POD_IP,
    NODE,
    NODE6,
    POD,
    ROUTER,
    ROUTER6,
    ROUTERS,
    SWITCH,
    TOR_VLAN6,
    WDS_NODE,
    WDS_NODES,
    YUUKO_ZT_IP,
    LabSettings,
)

MTU_FAULT = 1380
FAULT_PROC_PREFIX = "fault:"  # state.json keys of processes a fault started; `lab up` stops them
ROGUE_KEY = f"{FAULT_PROC_PREFIX}router-home/gobgpd"
# daemons that `lab up` restarts when healing these faults (their state outlives the fault's artefacts)
RESTART_ON_HEAL = {"port-179-conflict": ("router-home/bird",)}
RP_ROUTE = ("10.42.0.0/24", "10.255.255.1", "bk0", 5)  # dst, gateway, dev, metric on router-home


@dataclass
class FaultContext:
    """What a fault needs: the lab settings and marks recorded before it was applied."""

    s: LabSettings
    marks: dict[str, int] = field(default_factory=dict)
    st: LabState | None = None
    save: Callable[[], None] | None = None
    notes: dict[str, str] = field(default_factory=dict)  # raw outputs a fault captured while applying

    def state(self) -> LabState:
        if self.st is None:
            raise LabError("this fault needs the lab state (FaultContext.st)")
        return self.st

    def saved(self) -> None:
        if self.save is not None:
            self.save()

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
    cause: str = ""  # the root cause bgpdoctor must name, when it is not the fault's name

    @property
    def root_cause(self) -> str:
        """The playbook id bgpdoctor must name. Example: "bird-ebgp-no-policy" """
        return self.cause or self.name


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


# -- neither-end-connects ------------------------------------------------------------------
def _nec_cond(ctx: FaultContext) -> str | None:
    """Both ends wait: router-home's BIRD in Passive, yuuko-k8s's GoBGP (restarted with passive-mode)
    not Established with it, and its session with router-mine back before a run."""
    home, mine = ROUTER["router-home"].lan_ip, ROUTER["router-mine"].lan_ip
    info = health.bird_bgp_states(ctx.s, "router-home").get("yuuko_k8s", "")
    if not info.startswith("Passive"):
        return f"router-home yuuko_k8s is {info or 'missing'!r}, not Passive yet"
    states = health.gobgp_states(ctx.s, "yuuko-k8s")
    if states.get(home) in (None, "ESTABLISHED"):
        return f"yuuko-k8s -> {home} is {states.get(home) or 'missing'}, not waiting yet"
    if states.get(mine) != "ESTABLISHED":
        return f"yuuko-k8s -> {mine} (router-mine) not Established again yet"
    return None


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
    # each end's hold timer started at its own last keepalive, so GoBGP can outlive BIRD by up to
    # a keepalive interval; a lab healed before then leaves a stale socket that the next run reports
    if _yuuko_to(ctx, "router-mine") == "ESTABLISHED":
        return "yuuko-k8s still Established to router-mine (hold timer)"
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
def _overlay_mtu_blackhole(ctx: FaultContext, ip: list[str], drop_rule: str) -> None:
    """router-mine's zt0 (and its switch port) at MTU_FAULT, its too-big ICMP (`drop_rule`) dropped,
    and the learned path MTUs of the family (`ip` or `ip -6`) forgotten on the seed-001 hosts."""
    set_mtu(ctx.s, "router-mine", "zt0", MTU_FAULT)
    set_mtu(ctx.s, SWITCH, "p-rmine", MTU_FAULT)
    _fault_table(ctx.s, "router-mine", "output", drop_rule)
    for host in ("sakamoto", "router-mine", "router-home", "yuuko-k8s"):
        ns_run(ctx.s.ns(host), [*ip, "route", "flush", "cache"], check=False)


def _mtu_apply(ctx: FaultContext) -> None:
    _overlay_mtu_blackhole(
        ctx,
        ["ip"],
        'icmp type destination-unreachable icmp code frag-needed counter drop comment "fault: pmtu"',
    )


def _mtu_cond(ctx: FaultContext) -> str | None:
    # across the overlay itself, so the fault shows also while another one stops pod traffic
    dst = ROUTER["router-mine"].zt_ip
    if health.ping(ctx.s, "router-home", dst, size=MTU_FAULT - 28, df=True).returncode != 0:
        return f"{MTU_FAULT}-byte packets do not pass"
    if health.ping(ctx.s, "router-home", dst, size=1392, df=True).returncode == 0:
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


# -- shared by the session faults below ------------------------------------------------------
def md5_secret(s: LabSettings) -> str:
    """The lab's TCP MD5 password (md5-mismatch), created once, mode 0600; never printed or logged.

    Example: md5_secret(s) -> "3f9c0e6a1b2d4c5e" (kept in <run>/router-home/md5.secret)
    """
    p = s.host_dir("router-home") / "md5.secret"
    if not p.exists():
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(8))
    return p.read_text().strip()


def _home_yuuko_all(ctx: FaultContext) -> str:
    return health.birdc(ctx.s, "router-home", "show", "protocols", "all", "yuuko_k8s").stdout


def _yuuko_to(ctx: FaultContext, router: str) -> str:
    return health.gobgp_states(ctx.s, "yuuko-k8s").get(ROUTER[router].lan_ip, "")


def _bird_error(text: str) -> Callable[[FaultContext], str | None]:
    def cond(ctx: FaultContext) -> str | None:
        out = _home_yuuko_all(ctx)
        if text not in out:
            return f"router-home yuuko_k8s shows no {text!r} yet"
        if _yuuko_to(ctx, "router-home") == "ESTABLISHED":
            return "yuuko-k8s -> router-home still ESTABLISHED"
        return None

    return cond


def _noop(ctx: FaultContext) -> None:
    pass  # config only (knobs)


# -- md5-mismatch ---------------------------------------------------------------------------
def _md5_mark(ctx: FaultContext) -> None:
    ctx.marks["router-home:TCPMD5NotFound"] = health.proc_net(
        ctx.s, "router-home", "TcpExt", "TCPMD5NotFound"
    )


def _md5_cond(ctx: FaultContext) -> str | None:
    now = health.proc_net(ctx.s, "router-home", "TcpExt", "TCPMD5NotFound")
    if now <= ctx.marks.get("router-home:TCPMD5NotFound", 0):
        return "router-home TCPMD5NotFound did not grow"
    if _bird_info(ctx, "router-home", "yuuko_k8s").startswith("Established"):
        return "router-home yuuko_k8s still Established"
    return None if _yuuko_to(ctx, "router-home") != "ESTABLISHED" else "yuuko-k8s still ESTABLISHED"


# -- bgp-port-filtered ----------------------------------------------------------------------
def _pf_apply(ctx: FaultContext) -> None:
    yuuko = NODE["yuuko-k8s"].lan_ip
    _fault_table(
        ctx.s,
        "router-mine",
        "input",
        f'ip saddr {yuuko} tcp dport 179 counter drop comment "fault: bgp from yuuko-k8s filtered"',
    )
    _kill_yuuko_session(ctx.s)


def _pf_cond(ctx: FaultContext) -> str | None:
    nft = ns_run(ctx.s.ns("router-mine"), ["nft", "list", "table", "inet", FAULT_TABLE], check=False).stdout
    if "counter packets 0 " in nft:
        return "router-mine drop rule has not counted a packet yet"
    if _bird_info(ctx, "router-mine", "yuuko_k8s").startswith("Established"):
        return "router-mine yuuko_k8s still Established"
    return None if _yuuko_to(ctx, "router-mine") != "ESTABLISHED" else "yuuko-k8s -> router-mine ESTABLISHED"


# -- bgp-filtered-unseen ------------------------------------------------------------------------
def _unseen_apply(ctx: FaultContext) -> None:
    """The overlay switch (no login, no IP: not in the inventory) drops TCP 179 between the
    routers; ICMP and everything else still pass."""
    mine, home = ROUTER["router-mine"].zt_ip, ROUTER["router-home"].zt_ip
    _nft(
        ctx.s,
        SWITCH,
        f"""table bridge {FAULT_TABLE} {{
  chain forward {{
    type filter hook forward priority -10; policy accept;
    ip saddr {{ {mine}, {home} }} ip daddr {{ {mine}, {home} }} tcp dport 179 counter drop
    ip saddr {{ {mine}, {home} }} ip daddr {{ {mine}, {home} }} tcp sport 179 counter drop
  }}
}}
""",
    )
    for router in ROUTERS:  # the routers' own BGP connection over zt0 must start again
        other = next(r for r in ROUTERS if r != router)
        ns_run(ctx.s.ns(router), ["ss", "-K", "dst", ROUTER[other].zt_ip], check=False)


def _unseen_cond(ctx: FaultContext) -> str | None:
    nft = ns_run(ctx.s.ns(SWITCH), ["nft", "list", "table", "bridge", FAULT_TABLE], check=False).stdout
    if nft.count("counter packets 0 ") == 2:
        return "the switch has not dropped a BGP packet yet"
    if _bird_info(ctx, "router-mine", "router_home").startswith("Established"):
        return "router-mine router_home still Established"
    return None


# -- peer-not-configured --------------------------------------------------------------------
def _pnc_cond(ctx: FaultContext) -> str | None:
    addr = NODE["yuuko-k8s"].lan_ip
    if "yuuko_k8s" in health.bird_bgp_states(ctx.s, "router-home"):
        return "router-home still has protocol yuuko_k8s"
    if f"Unexpected connect from unknown address {addr}" not in ctx.new_log("router-home", "bird.log"):
        return f"router-home has not logged an unexpected connect from {addr} yet"
    return None


# -- speaker-down ---------------------------------------------------------------------------
def _sd_apply(ctx: FaultContext) -> None:
    rec = ctx.state().procs.get("router-home/bird")
    if rec is None or not proc_alive(rec):
        raise LabError("router-home BIRD is not running (nothing recorded to stop)")
    kill_proc(rec)  # the record stays: `lab up` sees it dead and starts BIRD again


def _sd_cond(ctx: FaultContext) -> str | None:
    cp = health.birdc(ctx.s, "router-home", "show", "status")
    if cp.returncode == 0 and "Daemon is up" in cp.stdout:
        return "router-home BIRD still answers"
    if "Connection refused" not in _bird_info(ctx, "router-mine", "router_home"):
        return "router-mine router_home does not show 'Connection refused' yet"
    return None if _yuuko_to(ctx, "router-home") != "ESTABLISHED" else "yuuko-k8s -> router-home ESTABLISHED"


# -- bird-kernel-export-none ----------------------------------------------------------------
def _ken_cond(ctx: FaultContext) -> str | None:
    fib = ns_run(ctx.s.ns("router-home"), ["ip", "route", "show", "proto", "bird"], check=False).stdout
    if fib.strip():
        return "router-home FIB still has BIRD routes"
    rib = health.birdc(ctx.s, "router-home", "show", "route", "for", NODE["sakamoto"].pod_cidr).stdout
    return None if NODE["sakamoto"].pod_cidr in rib else "router-home BIRD RIB lost 10.42.0.0/24 too"


# -- bird-ebgp-no-policy --------------------------------------------------------------------
def _np_apply(ctx: FaultContext) -> None:
    """Edit router-home's bird.conf in place like a user, then reload; BIRD refuses and keeps the old one."""
    conf = bird_conf(ctx.s, "router-home", Knobs(home_yuuko_no_policy=True), ctx.state().default_timers)
    (ctx.s.host_dir("router-home") / "bird.conf").write_text(conf)
    ctx.notes["birdc configure"] = health.birdc(ctx.s, "router-home", "configure").stdout


def _np_cond(ctx: FaultContext) -> str | None:
    check = health.birdc(ctx.s, "router-home", "configure", "check").stdout
    if "EBGP requires explicit" not in check:
        return "birdc configure check does not report the missing eBGP policy"
    return None if _all_bird_up(ctx, "router-home") else "router-home BGP not all Established (old config)"


# -- port-179-conflict ----------------------------------------------------------------------
def _pc179_apply(ctx: FaultContext) -> None:
    """A second speaker takes 0.0.0.0:179 while BIRD restarts (as after a reboot): BIRD cannot listen."""
    s, st = ctx.s, ctx.state()
    d = s.host_dir("router-home")
    _mark_log(ctx, "router-home")
    rec = st.procs.get("router-home/bird")
    if rec is None:
        raise LabError("router-home BIRD is not recorded")
    kill_proc(rec)
    (d / "rogue-gobgpd.toml").write_text(rogue_gobgp_toml("router-home"))
    argv = ["gobgpd", "-t", "toml", "-f", str(d / "rogue-gobgpd.toml"), "-l", "info"]
    argv += ["--api-hosts", "127.0.0.1:50051", "--pprof-disable"]
    st.procs[ROGUE_KEY] = start_in_ns(
        s.ns("router-home"), "router-home", "gobgpd", argv, d / "rogue-gobgpd.log"
    )
    ctx.saved()
    for _ in range(100):
        if "gobgpd" in _owners_179(s, "router-home"):
            break
        time.sleep(0.05)
    else:
        raise LabError("the second speaker on router-home did not bind 179")
    s.bird_socket("router-home").unlink(missing_ok=True)
    st.procs["router-home/bird"] = start_in_ns(
        s.ns("router-home"),
        "router-home",
        "bird",
        bird_argv(s, "router-home"),
        d / "bird.out",
        rec.config_hash,
    )
    ctx.saved()


def _owners_179(s: LabSettings, host: str) -> str:
    return ns_run(s.ns(host), ["ss", "-Htlnp", "sport = :179"], check=False).stdout


def _pc179_cond(ctx: FaultContext) -> str | None:
    owners = _owners_179(ctx.s, "router-home")
    if "gobgpd" not in owners:
        return "gobgpd does not own 179 on router-home"
    if "Address already in use" not in ctx.new_log("router-home", "bird.log"):
        return "router-home BIRD has not logged 'Address already in use'"
    if _yuuko_to(ctx, "router-home") == "ESTABLISHED":
        return "yuuko-k8s -> router-home still ESTABLISHED"
    return None


# -- tunnel-drops-pod-cidr ------------------------------------------------------------------
WG_PORT = 51820
WG_MTU = 1360  # zt0 1420 minus WireGuard's 60 bytes
WG_ADDR = {"router-mine": "10.254.42.1", "router-home": "10.254.42.2"}
# allowed-ips each router gives its peer; router-mine's lacks router-home's pod CIDR 10.42.3.0/24
WG_ALLOWED = {
    "router-mine": ("10.254.42.2/32", "192.168.0.0/24"),
    "router-home": ("10.254.42.1/32", "192.168.6.0/24", "10.42.0.0/24"),
}
WG_POD_ROUTE = {"router-mine": "10.42.3.0/24", "router-home": "10.42.0.0/24"}


def wg_ifname(s: LabSettings, router: str) -> str:
    """wireguard-go's UAPI socket (/var/run/wireguard/IF.sock) is not per namespace: names are lab-unique.

    Example: wg_ifname(s, "router-mine") -> "bdl-wg-mine"
    """
    return f"{s.prefix}wg-{router.removeprefix('router-')}"


def _wg_key(s: LabSettings, router: str) -> tuple[Path, str]:
    """(private key file, public key); the private key only ever lives in its 0600 file."""
    p = s.host_dir(router) / "wg.key"
    if not p.exists():
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(ns_run(s.ns(router), ["wg", "genkey"]).stdout)
    pub = ns_run(s.ns(router), ["wg", "pubkey"], input_text=p.read_text()).stdout.strip()
    return p, pub


def _tun_apply(ctx: FaultContext) -> None:
    """WireGuard (userspace wireguard-go) between the routers over zt0; pod CIDRs routed through it."""
    import shutil

    if shutil.which("wireguard-go") is None or shutil.which("wg") is None:
        raise LabError("tunnel-drops-pod-cidr needs wireguard-go and wireguard-tools (apt-get install)")
    s, st = ctx.s, ctx.state()
    keys = {r: _wg_key(s, r) for r in ROUTERS}
    for router in ROUTERS:
        other = ROUTERS[1] if router == ROUTERS[0] else ROUTERS[0]
        ns, ifname, d = s.ns(router), wg_ifname(s, router), s.host_dir(router)
        rec = start_in_ns(
            ns, router, "wireguard-go", ["wireguard-go", "-f", ifname], d / "wireguard-go.log",
            env={"LOG_LEVEL": "verbose"},
        )  # fmt: skip
        st.procs[f"{FAULT_PROC_PREFIX}{router}/wireguard-go"] = rec
        ctx.saved()
        for _ in range(100):
            if ns_run(ns, ["ip", "link", "show", ifname], check=False).returncode == 0:
                break
            time.sleep(0.05)
        else:
            raise LabError(f"wireguard-go on {router} did not create {ifname}")
        ns_run(ns, ["sysctl", "-q", "-w", f"net.ipv4.conf.{ifname}.rp_filter=0"])
        ns_run(
            ns,
            [
                "wg", "set", ifname, "listen-port", str(WG_PORT), "private-key", str(keys[router][0]),
                "peer", keys[other][1], "endpoint", f"{ROUTER[other].zt_ip}:{WG_PORT}",
                "allowed-ips", ",".join(WG_ALLOWED[router]), "persistent-keepalive", "5",
            ],
        )  # fmt: skip
        ns_run(ns, ["ip", "addr", "add", f"{WG_ADDR[router]}/30", "dev", ifname])
        ns_run(ns, ["ip", "link", "set", ifname, "mtu", str(WG_MTU), "up"])
        ns_run(
            ns,
            ["ip", "route", "replace", WG_POD_ROUTE[router], "dev", ifname, "proto", "static", "metric", "1"],
        )
        for rule in (f'oifname "{ifname}" jump pod_cidr', f'iifname "{ifname}" jump pod_cidr'):
            ns_run(ns, ["nft", "insert", "rule", "inet", FW_TABLE, "forward", *rule.split()])  # zone zt
        for host in ("sakamoto", router):
            ns_run(s.ns(host), ["ip", "route", "flush", "cache"], check=False)


def _tun_cond(ctx: FaultContext) -> str | None:
    s = ctx.s
    if health.ping(s, "router-mine", WG_ADDR["router-home"]).returncode != 0:
        return "the WireGuard tunnel itself does not pass traffic yet"
    got = ns_run(s.ns("router-mine"), ["ip", "route", "get", NODE["yuuko-k8s"].pod_ip], check=False).stdout
    if wg_ifname(s, "router-mine") not in got:
        return "router-mine does not route 10.42.3.0/24 into the tunnel"
    return None if _pod_ping_fails(ctx) else "pod ping still works"


# -- ibgp-no-route-reflection (seed 002) ------------------------------------------------------
def _rr_cond(ctx: FaultContext) -> str | None:
    if not _all_bird_up(ctx, "gateway"):
        return "gateway BGP not all Established"
    gw = health.kernel_prefixes(ctx.s, "gateway")
    for node in WDS_NODES:
        if WDS_NODE[node].block not in gw:
            return f"gateway lost {WDS_NODE[node].block} too"
    a, b = WDS_NODES
    for x, y in ((a, b), (b, a)):
        if WDS_NODE[y].block in health.kernel_prefixes(ctx.s, x):
            return f"{x} still has {WDS_NODE[y].block}"
    return None


# -- bgp-next-hop-unreachable (seed 002) ------------------------------------------------------
def _nhs_cond(ctx: FaultContext) -> str | None:
    if not _all_bird_up(ctx, "cn-ns"):
        return "cn-ns BGP not Established"
    out = health.birdc(ctx.s, "cn-ns", "show", "route").stdout
    for node in WDS_NODES:
        block = WDS_NODE[node].block
        if not any(ln.startswith(block) and "unreachable" in ln for ln in out.splitlines()):
            return f"cn-ns does not hold {block} as unreachable yet"
    return None


# -- ecmp-single-path (seed 003) ----------------------------------------------------------------
def _ecmp_cond(ctx: FaultContext) -> str | None:
    routes = health.kernel_routes(ctx.s, "tor", LB_VIP)
    if not routes or routes[0].get("nexthops") or not routes[0].get("gateway"):
        return f"tor still has an ECMP route (or none) for {LB_VIP}"
    if health.frr_paths(ctx.s, "tor", f"{LB_VIP}/32") < len(LB_NODES):
        return f"tor FRR does not hold {len(LB_NODES)} paths for {LB_VIP}"
    return None


# -- connected-route-shadows-bgp (seed 003) ------------------------------------------------------
def _shadow_apply(ctx: FaultContext) -> None:
    add_tor_vlan6(ctx.s)


def _shadow_cond(ctx: FaultContext) -> str | None:
    got = ns_run(ctx.s.ns("tor"), ["ip", "route", "get", LB_VIP], check=False).stdout
    if f"dev {TOR_VLAN6[0]}" not in got:
        return f"tor does not send {LB_VIP} out of {TOR_VLAN6[0]} yet"
    if health.frr_paths(ctx.s, "tor", LB_POOL) < len(LB_NODES):
        return f"tor FRR does not hold {len(LB_NODES)} BGP paths for {LB_POOL}"
    return None


# -- frr-ebgp-requires-policy (seed 003, FRR only) -----------------------------------------------
def _frr_policy_cond(ctx: FaultContext) -> str | None:
    neighbors = health.frr_json(ctx.s, "tor", "show bgp neighbors json")
    for node in LB_NODES:
        nb = neighbors.get(LB_NODE_IP[node])
        if not isinstance(nb, dict) or nb.get("bgpState") != "Established":
            return f"tor's session with {node} is not Established"
        family = nb.get("addressFamilyInfo", {}).get("ipv4Unicast", {})
        if not family.get("inboundEbgpRequiresPolicy"):
            return f"tor's FRR does not report {node}'s inbound policy missing yet"
    if health.frr_paths(ctx.s, "tor", f"{LB_VIP}/32"):
        return f"tor's FRR still holds {LB_VIP}"
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
            "neither-end-connects",
            "router-home BIRD waits for yuuko-k8s (passive on, as always) and yuuko-k8s's GoBGP now waits "
            "too (passive-mode): nobody dials, no SYN, no error -> Passive on both ends",
            _nnl_apply,
            _nec_cond,
            {"home_yuuko_passive": True, "yuuko_home_passive": True},
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
            "bgp-filtered-unseen",
            "the ZeroTier switch (no login, not in the inventory) drops TCP 179 between router-home and "
            "router-mine; ICMP passes",
            _unseen_apply,
            _unseen_cond,
        ),
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
        Fault(
            "asn-mismatch",
            f"router-home expects yuuko-k8s in AS {WRONG_ASN} (it is 64514): OPEN rejected, Bad peer AS",
            _noop,
            _bird_error("Bad peer AS"),
            {"home_yuuko_wrong_as": True},
        ),
        Fault(
            "router-id-conflict",
            "router-home <-> yuuko-k8s as iBGP (AS 64514) with yuuko-k8s's GoBGP router-id = router-home's "
            "192.168.191.10 -> Bad BGP identifier",
            _noop,
            _bird_error("Bad BGP identifier"),
            {"home_yuuko_ibgp": True, "yuuko_router_id_clash": True},
        ),
        Fault(
            "md5-mismatch",
            "TCP MD5 password on router-home's neighbor yuuko-k8s only: the kernel drops yuuko-k8s's SYNs",
            _noop,
            _md5_cond,
            {"home_yuuko_md5": True},
        ),
        Fault(
            "bgp-port-filtered",
            "router-mine nft drops tcp dport 179 from yuuko-k8s (192.168.0.81): SYN, no answer",
            _pf_apply,
            _pf_cond,
        ),
        Fault(
            "peer-not-configured",
            "router-home has no protocol for yuuko-k8s while yuuko-k8s keeps its neighbor 192.168.0.1",
            _noop,
            _pnc_cond,
            {"home_yuuko_absent": True},
        ),
        Fault(
            "speaker-down",
            "router-home's BIRD stopped (recorded PID killed): the control socket does not answer",
            _sd_apply,
            _sd_cond,
        ),
        Fault(
            "bird-kernel-export-none",
            "router-home BIRD kernel protocol `export none`: routes in BIRD's RIB, none in the FIB",
            _noop,
            _ken_cond,
            {"home_kernel_export_none": True},
        ),
        Fault(
            "bird-ebgp-no-policy",
            "router-home bird.conf edited to an eBGP channel without import/export: `birdc configure` "
            "refuses it, BIRD keeps running the old config",
            _np_apply,
            _np_cond,
        ),
        Fault(
            "port-179-conflict",
            "a second BGP speaker (gobgpd) holds 0.0.0.0:179 on router-home when BIRD restarts: BIRD "
            "cannot listen, yuuko-k8s's connects hit the wrong daemon",
            _pc179_apply,
            _pc179_cond,
        ),
        Fault(
            "tunnel-drops-pod-cidr",
            "WireGuard (wireguard-go) between the routers carries the pod CIDRs, but router-mine's peer "
            "allowed-ips lack 10.42.3.0/24",
            _tun_apply,
            _tun_cond,
        ),
        Fault(
            "ibgp-no-route-reflection",
            "gateway peers with the Calico nodes over iBGP without `rr client` (node-to-node mesh off): "
            "a node's pod block never reaches the other node",
            _noop,
            _rr_cond,
            {"gw_rr_client": False},
        ),
        Fault(
            "bgp-next-hop-unreachable",
            "gateway passes the pod blocks to cn-ns without `next hop self`: cn-ns cannot resolve the "
            "nodes' LAN next hops and holds the routes as unreachable",
            _noop,
            _nhs_cond,
            {"gw_next_hop_self": False},
        ),
        Fault(
            "ecmp-single-path",
            "tor's FRR has `maximum-paths 1` (ipv4 unicast): both nodes announce the VIP 10.0.6.1/32, "
            "the kernel gets one next hop",
            _noop,
            _ecmp_cond,
            {"tor_merge_paths": False},
        ),
        Fault(
            "connected-route-shadows-bgp",
            "tor has an address in the LoadBalancer VLAN (vlanif6 10.0.6.254/24) while the nodes "
            "announce the pool aggregated (10.0.6.0/24): the connected route wins, VIP traffic stays on-link",
            _shadow_apply,
            _shadow_cond,
            {"lb_aggregate": True},
        ),
        Fault(
            "frr-ebgp-requires-policy",
            "tor's FRR (`bgp ebgp-requires-policy`, its default) has no route-map in or out for the "
            "nodes: the sessions are Established, the VIP 10.0.6.1/32 is discarded (RFC 8212)",
            _noop,
            _frr_policy_cond,
            {"tor_ebgp_policy": False},
            cause="bird-ebgp-no-policy",
        ),
    )
}


# -- dual stack (`lab up --dual-stack` only): the IPv6 form of causes the IPv4 faults make -------
ND_DROP_RULE = (
    'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } counter drop comment "fault: hostFirewall"'
)


def _pod6_ping_fails(ctx: FaultContext) -> bool:
    a, b = NODE6["yuuko-k8s"], NODE6["sakamoto"]
    return health.ping(ctx.s, "yuuko-k8s", b.pod_ip, src=a.pod_ip).returncode != 0


def _fwd6_apply(ctx: FaultContext) -> None:
    ns_run(ctx.s.ns("router-home"), ["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=0"])


def _fwd6_cond(ctx: FaultContext) -> str | None:
    if not _pod6_ping_fails(ctx):
        return f"IPv6 pod ping {NODE6['yuuko-k8s'].pod_ip} -> {NODE6['sakamoto'].pod_ip} still works"
    return None


def _nnl6_cond(ctx: FaultContext) -> str | None:
    out = health.birdc(ctx.s, "router-home", "show", "protocols", "all", "yuuko_k8s_v6").stdout
    if "Connection refused" not in out:
        return "router-home yuuko_k8s_v6: no 'Connection refused' yet"
    # gobgpd restarted with the IPv6 neighbor passive: its IPv4 session must be back before a run
    router = ROUTER["router-home"].lan_ip
    if health.gobgp_states(ctx.s, "yuuko-k8s").get(router) != "ESTABLISHED":
        return f"yuuko-k8s -> {router} (IPv4) not Established again yet"
    return None


def _nd_apply(ctx: FaultContext) -> None:
    # end the IPv6 session while its reset still reaches router-home (GoBGP waits 3 s to redial),
    # as after a reboot with the firewall loaded: no half-open session or conntrack entry left
    router = ROUTER6["router-home"].lan_ip
    ns_run(ctx.s.ns("yuuko-k8s"), ["ss", "-K", "-tn", f"dst [{router}] and dport = :179"], check=False)
    _fault_table(ctx.s, "yuuko-k8s", "input", ND_DROP_RULE)
    # forget the link-layer addresses now rather than when the entries go stale
    ns_run(ctx.s.ns("yuuko-k8s"), ["ip", "-6", "neigh", "flush", "dev", "eth0"], check=False)
    ns_run(ctx.s.ns("router-home"), ["ip", "-6", "neigh", "flush", "dev", "br-lan"], check=False)


def _nd_cond(ctx: FaultContext) -> str | None:
    router = ROUTER6["router-home"].lan_ip
    if health.gobgp_states(ctx.s, "yuuko-k8s").get(router) == "ESTABLISHED":
        return f"yuuko-k8s -> {router} still Established"
    neigh = ns_run(ctx.s.ns("yuuko-k8s"), ["ip", "-6", "neigh", "show", router], check=False).stdout
    if not any(state in neigh for state in ("FAILED", "INCOMPLETE")):
        return f"yuuko-k8s's neighbour entry for {router} is not FAILED/INCOMPLETE: {neigh.strip()!r}"
    return None


def _mtu6_apply(ctx: FaultContext) -> None:
    _overlay_mtu_blackhole(
        ctx, ["ip", "-6"], 'icmpv6 type packet-too-big counter drop comment "fault: ICMPv6 filtered"'
    )


def _mtu6_cond(ctx: FaultContext) -> str | None:
    src, dst = NODE6["sakamoto"].pod_ip, NODE6["yuuko-k8s"].pod_ip
    if health.ping(ctx.s, "sakamoto", dst, src=src, size=MTU_FAULT - 48, df=True).returncode != 0:
        return f"{MTU_FAULT}-byte IPv6 packets do not pass"
    if health.ping(ctx.s, "sakamoto", dst, src=src, size=1392 - 20, df=True).returncode == 0:
        return "1420-byte IPv6 packets still pass"
    return None


# name -> fault; each names in its description the root cause it makes (its id)
DUAL_STACK_FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault(
            "ipv6-forward-disabled",
            "ip-forward-disabled in IPv6: net.ipv6.conf.all.forwarding=0 on router-home (IPv4 still "
            "forwards); --dual-stack only",
            _fwd6_apply,
            _fwd6_cond,
        ),
        Fault(
            "ipv6-node-not-listening",
            "node-not-listening on the IPv6 session: router-home connects actively to yuuko-k8s's "
            f"{NODE6['yuuko-k8s'].lan_ip}, whose GoBGP never listens and waits too; --dual-stack only",
            _noop,
            _nnl6_cond,
            {"home_yuuko6_passive": False, "yuuko_home6_passive": True},
        ),
        Fault(
            "ipv6-mtu-blackhole",
            "mtu-blackhole in IPv6: router-mine zt0 MTU 1380 and its ICMPv6 Packet Too Big dropped (IPv4's "
            "frag-needed passes): IPv6 packets above 1380 bytes into the overlay vanish; --dual-stack only",
            _mtu6_apply,
            _mtu6_cond,
        ),
        Fault(
            "ipv6-nd-dropped",
            "ipv6-link-local: yuuko-k8s's host firewall drops ICMPv6 Neighbor Discovery, its IPv6 session "
            "to router-home cannot connect (IPv4 untouched); --dual-stack only",
            _nd_apply,
            _nd_cond,
        ),
    )
}


def get_fault(name: str) -> Fault:
    try:
        return FAULTS.get(name) or DUAL_STACK_FAULTS[name]
    except KeyError:
        known = ", ".join([*FAULTS, *DUAL_STACK_FAULTS])
        raise LabError(f"unknown fault {name!r} (known: {known})") from None


def mark_before_knobs(ctx: FaultContext, names: list[str]) -> None:
    """Counters to record before knob faults restart daemons."""
    if "ebgp-multihop-missing" in names:
        ctx.marks["router-home:OutTimeExcds"] = health.proc_net(ctx.s, "router-home", "Icmp", "OutTimeExcds")
    if "md5-mismatch" in names:
        _md5_mark(ctx)
    if "peer-not-configured" in names:
        _mark_log(ctx, "router-home")


def remove_runtime_artefacts(s: LabSettings, hosts: tuple[str, ...]) -> bool:
    """Delete fault nft tables, yuuko's zt0 and the bk0 route; True when something was removed."""
    from bgpdoctor.lab.netlink import del_link

    changed = False
    for host in (*hosts, SWITCH):
        cp = ns_run(s.ns(host), ["nft", "list", "tables"], check=False)
        for fam, name in (("inet", FAULT_TABLE), ("ip", FAULT_NAT_TABLE), ("bridge", FAULT_TABLE)):
            if f"table {fam} {name}" in cp.stdout:
                ns_run(s.ns(host), ["nft", "delete", "table", fam, name])
                changed = True
    changed |= del_link(s, "yuuko-k8s", "zt0")
    changed |= del_link(s, "tor", TOR_VLAN6[0])
    for router in ROUTERS:  # normally gone with its wireguard-go process
        changed |= del_link(s, router, wg_ifname(s, router))
    dst, gw, dev, metric = RP_ROUTE
    changed |= route(s, "router-home", "del", dst, gw, dev, metric)
    return changed
