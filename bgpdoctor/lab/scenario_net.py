"""Build a generated scenario for real, break it, heal it, tear it down.

Everything lives in network namespaces named `<scenario prefix><host name>` ("bds-..."), created
with `ip -n`, so no link ever appears in the root namespace and no packet leaves the namespaces.
What was created is recorded in `<run dir>/state.json` before it is created; `down()` removes
exactly that (processes by recorded PID, start time and comm; namespaces by exact name).

    with running(generate(7)) as sc:            # up(), and down() on exit, Ctrl-C or SIGTERM
        apply_faults(sc, [plan_fault(sc, "mtu-blackhole")])
        ...
        heal(sc)
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from types import FrameType
from typing import Any

from bgpdoctor.errors import LabError
from bgpdoctor.lab import health
from bgpdoctor.lab.configs import gobgpd_argv
from bgpdoctor.lab.frr import FRR_DAEMON_DIR, FrrInstance, restart_bgpd, start_frr
from bgpdoctor.lab.procs import _log, config_hash, kill_proc, ns_run, proc_alive, run, start_in_ns
from bgpdoctor.lab.scenario import KERNEL_PROTO_FAULT, FaultPlan, Scenario, birdcl_wrapper, render_inventory
from bgpdoctor.lab.scenario_configs import (
    Knobs,
    bird_config,
    frr_changes,
    frr_config,
    gobgp_config,
    knobs_for,
)
from bgpdoctor.lab.state import ProcRecord
from bgpdoctor.lab.topology import BIRD16, BIRDC16, LabSettings

TOOLS = ("ip", "bird", "birdc", "gobgpd", "gobgp", "nft", "ethtool", "ss", "sysctl", "ping", "tcpdump")


@dataclass
class ScenarioState:
    """Example: ScenarioState(namespaces=["bds-7-heron-4", ...], procs={"r0/bird": ProcRecord(...)},
    faults=["mtu-blackhole"], marks={"r1:IPReversePathFilter": 0})"""

    namespaces: list[str] = field(default_factory=list)
    procs: dict[str, ProcRecord] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    marks: dict[str, int] = field(default_factory=dict)
    up_seconds: float = 0.0

    @classmethod
    def load(cls, path: Path) -> ScenarioState:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        return cls(
            list(data.get("namespaces", [])),
            {k: ProcRecord(**v) for k, v in data.get("procs", {}).items()},
            list(data.get("faults", [])),
            dict(data.get("marks", {})),
            float(data.get("up_seconds", 0.0)),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)


def lab_settings(sc: Scenario) -> LabSettings:
    """The seed lab's settings shape, so its probes (ping, gobgp, counters) work on host names here."""
    return LabSettings(run_dir=sc.run_dir, prefix=sc.prefix, mgmt_net=IPv4Network("0.0.0.0/32"))


def _ip(sc: Scenario, key: str, *args: str) -> None:
    run(["ip", "-n", sc.ns(key), *args])


def _batch(sc: Scenario, key: str, lines: list[str]) -> None:
    """Many `ip` commands in one namespace at once (`ip -batch`), stopping at the first error."""
    if lines:
        run(["ip", "-n", sc.ns(key), "-batch", "-"], input_text="\n".join(lines) + "\n")


def _ifnames(sc: Scenario, key: str) -> list[str]:
    names: list[str] = []
    for v in (*sc.veths, sc.backup):
        if v.a == key:
            names.append(v.a_if)
        if v.b == key:
            names.append(v.b_if)
    names += [b.name for b in sc.bridges if b.host == key]
    pod = sc.hosts[key].pod_ifs
    if pod:
        names += list(pod)
    return names


def _sysctls(sc: Scenario, key: str) -> None:
    """Explicit values in every namespace: never inherit the machine's."""
    args = [
        "net.ipv6.conf.all.disable_ipv6=1",
        "net.ipv6.conf.default.disable_ipv6=1",
        f"net.ipv4.ip_forward={0 if sc.hosts[key].role == 'switch' else 1}",
    ]
    for scope in ("all", "default", *_ifnames(sc, key)):
        args += [
            f"net.ipv4.conf.{scope}.rp_filter=0",
            f"net.ipv4.conf.{scope}.accept_redirects=0",
            f"net.ipv4.conf.{scope}.send_redirects=0",
        ]
    ns_run(sc.ns(key), ["sysctl", "-q", "-w", *args])


def _mtus(sc: Scenario, key: str) -> list[str]:
    """`link set ... mtu` lines that put every interface of `key` at its baseline MTU."""
    spec = sc.hosts[key].mtu
    return [f"link set dev {i} mtu {spec.get(i, 1500)}" for i in _ifnames(sc, key)]


