"""Benchmark: wall time of `bgpdoctor run` on the healthy lab and on each fault, MTU probes sent.

Usage (root): python3 benchmarks/run_times.py [--default-timers] [FAULT ...]
       python3 benchmarks/run_times.py --node-scope [--rounds N] [FAULT ...]
       python3 benchmarks/run_times.py --slowest-host [--rounds N] [--src DIR]
Prints one line per case; brings its own lab up (prefix bdb-, or $BGPDOCTOR_LAB_PREFIX with
$BGPDOCTOR_LAB_MGMT_NET when both are set) and down again.
--node-scope compares, per case (default: healthy and mtu-blackhole), the whole run, `--node` with
the scope and pod pairs of before issue 12 (every router, one node of every site, every ordered
pair; patched into this tree) and `--node` now: hosts visited, wall time (median of --rounds
interleaved rounds, default 3) and the top diagnosis.
--slowest-host compares, on the healthy lab, the whole run with each host run alone (an inventory of
that host only, its peers kept by address): median wall times of --rounds interleaved rounds, the
ratio whole / slowest host (goal: 1.3), and where the whole run's time went (progress lines stamped:
start-up, collection, probes (pings, then MTU sweeps), judging and the report; since a host's own
probes start once it is collected, "collect" holds those, "probes" what is left after the last
host), and the CPU the lab's hosts spent on the whole run (their sshd and everything it ran:
collection and probes), per host, and the commands they started (SSH execs: each starts the user's
shell, which on this machine's lab hosts reads ~/.bashrc, ~110 ms of CPU). A second table runs each
host's collection batch in its namespace (no SSH) against the same commands run plainly, one after
the other in one `sh`: host CPU per host, median of the rounds (goal: batch <= 2x plain). --src runs
another tree's bgpdoctor as the "before" rows in the same rounds. With $BGPDOCTOR_LAB_DIR (and the
prefix and net) the lab is built there instead of in a temporary directory.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

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
    own_lab = os.environ.get("BGPDOCTOR_LAB_PREFIX") and os.environ.get("BGPDOCTOR_LAB_MGMT_NET")
    given_dir = os.environ.get("BGPDOCTOR_LAB_DIR") if own_lab else None
    run_dir = given_dir or tempfile.mkdtemp(prefix="bgpdoctor-bench-")
    env = {
        **os.environ,
        "BGPDOCTOR_LAB_PREFIX": os.environ["BGPDOCTOR_LAB_PREFIX"] if own_lab else "bdb-",
        "BGPDOCTOR_LAB_MGMT_NET": os.environ["BGPDOCTOR_LAB_MGMT_NET"] if own_lab else "172.31.249.0/24",
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
    if "--slowest-host" in args:
        rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 3
        sources = {"now": str(Path(__file__).resolve().parents[1])}
        if "--src" in args:
            sources = {"before": args[args.index("--src") + 1], **sources}
        try:
            up = cli("lab", "up")
            if up.returncode != 0:
                print(f"lab up failed: {up.stderr.strip().splitlines()[-1:]}")
                return 1
            slowest_host_table(env, run_dir, sources, rounds)
            host_cpu_table(env["BGPDOCTOR_LAB_PREFIX"], run_dir, sources, rounds)
        finally:
            cli("lab", "down")
        return 0
    if "--node-scope" in args:
        rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 3
        cases = [a for a in faults if not a.isdigit()] or ["healthy", "mtu-blackhole"]
        try:
            node_scope_table(cli, env, run_dir, cases, rounds)
        finally:
            cli("lab", "down")
        return 0
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


# the --node scope and pod pairs before issue 12, patched into this tree for the "before" column
OLD_NODE_SCOPE = """
import sys
from bgpdoctor import inventory
from bgpdoctor.engine import active, run

