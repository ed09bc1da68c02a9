"""Unknown is not false: a fact that timed out, failed or did not parse is unknown with its reason,
a check on it is neither pass nor fail, and no root cause is concluded from it.

Each case replays a real lab recording (captures/runs/) with one host's output replaced the way a
real host can break it, and asserts what the user sees: status, reason, diagnoses, exit code.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate, exit_code_for
from bgpdoctor.report.model import CheckResult, Report

RUNS = Path(__file__).resolve().parents[2] / "captures" / "runs"


def _recording(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RUNS / f"{name}.json").read_text())
    return data


def _replay(data: dict[str, Any], tmp_path: Path) -> Report:
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data))
    inv, inventory_path, nodes, collected = load_recording(path)
    return evaluate(inv, inventory_path, collected, RunOptions(nodes=nodes))


def _set_output(
    data: dict[str, Any],
    host: str,
    fact: str,
    stdout: str = "",
    *,
    timed_out: bool = False,
    exit_status: int | None = 0,
    stderr: str = "",
) -> dict[str, Any]:
    data = copy.deepcopy(data)
    out = data["hosts"][host]["outputs"][fact]
    out["stdout_b64"] = base64.b64encode(stdout.encode()).decode()
    out["timed_out"] = timed_out
    out["exit_status"] = None if timed_out else exit_status
    out["stderr"] = stderr
    return data


def _results(report: Report, check: str, host: str | None = None) -> list[CheckResult]:
    return [r for r in report.results if r.check == check and (host is None or r.host == host)]


def _bird_router(data: dict[str, Any]) -> str:
    """A host of the recording that runs BIRD (whatever the lab calls it)."""
    return next(
        name
        for name, h in data["hosts"].items()
        if "bird.protocols" in h["outputs"] and "ip.route" in h["outputs"]
    )


@pytest.mark.parametrize(
    "broken",
    [
        {"timed_out": True},
        {"stdout": "\x00\x01 this is not JSON"},
        {"stdout": '[{"dst":"default","mtu":1e309}]'},
        {"exit_status": 1, "stderr": "ip: Permission denied"},
    ],
    ids=["timeout", "garbage", "overflow", "permission"],
)
def test_unreadable_route_table_is_unknown_not_a_missing_kernel_export(
    tmp_path: Path, broken: dict[str, Any]
) -> None:
    healthy = _recording("healthy")
    router = _bird_router(healthy)
    report = _replay(_set_output(healthy, router, "ip.route", **broken), tmp_path)

    assert report.diagnoses == [], [d.root_cause for d in report.diagnoses]
    [rib] = _results(report, "bird-rib-in-fib", router)
    assert rib.status == "unknown"
    assert rib.reason.startswith("could not check: ")
    assert "ip -j route" in rib.reason
    assert [r for r in report.results if r.status == "fail"] == []
    assert report.summary.unknown >= 1
    assert report.summary.exit_code == 3  # no findings, but not everything could be judged


def test_unreadable_birdc_header_is_not_speaker_down(tmp_path: Path) -> None:
    healthy = _recording("healthy")
    router = _bird_router(healthy)
    report = _replay(
        _set_output(healthy, router, "bird.protocols", "BIRD 9.9 something unexpected\n\x1b[0m???\n"),
        tmp_path,
    )
    assert "speaker-down" not in [d.root_cause for d in report.diagnoses]
    [answers] = _results(report, "bgp-speaker-answers", router)
    assert answers.status == "unknown"
    assert answers.unknown_kind == "parse-error"
    assert report.summary.exit_code == 3


def test_a_daemon_that_does_not_answer_is_still_speaker_down() -> None:
    inv, path, nodes, collected = load_recording(RUNS / "speaker-down.json")
    report = evaluate(inv, path, collected, RunOptions(nodes=nodes))
    assert report.diagnoses[0].root_cause == "speaker-down"
    assert report.summary.exit_code == 1


def test_mtu_sweep_that_reached_nothing_is_unknown_not_pass() -> None:
    inv, path, nodes, collected = load_recording(RUNS / "ip-forward-disabled.json")
    report = evaluate(inv, path, collected, RunOptions(nodes=nodes))
    mtu = [r for r in _results(report, "path-mtu") if " bgp " not in r.host]  # the pod paths
    assert mtu and all(r.status == "unknown" for r in mtu), [(r.status, r.reason) for r in mtu]
    assert all("None" not in r.reason and "could not be measured" in r.reason for r in mtu)


def test_port_open_is_not_claimed_when_the_dropping_device_is_not_visible() -> None:
    inv, path, nodes, collected = load_recording(RUNS / "ip-forward-disabled.json")
    report = evaluate(inv, path, collected, RunOptions(nodes=nodes))
    port = [r for r in _results(report, "bgp-port-open") if r.status != "skip"]
    assert port, "the recording has a session whose SYNs were lost"
    assert all(r.status == "unknown" for r in port), [(r.status, r.reason) for r in port]
    assert all("not visible" in r.reason for r in port)


def test_a_seen_filter_still_fails_the_port_check() -> None:
    inv, path, nodes, collected = load_recording(RUNS / "bgp-port-filtered.json")
    report = evaluate(inv, path, collected, RunOptions(nodes=nodes))
    assert any(r.status == "fail" for r in _results(report, "bgp-port-open"))
    assert report.diagnoses[0].root_cause == "bgp-port-filtered"


def test_unreachable_host_makes_its_checks_unknown_not_skipped(tmp_path: Path) -> None:
    healthy = _recording("healthy")
    router = _bird_router(healthy)
    data = copy.deepcopy(healthy)
    data["hosts"][router]["outputs"] = {}
    data["hosts"][router]["error"] = {"kind": "timeout", "message": "connection timed out"}
    data["hosts"][router]["contacted"] = False
    report = _replay(data, tmp_path)
    own = [r for r in report.results if r.host == router and r.check != "host-reachable"]
    assert own and {r.status for r in own} <= {"unknown", "skip"}
    forward = _results(report, "ip-forward", router)
    assert forward[0].status == "unknown" and forward[0].unknown_kind == "unreachable"
    assert _results(report, "host-reachable", router)[0].status == "error"  # on_miss: error


def test_parser_bug_on_one_host_is_that_hosts_unknown_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bgpdoctor.parsers import ss

    real = ss.parse_ss

    def exploding(text: str) -> Any:
        if "bird" in text:
            raise RuntimeError("parser bug")
        return real(text)

    monkeypatch.setattr(ss, "parse_ss", exploding)
    report = _replay(_recording("healthy"), tmp_path)
    conflict = [r for r in _results(report, "bgp-port-single-owner") if r.status == "unknown"]
    assert conflict, "the hosts whose ss output trips the parser are unknown"
    assert all("RuntimeError" in r.reason and "ss -H" in r.reason for r in conflict)
    assert report.diagnoses == []
    assert any(r.status == "pass" for r in _results(report, "bgp-port-single-owner"))


def test_refusal_without_a_readable_listener_is_not_node_not_listening(tmp_path: Path) -> None:
    data = _recording("node-not-listening")
    inv, path, nodes, collected = load_recording(RUNS / "node-not-listening.json")
    before = evaluate(inv, path, collected, RunOptions(nodes=nodes))
    failed = next(r for r in before.results if r.check == "bgp-accepting-end-listens" and r.status == "fail")
    listener = before.diagnoses[0].hosts[0]
    report = _replay(_set_output(data, listener, "ss.listen", timed_out=True), tmp_path)
    assert "node-not-listening" not in [d.root_cause for d in report.diagnoses]
    [listens] = _results(report, "bgp-accepting-end-listens", failed.host)
    assert listens.status == "unknown" and listens.unknown_kind == "timeout"


def test_ruled_out_says_when_a_cause_could_not_be_ruled_out() -> None:
    from bgpdoctor.engine.judge import _why_not
    from bgpdoctor.engine.rules import load_playbooks
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Unknown

    playbook = next(p for p in load_playbooks() if p.id == "node-not-listening")
    s = Subject("session", "r1<->n1", ["r1", "n1"], ["r1", "n1"])
    s.unknown("refused_by_non_listener", Unknown("timeout", "`ss -Htlnp` timed out on n1"))
    assert _why_not(playbook, s) == (
        "node-not-listening: could not be ruled out: refused_by_non_listener unknown on r1<->n1 "
        "(`ss -Htlnp` timed out on n1)"
    )
    s.add("refused_by_non_listener", False)
    assert _why_not(playbook, s) == "node-not-listening: refused_by_non_listener is False on r1<->n1"


def test_exit_codes() -> None:
    assert exit_code_for(findings=0, errors=0, reachable=3, unknown=0) == 0
    assert exit_code_for(findings=2, errors=0, reachable=3, unknown=5) == 1
    assert exit_code_for(findings=0, errors=0, reachable=3, unknown=1) == 3
    assert exit_code_for(findings=0, errors=0, reachable=0, unknown=0) == 3


def test_a_bug_deriving_one_session_is_an_error_result_naming_host_and_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bgpdoctor.engine import subjects

    real = subjects._compatibility_facts

    def exploding(world: Any, s: Any, session: Any, up: bool, active: Any) -> None:
        world.route_get(session.a.host, str(session.a.peer.address))  # the last output read
        if session.b is not None and "router-home" in session.hosts:
            raise KeyError("bug")
        real(world, s, session, up, active)

    monkeypatch.setattr(subjects, "_compatibility_facts", exploding)
    report = _replay(_recording("healthy"), tmp_path)
    broken = [r for r in report.results if r.status == "error"]
    assert broken and all("router-home" in r.host for r in broken)
    assert all("KeyError" in r.reason and "ip -j route get" in r.reason and "output starts" in r.reason
               for r in broken)  # fmt: skip
    assert report.diagnoses == []
    assert report.summary.exit_code == 3
    assert any(r.status == "pass" and r.check == "bgp-session-established" for r in report.results)


def test_a_kubelet_probe_that_crashed_is_unknown_not_missing() -> None:
    inv, path, nodes, collected = load_recording(RUNS / "healthy.json")
    node = sorted(collected.active.kubelets)[0]
    del collected.active.kubelets[node]
    collected.active.errors[f"kubelet {node}"] = "ParseError: not a probe answer"
    report = evaluate(inv, path, collected, RunOptions(nodes=nodes))
    [probe] = [r for r in report.results if r.check == "kubelet-reachable" and node in r.hosts]
    assert probe.status == "unknown" and "not a probe answer" in probe.reason
    assert report.diagnoses == [] and report.summary.exit_code == 3


def test_a_truncated_output_is_never_read_as_the_whole_answer() -> None:
    inv, path, nodes, collected = load_recording(RUNS / "healthy.json")
    router = next(n for n, f in collected.facts.items() if "bird.protocols" in f.outputs)
    result = collected.facts[router].outputs["bird.protocols"]
    lines = result.stdout_bytes.splitlines(keepends=True)
    result.stdout_bytes = b"".join(lines[: len(lines) // 3])  # a cut `show protocols all`
    result.truncated = True  # type: ignore[attr-defined]
    report = evaluate(inv, path, collected, RunOptions(nodes=nodes))
    assert "peer-not-configured" not in [d.root_cause for d in report.diagnoses]
    assert report.diagnoses == []
    assert any(r.unknown_kind == "truncated" for r in report.results)


def test_an_unreadable_router_id_is_unknown_not_unique(tmp_path: Path) -> None:
    healthy = _recording("healthy")
    router = _bird_router(healthy)
    report = _replay(_set_output(healthy, router, "bird.status", timed_out=True), tmp_path)
    unique = [r for r in report.results if r.check == "bgp-router-id-unique" and router in r.hosts]
    assert unique and all(r.status == "unknown" and r.unknown_kind == "timeout" for r in unique)
    assert report.diagnoses == []
