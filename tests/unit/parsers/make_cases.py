"""Write tests/unit/parsers/cases/<parser>.<function>/<case>.json from the captured fixtures.

Run ONLY after checking the parser output by eye for the fixtures you (re)captured:
``python3 tests/unit/parsers/make_cases.py [--only PATTERN]``. Existing cases are overwritten.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from pathlib import Path

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
    ("nft.parse_ruleset", "outputs/nft/*_ruleset.txt"),
    ("pcap.syn_sources", "pcap/*.pcap"),
]


def command_for(path: Path) -> str:
    commands = json.loads((path.parent / "commands.json").read_text())
    return str(commands[path.stem])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="*", help="fnmatch pattern on <parser.function>/<case>")
    args = ap.parse_args()
    for target, pattern in SELECT:
        for path in sorted((REPO / "captures").glob(pattern)):
            name = f"{target}/{path.stem}"
            if not fnmatch.fnmatch(name, args.only):
                continue
            rel = str(path.relative_to(REPO))
            case = {"command": command_for(path), "output_file": rel, "expected": None}
            case["expected"] = run_case(target, rel)
            out = CASES / target / f"{path.stem}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(case, indent=1, sort_keys=False) + "\n")
            print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
