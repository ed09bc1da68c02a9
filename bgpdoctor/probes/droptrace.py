"""Trace the kernel's own packet drops (``skb:kfree_skb``, with a reason since Linux 5.17) on a host
while the active probes run, filtered to the probes' own packets.

Per host, three commands whose raw outputs are the evidence (recorded like every other fact):

1. ``droptrace.capabilities``: kernel, uid, boot id, netns inode, byte order, which of bpftrace and
   perf exist, and the tracepoint's format file (the drop reason names of *that* kernel);
2. ``droptrace.start``: starts a bounded background tracer (``timeout`` for time, an event limit or
   a small buffer for volume) under a wrapper whose ``trap`` stops it when signalled, and waits
   until it is attached;
3. ``droptrace.stop``: signals the wrapper, waits for the tracer to detach, prints its output and
   removes everything it left in ``/tmp``;
4. ``droptrace.nft.before`` / ``droptrace.nft.after`` (``nft -j list ruleset``, read-only), on every
   traced host before the probes and, where netfilter dropped probe packets, after them: the one
   drop rule whose counter rose names the rule behind NETFILTER_DROP (:func:`name_nft_rule`).

Method per host, by what it has: bpftrace (netns of the device or socket, the packet's addresses
and ports, filtered in the kernel), else perf or a tracefs instance (reason and place only, so the
host is the attribution: impossible where several inventory hosts share one kernel, as in the lab).
Where none works (no root, no tracefs, a kernel without drop reasons) the trace is unknown with
that reason. :func:`traces_from_outputs` turns the recorded outputs into :class:`DropTrace`s, the
same code for a live run and a replay.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from bgpdoctor.parsers import ParseError
from bgpdoctor.parsers.droptrace import (
    DropEvent,
    DropLog,
    parse_bpftrace_drops,
    parse_drop_reasons,
    parse_trace_drops,
)
from bgpdoctor.parsers.nft import Rule, Ruleset, parse_ruleset

Method = Literal["bpftrace", "perf", "tracefs"]
CAPABILITIES_FACT = "droptrace.capabilities"
START_FACT = "droptrace.start"
STOP_FACT = "droptrace.stop"
NFT_BEFORE_FACT = "droptrace.nft.before"
NFT_AFTER_FACT = "droptrace.nft.after"
# read-only: the rule counters around the probes tell which drop rule took the probe's packets
NFT_COMMAND = (
    "command -v nft >/dev/null 2>&1 || { echo 'nft: not installed'; exit 0; }; nft -j list ruleset 2>&1"
)
NETFILTER_DROP = "NETFILTER_DROP"
DROP_VERDICTS = ("drop", "reject")
WORK_PREFIX = "/tmp/bgpdoctor-drops."
STDERR_MARK = "--- stderr"
FORMAT_MARK = "--- format"
TIMES_MARK = "--- times"
# drops that are part of normal operation, not of a fault: a closing socket purging its queues, and
# every echo reply to a raw-socket ping, also offered to (absent) ICMP datagram sockets in ping_rcv
BENIGN_REASONS = frozenset({"QUEUE_PURGE", "SOCKET_CLOSE", "NOT_SPECIFIED"})
BENIGN_PLACES = frozenset({("NO_SOCKET", "ping_rcv")})

# `ip netns exec` runs each command in a fresh mount namespace with its own /sys, where tracefs is
# not mounted; mounting it there changes nothing outside that command (its launcher, in another
# mount namespace, never sees it). On a host's own mount namespace tracefs is never mounted.
PRIVATE_TRACEFS = (
    "a=$(stat -L -c %i /proc/self/ns/mnt 2>/dev/null); b=$(stat -L -c %i /proc/$PPID/ns/mnt 2>/dev/null); "
    'if [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ] '
    "&& [ ! -r /sys/kernel/tracing/events/skb/kfree_skb/format ]; "
    "then mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null && echo tracefs_mount=private; fi"
)

CAPABILITIES_COMMAND = "\n".join(
    [
        PRIVATE_TRACEFS,
        'echo "kernel=$(uname -r)"',
        'echo "uid=$(id -u)"',
        'echo "boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"',
        'echo "netns=$(stat -L -c %i /proc/self/ns/net 2>/dev/null)"',
        # 1 on a little-endian machine, 256 on a big-endian one
        "echo \"byte_order=$(printf '\\001\\000' | od -An -tu2 2>/dev/null | tr -d ' ')\"",
        'echo "bpftrace=$(command -v bpftrace)"',
        'echo "perf=$(command -v perf)"',
        "for t in /sys/kernel/tracing /sys/kernel/debug/tracing; do",
        '  if [ -r "$t/events/skb/kfree_skb/format" ]; then echo "tracefs=$t"; echo "--- format";'
        ' cat "$t/events/skb/kfree_skb/format"; break; fi',
        "done",
    ]
)


@dataclass(frozen=True)
class Flow:
    """Packets of one probe, matched in either direction; `a` None matches any address on that side.

    Example: Flow("192.168.191.11", "192.168.191.12", protocol=6, port=179) for a BGP session.
    """

    a: str | None
    b: str
    protocol: int
    port: int | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a host offers for tracing drops; `reasons` {} means a kernel without drop reasons."""

    kernel: str
    uid: int | None
    boot_id: str
    netns: int | None
    little_endian: bool
    bpftrace: str
    perf: str
    tracefs: str
    reasons: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TracerCost:
    """What tracing cost on the host: time until the tracer was attached, its CPU time (user+system)."""

    attach_seconds: float | None
    cpu_seconds: float | None


