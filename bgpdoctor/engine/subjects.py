"""Turn collected facts into subjects with named facts that checks/ and playbooks/ refer to.

A subject is what a check judges: a host, a BGP session (both ends), a path between two nodes'
pods, or a kubelet. Its facts are plain values (bool, int, str, list) so that checks and
playbooks stay data. Every fact can carry the raw evidence it was derived from.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bgpdoctor.drivers import driver_for, is_appliance
from bgpdoctor.engine import (
    asymmetry,
    client_paths,
    cni_drops,
    conntrack_flows,
    hijack,
    ipv6,
    loops,
    routing,
    speaker_state,
    tunnels,
    untracked,
    vips,
)
from bgpdoctor.engine import drops as kernel_drops
from bgpdoctor.engine.active import ActiveResults, NodePair
from bgpdoctor.engine.sessions import established
from bgpdoctor.engine.speaker_state import reserved_range
from bgpdoctor.engine.world import (
    FactUnknown,
    Hop,
    Path,
    Session,
    SessionEnd,
    Unknown,
    World,
    effective_rp_filter,
)
from bgpdoctor.parsers import ParseError, bird, gobgp, iproute, nft, ss
from bgpdoctor.parsers.netstat import parse_proc_netstat
from bgpdoctor.parsers.pcap import syn_sources
from bgpdoctor.probes.kubelet import KubeletProbe
from bgpdoctor.report.model import Evidence

SPEAKER_PROCESS = {"bird2": "bird", "bird1": "bird", "gobgp": "gobgpd", "frr": "bgpd"}
DIALING_STATES = ("active", "connect", "opensent", "openconfirm")


@dataclass
class Subject:
    kind: str  # host, session, path, kubelet
    label: str
    hosts: list[str]  # hosts the subject is about
    related: list[str]  # hosts + transit hosts whose faults can cause this subject's symptoms
    facts: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)
    problems: dict[str, Unknown] = field(default_factory=dict)  # fact -> why it could not be known
    # every fact of this subject that is neither known nor in `problems` is unknown for this reason
    # (the host could not be reached, deriving its facts failed)
    blanket: Unknown | None = None

    def add(self, fact: str, value: Any, *evidence: Evidence | None) -> None:
        self.facts[fact] = value
        self.problems.pop(fact, None)
        found = [e for e in evidence if e is not None]
        if found:
            self.evidence.setdefault(fact, []).extend(found)

    def unknown(self, fact: str, why: Unknown | None, *evidence: Evidence | None) -> None:
        """`fact` could not be known; never a value, so no check passes or fails on it."""
        self.facts.pop(fact, None)
        self.problems[fact] = why or Unknown("not-collected", f"{fact} could not be derived")
        found = [e for e in evidence if e is not None]
        if found:
            self.evidence.setdefault(fact, []).extend(found)

    def problem(self, fact: str) -> Unknown | None:
        if fact in self.facts:
            return None
        return self.problems.get(fact) or self.blanket

    @contextmanager
    def deriving(self, *facts: str) -> Iterator[None]:
        """Derive `facts` from outputs that may be unknown: if one is (FactUnknown), every fact the
        block added is withdrawn and `facts` become unknown with that reason."""
        before = dict(self.facts)
        try:
            yield
        except FactUnknown as exc:
            for added in set(self.facts) - set(before):
                del self.facts[added]
                self.evidence.pop(added, None)
            for fact in facts:
                if fact not in self.facts:
                    self.problems[fact] = exc.unknown


@functools.lru_cache(maxsize=64)
def _decoded(data: bytes, syn_ack: bool = False) -> tuple[Any, ...]:
    """One host's capture decoded once, however many sessions and path hops read it."""
    return tuple(syn_sources(data, syn_ack=syn_ack))


def _pcap_evidence(world: World, host: str, data: bytes, syns: list[Any]) -> Evidence:
    lines = [
        f"{s.src}:{s.sport} -> {s.dst}:{s.dport} ttl={s.ttl}" + (f" on {s.iface}" if s.iface else "")
        for s in syns
    ]
    result = world.facts[host].outputs.get("capture.syn")
    command = result.command if result else "tcpdump"
    text = "\n".join(lines) if lines else "(no BGP SYN seen during the capture)"
    return Evidence(
        host=host,
        command=command,
        output=f"{len(data)} bytes of pcap decoded:\n{text}",
        note="TCP SYNs to/from port 179, decoded with scapy",
    )


def host_subjects(world: World, scope: list[str], active: ActiveResults | None = None) -> list[Subject]:
    return [
        _isolated(world, "host", name, [name], lambda name=name: _host_subject(world, name, active))
        for name in scope
    ]


def _isolated(world: World, kind: str, label: str, hosts: list[str], build: Any) -> Subject:
    """Build one subject; a bug or odd output while deriving it makes its facts unknown, and the
    run goes on (the reason names the host, the command and how its output starts)."""
    world.last_read = None
    try:
        subject: Subject = build()
        return subject
    except Exception as exc:
        where = ""
        if world.last_read is not None:
            host, fact = world.last_read
            result = world.facts[host].outputs.get(fact) if host in world.facts else None
            if result is not None:
                where = f" while reading `{result.command}` on {host} (output starts {result.stdout[:60]!r})"
        s = Subject(kind, label, hosts, hosts)
        s.blanket = Unknown(
            "internal-error",
            f"could not derive the facts of {label}{where}: {type(exc).__name__}: {exc}"[:400],
        )
        return s


def _speaker_fact(world: World, name: str) -> str:
    """The fact holding the neighbors' states; a host without a daemon has none ("bgp.sessions",
    never collected, so it reads as not collected)."""
    driver = driver_for(world.inv.hosts[name].speaker)
    return driver.session_fact if driver is not None else "bgp.sessions"


# what a BGP client prints when its daemon does not answer (the daemon is down, not unknown)
SPEAKER_DOWN_WORDS = (
    "unable to connect",
    "connection refused",
    "no such file or directory",
    "failed to connect",
    "code = unavailable",
    "error while dialing",
    "cannot connect",
    "bgpd is not running",  # vtysh, while zebra still answers
)


