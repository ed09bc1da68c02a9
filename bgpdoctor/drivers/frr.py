"""FRR (bgpd + zebra) through `vtysh -c '... json'`, read with bgpdoctor.parsers.frr.

`control_socket` in the inventory is FRR's vty socket directory (`vtysh --vty_socket DIR`) when the
daemons do not use the default /var/run/frr (FRR in a namespace, a second instance).

Example: FRR.commands(host)["frr.neighbors"] -> "vtysh -c 'show bgp neighbors json'"
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bgpdoctor.drivers import (
    BfdReading,
    DriverBase,
    NeighborState,
    SessionResets,
    SplitHorizon,
    canonical_address,
    ipv4_next_hop,
)
from bgpdoctor.drivers.excerpt import frr_entry
from bgpdoctor.parsers import ParseError, json_int, json_object, json_str, load_json
from bgpdoctor.parsers import frr as frr_parser
from bgpdoctor.parsers.liveness import FrrLiveness, parse_frr_liveness

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import World
    from bgpdoctor.intent import PeerIntent
    from bgpdoctor.inventory_model import Host
    from bgpdoctor.transport.base import CommandResult

P = "frr"
BGP_IPV4 = "frr.bgp_ipv4"  # `show bgp ipv4 unicast json`: every path with its AS path
BGP_IPV6 = "frr.bgp_ipv6"  # `show bgp ipv6 unicast json`

# fact -> its `show` command: only `show` commands, which vtysh runs without entering configuration
# mode, each printing one JSON document
SHOWS = {
    "frr.neighbors": "show bgp neighbors json",
    "frr.summary": "show bgp summary json",
    "frr.ip_route": "show ip route json",
    # every path with its AS path and next hop: the sender's side of an AS-path loop, and
    # IPv6 routes that arrived over an IPv4 session with an IPv4-mapped next hop
    BGP_IPV4: "show bgp ipv4 unicast json",
    BGP_IPV6: "show bgp ipv6 unicast json",
}


@dataclass
class FrrSummary:
    """`show bgp summary json`, the default VRF's router. Example: FrrSummary("10.213.0.1", 65001)."""

    router_id: str | None
    local_as: int | None


def parse_neighbors(text: str) -> list[NeighborState]:
    """`show bgp neighbors json` -> one NeighborState per neighbor (the one parser of this fact:
    World.parsed memoises one parser per fact, and the engine's FRR facts read it too)."""
    return frr_parser.parse_bgp_neighbors(text)


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


class VtyshShows:
    """FRR's `show … json` facts (SHOWS) read with one vtysh: `vtysh -c A -c B` prints A's JSON
    document, then B's, each through the end of its line."""

    def client(self, fact: str, command: str) -> str | None:
        show = SHOWS.get(fact)
        tail = f" -c {shlex.quote(show)}" if show is not None else None
        if tail is None or not command.endswith(tail):
            return None
        client = command.removesuffix(tail)
        words = _simple_argv(client)
        ok = words is not None and (
            words == ["vtysh"] or (len(words) == 3 and words[:2] == ["vtysh", "--vty_socket"])
        )
        return client if ok else None

    def join(self, client: str, commands: list[str]) -> str:
        """Example: join("vtysh", ["vtysh -c 'show ip route json'", "vtysh -c 'show bgp summary json'"])
        -> "vtysh -c 'show ip route json' -c 'show bgp summary json'" """
        return client + "".join(c.removeprefix(client) for c in commands)

    def views(self, command: str) -> list[tuple[str, str]]:
        words = _simple_argv(command)
        facts = {show: fact for fact, show in SHOWS.items()}
        if words is None or words[0] != "vtysh" or "-c" not in words:
            return []
        at = words.index("-c")
        client, shows = shlex.join(words[:at]), words[at + 1 :: 2]
        if words[at::2] != ["-c"] * len(shows) or len(shows) < 2 or not all(x in facts for x in shows):
            return []
        return [(facts[x], f"{client} -c {shlex.quote(x)}") for x in shows]

    def cut(self, raw: CommandResult, n: int) -> list[bytes] | None:
        """None unless vtysh said nothing on stderr, ended with 0 and printed exactly `n` documents
        (bgpd down, an error or an output cut short)."""
        if raw.exit_status != 0 or raw.timed_out or raw.truncated or raw.stderr.strip():
            return None
        try:
            text = raw.stdout_bytes.decode()
        except UnicodeDecodeError:
            return None
        decoder = json.JSONDecoder()
        cuts: list[bytes] = []
        start = 0
        while len(cuts) < n:
            at = start
            while at < len(text) and text[at].isspace():
                at += 1
            try:
                _, end = decoder.raw_decode(text, at)
            except ValueError:
                return None
            newline = text.find("\n", end)
            stop = len(text) if newline < 0 else newline + 1
            if text[end:stop].strip():
                return None
            cuts.append(text[start:stop].encode())
            start = stop
        return cuts if not text[start:].strip() else None


