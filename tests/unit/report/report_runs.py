"""Recorded lab runs (captures/runs/) replayed once per test session, with their session status."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.report.model import Report
from bgpdoctor.report.outputs import RunOutputs, run_outputs

REPO = Path(__file__).resolve().parents[3]
RUNS = REPO / "captures" / "runs"
REPORT_FIXTURES = REPO / "tests" / "fixtures" / "report"
SCHEMAS = REPORT_FIXTURES / "schemas"
GOLDEN = REPORT_FIXTURES / "golden"
ALL_RUNS = sorted(p.relative_to(RUNS).with_suffix("").as_posix() for p in RUNS.rglob("*.json"))


@dataclass
class Replayed:
    report: Report
    extras: RunOutputs


@functools.cache
def replayed(name: str) -> Replayed:
    """`bgpdoctor replay captures/runs/NAME.json`: the report and what the renderings need beside it."""
    inv, path, nodes, collected = load_recording(RUNS / f"{name}.json")
    report = evaluate(inv, path, collected, RunOptions(nodes=nodes))
    return Replayed(report, run_outputs(inv, collected))
