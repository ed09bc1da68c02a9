"""Benchmark: start-up time of `bgpdoctor --help` and `bgpdoctor explain ID` (goals: 80 ms, 100 ms).

Usage: python3 benchmarks/startup.py [--runs N] [--src DIR] [--id ROOT_CAUSE]
Runs each command N times in fresh interpreters (interleaved, so load on a shared machine hits both
alike), prints the median and best wall time, the ratio to the goal, and the imports that cost the
most (python -X importtime) for the slower command. `explain` runs with a warm definition cache
(the usual case, and what the goal is about) and, for comparison, with an empty one each time (the
first explain after an upgrade or an edit of the file: it validates that file with pydantic).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--src", default=str(REPO), help="import bgpdoctor from this directory")
    parser.add_argument("--id", default="mtu-blackhole", help="the root cause `explain` shows")
    args = parser.parse_args()
    warm_cache = tempfile.mkdtemp(prefix="bgpdoctor-startup-")
    env = {**os.environ, "PYTHONPATH": args.src, "NO_COLOR": "1", "XDG_CACHE_HOME": warm_cache}
    cold = f"explain {args.id} (cold cache)"
    cases = {
        "--help": (["--help"], 0.080),
        f"explain {args.id}": (["explain", args.id], 0.100),
        cold: (["explain", args.id], None),
        "python -c pass": (None, None),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, (argv, _goal) in cases.items():
            command = (
                [sys.executable, "-c", "pass"] if argv is None else [sys.executable, "-m", "bgpdoctor", *argv]
            )
            run_env = (
                {**env, "XDG_CACHE_HOME": tempfile.mkdtemp(prefix="bgpdoctor-startup-")}
                if name == cold
                else env
            )
            t = time.perf_counter()
            subprocess.run(command, env=run_env, cwd=args.src, stdout=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - t)
            if run_env is not env:
                shutil.rmtree(run_env["XDG_CACHE_HOME"])
    shutil.rmtree(warm_cache)
    print(f"bgpdoctor from {args.src}, {args.runs} runs each")
    print(f"{'command':44} {'median ms':>9} {'best ms':>8} {'goal ms':>8} {'x goal':>7}")
    for name, (_argv, goal) in cases.items():
        median, best = statistics.median(times[name]) * 1000, min(times[name]) * 1000
        goal_text = f"{goal * 1000:>8.0f} {median / (goal * 1000):>7.2f}" if goal else f"{'-':>8} {'-':>7}"
        print(f"{name:44} {median:>9.0f} {best:>8.0f} {goal_text}")
    slow = sorted(((statistics.median(times[n]), n) for n, (a, g) in cases.items() if g), reverse=True)[0][1]
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bgpdoctor", *cases[slow][0]],  # type: ignore[misc]
        env=env,
        cwd=args.src,
        capture_output=True,
        text=True,
        check=False,
    )
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    print(f"\nlargest cumulative imports of `bgpdoctor {slow}` (us):")
    for cumulative, module in sorted(rows, reverse=True)[:12]:
        print(f"{cumulative:>9} {module}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