# -- up / down ----------------------------------------------------------------------------------
def _require_root_and_tools(sc: Scenario) -> None:
    if os.geteuid() != 0:
        raise LabError("scenarios need root (network namespaces, veths, nft)")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if not os.path.exists(BIRD16):
        missing.append(BIRD16)
    if any(h.is_frr for h in sc.hosts.values()):
        missing += [t for t in ("vtysh",) if shutil.which(t) is None]
        missing += [str(FRR_DAEMON_DIR / d) for d in ("zebra", "bgpd") if not (FRR_DAEMON_DIR / d).exists()]
    if missing:
        raise LabError(f"missing tools: {', '.join(missing)} (run scripts/install-deps.sh)")


def _netns_list() -> set[str]:
    return {line.split()[0] for line in run(["ip", "netns", "list"], check=False).stdout.splitlines() if line}


def _create_namespaces(sc: Scenario, st: ScenarioState) -> None:
    existing = _netns_list()
    for ns in sc.namespaces:
        if ns in existing:
            raise LabError(f"namespace {ns} exists but this scenario did not create it")
        st.namespaces.append(ns)
        st.save(sc.state_path)
        run(["ip", "netns", "add", ns])


def _build_links(sc: Scenario) -> None:
    create: dict[str, list[str]] = {}
    for v in (*sc.veths, sc.backup):
        create.setdefault(v.a, []).append(
            f"link add {v.a_if} type veth peer name {v.b_if} netns {sc.ns(v.b)}"
        )
    for key, h in sc.hosts.items():
        if h.pod_ifs:
            create.setdefault(key, []).append(f"link add {h.pod_ifs[0]} type veth peer name {h.pod_ifs[1]}")
    for b in sc.bridges:
        create.setdefault(b.host, []).append(f"link add {b.name} type bridge")
    for key, lines in create.items():
        _batch(sc, key, lines)
    for key, h in sc.hosts.items():
        lines = [f"link set dev {p} master {b.name}" for b in sc.bridges if b.host == key for p in b.ports]
        lines += _mtus(sc, key)
        lines += [f"addr add {a.cidr} dev {a.ifname}" for a in h.addrs]
        lines += [f"link set dev {i} up" for i in ("lo", *_ifnames(sc, key))]
        if h.gateway is not None:
            lines.append(f"route add default via {h.gateway.ip} dev {h.gateway.ifname}")
        lines += [f"addr add {vip}/32 dev lo" for vip in h.lb_vips]  # Cilium answers its VIPs itself
        _batch(sc, key, lines)
        _sysctls(sc, key)
        bridges = {b.name for b in sc.bridges}
        script = "; ".join(
            f"ethtool -K {i} tx off tso off gso off gro off >/dev/null 2>&1"
            for i in _ifnames(sc, key)
            if i not in bridges
        )
        ns_run(sc.ns(key), ["sh", "-c", script + "; true"])  # GSO would sail through MTU faults


