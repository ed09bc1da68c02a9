"""`--prometheus FILE`: node_exporter textfile metrics read back with prometheus_client's own
parser, session state per end (unknown kept unknown), written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from report_runs import ALL_RUNS, RUNS, replayed

from bgpdoctor.cli import main
from bgpdoctor.report.prometheus import render_prometheus, write_atomically

Samples = dict[str, list[tuple[dict[str, str], float]]]


def parsed(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge"
        assert family.documentation
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out


def metrics_of(name: str) -> Samples:
    run = replayed(name)
    return parsed(render_prometheus(run.report, run.extras.status))


@pytest.mark.parametrize("name", ALL_RUNS)
def test_every_recorded_run_parses_with_the_report_counts(name: str) -> None:
    run = replayed(name)
    m = metrics_of(name)
    s = run.report.summary
    checks = {labels["status"]: value for labels, value in m["bgpdoctor_checks"]}
    assert checks == {
        "pass": s.passed,
        "fail": s.failed,
        "warn": s.warnings,
        "error": s.errors,
        "skip": s.skipped,
        "unknown": s.unknown,
    }
    assert m["bgpdoctor_findings"] == [({}, s.findings)]
    assert m["bgpdoctor_exit_code"] == [({}, s.exit_code)]
    assert m["bgpdoctor_run_seconds"] == [({}, run.report.timing.wall_seconds)]
    assert run.extras.status is not None
    ends = sum(1 + (x.b is not None) for x in run.extras.status.sessions)
    assert len(m["bgpdoctor_session_state"]) == ends


def test_session_state_per_end_and_unknown_is_not_down() -> None:
    m = metrics_of("speaker-down")
    state = {
        (labels["session"], labels["host"]): labels["state"] for labels, _ in m["bgpdoctor_session_state"]
    }
    assert state[("router-mine<->router-home", "router-mine")] == "active"
    assert state[("router-mine<->router-home", "router-home")] == "unknown"
    established = {(lb["session"], lb["host"]): v for lb, v in m["bgpdoctor_session_established"]}
    assert established[("router-mine<->router-home", "router-mine")] == 0
    assert ("router-mine<->router-home", "router-home") not in established  # unknown: no 0, no 1
    up = {lb["session"]: v for lb, v in m["bgpdoctor_session_up"]}
    assert up["router-mine<->sakamoto"] == 1 and up["router-mine<->router-home"] == 0
    assert m["bgpdoctor_root_cause"] == [({"root_cause": "speaker-down", "rank": "1"}, 1)]


def test_label_values_with_quotes_backslashes_and_newlines_round_trip() -> None:
    run = replayed("healthy")
    assert run.extras.status is not None
    status = run.extras.status.model_copy(deep=True)
    status.sessions[0].session = 'a"b\\c\nd'
    m = parsed(render_prometheus(None, status))
    assert 'a"b\\c\nd' in {labels["session"] for labels, _ in m["bgpdoctor_session_state"]}
    assert "bgpdoctor_checks" not in m  # status alone has no checks


def test_write_is_atomic_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "bgpdoctor.prom"
    target.write_text("old\n")
    write_atomically(target, "new\n")
    assert target.read_text() == "new\n"
    assert os.stat(target).st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["bgpdoctor.prom"]

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_atomically(target, "newer\n")
    assert target.read_text() == "new\n"  # a reader never sees a half-written or missing file
    assert [p.name for p in tmp_path.iterdir()] == ["bgpdoctor.prom"]


def test_cli_replay_and_status_write_the_metrics(tmp_path: Path) -> None:
    prom = tmp_path / "run.prom"
    result = CliRunner().invoke(
        main, ["replay", str(RUNS / "asn-mismatch.json"), "-q", "--prometheus", str(prom)]
    )
    assert result.exit_code == 1, result.output
    assert parsed(prom.read_text())["bgpdoctor_exit_code"] == [({}, 1)]
    status_prom = tmp_path / "status.prom"
    result = CliRunner().invoke(
        main, ["status", "--recording", str(RUNS / "healthy.json"), "--prometheus", str(status_prom)]
    )
    assert result.exit_code == 0, result.output
    m = parsed(status_prom.read_text())
    assert {v for _, v in m["bgpdoctor_session_up"]} == {1}
    assert m["bgpdoctor_exit_code"] == [({}, 0)]


def test_cli_refuses_an_unwritable_metrics_path_before_anything_runs(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["replay", str(RUNS / "healthy.json"), "--prometheus", str(tmp_path / "missing" / "x.prom")],
    )
    assert result.exit_code == 2
    assert "--prometheus" in result.stderr and "does not exist" in result.stderr
