"""Phase-1 commands run as one framed shell script per host; real shells cut it back apart."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from bgpdoctor.engine.collect import batch_script, split_batch

COMMANDS = {
    "ok": "echo hello; echo warning >&2",
    "fails": "echo partial; exit 3",
    "no-newline": "printf 'a\\tb'",
    "missing": "surely-not-a-command-bgpdoctor",
    "slow": "sleep 3",
    "quotes": "echo \"it's $((1+1))\" 'x'",
}


@pytest.mark.parametrize("shell", [s for s in ("sh", "dash", "bash", "busybox") if shutil.which(s)])
def test_batch_round_trip(shell: str) -> None:
    argv = [shell, "sh", "-c"] if shell == "busybox" else [shell, "-c"]
    script = batch_script(COMMANDS, "@@bgpdoctor-test", timeout=1)
    out = subprocess.run([*argv, script], capture_output=True, timeout=20, check=False).stdout
    results = split_batch(out, "@@bgpdoctor-test", COMMANDS)
    assert list(results) == list(COMMANDS)
    assert (results["ok"].exit_status, results["ok"].stdout, results["ok"].stderr) == (
        0,
        "hello\n",
        "warning\n",
    )
    assert (results["fails"].exit_status, results["fails"].stdout) == (3, "partial\n")
    assert results["no-newline"].stdout == "a\tb"
    assert results["missing"].command_missing
    assert results["slow"].timed_out and results["slow"].exit_status is None
    assert results["quotes"].stdout == "it's 2 x\n"
    assert results["quotes"].command == COMMANDS["quotes"]


def test_truncated_output_keeps_finished_commands() -> None:
    script = batch_script({"a": "echo one", "b": "echo two"}, "@@M", timeout=5)
    out = subprocess.run(["sh", "-c", script], capture_output=True, check=False).stdout
    cut = out[: out.index(b"@@M BEGIN b")]
    results = split_batch(cut, "@@M", {"a": "echo one", "b": "echo two"})
    assert list(results) == ["a"] and results["a"].stdout == "one\n"
