"""Golden files: each format rendered from recorded lab runs (the replay path) must stay as reviewed.

After an intended change (a playbook's wording, a new check), look at the diff and rewrite them:
    BGPDOCTOR_UPDATE_GOLDEN=1 python3 -m pytest -q tests/unit/report/test_report_golden.py
The tool version is written as VERSION and the SARIF root as file:///SRCROOT/, so a release or
another checkout does not change them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import pytest
from report_runs import GOLDEN, REPO, replayed

from bgpdoctor import __version__
from bgpdoctor.lint import lint_paths
from bgpdoctor.report.junit import check_families, render_junit
from bgpdoctor.report.markdown import render_markdown
from bgpdoctor.report.prometheus import render_prometheus
from bgpdoctor.report.sarif import catalogue_rules, render_sarif

RUNS = ["healthy", "nat-rewrites-bgp-source", "speaker-down", "combined/ip-forward-disabled+mtu-blackhole"]
UPDATE = os.environ.get("BGPDOCTOR_UPDATE_GOLDEN", "") not in ("", "0")


def _junit(name: str) -> str:
    return render_junit(replayed(name).report, check_families())


def _prometheus(name: str) -> str:
    run = replayed(name)
    return render_prometheus(run.report, run.extras.status)


def _markdown(name: str) -> str:
    run = replayed(name)
    return render_markdown(run.report, run.extras.status, run.extras.sites)


FORMS: dict[str, tuple[str, Callable[[str], str]]] = {
    "junit": ("xml", _junit),
    "prometheus": ("prom", _prometheus),
    "md": ("md", _markdown),
}


def compare(name: str, text: str) -> None:
    text = text.replace(f'"{__version__}"', '"VERSION"').replace(
        f"bgpdoctor {__version__}", "bgpdoctor VERSION"
    )
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run with BGPDOCTOR_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{path} differs (see this file's docstring)"


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("run", RUNS)
def test_run_formats_match_their_golden_files(run: str, form: str) -> None:
    suffix, render = FORMS[form]
    compare(f"{run.replace('/', '__')}.{suffix}", render(run))


@pytest.mark.parametrize("case", ["seed000/broken", "bad", "cases/asn-md5"])
def test_lint_sarif_matches_its_golden_file(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    lint = lint_paths([f"tests/fixtures/lint/{case}"]).to_dict()
    text = render_sarif(lint, catalogue_rules(), REPO).replace(REPO.as_uri() + "/", "file:///SRCROOT/")
    compare(f"lint-{case.replace('/', '__')}.sarif", text + "\n")


def test_docs_examples_are_excerpts_of_the_golden_files() -> None:
    """Each fence in docs/reports.md after `<!-- example: golden/FILE -->` is lines of FILE."""
    docs = (REPO / "docs" / "reports.md").read_text(encoding="utf-8")
    examples = re.findall(r"<!-- example: golden/(\S+) -->\n```\w*\n(.*?)\n```\n", docs, re.S)
    assert len(examples) >= 4
    for name, body in examples:
        assert body in (GOLDEN / name).read_text(encoding="utf-8"), (
            f"docs/reports.md: the {name} example drifted"
        )
