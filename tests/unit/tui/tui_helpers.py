"""Helpers for driving `bgpdoctor tui` with Pilot on runs recorded in the lab."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from bgpdoctor.tui.app import BgpDoctorApp
from bgpdoctor.tui.source import ReplaySource

RUNS = Path(__file__).resolve().parents[3] / "captures" / "runs"


def replay_app(name: str) -> BgpDoctorApp:
    """The TUI on captures/runs/<name>.json (name may name a subfolder: "combined/...")."""
    app = BgpDoctorApp(ReplaySource(RUNS / f"{name}.json"))
    app.animation_level = "none"  # the tab underline slides: a snapshot must not catch it midway
    return app


async def finished(pilot: Pilot[int]) -> None:
    """Wait until the engine worker is done and its result is on screen."""
    app = pilot.app
    assert isinstance(app, BgpDoctorApp)
    for _ in range(600):  # a failed run is shown, not raised: poll instead of wait_for_complete()
        await pilot.pause(0.05)
        if not app.running:
            break
    await pilot.pause()
