"""The terminal: the BGP line heading run/replay (same data as `bgpdoctor status`), colour only on a
terminal and never with NO_COLOR, `--quiet`, and the progress display on stderr."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from report_runs import RUNS, replayed

from bgpdoctor.cli import main
from bgpdoctor.engine.progress import HostEvent
from bgpdoctor.report.console import ConsoleProgress, colour_wanted
from bgpdoctor.report.status import bgp_summary_line

ANSI = re.compile(r"\x1b\[")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bgp_line_counts_sessions_by_state_and_names_the_down_ones() -> None:
    status = replayed("node-not-listening").extras.status
    assert status is not None
    assert bgp_summary_line(status) == (
        "BGP: 4 sessions, 3 Established, 1 Active (router-home<->yuuko-k8s: router-home active, "
        "yuuko-k8s active)"
    )
    healthy = replayed("healthy").extras.status
    assert healthy is not None
    assert bgp_summary_line(healthy) == "BGP: 9 sessions, 9 Established"


def test_replay_text_starts_with_the_same_line_status_gives() -> None:
    replay = CliRunner().invoke(main, ["replay", str(RUNS / "speaker-down.json")])
    status = CliRunner().invoke(main, ["status", "--recording", str(RUNS / "speaker-down.json")])
    first = replay.stdout.splitlines()[0]
    assert first.startswith("BGP: 4 sessions, 2 Established, 2 Active (")
    # status counts the same sessions: 2 established, 2 down
    assert status.stdout.splitlines()[-1].startswith("4 sessions: 2 established, 2 down, 0 unknown")


def test_colour_on_a_terminal_and_none_with_no_color_or_a_pipe() -> None:
    args = ["replay", str(RUNS / "nat-rewrites-bgp-source.json")]
    assert ANSI.search(CliRunner().invoke(main, args, color=True).stdout)  # a terminal
    assert not ANSI.search(CliRunner().invoke(main, args).stdout)  # a pipe
    no_color = CliRunner().invoke(main, args, color=True, env={"NO_COLOR": "1"})
    assert not ANSI.search(no_color.stdout)


def test_colour_wanted_follows_no_color_and_term(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert colour_wanted(FakeTerminal()) and not colour_wanted(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not colour_wanted(FakeTerminal())
    monkeypatch.setenv("NO_COLOR", "")  # the spec: set and not empty
    assert colour_wanted(FakeTerminal())
    monkeypatch.setenv("TERM", "dumb")
    assert not colour_wanted(FakeTerminal())


def test_quiet_replay_prints_the_bgp_line_the_causes_and_the_result() -> None:
    result = CliRunner().invoke(main, ["replay", str(RUNS / "md5-mismatch.json"), "--quiet"])
    lines = result.stdout.splitlines()
    assert result.exit_code == 1
    assert lines[0].startswith("BGP: 4 sessions, 3 Established, 1 Passive")
    assert lines[1].startswith("#1 md5-mismatch: ")
    assert lines[-1] == "result: 1 finding(s) (exit 1)"
    assert result.stderr == ""


def test_progress_without_a_terminal_is_plain_lines() -> None:
    stream = io.StringIO()
    with ConsoleProgress(stream) as shown:
        shown.message("collecting facts from 2 hosts")
        shown.event(HostEvent("r1", "collected"))
        shown.message("r1: 30 facts in 0.50s")
    assert (
        stream.getvalue() == "[bgpdoctor] collecting facts from 2 hosts\n[bgpdoctor] r1: 30 facts in 0.50s\n"
    )


def test_progress_on_a_terminal_is_one_line_and_failures_stay() -> None:
    stream = FakeTerminal()
    with ConsoleProgress(stream) as shown:
        shown.message("collecting facts from 2 hosts")
        shown.event(HostEvent("r1", "collected"))
        shown.event(HostEvent("r2", "failed", "timeout: connection timed out"))
        line = shown._line().plain
        assert line.startswith("[bgpdoctor] collecting 2/2 hosts (1 failed)")
        shown.message("2 BGP sessions, 0 pod paths; running active probes")
        shown.event(HostEvent("r1", "probing"))
        shown.message("r1: capturing BGP SYNs for 12s\x1b[2J")
        line = shown._line().plain
        assert line.startswith("[bgpdoctor] probing 1/2 hosts (1 failed)")  # r2 is finished: failed
        assert line.endswith("r1: capturing BGP SYNs for 12s")  # no escape from host text
    out = stream.getvalue()
    assert "r2 failed: timeout: connection timed out" in out
    assert "\x1b[2J" not in out
    assert "\x1b[?25h" in out  # the cursor is shown again: the live line is gone


def test_quiet_progress_prints_nothing() -> None:
    stream = FakeTerminal()
    with ConsoleProgress(stream, quiet=True) as shown:
        shown.message("collecting facts from 1 hosts")
        shown.event(HostEvent("r1", "failed", "auth"))
    assert stream.getvalue() == ""


def local_inventory(tmp_path: Path) -> Path:
    """One local host without peers: the run reads local facts and sends no packet."""
    path = tmp_path / "inventory.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "pod_cidr": "10.42.0.0/16",
                "hosts": {"here": {"role": "vantage", "connect": {"local": True}}},
            }
        )
    )
    return path


def test_run_shows_progress_on_stderr_and_quiet_hides_it(tmp_path: Path) -> None:
    args = ["run", "-i", str(local_inventory(tmp_path)), "--no-mtu", "--no-capture"]
    result = CliRunner().invoke(main, args)
    assert result.stdout.splitlines()[0] == "BGP: no sessions in the inventory's scope"
    assert "[bgpdoctor] collecting facts from 1 hosts" in result.stderr
    assert "[bgpdoctor] here: " in result.stderr
    quiet = CliRunner().invoke(main, [*args, "-q"])
    assert quiet.stderr == ""
    assert quiet.stdout.splitlines()[0] == "BGP: no sessions in the inventory's scope"
    assert quiet.exit_code == result.exit_code


def test_a_broken_session_summary_costs_the_bgp_line_not_the_report(monkeypatch: pytest.MonkeyPatch) -> None:
    from bgpdoctor.report import outputs

    def broken(*_args: object) -> None:
        raise KeyError("router-x")

    monkeypatch.setattr(outputs, "status_of_facts", broken)
    result = CliRunner().invoke(main, ["replay", str(RUNS / "nat-rewrites-bgp-source.json")])
    assert result.exit_code == 1
    assert result.stdout.startswith("BGP: the sessions could not be summarised (KeyError: 'router-x')\n")
    assert "#1 nat-rewrites-bgp-source" in result.stdout
