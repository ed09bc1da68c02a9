"""One driver per BGP daemon: the commands that ask it, and its answers read onto one shape.

The engine never branches on the daemon's name: it asks `driver_for(host.speaker)` for the commands
to run (engine/collect.py), for each neighbor's state (engine/sessions.py, report/status.py), the
router id, and what only some daemons can say (BFD, configured timers, prefix limits, the RIB; see
`Driver`). A new daemon (a vendor router) is one module here and one entry in `_drivers()`;
`DriverBase` answers "this daemon does not say" for whatever it does not override. A daemon whose
client costs most of a call to start can declare a `JoinedRead`: the collection batch then reads
several of its facts with one run of the client and cuts the output back into each fact's own.

Every driver reads its daemon's neighbors onto one shape, NeighborState (defined beside the router
parsers, which produce it directly, and re-exported here).

Example: driver_for("bird1").commands(host)["bird.protocols"] -> "birdcl -r show protocols all"
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from ipaddress import IPv6Address, ip_address
from typing import TYPE_CHECKING, Protocol

from bgpdoctor.parsers.routers import NeighborState as NeighborState  # the one observed shape

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import World
    from bgpdoctor.intent import PeerIntent
    from bgpdoctor.inventory_model import Host
    from bgpdoctor.parsers.gobgp import GobgpPath
    from bgpdoctor.transport.base import CommandResult


@dataclass(frozen=True)
class BfdReading:
    """One end's BFD towards a neighbor, as its daemon says it.

    Example: BfdReading(state="down") (a BFD session, down); BfdReading() (no BFD session towards
    that neighbor, or a daemon without BFD); BfdReading(asked=False) (BFD is not read from this
    daemon, or not in this recording); BfdReading(unread="bird.bfd", detail="...") (asked, unreadable).
    """

    state: str | None = None
    asked: bool = True
    unread: str | None = None  # the fact asked whose answer could not be read
    detail: str | None = None  # why, when that fact's own problem does not say


@dataclass(frozen=True)
class SessionResets:
    """How often the daemon saw one session drop. Example: SessionResets(address="10.213.4.2",
    dropped=5, established=6, last_reset="BGP Notification received")"""

    address: str
    dropped: int | None
    established: int | None
    last_reset: str | None


@dataclass(frozen=True)
class LearnedPath:
    """A best BGP path one end learned from one neighbor. Example: LearnedPath("10.213.61.1/32",
    "frr1", "10.213.61.1/32 unicast [frr1 from 10.213.61.1] via 10.213.61.1")"""

    prefix: str
    protocol: str
    shown: str  # the path as quoted in evidence


@dataclass(frozen=True)
class ProtocolLine:
    """One of the daemon's BGP protocols towards an address, as quoted. Example:
    ProtocolLine("Mesh_10_0_0_2", "Mesh_10_0_0_2 Established", True)"""

    name: str
    shown: str
    established: bool


@dataclass(frozen=True)
class CniAgent:
    """The Kubernetes agent that runs a daemon on each node, as `discover` and the cluster checks know it.

    Example: CALICO.restart.format(ns="calico-system", node="n1") -> "kubectl -n calico-system delete
    pod -l k8s-app=calico-node --field-selector spec.nodeName=n1"
    """

    cni: str  # "Calico"
    namespace: str  # where its pods run
    restart: str  # the command that restarts the agent on one node ({ns}, {node})
    control_socket: str | None = None  # the daemon's control socket on the node
    names_protocols: bool = False  # the agent names each neighbor's protocol (see protocol_name)

    def protocol_name(self, address: str | None, source: str, name: str) -> str | None:
        """The daemon's name of a neighbor's protocol: Calico renders BIRD protocols as Mesh_<ip>
        (the node-to-node mesh, `name`), Node_<ip> (a node-scoped BGPPeer), Global_<ip>."""
        if not self.names_protocols or address is None:
            return None
        if source == "node-to-node mesh":
            return name
        return f"Node_{address.replace('.', '_')}"


CALICO = CniAgent(
    "Calico",
    "calico-system",
    "kubectl -n {ns} delete pod -l k8s-app=calico-node --field-selector spec.nodeName={node}",
    control_socket="/var/run/calico/bird.ctl",
    names_protocols=True,
)
CILIUM = CniAgent(
    "Cilium",
    "kube-system",
    "kubectl -n {ns} delete pod -l k8s-app=cilium --field-selector spec.nodeName={node}",
)


@dataclass(frozen=True)
class SplitHorizon:
    """A route an iBGP speaker holds and does not pass on (see `Driver.split_horizon`).

    Example: SplitHorizon(prefix="10.42.2.0/24", learned_from="10.215.0.2",
    plain_ibgp=["10.215.0.1", "10.215.0.2"], local_as=64531)
    """

    prefix: str
    learned_from: str  # the neighbor it came from
    plain_ibgp: list[str]  # every iBGP neighbor that is not a route-reflector client
    local_as: int | None


class JoinedRead(Protocol):
    """Several facts of one daemon read by one run of its client, whose start costs most of a call
    (vtysh: ~22 ms of CPU). The collection batch (engine/collect.py) sends the joined command and
    cuts its output back into each fact's own, kept under each fact's own command; what cannot be
    cut exactly is read again fact by fact, so a fact is never guessed from a neighbour's output."""

    def client(self, fact: str, command: str) -> str | None:
        """The client part of `command` (e.g. "vtysh --vty_socket /run/frr") when it is this
        daemon's own command of `fact`, one that joins; None for any other command."""

    def join(self, client: str, commands: list[str]) -> str:
        """One command reading what `commands` (each `client` plus its own part) read, in order."""

    def views(self, command: str) -> list[tuple[str, str]]:
        """(fact, its own command) of each fact a joined command reads; [] for any other command."""

    def cut(self, raw: CommandResult, n: int) -> list[bytes] | None:
        """The joined command's output as its `n` facts' outputs, in order; None unless it can be cut
        exactly (each fact is then read again by its own command)."""


