"""Benchmark: `bgpdoctor replay` time and peak memory against the number of nodes in a recording.

Usage: python3 benchmarks/offline_scale.py [N ...] [--src DIR] [--keep DIR] [--profile N]
Builds a synthetic recording of N nodes from captures/runs/healthy.json: its two-site lab
(router-mine, router-home, metrics-server and the other seed sites) with the two Cilium nodes cloned
N times over both sites (site LANs widened to /16, one /24 pod CIDR per node, one BGP session per
clone on each router it peers with, the routers' `show protocols`, routes, sockets and FIB grown to
match, one pod ping and MTU sweep per clone towards the next clone). Each size is replayed in a fresh
interpreter; the table shows wall time, peak RSS, the number of results and the ratios to the
previous size (linear: ratio ~ size ratio; quadratic: its square).
--src DIR imports bgpdoctor from DIR (e.g. an export of an older commit) for a before/after table.
--profile N prints the top cProfile entries of one replay of N nodes instead of the table.
Default sizes: 100 500 1000.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "captures" / "runs" / "healthy.json"

# the healthy lab's /24 site LANs become /16s so that a thousand nodes fit
LANS = {"192.168.6.": ("10.128.0.", 128), "192.168.0.": ("10.129.0.", 129)}
# clone templates: name, LAN address, pod prefix (first three octets), its router(s)
NODE_TEMPLATES = [
    {"name": "sakamoto", "proto": "sakamoto", "addr": "10.128.0.80", "pod": "10.42.0.", "lan": 128},
    {"name": "yuuko-k8s", "proto": "yuuko_k8s", "addr": "10.129.0.81", "pod": "10.42.3.", "lan": 129},
]
PER_PAIR_FACTS = ("ping.", "mtu.", "capture.", "netstat.after")


def _widen(text: str) -> str:
    """The lab's addresses moved to the /16 site LANs."""
    for old, (new, second) in LANS.items():
        text = text.replace(f"{old}0/24", f"10.{second}.0.0/16")
        text = re.sub(rf'("local":"){re.escape(old)}(\d+)(","prefixlen":)24', rf"\g<1>{new}\2\g<3>16", text)
        text = re.sub(rf"{re.escape(old)}(\d+)/24", rf"{new}\1/16", text)
        text = re.sub(rf"(?<!\d)(?<!\d\.){re.escape(old)}(?=\d)", new, text)
    return text


def _swap(text: str, pairs: list[tuple[str, str]]) -> str:
    for old, new in pairs:
        text = re.sub(rf"(?<![\w.-]){re.escape(old)}(?![\w-]|\.\d)", new, text)
    return text


def _clone_map(tpl: dict[str, Any], i: int) -> tuple[dict[str, str], list[tuple[str, str]]]:
    name = f"node{i:05d}"
    addr = f"10.{tpl['lan']}.{1 + i // 250}.{1 + i % 250}"
    pod = f"10.{64 + i // 256}.{i % 256}."
    info = {"name": name, "proto": name, "addr": addr, "pod": pod, "template": tpl["name"]}
    pairs = [(tpl["name"], name), (tpl["proto"], name), (tpl["addr"], addr)]
    pairs += [(f"{tpl['pod']}{last}", f"{pod}{last}") for last in ("0/24", "1")]
    return info, pairs


def _decode(rec: dict[str, Any]) -> None:
    for host in rec["hosts"].values():
        for r in host["outputs"].values():
            r["stdout"] = base64.b64decode(r.pop("stdout_b64")).decode()


def _encode(rec: dict[str, Any]) -> None:
    for host in rec["hosts"].values():
        for r in host["outputs"].values():
            r["stdout_b64"] = base64.b64encode(r.pop("stdout").encode()).decode()


def _blocks(text: str, sep: str) -> list[str]:
    return text.split(sep)


