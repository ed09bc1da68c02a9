"""SARIF 2.1.0 rendering of `bgpdoctor lint`, for code-scanning views (GitHub, GitLab, VS Code).

The rules are the root causes of the catalogue (playbooks/): a finding's `ruleId` is its root-cause
id, the rule carries the playbook's title and explanation. Every finding has a file:line region;
the other places it involves are `relatedLocations`. Files that could not be read or parsed are
`toolExecutionNotifications` (errors) of the invocation, notes are notifications of level "note".
Paths are URIs relative to `%SRCROOT%` (the current folder) when they are inside it, which is what
GitHub's upload expects. Validated in the tests against the OASIS SARIF 2.1.0 JSON schema.

Example (shortened)::

    {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "bgpdoctor", "rules": [
      {"id": "asn-mismatch", "shortDescription": {"text": "The two ends disagree on an AS number"}}]}},
     "results": [{"ruleId": "asn-mismatch", "level": "error", "message": {"text": "..."},
      "locations": [{"physicalLocation": {"artifactLocation": {"uri": "bird.conf",
        "uriBaseId": "%SRCROOT%"}, "region": {"startLine": 7}}}]}]}]}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bgpdoctor import __version__
from bgpdoctor.redact import redact
from bgpdoctor.report.safe_text import printable

SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://github.com/bgpdoctor/bgpdoctor"
_LEVEL = {"error": "error", "warning": "warning"}


def _text(text: str) -> str:
    return printable(redact(text))


def catalogue_rules(extra_playbooks: list[str] | None = None) -> dict[str, dict[str, str]]:
    """root-cause id -> {"title", "explanation"} from the playbooks (the one list of root causes)."""
    from bgpdoctor.engine.rules import load_playbooks

    return {
        p.id: {"title": p.title, "explanation": p.explanation.strip()}
        for p in load_playbooks(extra_playbooks or [])
    }


def _artifact(file: str, root: Path) -> dict[str, str]:
    path = Path(file)
    if path.is_absolute():
        try:
            return {"uri": quote(path.relative_to(root).as_posix()), "uriBaseId": "%SRCROOT%"}
        except ValueError:
            return {"uri": path.as_uri()}
    return {"uri": quote(path.as_posix()), "uriBaseId": "%SRCROOT%"}


def _location(file: str, line: int, root: Path, **extra: Any) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": _artifact(file, root)}
    if line >= 1:
        physical["region"] = {"startLine": line}
    return {**extra, "physicalLocation": physical}


def _rule(rule_id: str, catalogue: dict[str, dict[str, str]]) -> dict[str, Any]:
    entry = catalogue.get(rule_id)
    rule: dict[str, Any] = {"id": rule_id, "name": rule_id}
    if entry is not None:
        explanation = _text(entry["explanation"])
        help_text = f"{explanation}\n\n`bgpdoctor explain {rule_id}` shows the evidence and the fixes."
        rule |= {
            "shortDescription": {"text": _text(entry["title"])},
            "fullDescription": {"text": explanation},
            "help": {"text": help_text, "markdown": help_text},
        }
    else:
        rule["shortDescription"] = {"text": rule_id}
    rule["defaultConfiguration"] = {"level": "error"}
    return rule


def render_sarif(lint: dict[str, Any], catalogue: dict[str, dict[str, str]], root: Path | None = None) -> str:
    """`lint` is `LintResult.to_dict()` (the `lint -o json` document); `catalogue` from
    `catalogue_rules()`; paths inside `root` (default: the current folder) become relative URIs."""
    base = (root or Path.cwd()).resolve()
    findings: list[dict[str, Any]] = lint["findings"]
    rule_ids = sorted({f["root_cause"] for f in findings})
    rules = [_rule(r, catalogue) for r in rule_ids]
    results = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f["root_cause"],
            "ruleIndex": rule_ids.index(f["root_cause"]),
            "level": _LEVEL.get(f["severity"], "warning"),
            "message": {"text": _text(f["message"])},
            "locations": [_location(f["file"], f["line"], base)],
        }
        related = [
            _location(o["file"], o["line"], base, id=i, message={"text": "also involved"})
            for i, o in enumerate(f.get("other", []), start=1)
        ]
        if related:
            result["relatedLocations"] = related
        results.append(result)
    notifications = [
        {
            "level": "error" if p["kind"] == "error" else "note",
            "message": {"text": _text(p["message"])},
            "locations": [_location(p["file"], p["line"], base)],
        }
        for p in lint["problems"]
    ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "bgpdoctor",
                "version": __version__,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"uri": base.as_uri() + "/"}},
        "invocations": [
            {
                "executionSuccessful": not any(p["kind"] == "error" for p in lint["problems"]),
                "exitCode": lint["exit_code"],
                "toolExecutionNotifications": notifications,
            }
        ],
        "artifacts": [{"location": _artifact(path, base)} for path in sorted(lint["files"])],
        "results": results,
        "properties": {"summary": lint["summary"]},
    }
    document = {"$schema": SARIF_SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, indent=2)
