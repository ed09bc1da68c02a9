"""Expected BGP sessions, seen from both ends at once (the way Batfish pairs them)."""

from __future__ import annotations

from bgpdoctor.engine.world import Session, SessionEnd, World
from bgpdoctor.inventory_model import Peer

GOBGP_TO_BIRD = {"opensent": "opensent", "openconfirm": "openconfirm"}


def expected_sessions(world: World, scope: list[str]) -> list[Session]:
    """Pair every configured peer with the other end's configuration for it.

    A peer whose host is in the inventory but has no peer entry back gives a session whose other
    end has `peer=None` (one end has no neighbor at all).
    """
    inv = world.inv
    sessions: list[Session] = []
    seen: set[frozenset[str]] = set()
    for name in scope:
        host = inv.hosts[name]
        for peer in host.peers:
            other = peer.host
            if other is not None and other not in scope:
                continue
            if other is None:
                sessions.append(Session(end_view(world, name, peer), None))
                continue
            key = frozenset((name, other))
            if key in seen:
                continue
            seen.add(key)
            back = next((p for p in inv.hosts[other].peers if p.host == name), None)
            sessions.append(Session(end_view(world, name, peer), end_view(world, other, back)))
    return sessions


def end_view(world: World, host_name: str, peer: Peer | None) -> SessionEnd:
    """What one end says about the session: runtime state, last error, listening, source."""
    host = world.inv.hosts[host_name]
    end = SessionEnd(host=host_name, peer=peer, asn=host.asn)
    if host_name not in world.facts:
        return end
    end.router_id = world.router_id(host_name)
    end.listens = world.listening_179(host_name)
    if (ev := world.evidence(host_name, "ss.listen", "listening sockets on TCP 179")) is not None:
        end.evidence.append(ev)
    if peer is None:
        end.state = "missing"
        return end
    address = str(peer.address)
    if host.speaker in ("bird2", "bird1"):
        protocols = world.bird_protocols(host_name)
        if protocols is not None:
            match = next(
                (
                    p
                    for p in protocols
                    if p.proto == "BGP"
                    and (p.neighbor_address == address or (peer.name and p.name == peer.name))
                ),
                None,
            )
            if match is None:
                end.state = "missing"
            else:
                end.state = (match.bgp_state or match.info.split()[0] if match.info else "down").lower()
                if match.state == "down":
                    end.state = "down"
                end.last_error = match.last_error
                end.error_wait = match.error_wait
                end.local_as_runtime = match.local_as
                end.peer_as_runtime = match.neighbor_as
                end.neighbor_address_runtime = match.neighbor_address
                end.passive = end.state == "passive" or peer.passive
                end.multihop_ttl = peer.multihop  # BIRD shows multihop only while the session is up
        if (ev := world.evidence(host_name, "bird.protocols")) is not None:
            end.evidence.append(ev)
    elif host.speaker == "gobgp":
        neighbors = world.gobgp_neighbors(host_name)
        if neighbors is not None:
            match_g = next((n for n in neighbors if n.address == address), None)
            if match_g is None:
                end.state = "missing"
            else:
                end.state = "admin-down" if match_g.admin_down else match_g.state
                end.passive = match_g.passive
                end.multihop_ttl = match_g.multihop_ttl
                end.local_as_runtime = match_g.local_as or host.asn
                end.peer_as_runtime = match_g.peer_as
                end.neighbor_address_runtime = match_g.address
        if (ev := world.evidence(host_name, "gobgp.neighbors")) is not None:
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
