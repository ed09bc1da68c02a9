"""Cilium's datapath dropping BGP between its agent and a speaker on the same host (cilium#30121).

Cilium's BGP control plane peering with a BIRD on the node over loopback (`::1`, 127.0.0.1) works
until `lo` gets a second address; from then on the datapath drops the session's packets as
`Invalid packet` (the open bug), and the session never comes up although both daemons are
configured right. The drops are only visible in Cilium's own monitor, read here for a few seconds
(`cilium-dbg monitor --type drop`) on hosts with a BGP peer on a loopback address.

Pure code over World; `host_facts` adds to a host subject: cni_drops_local_bgp (bool; unknown when
the monitor could not be read; absent where it was not run or cilium-dbg is not installed),
cni_drop_reason, cni_drop_flow, cni_drop_count and cni_lo_extra_addresses.
Example: cni_drops_local_bgp=True, cni_drop_reason="Invalid packet",
cni_drop_flow="[::1]:39677 -> [::1]:179 tcp SYN", cni_drop_count=3, cni_lo_extra_addresses=["10.9.0.1/32"].
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from bgpdoctor.parsers import ciliummonitor

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import World
    from bgpdoctor.inventory_model import Host

CILIUM_DROPS = "cilium.drops"
# the monitor streams until stopped: a few seconds of drops, then a clean exit
MONITOR_COMMAND = (
    "command -v cilium-dbg >/dev/null 2>&1 || exit 0; "
    "timeout -s INT 4 cilium-dbg monitor --type drop; s=$?; [ $s -eq 124 ] && exit 0; exit $s"
)


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def commands(host: Host) -> dict[str, str]:
    """The monitor, on hosts that peer over a loopback address (other hosts never see this drop)."""
    if any(_loopback(str(p.address)) for p in host.peers):
        return {CILIUM_DROPS: MONITOR_COMMAND}
    return {}


def host_facts(world: World, s: Subject, name: str) -> None:
    if not world.collected(name, CILIUM_DROPS):
        return
    drops = world.parsed(name, CILIUM_DROPS, ciliummonitor.parse_drops)
    if drops is None:
        s.unknown("cni_drops_local_bgp", world.command_problem(name, CILIUM_DROPS))
        return
    if not world.facts[name].outputs[CILIUM_DROPS].stdout.strip():
        return  # no cilium-dbg on this host: nothing to say
    own = {a.address for a in world.addresses(name)}
    bgp = [
        d
        for d in drops
        if 179 in (d.sport, d.dport) and any(_loopback(a) or a in own for a in (d.src, d.dst))
    ]
    s.add("cni_drops_local_bgp", bool(bgp), world.evidence(name, CILIUM_DROPS, "Cilium's datapath drops"))
    if bgp:
        first = bgp[0]
        s.add("cni_drop_reason", first.reason)
        sport = f":{first.sport}" if first.sport is not None else ""
        dport = f":{first.dport}" if first.dport is not None else ""
        v6 = ":" in first.src
        src = f"[{first.src}]{sport}" if v6 and sport else f"{first.src}{sport}"
        dst = f"[{first.dst}]{dport}" if v6 and dport else f"{first.dst}{dport}"
        s.add("cni_drop_flow", f"{src} -> {dst} {first.summary}".strip())
        s.add("cni_drop_count", len(bgp))
        if world.collected(name, "ip.addr") and world.command_problem(name, "ip.addr") is None:
            extra = [
                f"{a.address}/{a.prefixlen}"
                for a in world.addresses(name)
                if a.ifname == "lo" and not _loopback(a.address)
            ]
            s.add("cni_lo_extra_addresses", extra, world.evidence(name, "ip.addr"))
