"""GoBGP (`gobgp -j`), and Cilium's embedded GoBGP read through `cilium-dbg bgp peers` in its pod."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from bgpdoctor.drivers import CILIUM, BfdReading, DriverBase, NeighborState, raw_output
from bgpdoctor.drivers.excerpt import gobgp_entries_of, gobgp_entry
from bgpdoctor.parsers import ParseError, gobgp, load_json
from bgpdoctor.parsers.capabilities import NeighborCapabilities, gobgp_capabilities_of

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import World
    from bgpdoctor.intent import PeerIntent
    from bgpdoctor.inventory_model import Host


# `"admin_state": 2`: GoBGP holds the neighbor down because its prefix limit was hit (`Idle(PfxCt)`)
PREFIX_LIMIT_STATES = (2, "ADMIN_STATE_PFX_CT", "PFX_CT")
T = TypeVar("T")
RIB6 = "gobgp.rib6"  # `gobgp -j global rib -a ipv6`


def dig(value: Any, *keys: str) -> Any:
    """value[k1][k2]... or None where a level is missing or not an object (odd JSON stays harmless)."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _plain_json(text: str) -> Any:
    """json.loads, None when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def _listed(data: Any) -> list[Any] | None:
    if data is None:
        return None
    return data if isinstance(data, list) else [data]


def _entries(text: str) -> list[Any] | None:
    return _listed(_plain_json(text))


def neighbor_entry(text: str, address: str) -> dict[str, Any] | None:
    """The `gobgp -j neighbor` entry of one neighbor address (its state's or its configuration's)."""
    return _entry_of(_entries(text), address)


def _entry_of(entries: list[Any] | None, address: str) -> dict[str, Any] | None:
    for n in entries or []:
        if isinstance(n, dict) and address in (
            dig(n, "state", "neighbor_address"),
            dig(n, "conf", "neighbor_address"),
        ):
            return n
    return None


def limit_hit_of(text: str, address: str) -> tuple[bool, int | None]:
    """(the neighbor is held down by its prefix limit, the family's max_prefixes) in `gobgp -j neighbor`."""
    return _limit_hit(_entries(text), address)


def _limit_hit(entries: list[Any] | None, address: str) -> tuple[bool, int | None]:
    for n in entries or []:
        if address not in (dig(n, "state", "neighbor_address"), dig(n, "conf", "neighbor_address")):
            continue
        families = dig(n, "afi_safis")
        limits = [
            dig(a, "prefix_limits", "max_prefixes") for a in (families if isinstance(families, list) else [])
        ]
        limit = next((x for x in limits if isinstance(x, int) and x > 0), None)
        return dig(n, "state", "admin_state") in PREFIX_LIMIT_STATES, limit
    return False, None


@dataclass(frozen=True)
class NeighborOutput:
    """What every reader takes from one node's `gobgp -j neighbor`, from a single decode (each reader
    decoded it again, seven times a node); the decoded JSON is not kept (5,000 nodes' weighed 100 MiB).

    `neighbors` and `capabilities` are the parsers' answers or what they raised; `excerpts` each
    neighbor's quoted entry (None: not JSON to the strict reader); `entries` per neighbor address
    (configured hold, restarts seen, prefix limit state) of its first entry; `md5` any auth_password.
    """

    neighbors: list[gobgp.GobgpNeighbor] | Exception
    capabilities: list[NeighborCapabilities] | Exception
    excerpts: dict[str, str] | None
    entries: dict[str, tuple[int | None, str | None, tuple[bool, int | None]]]
    md5: bool | None

    def parsed_neighbors(self) -> list[gobgp.GobgpNeighbor]:
        if isinstance(self.neighbors, Exception):
            raise self.neighbors
        return self.neighbors

    def parsed_capabilities(self) -> list[NeighborCapabilities]:
        if isinstance(self.capabilities, Exception):
            raise self.capabilities
        return self.capabilities


def neighbor_output(world: World, name: str) -> NeighborOutput:
    """The node's `gobgp -j neighbor` read once per run (World.memo)."""
    return world.memo(("gobgp_neighbor_output", name), lambda: _read_output(raw_output(world, name, FACT)))


def _attempt(read: Callable[[], T]) -> T | Exception:
    try:
        return read()
    except Exception as exc:  # raised again to the reader that asks, as it was raised before
        return exc


def _read_output(text: str) -> NeighborOutput:
    strict: Any = None
    error: ParseError | None = None
    try:
        strict = load_json(text, "gobgp")
    except ParseError as exc:
        error = exc
    loose = strict if error is None else _plain_json(text)  # what json.loads makes of it
    entries: dict[str, tuple[int | None, str | None, tuple[bool, int | None]]] = {}
    listed = _listed(loose) or []
    for n in listed:
        if not isinstance(n, dict):
            continue
        for address in (dig(n, "state", "neighbor_address"), dig(n, "conf", "neighbor_address")):
            if isinstance(address, str) and address not in entries:
                entries[address] = (_configured_hold(n), _restarts(n), _limit_hit([n], address))
    return NeighborOutput(
        neighbors=error if error is not None else _attempt(lambda: gobgp.neighbors_of(strict)),
        capabilities=error if error is not None else _attempt(lambda: gobgp_capabilities_of(strict)),
        excerpts=gobgp_entries_of(strict) if error is None else None,
        entries=entries,
        md5=any(isinstance(n, dict) and bool(dig(n, "conf", "auth_password")) for n in loose)
        if isinstance(loose, list)
        else None,
    )


def _configured_hold(entry: dict[str, Any] | None) -> int | None:
    configured = dig(entry, "timers", "config", "hold_time")
    return configured if isinstance(configured, int) and configured > 0 else None


def _restarts(entry: dict[str, Any] | None) -> str | None:
    opens = dig(entry, "state", "messages", "received", "open")
    if isinstance(opens, int) and opens > 1:
        return f"GoBGP received {opens} OPENs since it started (the session came up again)"
    return None


FACT = "gobgp.neighbors"
NO_ENTRY: tuple[int | None, str | None, tuple[bool, int | None]] = (None, None, (False, None))


@dataclass(frozen=True)
class GobgpDriver(DriverBase):
    speaker: str = "gobgp"
    session_fact: str = "gobgp.neighbors"
    status_fact: str = "gobgp.global"
    daemon: str = "GoBGP"
    process = "gobgpd"
    agent = CILIUM  # a GoBGP speaker on a Kubernetes node is Cilium's agent
    rib_fact = "gobgp.rib"
    runs_bfd = False
    # Cilium's and MetalLB's GoBGP never install what they receive (the node routes through its router)
    installs_routes = False

    def commands(self, host: Host) -> dict[str, str]:
        if host.connect.pod is not None and host.connect.pod.cni != "calico":
            # Cilium's agent embeds GoBGP without the gobgp CLI; its own view is cilium-dbg, read onto
            # the same neighbor facts (bgpdoctor.kube.ciliumdbg, via World.gobgp_neighbors)
            return {"gobgp.neighbors": "cilium-dbg bgp peers -o json"}
        api = ""
        if host.gobgp_api:
            address, _, port = host.gobgp_api.rpartition(":")
            api = f" -u {shlex.quote(address)} -p {shlex.quote(port)}"
        commands = {
            "gobgp.neighbors": f"gobgp{api} -j neighbor",
            "gobgp.global": f"gobgp{api} -j global",
            "gobgp.rib": f"gobgp{api} -j global rib -a ipv4",
        }
        if host.connect.pod is None:  # on every GoBGP host: IPv6 over an IPv4 session shows only there
            commands[RIB6] = f"gobgp{api} -j global rib -a ipv6"
        return commands

    def neighbors(self, world: World, name: str) -> list[NeighborState] | None:
        found = world.gobgp_neighbors(name)
        if found is None:
            return None
        own_as = world.inv.hosts[name].asn
        out = []
        for n in found:
            established = n.state == "established"
            out.append(
                NeighborState(
                    address=n.address,
                    name=None,  # GoBGP neighbors are matched by address only
                    state="admin-down" if n.admin_down else n.state,
                    local_as=n.local_as or own_as,
                    peer_as=n.peer_as,
                    passive=n.passive,
                    multihop_ttl=n.multihop_ttl,
                    multihop_shown=True,
                    since_epoch=n.uptime_epoch if established else n.downtime_epoch,
                    received=n.received,
                    accepted=n.accepted,
                    advertised=n.advertised,
                    # GoBGP keeps the last session's hold time after it went down
                    hold_time_s=n.hold_time if established else None,
                )
            )
        return out

    def excerpt(self, text: str, neighbor: NeighborState) -> str | None:
        return gobgp_entry(text, neighbor.address) if neighbor.address else None

    def session_excerpt(self, world: World, name: str, text: str, neighbor: NeighborState) -> str | None:
        """Each neighbor's entry cut once per node from the JSON World.json decoded; the evidence
        `text` is that output (stripped) unless the command timed out or was cut."""
        result = world.facts[name].outputs.get(self.session_fact) if name in world.facts else None
        if not neighbor.address or result is None or result.timed_out or result.truncated:
            return self.excerpt(text, neighbor)
        excerpts = neighbor_output(world, name).excerpts
        return self.excerpt(text, neighbor) if excerpts is None else excerpts.get(neighbor.address)

    def router_id(self, world: World, name: str) -> str | None:
        glob = world.parsed(name, "gobgp.global", gobgp.parse_global)
        return glob.router_id if glob else None

    def bfd(self, world: World, name: str, address: str | None) -> BfdReading:
        return BfdReading()  # GoBGP has no BFD

    def bfd_missing(self, address: str | None, protocol: str | None) -> str:
        return "GoBGP has no BFD"

    def configured_hold_s(self, world: World, name: str, address: str) -> int | None:
        """`timers.config.hold_time`, kept while the session is down."""
        return neighbor_output(world, name).entries.get(address, NO_ENTRY)[0]

    def restarts_seen(self, world: World, name: str, address: str) -> str | None:
        """`messages.received.open` counts OPENs since gobgpd started: 2 means the session came up twice."""
        return neighbor_output(world, name).entries.get(address, NO_ENTRY)[1]

    def limit_state(self, world: World, name: str, address: str) -> tuple[bool, int | None]:
        return neighbor_output(world, name).entries.get(address, NO_ENTRY)[2]

    def md5_configured(self, world: World, name: str) -> bool | None:
        """GoBGP's (redacted) `conf.auth_password` on any neighbor."""
        if world.facts[name].outputs.get(self.session_fact) is None:
            return None
        return neighbor_output(world, name).md5

    def best_paths(
        self, world: World, name: str, protocol: str | None, address: str | None
    ) -> list[tuple[str, str]] | None:
        paths = world.gobgp_rib(name)
        if paths is None:
            return None
        return [(p.prefix, p.as_path) for p in paths if p.best and p.neighbor_ip != address]

    def table_prefixes(self, world: World, name: str) -> list[str] | None:
        return [p.prefix for p in world.gobgp_rib(name) or []]

    def received_paths(self, world: World, name: str) -> list[gobgp.GobgpPath] | None:
        return world.gobgp_rib(name)

    def host_facts(self, world: World, s: Subject, name: str) -> None:
        if world.inv.hosts[name].pod_cidrs:
            from bgpdoctor.engine import host_facts

            host_facts.gobgp_pod_cidr_facts(world, s, name)

    def ipv6_sent(self, world: World, name: str, peer: PeerIntent | None, receiver_as: str) -> bool | None:
        """`global rib -a ipv6`: a best path not learned from the receiver, without its AS."""
        if not world.collected(name, RIB6):
            return None
        receiver_address = str(peer.address) if peer else None
        paths = world.known(name, RIB6, gobgp.parse_rib)
        return any(
            p.best and p.neighbor_ip != receiver_address and receiver_as not in p.as_path.split()
            for p in paths
        )


GOBGP = GobgpDriver()
