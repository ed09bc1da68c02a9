"""Benchmark: `bgpdoctor replay` time and peak memory against the number of nodes in a recording.

Usage: python3 benchmarks/offline_scale.py [N ...] [--src DIR] [--keep DIR] [--profile N] [--before DIR]
       python3 benchmarks/offline_scale.py --pairs [N ...] [--before-max N]
Builds a synthetic recording of N nodes from captures/runs/healthy.json: its two-site lab
(router-mine, router-home, metrics-server and the other seed sites) with the two Cilium nodes cloned
N times over both sites (site LANs widened to /16, one /24 pod CIDR per node, one BGP session per
clone on each router it peers with, the routers' `show protocols`, routes, sockets and FIB grown to
match, a pod ping and MTU sweep for every pod path the engine probes, as a live run records them).
Each size is replayed in a fresh interpreter; the table shows wall time, peak RSS, the number of
results and the ratios to the previous size (linear: ratio ~ size ratio; quadratic: its square).
--src DIR imports bgpdoctor from DIR (e.g. an export of an older commit) for a before/after table;
--before DIR replays each recording with DIR's bgpdoctor and then this tree's, back to back, so a
shared machine's load weighs on both alike (`git archive HEAD | tar -x -C DIR` exports a commit).
--profile N prints the top cProfile entries of one replay of N nodes instead of the table.
--pairs prints, for each size, the pod paths probed before (every ordered pair of nodes in a
routing domain) and now (the covering set of engine/active.py node_pairs), the seconds the
selection takes, and replays the same recording with both rules in this tree (the old rule patched
in), so only the pair rule differs; replays are skipped above --before-max (default 200) and
--after-max (default 500) nodes (the old rule's N² paths take minutes there).
Default sizes: 100 500 1000 (--pairs: 100 200 1000 2000 5000).
Recordings carry the redaction mark a live run's recording has (its outputs redacted when recorded).
Peak memory is the replay's whole process, JSON report written to a pipe included (it is streamed).
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


def _as_recorded(rec: dict[str, Any]) -> dict[str, Any]:
    """The recording with its outputs redacted and marked so, as `bgpdoctor run --record` writes it
    (engine/recording.py: a replay then does not redact them again)."""
    sys.path.insert(0, str(REPO))
    from bgpdoctor.engine.recording import outputs_digest, redaction_rules
    from bgpdoctor.redact import redact, redact_bytes

    outputs = []
    for name, host in rec["hosts"].items():
        for fact, r in host["outputs"].items():
            stdout = redact_bytes(base64.b64decode(r["stdout_b64"]))
            r["stdout_b64"], r["stderr"] = base64.b64encode(stdout).decode(), redact(r["stderr"])
            outputs.append((name, fact, stdout, r["stderr"]))
    rules = redaction_rules()
    rec["redaction"] = {"rules": rules, "digest": outputs_digest(outputs)} if rules else None
    return rec


def _probed(rec: dict[str, Any]) -> tuple[list[tuple[str, str]], float]:
    """The pod paths this tree's engine probes in the recording (engine/active.py node_pairs), and
    the seconds their selection takes once the hosts' addresses and routes are parsed (the
    evaluation parses them anyway)."""
    sys.path.insert(0, str(REPO))
    from bgpdoctor.engine.active import node_pairs
    from bgpdoctor.engine.recording import load_recording
    from bgpdoctor.engine.world import World

    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as f:
        json.dump(rec, f)
        f.flush()
        inv, _path, nodes, collected = load_recording(Path(f.name))
    world = World(inv, collected.facts)
    node_pairs(world, collected.scope, nodes)  # parses every host's addresses and routes once
    t = time.monotonic()
    pairs = [(p.source, p.destination) for p in node_pairs(world, collected.scope, nodes)]
    return pairs, time.monotonic() - t


def _record_pairs(rec: dict[str, Any], pairs: list[tuple[str, str]]) -> None:
    """A ping and an MTU sweep for each pair, from the lab's sakamoto<->yuuko-k8s recording: between
    sites as recorded (1420 over the tunnel), within a site one full-size DF probe that passes."""
    hosts = rec["inventory"]["hosts"]
    template = {"mine": "sakamoto", "home": "yuuko-k8s"}
    active = rec["active"]
    for src, dst in pairs:
        if f"{src}->{dst}" in active["pings"]:
            continue
        a, b = hosts[src], hosts[dst]
        first = template[a["site"]]
        second = next(t for t in template.values() if t != first)
        key = f"{first}->{second}"
        ips = [(str(hosts[first]["pod_probe_ip"]), "@SRC@"), (str(hosts[second]["pod_probe_ip"]), "@DST@")]
        ips += [("@SRC@", str(a["pod_probe_ip"])), ("@DST@", str(b["pod_probe_ip"]))]
        ping, sweep = json.dumps(active["pings"][key]), active["sweeps"][key]
        if a["site"] == b["site"]:
            passed = sweep["probes"][-1]["raw"].replace("1392", "1472").replace("1400 bytes", "1480 bytes")
            sweep = {
                **sweep,
                "start": 1500,
                "probes": [{"size": 1500, "raw": passed.replace("(1420)", "(1500)")}],
            }
        text = json.dumps(sweep)
        for old, new in ips:
            ping, text = ping.replace(old, new), text.replace(old, new)
        active["pings"][f"{src}->{dst}"] = json.loads(ping)
        active["sweeps"][f"{src}->{dst}"] = json.loads(text)


def _all_pairs_count(rec: dict[str, Any]) -> int:
    """The pod paths the old rule probed: every ordered pair of nodes with a pod probe address in
    one routing domain (here: the two lab sites' nodes)."""
    hosts = rec["inventory"]["hosts"]
    probed = [n for n in rec["scope"] if hosts[n]["role"] == "node" and hosts[n].get("pod_probe_ip")]
    home = [n for n in probed if hosts[n].get("site") in ("mine", "home")]
    rest = len(probed) - len(home)
    return len(home) * (len(home) - 1) + (rest * (rest - 1) if rest else 0)


# the pair rule before the covering set, patched into this tree for the before replay
OLD_RULE = """
import sys
from bgpdoctor.engine import active, run

def all_pairs(world, scope, focus):
    nodes = [n for n in scope if world.inv.hosts[n].role == "node" and world.inv.hosts[n].pod_probe_ip]
    domain = active.routing_domains(world.inv)
    return [
        active._node_pair(world, a, b) for a in nodes for b in nodes
        if a != b and not (focus and a not in focus and b not in focus) and domain[a] == domain[b]
    ]

run.node_pairs = all_pairs
from bgpdoctor.cli import main
sys.argv = ["bgpdoctor", *sys.argv[1:]]
main()
"""


# The replay is started by this small interpreter, not by the benchmark: a process's peak RSS
# starts at its parent's when it is spawned (Linux carries the old memory's high-water mark over
# exec), and the benchmark holds the previous replay's whole report, so the peak of every replay
# but the first read as the benchmark's own.
MEASURED = """
import os, sys
pid = os.posix_spawn(sys.executable, [sys.executable, *sys.argv[2:]], os.environ)
_pid, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _measure(path: Path, src: str, old_rule: bool = False) -> tuple[float, float, int, int, int]:
    """Replay in a fresh interpreter: wall seconds, peak RSS MiB, exit status, results reported,
    results unknown."""
    return _measured(path, src, old_rule)[:5]


def _measured(path: Path, src: str, old_rule: bool = False) -> tuple[float, float, int, int, int, float]:
    """_measure and the replay's CPU seconds (user + system): on a machine shared with other work
    the wall time measures the load as much as the replay, the CPU time far less."""
    env = {**os.environ, "PYTHONPATH": src, "NO_COLOR": "1"}
    start = ["-c", OLD_RULE] if old_rule else ["-m", "bgpdoctor"]
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss, tempfile.TemporaryFile() as out:
        t = time.monotonic()
        status = subprocess.run(
            [sys.executable, "-c", MEASURED, rss.name, *start, "replay", str(path), "-o", "json"],
            stdout=out,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=src,
            check=False,
        ).returncode
        wall = time.monotonic() - t
        peak_kib, _, cpu = (rss.read() or "0 nan").partition(" ")
        out.seek(0)
        results, unknown = _counts(out)
    return wall, int(peak_kib) / 1024, status, results, unknown, float(cpu or "nan")


def _counts(out: Any) -> tuple[int, int]:
    """Results reported and unknown, read from the report without holding it whole."""
    results = unknown = -1
    for line in out:
        if line.startswith(b'      "check": '):  # one per result, at the results' depth
            results = max(results, 0) + 1
        elif line.startswith(b'    "unknown": '):
            unknown = int(line.split(b":")[1].strip(b" ,\n"))
    return results, unknown


def pairs_table(sizes: list[int], before_max: int, after_max: int, folder: Path, keep: bool) -> None:
    """Pod paths and replay cost, old rule (all ordered pairs) against the covering set."""
    print("pod paths probed, before (every ordered pair) / after (covering set); replays in this tree")
    print(
        f"{'nodes':>6} {'pairs before':>12} {'pairs after':>11} {'x pairs':>8} {'select s':>8}"
        f"  {'replay s':>13} {'peak MiB':>13} {'unknown':>11}"
    )
    nan = (float("nan"), float("nan"), -1, -1, -1)
    for n in sizes:
        rec = synthetic_recording(n)
        probed, seconds = _probed(rec)
        _decode(rec)
        _record_pairs(rec, probed)
        _encode(rec)
        path = folder / f"nodes-{n}.json"
        path.write_text(json.dumps(_as_recorded(rec)), encoding="utf-8")
        before_count = _all_pairs_count(rec)
        after = _measure(path, str(REPO)) if n <= after_max else nan
        before = _measure(path, str(REPO), old_rule=True) if n <= before_max else nan
        print(
            f"{n:>6} {before_count:>12} {len(probed):>11} {before_count / max(1, len(probed)):>8.1f}"
            f" {seconds:>8.2f}  {before[0]:>6.2f}/{after[0]:<6.2f} {before[1]:>6.0f}/{after[1]:<6.0f}"
            f" {before[4]:>5}/{after[4]:<5}",
            flush=True,
        )
        if not keep:
            path.unlink()


def _recording(n: int, folder: Path) -> Path:
    """The recording of n nodes, written into folder (one kept there from an earlier run is reused)."""
    path = folder / f"nodes-{n}.json"
    if path.exists():
        return path
    rec = synthetic_recording(n)
    probed, _seconds = _probed(rec)
    _decode(rec)
    _record_pairs(rec, probed)
    _encode(rec)
    path.write_text(json.dumps(_as_recorded(rec)), encoding="utf-8")
    return path


def before_after_table(sizes: list[int], before: str, after: str, folder: Path, keep: bool) -> None:
    """Each recording replayed by two trees back to back (same machine load), with the ratios."""
    print(f"before: bgpdoctor from {before}; after: from {after}")
    print(
        f"{'nodes':>6} {'wall s before':>13} {'after':>7} {'x':>5}  {'cpu s before':>12} {'after':>7}"
        f" {'x':>5}  {'peak MiB before':>15} {'after':>6} {'x':>5}  {'results before':>14} {'after':>7}"
    )
    for n in sizes:
        path = _recording(n, folder)
        old, new = _measured(path, before), _measured(path, after)
        print(
            f"{n:>6} {old[0]:>13.2f} {new[0]:>7.2f} {old[0] / new[0]:>5.1f}  {old[5]:>12.2f} {new[5]:>7.2f}"
            f" {old[5] / new[5]:>5.1f}  {old[1]:>15.0f} {new[1]:>6.0f} {old[1] / new[1]:>5.1f}"
            f"  {old[3]:>14} {new[3]:>7}",
            flush=True,
        )
        if not keep:
            path.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[])
    parser.add_argument("--src", default=str(REPO), help="import bgpdoctor from this directory")
    parser.add_argument("--keep", help="write the recordings into this folder and keep them")
    parser.add_argument("--profile", type=int, help="cProfile one replay of this many nodes")
    parser.add_argument("--pairs", action="store_true", help="pod paths and replay, old pair rule vs now")
    parser.add_argument(
        "--before",
        help="also replay each recording with bgpdoctor from this directory, right before this tree",
    )
    parser.add_argument("--before-max", type=int, default=200, help="largest size replayed, old rule")
    parser.add_argument("--after-max", type=int, default=500, help="largest size replayed, new rule")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="bgpdoctor-offline-"))
    folder.mkdir(parents=True, exist_ok=True)
    if args.pairs:
        sizes = args.sizes or [100, 200, 1000, 2000, 5000]
        pairs_table(sizes, args.before_max, args.after_max, folder, bool(args.keep))
        if not args.keep:
            folder.rmdir()
        return 0
    if args.profile:
        path = folder / f"nodes-{args.profile}.json"
        path.write_text(json.dumps(_as_recorded(synthetic_recording(args.profile))), encoding="utf-8")
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
    if args.before:
        before_after_table(
            args.sizes or [200, 500, 1000, 2000, 5000], args.before, args.src, folder, bool(args.keep)
        )
        return 0
    print(f"bgpdoctor from {args.src}")
    print(
        f"{'nodes':>6} {'hosts':>6} {'file MiB':>8} {'wall s':>7} {'peak MiB':>9} {'exit':>4} {'results':>8} "
        f"{'x wall':>7} {'x mem':>6}"
    )
    previous: tuple[int, float, float] | None = None
    for n in args.sizes or [100, 500, 1000]:
        rec = synthetic_recording(n)
        probed, _seconds = _probed(rec)
        _decode(rec)
        _record_pairs(rec, probed)
        _encode(rec)
        path = folder / f"nodes-{n}.json"
        path.write_text(json.dumps(_as_recorded(rec)), encoding="utf-8")
        wall, rss, code, results, _unknown = _measure(path, args.src)
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
