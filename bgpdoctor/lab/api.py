"""Python API of the lab: lab_up, lab_down, lab_health, lab_exec, lab_status, list_faults."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from bgpdoctor.errors import LabError, UsageError
from bgpdoctor.lab import health
from bgpdoctor.lab.configs import (
    FW_TABLE,
    Knobs,
    bird_argv,
    bird_conf,
    birdc_wrapper,
    birdcl_wrapper,
    calico_bird_conf,
    gobgp_toml,
    gobgpd_argv,
    lb_announcements,
    lb_gobgp_toml,
    router_fw,
    sshd_config,
    tor_frr_conf,
    wds_bird_conf,
)
from bgpdoctor.lab.faults import (
    DUAL_STACK_FAULTS,
    FAULT_PROC_PREFIX,
    FAULTS,
    RESTART_ON_HEAL,
    Fault,
    FaultContext,
    get_fault,
    mark_before_knobs,
    md5_secret,
    remove_runtime_artefacts,
)
from bgpdoctor.lab.frr import FRR_DAEMON_DIR, FrrInstance, lab_frr_dir, restart_bgpd, start_frr
from bgpdoctor.lab.inventory import render_inventory
from bgpdoctor.lab.procs import _log, config_hash, kill_proc, ns_run, proc_alive, run, start_in_ns
from bgpdoctor.lab.state import LabState, load_state, save_state
from bgpdoctor.lab.topology import (
    BIRD16,
    HOSTS,
    KUBELET_PORT,
    LB_NODES,
    LB_ROUTERS,
    NAMESPACES,
    NODE,
    NODE6,
    NODES,
    POD_CIDR6,
    ROUTERS,
    WDS_NODES,
    WDS_ROUTERS,
    LabSettings,
    bird_binary,
    bird_hosts,
    settings_from_env,
)

TOOLS = (
    "ip",
    "bird",
    "birdc",
    "gobgpd",
    "gobgp",
    "nft",
    "ethtool",
    "ssh-keygen",
    "openssl",
    "ss",
    "sysctl",
    "ping",
    "vtysh",
)


@dataclass
class LabInfo:
    """What `lab up` produced.

    Example: LabInfo(inventory_path=Path("/var/lib/bgpdoctor/lab/inventory.yaml"),
    run_dir=Path("/var/lib/bgpdoctor/lab"), prefix="bdl-", faults=[], elapsed_s=9.8, problems=[])
    """

    inventory_path: Path
    run_dir: Path
    prefix: str
    faults: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    problems: list[str] = field(default_factory=list)  # expected ones when faults are active


def list_faults() -> list[Fault]:
    """All faults, in registry order, the dual-stack ones last.

    Example: [Fault(name="node-not-listening", ...), ..., Fault(name="ipv6-forward-disabled", ...)]
    """
    return [*FAULTS.values(), *DUAL_STACK_FAULTS.values()]


def _require_root_and_tools() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, veths, nft)")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if not os.path.exists("/usr/sbin/sshd"):
        missing.append("sshd")
    if not os.path.exists(BIRD16):
        missing.append(f"{BIRD16} (Calico's BIRD 1.6)")
    missing += [str(FRR_DAEMON_DIR / d) for d in ("zebra", "bgpd") if not (FRR_DAEMON_DIR / d).exists()]
    if missing:
        raise LabError(f"missing tools: {', '.join(missing)} (run scripts/install-deps.sh)")


def _open(run_dir: str | os.PathLike[str] | None) -> tuple[LabSettings, LabState | None]:
    s = settings_from_env(run_dir)
    st = load_state(s.state_path)
    if st is not None:
        # the lab in this directory keeps the names it was created with
        s = replace(s, prefix=st.prefix, mgmt_net=IPv4Network(st.mgmt_net), dual_stack=st.dual_stack)
    return s, st


def _check_mgmt_free(s: LabSettings) -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        names = {lk["index"]: lk.get("ifname") for lk in ipr.get_links()}
        for a in ipr.get_addr(family=2):
            ip = IPv4Address(a.get("address"))
            if ip in s.mgmt_net and names.get(a["index"]) != s.mgmt_bridge:
                raise LabError(
                    f"{s.mgmt_net} is already used by {names.get(a['index'])} ({ip}); "
                    "set BGPDOCTOR_LAB_MGMT_NET to a free /24"
                )


# -- files: keys, certs, wrappers -------------------------------------------------------------
def _ensure_files(s: LabSettings) -> None:
    sshd = s.run_dir / "ssh"
    sshd.mkdir(parents=True, exist_ok=True)
    os.chmod(sshd, 0o700)
    client = sshd / "id_ed25519"
    if not client.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bgpdoctor-lab", "-f", str(client)])
    auth = sshd / "authorized_keys"
    auth.write_text((sshd / "id_ed25519.pub").read_text())
    os.chmod(auth, 0o600)
    known, cfg = [], []
    for host in HOSTS:
        d = s.host_dir(host)
        key = d / "ssh_host_ed25519_key"
        if not key.exists():
            run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{host}@bgpdoctor-lab", "-f", str(key)]
            )
        typ, b64 = Path(f"{key}.pub").read_text().split()[:2]
        known.append(f"{s.mgmt_ip(host)} {typ} {b64}")
        cfg.append(
            f"Host {host}\n  HostName {s.mgmt_ip(host)}\n  User root\n  IdentityFile {client}\n"
            f"  IdentitiesOnly yes\n  UserKnownHostsFile {sshd / 'known_hosts'}\n"
            "  StrictHostKeyChecking yes\n"
        )
    (sshd / "known_hosts").write_text("\n".join(known) + "\n")
    (sshd / "ssh_config").write_text("\n".join(cfg))
    for node in NODES:
        d = s.host_dir(node)
        if not (d / "kubelet.key").exists():
            run(
                [
                    "openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                    "-days",
                    "3650",
                    "-subj",
                    f"/CN={node}",
                    "-addext",
                    f"subjectAltName=IP:{NODE[node].lan_ip},DNS:{node}",
                    "-keyout",
                    str(d / "kubelet.key"),
                    "-out",
                    str(d / "kubelet.crt"),
                ]
            )
    bindir = s.run_dir / "bin"
    bindir.mkdir(exist_ok=True)
    (bindir / "birdc").write_text(birdc_wrapper(s))
    os.chmod(bindir / "birdc", 0o755)
    (bindir / "birdcl").write_text(birdcl_wrapper(s))
    os.chmod(bindir / "birdcl", 0o755)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)


# -- daemons ----------------------------------------------------------------------------------
class _Daemons:
    def __init__(self, s: LabSettings, st: LabState, save: Callable[[], None]) -> None:
        self.s, self.st, self.save = s, st, save

    def _alive(self, key: str) -> bool:
        rec = self.st.procs.get(key)
        return rec is not None and proc_alive(rec)

    def _stop(self, key: str) -> None:
        rec = self.st.procs.pop(key, None)
        if rec is not None:
            kill_proc(rec)
            self.save()

    def _start(self, key: str, host: str, name: str, argv: list[str], log: Path, h: str) -> None:
        self._stop(key)
        _log(f"starting {name} on {host}")
        self.st.procs[key] = start_in_ns(self.s.ns(host), host, name, argv, log, h)
        self.save()

    def _bird_text(self, router: str, knobs: Knobs) -> str:
        if router in WDS_ROUTERS:
            return wds_bird_conf(self.s, router, knobs, self.st.default_timers)
        if router in WDS_NODES:
            return calico_bird_conf(self.s, router, self.st.default_timers)
        md5 = md5_secret(self.s) if knobs.home_yuuko_md5 else ""
        return bird_conf(self.s, router, knobs, self.st.default_timers, md5=md5)

    def bird(self, router: str, knobs: Knobs) -> None:
        s, d, key = self.s, self.s.host_dir(router), f"{router}/bird"
        text = self._bird_text(router, knobs)
        binary = bird_binary(router)
        h = config_hash(text)
        rec = self.st.procs.get(key)
        sock = s.bird_socket(router)
        if rec is not None and proc_alive(rec) and sock.exists():
            if rec.config_hash == h:
                conf = d / "bird.conf"
                if not conf.exists() or conf.read_text() != text:
                    # a refused edit (bird-ebgp-no-policy) left a file BIRD never loaded: put it back
                    conf.write_text(text)
                    _log(f"{router}: restored bird.conf (running config unchanged)")
                return
            (d / "bird.conf.new").write_text(text)
            run([binary, "-p", "-c", str(d / "bird.conf.new")])
            os.replace(d / "bird.conf.new", d / "bird.conf")
            cp = health.birdc(s, router, "configure")
            if cp.returncode != 0 or ("Reconfigured" not in cp.stdout and "Reconfiguration" not in cp.stdout):
                raise LabError(f"birdc configure on {router} failed: {cp.stdout.strip()}")
            _log(f"{router}: BIRD reconfigured")
            rec.config_hash = h
            self.save()
            return
        (d / "bird.conf").write_text(text)
        run([binary, "-p", "-c", str(d / "bird.conf")])
        sock.unlink(missing_ok=True)
        self._start(key, router, "bird", bird_argv(s, router, binary), d / "bird.out", h)
        health.wait_bird_socket(s, router, d / "bird.out")

    def frr(self, router: str, knobs: Knobs) -> None:
        """zebra + bgpd of the FRR router; a changed bgpd config (a fault's knobs, a heal after a fix)
        restarts bgpd with it, zebra left running. Its files: lab_frr_dir(ns)."""
        text = tor_frr_conf(knobs, self.st.default_timers)
        h = config_hash(text)
        zebra, bgpd = self.st.procs.get(f"{router}/zebra"), self.st.procs.get(f"{router}/bgpd")
        if bgpd is not None and proc_alive(bgpd) and bgpd.config_hash == h:
            return
        if f"{router}/bird" in self.st.procs:  # a lab made while tor still ran BIRD
            self._stop(f"{router}/bird")
        ns, run_dir = self.s.ns(router), lab_frr_dir(self.s.ns(router))
        if zebra is not None and bgpd is not None and proc_alive(zebra):
            _log(f"{router}: restarting bgpd with its new configuration")
            instance = FrrInstance(ns, router, run_dir, [zebra, bgpd])
            del self.st.procs[f"{router}/bgpd"]
            self.save()
            restart_bgpd(instance, text)
        else:
            for key in (f"{router}/bgpd", f"{router}/zebra"):
                self._stop(key)
            _log(f"starting FRR (zebra, bgpd) on {router}")
            instance = start_frr(ns, router, run_dir, bgpd_conf=text)
            self.st.procs[f"{router}/zebra"] = instance.procs[0]
        instance.procs[-1].config_hash = h
        self.st.procs[f"{router}/bgpd"] = instance.procs[-1]
        self.save()

    def gobgp(self, node: str, knobs: Knobs) -> None:
        s, d, key = self.s, self.s.host_dir(node), f"{node}/gobgpd"
        if node in LB_NODES:
            text = lb_gobgp_toml(node, self.st.default_timers)
        else:
            text = gobgp_toml(node, knobs, self.st.default_timers, dual_stack=self.s.dual_stack)
        h = config_hash(text)
        rec = self.st.procs.get(key)
        if rec is None or not proc_alive(rec) or rec.config_hash != h:
            (d / "gobgpd.toml").write_text(text)
            self._start(
                key,
                node,
                "gobgpd",
                gobgpd_argv(str(d / "gobgpd.toml")),
                d / "gobgpd.log",
                h,
            )
            health.wait_gobgp_api(s, node, d / "gobgpd.log")
        if node in LB_NODES:
            self._lb_rib(node, lb_announcements(knobs))
            return
        cidr = NODE[node].pod_cidr
        # Cilium injects the PodCIDR through the API; only add it when missing (no needless UPDATE)
        if cidr not in health.gobgp(s, node, "global", "rib", "-a", "ipv4", cidr).stdout:
            cp = health.gobgp(s, node, "global", "rib", "add", "-a", "ipv4", cidr, "origin", "igp")
            if cp.returncode != 0:
                raise LabError(f"gobgp global rib add on {node} failed: {cp.stderr.strip()}")
        cidr6 = NODE6[node].pod_cidr
        have6 = health.gobgp(s, node, "global", "rib", "-a", "ipv6", cidr6).stdout if s.dual_stack else cidr6
        if cidr6 not in have6:
            cp = health.gobgp(s, node, "global", "rib", "add", "-a", "ipv6", cidr6, "origin", "igp")
            if cp.returncode != 0:
                raise LabError(f"gobgp global rib add on {node} failed: {cp.stderr.strip()}")

    def _lb_rib(self, node: str, wanted: list[str]) -> None:
        """Make the node's GoBGP announce exactly `wanted` (Cilium's LB IPAM, through the API)."""
        have = set(health.gobgp_prefixes(self.s, node))
        for prefix in sorted(have - set(wanted)):
            health.gobgp(self.s, node, "global", "rib", "del", "-a", "ipv4", prefix)
        for prefix in wanted:
            if prefix not in have:
                cp = health.gobgp(self.s, node, "global", "rib", "add", "-a", "ipv4", prefix, "origin", "igp")
                if cp.returncode != 0:
                    raise LabError(f"gobgp global rib add on {node} failed: {cp.stderr.strip()}")

    def sshd(self, host: str) -> None:
        d = self.s.host_dir(host)
        text = sshd_config(self.s, host)
        h = config_hash(text)
        key = f"{host}/sshd"
        rec = self.st.procs.get(key)
        if rec is not None and proc_alive(rec) and rec.config_hash == h:
            return
        (d / "sshd_config").write_text(text)
        self._start(
            key,
            host,
            "sshd",
            ["/usr/sbin/sshd", "-D", "-f", str(d / "sshd_config"), "-E", str(d / "sshd.log")],
            d / "sshd.out",
            h,
        )
        # as on a real host (systemd mounts it), tracefs in sshd's own /sys: kernel drop tracing
        tracefs = ["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"]
        subprocess.run(["nsenter", "-t", str(self.st.procs[key].pid), "-m", *tracefs], capture_output=True)

    def kubelet(self, node: str) -> None:
        d = self.s.host_dir(node)
        argv = [
            sys.executable,
            health.STUB,
            "serve",
            "--bind",
            NODE[node].lan_ip,
            "--port",
            str(KUBELET_PORT),
            "--cert",
            str(d / "kubelet.crt"),
            "--key",
            str(d / "kubelet.key"),
        ]
        h = config_hash(*argv, Path(health.STUB).read_text())
        key = f"{node}/kubelet"
        rec = self.st.procs.get(key)
        if rec is not None and proc_alive(rec) and rec.config_hash == h:
            return
        self._start(key, node, "kubelet", argv, d / "kubelet.log", h)


def _apply_fw(s: LabSettings, force: bool) -> None:
    for router in ROUTERS:
        cur = ns_run(s.ns(router), ["nft", "list", "chain", "inet", FW_TABLE, "pod_cidr"], check=False)
        v6_wrong = (POD_CIDR6 in cur.stdout) != s.dual_stack
        if force or cur.returncode != 0 or cur.stdout.count("10.42.0.0/16") != 2 or v6_wrong:
            p = s.host_dir(router) / "fw.nft"
            p.write_text(router_fw(s.dual_stack))
            ns_run(s.ns(router), ["nft", "-f", str(p)])


def _flush_caches(s: LabSettings) -> None:
    for host in HOSTS:
        ns_run(s.ns(host), ["ip", "route", "flush", "cache"], check=False)
        ns_run(s.ns(host), ["ip", "neigh", "flush", "all"], check=False)


def _wait_healthy(s: LabSettings, st: LabState, timeout: float) -> None:
    t0 = time.monotonic()
    problems: list[str] = []
    while time.monotonic() - t0 < timeout:
        problems = health.health_problems(s, st)
        if not problems:
            _log(f"healthy after {time.monotonic() - t0:.1f}s")
            return
        time.sleep(1.0)
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    raise LabError(f"lab not healthy after {timeout:.0f}s: {problems[0]}{more}; see {s.run_dir}/*/")


def _wait_faults(ctx: FaultContext, faults: list[Fault], timeout: float) -> None:
    t0 = time.monotonic()
    pending: list[str] = []
    while time.monotonic() - t0 < timeout:
        pending = [f"{f.name}: {msg}" for f in faults if (msg := f.condition(ctx)) is not None]
        if not pending:
            _log(f"fault symptoms visible after {time.monotonic() - t0:.1f}s")
            return
        time.sleep(1.0)
    raise LabError(f"fault not in effect after {timeout:.0f}s: {pending[0]}")


def _wait_timeout(default_timers: bool) -> float:
    env = os.environ.get("BGPDOCTOR_LAB_WAIT")
    if env:
        return float(env)
    return 300.0 if default_timers else 60.0


def lab_up(
    run_dir: str | os.PathLike[str] | None = None,
    faults: Iterable[str] = (),
    default_timers: bool = False,
    wait: bool = True,
    dual_stack: bool = False,
) -> LabInfo:
    """Build (or repair) the lab, heal it to baseline, apply faults, wait, write the inventory.

    Example: lab_up("/tmp/lab", faults=["mtu-blackhole"]) -> LabInfo(inventory_path=Path(
    "/tmp/lab/inventory.yaml"), run_dir=Path("/tmp/lab"), prefix="bdl-", faults=["mtu-blackhole"], ...)
    """
    t0 = time.monotonic()
    _require_root_and_tools()
    wanted = [get_fault(f).name for f in dict.fromkeys(faults)]
    needs_v6 = [f for f in wanted if f in DUAL_STACK_FAULTS]
    if needs_v6 and not dual_stack:
        raise LabError(f"fault {needs_v6[0]} needs the dual-stack lab (lab up --dual-stack)")
    s, st = _open(run_dir)
    s = replace(s, dual_stack=dual_stack)
    if st is None:
        st = LabState(prefix=s.prefix, mgmt_net=str(s.mgmt_net))
    s.run_dir.mkdir(parents=True, exist_ok=True)
    for host in HOSTS:
        s.host_dir(host).mkdir(exist_ok=True)

    def save() -> None:
        save_state(s.state_path, st)

    prev_faults = list(st.faults)
    for key in [k for k in st.procs if k.startswith(FAULT_PROC_PREFIX)]:
        rec = st.procs.pop(key)
        if proc_alive(rec):
            _log(f"stopping fault process {key}")
            kill_proc(rec)
        save()
    for key in {k for f in prev_faults for k in RESTART_ON_HEAL.get(f, ())}:
        daemon = st.procs.get(key)
        if daemon is not None and proc_alive(daemon):
            _log(f"restarting {key} (fault state lives in the daemon)")
            kill_proc(daemon)  # record kept: the daemon step below sees it dead and starts it again
    if st.namespaces:
        healed = False
        if prev_faults or set(st.namespaces) == {s.ns(h) for h in NAMESPACES}:
            from pyroute2 import netns

            if all(n in netns.listnetns() for n in st.namespaces):
                healed = remove_runtime_artefacts(s, HOSTS)
        if prev_faults or healed:
            _log(f"healing faults: {', '.join(prev_faults) or 'leftover fault artefacts'}")
    else:
        _check_mgmt_free(s)
    st.default_timers = default_timers
    st.dual_stack = dual_stack
    save()
    from bgpdoctor.lab.netlink import (
        apply_sysctls,
        create_namespaces,
        ensure_dual_stack,
        ensure_topology,
        offloads_off,
    )

    create_namespaces(s, st, save)
    created = ensure_topology(s, st, save)
    apply_sysctls(s)
    if dual_stack:
        ensure_dual_stack(s)
    offloads_off(s, created)
    _apply_fw(s, force=bool(prev_faults))
    _ensure_files(s)
    dm = _Daemons(s, st, save)
    for router in bird_hosts():
        dm.bird(router, Knobs())
    for router in LB_ROUTERS:
        dm.frr(router, Knobs())
    for node in (*NODES, *LB_NODES):
        dm.gobgp(node, Knobs())
    for host in HOSTS:
        dm.sshd(host)
    for node in NODES:
        dm.kubelet(node)
    if prev_faults:
        _flush_caches(s)
        if {"nat-rewrites-bgp-source", "unexpected-source-address"} & set(prev_faults):
            # a session that survived the fault may still carry its NAT mapping / ZeroTier source
            ns_run(s.ns("yuuko-k8s"), ["ss", "-K", "-tn", "dst 192.168.6.1 and dport = :179"], check=False)
    st.faults = []
    save()
    s.inventory_path.write_text(render_inventory(s))
    _log(f"topology and daemons ready in {time.monotonic() - t0:.1f}s")
    timeout = _wait_timeout(default_timers)
    info = LabInfo(inventory_path=s.inventory_path, run_dir=s.run_dir, prefix=s.prefix)
    if wanted:
        if wait:
            _wait_healthy(s, st, timeout)
        fl = [get_fault(n) for n in wanted]
        ctx = FaultContext(s, st=st, save=save)
        mark_before_knobs(ctx, wanted)
        knobs: dict[str, bool] = {}
        for f in fl:
            knobs.update(f.knobs)
        st.faults = wanted
        save()
        if knobs:
            k = Knobs(**knobs)
            for router in (*ROUTERS, *WDS_ROUTERS):
                dm.bird(router, k)
            for router in LB_ROUTERS:
                dm.frr(router, k)
            for node in (*NODES, *LB_NODES):
                dm.gobgp(node, k)
        for f in fl:
            _log(f"applying fault {f.name}")
            f.apply(ctx)
        if wait:
            _wait_faults(ctx, fl, timeout)
        info.faults = wanted
        info.problems = health.health_problems(s, st) if wait else []
    elif wait:
        _wait_healthy(s, st, timeout)
    info.elapsed_s = round(time.monotonic() - t0, 2)
    _log(f"lab up finished in {info.elapsed_s}s")
    return info


def lab_down(run_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Remove exactly what `lab up` recorded: processes, namespaces, root links. Idempotent.

    Example: lab_down("/tmp/lab") -> ["killed router-mine/bird (pid 4242)", ..., "deleted netns bdl-zt",
    "deleted link bdl-mgmt"]
    """
    from pyroute2 import IPRoute, netns
    from pyroute2.netlink.exceptions import NetlinkError

    if os.geteuid() != 0:
        raise LabError("the lab needs root")
    s, st = _open(run_dir)
    done: list[str] = []
    if st is None:
        _log(f"no lab recorded in {s.run_dir}")
        return done
    for key, rec in list(st.procs.items()):
        if proc_alive(rec):
            kill_proc(rec)
            done.append(f"killed {key} (pid {rec.pid})")
        del st.procs[key]
        save_state(s.state_path, st)
    # root links first: deleting a veth end removes its peer at once, while netns teardown is async
    with IPRoute() as ipr:
        for name in list(st.root_links):
            idx = ipr.link_lookup(ifname=name)
            if idx:
                try:
                    ipr.link("del", index=idx[0])
                    done.append(f"deleted link {name}")
                except NetlinkError:
                    pass  # went away with its namespace meanwhile
            st.root_links.remove(name)
        save_state(s.state_path, st)
    have = set(netns.listnetns())
    for name in list(st.namespaces):
        if name in have:
            left = run(["ip", "netns", "pids", name], check=False).stdout.split()
            if left:
                _log(f"WARNING: processes not started by the lab remain in {name}: {' '.join(left)}")
            netns.remove(name)
            done.append(f"deleted netns {name}")
        st.namespaces.remove(name)
        save_state(s.state_path, st)
    s.state_path.unlink(missing_ok=True)
    s.inventory_path.unlink(missing_ok=True)
    for router in LB_ROUTERS:  # FRR's files live outside the run dir
        shutil.rmtree(lab_frr_dir(s.ns(router)).parent, ignore_errors=True)
    for d in done:
        _log(d)
    return done


