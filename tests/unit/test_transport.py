"""Transports on this machine only (no lab): the local output bound and its memory, an SSH port that
never sends a banner (127.0.0.1), and ssh_config `Match exec` / host names that would run a shell."""

from __future__ import annotations

import io
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bgpdoctor.errors import HostError
from bgpdoctor.inventory_model import SshTarget
from bgpdoctor.transport.base import DEFAULT_MAX_OUTPUT
from bgpdoctor.transport.local import LocalConnection
from bgpdoctor.transport.ssh import MATCH_EXEC_ENV, SshConnection, check_host_name, without_match_exec

MIB = 1 << 20


def test_local_output_is_cut_at_the_bound_and_the_command_stopped() -> None:
    start = time.monotonic()
    res = LocalConnection("me").run("head -c 100000000 /dev/zero; echo done >&2", timeout=30, max_output=MIB)
    assert res.truncated and res.exit_status is None and not res.timed_out
    assert len(res.stdout_bytes) == MIB and "done" not in res.stderr
    assert time.monotonic() - start < 5
    assert res.truncation_note == "[output truncated at 1 MiB]"


def test_local_output_under_the_bound_is_whole() -> None:
    res = LocalConnection("me").run("head -c 300000 /dev/zero; exit 3", timeout=10, max_output=MIB)
    assert (len(res.stdout_bytes), res.exit_status, res.truncated) == (300000, 3, False)


# VmHWM: the peak resident size of this process image (ru_maxrss would carry over the size of the
# pytest process that forked it)
RSS_PROBE = """
import re
from bgpdoctor.transport.local import LocalConnection
res = LocalConnection("me").run("head -c 100000000 /dev/zero | tr '\\\\0' x", timeout=60)
peak_kib = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
print(len(res.stdout_bytes), res.truncated, peak_kib // 1024)
"""


