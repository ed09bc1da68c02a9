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