_ATTACH = re.compile(r"ready=yes attach_ms=([0-9]+)")
_TIMES = re.compile(r"([0-9]+)m([0-9]+(?:\.[0-9]+)?)s\s+([0-9]+)m([0-9]+(?:\.[0-9]+)?)s")


def parse_cost(start_text: str, stop_text: str) -> TracerCost:
    """Attach time from the start output, the tracer's CPU from the stop output's ``times`` (its last
    line: the children's user and system time). Example: TracerCost(attach_seconds=1.23, cpu_seconds=0.41)"""
    attach = _ATTACH.search(start_text)
    times = _TIMES.findall(stop_text.partition(TIMES_MARK)[2])
    cpu = None
    if times:
        um, us, sm, ss = times[-1]
        cpu = round(int(um) * 60 + float(us) + int(sm) * 60 + float(ss), 3)
    return TracerCost(int(attach.group(1)) / 1000 if attach else None, cpu)


@dataclass
class DropTrace:
    """One host's drop trace: its events, or why there is none.

    Example: DropTrace(host="router-home", method="bpftrace", netns=4026533079, events=[DropEvent(...,
    reason="IP_RPFILTER", location="ip_rcv_finish_core", count=12, ...)], unknown=None)
    """

    host: str
    method: Method | None
    events: list[DropEvent] = field(default_factory=list)
    netns: int | None = None
    limited: bool = False
    unknown: str | None = None
    unknown_kind: str = "not-collected"
    nft_rule: str | None = None  # the nft rule that dropped the NETFILTER_DROP packets, when it can be told
    nft_unnamed: str | None = None  # else why not: "rule not named: ..."
    cost: TracerCost | None = None  # on the host whose tracer it was (one per kernel)

    @property
    def faults(self) -> list[DropEvent]:
        """Events whose reason is not part of normal operation."""
        return [
            e
            for e in self.events
            if e.reason not in BENIGN_REASONS and (e.reason, e.location) not in BENIGN_PLACES
        ]


