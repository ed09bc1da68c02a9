"""Root causes the speakers say themselves: a session shut down by an administrator at one end, a
router id no BGP speaker may use, TCP MD5 the kernel cannot do, routes a peer drops as AS-path loops.

Read from the real daemons' outputs (captures/outputs/speaker_state, README there):
- administratively down: BIRD `show protocols all` state `down` without an error of its own
  (`birdc disable`, `disabled;`), FRR `"adminShutDown": true` / `Idle (Admin)`, GoBGP
  `"admin_state": 1` / `Idle(Admin)`; the other end sees NOTIFICATION Cease 6/2 (FRR
  `BGP Notification received: Cease/Administrative Shutdown`, BIRD `Received: Administrative
  shutdown`) and then only `Connection reset by peer` or `Active`;
- router id: BIRD `show status` (`Router ID is 240.0.0.1`), GoBGP `global -j` (`"router_id":
  "0.0.0.0"`), FRR summary `routerId`; BIRD refuses an OPEN with id 0 (`BGP Error: Bad BGP
  identifier`), other routers also one in 224/4 or 240/4 (calico#5146). BIRD 2.0.12, FRR 8.4 and
  GoBGP 3.10 accept 224/4 and 240/4 ids (RFC 6286 asks only for a non-zero one);
- TCP MD5: BIRD logs `Socket error: Kernel does not support TCP MD5 signatures` and keeps the
  protocol down with `Last error: Error: Kernel MD5 auth failed`; Go speakers (MetalLB, Cilium)
  log `setsockopt: protocol not available`; the kernel configuration says CONFIG_TCP_MD5SIG;
- AS-path loop: the sender's BIRD `show route all` (`BGP.as_path: 65002`), GoBGP `global rib` or FRR
  `show bgp ipv4 unicast json` (`"path": "65002"`) holds
  the receiver's AS for a prefix the receiver lacks; BIRD counts the drop as `Import withdraws ...
  ignored`.

Example: a BIRD end with `frr1 BGP --- down` and no last error gives the session facts
admin_shutdown=True, admin_shutdown_end="bird1", admin_shutdown_by="BIRD 2 protocol frr1 is disabled".
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import TYPE_CHECKING, Any

from bgpdoctor.drivers import Driver, NeighborState, driver_for
from bgpdoctor.engine.world import Unknown
from bgpdoctor.parsers import iproute
from bgpdoctor.parsers.kernelconf import parse_kernel_md5
from bgpdoctor.report.model import Evidence

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Session, SessionEnd, World

RESERVED_ROUTER_IDS = (
    (ipaddress.ip_network("0.0.0.0/8"), '0.0.0.0/8 ("this network", not a host address)'),
    (ipaddress.ip_network("224.0.0.0/4"), "224.0.0.0/4 (multicast)"),
    (ipaddress.ip_network("240.0.0.0/4"), "240.0.0.0/4 (reserved)"),
)
ADMIN_SHUTDOWN = "administrative shutdown"  # NOTIFICATION Cease, subcode 2 (RFC 4486)
ROUTER_ID_REFUSED = re.compile(r"(?i)bad bgp identifier|wrong router identifier|bad bgp id\b")
MD5_UNSUPPORTED = re.compile(
    r"(?i)kernel does not support tcp md5|kernel md5 auth failed|setsockopt: protocol not available"
    r"|(md5|tcp_md5sig).*protocol not available|protocol not available.*(md5|tcp_md5sig)"
)


@functools.lru_cache(maxsize=16384)  # a router's id is judged again by each of its sessions
def reserved_range(router_id: str | None) -> str | None:
    """The reserved block a router id falls in, or None for a usable one (or no id at all).

    Example: reserved_range("249.183.186.85") -> "240.0.0.0/4 (reserved)"
    """
    try:
        address = ipaddress.IPv4Address(router_id or "")
    except ValueError:
        return None
    return next((label for net, label in RESERVED_ROUTER_IDS if address in net), None)


def _excerpt(world: World, host: str, fact: str, lines: list[str], note: str) -> Evidence | None:
    raw = world.evidence(host, fact)
    if raw is None or not lines:
        return None
    return Evidence(host=host, command=raw.command, output="\n".join(lines), note=f"excerpt: {note}")


def _driver(world: World, name: str) -> Driver | None:
    return driver_for(world.inv.hosts[name].speaker)


def _daemon(world: World, name: str, unnamed: str | None = None) -> str:
    """The daemon's name in sentences, e.g. "BIRD 2"; a vendor router is named by its speaker key
    (or `unnamed`) in these facts."""
    speaker = world.inv.hosts[name].speaker
    driver = driver_for(speaker)
    if driver is None or driver.appliance:
        return unnamed or speaker
    return driver.daemon


def _neighbors(world: World, name: str) -> list[NeighborState] | None:
    return world.neighbors(name) if _driver(world, name) is not None else None


# -- a session shut down by an administrator ------------------------------------------------------


def _shut_here(world: World, end: SessionEnd) -> str | None:
    """How this end's own state says it is administratively down, or None."""
    driver = _driver(world, end.host)
    daemon = _daemon(world, end.host)
    neighbor = str(end.peer.address) if end.peer else "?"
    last_error = _last_error(end)
    error = (last_error or "").lower()
    if end.state == "admin-down":
        return f"{daemon} neighbor {neighbor} is administratively shut down"
    if driver is not None and driver.disabled(end.state, last_error):
        name = end.peer.name if end.peer and end.peer.name else neighbor
        return f"{daemon} protocol {name} is disabled"
    if ADMIN_SHUTDOWN in error and "send" in error:
        return f"{daemon} sent NOTIFICATION Cease/Administrative Shutdown (6/2) to {neighbor}"
    return None


