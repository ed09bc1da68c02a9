"""What each end of a session put in its OPEN, compared: graceful restart and address families.

Each end's daemon is read for its own view of the neighbor (bgpdoctor/parsers/capabilities.py): what
it sent and what it received. What an end sent is its own `local` view, else what the other end
says it received (BIRD 1.6 and cilium-dbg print only one side, or none). A side no output shows
stays unknown and decides nothing (captures/outputs/capabilities, real BIRD 2, BIRD 1.6, GoBGP, FRR).

graceful-restart-misbehaviour, from the evidence each variant leaves:
- `not-negotiated`: one end is in restart mode (its GR capability lists families: it expects its
  routes kept while it restarts) and the other sends no GR capability: every restart withdraws them;
- `family-not-run`: an end's GR capability lists a family the other end does not run, so its
  End-of-RIB never comes and route selection waits out the deferral timer (cilium#30367);
- `waits-for-dead-peer`: BIRD started with `-R` holds its recovery (`GR recovery: pending`) for a
  neighbor that is down, exporting nothing until the wait timer (240 s) runs out (calico#7144);
- `stale-routes-kept`: an end keeps a down neighbor's routes as stale, waiting for it to restart;
- `cease-cancels-gr`: a speaker that announced graceful restart stopped with a Cease 6/3 (GoBGP's
  stop, as Cilium's agent does), which cancels it without RFC 8538's N-bit: the helper flushed its
  routes (cilium#31346);
- `restart-mode-missing`: the inventory says an end's restarts must keep its routes (the peer's
  `graceful_restart: true`) and that end is not in restart mode: graceful restart off on both ends,
  or a helper only; every agent restart blackholes its pods (cilium#24256).
afi-capability-mismatch: a family one end sends and the other does not (it is not negotiated:
IPv6 over an IPv4 session configured on one end only), the extended next hop capability (RFC 8950)
one end announces for a family on an IPv6 session and the other does not (cilium#29951), and the
4-byte AS capability missing on one end (a warning alone; the cause once a 4-byte AS is involved or
a peer rejects an AS_PATH, 3/11).

Example: FRR with `bgp graceful-restart` against BIRD 2 with `graceful restart off` gives
gr_ok=False, gr_variant="not-negotiated", gr_culprit="bird1", gr_restarting_end="frr1".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bgpdoctor.drivers import driver_for
from bgpdoctor.drivers.gobgp import neighbor_output
from bgpdoctor.engine.world import Unknown
from bgpdoctor.errors import BgpDoctorError
from bgpdoctor.parsers.capabilities import (
    Advertised,
    GrRecovery,
    NeighborCapabilities,
    parse_bird_gr_recovery,
    parse_bird_protocols,
    parse_frr_neighbors,
    parse_gobgp_neighbors,
)

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Session, SessionEnd, World

# the fact holding each driver's neighbors -> the parser of the capabilities in the same output
PARSERS: dict[str, Callable[[str], list[NeighborCapabilities]]] = {
    "bird.protocols": parse_bird_protocols,
    "gobgp.neighbors": parse_gobgp_neighbors,
    "frr.neighbors": parse_frr_neighbors,
}
AS_PATH_REJECTED = ("as path", "as_path", "3/11")
TWO_BYTE_AS_MAX = 65535


# a node's output is read by each of its sessions, one per router, thousands of sessions apart
@functools.lru_cache(maxsize=16384)
def _parse(fact: str, text: str) -> list[NeighborCapabilities]:
    return PARSERS[fact](text)


@functools.lru_cache(maxsize=16384)
def _index(fact: str, text: str) -> tuple[dict[str | None, int], dict[str, int]]:
    """Position of the first neighbor with each address, and with each name."""
    return _positions(_parse(fact, text))


def _positions(neighbors: list[NeighborCapabilities]) -> tuple[dict[str | None, int], dict[str, int]]:
    by_address: dict[str | None, int] = {}
    by_name: dict[str, int] = {}
    for at, n in enumerate(neighbors):
        by_address.setdefault(n.address, at)
        if n.name is not None:
            by_name.setdefault(n.name, at)
    return by_address, by_name


def _indexed(
    world: World, host: str, fact: str, text: str
) -> tuple[list[NeighborCapabilities], tuple[dict[str | None, int], dict[str, int]]]:
    """The host's neighbors' capabilities and their index; GoBGP's from the output the driver
    read once for every reader of it."""
    if fact != "gobgp.neighbors":
        return _parse(fact, text), _index(fact, text)
    neighbors = neighbor_output(world, host).parsed_capabilities()
    return neighbors, world.memo(("capability_positions", host, fact), lambda: _positions(neighbors))


@dataclass
class EndView:
    """One end, what its daemon says of the neighbor, and why that could not be read."""

    end: SessionEnd | None  # None: the outside peer (not in the inventory)
    label: str  # host name, or the outside peer's address
    view: NeighborCapabilities | None = None
    problem: Unknown | None = None
    status_fact: str = ""


def _read(world: World, end: SessionEnd) -> EndView:
    found = EndView(end, end.host)
    host = world.inv.hosts.get(end.host)
    driver = driver_for(host.speaker) if host is not None else None
    if driver is None or driver.session_fact not in PARSERS or end.peer is None:
        return found
    found.status_fact = driver.status_fact
    result = world.facts[end.host].outputs.get(driver.session_fact) if end.host in world.facts else None
    if result is None or not result.ok or result.truncated:
        found.problem = world.command_problem(end.host, driver.session_fact) or Unknown(
            "not-collected", f"{end.host}: `{driver.session_fact}` was not collected"
        )
        return found
    if result.command.startswith("cilium-dbg"):
        return found  # Cilium's own view prints no capabilities; the other end's may
    try:
        neighbors, (by_address, by_name) = _indexed(world, end.host, driver.session_fact, result.stdout)
    except (BgpDoctorError, ValueError) as exc:
        found.problem = Unknown("parse-error", f"{end.host}: capabilities in `{result.command}`: {exc}"[:300])
        return found
    address, name = str(end.peer.address), end.peer.name
    # the first neighbor with the peer's address or name (a router's N sessions each scanned all N)
    at = min(
        (
            i
            for i in (by_address.get(address), by_name.get(name) if name is not None else None)
            if i is not None
        ),
        default=None,
    )
    found.view = neighbors[at] if at is not None else None
    return found


def _sent(me: EndView, other: EndView) -> Advertised | None:
    """What `me` put in its OPEN: its own view, else what the other end received."""
    if me.view is not None and me.view.local is not None:
        return me.view.local
    if other.view is not None and other.view.remote is not None:
        return other.view.remote
    return None


def _fix_target(fix: EndView) -> tuple[str | None, str | None, int | None]:
    """The culprit end's neighbor address, protocol name and AS, for the fix snippets (None when
    the culprit is a peer outside the inventory)."""
    end = fix.end
    if end is None or end.peer is None:
        return None, None, None
    return str(end.peer.address), end.peer.name or "", end.local_as


def _observed_asns(end: SessionEnd) -> tuple[int | None, ...]:
    """The AS the end's daemon announces and the one it expects, as it reports them."""
    return (end.observed.local_as, end.observed.peer_as) if end.observed is not None else ()