class Driver(Protocol):
    """What the engine may ask a daemon. A question the daemon cannot answer returns None (or
    `BfdReading(asked=False)`), never a guess; `DriverBase` holds those answers."""

    @property
    def speaker(self) -> str:
        """The inventory's `speaker` value this driver answers for."""

    @property
    def daemon(self) -> str:
        """The daemon's name in sentences, e.g. "BIRD 2"."""

    @property
    def appliance(self) -> bool:
        """A router whose login is its vendor's CLI, not a shell: no Linux facts are asked."""

    @property
    def agent(self) -> CniAgent | None:
        """The Kubernetes agent that runs this daemon on a node (Calico's BIRD, Cilium's GoBGP)."""

    @property
    def process(self) -> str | None:
        """The daemon's process name on a Linux host ("bird", "gobgpd", "bgpd")."""

    @property
    def session_fact(self) -> str:
        """The fact holding the neighbors' states (a daemon that does not answer it is down)."""

    @property
    def status_fact(self) -> str:
        """The fact holding the router id."""

    @property
    def rib_fact(self) -> str | None:
        """The fact holding the daemon's BGP paths with their AS paths (None: not read)."""

    @property
    def bfd_fact(self) -> str | None:
        """The fact that shows the daemon's BFD sessions (None: no BFD, or not read)."""

    @property
    def runs_bfd(self) -> bool:
        """The daemon can run BFD (GoBGP cannot)."""

    @property
    def installs_routes(self) -> bool:
        """The daemon installs what it receives in the kernel (Cilium's and MetalLB's GoBGP never do)."""

    @property
    def shows_md5_refusal(self) -> bool:
        """A session whose TCP MD5 the kernel refused stays down with that error in its state."""

    @property
    def shows_connection_refused(self) -> bool:
        """A dialing session whose SYNs are answered with a RST says "Connection refused" in its state
        (BIRD does; GoBGP and FRR keep dialling without saying why)."""

    @property
    def bind_failure(self) -> re.Pattern[str] | None:
        """The daemon's log line for a source address it cannot bind (group `protocol`)."""

    @property
    def reads_protocol_routes(self) -> bool:
        """Each route in its table names the protocol (session) it came from, with that protocol's
        import and export filters readable: what tracing a route through iBGP reflection needs."""

    @property
    def mesh_prefix(self) -> str | None:
        """The name prefix of Calico's node-to-node mesh protocols in this daemon."""

    @property
    def joined_read(self) -> JoinedRead | None:
        """How several of its facts are read with one run of its client; None: each alone."""

    @property
    def comment_marks(self) -> tuple[str, ...]:
        """What a comment line of its configuration starts with (FRR's `!` as well as `#`)."""

    @property
    def fix_syntaxes(self) -> tuple[str, ...]:
        """The playbook fix platforms written for this daemon: its own first, then one whose lines it
        also takes, used when a diagnosis has no fix in the first (BIRD 1.6 takes BIRD 2's lines
        inside a `protocol bgp`: passive, hold time, password)."""

    def commands(self, host: Host) -> dict[str, str]:
        """Every read-only command this daemon is asked on `host`, keyed by fact name."""

    def neighbors(self, world: World, name: str) -> list[NeighborState] | None:
        """Every BGP neighbor the daemon on `name` reports; None when its answer is unknown."""

    def router_id(self, world: World, name: str) -> str | None:
        """The router id the daemon really uses."""

    def excerpt(self, text: str, neighbor: NeighborState) -> str | None:
        """The neighbor's own entry in the session fact's output (None: quote the output whole)."""

    def session_excerpt(self, world: World, name: str, text: str, neighbor: NeighborState) -> str | None:
        """excerpt() of `text`, the session fact's evidence on `name`, reusing what World read of it."""

    def bfd(self, world: World, name: str, address: str | None) -> BfdReading:
        """This daemon's BFD session towards `address`."""

    def bfd_expects(self, address: str | None, state: str) -> str:
        """How the daemon says it runs BFD towards `address`."""

    def bfd_missing(self, address: str | None, protocol: str | None) -> str:
        """How the daemon says it runs no BFD towards `address`."""

    def configured_hold_s(self, world: World, name: str, address: str) -> int | None:
        """The hold time configured for the neighbor, where the daemon prints it while down."""

    def restarts_seen(self, world: World, name: str, address: str) -> str | None:
        """The daemon's own count saying the session came up again, as a sentence."""

    def limit_hit(self, world: World, name: str, peer: PeerIntent | None) -> int | None:
        """The prefix limit of the neighbor, as printed when the daemon's last error says it was hit."""

    def limit_state(self, world: World, name: str, address: str) -> tuple[bool, int | None]:
        """(the neighbor is held down by its prefix limit, the limit), from the daemon's state."""

    def disabled(self, state: str | None, last_error: str | None) -> bool:
        """A neighbor shown only as `down` that an operator disabled (not stopped by an error)."""

    def md5_configured(self, world: World, name: str) -> bool | None:
        """A TCP MD5 password on any neighbor as the daemon shows it (None: unreadable)."""

    def best_paths(
        self, world: World, name: str, protocol: str | None, address: str | None
    ) -> list[tuple[str, str]] | None:
        """(prefix, AS path) of the best BGP paths, except those learned from `protocol`/`address`;
        None when the daemon's table is not read."""

    def table_prefixes(self, world: World, name: str) -> list[str] | None:
        """Every prefix in the daemon's own table (None: not read)."""

    def split_horizon(self, world: World, name: str, toward: str, prefix: str | None) -> SplitHorizon | None:
        """What the daemon on `name` keeps from its neighbor at `toward` by iBGP split horizon: a best
        path (covering `prefix`; None: any) learned from another iBGP neighbor, where neither
        neighbor is its route-reflector client. None: nothing, or the daemon's output cannot say
        (BIRD's is read by protocol, in engine/routing.py)."""

    def ignored_withdraws(self, world: World, name: str, peer: PeerIntent | None) -> str | None:
        """The daemon's count of withdraws from the neighbor it ignored, as a sentence."""

    def received_paths(self, world: World, name: str) -> list[GobgpPath] | None:
        """Every path in the daemon's RIB with the neighbor it came from, for a daemon that does not
        install them (None: not read, or the daemon installs what it receives)."""

    def resets(self, world: World, name: str, address: str) -> SessionResets | None:
        """How often the session to `address` dropped (None: the daemon does not count)."""

    def config_removals(self, log: str, address: str) -> list[str]:
        """Lines of the daemon's log that remove settings of the neighbor `address`."""

    def learned_from(
        self, world: World, name: str, protocol: str | None, address: str
    ) -> list[LearnedPath] | None:
        """The best paths learned from that neighbor (None: the daemon's table is not read)."""

    def multihop(self, world: World, name: str, peer: PeerIntent) -> bool | None:
        """The session follows the kernel's routes (multihop), as the daemon shows it (None: not shown)."""

    def protocols_to(self, world: World, name: str, address: str) -> list[ProtocolLine] | None:
        """Every BGP protocol of the daemon towards `address` (None: unreadable)."""

    def host_facts(self, world: World, s: Subject, name: str) -> None:
        """Add what only this daemon's own outputs say about its host (BIRD: its selected routes
        against the kernel FIB and `configure check`; FRR: RFC 8212 and maximum-prefix stops, ECMP,
        shadowed routes, VIPs; GoBGP: the pod CIDRs its RIB advertises)."""

    def ipv6_sent(self, world: World, name: str, peer: PeerIntent | None, receiver_as: str) -> bool | None:
        """Does the daemon hold IPv6 routes it would send over its session to `peer` (its own, or
        learned elsewhere, without `receiver_as` in their AS path)? None: its table is not read."""

    def ipv6_sent_without_global_next_hop(
        self, world: World, name: str, peer: PeerIntent | None
    ) -> int | None:
        """How many IPv6 routes it exported to `peer` with no global next hop (`BGP Next hop: ::`,
        only a link-local one goes out); None when the daemon does not show it."""

    def ipv6_mapped_refused(
        self, world: World, name: str, peer: PeerIntent, sender_sends: Callable[[], bool | None]
    ) -> tuple[list[str], str] | None:
        """IPv6 routes from `peer` over an IPv4 session (next hop IPv4-mapped) this daemon could
        not use, with the fact that shows it; None when it cannot be judged here. `sender_sends`
        asks the other end whether it sends IPv6 routes at all."""

    def ipv6_link_local_refused(
        self, world: World, name: str, peer: PeerIntent, sender: str, sent_without: int | None
    ) -> tuple[list[str], str] | None:
        """IPv6 routes from `peer` this daemon dropped for a link-local-only next hop, with the
        fact that shows it; None when it cannot be judged. `sent_without`: how many the sender
        exported so (None: the sender does not say)."""


