"""Run commands on this machine (LocalConnection) and the subprocess helper netns.py shares."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time

from bgpdoctor.transport.base import DEFAULT_MAX_OUTPUT, CommandResult


def run_argv(
    argv: list[str], command: str, timeout: float, max_output: int = DEFAULT_MAX_OUTPUT
) -> CommandResult:
    """Run argv, capture stdout (bytes) and stderr, and kill its process group on timeout.

    The child gets its own session, so on timeout the whole group it started (e.g. the `sleep`
    below `sh -c`) is killed; otherwise a grandchild holding the pipes would block us. Once stdout
    or stderr passes `max_output` bytes, reading stops and the group is killed the same way: the
    result holds the first `max_output` bytes, ``truncated=True`` and exit status None (the command
    did not finish).
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
    out, err = bytearray(), bytearray()
    timed_out = truncated = False
    deadline = start + timeout
    assert proc.stdout is not None and proc.stderr is not None  # both are pipes
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ, out)
        selector.register(proc.stderr, selectors.EVENT_READ, err)
        while selector.get_map() and not truncated:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                buffer: bytearray = key.data
                buffer += chunk
                if len(buffer) > max_output:
                    del buffer[max_output:]
                    truncated = True
    if not (timed_out or truncated):
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
    if timed_out or truncated:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group of the child we started, nothing else
    if timed_out:
        _drain(proc, out, err, max_output)
    proc.stdout.close()
    proc.stderr.close()
    status = proc.wait()
    return CommandResult(
        command,
        None if timed_out or truncated else status,
        bytes(out),
        err.decode("utf-8", "replace"),
        time.monotonic() - start,
        timed_out=timed_out,
        truncated=truncated,
    )


def _drain(proc: subprocess.Popen[bytes], out: bytearray, err: bytearray, max_output: int) -> None:
    """What the killed group wrote before it died (briefly: a process that left the group may hold
    the pipes open)."""
    assert proc.stdout is not None and proc.stderr is not None
    until = time.monotonic() + 0.5
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ, out)
        selector.register(proc.stderr, selectors.EVENT_READ, err)
        while selector.get_map() and (remaining := until - time.monotonic()) > 0:
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, 65536)
                buffer: bytearray = key.data
                if not chunk or len(buffer) >= max_output:
                    selector.unregister(key.fileobj)
                    continue
                buffer += chunk[: max_output - len(buffer)]


class LocalConnection:
    """Runs commands with ``sh -c`` on the machine bgpdoctor runs on.

    Example: ``LocalConnection("me").run("uname -s").stdout`` -> ``"Linux\\n"``.
    """

    stops_at_max_output = True  # kills the command at max_output (run_argv)

    def __init__(self, name: str) -> None:
        self.host = name

    def run(self, command: str, timeout: float = 10.0, max_output: int = DEFAULT_MAX_OUTPUT) -> CommandResult:
        """Run command through ``sh -c``; a timeout gives exit_status None and timed_out True."""
        return run_argv(["sh", "-c", command], command, timeout, max_output)

    def close(self) -> None:
        """Nothing to close."""