def test_100_mb_from_one_command_costs_no_more_than_the_bound_in_memory() -> None:
    out = subprocess.run(
        [sys.executable, "-c", RSS_PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    size, truncated, max_rss_mib = int(out[0]), out[1], int(out[2])
    assert (size, truncated) == (DEFAULT_MAX_OUTPUT, "True")
    assert max_rss_mib < 100, f"{max_rss_mib} MiB resident for a bounded command (200+ MiB unbounded)"


# --- an SSH port that accepts and never speaks -------------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()


def test_no_ssh_banner_is_a_timeout_without_a_traceback(
    silent_port: int, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    target = SshTarget(
        host="127.0.0.1", port=silent_port, user="nobody", connect_timeout=1.5, ssh_config=str(empty),
        known_hosts=str(empty),
    )  # fmt: skip

    def attempt(_i: int) -> tuple[str, float]:
        start = time.monotonic()
        conn = SshConnection("silent", target, SshTarget(), False, logging.getLogger("test"))
        try:
            conn.connect()
        except HostError as exc:
            return exc.kind, time.monotonic() - start
        finally:
            conn.close()
        return "connected", time.monotonic() - start

    with ThreadPoolExecutor(6) as pool:  # several at once: paramiko's own wait races the banner wait
        outcomes = list(pool.map(attempt, range(6)))
    assert [kind for kind, _ in outcomes] == ["timeout"] * 6
    assert max(t for _, t in outcomes) < 1.5 + 1.5
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "paramiko" not in captured.err, captured.err


# --- ssh_config Match exec and host names ------------------------------------------------------


def _config(tmp_path: Path, marker: Path) -> Path:
    conf = tmp_path / "ssh_config"
    conf.write_text(f'Match exec "touch {marker}_%h"\n  User matched\nHost *\n  ConnectTimeout 3\n')
    return conf


def test_match_exec_does_not_run_unless_the_user_opts_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "ran"
    conf = _config(tmp_path, marker)
    monkeypatch.delenv(MATCH_EXEC_ENV, raising=False)
    conn = SshConnection("r1", SshTarget(host="r1", ssh_config=str(conf)), SshTarget(), False)
    with caplog.at_level(logging.WARNING, logger="bgpdoctor.ssh"):
        params = conn.resolve("r1", SshTarget(host="r1", ssh_config=str(conf)))
    assert not list(tmp_path.glob("ran*")), "Match exec ran a shell command"
    assert params.user is None, "a block whose command was not run does not apply"
    assert MATCH_EXEC_ENV in caplog.text
    monkeypatch.setenv(MATCH_EXEC_ENV, "1")
    monkeypatch.setattr("sys.stdin", io.StringIO())  # invoke (paramiko's Match exec) reads stdin
    params = conn.resolve("r1", SshTarget(host="r1", ssh_config=str(conf)))
    assert (tmp_path / "ran_r1").exists() and params.user == "matched"


HOSTILE_HOSTS = [
    "m$(touch {canary})",
    "m`touch {canary}`",
    "m;touch {canary}",
    "m|touch {canary}",
    "m&&touch {canary}",
    "m'$(touch {canary})'",
    "a b",
    "m\nx",
    "%d",
    "fe80::1%eth0",
]


@pytest.mark.parametrize("template", HOSTILE_HOSTS)
@pytest.mark.parametrize("opt_in", [False, True])
def test_a_host_name_with_shell_syntax_never_reaches_ssh_config(
    template: str, opt_in: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = tmp_path / "canary"
    marker = tmp_path / "ran"
    conf = _config(tmp_path, marker)
    if opt_in:
        monkeypatch.setenv(MATCH_EXEC_ENV, "1")
        monkeypatch.setattr("sys.stdin", io.StringIO())
    else:
        monkeypatch.delenv(MATCH_EXEC_ENV, raising=False)
    host = template.format(canary=canary)
    # model_construct: the inventory loader refuses such names too; this is the transport's own check
    for target in (
        SshTarget.model_construct(host=host, ssh_config=str(conf)),
        SshTarget.model_construct(host="10.0.0.1", proxy_jump=f"root@{host}", ssh_config=str(conf)),
    ):
        conn = SshConnection("r1", target, SshTarget(), False)
        with pytest.raises(HostError) as info:
            conn.connect()
        assert info.value.kind == "error" and "refusing SSH host name" in info.value.message
        assert "\n" not in info.value.message
    assert not canary.exists()
    # with the opt-in, Match exec may run for the ordinary final host, never for the hostile one
    assert [p.name for p in tmp_path.glob("ran*")] == (["ran_10.0.0.1"] if opt_in else [])


@pytest.mark.parametrize("name", ["router-mine", "172.31.254.11", "2001:db8::1", "r1.lab.example"])
def test_ordinary_host_names_pass(name: str) -> None:
    assert check_host_name(name, "h") == name


def test_without_match_exec_keeps_every_other_line() -> None:
    text = 'Host r1\n  User a\nMatch host r2 exec "x %h"\n  User b\nmatch !exec y\nMatch host r3\n'
    cleaned, count = without_match_exec(text)
    assert count == 2
    assert cleaned == 'Host r1\n  User a\nMatch host "!*"\n  User b\nMatch host "!*"\nMatch host r3\n'


def test_the_lab_guard_names_the_interface_the_kernel_routes_through() -> None:
    from bgpdoctor.transport.guard import ensure_routed_via_lab, route_oif

    assert socket.if_indextoname(route_oif("127.0.0.1")) == "lo"
    ensure_routed_via_lab("127.0.0.1", "lo")  # routed via lo: allowed for the prefix "lo"
    with pytest.raises(HostError) as info:
        ensure_routed_via_lab("127.0.0.1", "bdlab-")
    assert info.value.kind == "refused-by-guard"
    assert "127.0.0.1 is routed via lo, not a 'bdlab-' interface" in info.value.message


def test_paramiko_is_imported_without_invoke_unless_match_exec_may_run() -> None:
    probe = (
        "import sys; from bgpdoctor.transport import ssh; ssh._import_paramiko(); "
        "import paramiko.config as c; "
        "print('invoke' in sys.modules, c.invoke is not None)"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != MATCH_EXEC_ENV}
    off = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    on = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**env, MATCH_EXEC_ENV: "1"},
        check=True,
    )
    assert off.stdout.split() == ["False", "False"]
    assert on.stdout.split() == ["True", "True"]