def _simple_argv(command: str) -> list[str] | None:
    from bgpdoctor.engine.collect import simple_argv  # the batch's own reading of a plain command

    return simple_argv(command)


VTYSH_SHOWS = VtyshShows()


@dataclass(frozen=True)
class FrrDriver(DriverBase):
    speaker: str = "frr"
    session_fact: str = "frr.neighbors"
    status_fact: str = "frr.summary"
    daemon: str = "FRR"
    process = "bgpd"
    rib_fact = BGP_IPV4
    bfd_fact = "frr.neighbors"  # `peerBfdInfo`, only with `neighbor X bfd`
    joined_read = VTYSH_SHOWS
    comment_marks = ("!", "#")

    def commands(self, host: Host) -> dict[str, str]:
        vty = f" --vty_socket {shlex.quote(host.control_socket)}" if host.control_socket else ""
        # each fact's own command; the collection batch reads them with one vtysh (VTYSH_SHOWS)
        return {fact: f"vtysh{vty} -c {shlex.quote(show)}" for fact, show in SHOWS.items()}

    def neighbors(self, world: World, name: str) -> list[NeighborState] | None:
        return world.parsed(name, self.session_fact, parse_neighbors)

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

    def split_horizon(self, world: World, name: str, toward: str, prefix: str | None) -> SplitHorizon | None:
        """`show bgp neighbors json` (`routeReflectorClient` under ipv4Unicast, the AS of each end,
        the state: only an Established session is withheld from) and the best paths of `show bgp
        ipv4 unicast json` with the neighbor each came from."""
        neighbors = self.neighbors(world, name)
        paths = world.parsed(name, self.rib_fact, frr_parser.parse_bgp_routes)
        if neighbors is None or paths is None:
            return None
        plain = {
            canonical_address(n.address): n
            for n in neighbors
            if n.address
            and n.reflector_client is False
            and n.local_as is not None
            and n.local_as == n.peer_as
        }
        toward = canonical_address(toward)
        if toward not in plain or plain[toward].state != "established":
            return None  # a session that is down explains the missing route itself
        for r in paths:
            source = canonical_address(r.peer) if r.peer else None
            if (
                r.selected
                and source in plain
                and source != toward
                and (prefix is None or _covers(r.prefix, prefix))
            ):
                return SplitHorizon(r.prefix, source, list(plain), plain[toward].local_as)
        return None

    def host_facts(self, world: World, s: Subject, name: str) -> None:
        from bgpdoctor.engine import host_facts, routing

        host_facts.frr_facts(world, s, name)
        with s.deriving("ecmp_single_path"):
            routing.frr_ecmp_facts(world, s, name)
        host_facts.routing_table_facts(world, s, name)

    def ipv6_sent(self, world: World, name: str, peer: PeerIntent | None, receiver_as: str) -> bool | None:
        """`show bgp ipv6 unicast json`: a selected path not learned from the receiver, without its AS."""
        if not world.collected(name, BGP_IPV6):
            return None
        receiver_address = str(peer.address) if peer else None
        routes = world.known(name, BGP_IPV6, frr_parser.parse_bgp_routes)
        return any(
            r.selected and r.peer != receiver_address and receiver_as not in (r.as_path or "").split()
            for r in routes
        )

    def ipv6_mapped_refused(
        self, world: World, name: str, peer: PeerIntent, sender_sends: Callable[[], bool | None]
    ) -> tuple[list[str], str] | None:
        """FRR keeps such a path in its BGP table (next hop ::ffff:a.b.c.d) and zebra fails to
        install it (`"failed": true` in `show ipv6 route json`)."""
        if not world.collected(name, BGP_IPV6):
            return None  # a recording made before FRR's IPv6 table was read
        neighbor = str(peer.address)
        routes = world.known(name, BGP_IPV6, frr_parser.parse_bgp_routes)
        return [
            f"{r.prefix} via {r.next_hop}" for r in routes if r.peer == neighbor and ipv4_next_hop(r.next_hop)
        ], BGP_IPV6

    def ipv6_link_local_refused(
        self, world: World, name: str, peer: PeerIntent, sender: str, sent_without: int | None
    ) -> tuple[list[str], str] | None:
        """FRR keeps none of them in `show bgp ipv6 unicast json` while the sender exported them."""
        if sent_without is None or not world.collected(name, BGP_IPV6):
            return None
        neighbor = str(peer.address)
        routes = world.known(name, BGP_IPV6, frr_parser.parse_bgp_routes)
        from_sender = [r for r in routes if r.peer == neighbor]
        if sent_without and not from_sender:
            return [f"{sent_without} IPv6 route(s) {sender} exported, none in FRR's table"], BGP_IPV6
        return [], BGP_IPV6


FRR = FrrDriver()


def _covers(route: str, prefix: str) -> bool:
    """Whether the route `route` covers `prefix`: _covers("10.42.0.0/16", "10.42.2.0/24") -> True."""
    try:
        outer, inner = ipaddress.ip_network(route, strict=False), ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return False
    return outer.version == inner.version and inner.subnet_of(outer)  # type: ignore[arg-type]
