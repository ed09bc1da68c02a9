"""Real BGP speakers (FRR, BIRD 2, GoBGP) in network namespaces, shared by the integration tests.

Every namespace and run dir a test makes carries this process's pid (:func:`tag`), so two runs on
one machine never meet. Namespaces are joined by veth pairs created inside one of them: no interface
ever exists in the root namespace. Cleanup always runs and touches only what the test recorded: the
daemons' PIDs, the namespaces it created, its run dir.

Example::

    with run_dir("bdw-frr") as rd, namespaces("bdw-a-4242", "bdw-b-4242"), Lab(rd) as lab:
        veth("bdw-a-4242", "10.213.9.1", "bdw-b-4242", "10.213.9.2")
        lab.start_bird("bdw-b-4242", "bird1", BIRD_CONF)   # -> ProcRecord(name="bird", ...)
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import pytest
import yaml

from bgpdoctor.lab.frr import FRR_DAEMON_DIR, FrrInstance, start_frr
from bgpdoctor.lab.procs import kill_proc, start_in_ns
from bgpdoctor.lab.state import ProcRecord

ROOT = Path(__file__).resolve().parents[2]

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")
needs_frr = pytest.mark.skipif(
    not (FRR_DAEMON_DIR / "bgpd").exists(), reason="FRR is not installed (apt frr)"
)
needs_bird2 = pytest.mark.skipif(shutil.which("bird") is None, reason="bird2 is not installed")
needs_gobgpd = pytest.mark.skipif(shutil.which("gobgpd") is None, reason="gobgpd is not installed")

FRR_AS, BIRD_AS = 65001, 65002


def tag() -> str:
    """This process's part of every name: the pid, short enough for an interface-sized name."""
    return str(os.getpid() % 100000)


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=20)


@contextlib.contextmanager
def run_dir(prefix: str) -> Iterator[Path]:
    """A fresh world-readable dir, e.g. /tmp/bdw-frr-4242-x1y2z3, removed afterwards.

    Not under pytest's tmp_path: its 0700 parents would keep the frr user out of the vty dir.
    """
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}-{tag()}-"))
    try:
        path.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def namespaces(*names: str) -> Iterator[None]:
    """Create the namespaces, loopback up and forwarding on; always delete the ones created."""
    created: list[str] = []
    try:
        for ns in names:
            sh("ip", "netns", "add", ns)
            created.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            # a router and a node forward; this namespace's own sysctl, not the machine's
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        yield
    finally:
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def ns_names(prefix: str, *hosts: str) -> dict[str, str]:
    """Each host's namespace, PREFIX-HOST-PID: {"r": "bfh-r-4242"}. BGPDOCTOR_TEST_NS_PREFIX (e.g.
    "bfc-") goes in front of every name, so a run that must keep to a prefix of its own does
    ("bfc-bfh-r-4242"); the module's own prefix stays in the name and keeps modules apart."""
    own = os.environ.get("BGPDOCTOR_TEST_NS_PREFIX", "")
    return {host: f"{own}{prefix}-{host}-{tag()}" for host in hosts}


def veth(ns_a: str, ip_a: str, ns_b: str, ip_b: str, dev_a: str = "eth0", dev_b: str = "eth0") -> None:
    """A veth pair created inside ns_a, its peer moved to ns_b; each end gets its /30 and comes up."""
    sh("ip", "-n", ns_a, "link", "add", dev_a, "type", "veth", "peer", "name", dev_b, "netns", ns_b)
    for ns, dev, ip in ((ns_a, dev_a, ip_a), (ns_b, dev_b, ip_b)):
        sh("ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")