def _host_subject(world: World, name: str, active: ActiveResults | None = None) -> Subject:
    host = world.inv.hosts[name]
    facts = world.facts.get(name)
    s = Subject("host", name, [name], [name])
    reachable = facts is not None and facts.reachable
    s.add("host", name)
    s.add("role", host.role)
    # the inventory may say a router or node is not meant to route (a route server): ip_forward = 0 is fine
    s.add(
        "forwarding_expected", host.forwards if host.forwards is not None else host.role in ("router", "node")
    )
    s.add("reachable", reachable)
    if not reachable:
        err = facts.error if facts else None
        why = Unknown("unreachable", f"{name}: {err.kind}: {err.message}" if err else f"{name} not collected")
        s.problems["reachable"] = why
        s.blanket = why
        s.add("host_error_kind", err.kind if err else "unknown")
        return s
    # a vendor CLI has no sysctl, ss or nft: those facts do not apply to it, they are not unknown
    linux = not is_appliance(host.speaker)
    if linux:
        _ip_forward(world, s, name)
        ipv6.host_facts(world, s, name)
        tunnels.host_facts(world, s, name)
        cni_drops.host_facts(world, s, name)
    if linux and host.role == "router":
        loops.vip_loop_facts(world, s, name)
    if host.speaker == "gobgp" and host.pod_cidrs:
        with s.deriving("advertises_pod_cidrs"):
            rib = world.known(name, "gobgp.rib", gobgp.parse_rib)
            prefixes = {p.prefix for p in rib}
            v6_prefixes, v6_rib = ipv6.gobgp_ipv6_prefixes(world, name, [str(c) for c in host.pod_cidrs])
            prefixes |= v6_prefixes
            missing = [str(c) for c in host.pod_cidrs if str(c) not in prefixes]
            s.add("advertises_pod_cidrs", not missing, world.evidence(name, "gobgp.rib"), v6_rib)
            s.add("unadvertised_pod_cidrs", missing)
            s.add("pod_cidr", ", ".join(str(c) for c in host.pod_cidrs))
    if host.speaker != "none" and linux:
        with s.deriving("port_179_conflict"):
            listeners = [x for x in world.known(name, "ss.listen", ss.parse_ss) if x.local_port == 179]
            owners = sorted({x.process or "?" for x in listeners})
            own = SPEAKER_PROCESS.get(host.speaker)
            foreign = [o for o in owners if o not in (own, "?")]
            # two owners, or TCP 179 held by another program than this host's BGP speaker
            s.add("port_179_conflict", len(owners) > 1 or bool(foreign), world.evidence(name, "ss.listen"))
            s.add("port_179_owners", owners)
            if foreign:
                s.add("port_179_foreign", foreign)
                s.add(
                    "port_179_foreign_pids",
                    sorted({x.pid for x in listeners if x.process in foreign and x.pid}),
                )
                s.add("speaker_process", own or host.speaker)
    if host.speaker in ("bird2", "bird1"):
        _rib_vs_fib(world, s, name)
        _config_check(world, s, name)
    if host.speaker == "frr":
        _frr_facts(world, s, name)
    if host.speaker != "none":
        _speaker_answers(world, s, name)
        speaker_state.host_facts(world, s, name)
    if active is not None:
        kernel_drops.host_drop_facts(s, active, name)
    return s


def _ip_forward(world: World, s: Subject, name: str) -> None:
    with s.deriving("ip_forward"):
        forward = world.sysctl_int(name, "sysctl", "net.ipv4.ip_forward")
        s.add("ip_forward", forward, world.evidence(name, "sysctl"))


# -- FRR: what only its neighbor JSON says (facts of bgpdoctor/drivers/frr.py) ---------------


def _frr_facts(world: World, s: Subject, name: str) -> None:
    """RFC 8212 (an eBGP neighbor without policy: FRR discards what it would receive or send) and
    neighbors stopped by their maximum-prefix limit, from `show bgp neighbors json`."""
    from bgpdoctor.drivers.frr import parse_neighbors, parse_summary
    from bgpdoctor.engine.policy import policy_denials

    with s.deriving("ebgp_policy_missing", "max_prefix_exceeded"):
        neighbors = [n.session for n in world.known(name, "frr.neighbors", parse_neighbors)]
        raw = world.evidence(name, "frr.neighbors")
        log = world.facts[name].outputs.get("speaker.log") if name in world.facts else None
        denied = policy_denials(log.stdout if log is not None and log.ok else "")  # FRR's log says so
        missing = [n for n in neighbors if n.policy_missing or n.address in denied.neighbors]
        lines = [
            f"{n.address}: {where} updates discarded due to missing policy ({key}EbgpRequiresPolicy)"
            for n in missing
            for where, key, flag in (
                ("inbound", "inbound", n.inbound_policy_missing),
                ("outbound", "outbound", n.outbound_policy_missing),
            )
            if flag
        ]
        excerpt = (
            Evidence(host=name, command=raw.command, output="\n".join(lines), note="excerpt: RFC 8212")
            if raw and lines
            else None
        )
        logged = [line for n, line in denied.lines if n in {m.address for m in missing}][-3:]
        logged_excerpt = (
            Evidence(host=name, command=log.command, output="\n".join(logged), note="excerpt: FRR's log")
            if log is not None and logged
            else None
        )
        s.add("ebgp_policy_missing", bool(missing), excerpt, logged_excerpt, raw)
        if missing:
            s.add("ebgp_policy_daemon", "FRR")
            s.add("ebgp_policy_neighbors", [n.address for n in missing])
            inbound, outbound = denied.inbound, denied.outbound
            s.add(
                "ebgp_policy_missing_in",
                [n.address for n in missing if n.inbound_policy_missing or n.address in inbound],
            )
            s.add(
                "ebgp_policy_missing_out",
                [n.address for n in missing if n.outbound_policy_missing or n.address in outbound],
            )
            s.add(
                "ebgp_policy_ibgp",
                [n.address for n in missing if n.remote_as is not None and n.remote_as == n.local_as],
            )
            summary = world.parsed(name, "frr.summary", parse_summary)
            router_as = (summary.local_as if summary else None) or world.inv.hosts[name].asn
            if router_as is not None:
                s.add("frr_bgp_as", router_as, world.evidence(name, "frr.summary"))
        stopped = [n.address for n in neighbors if n.max_prefix_exceeded]
        s.add("max_prefix_exceeded", bool(stopped), raw)
        if stopped:
            s.add("max_prefix_neighbors", stopped)


def _speaker_answers(world: World, s: Subject, name: str) -> None:
    """Does the BGP daemon answer its own client? Down only when the client says it cannot reach
    the daemon; an answer that timed out or could not be read is unknown."""
    driver = driver_for(world.inv.hosts[name].speaker)
    if driver is None:
        return
    fact = driver.session_fact
    world.neighbors(name)  # reading it records a parse error as the fact's problem
    problem = world.command_problem(name, fact)
    result = world.facts[name].outputs.get(fact)
    said = (result.stderr + "\n" + result.stdout).lower() if result else ""
    if problem is None:
        s.add("speaker_answers", True, world.evidence(name, fact))
    elif problem.kind == "failed" and any(w in said for w in SPEAKER_DOWN_WORDS):
        s.add("speaker_answers", False, world.evidence(name, fact))
        s.add("speaker_problem", problem.detail)
    else:
        s.unknown("speaker_answers", problem, world.evidence(name, fact))


MD5_COUNTERS = ("TcpExtTCPMD5NotFound", "TcpExtTCPMD5Unexpected", "TcpExtTCPMD5Failure")


