"""The command line on bad input and on its own bugs: one line, a documented exit code, nothing lost.

- a malformed or hostile recording is exit 2 with one line naming the file, never a traceback;
- an output path that cannot be written is exit 2 before any host is contacted;
- a write error after a finished run keeps the report in a temporary file and says where;
- an internal error still writes what can be written and exits 4, with the traceback only on -v.
"""

from __future__ import annotations

import base64
import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import bgpdoctor.engine.run as engine_run
import bgpdoctor.report.markdown as markdown
import bgpdoctor.report.text as text
import bgpdoctor.transport.factory as factory
from bgpdoctor.cli import main
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.errors import HostError

REPO = Path(__file__).resolve().parents[2]
RECORDING = REPO / "captures" / "runs" / "mtu-blackhole.json"
INVENTORY = REPO / "tests" / "unit" / "inventory_cases" / "good" / "minimal.yaml"
BASE: dict[str, Any] = json.loads(RECORDING.read_text())


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def _one_error_line(result: Result) -> str:
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _mutated(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    change(data)
    return data


def _first_output(data: dict[str, Any]) -> dict[str, Any]:
    host = next(iter(data["hosts"].values()))
    return next(iter(host["outputs"].values()))  # type: ignore[no-any-return]


HOSTILE: dict[str, tuple[str, str]] = {
    # name: (file content, what the one line says after "not a valid bgpdoctor recording: ")
    "format only": (
        '{"format": "bgpdoctor-recording/1"}',
        "missing inventory_path, inventory, scope, started, wall_seconds, hosts, active",
    ),
    "hosts is a list": (
        json.dumps(_mutated(lambda d: d.update(hosts=[]))),
        "hosts: Input should be a valid dictionary",
    ),
    "exit status is a string": (
        json.dumps(_mutated(lambda d: _first_output(d).update(exit_status="0"))),
        "hosts.router-mine.outputs.ip.addr.exit_status: Input should be a valid integer",
    ),
    "bad base64": (
        json.dumps(_mutated(lambda d: _first_output(d).update(stdout_b64="not base64!"))),
        "hosts.router-mine.outputs.ip.addr.stdout_b64: Only base64 data is allowed",
    ),
    "capture not base64": (
        json.dumps(_mutated(lambda d: d["active"]["captures"].update(x="@@@@"))),
        "active.captures.x: Only base64 data is allowed",
    ),
    "started is not a time": (
        json.dumps(_mutated(lambda d: d.update(started="yesterday"))),
        "started: Invalid isoformat string: 'yesterday'",
    ),
    "scope names a host without outputs": (
        json.dumps(_mutated(lambda d: d["scope"].append("ghost"))),
        "scope: host 'ghost' has no entry under hosts",
    ),
    "a host the inventory does not know": (
        json.dumps(_mutated(lambda d: d["hosts"].update({"ghost": d["hosts"]["router-mine"]}))),
        "hosts: host 'ghost' is not in the recorded inventory",
    ),
    "inventory of the wrong shape": (
        json.dumps(_mutated(lambda d: d["inventory"].update(hosts=5))),
        "inventory: hosts: Input should be a valid dictionary",
    ),
    "an MTU search with a probe missing": (
        json.dumps(
            _mutated(lambda d: [s.update(probes=s["probes"][:1]) for s in d["active"]["sweeps"].values()])
        ),
        "active.sweeps.sakamoto->yuuko-k8s: the MTU search needs a probe of 576 bytes, none recorded",
    ),
    "nested 100,000 deep": (
        '{"format": "bgpdoctor-recording/1", "inventory": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "nested deeper than 100 levels",
    ),
    "nested 500 deep": (
        '{"format": "bgpdoctor-recording/1", "cluster": ' + "[" * 500 + "]" * 500 + "}",
        "nested deeper than 100 levels",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_recording_is_one_line_exit_2(case: str, tmp_path: Path) -> None:
    content, problem = HOSTILE[case]
    path = tmp_path / "rec.json"
    path.write_text(content)
    result = invoke("replay", str(path))
    assert result.exit_code == 2, result.output
    assert _one_error_line(result) == f"bgpdoctor: {path}: not a valid bgpdoctor recording: {problem}"
    assert result.stdout == ""


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\xff\xfe garbage", b"[1, 2]", b'{"format": 1}', b"not json", b'"bgpdoctor-recording/1"'],
)
def test_not_a_recording_at_all(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "rec.json"
    path.write_bytes(content)
    result = invoke("replay", str(path))
    assert result.exit_code == 2
    assert _one_error_line(result).startswith(f"bgpdoctor: {path}: not a bgpdoctor recording")


def test_unreadable_ping_in_a_recording_is_a_probe_error_not_a_crash(tmp_path: Path) -> None:
    def garble(data: dict[str, Any]) -> None:
        for ping in data["active"]["pings"].values():
            ping["raw"] = "rtt min/avg/max/mdev = ././\x00"

    path = tmp_path / "rec.json"
    path.write_text(json.dumps(_mutated(garble)))
    _inv, _path, _nodes, collected = load_recording(path)  # must not raise
    assert set(collected.active.pings) | {k.removeprefix("ping ") for k in collected.active.errors} >= set(
        BASE["active"]["pings"]
    )


# --- output paths ----------------------------------------------------------------------------------


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every host `run` tries to reach; each one is unreachable, so a run finishes in a moment."""
    tried: list[str] = []

    def open_connection(name: str, inv: Any, accept_new_host_keys: bool = False) -> Any:
        tried.append(name)
        raise HostError(name, "unreachable", "no route to host (test)")

    monkeypatch.setattr(factory, "open_connection", open_connection)
    return tried


@pytest.mark.parametrize("option", ["--report", "--record"])
def test_unwritable_output_fails_before_any_host_is_contacted(
    option: str, connections: list[str], tmp_path: Path
) -> None:
    target = tmp_path / "nonexistent-dir" / "x.json"
    result = invoke("run", "-i", str(INVENTORY), option, str(target))
    assert result.exit_code == 2
    assert _one_error_line(result) == (f"bgpdoctor: {option} {target}: folder {target.parent} does not exist")
    assert connections == []


def test_report_and_recording_cannot_share_a_file(connections: list[str], tmp_path: Path) -> None:
    same = tmp_path / "x.json"
    result = invoke("run", "-i", str(INVENTORY), "--report", str(same), "--record", str(same))
    assert result.exit_code == 2
    assert _one_error_line(result) == f"bgpdoctor: --record {same}: the same file as --report"
    assert connections == []


def test_replay_checks_its_report_path_too(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "r.md"
    result = invoke("replay", str(RECORDING), "--report", str(target))
    assert result.exit_code == 2
    assert _one_error_line(result) == f"bgpdoctor: --report {target}: folder {target.parent} does not exist"


def test_write_error_after_the_run_keeps_the_report(
    connections: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    spare = tmp_path / "spare"
    spare.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    real_collect = engine_run.collect

    def collect_then_lose_the_folder(*args: Any, **kwargs: Any) -> Any:
        collected = real_collect(*args, **kwargs)
        out.rmdir()  # removed while the run was going on
        return collected

    monkeypatch.setattr(engine_run, "collect", collect_then_lose_the_folder)
    report_path, record_path = out / "r.json", out / "rec.json"
    result = invoke("run", "-i", str(INVENTORY), "--report", str(report_path), "--record", str(record_path))
    assert connections == ["me"]
    kept = {json.loads(p.read_text()).get("format", "report"): p for p in spare.glob("bgpdoctor-*.json")}
    assert set(kept) == {"report", "bgpdoctor-recording/1"}
    report = json.loads(kept["report"].read_text())
    assert result.exit_code == report["summary"]["exit_code"] == 3  # the run's verdict: nothing reachable
    assert load_recording(kept["bgpdoctor-recording/1"])[3].facts["me"].error is not None
    assert result.stderr.splitlines()[-2:] == [
        f"bgpdoctor: could not write the recording to {record_path} (No such file or directory); "
        f"wrote it to {kept['bgpdoctor-recording/1']} instead",
        f"bgpdoctor: could not write the report to {report_path} (No such file or directory); "
        f"wrote it to {kept['report']} instead",
    ]


# --- internal errors -------------------------------------------------------------------------------


def _boom(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("boom\nsecond line")


ONE_LINE = "bgpdoctor: internal error: RuntimeError: boom\\nsecond line"
HINT = " (-v or BGPDOCTOR_DEBUG=1 shows the traceback)"


def test_internal_error_while_judging_keeps_the_recording_and_exits_4(
    connections: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_run, "evaluate", _boom)
    record = tmp_path / "rec.json"
    result = invoke("run", "-i", str(INVENTORY), "--record", str(record))
    assert result.exit_code == 4
    assert result.stderr.splitlines()[-1] == ONE_LINE + HINT
    assert "Traceback" not in result.stderr
    assert load_recording(record)[0].hosts.keys() == {"me"}  # the run is not lost: replay can judge it


@pytest.mark.parametrize(("flag", "env"), [("-v", {}), (None, {"BGPDOCTOR_DEBUG": "1"})])
def test_traceback_only_when_asked(
    flag: str | None, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_run, "evaluate", _boom)
    result = invoke("replay", str(RECORDING), *([flag] if flag else []), env=env)
    assert result.exit_code == 4
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.splitlines()[-1] == ONE_LINE


def test_internal_error_while_rendering_still_writes_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text, "render_text", _boom)
    report_path = tmp_path / "r.json"
    result = invoke("replay", str(RECORDING), "--report", str(report_path))
    assert result.exit_code == 4
    assert json.loads(report_path.read_text())["diagnoses"][0]["root_cause"] == "mtu-blackhole"
    assert result.stderr.splitlines() == [f"[bgpdoctor] report written to {report_path}", ONE_LINE + HINT]


def test_markdown_that_cannot_be_rendered_leaves_the_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(markdown, "render_markdown", _boom)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = invoke("replay", str(RECORDING), "--report", str(tmp_path / "r.md"), "-o", "json")
    assert result.exit_code == 4
    (kept,) = tmp_path.glob("bgpdoctor-*.json")
    assert json.loads(kept.read_text()) == json.loads(result.stdout)
    assert result.stderr.splitlines() == [
        f"bgpdoctor: could not render the report as Markdown for {tmp_path / 'r.md'}; "
        f"wrote it to {kept} instead",
        ONE_LINE + HINT,
    ]


def test_help_documents_exit_code_4() -> None:
    assert "4 internal error" in " ".join(invoke("run", "--help").stdout.split())


def test_base64_of_recorded_output_round_trips(tmp_path: Path) -> None:
    """Strict base64 still accepts every real recording (the lab's, with binary pcap captures)."""
    for path in sorted((REPO / "captures" / "runs").glob("*.json")):
        load_recording(path)
    assert base64.b64decode(_first_output(BASE)["stdout_b64"], validate=True)
