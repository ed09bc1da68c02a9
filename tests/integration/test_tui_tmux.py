"""`bgpdoctor tui` as a user runs it: the real program in a real terminal (tmux), keys sent with
send-keys, the screen read with capture-pane. Needs tmux, not the lab (it replays a recording)."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RECORDING = REPO / "captures" / "runs" / "mtu-blackhole.json"

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


# A private server that outlives its sessions: with the default socket, a new-session issued while
# the server exits after the last kill-session fails with exit 1 (seen once in CI).
SOCKET = f"bgpdoctor-tests-{os.getpid()}"
_server_started = False


def _run_tmux(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["tmux", "-L", SOCKET, "-f", "/dev/null", *args], capture_output=True, text=True, timeout=10
    )


def _tmux(*args: str) -> str:
    global _server_started
    if not _server_started:
        _run_tmux("start-server", ";", "set-option", "-g", "exit-empty", "off")
        atexit.register(_run_tmux, "kill-server")
        _server_started = True
    done = _run_tmux(*args)
    if done.returncode != 0:
        raise AssertionError(f"tmux {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def kill_session(name: str) -> None:
    _run_tmux("kill-session", "-t", name)


def _start(session: str, env: dict[str, str] | None = None) -> None:
    command = f"{sys.executable} -m bgpdoctor tui --replay {RECORDING}"
    environment = [f"-e{k}={v}" for k, v in (env or {}).items()]
    _tmux("new-session", "-d", "-s", session, "-x", "100", "-y", "30", "-c", str(REPO), *environment, command)


def _wait_for(
    session: str, found: Callable[[str], bool], seconds: float = 20.0, escapes: bool = False
) -> str:
    deadline = time.monotonic() + seconds
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", session)
        if found(screen):
            return screen
        time.sleep(0.1)
    raise AssertionError(f"not on screen after {seconds}s:\n{screen}")


@pytest.fixture
def session() -> Iterator[str]:
    name = f"bgpdoctor-tui-{uuid.uuid4().hex[:8]}"
    yield name
    kill_session(name)


def test_replay_in_a_real_terminal_shows_the_diagnosis(session: str) -> None:
    _start(session)
    _wait_for(session, lambda s: "1 finding(s)" in s and "Re-run host" in s)
    _tmux("send-keys", "-t", session, "3")
    _wait_for(session, lambda s: "#1 mtu-blackhole" in s)
    _tmux("send-keys", "-t", session, "Enter")
    _wait_for(session, lambda s: "Packets above the path MTU vanish" in s and "Evidence" in s)
    _tmux("send-keys", "-t", session, "f")
    _wait_for(session, lambda s: "fixes for mtu-blackhole" in s and "MTU: 1380" in s)
    _tmux("send-keys", "-t", session, "q")
    _wait_for(session, lambda s: "Re-run host" not in s, seconds=10)


def _colours(screen: str) -> list[tuple[int, int, int]]:
    """Every 24-bit foreground and background colour in a capture-pane -e dump."""
    return [(int(r), int(g), int(b)) for r, g, b in re.findall(r"[34]8;2;(\d+);(\d+);(\d+)", screen)]


def test_no_color_leaves_only_greys_on_the_terminal(session: str) -> None:
    _start(session, {"NO_COLOR": "1", "COLORTERM": "truecolor"})
    screen = _wait_for(session, lambda s: "1 finding(s)" in s, escapes=True)
    assert all(r == g == b for r, g, b in _colours(screen)), set(_colours(screen))
    coloured = f"{session}-colour"
    try:
        _start(coloured, {"COLORTERM": "truecolor"})
        screen = _wait_for(coloured, lambda s: "1 finding(s)" in s, escapes=True)
        assert any(not r == g == b for r, g, b in _colours(screen))
    finally:
        kill_session(coloured)
