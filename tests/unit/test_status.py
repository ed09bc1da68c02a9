"""`bgpdoctor status` over the recorded lab runs: both ends of every session, unknown kept unknown."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bgpdoctor.cli import main
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.sessions import expected_sessions
from bgpdoctor.engine.world import World
from bgpdoctor.errors import HostError
from bgpdoctor.report.status import StatusReport, build_status, render_status_text

RUNS = Path(__file__).resolve().parents[2] / "captures" / "runs"


def status_of(run: str, lose_host: str | None = None) -> StatusReport:
    inv, _path, _nodes, collected = load_recording(RUNS / f"{run}.json")
    if lose_host is not None:
        facts = collected.facts[lose_host]
        facts.outputs = {}
        facts.error = HostError(lose_host, "unreachable", "connection timed out")
    world = World(inv, collected.facts)
    return build_status(world, expected_sessions(world, collected.scope), collected.scope, collected.started)


def session(report: StatusReport, label: str) -> dict[str, dict[str, object]]:
    found = next(s for s in report.sessions if s.session == label)
    ends = [found.a] + ([found.b] if found.b else [])
    return {e.host: e.model_dump() for e in ends} | {"": {"verdict": found.verdict}}


def test_healthy_lab_every_session_established_at_both_ends() -> None:
    report = status_of("healthy")
    assert len(report.sessions) == 9
    assert {s.verdict for s in report.sessions} == {"established"}
    assert report.exit_code == 0
    mine_sakamoto = session(report, "router-mine<->sakamoto")
    assert mine_sakamoto["router-mine"]["passive"] is True  # the router waits, the Cilium node dials
    assert mine_sakamoto["sakamoto"]["passive"] is False
    assert mine_sakamoto["router-mine"]["hold_time_s"] == 9
    assert mine_sakamoto["router-mine"]["accepted"] == 1
    assert mine_sakamoto["router-mine"]["received"] is None  # BIRD does not count rejected prefixes
    assert mine_sakamoto["sakamoto"]["received"] == 0


def test_uptime_from_bird_since_and_gobgp_epoch() -> None:
    ends = session(status_of("speaker-down"), "router-mine<->sakamoto")
    # BIRD: since 22:35:50.001, `show status` server time 22:42:38.288
    assert ends["router-mine"]["since"] == "22:35:50.001"
    assert ends["router-mine"]["for_s"] == 408
    # GoBGP: uptime epoch 22:35:50 UTC, facts taken 22:42:37 UTC
    assert ends["sakamoto"]["since"] == "2026-11-22T22:35:50+00:00"
    assert ends["sakamoto"]["for_s"] == 407


def test_speaker_down_end_is_unknown_with_the_reason() -> None:
    report = status_of("speaker-down")
    ends = session(report, "router-mine<->router-home")
    assert ends[""]["verdict"] == "down"
    assert ends["router-home"]["state"] is None
    assert "Unable to connect to server control socket" in str(ends["router-home"]["unknown"])
    assert ends["router-mine"]["state"] == "active"
    assert ends["router-mine"]["last_error"] == "Socket: Connection refused"
    assert report.exit_code == 1
    text = render_status_text(report)
    row = next(line for line in text.splitlines() if line.lstrip().startswith("router-home  ?"))
    assert "failed on router-home: Unable to connect to server control socket" in row


def test_node_not_listening_shows_the_refused_end_and_that_neither_dials() -> None:
    report = status_of("node-not-listening")
    ends = session(report, "router-home<->yuuko-k8s")
    assert ends[""]["verdict"] == "down"
    assert ends["router-home"]["last_error"] == "Socket: Connection refused"
    assert ends["router-home"]["passive"] is True and ends["yuuko-k8s"]["passive"] is True
    assert ends["yuuko-k8s"]["hold_time_s"] is None  # GoBGP's last hold time is not the session's
    assert report.exit_code == 1


def test_unreadable_host_without_a_down_session_exits_3() -> None:
    report = status_of("healthy", lose_host="cn-ns")
    ends = session(report, "gateway<->cn-ns")
    assert ends[""]["verdict"] == "unknown"
    assert ends["cn-ns"]["state"] is None
    assert "cn-ns unusable: unreachable: connection timed out" in str(ends["cn-ns"]["unknown"])
    assert report.exit_code == 3
    assert "9 sessions: 8 established, 0 down, 1 unknown" in render_status_text(report)


def test_cli_status_on_a_recording_text_json_and_exit_codes() -> None:
    runner = CliRunner()
    healthy = runner.invoke(main, ["status", "--recording", str(RUNS / "healthy.json")])
    assert healthy.exit_code == 0, healthy.output
    assert healthy.output.splitlines()[0].split() == [
        "SESSION", "END", "STATE", "FOR", "RCV/ACC/ADV", "HOLD", "DIALS", "LAST", "ERROR"
    ]  # fmt: skip
    down = runner.invoke(main, ["status", "--recording", str(RUNS / "speaker-down.json"), "-o", "json"])
    assert down.exit_code == 1
    data = json.loads(down.output)
    assert data["exit_code"] == 1
    assert [s["verdict"] for s in data["sessions"]].count("down") == 2
    scoped = runner.invoke(
        main, ["status", "--recording", str(RUNS / "healthy.json"), "--node", "master-01", "-o", "json"]
    )
    assert {s["session"] for s in json.loads(scoped.output)["sessions"]} >= {"tor<->master-01"}


def test_cli_status_usage_errors_exit_2() -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["status"]).exit_code == 2
    both = ["status", "-i", "x.yaml", "--recording", str(RUNS / "healthy.json")]
    assert runner.invoke(main, both).exit_code == 2
    assert (
        runner.invoke(main, ["status", "--recording", str(RUNS / "healthy.json"), "--timeout", "0"]).exit_code
        == 2
    )