def parse_capabilities(text: str) -> Capabilities:
    """The output of CAPABILITIES_COMMAND. Example: Capabilities(kernel="6.18.44", uid=0, ...)."""
    head, _sep, fmt = text.partition(FORMAT_MARK + "\n")
    values: dict[str, str] = {}
    for line in head.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.isidentifier():
            values[key] = value.strip()
    if "kernel" not in values or "uid" not in values:
        raise ParseError("droptrace", "no kernel= and uid= lines in the capability output")

    def number(key: str) -> int | None:
        value = values.get(key, "")
        return int(value) if value.isascii() and value.isdigit() else None

    tracefs = values.get("tracefs", "")
    return Capabilities(
        kernel=values["kernel"],
        uid=number("uid"),
        boot_id=values.get("boot_id", ""),
        netns=number("netns"),
        little_endian=values.get("byte_order") != "256",
        bpftrace=values.get("bpftrace", ""),
        perf=values.get("perf", ""),
        tracefs=tracefs,
        reasons=parse_drop_reasons(fmt) if tracefs else {},
    )


def choose_method(caps: Capabilities, shared_kernel: bool) -> tuple[Method | None, str, str]:
    """(method, unknown kind, why not) for a host; the method is None when it cannot trace.

    Example: choose_method(caps_without_root, False) -> (None, "permission-denied",
    "tracing kernel drops needs root (uid 1000)")
    """
    if caps.uid != 0:
        return None, "permission-denied", f"tracing kernel drops needs root (uid {caps.uid})"
    if not caps.tracefs:
        return (
            None,
            "not-collected",
            "no tracefs with skb:kfree_skb (not mounted? mount -t tracefs nodev /sys/kernel/tracing)",
        )
    if not caps.reasons:
        return (
            None,
            "not-collected",
            f"kernel {caps.kernel} records no drop reasons (Linux 5.17 or later does)",
        )
    if caps.bpftrace:
        return "bpftrace", "", ""
    if shared_kernel:
        return (
            None,
            "not-collected",
            "this kernel is shared with other inventory hosts (network namespaces) and telling their "
            "drops apart needs bpftrace",
        )
    return ("perf" if caps.perf else "tracefs"), "", ""


def _word(address: str, little_endian: bool) -> int:
    """An IPv4 address as the u32 the kernel holds in memory (network order read natively)."""
    return int.from_bytes(ipaddress.IPv4Address(address).packed, "little" if little_endian else "big")


def _flow_condition(flow: Flow, little_endian: bool) -> str:
    b = _word(flow.b, little_endian)
    if flow.a is None:
        ends = f"($src == {b} || $dst == {b})"
    else:
        a = _word(flow.a, little_endian)
        ends = f"(($src == {a} && $dst == {b}) || ($src == {b} && $dst == {a})"
        # ICMP errors about a ping (frag-needed, time exceeded) come back to its source from any hop
        ends += f" || $dst == {a})" if flow.protocol == 1 else ")"
    parts = [ends, f"$proto == {flow.protocol}"]
    if flow.port is not None:
        parts.append(f"($sport == {flow.port} || $dport == {flow.port})")
    return "(" + " && ".join(parts) + ")"


def ipv4_flows(flows: list[Flow]) -> list[Flow]:
    """The flows the in-kernel filter can match (IPv4 only)."""
    kept = []
    for flow in flows:
        try:
            for address in (flow.a, flow.b):
                if address is not None:
                    ipaddress.IPv4Address(address)
        except ValueError:
            continue
        kept.append(flow)
    return list(dict.fromkeys(kept))


