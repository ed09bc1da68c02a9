"""A live run's MTU sweeps start from the interface MTUs on the traced path and wait as long as the
path's round trip needs: the lab's black hole (router-mine's zt0, 1380) is pinned in a few probes
with at most two silent losses per direction, and a recording of that search replays the same."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import threading
from pathlib import Path

from bgpdoctor.engine.active import NodePair, ProbeSettings, path_mtus, run_active
from bgpdoctor.engine.recording import load_recording, recording_json
from bgpdoctor.engine.world import World
from bgpdoctor.probes.mtu import MIN_SIZE
from bgpdoctor.transport.base import CommandResult

RUNS = Path(__file__).resolve().parents[2] / "captures" / "runs"
BLACK_HOLE = 1380  # router-mine's zt0 in the recorded mtu-blackhole lab


class BlackHolePath:
    """A host whose DF pings above `mtu` vanish without any ICMP; pings print iputils' wording."""

    def __init__(self, host: str, mtu: int, rtt_ms: float = 0.1) -> None:
        self.host, self.mtu, self.rtt_ms = host, mtu, rtt_ms
        self.waits: list[float] = []

    def run(self, command: str, timeout: float = 10.0, max_output: int = 8 << 20) -> CommandResult:
        payload = int(m.group(1)) if (m := re.search(r"-s (\d+)", command)) else 56
        size = payload + 28
        sent = 2 if "-c 2" in command else 1
        if "-M do" in command:
            self.waits.append(float(re.search(r"-W ([\d.]+)", command).group(1)))  # type: ignore[union-attr]
        stats = "\n--- 10.42.3.1 ping statistics ---\n"
        if size > self.mtu:
            text = stats + f"{sent} packets transmitted, 0 received, 100% packet loss, time 0ms\n"
        else:
            rtt = self.rtt_ms
            text = (
                f"{payload + 8} bytes from 10.42.3.1: icmp_seq=1 ttl=62 time={rtt} ms\n"
                + stats
                + f"{sent} packets transmitted, {sent} received, 0% packet loss, time 0ms\n"
                f"rtt min/avg/max/mdev = {rtt}/{rtt}/{rtt}/0.0 ms\n"
            )
        return CommandResult(command, 0 if size <= self.mtu else 1, text.encode())

    def close(self) -> None:
        pass


def _lab_with_black_hole() -> tuple[World, list[NodePair], dict[str, BlackHolePath]]:
    inv, _path, _nodes, collected = load_recording(RUNS / "mtu-blackhole.json")
    paths = {name: BlackHolePath(name, BLACK_HOLE) for name in ("sakamoto", "yuuko-k8s")}
    for name, path in paths.items():
        collected.facts[name].connection = path
    world = World(inv, collected.facts)
    pairs = [
        NodePair("sakamoto", "yuuko-k8s", "10.42.0.1", "10.42.3.1", "10.42.3.0/24"),
        NodePair("yuuko-k8s", "sakamoto", "10.42.3.1", "10.42.0.1", "10.42.0.0/24"),
    ]
    return world, pairs, paths


def test_the_paths_interface_mtus_are_the_candidates() -> None:
    world, pairs, _paths = _lab_with_black_hole()
    assert [path_mtus(world, p) for p in pairs] == [[1380, 1420, 1500], [1380, 1420, 1500]]


def test_a_live_sweep_pins_the_black_hole_within_its_budget_and_adapted_waits() -> None:
    world, pairs, paths = _lab_with_black_hole()

    out = run_active(world, [], pairs, ProbeSettings(capture=False), lambda _line: None)

    assert out.errors == {}
    budget = math.log2(1500 - MIN_SIZE) + 2
    for pair in pairs:
        result = out.sweeps[pair.key]
        silent = [p.size for p in result.probes if p.outcome == "silent-loss"]
        assert (result.path_mtu, result.silent_above, result.blackhole) == (1380, 1381, True)
        assert len(result.probes) <= budget and len(silent) <= 2, [p.size for p in result.probes]
        assert [p.size for p in result.probes] == [1500, MIN_SIZE, 1380, 1381]
    # the pod ping measured 0.1 ms: each DF probe waits the floor, not ping's full second
    assert {w for path in paths.values() for w in path.waits} == {0.2}


def test_without_a_measured_round_trip_the_first_reply_sets_the_wait() -> None:
    world, pairs, paths = _lab_with_black_hole()
    segment = dataclasses.replace(pairs[0], segment=True)

    run_active(world, [], [segment], ProbeSettings(capture=False), lambda _line: None)

    # 1500 is lost after the default wait; 576 replies in 0.1 ms, so 1380 and 1381 wait 0.2 s
    assert paths["sakamoto"].waits == [1.0, 1.0, 0.2, 0.2]


def test_a_recorded_candidate_first_sweep_replays_the_same(tmp_path: Path) -> None:
    inv, inventory_path, nodes, collected = load_recording(RUNS / "mtu-blackhole.json")
    world, pairs, _paths = _lab_with_black_hole()
    collected.active = run_active(world, [], pairs, ProbeSettings(capture=False), lambda _line: None)
    text = recording_json(inv, inventory_path, nodes, collected)
    saved = json.loads(text)["active"]["sweeps"]["sakamoto->yuuko-k8s"]
    assert (saved["candidates"], saved["budgeted"]) == ([1380, 1420, 1500], True)

    (tmp_path / "run.json").write_text(text)
    replayed = load_recording(tmp_path / "run.json")[3].active.sweeps
    for key, live in collected.active.sweeps.items():
        assert dataclasses.asdict(replayed[key]) == dataclasses.asdict(live)


class SlowPing(BlackHolePath):
    """A host whose pod ping answers only once another host's sweep has sent a probe (or after 5 s)."""

    def __init__(self, host: str, mtu: int, other_swept: threading.Event) -> None:
        super().__init__(host, mtu)
        self.other_swept = other_swept
        self.saw_other_sweep: bool | None = None

    def run(self, command: str, timeout: float = 10.0, max_output: int = 8 << 20) -> CommandResult:
        if "-c 2" in command:
            self.saw_other_sweep = self.other_swept.wait(5.0)
        return super().run(command, timeout, max_output)


class Sweeping(BlackHolePath):
    def __init__(self, host: str, mtu: int, swept: threading.Event) -> None:
        super().__init__(host, mtu)
        self.swept = swept

    def run(self, command: str, timeout: float = 10.0, max_output: int = 8 << 20) -> CommandResult:
        if "-M do" in command:
            self.swept.set()
        return super().run(command, timeout, max_output)


def test_a_sweep_does_not_wait_for_another_hosts_slow_ping() -> None:
    world, pairs, _paths = _lab_with_black_hole()
    swept = threading.Event()
    slow = SlowPing("sakamoto", BLACK_HOLE, swept)
    world.facts["sakamoto"].connection = slow
    world.facts["yuuko-k8s"].connection = Sweeping("yuuko-k8s", BLACK_HOLE, swept)

    out = run_active(world, [], pairs, ProbeSettings(capture=False), lambda _line: None)

    assert slow.saw_other_sweep is True  # yuuko-k8s swept while sakamoto's ping was still out
    assert out.errors == {} and all(out.sweeps[p.key].path_mtu == BLACK_HOLE for p in pairs)