class _Daemons:
    """Start and reload BIRD, FRR and gobgpd of a scenario, recording every process in the state."""

    def __init__(self, sc: Scenario, st: ScenarioState) -> None:
        self.sc, self.st = sc, st
        self.s = lab_settings(sc)

    def _start(self, key: str, name: str, argv: list[str], log: Path, text: str) -> None:
        rec = self.st.procs.pop(f"{key}/{name}", None)
        if rec is not None:
            kill_proc(rec)
        self.st.save(self.sc.state_path)
        self.st.procs[f"{key}/{name}"] = start_in_ns(self.sc.ns(key), key, name, argv, log, config_hash(text))
        self.st.save(self.sc.state_path)

    def bird(self, key: str, knobs: Knobs) -> None:
        sc, h = self.sc, self.sc.hosts[key]
        d = sc.host_dir(key)
        text = bird_config(sc, key, knobs)
        binary = "bird" if h.speaker == "bird2" else BIRD16
        rec = self.st.procs.get(f"{key}/bird")
        if rec is not None and proc_alive(rec):
            if rec.config_hash == config_hash(text):
                return
            (d / "bird.conf.new").write_text(text)
            run([binary, "-p", "-c", str(d / "bird.conf.new")])
            os.replace(d / "bird.conf.new", d / "bird.conf")
            out = birdc(sc, key, "configure").stdout
            if "Reconfigured" not in out and "Reconfiguration" not in out:
                raise LabError(f"birdc configure on {h.name} failed: {out.strip()}")
            rec.config_hash = config_hash(text)
            self.st.save(sc.state_path)
            return
        (d / "bird.conf").write_text(text)
        run([binary, "-p", "-c", str(d / "bird.conf")])
        sc.bird_socket(key).unlink(missing_ok=True)
        argv = [binary, "-f", "-c", str(d / "bird.conf"), "-s", str(sc.bird_socket(key))]
        self._start(key, "bird", [*argv, "-P", str(d / "bird.pid")], d / "bird.out", text)
        health.wait_bird_socket(self.s, h.name, d / "bird.out")

    def gobgp(self, key: str, knobs: Knobs) -> None:
        sc, h = self.sc, self.sc.hosts[key]
        d = sc.host_dir(key)
        text = gobgp_config(sc, key, knobs)
        rec = self.st.procs.get(f"{key}/gobgpd")
        if rec is not None and proc_alive(rec) and rec.config_hash == config_hash(text):
            return
        (d / "gobgpd.toml").write_text(text)
        self._start(key, "gobgpd", gobgpd_argv(str(d / "gobgpd.toml")), d / "gobgpd.log", text)
        health.wait_gobgp_api(self.s, h.name, d / "gobgpd.log")
        # Cilium injects the PodCIDR through the API
        add = ["global", "rib", "add", "-a", "ipv4", str(h.pod_cidr), "origin", "igp"]
        cp = health.gobgp(self.s, h.name, *add)
        if cp.returncode != 0:
            raise LabError(f"gobgp global rib add on {h.name} failed: {cp.stderr.strip()}")
        for vip in h.lb_vips:  # Cilium's BGP control plane announces a LoadBalancer Service's VIP
            cp = health.gobgp(
                self.s, h.name, "global", "rib", "add", "-a", "ipv4", f"{vip}/32", "origin", "igp"
            )
            if cp.returncode != 0:
                raise LabError(f"gobgp global rib add {vip}/32 on {h.name} failed: {cp.stderr.strip()}")

    def frr(self, key: str, knobs: Knobs) -> None:
        """zebra + bgpd; a changed configuration is applied through vtysh, neighbor by neighbor (a
        dead bgpd is started again with it, zebra left running)."""
        sc, h = self.sc, self.sc.hosts[key]
        text = frr_config(sc, key, knobs)
        zebra, bgpd = self.st.procs.get(f"{key}/zebra"), self.st.procs.get(f"{key}/bgpd")
        if bgpd is not None and proc_alive(bgpd) and bgpd.config_hash == config_hash(text):
            return
        for d in (sc.run_dir, sc.host_dir(key)):  # the daemons run as user frr
            d.chmod(0o755)
        running = sc.frr_dir(key) / "bgpd.conf"
        if zebra is not None and bgpd is not None and proc_alive(zebra) and proc_alive(bgpd):
            instance = FrrInstance(sc.ns(key), h.name, sc.frr_dir(key), [zebra, bgpd])
            instance.configure(frr_changes(running.read_text(), text))
            running.write_text(text)
        elif zebra is not None and bgpd is not None and proc_alive(zebra):
            instance = FrrInstance(sc.ns(key), h.name, sc.frr_dir(key), [zebra, bgpd])
            del self.st.procs[f"{key}/bgpd"]
            self.st.save(sc.state_path)
            restart_bgpd(instance, text)
        else:
            for name in ("bgpd", "zebra"):
                rec = self.st.procs.pop(f"{key}/{name}", None)
                if rec is not None:
                    kill_proc(rec)
            self.st.save(sc.state_path)
            instance = start_frr(sc.ns(key), h.name, sc.frr_dir(key), bgpd_conf=text)
            self.st.procs[f"{key}/zebra"] = instance.procs[0]
        instance.procs[-1].config_hash = config_hash(text)
        self.st.procs[f"{key}/bgpd"] = instance.procs[-1]
        self.st.save(sc.state_path)

    def all(self, knobs: Knobs) -> None:
        for key, h in self.sc.hosts.items():
            if h.is_frr:
                self.frr(key, knobs)
            elif h.is_bird:
                self.bird(key, knobs)
            elif h.speaker == "gobgp":
                self.gobgp(key, knobs)


