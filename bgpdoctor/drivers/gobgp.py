"""GoBGP (`gobgp -j`), and Cilium's embedded GoBGP read through `cilium-dbg bgp peers` in its pod."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bgpdoctor.drivers import NeighborState
from bgpdoctor.drivers.excerpt import gobgp_entry
from bgpdoctor.parsers import gobgp

if TYPE_CHECKING:
    from bgpdoctor.engine.world import World
    from bgpdoctor.inventory_model import Host


@dataclass(frozen=True)
class GobgpDriver:
    speaker: str = "gobgp"
    session_fact: str = "gobgp.neighbors"
    status_fact: str = "gobgp.global"

    def commands(self, host: Host) -> dict[str, str]:
        if host.connect.pod is not None and host.connect.pod.cni != "calico":
            # Cilium's agent embeds GoBGP without the gobgp CLI; its own view is cilium-dbg, read onto
            # the same neighbor facts (bgpdoctor.kube.ciliumdbg, via World.gobgp_neighbors)
            return {"gobgp.neighbors": "cilium-dbg bgp peers -o json"}
        api = ""
        if host.gobgp_api:
            address, _, port = host.gobgp_api.rpartition(":")
            api = f" -u {shlex.quote(address)} -p {shlex.quote(port)}"
        return {
            "gobgp.neighbors": f"gobgp{api} -j neighbor",
            "gobgp.global": f"gobgp{api} -j global",
            "gobgp.rib": f"gobgp{api} -j global rib -a ipv4",
        }

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


GOBGP = GobgpDriver()
