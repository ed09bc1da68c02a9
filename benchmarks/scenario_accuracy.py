"""Benchmark: how often bgpdoctor is right on generated scenarios that are not the seed lab.

Usage (root):
    python3 benchmarks/scenario_accuracy.py --seeds 30 [--start 0] [--faults-per-seed 2 | --all-faults]
        [--no-pair] [--rename] [--frr] [--json out.json] [--reports DIR] [--record DIR]
    python3 benchmarks/scenario_accuracy.py --from-json out.json   # the table of a saved run again

For each seed: build the scenario (bgpdoctor/lab/scenario.py), run bgpdoctor on it healthy, with
each chosen fault, and with two independent faults; tear it down. `--rename` runs every seed a
second time with every name, address, ASN and interface name redrawn and compares the root causes.
Prints the accuracy table and every miss with its seed, its fault and what bgpdoctor said.
Progress goes to stderr. `--frr` takes only seeds with an FRR router (the first N from --start)
and puts each fault that can go on a router on an FRR one. BGPDOCTOR_SCENARIO_PREFIX=bdf- keeps
the namespaces apart from the CI sample's "bds-". Seeds from 1000 on (`--start 1000`) also draw the
later shapes: sites with two subnets, site routers reflecting for their nodes over iBGP (and the
ibgp-no-route-reflection fault), GoBGP nodes announcing LoadBalancer VIPs (docs/scenarios.md).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bgpdoctor.lab.scenario import FAULTS
from bgpdoctor.lab.scenario_eval import Outcome, SeedRun, run_seed

RENAME_OFFSET = 100000  # names seed of the renamed copy of seed S: S + 100000


def _pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.0f}%)" if d else "0/0"


def table(runs: list[SeedRun], renamed: dict[int, SeedRun]) -> str:
    outcomes = [o for r in runs for o in r.outcomes]
    healthy = [o for o in outcomes if not o.faults]
    single = [o for o in outcomes if len(o.faults) == 1]
    double = [o for o in outcomes if len(o.faults) == 2]
    named = sum(o.ok and o.culprit_named for o in single)
    tidy = sum(o.ok and not o.unexplained for o in single)  # every other failure grouped under it
    broken = sum(1 for r in runs if r.error)
    lines = [
        f"scenarios (seeds)                 {len(runs)}  ({broken} could not be built or healed)",
        f"healthy: clean (exit 0)           {_pct(sum(o.ok for o in healthy), len(healthy))}",
        f"healthy: false findings           {sum(not o.ok for o in healthy)}",
        f"one fault: top-1 correct          {_pct(sum(o.ok for o in single), len(single))}",
        f"one fault: culprit host named     {_pct(named, len(single))}",
        f"one fault: no unexplained failure {_pct(tidy, len(single))}",
        f"two faults: both found            {_pct(sum(o.ok for o in double), len(double))}",
    ]
    if renamed:
        same = culprits = total = 0
        for seed, other in renamed.items():
            base = next(r for r in runs if r.seed == seed)
            for a, b in zip(base.outcomes, other.outcomes, strict=False):
                total += 1
                same += a.root_causes == b.root_causes and a.exit_code == b.exit_code
                culprits += base.keyed(a) == other.keyed(b)
        lines.append(f"renamed: same root causes         {_pct(same, total)}")
        lines.append(f"renamed: same culprit hosts       {_pct(culprits, total)}")
    lines += ["", f"{'fault':28} {'runs':>5} {'top-1':>6} {'culprit':>8}"]
    for fault in FAULTS:
        mine = [o for o in single if o.faults == (fault,)]
        if mine:
            ok = sum(o.ok for o in mine)
            named = sum(o.ok and o.culprit_named for o in mine)
            lines.append(f"{fault:28} {len(mine):5} {ok:6} {named:8}")
    return "\n".join(lines)


def misses(runs: list[SeedRun], renamed: dict[int, SeedRun]) -> list[str]:
    out = []
    for r in runs:
        if r.error:
            out.append(f"seed {r.seed}: scenario failed: {r.error}")
        for o in r.outcomes:
            if not o.ok:
                out.append(f"{o.label()}: {o.verdict}")
            elif o.faults and not o.culprit_named:
                unnamed = [
                    f"{f} not on {c}"
                    for f, c in zip(o.faults, o.culprits, strict=True)
                    if not any(cause == f and c in hosts for cause, hosts in o.diagnoses)
                ]
                out.append(f"{o.label()}: right cause, but {'; '.join(unnamed)} ({o.said()})")
    for seed, other in renamed.items():
        base = next(r for r in runs if r.seed == seed)
        for a, b in zip(base.outcomes, other.outcomes, strict=False):
            if a.root_causes != b.root_causes or a.exit_code != b.exit_code:
                out.append(f"{a.label()}: renamed copy differs: {a.said()} vs {b.said()}")
            elif base.keyed(a) != other.keyed(b):
                keyed = f"{base.keyed(a)} vs {other.keyed(b)}"
                out.append(f"{a.label()}: renamed copy names other hosts: {keyed}")
    return out


def timings(runs: list[SeedRun]) -> str:
    ups = [r.up_seconds for r in runs if r.up_seconds]
    per_seed = [r.total_seconds for r in runs]
    case = [o.setup_seconds + o.seconds for r in runs for o in r.outcomes]
    run = [o.seconds for r in runs for o in r.outcomes]
    if not ups or not case:
        return "no timings"
    return (
        f"up (build + converge) mean {statistics.mean(ups):.1f}s, max {max(ups):.1f}s; "
        f"per scenario (up, all cases, heals, down) mean {statistics.mean(per_seed):.1f}s; "
        f"per case (break + wait + bgpdoctor run) mean {statistics.mean(case):.1f}s; "
        f"bgpdoctor run mean {statistics.mean(run):.1f}s, max {max(run):.1f}s"
    )


def _load(path: Path) -> tuple[list[SeedRun], dict[int, SeedRun]]:
    """The runs a previous `--json` saved, to print their table again."""

    def seed_run(d: dict[str, Any]) -> SeedRun:
        outcomes = []
        for o in d.pop("outcomes"):
            o["faults"], o["culprits"] = tuple(o["faults"]), tuple(o["culprits"])
            o["diagnoses"] = [(c, h) for c, h in o["diagnoses"]]
            outcomes.append(Outcome(**o))
        return SeedRun(**d, outcomes=outcomes)

    data = json.loads(path.read_text())
    return [seed_run(r) for r in data["runs"]], {int(k): seed_run(v) for k, v in data["renamed"].items()}


def report(runs: list[SeedRun], renamed: dict[int, SeedRun], wall: float) -> int:
    print(table(runs, renamed))
    found = misses(runs, renamed)
    print(f"\nmisses ({len(found)}):")
    print("\n".join(f"- {m}" for m in found) if found else "- none")
    print(f"\n{timings(runs)}; wall {wall:.0f}s for {len(runs) + len(renamed)} scenario runs")
    return 0 if not found else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10, help="how many seeds")
    ap.add_argument("--start", type=int, default=0, help="first seed")
    ap.add_argument("--faults-per-seed", type=int, default=2)
    ap.add_argument("--all-faults", action="store_true", help="every applicable fault on every seed")
    ap.add_argument("--fault", action="append", default=[], help="only this fault (repeatable)")
    ap.add_argument("--no-pair", action="store_true", help="skip the two-fault case")
    ap.add_argument("--rename", action="store_true", help="also run each seed with names redrawn")
    ap.add_argument("--frr", action="store_true", help="only seeds with FRR routers, faults on FRR")
    ap.add_argument("--keep-files", action="store_true", help="keep run directories (logs, configs)")
    ap.add_argument("--json", type=Path, help="write every outcome here")
    ap.add_argument("--reports", type=Path, help="save every bgpdoctor JSON report in this folder")
    ap.add_argument("--record", type=Path, help="save every run's recording (for `bgpdoctor replay`) here")
    ap.add_argument("--from-json", type=Path, help="print the table of a saved --json run, run nothing")
    args = ap.parse_args()
    if args.from_json:
        return report(*_load(args.from_json), 0.0)
    from bgpdoctor.lab.scenario import applicable_faults, faults_for_seed, generate

    runs: list[SeedRun] = []
    renamed: dict[int, SeedRun] = {}
    t0 = time.monotonic()
    if args.frr:
        with_frr = (
            s for s in itertools.count(args.start) if any(h.is_frr for h in generate(s).hosts.values())
        )
        seeds = list(itertools.islice(with_frr, args.seeds))
    else:
        seeds = list(range(args.start, args.start + args.seeds))
    for seed in seeds:
        sc = generate(seed)
        if args.fault:
            faults = [f for f in args.fault if f in applicable_faults(sc)]
        elif args.all_faults:
            faults = applicable_faults(sc)
        else:
            faults = faults_for_seed(sc, args.faults_per_seed)
        print(f"[scenario] {sc.describe()}; faults {', '.join(faults) or '-'}", file=sys.stderr, flush=True)
        todo = [(seed, None)] + ([(seed, seed + RENAME_OFFSET)] if args.rename else [])
        for s, names in todo:
            r = run_seed(
                s,
                faults,
                pair=not args.no_pair,
                names_seed=names,
                keep_files=args.keep_files,
                on_frr=args.frr,
                report_dir=args.reports,
                record_dir=args.record,
            )
            if names is None:
                runs.append(r)
            else:
                renamed[seed] = r
            for o in r.outcomes:
                mark = "ok  " if o.ok else "MISS"
                print(f"[scenario] {mark} {o.label()}: {o.said()}", file=sys.stderr, flush=True)
            if r.error:
                print(f"[scenario] FAILED seed {s}: {r.error}", file=sys.stderr, flush=True)
    if args.json:
        data = {"runs": [asdict(r) for r in runs], "renamed": {k: asdict(v) for k, v in renamed.items()}}
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return report(runs, renamed, time.monotonic() - t0)


if __name__ == "__main__":
    sys.exit(main())
