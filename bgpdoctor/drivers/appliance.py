"""Routers whose login is a vendor CLI, not a POSIX shell: MikroTik RouterOS v7, FortiGate, Huawei VRP.

bgpdoctor asks them only their own `print`/`get`/`display` commands, one exec each (no batch script
through `sh`, no `ip`/`ss`/`nft`), and reads the answers with the parsers of real outputs in
bgpdoctor/parsers/ (routeros.py, fortigate.py, huawei.py) onto the one session shape. What such a
router cannot tell bgpdoctor (its FIB, sysctls, firewall) stays unknown: a path through it is not
judged from guesses.

Example: driver_for("routeros").commands(host) -> {"routeros.sessions": "/routing/bgp/session print detail"}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bgpdoctor.drivers import NeighborState
from bgpdoctor.parsers import fortigate, huawei, routeros
from bgpdoctor.parsers.routers import RouterSession

if TYPE_CHECKING:
    from bgpdoctor.engine.world import World
    from bgpdoctor.inventory_model import Host


def neighbor_state(s: RouterSession) -> NeighborState:
    """A vendor's session in the daemon-independent shape (None where the router does not say)."""
    down_reason = None
    if s.state != "established":
        down_reason = ": ".join(x for x in (s.last_error, s.last_notification) if x) or None
    return NeighborState(
        address=s.address,
        name=s.description,
        state="admin-down" if s.admin_down else s.state,
        last_error=down_reason,
        local_as=s.local_as,
        peer_as=s.remote_as,
        up_for_s=s.uptime_seconds if s.state == "established" else None,
        received=s.prefixes_received,
        accepted=s.prefixes_accepted,
        advertised=s.prefixes_advertised,
        hold_time_s=s.hold_time,
    )


@dataclass(frozen=True)
class ApplianceDriver:
    """One vendor router: its read-only commands and the parser of its session list."""

    speaker: str
    session_fact: str
    session_command: str
    parse_sessions: Callable[[str], list[RouterSession]]
    status_fact: str
    status_command: str
    router_id_pattern: str  # read from the status output; None when it does not match
    appliance: bool = True  # no POSIX shell: one exec per command, no Linux facts
    extra: dict[str, str] = field(default_factory=dict)

    def commands(self, host: Host) -> dict[str, str]:
        commands = {self.session_fact: self.session_command}
        if self.status_fact != self.session_fact:
            commands[self.status_fact] = self.status_command
        return {**commands, **self.extra}

    def neighbors(self, world: World, name: str) -> list[NeighborState] | None:
        sessions = world.parsed(name, self.session_fact, self.parse_sessions)
        return None if sessions is None else [neighbor_state(s) for s in sessions]

    def excerpt(self, text: str, neighbor: NeighborState) -> str | None:
        return None  # vendor session lists are short and their entries have no fixed frame

    def router_id(self, world: World, name: str) -> str | None:
        facts = world.facts.get(name)
        result = facts.outputs.get(self.status_fact) if facts is not None else None
        if result is None or not result.ok:
            return None
        found = re.search(self.router_id_pattern, result.stdout)
        return found.group(1) if found else None


ROUTEROS = ApplianceDriver(
    speaker="routeros",
    session_fact="routeros.sessions",
    session_command="/routing/bgp/session print detail",
    parse_sessions=routeros.parse_bgp_sessions,
    status_fact="routeros.sessions",
    status_command="/routing/bgp/session print detail",
    router_id_pattern=r"local\.address=\S+ \.as=\d+ \.id=(\S+)",
)
FORTIGATE = ApplianceDriver(
    speaker="fortigate",
    session_fact="fortigate.neighbors",
    session_command="get router info bgp neighbors",
    parse_sessions=fortigate.parse_bgp_neighbors,
    status_fact="fortigate.summary",
    status_command="get router info bgp summary",
    router_id_pattern=r"BGP router identifier (\S+?),",
)
HUAWEI = ApplianceDriver(
    speaker="huawei",
    session_fact="huawei.peers",
    session_command="display bgp peer verbose",
    parse_sessions=huawei.parse_bgp_peer_verbose,
    status_fact="huawei.summary",
    status_command="display bgp peer",
    router_id_pattern=r"BGP [Ll]ocal router ID\s*:\s*(\S+)",
)
