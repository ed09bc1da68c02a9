"""Write tests/unit/parsers/cases/<parser>.<function>/<case>.json from the captured fixtures.

Run ONLY after checking the parser output by eye for the fixtures you (re)captured:
``python3 tests/unit/parsers/make_cases.py [--only PATTERN] [--accept]``. New cases are written; an
existing case whose expectation would change is NOT overwritten: its diff is printed and the run
exits 1, unless ``--accept`` is given (after checking the diff against the raw output, so a parser
change cannot silently re-freeze its own expectations). test_independent_readings.py checks cases
against readings that do not use the parser.
"""

from __future__ import annotations

import argparse
import difflib
import fnmatch
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_parser_cases import run_case  # noqa: E402

CASES = Path(__file__).parent / "cases"

# (parser.function, glob under captures/) -> one case per matching file
SELECT: list[tuple[str, str]] = [
    ("bird.parse_show_protocols", "outputs/bird/*show_protocols.txt"),
    ("bird.parse_show_protocols", "outputs/bird/*show_protocols_v.txt"),
    ("bird.parse_show_protocols_all", "outputs/bird/*show_protocols_all*.txt"),
    ("bird.parse_show_route", "outputs/bird/*show_route*.txt"),
    ("bird.parse_show_status", "outputs/bird/*show_status*.txt"),
    ("gobgp.parse_neighbors", "outputs/gobgp/*_neighbor.txt"),
    ("gobgp.parse_neighbors", "outputs/gobgp/*_neighbor_one.txt"),
    ("gobgp.parse_global", "outputs/gobgp/*_global.txt"),
    ("gobgp.parse_rib", "outputs/gobgp/*_rib.txt"),
    ("ping.parse_ping", "outputs/ping/*.txt"),
    ("ss.parse_ss", "outputs/ss/*.txt"),
    ("sysctl.parse_sysctl", "outputs/sysctl/*.txt"),
    ("iproute.parse_routes", "outputs/ip/*_route.txt"),
    ("iproute.parse_routes", "outputs/ip/*_route_table_all.txt"),
    ("iproute.parse_addresses", "outputs/ip/*_addr.txt"),
    ("iproute.parse_route_get", "outputs/ip/*_route_get_*.txt"),
    ("iprule.parse_rules", "outputs/ip/*_rule.txt"),
    ("iprule.parse_rule_tables", "outputs/ip/*_rule_tables.txt"),
    ("nft.parse_ruleset", "outputs/nft/*_ruleset.txt"),
    ("pcap.syn_sources", "pcap/*.pcap"),
    ("capabilities.parse_bird_protocols", "outputs/capabilities/*_bird_protocols_all.txt"),
    ("capabilities.parse_bird_gr_recovery", "outputs/capabilities/*_bird_status.txt"),
    ("capabilities.parse_frr_neighbors", "outputs/capabilities/*_frr_neighbors.txt"),
    ("capabilities.parse_gobgp_neighbors", "outputs/capabilities/*_gobgp_neighbor.txt"),
]


def command_for(path: Path) -> str | None:
    commands = json.loads((path.parent / "commands.json").read_text())
    command = commands.get(path.stem)
    return None if command is None else str(command)


def _render(case: dict[str, Any]) -> str:
    return json.dumps(case, indent=1, sort_keys=False) + "\n"


def _diff(old: str, new: str, name: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"{name} (case)", f"{name} (parser now)"
    )
    return "".join(lines)


def write_cases(only: str, accept: bool) -> list[str]:
    """Write new and unchanged-or-accepted cases; return the names of changed cases left alone."""
    refused: list[str] = []
    for target, pattern in SELECT:
        for path in sorted((REPO / "captures").glob(pattern)):
            name = f"{target}/{path.stem}"
            if not fnmatch.fnmatch(name, only):
                continue
            rel = str(path.relative_to(REPO))
            command = command_for(path)
            if command is None:  # a case must name the exact command that produced its output
                print(f"skipped {rel}: no command recorded in {path.parent.name}/commands.json")
                continue
            case: dict[str, Any] = {"command": command, "output_file": rel, "expected": None}
            case["expected"] = run_case(target, rel)
            out = CASES / target / f"{path.stem}.json"
            new_text = _render(case)
            if out.exists():
                old_text = out.read_text()
                if json.loads(old_text) == case:
                    continue
                if not accept:
                    print(_diff(old_text, new_text, name), end="")
                    refused.append(name)
                    continue
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(new_text)
            print(f"wrote {name}")
    return refused


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="*", help="fnmatch pattern on <parser.function>/<case>")
    ap.add_argument(
        "--accept", action="store_true", help="overwrite existing cases whose expectation changed"
    )
    args = ap.parse_args()
    refused = write_cases(args.only, args.accept)
    if refused:
        print(
            f"{len(refused)} existing case(s) would change and were left alone: {', '.join(refused)}\n"
            "check each diff against the raw output, then re-run with --accept",
            file=sys.stderr,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