def up(sc: Scenario, wait: bool = True, timeout: float = 90.0) -> float:
    """Build the scenario, start its daemons, write its inventory, wait until it is healthy.

    Returns the seconds it took. Raises LabError (leaving what it built for down()) when it does
    not become healthy within `timeout`. Example: up(generate(7)) -> 11.4
    """
    t0 = time.monotonic()
    _require_root_and_tools(sc)
    sc.run_dir.mkdir(parents=True, exist_ok=True)
    st = ScenarioState.load(sc.state_path)
    if st.namespaces:
        raise LabError(f"scenario {sc.prefix} is already up ({sc.state_path}); run down() first")
    for key in sc.hosts:
        sc.host_dir(key).mkdir(exist_ok=True)
    _create_namespaces(sc, st)
    _build_links(sc)
    sc.bin_dir.mkdir(exist_ok=True)
    (sc.bin_dir / "birdcl").write_text(birdcl_wrapper())
    os.chmod(sc.bin_dir / "birdcl", 0o755)
    _Daemons(sc, st).all(Knobs())
    sc.inventory_path.write_text(render_inventory(sc))
    if wait:
        wait_healthy(sc, timeout)
    st.up_seconds = round(time.monotonic() - t0, 2)
    st.save(sc.state_path)
    return st.up_seconds


def up_seconds(sc: Scenario) -> float:
    """How long the last up() of this scenario took (0 when unknown)."""
    return ScenarioState.load(sc.state_path).up_seconds


def down(sc: Scenario, keep_files: bool = False) -> list[str]:
    """Remove exactly what up() recorded: processes, then namespaces, then the run directory.

    Idempotent; never touches a namespace or process it did not record.
    Example: down(sc) -> ["killed r0/bird (pid 4242)", ..., "deleted netns bds-7-heron-4"]
    """
    st = ScenarioState.load(sc.state_path)
    done: list[str] = []
    for key, rec in list(st.procs.items()):
        if proc_alive(rec):
            kill_proc(rec)
            done.append(f"killed {key} (pid {rec.pid})")
        del st.procs[key]
        st.save(sc.state_path)
    existing = _netns_list()
    if not sc.state_path.exists():
        # the state is gone (a crash between rmtree and exit): the scenario's own, uniquely prefixed names
        st.namespaces = [ns for ns in sc.namespaces if ns in existing]
    for ns in list(st.namespaces):
        if ns in existing:
            left = run(["ip", "netns", "pids", ns], check=False).stdout.split()
            if left:
                _log(f"WARNING: processes not started by the scenario remain in {ns}: {' '.join(left)}")
            run(["ip", "netns", "del", ns], check=False)
            done.append(f"deleted netns {ns}")
        st.namespaces.remove(ns)
        st.save(sc.state_path)
    if not keep_files and sc.run_dir.name == sc.prefix.rstrip("-"):
        shutil.rmtree(sc.run_dir, ignore_errors=True)
    return done


@contextmanager
def running(sc: Scenario, keep_files: bool = False) -> Iterator[Scenario]:
    """up() on entry, down() on exit: also after an error, Ctrl-C, SIGTERM or interpreter exit.

    A scenario that is already up (another run of the same seed and prefix) is refused before
    anything is registered: tearing it down would pull it from under that run."""
    if ScenarioState.load(sc.state_path).namespaces:
        raise LabError(f"scenario {sc.prefix} is already up ({sc.state_path}); run down() first")
    downed = False
    owner = os.getpid()

    def teardown() -> None:
        nonlocal downed
        # a forked child (pyroute2's netns helper, multiprocessing) inherits atexit: never from there
        if not downed and os.getpid() == owner:
            downed = True
            down(sc, keep_files)

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous: Any = None
    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: atexit still covers it
        previous = None
    atexit.register(teardown)
    try:
        up(sc)
        yield sc
    finally:
        teardown()
        atexit.unregister(teardown)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