def _last_error(end: SessionEnd) -> str | None:
    return end.observed.last_error if end.observed is not None else None


def _told_there(end: SessionEnd) -> bool:
    """This end received NOTIFICATION 6/2: the other end was shut down."""
    error = (_last_error(end) or "").lower()
    return ADMIN_SHUTDOWN in error and "send" not in error


def admin_shutdown_facts(world: World, s: Subject, session: Session) -> None:
    """admin_shutdown and, when one end is shut down, which end, how, and what the other end sees."""
    ends = session.ends
    for end in ends:
        how = _shut_here(world, end)
        if how is not None:
            _shut(world, s, end, next((e for e in ends if e is not end), None), how, end.evidence)
            return
    for end in ends:
        if _told_there(end):
            other = next((e for e in ends if e is not end), None)
            if other is None:
                # the peer outside the inventory (a provider's router) shut the neighbor down
                peer = str(end.peer.address) if end.peer else "the peer"
                s.add("admin_shutdown", True, *end.evidence)
                s.add("admin_shutdown_end", peer)
                s.add("admin_shutdown_by", f"{peer} sent NOTIFICATION Cease/Administrative Shutdown (6/2)")
                s.add("admin_shutdown_daemon", "the peer")
                s.add("admin_shutdown_seen_by", end.host)
                s.add("admin_shutdown_symptom", f"{end.host}: {end.state} (last error: {_last_error(end)})")
                return
            how = f"{end.host} received NOTIFICATION Cease/Administrative Shutdown (6/2) from it"
            _shut(world, s, other, end, how, end.evidence)
            return
    unknown = next((e for e in ends if e.state in (None, "unknown")), None)
    if unknown is None:
        s.add("admin_shutdown", False)
        return
    driver = _driver(world, unknown.host)
    s.unknown("admin_shutdown", world.command_problem(unknown.host, driver.session_fact) if driver else None)


