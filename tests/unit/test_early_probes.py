"""A host's own probes start as soon as it is collected, beside the other hosts' collection, and a
run that starts them early sends the same probes and keeps the same evidence as one that does not.

The hosts are recorded lab hosts: their facts come back from the recording as the framed batch a
live host prints, and a simulated network answers the probes (a 1420 tunnel MTU the kernel names,
a black hole above 1380, sessions down in the asn-mismatch recording: peer pings and captures).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from bgpdoctor.engine import active
from bgpdoctor.engine import run as run_module
from bgpdoctor.engine.active import ProbeSettings
from bgpdoctor.engine.collect import HostFacts, frame_batch
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import Collected, RunOptions, collect
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.probes.batch import frame_probe_batch, is_probe_batch
from bgpdoctor.transport.base import CommandResult

RUNS = Path(__file__).resolve().parents[2] / "captures" / "runs"


class Network:
    """Answers every host's commands: the batch from the recording, probes from a simple path."""

    def __init__(self, recorded: dict[str, HostFacts], slow: dict[str, float]) -> None:
        self.recorded, self.slow = recorded, slow
        self.lock = threading.Lock()
        self.sent: list[tuple[float, str, str]] = []  # (time, host, command)
        self.collected: dict[str, float] = {}  # host -> when its batch was answered
        self.t0 = time.monotonic()
        self.probe_time = 0.0  # how long each probe takes
        self.running: Counter[str] = Counter()  # host -> probes running now
        self.most: Counter[str] = Counter()  # host -> most probes running at once

    def connect(self, name: str) -> HostConnection:
        return HostConnection(self, name)

    def answer(self, host: str, command: str) -> CommandResult:
        if "bd_b " in command:
            time.sleep(self.slow.get(host, 0.0))
            out = self._batch(host, command)
            with self.lock:
                self.collected[host] = time.monotonic() - self.t0
            return out
        if is_probe_batch(command):  # a host runs the batch's probes side by side, answers them framed
            return frame_probe_batch(command, lambda probe: self.answer(host, probe))
        with self.lock:
            self.sent.append((time.monotonic() - self.t0, host, command))
            self.running[host] += 1
            self.most[host] = max(self.most[host], self.running[host])
        try:
            time.sleep(self.probe_time)
            return self._probe(command)
        finally:
            with self.lock:
                self.running[host] -= 1

    def _probe(self, command: str) -> CommandResult:
        if command.startswith("ping"):
            return CommandResult(command, 0, _ping_answer(command).encode())
        if "python3" in command:  # the kubelet probe
            return CommandResult(
                command, 0, b'{"tcp": "ok", "tls": "ok", "error": null, "source": "10.0.0.1"}\n'
            )
        if "tcpdump" in command:
            return CommandResult(command, 124, b"")
        return CommandResult(command, 127, b"", "sh: not found\n")

    def _batch(self, host: str, script: str) -> CommandResult:
        """The framed batch a host would send: each fact's recorded result."""
        outputs = self.recorded[host].outputs
        return frame_batch(script, lambda fact, _command: outputs.get(fact))


class HostConnection:
    def __init__(self, network: Network, host: str) -> None:
        self.network, self.host = network, host

    def run(self, command: str, timeout: float = 10.0, max_output: int = 8 << 20) -> CommandResult:
        return self.network.answer(self.host, command)

    def close(self) -> None:
        pass


def _ping_answer(command: str) -> str:
    """A tunnel of MTU 1420 whose sender knows it, and a black hole above 1380 behind it."""
    payload = int(m.group(1)) if (m := re.search(r"-s (\d+)", command)) else 56
    size, sent = payload + 28, (2 if "-c 2" in command else 1)
    stats = "\n--- 10.42.3.1 ping statistics ---\n"
    if "-M do" in command and size > 1420:
        return (
            "ping: local error: message too long, mtu=1420\n"
            + stats
            + f"{sent} packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms\n"
        )
    if size > 1380:
        return stats + f"{sent} packets transmitted, 0 received, 100% packet loss, time 0ms\n"
    return (
        f"{payload + 8} bytes from 10.42.3.1: icmp_seq=1 ttl=62 time=0.1 ms\n"
        + stats
        + f"{sent} packets transmitted, {sent} received, 0% packet loss, time 0ms\n"
        "rtt min/avg/max/mdev = 0.1/0.1/0.1/0.0 ms\n"
    )


