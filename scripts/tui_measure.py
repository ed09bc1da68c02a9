#!/usr/bin/env python3
"""Measure `bgpdoctor tui` in a real terminal (tmux): time to the first screen, time to the
diagnosis on screen, and the process's memory (VmRSS, and VmHWM = peak RSS) once it is there.

Usage: python3 scripts/tui_measure.py [RECORDING] [--runs 5] [--size 80x24]
Default RECORDING: the largest file under captures/runs/. Needs tmux; contacts no host.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _cpu_seconds(pid: int) -> float:
    """user + system CPU time the process used so far (a fair figure on a busy machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(recording: Path, size: str) -> tuple[float, float, float, float, int, int]:
    session = f"bgpdoctor-measure-{uuid.uuid4().hex[:8]}"
    columns, rows = size.split("x")
    # exec: the pane's process is bgpdoctor itself, so its pid is the pane's pid
    command = f"exec {sys.executable} -m bgpdoctor tui --replay {recording}"
    start = time.monotonic()
    _tmux("new-session", "-d", "-s", session, "-x", columns, "-y", rows, "-c", str(REPO), command)
    try:
        pid = int(_tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())
        first = diagnosis = first_cpu = diagnosis_cpu = 0.0
        while time.monotonic() - start < 60:
            screen = _tmux("capture-pane", "-p", "-t", session)
            now = time.monotonic() - start
            if not first and "Quit" in screen:
                first, first_cpu = now, _cpu_seconds(pid)
            if "finding(s)" in screen or "no findings" in screen:
                diagnosis, diagnosis_cpu = now, _cpu_seconds(pid)
                break
            time.sleep(0.01)
        rss, peak = _kib(pid, "VmRSS"), _kib(pid, "VmHWM")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
    return first, diagnosis, first_cpu, diagnosis_cpu, rss, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    largest = max((REPO / "captures" / "runs").rglob("*.json"), key=lambda p: p.stat().st_size)
    parser.add_argument("recording", nargs="?", type=Path, default=largest)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", default="80x24")
    args = parser.parse_args()
    results = [measure(args.recording.resolve(), args.size) for _ in range(args.runs)]
    first, diagnosis, first_cpu, diagnosis_cpu, rss, peak = (
        statistics.median(column) for column in zip(*results, strict=True)
    )
    print(
        f"recording: {args.recording} ({args.recording.stat().st_size} bytes), {args.runs} runs, {args.size}"
    )
    print(f"first screen: {first:.2f}s  diagnosis on screen: {diagnosis:.2f}s (wall, medians)")
    print(f"CPU used by then: {first_cpu:.2f}s and {diagnosis_cpu:.2f}s (user+system, medians)")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"memory once shown: RSS {rss / 1024:.0f} MiB, peak RSS {peak / 1024:.0f} MiB (medians)")


if __name__ == "__main__":
    main()