def bpftrace_program(flows: list[Flow], netns: list[int] | None, little_endian: bool, max_events: int) -> str:
    """A bpftrace program printing one `drop ...` line per IPv4 drop of the flows (in one of `netns`
    if given) and exiting after `max_events` (a `LIMIT` line then says so)."""
    matches = " || ".join(_flow_condition(f, little_endian) for f in ipv4_flows(flows)) or "0"
    in_netns = "(" + " || ".join(f"$ns == {n}" for n in netns) + ") && " if netns else ""
    return f"""BEGIN {{ printf("READY\\n"); }}
tracepoint:skb:kfree_skb
/ args->protocol == 0x0800 /
{{
  $skb = (struct sk_buff *)args->skbaddr;
  $ns = (uint64)0;
  if ($skb->dev != 0) {{ $ns = $skb->dev->nd_net.net->ns.inum; }}
  else if ($skb->sk != 0) {{ $ns = $skb->sk->__sk_common.skc_net.net->ns.inum; }}
  $ip = $skb->head + $skb->network_header;
  $b0 = (uint64)*(uint8 *)($ip);
  $ihl = ($b0 & 15) * 4;
  $proto = (uint64)*(uint8 *)($ip + 9);
  $src = *(uint32 *)($ip + 12);
  $dst = *(uint32 *)($ip + 16);
  $tp = (uint8 *)($ip + $ihl);
  $sport = ((uint64)*($tp) << 8) | (uint64)*($tp + 1);
  $dport = ((uint64)*($tp + 2) << 8) | (uint64)*($tp + 3);
  if (($b0 >> 4) == 4 && {in_netns}({matches})) {{
    printf("drop netns=%u reason=%d location=%s proto=%d src=%s sport=%d dst=%s dport=%d\\n",
      $ns, args->reason, ksym(args->location), $proto, ntop($src), $sport, ntop($dst), $dport);
    @events++;
    if (@events >= {max_events}) {{ printf("LIMIT\\n"); exit(); }}
  }}
}}
END {{ clear(@events); }}
"""


def _wrapper(tracer: str, before: str, after: str, seconds: float) -> str:
    """The background script: bounded tracer, stopped by INT/TERM/HUP through the trap, then cleanup."""
    grace = 300  # the dir is removed by the stop command, or by this script if nobody comes back
    return "\n".join(
        [
            'd="$1"',
            before,
            "s=; trap 'kill -INT $t 2>/dev/null; [ -z \"$s\" ] || kill $s 2>/dev/null' INT TERM HUP",
            f'timeout -s INT -k 5 {seconds:g} {tracer} >"$d/out" 2>"$d/err" </dev/null &',
            "t=$!",
            'wait $t; s=$?; while kill -0 $t 2>/dev/null; do wait $t; s=$?; done; echo "$s" >"$d/status"',
            'times >"$d/times"',  # the tracer's own CPU time (children: user, system): its cost
            after,
            ': >"$d/exited"',
            f'sleep {grace} & s=$!; wait $s; rm -rf "$d"',
        ]
    )


def start_command(
    method: Method,
    caps: Capabilities,
    flows: list[Flow],
    netns: list[int] | None,
    seconds: float,
    max_events: int,
) -> str:
    """Shell that starts the tracer in the background and prints ``dir=... pid=... ready=yes|no``."""
    tracing = caps.tracefs
    before = after = ":"
    if method == "bpftrace":
        program = bpftrace_program(flows, netns, caps.little_endian, max_events)
        setup = f"cat >\"$d/prog\" <<'BGPDOCTOR_EOF'\n{program}BGPDOCTOR_EOF\n"
        tracer, ready = '"$BPFTRACE" "$d/prog"', 'grep -q READY "$d/out" 2>/dev/null'
    elif method == "perf":
        setup = ""
        tracer = '"$PERF" record -q -e skb:kfree_skb -a --max-size=2M -o "$d/perf.data"'
        ready = '[ -s "$d/perf.data" ]'
    else:
        setup = ""
        instance = f'{tracing}/instances/bgpdoctor-drops-"$$"'
        before = (
            f'i={instance}; mkdir "$i" && echo 256 >"$i/buffer_size_kb" && '
            'echo "protocol == 2048" >"$i/events/skb/kfree_skb/filter" '
            '&& echo 1 >"$i/events/skb/kfree_skb/enable" '
            '&& : >"$d/ready"'
        )
        after = 'echo 0 >"$i/events/skb/kfree_skb/enable"; cat "$i/trace" >"$d/out"; rmdir "$i"'
        tracer, ready = "sleep 86400", '[ -e "$d/ready" ]'
    script = _wrapper(tracer, before, after, seconds)
    return "\n".join(
        [
            "t0=$(date +%s%N 2>/dev/null)",
            PRIVATE_TRACEFS + " >/dev/null",
            f"d=$(mktemp -d {WORK_PREFIX}XXXXXX) || exit 1",
            f"BPFTRACE={caps.bpftrace or 'bpftrace'}; PERF={caps.perf or 'perf'}; export BPFTRACE PERF",
            setup + f"cat >\"$d/run\" <<'BGPDOCTOR_EOF'\n{script}\nBGPDOCTOR_EOF",
            'if command -v setsid >/dev/null; then setsid sh "$d/run" "$d" </dev/null >/dev/null 2>&1 &',
            'else sh "$d/run" "$d" </dev/null >/dev/null 2>&1 & fi',
            "p=$!; n=0",
            f'while [ $n -lt 150 ]; do {ready} && break; [ -e "$d/exited" ] && break;'
            " sleep 0.1; n=$((n+1)); done",
            "t1=$(date +%s%N 2>/dev/null)",
            'case "$t0$t1" in *[!0-9]*|"") ms=;; *) ms=$(( (t1-t0)/1000000 ));; esac',
            f'if {ready}; then echo "dir=$d pid=$p ready=yes attach_ms=$ms";'
            ' else echo "dir=$d pid=$p ready=no";'
            f' kill -TERM $p 2>/dev/null; sleep 0.5; echo "{STDERR_MARK}"; cat "$d/err" 2>/dev/null;'
            ' kill -TERM -$p 2>/dev/null || kill -TERM $p 2>/dev/null; rm -rf "$d"; fi',
        ]
    )


