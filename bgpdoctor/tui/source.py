"""Where the TUI's runs come from: a live run over the inventory, or a recording to re-evaluate.

Both call the engine the CLI calls (`run_diagnosis` for `bgpdoctor run`, `load_recording` +
`evaluate` for `bgpdoctor replay`) and hand back the Report plus the session status of
`bgpdoctor status`, built from the same collected facts. No textual import here: a source runs in
a worker thread and talks to the app only through its `progress` and `on_event` callbacks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bgpdoctor.engine.cluster import ClusterFinding
from bgpdoctor.engine.progress import HostEvent, OnEvent
from bgpdoctor.engine.run import Collected, RunOptions, evaluate, run_diagnosis
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.report.model import Report
from bgpdoctor.report.status import StatusReport, build_status
from bgpdoctor.transport.base import Connection

Progress = Callable[[str], None]


@dataclass
class RunResult:
    """What one run gave: the report, every session's status from both ends, the raw facts."""

    report: Report
    status: StatusReport
    collected: Collected


def session_status(inv: Inventory, collected: Collected) -> StatusReport:
    """`bgpdoctor status` on the facts a run collected, as of when they were collected."""
    from bgpdoctor.engine.sessions import expected_sessions
    from bgpdoctor.engine.world import World

    world = World(inv, collected.facts)
    sessions = expected_sessions(world, collected.scope)
    return build_status(world, sessions, collected.scope, collected.started)


def final_events(collected: Collected) -> list[HostEvent]:
    """Each host's end state as the collected facts tell it: done, or failed with the reason."""
    events = []
    for name in collected.scope:
        facts = collected.facts[name]
        if facts.error is not None:
            events.append(HostEvent(name, "failed", f"{facts.error.kind}: {facts.error.message}"))
        elif not facts.contacted:
            events.append(HostEvent(name, "failed", "not contacted"))
        else:
            events.append(HostEvent(name, "done", f"{len(facts.outputs)} facts"))
    return events


class Source(Protocol):
    """A way to get a RunResult; `run` and `rerun_host` are called in a worker thread."""

    description: str
    inventory: Inventory
    scope: list[str]
    live: bool  # False: a recording; re-running means evaluating it again, no host is contacted

    def run(self, progress: Progress, on_event: OnEvent) -> RunResult: ...

    def rerun_host(
        self, host: str, previous: RunResult | None, progress: Progress, on_event: OnEvent
    ) -> RunResult: ...


class ReplaySource:
    """A file written by `bgpdoctor run --record`, evaluated as `bgpdoctor replay` does.

    Example: ReplaySource(Path("captures/runs/mtu-blackhole.json")).run(print, ignore_event)
    """

    live = False

    def __init__(self, path: Path, extra_checks: list[str] | None = None) -> None:
        from bgpdoctor.engine.recording import load_recording

        self.path = path
        self.inventory, self.inventory_path, nodes, self._collected = load_recording(path)
        self.scope = list(self._collected.scope)
        self.options = RunOptions(nodes=nodes, extra_checks=list(extra_checks or []))
        self.description = f"replay {path.name}"

    def run(self, progress: Progress, on_event: OnEvent) -> RunResult:
        progress(f"evaluating the recording {self.path.name} ({len(self.scope)} hosts)")
        report = evaluate(self.inventory, self.inventory_path, self._collected, self.options)
        for event in final_events(self._collected):
            on_event(event)
        progress(f"{report.summary.checks} checks, {report.summary.diagnoses} root cause(s)")
        return RunResult(report, session_status(self.inventory, self._collected), self._collected)

    def rerun_host(
        self, host: str, previous: RunResult | None, progress: Progress, on_event: OnEvent
    ) -> RunResult:
        progress(f"a recording cannot contact {host}: evaluating the whole recording again")
        return self.run(progress, on_event)


class LiveSource:
    """The hosts of an inventory, diagnosed as `bgpdoctor run` does."""

    live = True

    def __init__(
        self,
        inventory: Inventory,
        inventory_path: str,
        scope: list[str],
        connect: Callable[[str], Connection],
        options: RunOptions,
        cluster: list[ClusterFinding] | None = None,
        context: str | None = None,
    ) -> None:
        self.inventory = inventory
        self.inventory_path = inventory_path
        self.scope = scope
        self.connect = connect
        self.options = options
        self.cluster = list(cluster or [])
        self.context = context
        self.description = f"live {inventory_path}"

    def run(self, progress: Progress, on_event: OnEvent) -> RunResult:
        report, collected = run_diagnosis(
            self.inventory,
            self.inventory_path,
            self.scope,
            self.connect,
            self.options,
            progress,
            self.cluster,
            self.context,
            on_event=on_event,
        )
        return RunResult(report, session_status(self.inventory, collected), collected)

    def rerun_host(
        self, host: str, previous: RunResult | None, progress: Progress, on_event: OnEvent
    ) -> RunResult:
        """Collect `host`'s facts again and judge everything anew; the other hosts' facts and the
        active probes (captures, pings, MTU sweeps) are the previous run's."""
        if previous is None:
            return self.run(progress, on_event)
        from bgpdoctor.engine.collect import collect_all

        progress(f"collecting facts from {host} again")
        fresh = collect_all(
            [host],
            self.inventory,
            self.connect,
            self.options.command_timeout,
            progress,
            1,
            self.options.max_output,
            on_event,
        )[host]
        if fresh.connection is not None:
            fresh.connection.close()
        facts = {**previous.collected.facts, host: fresh}
        collected = dataclasses.replace(previous.collected, facts=facts)
        error = fresh.error
        on_event(
            HostEvent(host, "failed" if error else "done", f"{error.kind}: {error.message}" if error else "")
        )
        report = evaluate(self.inventory, self.inventory_path, collected, self.options)
        return RunResult(report, session_status(self.inventory, collected), collected)
