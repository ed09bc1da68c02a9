"""Expected BGP sessions, seen from both ends at once (the way Batfish pairs them)."""

from __future__ import annotations

from bgpdoctor.drivers import driver_for
from bgpdoctor.engine.ipv6 import listening_for
from bgpdoctor.engine.world import Session, SessionEnd, World
from bgpdoctor.intent import PeerIntent
from bgpdoctor.inventory_model import Peer


def expected_sessions(world: World, scope: list[str]) -> list[Session]:
    """Pair every configured peer with the other end's configuration for it.

    A peer whose host is in the inventory but has no peer entry back gives a session whose other
    end has `peer=None` (one end has no neighbor at all). Made once per world and scope (the
    diagnosis and the session status both ask); callers must not change what it returns.
    """
    return world.memo(("expected_sessions", *scope), lambda: _paired(world, scope))


def _paired(world: World, scope: list[str]) -> list[Session]:
    inv = world.inv
    sessions: list[Session] = []
    seen: set[tuple[frozenset[str], str]] = set()
    # a router lists every node: scanning the scope list and its peers per session was quadratic
    in_scope = set(scope)
    peers_back: dict[str, dict[tuple[str | None, str], Peer]] = {}
    for name in scope:
        host = inv.hosts[name]
        for peer in host.peers:
            other = peer.host
            if other is not None and other not in in_scope:
                continue
            if other is None:
                sessions.append(Session(end_view(world, name, peer), None))
                continue
            # a dual-stack pair runs one session per family (and one more over link-local addresses)
            key = (frozenset((name, other)), session_kind(peer))
            if key in seen:
                continue
            seen.add(key)
            if other not in peers_back:
                index = peers_back[other] = {}
                for p in inv.hosts[other].peers:
                    index.setdefault((p.host, session_kind(p)), p)  # the first one, as listed
            back = peers_back[other].get((name, key[1]))
            sessions.append(Session(end_view(world, name, peer), end_view(world, other, back)))
    return sessions


def session_kind(peer: Peer | PeerIntent) -> str:
    """'' for IPv4, 'ipv6' or 'ipv6-ll' (link-local): what tells a dual-stack pair's sessions apart."""
    return "" if peer.family == 4 else ("ipv6-ll" if peer.link_local else "ipv6")


def end_view(world: World, host_name: str, peer: Peer | None) -> SessionEnd:
    """What one end says about the session: the inventory's intent for it, its daemon's entry for
    the other end, listening, source."""
    host = world.inv.hosts[host_name]
    intent = peer.intent(local_asn=host.asn) if peer is not None else None
    end = SessionEnd(host=host_name, peer=intent, asn=host.asn)
    if host_name not in world.facts:
        return end
    end.router_id = world.router_id(host_name)
    end.listens = listening_for(world, host_name, intent)  # an IPv6 session needs an IPv6 socket
    if (ev := world.evidence(host_name, "ss.listen", "listening sockets on TCP 179")) is not None:
        end.evidence.append(ev)
    if intent is None:
        end.missing = True
        return end
    address = str(intent.address)
    driver = driver_for(host.speaker)
    if driver is not None:
        match = None
        if world.neighbors(host_name) is not None:
            match = end.observed = world.neighbor_for(host_name, intent)
            end.missing = match is None
        if (ev := world.evidence(host_name, driver.session_fact)) is not None:
            # the neighbor's own entry: a router's whole list, quoted by each of its sessions, grew
            # reports with the square of its peers; a neighbor it does not list keeps the whole list
            cut = driver.session_excerpt(world, host_name, ev.output, match) if match is not None else None
            if cut and match is not None:
                note = f"its entry for {match.name or match.address}"
                ev = ev.model_copy(update={"output": cut, "note": note})
            end.evidence.append(ev)
    route = world.route_get(host_name, address)
    if route is not None:
        end.source_address = route.prefsrc
        end.route_gateway = route.gateway
        if ev := world.evidence(host_name, f"route.get.{address}", "route and source towards the peer"):
            end.evidence.append(ev)
    return end


def established(end: SessionEnd | None) -> bool:
    return end is not None and end.state == "established"
