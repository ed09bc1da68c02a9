"""Several probe commands in one SSH exec, run side by side on the host, each answer framed.

Every SSH exec starts the user's shell on the host, and a shell that reads a startup file (bash
reads ~/.bashrc when sshd starts it) can cost more CPU than the probes themselves: a `pyenv init`
there cost 111 ms per exec against 1-3 ms for a ping; on a slow link each exec is also a round
trip. The probes a host can send at once (its pings, the
first DF probe of each sweep, the kubelet probes) therefore go in one script: each command runs in
the background under `timeout` (when the host has it), and prints its stderr, its stdout and its
exit status as one block with a single write. A block stays under BLOCK_LIMIT so the write is
atomic on the pipe (PIPE_BUF is 4096 on Linux): blocks never interleave. A longer answer is not
sent; it is told as SKIP and the command is run again on its own (`None` below), as is any command
whose block cannot be read back: an answer that could not be read is never taken for one.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Callable

from bgpdoctor.transport.base import CommandResult

BLOCK_LIMIT = 3000  # characters of one command's framed answer (stderr + stdout + status)
KILL_AFTER_S = 2  # seconds `timeout -k` waits after SIGTERM before it sends SIGKILL
_JOBS_START = "\nbp_j() { "


def timeout_lookup(seconds: int) -> list[str]:
    """Shell lines that set $T to the host's `timeout` for `seconds`, with SIGKILL KILL_AFTER_S after
    SIGTERM where it takes -k ('' on a host without `timeout`); the probe and collection batches'.

    Example: timeout_lookup(5)[2] -> "  if timeout -k 1 5 true >/dev/null 2>&1; then T='timeout -k 2 5'"
    """
    return [
        "T=''",
        "if command -v timeout >/dev/null 2>&1; then",
        f"  if timeout -k 1 5 true >/dev/null 2>&1; then T='timeout -k {KILL_AFTER_S} {seconds}'",
        f"  elif timeout 5 true >/dev/null 2>&1; then T='timeout {seconds}'",
        f"  elif timeout -t 5 true >/dev/null 2>&1; then T='timeout -t {seconds}'; fi",  # old busybox
        "fi",
    ]


def probe_batch_script(commands: list[str], marker: str, timeout: float) -> str:
    """One POSIX sh script running `commands` side by side; read its answer with parse_probe_batch.

    Example: probe_batch_script(["ping -n -c 1 10.0.0.1"], "@@P", 10) prints
    "@@P BEGIN 0\\n<stderr>\\n@@P OUT\\n<stdout>\\n<exit status>\\n@@P END 0\\n".
    """
    seconds = max(1, math.ceil(timeout))
    mark = shlex.quote(marker)
    lines = [
        *timeout_lookup(seconds),
        # stderr goes to fd 3, the block's capture, before the stdout and the status printed after it
        "bp_j() { i=$1; shift; b=$( { o=$( $T sh -c \"$1\" 2>&3 </dev/null; printf '\\n%s' $? ); "
        f"printf '\\n%s OUT\\n%s' {mark} \"$o\"; }} 3>&1 ); "
        f"if [ ${{#b}} -gt {BLOCK_LIMIT} ]; then printf '%s SKIP %s\\n' {mark} \"$i\"; "
        f'else printf \'%s BEGIN %s\\n%s\\n%s END %s\\n\' {mark} "$i" "$b" {mark} "$i"; fi; }}',
        *(f"( bp_j {i} {shlex.quote(command)} ) &" for i, command in enumerate(commands)),
        "wait",
    ]
    return "\n".join(lines) + "\n"


def is_probe_batch(script: str) -> bool:
    return script.startswith("T=''\n") and _JOBS_START in script


def probe_batch_commands(script: str) -> list[str]:
    """The commands of a probe_batch_script(), in order: for a host that is a fake (tests).

    Example: probe_batch_commands(probe_batch_script(["ping a", "ping b"], "@@P", 5)) -> ["ping a", "ping b"]
    """
    words = shlex.split(script.partition(_JOBS_START)[2].partition("\n")[2])
    return [words[i + 3] for i in range(len(words) - 3) if words[i : i + 2] == ["(", "bp_j"]]


def _marker(script: str) -> str:
    return shlex.split(script.split("printf '\\n%s OUT\\n%s' ", 1)[1])[0]


def parse_probe_batch(answer: CommandResult, marker: str, commands: list[str]) -> list[CommandResult | None]:
    """Each command's result from the batch's answer; None for one whose block is missing, too long
    or cannot be read (the caller runs that command alone). A timed-out command (status 124 or
    137 from `timeout`) is a timed-out result, as when the connection's own timer stops it.
    """
    results: list[CommandResult | None] = [None] * len(commands)
    text = answer.stdout_bytes.decode("utf-8", "surrogateescape")
    if answer.truncated:
        return results
    pattern = re.compile(
        rf"^{re.escape(marker)} BEGIN (\d+)\n(.*?)\n{re.escape(marker)} END \1\n", re.DOTALL | re.MULTILINE
    )
    rest = pattern.sub("", text)
    rest = re.sub(rf"^{re.escape(marker)} SKIP \d+\n", "", rest, flags=re.MULTILINE)
    if rest.strip():
        return results  # something outside the blocks: a block was cut or interleaved; trust none
    for match in pattern.finditer(text):
        index = int(match.group(1))
        err, sep, out = match.group(2).partition(f"\n{marker} OUT\n")
        stdout, newline, status = out.rpartition("\n")
        if index >= len(commands) or not sep or not newline or not status.isdigit():
            continue
        code = int(status)
        if code in (124, 137):
            continue  # stopped by `timeout` (or killed): run alone, under the connection's own timer
        results[index] = CommandResult(
            commands[index], code, stdout.encode("utf-8", "surrogateescape"), err, answer.duration_s
        )
    return results


def frame_probe_batch(script: str, answer: Callable[[str], CommandResult]) -> CommandResult:
    """What a host sends for a probe_batch_script(), when each command gives answer(command): a fake
    host (tests). Blocks come in the commands' order."""
    marker = _marker(script)
    out = ""
    for i, command in enumerate(probe_batch_commands(script)):
        result = answer(command)
        block = f"{result.stderr}\n{marker} OUT\n{result.stdout}\n{result.exit_status}"
        if len(block) > BLOCK_LIMIT:
            out += f"{marker} SKIP {i}\n"
        else:
            out += f"{marker} BEGIN {i}\n{block}\n{marker} END {i}\n"
    return CommandResult(script, 0, out.encode())