def _collect(
    recording: str,
    slow: dict[str, float],
    early: bool,
    probe_time: float = 0.0,
    prepare: Callable[[Network], None] = lambda _network: None,
    ping_wait: float = 0.2,
) -> tuple[Collected, Network, Inventory]:
    inv, _path, _nodes, recorded = load_recording(RUNS / recording)
    network = Network(recorded.facts, slow)
    network.probe_time = probe_time
    prepare(network)
    options = RunOptions(probes=ProbeSettings(capture_seconds=0.1, ping_wait=ping_wait))
    if not early:
        original = run_module.ProbeRunner

        class LateRunner(original):  # type: ignore[misc, valid-type]
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, **{**kwargs, "early": False})  # type: ignore[arg-type]

        run_module.ProbeRunner = LateRunner  # type: ignore[misc]
        try:
            collected = collect(inv, list(recorded.scope), network.connect, options, lambda _line: None)
        finally:
            run_module.ProbeRunner = original  # type: ignore[misc]
    else:
        collected = collect(inv, list(recorded.scope), network.connect, options, lambda _line: None)
    return collected, network, inv


def test_a_hosts_probes_start_while_a_slower_host_is_still_collected() -> None:
    collected, network, _inv = _collect("mtu-blackhole.json", {"router-mine": 1.5}, early=True)

    slowest_done = network.collected["router-mine"]
    before = sorted({host for at, host, command in network.sent if at < slowest_done and "ping" in command})
    assert "sakamoto" in before and "yuuko-k8s" in before, before
    # and their pings and sweeps are the run's results
    assert set(collected.active.pings) >= {"sakamoto->yuuko-k8s", "yuuko-k8s->sakamoto"}
    assert collected.active.sweeps["sakamoto->yuuko-k8s"].path_mtu == 1380


@pytest.mark.parametrize("recording", ["mtu-blackhole.json", "asn-mismatch.json", "healthy.json"])
def test_starting_probes_early_sends_the_same_probes_and_keeps_the_same_evidence(recording: str) -> None:
    early, early_net, _inv = _collect(recording, {"router-mine": 0.3}, early=True)
    late, late_net, _inv = _collect(recording, {"router-mine": 0.3}, early=False)

    assert Counter((h, c) for _t, h, c in early_net.sent) == Counter((h, c) for _t, h, c in late_net.sent)
    a, b = early.active, late.active
    assert {k: (cmd, raw) for k, (_r, cmd, raw) in a.pings.items()} == {
        k: (cmd, raw) for k, (_r, cmd, raw) in b.pings.items()
    }
    assert {k: (cmd, raw) for k, (_r, cmd, raw) in a.peer_pings.items()} == {
        k: (cmd, raw) for k, (_r, cmd, raw) in b.peer_pings.items()
    }
    assert {k: raw for k, (_r, _cmd, raw) in a.kubelets.items()} == {
        k: raw for k, (_r, _c, raw) in b.kubelets.items()
    }
    assert a.sweeps == b.sweeps and a.sweeps
    assert (a.errors, a.capture_errors, a.captures) == (b.errors, b.capture_errors, b.captures)
    for name, facts in early.facts.items():
        got = {k: (r.command, r.stdout_bytes) for k, r in facts.outputs.items()}
        want = {k: (r.command, r.stdout_bytes) for k, r in late.facts[name].outputs.items()}
        assert got == want, name


def test_no_host_runs_more_probes_at_once_than_its_ssh_server_allows(monkeypatch: pytest.MonkeyPatch) -> None:
    """sshd opens 10 sessions per connection by default; a router with many sessions to sweep, and
    the vantage host probing every kubelet, must queue their probes rather than lose the connection."""
    monkeypatch.setattr(active, "PROBES_PER_HOST", 2)
    collected, network, _inv = _collect("healthy.json", {}, early=True, probe_time=0.05)

    assert max(network.most.values()) == 2, network.most
    assert collected.active.errors == {} and collected.active.sweeps


