"""The TUI's stylesheet ships in the wheel: without it `bgpdoctor tui` fails at start when installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SOURCES = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "bgpdoctor", "checks", "playbooks"]


def test_wheel_carries_the_tui_stylesheet(tmp_path: Path) -> None:
    src, dist = tmp_path / "src", tmp_path / "dist"
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist)]
    proc = subprocess.run([*argv, str(src)], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = dist.glob("bgpdoctor-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bgpdoctor/tui/bgpdoctor.tcss" in names
    from bgpdoctor.tui.app import BgpDoctorApp

    assert BgpDoctorApp.CSS_PATH == "bgpdoctor.tcss"
