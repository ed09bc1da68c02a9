"""Prometheus metrics of a run or of `bgpdoctor status`, in node_exporter's textfile format.

Point node_exporter's `--collector.textfile.directory` at a folder and write
`--prometheus DIR/bgpdoctor.prom` there from a cron job or a systemd timer. The file is written
atomically (a temporary file in the same folder, then a rename), so the collector never reads half
a file. No sample carries a timestamp: the textfile collector rejects them; the time of the run is
the `bgpdoctor_last_run_timestamp_seconds` gauge. Example (shortened)::

    # HELP bgpdoctor_session_state BGP session state at one end, as its daemon reports it ...
    # TYPE bgpdoctor_session_state gauge
    bgpdoctor_session_state{session="r1<->n1",host="r1",peer_address="10.0.0.2",state="passive"} 1
    # HELP bgpdoctor_checks Check results of the last run, by status.
    # TYPE bgpdoctor_checks gauge
    bgpdoctor_checks{status="fail"} 2
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bgpdoctor.report.model import Report
from bgpdoctor.report.status import StatusReport

STATUSES = ("pass", "fail", "warn", "error", "skip", "unknown")


@dataclass
class _Family:
    name: str
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> None:
        self.samples.append((labels, value))


def _label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _exposition(families: list[_Family]) -> str:
    out: list[str] = []
    for f in families:
        if not f.samples:
            continue
        out.append(f"# HELP {f.name} {f.help}")
        out.append(f"# TYPE {f.name} gauge")
        for labels, value in f.samples:
            text = ",".join(f'{k}="{_label_value(v)}"' for k, v in labels.items())
            out.append(f"{f.name}{{{text}}} {_number(value)}" if text else f"{f.name} {_number(value)}")
    return "\n".join(out) + "\n"


def _session_families(status: StatusReport) -> list[_Family]:
    state = _Family(
        "bgpdoctor_session_state",
        "BGP session state at one end, as its daemon reports it (1: current; state unknown: not read).",
    )
    up = _Family(
        "bgpdoctor_session_established",
        "1 when this end reports the session established, 0 when it reports another state "
        "(absent when the end could not be read).",
    )
    verdict = _Family(
        "bgpdoctor_session_up",
        "1 when both ends report the session established, 0 when one reports it down (absent: unknown).",
    )
    for s in status.sessions:
        if s.verdict != "unknown":
            verdict.add(1 if s.verdict == "established" else 0, session=s.session)
        for end in [s.a] + ([s.b] if s.b else []):
            labels = {"session": s.session, "host": end.host, "peer_address": end.peer_address or ""}
            state.add(1, **labels, state=end.state or "unknown")
            if end.state is not None:
                up.add(1 if end.state == "established" else 0, **labels)
    return [verdict, state, up]


def render_prometheus(
    report: Report | None, status: StatusReport | None, finished: datetime | None = None
) -> str:
    """Metrics of a run (`report`, with the session `status` its facts give) or of `status` alone.

    `finished` (default: the report's finish time, else when the status facts were taken) is the
    value of bgpdoctor_last_run_timestamp_seconds.
    """
    families: list[_Family] = []
    if status is not None:
        families += _session_families(status)
    exit_code = _Family(
        "bgpdoctor_exit_code",
        "Exit code of the last bgpdoctor run (0 healthy, 1 findings, 3 could not check).",
    )
    stamp = _Family("bgpdoctor_last_run_timestamp_seconds", "When the last run finished, Unix time.")
    if report is not None:
        s = report.summary
        checks = _Family("bgpdoctor_checks", "Check results of the last run, by status.")
        counts = dict(
            zip(STATUSES, (s.passed, s.failed, s.warnings, s.errors, s.skipped, s.unknown), strict=True)
        )
        for name, count in counts.items():
            checks.add(count, status=name)
        findings = _Family("bgpdoctor_findings", "Root causes found plus failures no root cause explains.")
        findings.add(s.findings)
        causes = _Family("bgpdoctor_root_cause", "A root cause the last run found (1), with its rank.")
        for d in report.diagnoses:
            causes.add(1, root_cause=d.root_cause, rank=str(d.rank))
        hosts = _Family("bgpdoctor_hosts", "Hosts in the run's scope, by whether they could be reached.")
        hosts.add(s.hosts - s.unreachable_hosts, reachable="true")
        hosts.add(s.unreachable_hosts, reachable="false")
        seconds = _Family("bgpdoctor_run_seconds", "Wall time of the last run's collection and probes.")
        seconds.add(report.timing.wall_seconds)
        families += [checks, findings, causes, hosts, seconds]
        exit_code.add(s.exit_code)
        when = finished or datetime.fromisoformat(report.timing.finished)
    elif status is not None:
        exit_code.add(status.exit_code)
        when = finished or datetime.fromisoformat(status.taken_at)
    else:
        raise ValueError("render_prometheus needs a report or a status")
    stamp.add(round(when.timestamp(), 3))
    families += [exit_code, stamp]
    return _exposition(families)


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` so a reader sees the old file or the new one, never a partial one:
    a temporary file in the same folder (same filesystem), flushed, then renamed over `path`."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)  # mkstemp makes it 0600; node_exporter often runs as another user
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
