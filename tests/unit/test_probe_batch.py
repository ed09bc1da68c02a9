"""A host's probes in one exec: each command's answer comes back as if it had run alone, and an
answer the batch could not bring back is None (run alone again), never a made-up result."""

from __future__ import annotations

import subprocess
import time

from bgpdoctor.probes.batch import (
    frame_probe_batch,
    parse_probe_batch,
    probe_batch_commands,
    probe_batch_script,
)
from bgpdoctor.transport.base import CommandResult

MARK = "@@bgpdoctor-probe-0123456789ab"


def _run_in_sh(script: str) -> CommandResult:
    proc = subprocess.run(["sh", "-c", script], capture_output=True, timeout=30, check=False)
    return CommandResult(script, proc.returncode, proc.stdout, proc.stderr.decode())


def test_each_command_answers_as_alone_with_its_stdout_stderr_and_exit_status() -> None:
    commands = [
        "echo warn >&2; printf 'a\\n\\n'; exit 3",
        "printf 'no newline'",
        'echo "it\'s quoted"',
        "sleep 0.5; echo slept",
    ]
    script = probe_batch_script(commands, MARK, 10)
    started = time.monotonic()
    results = parse_probe_batch(_run_in_sh(script), MARK, commands)

    assert time.monotonic() - started < 5
    assert [(r.command, r.exit_status, r.stdout_bytes, r.stderr) for r in results if r] == [
        (commands[0], 3, b"a\n\n", "warn\n"),
        (commands[1], 0, b"no newline", ""),
        (commands[2], 0, b"it's quoted\n", ""),
        (commands[3], 0, b"slept\n", ""),
    ]
    assert probe_batch_commands(script) == commands


def test_the_commands_run_side_by_side_not_one_after_the_other() -> None:
    commands = ["sleep 1; echo a", "sleep 1; echo b", "sleep 1; echo c"]
    started = time.monotonic()
    results = parse_probe_batch(_run_in_sh(probe_batch_script(commands, MARK, 10)), MARK, commands)

    assert time.monotonic() - started < 2.5
    assert [r.stdout for r in results if r] == ["a\n", "b\n", "c\n"]


def test_a_long_answer_or_a_cut_batch_is_none_to_run_alone() -> None:
    commands = ["head -c 5000 /dev/zero | tr '\\0' x", "echo short"]
    answer = _run_in_sh(probe_batch_script(commands, MARK, 10))
    long, short = parse_probe_batch(answer, MARK, commands)

    assert long is None and short is not None and short.stdout == "short\n"
    cut = CommandResult(answer.command, 0, answer.stdout_bytes[:-10])
    assert parse_probe_batch(cut, MARK, commands) == [None, None]
    garbage = CommandResult(answer.command, 127, b"", "% Invalid input detected\n")
    assert parse_probe_batch(garbage, MARK, commands) == [None, None]


def test_a_command_stopped_by_timeout_is_none_not_an_answer() -> None:
    commands = ["sleep 5", "echo quick"]
    slow, quick = parse_probe_batch(_run_in_sh(probe_batch_script(commands, MARK, 1)), MARK, commands)

    assert slow is None and quick is not None and quick.exit_status == 0


def test_a_fake_host_frames_its_answers_as_a_host_does() -> None:
    commands = ["ping -n -c 1 10.0.0.1", "ping -n -c 1 10.0.0.2"]
    script = probe_batch_script(commands, MARK, 10)
    answer = frame_probe_batch(script, lambda c: CommandResult(c, 1, c[-1].encode(), "err\n"))

    assert [(r.exit_status, r.stdout, r.stderr) for r in parse_probe_batch(answer, MARK, commands) if r] == [
        (1, "1", "err\n"),
        (1, "2", "err\n"),
    ]
