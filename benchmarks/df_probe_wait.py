"""Benchmark: how long one DF probe takes when the sender's kernel already knows a smaller path MTU.

Usage (root): python3 benchmarks/df_probe_wait.py [--runs N]
Builds two namespaces (prefix bdw-) joined by a veth, the route to the far address locked at MTU
1400, and times (median of N runs) the probe of 1500 bytes that fails locally ("message too long"),
with the command of before (no interval: ping waits out its whole -W) and of now
(bgpdoctor.probes.mtu.ping_command), at the -W a probe uses without a measured round trip (1 s) and
with one (0.2 s); and a probe that gets its reply. Deletes the namespaces afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bgpdoctor.probes.mtu import ping_command


def sh(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True, timeout=30)


def timed(ns: str, command: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        begun = time.monotonic()
        subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", command], capture_output=True, timeout=30)
        times.append(time.monotonic() - begun)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    tag = uuid.uuid4().hex[:6]
    a, b = f"bdw-a-{tag}", f"bdw-b-{tag}"
    for ns in (a, b):
        sh("ip", "netns", "add", ns)
    try:
        sh(*f"ip link add bdw{tag}a netns {a} type veth peer name bdw{tag}b netns {b}".split())
        for ns, dev, addr in ((a, f"bdw{tag}a", "10.78.0.1/24"), (b, f"bdw{tag}b", "10.78.0.2/24")):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", b, "addr", "add", "10.78.1.1/32", "dev", "lo")
        sh("ip", "-n", b, "link", "set", "lo", "up")
        sh("ip", "-n", a, "route", "add", "10.78.1.1/32", "via", "10.78.0.2", "mtu", "lock", "1400")
        print(f"one DF probe from {a}, median of {runs} runs (wall s)")
        print(f"{'case':<38} {'-W':>4} {'before':>7} {'now':>7}")
        for case, size in (("local 'message too long' (1500 > 1400)", 1500), ("reply (1400)", 1400)):
            for wait in (1.0, 0.2):
                now = ping_command("10.78.0.1", "10.78.1.1", size, wait)
                before = now.replace(" -i 0.2 ", " ")
                print(f"{case:<38} {wait:>4g} {timed(a, before, runs):>7.3f} {timed(a, now, runs):>7.3f}")
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
