"""`bgpdoctor status`: every BGP session from both ends, read from the daemons, no active probes.

Built from the engine's World and its paired sessions (bgpdoctor.engine.sessions); only what the
daemons print is shown, and an end that could not be read keeps the reason. Example (JSON, one end)::

    {"host": "router-mine", "speaker": "bird2", "peer_address": "192.168.6.80",
     "state": "established", "unknown": null, "last_error": null, "since": "22:35:50.001",
     "for_s": 408, "received": null, "accepted": 1, "advertised": 3, "hold_time_s": 9,
     "passive": true}
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bgpdoctor.drivers import driver_for
from bgpdoctor.engine.collect import HostFacts
from bgpdoctor.engine.world import Session, SessionEnd, World
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.report.safe_text import one_line

Verdict = Literal["established", "down", "unknown"]
EXIT_ESTABLISHED, EXIT_DOWN, EXIT_UNKNOWN = 0, 1, 3


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndStatus(_Model):
    """One end of a session as its daemon reports it; None means the daemon does not say."""

    host: str
    speaker: str
    peer_address: str | None  # the address this end is configured to reach the other end on
    state: str | None  # established, active, connect, idle, passive, missing...; None: unknown
    unknown: str | None = None  # why `state` is None
    last_error: str | None = None
    since: str | None = None  # when the current state began, as the daemon prints it
    for_s: int | None = None  # seconds in the current state
    received: int | None = None  # prefixes received from the other end
    accepted: int | None = None  # of those, accepted by the import policy
    advertised: int | None = None  # prefixes sent to the other end
    hold_time_s: int | None = None  # negotiated hold time
    passive: bool | None = None  # True: this end waits, the other end dials


class SessionStatus(_Model):
    session: str
    verdict: Verdict
    a: EndStatus
    b: EndStatus | None  # None: the other end is not in the inventory


class StatusReport(_Model):
    taken_at: str  # when the facts were collected (ISO 8601, UTC)
    hosts: list[str]
    sessions: list[SessionStatus]
    exit_code: int


def end_status(world: World, end: SessionEnd, now: datetime) -> EndStatus:
    """What one end's daemon says about the session, or why it could not be read."""
    speaker = world.inv.hosts[end.host].speaker
    out = EndStatus(
        host=end.host,
        speaker=speaker,
        peer_address=str(end.peer.address) if end.peer else None,
        state=end.state,
        last_error=end.observed.last_error if end.observed else None,
        passive=end.passive,
    )
    driver = driver_for(speaker)
    if end.state is None:
        if driver is None:
            out.unknown = f"bgpdoctor does not read the sessions of speaker {speaker!r} on {end.host}"
        else:
            problem = world.command_problem(end.host, driver.session_fact)
            out.unknown = problem.detail if problem else f"{driver.session_fact} on {end.host} gave nothing"
        return out
    match = end.observed
    if match is None:
        return out
    out.since = match.since
    out.for_s = match.up_for_s
    if match.since_epoch:
        since = datetime.fromtimestamp(match.since_epoch, UTC)
        out.since = since.isoformat(timespec="seconds")
        out.for_s = max(0, int((now - since).total_seconds()))
    out.received, out.accepted, out.advertised = match.received, match.accepted, match.advertised
    out.hold_time_s = match.hold_time_s
    return out


def verdict(ends: list[EndStatus]) -> Verdict:
    """down when any end is known not to be established; established only when every end says so."""
    if any(e.state is not None and e.state != "established" for e in ends):
        return "down"
    return "established" if all(e.state == "established" for e in ends) else "unknown"


def exit_code(sessions: list[SessionStatus]) -> int:
    """0 every session established, 1 some session down, 3 none down but some could not be read."""
    verdicts = {s.verdict for s in sessions}
    if "down" in verdicts:
        return EXIT_DOWN
    return EXIT_UNKNOWN if "unknown" in verdicts else EXIT_ESTABLISHED


def build_status(world: World, sessions: list[Session], hosts: list[str], now: datetime) -> StatusReport:
    """The status of `sessions` (from `expected_sessions`) as of `now`, when the facts were taken."""
    rows: list[SessionStatus] = []
    for s in sessions:
        a = end_status(world, s.a, now)
        b = end_status(world, s.b, now) if s.b is not None else None
        rows.append(SessionStatus(session=s.label, verdict=verdict([a] + ([b] if b else [])), a=a, b=b))
    return StatusReport(
        taken_at=now.astimezone(UTC).isoformat(timespec="seconds"),
        hosts=hosts,
        sessions=rows,
        exit_code=exit_code(rows),
    )


