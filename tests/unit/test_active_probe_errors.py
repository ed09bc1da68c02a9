"""One probe whose output cannot be read is that probe's error, never the end of the run.

A ping killed under load prints nothing; `parse_ping` then refuses the output. Before, the wait
that orders pings before MTU sweeps re-raised that error and the whole run stopped with
"ping: no statistics line and no ping error in ''".
"""

from __future__ import annotations

from pathlib import Path

from bgpdoctor.engine.active import NodePair, ProbeSettings, run_active
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.world import World
from bgpdoctor.transport.base import CommandResult

RUNS = Path(__file__).resolve().parents[2] / "captures" / "runs"


class SilentPing:
    """A host whose pings print nothing (killed by a timeout) and whose sweeps answer normally."""

    host = "sakamoto"

    def run(self, command: str, timeout: float = 10.0, max_output: int = 8 << 20) -> CommandResult:
        if command.startswith("ping -n -c 2"):
            return CommandResult(command, None, b"", timed_out=True)
        size = int(command.split("-s ")[1].split()[0]) if "-s " in command else 56
        reply = f"1 packets transmitted, 1 received, 0% packet loss, time 0ms\n# size {size}\n"
        return CommandResult(command, 0, reply.encode())

    def close(self) -> None:
        pass


def test_an_unreadable_ping_is_that_probes_error_and_the_sweep_still_runs() -> None:
    inv, _path, _nodes, collected = load_recording(RUNS / "healthy.json")
    facts = collected.facts
    facts["sakamoto"].connection = SilentPing()
    world = World(inv, facts)
    pair = NodePair("sakamoto", "yuuko-k8s", "10.42.0.1", "10.42.3.1", "10.42.3.0/24")
    progress: list[str] = []

    out = run_active(world, [], [pair], ProbeSettings(capture=False), progress.append)

    assert "ping sakamoto->yuuko-k8s" in out.errors
    assert "no statistics line" in out.errors["ping sakamoto->yuuko-k8s"]
    assert pair.key in out.sweeps  # the sweep after the failed ping still ran
    assert any("probe ping sakamoto->yuuko-k8s failed" in line for line in progress)