def lab_health(run_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Problems of the running lab; [] when healthy. Example: ["ping 10.42.0.1 -> 10.42.3.1 ... fails"]"""
    s, st = _open(run_dir)
    if st is None:
        return [f"no lab in {s.run_dir}"]
    return health.health_problems(s, st)


def lab_exec(
    run_dir: str | os.PathLike[str] | None, host: str, argv: list[str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run argv inside a lab host's namespace ("zt" is the switch); never raises on exit status.

    Example: lab_exec(d, "router-mine", ["ip", "-j", "route"]).stdout -> '[{"dst":"default",...}]'
    """
    s, st = _open(run_dir)
    if host not in NAMESPACES:
        raise UsageError(f"unknown lab host {host!r} (known: {', '.join(NAMESPACES)})")
    if st is None:
        raise LabError(f"no lab in {s.run_dir}")
    return ns_run(s.ns(host), argv, check=False, timeout=timeout)


def lab_settings(run_dir: str | os.PathLike[str] | None = None) -> LabSettings:
    """Settings of the lab in run_dir (recorded prefix wins over the environment)."""
    return _open(run_dir)[0]


def lab_status(run_dir: str | os.PathLike[str] | None = None) -> str:
    """Human-readable status: namespaces, daemons, BGP states, active faults, health."""
    from pyroute2 import netns

    s, st = _open(run_dir)
    if st is None:
        raise LabError(f"no lab in {s.run_dir} (start one with `bgpdoctor lab up`)")
    have = set(netns.listnetns())
    lines = [f"run dir {s.run_dir}  prefix {s.prefix}  mgmt {s.mgmt_net}"]
    lines += [f"netns {n}: {'present' if n in have else 'MISSING'}" for n in st.namespaces]
    for key, rec in st.procs.items():
        lines.append(f"{key}: pid {rec.pid} {'alive' if proc_alive(rec) else 'DEAD'}")
    if all(n in have for n in st.namespaces):
        for router in bird_hosts():
            for name, info in health.bird_bgp_states(s, router).items():
                lines.append(f"{router} BGP {name}: {info}")
        for router in LB_ROUTERS:
            for addr, state in health.frr_states(s, router).items():
                lines.append(f"{router} FRR {addr}: {state}")
        for node in (*NODES, *LB_NODES):
            for addr, state in health.gobgp_states(s, node).items():
                lines.append(f"{node} GoBGP {addr}: {state}")
    lines.append(f"faults: {', '.join(st.faults) or 'none'}")
    problems = health.health_problems(s, st)
    lines += ["health: OK"] if not problems else ["health:"] + [f"  {p}" for p in problems]
    return "\n".join(lines) + "\n"
