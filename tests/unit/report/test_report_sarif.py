"""`lint -o sarif` against the OASIS SARIF 2.1.0 schema, and `lint -o json` against its published
schema (docs/schemas/lint.schema.json, kept equal to `bgpdoctor schema lint`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from report_runs import REPO, SCHEMAS

from bgpdoctor.cli import main
from bgpdoctor.engine.rules import load_playbooks
from bgpdoctor.lint import lint_paths
from bgpdoctor.report.lint_schema import lint_json_schema
from bgpdoctor.report.sarif import catalogue_rules, render_sarif

LINT_FIXTURES = REPO / "tests" / "fixtures" / "lint"
LINT_CASES = sorted(
    p.relative_to(REPO).as_posix()
    for p in [*LINT_FIXTURES.glob("*/*"), *LINT_FIXTURES.glob("seed*/*")]
    if p.is_dir() and "repos" not in p.parts
)
SARIF = jsonschema.Draft4Validator(json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text()))
LINT_JSON = jsonschema.Draft202012Validator(lint_json_schema())
PUBLISHED = REPO / "docs" / "schemas" / "lint.schema.json"


def sarif_of(path: str, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], dict[str, Any]]:
    monkeypatch.chdir(REPO)
    lint = lint_paths([path]).to_dict()
    return lint, json.loads(render_sarif(lint, catalogue_rules(), REPO))


@pytest.mark.parametrize("path", LINT_CASES)
def test_lint_output_is_valid_sarif_and_valid_lint_json(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lint, sarif = sarif_of(path, monkeypatch)
    LINT_JSON.validate(lint)
    SARIF.validate(sarif)
    results = sarif["runs"][0]["results"]
    assert len(results) == len(lint["findings"])
    for finding, result in zip(lint["findings"], results, strict=True):
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"] == {"uri": finding["file"], "uriBaseId": "%SRCROOT%"}
        assert location["region"]["startLine"] == finding["line"]
        assert result["ruleId"] == finding["root_cause"]
        assert len(result.get("relatedLocations", [])) == len(finding["other"])


def test_the_validators_can_say_no() -> None:
    assert not SARIF.is_valid({"version": "2.1.0", "runs": [{"results": []}]})  # a run needs its tool
    assert not LINT_JSON.is_valid(
        {"findings": [], "problems": [], "files": {}, "summary": {}, "exit_code": 9}
    )


def test_rules_come_from_the_root_cause_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    _lint, sarif = sarif_of("tests/fixtures/lint/seed000/broken", monkeypatch)
    playbooks = {p.id: p for p in load_playbooks()}
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert rules
    for index, rule in enumerate(rules):
        assert rule["shortDescription"]["text"] == playbooks[rule["id"]].title
        assert f"bgpdoctor explain {rule['id']}" in rule["help"]["text"]
        users = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == rule["id"]]
        assert users and {r["ruleIndex"] for r in users} == {index}


def test_unreadable_files_are_error_notifications_not_results(monkeypatch: pytest.MonkeyPatch) -> None:
    lint, sarif = sarif_of("tests/fixtures/lint/bad", monkeypatch)
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["exitCode"] == lint["exit_code"] == 2
    errors = [n for n in invocation["toolExecutionNotifications"] if n["level"] == "error"]
    assert len(errors) == lint["summary"]["input_problems"]
    assert sarif["runs"][0]["results"] == []


def test_absolute_paths_outside_the_root_stay_file_uris(tmp_path: Path) -> None:
    lint = {
        "findings": [
            {"root_cause": "asn-mismatch", "severity": "error", "file": str(tmp_path / "a b.conf"),
             "line": 3, "message": 'password "hunter2" is set', "other": []}
        ],
        "problems": [], "files": {}, "summary": {}, "exit_code": 1,
    }  # fmt: skip
    sarif = json.loads(render_sarif(lint, catalogue_rules(), REPO))
    SARIF.validate(sarif)
    result = sarif["runs"][0]["results"][0]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": (tmp_path / "a b.conf").as_uri()
    }
    assert "hunter2" not in result["message"]["text"]


def test_published_lint_schema_matches_the_code() -> None:
    assert json.loads(PUBLISHED.read_text()) == lint_json_schema(), (
        "docs/schemas/lint.schema.json is stale: bgpdoctor schema lint > docs/schemas/lint.schema.json"
    )
    result = CliRunner().invoke(main, ["schema", "lint"])
    assert result.exit_code == 0 and json.loads(result.stdout) == lint_json_schema()


def test_cli_lint_sarif(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(main, ["lint", "tests/fixtures/lint/seed000/broken", "-o", "sarif"])
    assert result.exit_code == 1
    SARIF.validate(json.loads(result.stdout))
