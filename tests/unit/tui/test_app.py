"""What a user of `bgpdoctor tui` sees and what each key does, driven with Pilot on recorded runs."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import DataTable, Input, Log, OptionList, Select, Static, TabbedContent, TextArea

from bgpdoctor.engine.progress import HostEvent, OnEvent
from bgpdoctor.tui.app import TONE, BgpDoctorApp
from bgpdoctor.tui.screens import CauseScreen, EvidenceScreen, FixScreen, SaveFixScreen
from bgpdoctor.tui.source import Progress, ReplaySource, RunResult
from tests.unit.tui.tui_helpers import RUNS, finished, replay_app


def _cells(table: DataTable[object], column: str) -> list[str]:
    return [str(table.get_cell(row, column)) for row in table.rows]


def test_replay_shows_each_host_done_and_the_verdict() -> None:
    async def go() -> None:
        app = replay_app("mtu-blackhole")
        async with app.run_test(size=(80, 24)) as pilot:
            await finished(pilot)
            hosts = app.query_one("#hosts", DataTable)
            assert _cells(hosts, "host") == [
                "router-mine",
                "router-home",
                "sakamoto",
                "yuuko-k8s",
                "metrics-server",
            ]
            assert set(_cells(hosts, "state")) == {"done"}
            summary = str(app.query_one("#run-summary", Static).render())
            assert "1 finding(s)" in summary and "1 root cause(s)" in summary
            assert app.focused is app.query_one("#hosts")

    asyncio.run(go())


@pytest.mark.parametrize(
    ("key", "tab", "focus"),
    [
        ("2", "topology", "sessions"),
        ("3", "findings", "finding-list"),
        ("4", "checks", "check-table"),
        ("1", "run", "hosts"),
    ],
)
def test_number_keys_switch_tab_and_focus(key: str, tab: str, focus: str) -> None:
    async def go() -> None:
        app = replay_app("mtu-blackhole")
        async with app.run_test(size=(80, 24)) as pilot:
            await finished(pilot)
            await pilot.press("3" if key == "1" else "1", key)
            assert app.query_one(TabbedContent).active == tab
            assert app.focused is not None and app.focused.id == focus

    asyncio.run(go())


def test_finding_to_root_cause_to_evidence_to_fix_and_back() -> None:
    async def go() -> None:
        app = replay_app("mtu-blackhole")
        async with app.run_test(size=(80, 24)) as pilot:
            await finished(pilot)
            assert app.result is not None
            diagnosis = app.result.report.diagnoses[0]
            await pilot.press("3", "enter")
            assert isinstance(app.screen, CauseScreen)
            assert app.screen.diagnosis.root_cause == "mtu-blackhole"
            cause_text = str(app.screen.query_one("#cause-text", Static).render())
            assert diagnosis.summary.split(":")[0] in cause_text

            await pilot.press("e")
            assert isinstance(app.screen, EvidenceScreen)
            output = app.screen.query_one("#evidence-output", TextArea).text
            assert diagnosis.evidence[0].output.splitlines()[0] in output
            await pilot.press("down")  # the next evidence item replaces the output
            assert (
                diagnosis.evidence[1].output.splitlines()[0]
                in app.screen.query_one("#evidence-output", TextArea).text
            )

            await pilot.press("escape", "f")
            assert isinstance(app.screen, FixScreen)
            assert app.screen.query_one("#fix-text", TextArea).text == diagnosis.fixes[0].text
            await pilot.press("escape")
            assert isinstance(app.screen, CauseScreen)
            await pilot.press("escape")
            assert app.screen is app.default_screen
            assert app.focused is app.query_one("#finding-list")

    asyncio.run(go())


def test_save_writes_the_rendered_fix_to_the_file_given(tmp_path: Path) -> None:
    async def go() -> None:
        app = replay_app("mtu-blackhole")
        async with app.run_test(size=(80, 24)) as pilot:
            await finished(pilot)
            assert app.result is not None
            fix = app.result.report.diagnoses[0].fixes[2]  # nftables on router-mine
            await pilot.press("3", "enter", "f", "down", "down", "s")
            assert isinstance(app.screen, SaveFixScreen)
            path_input = app.screen.query_one("#save-path", Input)
            assert path_input.value == "fix-mtu-blackhole-nftables-router-mine.txt"
            path_input.value = str(tmp_path / "frag-needed.nft")
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, FixScreen)
            saved = (tmp_path / "frag-needed.nft").read_text(encoding="utf-8")
            assert saved == fix.text.rstrip("\n") + "\n"
            assert "nft insert rule inet bdl_fault output" in saved

    asyncio.run(go())


def test_save_to_a_missing_folder_says_so_and_stays_open(tmp_path: Path) -> None:
    async def go() -> None:
        app = replay_app("mtu-blackhole")
        async with app.run_test(size=(80, 24)) as pilot:
            await finished(pilot)
            await pilot.press("3", "enter", "f", "s")
            app.screen.query_one("#save-path", Input).value = str(tmp_path / "no" / "such" / "fix.txt")
            await pilot.press("enter")
            assert isinstance(app.screen, SaveFixScreen)
            assert "cannot write" in str(app.screen.query_one("#save-error", Static).render())
            await pilot.press("escape")
            assert isinstance(app.screen, FixScreen)

    asyncio.run(go())


def test_copy_puts_the_fix_on_the_clipboard() -> None:
    async def go() -> None:
        app = replay_app("mtu-blackhole")
        async with app.run_test(size=(80, 24)) as pilot:
            await finished(pilot)
            assert app.result is not None
            await pilot.press("3", "enter", "f", "down", "c")
            assert app.clipboard == app.result.report.diagnoses[0].fixes[1].text

    asyncio.run(go())


def test_filters_narrow_the_checks_table() -> None:
    async def go() -> None:
        app = replay_app("combined/ip-forward-disabled+mtu-blackhole")
        async with app.run_test(size=(80, 24)) as pilot:
            await finished(pilot)
            assert app.result is not None
            table = app.query_one("#check-table", DataTable)
            total = len(app.result.report.results)
            await pilot.press("4")
            assert table.row_count == total

            await pilot.press("slash")
            assert app.focused is app.query_one("#filter-host")
            await pilot.press(*"router-home")
            by_host = table.row_count
            assert 0 < by_host < total
            assert all("router-home" in s for s in _cells(table, "subject"))
            assert (
                "\n".join(app.query_one("#log", Log).lines).count("evaluating") == 1
            )  # "r" was typed, not run

            app.query_one("#filter-status", Select).value = "fail"
            await pilot.pause()
            assert 0 < table.row_count < by_host
            assert set(_cells(table, "status")) == {"FAIL"}

            app.query_one("#filter-host", Input).value = ""
            app.query_one("#filter-cause", Select).value = "mtu-blackhole"
            await pilot.pause()
            causes = _cells(table, "root cause")
            assert causes and set(causes) == {"mtu-blackhole"}
            assert set(_cells(table, "status")) == {"FAIL"}

            await pilot.press("escape")  # leaves the select; enter on a row opens its evidence
            table.focus()
            await pilot.press("enter")
            assert isinstance(app.screen, EvidenceScreen)
            assert "mtu-blackhole" not in app.screen.heading and "@" in app.screen.heading

    asyncio.run(go())


def test_topology_colours_each_end_by_its_state() -> None:
    async def go() -> None:
        app = replay_app("speaker-down")
        async with app.run_test(size=(80, 24)) as pilot:
            await finished(pilot)
            await pilot.press("2")
            table = app.query_one("#sessions", DataTable)
            row = table.get_row("router-mine<->router-home")
            first, second, verdict = row[1], row[2], row[3]
            assert isinstance(first, Text) and isinstance(second, Text) and isinstance(verdict, Text)
            assert (str(first), first.style) == ("active", TONE["bad"])
            assert (str(second), second.style) == ("?", TONE["unknown"])  # the daemon could not be read
            assert (str(verdict), verdict.style) == ("down", TONE["bad"])
            established = table.get_row("router-mine<->sakamoto")
            assert [str(c) for c in established[1:]] == ["established", "established", "established"]
            assert all(c.style == TONE["ok"] for c in established[1:] if isinstance(c, Text))
            sites = str(app.query_one("#sites", Static).render())
            assert "site mine" in sites and "site home" in sites and "router-mine" in sites

    asyncio.run(go())


def test_topology_lists_every_site_and_switch() -> None:
    async def go() -> None:
        app = replay_app("bgp-filtered-unseen")
        async with app.run_test(size=(100, 40)) as pilot:
            await finished(pilot)
            sites = str(app.query_one("#sites", Static).render())
            for name in (
                "site mine",
                "site home",
                "site wds",
                "site iepl",
                "site lb",
                "switch zt",
                "192.168.191.0/24",
            ):
                assert name in sites

    asyncio.run(go())


def test_healthy_run_says_no_findings() -> None:
    async def go() -> None:
        app = replay_app("healthy")
        async with app.run_test(size=(80, 24)) as pilot:
            await finished(pilot)
            await pilot.press("3")
            assert app.query_one("#finding-list", OptionList).option_count == 0
            assert "no findings" in str(app.query_one("#findings-head", Static).render())

    asyncio.run(go())


def test_rerun_of_a_replay_evaluates_the_recording_again() -> None:
    async def go() -> None:
        app = replay_app("mtu-blackhole")
        async with app.run_test(size=(80, 24)) as pilot:
            await finished(pilot)
            first = app.result
            await pilot.press("r")
            await finished(pilot, runs=2)
            assert app.result is not first and app.result is not None
            assert app.result.report.diagnoses[0].root_cause == "mtu-blackhole"
            log = "\n".join(app.query_one("#log", Log).lines)
            assert log.count("evaluating the recording") == 2
            assert "cannot contact router-mine" in log
            await pilot.press("R")
            await finished(pilot, runs=3)
            assert "\n".join(app.query_one("#log", Log).lines).count("evaluating the recording") == 3

    asyncio.run(go())


class _SlowSource(ReplaySource):
    """A recording whose run reports host states, then waits until the test lets it finish."""

    def __init__(self) -> None:
        super().__init__(RUNS / "mtu-blackhole.json")
        self.release = threading.Event()
        self.reported = threading.Event()

    def run(self, progress: Progress, on_event: OnEvent) -> RunResult:
        on_event(HostEvent("router-mine", "probing"))
        on_event(HostEvent("sakamoto", "failed", "timeout: no answer in 10s"))
        self.reported.set()
        self.release.wait(10)
        return super().run(progress, on_event)


def test_keys_work_while_the_engine_runs_and_host_states_show_live() -> None:
    async def go() -> None:
        source = _SlowSource()
        app = BgpDoctorApp(source)
        async with app.run_test(size=(80, 24)) as pilot:
            await asyncio.to_thread(source.reported.wait, 10)
            await pilot.pause()
            hosts = app.query_one("#hosts", DataTable)
            assert str(hosts.get_cell("router-mine", "state")) == "probing"
            assert str(hosts.get_cell("sakamoto", "state")) == "failed"
            assert str(hosts.get_cell("sakamoto", "detail")) == "timeout: no answer in 10s"
            assert str(hosts.get_cell("router-home", "state")) == "waiting"
            await pilot.press("2")  # not blocked by the running engine
            assert app.query_one(TabbedContent).active == "topology"
            await pilot.press("R")  # one run at a time
            assert app.running
            source.release.set()
            await finished(pilot)
            assert not app.running and app.result is not None

    asyncio.run(go())


def test_a_failing_engine_is_shown_not_crashed() -> None:
    class Broken(ReplaySource):
        def run(self, progress: Progress, on_event: OnEvent) -> RunResult:
            raise RuntimeError("judge exploded")

    async def go() -> None:
        app = BgpDoctorApp(Broken(RUNS / "mtu-blackhole.json"))
        async with app.run_test(size=(80, 24)) as pilot:
            await finished(pilot)
            assert "run failed: RuntimeError: judge exploded" in str(
                app.query_one("#run-summary", Static).render()
            )
            await pilot.press("3")
            assert app.query_one(TabbedContent).active == "findings"

    asyncio.run(go())
