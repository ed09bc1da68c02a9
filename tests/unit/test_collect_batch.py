"""Phase-1 commands run as one framed shell script per host; real shells cut it back apart, every
fact is bounded and redacted before it is stored, and a command cannot hold a host past its timeout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from bgpdoctor.engine.collect import (
    KILL_AFTER_S,
    MAX_OUTPUT_ENV,
    SS_BGP_COMMAND,
    SS_LISTEN_COMMAND,
    SYSCTL_COMMAND,
    HostFacts,
    batch_commands,
    batch_facts,
    batch_script,
    collect_all,
    collect_host,
    frame_batch,
    in_login_shell,
    max_output_setting,
    reads_kernel_only,
    split_batch,
)
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.world import World
from bgpdoctor.errors import HostError, UsageError
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.parsers import ss
from bgpdoctor.redact import REDACTED
from bgpdoctor.transport.base import CommandResult
from bgpdoctor.transport.local import LocalConnection

COMMANDS = {
    "ok": "echo hello; echo warning >&2",
    "fails": "echo partial; exit 3",
    "no-newline": "printf 'a\\tb'",
    "missing": "surely-not-a-command-bgpdoctor",
    "slow": "sleep 3",
    "quotes": "echo \"it's $((1+1))\" 'x'",
    "glued": "printf 'out-without-newline'; printf 'err-without-newline' >&2",
    "exits": "echo before; exit 4; echo after",
    "reads-stdin": "cat",
    "guarded": "command -v not-a-tool-bgpdoctor >/dev/null 2>&1 || exit 0; not-a-tool-bgpdoctor",
    "kernel": "cat /proc/net/netstat",
}


@pytest.mark.parametrize("on_host", [True, False], ids=["head-on-host", "bound-by-transport"])
@pytest.mark.parametrize("shell", [s for s in ("sh", "dash", "bash", "busybox") if shutil.which(s)])
def test_batch_round_trip(shell: str, on_host: bool) -> None:
    argv = [shell, "sh", "-c"] if shell == "busybox" else [shell, "-c"]
    script = batch_script(COMMANDS, "@@bgpdoctor-test", timeout=1, bound_on_host=on_host)
    assert ("head -c" in script) is on_host
    done = subprocess.run([*argv, script], capture_output=True, timeout=20, check=False)
    results = split_batch(done.stdout, "@@bgpdoctor-test", COMMANDS, stderr=done.stderr.decode())
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
    glued = results["glued"]
    assert (glued.stdout, glued.stderr) == ("out-without-newline", "err-without-newline")
    assert (results["exits"].exit_status, results["exits"].stdout) == (4, "before\n")
    assert (results["reads-stdin"].exit_status, results["reads-stdin"].stdout) == (0, "")
    assert (results["guarded"].exit_status, results["guarded"].stdout) == (0, "")
    assert results["kernel"].exit_status == 0 and "TcpExt:" in results["kernel"].stdout


def test_truncated_output_keeps_finished_commands() -> None:
    script = batch_script({"a": "echo one", "b": "echo two"}, "@@M", timeout=5)
    done = subprocess.run(["sh", "-c", script], capture_output=True, check=False)
    cut = done.stdout[: done.stdout.index(b"@@M BEGIN b") + 14]
    results = split_batch(cut, "@@M", {"a": "echo one", "b": "echo two"}, stderr=done.stderr.decode())
    assert list(results) == ["a"] and results["a"].stdout == "one\n"
    cut_stderr = done.stderr.decode()[: done.stderr.decode().index("@@M BEGIN b") + 14]
    assert list(split_batch(done.stdout, "@@M", {"a": "x", "b": "y"}, stderr=cut_stderr)) == ["a"]


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
    framed = b"@@M BEGIN a\nout\n\n@@M END a 0\n"
    stderr = "\n@@M BEGIN a\nprogress 10%\rprogress 100%\n\n@@M DONE\n"
    result = split_batch(framed, "@@M", {"a": "x"}, stderr=stderr)["a"]
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


# --- what the host does per fact (issue 12: host CPU) -------------------------------------------


def test_kernel_reads_run_as_they_are_and_daemon_clients_under_timeout() -> None:
    commands = {
        "ip.addr": "ip -j addr show",
        "netstat": "cat /proc/net/netstat",
        "sysctl": SYSCTL_COMMAND,
        "bird.status": "birdc -s /run/bird.ctl -r show status",
        "frr": "vtysh -c 'show bgp summary json'",
        "log": "journalctl -n 5 | tail -n 1",
        "wg.dump": "command -v wg >/dev/null 2>&1 || exit 0; wg show all dump",
        "watch": "ip monitor",
        "file": "cat /var/log/bird.log",
    }
    script = batch_script(commands, "@@M", timeout=5)
    line = {fact: next(x for x in script.splitlines() if f"bd_b {fact};" in x) for fact in commands}
    assert "; ip -j addr show;" in line["ip.addr"] and "$T" not in line["ip.addr"]
    assert "$T" not in line["netstat"] + line["sysctl"]
    assert "$T birdc -s /run/bird.ctl -r show status;" in line["bird.status"], "no sh -c for one program"
    assert "$T vtysh -c 'show bgp summary json';" in line["frr"]
    assert "$T sh -c 'journalctl -n 5 | tail -n 1'" in line["log"]
    assert "then $T wg show all dump;" in line["wg.dump"], "the batch's shell looks for the tool"
    assert "$T ip monitor" in line["watch"] and "$T cat /var/log/bird.log" in line["file"]
    assert "sed" not in script, "stderr needs no sed per fact: it has its own stream"


@pytest.mark.parametrize(
    ("command", "kernel"),
    [
        ("ip -6 -j route show table main", True),
        ("ip -j route get fe80::2 oif eth0", True),
        ("ss -Htanp 'sport = :179 or dport = :179'", True),
        ("nft -j list ruleset", True),
        ("grep -H . /proc/sys/net/ipv6/conf/all/forwarding", True),
        ("ip netns exec x birdc show status", False),
        ("ip -batch /tmp/x", False),
        ("ss -E", False),
        ("nft monitor", False),
        ("cat /proc/kmsg", False),
        ("cat /proc/net/netstat; sleep 100", False),
        ("gobgp neighbor", False),
    ],
)
def test_which_commands_read_only_the_kernel(command: str, kernel: bool) -> None:
    assert reads_kernel_only(command) is kernel


def test_the_host_sends_at_most_the_bound_on_each_stream() -> None:
    commands = {
        "huge": "head -c 5000000 /dev/zero | tr '\\0' x",
        "noisy": "head -c 5000000 /dev/zero | tr '\\0' e >&2",
        "ok": "echo ok",
    }
    script = batch_script(commands, "@@M", timeout=10, max_output=100_000)
    done = subprocess.run(["sh", "-c", script], capture_output=True, timeout=60, check=False)
    framing = 1024
    assert len(done.stdout) <= 100_001 + framing and len(done.stderr) <= 100_001 + framing
    results = split_batch(done.stdout, "@@M", commands, 100_000, done.stderr.decode())
    assert results["huge"].truncated and results["huge"].stdout_bytes == b"x" * 100_000
    assert "ok" not in results, "cut short by the facts before it: run again, never read as empty"


def test_facts_cut_short_by_the_shared_bound_come_in_the_next_batch() -> None:
    commands = {
        "a": "head -c 60000 /dev/zero | tr '\\0' a",
        "b": "head -c 60000 /dev/zero | tr '\\0' b; head -c 20000 /dev/zero | tr '\\0' w >&2",
        "c": "echo c; exit 3",
    }
    facts = _collect(commands, timeout=10, max_output=100_000)
    a, b, c = (facts.outputs[f] for f in "abc")
    assert (a.stdout_bytes, a.truncated, a.exit_status) == (b"a" * 60000, False, 0)
    assert (b.stdout_bytes, b.stderr, b.truncated, b.exit_status) == (b"b" * 60000, "w" * 20000, False, 0)
    assert (c.stdout, c.exit_status) == ("c\n", 3)


SS_TABLE = """\
LISTEN    0 8    0.0.0.0:179        0.0.0.0:*     users:(("bird",pid=6709,fd=8))
UNCONN    0 0    10.0.5.2:179       0.0.0.0:*     users:(("bird",pid=6709,fd=12))
ESTAB     0 0    10.0.5.2:179       10.0.4.1:57423 users:(("bird",pid=6709,fd=9))
SYN-SENT  0 1    10.0.5.2:40001     10.0.6.1:179  users:(("bird",pid=6709,fd=10))
TIME-WAIT 0 0    10.0.5.2:40000     10.0.6.1:179
SYN-RECV  0 0    10.0.5.2:179       10.0.7.1:51000
"""


def test_one_ss_gives_the_listening_and_the_connected_sockets(tmp_path: Path) -> None:
    """`ss -p` walks every process's descriptors: the batch runs it once for both facts, and each
    fact gets the lines `ss -l` and plain `ss` would have printed, as its own command prints them."""
    calls = tmp_path / "calls"
    fake = tmp_path / "ss"
    fake.write_text(f"#!/bin/sh\necho \"$*\" >> {calls}\ncat <<'EOT'\n{SS_TABLE}EOT\n")
    fake.chmod(0o755)
    commands = {"ss.listen": SS_LISTEN_COMMAND, "ss.bgp": SS_BGP_COMMAND, "ok": "echo ok"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
        facts = _collect(commands, timeout=10)
        alone = {
            f: subprocess.run(["sh", "-c", c], capture_output=True, text=True, check=True).stdout
            for f, c in commands.items()
        }
    assert calls.read_text().count("-Htanp") == 3, "once in the batch, once per command run alone"
    listen, bgp = facts.outputs["ss.listen"], facts.outputs["ss.bgp"]
    assert [s.split()[0] for s in listen.stdout.splitlines()] == ["LISTEN", "UNCONN"]
    assert [s.split()[0] for s in bgp.stdout.splitlines()] == ["ESTAB", "SYN-SENT"]
    assert (listen.stdout, bgp.stdout) == (alone["ss.listen"], alone["ss.bgp"])
    assert (listen.command, bgp.command, listen.exit_status) == (SS_LISTEN_COMMAND, SS_BGP_COMMAND, 0)


def test_recordings_of_the_two_ss_commands_still_read_the_same() -> None:
    runs = Path(__file__).resolve().parents[2] / "captures" / "runs"
    _inv, _path, _nodes, collected = load_recording(runs / "healthy.json")
    world = World(_inv, collected.facts)
    listening, connected = set(), set()
    for name, host_facts in collected.facts.items():
        if "ss.listen" not in host_facts.outputs:
            continue
        assert host_facts.outputs["ss.listen"].command == "ss -Htlnp 'sport = :179'"
        assert host_facts.outputs["ss.bgp"].command == "ss -Htnp 'sport = :179 or dport = :179'"
        listening |= {(name, s.state) for s in world.parsed(name, "ss.listen", ss.parse_ss) or []}
        connected |= {(name, s.state) for s in world.parsed(name, "ss.bgp", ss.parse_ss) or []}
        assert world.listening_179(name) is ((name, "LISTEN") in listening)
    assert {state for _name, state in listening} == {"LISTEN"} and len(listening) >= 4
    assert {state for _name, state in connected} == {"ESTAB"} and len(connected) >= 4


VTYSH_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "frr_vtysh"


def _fake_vtysh(tmp_path: Path, down: bool = False) -> Path:
    """A `vtysh` that prints the lab's captured output of each `-c` in turn (or, `down`, what vtysh
    prints when bgpd is not running) and logs its arguments."""
    calls = tmp_path / "calls"
    fake = tmp_path / "vtysh"
    answer = (
        'echo "bgpd is not running"; exit 1'
        if down
        else f'cat "{VTYSH_FIXTURES}/$(printf %s "$1" | tr " " _).out"'
    )
    fake.write_text(
        f'#!/bin/sh\necho "$*" >> {calls}\n'
        'while [ $# -gt 0 ]; do\n  if [ "$1" = -c ]; then shift; ' + answer + "; fi\n  shift\ndone\n"
    )
    fake.chmod(0o755)
    return calls


@pytest.mark.parametrize("socket", ["", " --vty_socket /run/frr-x"])
def test_one_vtysh_gives_every_frr_fact_as_its_own_command_prints_it(tmp_path: Path, socket: str) -> None:
    """vtysh's start is nearly all of a call's CPU (~22 ms on the lab's router): the batch reads
    FRR's facts with one vtysh, and each fact gets the JSON document its own command prints."""
    from bgpdoctor.drivers.frr import SHOWS

    calls = _fake_vtysh(tmp_path)
    commands = {f: f"vtysh{socket} -c '{show}'" for f, show in SHOWS.items()} | {"ok": "echo ok"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
        facts = _collect(commands, timeout=10)
    assert len(calls.read_text().splitlines()) == 1, "one vtysh for the five facts"
    for fact, show in SHOWS.items():
        result = facts.outputs[fact]
        assert (result.command, result.exit_status) == (commands[fact], 0)
        assert result.stdout_bytes == (VTYSH_FIXTURES / f"{show.replace(' ', '_')}.out").read_bytes()
    assert facts.outputs["ok"].stdout == "ok\n"


def test_a_vtysh_that_cannot_be_cut_is_read_again_fact_by_fact(tmp_path: Path) -> None:
    """bgpd down: vtysh's answer is no JSON document, so each fact is its own command's answer,
    as it was before the batch read them with one vtysh (unknown stays unknown)."""
    from bgpdoctor.drivers.frr import SHOWS

    calls = _fake_vtysh(tmp_path, down=True)
    commands = {f: f"vtysh -c '{show}'" for f, show in SHOWS.items()}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
        facts = _collect(commands, timeout=10)
    assert len(calls.read_text().splitlines()) == 1 + len(SHOWS), "once together, then once each"
    for fact in SHOWS:
        result = facts.outputs[fact]
        assert (result.command, result.stdout, result.exit_status) == (
            commands[fact],
            "bgpd is not running\n",
            1,
        )


def test_the_real_five_show_output_cuts_into_the_five_documents() -> None:
    """One vtysh of the lab's router, cut: each part is what that `show` prints alone (captured a
    second apart, so only the counters and timers differ)."""
    import re

    from bgpdoctor.drivers.frr import SHOWS, VTYSH_SHOWS

    _vtysh_cut = VTYSH_SHOWS.cut
    whole = (VTYSH_FIXTURES / "five-shows-one-vtysh.out").read_bytes()
    cuts = _vtysh_cut(CommandResult("vtysh ...", 0, whole, ""), len(SHOWS))
    assert cuts is not None and b"".join(cuts) == whole

    def digits(b: bytes) -> bytes:
        return re.sub(rb"\d+", b"N", b)

    for cut, show in zip(cuts, SHOWS.values(), strict=True):
        alone = (VTYSH_FIXTURES / f"{show.replace(' ', '_')}.out").read_bytes()
        assert digits(cut) == digits(alone)
    assert _vtysh_cut(CommandResult("vtysh ...", 0, whole, ""), len(SHOWS) + 1) is None
    assert _vtysh_cut(CommandResult("vtysh ...", 0, whole + b"% Unknown\n", ""), len(SHOWS)) is None
    assert _vtysh_cut(CommandResult("vtysh ...", 0, whole, "warning\n"), len(SHOWS)) is None


class _LinesCli:
    """A JoinedRead of a made-up daemon: `linescli A B` prints `== A`, A's answer, `== B`, B's."""

    def client(self, fact: str, command: str) -> str | None:
        return "linescli" if fact.startswith("lines.") and command == f"linescli {fact[6:]}" else None

    def join(self, client: str, commands: list[str]) -> str:
        return client + "".join(c.removeprefix(client) for c in commands)

    def views(self, command: str) -> list[tuple[str, str]]:
        words = command.split()
        return [(f"lines.{w}", f"linescli {w}") for w in words[1:]] if words[0] == "linescli" else []

    def cut(self, raw: Any, n: int) -> list[bytes] | None:
        parts = raw.stdout_bytes.split(b"== ")[1:]
        return [p.split(b"\n", 1)[1] for p in parts] if len(parts) == n else None


def test_a_drivers_joined_read_is_joined_and_cut_with_no_change_to_the_engine(tmp_path: Path) -> None:
    """What a driver declares (drivers.JoinedRead) is all the batch needs: the facts are read by one
    run of the client, and each is kept as its own command's answer."""
    from bgpdoctor.transport.base import CommandResult as Result

    calls = tmp_path / "calls"
    tool = tmp_path / "linescli"
    tool.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nfor a; do echo "== $a"; echo "answer of $a"; done\n')
    tool.chmod(0o755)
    commands = {"lines.a": "linescli a", "lines.b": "linescli b", "ok": "echo ok"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
        readers = (_LinesCli(),)
        mp.setattr("bgpdoctor.engine.collect.joined_reads", lambda: readers)
        facts = _collect(commands, timeout=10)
        framed = frame_batch(
            batch_script(batch_commands(commands), "@@m", 10, 1 << 20),
            lambda fact, command: Result(command, 0, f"answer of {fact}\n".encode(), ""),
        )
    assert calls.read_text().splitlines() == ["a b"], "one run for both facts"
    assert {f: (r.command, r.stdout) for f, r in facts.outputs.items()} == {
        "lines.a": ("linescli a", "answer of a\n"),
        "lines.b": ("linescli b", "answer of b\n"),
        "ok": ("echo ok", "ok\n"),
    }
    assert b"answer of lines.a" in framed.stdout_bytes and b"answer of lines.b" in framed.stdout_bytes


def _fake_tool(folder: Path, name: str, status: int) -> None:
    tool = folder / name
    tool.write_text(f'#!/bin/sh\necho {name} "$*" >> {folder}/calls\nexit {status}\n')
    tool.chmod(0o755)


def test_timeout_is_looked_for_only_when_a_command_needs_it(tmp_path: Path) -> None:
    """A host whose facts all read the kernel starts no `timeout`; the first daemon client looks
    for it once, and every command after it runs under it."""
    _fake_tool(tmp_path, "timeout", 0)
    kernel = {"netstat": "cat /proc/net/netstat", "ip.addr": "ip -j addr show"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
        _collect(kernel, timeout=10)
        assert not (tmp_path / "calls").exists()
        _collect({**kernel, "a": "echo a", "b": "echo b"}, timeout=10)
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == ["timeout -k 1 5 true", "timeout -k 2 10 echo a", "timeout -k 2 10 echo b"]


def test_the_batch_runs_in_sh_whatever_the_login_shell() -> None:
    script = batch_script({"a": 'echo "it\'s" $0'}, "@@M", timeout=5)
    command = in_login_shell(script)
    assert command.startswith("exec sh -c ") and batch_facts(command) == batch_facts(script)
    done = subprocess.run(["bash", "-c", command], capture_output=True, check=False)
    assert split_batch(done.stdout, "@@M", {"a": "x"}, stderr=done.stderr.decode())["a"].stdout == "it's sh\n"
    long_script = script + "#" * 200_000 + "\n"
    assert in_login_shell(long_script) == long_script, "one argument holds at most 128 KiB"


class _ReadsWholeOutput:
    """A transport that cuts an output only after it has read all of it (as the Kubernetes exec
    API does): it does not stop the command at max_output."""

    def __init__(self, host: str) -> None:
        self.host = host
        self._local = LocalConnection(host)

    def run(self, command: str, timeout: float = 10.0, max_output: int = 1 << 20) -> CommandResult:
        return self._local.run(command, timeout, 1 << 30)

    def close(self) -> None:
        self._local.close()


def test_the_host_bounds_the_batch_only_for_a_transport_that_cannot(tmp_path: Path) -> None:
    """SSH, local and netns stop a command at the bound themselves: the batch starts no `head` for
    them (two processes and their pipes fewer per host). A transport that reads the whole output
    first gets the host's `head -c`, and the bound holds either way."""
    _fake_tool(tmp_path, "head", 0)  # records that it ran; passes nothing on
    commands = {"a": "echo a", "huge": "yes x | tr -d '\\n' | dd bs=1k count=300 2>/dev/null", "c": "echo c"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
        mp.setattr("bgpdoctor.engine.collect.fact_commands", lambda _host: commands)
        local = collect_host("me", _inventory(), LocalConnection, 10, lambda _m: None, 100_000)
        assert not (tmp_path / "calls").exists()
        assert local.outputs["huge"].truncated and len(local.outputs["huge"].stdout_bytes) == 100_000
        assert (local.outputs["a"].stdout, local.outputs["c"].stdout) == ("a\n", "c\n")
        collect_host("me", _inventory(), _ReadsWholeOutput, 10, lambda _m: None, 100_000)
    assert (tmp_path / "calls").read_text().startswith("head -c 1")