class DriverBase:
    """The answers of a daemon that does not say: drivers inherit it and override what they read."""

    daemon: str  # each driver names its daemon
    appliance: bool = False
    agent: CniAgent | None = None
    process: str | None = None
    rib_fact: str | None = None
    bfd_fact: str | None = None
    runs_bfd: bool = True
    installs_routes: bool = True
    shows_md5_refusal: bool = False
    shows_connection_refused: bool = False
    bind_failure: re.Pattern[str] | None = None
    mesh_prefix: str | None = None
    reads_protocol_routes: bool = False
    joined_read: JoinedRead | None = None
    comment_marks: tuple[str, ...] = ("#",)
    speaker: str

    @property
    def fix_syntaxes(self) -> tuple[str, ...]:
        return (self.speaker,)

    def bfd(self, world: World, name: str, address: str | None) -> BfdReading:
        return BfdReading(asked=False)

    def bfd_expects(self, address: str | None, state: str) -> str:
        return f"{self.daemon} runs a BFD session to {address}, state {state}"

    def bfd_missing(self, address: str | None, protocol: str | None) -> str:
        return f"{self.daemon} runs no BFD session to {address}"

    def configured_hold_s(self, world: World, name: str, address: str) -> int | None:
        return None

    def restarts_seen(self, world: World, name: str, address: str) -> str | None:
        return None

    def limit_hit(self, world: World, name: str, peer: PeerIntent | None) -> int | None:
        return None

    def excerpt(self, text: str, neighbor: NeighborState) -> str | None:
        return None

    def session_excerpt(self, world: World, name: str, text: str, neighbor: NeighborState) -> str | None:
        return self.excerpt(text, neighbor)

    def limit_state(self, world: World, name: str, address: str) -> tuple[bool, int | None]:
        return False, None

    def disabled(self, state: str | None, last_error: str | None) -> bool:
        return False

    def md5_configured(self, world: World, name: str) -> bool | None:
        return False  # the inventory declares every session meant to use TCP MD5

    def best_paths(
        self, world: World, name: str, protocol: str | None, address: str | None
    ) -> list[tuple[str, str]] | None:
        return None

    def table_prefixes(self, world: World, name: str) -> list[str] | None:
        return None

    def split_horizon(self, world: World, name: str, toward: str, prefix: str | None) -> SplitHorizon | None:
        return None

    def ignored_withdraws(self, world: World, name: str, peer: PeerIntent | None) -> str | None:
        return None

    def received_paths(self, world: World, name: str) -> list[GobgpPath] | None:
        return None

    def resets(self, world: World, name: str, address: str) -> SessionResets | None:
        return None

    def config_removals(self, log: str, address: str) -> list[str]:
        return []

    def learned_from(
        self, world: World, name: str, protocol: str | None, address: str
    ) -> list[LearnedPath] | None:
        return None

    def multihop(self, world: World, name: str, peer: PeerIntent) -> bool | None:
        return None

    def protocols_to(self, world: World, name: str, address: str) -> list[ProtocolLine] | None:
        return None

    def host_facts(self, world: World, s: Subject, name: str) -> None:
        return None

    def ipv6_sent(self, world: World, name: str, peer: PeerIntent | None, receiver_as: str) -> bool | None:
        return None

    def ipv6_sent_without_global_next_hop(
        self, world: World, name: str, peer: PeerIntent | None
    ) -> int | None:
        return None

    def ipv6_mapped_refused(
        self, world: World, name: str, peer: PeerIntent, sender_sends: Callable[[], bool | None]
    ) -> tuple[list[str], str] | None:
        return None

    def ipv6_link_local_refused(
        self, world: World, name: str, peer: PeerIntent, sender: str, sent_without: int | None
    ) -> tuple[list[str], str] | None:
        return None