def old_scope(inv, nodes):
    if not nodes:
        return list(inv.hosts)
    wanted = set(nodes)
    for n in nodes:
        wanted.update(p.host for p in inv.hosts[n].peers if p.host in inv.hosts)
        wanted.update(o for o, h in inv.hosts.items() if any(p.host == n for p in h.peers))
    wanted.update(n for n, h in inv.hosts.items() if h.role in ("router", "vantage"))
    focus_sites = {inv.hosts[n].site for n in nodes}
    far = {}
    for n, h in inv.hosts.items():
        if h.role == "node" and h.site not in focus_sites:
            far.setdefault(h.site, n)
    wanted.update(far.values())
    if inv.vantage.metrics_server is not None:
        wanted.add(inv.vantage.metrics_server)
    return [n for n in inv.hosts if n in wanted]

def all_pairs(world, scope, focus):
    nodes = [n for n in scope if world.inv.hosts[n].role == "node" and world.inv.hosts[n].pod_probe_ip]
    domain = active.routing_domains(world.inv)
    return [
        active._node_pair(world, a, b) for a in nodes for b in nodes
        if a != b and not (focus and a not in focus and b not in focus) and domain[a] == domain[b]
    ]

inventory.scope_hosts = old_scope
run.node_pairs = all_pairs
run.MAX_SCOPE_ROUNDS = 0
from bgpdoctor.cli import main
sys.argv = ["bgpdoctor", *sys.argv[1:]]
main()
"""


def node_scope_table(
    cli: Callable[..., subprocess.CompletedProcess[str]],
    env: dict[str, str],
    run_dir: str,
    cases: list[str],
    rounds: int,
) -> None:
    """Whole run, `--node` before and `--node` now on the same lab, interleaved."""
    print(f"--node yuuko-k8s against the whole run, median of {rounds} interleaved rounds")
    print(f"{'case':16} {'variant':14} {'hosts':>5} {'wall s':>7} {'x whole':>7}  exit  top diagnosis")
    inventory = f"{run_dir}/inventory.yaml"
    variants = {
        "whole": ["-m", "bgpdoctor", "run", "-i", inventory],
        "--node before": ["-c", OLD_NODE_SCOPE, "run", "-i", inventory, "--node", "yuuko-k8s"],
        "--node now": ["-m", "bgpdoctor", "run", "-i", inventory, "--node", "yuuko-k8s"],
    }
    for case in cases:
        up = cli("lab", "up", *([] if case == "healthy" else ["--fault", case]))
        if up.returncode != 0:
            print(f"{case:16} lab up failed: {up.stderr.strip().splitlines()[-1:]}")
            continue
        walls: dict[str, list[float]] = {v: [] for v in variants}
        seen: dict[str, tuple[int, int, str]] = {}
        for _ in range(rounds):
            for name, argv in variants.items():
                t = time.monotonic()
                proc = subprocess.run(
                    [sys.executable, *argv, "-o", "json"],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=False,
                )
                walls[name].append(time.monotonic() - t)
                report = json.loads(proc.stdout) if proc.stdout.strip() else {"scope": [], "diagnoses": []}
                top = report["diagnoses"][0]["root_cause"] if report["diagnoses"] else "-"
                seen[name] = (len(report["scope"]), proc.returncode, top)
        whole = statistics.median(walls["whole"])
        for name in variants:
            hosts, code, top = seen[name]
            wall = statistics.median(walls[name])
            print(
                f"{case:16} {name:14} {hosts:>5} {wall:>7.2f} {wall / whole:>7.2f}  {code:>4}  {top}",
                flush=True,
            )


def _one_host_inventory(inventory: dict[str, object], name: str) -> dict[str, object]:
    """The lab's inventory with one host: its peers stay, by address (the others are not there)."""
    import copy

    one = copy.deepcopy(inventory)
    hosts = one["hosts"]
    assert isinstance(hosts, dict)
    one["hosts"] = {name: hosts[name]}
    for peer in hosts[name].get("peers", []):
        peer.pop("host", None)
    vantage = one.get("vantage")
    if isinstance(vantage, dict) and vantage.get("metrics_server") != name:
        one.pop("vantage")
    return one


