"""How a BGP session's TCP connection is made: which end dials and which listens, the source
address the dialer's kernel picks against what the listener expects, the transit hosts and NAT on
the way, eBGP multihop, and (while the session is down) what the SYN captures show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bgpdoctor.engine.firewall import nat_facts
from bgpdoctor.engine.syn_capture import syn_facts

if TYPE_CHECKING:
    from bgpdoctor.engine.active import ActiveResults
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Session, SessionEnd, World

DIALING_STATES = ("active", "connect", "opensent", "openconfirm")


def _dialer_and_listener(session: Session) -> tuple[SessionEnd | None, SessionEnd | None]:
    """Which end connects (sends the SYN) and which one should accept it."""
    ends = session.ends
    for end in ends:
        if end.last_error and "refused" in end.last_error.lower():
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


def dial_facts(
    world: World, s: Subject, session: Session, up: bool, active: ActiveResults, dialers_of: dict[str, int]
) -> list[str]:
    """The dialer's and listener's facts; returns the transit hosts between them."""
    transit: list[str] = []
    dialer, listener = _dialer_and_listener(session)
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
        s.add("listener_asn", listener.asn)
        refused = bool(dialer.last_error and "refused" in dialer.last_error.lower())
        if (not up) and refused and listener.listens is None:
            s.unknown("refused_by_non_listener", world.command_problem(listener.host, "ss.listen"))
        else:
            s.add(
                "refused_by_non_listener",
                (not up) and refused and listener.listens is False,
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