def ipv4_next_hop(next_hop: str | None) -> bool:
    """An IPv4 next hop, or one sent IPv4-mapped (::ffff:a.b.c.d): no IPv6 next hop to forward to."""
    try:
        address = ip_address(str(next_hop))
    except ValueError:
        return False
    return address.version == 4 or (isinstance(address, IPv6Address) and address.ipv4_mapped is not None)


def raw_output(world: World, name: str, fact: str) -> str:
    """A fact's stdout as collected, "" when it was not (a failed command's output included)."""
    facts = world.facts.get(name)
    result = facts.outputs.get(fact) if facts else None
    return result.stdout if result is not None else ""


def match_neighbor(neighbors: list[NeighborState], peer: PeerIntent) -> NeighborState | None:
    """The neighbor the inventory's peer entry means: same address, or the same protocol name."""
    address = str(peer.address)
    return next(
        (
            n
            for n in neighbors
            if _same_address(n.address, address) or (peer.name is not None and n.name == peer.name)
        ),
        None,
    )


def _same_address(reported: str | None, address: str) -> bool:
    return reported is not None and canonical_address(reported) == canonical_address(address)


@functools.lru_cache(maxsize=65536)  # each address is asked for by every session and status row naming it
def canonical_address(text: str) -> str:
    """An address as the inventory writes it: 'fe80::1%eth0' (BIRD, GoBGP) -> 'fe80::1',
    'FD00:0::1' -> 'fd00::1'; anything else as it is."""
    try:
        return str(ip_address(text.split("%", 1)[0]))
    except ValueError:
        return text


