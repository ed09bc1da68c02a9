"""Run commands on this machine (LocalConnection) and the subprocess helper netns.py shares."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

from bgpdoctor.transport.base import CommandResult


def run_argv(argv: list[str], command: str, timeout: float) -> CommandResult:
    """Run argv, capture stdout (bytes) and stderr, and kill its process group on timeout.

    The child gets its own session, so on timeout the whole group it started (e.g. the `sleep`
    below `sh -c`) is killed; otherwise a grandchild holding the pipes would block us.
    Example: ``run_argv(["sh", "-c", "echo hi"], "echo hi", 5)`` ->
    ``CommandResult(command="echo hi", exit_status=0, stdout_bytes=b"hi\\n", stderr="", ...)``.
    """
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        return CommandResult(command, 127, b"", f"{argv[0]}: {exc.strerror}", time.monotonic() - start)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group of the child we started, nothing else
        out, err = proc.communicate()
        return CommandResult(
            command, None, out, err.decode("utf-8", "replace"), time.monotonic() - start, timed_out=True
        )
    return CommandResult(
        command, proc.returncode, out, err.decode("utf-8", "replace"), time.monotonic() - start
    )


class LocalConnection:
    """Runs commands with ``sh -c`` on the machine bgpdoctor runs on.

    Example: ``LocalConnection("me").run("uname -s").stdout`` -> ``"Linux\\n"``.
    """

    def __init__(self, name: str) -> None:
        self.host = name

    def run(self, command: str, timeout: float = 10.0) -> CommandResult:
        """Run command through ``sh -c``; a timeout gives exit_status None and timed_out True."""
        return run_argv(["sh", "-c", command], command, timeout)

    def close(self) -> None:
        """Nothing to close."""
