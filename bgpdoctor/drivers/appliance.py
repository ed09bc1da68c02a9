"""Routers whose login is a vendor CLI, not a POSIX shell: MikroTik RouterOS v7, FortiGate, Huawei VRP.

bgpdoctor asks them only their own `print`/`get`/`display` commands, one exec each (no batch script
through `sh`, no `ip`/`ss`/`nft`), and reads the answers with the parsers of real outputs in
bgpdoctor/parsers/ (routeros.py, fortigate.py, huawei.py) onto the one session shape. What such a
router cannot tell bgpdoctor (its FIB, sysctls, firewall) stays unknown: a path through it is not
judged from guesses.

Example: driver_for("routeros").commands(host) -> {"routeros.sessions": "/routing/bgp/session print detail",
"routeros.routes": "/ip/route print detail where bgp"}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bgpdoctor.drivers import BfdReading, DriverBase, NeighborState, canonical_address
from bgpdoctor.parsers import fortigate, huawei, routeros
from bgpdoctor.parsers.routers import RouterRoute

if TYPE_CHECKING:
    from bgpdoctor.engine.world import World
    from bgpdoctor.inventory_model import Host


@dataclass(frozen=True)
class ApplianceDriver(DriverBase):
    """One vendor router: its read-only commands and the parser of its session list."""

    speaker: str
    session_fact: str
    session_command: str
    parse_sessions: Callable[[str], list[NeighborState]]
    status_fact: str
    status_command: str
    router_id_pattern: str  # read from the status output; None when it does not match
    appliance: bool = True  # no POSIX shell: one exec per command, no Linux facts
    extra: dict[str, str] = field(default_factory=dict)
    daemon: str = ""  # the router's name in sentences, e.g. "RouterOS"
    route_fact: str | None = None  # the router's BGP routes with their active (installed) flag
    parse_routes: Callable[[str], list[RouterRoute]] | None = None
    bfd_fact: str | None = None  # the session list, where it shows each session's BFD
    bfd_setting: str = ""  # the session's setting that turns BFD on, e.g. "use-bfd=yes"

    def commands(self, host: Host) -> dict[str, str]:
        commands = {self.session_fact: self.session_command}
        if self.status_fact != self.session_fact:
            commands[self.status_fact] = self.status_command
        return {**commands, **self.extra}

    def neighbors(self, world: World, name: str) -> list[NeighborState] | None:
        return world.parsed(name, self.session_fact, self.parse_sessions)

    def excerpt(self, text: str, neighbor: NeighborState) -> str | None:
        return None  # vendor session lists are short and their entries have no fixed frame

    def bfd(self, world: World, name: str, address: str | None) -> BfdReading:
        """The BFD state of the router's session to `address`: none when the session has no BFD
        (RouterOS prints `use-bfd=yes` only when it is set), "down" when the router says its BFD
        session is down, "up" while BGP is Established without that note."""
        if self.bfd_fact is None:
            return BfdReading(asked=False)
        sessions = self.neighbors(world, name)
        if sessions is None:
            return BfdReading(unread=self.session_fact)
        wanted = canonical_address(address) if address else None
        found = next((s for s in sessions if s.address and canonical_address(s.address) == wanted), None)
        if found is None or not found.bfd:
            return BfdReading()
        if found.bfd_state is not None:
            return BfdReading(state=found.bfd_state)
        return BfdReading(state="up" if found.state == "established" else "down")

    def bfd_expects(self, address: str | None, state: str) -> str:
        return f"{self.daemon} has `{self.bfd_setting}` for its session to {address}, BFD state {state}"

    def bfd_missing(self, address: str | None, protocol: str | None) -> str:
        return f"{self.daemon} has no `{self.bfd_setting}` for its session to {address}"

    def bgp_routes(self, world: World, name: str) -> list[RouterRoute] | None:
        """The router's BGP routes of its main table, every path with its active flag (None: the
        router's routes are not read, or could not be)."""
        if self.route_fact is None or self.parse_routes is None:
            return None
        routes = world.parsed(name, self.route_fact, self.parse_routes)
        if routes is None:
            return None
        return [r for r in routes if r.protocol == "bgp" and r.table in (None, "main")]

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
    # RouterOS v7 installs one BGP path per prefix and shows the others without the A flag
    extra={"routeros.routes": "/ip/route print detail where bgp"},
    daemon="RouterOS",
    route_fact="routeros.routes",
    parse_routes=routeros.parse_ip_routes,
    bfd_fact="routeros.sessions",  # the session's `use-bfd` and its "BFD session down" note
    bfd_setting="use-bfd=yes",
)
FORTIGATE = ApplianceDriver(
    speaker="fortigate",
    session_fact="fortigate.neighbors",
    session_command="get router info bgp neighbors",
    parse_sessions=fortigate.parse_bgp_neighbors,
    status_fact="fortigate.summary",
    status_command="get router info bgp summary",
    router_id_pattern=r"BGP router identifier (\S+?),",
    daemon="FortiGate",
)
HUAWEI = ApplianceDriver(
    speaker="huawei",
    session_fact="huawei.peers",
    session_command="display bgp peer verbose",
    parse_sessions=huawei.parse_bgp_peer_verbose,
    status_fact="huawei.summary",
    status_command="display bgp peer",
    router_id_pattern=r"BGP [Ll]ocal router ID\s*:\s*(\S+)",
    daemon="Huawei VRP",
)
