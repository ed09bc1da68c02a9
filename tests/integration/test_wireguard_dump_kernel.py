"""`wg show all dump` collected for real through bgpdoctor's netns transport: keys never kept.

Two namespaces (prefix bfw-) joined by a veth, each with a wireguard-go interface (the kernel
module is not available on these machines: `ip link add type wireguard` answers "Unknown device
type"). Node a's peer b has a preshared key and its endpoint on b's pod address (cilium_host,
inside the pod CIDR): the run collects one dump per host with its batch, as a real run does, and
must find tunnel-over-cni-loop from it while no private or preshared key reaches a stored output,
the report or the recording.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bgpdoctor.engine.active import ActiveResults
from bgpdoctor.engine.collect import collect_host
from bgpdoctor.engine.recording import recording_json
from bgpdoctor.engine.run import Collected, RunOptions, evaluate
from bgpdoctor.engine.tunnels import WG_DUMP
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.parsers.wireguard import parse_dump
from bgpdoctor.transport.factory import open_connection

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "wg", "wireguard-go")),
    reason="needs root, iproute2, wg and wireguard-go",
)
TIMEOUT = 30  # the machine is shared and loaded


def run(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        list(args), input=stdin, text=True, capture_output=True, check=True, timeout=TIMEOUT
    ).stdout


def in_ns(ns: str, *args: str) -> str:
    return run("ip", "netns", "exec", ns, *args)


@pytest.fixture
def tunnel() -> Iterator[tuple[str, str, str, list[str]]]:
    """(namespace a, namespace b, a's interface, every private and preshared key in use)."""
    tag = uuid.uuid4().hex[:6]
    a, b = f"bfw-a-{tag}", f"bfw-b-{tag}"
    names = {a: f"bfwwg{tag}a", b: f"bfwwg{tag}b"}  # wireguard-go's UAPI socket is not per namespace
    procs: list[subprocess.Popen[bytes]] = []
    created: list[str] = []
    try:
        for ns in (a, b):
            run("ip", "netns", "add", ns)
            created.append(ns)
        run(
            "ip",
            "link",
            "add",
            f"bfw{tag}a",
            "netns",
            a,
            "type",
            "veth",
            "peer",
            "name",
            f"bfw{tag}b",
            "netns",
            b,
        )
        for ns, link, addr, pod in (
            (a, f"bfw{tag}a", "192.168.78.1", "10.42.0.1"),
            (b, f"bfw{tag}b", "192.168.78.2", "10.42.3.1"),
        ):
            run("ip", "-n", ns, "link", "set", link, "name", "eth0")
            run("ip", "-n", ns, "link", "add", "cilium_host", "type", "veth", "peer", "name", "cilium_net")
            for up in ("lo", "eth0", "cilium_host", "cilium_net"):
                run("ip", "-n", ns, "link", "set", up, "up")
            run("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
            run("ip", "-n", ns, "addr", "add", f"{pod}/32", "dev", "cilium_host")
        run("ip", "-n", a, "route", "add", "10.42.3.0/24", "via", "192.168.78.2")
        keys = {ns: run("wg", "genkey").strip() for ns in (a, b)}
        psk = run("wg", "genpsk").strip()
        pubs = {ns: run("wg", "pubkey", stdin=keys[ns]).strip() for ns in (a, b)}
        for ns in (a, b):
            procs.append(subprocess.Popen(["ip", "netns", "exec", ns, "wireguard-go", "-f", names[ns]]))
            for _ in range(100):
                if (
                    subprocess.run(
                        ["ip", "-n", ns, "link", "show", names[ns]], capture_output=True
                    ).returncode
                    == 0
                ):
                    break
                time.sleep(0.1)
            for name, secret in (("key", keys[ns]), ("psk", psk)):
                path = f"/dev/shm/{names[ns]}.{name}"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(secret)
            try:
                in_ns(
                    ns,
                    "wg",
                    "set",
                    names[ns],
                    "listen-port",
                    "51820",
                    "private-key",
                    f"/dev/shm/{names[ns]}.key",
                )
                other = b if ns == a else a
                endpoint = ["endpoint", "10.42.3.1:51820"] if ns == a else []
                in_ns(
                    ns,
                    "wg",
                    "set",
                    names[ns],
                    "peer",
                    pubs[other],
                    "preshared-key",
                    f"/dev/shm/{names[ns]}.psk",
                    *endpoint,
                    "allowed-ips",
                    "10.254.8.0/30",
                )
            finally:
                for name in ("key", "psk"):
                    os.unlink(f"/dev/shm/{names[ns]}.{name}")
        raw = in_ns(a, "wg", "show", "all", "dump")
        assert keys[a] in raw and psk in raw, "wg prints the keys this test must see removed"
        yield a, b, names[a], [keys[a], keys[b], psk]
    finally:
        for ns in created:
            subprocess.run(["ip", "-n", ns, "link", "del", names[ns]], capture_output=True, timeout=TIMEOUT)
        for p in procs:
            p.terminate()
            p.wait(timeout=TIMEOUT)
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=TIMEOUT)


def test_the_dump_collected_in_a_namespace_finds_the_loop_and_keeps_no_key(
    tunnel: tuple[str, str, str, list[str]],
) -> None:
    a, b, ifname, secrets = tunnel
    inv = Inventory.model_validate(
        {
            "pod_cidr": "10.42.0.0/16",
            "hosts": {
                "a": {"role": "node", "connect": {"netns": a}, "addresses": ["192.168.78.1"]},
                "b": {"role": "node", "connect": {"netns": b}, "addresses": ["192.168.78.2", "10.42.3.1"]},
            },
        }
    )
    facts = {
        n: collect_host(n, inv, lambda name: open_connection(name, inv), 20.0, lambda _m: None)
        for n in ("a", "b")
    }
    stored = "\n".join(r.stdout + r.stderr for f in facts.values() for r in f.outputs.values())
    assert WG_DUMP in facts["a"].outputs and not [s for s in secrets if s in stored]
    peers = [p for p in parse_dump(facts["a"].outputs[WG_DUMP].stdout).peers if p.interface == ifname]
    assert [(p.endpoint, p.allowed_ips) for p in peers] == [("10.42.3.1:51820", ["10.254.8.0/30"])]

    collected = Collected(["a", "b"], facts, ActiveResults(), datetime.now(UTC), 0.0)
    report = evaluate(inv, "inventory.yaml", collected, RunOptions())
    found = next(d for d in report.diagnoses if d.root_cause == "tunnel-over-cni-loop")
    assert found.hosts == ["a"] and "10.42.3.1:51820" in found.summary
    recording = recording_json(inv, "inventory.yaml", [], collected)
    recorded = [
        base64.b64decode(x).decode("utf-8", "replace")
        for x in re.findall(r'"stdout_b64": ?"([^"]*)"', recording)
    ]
    for text in (report.model_dump_json(), recording, *recorded):
        assert not [s for s in secrets if s in text]
    assert any(peers[0].peer_key in t for t in recorded)  # the dump itself was recorded, redacted