def _shut(
    world: World, s: Subject, end: SessionEnd, other: SessionEnd | None, how: str, evidence: list[Evidence]
) -> None:
    s.add("admin_shutdown", True, *evidence, *(other.evidence if other else []))
    s.add("admin_shutdown_end", end.host)
    s.add("admin_shutdown_by", how)
    s.add("admin_shutdown_daemon", _daemon(world, end.host))
    if end.peer is not None:
        s.add("admin_shutdown_neighbor", str(end.peer.address))
        s.add("admin_shutdown_protocol", end.peer.name or "")
    if end.local_as:
        s.add("admin_shutdown_asn", end.local_as)
    if other is not None:
        s.add("admin_shutdown_seen_by", other.host)
        error = f" (last error: {_last_error(other)})" if _last_error(other) else ""
        s.add("admin_shutdown_symptom", f"{other.host}: {other.state or 'unknown'}{error}")


# -- a router id no speaker may use ---------------------------------------------------------------


def _refusals(world: World, name: str, own: list[NeighborState]) -> list[str]:
    """Last errors that say a peer refused this host's BGP identifier: the NOTIFICATION this host
    received, or the error its inventory peers give for it."""

    def refused(error: str | None, received: bool) -> bool:
        return (
            bool(ROUTER_ID_REFUSED.search(error or "")) and ("received" in (error or "").lower()) == received
        )

    found = [f"{name}: {n.last_error}" for n in own if refused(n.last_error, True)]
    mine = {str(a) for a in world.inv.hosts[name].addresses}
    for other, host in world.inv.hosts.items():
        if other == name or other not in world.facts or not any(p.host == name for p in host.peers):
            continue
        for n in _neighbors(world, other) or []:
            towards_me = n.address in mine or any(
                p.host == name and (str(p.address) == n.address or (p.name and p.name == n.name))
                for p in host.peers
            )
            if towards_me and refused(n.last_error, False):
                found.append(f"{other}: {n.last_error}")
    return found


def _usable_router_id(world: World, name: str) -> str | None:
    host = world.inv.hosts[name]
    candidates = [str(c) for c in (host.router_id, host.internal_ip, *host.addresses) if c is not None]
    candidates += [a.address for a in world.addresses(name) if a.family == "inet"]
    for c in candidates:
        try:
            address = ipaddress.ip_address(c)
        except ValueError:
            continue
        if address.version == 4 and reserved_range(str(address)) is None and not address.is_loopback:
            return str(address)
    return None


def router_id_facts(world: World, s: Subject, name: str) -> None:
    """router_id_invalid, with the range, who refused it and the sessions that are down."""
    host = world.inv.hosts[name]
    driver = driver_for(host.speaker)
    if driver is None:
        return
    router_id = driver.router_id(world, name)
    if router_id is None and not world.collected(name, driver.status_fact):
        return  # never asked (Cilium's agent is read through cilium-dbg, which does not print it)
    if router_id is None:
        why = world.command_problem(name, driver.status_fact) or Unknown(
            "not-collected", f"{name}: the router id is not in `{driver.status_fact}`"
        )
        s.unknown("router_id_invalid", why)
        return
    reserved = reserved_range(router_id)
    s.add("router_id_invalid", reserved is not None, world.evidence(name, driver.status_fact))
    s.add("router_id_in_use", router_id)
    if reserved is None:
        return
    s.add("router_id_range", reserved)
    s.add("router_id_daemon", _daemon(world, name))
    own = _neighbors(world, name) or []
    refused = _refusals(world, name, own)
    s.add("router_id_refused", bool(refused))
    if refused:
        s.add("router_id_refusals", "; ".join(refused))
    s.add("router_id_sessions_down", [n.address or n.name or "?" for n in own if n.state != "established"])
    usable = _usable_router_id(world, name)
    if usable is not None:
        s.add("router_id_suggested", usable)
    if host.asn is not None:
        s.add("router_id_asn", host.asn)


# -- TCP MD5 the kernel cannot do -------------------------------------------------------------------


