"""BIRD 2 (`birdc`) and BIRD 1.6 as Calico embeds it (`birdcl`): the same answers, two clients."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bgpdoctor.drivers import NeighborState
from bgpdoctor.drivers.excerpt import bird_block
from bgpdoctor.parsers import bird

if TYPE_CHECKING:
    from bgpdoctor.engine.world import World
    from bgpdoctor.inventory_model import Host


def hold_seconds(hold_timer: str | None) -> int | None:
    """BIRD's "Hold timer: 7.379/9" (time left / negotiated) -> 9."""
    m = re.fullmatch(r"[\d.]+/(\d+)", (hold_timer or "").strip())
    return int(m.group(1)) if m else None


def since_seconds(since: str, server_time: str | None) -> int | None:
    """Seconds from a BIRD `since` ("22:35:50.001" or "2026-11-22 22:35:50.001") to `show status`'s
    server time (same clock and zone). A time without a date is within the last day; a date alone
    (BIRD's default for states older than 20 hours) is too coarse and gives None."""
    if not server_time or ":" not in since:
        return None
    dated = " " in since
    try:
        now = datetime.fromisoformat(server_time)
        start = datetime.fromisoformat(since if dated else f"{now.date().isoformat()} {since}")
    except ValueError:
        return None
    if not dated and start > now:
        start -= timedelta(days=1)
    return max(0, int((now - start).total_seconds()))


def state_of(p: bird.BirdProtocol) -> str:
    """ "Established", "Active", ... from the BGP state line, else the info column; "down" when the
    protocol itself is down (disabled, or stopped by an error)."""
    if p.state == "down":
        return "down"
    return (p.bgp_state or (p.info.split()[0] if p.info else "down")).lower()


@dataclass(frozen=True)
class BirdDriver:
    speaker: str
    client: str
    session_fact: str = "bird.protocols"
    status_fact: str = "bird.status"

    def commands(self, host: Host) -> dict[str, str]:
        sock = f" -s {shlex.quote(host.control_socket)}" if host.control_socket else ""
        client = self.client + sock
        # -r: restricted mode, BIRD itself refuses anything but show commands
        return {
            "bird.protocols": f"{client} -r show protocols all",
            "bird.routes": f"{client} -r show route",
            # every BGP path with its attributes (AS path, next hop), not only the best one
            "bird.bgp_routes": f"{client} -r show route all where source = RTS_BGP",
            "bird.status": f"{client} -r show status",
            "bird.bfd": f"{client} -r show bfd sessions",
            # parses the configuration file on disk without applying it
            "bird.config_check": f"{client} configure check",
        }

    def neighbors(self, world: World, name: str) -> list[NeighborState] | None:
        protocols = world.bird_protocols(name)
        if protocols is None:
            return None
        status = world.parsed(name, "bird.status", bird.parse_show_status)
        server_time = status.server_time if status else None
        out = []
        for p in protocols:
            if p.proto != "BGP":
                continue
            state = state_of(p)
            received = None
            if p.routes_imported is not None and p.routes_filtered is not None:
                received = p.routes_imported + p.routes_filtered
            out.append(
                NeighborState(
                    address=p.neighbor_address,
                    name=p.name,
                    state=state,
                    last_error=p.last_error,
                    error_wait=p.error_wait,
                    local_as=p.local_as,  # BIRD 1.6 does not print it: None
                    peer_as=p.neighbor_as,
                    passive=True if state == "passive" else None,
                    multihop_ttl=None,  # shown only while the session is up; the inventory says
                    since=p.since,
                    up_for_s=since_seconds(p.since, server_time),
                    received=received,
                    accepted=p.routes_imported,
                    advertised=p.routes_exported,
                    hold_time_s=hold_seconds(p.hold_timer),
                )
            )
        return out

    def excerpt(self, text: str, neighbor: NeighborState) -> str | None:
        return bird_block(text, neighbor.name) if neighbor.name else None

    def router_id(self, world: World, name: str) -> str | None:
        status = world.parsed(name, "bird.status", bird.parse_show_status)
        return status.router_id if status else None


BIRD2 = BirdDriver("bird2", "birdc")
BIRD1 = BirdDriver("bird1", "birdcl")
