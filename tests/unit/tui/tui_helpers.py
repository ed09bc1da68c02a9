"""Helpers for driving `bgpdoctor tui` with Pilot on runs recorded in the lab."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable

from bgpdoctor.tui.app import BgpDoctorApp
from bgpdoctor.tui.source import ReplaySource

RUNS = Path(__file__).resolve().parents[3] / "captures" / "runs"


def replay_app(name: str) -> BgpDoctorApp:
    """The TUI on captures/runs/<name>.json (name may name a subfolder: "combined/...")."""
    app = BgpDoctorApp(ReplaySource(RUNS / f"{name}.json"))
    app.animation_level = "none"  # the tab underline slides: a snapshot must not catch it midway
    return app


async def finished(pilot: Pilot[int], runs: int = 1) -> None:
    """Wait until `runs` results (or failures) of the engine are on screen, then for the repaint.

    The worker's state turns SUCCESS in its thread before the app has handled the messages that
    carry the result, so "not running" alone can catch a half-drawn screen on a loaded machine.
    """
    app = pilot.app
    assert isinstance(app, BgpDoctorApp)
    for _ in range(1200):  # a failed run is shown, not raised: poll instead of wait_for_complete()
        await pilot.pause(0.05)
        if not app.running and app.runs_shown >= runs:
            break

    # host updates may still be queued behind the result, and a DataTable re-measures its columns
    # on its own Idle event (Textual 8): a snapshot taken before both shows the host table's
    # "detail" column still narrow. Wait until the tables stop changing and nothing is pending.
    def state() -> list[tuple[int, bool]]:
        return [
            (t._update_count, bool(t._updated_cells or t._require_update_dimensions))
            for t in app.query(DataTable)
        ]

    before = state()
    for _ in range(100):
        await pilot.pause(0.1)
        now = state()
        if now == before and not any(pending for _, pending in now):
            break
        before = now
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
    await pilot.pause()
