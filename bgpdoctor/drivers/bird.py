"""BIRD 2 (`birdc`) and BIRD 1.6 as Calico embeds it (`birdcl`): the same answers, two clients."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bgpdoctor.drivers import (
    CALICO,
    BfdReading,
    DriverBase,
    LearnedPath,
    NeighborState,
    ProtocolLine,
    raw_output,
)
from bgpdoctor.drivers.excerpt import bird_block
from bgpdoctor.parsers import bird
from bgpdoctor.parsers.birdblocks import protocol_blocks
from bgpdoctor.parsers.liveness import NO_BFD, BirdBfd, parse_bird_bfd

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import World
    from bgpdoctor.intent import PeerIntent
    from bgpdoctor.inventory_model import Host

# BIRD stops a protocol by itself only with one of these last errors; `down` without them is disabled
BIRD_OWN_STOPS = ("automatic shutdown", "error:", "kernel md5")
LIMIT_HIT = re.compile(r"^\s*(Import|Receive) limit:\s*(\d+)\s*\[HIT\]", re.M)
WITHDRAWS = re.compile(r"^\s*Import withdraws:\s+(\d+)\s+\d+\s+---\s+(\d+)\s+\d+\s*$", re.M)
BIND_FAILED = re.compile(
    r"(?i)(?:^|\s)(?P<protocol>[\w.-]+): Socket error: bind: Cannot assign requested address"
)


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


def protocol_block(text: str, peer: PeerIntent | None) -> str:
    """The `show protocols all` block of the protocol configured for `peer` (by its protocol name or
    its neighbor address, whichever BIRD prints first); "" when there is none."""
    block = protocol_blocks(text).block(
        name=peer.name if peer else None, address=str(peer.address) if peer else None
    )
    return "\n".join(block) if block is not None else ""


def _protocol_words(p: bird.BirdProtocol) -> str:
    error = f", {p.last_error}" if p.last_error else ""
    return f"{p.name} {p.bgp_state or p.state}{error}"


@dataclass(frozen=True)
class BirdDriver(DriverBase):
    speaker: str
    client: str
    daemon: str
    session_fact: str = "bird.protocols"
    status_fact: str = "bird.status"
    process = "bird"
    agent = CALICO  # a BIRD speaker on a Kubernetes node is Calico's
    rib_fact = "bird.bgp_routes"  # every BGP path with its AS path, best or not
    bfd_fact = "bird.bfd"
    shows_connection_refused = True  # "Socket: Connection refused" in the protocol's state
    shows_md5_refusal = True  # BIRD keeps a protocol whose password the kernel refused down with that error
    bind_failure = BIND_FAILED
    reads_protocol_routes = True  # `show route all` names each route's protocol
    mesh_prefix = "Mesh_"  # Calico's node-to-node mesh protocols; BGPPeers are Node_* and Global_*
    also_takes: tuple[str, ...] = ()  # fix platforms besides its own whose lines it takes

    @property
    def fix_syntaxes(self) -> tuple[str, ...]:
        return (self.speaker, *self.also_takes)

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

    def bfd(self, world: World, name: str, address: str | None) -> BfdReading:
        if not world.collected(name, self.bfd_fact):
            return BfdReading(asked=False)  # a recording made before BFD was read
        bfd = world.parsed(name, self.bfd_fact, parse_bird_bfd)
        result = world.facts[name].outputs.get(self.bfd_fact) if name in world.facts else None
        if bfd is None and result is not None and NO_BFD in f"{result.stdout}\n{result.stderr}".lower():
            bfd = BirdBfd(running=False)  # birdc exits non-zero when no BFD protocol runs
        if bfd is None:
            why = f"{name}: `show bfd sessions` gave nothing readable"
            return BfdReading(unread=self.bfd_fact, detail=why)
        return BfdReading(state=next((b.state for b in bfd.sessions if b.address == address), None))

    def bfd_expects(self, address: str | None, state: str) -> str:
        return f"{self.daemon} runs a BFD session to {address} (`bfd on`), state {state}"

    def bfd_missing(self, address: str | None, protocol: str | None) -> str:
        return f"{self.daemon} runs no BFD session to {address} (no `bfd on` in {protocol or 'its protocol'})"

    def limit_hit(self, world: World, name: str, peer: PeerIntent | None) -> int | None:
        found = LIMIT_HIT.search(protocol_block(raw_output(world, name, self.session_fact), peer))
        return int(found.group(2)) if found else None

    def disabled(self, state: str | None, last_error: str | None) -> bool:
        error = (last_error or "").lower()
        return state == "down" and not any(w in error for w in BIRD_OWN_STOPS)

    def best_paths(
        self, world: World, name: str, protocol: str | None, address: str | None
    ) -> list[tuple[str, str]] | None:
        if protocol is None:
            # the inventory does not name BIRD's protocol towards the receiver: find it by address, or
            # leave the paths unread (the receiver's own routes would look like any other)
            towards = [n for n in world.neighbors(name) or [] if n.address == address]
            protocol = towards[0].name if towards else None
            if protocol is None:
                return None
        routes = world.bird_bgp_routes(name)
        if routes is None:
            return None
        return [
            (r.prefix, r.as_path)
            for r in routes
            if r.primary and r.as_path is not None and (protocol is None or r.protocol != protocol)
        ]

    def table_prefixes(self, world: World, name: str) -> list[str] | None:
        return [r.prefix for r in world.bird_routes(name) or []]

    def ignored_withdraws(self, world: World, name: str, peer: PeerIntent | None) -> str | None:
        counters = WITHDRAWS.search(protocol_block(raw_output(world, name, self.session_fact), peer))
        if counters is None or int(counters.group(2)) <= 0:
            return None
        return f"Import withdraws: received {counters.group(1)}, ignored {counters.group(2)}"

    def learned_from(
        self, world: World, name: str, protocol: str | None, address: str
    ) -> list[LearnedPath] | None:
        routes = world.bird_bgp_routes(name)
        if routes is None:
            return None
        by_address, by_protocol = world.memo(("bird learned from", name), lambda: _primary_index(routes))
        at = sorted(
            {*by_address.get(address, ()), *(by_protocol.get(protocol, ()) if protocol is not None else ())}
        )
        return [
            LearnedPath(
                r.prefix,
                r.protocol,
                f"{r.prefix} {r.kind} [{r.protocol} from {r.from_address or address}] via {r.gateway or '?'}",
            )
            for r in (routes[i] for i in at)
        ]

    def multihop(self, world: World, name: str, peer: PeerIntent) -> bool | None:
        """`Session: external multihop AS4` while up (iBGP is multihop by BIRD's default)."""
        protocols = world.bird_protocols(name) or []
        by_name, by_address, _bgp = world.memo(("bird protocols", name), lambda: _protocol_index(protocols))
        at = min(
            (
                i
                for i in (by_name.get(peer.name) if peer.name else None, by_address.get(str(peer.address)))
                if i is not None
            ),
            default=None,
        )
        mine = protocols[at] if at is not None else None
        if mine is None or not mine.session:
            return None
        return "multihop" in mine.session or "internal" in mine.session

    def protocols_to(self, world: World, name: str, address: str) -> list[ProtocolLine] | None:
        protocols = world.bird_protocols(name)
        if protocols is None:
            return None
        _by_name, _by_address, bgp = world.memo(("bird protocols", name), lambda: _protocol_index(protocols))
        return [
            ProtocolLine(p.name, _protocol_words(p), (p.bgp_state or "").lower() == "established")
            for p in bgp.get(address, [])
        ]

    def host_facts(self, world: World, s: Subject, name: str) -> None:
        from bgpdoctor.engine import host_facts

        host_facts.rib_vs_fib(world, s, name)
        host_facts.bird_config_check(world, s, name)

    def _ipv6_channel(self, world: World, name: str, peer: PeerIntent | None) -> str | None:
        return ipv6_channel(protocol_block(raw_output(world, name, self.session_fact), peer))

    def ipv6_sent(self, world: World, name: str, peer: PeerIntent | None, receiver_as: str) -> bool | None:
        """Its ipv6 channel on the IPv4 session exports routes with `BGP Next hop: ::` (no IPv6
        address to put there)."""
        exported = self.ipv6_sent_without_global_next_hop(world, name, peer)
        return None if exported is None else exported > 0

    def ipv6_sent_without_global_next_hop(
        self, world: World, name: str, peer: PeerIntent | None
    ) -> int | None:
        channel = self._ipv6_channel(world, name, peer)
        hop = _NEXT_HOP.search(channel or "")
        exported = _EXPORTS.search(channel or "")
        if hop is None or exported is None:
            return None
        return int(exported.group(1)) if hop.group("hop") == "::" else 0

    def _ignored_ipv6(self, world: World, name: str, peer: PeerIntent) -> list[str] | None:
        """BIRD 2 treats an IPv6 UPDATE whose next hop it cannot use as a withdraw and ignores it
        (RFC 7606): its ipv6 channel counts them as ignored withdraws and imports nothing. None
        when the protocol's block or its ipv6 channel is not there to read."""
        channel = self._ipv6_channel(world, name, peer)
        if channel is None:
            return None
        withdraws = WITHDRAWS.search(channel)
        updates = _UPDATES.search(channel)
        ignored = int(withdraws.group(2)) if withdraws else 0
        accepted = int(updates.group(2)) if updates else 0
        if ignored == 0 or accepted > 0:
            return []
        return [
            f"{ignored} IPv6 update(s) ignored by the ipv6 channel, none imported "
            f"(`Import withdraws: ... {ignored}`)"
        ]

    def ipv6_mapped_refused(
        self, world: World, name: str, peer: PeerIntent, sender_sends: Callable[[], bool | None]
    ) -> tuple[list[str], str] | None:
        """BIRD counts loops and withdraws of unknown prefixes as ignored too: judged only when the
        sender shows it sends IPv6 routes of its own over this IPv4 session."""
        sends = sender_sends()
        if sends is None:
            return None
        refused = self._ignored_ipv6(world, name, peer) if sends else []
        return None if refused is None else (refused, self.session_fact)

    def ipv6_link_local_refused(
        self, world: World, name: str, peer: PeerIntent, sender: str, sent_without: int | None
    ) -> tuple[list[str], str] | None:
        if sent_without is None:  # only with the sender's word for it: loops count as ignored too
            return None
        refused = self._ignored_ipv6(world, name, peer) if sent_without else []
        return None if refused is None else (refused, self.session_fact)


# a BIRD channel's import counters: received, rejected, filtered, ignored, accepted
_CHANNEL = re.compile(r"^\s*Channel (?P<name>\S+)\s*$", re.M)
_UPDATES = re.compile(r"^\s*Import updates:\s+(\d+)\s+\d+\s+\d+\s+\d+\s+(\d+)\s*$", re.M)
_NEXT_HOP = re.compile(r"^\s*BGP Next hop:\s+(?P<hop>\S+)", re.M)
_EXPORTS = re.compile(r"^\s*Export updates:\s+\d+\s+\d+\s+\d+\s+---\s+(\d+)\s*$", re.M)


def ipv6_channel(block: str) -> str | None:
    """The `Channel ipv6` part of a BIRD protocol's `show protocols all` block."""
    parts = _CHANNEL.split(block)
    names = parts[1::2]
    bodies = parts[2::2]
    return next((body for name, body in zip(names, bodies, strict=True) if name == "ipv6"), None)


def _protocol_index(
    protocols: list[bird.BirdProtocol],
) -> tuple[dict[str, int], dict[str | None, int], dict[str | None, list[bird.BirdProtocol]]]:
    """Each name's and neighbor address's first protocol, and the BGP protocols by neighbor address:
    a router's N sessions each scanned its N protocols."""
    by_name: dict[str, int] = {}
    by_address: dict[str | None, int] = {}
    bgp: dict[str | None, list[bird.BirdProtocol]] = {}
    for at, p in enumerate(protocols):
        by_name.setdefault(p.name, at)
        by_address.setdefault(p.neighbor_address, at)
        if p.proto == "BGP":
            bgp.setdefault(p.neighbor_address, []).append(p)
    return by_name, by_address, bgp


def _primary_index(routes: list[bird.BirdRoute]) -> tuple[dict[str | None, list[int]], dict[str, list[int]]]:
    """Positions of the primary paths by the neighbor address and the protocol they came from."""
    by_address: dict[str | None, list[int]] = {}
    by_protocol: dict[str, list[int]] = {}
    for at, r in enumerate(routes):
        if r.primary:
            by_address.setdefault(r.from_address, []).append(at)
            by_protocol.setdefault(r.protocol, []).append(at)
    return by_address, by_protocol


BIRD2 = BirdDriver("bird2", "birdc", "BIRD 2")
BIRD1 = BirdDriver("bird1", "birdcl", "BIRD 1.6", also_takes=("bird2",))
