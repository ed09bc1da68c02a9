"""A replay redacts every output again unless the recording proves it was redacted by today's rules
and not changed since; a secret pasted into a recording never reaches a report."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bgpdoctor.cli import main
from bgpdoctor.engine import recording
from bgpdoctor.engine.recording import load_recording, recording_json
from bgpdoctor.redact import REDACTED
from bgpdoctor.transport.base import CommandResult

HEALTHY = Path(__file__).resolve().parents[2] / "captures" / "runs" / "healthy.json"
CANARY = "canary-0f9e8d7c-secret"


@pytest.fixture(scope="module")
def marked() -> dict[str, Any]:
    """healthy.json as a run of today's bgpdoctor records it (with its redaction mark)."""
    inv, inventory_path, nodes, collected = load_recording(HEALTHY)
    data: dict[str, Any] = json.loads(recording_json(inv, inventory_path, nodes, collected))
    return data


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "recording.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _with_pasted_secret(data: dict[str, Any]) -> dict[str, Any]:
    """The router's `show protocols all` edited by hand: a password line in sakamoto's block, which
    the session's evidence quotes."""
    edited: dict[str, Any] = json.loads(json.dumps(data))
    output = edited["hosts"]["router-mine"]["outputs"]["bird.protocols"]
    lines = base64.b64decode(output["stdout_b64"]).decode().split("\n")
    row = next(i for i, line in enumerate(lines) if line.startswith("sakamoto "))
    lines.insert(row + 1, f'    Password:       "{CANARY}"')
    output["stdout_b64"] = base64.b64encode("\n".join(lines).encode()).decode()
    return edited


def _replay(path: Path, *options: str) -> str:
    result = CliRunner().invoke(main, ["replay", str(path), *options], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return result.output


def test_a_recorded_run_is_marked_and_replays_without_redacting_again(
    marked: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert marked["redaction"]["rules"] == recording.redaction_rules()
    before = _replay(_write(tmp_path, {**marked, "redaction": None}), "-o", "json")
    cleaned: list[str] = []

    def counting(result: CommandResult, max_output: int) -> CommandResult:
        cleaned.append(result.command)
        return result

    monkeypatch.setattr(recording, "clean_result", counting)
    assert _replay(_write(tmp_path, marked), "-o", "json") == before
    assert cleaned == []


@pytest.mark.parametrize("output", ["json", "text"])
def test_a_secret_pasted_into_a_marked_recording_never_reaches_the_report(
    marked: dict[str, Any], tmp_path: Path, output: str
) -> None:
    path = _write(tmp_path, _with_pasted_secret(marked))
    report = _replay(path, "-o", output, "-v")
    assert CANARY not in report
    _inv, _path, _nodes, collected = load_recording(path)
    assert f'Password:       "{REDACTED}"' in collected.facts["router-mine"].outputs["bird.protocols"].stdout


def test_a_recording_marked_by_other_redaction_rules_is_redacted_again(
    marked: dict[str, Any], tmp_path: Path
) -> None:
    edited = _with_pasted_secret(marked)
    # the same outputs, the digest recomputed as an older bgpdoctor with other rules would write it
    edited["redaction"] = {
        "rules": "0" * 32,
        "digest": recording.outputs_digest(
            (name, fact, base64.b64decode(r["stdout_b64"]), r["stderr"])
            for name, h in edited["hosts"].items()
            for fact, r in h["outputs"].items()
        ),
    }
    path = _write(tmp_path, edited)
    assert CANARY not in _replay(path, "-o", "json", "-v")
    _inv, _path, _nodes, again = load_recording(path)
    assert CANARY not in again.facts["router-mine"].outputs["bird.protocols"].stdout


def test_a_run_whose_output_skipped_redaction_records_no_mark() -> None:
    inv, inventory_path, nodes, collected = load_recording(HEALTHY)
    collected.facts["router-mine"].outputs["bird.config"] = CommandResult(
        "cat /etc/bird/bird.conf", 0, f'protocol bgp x {{ password "{CANARY}"; }}\n'.encode()
    )
    data = json.loads(recording_json(inv, inventory_path, nodes, collected))
    assert data["redaction"] is None