def _route_entries(text: str) -> list[str]:
    """`birdc show route` text cut into entries: a prefix line and its indented continuation lines."""
    entries: list[str] = []
    for line in text.splitlines(keepends=True):
        if entries and (line.startswith(("\t", " ")) or not line.strip()):
            entries[-1] += line
        else:
            entries.append(line)
    return entries


Clones = list[tuple[dict[str, str], list[tuple[str, str]]]]


def _grow_router(outputs: dict[str, Any], peered: Clones, every: Clones) -> None:
    """Give a router a route per clone, and a session, socket and route lookup per clone it peers with."""
    for fact, r in outputs.items():
        clones = every if fact in ("bird.routes", "bird.bgp_routes", "ip.route") else peered
        text: str = r["stdout"]
        extra: list[str] = []
        if fact == "bird.protocols":
            blocks = text.split("\n\n")
            for info, pairs in clones:
                tpl = next(t for t in NODE_TEMPLATES if t["name"] == info["template"])
                extra += [_swap(b, pairs) for b in blocks if b.startswith(tpl["proto"] + " ")]
            r["stdout"] = "\n\n".join(blocks[:-1] + extra + blocks[-1:])
        elif fact in ("bird.routes", "bird.bgp_routes"):
            entries = _route_entries(text)
            out = list(entries)
            for info, pairs in clones:
                tpl = next(t for t in NODE_TEMPLATES if t["name"] == info["template"])
                prefix = tpl["pod"] + "0/24"
                start = [k for k, e in enumerate(entries) if e.startswith(prefix)]
                out += [_swap(entries[k], pairs) for k in start]
            r["stdout"] = "".join(out)
        elif fact == "ip.route":
            routes = json.loads(text)
            for info, pairs in clones:
                tpl = next(t for t in NODE_TEMPLATES if t["name"] == info["template"])
                for route in routes[:]:
                    if route.get("dst") == tpl["pod"] + "0/24":
                        routes.append(json.loads(_swap(json.dumps(route), pairs)))
            r["stdout"] = json.dumps(routes, separators=(",", ":")) + "\n"
        elif fact == "ss.bgp":
            lines = text.splitlines()
            for info, pairs in clones:
                tpl = next(t for t in NODE_TEMPLATES if t["name"] == info["template"])
                extra += [_swap(line, pairs) for line in lines if f" {tpl['addr']}:" in line]
            r["stdout"] = "\n".join(lines + extra) + "\n"
    for info, pairs in peered:
        tpl = next(t for t in NODE_TEMPLATES if t["name"] == info["template"])
        got = outputs.get(f"route.get.{tpl['addr']}")
        if got is not None:
            outputs[f"route.get.{info['addr']}"] = json.loads(_swap(json.dumps(got), pairs))


