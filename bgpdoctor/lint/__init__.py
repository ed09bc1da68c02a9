"""`bgpdoctor lint`: offline configuration linter (Kubernetes manifests, BIRD 2/1.6, OpenWrt UCI).

Public API: lint_paths(paths) -> LintResult; LintFinding; InputProblem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bgpdoctor.lint.model import ROOT_CAUSES, InputProblem, LintFinding

__all__ = ["ROOT_CAUSES", "InputProblem", "LintFinding", "LintResult", "lint_paths"]


@dataclass
class LintResult:
    """Example: LintResult(findings=[LintFinding(...)], problems=[InputProblem(...)],
    files={"bird.conf": "bird2"}, usable=True); exit_code -> 1"""

    findings: list[LintFinding] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    usable: bool = False

    @property
    def exit_code(self) -> int:
        if not self.usable:
            return 2
        return 1 if self.findings else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "problems": [p.to_dict() for p in self.problems],
            "files": dict(self.files),
            "exit_code": self.exit_code,
        }


def lint_paths(paths: list[str]) -> LintResult:
    """Read every path (directories recursively) and run all checks.

    Example: lint_paths(["tests/fixtures/lint/seed000/broken"]).findings[0]
    -> LintFinding(root_cause="auto-direct-routes-across-l3", severity="error", file=".../values.yaml", ...)
    """
    from bgpdoctor.lint.checks import run_checks
    from bgpdoctor.lint.loader import load_paths

    inp = load_paths(paths)
    findings, problems = run_checks(inp)
    return LintResult(findings, inp.problems + problems, inp.files, inp.usable())
