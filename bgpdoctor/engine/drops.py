"""The kernel's own reasons for dropping probe packets (skb:kfree_skb), attached where they prove a cause.

The drop tracer (bgpdoctor/probes/droptrace.py) runs on every host that allows it while the active
probes run (`bgpdoctor run --trace-drops`). Here each host gets its reasons as facts, and each path,
session and kubelet subject gets the drops of its own packets on the hosts that can cause its
symptoms: `kernel_drops` (["IP_RPFILTER on router-home"]) and `kernel_proof`, the sentence a
diagnosis quotes as its strongest evidence. A host subject gets them from its own drops that indict
the host itself (forwarding off: IP_INADDRERRORS; its firewall; nobody on a service port:
NO_SOCKET). For NETFILTER_DROP the sentence names the nft rule whose counter rose during the
probes, or says "rule not named: <why>". A host that could not be traced makes those facts unknown
with the reason, never "no drop".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, get_args

from bgpdoctor.engine.world import Unknown, UnknownKind, World
from bgpdoctor.parsers.droptrace import DropEvent
from bgpdoctor.probes.droptrace import NETFILTER_DROP, DropTrace
from bgpdoctor.report.model import Evidence

if TYPE_CHECKING:
    from bgpdoctor.engine.active import ActiveResults
    from bgpdoctor.engine.subject import Subject


def _netfilter_rule(trace: DropTrace) -> str | None:
    """'nft rule inet fw input handle 4: tcp dport 179 drop', or 'rule not named: <why>'."""
    if trace.nft_rule:
        return f"nft rule {trace.nft_rule}"
    return trace.nft_unnamed


def _evidence(trace: DropTrace, events: list[DropEvent]) -> Evidence:
    lines = [
        f"{e.reason} at {e.location} x{e.count}"
        + (f" {e.src}:{e.sport or '-'} -> {e.dst}:{e.dport or '-'}" if e.src and e.dst else "")
        for e in events
    ]
    rule = _netfilter_rule(trace)
    if rule and any(e.reason == NETFILTER_DROP for e in events):
        lines.append(f"NETFILTER_DROP: {rule}")
    return Evidence(
        host=trace.host,
        command=f"{trace.method or 'drop trace'} skb:kfree_skb",
        output="\n".join(lines) or "(no drop of probe packets)",
        note="the kernel's own reason for each dropped probe packet",
    )


def host_drop_facts(s: Subject, active: ActiveResults, name: str) -> None:
    """drop_reason_names and drop_count of one host; unknown when its trace could not run."""
    trace = active.drops.get(name)
    if trace is None:
        return
    if trace.unknown is not None:
        kind: UnknownKind = trace.unknown_kind if trace.unknown_kind in get_args(UnknownKind) else "failed"  # type: ignore[assignment]
        why = Unknown(kind, trace.unknown)
        for fact in ("drop_reason_names", "drop_count", "kernel_drops"):
            s.unknown(fact, why)
        return
    faults = trace.faults
    ev = _evidence(trace, faults)
    s.add("drop_reason_names", sorted({e.reason for e in faults}), ev)
    s.add("drop_count", sum(e.count for e in faults))
    own = [e for e in faults if _says_about_the_host(e)]
    if own:
        s.add("kernel_drops", sorted({f"{e.reason} on {name}" for e in own}), _evidence(trace, own))
        s.add("kernel_proof", _proof({name: own}, active))
    else:
        s.add("kernel_drops", [])


# reasons that indict the dropping host's own configuration (forwarding off, rp_filter, its firewall,
# its MD5 keys or TTL security, its IPsec policy, nobody on a service port). A missing route
# (IP_INNOROUTES) is left out: on a host it is as often the consequence of a session down elsewhere.
HOST_PROOF_REASONS = frozenset(
    {
        "IP_INADDRERRORS",
        "IP_RPFILTER",
        "NETFILTER_DROP",
        "TCP_MD5NOTFOUND",
        "TCP_MD5UNEXPECTED",
        "TCP_MD5FAILURE",
        "TCP_MINTTL",
        "XFRM_POLICY",
        "NO_SOCKET",
    }
)
ICMP_ERRORS = frozenset({3, 11, 12})  # destination unreachable (frag-needed), time exceeded, parameter
EPHEMERAL_PORTS = 32768  # Linux's default ip_local_port_range starts here


def _says_about_the_host(e: DropEvent) -> bool:
    """A drop caused by the dropping host's own state: quoted as proof of a cause on that host.
    NO_SOCKET counts for a service port only (a late answer to a closed ephemeral socket is no fault)."""
    if e.reason not in HOST_PROOF_REASONS or e.src is None:
        return False  # (a tracer that cannot see the packet, tracefs or perf, cannot say it was a probe's)
    return e.reason != "NO_SOCKET" or (e.protocol == 6 and e.dport is not None and e.dport < EPHEMERAL_PORTS)


def _ours(e: DropEvent, addresses: set[str], ports: set[int] | None) -> bool:
    if e.src is None or e.dst is None:
        return False  # a tracer that cannot see the packet cannot say whose it was
    if ports is None and e.icmp_type in ICMP_ERRORS and e.dst in addresses:
        return True  # an ICMP error about a ping, from a hop on the way back to its source
    if ports is not None and not ({e.sport, e.dport} & ports):
        return False
    if e.reason == "NO_SOCKET" and ports is not None and e.dport not in ports:
        return False  # an answer arriving after its socket closed, not a port nobody listens on
    return {e.src, e.dst} <= addresses


def _telling(e: DropEvent, s: Subject) -> bool:
    """PKT_TOO_BIG is how path-MTU discovery works (the router answers "fragmentation needed"): it
    tells something only on a path whose MTU sweep found a black hole."""
    return e.reason != "PKT_TOO_BIG" or s.facts.get("mtu_blackhole") is True


def _flows(world: World, s: Subject) -> tuple[set[str], set[int] | None] | None:
    if s.kind == "path":
        src, dst = s.facts.get("src_ip"), s.facts.get("dst_ip")
        return ({str(src), str(dst)}, None) if src and dst else None
    if s.kind == "session":
        addresses = {a.address for h in s.hosts if h in world.facts for a in world.addresses(h)}
        return (addresses, {179}) if addresses else None
    if s.kind == "kubelet":
        addresses = {a.address for h in s.related if h in world.facts for a in world.addresses(h)}
        return (addresses, {world.inv.vantage.kubelet_port}) if addresses else None
    return None


def subject_proof(world: World, s: Subject, active: ActiveResults) -> None:
    """kernel_drops and kernel_proof of a path, session or kubelet subject whose packets were dropped."""
    if not active.drops:
        return
    flows = _flows(world, s)
    if flows is None:
        return
    addresses, ports = flows
    found: list[tuple[str, DropEvent]] = []
    untraced: list[str] = []
    for host in s.related:
        trace = active.drops.get(host)
        if trace is None or trace.unknown is not None:
            untraced.append(host)
            continue
        found += [(host, e) for e in trace.faults if _ours(e, addresses, ports) and _telling(e, s)]
    if not found:
        if untraced:  # "no drop" is said only about hosts that were traced
            s.unknown("kernel_drops", Unknown("not-collected", f"no drop trace on {', '.join(untraced)}"))
        else:
            s.add("kernel_drops", [])
        return
    by_host: dict[str, list[DropEvent]] = {}
    for host, e in found:
        by_host.setdefault(host, []).append(e)
    most_first = sorted(by_host.items(), key=lambda item: -sum(e.count for e in item[1]))
    evidence = [_evidence(active.drops[h], es) for h, es in most_first]
    s.add("kernel_drops", sorted({f"{e.reason} on {h}" for h, e in found}), *evidence)
    s.add("kernel_proof", _proof(by_host, active))


def _proof(by_host: dict[str, list[DropEvent]], active: ActiveResults) -> str:
    """Example: 'the kernel on router-mine dropped 5 x NETFILTER_DROP at nft_do_chain (nft rule inet
    fw input handle 4: tcp dport 179 drop); the kernel on router-home dropped 1 x IP_RPFILTER at ...'"""
    parts = []
    ordered = sorted(by_host.items(), key=lambda item: -sum(e.count for e in item[1]))
    for host, events in ordered:
        reasons: dict[str, int] = {}
        for e in events:
            key = f"{e.reason} at {e.location}"
            reasons[key] = reasons.get(key, 0) + e.count
        rule = _netfilter_rule(active.drops[host])
        said = ", ".join(
            f"{n} x {r}" + (f" ({rule})" if rule and r.startswith(NETFILTER_DROP + " ") else "")
            for r, n in sorted(reasons.items(), key=lambda x: -x[1])
        )
        parts.append(f"the kernel on {host} dropped {said}")
    return "; ".join(parts)