_HANDLE = re.compile(r"dir=(/tmp/bgpdoctor-drops\.[A-Za-z0-9]+) pid=([0-9]+) ready=(yes|no)")


def parse_start(text: str) -> tuple[str, int, str]:
    """(work dir, wrapper pid, why not ready or "") from the start command's output."""
    match = _HANDLE.search(text)
    if match is None:
        raise ParseError("droptrace", f"the tracer did not start: {text.strip()[:300]!r}")
    why = "" if match.group(3) == "yes" else (text.partition(STDERR_MARK)[2].strip() or "not attached in 15s")
    return match.group(1), int(match.group(2)), why


def stop_command(method: Method, work_dir: str, pid: int) -> str:
    """Shell that stops the tracer (if it still runs), prints its events and stderr, and cleans up."""
    if not _HANDLE.fullmatch(f"dir={work_dir} pid={pid} ready=yes"):
        raise ValueError(f"not a drop trace work dir: {work_dir!r}")
    read = 'perf script -i "$d/perf.data" 2>/dev/null' if method == "perf" else 'cat "$d/out" 2>/dev/null'
    return "\n".join(
        [
            f"d={work_dir}; p={pid}",
            'if grep -q "$d" /proc/$p/cmdline 2>/dev/null; then kill -TERM $p; fi',
            'n=0; while [ ! -e "$d/exited" ] && [ -d "$d" ] && [ $n -lt 100 ];'
            " do sleep 0.1; n=$((n+1)); done",
            read,
            f'echo "{STDERR_MARK}"; cat "$d/err" 2>/dev/null; cat "$d/status" 2>/dev/null',
            f'echo "{TIMES_MARK}"; cat "$d/times" 2>/dev/null',
            'if grep -q "$d" /proc/$p/cmdline 2>/dev/null;'
            " then kill -TERM -$p 2>/dev/null || kill -TERM $p 2>/dev/null; fi",
            # stopped means gone: wait (2 s at most) for the wrapper to exit
            'n=0; while grep -q "$d" /proc/$p/cmdline 2>/dev/null && [ $n -lt 20 ];'
            " do sleep 0.1; n=$((n+1)); done",
            'rm -rf "$d"',
        ]
    )


def shared_kernels(capabilities: Mapping[str, Capabilities]) -> set[str]:
    """Hosts whose kernel (boot id) also runs another of the given hosts: network namespaces."""
    boots = Counter(c.boot_id for c in capabilities.values() if c.boot_id)
    return {h for h, c in capabilities.items() if c.boot_id and boots[c.boot_id] > 1}


@dataclass(frozen=True)
class Plan:
    """How one host's drops are traced: by its own tracer, or by the tracer of the host (`leader`)
    that shares its kernel and tells namespaces apart; `why` when it cannot be traced."""

    method: Method | None
    leader: str
    netns: int | None = None  # the host's namespace, when its kernel is shared
    kind: str = ""
    why: str = ""


