"""The recording format has a published schema, and every recording the project ships follows it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

RUNS = Path(__file__).resolve().parents[2] / "captures" / "runs"
RECORDINGS = sorted(RUNS.rglob("*.json"))


@pytest.fixture(scope="module")
def schema() -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "bgpdoctor", "schema", "recording"], capture_output=True, text=True, check=True
    ).stdout
    loaded: dict[str, object] = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(loaded)
    return loaded


@pytest.mark.parametrize("path", RECORDINGS, ids=[str(p.relative_to(RUNS)) for p in RECORDINGS])
def test_every_shipped_recording_follows_the_schema(schema: dict[str, object], path: Path) -> None:
    jsonschema.Draft202012Validator(schema).validate(json.loads(path.read_text()))


def test_the_schema_rejects_a_recording_without_its_hosts(schema: dict[str, object]) -> None:
    data = json.loads((RUNS / "healthy.json").read_text())
    del data["hosts"]
    with pytest.raises(jsonschema.ValidationError, match="'hosts' is a required property"):
        jsonschema.Draft202012Validator(schema).validate(data)


def test_the_documented_example_follows_the_schema(schema: dict[str, object]) -> None:
    import re

    text = (RUNS.parents[1] / "docs" / "recording.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    assert len(blocks) == 1
    jsonschema.Draft202012Validator(schema).validate(json.loads(blocks[0]))
