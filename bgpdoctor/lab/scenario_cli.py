"""Generated scenarios by hand: python3 -m bgpdoctor.lab.scenario_cli COMMAND SEED [...]

    show SEED [--names N]            the scenario, its faults and where each goes (no root needed)
    up SEED [--names N]              build it and wait until healthy; prints the inventory path
    fault SEED FAULT... [--names N]  break the running scenario and wait for the symptoms
    heal SEED [--names N]            back to healthy
    run SEED [--names N]             bgpdoctor run on it (text output, as a user sees it)
    down SEED [--names N]            remove everything up created

Exit 0 on success, 3 with `error: ...` when the scenario could not be built, broken or healed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from bgpdoctor.errors import LabError
from bgpdoctor.lab.scenario import FAULTS, Scenario, applicable_faults, generate, independent_pair, plan_fault


def _show(sc: Scenario) -> str:
    lines = [sc.describe(), f"namespaces: {', '.join(sc.namespaces)}", f"run dir: {sc.run_dir}"]
    for name in applicable_faults(sc):
        p = plan_fault(sc, name)
        assert p is not None
        lines.append(f"fault {name}: on {sc.name(p.target)}, bgpdoctor should name {sc.name(p.culprit)}")
    pair = independent_pair(sc)
    if pair:
        lines.append(f"independent pair: {pair[0].name} + {pair[1].name}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m bgpdoctor.lab.scenario_cli", description=__doc__)
    ap.add_argument("command", choices=("show", "up", "fault", "heal", "run", "down"))
    ap.add_argument("seed", type=int)
    ap.add_argument("faults", nargs="*", metavar="FAULT", help=f"one of: {', '.join(FAULTS)}")
    ap.add_argument("--names", type=int, help="draw names and addresses from this seed instead")
    args = ap.parse_args(argv)
    unknown = [f for f in args.faults if f not in FAULTS]
    if unknown:
        ap.error(f"unknown fault {unknown[0]!r} (known: {', '.join(FAULTS)})")
    sc = generate(args.seed, args.names)
    from bgpdoctor.lab import scenario_net as net

    try:
        if args.command == "show":
            print(_show(sc))
        elif args.command == "up":
            print(f"up in {net.up(sc)}s", file=sys.stderr)
            print(f"inventory: {sc.inventory_path}")
        elif args.command == "fault":
            plans = [plan_fault(sc, f) for f in args.faults]
            if any(p is None for p in plans):
                raise LabError(f"this scenario has no place for {', '.join(args.faults)}")
            ready = [p for p in plans if p is not None]
            net.apply_faults(sc, ready)
            print(f"symptoms after {net.wait_symptoms(sc, ready)}s", file=sys.stderr)
        elif args.command == "heal":
            print(f"healthy after {net.heal(sc)}s", file=sys.stderr)
        elif args.command == "run":
            env = {**os.environ, "PATH": f"{sc.bin_dir}:{os.environ.get('PATH', '')}"}
            cmd = [sys.executable, "-m", "bgpdoctor", "run", "-i", str(sc.inventory_path)]
            return subprocess.run(cmd, env=env, check=False).returncode
        else:
            print("\n".join(net.down(sc)))
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