def tracing_plan(capabilities: Mapping[str, Capabilities]) -> dict[str, Plan]:
    """One tracer per kernel: hosts that are namespaces of one kernel share the first one's bpftrace.

    Example: {"router-home": Plan("bpftrace", "router-home", 4026532595),
    "router-mine": Plan("bpftrace", "router-home", 4026532529), "old-router": Plan(None, "old-router",
    kind="not-collected", why="kernel 5.10 records no drop reasons (Linux 5.17 or later does)")}
    """
    shared = shared_kernels(capabilities)
    leaders: dict[str, str] = {}
    plans: dict[str, Plan] = {}
    for host in sorted(capabilities):
        caps = capabilities[host]
        method, kind, why = choose_method(caps, host in shared)
        if method is None:
            plans[host] = Plan(None, host, kind=kind, why=why)
        elif host in shared:
            plans[host] = Plan(method, leaders.setdefault(caps.boot_id, host), caps.netns)
        else:
            plans[host] = Plan(method, host)
    return plans


def tracer_namespaces(plans: Mapping[str, Plan], leader: str) -> list[int] | None:
    """The namespaces the leader's tracer filters on (None: the whole kernel is one host)."""
    spaces = sorted({p.netns for p in plans.values() if p.leader == leader and p.netns is not None})
    return spaces or None


def read_log(method: Method, host: str, caps: Capabilities, output: str) -> DropLog:
    """The stop command's output (events, then STDERR_MARK and the tracer's stderr) as a DropLog."""
    events_text = output.partition(STDERR_MARK)[0]
    if method == "bpftrace":
        return parse_bpftrace_drops(events_text, host, caps.reasons)
    return parse_trace_drops(events_text, host)


def traces_from_outputs(outputs: Mapping[str, Mapping[str, str]]) -> dict[str, DropTrace]:
    """Each host's DropTrace from the recorded droptrace.* outputs (host -> fact -> stdout text).

    A host whose outputs cannot be read gets an unknown trace with the reason, never an exception.
    Example: traces_from_outputs({"r1": {"droptrace.capabilities": "...", ...}})["r1"].events
    """
    capabilities: dict[str, Capabilities] = {}
    traces: dict[str, DropTrace] = {}
    for host, facts in outputs.items():
        if CAPABILITIES_FACT not in facts:
            continue
        try:
            capabilities[host] = parse_capabilities(facts[CAPABILITIES_FACT])
        except ParseError as exc:
            traces[host] = DropTrace(host, None, unknown=f"{host}: {exc}", unknown_kind="parse-error")
    plans = tracing_plan(capabilities)
    logs: dict[str, DropLog | tuple[str, str]] = {}  # leader -> its log, or (unknown kind, why)
    costs: dict[str, TracerCost] = {}
    for leader in sorted({p.leader for p in plans.values() if p.method is not None}):
        method = plans[leader].method
        assert method is not None
        facts = outputs[leader]
        members = [h for h, p in plans.items() if p.leader == leader]
        where = f" (the tracer on {leader})" if members != [leader] else ""
        try:
            if START_FACT not in facts:
                raise _NotTraced(f"the tracer was not started{where}")
            _dir, _pid, not_ready = parse_start(facts[START_FACT])
            if not_ready:
                raise _NotTraced(f"{method} did not attach{where}: {not_ready[:300]}")
            if STOP_FACT not in facts:
                raise _NotTraced(f"the tracer's output was not read{where}")
            logs[leader] = read_log(method, leader, capabilities[leader], facts[STOP_FACT])
            costs[leader] = parse_cost(facts[START_FACT], facts[STOP_FACT])
        except _NotTraced as exc:
            logs[leader] = ("failed", str(exc))
        except ParseError as exc:
            logs[leader] = ("parse-error", f"{exc}{where}")
    for host, plan in plans.items():
        if plan.method is None:
            traces[host] = DropTrace(host, None, unknown=f"{host}: {plan.why}", unknown_kind=plan.kind)
            continue
        log = logs[plan.leader]
        if isinstance(log, tuple):
            traces[host] = DropTrace(
                host, plan.method, netns=plan.netns, unknown=f"{host}: {log[1]}", unknown_kind=log[0]
            )
            continue
        events = [replace(e, host=host) for e in log.events if plan.netns is None or e.netns == plan.netns]
        trace = traces[host] = DropTrace(
            host, plan.method, events, netns=plan.netns, limited=log.limited, cost=costs.get(host)
        )
        if any(e.reason == NETFILTER_DROP for e in trace.faults):
            facts = outputs[host]
            trace.nft_rule, trace.nft_unnamed = name_nft_rule(
                facts.get(NFT_BEFORE_FACT), facts.get(NFT_AFTER_FACT)
            )
    return traces