def _md5_configured(world: World, name: str) -> bool | None:
    """A TCP MD5 password on any neighbor: the inventory's `md5`, or the daemon's own (GoBGP's redacted
    auth_password); None when the daemon's answer cannot be read."""
    host = world.inv.hosts[name]
    if any(p.md5 is not None for p in host.peers):
        return True
    driver = _driver(world, name)
    return driver.md5_configured(world, name) if driver is not None else False


def md5_kernel_facts(world: World, s: Subject, name: str) -> None:
    """md5_kernel_unsupported: the speaker says the kernel refused TCP MD5, or the kernel lacks it
    while a password is configured."""
    driver = _driver(world, name)
    if driver is None:
        return
    said = [
        f"{n.name or n.address}: {n.last_error}"
        for n in _neighbors(world, name) or []
        if MD5_UNSUPPORTED.search(n.last_error or "")
    ]
    log = world.facts[name].outputs.get("speaker.log")
    logged = [ln.strip() for ln in (log.stdout if log else "").splitlines() if MD5_UNSUPPORTED.search(ln)]
    kernel = world.parsed(name, "kernel.md5sig", parse_kernel_md5)
    if kernel is not None and kernel.source is not None:
        line = kernel.line or "CONFIG_TCP_MD5SIG absent"
        s.add("md5_kernel_config", f"{line} ({kernel.source}, kernel {kernel.release or '?'})")
    if said or logged:
        s.add(
            "md5_kernel_unsupported",
            True,
            _excerpt(world, name, driver.session_fact, said, "the daemon's state"),
            _excerpt(world, name, "speaker.log", logged[-5:], "the daemon's log"),
            world.evidence(name, "kernel.md5sig"),
        )
        s.add("md5_kernel_said", (said + logged)[-1])
        s.add("md5_kernel_daemon", _daemon(world, name, "the speaker"))
        return
    configured = _md5_configured(world, name)
    if kernel is not None and kernel.enabled is True:
        s.add("md5_kernel_unsupported", False, world.evidence(name, "kernel.md5sig"))
    elif driver.shows_md5_refusal and _neighbors(world, name) is not None:
        # BIRD keeps a protocol whose password the kernel refused down with that error: none is
        s.add("md5_kernel_unsupported", False, world.evidence(name, driver.session_fact))
    elif kernel is not None and kernel.enabled is False and configured is not None:
        s.add("md5_kernel_unsupported", configured, world.evidence(name, "kernel.md5sig"))
        if configured:
            s.add("md5_kernel_said", f"{kernel.line or 'no CONFIG_TCP_MD5SIG'} in {kernel.source}")
            s.add("md5_kernel_daemon", _daemon(world, name, "the speaker"))
    elif configured is False:
        s.add("md5_kernel_unsupported", False)
    else:
        why = world.command_problem(name, "kernel.md5sig")
        if why is None and kernel is not None and kernel.enabled is None:
            why = Unknown(
                "not-collected",
                f"{name}: neither /proc/config.gz nor /boot/config-{kernel.release or 'RELEASE'} is readable",
            )
        s.unknown("md5_kernel_unsupported", why, world.evidence(name, "kernel.md5sig"))


# -- routes a peer drops as AS-path loops ---------------------------------------------------------------


def _sender_paths(
    world: World, sender: SessionEnd, receiver_address: str | None
) -> list[tuple[str, str]] | None:
    """(prefix, AS path) of the best BGP paths `sender` holds, except those learned from the receiver;
    None when its daemon's table is not read (FRR's `show bgp ipv4 unicast json`: not in older
    recordings)."""
    driver = _driver(world, sender.host)
    if driver is None:
        return None
    from_receiver = sender.peer.name if sender.peer and sender.peer.name else None
    return driver.best_paths(world, sender.host, from_receiver, receiver_address)


