"""How a BGP session's TCP connection is made: which end dials and which listens, the source
address the dialer's kernel picks against what the listener expects, the transit hosts and NAT on
the way, eBGP multihop, and (while the session is down) what the SYN captures show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bgpdoctor.drivers import driver_for
from bgpdoctor.engine.firewall import nat_facts
from bgpdoctor.engine.syn_capture import refused_on_wire, syn_facts, syns_between
from bgpdoctor.engine.world import Unknown
from bgpdoctor.intent import end_to_dial

if TYPE_CHECKING:
    from bgpdoctor.engine.active import ActiveResults
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Session, SessionEnd, World
    from bgpdoctor.report.model import Evidence

DIALING_STATES = ("active", "connect", "opensent", "openconfirm")


def _said_refused(end: SessionEnd) -> bool:
    error = end.observed.last_error if end.observed else None
    return bool(error and "refused" in error.lower())


def _dialer_and_listener(
    session: Session, refused_on_wire: frozenset[str] = frozenset()
) -> tuple[SessionEnd | None, SessionEnd | None]:
    """Which end connects (sends the SYN) and which one should accept it. An end whose connection
    was refused (its daemon says so, or a capture shows its SYNs answered with a RST) is the dialer,
    whatever the configuration claims."""
    ends = session.ends
    for end in ends:
        if _said_refused(end) or end.host in refused_on_wire:
            return end, next((e for e in ends if e is not end), None)
    dialers = [e for e in ends if e.passive is False or (e.passive is None and e.state in DIALING_STATES)]
    listeners = [e for e in ends if e.passive]
    if listeners and len(ends) == 2:
        listener = listeners[0]
        return next(e for e in ends if e is not listener), listener
    if dialers and len(ends) == 2:
        dialer = dialers[0]
        return dialer, next(e for e in ends if e is not dialer)
    return None, None


def _refusal_unseen(world: World, dialer: SessionEnd) -> Unknown | None:
    host = world.inv.hosts.get(dialer.host)
    driver = driver_for(host.speaker) if host is not None else None
    if driver is None or driver.shows_connection_refused:
        return None  # its state would have said "refused": not refused
    return Unknown(
        "not-collected",
        f"{driver.daemon} on {dialer.host} does not say when its connection is refused, and no SYN"
        f" capture shows {dialer.host} dialing",
    )


def dial_facts(
    world: World, s: Subject, session: Session, up: bool, active: ActiveResults, dialers_of: dict[str, int]
) -> list[str]:
    """The dialer's and listener's facts; returns the transit hosts between them."""
    transit: list[str] = []
    wire: dict[str, tuple[bool | None, list[Evidence]]] = {}
    if not up:
        for end in session.ends:
            other = next((e for e in session.ends if e is not end), None)
            wire[end.host] = refused_on_wire(world, end, other, active)
    waiting_facts(world, s, session, up, active, wire)
    dialer, listener = _dialer_and_listener(session, frozenset(h for h, (r, _) in wire.items() if r))
    if dialer is not None and listener is not None and dialer.peer is not None:
        s.add("dialer", dialer.host)
        s.add("listener", listener.host)
        s.add("listener_address", str(dialer.peer.address))  # where the dialer connects to
        listener_ip = str(listener.peer.address) if listener.peer else None
        s.add("dialer_address", listener_ip)  # the dialer's address as the listener configured it
        s.add("expected_source", listener_ip)
        s.add("listener_protocol", listener.peer.name if listener.peer and listener.peer.name else "")
        s.add("dialer_protocol", dialer.peer.name or "")
        s.add("listener_listens", listener.listens, *listener.evidence[:1])
        s.add("dialer_asn", dialer.asn)
        if (dialer_host := world.inv.hosts.get(dialer.host)) is not None:
            s.add("dialer_speaker", dialer_host.speaker)  # picks the fix in the dialer's own syntax
        s.add("listener_asn", listener.asn)
        refused_rst, rst_evidence = wire.get(dialer.host, (None, []))
        refused = _said_refused(dialer) or bool(refused_rst)
        # nothing listens, and neither the dialer's daemon nor a capture could show a refusal
        unseen = (
            _refusal_unseen(world, dialer)
            if (not up) and not refused and refused_rst is None and listener.listens is False
            else None
        )
        if (not up) and refused and listener.listens is None:
            s.unknown("refused_by_non_listener", world.command_problem(listener.host, "ss.listen"))
        elif unseen is not None:
            s.unknown("refused_by_non_listener", unseen)
        else:
            s.add(
                "refused_by_non_listener",
                (not up) and refused and listener.listens is False,
                *rst_evidence,
                *dialer.evidence,
                *listener.evidence,
            )
        # the source the dialer's kernel picks, against what the listener expects
        route_fact = f"route.get.{dialer.peer.address}"
        route_problem = (
            world.command_problem(dialer.host, route_fact) if dialer.source_address is None else None
        )
        if route_problem is not None and world.collected(dialer.host, route_fact):
            s.unknown("source_matches", route_problem)
            s.unknown("multihop_ok", route_problem)
        if dialer.source_address and listener_ip:
            s.add(
                "dialer_source",
                dialer.source_address,
                world.evidence(dialer.host, f"route.get.{dialer.peer.address}"),
            )
            s.add("source_matches", dialer.source_address == listener_ip)
            route = world.route_get(dialer.host, str(dialer.peer.address))
            if route is not None:
                s.add("dialer_source_interface", route.dev or "")
                s.add("dialer_route_gateway", route.gateway or "")
            if dialer.source_address != listener_ip:
                s.add("dialer_expected_interface", world.interface_holding(dialer.host, listener_ip) or "")
        # path from the dialer to the address it dials, for transit hosts and NAT
        if dialer.source_address:
            path = world.trace(
                dialer.host,
                dialer.source_address,
                str(dialer.peer.address),
                str(dialer.peer.address) + "/32",
                listener.host,
            )
            transit = path.transit
            s.add("transit", transit)
            nat_facts(world, s, path, up)
        # multihop: eBGP to a peer that is not on a connected subnet needs TTL > 1
        ebgp = dialer.asn is not None and listener.asn is not None and dialer.asn != listener.asn
        s.add("ebgp", ebgp)
        if ebgp and dialer.route_gateway is not None:
            s.add("peer_hops_away", True)
            s.add("multihop_ok", (dialer.multihop_ttl or 1) > 1, *dialer.evidence)
            s.add("dialer_gateway", dialer.route_gateway)
            s.add("multihop_needed", 2 + len(transit))
        # SYN capture at both ends (only for sessions that are not up)
        if not up:
            syn_facts(world, s, dialer, listener, listener_ip, active, dialers_of)
            culprit = s.facts.get("nat_host") or (
                s.facts.get("syn_source_owner") if s.facts.get("syn_rewritten") else None
            )
            if culprit and culprit != "unknown":
                s.add("nat_culprit", culprit)
    return transit


CONNECTING_STATES = ("connect", "opensent", "openconfirm")  # a connection is being made: someone dials


def _shown_passive(end: SessionEnd) -> bool | None:
    """Whether the end's daemon shows it only waits (BIRD's Passive state, GoBGP's passive-mode);
    None when its daemon does not say."""
    return end.observed.passive if end.observed is not None else None


def waiting_facts(
    world: World,
    s: Subject,
    session: Session,
    up: bool,
    active: ActiveResults,
    wire: dict[str, tuple[bool | None, list[Evidence]]],
) -> None:
    """Whether both ends only wait for the other (`neither_end_dials`): each end's daemon shows it
    passive, the session is down, and nothing shows either end dialling (a refusal, a connection
    under way, a SYN in a capture). Unknown when a daemon does not show its passive flag: a flag
    nobody shows is not "active"."""
    ends = session.ends
    if len(ends) != 2 or any(e.peer is None for e in ends):
        return
    if up:
        s.add("neither_end_dials", False)
        return
    # what each daemon shows, not the inventory's intent: a router meant to be passive may dial
    flags = [_shown_passive(e) for e in ends]
    if False in flags:
        dials = [ev for e in ends if _shown_passive(e) is False for ev in e.evidence]
        s.add("neither_end_dials", False, *dials)
        return
    if None in flags:
        unread = next(e for e in ends if _shown_passive(e) is None)
        s.unknown(
            "neither_end_dials",
            Unknown(
                "not-collected",
                f"whether {unread.host} only waits for {next(e.host for e in ends if e is not unread)} "
                "(passive) is not shown by its daemon",
            ),
            *unread.evidence[:1],
        )
        return
    addresses = {str(e.peer.address) for e in ends if e.peer is not None}
    dialled = [
        e for e in ends if _said_refused(e) or wire.get(e.host, (None, []))[0] or e.state in CONNECTING_STATES
    ]
    seen, capture_evidence = syns_between(world, [e.host for e in ends], addresses, active)
    evidence = [*capture_evidence, *(ev for e in ends for ev in e.evidence)]
    s.add("neither_end_dials", not dialled and not seen, *evidence)
    if dialled or seen:
        return
    s.add("waiting_ends", [e.host for e in ends])
    host_of = world.inv.hosts
    end = end_to_dial(
        (e, (h := host_of.get(e.host)) is not None and h.role == "router")
        for e, o in ((ends[0], ends[1]), (ends[1], ends[0]))
        if o.listens
    )
    if end is None:
        return
    assert end.peer is not None  # both ends' peers were checked on entry
    s.add("dial_candidate", end.host)
    s.add("dial_candidate_protocol", end.peer.name or "")
    s.add("dial_candidate_neighbor", str(end.peer.address))
    s.add("dial_candidate_asn", end.local_as)
    s.add("dial_candidate_peer_asn", end.peer.asn)
    if (h := host_of.get(end.host)) is not None:
        s.add("dial_candidate_speaker", h.speaker)
