"""SSH, netns and local transports against a real sshd in a namespace the fixture creates.

Lab: namespace bdss-srv, veth bdss-c0 (root, 172.31.250.1/30) <-> bdss-s0 (bdss-srv, 172.31.250.2/30),
sshd listening on 172.31.250.2:22. Only that PID is killed, only that namespace/link deleted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bgpdoctor.engine.collect import KILL_AFTER_S, collect_host
from bgpdoctor.errors import HostError
from bgpdoctor.inventory_model import Inventory, SshTarget
from bgpdoctor.transport.factory import open_connection
from bgpdoctor.transport.guard import ensure_routed_via_lab
from bgpdoctor.transport.local import LocalConnection
from bgpdoctor.transport.netns import NetnsConnection
from bgpdoctor.transport.ssh import SshConnection

pytestmark = pytest.mark.lab

NS = "bdss-srv"
ROOT_IF = "bdss-c0"
NS_IF = "bdss-s0"
ROOT_IP = "172.31.250.1"
SRV_IP = "172.31.250.2"
SECRET = "s3cr3t-Pa55w0rd-bdss"


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), check=check, capture_output=True, text=True)


def keygen(path: Path) -> None:
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bdss", "-f", str(path))


def _cleanup_net() -> None:
    if Path(f"/run/netns/{NS}").exists():
        sh("ip", "netns", "del", NS, check=False)
    if Path(f"/sys/class/net/{ROOT_IF}").exists():
        sh("ip", "link", "del", ROOT_IF, check=False)


@dataclass
class Server:
    dir: Path
    client_key: Path
    wrong_key: Path
    host_pub: str  # "ssh-ed25519 AAAA..."
    other_pub: str  # a different ed25519 public key
    empty_config: Path

    def known_hosts(self, name: str, lines: list[str]) -> Path:
        path = self.dir / name
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        return path

    def trusted(self) -> Path:
        return self.known_hosts("known_trusted", [f"{SRV_IP} {self.host_pub}"])

    def target(self, **kw: object) -> SshTarget:
        base: dict[str, object] = {
            "host": SRV_IP,
            "user": "root",
            "identity_file": str(self.client_key),
            "known_hosts": str(self.trusted()),
            "ssh_config": str(self.empty_config),
            "connect_timeout": 3.0,
        }
        base.update(kw)
        return SshTarget.model_validate(base)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if os.geteuid() != 0 or not Path("/usr/sbin/sshd").exists() or shutil.which("ip") is None:
        pytest.skip("needs root, ip and /usr/sbin/sshd")
    d = tmp_path_factory.mktemp("sshd")
    d.chmod(0o755)
    proc: subprocess.Popen[bytes] | None = None
    _cleanup_net()  # a namespace of this exact name left by an earlier, killed run of this test
    try:
        sh("ip", "netns", "add", NS)
        sh("ip", "link", "add", ROOT_IF, "type", "veth", "peer", "name", NS_IF)
        sh("ip", "link", "set", NS_IF, "netns", NS)
        sh("ip", "addr", "add", f"{ROOT_IP}/30", "dev", ROOT_IF)
        sh("ip", "link", "set", ROOT_IF, "up")
        sh("ip", "-n", NS, "addr", "add", f"{SRV_IP}/30", "dev", NS_IF)
        sh("ip", "-n", NS, "link", "set", NS_IF, "up")
        sh("ip", "-n", NS, "link", "set", "lo", "up")
        for name in ("host_key", "other_host_key", "id_client", "id_wrong"):
            keygen(d / name)
        (d / "authorized_keys").write_text((d / "id_client.pub").read_text(), encoding="utf-8")
        (d / "empty_ssh_config").write_text("", encoding="utf-8")
        conf = d / "sshd_config"
        conf.write_text(
            f"ListenAddress {SRV_IP}\nPort 22\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {d / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
            "PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "UsePAM no\nStrictModes no\nPrintMotd no\nAllowTcpForwarding yes\nLogLevel VERBOSE\n",
            encoding="utf-8",
        )
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        # `ip netns exec` execs sshd, so proc.pid is sshd's PID (-D: no fork)
        proc = subprocess.Popen(
            ["ip", "netns", "exec", NS, "/usr/sbin/sshd", "-D", "-f", str(conf), "-E", str(d / "sshd.log")]
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((SRV_IP, 22), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (d / "sshd.log").read_text() if (d / "sshd.log").exists() else ""
                    pytest.fail(f"sshd did not start: {log}")
                time.sleep(0.1)

        def pub(name: str) -> str:
            return " ".join((d / f"{name}.pub").read_text().split()[:2])

        yield Server(
            d, d / "id_client", d / "id_wrong", pub("host_key"), pub("other_host_key"), d / "empty_ssh_config"
        )
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _cleanup_net()


def connect(server: Server, accept_new: bool = False, **kw: object) -> SshConnection:
    conn = SshConnection("srv", server.target(**kw), SshTarget(), accept_new, logging.getLogger("test"))
    conn.connect()
    return conn


# --- commands -----------------------------------------------------------------------------------


def test_run_stdout_and_exit_status(server: Server) -> None:
    conn = connect(server)
    try:
        res = conn.run("echo hello; hostname >/dev/null", timeout=5)
        assert (res.exit_status, res.stdout, res.stderr, res.timed_out) == (0, "hello\n", "", False)
        assert res.ok
        again = conn.run("ip -br addr show dev bdss-s0", timeout=5)  # same connection, inside the namespace
        assert SRV_IP in again.stdout
        assert len(conn._clients) == 1
    finally:
        conn.close()


def test_binary_stdout(server: Server) -> None:
    conn = connect(server)
    try:
        res = conn.run(r"printf '\000\001\377abc'", timeout=5)
        assert res.stdout_bytes == b"\x00\x01\xffabc"
        blob = server.dir / "blob.bin"
        big = conn.run(f"head -c 300000 /dev/urandom > {blob}; cat {blob}", timeout=10)
        assert len(big.stdout_bytes) == 300000
        assert hashlib.sha256(big.stdout_bytes).hexdigest() == hashlib.sha256(blob.read_bytes()).hexdigest()
    finally:
        conn.close()


def test_non_zero_exit_and_stderr(server: Server) -> None:
    conn = connect(server)
    try:
        res = conn.run("echo out; echo oops >&2; exit 3", timeout=5)
        assert (res.exit_status, res.stdout, res.stderr, res.ok) == (3, "out\n", "oops\n", False)
        missing = conn.run("no-such-command-bdss", timeout=5)
        assert missing.command_missing
    finally:
        conn.close()


def test_command_timeout(server: Server) -> None:
    conn = connect(server)
    try:
        start = time.monotonic()
        res = conn.run("echo started; sleep 5", timeout=1)
        assert res.timed_out and res.exit_status is None
        assert res.stdout == "started\n"
        assert time.monotonic() - start < 3
        assert conn.run("echo still-usable", timeout=5).stdout == "still-usable\n"
    finally:
        conn.close()


# --- host keys ----------------------------------------------------------------------------------


def test_unknown_host_key_is_rejected_by_default(server: Server) -> None:
    kh = server.known_hosts("known_empty", [])
    with pytest.raises(HostError) as info:
        connect(server, known_hosts=str(kh))
    assert info.value.kind == "hostkey"
    assert f"host key for {SRV_IP} not in known_hosts" in info.value.message
    assert "--accept-new-host-keys" in info.value.message
    assert kh.read_text() == ""


def test_accept_new_saves_the_key(server: Server) -> None:
    kh = server.dir / "sub" / "known_new"
    conn = connect(server, accept_new=True, known_hosts=str(kh))
    try:
        assert conn.run("true", timeout=5).ok
    finally:
        conn.close()
    assert kh.read_text().split() == [SRV_IP, *server.host_pub.split()]
    # now known: a strict connection works
    strict = connect(server, known_hosts=str(kh))
    strict.close()


def test_mismatching_key_is_refused_even_with_accept_new(server: Server) -> None:
    kh = server.known_hosts("known_wrong", [f"{SRV_IP} {server.other_pub}"])
    for accept_new in (False, True):
        with pytest.raises(HostError) as info:
            connect(server, accept_new=accept_new, known_hosts=str(kh))
        assert info.value.kind == "hostkey"
        assert "host key MISMATCH" in info.value.message
    assert kh.read_text() == f"{SRV_IP} {server.other_pub}\n"


def test_known_hosts_with_cert_authority_and_hashed_entries(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    import paramiko

    hashed = paramiko.HostKeys.hash_host(SRV_IP)
    kh = server.known_hosts(
        "known_mixed",
        [
            "# comment",
            f"@cert-authority *.example.org {server.other_pub}",
            f"@revoked * {server.other_pub}",
            "garbage-line-without-key",
            f"{hashed} {server.host_pub}",
        ],
    )
    with caplog.at_level(logging.WARNING):
        conn = connect(server, known_hosts=str(kh))
    conn.close()
    assert "@cert-authority" in caplog.text and "@revoked" in caplog.text


# --- auth, reachability, secrets ------------------------------------------------------------------


def test_wrong_identity_is_auth_error(server: Server) -> None:
    with pytest.raises(HostError) as info:
        connect(server, identity_file=str(server.wrong_key))
    assert info.value.kind == "auth"
    assert "authentication failed for user root" in info.value.message


def test_missing_identity_file_is_auth_error(server: Server) -> None:
    with pytest.raises(HostError) as info:
        connect(server, identity_file=str(server.dir / "nope"))
    assert info.value.kind == "auth" and "does not exist" in info.value.message


def test_closed_port_is_unreachable_fast(server: Server) -> None:
    start = time.monotonic()
    with pytest.raises(HostError) as info:
        connect(server, port=2222)
    assert info.value.kind == "unreachable"
    assert "refused" in info.value.message
    assert time.monotonic() - start < 2


def test_password_never_appears_in_errors(
    server: Server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("BDSS_PASSWORD", SECRET)
    with caplog.at_level(logging.DEBUG), pytest.raises(HostError) as info:
        # the server only accepts keys: password auth fails
        connect(server, identity_file=None, password_env="BDSS_PASSWORD")
    assert info.value.kind == "auth"
    assert "BDSS_PASSWORD" in info.value.message
    with pytest.raises(HostError) as closed:
        connect(server, port=2222, password_env="BDSS_PASSWORD")
    for text in (str(info.value), repr(info.value), str(closed.value), caplog.text):
        assert SECRET not in text
    monkeypatch.delenv("BDSS_PASSWORD")
    with pytest.raises(HostError, match=r"BDSS_PASSWORD .* is not set") as unset:
        connect(server, password_env="BDSS_PASSWORD")
    assert unset.value.kind == "auth"


# --- ProxyJump and ssh_config -------------------------------------------------------------------


def test_proxy_jump_through_the_same_sshd(server: Server) -> None:
    defaults = SshTarget(
        identity_file=str(server.client_key),
        known_hosts=str(server.trusted()),
        ssh_config=str(server.empty_config),
    )
    target = SshTarget(host=SRV_IP, user="root", proxy_jump=f"root@{SRV_IP}:22,root@{SRV_IP}")
    conn = SshConnection("srv", target, defaults, False)
    try:
        res = conn.run("echo via-jump; echo $SSH_CLIENT", timeout=5)
        assert res.stdout.startswith("via-jump\n")
        assert res.stdout.split("\n")[1].startswith(SRV_IP)  # the last hop came from the namespace itself
        assert len(conn._clients) == 3
    finally:
        conn.close()


def test_proxy_jump_via_inventory_host(server: Server) -> None:
    bastion = server.target()
    target = server.target(proxy_jump="bastion")
    conn = SshConnection("srv", target, SshTarget(), False, jump_hosts={"bastion": bastion})
    try:
        assert conn.run("echo ok", timeout=5).stdout == "ok\n"
        assert [h.hostname for h in conn.chain()] == [SRV_IP, SRV_IP]
    finally:
        conn.close()


def test_jump_host_cannot_reach_target(server: Server) -> None:
    target = server.target(port=2222, proxy_jump="bastion")
    conn = SshConnection("srv", target, SshTarget(), False, jump_hosts={"bastion": server.target()})
    with pytest.raises(HostError) as info:
        conn.connect()
    assert info.value.kind == "unreachable"
    assert "jump host" in info.value.message


def test_ssh_config_alias_with_include(server: Server) -> None:
    confd = server.dir / "conf.d"
    confd.mkdir(exist_ok=True)
    (confd / "srv.conf").write_text(
        f"Host srv-alias\n  HostName {SRV_IP}\n  User root\n  IdentityFile {server.client_key}\n"
        f"  UserKnownHostsFile {server.trusted()}\n",
        encoding="utf-8",
    )
    main = server.dir / "ssh_config_include"
    main.write_text(f"Include {confd}/*.conf\n\nHost *\n  ConnectTimeout 3\n", encoding="utf-8")
    conn = SshConnection("srv-alias", SshTarget(ssh_config=str(main)), SshTarget(), False)
    try:
        params = conn.chain()[-1]
        assert (params.hostname, params.user, params.connect_timeout) == (SRV_IP, "root", 3.0)
        assert conn.run("echo alias", timeout=5).stdout == "alias\n"
    finally:
        conn.close()


# --- lab guard and factory ------------------------------------------------------------------------


def test_guard_refuses_default_route_without_sending(server: Server) -> None:
    with pytest.raises(HostError) as info:
        ensure_routed_via_lab("192.0.2.1", "bdss-")
    assert info.value.kind == "refused-by-guard"
    assert "not a 'bdss-' interface" in info.value.message
    with pytest.raises(HostError, match="not an IP address"):
        ensure_routed_via_lab("localhost", "bdss-")
    ensure_routed_via_lab(SRV_IP, "bdss-")  # routed via bdss-c0


def test_guard_applies_to_connections_and_jump_hops(server: Server) -> None:
    ok = SshConnection("srv", server.target(), SshTarget(), False, lab_prefix="bdss-")
    try:
        assert ok.run("echo guarded", timeout=5).ok
    finally:
        ok.close()
    bad = SshConnection("far", server.target(host="192.0.2.1"), SshTarget(), False, lab_prefix="bdss-")
    with pytest.raises(HostError) as info:
        bad.connect()
    assert info.value.kind == "refused-by-guard"
    hop = SshConnection(
        "srv", server.target(proxy_jump="root@192.0.2.1"), SshTarget(), False, lab_prefix="bdss-"
    )
    with pytest.raises(HostError) as hop_info:
        hop.connect()
    assert hop_info.value.kind == "refused-by-guard" and "192.0.2.1" in hop_info.value.message


def test_factory_opens_every_transport(server: Server) -> None:
    inv = Inventory.model_validate(
        {
            "lab": {"interface_prefix": "bdss-"},
            "defaults": {
                "ssh": {
                    "user": "root",
                    "identity_file": str(server.client_key),
                    "known_hosts": str(server.trusted()),
                    "ssh_config": str(server.empty_config),
                }
            },
            "hosts": {
                "srv": {"role": "router", "connect": {"ssh": {"host": SRV_IP}}},
                "jumped": {"role": "node", "connect": {"ssh": {"host": SRV_IP, "proxy_jump": "srv"}}},
                "outside": {"role": "node", "connect": {"ssh": {"host": "192.0.2.1"}}},
                "ns": {"role": "node", "connect": {"netns": NS}},
                "me": {"role": "vantage", "connect": {"local": True}},
            },
        }
    )
    for name in ("srv", "jumped", "ns", "me"):
        conn = open_connection(name, inv)
        try:
            assert conn.run("echo $((40 + 2))", timeout=5).stdout == "42\n", name
        finally:
            conn.close()
    with pytest.raises(HostError) as info:
        open_connection("outside", inv)
    assert info.value.kind == "refused-by-guard"


# --- netns and local ------------------------------------------------------------------------------


def test_netns_connection(server: Server) -> None:
    conn = NetnsConnection("srv", NS)
    res = conn.run("ip -br addr show dev bdss-s0; exit 4", timeout=5)
    assert SRV_IP in res.stdout and res.exit_status == 4
    start = time.monotonic()
    slow = conn.run("echo a; sleep 5; echo b", timeout=1)
    assert slow.timed_out and slow.exit_status is None and slow.stdout == "a\n"
    assert time.monotonic() - start < 3
    with pytest.raises(HostError) as info:
        NetnsConnection("gone", "bdss-does-not-exist")
    assert info.value.kind == "unreachable"


def test_local_connection_binary_and_timeout() -> None:
    conn = LocalConnection("me")
    assert conn.run(r"printf '\000\377'", timeout=5).stdout_bytes == b"\x00\xff"
    res = conn.run("echo err >&2; exit 2", timeout=5)
    assert (res.exit_status, res.stderr) == (2, "err\n")
    slow = conn.run("sleep 5", timeout=0.5)
    assert slow.timed_out and slow.exit_status is None


def test_settings_precedence_host_then_ssh_config_then_defaults(tmp_path: Path) -> None:
    conf = tmp_path / "ssh_config"
    conf.write_text(
        "Host r1\n  HostName 172.31.250.2\n  Port 2200\n  User admin\n  ProxyJump bastion\n"
        "Host *\n  ConnectTimeout 7\n",
        encoding="utf-8",
    )
    defaults = SshTarget(user="root", port=22, connect_timeout=2, known_hosts="~/kh", ssh_config=str(conf))
    conn = SshConnection("r1", SshTarget(port=2201), defaults, False)
    params = conn.resolve("r1", SshTarget(port=2201))
    assert (params.hostname, params.port, params.user, params.connect_timeout) == (SRV_IP, 2201, "admin", 7.0)
    assert params.proxy_jump == "bastion"
    assert params.user_known_hosts == os.path.expanduser("~/kh")
    other = conn.resolve("r2", SshTarget(host="10.0.0.9", proxy_jump="none"))
    assert (other.hostname, other.port, other.user, other.proxy_jump) == ("10.0.0.9", 22, "root", None)


def test_large_output_and_background_process(server: Server) -> None:
    conn = connect(server)
    try:
        for _ in range(5):  # exit-status can overtake window-limited output: never truncate
            res = conn.run("head -c 2000000 /dev/zero", timeout=10)
            assert len(res.stdout_bytes) == 2000000 and res.exit_status == 0
        start = time.monotonic()
        bg = conn.run("sleep 3 & echo started", timeout=10)  # sleep keeps stdout open after exit
        assert (bg.stdout, bg.exit_status) == ("started\n", 0)
        assert time.monotonic() - start < 2.5
    finally:
        conn.close()


# --- bounds and timeout -k over SSH ----------------------------------------------------------------


def test_output_is_bounded_over_ssh(server: Server) -> None:
    conn = connect(server)
    try:
        start = time.monotonic()
        big = conn.run("head -c 100000000 /dev/zero", timeout=30, max_output=1 << 20)
        assert big.truncated and big.exit_status is None and len(big.stdout_bytes) == 1 << 20
        assert time.monotonic() - start < 5, "reading stopped at the bound"
        noisy = conn.run("head -c 3000000 /dev/zero >&2; echo out", timeout=30, max_output=1 << 20)
        assert noisy.truncated and len(noisy.stderr) <= 1 << 20
        assert conn.run("echo still-usable", timeout=5).stdout == "still-usable\n"
        # the command was stopped on the host, not left writing into a closed channel
        left = conn.run("pgrep -f '[h]ead -c 100000000' || true", timeout=5).stdout.split()
        assert left == []
    finally:
        conn.close()


def test_a_command_ignoring_sigterm_cannot_hold_the_host(server: Server) -> None:
    inv = Inventory.model_validate(
        {
            "defaults": {"ssh": {"user": "root", "identity_file": str(server.client_key),
                                 "known_hosts": str(server.trusted()),
                                 "ssh_config": str(server.empty_config)}},
            "hosts": {"srv": {"role": "vantage", "connect": {"ssh": {"host": SRV_IP}}}},
        }
    )  # fmt: skip
    tag = f"bdss-trap-{os.getpid()}"
    commands = {"stubborn": f"trap '' TERM; sleep 30 # {tag}", "after": "echo next"}
    start = time.monotonic()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("bgpdoctor.engine.collect.fact_commands", lambda _host: commands)
        facts = collect_host("srv", inv, lambda n: open_connection(n, inv), 1, lambda _m: None)
    try:
        elapsed = time.monotonic() - start
        assert facts.outputs["stubborn"].timed_out and facts.outputs["after"].stdout == "next\n"
        assert elapsed < 1 + KILL_AFTER_S + 3, f"{elapsed:.1f}s"
        conn = connect(server)
        try:
            # [b]: the pattern does not match pgrep's own command line
            assert conn.run(f"pgrep -f '[{tag[0]}]{tag[1:]}' || true", timeout=5).stdout.split() == []
        finally:
            conn.close()
    finally:
        if facts.connection is not None:
            facts.connection.close()