def _evidence(s: Subject, fact: str, *views: EndView) -> None:
    for v in views:
        if v.end is not None:
            for ev in v.end.evidence:
                if ev not in s.evidence.get(fact, []):
                    s.evidence.setdefault(fact, []).append(ev)


def _families(adv: Advertised) -> str:
    return " ".join(adv.families) if adv.families_shown else "families not shown"


def _gr_words(adv: Advertised) -> str:
    if not adv.graceful_restart:
        return "no graceful restart"
    if adv.gr_restart_mode:
        families = f" for {' '.join(adv.gr_families)}" if adv.gr_families else ""
        return f"graceful restart{families} (restart mode)"
    return "graceful restart (helper)"


def _recovery(world: World, view: EndView) -> GrRecovery | None:
    if view.end is None or view.status_fact != "bird.status":
        return None
    result = world.facts[view.end.host].outputs.get("bird.status") if view.end.host in world.facts else None
    if result is None or not result.ok:
        return None
    try:
        return parse_bird_gr_recovery(result.stdout)
    except BgpDoctorError:
        return None


def capability_facts(world: World, s: Subject, session: Session) -> None:
    """Session facts gr_ok and afi_ok (with what each end sent), as4_negotiated; see the module doc."""
    a = _read(world, session.a)
    b = (
        _read(world, session.b)
        if session.b is not None
        else EndView(None, str(session.a.peer.address) if session.a.peer else "?")
    )
    views = [a, b]
    established = all(v.view is not None and v.view.established for v in views if v.end is not None) and any(
        v.view is not None for v in views
    )
    gr: list[
        tuple[str, str, EndView, EndView, list[str]]
    ] = []  # (variant, sentence, culprit, other, families)
    for me, other in ((a, b), (b, a)):
        v = me.view
        if v is None:
            continue
        if v.gr_recovery_pending and not v.established:
            recovery = _recovery(world, me)
            if recovery is not None:
                left = f" ({recovery.wait_left_s} s of {recovery.wait_s} s left)" if recovery.wait_s else ""
                gr.append(
                    (
                        "waits-for-dead-peer",
                        f"BIRD on {me.label} restarted in graceful-restart recovery and waits for "
                        f"{other.label}, which is down: until its wait timer runs out{left} it "
                        "exports no route to the kernel or to any peer",
                        me,
                        other,
                        [],
                    )
                )
                s.add("gr_wait_left_s", recovery.wait_left_s if recovery.wait_left_s is not None else 0)
        if v.cease_received and v.peer_announced_gr and not v.gr_helper_active and not v.established:
            gr.append(
                (
                    "cease-cancels-gr",
                    f"{other.label} announced graceful restart but stopped with a NOTIFICATION "
                    f"{v.cease_received} (6/3), which cancels it: {me.label} flushed the routes of "
                    f"{other.label} instead of keeping them while it restarts",
                    other,
                    me,
                    [],
                )
            )
        if v.gr_helper_active and not v.established:
            left = f" for {v.gr_restart_timer_s} s more" if v.gr_restart_timer_s is not None else ""
            gr.append(
                (
                    "stale-routes-kept",
                    f"{me.label} keeps the routes of {other.label} as stale{left}, waiting for it to "
                    "restart (graceful restart), while the session is down: traffic to them goes to a "
                    "peer that may be dead",
                    other,
                    me,
                    [],
                )
            )
            if v.gr_restart_timer_s is not None:
                s.add("gr_restart_timer_s", v.gr_restart_timer_s)
    sent = {id(a): _sent(a, b), id(b): _sent(b, a)}
    both_known = established and all(sent[id(v)] is not None for v in views)
    if both_known:
        for me, other in ((a, b), (b, a)):
            mine, theirs = sent[id(me)], sent[id(other)]
            assert mine is not None and theirs is not None
            if mine.gr_restart_mode and not theirs.graceful_restart:
                gr.append(
                    (
                        "not-negotiated",
                        f"{me.label} runs graceful restart (restart mode) and relies on {other.label} to "
                        f"keep its routes while it restarts, but {other.label} sends no graceful-restart "
                        f"capability: every restart of {me.label} withdraws its routes",
                        other,
                        me,
                        [],
                    )
                )
                s.add("gr_restarting_end", me.label)
            not_run = [f for f in mine.gr_families if theirs.families_shown and f not in theirs.families]
            if not_run:
                gr.append(
                    (
                        "family-not-run",
                        f"{me.label} announces graceful restart for {', '.join(not_run)}, which "
                        f"{other.label} does not run: its End-of-RIB for {', '.join(not_run)} never "
                        f"comes, so after a restart {me.label} defers its routes until its selection "
                        "deferral timer runs out",
                        me,
                        other,
                        not_run,
                    )
                )
    if both_known:
        for me, other in ((a, b), (b, a)):
            mine, theirs = sent[id(me)], sent[id(other)]
            assert mine is not None and theirs is not None
            meant = me.end is not None and me.end.peer is not None and me.end.peer.graceful_restart
            if not meant or mine.gr_restart_mode or (mine.graceful_restart and mine.gr_restart_mode is None):
                continue  # not asked for, in restart mode (its helper is judged above), or not shown
            if not mine.graceful_restart and not theirs.graceful_restart:
                lacks = "neither end sends the graceful-restart capability"
            elif mine.graceful_restart:
                lacks = f"{me.label} announces graceful restart as a helper only, not in restart mode"
            else:
                lacks = f"{me.label} sends no graceful-restart capability"
            gr.append(
                (
                    "restart-mode-missing",
                    f"the inventory says restarts of {me.label}'s speaker keep its routes at {other.label} "
                    f"(graceful_restart: true), but {lacks}: every restart of {me.label} (an agent "
                    "restart, an upgrade) withdraws its routes until the session is back",
                    me,
                    other,
                    [],
                )
            )
            s.add("gr_restarting_end", me.label)
            s.add("gr_helper_missing", not theirs.graceful_restart)
    ends_words = "; ".join(
        f"{v.label}: {_families(adv)}, {_gr_words(adv)}{'' if adv.as4 else ', no 4-byte AS'}"
        for v in views
        if (adv := sent[id(v)]) is not None
    )
    if ends_words:
        s.add("capabilities_ends", ends_words)
    # a session one end shows down exchanged no OPEN to judge: an unreadable end decides nothing then
    seen_down = any(v.view is not None and not v.view.established for v in views)
    problem = None if seen_down else next((v.problem for v in views if v.problem is not None), None)
    if gr:
        variant, sentence, culprit, other, families = gr[0]
        s.add("gr_ok", False)
        _evidence(s, "gr_ok", a, b)
        s.add("gr_variant", variant)
        s.add("gr_problem", sentence)
        s.add("gr_culprit", culprit.label)
        s.add("gr_other_end", other.label)
        s.add("gr_families_not_run", families)
        culprit_sent = sent[id(culprit)]
        if variant == "family-not-run" and culprit_sent is not None:
            s.add("gr_families_both", [f for f in culprit_sent.gr_families if f not in families])
        neighbor, protocol, asn = _fix_target(culprit)
        if neighbor is not None:
            s.add("gr_fix_neighbor", neighbor)
            s.add("gr_fix_protocol", protocol)
        if asn is not None:
            s.add("gr_fix_asn", asn)
    elif both_known:
        s.add("gr_ok", True)
    elif problem is not None:
        s.unknown("gr_ok", problem)
    _afi_facts(world, s, session, a, b, sent, both_known, problem)


