"""What the SYN captures at a BGP session's ends (and on the path) show while it is down.

What left the dialer against what reached the listener (matched by source port), whether the
listener answered, a rewritten source address, and, when the SYNs vanished on the way, where:
the last host whose capture shows them, the first whose capture does not, and the devices of that
segment from the inventory. Then the rule that drops TCP 179, or "not visible from here".
"""

from __future__ import annotations

import functools
import ipaddress
from typing import TYPE_CHECKING, Any

from bgpdoctor.engine.firewall import port_filter
from bgpdoctor.engine.world import Unknown
from bgpdoctor.parsers import ParseError
from bgpdoctor.parsers.pcap import syn_sources
from bgpdoctor.report.model import Evidence

if TYPE_CHECKING:
    from bgpdoctor.engine.active import ActiveResults
    from bgpdoctor.engine.subject import Subject
    from bgpdoctor.engine.world import SessionEnd, World


@functools.lru_cache(maxsize=64)
def _decoded(data: bytes, syn_ack: bool = False, rst: bool = False) -> tuple[Any, ...]:
    """One host's capture decoded once, however many sessions and path hops read it."""
    return tuple(syn_sources(data, syn_ack=syn_ack, rst=rst))


def _capture_command(world: World, host: str) -> str:
    result = world.facts[host].outputs.get("capture.syn") if host in world.facts else None
    return result.command if result else "tcpdump"


def _pcap_evidence(world: World, host: str, data: bytes, syns: list[Any]) -> Evidence:
    lines = [
        f"{s.src}:{s.sport} -> {s.dst}:{s.dport} ttl={s.ttl}" + (f" on {s.iface}" if s.iface else "")
        for s in syns
    ]
    text = "\n".join(lines) if lines else "(no BGP SYN seen during the capture)"
    return Evidence(
        host=host,
        command=_capture_command(world, host),
        output=f"{len(data)} bytes of pcap decoded:\n{text}",
        note="TCP SYNs to/from port 179, decoded with scapy",
    )


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


def refused_on_wire(
    world: World, end: SessionEnd, other: SessionEnd | None, active: ActiveResults
) -> tuple[bool | None, list[Evidence]]:
    """Whether the captures show `end`'s SYNs to its peer address answered with a RST (sequence 0,
    the kernel's answer when nothing listens): "Connection refused" on the wire, for daemons like
    FRR that keep dialling without saying why it fails.

    (True, evidence) when a RST answered a SYN in the capture of either end; (False, []) when a
    capture shows the SYNs and no such RST; (None, []) when no capture shows a SYN of `end`.
    Example: refused_on_wire(world, router_end, node_end, active) -> (True, [Evidence(...)])
    """
    if end.peer is None:
        return None, []
    dialed = str(end.peer.address)
    verdict: bool | None = None
    evidence: list[Evidence] = []
    for host in dict.fromkeys(h for h in (end.host, other.host if other else None) if h):
        data = active.captures.get(host)
        if data is None or host in active.capture_errors:
            continue
        try:
            syns = [x for x in _decoded(data) if x.dst == dialed]
            rsts = list(_decoded(data, rst=True))
        except ParseError:
            continue
        if not syns:
            continue
        attempts = {(x.src, x.sport) for x in syns}
        answers = [x for x in rsts if x.src == dialed and (x.dst, x.dport) in attempts]
        if not answers:
            verdict = bool(verdict)
            continue
        verdict = True
        # a capture on `-i any` can hold one packet twice (a bridge port and its mirror)
        lines = dict.fromkeys(f"{x.src}:{x.sport} -> {x.dst}:{x.dport} RST+ACK seq 0" for x in answers)
        refused = len({x.dport for x in answers})
        evidence.append(
            Evidence(
                host=host,
                command=_capture_command(world, host),
                output=f"{len(data)} bytes of pcap decoded:\n" + "\n".join(lines),
                note=f"{refused} of {len(attempts)} SYNs to {dialed}:179 answered with a TCP reset",
            )
        )
    return verdict, evidence


def syns_between(
    world: World, hosts: list[str], addresses: set[str], active: ActiveResults
) -> tuple[bool, list[Evidence]]:
    """Whether a capture on one of the hosts shows a BGP SYN to one of the addresses (someone
    dials), with the capture quoted. (False, [...]) when the captures read show none, (False, [])
    when no capture was read.

    Example: syns_between(world, ["r1", "n1"], {"10.0.0.1", "10.0.0.2"}, active) -> (False, [Evidence(...)])
    """
    seen = False
    evidence: list[Evidence] = []
    for host in dict.fromkeys(hosts):
        data = active.captures.get(host)
        if data is None or host in active.capture_errors:
            continue
        try:
            syns = [x for x in _decoded(data) if x.dst in addresses]
        except Exception:  # a capture cut short proves nothing either way
            continue
        seen = seen or bool(syns)
        evidence.append(_pcap_evidence(world, host, data, syns))
    return seen, evidence


def syn_facts(
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
        unread = port_filter(world, s, looked)
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
