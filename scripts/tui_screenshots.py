#!/usr/bin/env python3
"""Write an SVG screenshot of each `bgpdoctor tui` screen to docs/screenshots/, from recorded runs.

Usage: python3 scripts/tui_screenshots.py [--size 100x30] [--out docs/screenshots]
Same recordings and keys as the snapshot tests (tests/unit/tui/test_snapshots.py), at a larger size.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from textual.widgets import Input, Select  # noqa: E402

from bgpdoctor.tui.app import BgpDoctorApp  # noqa: E402
from bgpdoctor.tui.source import ReplaySource  # noqa: E402

RUNS = REPO / "captures" / "runs"
COMBINED = "combined/ip-forward-disabled+mtu-blackhole"
# file name -> (recording, keys pressed once the run is on screen, host and status filters)
SHOTS: dict[str, tuple[str, tuple[str, ...], tuple[str, str] | None]] = {
    "tui-run": ("mtu-blackhole", (), None),
    "tui-topology": ("node-not-listening", ("2",), None),
    "tui-findings": (COMBINED, ("3",), None),
    "tui-root-cause": ("mtu-blackhole", ("3", "enter"), None),
    "tui-evidence": ("mtu-blackhole", ("3", "enter", "e"), None),
    "tui-fix": ("mtu-blackhole", ("3", "enter", "f", "down", "down"), None),
    "tui-checks": (COMBINED, ("4",), ("router-home", "fail")),
}


async def shoot(
    recording: str, keys: tuple[str, ...], filters: tuple[str, str] | None, size: tuple[int, int]
) -> str:
    app = BgpDoctorApp(ReplaySource(RUNS / f"{recording}.json"))
    app.animation_level = "none"
    async with app.run_test(size=size) as pilot:
        while app.running:
            await pilot.pause(0.05)
        await pilot.pause()
        await pilot.press(*keys)
        if filters is not None:
            app.query_one("#filter-host", Input).value = filters[0]
            app.query_one("#filter-status", Select).value = filters[1]
            await pilot.pause()
            app.query_one("#check-table").focus()
        await pilot.pause()
        return app.export_screenshot(title=f"bgpdoctor tui --replay {recording}.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="100x30", help="terminal COLUMNSxROWS (default 100x30)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    columns, rows = (int(n) for n in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (recording, keys, filters) in SHOTS.items():
        path = args.out / f"{name}.svg"
        path.write_text(asyncio.run(shoot(recording, keys, filters, (columns, rows))), encoding="utf-8")
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


if __name__ == "__main__":
    main()