def _receiver_prefixes(world: World, receiver: SessionEnd) -> set[str] | None:
    """Every prefix the receiving end holds: its daemon's table and the kernel FIB, or None unread."""
    return world.memo(("receiver_prefixes", receiver.host), lambda: _held_prefixes(world, receiver))


def _held_prefixes(world: World, receiver: SessionEnd) -> set[str] | None:
    driver = _driver(world, receiver.host)
    found: set[str] | None = None
    tables: list[list[str] | None] = [
        [r.dst for r in routes]
        if (routes := world.parsed(receiver.host, "ip.route", iproute.parse_routes)) is not None
        else None,
        driver.table_prefixes(world, receiver.host) if driver is not None else None,
    ]
    for table in tables:
        if table is not None:
            found = (found or set()) | set(table)
    return found


def _covered(world: World, host: str, prefix: str) -> bool:
    """Does a usable route of the host's kernel cover the prefix's first address?"""
    try:
        first = str(ipaddress.ip_network(prefix, strict=False).network_address)
    except ValueError:
        return False
    route = world.lookup(host, first)
    return route is not None and route.type not in ("unreachable", "blackhole", "prohibit")


def as_path_loop_facts(world: World, s: Subject, session: Session) -> None:
    """as_path_loop: an eBGP peer sends routes whose AS path holds the receiver's own AS (same-AS
    nodes behind a ToR without as-override / allowas-in); the receiver drops them as loops and lacks
    the prefix. Judged only on Established sessions whose sender's table shows AS paths, towards a
    receiver that installs what it learns (BIRD, FRR)."""
    if session.b is None or not all(e.state == "established" for e in session.ends):
        return
    judged = False
    unread: Unknown | None = None
    for sender, receiver in ((session.a, session.b), (session.b, session.a)):
        receiver_as = receiver.local_as
        sender_as = sender.local_as
        if receiver_as is None or sender_as is None or receiver_as == sender_as:
            continue
        receiver_driver = _driver(world, receiver.host)
        if receiver_driver is not None and not receiver_driver.installs_routes:
            continue  # a speaker that never installs what it receives misses no route it drops as a loop
        receiver_address = str(sender.peer.address) if sender.peer else None
        paths = _sender_paths(world, sender, receiver_address)
        held = _receiver_prefixes(world, receiver)
        sender_driver = _driver(world, sender.host)
        table = sender_driver.rib_fact if sender_driver is not None else None
        if paths is None and table is not None and world.collected(sender.host, table):
            unread = unread or world.command_problem(sender.host, table)  # asked, not readable
        if paths is None or held is None or table is None:
            continue
        judged = True
        looped = sorted({(prefix, path) for prefix, path in paths if str(receiver_as) in path.split()})
        # a prefix another route of the receiver covers (its default route to the router) is reached
        # anyway: dropping the looped copy is harmless, as on every healthy same-AS site
        missing = [
            (prefix, path)
            for prefix, path in looped
            if prefix not in held and not _covered(world, receiver.host, prefix)
        ]
        if not missing:
            continue
        lines = [f"{prefix}: AS path {path}" for prefix, path in missing]
        withdraws = (
            receiver_driver.ignored_withdraws(world, receiver.host, receiver.peer)
            if receiver_driver is not None
            else None
        )
        s.add(
            "as_path_loop",
            True,
            _excerpt(world, sender.host, table, lines, f"paths holding AS {receiver_as}"),
            *receiver.evidence,
        )
        s.add("as_path_loop_end", receiver.host)
        s.add("as_path_loop_asn", receiver_as)
        s.add("as_path_loop_sender", sender.host)
        s.add("as_path_loop_sender_asn", sender_as)
        s.add("as_path_loop_prefixes", [prefix for prefix, _path in missing])
        s.add("as_path_loop_paths", "; ".join(lines))
        if receiver.peer is not None:
            s.add("as_path_loop_protocol", receiver.peer.name or "")
            s.add("as_path_loop_peer_address", str(receiver.peer.address))
        if receiver_address is not None:
            s.add("as_path_loop_sender_neighbor", receiver_address)
        if withdraws is not None:
            s.add("as_path_loop_withdraws", withdraws)
        return
    if unread is not None:
        s.unknown("as_path_loop", unread)  # one direction could not be judged: not "no loop"
    elif judged:
        s.add("as_path_loop", False)


