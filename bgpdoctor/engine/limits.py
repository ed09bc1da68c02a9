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

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bgpdoctor.drivers import driver_for
from bgpdoctor.parsers.birdblocks import protocol_blocks

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Session, SessionEnd, World

LIMITED_HERE = ("route limit exceeded", "cease/maximum number of prefixes reached")
LIMITED_THERE = "maximum number of prefixes reached"
GOBGP_PREFIX_LIMIT_STATES = (2, "ADMIN_STATE_PFX_CT", "PFX_CT")
_BIRD_LIMIT = re.compile(r"^\s*(Import|Receive) limit:\s*(\d+)\s*\[HIT\]", re.M)


@dataclass
class LimitHit:
    enforcer: str  # the host (or the outside peer's address) whose limit was hit
    sender: str  # the end that announced too many prefixes
    reported_by: str
    limit: int | None = None


def _raw(world: World, end: SessionEnd) -> str:
    driver = driver_for(world.inv.hosts[end.host].speaker) if end.host in world.inv.hosts else None
    facts = world.facts.get(end.host)
    result = facts.outputs.get(driver.session_fact) if facts and driver else None
    return result.stdout if result is not None else ""


def _bird_block(text: str, end: SessionEnd) -> str:
    """The `show protocols all` block of the protocol `end` configures for the other end (by its
    protocol name or its neighbor address, whichever BIRD prints first)."""
    block = protocol_blocks(text).block(
        name=end.peer.name if end.peer else None, address=str(end.peer.address) if end.peer else None
    )
    return "\n".join(block) if block is not None else ""


def dig(value: Any, *keys: str) -> Any:
    """value[k1][k2]... or None where a level is missing or not an object (odd JSON stays harmless)."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _gobgp_limit_hit(text: str, address: str) -> tuple[bool, int | None]:
    try:
        data: Any = json.loads(text)
    except ValueError:
        return False, None
    for n in data if isinstance(data, list) else [data]:
        if address not in (dig(n, "state", "neighbor_address"), dig(n, "conf", "neighbor_address")):
            continue
        families = dig(n, "afi_safis")
        limits = [
            dig(a, "prefix_limits", "max_prefixes") for a in (families if isinstance(families, list) else [])
        ]
        limit = next((x for x in limits if isinstance(x, int) and x > 0), None)
        return dig(n, "state", "admin_state") in GOBGP_PREFIX_LIMIT_STATES, limit
    return False, None


def _other(session: Session, end: SessionEnd) -> str:
    other = session.b if end is session.a else session.a
    if other is not None:
        return other.host
    return str(end.peer.address) if end.peer else "?"


def limit_hit(world: World, session: Session) -> LimitHit | None:
    """The first end that shows a prefix limit hit, from its own side or from its peer's NOTIFICATION."""
    for end in session.ends:
        error = (end.last_error or "").lower()
        speaker = world.inv.hosts[end.host].speaker if end.host in world.inv.hosts else ""
        if any(w in error for w in LIMITED_HERE) and "received" not in error:
            limit = None
            if speaker.startswith("bird"):
                found = _BIRD_LIMIT.search(_bird_block(_raw(world, end), end))
                limit = int(found.group(2)) if found else None
            return LimitHit(end.host, _other(session, end), end.host, limit)
        if speaker == "gobgp" and end.peer is not None:
            hit, limit = _gobgp_limit_hit(_raw(world, end), str(end.peer.address))
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
            driver = (
                driver_for(world.inv.hosts[blind.host].speaker) if blind.host in world.inv.hosts else None
            )
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
    if limiting is not None and (limiting.local_as_runtime or limiting.asn):
        s.add("max_prefix_end_asn", limiting.local_as_runtime or limiting.asn)
    if hit.limit is not None:
        s.add("max_prefix_limit", hit.limit)
