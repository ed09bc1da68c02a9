"""SVG snapshots of each TUI screen at 80x24 on recorded runs (pytest-textual-snapshot).

After an intended change of the looks: `python3 -m pytest tests/unit/tui --snapshot-update`, then
look at the SVGs under tests/unit/tui/__snapshots__/ before committing them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select

from tests.unit.tui.tui_helpers import finished, replay_app

pytest.importorskip("pytest_textual_snapshot")

SnapCompare = Callable[..., bool]


def _then(*keys: str) -> Callable[[Pilot[int]], object]:
    async def run_before(pilot: Pilot[int]) -> None:
        await finished(pilot)
        await pilot.press(*keys)
        await pilot.pause()

    return run_before


def test_run_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(replay_app("mtu-blackhole"), run_before=_then())


def test_topology_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(replay_app("node-not-listening"), run_before=_then("2"))


def test_findings_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(replay_app("combined/ip-forward-disabled+mtu-blackhole"), run_before=_then("3"))


def test_root_cause_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(replay_app("mtu-blackhole"), run_before=_then("3", "enter"))


def test_evidence_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(replay_app("mtu-blackhole"), run_before=_then("3", "enter", "e"))


def test_fix_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(replay_app("mtu-blackhole"), run_before=_then("3", "enter", "f", "down", "down"))


def test_checks_screen_filtered(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[int]) -> None:
        await finished(pilot)
        await pilot.press("4")
        pilot.app.query_one("#filter-host", Input).value = "router-home"
        pilot.app.query_one("#filter-status", Select).value = "fail"
        await pilot.pause()
        pilot.app.query_one("#check-table").focus()
        await pilot.pause()

    assert snap_compare(replay_app("combined/ip-forward-disabled+mtu-blackhole"), run_before=run_before)
