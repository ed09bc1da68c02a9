"""Is the session really alive, and can it stay up: BFD at one end only, a TCP connection that no
longer gets answers while BGP still says Established, a session that keeps resetting, GTSM (TTL 255)
required by one end while the other sends TTL 1, a session whose peer address is reached through a
route learned over that same session.

Read from the real daemons' outputs (captures/outputs/liveness, README there):
- BFD: BIRD `show bfd sessions` (a session per neighbor that has `bfd on`, or `There is no BFD
  protocol running`), FRR `peerBfdInfo` in `show bgp neighbors json` (only with `neighbor X bfd`);
  GoBGP has no BFD. BIRD 2.0.12 and FRR 8.4 keep the BGP session up while their BFD session is
  Down; a router that ties BGP to BFD (RouterOS, strict mode) keeps it down (cilium#45435);
- stale: `ss -Htni` on port 179, an Established socket whose retransmission timer has backed off
  (`backoff:5 ... unacked:1 retrans:1/6`) while the daemon still shows Established (metallb#777);
- resets: FRR `connectionsDropped` and `lastResetDueTo` (metallb PR#2454);
- GTSM: the kernel's TcpExt TCPMinTTLDrop (/proc/net/netstat) counts segments dropped below the
  minimum TTL a socket asked for (BIRD `ttl security on`, FRR `ttl-security hops 1`), and the SYN
  capture shows the TTL the peer sends (metallb#3038);
- recursive: the kernel's route to the peer address is a BGP route BIRD learned over that same session
  (`show route all`: `[frr1 ... from 10.213.61.1]`), so the session carries the route it depends on
  (edgecomllc/eupf#404).

Example: BIRD with `bfd on` towards FRR without `neighbor ... bfd` gives bfd_one_sided=True,
bfd_end="bird1", bfd_other="frr1".
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from bgpdoctor.drivers import Driver, driver_for
from bgpdoctor.engine.world import Unknown
from bgpdoctor.parsers.liveness import parse_tcp_info
from bgpdoctor.parsers.netstat import parse_proc_netstat
from bgpdoctor.report.model import Evidence

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Session, SessionEnd, World

TCP_INFO_FACT = "ss.bgp_tcp"
# two retransmission timeouts in a row without an answer: the peer is gone, not slow
STALE_BACKOFF = 2
FLAP_DROPS = 3  # FRR's connectionsDropped from this many on, while the current state is young
FLAP_RECENT_S = 600
MIN_TTL_DROPS = "TcpExtTCPMinTTLDrop"
BGP_ROUTE_PROTOCOLS = ("bird", "bgp")
NOT_ASKED = Unknown("not-collected", "BFD was not read from this end")


def _driver(world: World, host: str) -> Driver | None:
    return driver_for(world.inv.hosts[host].speaker)


def _daemon(world: World, host: str) -> str:
    driver = _driver(world, host)
    return driver.daemon if driver is not None else world.inv.hosts[host].speaker


def _peer(end: SessionEnd) -> str | None:
    return str(end.peer.address) if end.peer is not None else None


def _excerpt(world: World, host: str, fact: str, lines: list[str], note: str) -> Evidence | None:
    raw = world.evidence(host, fact)
    if raw is None or not lines:
        return None
    return Evidence(host=host, command=raw.command, output="\n".join(lines), note=f"excerpt: {note}")


# -- BFD at one end only ------------------------------------------------------------------------------


def _bfd(world: World, end: SessionEnd) -> tuple[str | None, Unknown | None]:
    """This end's BFD session towards its peer: ("up"/"down"/"init"/..., None), (None, None) when it
    runs no BFD for it, (None, why) when that cannot be read."""
    driver = _driver(world, end.host)
    if driver is None:
        return None, NOT_ASKED
    reading = driver.bfd(world, end.host, _peer(end))
    if not reading.asked:
        return None, NOT_ASKED  # not read from this daemon (Cilium's agent, a vendor router), or not yet
    if reading.unread is not None:
        why = world.command_problem(end.host, reading.unread)
        if why is None and reading.detail is not None:
            why = Unknown("parse-error", reading.detail)
        return None, why
    return reading.state, None


def _bfd_how(world: World, end: SessionEnd, state: str) -> str:
    driver = _driver(world, end.host)
    if driver is None:
        return f"{end.host} runs a BFD session to {_peer(end)}, state {state}"
    return driver.bfd_expects(_peer(end), state)


def _bfd_missing(world: World, end: SessionEnd) -> str:
    driver = _driver(world, end.host)
    if driver is None:
        return f"{end.host} runs no BFD session to {_peer(end)}"
    return driver.bfd_missing(_peer(end), end.peer.name if end.peer else None)


def bfd_facts(world: World, s: Subject, session: Session) -> None:
    """bfd_one_sided: one end runs BFD towards the other, which does not (or, outside the inventory,
    never answers it)."""
    seen = [(end, *_bfd(world, end)) for end in session.ends]
    expecting = [(end, state) for end, state, _why in seen if state is not None]
    if not expecting:
        if any(why is NOT_ASKED for _end, _state, why in seen):
            return  # nothing says BFD runs, and one end was not asked: not judged
        unknown = next((why for _end, _state, why in seen if why is not None), None)
        if unknown is not None:
            s.unknown("bfd_one_sided", unknown)
        else:
            s.add("bfd_one_sided", False)
        return
    if len(expecting) == len(session.ends) and session.b is not None:
        s.add("bfd_one_sided", False, *_bfd_evidence(world, session.ends))
        s.add("bfd_state", ", ".join(f"{e.host}: {state}" for e, state in expecting))
        return
    end, state = expecting[0]
    others = [(e, why) for e, _state, why in seen if e is not end]
    if others and others[0][1] is not None:
        s.unknown("bfd_one_sided", others[0][1])
        return
    if not others and state == "up":
        s.add("bfd_one_sided", False, *_bfd_evidence(world, [end]))
        return
    if not others and end.state != "established":
        return  # BFD down with BGP down too says nothing of the peer outside the inventory
    s.add("bfd_one_sided", True, *_bfd_evidence(world, session.ends))
    s.add("bfd_end", end.host)
    s.add("bfd_state", state)
    s.add("bfd_expects", _bfd_how(world, end, state))
    if end.peer is not None:
        s.add("bfd_neighbor", str(end.peer.address))
        s.add("bfd_protocol", end.peer.name or "")
    if others:
        other = others[0][0]
        s.add("bfd_other", other.host)
        s.add("bfd_missing", _bfd_missing(world, other))
        s.add("bfd_other_daemon", world.inv.hosts[other.host].speaker)
        if other.peer is not None:
            s.add("bfd_other_neighbor", str(other.peer.address))
            s.add("bfd_other_protocol", other.peer.name or "")
        asn = other.local_as
        if asn:
            s.add("bfd_other_asn", asn)
    else:
        s.add("bfd_other", _peer(end) or "the peer")
        s.add("bfd_missing", f"{_peer(end)} never answers BFD (BFD {state} while BGP is Established)")
    asn = end.local_as
    if asn:
        s.add("bfd_asn", asn)
    other_end = others[0][0] if others else None
    other_driver = _driver(world, other_end.host) if other_end is not None else None
    if other_end is not None and (other_driver is None or other_driver.runs_bfd):
        _fix(s, world, other_end, "on")  # the end that can run BFD too
    else:
        _fix(s, world, end, "off")  # GoBGP or an outside peer never answers BFD
    _problem(s, end.host, f"{end.host} expects BFD ({s.facts['bfd_expects']}) but {s.facts['bfd_missing']}")


def _bfd_evidence(world: World, ends: list[SessionEnd]) -> list[Evidence | None]:
    out: list[Evidence | None] = []
    for end in ends:
        driver = _driver(world, end.host)
        if driver is not None and driver.bfd_fact is not None:
            out.append(world.evidence(end.host, driver.bfd_fact))
    return out


def session_rtt_ms(world: World, host: str, local: str, peer: str) -> float | None:
    """The round trip `host`'s kernel measured on its BGP connection from `local` to `peer` (the
    smoothed RTT of `ss -ti`); None when it was not read, not parsed, there is no such connection
    or it is retransmitting (its RTT is stale). Example: 2.186"""
    if not world.collected(host, TCP_INFO_FACT):
        return None
    sockets = world.parsed(host, TCP_INFO_FACT, parse_tcp_info) or []
    for t in sockets:
        if (
            t.state == "ESTAB"
            and t.peer == peer
            and t.local == local
            and 179 in (t.local_port, t.peer_port)
            and t.backoff == 0
            and t.rtt_ms
        ):
            return t.rtt_ms
    return None


# -- a stale TCP connection under an Established session ---------------------------------------------


def stale_facts(world: World, s: Subject, session: Session) -> None:
    """session_stale: an end shows the session Established while the kernel has stopped getting
    answers on its TCP connection (the retransmission timer backed off)."""
    judged = False
    for end in session.ends:
        address = _peer(end)
        if end.state != "established" or address is None or end.host not in world.facts:
            continue
        if not world.collected(end.host, TCP_INFO_FACT):
            continue
        sockets = world.parsed(end.host, TCP_INFO_FACT, parse_tcp_info)
        if sockets is None:
            s.unknown("session_stale", world.command_problem(end.host, TCP_INFO_FACT))
            return
        judged = True
        ours = [
            t
            for t in sockets
            if t.state == "ESTAB" and t.peer == address and 179 in (t.local_port, t.peer_port)
        ]
        stale = [t for t in ours if t.backoff >= STALE_BACKOFF]
        if not stale:
            continue
        t = stale[0]
        match = world.neighbor_for(end.host, end.peer) if end.peer is not None else None
        hold = match.hold_time_s if match is not None else None
        waited = f", last ACK {t.last_ack_ms / 1000:.1f} s ago" if t.last_ack_ms is not None else ""
        unacked = f", {t.unacked} segment(s) unacknowledged" if t.unacked else ""
        said = (
            f"{end.host}'s TCP connection {t.local}:{t.local_port} -> {t.peer}:{t.peer_port} gets no answer "
            f"({t.backoff} retransmission timeouts in a row{unacked}{waited}) while "
            f"{_daemon(world, end.host)} still shows the session Established"
        )
        s.add(
            "session_stale",
            True,
            _excerpt(world, end.host, TCP_INFO_FACT, [t.line], "the session's socket"),
            *end.evidence,
        )
        s.add("stale_end", end.host)
        s.add("stale_socket", said)
        if hold is not None:
            s.add("stale_hold_time_s", hold)
        if end.peer is not None:
            s.add("stale_neighbor", address)
            s.add("stale_protocol", end.peer.name or "")
        asn = end.local_as
        if asn:
            s.add("stale_asn", asn)
        _fix(s, world, end, "on")
        until = f"; the hold time of {hold} s ends it only then" if hold is not None else ""
        _problem(s, end.host, said + until)
        return
    if judged:
        s.add("session_stale", False)


# -- a session that keeps resetting -----------------------------------------------------------------


def flap_facts(world: World, s: Subject, session: Session) -> None:
    """session_flapping: the daemon (FRR) counts FLAP_DROPS or more drops of this session and its
    current state is younger than FLAP_RECENT_S."""
    judged = False
    for end in session.ends:
        driver = _driver(world, end.host)
        address = _peer(end)
        if driver is None or address is None:
            continue
        entry = driver.resets(world, end.host, address)
        if entry is None or entry.dropped is None:
            continue
        judged = True
        match = world.neighbor_for(end.host, end.peer) if end.peer is not None else None
        age = match.up_for_s if match is not None else None
        if entry.dropped < FLAP_DROPS or age is None or age >= FLAP_RECENT_S:
            continue
        said = (
            f"{driver.daemon} on {end.host} counts {entry.dropped} drops of the session to "
            f"{entry.address} ({entry.established or 0} established), the last {age} s ago: "
            f"{entry.last_reset or 'no reason given'}"
        )
        s.add("session_flapping", True, world.evidence(end.host, driver.session_fact))
        s.add("flap_end", end.host)
        s.add("flap_count", entry.dropped)
        s.add("flap_reason", entry.last_reset or "")
        s.add("flap_problem", said)
        _reset_by_config(world, s, end, driver, entry.address, said)
        return
    if judged:
        s.add("session_flapping", False)


def _reset_by_config(
    world: World, s: Subject, end: SessionEnd, driver: Driver, address: str, said: str
) -> None:
    """session_reset_by_config: FRR's log (`log commands`) shows settings of this neighbor removed,
    `(config-router)# no neighbor ADDRESS bfd`, as a configuration reload does before it adds them
    back: each removal resets the session (metallb PR#2454, frr-k8s PR#169)."""
    log = world.facts[end.host].outputs.get("speaker.log") if end.host in world.facts else None
    if log is None or not log.ok:
        s.unknown(
            "session_reset_by_config",
            world.command_problem(end.host, "speaker.log")
            or Unknown("not-collected", f"{end.host}: the daemon's log was not read"),
        )
        return
    lines = driver.config_removals(log.stdout, address)
    if not lines:
        s.add("session_reset_by_config", False)
        return
    s.add(
        "session_reset_by_config",
        True,
        _excerpt(
            world, end.host, "speaker.log", lines[-3:], f"configuration commands in {driver.daemon}'s log"
        ),
        world.evidence(end.host, driver.session_fact),
    )
    s.add("flap_config_changes", lines[-3:])
    _fix(s, world, end, "on")
    command = lines[-1].split("# ", 1)[-1]
    _problem(
        s,
        end.host,
        f"{said}; {driver.daemon}'s log shows its configuration removing settings of that neighbor "
        f"({len(lines)} time(s), the last `{command}`): a configuration reload that removes and re-adds "
        "them resets the session each time",
    )


# -- GTSM at one end ---------------------------------------------------------------------------------


def ttl_facts(world: World, s: Subject, session: Session) -> None:
    """ttl_security_mismatch: the session is down and an end's kernel drops TCP segments below the
    minimum TTL its BGP socket asked for (GTSM, RFC 5082), while the other end sends a lower TTL."""
    if all(e.state == "established" for e in session.ends):
        s.add("ttl_security_mismatch", False)
        return
    unknown: Unknown | None = None
    for end in session.ends:
        counters = world.parsed(end.host, "netstat", parse_proc_netstat)
        if counters is None:
            unknown = unknown or world.command_problem(end.host, "netstat")
            continue
        drops = counters.get(MIN_TTL_DROPS, 0)
        if drops <= 0:
            continue
        other = next((e for e in session.ends if e is not end), None)
        sender = other.host if other is not None else (_peer(end) or "the peer")
        seen_ttl = s.facts.get("syn_received_ttl") if s.facts.get("listener") == end.host else None
        s.add(
            "ttl_security_mismatch",
            True,
            _excerpt(world, end.host, "netstat", [f"{MIN_TTL_DROPS} {drops}"], "TcpExt counters"),
            *end.evidence,
        )
        s.add("ttl_enforcing_end", end.host)
        s.add("ttl_sender", sender)
        s.add("ttl_drops", drops)
        if isinstance(seen_ttl, int):
            s.add("ttl_seen", seen_ttl)
        if end.peer is not None:
            s.add("ttl_neighbor", str(end.peer.address))
            s.add("ttl_protocol", end.peer.name or "")
        if other is not None and other.peer is not None:
            s.add("ttl_sender_neighbor", str(other.peer.address))
            s.add("ttl_sender_protocol", other.peer.name or "")
            asn = other.local_as
            if asn:
                s.add("ttl_sender_asn", asn)
        seen = f" (its SYNs arrive with TTL {seen_ttl})" if isinstance(seen_ttl, int) else ""
        s.add(
            "ttl_problem",
            f"the kernel of {end.host} dropped {drops} TCP segment(s) below the minimum TTL its BGP socket "
            f"requires (GTSM, TTL 255): {sender} sends a lower TTL{seen}",
        )
        return
    if unknown is not None:
        s.unknown("ttl_security_mismatch", unknown)
    else:
        s.add("ttl_security_mismatch", False)


# -- the peer reached through a route learned from it ----------------------------------------------


def _host_route(prefix: str) -> str:
    try:
        return str(ipaddress.ip_network(prefix, strict=False))
    except ValueError:
        return prefix


def _routed(world: World, driver: Driver, end: SessionEnd) -> bool:
    """Does this end's BGP socket follow the kernel's routes? A direct eBGP session does not (BIRD
    sends to the neighbor on its interface, whatever the table says); a multihop one does: as the
    daemon shows it (BIRD's `Session: external multihop AS4` while up), else iBGP (multihop by
    BIRD's default) or the inventory's `multihop`."""
    shown = driver.multihop(world, end.host, end.peer) if end.peer is not None else None
    if shown is not None:
        return shown
    local, remote = end.local_as, end.peer.asn if end.peer is not None else None
    return (local is not None and local == remote) or bool(end.peer and end.peer.multihop)


def recursive_facts(world: World, s: Subject, session: Session) -> None:
    """recursive_peer_route: the kernel reaches the peer address through a route the end's daemon
    (BIRD) learned over this same session."""
    judged = False
    for end in session.ends:
        address = _peer(end)
        driver = _driver(world, end.host)
        if address is None or driver is None or driver.rib_fact is None:
            continue
        name = end.peer.name if end.peer is not None else None
        routes = driver.learned_from(world, end.host, name, address)
        if routes is None or not world.collected(end.host, "ip.route"):
            continue
        judged = True
        if not _routed(world, driver, end):
            continue  # a direct session reaches its neighbor on the interface, whatever the route
        route = world.lookup(end.host, address)
        if route is None or route.protocol not in BGP_ROUTE_PROTOCOLS:
            continue
        dst = _host_route(route.dst)
        learned = [r for r in routes if _host_route(r.prefix) == dst]
        if not learned:
            continue
        r = learned[0]
        via = f"via {route.gateway}" if route.gateway else f"dev {route.dev}"
        s.add(
            "recursive_peer_route",
            True,
            _excerpt(world, end.host, driver.rib_fact, [r.shown], "the route covering the peer"),
            world.route_excerpt(end.host, [route.dst], "the kernel's route to the peer"),
        )
        s.add("recursive_end", end.host)
        s.add("recursive_prefix", r.prefix)
        s.add("recursive_peer_address", address)
        s.add("recursive_route", f"{route.dst} {via} proto {route.protocol}")
        s.add("recursive_protocol", r.protocol)
        other = next((e for e in session.ends if e is not end), None)
        s.add("recursive_sender", other.host if other is not None else address)
        if other is not None and other.peer is not None:
            s.add("recursive_sender_neighbor", str(other.peer.address))
        asn = other.local_as if other is not None else None
        if asn:
            s.add("recursive_sender_asn", asn)
        s.add(
            "recursive_problem",
            f"{end.host} reaches its peer {address} through {r.prefix}, a route it learned over this same "
            f"session ({route.dst} {via}, proto {route.protocol})",
        )
        return
    if judged:
        s.add("recursive_peer_route", False)


def _fix(s: Subject, world: World, end: SessionEnd, bfd: str) -> None:
    """Where the fix goes: the end's host, neighbor, BIRD protocol and AS, and BFD "on" or "off"."""
    s.add("liveness_fix_host", end.host)
    s.add("liveness_fix_bfd", bfd)
    s.add("liveness_fix_daemon", world.inv.hosts[end.host].speaker)
    if end.peer is not None:
        s.add("liveness_fix_neighbor", str(end.peer.address))
        s.add("liveness_fix_protocol", end.peer.name or "")
    asn = end.local_as
    if asn:
        s.add("liveness_fix_asn", asn)


# -- a source address the speaker cannot bind ---------------------------------------------------------


def source_bind_facts(world: World, s: Subject, session: Session) -> None:
    """source_bind_failed: a BIRD end that is not Established logs that it cannot bind the source
    address of its protocol towards the other end (the address is on none of its interfaces); an
    Established BIRD end bound it.
    BIRD's own state shows only `Socket: Connection closed`; its log says why (calico#9549)."""
    for end in session.ends:
        driver = _driver(world, end.host)
        bind_failed = driver.bind_failure if driver is not None else None
        if bind_failed is None or end.peer is None:
            continue
        if end.state == "established":
            s.add("source_bind_failed", False)  # its connection is up: the bind worked
            continue
        log = world.facts[end.host].outputs.get("speaker.log") if end.host in world.facts else None
        if log is None or not log.ok:
            continue
        name = end.peer.name
        lines = [
            ln.strip()
            for ln in log.stdout.splitlines()
            if (m := bind_failed.search(ln)) and (name is None or m.group("protocol") == name)
        ]
        if not lines:
            s.add("source_bind_failed", False)
            continue
        s.add(
            "source_bind_failed",
            True,
            _excerpt(world, end.host, "speaker.log", lines[-3:], "the daemon's log"),
        )
        s.add("source_bind_end", end.host)
        s.add(
            "source_bind_problem",
            f"{_daemon(world, end.host)} on {end.host} cannot bind the source address of its session to "
            f"{end.peer.address} (`{lines[-1]}`): that address is on none of {end.host}'s interfaces",
        )
        return


# -- Calico's mesh and a BGPPeer to the same neighbor ----------------------------------------------


def mesh_overlap_facts(world: World, s: Subject, session: Session) -> None:
    """mesh_rr_overlap: a BIRD end runs Calico's `Mesh_*` protocol and another BGP protocol (a BGPPeer:
    a route reflector) to the same neighbor address. Only one TCP session per address pair can be
    up: BIRD 1.6 keeps the second protocol Idle while the mesh one is Established (no error shown),
    a collision is resolved with Cease 6/7; turning the mesh off then drops the routes until the
    reflector session comes up (calico#3819)."""
    judged, problem = False, None
    for end in session.ends:
        driver = _driver(world, end.host)
        mesh_prefix = driver.mesh_prefix if driver is not None else None
        if driver is None or mesh_prefix is None or end.peer is None:
            continue
        address = str(end.peer.address)
        same = driver.protocols_to(world, end.host, address)
        if same is None:
            problem = problem or world.command_problem(end.host, driver.session_fact)
            continue
        judged = True
        mesh = [p for p in same if p.name.startswith(mesh_prefix)]
        others = [p for p in same if not p.name.startswith(mesh_prefix)]
        if not mesh or not others:
            continue
        lines = [p.shown for p in (*mesh, *others)]
        s.add(
            "mesh_rr_overlap",
            True,
            _excerpt(world, end.host, driver.session_fact, lines, "protocols to the same neighbor"),
        )
        s.add("mesh_rr_host", end.host)
        s.add("mesh_rr_neighbor", address)
        s.add("mesh_rr_protocols", lines)
        waiting = [p.name for p in (*mesh, *others) if not p.established]
        s.add(
            "mesh_rr_problem",
            f"BIRD on {end.host} runs the mesh protocol {mesh[0].name} and {others[0].name} to the same "
            f"neighbor {address} ({'; '.join(lines)}): only one session per address pair can be up, so "
            f"{', '.join(waiting) or others[0].name} waits behind the other, and turning the mesh off "
            "drops the routes of that neighbor until the reflector session comes up",
        )
        return
    if judged:
        s.add("mesh_rr_overlap", False)
    elif problem is not None:
        s.unknown("mesh_rr_overlap", problem)


def _problem(s: Subject, host: str, text: str) -> None:
    if "liveness_problem" not in s.facts:
        s.add("liveness_problem", text)
        s.add("liveness_culprit", host)


def session_facts(world: World, s: Subject, session: Session) -> None:
    """Every session fact of this module; called after the SYN captures were read."""
    with s.deriving("recursive_peer_route"):
        recursive_facts(world, s, session)
    with s.deriving("ttl_security_mismatch"):
        ttl_facts(world, s, session)
    with s.deriving("bfd_one_sided"):
        bfd_facts(world, s, session)
    with s.deriving("session_stale"):
        stale_facts(world, s, session)
    with s.deriving("session_flapping", "session_reset_by_config"):
        flap_facts(world, s, session)
    with s.deriving("source_bind_failed"):
        source_bind_facts(world, s, session)
    with s.deriving("mesh_rr_overlap"):
        mesh_overlap_facts(world, s, session)
