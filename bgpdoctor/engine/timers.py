"""Dead-session detection tuned too tight: a negotiated hold time so short that a paused VM or a busy
CPU lets it expire, and the evidence that it did (captures/outputs/_lab_configs/hold_timer).

The threshold is 9 s: the corpus's flapping case runs 1 s keepalive / 3 s hold on VMs
(anchors-2026-12.md, session-liveness), while 3 s / 9 s is the fastest profile in common use (FRR's
`datacenter` defaults, this project's lab) and holds. A short hold alone is a warning; a hold timer
seen expiring makes it a cause.
- BIRD 2 prints the negotiated hold only while Established (`Hold timer: 1.735/3`) and clears
  `Last error: BGP Error: Hold timer expired` once the session is back;
- GoBGP keeps `timers.config.hold_time` and counts OPENs received since gobgpd started
  (`messages.received.open` 2: the session came up twice); its driver reads both
  (bgpdoctor.drivers.gobgp).

Example: BIRD `Hold timer: 1.735/3` on one end gives hold_time_s=3, hold_time_aggressive=True.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bgpdoctor.drivers import driver_for

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Session, SessionEnd, World

AGGRESSIVE_HOLD_S = 9


def _hold_of(world: World, end: SessionEnd) -> int | None:
    """The negotiated hold time this end reports, else the one its daemon is configured with (GoBGP)."""
    speaker = world.inv.hosts[end.host].speaker if end.host in world.inv.hosts else ""
    driver = driver_for(speaker)
    if driver is None or end.peer is None:
        return None
    state = world.neighbor_for(end.host, end.peer) if world.neighbors(end.host) else None
    if state is not None and state.hold_time_s:
        return state.hold_time_s
    return driver.configured_hold_s(world, end.host, str(end.peer.address))


def _expiry_seen(world: World, end: SessionEnd) -> str | None:
    error = end.observed.last_error if end.observed else None
    if "hold timer expired" in (error or "").lower():
        return f"{end.host}: {error}"
    driver = driver_for(world.inv.hosts[end.host].speaker) if end.host in world.inv.hosts else None
    seen = driver.restarts_seen(world, end.host, str(end.peer.address)) if driver and end.peer else None
    return f"{end.host}: {seen}" if seen is not None else None


def hold_time_facts(world: World, s: Subject, session: Session) -> None:
    """hold_time_s (the shortest hold any end reports), hold_time_aggressive and the flap evidence."""
    holds = {e.host: h for e in session.ends if (h := _hold_of(world, e)) is not None}
    if not holds:
        return  # no end prints a hold time (every session down on BIRD): nothing to judge
    shortest = min(holds.values())
    evidence = [ev for e in session.ends if e.host in holds for ev in e.evidence]
    s.add("hold_time_s", shortest, *evidence)
    s.add("hold_time_ends", ", ".join(f"{host}: {h} s" for host, h in holds.items()))
    s.add("hold_time_aggressive", shortest < AGGRESSIVE_HOLD_S)
    # the fix goes on the end with the shortest hold (negotiated values are equal: the first end)
    fix_end = next(e for e in session.ends if holds.get(e.host) == shortest)
    s.add("hold_fix_host", fix_end.host)
    if fix_end.peer is not None:
        s.add("hold_fix_neighbor", str(fix_end.peer.address))
        s.add("hold_fix_protocol", fix_end.peer.name or "")
    if fix_end.local_as:
        s.add("hold_fix_asn", fix_end.local_as)
    seen = [x for e in session.ends if (x := _expiry_seen(world, e)) is not None]
    s.add("hold_expiry_seen", bool(seen))
    if seen:
        s.add("hold_expiry_evidence", "; ".join(seen))
