"""Benchmark: `bgpdoctor lint` time against the number of BIRD configs in a directory.

Usage: python3 benchmarks/lint_scale.py [N ...] [--src DIR]
Writes N BIRD 2 routers in a chain (each peers with the previous and the next one over eBGP
multihop, so every session is paired from both ends), lints the directory and prints the CPU time per
size (less disturbed by other load than wall time) and the ratio to the previous size. Linear
time doubles with N (ratio ~2); quadratic time quadruples (ratio ~4).
--src DIR imports bgpdoctor from DIR (e.g. an export of an older commit).
Default sizes: 1000 2000 4000.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

ROUTER = """router id {me};
protocol device {{ }}
protocol kernel {{ ipv4 {{ export where source = RTS_BGP; }}; }}
{peers}"""
PEER = """protocol bgp to_{name} {{
  local as {asn};
  neighbor {addr} as {peer_asn};
  multihop 4;
  ipv4 {{ import all; export all; }};
}}
"""


def address(i: int) -> str:
    return f"10.{(i >> 8) & 255}.{i & 255}.1"


def write_routers(root: Path, n: int) -> None:
    for i in range(n):
        peers = "".join(
            PEER.format(name=f"r{j}", asn=64512 + i, addr=address(j), peer_asn=64512 + j)
            for j in (i - 1, i + 1)
            if 0 <= j < n
        )
        d = root / f"r{i}"
        d.mkdir()
        (d / "bird.conf").write_text(ROUTER.format(me=address(i), peers=peers), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 2000, 4000])
    parser.add_argument("--src", default=str(REPO), help="import bgpdoctor from this directory")
    args = parser.parse_args()
    sys.path.insert(0, args.src)
    from bgpdoctor.lint import lint_paths

    previous: float | None = None
    previous_n = 0
    print(f"bgpdoctor from {args.src}")
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix="bgpdoctor-lint-scale-") as tmp:
            write_routers(Path(tmp), n)
            start, cpu_start = time.perf_counter(), time.process_time()
            result = lint_paths([tmp])
            wall, took = time.perf_counter() - start, time.process_time() - cpu_start
        ratio = f"  x{took / previous:.2f} for x{n / previous_n:g} configs" if previous else ""
        checked = getattr(result, "sessions_checked", "?")  # older versions did not count them
        print(
            f"{n:6} BIRD configs: {took:7.2f} s CPU ({wall:.2f} s wall), {len(result.files)} files, "
            f"{checked} sessions checked{ratio}",
            flush=True,
        )
        previous, previous_n = took, n
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