def synthetic_recording(n: int) -> dict[str, Any]:
    """A recording of the healthy lab with its two Cilium nodes cloned up to `n` nodes in all."""
    rec = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    _decode(rec)
    rec = json.loads(_widen(json.dumps(rec)))
    inv = rec["inventory"]
    clones = [_clone_map(NODE_TEMPLATES[i % 2], i) for i in range(max(0, n - 2))]
    by_template: dict[str, list[tuple[dict[str, str], list[tuple[str, str]]]]] = {}
    for info, pairs in clones:
        by_template.setdefault(info["template"], []).append((info, pairs))
        tpl_name = info["template"]
        host = copy.deepcopy(rec["hosts"][tpl_name])
        host["outputs"] = {
            fact: json.loads(_swap(json.dumps(r), pairs))
            for fact, r in host["outputs"].items()
            if not fact.startswith(PER_PAIR_FACTS)
        }
        rec["hosts"][info["name"]] = host
        inv["hosts"][info["name"]] = json.loads(_swap(json.dumps(inv["hosts"][tpl_name]), pairs))
        rec["scope"].append(info["name"])
        ms = rec["hosts"]["metrics-server"]["outputs"]
        ms[f"kubelet.{info['name']}"] = json.loads(_swap(json.dumps(ms[f"kubelet.{tpl_name}"]), pairs))
        kubelets = rec["active"]["kubelets"]
        kubelets[info["name"]] = json.loads(_swap(json.dumps(kubelets[tpl_name]), pairs))
    for router in ("router-mine", "router-home"):
        peers = inv["hosts"][router]["peers"]
        mine = []
        for info, pairs in clones:
            for p in peers:
                if p.get("host") == info["template"]:
                    mine.append((info, pairs))
                    peers.append(json.loads(_swap(json.dumps(p), pairs)))
                    break
        _grow_router(rec["hosts"][router]["outputs"], mine, clones)
    # one probed pod path per clone, towards the next clone (the other site), recorded like sakamoto's
    active = rec["active"]
    for k, (src, src_pairs) in enumerate(clones):
        dst, dst_pairs = clones[(k + 1) % len(clones)]
        if src["template"] == dst["template"]:
            continue
        key = f"{src['template']}->{dst['template']}"
        pairs = src_pairs + dst_pairs
        for table in ("pings", "sweeps"):
            active[table][f"{src['name']}->{dst['name']}"] = json.loads(
                _swap(json.dumps(active[table][key]), pairs)
            )
    _encode(rec)
    return rec


def _measure(path: Path, src: str) -> tuple[float, float, int, int]:
    """Replay in a fresh interpreter: wall seconds, peak RSS MiB, exit status, results reported."""
    env = {**os.environ, "PYTHONPATH": src, "NO_COLOR": "1"}
    t = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bgpdoctor", "replay", str(path), "-o", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=src,
    )
    out = proc.stdout.read() if proc.stdout else b""
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t
    results = len(json.loads(out)["results"]) if out.strip() else -1
    return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 500, 1000])
    parser.add_argument("--src", default=str(REPO), help="import bgpdoctor from this directory")
    parser.add_argument("--keep", help="write the recordings into this folder and keep them")
    parser.add_argument("--profile", type=int, help="cProfile one replay of this many nodes")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="bgpdoctor-offline-"))
    folder.mkdir(parents=True, exist_ok=True)
    if args.profile:
        path = folder / f"nodes-{args.profile}.json"
        path.write_text(json.dumps(synthetic_recording(args.profile)), encoding="utf-8")
        prof = folder / "replay.prof"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "cProfile",
                "-o",
                str(prof),
                "-m",
                "bgpdoctor",
                "replay",
                str(path),
                "-o",
                "json",
            ],
            env={**os.environ, "PYTHONPATH": args.src},
            cwd=args.src,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        import pstats

        pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(45)
        pstats.Stats(str(prof)).sort_stats("tottime").print_stats(25)
        return 0
    print(f"bgpdoctor from {args.src}")
    print(
        f"{'nodes':>6} {'hosts':>6} {'file MiB':>8} {'wall s':>7} {'peak MiB':>9} {'exit':>4} {'results':>8} "
        f"{'x wall':>7} {'x mem':>6}"
    )
    previous: tuple[int, float, float] | None = None
    for n in args.sizes:
        rec = synthetic_recording(n)
        path = folder / f"nodes-{n}.json"
        path.write_text(json.dumps(rec), encoding="utf-8")
        wall, rss, code, results = _measure(path, args.src)
        ratios = f"{wall / previous[1]:>7.2f} {rss / previous[2]:>6.2f}" if previous else f"{'-':>7} {'-':>6}"
        size = path.stat().st_size / 2**20
        print(
            f"{n:>6} {len(rec['hosts']):>6} {size:>8.1f} {wall:>7.2f} {rss:>9.0f} {code:>4} {results:>8}",
            ratios,
            flush=True,
        )
        previous = (n, wall, rss)
        if not args.keep:
            path.unlink()
    if not args.keep:
        folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