# -- received routes the speaker never installs --------------------------------------------------------

NOT_A_NEIGHBOR = (None, "", "<nil>", "0.0.0.0", "::")
GOBGP_DESIGN = "GoBGP (Cilium's agent, MetalLB, a bare gobgpd) never installs received routes in the kernel"


def learned_routes_facts(world: World, s: Subject, name: str) -> None:
    """Prefixes a speaker that never installs what it receives (GoBGP) received that the kernel FIB
    does not carry, and which of them the FIB does not reach another way (a default route through
    the router is the design's answer)."""
    driver = _driver(world, name)
    if driver is None or driver.installs_routes or driver.rib_fact is None:
        return
    rib_fact = driver.rib_fact
    paths = driver.received_paths(world, name)
    routes = world.parsed(name, "ip.route", iproute.parse_routes)
    if paths is None or routes is None:
        fact = rib_fact if paths is None else "ip.route"
        if world.collected(name, fact):
            s.unknown("learned_routes_unreachable", world.command_problem(name, fact))
            s.unknown("learned_defaults_not_installed", world.command_problem(name, fact))
        return  # Cilium's agent is read through cilium-dbg, which shows no RIB: not asked
    fib = {r.dst for r in routes}
    learned = sorted(
        {
            (p.prefix, p.next_hop or "")
            for p in paths
            if p.best and p.neighbor_ip not in NOT_A_NEIGHBOR and ":" not in p.prefix and p.prefix not in fib
        }
    )
    s.add(
        "learned_routes_not_installed",
        [prefix for prefix, _hop in learned],
        world.evidence(name, rib_fact),
    )
    unreachable: list[tuple[str, str]] = []
    via: set[str] = set()
    for prefix, next_hop in learned:
        network = ipaddress.ip_network(prefix, strict=False)
        probe = network.network_address + (1 if network.num_addresses > 2 else 0)
        route = world.lookup(name, str(probe))
        if route is None or route.type in ("unreachable", "blackhole", "prohibit"):
            unreachable.append((prefix, next_hop))
        else:
            via.add(f"{route.dst} via {route.gateway or route.dev}")
    s.add(
        "learned_routes_unreachable",
        [prefix for prefix, _hop in unreachable],
        world.evidence(name, "ip.route"),
    )
    s.add("learned_routes_design", GOBGP_DESIGN)
    if via:
        s.add("learned_routes_via", ", ".join(sorted(via)))
    if unreachable:
        s.add("learned_routes_next_hop", unreachable[0][1])
    _second_defaults(world, s, name, rib_fact, paths, routes)


DEFAULTS = ("0.0.0.0/0", "::/0")


def _second_defaults(
    world: World, s: Subject, name: str, rib_fact: str, paths: list[Any], routes: list[iproute.Route]
) -> None:
    """learned_defaults_not_installed: a node dual-homed over BGP receives a default route from two
    or more neighbors, and the kernel's default uses fewer of their next hops (kube-router#901):
    the first default reaches everything, so nothing looks unreachable, but the second uplink is
    never used and losing the first one cuts the node off. A single default whose next hop is the
    kernel's is the design (the node reaches its router), not a finding."""
    received: dict[str, set[str]] = {}
    for p in paths:
        if p.prefix == "0.0.0.0/0" and p.neighbor_ip not in NOT_A_NEIGHBOR and p.next_hop:
            received.setdefault(str(p.neighbor_ip), set()).add(p.next_hop)
    if len(received) < 2:
        s.add("learned_defaults_not_installed", [])
        return
    kernel = [r for r in routes if r.dst == "0.0.0.0/0" and r.table == "main"]
    installed = {g for r in kernel for g in [r.gateway, *(hop for hop, _dev in r.nexthops)] if g}
    missing = sorted(
        f"0.0.0.0/0 via {hop} (from {neighbor})"
        for neighbor, hops in received.items()
        for hop in hops
        if hop not in installed
    )
    s.add(
        "learned_defaults_not_installed",
        missing,
        world.evidence(name, rib_fact, "the default routes received from each neighbor"),
        world.evidence(name, "ip.route", "the kernel's default route"),
    )
    if missing:
        s.add("learned_defaults_kernel", ", ".join(sorted(installed)) or "none")
        s.add("learned_defaults_next_hops", sorted({hop for hops in received.values() for hop in hops}))