# -- probes --------------------------------------------------------------------------------------
def birdc(sc: Scenario, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    """birdc (BIRD 2) or BIRD 1.6's client on the host's own control socket."""
    client = "birdc" if sc.hosts[key].speaker == "bird2" else BIRDC16
    return ns_run(sc.ns(key), [client, "-s", str(sc.bird_socket(key)), *args], check=False, timeout=10)


def bird_states(sc: Scenario, key: str) -> dict[str, str]:
    """BGP protocol name -> Info column. Example: {"vale_311": "Established", "kelp_4": "Active ..."}"""
    out: dict[str, str] = {}
    for line in birdc(sc, key, "show", "protocols").stdout.splitlines():
        f = line.split(None, 5)
        if len(f) >= 5 and f[1] == "BGP":
            out[f[0]] = f[5].strip() if len(f) > 5 else f[3]
    return out


def frr_neighbors(sc: Scenario, key: str) -> dict[str, dict[str, Any]]:
    """FRR's `show bgp neighbors json`: neighbor address -> its object ({} when bgpd does not answer).

    Example: {"10.77.4.20": {"bgpState": "Established", "lastNotificationReason": ..., ...}}
    """
    instance = FrrInstance(sc.ns(key), sc.name(key), sc.frr_dir(key))
    try:
        data = json.loads(instance.vtysh("show bgp neighbors json", timeout=10) or "{}")
    except (LabError, json.JSONDecodeError, subprocess.TimeoutExpired):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def _end_up(sc: Scenario, key: str, proto: str | None, neighbor: str) -> bool:
    if sc.hosts[key].is_frr:
        return frr_neighbors(sc, key).get(neighbor, {}).get("bgpState") == "Established"
    if sc.hosts[key].is_bird:
        return bird_states(sc, key).get(proto or "", "").startswith("Established")
    return health.gobgp_states(lab_settings(sc), sc.name(key)).get(neighbor) == "ESTABLISHED"


def session_up(sc: Scenario, index: int) -> bool:
    """Both ends of session `index` say Established."""
    s = sc.sessions[index]
    return all(_end_up(sc, end.host, end.proto, end.neighbor) for end in (s.a, s.b))


def kernel_prefixes(sc: Scenario, key: str) -> set[str]:
    """Destinations in the main table. Example: {"10.24.241.0/24", "192.168.78.32/27", "default"}"""
    out = ns_run(sc.ns(key), ["ip", "-j", "route", "show", "table", "main"], check=False).stdout
    try:
        routes = json.loads(out or "[]")
    except json.JSONDecodeError:
        return set()
    return {str(r.get("dst")) for r in routes if isinstance(r, dict)}


def pod_ping(sc: Scenario, a: str, b: str, size: int | None = None, df: bool = False) -> bool:
    """Does a ping from node a's pod address reach node b's pod address?"""
    ha, hb = sc.hosts[a], sc.hosts[b]
    cp = health.ping(lab_settings(sc), ha.name, str(hb.pod_ip), src=ha.pod_ip, size=size, df=df, count=2)
    return cp.returncode == 0


def problems(sc: Scenario) -> list[str]:
    """Every deviation from the healthy baseline; [] when healthy.

    Example: ["session heron-4 <-> kelp-12 not Established", "ping kelp-12 -> wren-3 (pods) fails"]
    """
    out: list[str] = []
    for i, s in enumerate(sc.sessions):
        if not session_up(sc, i):
            out.append(f"session {sc.name(s.a.host)} <-> {sc.name(s.b.host)} not Established")
    cidrs = {str(sc.hosts[n].pod_cidr) for n in sc.nodes}
    cidrs |= {vip for n in sc.nodes for vip in sc.hosts[n].lb_vips}  # `ip -j route` prints a /32 bare
    for r in sc.routers:
        missing = cidrs - kernel_prefixes(sc, r)
        if missing:
            out.append(f"{sc.name(r)}: kernel has no route to {', '.join(sorted(missing))}")
    if out:
        return out
    nodes = sc.nodes
    pairs = [(a, b) for i, a in enumerate(nodes) for b in nodes[i + 1 :]]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda p: pod_ping(sc, *p), pairs))
    failed = [p for p, ok in zip(pairs, results, strict=True) if not ok]
    out = [f"ping {sc.name(a)} -> {sc.name(b)} (pods) fails" for a, b in failed]
    for n in nodes:  # each VIP from a pod of another node
        for vip in sc.hosts[n].lb_vips:
            client = sc.hosts[next(m for m in nodes if m != n)]
            if health.ping(lab_settings(sc), client.name, vip, src=client.pod_ip, count=2).returncode != 0:
                out.append(f"ping {client.name} -> VIP {vip} of {sc.name(n)} fails")
    return out


def wait_until(check: Callable[[], str | None], timeout: float, what: str) -> float:
    """Poll `check` (None = done, else what is missing) until done; LabError after `timeout` s."""
    t0 = time.monotonic()
    missing: str | None = "not checked"
    while time.monotonic() - t0 < timeout:
        missing = check()
        if missing is None:
            return round(time.monotonic() - t0, 2)
        time.sleep(1.0)
    raise LabError(f"{what} not reached after {timeout:.0f}s: {missing}")


def wait_healthy(sc: Scenario, timeout: float = 90.0) -> float:
    def check() -> str | None:
        found = problems(sc)
        return None if not found else found[0] + (f" (+{len(found) - 1} more)" if len(found) > 1 else "")

    return wait_until(check, timeout, f"scenario {sc.prefix} healthy")


# -- faults --------------------------------------------------------------------------------------
def _nft(sc: Scenario, key: str, text: str) -> None:
    ns_run(sc.ns(key), ["nft", "-f", "-"], input_text=text)


def _flush_caches(sc: Scenario) -> None:
    for key in sc.hosts:
        ns_run(sc.ns(key), ["ip", "route", "flush", "cache"], check=False)
        ns_run(sc.ns(key), ["ip", "neigh", "flush", "all"], check=False)