def is_appliance(speaker: str) -> bool:
    """A router whose login is its vendor's CLI (RouterOS, FortiGate, Huawei VRP), not a shell."""
    driver = driver_for(speaker)
    return driver is not None and driver.appliance


def agent_for(speaker: str) -> CniAgent | None:
    """The Kubernetes agent of a speaker kind; None for a daemon no agent runs (or "none")."""
    driver = driver_for(speaker)
    return driver.agent if driver is not None else None


def takes_fix(syntaxes: tuple[str, ...], platform: str, offered: Collection[str]) -> bool:
    """Whether a daemon whose driver's `fix_syntaxes` are `syntaxes` takes a fix written for
    `platform`, among the platforms `offered` for it: one of its syntaxes, and none closer to its own
    is offered. A live run (engine/run.py) and lint (lint/__init__.py) both ask this.
    Example: takes_fix(("bird1", "bird2"), "bird2", {"bird2"}) -> True;
    takes_fix(("bird1", "bird2"), "bird2", {"bird1", "bird2"}) -> False;
    takes_fix(("bird2",), "bird1", {"bird1"}) -> False.
    """
    if platform not in syntaxes:
        return False
    return not any(closer in offered for closer in syntaxes[: syntaxes.index(platform)])


def driver_for(speaker: str) -> Driver | None:
    """The driver of a speaker kind; None for "none" (a host without a BGP daemon)."""
    return _drivers().get(speaker)


@functools.cache
def joined_reads() -> tuple[JoinedRead, ...]:
    """Every driver's JoinedRead: a batch joins and cuts the facts each one knows as its own."""
    return tuple(d.joined_read for d in _drivers().values() if d.joined_read is not None)


@functools.cache  # asked for each host, session and path: thousands of times in a large run
def _drivers() -> dict[str, Driver]:
    from bgpdoctor.drivers.appliance import FORTIGATE, HUAWEI, ROUTEROS
    from bgpdoctor.drivers.bird import BIRD1, BIRD2
    from bgpdoctor.drivers.frr import FRR
    from bgpdoctor.drivers.gobgp import GOBGP

    return {d.speaker: d for d in (BIRD2, BIRD1, GOBGP, FRR, ROUTEROS, FORTIGATE, HUAWEI)}
