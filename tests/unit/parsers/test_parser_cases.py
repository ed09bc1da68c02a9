"""pyinfra-style data tests: every cases/<parser>.<function>/<case>.json is one test.

A case is ``{"command": ..., "output_file": "captures/...", "expected": ...}``; the parser runs on
the real captured output and its dataclasses (via ``dataclasses.asdict``, JSON round-tripped so
tuples compare as lists) must equal ``expected``.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
CASES = sorted((Path(__file__).parent / "cases").glob("*.*/*.json"))


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    elif isinstance(value, list):
        value = [_plain(v) for v in value]
    elif isinstance(value, dict):
        value = {k: _plain(v) for k, v in value.items()}
    return json.loads(json.dumps(value))


def run_case(target: str, output_file: str) -> Any:
    """Run ``bgpdoctor.parsers.<target>`` on a fixture; returns plain JSON data."""
    module_name, func_name = target.split(".")
    func = getattr(importlib.import_module(f"bgpdoctor.parsers.{module_name}"), func_name)
    path = REPO / output_file
    data: Any = path.read_bytes() if path.suffix == ".pcap" else path.read_text()
    return _plain(func(data))


@pytest.mark.parametrize("case_file", CASES, ids=[f"{c.parent.name}/{c.stem}" for c in CASES])
def test_case(case_file: Path) -> None:
    case = json.loads(case_file.read_text())
    assert case["command"], "every case names the exact command that produced its output"
    assert case["expected"] == run_case(case_file.parent.name, case["output_file"])


def test_cases_exist() -> None:
    assert len(CASES) > 40
