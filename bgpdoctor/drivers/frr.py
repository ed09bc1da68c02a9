"""FRR (bgpd + zebra) through `vtysh -c '... json'`, read with bgpdoctor.parsers.frr.

`control_socket` in the inventory is FRR's vty socket directory (`vtysh --vty_socket DIR`) when the
daemons do not use the default /var/run/frr (FRR in a namespace, a second instance).

Example: FRR.commands(host)["frr.neighbors"] -> "vtysh -c 'show bgp neighbors json'"
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bgpdoctor.drivers import BfdReading, DriverBase, NeighborState, SessionResets
from bgpdoctor.drivers.excerpt import frr_entry
from bgpdoctor.parsers import ParseError, json_int, json_object, json_str, load_json
from bgpdoctor.parsers import frr as frr_parser
from bgpdoctor.parsers.liveness import FrrLiveness, parse_frr_liveness
from bgpdoctor.parsers.routers import RouterSession

if TYPE_CHECKING:
    from bgpdoctor.engine.world import World
    from bgpdoctor.inventory_model import Host

P = "frr"
BGP_IPV4 = "frr.bgp_ipv4"  # `show bgp ipv4 unicast json`: every path with its AS path


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
class FrrDriver(DriverBase):
    speaker: str = "frr"
    session_fact: str = "frr.neighbors"
    status_fact: str = "frr.summary"
    daemon: str = "FRR"
    process = "bgpd"
    rib_fact = BGP_IPV4
    bfd_fact = "frr.neighbors"  # `peerBfdInfo`, only with `neighbor X bfd`

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
            BGP_IPV4: f"{vtysh} 'show bgp ipv4 unicast json'",
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

    def _liveness(self, world: World, name: str) -> dict[str, FrrLiveness] | None:
        """The neighbors' BFD and reset counters: a second reading of the session fact, made once per
        run and host (World.parsed memoises one parser per fact, and `neighbors` has it)."""

        def read() -> dict[str, FrrLiveness] | None:
            result = world.facts[name].outputs.get(self.session_fact) if name in world.facts else None
            try:
                ok = result is not None and result.ok and not result.truncated
                return parse_frr_liveness(result.stdout) if ok and result is not None else None
            except ParseError:
                return None

        return world.memo(("frr.liveness", name), read)

    def bfd(self, world: World, name: str, address: str | None) -> BfdReading:
        found = self._liveness(world, name)
        if found is None:
            return BfdReading(unread=self.session_fact)
        entry = found.get(address) if address is not None else None
        return BfdReading(state=entry.bfd_state if entry else None)

    def bfd_expects(self, address: str | None, state: str) -> str:
        return f"FRR has `neighbor {address} bfd`, BFD state {state}"

    def bfd_missing(self, address: str | None, protocol: str | None) -> str:
        return f"FRR has no `neighbor {address} bfd`"

    def resets(self, world: World, name: str, address: str) -> SessionResets | None:
        """`connectionsDropped`, `connectionsEstablished` and `lastResetDueTo`."""
        entry = (self._liveness(world, name) or {}).get(address)
        if entry is None:
            return None
        return SessionResets(entry.address, entry.dropped, entry.established, entry.last_reset)

    def config_removals(self, log: str, address: str) -> list[str]:
        """`log commands` lines such as `(config-router)# no neighbor ADDRESS bfd`."""
        removal = re.compile(rf"\)# no neighbor {re.escape(address)}(?![\w.:])")
        return [ln.strip() for ln in log.splitlines() if removal.search(ln)]

    def best_paths(
        self, world: World, name: str, protocol: str | None, address: str | None
    ) -> list[tuple[str, str]] | None:
        paths = world.parsed(name, BGP_IPV4, frr_parser.parse_bgp_routes)
        if paths is None:
            return None
        return [
            (r.prefix, r.as_path) for r in paths if r.selected and r.as_path is not None and r.peer != address
        ]


FRR = FrrDriver()
