"""JSON Schema of `bgpdoctor lint -o json` (published as docs/schemas/lint.schema.json and printed
by `bgpdoctor schema lint`; a test validates real lint output against it and keeps the file in step).
"""

from __future__ import annotations

from typing import Any

from bgpdoctor.lint.model import root_causes

LINT_SCHEMA_VERSION = "1"

_PLACE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["file", "line"],
    "properties": {"file": {"type": "string"}, "line": {"type": "integer", "minimum": 0}},
}
_FIX = {
    "type": "object",
    "additionalProperties": False,
    "required": ["platform", "title", "host", "text", "fragment", "target"],
    "properties": {
        "platform": {"type": "string"},
        "title": {"type": "string"},
        "host": {"type": ["string", "null"]},
        "text": {"type": "string"},
        "fragment": {"type": "string"},
        "target": {"type": ["string", "null"]},
    },
}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}


def lint_json_schema() -> dict[str, Any]:
    """The schema (draft 2020-12). Example of a valid document::

    {"findings": [{"root_cause": "asn-mismatch", "severity": "error", "file": "bird.conf",
      "line": 7, "message": "...", "other": [{"file": "networks.yaml", "line": 12}]}],
     "problems": [], "files": {"bird.conf": "bird2"}, "summary": {...}, "exit_code": 1}
    """
    count = {"type": "integer", "minimum": 0}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://bgpdoctor.dev/schema/lint-{LINT_SCHEMA_VERSION}.json",
        "title": "bgpdoctor lint -o json",
        "type": "object",
        "additionalProperties": False,
        "required": ["findings", "problems", "files", "summary", "exit_code"],
        "properties": {
            "findings": {
                "description": "Configuration mistakes, each named by a root cause of playbooks/.",
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": [
                        "root_cause",
                        "severity",
                        "file",
                        "line",
                        "message",
                        "other",
                        "title",
                        "fixes",
                    ],
                    "properties": {
                        "root_cause": {
                            "description": "The id of a playbook (bgpdoctor explain <id>).",
                            "enum": list(root_causes()),
                        },
                        "severity": {"enum": ["error", "warning"]},
                        "file": {"type": "string"},
                        "line": {"type": "integer", "minimum": 0},
                        "message": {"type": "string"},
                        "other": {
                            "description": "Other places the finding involves.",
                            "type": "array",
                            "items": _PLACE,
                        },
                        "title": {"description": "The playbook's title.", "type": "string"},
                        "fixes": {
                            "description": "The playbook's fixes rendered with what the files state; a fix "
                            "that needs a value only a live run has is left out.",
                            "type": "array",
                            "items": _FIX,
                        },
                    },
                },
            },
            "problems": {
                "description": "Input that could not be used (error) or was ignored (note).",
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["file", "line", "message", "kind"],
                    "properties": {
                        "file": {"type": "string"},
                        "line": {"type": "integer", "minimum": 0},
                        "message": {"type": "string"},
                        "kind": {"enum": ["error", "note"]},
                    },
                },
            },
            "files": {
                "description": "Every file linted -> the format it was read as (bird2, yaml, ...).",
                "type": "object",
                "additionalProperties": {"type": "string"},
            },
            "summary": {
                "type": "object",
                "required": [
                    "files_read",
                    "skipped",
                    "sessions_checked",
                    "sessions_not_checked",
                    "files_unparsed",
                    "errors",
                    "warnings",
                    "input_problems",
                    "notes",
                ],
                "properties": {
                    "files_read": count,
                    "skipped": {**_COUNTS, "description": "why a file was not linted -> how many"},
                    "sessions_checked": count,
                    "sessions_not_checked": {**_COUNTS, "description": "reason -> sessions"},
                    "files_unparsed": count,
                    "errors": count,
                    "warnings": count,
                    "input_problems": count,
                    "notes": count,
                },
            },
            "exit_code": {
                "description": "0 nothing found, 1 findings, 2 a file could not be read or parsed, "
                "3 no session could be checked.",
                "enum": [0, 1, 2, 3],
            },
        },
    }