def lan_port(bridge_ns: str, port: str, host_ns: str, address: str) -> None:
    """A veth pair from bridge br0 in bridge_ns (its end `port`) to eth0 in host_ns, which gets
    address/24; both ends up. The bridge stands for a LAN switch."""
    sh("ip", "-n", bridge_ns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", host_ns)
    sh("ip", "-n", bridge_ns, "link", "set", port, "master", "br0", "up")
    sh("ip", "-n", host_ns, "addr", "add", f"{address}/24", "dev", "eth0")
    sh("ip", "-n", host_ns, "link", "set", "eth0", "up")


def poll(ok: Callable[[], bool], timeout: float, ignore: tuple[type[Exception], ...] = ()) -> bool:
    """Ask ok() every 0.5 s until it says True (True) or timeout seconds pass (False).

    An exception of a type in ``ignore`` counts as a False answer.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(*ignore):
            if ok():
                return True
        time.sleep(0.5)
    return False


@dataclass
class Lab:
    """The daemons one test started, their files in ``run_dir``; leaving ``with`` stops them.

    Example: Lab(run_dir=Path("/tmp/bdw-frr-4242-x1y2z3"), frr=FrrInstance(host="frr1", ...),
    procs=[ProcRecord(host="bird1", name="bird", ...)])
    """

    run_dir: Path
    frr: FrrInstance | None = None
    procs: list[ProcRecord] = field(default_factory=list)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.frr is not None:
            self.frr.stop()
        for rec in self.procs:
            kill_proc(rec)

    def start_frr(self, ns: str, conf: str) -> FrrInstance:
        """zebra + bgpd as host frr1, their sockets in run_dir/frr (the vty socket dir)."""
        self.frr = start_frr(ns, "frr1", self.run_dir / "frr", bgpd_conf=conf)
        return self.frr

    def start_bird(
        self, ns: str, host: str, conf: str, name: str = "bird", env: dict[str, str] | None = None
    ) -> ProcRecord:
        """BIRD 2 with run_dir/NAME.conf, its control socket run_dir/NAME.ctl, its log NAME.log."""
        (self.run_dir / f"{name}.conf").write_text(conf)
        argv = [
            "bird",
            "-f",
            "-c",
            str(self.run_dir / f"{name}.conf"),
            "-s",
            str(self.run_dir / f"{name}.ctl"),
        ]
        self.procs.append(start_in_ns(ns, host, "bird", argv, self.run_dir / f"{name}.log", env=env))
        return self.procs[-1]

    def start_gobgp(self, ns: str, host: str, toml: str, *args: str) -> ProcRecord:
        """gobgpd with run_dir/gobgpd.toml and extra arguments, its log gobgpd.log."""
        (self.run_dir / "gobgpd.toml").write_text(toml)
        argv = ["gobgpd", "-t", "toml", "-f", str(self.run_dir / "gobgpd.toml"), *args]
        self.procs.append(start_in_ns(ns, host, "gobgpd", argv, self.run_dir / "gobgpd.log"))
        return self.procs[-1]


L = TypeVar("L", bound=Lab)


@contextlib.contextmanager
def speaker_lab(
    lab: type[L], prefix: str, *hosts: str, ipv6_forwarding: bool = False
) -> Iterator[tuple[L, dict[str, str]]]:
    """A run dir, one namespace per host (:func:`ns_names`) and the `lab` (Lab or a subclass) that
    stops their daemons: (lab, host -> namespace). Everything is removed afterwards, whatever happened.

    Example: with speaker_lab(Lab, "bfh", "a", "r") as (lab, ns): veth(ns["a"], "10.0.0.1", ns["r"], ...)
    """
    names = ns_names(prefix, *hosts)
    own = os.environ.get("BGPDOCTOR_TEST_NS_PREFIX", "")
    with run_dir(f"{own}{prefix}") as rd, namespaces(*names.values()), lab(rd) as started:
        if ipv6_forwarding:
            for ns in names.values():
                sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        yield started, names


@dataclass(kw_only=True)
class Pair(Lab):
    """FRR (host frr1, AS 65001) in frr_ns peering with BIRD 2 (host bird1, AS 65002) in bird_ns."""

    frr_ns: str
    bird_ns: str
    frr_ip: str
    bird_ip: str
    wait_timeout: float = 30

    def start(self, frr: str, bird: str | None = None) -> None:
        """BIRD first (when given a configuration), then FRR."""
        if bird is not None:
            self.start_bird(self.bird_ns, "bird1", bird)
        self.start_frr(self.frr_ns, frr)

    def neighbor(self) -> dict[str, Any]:
        """FRR's `show bgp neighbors BIRD_IP json` for BIRD, e.g. {"bgpState": "Established", ...}."""
        assert self.frr is not None
        data: dict[str, dict[str, Any]] = json.loads(
            self.frr.vtysh(f"show bgp neighbors {self.bird_ip} json")
        )
        return data.get(self.bird_ip, {})

    def wait_for(self, what: str, ok: Callable[[dict[str, Any]], bool], timeout: float | None = None) -> None:
        """Wait until ok(FRR's view of BIRD) holds; fail the test with the last view otherwise."""
        timeout = self.wait_timeout if timeout is None else timeout
        seen: dict[str, Any] = {}

        def check() -> bool:
            nonlocal seen
            seen = self.neighbor()
            return ok(seen)

        if not poll(check, timeout, ignore=(json.JSONDecodeError,)):
            keys = ("bgpState", "lastResetDueTo", "lastNotificationReason")
            pytest.fail(f"FRR never showed {what} in {timeout}s: { ({k: seen.get(k) for k in keys}) }")

    def inventory(self, path: Path) -> Path:
        """The two-host inventory (frr1, bird1) written to path."""
        inv = {
            "hosts": {
                "frr1": {
                    "role": "router",
                    "speaker": "frr",
                    "asn": FRR_AS,
                    "router_id": self.frr_ip,
                    "addresses": [self.frr_ip],
                    "connect": {"netns": self.frr_ns},
                    "control_socket": str(self.run_dir / "frr"),
                    "peers": [{"host": "bird1", "address": self.bird_ip, "asn": BIRD_AS}],
                },
                "bird1": {
                    "role": "router",
                    "speaker": "bird2",
                    "asn": BIRD_AS,
                    "router_id": self.bird_ip,
                    "addresses": [self.bird_ip],
                    "connect": {"netns": self.bird_ns},
                    "control_socket": str(self.run_dir / "bird.ctl"),
                    "peers": [{"host": "frr1", "address": self.frr_ip, "asn": FRR_AS, "name": "frr1"}],
                },
            }
        }
        path.write_text(yaml.safe_dump(inv))
        return path


@contextlib.contextmanager
def frr_bird_pair(prefix: str, frr_ip: str, bird_ip: str, wait_timeout: float = 30) -> Iterator[Pair]:
    """Namespaces PREFIX-frr-PID and PREFIX-bird-PID joined by eth0, no daemon started yet."""
    frr_ns, bird_ns = f"{prefix}-frr-{tag()}", f"{prefix}-bird-{tag()}"
    with (
        run_dir(f"{prefix}-frr") as rd,
        namespaces(frr_ns, bird_ns),
        Pair(
            rd, frr_ns=frr_ns, bird_ns=bird_ns, frr_ip=frr_ip, bird_ip=bird_ip, wait_timeout=wait_timeout
        ) as p,
    ):
        veth(frr_ns, frr_ip, bird_ns, bird_ip)
        yield p


def bgpdoctor(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`python -m bgpdoctor ARGS` from the repository root, without colour."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "NO_COLOR": "1",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "bgpdoctor", *args],
        capture_output=True, text=True, env=env, timeout=timeout, check=False, cwd=ROOT,
    )  # fmt: skip


def run(inventory: Path, timeout: float = 180) -> tuple[int, dict[str, Any], str]:
    """`bgpdoctor run` on the inventory: (exit code, the JSON report, stderr).

    The report is also kept next to the inventory, as report.json, for a failing test.
    """
    proc = bgpdoctor("run", "-i", str(inventory), "-o", "json", "--no-mtu", "--timeout", "8", timeout=timeout)
    assert proc.stdout, (proc.returncode, proc.stderr[-3000:])
    (inventory.parent / "report.json").write_text(proc.stdout)
    return proc.returncode, json.loads(proc.stdout), proc.stderr


# -- an FRR router the nodes peer with over iBGP (scripts/capture_frr_reflection.py, its test) ------

RR_ASN = 64531
RR_GW = "10.215.0.254"
RR_NODES = {"n1": ("10.215.0.1", "10.42.1.0/24"), "n2": ("10.215.0.2", "10.42.2.0/24")}


def _rr_probe_ip(pods: str) -> str:
    """The first address of a pod CIDR: "10.42.1.0/24" -> "10.42.1.1"."""
    return str(ipaddress.ip_network(pods)[1])


def _rr_node_bird(ip: str, pods: str) -> str:
    return f"""
router id {ip};
protocol device {{ scan time 10; }}
protocol direct {{ ipv4; interface "eth0"; }}
protocol kernel {{ ipv4 {{ import none; export where source = RTS_BGP; }}; }}
protocol static {{ ipv4; route {pods} blackhole; }}
protocol bgp to_gw {{
  local as {RR_ASN};
  neighbor {RR_GW} as {RR_ASN};
  hold time 9; connect retry time 1;
  ipv4 {{ import all; export where source = RTS_STATIC; }};
}}
"""


def _rr_gw_frr() -> str:
    neighbors = "".join(
        f" neighbor {ip} remote-as {RR_ASN}\n neighbor {ip} timers connect 1\n" for ip, _ in RR_NODES.values()
    )
    return (
        f"hostname gw\nlog stdout informational\nrouter bgp {RR_ASN}\n bgp router-id {RR_GW}\n"
        f" timers bgp 3 9\n{neighbors} address-family ipv4 unicast\n exit-address-family\nexit\n"
    )


def _rr_inventory(path: Path, ns: dict[str, str], run_dir: Path) -> Path:
    hosts: dict[str, object] = {
        name: {
            "role": "node", "speaker": "bird2", "asn": RR_ASN, "router_id": ip, "addresses": [ip],
            "pod_cidrs": [pods], "pod_probe_ip": _rr_probe_ip(pods), "connect": {"netns": ns[name]},
            "control_socket": str(run_dir / f"{name}.ctl"),
            "peers": [{"host": "gw", "address": RR_GW, "asn": RR_ASN, "name": "to_gw"}],
        }
        for name, (ip, pods) in RR_NODES.items()
    }  # fmt: skip
    hosts["gw"] = {
        "role": "router", "speaker": "frr", "asn": RR_ASN, "router_id": RR_GW, "addresses": [RR_GW],
        "connect": {"netns": ns["gw"]}, "control_socket": str(run_dir / "frr"),
        "peers": [{"host": name, "address": ip, "asn": RR_ASN} for name, (ip, _) in RR_NODES.items()],
    }  # fmt: skip
    path.write_text(yaml.safe_dump({"hosts": hosts}))
    return path


@contextlib.contextmanager
def reflector_lab(prefix: str) -> Iterator[tuple[Lab, dict[str, str], FrrInstance, Path]]:
    """Two BIRD 2 nodes on one LAN (a bridge in gw's namespace) peering over iBGP with FRR on gw,
    which is no route reflector: each node's pod CIDR reaches gw and goes no further (split
    horizon), as with Calico nodes and a ToR once the node-to-node mesh is off. Yields (lab,
    host -> namespace, gw's FRR, the inventory) once both sessions are Established."""
    with speaker_lab(Lab, prefix, "n1", "n2", "gw") as (lab, ns):
        sh("ip", "-n", ns["gw"], "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", ns["gw"], "addr", "add", f"{RR_GW}/24", "dev", "br0")
        sh("ip", "-n", ns["gw"], "link", "set", "br0", "up")
        for i, (name, (ip, pods)) in enumerate(RR_NODES.items(), start=1):
            lan_port(ns["gw"], f"p{i}", ns[name], ip)
            # the node's pod probe address, which the pod path probes are sent from and to
            sh("ip", "-n", ns[name], "addr", "add", f"{_rr_probe_ip(pods)}/32", "dev", "lo")
            lab.start_bird(ns[name], name, _rr_node_bird(ip, pods), name=name)
        lab.frr = frr = start_frr(ns["gw"], "gw", lab.run_dir / "frr", bgpd_conf=_rr_gw_frr())

        def established() -> bool:
            seen = json.loads(frr.vtysh("show bgp neighbors json"))
            return all(seen.get(ip, {}).get("bgpState") == "Established" for ip, _ in RR_NODES.values())

        if not poll(established, 60, ignore=(json.JSONDecodeError,)):
            pytest.fail("gw's sessions with the nodes did not come up in 60 s")
        inventory = _rr_inventory(lab.run_dir / "inventory.yaml", ns, lab.run_dir)
        yield lab, ns, frr, inventory
