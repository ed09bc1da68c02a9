"""Does each end of a BGP session match what the other expects: the AS each announces against
the AS the other has configured, router ids (a duplicate), a neighbor configured on one end only,
and TCP MD5 (the kernel's MD5 counters rising on one end while the session is down).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bgpdoctor.drivers import driver_for
from bgpdoctor.engine.speaker_state import reserved_range
from bgpdoctor.engine.world import FactUnknown, Unknown
from bgpdoctor.parsers.netstat import parse_proc_netstat
from bgpdoctor.report.model import Evidence

if TYPE_CHECKING:
    from bgpdoctor.engine.active import ActiveResults
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import Session, World

MD5_COUNTERS = ("TcpExtTCPMD5NotFound", "TcpExtTCPMD5Unexpected", "TcpExtTCPMD5Failure")


def compatibility_facts(world: World, s: Subject, session: Session, up: bool, active: ActiveResults) -> None:
    """What each end expects of the other against what the other really is (ASN, router id, config)."""
    errors = " ".join((e.observed.last_error or "").lower() for e in session.ends if e.observed)
    b = session.b
    if b is None:
        return
    a = session.a
    refused_as = "bad peer as" in errors
    for end, other in ((a, b), (b, a)):
        # BIRD 1.6 does not print the AS it announces; once a NOTIFICATION says "Bad peer AS" the
        # inventory's AS for that end stands in for it, and the evidence says so
        announced, stated = other.observed.local_as if other.observed else None, None
        if announced is None and refused_as and other.asn:
            announced = other.asn
            stated = Evidence(
                host=other.host,
                command="inventory",
                output=f"asn: {other.asn}",
                note="the daemon does not print the AS it announces; the inventory's AS stands in",
            )
        expected = end.observed.peer_as if end.observed else None
        if expected and announced and expected != announced:
            s.add("asn_mismatch", True, *end.evidence, *other.evidence, stated)
            s.add("asn_wrong_end", end.host)
            s.add("asn_other_end", other.host)
            s.add("asn_configured", expected)
            s.add("asn_actual", announced)
            s.add("asn_wrong_protocol", end.peer.name if end.peer and end.peer.name else "")
            s.add("asn_peer_address", str(end.peer.address) if end.peer else "")
            s.add("asn_local", end.local_as)
            break
    else:
        if all(e.observed and e.observed.peer_as and e.observed.local_as for e in (a, b)):
            s.add("asn_mismatch", False)
    if refused_as and not s.facts.get("asn_mismatch"):
        s.add("asn_mismatch_reported", True)
    for end in (a, b):
        driver = driver_for(world.inv.hosts[end.host].speaker)
        fact = driver.status_fact if driver is not None else ""
        if end.router_id is None and driver is not None and world.collected(end.host, fact):
            s.unknown("router_id_conflict", world.command_problem(end.host, fact))
    if a.router_id and b.router_id:
        same = a.router_id == b.router_id
        # an id refused as invalid (0/8, 224/4, 240/4) is invalid-router-id, not a duplicate
        invalid = any(reserved_range(e.router_id) for e in (a, b))
        s.add(
            "router_id_conflict",
            same or ("bad bgp identifier" in errors and not invalid),
            world.evidence(a.host, "bird.status") or world.evidence(a.host, "gobgp.global"),
            world.evidence(b.host, "bird.status") or world.evidence(b.host, "gobgp.global"),
        )
        s.add("router_ids", f"{a.host}: {a.router_id}, {b.host}: {b.router_id}")
        s.add("router_id", a.router_id)
        # the end that is not a router gets the fix: node router ids are the easy ones to change
        node_end = next((e for e in (a, b) if world.inv.hosts[e.host].role == "node"), b)
        s.add("router_id_fix_host", node_end.host)
        s.add("router_id_fix_value", str(world.inv.hosts[node_end.host].internal_ip or node_end.router_id))
        s.add("router_id_fix_asn", node_end.local_as)
    missing = [e for e in (a, b) if e.state == "missing" or e.peer is None]
    s.add("both_configured", not missing)
    if missing and len(missing) == 1:
        other = b if missing[0] is a else a
        s.add("unconfigured_end", missing[0].host, *missing[0].evidence)
        s.add("configured_end", other.host)
        s.add("configured_peer_address", str(other.peer.address) if other.peer else "")
        s.add(
            "unconfigured_peer_address",
            str(missing[0].peer.address)
            if missing[0].peer
            else next((str(x) for x in world.inv.hosts[other.host].addresses), ""),
        )
        s.add("unconfigured_asn", missing[0].asn)
        s.add("configured_asn", other.asn)
        lacking = world.inv.hosts[missing[0].host]
        agent_driver = driver_for(lacking.speaker)
        if lacking.role == "node" and agent_driver is not None and agent_driver.agent is not None:
            # a node's peers are its CNI's objects (CiliumBGPClusterConfig, BGPPeer), not a daemon's file
            s.add("unconfigured_cni", agent_driver.agent.cni.lower())
    if not up:
        rising = []
        unread: Unknown | None = None
        for e in (a, b):
            try:
                before = world.known(e.host, "netstat", parse_proc_netstat)
                after = world.known(e.host, "netstat.after", parse_proc_netstat)
            except FactUnknown as exc:
                unread = unread or exc.unknown
                continue
            delta = {
                k: after.get(k, 0) - before.get(k, 0) for k in MD5_COUNTERS if k in after and k in before
            }
            if any(v > 0 for v in delta.values()):
                rising.append((e.host, delta))
        if rising:
            s.add("md5_ok", False)
        elif unread is not None:
            s.unknown("md5_ok", unread)
        else:
            s.add("md5_ok", True)
        if rising:
            host, delta = rising[0]
            s.add(
                "md5_rejecting_host", host, world.evidence(host, "netstat.after", "TCP MD5 counters rising")
            )
            s.add(
                "md5_counters", ", ".join(f"{k.removeprefix('TcpExt')} +{v}" for k, v in delta.items() if v)
            )
            other = a if host == b.host else b
            s.add("md5_other_host", other.host)
            s.add("md5_other_asn", other.local_as)
            # the address the unsigned end has configured for the signing one (where the password goes)
            s.add("md5_neighbor_address", str(other.peer.address) if other.peer else "")
