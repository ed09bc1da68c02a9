"""Replay runs recorded in the lab (captures/runs/*.json, real outputs of BIRD, GoBGP, ping, tcpdump)
through the whole engine without root or network: the same diagnosis as the live run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.report.markdown import render_markdown
from bgpdoctor.report.model import report_json_schema
from bgpdoctor.report.text import render_text

RUNS = Path(__file__).resolve().parents[2] / "captures" / "runs"
FAULTS = sorted(p.stem for p in RUNS.glob("*.json") if p.stem != "healthy")


def replay(name: str):  # type: ignore[no-untyped-def]
    inv, path, nodes, collected = load_recording(RUNS / f"{name}.json")
    return evaluate(inv, path, collected, RunOptions(nodes=nodes))


def test_every_lab_fault_has_a_recording() -> None:
    assert len(FAULTS) >= 10


def test_healthy_recording_has_no_findings() -> None:
    report = replay("healthy")
    assert report.diagnoses == []
    assert [r for r in report.results if r.status in ("fail", "error", "warn")] == []
    assert report.summary.exit_code == 0


@pytest.mark.parametrize("fault", FAULTS)
def test_recorded_fault_gives_its_root_cause(fault: str) -> None:
    report = replay(fault)
    assert report.summary.exit_code == 1
    assert report.diagnoses[0].root_cause == fault
    assert report.diagnoses[0].fixes and all("is undefined" not in f.text for f in report.diagnoses[0].fixes)
    assert report.summary.findings == 1, [d.root_cause for d in report.diagnoses]
    assert report.diagnoses[0].evidence, "a diagnosis must show its evidence"
    jsonschema.Draft202012Validator(report_json_schema()).validate(json.loads(report.model_dump_json()))
    assert f"`{fault}`" in render_markdown(report)
    assert fault in render_text(report)


def test_replay_cli_matches(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bgpdoctor",
            "replay",
            str(RUNS / "mtu-blackhole.json"),
            "-o",
            "json",
            "--report",
            str(tmp_path / "r.md"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["diagnoses"][0]["root_cause"] == "mtu-blackhole"
    assert "MTU: 1380" in "".join(f["text"] for f in report["diagnoses"][0]["fixes"])
    assert (tmp_path / "r.md").read_text().startswith("# bgpdoctor report")


def test_not_a_recording(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    proc = subprocess.run(
        [sys.executable, "-m", "bgpdoctor", "replay", str(bad)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == f"bgpdoctor: {bad}: not a bgpdoctor recording (format bgpdoctor-recording/1 expected)"
    )
