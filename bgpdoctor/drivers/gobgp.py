"""GoBGP (`gobgp -j`), and Cilium's embedded GoBGP read through `cilium-dbg bgp peers` in its pod."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bgpdoctor.drivers import CILIUM, BfdReading, DriverBase, NeighborState, raw_output
from bgpdoctor.drivers.excerpt import gobgp_entry
from bgpdoctor.parsers import gobgp

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import World
    from bgpdoctor.inventory_model import Host, Peer


# `"admin_state": 2`: GoBGP holds the neighbor down because its prefix limit was hit (`Idle(PfxCt)`)
PREFIX_LIMIT_STATES = (2, "ADMIN_STATE_PFX_CT", "PFX_CT")
RIB6 = "gobgp.rib6"  # `gobgp -j global rib -a ipv6`


def dig(value: Any, *keys: str) -> Any:
    """value[k1][k2]... or None where a level is missing or not an object (odd JSON stays harmless)."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _entries(text: str) -> list[Any] | None:
    try:
        data: Any = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, list) else [data]


def neighbor_entry(text: str, address: str) -> dict[str, Any] | None:
    """The `gobgp -j neighbor` entry of one neighbor address (its state's or its configuration's)."""
    for n in _entries(text) or []:
        if isinstance(n, dict) and address in (
            dig(n, "state", "neighbor_address"),
            dig(n, "conf", "neighbor_address"),
        ):
            return n
    return None


def limit_hit_of(text: str, address: str) -> tuple[bool, int | None]:
    """(the neighbor is held down by its prefix limit, the family's max_prefixes) in `gobgp -j neighbor`."""
    for n in _entries(text) or []:
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

    def router_id(self, world: World, name: str) -> str | None:
        glob = world.parsed(name, "gobgp.global", gobgp.parse_global)
        return glob.router_id if glob else None

    def bfd(self, world: World, name: str, address: str | None) -> BfdReading:
        return BfdReading()  # GoBGP has no BFD

    def bfd_missing(self, address: str | None, protocol: str | None) -> str:
        return "GoBGP has no BFD"

    def _entry(self, world: World, name: str, address: str) -> dict[str, Any] | None:
        facts = world.facts.get(name)
        result = facts.outputs.get(self.session_fact) if facts else None
        return neighbor_entry(result.stdout, address) if result is not None else None

    def configured_hold_s(self, world: World, name: str, address: str) -> int | None:
        """`timers.config.hold_time`, kept while the session is down."""
        configured = dig(self._entry(world, name, address), "timers", "config", "hold_time")
        return configured if isinstance(configured, int) and configured > 0 else None

    def restarts_seen(self, world: World, name: str, address: str) -> str | None:
        """`messages.received.open` counts OPENs since gobgpd started: 2 means the session came up twice."""
        opens = dig(self._entry(world, name, address), "state", "messages", "received", "open")
        if isinstance(opens, int) and opens > 1:
            return f"GoBGP received {opens} OPENs since it started (the session came up again)"
        return None

    def limit_state(self, world: World, name: str, address: str) -> tuple[bool, int | None]:
        return limit_hit_of(raw_output(world, name, self.session_fact), address)

    def md5_configured(self, world: World, name: str) -> bool | None:
        """GoBGP's (redacted) `conf.auth_password` on any neighbor."""
        result = world.facts[name].outputs.get(self.session_fact)
        try:
            data: Any = json.loads(result.stdout) if result is not None else None
        except ValueError:
            return None
        if isinstance(data, list):
            return any(isinstance(n, dict) and bool(dig(n, "conf", "auth_password")) for n in data)
        return None

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

    def ipv6_sent(self, world: World, name: str, peer: Peer | None, receiver_as: str) -> bool | None:
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
