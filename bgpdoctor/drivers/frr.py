"""FRR (bgpd + zebra) through `vtysh -c '... json'`, read with bgpdoctor.parsers.frr.

`control_socket` in the inventory is FRR's vty socket directory (`vtysh --vty_socket DIR`) when the
daemons do not use the default /var/run/frr (FRR in a namespace, a second instance).

Example: FRR.commands(host)["frr.neighbors"] -> "vtysh -c 'show bgp neighbors json'"
"""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bgpdoctor.drivers import NeighborState
from bgpdoctor.drivers.excerpt import frr_entry
from bgpdoctor.parsers import ParseError, json_int, json_object, json_str, load_json
from bgpdoctor.parsers import frr as frr_parser
from bgpdoctor.parsers.routers import RouterSession

if TYPE_CHECKING:
    from bgpdoctor.engine.world import World
    from bgpdoctor.inventory_model import Host

P = "frr"


@dataclass
class FrrNeighbor:
    """A neighbor of `show bgp neighbors json`: the normalised session plus what only FRR says.

    Example: FrrNeighbor(session=RouterSession(address="10.213.4.2", state="idle", ...),
    reset_seconds=14)
    """

    session: RouterSession
    reset_seconds: int | None  # seconds since the session last went down or was reset


@dataclass
class FrrSummary:
    """`show bgp summary json`, the default VRF's router. Example: FrrSummary("10.213.0.1", 65001)."""

    router_id: str | None
    local_as: int | None


def parse_neighbors(text: str) -> list[FrrNeighbor]:
    """`show bgp neighbors json` -> one FrrNeighbor per neighbor (the one parser of this fact)."""
    sessions = frr_parser.parse_bgp_neighbors(text)
    raw = json_object(load_json(text, P, "neighbors"), P, "neighbors") if text.strip() else {}
    out = []
    for session in sessions:
        peer = json_object(raw.get(session.address), P, f"neighbor {session.address}")
        msecs = json_int(peer.get("lastResetTimerMsecs"), P, "lastResetTimerMsecs")
        out.append(FrrNeighbor(session, None if msecs is None else msecs // 1000))
    return out


def parse_summary(text: str) -> FrrSummary:
    """`show bgp summary json`: the router id and AS of the first address family that has them."""
    data = json_object(load_json(text, P, "summary"), P, "summary")
    families: list[Any] = [data] if "routerId" in data else list(data.values())
    for family in families:
        summary = json_object(family, P, "summary family")
        router_id = json_str(summary.get("routerId"), P, "routerId")
        if router_id is not None:
            return FrrSummary(router_id, json_int(summary.get("as"), P, "as"))
    raise ParseError(P, "summary: no routerId: not a bgp summary (no BGP instance?)")


def last_error(session: RouterSession) -> str | None:
    """Why a session that is not Established last went down, NOTIFICATION included.

    Example: "BGP Notification send: OPEN Message Error/Bad Peer AS"
    """
    if session.state == "established":
        return None
    if session.last_notification and session.last_error:
        return f"{session.last_error}: {session.last_notification}"
    return session.last_error or session.last_notification


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class FrrDriver:
    speaker: str = "frr"
    session_fact: str = "frr.neighbors"
    status_fact: str = "frr.summary"

    def commands(self, host: Host) -> dict[str, str]:
        vty = f" --vty_socket {shlex.quote(host.control_socket)}" if host.control_socket else ""
        vtysh = f"vtysh{vty} -c"
        # only `show` commands: vtysh runs them without entering configuration mode
        return {
            "frr.neighbors": f"{vtysh} 'show bgp neighbors json'",
            "frr.summary": f"{vtysh} 'show bgp summary json'",
            "frr.ip_route": f"{vtysh} 'show ip route json'",
            # every path with its AS path and next hop: the sender's side of an AS-path loop, and
            # IPv6 routes that arrived over an IPv4 session with an IPv4-mapped next hop
            "frr.bgp_ipv4": f"{vtysh} 'show bgp ipv4 unicast json'",
            "frr.bgp_ipv6": f"{vtysh} 'show bgp ipv6 unicast json'",
        }

    def neighbors(self, world: World, name: str) -> list[NeighborState] | None:
        found = world.parsed(name, self.session_fact, parse_neighbors)
        if found is None:
            return None
        out = []
        for n in found:
            s = n.session
            interface = not _is_address(s.address)  # an unnumbered neighbor is keyed by its interface
            out.append(
                NeighborState(
                    address=None if interface else s.address,
                    name=s.address if interface else None,
                    state="admin-down" if s.admin_down else s.state,
                    last_error=last_error(s),
                    local_as=s.local_as,
                    peer_as=s.remote_as,
                    # FRR counts the time since the last reset while down, the uptime while up
                    up_for_s=s.uptime_seconds if s.state == "established" else n.reset_seconds,
                    accepted=s.prefixes_accepted,
                    advertised=s.prefixes_advertised,
                    hold_time_s=s.hold_time,
                )
            )
        return out

    def excerpt(self, text: str, neighbor: NeighborState) -> str | None:
        key = neighbor.address or neighbor.name  # an unnumbered neighbor is keyed by its interface
        return frr_entry(text, key) if key else None

    def router_id(self, world: World, name: str) -> str | None:
        summary = world.parsed(name, self.status_fact, parse_summary)
        return summary.router_id if summary else None


FRR = FrrDriver()