def _duration(seconds: int | None) -> str:
    """408 -> "6m48s", 90061 -> "1d1h", None -> "-"."""
    if seconds is None:
        return "-"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _end_cells(end: EndStatus) -> list[str]:
    if end.state is None:
        return [end.host, "?", "?", "?", "?", "?", one_line(end.unknown or "unknown")]
    dials = "-" if end.passive is None else ("no" if end.passive else "yes")
    counts = "/".join(_count(v) for v in (end.received, end.accepted, end.advertised))
    hold = "-" if end.hold_time_s is None else f"{end.hold_time_s}s"
    return [end.host, end.state, _duration(end.for_s), counts, hold, dials, one_line(end.last_error or "-")]


def render_status_text(report: StatusReport) -> str:
    """One row per end, the session named on its first row; "?" and the reason where an end could
    not be read, "-" where the daemon does not say."""
    header = ["SESSION", "END", "STATE", "FOR", "RCV/ACC/ADV", "HOLD", "DIALS", "LAST ERROR"]
    rows: list[list[str]] = []
    for s in report.sessions:
        label = f"{one_line(s.session)} [{s.verdict}]"
        rows.append([label, *_end_cells(s.a)])
        if s.b is not None:
            rows.append(["", *_end_cells(s.b)])
        else:
            other = s.a.peer_address or "?"
            rows.append(["", other, "?", "?", "?", "?", "?", "the other end is not in the inventory"])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in [header, *rows]
    ]
    counts = {
        v: sum(1 for s in report.sessions if s.verdict == v) for v in ("established", "down", "unknown")
    }
    lines.append("")
    lines.append(
        f"{len(report.sessions)} sessions: {counts['established']} established, {counts['down']} down, "
        f"{counts['unknown']} unknown (facts taken {report.taken_at})"
    )
    return "\n".join(line.rstrip() for line in lines)


def render_status_json(report: StatusReport) -> str:
    return report.model_dump_json(indent=2)


def status_of_facts(
    inv: Inventory, facts: dict[str, HostFacts], scope: list[str], taken: datetime, world: World | None = None
) -> StatusReport:
    """The status `bgpdoctor status` prints, from facts a run (or a recording) already holds; `world`:
    the run's parsed view of those very facts, when it has one (parsing them again doubled a replay)."""
    from bgpdoctor.engine.sessions import expected_sessions

    if world is None or world.inv is not inv or world.facts is not facts:
        world = World(inv, facts)
    return build_status(world, expected_sessions(world, scope), scope, taken)


def session_state(s: SessionStatus) -> str:
    """One word for a session: "Established", the first end's state that is not ("Passive",
    "Active", "Idle", "Missing"...), or "Unknown" when no end says it is down and some could not
    be read."""
    if s.verdict == "established":
        return "Established"
    if s.verdict == "unknown":
        return "Unknown"
    ends = [s.a] + ([s.b] if s.b else [])
    down = next(e.state for e in ends if e.state is not None and e.state != "established")
    return down.capitalize()


SUMMARY_SESSIONS_NAMED = 3  # sessions named in the summary line's parenthesis


def bgp_summary_line(report: StatusReport) -> str:
    """The line heading `run` and `replay` output, from the same data as `bgpdoctor status`.

    Example: "BGP: 4 sessions, 3 Established, 1 Passive (router-mine<->yuuko-k8s: router-mine
    passive, yuuko-k8s idle)"
    """
    if not report.sessions:
        return "BGP: no sessions in the inventory's scope"
    states = [session_state(s) for s in report.sessions]
    order = ["Established", *sorted({x for x in states if x not in ("Established", "Unknown")}), "Unknown"]
    counts = [f"{states.count(state)} {state}" for state in order if state in states]
    not_up = [s for s in report.sessions if s.verdict != "established"]
    named = []
    for s in not_up[:SUMMARY_SESSIONS_NAMED]:
        ends = [s.a] + ([s.b] if s.b else [])
        named.append(f"{s.session}: " + ", ".join(f"{e.host} {e.state or 'unknown'}" for e in ends))
    if len(not_up) > SUMMARY_SESSIONS_NAMED:
        named.append(f"{len(not_up) - SUMMARY_SESSIONS_NAMED} more")
    detail = f" ({'; '.join(named)})" if named else ""
    noun = "session" if len(report.sessions) == 1 else "sessions"
    return one_line(f"BGP: {len(report.sessions)} {noun}, {', '.join(counts)}{detail}")