# -- a vendor router that installs one of several BGP paths --------------------------------------------

ROUTER_SINGLE_PATH = {
    "RouterOS": (
        "RouterOS v7 installs one best BGP path per prefix and shows the others without the A "
        "(active) flag; its BGP does not do multipath"
    ),
}


def router_ecmp_facts(world: World, s: Subject, name: str) -> None:
    """ecmp_single_path on a vendor router whose BGP routes are read (RouterOS `/ip/route print
    detail where bgp`): prefixes learned from several next hops at the same distance of which fewer
    are active (installed) than were received, i.e. one node of several takes all the traffic."""
    from bgpdoctor.drivers.appliance import ApplianceDriver

    driver = driver_for(world.inv.hosts[name].speaker)
    if not isinstance(driver, ApplianceDriver) or driver.route_fact is None:
        return
    if not world.collected(name, driver.route_fact):
        return  # a recording made before the router's routes were read
    routes = driver.bgp_routes(world, name)
    if routes is None:
        s.unknown("ecmp_single_path", world.command_problem(name, driver.route_fact))
        return
    by_prefix: dict[str, list[Any]] = {}
    for r in routes:
        if r.next_hop:
            by_prefix.setdefault(r.prefix, []).append(r)
    single: list[str] = []
    shown: list[str] = []
    for prefix, paths in sorted(by_prefix.items()):
        active = [r for r in paths if r.installed]
        if not active:
            continue  # no path installed at all is not a multipath question
        distance = active[0].distance
        equal = sorted({str(r.next_hop) for r in paths if r.distance == distance})
        installed = sorted({str(r.next_hop) for r in active})
        if len(equal) >= 2 and len(installed) < len(equal):
            single.append(prefix)
            shown.append(f"{prefix}: {', '.join(equal)} (installed: {', '.join(installed)})")
    s.add(
        "ecmp_single_path",
        single,
        world.evidence(name, driver.route_fact, "every BGP path the router holds; A = active (installed)"),
    )
    s.add("ecmp_daemon", driver.daemon)
    if shown:
        s.add("ecmp_paths", "; ".join(shown))
        design = ROUTER_SINGLE_PATH.get(driver.daemon)
        if design is not None:
            s.add("ecmp_design", design)


def host_facts(world: World, s: Subject, name: str) -> None:
    """Every host fact of this module (a host with a BGP speaker)."""
    with s.deriving("ecmp_single_path"):
        router_ecmp_facts(world, s, name)
    with s.deriving("router_id_invalid"):
        router_id_facts(world, s, name)
    with s.deriving("md5_kernel_unsupported"):
        md5_kernel_facts(world, s, name)
    with s.deriving("learned_routes_unreachable", "learned_defaults_not_installed"):
        learned_routes_facts(world, s, name)


def session_facts(world: World, s: Subject, session: Session) -> None:
    """Every session fact of this module."""
    with s.deriving("admin_shutdown"):
        admin_shutdown_facts(world, s, session)
    with s.deriving("as_path_loop"):
        as_path_loop_facts(world, s, session)
