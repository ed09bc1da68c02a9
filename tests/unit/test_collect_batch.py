"""Phase-1 commands run as one framed shell script per host; real shells cut it back apart, every
fact is bounded and redacted before it is stored, and a command cannot hold a host past its timeout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from bgpdoctor.engine.collect import (
    KILL_AFTER_S,
    MAX_OUTPUT_ENV,
    HostFacts,
    batch_script,
    collect_all,
    collect_host,
    max_output_setting,
    split_batch,
)
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.world import World
from bgpdoctor.errors import HostError, UsageError
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.redact import REDACTED
from bgpdoctor.transport.local import LocalConnection

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


# --- bounds, timeout -k, redaction at collection ----------------------------------------------


def _inventory(tmp_name: str = "me") -> Inventory:
    return Inventory.model_validate({"hosts": {tmp_name: {"role": "vantage", "connect": {"local": True}}}})


def _collect(commands: dict[str, str], timeout: float, max_output: int | None = None) -> HostFacts:
    inv = _inventory()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("bgpdoctor.engine.collect.fact_commands", lambda _host: commands)
        return collect_host("me", inv, LocalConnection, timeout, lambda _m: None, max_output)


def _processes_with(word: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if word in line and "ps -eo" not in line]


def test_a_command_ignoring_sigterm_is_killed_after_the_grace_period() -> None:
    tag = f"bd-trap-{os.getpid()}"
    start = time.monotonic()
    facts = _collect({"stubborn": f"trap '' TERM; sleep 30 # {tag}", "after": "echo next"}, timeout=1)
    elapsed = time.monotonic() - start
    stubborn = facts.outputs["stubborn"]
    assert stubborn.timed_out and stubborn.exit_status is None
    assert facts.outputs["after"].stdout == "next\n", "the host is free for the next command"
    assert elapsed < 1 + KILL_AFTER_S + 2, f"took {elapsed:.1f}s"
    time.sleep(0.2)
    assert _processes_with(tag) == [], "nothing of the command is left running"


def test_one_fact_is_bounded_and_marked_truncated() -> None:
    facts = _collect(
        {
            "huge": "head -c 5000000 /dev/zero | tr '\\0' x",
            "noisy": "head -c 300000 /dev/zero >&2",
            "ok": "echo ok",
        },
        timeout=10,
        max_output=100_000,
    )
    huge, noisy, ok = facts.outputs["huge"], facts.outputs["noisy"], facts.outputs["ok"]
    assert huge.truncated and huge.stdout_bytes == b"x" * 100_000 and huge.exit_status is None
    assert not huge.ok, "a cut output is never read as the whole answer"
    assert huge.truncation_note == "[output truncated at 97.66 KiB]"
    assert noisy.truncated and len(noisy.stderr) <= 100_000
    assert (ok.stdout, ok.truncated, ok.exit_status) == ("ok\n", False, 0)


def test_split_batch_cuts_what_a_host_without_head_sends() -> None:
    marker = "@@M"
    framed = b"@@M BEGIN big\n" + b"y" * 5000 + b"\n@@M END big 0\n@@M BEGIN ok\nfine\n\n@@M END ok 0\n"
    results = split_batch(framed, marker, {"big": "cat big", "ok": "echo fine"}, max_output=1024)
    assert results["big"].truncated and results["big"].stdout_bytes == b"y" * 1024
    assert results["big"].exit_status is None
    assert not results["ok"].truncated and results["ok"].stdout == "fine\n"


def test_a_carriage_return_in_stderr_stays_in_stderr() -> None:
    framed = b"@@M BEGIN a\n@@M ERR progress 10%\rprogress 100%\nout\n\n@@M END a 0\n"
    result = split_batch(framed, "@@M", {"a": "x"})["a"]
    assert (result.stdout, result.stderr) == ("out\n", "progress 10%\rprogress 100%\n")


def test_collected_outputs_are_redacted_before_they_are_stored() -> None:
    facts = _collect(
        {
            "gobgp": """echo '[{"conf":{"neighbor_address":"10.0.0.1","auth_password":"hunter2-gobgp"}}]'""",
            "bird": """echo 'password "hunter2-bird";' >&2; echo 'BGP state: Established'""",
        },
        timeout=5,
    )
    gobgp, bird = facts.outputs["gobgp"], facts.outputs["bird"]
    assert json.loads(gobgp.stdout)[0]["conf"] == {"neighbor_address": "10.0.0.1", "auth_password": REDACTED}
    assert bird.stderr == f'password "{REDACTED}";\n' and bird.stdout == "BGP state: Established\n"


def test_a_host_error_message_is_redacted() -> None:
    inv = _inventory()

    def refuse(name: str) -> LocalConnection:
        raise HostError(name, "auth", "login failed: password=hunter2-error")

    facts = collect_host("me", inv, refuse, 5, lambda _m: None)
    assert facts.error is not None and facts.error.message == f"login failed: password={REDACTED}"


@pytest.mark.parametrize(
    ("value", "size"),
    [(None, 8 << 20), ("", 8 << 20), ("16M", 16 << 20), ("512KiB", 512 << 10), ("4096", 4096)],
)
def test_max_output_setting(value: str | None, size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_OUTPUT_ENV, raising=False)
    if value is not None:
        monkeypatch.setenv(MAX_OUTPUT_ENV, value)
    assert max_output_setting() == size


@pytest.mark.parametrize("value", ["lots", "12", "-5M", "1T"])
def test_a_bad_max_output_is_a_usage_error(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_OUTPUT_ENV, value)
    with pytest.raises(UsageError, match=MAX_OUTPUT_ENV):
        collect_all(["me"], _inventory(), LocalConnection, 5, lambda _m: None)


def test_recordings_without_the_truncated_field_still_load(tmp_path: Path) -> None:
    runs = Path(__file__).resolve().parents[2] / "captures" / "runs"
    data = json.loads((runs / "healthy.json").read_text())
    assert all("truncated" not in r for h in data["hosts"].values() for r in h["outputs"].values())
    _inv, _path, _nodes, collected = load_recording(runs / "healthy.json")
    assert not any(r.truncated for f in collected.facts.values() for r in f.outputs.values())


def test_evidence_of_a_truncated_output_says_so() -> None:
    facts = _collect(
        {"huge": "head -c 3000000 /dev/zero | tr '\\0' x"}, timeout=10, max_output=2 * 1024 * 1024
    )
    evidence = World(_inventory(), {"me": facts}).evidence("me", "huge")
    assert evidence is not None and evidence.output.endswith("\n[output truncated at 2 MiB]")
