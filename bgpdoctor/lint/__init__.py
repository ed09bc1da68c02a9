"""`bgpdoctor lint`: offline configuration linter (Kubernetes manifests, BIRD 2/1.6, OpenWrt UCI).

Public API: lint_paths(paths) -> LintResult; LintFinding; InputProblem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bgpdoctor.lint.model import InputProblem, LintFinding, root_causes

__all__ = ["InputProblem", "LintFinding", "LintResult", "lint_paths", "root_causes"]


@dataclass
class LintResult:
    """Example: LintResult(findings=[LintFinding(...)], problems=[InputProblem(...)],
    files={"bird.conf": "bird2"}, usable=True, sessions_checked=2,
    unchecked={"one end missing": 1}); exit_code -> 1

    Exit codes: 1 findings; 2 a file could not be read or parsed (and no findings); 3 no BGP
    session could be checked (and no file error); 0 sessions checked, nothing found.
    """

    findings: list[LintFinding] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    usable: bool = False
    sessions_checked: int = 0
    unchecked: dict[str, int] = field(default_factory=dict)  # reason -> sessions not checked
    skipped: dict[str, str] = field(default_factory=dict)  # path -> why it was not linted
    unparsed: list[str] = field(default_factory=list)  # config files that could not be parsed

    @property
    def exit_code(self) -> int:
        if self.findings:
            return 1
        if any(p.kind == "error" for p in self.problems):
            return 2
        return 0 if self.sessions_checked else 3

    def summary(self) -> dict[str, Any]:
        """Example: {"files_read": 6, "skipped": {"not a config": 2}, "sessions_checked": 2,
        "sessions_not_checked": {"one end missing": 1}, "files_unparsed": 0, "errors": 1,
        "warnings": 0, "input_problems": 0, "notes": 3}"""
        skipped: dict[str, int] = {}
        for reason in self.skipped.values():
            skipped[reason] = skipped.get(reason, 0) + 1
        errors = sum(f.severity == "error" for f in self.findings)
        return {
            "files_read": len(self.files),
            "skipped": skipped,
            "sessions_checked": self.sessions_checked,
            "sessions_not_checked": dict(self.unchecked),
            "files_unparsed": len(set(self.unparsed)),
            "errors": errors,
            "warnings": len(self.findings) - errors,
            "input_problems": sum(p.kind == "error" for p in self.problems),
            "notes": sum(p.kind == "note" for p in self.problems),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "problems": [p.to_dict() for p in self.problems],
            "files": dict(self.files),
            "summary": self.summary(),
            "exit_code": self.exit_code,
        }


# a fix for one of these platforms is shown only when the finding involves a file of its format
_PLATFORM_FORMATS = {
    "cilium": {"yaml"},
    "calico": {"yaml"},
    "metallb": {"yaml"},
    # lint reads no vendor router's configuration: their fixes belong to live runs only
    "routeros": set(),
    "fortigate": set(),
    "huawei": set(),
}
# the daemons a configuration file of each format is for; "bird" (version unknown) may be either
_FORMAT_DAEMONS = {
    "bird2": ("bird2",),
    "bird1.6": ("bird1",),
    "bird": ("bird2", "bird1"),
    "bird-include": ("bird2", "bird1"),
    "frr": ("frr",),
    "gobgp": ("gobgp",),
}


def _fits(platform: str, formats: set[str], offered: set[str]) -> bool:
    """Whether a fix for `platform` goes into one of a finding's files (of these `formats`), among
    the fixes `offered`: a daemon's fix in the syntax that daemon takes (drivers.takes_fix, as a
    live run decides), anything else in a file of its format.
    Example: _fits("frr", {"bird2"}, {"frr"}) -> False; _fits("nftables", {"bird2"}, set()) -> True;
    _fits("bird2", {"bird1.6"}, {"bird2"}) -> True; _fits("bird2", {"bird1.6"}, {"bird1", "bird2"}) -> False.
    """
    from bgpdoctor.drivers import driver_for, takes_fix

    if driver_for(platform) is None:
        return platform not in _PLATFORM_FORMATS or bool(_PLATFORM_FORMATS[platform] & formats)
    daemons = (driver_for(d) for f in formats for d in _FORMAT_DAEMONS.get(f, ()))
    return any(d is not None and takes_fix(d.fix_syntaxes, platform, offered) for d in daemons)


def lint_paths(
    paths: list[str], roots: dict[str, str] | None = None, extra_playbooks: list[str] | None = None
) -> LintResult:
    """Read every path (directories recursively) and run all checks. roots maps absolute BIRD
    include prefixes to local directories (`--root /etc/bird=DIR`); extra_playbooks are folders of
    playbooks read after the installed ones (one with an installed id replaces it, as in `run`):
    lint's conclusions are their `match` conditions, judged as a live run judges them.

    Messages never carry a secret: every one goes through bgpdoctor.redact.
    Example: lint_paths(["tests/fixtures/lint/seed000/broken"]).findings[0]
    -> LintFinding(root_cause="auto-direct-routes-across-l3", severity="error", file=".../values.yaml", ...)
    """
    from bgpdoctor.drivers import takes_fix
    from bgpdoctor.engine.judge import fix_snippets
    from bgpdoctor.engine.rules import load_playbooks
    from bgpdoctor.lint.checks import FIX_PLATFORMS, run_checks
    from bgpdoctor.lint.loader import load_paths
    from bgpdoctor.redact import redact

    catalogue = load_playbooks(extra_playbooks)
    inp = load_paths(paths, roots)
    findings, problems, network = run_checks(inp, catalogue)
    playbooks = {pb.id: pb for pb in catalogue}
    for finding in findings:
        finding.message = redact(finding.message)
        pb = playbooks[finding.root_cause]
        finding.title = pb.title
        formats = {inp.files.get(f, "") for f in [finding.file, *(o for o, _ in finding.other)]}
        # facts hold names, addresses and numbers, never a secret; the templates' placeholders stay
        rendered = fix_snippets(pb, finding.facts, complete_only=True)
        offered = {snippet.platform for snippet in rendered}
        allowed = finding.facts.get(FIX_PLATFORMS)  # the end whose file the fix goes into
        finding.fixes = [
            snippet.model_dump()
            for snippet in rendered
            if _fits(snippet.platform, formats, offered)
            and (allowed is None or takes_fix(tuple(allowed), snippet.platform, offered))
        ]
    for problem in [*inp.problems, *problems]:
        problem.message = redact(problem.message)
    return LintResult(
        findings, inp.problems + problems, inp.files, inp.usable(), network.sessions_checked,
        dict(network.unchecked), dict(inp.skipped), list(dict.fromkeys(inp.unparsed)),
    )  # fmt: skip