def _counter(sc: Scenario, key: str, table: str, name: str) -> int:
    return health.proc_net(lab_settings(sc), sc.name(key), table, name)


def apply_faults(sc: Scenario, plans: list[FaultPlan]) -> None:
    """Break the healthy scenario: configuration faults through Knobs, the others at runtime."""
    st = ScenarioState.load(sc.state_path)
    for p in plans:
        if p.name == "rp-filter-strict":
            mark = _counter(sc, p.target, "TcpExt", "IPReversePathFilter")
            st.marks[f"{p.target}:IPReversePathFilter"] = mark
        if p.name == "asn-mismatch" and p.session is not None:
            for key in sc.sessions[p.session].hosts:
                if sc.hosts[key].is_frr:  # where FRR's log stood before the fault
                    st.marks[f"{key}:bgpd.log"] = _size(sc.frr_dir(key) / "bgpd.log")
                if sc.hosts[key].speaker == "gobgp":  # and GoBGP's
                    st.marks[f"{key}:gobgpd.log"] = _size(sc.host_dir(key) / "gobgpd.log")
    st.faults = [p.name for p in plans]
    st.save(sc.state_path)
    knobs = knobs_for(plans)
    if knobs != Knobs():
        _Daemons(sc, st).all(knobs)
    for p in plans:
        _apply_runtime(sc, p)


def _apply_runtime(sc: Scenario, p: FaultPlan) -> None:
    if p.name == "ip-forward-disabled":
        ns_run(sc.ns(p.target), ["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"])
    elif p.name == "rp-filter-strict":
        assert p.pair is not None
        bk = sc.backup
        mine, other = (bk.a_if, bk.b) if bk.a == p.target else (bk.b_if, bk.a)
        gateway = next(a.ip for a in sc.hosts[other].addrs if a.ifname in (bk.a_if, bk.b_if))
        # the way back to the source site's pods over the idle link: more specific than BGP's route
        for half in IPv4Network(str(sc.hosts[p.pair[0]].pod_cidr)).subnets():
            via = ["via", gateway, "dev", mine, "proto", str(KERNEL_PROTO_FAULT)]
            _ip(sc, p.target, "route", "replace", str(half), *via)
        ns_run(sc.ns(p.target), ["sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=1"])
    elif p.name == "firewall-blocks-pod-cidr":
        lans = ", ".join(sc.all_site_subnets)
        rules = [
            "type filter hook forward priority filter; policy drop;",
            "ct state established,related counter accept",
            f'ip saddr {{ {lans} }} ip daddr {{ {lans} }} counter accept comment "site networks"',
        ]
        _nft(sc, p.target, _table(p, rules))
    elif p.name == "bgp-port-filtered":
        assert p.session is not None
        s = sc.sessions[p.session]
        rules = [
            "type filter hook input priority filter; policy accept;",
            f"ip saddr {s.a.local} tcp dport 179 counter drop",
        ]
        _nft(sc, p.target, _table(p, rules))
        # the established session dies now rather than at its hold timer, as on a lost connection
        ns_run(sc.ns(s.a.host), ["ss", "-K", "-tn", f"dst {s.a.neighbor} and dport = :179"], check=False)
    elif p.name == "mtu-blackhole":
        assert p.uplink is not None
        link = sc.uplinks[p.uplink]
        _ip(sc, link.router, "link", "set", "dev", link.ifname, "mtu", str(p.value))
        if sc.hosts[link.far[0]].role == "switch":
            _ip(sc, link.far[0], "link", "set", "dev", link.far[1], "mtu", str(p.value))
        rules = [
            "type filter hook output priority filter; policy accept;",
            "icmp type destination-unreachable icmp code frag-needed counter drop",
        ]
        _nft(sc, p.target, _table(p, rules))
        _flush_caches(sc)
    elif p.name == "lb-pool-in-node-subnet":
        vip = f"{IPv4Address(p.value)}/32"
        add = ["global", "rib", "add", "-a", "ipv4", vip, "origin", "igp"]
        cp = health.gobgp(lab_settings(sc), sc.name(p.target), *add)
        if cp.returncode != 0:
            raise LabError(f"gobgp global rib add {vip} on {sc.name(p.target)} failed: {cp.stderr.strip()}")
        st = ScenarioState.load(sc.state_path)
        st.marks[f"{p.target}:vip"] = p.value
        st.save(sc.state_path)
    elif p.name not in (
        "asn-mismatch",
        "node-not-listening",
        "bird-ebgp-no-policy",
        "ibgp-no-route-reflection",
    ):
        raise LabError(f"unknown scenario fault {p.name}")