class _NotTraced(Exception):
    pass


def _rule_key(rule: Rule) -> tuple[str, str, str, int | None]:
    return rule.family, rule.table, rule.chain, rule.handle


def describe_rule(rule: Rule) -> str:
    """Example: 'inet bdp_fault input handle 4: ip saddr 192.168.0.81 tcp dport 179 drop (comment "fault")'"""
    comment = f' (comment "{rule.comment}")' if rule.comment else ""
    return f"{rule.family} {rule.table} {rule.chain} handle {rule.handle}: {rule.matches}{comment}"


def _ruleset(text: str | None, when: str) -> Ruleset | str:
    """The parsed ruleset, or why there is none (a sentence for "rule not named: ...")."""
    if text is None:
        return f"the nft ruleset was not read {when} the probes"
    if text.startswith("nft: not installed"):
        return "nft is not installed (iptables-legacy rules cannot be told apart here)"
    try:
        return parse_ruleset(text)
    except ParseError as exc:
        return f"the nft ruleset read {when} the probes is unreadable ({str(exc)[:160]})"


def name_nft_rule(before_text: str | None, after_text: str | None) -> tuple[str | None, str | None]:
    """(the drop rule whose counter rose while the probes ran, None) or (None, "rule not named: why").

    Read-only: it compares two ``nft -j list ruleset`` outputs, so it sees only rules with a drop or
    reject verdict and a counter; a chain's drop policy has no counter.
    Example: name_nft_rule(before, after) -> ("inet fw input handle 4: tcp dport 179 drop", None)
    """
    before, after = _ruleset(before_text, "before"), _ruleset(after_text, "after")
    if isinstance(before, str) or isinstance(after, str):
        return None, f"rule not named: {before if isinstance(before, str) else after}"
    earlier = {_rule_key(r): r.counter_packets for r in before.rules}
    dropping = [r for r in after.rules if r.verdict in DROP_VERDICTS]
    counted = [r for r in dropping if r.counter_packets is not None]
    rose = [
        r
        for r in counted
        if (was := earlier.get(_rule_key(r))) is not None
        and r.counter_packets is not None
        and r.counter_packets > was
    ]
    if len(rose) == 1:
        return describe_rule(rose[0]), None
    if rose:
        names = "; ".join(describe_rule(r) for r in rose[:4])
        return None, f"rule not named: {len(rose)} drop rules counted packets while the probes ran ({names})"
    uncounted = len(dropping) - len(counted)
    policies = [f"{c.family} {c.table} {c.name}" for c in after.chains if c.policy == "drop"]
    others = []
    if uncounted:
        others.append(f"{uncounted} drop rule{'s' if uncounted > 1 else ''} without a counter")
    if policies:
        others.append(f"the drop policy of {', '.join(policies)} (a policy has no counter)")
    if others:
        return None, f"rule not named: no counted drop rule rose; it was one of: {'; '.join(others)}"
    return (
        None,
        "rule not named: no nft rule or policy drops here (another netfilter table, e.g. iptables-legacy?)",
    )