def _within(seconds: float, work: Callable[[], Collected]) -> Collected:
    done: list[Collected] = []
    worker = threading.Thread(target=lambda: done.append(work()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert done, f"the run hung for {seconds} s"
    return done[0]


def test_an_early_probe_that_breaks_is_that_probes_error_not_a_hung_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_chain(*_args: object) -> None:
        raise RuntimeError("the chain broke")

    monkeypatch.setattr(active.ProbeRunner, "_chain", broken_chain)
    collected = _within(60, lambda: _collect("mtu-blackhole.json", {}, early=True)[0])

    assert collected.active.errors["ping sakamoto->yuuko-k8s"] == "RuntimeError: the chain broke"


def test_a_probe_whose_connection_breaks_fails_alike_early_or_not() -> None:
    def breaking(network: Network) -> None:
        answer = network.answer

        def run(host: str, command: str) -> CommandResult:
            if host == "sakamoto" and command.startswith("ping -n -c 2"):
                raise RuntimeError("channel broke")
            return answer(host, command)

        network.answer = run  # type: ignore[method-assign]

    early = _within(60, lambda: _collect("mtu-blackhole.json", {}, early=True, prepare=breaking)[0])
    late = _collect("mtu-blackhole.json", {}, early=False, prepare=breaking)[0]

    assert early.active.errors == late.active.errors
    assert early.active.errors["ping sakamoto->yuuko-k8s"] == "RuntimeError: channel broke"


def _bgp_sockets(host: str, lines: str) -> Callable[[Network], None]:
    def prepare(network: Network) -> None:
        command = network.recorded[host].outputs["ip.addr"].command  # any: only the output is read
        network.recorded[host].outputs["ss.bgp_tcp"] = CommandResult(command, 0, lines.encode())

    return prepare


# `ss -Htni` lines of a live BGP connection (its kernel RTT 2.186 ms) and of one backing off
LIVE_SOCKET = (
    "ESTAB 0      0      192.168.0.81:50789 192.168.6.1:179\n"
    "\t bbr wscale:10,10 rto:204 rtt:2.186/4.323 ato:40 mss:1448 pmtu:1500 lastack:912 minrtt:0.005\n"
)
STALE_SOCKET = (
    "ESTAB 0      207    192.168.0.81:50789 192.168.6.1:179\n"
    "\t bbr wscale:10,10 rto:6656 backoff:5 rtt:4.545/9.044 mss:1448 lastack:11500 unacked:1\n"
)


@pytest.mark.parametrize("early", [True, False])
def test_a_session_segments_first_probe_waits_its_bgp_connections_round_trips_not_a_second(
    early: bool,
) -> None:
    """The kernel may already hold a smaller path MTU towards the peer: ping then fails locally at
    once, yet waits out its whole -W. The session's own TCP connection has measured the round trip."""
    collected, _network, _inv = _collect(
        "healthy.json", {}, early=early, ping_wait=1.0, prepare=_bgp_sockets("yuuko-k8s", LIVE_SOCKET)
    )

    sweeps = collected.active.sweeps
    first = sweeps["yuuko-k8s->router-mine bgp 192.168.6.1"].probes[0].raw.splitlines()[0]
    assert first == "$ ping -n -M do -c 1 -i 0.2 -W 0.2 -s 1472 -I 192.168.0.81 192.168.6.1"
    # a segment whose connection was not seen keeps the default wait
    other = sweeps["yuuko-k8s->router-home bgp 192.168.0.1"].probes[0].raw.splitlines()[0]
    assert " -W 1 " in other
    assert collected.facts["yuuko-k8s"].outputs["mtu.router-mine@192.168.6.1"].command.startswith("ping")


def test_a_retransmitting_connections_round_trip_is_not_trusted() -> None:
    collected, _network, _inv = _collect(
        "healthy.json", {}, early=True, ping_wait=1.0, prepare=_bgp_sockets("yuuko-k8s", STALE_SOCKET)
    )

    first = collected.active.sweeps["yuuko-k8s->router-mine bgp 192.168.6.1"].probes[0].raw
    assert " -W 1 " in first.splitlines()[0]


@pytest.mark.parametrize(
    ("status", "output"),
    [(1, "ss: netlink error\n"), (0, "not ss output at all\n"), (124, LIVE_SOCKET[:40])],
)
def test_a_bgp_connection_read_that_failed_or_did_not_parse_leaves_the_default_wait(
    status: int, output: str
) -> None:
    """No round trip is taken from a `ss -ti` that failed, timed out or could not be read: the
    probe waits the default, and nothing else changes."""

    def prepare(network: Network) -> None:
        command = network.recorded["yuuko-k8s"].outputs["ip.addr"].command
        network.recorded["yuuko-k8s"].outputs["ss.bgp_tcp"] = CommandResult(command, status, output.encode())

    collected, _network, _inv = _collect("healthy.json", {}, early=True, ping_wait=1.0, prepare=prepare)

    first = collected.active.sweeps["yuuko-k8s->router-mine bgp 192.168.6.1"].probes[0].raw
    assert " -W 1 " in first.splitlines()[0]
    assert collected.active.errors == {}


def test_with_a_known_round_trip_early_and_late_probes_are_the_same() -> None:
    prepare = _bgp_sockets("yuuko-k8s", LIVE_SOCKET)
    slow = {"router-mine": 0.3}
    early, early_net, _inv = _collect("healthy.json", slow, True, ping_wait=1.0, prepare=prepare)
    late, late_net, _inv = _collect("healthy.json", slow, False, ping_wait=1.0, prepare=prepare)

    assert Counter((h, c) for _t, h, c in early_net.sent) == Counter((h, c) for _t, h, c in late_net.sent)
    assert early.active.sweeps == late.active.sweeps
