"""The checks and playbooks load in every install scheme, not only from a checkout.

A wheel is built once from a copy of the source (as `pip wheel` would on a user's machine) and
installed into a fresh venv, with `--user` (PYTHONUSERBASE in a temporary folder), `--target` and
`--prefix`; each install then lists the checks, explains a root cause and replays a lab recording
from a folder outside the repository. Before the data moved into the wheel, `--user` and
`--prefix` loaded 0 checks and the replay said "no findings", exit 0.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bgpdoctor.cli import main
from bgpdoctor.engine import definition_files, rules

REPO = Path(__file__).resolve().parents[2]
RECORDING = REPO / "captures" / "runs" / "mtu-blackhole.json"
SOURCES = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "bgpdoctor", "checks", "playbooks"]
PY_VERSION = f"python{sys.version_info.major}.{sys.version_info.minor}"


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_", "BGPDOCTOR_"))}
    return subprocess.run(
        argv, cwd=cwd, env={**base, **(env or {})}, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One wheel for every scheme, built from a clean copy so no stale build/ folder can leak in."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, src / name)
    dist = tmp_path_factory.mktemp("dist")
    argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist)]
    proc = _run([*argv, str(src)], cwd=dist)
    assert proc.returncode == 0, proc.stderr
    (built,) = dist.glob("bgpdoctor-*.whl")
    return built


def test_wheel_carries_every_check_and_playbook(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in ("checks", "playbooks"):
        expected = {f"bgpdoctor/data/{kind}/{p.name}" for p in (REPO / kind).glob("*.yaml")}
        assert expected and expected <= names
    assert not any(n.startswith(("checks/", "playbooks/")) or ".data/data/share" in n for n in names)


def _pip_install(
    python: str, wheel: Path, cwd: Path, *scheme: str, env: dict[str, str] | None = None
) -> None:
    # --ignore-installed: never touch the developer's own (editable) bgpdoctor in site-packages
    argv = [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed"]
    proc = _run([*argv, "--disable-pip-version-check", *scheme, str(wheel)], cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stderr


Scheme = tuple[list[str], dict[str, str], Path]  # how to start bgpdoctor, its environment, where it lives


@pytest.fixture(scope="module", params=["venv", "user", "target", "prefix"])
def installed(
    request: pytest.FixtureRequest, wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> Scheme:
    kind: str = request.param
    home = tmp_path_factory.mktemp(kind)
    if kind == "venv":  # also what pipx does: a venv of its own, the console script in its bin/
        proc = _run(
            [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(home)], home
        )
        assert proc.returncode == 0, proc.stderr
        python = str(home / "bin" / "python")
        _pip_install(python, wheel, home)  # the system's pip, run by the venv's python, installs into it
        site = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], home).stdout
        return [str(home / "bin" / "bgpdoctor")], {}, Path(site.strip())
    if kind == "user":
        env = {"PYTHONUSERBASE": str(home)}
        _pip_install(sys.executable, wheel, home, "--user", env=env)
        site = Path(_run([sys.executable, "-m", "site", "--user-site"], home, env).stdout.strip())
        return [str(home / "bin" / "bgpdoctor")], env, site
    if kind == "target":
        _pip_install(sys.executable, wheel, home, "--target", str(home / "lib"))
        return [sys.executable, "-m", "bgpdoctor"], {"PYTHONPATH": str(home / "lib")}, home / "lib"
    _pip_install(sys.executable, wheel, home, "--prefix", str(home))
    purelib = sysconfig.get_path("purelib", vars={"base": str(home), "platbase": str(home)})
    return [sys.executable, "-m", "bgpdoctor"], {"PYTHONPATH": purelib}, Path(purelib)


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[Path]:
    """A working folder with no bgpdoctor checkout around it."""
    assert REPO not in tmp_path.parents
    yield tmp_path


def test_installed_package_is_the_one_used(installed: Scheme, outside: Path) -> None:
    start, env, site = installed
    python = (
        start[0] if start[1:2] == ["-m"] else Path(start[0]).read_text().splitlines()[0].removeprefix("#!")
    )
    proc = _run([python, "-c", "import bgpdoctor; print(bgpdoctor.__file__)"], outside, env)
    assert Path(proc.stdout.strip()).parent == site / "bgpdoctor", proc.stderr


def test_checks_load_explain_and_replay(installed: Scheme, outside: Path) -> None:
    start, env, _site = installed
    listing = _run([*start, "checks", "list"], outside, env)
    assert listing.returncode == 0, listing.stderr
    assert len(listing.stdout.splitlines()) == len(rules.load_checks())
    explained = _run([*start, "explain", "mtu-blackhole"], outside, env)
    assert explained.returncode == 0, explained.stderr
    assert explained.stdout.startswith("root cause mtu-blackhole:")
    replayed = _run([*start, "replay", str(RECORDING), "-o", "json"], outside, env)
    assert replayed.returncode == 1, replayed.stderr
    assert json.loads(replayed.stdout)["diagnoses"][0]["root_cause"] == "mtu-blackhole"


def test_no_checks_found_is_a_usage_error_naming_the_places(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a broken install used to do silently: 0 checks, "no findings", exit 0."""
    monkeypatch.setattr(definition_files, "project_root", lambda: tmp_path)  # not a checkout, nothing shipped
    result = CliRunner().invoke(main, ["replay", str(RECORDING)])
    assert result.exit_code == 2, result.output
    shipped = Path(rules.__file__).resolve().parents[1] / "data" / "checks"
    assert result.stderr == (
        f"bgpdoctor: no check definitions found; searched: {tmp_path / 'checks'} (no checkout), "
        f"{shipped} (missing)\n"
    )
    assert result.stdout == ""
    explained = CliRunner().invoke(main, ["explain", "mtu-blackhole"])
    assert explained.exit_code == 2 and "no check definitions found" in explained.stderr


def test_missing_user_folder_is_named(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["replay", str(RECORDING), "--checks", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.stderr == f"bgpdoctor: {tmp_path / 'nope'}: no such folder of checks\n"
