"""Layering as a test: parsers and transports import nothing of the engine, the core never
imports textual, and heavy libraries are imported only where they are used (so --help is fast)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "bgpdoctor"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _files(*folders: str) -> list[Path]:
    return [p for f in folders for p in sorted((PKG / f).rglob("*.py"))]


def test_parsers_and_transports_import_nothing_of_the_engine() -> None:
    for path in _files("parsers", "transport"):
        bad = {
            m
            for m in _imports(path)
            if m.startswith(("bgpdoctor.engine", "bgpdoctor.report", "bgpdoctor.cli"))
        }
        assert not bad, f"{path.relative_to(PKG.parent)} imports {sorted(bad)}"


def test_the_core_never_imports_textual() -> None:
    for path in PKG.rglob("*.py"):
        if "tui" in path.relative_to(PKG).parts:
            continue
        assert not {m for m in _imports(path) if m.split(".")[0] == "textual"}, path


def test_help_loads_no_heavy_library() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from bgpdoctor.cli import main;"
        "CliRunner().invoke(main, ['--help']);"
        "print(sorted(m for m in ('scapy', 'paramiko', 'kubernetes', 'pyroute2', 'textual', 'jinja2',"
        " 'pydantic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_tui_engine_adapters_import_no_textual() -> None:
    """The TUI's engine adapters and view model run headless (tests, other front ends): only the
    app, its screens and its command import textual; the progress events are core."""
    for name in ("source.py", "view.py", "__init__.py"):
        imported = _imports(PKG / "tui" / name)
        assert not {m for m in imported if m.split(".")[0] == "textual"}, name
    assert "textual" not in {m.split(".")[0] for m in _imports(PKG / "engine" / "progress.py")}


def test_tui_is_listed_by_help_without_importing_it() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from bgpdoctor.cli import main;"
        "out = CliRunner().invoke(main, ['--help']).output;"
        "print('tui' in out.split(), 'bgpdoctor.tui.app' in sys.modules, 'textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "False"], out.stdout
