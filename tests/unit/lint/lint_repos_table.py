"""Print the findings table for the repository-shaped lint fixtures (issue 9).

Usage: python3 tests/unit/lint/lint_repos_table.py [--json]
A finding is "true" when it is listed in TRUE; every other error finding, and every input error
(each of these configs is accepted by its daemon), is a false error. Run with PYTHONPATH
pointing at another checkout (e.g. `git archive HEAD bgpdoctor`) to measure that one.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPOS = Path(__file__).resolve().parents[2] / "fixtures" / "lint" / "repos"
ROOTS = {"dn42-absolute": ["/etc/bird=" + str(REPOS / "dn42-absolute" / "router1")]}
TRUE = {
    "lb-pool-node-addrs": {
        ("lb-pool-in-node-subnet", "kubernetes/pools.yaml", 7),
        ("lb-pool-in-node-subnet", "kubernetes/pools.yaml", 15),
        ("lb-pool-in-node-subnet", "kubernetes/pools.yaml", 24),
        ("lb-pool-in-node-subnet", "kubernetes/pools.yaml", 32),
    },
}


def measure(name: str) -> dict[str, int]:
    from bgpdoctor.lint import lint_paths

    args: dict[str, object] = {}
    if name in ROOTS:
        try:
            from bgpdoctor.lint.loader import parse_roots

            args["roots"] = parse_roots(ROOTS[name])
        except ImportError:
            pass
    res = lint_paths([str(REPOS / name)], **args)  # type: ignore[arg-type]
    true = TRUE.get(name, set())
    got = [(f.root_cause, os.path.relpath(f.file, REPOS / name), f.line, f.severity) for f in res.findings]
    input_errors = sum(p.kind == "error" for p in res.problems)
    return {
        "findings": len(res.findings),
        "errors": sum(g[3] == "error" for g in got),
        "false_errors": sum(g[3] == "error" and g[:3] not in true for g in got) + input_errors,
        "true_found": len(true & {g[:3] for g in got}),
        "true_total": len(true),
        "input_errors": input_errors,
        "notes": sum(p.kind == "note" for p in res.problems),
    }


def main() -> None:
    rows = {d.name: measure(d.name) for d in sorted(REPOS.iterdir()) if d.is_dir()}
    if "--json" in sys.argv:
        print(json.dumps(rows))
        return
    for name, r in rows.items():
        print(name, r)


if __name__ == "__main__":
    main()
