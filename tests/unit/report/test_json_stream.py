"""The JSON report on stdout: the serializer's UTF-8 bytes written as they are, the same text."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.report import outputs

HEALTHY = Path(__file__).resolve().parents[3] / "captures" / "runs" / "healthy.json"


@pytest.mark.parametrize("encoding", ["utf-8", "UTF8", "latin-1"])
def test_the_report_on_stdout_is_the_report_in_its_encoding(
    encoding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    inv, inventory_path, nodes, collected = load_recording(HEALTHY)
    report = evaluate(inv, inventory_path, collected, RunOptions(nodes=nodes))
    monkeypatch.setattr(outputs, "RESULTS_PER_CHUNK", 7)
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding=encoding))
    chunks = list(outputs.json_for_stdout(report))
    whole = report.model_dump_json(indent=2)
    if encoding == "latin-1":  # click encodes text for such a terminal
        assert "".join(str(c) for c in chunks) == whole
    else:
        assert all(isinstance(c, bytes) for c in chunks)
        assert b"".join(c for c in chunks if isinstance(c, bytes)) == whole.encode()
    assert len(chunks) > len(report.results) // 7