def drop_facts(trace: DropTrace) -> dict[str, Any]:
    """Per-host facts for checks and playbooks (only meaningful when ``trace.unknown`` is None).

    Example: {"drop_reasons": [{"host": "router-home", "reason": "IP_RPFILTER", "count": 12, ...}],
    "drop_reason_names": ["IP_RPFILTER"], "drop_count": 12, "drop_trace_method": "bpftrace",
    "drop_trace_limited": False}
    """
    faults = trace.faults
    return {
        "drop_reasons": [e.to_dict() for e in faults],
        "drop_reason_names": sorted({e.reason for e in faults}),
        "drop_count": sum(e.count for e in faults),
        "drop_trace_method": trace.method,
        "drop_trace_limited": trace.limited,
    }


RunOnHost = Callable[[str, str, str, float], str]  # (host, fact, command, timeout) -> stdout


class DropTracing:
    """Start drop tracers on hosts before probes and stop them after; the outputs it keeps are the
    same ones a recording holds, read by traces_from_outputs.

    Example: tracing = DropTracing(run, flows, 120, 1000); tracing.start(["r1", "r2"]); ...probes...;
    tracing.stop() -> {"r1": DropTrace(...), "r2": DropTrace(...)}
    """

    def __init__(self, run: RunOnHost, flows: list[Flow], seconds: float, max_events: int) -> None:
        self.run = run
        self.flows = flows
        self.seconds = seconds
        self.max_events = max_events
        self.outputs: dict[str, dict[str, str]] = {}
        self.started: dict[str, tuple[Method, str, int]] = {}

    def _each(self, hosts: list[str], job: Callable[[str], None]) -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:
            for future in [pool.submit(job, h) for h in hosts]:
                future.exception()  # a host whose command failed is unknown later, from its outputs

    def start(self, hosts: list[str]) -> None:
        def capabilities(host: str) -> None:
            text = self.run(host, CAPABILITIES_FACT, CAPABILITIES_COMMAND, 10.0)
            self.outputs[host] = {CAPABILITIES_FACT: text}

        self._each(hosts, capabilities)
        parsed: dict[str, Capabilities] = {}
        for host, facts in self.outputs.items():
            try:
                parsed[host] = parse_capabilities(facts[CAPABILITIES_FACT])
            except ParseError:
                continue
        plans = tracing_plan(parsed)

        def start(host: str) -> None:
            method = plans[host].method
            assert method is not None
            netns = tracer_namespaces(plans, host)
            command = start_command(method, parsed[host], self.flows, netns, self.seconds, self.max_events)
            text = self.outputs[host][START_FACT] = self.run(host, START_FACT, command, 25.0)
            try:
                work_dir, pid, not_ready = parse_start(text)
            except ParseError:
                return
            if not not_ready:
                self.started[host] = (method, work_dir, pid)

        def ruleset_before(host: str) -> None:
            self.outputs[host][NFT_BEFORE_FACT] = self.run(host, NFT_BEFORE_FACT, NFT_COMMAND, 10.0)

        self._each(sorted(h for h, p in plans.items() if p.method is not None), ruleset_before)
        self._each(sorted(h for h, p in plans.items() if p.method is not None and p.leader == h), start)

    def stop(self) -> dict[str, DropTrace]:
        def stop(host: str) -> None:
            method, work_dir, pid = self.started[host]
            command = stop_command(method, work_dir, pid)
            self.outputs[host][STOP_FACT] = self.run(host, STOP_FACT, command, 30.0)

        def ruleset_after(host: str) -> None:
            self.outputs[host][NFT_AFTER_FACT] = self.run(host, NFT_AFTER_FACT, NFT_COMMAND, 10.0)

        self._each(sorted(self.started), stop)
        traces = traces_from_outputs(self.outputs)
        # the counters are read again only where netfilter dropped probe packets
        netfilter = [
            h
            for h, t in traces.items()
            if NFT_BEFORE_FACT in self.outputs.get(h, {})
            and any(e.reason == NETFILTER_DROP for e in t.faults)
        ]
        if not netfilter:
            return traces
        self._each(netfilter, ruleset_after)
        return traces_from_outputs(self.outputs)
