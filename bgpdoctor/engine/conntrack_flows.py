"""A conntrack entry of the BGP flow that no longer matches the session (a stale or translated
entry on a router), read on each end and each router between them while the session is down.

After a router reboot its firewall may come up in a race with a proxy or NAT rule that captured
port 179 (OpenWrt fw4 with Mihomo or Tailscale): the entry it created keeps translating the flow
to another address or port, or stays ESTABLISHED while an end opens that same connection again;
the session stays down until the entry goes (`conntrack -D`, or `notrack` for port 179). An
ESTABLISHED entry no socket has is only left over: the next attempt gets an entry of its own.

Pure code over World; `session_facts` adds its facts to a session subject.
Example facts: bgp_conntrack_stale=True, stale_conntrack_host="bdx-r",
stale_conntrack_entry="ESTABLISHED 10.215.0.1:58916 -> 10.215.0.2:179, reply from 10.215.0.2:1179 [ASSURED]",
stale_conntrack_why="translated: the reply comes from 10.215.0.2:1179, not 10.215.0.2:179".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bgpdoctor.engine.sessions import established
from bgpdoctor.engine.world import Unknown
from bgpdoctor.parsers import conntrack, ss

if TYPE_CHECKING:
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Session, World

FACT = "conntrack.bgp"
# the awk filter of the table read before it kept IPv6 entries too: a recording made with it has
# no IPv6 entry whatever the table held
_IPV4_ONLY_READ = '$1 == "ipv4" && $3 == "tcp"'


def _addresses(session: Session) -> set[str]:
    """The two addresses the session runs between, as its ends configure each other."""
    found = {str(e.peer.address) for e in session.ends if e.peer is not None}
    found |= {e.source_address for e in session.ends if e.source_address}
    return found


Sockets = dict[tuple[str, int, str, int], str]  # (local, port, peer, port) -> ss state, e.g. "SYN-SENT"
OPENING = ("SYN-SENT", "SYN-RECV")


def _sockets(world: World, session: Session) -> Sockets | None:
    """Every BGP socket on either end, with its state; None when an end's sockets could not be read."""
    found: Sockets = {}
    for end in session.ends:
        sockets = world.parsed(end.host, "ss.bgp", ss.parse_ss)
        if sockets is None:
            return None
        found.update(
            ((x.local_address, x.local_port, x.peer_address, x.peer_port), x.state)
            for x in sockets
            if x.peer_port is not None
        )
    return found


def stale_reason(entry: conntrack.Entry, sockets: Sockets | None) -> str | None:
    """Why this entry of the BGP flow does not match the session, or None.

    Translated towards the destination (DNAT, a redirect to a proxy): the request never reaches
    the peer's port 179. ESTABLISHED while an end is still opening that very connection (its
    socket in SYN-SENT or SYN-RECV): the handshake's packets meet an entry that says it is done.
    An ESTABLISHED entry no socket has at all is left over from a connection that is gone; the next
    attempt comes from another port and gets its own entry, so it is no cause.
    A source translation is not judged here (a NAT between BGP peers is its own cause).
    """
    o, r = entry.original, entry.reply
    if (r.src, r.sport) != (o.dst, o.dport):
        return (
            f"translated: the reply comes from {conntrack.endpoint(r.src, r.sport)}, "
            f"not {conntrack.endpoint(o.dst, o.dport)}"
        )
    if (r.dst, r.dport) != (o.src, o.sport):
        return None  # translated at the source: bgp-source-address says so
    if entry.state != "ESTABLISHED" or entry.unreplied or sockets is None:
        return None
    for key in ((o.src, o.sport, o.dst, o.dport), (o.dst, o.dport, o.src, o.sport)):
        if sockets.get(key) in OPENING:
            return (
                f"ESTABLISHED in conntrack while {key[0]} is still opening this connection ({sockets[key]})"
            )
    return None


def session_facts(world: World, s: Subject, session: Session) -> None:
    """Adds bgp_conntrack_stale (bool; unknown when a host's conntrack table could not be read)
    and, for the first stale entry, stale_conntrack_host/_entry/_why/_src/_dst/_sport/_dport.
    Judged only while the session is down; hosts where the table was not collected (an older
    recording, an appliance) are left out."""
    if session.b is None or all(established(e) for e in session.ends):
        return
    addresses = _addresses(session)
    if len(addresses) < 2:
        return
    from bgpdoctor.engine.active import session_transit

    hosts = [*session.hosts, *session_transit(world, session)]
    sockets = _sockets(world, session)
    ipv6 = any(":" in a for a in addresses)
    unread: Unknown | None = None
    read_any = False
    for host in hosts:
        if not world.collected(host, FACT):
            continue
        if ipv6 and _IPV4_ONLY_READ in world.facts[host].outputs[FACT].command:
            unread = unread or Unknown(
                "not-collected",
                f"the conntrack table of {host} was read for IPv4 entries only (an older bgpdoctor)",
            )
            continue
        entries = world.parsed(host, FACT, conntrack.parse_entries)
        if entries is None:
            unread = unread or world.command_problem(host, FACT) or Unknown("parse-error", f"no {FACT}")
            continue
        read_any = True
        for entry in entries:
            o = entry.original
            if (
                {o.src, o.dst} != {o.src, o.dst} & addresses
                or o.src == o.dst
                or 179 not in (o.sport, o.dport)
            ):
                continue
            why = stale_reason(entry, sockets)
            if why is None:
                continue
            s.add("bgp_conntrack_stale", True, world.evidence(host, FACT, entry.text))
            s.add("stale_conntrack_host", host)
            s.add("stale_conntrack_entry", entry.text)
            s.add("stale_conntrack_why", why)
            s.add("stale_conntrack_src", o.src)
            s.add("stale_conntrack_dst", o.dst)
            s.add("stale_conntrack_sport", o.sport)
            s.add("stale_conntrack_dport", o.dport)
            return
    if unread is not None:
        s.unknown("bgp_conntrack_stale", unread)
    elif read_any:
        s.add(
            "bgp_conntrack_stale",
            False,
            *(world.evidence(h, FACT) for h in hosts if world.collected(h, FACT)),
        )