MALFORMED_AS_PATH = re.compile(r"(?i)malformed as.?path")


def _malformed_as_paths(world: World, session: Session) -> list[tuple[str, str]]:
    """(host, line) of each end's speaker log line that found an AS_PATH of this session malformed:
    BIRD `PROTOCOL: Malformed AS_PATH attribute - segment framing error`, FRR `Malformed AS path
    from ADDRESS` (RFC 7606: the route is withdrawn, the session stays up)."""
    found: list[tuple[str, str]] = []
    for end in session.ends:
        log = world.facts[end.host].outputs.get("speaker.log") if end.host in world.facts else None
        if log is None or not log.ok or end.peer is None:
            continue
        name, address = end.peer.name, str(end.peer.address)
        for line in log.stdout.splitlines():
            if not MALFORMED_AS_PATH.search(line):
                continue
            ours = (name is not None and f"{name}:" in line.split()) or re.search(
                rf"(?<![\w.:]){re.escape(address)}(?![\w.:])", line
            )
            if ours:
                found.append((end.host, line.strip()))
    return found


def _over_ipv6(session: Session) -> bool:
    """Does the session's TCP connection run over IPv6 (the peer address one end configures)?"""
    return any(e.peer is not None and e.peer.family == 6 for e in session.ends)


def _afi_facts(
    world: World,
    s: Subject,
    session: Session,
    a: EndView,
    b: EndView,
    sent: dict[int, Advertised | None],
    both_known: bool,
    problem: Unknown | None,
) -> None:
    if not both_known:
        if problem is not None:
            s.unknown("afi_ok", problem)
            s.unknown("as4_negotiated", problem)
        return
    found: list[tuple[str, str, EndView, EndView, list[str]]] = []
    for me, other in ((a, b), (b, a)):
        mine, theirs = sent[id(me)], sent[id(other)]
        assert mine is not None and theirs is not None
        if not (mine.families_shown and theirs.families_shown):
            continue
        missing = [f for f in mine.families if f not in theirs.families]
        if missing:
            found.append(
                (
                    "family-not-negotiated",
                    f"{me.label} offers {', '.join(missing)} on this session and {other.label} does not "
                    f"run it, so {', '.join(missing)} is not negotiated: no {', '.join(missing)} route "
                    "is exchanged while the session looks Established",
                    other,
                    me,
                    missing,
                )
            )
    if _over_ipv6(session):
        for me, other in ((a, b), (b, a)):
            mine, theirs = sent[id(me)], sent[id(other)]
            assert mine is not None and theirs is not None
            # families `me` may send with an IPv6 next hop that `other` runs but takes only with IPv4 ones
            lacking_enh = [
                f
                for f in mine.extended_nexthop
                if f in theirs.families and f in mine.families and f not in theirs.extended_nexthop
            ]
            if lacking_enh and theirs.families_shown and mine.families_shown:
                words = ", ".join(lacking_enh)
                found.append(
                    (
                        "extended-nexthop-missing",
                        f"{me.label} announces the extended next hop capability (RFC 8950) for {words} on "
                        f"this IPv6 session and {other.label} does not: {words} routes with an IPv6 next "
                        f"hop cannot cross it (BIRD withholds or refuses them; a peer without IPv4 "
                        "addresses on the link has no other next hop to give)",
                        other,
                        me,
                        lacking_enh,
                    )
                )
    lacking = [v for v in (a, b) if not (adv := sent[id(v)]) or not adv.as4]
    s.add("as4_negotiated", not lacking)
    if lacking:
        without = lacking[0]
        other = b if without is a else a
        s.add("as4_missing_on", without.label)
        asns = [x for e in session.ends for x in (e.asn, *_observed_asns(e)) if x]
        errors = " ".join((e.observed.last_error or "").lower() for e in session.ends if e.observed)
        logged = _malformed_as_paths(world, session)
        if any(x > TWO_BYTE_AS_MAX for x in asns) or any(w in errors for w in AS_PATH_REJECTED) or logged:
            seen = f"; {logged[-1][0]} logged `{logged[-1][1]}`" if logged else ""
            found.append(
                (
                    "as4-missing",
                    f"{without.label} does not send the 4-byte AS capability, so the session runs "
                    "without it while a 4-byte AS is in use or an AS_PATH was rejected (NOTIFICATION "
                    f"3/11{seen}): AS numbers above 65535 reach it only as AS_TRANS 23456",
                    without,
                    other,
                    [],
                )
            )
    if found:
        variant, sentence, culprit, other, families = found[0]
        s.add("afi_ok", False)
        _evidence(s, "afi_ok", a, b)
        s.add("afi_variant", variant)
        s.add("afi_problem", sentence)
        s.add("afi_culprit", culprit.label)
        s.add("afi_other_end", other.label)
        s.add("afi_families_missing", families)
        neighbor, protocol, asn = _fix_target(culprit)
        if neighbor is not None:
            s.add("afi_fix_neighbor", neighbor)
            s.add("afi_fix_protocol", protocol)
        if asn is not None:
            s.add("afi_fix_asn", asn)
    else:
        s.add("afi_ok", True)
