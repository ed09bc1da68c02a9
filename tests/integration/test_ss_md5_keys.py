"""The command bgpdoctor collects TCP info with never returns a TCP MD5 key, even as root.

`ss -i` with CAP_NET_ADMIN prints each socket's key (captures/outputs/ss/README.md). A namespace
holds a real MD5-signed connection on port 179; the collection command is run there as the
collector runs it.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bgpdoctor.engine.collect import SS_TCP_INFO_COMMAND
from bgpdoctor.redact import redact

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a network namespace")

KEY = "bd-md5-" + uuid.uuid4().hex[:12]
TCP_MD5SIG = 14  # linux/tcp.h


def _md5sig(address: str, key: bytes) -> bytes:
    storage = struct.pack("HH4s", socket.AF_INET, 0, socket.inet_aton(address)) + b"\0" * 120
    return storage + struct.pack("BBHI", 0, 0, len(key), 0) + key.ljust(80, b"\0")


SCRIPT = """
import socket, subprocess, sys
from tests.integration.test_ss_md5_keys import _md5sig
key = sys.argv[2].encode()
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.setsockopt(socket.IPPROTO_TCP, 14, _md5sig("127.0.0.1", key))
srv.bind(("127.0.0.1", 179))
srv.listen()
c = socket.socket()
c.setsockopt(socket.IPPROTO_TCP, 14, _md5sig("127.0.0.1", key))
c.connect(("127.0.0.1", 179))
a, _ = srv.accept()
for cmd in (sys.argv[1], "ss -Htni 'sport = :179 or dport = :179'"):
    sys.stdout.write(subprocess.run(["sh", "-c", cmd], capture_output=True, text=True).stdout + "\\0")
"""


def test_collecting_tcp_info_as_root_returns_no_md5_key() -> None:
    ns = f"bdq-md5-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-c", SCRIPT, SS_TCP_INFO_COMMAND, KEY],
            capture_output=True, text=True, check=True, env=env, timeout=60,
        )  # fmt: skip
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    collected, plain_root = proc.stdout.split("\0")[:2]
    key = KEY
    assert key in plain_root, "plain `ss -i` as root shows the key: the hazard this guards against"
    assert key not in collected and "ESTAB" in collected and "rtt:" in collected
    assert key not in redact(plain_root)  # and what leaks anyway is withheld where it is collected
