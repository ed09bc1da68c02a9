"""Drop traces in the active phase and in recordings: tracers started on every host, always stopped
(also when the probes are interrupted), their raw outputs recorded and re-read on replay."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from bgpdoctor.engine.active import ActiveResults, ProbeSettings, _drop_tracing
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.probes import droptrace as dt
from bgpdoctor.transport.base import CommandResult

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "droptrace"
HEALTHY = REPO / "captures" / "runs" / "healthy.json"
CAPS = (FIXTURES / "capabilities-netns-linux-6.18.txt").read_text()
NETNS = {"router-home": "4026533079", "router-mine": "4026533080"}  # one kernel, two namespaces


class FakeHost:
    """Answers the three droptrace commands like a lab namespace that saw an rp_filter drop."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.commands: list[str] = []

    def run(self, command: str, timeout: float = 10.0, max_output: int = 1 << 20) -> CommandResult:
        self.commands.append(command)
        if command == dt.CAPABILITIES_COMMAND:
            out = CAPS.replace("4026533079", NETNS[self.name])
        elif "mktemp -d" in command:
            out = "dir=/tmp/bgpdoctor-drops.AbC123 pid=42 ready=yes\n"
        elif self.name == "router-home":
            out = (FIXTURES / "stop-bpftrace-linux-6.18.txt").read_text()
        else:
            out = "Attaching 3 probes...\nREADY\n--- stderr\n130\n"
        return CommandResult(command, 0, out.encode(), "", 0.1)

    def close(self) -> None:
        pass


class World:
    def __init__(self, facts: dict[str, Any]) -> None:
        self.facts = facts


@pytest.fixture
def world() -> tuple[World, dict[str, FakeHost]]:
    _inv, _path, _nodes, collected = load_recording(HEALTHY)
    hosts = {name: FakeHost(name) for name in NETNS}
    facts = {name: collected.facts[name] for name in NETNS}
    for name, host in hosts.items():
        facts[name].connection = host
        facts[name].outputs.clear()
    return World(facts), hosts


FLOWS = [dt.Flow("10.213.9.1", "10.213.0.2", 1), dt.Flow("10.213.9.1", "10.213.0.2", 6, 179)]


def test_each_host_gets_its_own_drops_and_the_outputs_are_recorded(
    world: tuple[World, dict[str, FakeHost]],
) -> None:
    w, hosts = world
    out = ActiveResults()
    with _drop_tracing(w, sorted(NETNS), FLOWS, ProbeSettings(drop_trace=True), out, lambda _m: None):  # type: ignore[arg-type]
        pass
    assert dt.drop_facts(out.drops["router-home"])["drop_reason_names"] == ["IP_RPFILTER"]
    assert out.drops["router-mine"].events == [] and out.drops["router-mine"].unknown is None
    # one kernel under both: one tracer, on router-home, filtering on both namespaces
    starts = {n: [c for c in h.commands if "mktemp -d" in c] for n, h in hosts.items()}
    assert starts["router-mine"] == [] and len(starts["router-home"]) == 1
    assert "($ns == 4026533079 || $ns == 4026533080)" in starts["router-home"][0]
    assert set(w.facts["router-home"].outputs) == {dt.CAPABILITIES_FACT, dt.START_FACT, dt.STOP_FACT}


def test_tracers_are_stopped_when_the_probes_are_interrupted(
    world: tuple[World, dict[str, FakeHost]],
) -> None:
    w, hosts = world
    out = ActiveResults()
    with (
        pytest.raises(KeyboardInterrupt),
        _drop_tracing(w, sorted(NETNS), FLOWS, ProbeSettings(drop_trace=True), out, lambda _m: None),  # type: ignore[arg-type]
    ):
        raise KeyboardInterrupt
    assert any("kill -TERM $p" in c for c in hosts["router-home"].commands)  # the stop command ran
    assert "router-home" in out.drops


def test_no_flows_no_tracing(world: tuple[World, dict[str, FakeHost]]) -> None:
    w, hosts = world
    out = ActiveResults()
    with _drop_tracing(w, sorted(NETNS), [], ProbeSettings(drop_trace=True), out, lambda _m: None):  # type: ignore[arg-type]
        pass
    assert out.drops == {} and all(h.commands == [] for h in hosts.values())


def _output(text: str) -> dict[str, Any]:
    return {
        "command": "(droptrace)",
        "exit_status": 0,
        "stdout_b64": base64.b64encode(text.encode()).decode(),
        "stderr": "",
        "timed_out": False,
    }


def test_a_replayed_recording_reads_the_drop_trace_again(tmp_path: Path) -> None:
    data = json.loads(HEALTHY.read_text())
    data["hosts"]["router-home"]["outputs"].update(
        {
            dt.CAPABILITIES_FACT: _output(CAPS),
            dt.START_FACT: _output("dir=/tmp/bgpdoctor-drops.AbC123 pid=42 ready=yes\n"),
            dt.STOP_FACT: _output((FIXTURES / "stop-bpftrace-linux-6.18.txt").read_text()),
        }
    )
    path = tmp_path / "rec.json"
    path.write_text(json.dumps(data))
    _inv, _path, _nodes, collected = load_recording(path)
    trace = collected.active.drops["router-home"]
    assert dt.drop_facts(trace)["drop_count"] == 3 and trace.method == "bpftrace"
    assert set(collected.active.drops) == {"router-home"}  # no trace recorded elsewhere: none, not an error


def test_a_recording_without_drop_traces_has_none() -> None:
    assert load_recording(HEALTHY)[3].active.drops == {}
