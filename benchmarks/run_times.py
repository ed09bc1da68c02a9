"""Benchmark: wall time of `bgpdoctor run` on the healthy lab and on each fault, MTU probes sent.

Usage (root): python3 benchmarks/run_times.py [--default-timers] [FAULT ...]
Prints one line per case; brings its own lab up (prefix bdb-) and down again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

# the node a user would name for each fault (the faults of the seed-002/003 sites live there)
FOCUS = {
    "ibgp-no-route-reflection": ["kubemaster", "kubenode-wds1"],
    "bgp-next-hop-unreachable": ["kubemaster"],
    "ecmp-single-path": ["master-01"],
    "connected-route-shadows-bgp": ["master-01"],
}


def main() -> int:
    args = sys.argv[1:]
    timers = ["--default-timers"] if "--default-timers" in args else []
    faults = [a for a in args if not a.startswith("--")]
    run_dir = tempfile.mkdtemp(prefix="bgpdoctor-bench-")
    env = {
        **os.environ,
        "BGPDOCTOR_LAB_PREFIX": "bdb-",
        "BGPDOCTOR_LAB_MGMT_NET": "172.31.249.0/24",
        "BGPDOCTOR_LAB_DIR": run_dir,
        "NO_COLOR": "1",
    }

    def cli(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bgpdoctor", *argv],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=900,
        )

    # a killed benchmark still takes its lab down (SystemExit runs the finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t = time.monotonic()
    cli("--help")
    print(f"bgpdoctor --help: {time.monotonic() - t:.2f}s (includes interpreter start)")
    if not faults:
        faults = [line.split()[0] for line in cli("lab", "faults").stdout.splitlines() if line.strip()]
    print(f"{'case':28} {'exit':>4} {'wall s':>7} {'mtu probes':>10}  top diagnosis  [--node]")
    try:
        for case in [None, *faults]:
            up = cli("lab", "up", *timers, *(["--fault", case] if case else []))
            if up.returncode != 0:
                print(f"{case or 'healthy':28} lab up failed: {up.stderr.strip().splitlines()[-1:]}")
                continue
            t = time.monotonic()
            nodes = [a for n in FOCUS.get(case or "", ["yuuko-k8s"]) for a in ("--node", n)]
            run = cli("run", "-i", f"{run_dir}/inventory.yaml", *nodes, "-o", "json")
            wall = time.monotonic() - t
            report = json.loads(run.stdout)
            top = report["diagnoses"][0]["root_cause"] if report["diagnoses"] else "-"
            probes = report["timing"]["mtu_probes"]
            focus = " ".join(FOCUS.get(case or "", ["yuuko-k8s"]))
            print(
                f"{case or 'healthy':28} {run.returncode:>4} {wall:>7.2f} {probes:>10}  {top}  [{focus}]",
                flush=True,
            )
    finally:
        cli("lab", "down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
