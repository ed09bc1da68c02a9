"""One driver per BGP daemon: the commands that ask it, and its answers read onto one shape.

The engine never branches on the daemon's name: it asks `driver_for(host.speaker)` for the commands
to run (engine/collect.py), for each neighbor's state (engine/sessions.py, report/status.py) and for
the router id. A new daemon (FRR, a vendor router) is one module here and one entry in DRIVERS.

Example: driver_for("bird1").commands(host)["bird.protocols"] -> "birdcl -r show protocols all"
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from ipaddress import ip_address
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bgpdoctor.engine.world import World
    from bgpdoctor.inventory_model import Host, Peer


@dataclass
class NeighborState:
    """One BGP neighbor as its daemon reports it, in the daemon-independent shape.

    `state` is lower case: established, active, connect, idle, opensent, openconfirm, passive,
    down (the protocol is disabled) or admin-down. A field the daemon does not report is None.
    Example: NeighborState(address="192.168.0.81", name="yuuko_k8s", state="active",
    last_error="Socket: Connection refused", local_as=65001, peer_as=65010)
    """

    address: str | None
    name: str | None
    state: str
    last_error: str | None = None
    error_wait: bool = False  # BIRD holds the protocol back after an error before it retries
    local_as: int | None = None  # the AS this end announces (None: the daemon does not print it)
    peer_as: int | None = None  # the AS this end expects from the neighbor
    passive: bool | None = None
    multihop_ttl: int | None = None  # None with multihop_shown: multihop is off
    multihop_shown: bool = False  # the daemon reports multihop even while the session is down
    since: str | None = None  # when the state began, as the daemon prints it
    up_for_s: int | None = None  # seconds in this state, when the daemon's own clock tells
    since_epoch: int | None = None  # when the state began, Unix seconds
    received: int | None = None
    accepted: int | None = None
    advertised: int | None = None
    hold_time_s: int | None = None  # negotiated hold time (None while not established)


class Driver(Protocol):
    @property
    def speaker(self) -> str:
        """The inventory's `speaker` value this driver answers for."""

    @property
    def session_fact(self) -> str:
        """The fact holding the neighbors' states (a daemon that does not answer it is down)."""

    @property
    def status_fact(self) -> str:
        """The fact holding the router id."""

    def commands(self, host: Host) -> dict[str, str]:
        """Every read-only command this daemon is asked on `host`, keyed by fact name."""

    def neighbors(self, world: World, name: str) -> list[NeighborState] | None:
        """Every BGP neighbor the daemon on `name` reports; None when its answer is unknown."""

    def router_id(self, world: World, name: str) -> str | None:
        """The router id the daemon really uses."""

    def excerpt(self, text: str, neighbor: NeighborState) -> str | None:
        """The neighbor's own entry in the session fact's output (None: quote the output whole)."""


def match_neighbor(neighbors: list[NeighborState], peer: Peer) -> NeighborState | None:
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
    return bool(getattr(driver_for(speaker), "appliance", False))


def driver_for(speaker: str) -> Driver | None:
    """The driver of a speaker kind; None for "none" (a host without a BGP daemon)."""
    return _drivers().get(speaker)


@functools.cache  # asked for each host, session and path: thousands of times in a large run
def _drivers() -> dict[str, Driver]:
    from bgpdoctor.drivers.appliance import FORTIGATE, HUAWEI, ROUTEROS
    from bgpdoctor.drivers.bird import BIRD1, BIRD2
    from bgpdoctor.drivers.frr import FRR
    from bgpdoctor.drivers.gobgp import GOBGP

    return {d.speaker: d for d in (BIRD2, BIRD1, GOBGP, FRR, ROUTEROS, FORTIGATE, HUAWEI)}
