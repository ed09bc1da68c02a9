"""The DF probe as real iputils ping sends it, through a real router with a smaller MTU behind it.

Three namespaces: a — r — b, the r—b link at MTU 1400. The first sweep from a meets r's ICMP
"fragmentation needed"; after it the kernel of a caches the path MTU, so the second sweep's first
probe fails locally ("message too long"). Both must find 1400, run as root and as a user who is not
(ping's interval in the probe is one iputils allows a user), and the probe's command must stay one
ping whose output the parser classifies. Every packet stays inside the test's namespaces (bdq-).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from bgpdoctor.probes.mtu import run_sweep

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "ping", "runuser")),
    reason="needs root, iproute2, ping and runuser (network namespaces)",
)
TIMEOUT = 30


def sh(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True, text=True, timeout=TIMEOUT)


@pytest.fixture
def path() -> Iterator[tuple[str, str]]:
    """(namespace a, b's address): a 10.77.1.1 — r 10.77.1.2 / 10.77.2.1 — b 10.77.2.2 (MTU 1400)."""
    tag = uuid.uuid4().hex[:6]
    a, r, b = (f"bdq-{n}-{tag}" for n in "arb")
    for ns in (a, r, b):
        sh("ip", "netns", "add", ns)
    try:
        sh(*f"ip link add bdq{tag}a netns {a} type veth peer name bdq{tag}r netns {r}".split())
        sh(*f"ip link add bdq{tag}s netns {r} type veth peer name bdq{tag}b netns {b}".split())
        for ns, dev, addr, mtu in (
            (a, f"bdq{tag}a", "10.77.1.1/24", "1500"),
            (r, f"bdq{tag}r", "10.77.1.2/24", "1500"),
            (r, f"bdq{tag}s", "10.77.2.1/24", "1400"),
            (b, f"bdq{tag}b", "10.77.2.2/24", "1400"),
        ):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up", "mtu", mtu)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", a, "route", "add", "10.77.2.0/24", "via", "10.77.1.2")
        sh("ip", "-n", b, "route", "add", "10.77.1.0/24", "via", "10.77.2.1")
        sh("ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        yield a, "10.77.2.2"
    finally:
        for ns in (a, r, b):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=TIMEOUT)


@pytest.mark.parametrize("user", ["root", "nobody"])
def test_a_sweep_through_a_smaller_mtu_finds_it_whether_a_router_or_the_kernel_names_it(
    path: tuple[str, str], user: str
) -> None:
    ns, far = path

    def run(command: str) -> tuple[str, int | None]:
        argv = ["ip", "netns", "exec", ns, "runuser", "-u", user, "--", "sh", "-c", command]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        return done.stdout + done.stderr, done.returncode

    first = run_sweep(run, "10.77.1.1", far, 1500, 1.0, [1400, 1500])
    assert [p.outcome for p in first.probes] == ["frag-needed", "reply"], [p.raw for p in first.probes]
    assert (first.path_mtu, first.frag_needed_mtu, first.frag_needed_from) == (1400, 1400, "10.77.1.2")

    again = run_sweep(run, "10.77.1.1", far, 1500, 1.0, [1400, 1500])  # the kernel knows 1400 now
    assert [p.outcome for p in again.probes] == ["local-too-big", "reply"], [p.raw for p in again.probes]
    assert (again.path_mtu, again.local_mtu) == (1400, 1400)
    assert " -i 0.2 " in again.probes[0].raw.splitlines()[0]