def _table(p: FaultPlan, chain_lines: list[str]) -> str:
    table, chain = p.tables
    body = "\n    ".join(chain_lines)
    return f"table inet {table} {{\n  chain {chain} {{\n    {body}\n  }}\n}}\n"


def symptom_missing(sc: Scenario, p: FaultPlan, alone: bool = True) -> str | None:
    """What of the fault's symptom is not visible yet; None once it is.

    With another fault (`alone` False) an rp-filter drop may never be reached (a firewall or a
    router without forwarding before it stops the traffic first): its route and sysctl, in place
    once applied, are then all there is to wait for."""
    if p.name == "lb-pool-in-node-subnet":
        assert p.session is not None
        learner = sc.sessions[p.session].b.host
        vip = f"{IPv4Address(p.value)}/32"
        shown = birdc(sc, learner, "show", "route", "for", vip).stdout
        return None if vip in shown else f"{sc.name(learner)} has no BGP route for {vip} yet"
    if p.name == "bird-ebgp-no-policy":
        return _no_policy_missing(sc, p)
    if p.name == "ibgp-no-route-reflection":
        return _not_reflected_missing(sc, p)
    if p.session is not None:
        s = sc.sessions[p.session]
        for end in (s.a, s.b):  # both ends: a dead peer is seen only when its hold timer expires
            if _end_up(sc, end.host, end.proto, end.neighbor):
                return f"{sc.name(end.host)} still has the session to {end.neighbor} Established"
        birds = [e for e in (s.a, s.b) if sc.hosts[e.host].is_bird]
        if p.name == "asn-mismatch":
            infos = [bird_states(sc, e.host).get(e.proto or "", "") for e in birds]
            infos += [
                _frr_open_failure(sc, e.host, e.neighbor) for e in (s.a, s.b) if sc.hosts[e.host].is_frr
            ]
            # a GoBGP end that refuses the OPEN: FRR, which dialled nothing (passive), keeps no trace
            infos += [
                _gobgp_open_failure(sc, e.host) for e in (s.a, s.b) if sc.hosts[e.host].speaker == "gobgp"
            ]
            return None if any("bad peer as" in i.lower() for i in infos) else "no end says 'Bad peer AS' yet"
        if p.name == "node-not-listening" and sc.hosts[s.b.host].is_frr:
            return None  # FRR keeps no trace of a refused connect: both ends down is the symptom
        if p.name == "node-not-listening":
            router = birds[0]
            out = birdc(sc, router.host, "show", "protocols", "all", router.proto or "").stdout
            return (
                None
                if "Connection refused" in out
                else f"{sc.name(router.host)}: no 'Connection refused' yet"
            )
        if p.name == "bgp-port-filtered":
            listing = ns_run(
                sc.ns(p.target), ["nft", "list", "table", "inet", p.tables[0]], check=False
            ).stdout
            return "the drop rule has not counted a packet yet" if "packets 0 " in listing else None
        return None
    if p.name == "mtu-blackhole":
        return _narrow_segment_missing(sc, p)
    if p.name == "rp-filter-strict" and not alone:
        return None
    assert p.pair is not None
    a, b = p.pair
    if pod_ping(sc, a, b):
        return f"pod ping {sc.name(a)} -> {sc.name(b)} still works"
    if p.name == "rp-filter-strict":
        now = _counter(sc, p.target, "TcpExt", "IPReversePathFilter")
        if now <= ScenarioState.load(sc.state_path).marks.get(f"{p.target}:IPReversePathFilter", 0):
            return f"{sc.name(p.target)} IPReversePathFilter did not grow"
    return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _frr_open_failure(sc: Scenario, key: str, neighbor: str) -> str:
    """Why FRR refused the neighbor's OPEN: its NOTIFICATION when FRR dialled, else (an incoming
    connection, whose failure FRR does not keep in the neighbor's state) its log line since the
    fault. Example: "Bad Peer AS (log: OPEN receipt failed for peer: 10.77.4.20)" """
    seen = str(frr_neighbors(sc, key).get(neighbor, {}).get("lastNotificationReason"))
    if "bad peer as" in seen.lower():
        return seen
    since = ScenarioState.load(sc.state_path).marks.get(f"{key}:bgpd.log", 0)
    try:
        with (sc.frr_dir(key) / "bgpd.log").open("rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
    except OSError:
        return seen
    failed = f"OPEN receipt failed for peer: {neighbor}"
    return f"Bad Peer AS (log: {failed})" if failed in text else seen


def _gobgp_open_failure(sc: Scenario, key: str) -> str:
    """The NOTIFICATION GoBGP sent since the fault when the peer's OPEN had the wrong AS: its log
    line "sent notification" Data="as number mismatch expected ..., received ..." (GoBGP keeps no
    error in `gobgp neighbor`). Example: "Bad peer AS (gobgpd log: as number mismatch)"; "" else."""
    since = ScenarioState.load(sc.state_path).marks.get(f"{key}:gobgpd.log", 0)
    try:
        with (sc.host_dir(key) / "gobgpd.log").open("rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
    except OSError:
        return ""
    return "Bad peer AS (gobgpd log: as number mismatch)" if "as number mismatch" in text else ""


def _no_policy_missing(sc: Scenario, p: FaultPlan) -> str | None:
    """FRR has the session Established again, with RFC 8212's "(Policy)" on it."""
    assert p.session is not None
    neighbor = sc.sessions[p.session].end(p.target).neighbor
    seen = frr_neighbors(sc, p.target).get(neighbor, {})
    if seen.get("bgpState") != "Established":
        return f"{sc.name(p.target)}: the session to {neighbor} is not Established again yet"
    family = seen.get("addressFamilyInfo", {}).get("ipv4Unicast", {})
    if not (family.get("inboundEbgpRequiresPolicy") and family.get("outboundEbgpRequiresPolicy")):
        return f"{sc.name(p.target)}: no (Policy) on {neighbor} yet"
    return None


def _not_reflected_missing(sc: Scenario, p: FaultPlan) -> str | None:
    """The reflector's node sessions are Established again (BIRD restarted them) and the source node
    has no route for the other node's pod CIDR."""
    assert p.pair is not None
    source, dest = p.pair
    for i, s in enumerate(sc.sessions):
        if p.target in s.hosts and s.kind == "node" and not session_up(sc, i):
            return f"the session {sc.name(s.a.host)} <-> {sc.name(s.b.host)} is not Established again yet"
    cidr = str(sc.hosts[dest].pod_cidr)
    if cidr in birdc(sc, source, "show", "route", "for", cidr).stdout:
        return f"{sc.name(source)} still has a route for {cidr}"
    return None


def _narrow_segment_missing(sc: Scenario, p: FaultPlan) -> str | None:
    """The narrowed segment itself, seen from the router across it: small DF pings pass, full-size
    ones vanish. Checked router to router, so another fault that stops pod traffic cannot hide it."""
    assert p.uplink is not None
    link = sc.uplinks[p.uplink]
    far = link.far[0] if sc.hosts[link.far[0]].role == "router" else link.across
    target = sc.hosts[link.router].addr_on(link.ifname).ip
    s = lab_settings(sc)

    def passes(size: int) -> bool:
        return health.ping(s, sc.name(far), target, size=size - 28, df=True, count=2).returncode == 0

    if not passes(p.value - 40):
        return f"{p.value - 40}-byte packets from {sc.name(far)} do not reach {sc.name(link.router)}"
    if passes(sc.backbone_mtu):
        return f"{sc.backbone_mtu}-byte packets from {sc.name(far)} still reach {sc.name(link.router)}"
    return None


def wait_symptoms(sc: Scenario, plans: list[FaultPlan], timeout: float = 60.0) -> float:
    def check() -> str | None:
        for p in plans:
            missing = symptom_missing(sc, p, alone=len(plans) == 1)
            if missing is not None:
                return f"{p.name}: {missing}"
        return None

    return wait_until(check, timeout, "fault symptoms")


def heal(sc: Scenario, timeout: float = 90.0) -> float:
    """Back to the baseline whatever was broken: no nft rules, baseline sysctls and MTUs, no fault
    routes, healthy configs; then wait until healthy."""
    st = ScenarioState.load(sc.state_path)
    for mark, value in st.marks.items():
        if mark.endswith(":vip"):
            vip = f"{IPv4Address(value)}/32"
            health.gobgp(
                lab_settings(sc), sc.name(mark.split(":")[0]), "global", "rib", "del", "-a", "ipv4", vip
            )
    for key, h in sc.hosts.items():
        ns_run(sc.ns(key), ["nft", "flush", "ruleset"])
        _sysctls(sc, key)
        _batch(sc, key, _mtus(sc, key))
        if h.role == "router":
            ns_run(sc.ns(key), ["ip", "route", "flush", "proto", str(KERNEL_PROTO_FAULT)], check=False)
    _Daemons(sc, st).all(Knobs())
    _flush_caches(sc)
    st.faults, st.marks = [], {}
    st.save(sc.state_path)
    return wait_healthy(sc, timeout)