def _compatibility_facts(world: World, s: Subject, session: Session, up: bool, active: ActiveResults) -> None:
    """What each end expects of the other against what the other really is (ASN, router id, config)."""
    errors = " ".join((e.last_error or "").lower() for e in session.ends)
    b = session.b
    if b is None:
        return
    a = session.a
    refused_as = "bad peer as" in errors
    for end, other in ((a, b), (b, a)):
        # BIRD 1.6 does not print the AS it announces; once a NOTIFICATION says "Bad peer AS" the
        # inventory's AS for that end stands in for it, and the evidence says so
        announced, stated = other.local_as_runtime, None
        if announced is None and refused_as and other.asn:
            announced = other.asn
            stated = Evidence(
                host=other.host,
                command="inventory",
                output=f"asn: {other.asn}",
                note="the daemon does not print the AS it announces; the inventory's AS stands in",
            )
        if end.peer_as_runtime and announced and end.peer_as_runtime != announced:
            s.add("asn_mismatch", True, *end.evidence, *other.evidence, stated)
            s.add("asn_wrong_end", end.host)
            s.add("asn_other_end", other.host)
            s.add("asn_configured", end.peer_as_runtime)
            s.add("asn_actual", announced)
            s.add("asn_wrong_protocol", end.peer.name if end.peer and end.peer.name else "")
            s.add("asn_peer_address", str(end.peer.address) if end.peer else "")
            s.add("asn_local", end.local_as_runtime or end.asn)
            break
    else:
        if all(e.peer_as_runtime and e.local_as_runtime for e in (a, b)):
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
        s.add("router_id_fix_asn", node_end.local_as_runtime or node_end.asn)
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
            # the address the unsigned end has configured for the signing one (where the password goes)
            s.add("md5_neighbor_address", str(other.peer.address) if other.peer else "")


def _port_filter(world: World, s: Subject, hosts: list[str]) -> list[str]:
    """A drop/reject rule for TCP 179 on the receiving end or a transit host; returns the hosts
    whose rules could not be read (a rule there cannot be ruled out)."""
    unread = []
    for host in hosts:
        ruleset = world.ruleset(host) if host in world.facts else None
        if ruleset is None:
            unread.append(host)
            continue
        for rule in ruleset.rules:
            if "dport 179" in rule.matches and (rule.verdict or "") in ("drop", "reject"):
                s.add(
                    "port_filter_host",
                    host,
                    _nft_excerpt(world, host, [_rule_line(rule)], "the rule that drops BGP"),
                    world.evidence(host, "nft.ruleset"),
                )
                s.add("port_filter_rule", rule.matches)
                s.add("port_filter_table", f"{rule.family} {rule.table}")
                s.add("port_filter_chain", rule.chain)
                return []
    return unread


def _config_check(world: World, s: Subject, name: str) -> None:
    """`birdc configure check`: does the configuration file on disk parse? (BIRD keeps running the old one)"""
    result = world.facts[name].outputs.get("bird.config_check")
    if result is None or result.timed_out or result.command_missing:
        s.unknown("bird_config_ok", world.command_problem(name, "bird.config_check"))
        return
    lines = [ln.strip() for ln in (result.stdout + result.stderr).splitlines() if ln.strip()]
    if any(ln.startswith("Unable to connect") for ln in lines):
        # BIRD is not running: that is speaker-down, the file cannot be judged this way
        s.unknown("bird_config_ok", Unknown("failed", f"BIRD on {name} does not answer `configure check`"))
        return
    body = [ln for ln in lines if not ln.startswith(("BIRD ", "Reading configuration", "Access restricted"))]
    if any(ln.startswith("Configuration OK") for ln in body):
        s.add("bird_config_ok", True, world.evidence(name, "bird.config_check"))
    elif any(w in ln.lower() for ln in body for w in ("permission denied", "access denied")):
        s.unknown("bird_config_ok", Unknown("permission-denied", f"{name}: {body[0]}"))
    elif body:
        s.add("bird_config_ok", False, world.evidence(name, "bird.config_check"))
        s.add("bird_config_error", body[0], world.evidence(name, "bird.config_check"))
        where = re.match(r"(?P<file>/\S+?):(?P<line>\d+):\d+ ", body[0])
        if where:
            s.add("bird_config_file", where["file"])
            s.add("bird_config_line", int(where["line"]))


def _rib_vs_fib(world: World, s: Subject, name: str) -> None:
    """Pod CIDRs BIRD has selected (primary, unicast) but the kernel FIB does not carry."""
    with s.deriving("bird_routes_in_fib", "unreachable_bgp_routes"):
        routes = world.known(name, "bird.routes", bird.parse_show_route)
        fib_routes = world.known(name, "ip.route", iproute.parse_routes)
        pod_cidrs = {str(c) for h in world.inv.hosts.values() for c in h.pod_cidrs}
        if world.inv.pod_cidr:
            pod_cidrs |= {r.prefix for r in routes if _inside(r.prefix, str(world.inv.pod_cidr))}
        fib = {r.dst for r in fib_routes}
        fib |= ipv6.ipv6_fib(world, name, {r.prefix for r in routes if r.prefix in pod_cidrs})
        selected = sorted(
            {r.prefix for r in routes if r.primary and r.kind == "unicast" and r.prefix in pod_cidrs}
        )
        missing = [p for p in selected if p not in fib]
        s.add(
            "bird_routes_in_fib",
            not missing,
            world.evidence(name, "bird.routes"),
            world.evidence(name, "ip.route"),
        )
        s.add("bird_routes_missing_in_fib", missing)
        s.add("bird_pod_routes", selected)
        by_prefix: dict[str, list[bird.BirdRoute]] = {}
        for r in routes:
            if r.prefix in pod_cidrs:
                by_prefix.setdefault(r.prefix, []).append(r)
        unreachable = sorted(
            p for p, rs in by_prefix.items() if rs and all(r.kind == "unreachable" for r in rs)
        )
        s.add("unreachable_bgp_routes", unreachable, world.evidence(name, "bird.routes"))
        if unreachable:
            routing.next_hop_sender(world, s, name, unreachable)
    with s.deriving("ecmp_single_path"):
        routing.ecmp_facts(world, s, name)
    with s.deriving("shadowed_bgp_routes"):
        routing.shadow_facts(world, s, name)
    with s.deriving("lb_pool_overlaps"):
        vips.vip_facts(world, s, name)