def _stamped_run(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, dict[str, float]]:
    """Wall time of one run, and the seconds from its start at which each phase began."""
    t = time.monotonic()
    proc = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    marks: dict[str, float] = {"start": 0.0}
    assert proc.stderr is not None
    for line in proc.stderr:
        for key, words in (
            ("collect", "collecting facts"),
            ("active", "running active probes"),
            ("sweep", "path MTU sweep"),
            ("judge", "recording written"),
        ):
            if words in line and key not in marks:
                marks[key] = time.monotonic() - t
    proc.wait()
    return time.monotonic() - t, marks


def slowest_host_table(env: dict[str, str], run_dir: str, sources: dict[str, str], rounds: int) -> None:
    import yaml

    inventory = f"{run_dir}/inventory.yaml"
    with open(inventory) as f:
        lab = yaml.safe_load(f)
    singles = {}
    for name in lab["hosts"]:
        singles[name] = f"{run_dir}/one-{name}.yaml"
        with open(singles[name], "w") as f:
            yaml.safe_dump(_one_host_inventory(lab, name), f)
    walls: dict[tuple[str, str], list[float]] = {}
    phases: dict[str, list[dict[str, float]]] = {s: [] for s in sources}
    host_cpu: dict[str, list[float]] = {s: [] for s in sources}
    host_execs: dict[str, list[float]] = {s: [] for s in sources}
    for _ in range(rounds):
        for source, tree in sources.items():
            run_env = {**env, "PYTHONPATH": tree}
            base = [sys.executable, "-m", "bgpdoctor", "run", "-o", "json", "-i"]
            record = ["--record", f"{run_dir}/whole.json"]  # its progress line: probing is over
            cpu_before = _lab_sshd_cpu(run_dir, list(lab["hosts"]))
            execs_before = _lab_sshd_execs(run_dir, list(lab["hosts"]))
            wall, marks = _stamped_run([*base, inventory, *record], run_env, tree)
            time.sleep(0.3)  # let each sshd reap its sessions, so their CPU is counted
            host_cpu[source].append(
                (_lab_sshd_cpu(run_dir, list(lab["hosts"])) - cpu_before) / len(lab["hosts"])
            )
            host_execs[source].append(
                (_lab_sshd_execs(run_dir, list(lab["hosts"])) - execs_before) / len(lab["hosts"])
            )
            walls.setdefault((source, "whole"), []).append(wall)
            phases[source].append({**marks, "end": wall})
            for name, path in singles.items():
                wall, _marks = _stamped_run([*base, path, "-q"], run_env, tree)
                walls.setdefault((source, name), []).append(wall)
    print(f"whole healthy lab vs each host alone, median of {rounds} interleaved rounds (wall s)")
    print(
        f"{'tree':8} {'whole':>6} {'slowest host':>22} {'x slowest':>9}  whole: start/collect/probes/judge"
        "  host CPU ms/host  SSH execs/host"
    )
    for source in sources:
        whole = statistics.median(walls[(source, "whole")])
        host, alone = max(
            ((n, statistics.median(walls[(source, n)])) for n in singles), key=lambda item: item[1]
        )
        runs = phases[source]

        def span(a: str, b: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(r.get(b, r["end"]) - r.get(a, r["end"]) for r in runs)

        print(
            f"{source:8} {whole:>6.2f} {host:>15} {alone:>6.2f} {whole / alone:>9.2f}  "
            f"{span('start', 'collect'):.2f} / {span('collect', 'active'):.2f} / "
            f"{span('active', 'judge'):.2f} / {span('judge', 'end'):.2f}"
            f"  {statistics.median(host_cpu[source]) * 1000:16.1f}"
            f"  {statistics.median(host_execs[source]):14.1f}",
            flush=True,
        )


def _lab_sshd_execs(run_dir: str, hosts: list[str]) -> int:
    """Commands the lab hosts' sshd daemons started so far (each exec starts the user's shell)."""
    total = 0
    for name in hosts:
        try:
            log = Path(run_dir, name, "sshd.log").read_text(encoding="utf-8")
            total += log.count("Starting session: command")
        except OSError:
            continue
    return total


def _lab_sshd_cpu(run_dir: str, hosts: list[str]) -> float:
    """CPU seconds the lab hosts' sshd daemons used so far, with every session and command they
    reaped (utime, stime, cutime, cstime)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for name in hosts:
        try:
            pid = int(Path(run_dir, name, "sshd.pid").read_text(encoding="utf-8"))
            fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        except (OSError, ValueError):
            continue
        total += sum(int(f) for f in fields[11:15]) / tick
    return total


# Run in each tree: every lab host's phase-1 commands, framed as that tree's collection sends them
# and plainly (the current tree's commands, one after the other in one sh), inside the host's
# namespace; prints "host batch_ms plain_ms" (children's CPU, less that of an empty `sh -c true`).
HOST_CPU_PROBE = """
import os, statistics, subprocess, sys
tree, inventory, prefix, plain_file = sys.argv[1:5]
sys.path.insert(0, tree)
from bgpdoctor.engine import collect
from bgpdoctor.inventory import load_inventory

def cpu_ms(script):
    proc = subprocess.Popen(["ip", "netns", "exec", ns, "sh", "-c", script],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    proc.stdout.read()
    usage = os.wait4(proc.pid, 0)[2]
    return (usage.ru_utime + usage.ru_stime) * 1000

plain = dict(line.rstrip("\\n").split("\\t", 1) for line in open(plain_file))
for name, host in load_inventory(inventory).hosts.items():
    ns = prefix + name
    commands = collect.fact_commands(host)
    commands = collect.batch_commands(commands) if hasattr(collect, "batch_commands") else commands
    batch = collect.batch_script(commands, "@@bgpdoctor-0123456789ab", 10)
    empty = cpu_ms("true")
    print(name, cpu_ms(batch) - empty, cpu_ms(plain[name]) - empty, flush=True)
"""


def host_cpu_table(prefix: str, run_dir: str, sources: dict[str, str], rounds: int) -> None:
    """Each tree's collection batch against the plain commands, on every host's namespace."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bgpdoctor.engine.collect import batch_commands, fact_commands
    from bgpdoctor.inventory import load_inventory

    inventory = f"{run_dir}/inventory.yaml"
    plain_file = f"{run_dir}/plain-commands.tsv"
    with open(plain_file, "w", encoding="utf-8") as f:
        for name, host in load_inventory(inventory).hosts.items():
            commands = batch_commands(fact_commands(host)).values()
            script = "; ".join(f"( {c} )" for c in commands).replace("\n", " ")
            f.write(f"{name}\t{script}\n")
    batch: dict[str, list[float]] = {s: [] for s in sources}
    plain: dict[str, list[float]] = {s: [] for s in sources}
    for _ in range(rounds):
        for source, tree in sources.items():
            argv = [sys.executable, "-c", HOST_CPU_PROBE, tree, inventory, prefix, plain_file]
            lines = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.splitlines()
            batch[source].append(statistics.mean(float(x.split()[1]) for x in lines))
            plain[source].append(statistics.mean(float(x.split()[2]) for x in lines))
    print(f"collection on the host, CPU ms per host (mean of the hosts, median of {rounds} rounds)")
    print(f"{'tree':8} {'batch':>7} {'plain':>7} {'x plain':>7}")
    for source in sources:
        b, p = statistics.median(batch[source]), statistics.median(plain[source])
        print(f"{source:8} {b:7.1f} {p:7.1f} {b / p:7.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
