"""A session torn down because one end's prefix limit was hit (NOTIFICATION Cease 6/1).

Read from what each end's daemon really prints (captures/outputs/_lab_configs/max_prefix):
- BIRD 2, the limiting end: `Last error: Automatic shutdown: Route limit exceeded` and, in the
  channel, `Import limit:   3 [HIT]` (or `Receive limit`);
- BIRD 2, the sending end: `Last error: Received: Maximum number of prefixes reached`;
- FRR: `BGP Notification send: Cease/Maximum Number of Prefixes Reached` (received on the other end);
- GoBGP, the limiting end: `"admin_state": 2` (PFX_CT, `Idle(PfxCt)`) with the family's
  `prefix_limits.max_prefixes`. GoBGP closes the socket so fast that a BIRD peer only reports
  `Socket: Connection reset by peer`.

Example: a BIRD end whose last error is "Automatic shutdown: Route limit exceeded" gives the session
facts max_prefix_hit=True, max_prefix_end="router", max_prefix_limit=3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bgpdoctor.drivers import Driver, driver_for, raw_output
from bgpdoctor.drivers.bird import protocol_block
from bgpdoctor.drivers.gobgp import limit_hit_of

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Session, SessionEnd, World

LIMITED_HERE = ("route limit exceeded", "cease/maximum number of prefixes reached")
LIMITED_THERE = "maximum number of prefixes reached"


@dataclass
class LimitHit:
    enforcer: str  # the host (or the outside peer's address) whose limit was hit
    sender: str  # the end that announced too many prefixes
    reported_by: str
    limit: int | None = None


def _driver(world: World, end: SessionEnd) -> Driver | None:
    return driver_for(world.inv.hosts[end.host].speaker) if end.host in world.inv.hosts else None


def _raw(world: World, end: SessionEnd) -> str:
    """The end's session fact as collected (engine/ipv6.py quotes BIRD blocks of it)."""
    driver = _driver(world, end)
    return raw_output(world, end.host, driver.session_fact) if driver is not None else ""


def _bird_block(text: str, end: SessionEnd) -> str:
    """bgpdoctor.drivers.bird.protocol_block of the protocol `end` configures for the other end."""
    return protocol_block(text, end.peer)


_gobgp_limit_hit = limit_hit_of  # the name tests/unit/test_prefix_limit_and_hold_timer.py imports


def _other(session: Session, end: SessionEnd) -> str:
    other = session.b if end is session.a else session.a
    if other is not None:
        return other.host
    return str(end.peer.address) if end.peer else "?"


def limit_hit(world: World, session: Session) -> LimitHit | None:
    """The first end that shows a prefix limit hit, from its own side or from its peer's NOTIFICATION."""
    for end in session.ends:
        error = ((end.observed.last_error if end.observed else None) or "").lower()
        driver = _driver(world, end)
        if any(w in error for w in LIMITED_HERE) and "received" not in error:
            limit = driver.limit_hit(world, end.host, end.peer) if driver is not None else None
            return LimitHit(end.host, _other(session, end), end.host, limit)
        if driver is not None and end.peer is not None:
            hit, limit = driver.limit_state(world, end.host, str(end.peer.address))
            if hit:
                return LimitHit(end.host, _other(session, end), end.host, limit)
        if LIMITED_THERE in error and "received" in error:
            return LimitHit(_other(session, end), end.host, end.host)
    return None


def max_prefix_facts(world: World, s: Subject, session: Session) -> None:
    """Session facts max_prefix_hit and, when hit, which end enforced the limit and its value."""
    hit = limit_hit(world, session)
    if hit is None:
        known = all(e.state not in (None, "unknown") for e in session.ends)
        if known:
            s.add("max_prefix_hit", False)
        else:
            blind = next(e for e in session.ends if e.state in (None, "unknown"))
            driver = _driver(world, blind)
            s.unknown(
                "max_prefix_hit", world.command_problem(blind.host, driver.session_fact) if driver else None
            )
        return
    evidence = [ev for e in session.ends if e.host == hit.reported_by for ev in e.evidence]
    s.add("max_prefix_hit", True, *evidence)
    s.add("max_prefix_end", hit.enforcer)
    s.add("max_prefix_sender", hit.sender)
    s.add("max_prefix_reported_by", hit.reported_by)
    enforcer = world.inv.hosts.get(hit.enforcer)
    s.add("max_prefix_daemon", enforcer.speaker if enforcer is not None else "unknown")
    limiting = next((e for e in session.ends if e.host == hit.enforcer), None)
    if limiting is not None and limiting.peer is not None:
        # the sender's address and protocol name as the enforcing end configured them
        s.add("max_prefix_sender_address", str(limiting.peer.address))
        s.add("max_prefix_protocol", limiting.peer.name or "")
    if limiting is not None and limiting.local_as:
        s.add("max_prefix_end_asn", limiting.local_as)
    if hit.limit is not None:
        s.add("max_prefix_limit", hit.limit)