def _inside(prefix: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_network(prefix, strict=False).subnet_of(ipaddress.ip_network(cidr))  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False


def _dialer_and_listener(session: Session) -> tuple[SessionEnd | None, SessionEnd | None]:
    """Which end connects (sends the SYN) and which one should accept it."""
    ends = session.ends
    for end in ends:
        if end.last_error and "refused" in end.last_error.lower():
            return end, next((e for e in ends if e is not end), None)
    dialers = [e for e in ends if e.passive is False or (e.passive is None and e.state in DIALING_STATES)]
    listeners = [e for e in ends if e.passive]
    if listeners and len(ends) == 2:
        listener = listeners[0]
        return next(e for e in ends if e is not listener), listener
    if dialers and len(ends) == 2:
        dialer = dialers[0]
        return dialer, next(e for e in ends if e is not dialer)
    return None, None


def session_subjects(world: World, sessions: list[Session], active: ActiveResults) -> list[Subject]:
    out = []
    dialers_of: dict[str, int] = {}
    for session in sessions:
        if not all(established(e) for e in session.ends):
            for e in session.ends:
                if e.peer is not None:
                    dialers_of[str(e.peer.address)] = dialers_of.get(str(e.peer.address), 0) + 1
    for session in sessions:
        out.append(
            _isolated(
                world,
                "session",
                session.label,
                session.hosts,
                lambda session=session: _session_subject(world, session, active, dialers_of),
            )
        )
    return out


def _session_subject(
    world: World, session: Session, active: ActiveResults, dialers_of: dict[str, int]
) -> Subject:
    transit: list[str] = []
    s = Subject("session", session.label, session.hosts, list(session.hosts))
    for end in session.ends:
        facts = world.facts.get(end.host)
        if facts is None or not facts.reachable:
            s.blanket = world.command_problem(end.host, _speaker_fact(world, end.host))
    a, b = session.a, session.b
    s.add("a", a.host)
    s.add("b", b.host if b else str(a.peer.address if a.peer else "?"))
    s.add("a_state", a.state or "unknown", *a.evidence[:1])
    s.add("b_state", (b.state or "unknown") if b else "not in inventory")
    errors = [f"{e.host}: {e.last_error}" for e in session.ends if e.last_error]
    s.add("last_errors", "; ".join(errors) if errors else "none")
    ends_known = all(e.state not in (None, "unknown") for e in session.ends)
    up = all(established(e) for e in session.ends)
    state_evidence = [ev for e in session.ends for ev in e.evidence]
    # one end seen not Established is enough to know the session is down
    seen_down = any(e.state not in (None, "unknown") and not established(e) for e in session.ends)
    if ends_known or up or seen_down:
        s.add("established", up, *state_evidence)
    else:
        why = next(
            (
                p
                for e in session.ends
                if e.state in (None, "unknown")
                and (p := world.command_problem(e.host, _speaker_fact(world, e.host))) is not None
            ),
            Unknown("not-collected", f"the state of {session.label} was not found in either end's output"),
        )
        s.unknown("established", why, *state_evidence)
    s.add("both_configured", all(e.peer is not None for e in session.ends))
    _compatibility_facts(world, s, session, up, active)
    from bgpdoctor.engine.capabilities import capability_facts
    from bgpdoctor.engine.limits import max_prefix_facts
    from bgpdoctor.engine.timers import hold_time_facts

    max_prefix_facts(world, s, session)
    hold_time_facts(world, s, session)
    capability_facts(world, s, session)
    speaker_state.session_facts(world, s, session)
    ipv6.session_facts(world, s, session, up)
    conntrack_flows.session_facts(world, s, session)
    waiting = [e.host for e in session.ends if e.error_wait]
    # BIRD's error back-off (60 s, up to 300 s by default) after a fault that is gone: the
    # session is down because BIRD waits, not because something is still broken.
    s.add("in_error_backoff", bool(waiting) and not up)
    if waiting:
        s.add("backoff_host", waiting[0])
    dialer, listener = _dialer_and_listener(session)
    if dialer is not None and listener is not None and dialer.peer is not None:
        s.add("dialer", dialer.host)
        s.add("listener", listener.host)
        s.add("listener_address", str(dialer.peer.address))  # where the dialer connects to
        listener_ip = str(listener.peer.address) if listener.peer else None
        s.add("dialer_address", listener_ip)  # the dialer's address as the listener configured it
        s.add("expected_source", listener_ip)
        s.add("listener_protocol", listener.peer.name if listener.peer and listener.peer.name else "")
        s.add("dialer_protocol", dialer.peer.name or "")
        s.add("listener_listens", listener.listens, *listener.evidence[:1])
        s.add("dialer_asn", dialer.asn)
        s.add("listener_asn", listener.asn)
        refused = bool(dialer.last_error and "refused" in dialer.last_error.lower())
        if (not up) and refused and listener.listens is None:
            s.unknown("refused_by_non_listener", world.command_problem(listener.host, "ss.listen"))
        else:
            s.add(
                "refused_by_non_listener",
                (not up) and refused and listener.listens is False,
                *dialer.evidence,
                *listener.evidence,
            )
        # the source the dialer's kernel picks, against what the listener expects
        route_fact = f"route.get.{dialer.peer.address}"
        route_problem = (
            world.command_problem(dialer.host, route_fact) if dialer.source_address is None else None
        )
        if route_problem is not None and world.collected(dialer.host, route_fact):
            s.unknown("source_matches", route_problem)
            s.unknown("multihop_ok", route_problem)
        if dialer.source_address and listener_ip:
            s.add(
                "dialer_source",
                dialer.source_address,
                world.evidence(dialer.host, f"route.get.{dialer.peer.address}"),
            )
            s.add("source_matches", dialer.source_address == listener_ip)
            route = world.route_get(dialer.host, str(dialer.peer.address))
            if route is not None:
                s.add("dialer_source_interface", route.dev or "")
                s.add("dialer_route_gateway", route.gateway or "")
            if dialer.source_address != listener_ip:
                s.add("dialer_expected_interface", world.interface_holding(dialer.host, listener_ip) or "")
        # path from the dialer to the address it dials, for transit hosts and NAT
        if dialer.source_address:
            path = world.trace(
                dialer.host,
                dialer.source_address,
                str(dialer.peer.address),
                str(dialer.peer.address) + "/32",
                listener.host,
            )
            transit = path.transit
            s.add("transit", transit)
            nat = _nat_on_path(world, path) if not up else []
            s.add("nat_hosts_on_path", [h for h, _r in nat])
            if nat:
                host, rule = nat[0]
                s.add(
                    "nat_host",
                    host,
                    _nft_excerpt(world, host, [_rule_line(rule)], "the masquerade rule"),
                    world.evidence(host, "nft.ruleset"),
                )
                s.add("nat_rule", rule.matches)
                s.add("nat_interface", _nat_iface(rule.matches))
                s.add("nat_table", f"{rule.family} {rule.table}")
                s.add("nat_chain", rule.chain)
        # multihop: eBGP to a peer that is not on a connected subnet needs TTL > 1
        ebgp = dialer.asn is not None and listener.asn is not None and dialer.asn != listener.asn
        s.add("ebgp", ebgp)
        if ebgp and dialer.route_gateway is not None:
            s.add("peer_hops_away", True)
            s.add("multihop_ok", (dialer.multihop_ttl or 1) > 1, *dialer.evidence)
            s.add("dialer_gateway", dialer.route_gateway)
            s.add("multihop_needed", 2 + len(transit))
        # SYN capture at both ends (only for sessions that are not up)
        if not up:
            _syn_facts(world, s, dialer, listener, listener_ip, active, dialers_of)
            culprit = s.facts.get("nat_host") or (
                s.facts.get("syn_source_owner") if s.facts.get("syn_rewritten") else None
            )
            if culprit and culprit != "unknown":
                s.add("nat_culprit", culprit)
    from bgpdoctor.engine import liveness

    liveness.session_facts(world, s, session)  # after the SYN captures: GTSM reads their TTL
    s.related = sorted(set(session.hosts) | set(transit))
    kernel_drops.subject_proof(world, s, active)
    return s


def _rule_line(rule: nft.Rule) -> str:
    counter = f" (counter packets {rule.counter_packets})" if rule.counter_packets is not None else ""
    comment = f' comment "{rule.comment}"' if rule.comment else ""
    return f"{rule.family} {rule.table} {rule.chain}: {rule.matches}{counter}{comment}"


def _nft_excerpt(world: World, host: str, lines: list[str], note: str) -> Evidence | None:
    """A readable excerpt of `nft -j list ruleset` (the raw JSON stays in the check evidence)."""
    raw = world.evidence(host, "nft.ruleset")
    if raw is None:
        return None
    return Evidence(
        host=host,
        command=raw.command,
        output="\n".join(lines),
        exit_status=raw.exit_status,
        note=f"excerpt: {note}",
    )


def _nat_iface(rule: str) -> str:
    if 'oifname "' in rule:
        return rule.split('oifname "', 1)[1].split('"', 1)[0]
    return ""


def _nat_on_path(world: World, path: Path) -> list[tuple[str, nft.Rule]]:
    found = []
    for hop in path.hops[:-1] if path.complete else path.hops:
        ruleset = world.ruleset(hop.host)
        if ruleset is None:
            continue
        for rule in nft.masquerade_rules(ruleset):
            iface = _nat_iface(rule.matches)
            if not iface or iface == hop.oif:
                found.append((hop.host, rule))
    return found


def _decode(world: World, s: Subject, host: str, role: str, active: ActiveResults) -> list[Any] | None:
    data = active.captures.get(host)
    if data is None:
        return None
    why: Unknown | None = None
    if host in active.capture_errors:
        why = Unknown("failed", f"SYN capture on {host}: {active.capture_errors[host]}")
    else:
        try:
            return list(_decoded(data))
        except Exception as exc:  # a capture cut short must not end the run
            why = Unknown("parse-error", f"could not decode the SYN capture of {host}: {exc}")
    for fact in (f"syn_{role}_sources", "syn_source_matches"):
        s.unknown(fact, why)
    return None


def _syn_facts(
    world: World,
    s: Subject,
    dialer: SessionEnd,
    listener: SessionEnd,
    listener_ip: str | None,
    active: ActiveResults,
    dialers_of: dict[str, int],
) -> None:
    """What left the dialer and what reached the listener, matched by source port.

    Several sessions may dial the same address; a received SYN is attributed to this session when
    its source port matches one the dialer sent, or when this is the only session dialling it.
    """
    dialed = str(dialer.peer.address) if dialer.peer else None
    sent = [x for x in _decode(world, s, dialer.host, "sent", active) or [] if x.dst == dialed]
    received_all = [x for x in _decode(world, s, listener.host, "received", active) or [] if x.dst == dialed]
    ports = {x.sport for x in sent}
    received = [x for x in received_all if x.sport in ports]
    if not received and dialed is not None and dialers_of.get(dialed, 0) == 1:
        received = received_all
    for host, role, syns in ((dialer.host, "sent", sent), (listener.host, "received", received)):
        data = active.captures.get(host)
        if data is None or host in active.capture_errors:
            continue
        s.add(f"syn_{role}_sources", sorted({x.src for x in syns}), _pcap_evidence(world, host, data, syns))
        if syns:
            s.add(f"syn_{role}_ttl", min(x.ttl for x in syns))
    if received and listener_ip:
        unexpected = sorted({x.src for x in received if x.src != listener_ip})
        s.add("syn_source_matches", not unexpected)
        if unexpected:
            s.add("syn_source_seen", unexpected[0])
            s.add("syn_source_owner", world.owner_of(unexpected[0]) or "unknown")
            s.add("syn_rewritten", unexpected[0] != dialer.source_address)
    if sent and not received and listener.host in active.captures:
        s.add("syn_lost_in_transit", True)
    if received and listener.host in active.captures and listener.host not in active.capture_errors:
        # the listener saw the SYNs on the wire: did it answer any of them?
        try:
            answers = list(_decoded(active.captures[listener.host], syn_ack=True))
            ports = {x.sport for x in received}
            answered = [x for x in answers if x.dport in ports and x.src == dialed]
            s.add("syn_unanswered", not answered)
        except ParseError as exc:
            why = Unknown("parse-error", f"could not decode the capture of {listener.host}: {exc}")
            s.unknown("syn_unanswered", why)
    if s.facts.get("syn_lost_in_transit"):
        _locate_syn_loss(world, s, dialer, listener, ports, active, dialers_of)
    if s.facts.get("syn_lost_in_transit") or s.facts.get("syn_unanswered"):
        looked = [*s.facts.get("transit", []), listener.host]
        unread = _port_filter(world, s, looked)
        if "port_filter_host" in s.facts:
            s.add("port_filter_ok", False)
            s.add("port_filter_visible", True)
        elif unread:
            s.unknown(
                "port_filter_ok",
                Unknown(
                    "not-collected",
                    f"no rule dropping TCP 179 found, but the rules of {', '.join(unread)} could not be read",
                ),
            )
        elif s.facts.get("syn_lost_in_transit"):
            # the SYNs died on the way and no rule that could be read drops them: "no rule found"
            # is not "the port is open", the drop is on a device not visible from here
            s.unknown(
                "port_filter_ok",
                Unknown(
                    "not-collected",
                    f"BGP SYNs from {dialer.host} were lost in transit, and no rule dropping TCP 179 was "
                    f"found on {', '.join(looked)}: the drop is on a device whose rules are not visible here",
                ),
            )
            s.add("port_filter_visible", False)
        else:
            s.add("port_filter_ok", True)


def _switches_between(world: World, a: str, out_if: str | None, b: str, in_if: str | None) -> list[str]:
    """The inventory's switches (devices without a login) that carry the subnet of a link."""
    nets = []
    for host, ifname in ((a, out_if), (b, in_if)):
        for addr in world.addresses(host):
            if addr.ifname == ifname:
                try:
                    nets.append(ipaddress.ip_network(f"{addr.address}/{addr.prefixlen}", strict=False))
                except ValueError:
                    continue
    return sorted(
        name
        for name, switch in world.inv.switches.items()
        if any(seg.overlaps(net) for seg in switch.segments for net in nets if net.version == seg.version)
    )


def _locate_syn_loss(
    world: World,
    s: Subject,
    dialer: SessionEnd,
    listener: SessionEnd,
    ports: set[int],
    active: ActiveResults,
    dialers_of: dict[str, int],
) -> None:
    """Where the SYNs vanish: the last host on the path whose capture shows them and the first
    one whose capture does not, with the interfaces of that segment (the wire's own evidence)."""
    dialed = str(dialer.peer.address) if dialer.peer else ""
    path = world.trace(dialer.host, dialer.source_address or dialed, dialed, f"{dialed}/32", listener.host)
    chain = [h.host for h in path.hops]
    if listener.host not in chain:
        chain.append(listener.host)
    seen: dict[str, list[Any]] = {}
    for host in chain:
        data = active.captures.get(host)
        if data is None or host in active.capture_errors:
            continue
        try:
            syns = [x for x in _decoded(data) if x.dst == dialed]
        except ParseError:
            continue
        if ports and dialers_of.get(dialed, 0) != 1:
            syns = [x for x in syns if x.sport in ports]
        seen[host] = syns
    last = max((i for i, h in enumerate(chain) if seen.get(h)), default=None)
    if last is None:
        return
    first_missing = next((i for i in range(last + 1, len(chain)) if seen.get(chain[i]) == []), None)
    if first_missing is None:
        return
    a, b = chain[last], chain[first_missing]
    if a != dialer.host and min(x.ttl for x in seen[a]) <= 1:
        # it arrived with TTL 1 at a router that must forward it: it expired there (no multihop),
        # the wire shows no filter
        s.add("syn_ttl_expires_at", a)
        return
    out_if = next((h.oif for h in path.hops if h.host == a and h.oif), None)
    in_if = next((h.iif for h in path.hops if h.host == b and h.iif), None)
    between = chain[last + 1 : first_missing]  # hosts in between that could not capture
    s.add(
        "syn_last_seen",
        a,
        *(_pcap_evidence(world, h, active.captures[h], seen[h]) for h in (a, b)),
    )
    s.add("syn_first_missing", b)
    s.add(
        "syn_drop_segment",
        f"{a}{f' ({out_if})' if out_if else ''} -> "
        + "".join(f"{h} -> " for h in between)
        + f"{b}{f' ({in_if})' if in_if else ''}",
    )
    s.add("syn_segment_hosts", [a, *between, b])
    s.add("syn_segment_devices", _switches_between(world, a, out_if, b, in_if))
    ping = active.peer_pings.get(f"{dialer.host}->{dialed}")
    if ping is not None and ping[0].transmitted:
        s.add(
            "peer_icmp_ok",
            ping[0].received > 0,
            Evidence(
                host=dialer.host, command=ping[1], output=ping[2].rstrip(), note="ICMP to the same address"
            ),
        )


def path_subjects(world: World, pairs: list[NodePair], active: ActiveResults) -> list[Subject]:
    return [
        _isolated(
            world,
            "path",
            pair.key,
            [pair.source, pair.destination],
            lambda pair=pair: _path_subject(world, pair, active),
        )
        for pair in pairs
    ] + client_paths.client_subjects(world)


def _hop_unknown(world: World, host: str, *facts: str) -> Unknown | None:
    for fact in facts:
        if (problem := world.command_problem(host, fact)) is not None:
            return problem
    return None


def _path_subject(world: World, pair: NodePair, active: ActiveResults) -> Subject:
    path = world.trace(pair.source, pair.src_ip, pair.dst_ip, pair.dst_cidr, pair.destination)
    hosts = [h.host for h in path.hops]
    # a ping needs its answer too: the hosts on the way back can cause this path's symptoms
    return_path = world.trace(pair.destination, pair.dst_ip, pair.src_ip, f"{pair.src_ip}/32", pair.source)
    s = Subject(
        "path",
        pair.key,
        [pair.source, pair.destination],
        sorted(set(hosts) | {h.host for h in return_path.hops} | {pair.source, pair.destination}),
    )
    s.add("segment", pair.segment)
    s.add("source", pair.source)
    s.add("destination", pair.destination)
    s.add("cluster_pod_cidr", str(world.inv.pod_cidr) if world.inv.pod_cidr else pair.dst_cidr)
    s.add("src_ip", pair.src_ip)
    s.add("dst_ip", pair.dst_ip)
    s.add("dst_cidr", pair.dst_cidr)
    s.add("hops", " -> ".join(f"{h.host}({h.iif or '-'}>{h.oif or '-'}{_by_table(h)})" for h in path.hops))
    route_evidence = _route_evidence(world, path)
    if path.unknown is not None:
        # the trace reached a hop whose routes could not be read: the route is neither there nor missing
        s.unknown("route_complete", path.unknown, *route_evidence)
    else:
        s.add("route_complete", path.complete, *route_evidence)
        if not path.complete:
            last = path.hops[-1].host if path.hops else pair.source
            s.add("route_missing_on", last)
            s.add("route_stop_reason", path.stop_reason)
    # rp_filter at every hop that receives the packet (transit and destination)
    drops = []
    rp_unknown: Unknown | None = None
    for hop in path.hops[1:]:
        if hop.iif is None:
            continue
        values = world.sysctl(hop.host)
        rp = effective_rp_filter(values, hop.iif)
        if rp is None or world.parsed(hop.host, "ip.route", iproute.parse_routes) is None:
            rp_unknown = (
                rp_unknown
                or _hop_unknown(world, hop.host, "sysctl", "ip.route")
                or Unknown("parse-error", f"rp_filter of {hop.iif} not in the sysctl output of {hop.host}")
            )
            continue
        back = world.lookup(hop.host, pair.src_ip)
        back_dev = back.dev if back else None
        if (rp == 1 and back_dev != hop.iif) or (rp == 2 and back is None):
            drops.append((hop.host, hop.iif, back_dev, rp))
    if drops:
        s.add("rp_filter_ok", False)
        host, iif, back_dev, rp = drops[0]
        s.add("rp_filter_host", host, world.evidence(host, "sysctl"), world.evidence(host, "ip.route"))
        s.add("rp_filter_iif", iif)
        s.add("rp_filter_return_dev", back_dev or "none")
        s.add("rp_filter_value", rp)
    elif rp_unknown is not None or path.unknown is not None:
        s.unknown("rp_filter_ok", rp_unknown or path.unknown)
    else:
        s.add("rp_filter_ok", True)
    _tunnel_facts(world, s, path, pair)
    hijack.hijack_facts(world, s, path)
    tunnels.path_facts(world, s, path, pair)
    if not pair.segment:
        routing.reflection_facts(world, s, pair.source, pair.dst_cidr)
    _forwarding_facts(world, s, path)
    ping = active.pings.get(pair.key)
    if ping is not None:
        result, cmd, raw = ping
        ev = Evidence(host=pair.source, command=cmd, output=raw.rstrip())
        if result.transmitted == 0 and result.received == 0:
            first = raw.strip().splitlines()[0][:200] if raw.strip() else "no output"
            s.unknown(
                "pod_ping_ok", Unknown("failed", f"the ping from {pair.source} did not run: {first}"), ev
            )
        else:
            s.add("pod_ping_ok", result.received > 0, ev)
            s.add("pod_ping_outcome", result.outcome)
    elif f"ping {pair.key}" in active.errors:
        s.unknown("pod_ping_ok", Unknown("failed", f"ping probe failed: {active.errors[f'ping {pair.key}']}"))
    sweep = active.sweeps.get(pair.key)
    if sweep is not None:
        _mtu_facts(world, s, path, pair, sweep)
    elif f"mtu {pair.key}" in active.errors:
        s.unknown("mtu_blackhole", Unknown("failed", f"MTU sweep failed: {active.errors[f'mtu {pair.key}']}"))
    if not path.complete or (ping and ping[0].received == 0):
        _firewall_facts(world, s, path, pair)
        untracked.input_drop_facts(world, s, path, return_path, pair)
    asymmetry.path_facts(world, s, path, return_path, pair)
    kernel_drops.subject_proof(world, s, active)
    return s


def _route_evidence(world: World, path: Path) -> list[Evidence | None]:
    """The route each forwarding hop used; the whole table of a hop where the trace stopped (it is
    the evidence of what is missing), nothing for the host that delivers locally."""
    quoted = []
    for i, hop in enumerate(path.hops):
        if hop.oif and hop.route:
            quoted.append(world.route_excerpt(hop.host, [hop.route], f"the route {hop.host} uses"))
        elif not (path.complete and i == len(path.hops) - 1):
            quoted.append(world.evidence(hop.host, "ip.route"))
    return quoted


def _by_table(hop: Hop) -> str:
    return f" table {hop.table}" if hop.table else ""


def _forwarding_facts(world: World, s: Subject, path: Path) -> None:
    """IPv4 forwarding on every transit hop (known only where its sysctls could be read)."""
    off, unread = [], None
    for hop in path.hops[1:-1]:
        value = world.sysctl(hop.host).get("net.ipv4.ip_forward")
        if value is None:
            unread = (
                unread
                or _hop_unknown(world, hop.host, "sysctl")
                or Unknown("parse-error", f"no net.ipv4.ip_forward in the sysctl output of {hop.host}")
            )
        elif value == "0":
            off.append(hop.host)
    if off:
        s.add("forwarding_ok", False)
    elif unread is not None or path.unknown is not None:
        s.unknown("forwarding_ok", unread or path.unknown)
    else:
        s.add("forwarding_ok", True)


def _mtu_facts(world: World, s: Subject, path: Path, pair: NodePair, sweep: Any) -> None:
    raw = "\n".join(p.raw for p in sweep.probes)
    ev = Evidence(
        host=pair.source,
        command=f"ping -M do sweep ({len(sweep.probes)} probes)",
        output=raw,
        note="binary search of the largest DF packet that gets a reply",
    )
    s.add("mtu_probes", len(sweep.probes), ev)
    s.add("mtu_start", sweep.start)
    if sweep.path_mtu is None:
        # not even the smallest probe came back: the sweep could not measure anything
        outcome = sweep.probes[-1].outcome if sweep.probes else "no probe sent"
        s.unknown(
            "mtu_blackhole",
            Unknown(
                "not-collected",
                f"no DF ping from {pair.source} reached {pair.dst_ip} (last probe: {outcome}), "
                "so the path MTU could not be measured",
            ),
            ev,
        )
        s.unknown("path_mtu", s.problems["mtu_blackhole"])
        return
    s.add("path_mtu", sweep.path_mtu)
    s.add("mtu_blackhole", sweep.blackhole)
    if sweep.silent_above:
        s.add("mtu_silent_above", sweep.silent_above)
    if sweep.frag_needed_from:
        s.add("frag_needed_from", sweep.frag_needed_from)
    if sweep.blackhole and sweep.path_mtu:
        bottleneck = _mtu_bottleneck(world, path, sweep.path_mtu)
        if bottleneck:
            s.add("mtu_bottleneck_host", bottleneck[0], world.evidence(bottleneck[0], "ip.addr"))
            s.add("mtu_bottleneck_iface", bottleneck[1])
        else:
            _mtu_l2_mismatch(world, s, path, sweep.path_mtu)
        _pmtu_filter(world, s, [h.host for h in path.hops], bottleneck[0] if bottleneck else None)


def _tunnel_facts(world: World, s: Subject, path: Path, pair: NodePair) -> None:
    """A hop that sends the pod traffic into a WireGuard interface whose peers may not carry it."""
    dst = ipaddress.ip_address(pair.dst_ip)
    for hop in path.hops:
        peers = world.wireguard(hop.host).get(hop.oif or "")
        if not peers:
            continue
        carried = any(dst in ipaddress.ip_network(c, strict=False) for _key, cidrs in peers for c in cidrs)
        if not carried:
            key, cidrs = peers[0]
            s.add("tunnel_drops", hop.host, world.evidence(hop.host, "wg.allowed", "WireGuard allowed-ips"))
            s.add("tunnel_interface", hop.oif)
            s.add("tunnel_peer_key", key)  # a public key: safe to show
            s.add("tunnel_allowed_ips", ",".join(cidrs))
            return


def _iface_mtu(world: World, host: str, ifname: str | None) -> int | None:
    return next((a.mtu for a in world.addresses(host) if a.ifname == ifname and a.mtu), None)


def _mtu_bottleneck(world: World, path: Path, path_mtu: int) -> tuple[str, str] | None:
    """The first hop whose outgoing interface MTU is the path MTU (where frag-needed should come from)."""
    for hop in path.hops:
        if hop.oif and _iface_mtu(world, hop.host, hop.oif) == path_mtu:
            return hop.host, hop.oif
    return None


def _mtu_l2_mismatch(world: World, s: Subject, path: Path, path_mtu: int) -> None:
    """A sender whose interface MTU is above what the next hop's interface takes, on one layer 2
    (overlay members with different MTUs): the frame is dropped without any ICMP."""
    for prev, hop in zip(path.hops, path.hops[1:], strict=False):
        sent, taken = _iface_mtu(world, prev.host, prev.oif), _iface_mtu(world, hop.host, hop.iif)
        if sent and taken == path_mtu and sent > taken:
            s.add("mtu_bottleneck_host", prev.host, world.evidence(prev.host, "ip.addr"))
            s.add("mtu_bottleneck_iface", prev.oif)
            s.add("mtu_sender_mtu", sent)
            s.add("mtu_receiver", hop.host, world.evidence(hop.host, "ip.addr"))
            s.add("mtu_receiver_iface", hop.iif)
            return


def _firewall_facts(world: World, s: Subject, path: Path, pair: NodePair) -> None:
    """Routers on the path whose forward hook drops by default and accept nothing for the pod CIDR."""
    cluster = world.inv.pod_cidr
    cidrs = [str(cluster)] if cluster else []
    cidrs += [pair.dst_cidr]
    for hop in path.hops[1:-1]:
        ruleset = world.ruleset(hop.host)
        if ruleset is None or not nft.forward_policy_drop(ruleset):
            continue
        matching = [r for c in cidrs for r in nft.rules_matching_network(ruleset, c)]
        if not matching:
            chain = next(c for c in ruleset.chains if c.hook == "forward" and c.policy == "drop")
            lines = [f"{chain.family} {chain.table} {chain.name}: type filter hook forward policy drop"]
            lines += [
                _rule_line(r) for r in ruleset.rules if (r.family, r.table) == (chain.family, chain.table)
            ]
            lines.append(f"(no rule matches {' or '.join(cidrs)})")
            s.add(
                "firewall_host",
                hop.host,
                _nft_excerpt(world, hop.host, lines, "forward policy drop, nothing accepts the pod CIDR"),
                world.evidence(hop.host, "nft.ruleset"),
            )
            s.add("firewall_table", f"{chain.family} {chain.table}")
            s.add("firewall_chain", chain.name)
            s.add("firewall_in", hop.iif or "")
            s.add("firewall_out", hop.oif or "")
            return


def _pmtu_filter(world: World, s: Subject, hosts: list[str], first: str | None) -> None:
    """The rule on the path that drops ICMP "fragmentation needed" (a small MTU becomes a black hole)."""
    for host in sorted(set(hosts), key=lambda h: h != first):
        ruleset = world.ruleset(host)
        for rule in ruleset.rules if ruleset else []:
            if "frag-needed" in rule.matches and (rule.verdict or "") in ("drop", "reject"):
                s.add(
                    "pmtu_filter_rule",
                    rule.matches,
                    _nft_excerpt(world, host, [_rule_line(rule)], "the rule that drops frag-needed"),
                    world.evidence(host, "nft.ruleset"),
                )
                s.add("pmtu_filter_host", host)
                s.add("pmtu_filter_table", f"{rule.family} {rule.table}")
                s.add("pmtu_filter_chain", rule.chain)
                return


def _kubelet_filter(world: World, s: Subject, node: str, port: int) -> None:
    """The node's own rule that drops or rejects the kubelet port, and the chain to fix."""
    ruleset = world.ruleset(node)
    if ruleset is None:
        return
    for rule in ruleset.rules:
        if f"dport {port}" in rule.matches and (rule.verdict or "") in ("drop", "reject"):
            s.add(
                "kubelet_filter_rule",
                rule.matches,
                _nft_excerpt(world, node, [_rule_line(rule)], "the rule that drops the kubelet port"),
                world.evidence(node, "nft.ruleset"),
            )
            s.add("kubelet_filter_table", f"{rule.family} {rule.table}")
            s.add("kubelet_filter_chain", rule.chain)
            return


def kubelet_subjects(world: World, active: ActiveResults) -> list[Subject]:
    vantage = world.inv.vantage.metrics_server
    port = world.inv.vantage.kubelet_port
    failed = []
    for key, error in sorted(active.errors.items()):
        node = key.removeprefix("kubelet ")
        if key.startswith("kubelet ") and node not in active.kubelets:
            s = Subject("kubelet", f"{vantage}->{node}:{port}", [node], [node])
            s.unknown(
                "kubelet_reachable", Unknown("failed", f"the kubelet probe from {vantage} failed: {error}")
            )
            failed.append(s)
    return failed + [
        _isolated(
            world,
            "kubelet",
            f"{vantage}->{node}:{world.inv.vantage.kubelet_port}",
            [node],
            lambda node=node, probe=probe, cmd=cmd, raw=raw: _kubelet_subject(
                world, node, probe, cmd, raw, active
            ),
        )
        for node, (probe, cmd, raw) in sorted(active.kubelets.items())
    ]


def _kubelet_subject(
    world: World, node: str, probe: KubeletProbe, cmd: str, raw: str, active: ActiveResults | None = None
) -> Subject:
    vantage = world.inv.vantage.metrics_server
    address = probe.target.rsplit(":", 1)[0]
    related = {node, vantage or node}
    vantage_host = world.inv.hosts[vantage] if vantage else None
    source = probe.source or (
        str(vantage_host.addresses[0]) if vantage_host and vantage_host.addresses else None
    )
    if vantage and source:
        related |= {h.host for h in world.trace(vantage, source, address, f"{address}/32", node).hops}
    s = Subject("kubelet", f"{vantage}->{node}:{world.inv.vantage.kubelet_port}", [node], sorted(related))
    ev = Evidence(host=vantage or "?", command=cmd.split(";")[0][:120] + " ...", output=raw.strip())
    s.add("node", node)
    s.add("vantage", vantage)
    s.add("target", probe.target)
    s.add("address", address)
    s.add("tcp", probe.tcp or "unknown", ev)
    if probe.tcp in ("ok", "timeout", "refused", "error"):
        s.add("kubelet_reachable", probe.tcp == "ok" and probe.tls in ("ok", None), ev)
    else:
        # the probe did not run, or its answer could not be read: nothing was learned
        first = raw.strip().splitlines()[0][:200] if raw.strip() else "no output"
        s.unknown(
            "kubelet_reachable",
            Unknown("failed", f"the kubelet probe from {vantage} did not give a result: {first}"),
            ev,
        )
    s.add("tls", probe.tls or "not tried")
    s.add("probe_error", probe.error or "")
    s.add("source", source or "unknown")
    s.add("cluster_pod_cidr", str(world.inv.pod_cidr) if world.inv.pod_cidr else f"{source}/32")
    if probe.tcp != "ok":
        _kubelet_filter(world, s, node, world.inv.vantage.kubelet_port)
    host = world.inv.hosts[node]
    try:
        site = world.inv.sites.get(host.site or "")
        subnets = [n for n in (site.subnets if site else []) if ipaddress.ip_address(address) in n]
        s.add(
            "node_lan",
            str(subnets[0]) if subnets else str(ipaddress.ip_network(f"{address}/24", strict=False)),
        )
    except ValueError:
        s.add("node_lan", address)
    if active is not None:
        kernel_drops.subject_proof(world, s, active)
    return s
