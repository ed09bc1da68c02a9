"""Path MTU sweep with `ping -M do`: a binary search, not a linear walk.

Each probe is classified by bgpdoctor.parsers.ping: a reply, a local "message too long" (the
sender already knows a smaller MTU), an ICMP "frag needed" from a router (PMTU discovery works),
or silent loss (nothing came back: a black hole if it happens only above some size).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bgpdoctor.parsers.ping import PingResult, parse_ping

IP_ICMP_HEADERS = 28  # 20 bytes IPv4 + 8 bytes ICMP: ping -s takes the payload size
IP6_ICMP6_HEADERS = 48  # 40 bytes IPv6 + 8 bytes ICMPv6
MIN_SIZE = 576  # every IPv4 path must carry this


@dataclass
class Probe:
    size: int  # IP packet size
    outcome: str
    mtu_hint: int | None
    raw: str


@dataclass
class SweepResult:
    """Example: SweepResult(start=1500, path_mtu=1380, silent_above=1381, frag_needed_mtu=None, ...)"""

    start: int  # the size the sender's interface allows
    path_mtu: int | None  # largest size that got a reply (None: not even MIN_SIZE did)
    silent_above: int | None  # smallest size lost without any ICMP, if any
    frag_needed_mtu: int | None  # MTU a router reported with ICMP frag-needed
    frag_needed_from: str | None
    local_mtu: int | None  # MTU the sender already knew (local "message too long")
    probes: list[Probe] = field(default_factory=list)
    candidates: list[int] = field(default_factory=list)  # interface MTUs on the path, tried first
    budgeted: bool = False  # searched within a SweepBudget (a replay must search the same way)

    @property
    def blackhole(self) -> bool:
        return self.silent_above is not None and self.path_mtu is not None


# the shortest interval between pings iputils before 20210202 allows a user who is not root
USER_PING_INTERVAL = 0.2
# a DF probe's interval: with one packet, it bounds how long ping lingers after a local "message
# too long" (the kernel already caches a smaller path MTU), which otherwise waits the whole -W
# although no answer can come (measured: 1.00 s at -W 1, 0.2 s with this)
LOCAL_ERROR_WAIT = USER_PING_INTERVAL


def ping_command(src_ip: str | None, dst_ip: str, size: int, wait: float) -> str:
    """Example: ping_command("10.42.3.1", "10.42.0.1", 1420, 0.2)
    -> "ping -n -M do -c 1 -i 0.2 -W 0.2 -s 1392 -I 10.42.3.1 10.42.0.1" """
    source = f" -I {shlex.quote(src_ip)}" if src_ip else ""
    v6 = ":" in dst_ip  # IPv6: 40 + 8 bytes of headers, and ping must be told the family
    payload = size - (IP6_ICMP6_HEADERS if v6 else IP_ICMP_HEADERS)
    family = " -6" if v6 else ""
    return (
        f"ping{family} -n -M do -c 1 -i {LOCAL_ERROR_WAIT:g} -W {wait:g} -s {payload}{source} "
        f"{shlex.quote(dst_ip)}"
    )


@dataclass(frozen=True)
class SweepBudget:
    """Limits of one direction's search: probes sent and probes lost without any answer (each one
    costs a full wait). Example: SweepBudget.for_range(1500) -> SweepBudget(max_probes=11, max_silent=2)."""

    max_probes: int
    max_silent: int = 2

    @classmethod
    def for_range(cls, start: int) -> SweepBudget:
        return cls(max_probes=math.floor(math.log2(max(2, start - MIN_SIZE))) + 2)


def probe_wait(rtt_ms: float | None, default: float = 1.0) -> float:
    """How long one DF ping waits for its answer: a few round trips (measured by the pod ping),
    never under 0.2 s (ping's own timer granularity plus scheduling), never over `default`.

    Example: probe_wait(0.3) -> 0.2; probe_wait(120.0) -> 0.6; probe_wait(None) -> 1.0
    """
    if rtt_ms is None or rtt_ms <= 0:
        return default
    return round(min(default, max(0.2, 5 * rtt_ms / 1000)), 2)


class _BudgetSpent(Exception):
    pass


def sweep(
    send: Callable[[int], tuple[PingResult, str]],
    start: int,
    candidates: Sequence[int] = (),
    budget: SweepBudget | None = None,
) -> SweepResult:
    """Find the largest IP packet size that reaches the destination.

    `send(size)` runs one DF ping of that IP size and returns the parsed result and raw text.
    Local and ICMP MTU hints shrink the upper bound at once. After a silent loss, the minimum size
    is tried (does anything get through?), then `candidates` (the MTUs of the interfaces on the
    path), smallest first, each with the size one above it; then silent loss bisects. With a
    `budget`, the search stops once it is spent and reports the bounds it proved (path_mtu got a
    reply, silent_above did not). Without one (a recording made before budgets), the search runs as
    it always did, so the probe sequence and the result of every existing recording are unchanged.
    """
    result = SweepResult(start, None, None, None, None, None, candidates=sorted(set(candidates)))
    result.budgeted = budget is not None

    def probe(size: int) -> PingResult:
        if budget is not None and (
            len(result.probes) >= budget.max_probes
            or sum(p.outcome == "silent-loss" for p in result.probes) >= budget.max_silent
        ):
            raise _BudgetSpent
        parsed, raw = send(size)
        hint = parsed.local_error_mtu or parsed.frag_needed_mtu
        result.probes.append(Probe(size, parsed.outcome, hint, raw))
        if parsed.outcome == "frag-needed":
            result.frag_needed_mtu = parsed.frag_needed_mtu
            result.frag_needed_from = parsed.frag_needed_from
        if parsed.outcome == "local-too-big":
            result.local_mtu = parsed.local_error_mtu
        return parsed

    hi = start
    try:
        # Follow MTU hints (a router's frag-needed, then the kernel's cached PMTU) a few times.
        for _ in range(4):
            first = probe(hi)
            if first.outcome == "reply":
                result.path_mtu = hi
                return result
            hint = first.local_error_mtu or first.frag_needed_mtu
            if first.outcome in ("local-too-big", "frag-needed") and hint and hint < hi:
                hi = hint
                continue
            break
    except _BudgetSpent:
        return result
    last = result.probes[-1]
    if last.outcome != "silent-loss":
        # unreachable, time exceeded or an error: not an MTU question
        return result
    lost = hi
    ok: int | None = None

    def shrink(r: PingResult, size: int) -> int:
        if r.outcome in ("local-too-big", "frag-needed") and (r.local_error_mtu or r.frag_needed_mtu):
            return min(size, (r.local_error_mtu or r.frag_needed_mtu or size) + 1)
        return size

    try:
        if budget is not None or result.candidates:
            # something must get through first: then each silent loss below is about size
            if probe(MIN_SIZE).outcome != "reply":
                return result  # nothing gets through at all: not an MTU problem
            ok = MIN_SIZE
        for c in (c for c in result.candidates if MIN_SIZE < c < lost):
            r = probe(c)
            if r.outcome != "reply":
                lost = shrink(r, c)
                break
            ok = c
            if c + 1 < lost:
                above = probe(c + 1)
                if above.outcome != "reply":
                    lost = shrink(above, c + 1)
                    break
                ok = c + 1
        if ok is None:
            if probe(MIN_SIZE).outcome != "reply":
                return result  # nothing gets through at all: not an MTU problem
            ok = MIN_SIZE
        while lost - ok > 1:
            mid = (ok + lost) // 2
            r = probe(mid)
            if r.outcome == "reply":
                ok = mid
            else:
                lost = shrink(r, mid)
    except _BudgetSpent:
        if ok is None:
            return result
    result.path_mtu = ok
    result.silent_above = lost
    return result


def run_sweep(
    run: Callable[[str], tuple[str, int | None]],
    src_ip: str | None,
    dst_ip: str,
    start: int,
    wait: float = 1.0,
    candidates: Sequence[int] = (),
    rtt_ms: float | None = None,
) -> SweepResult:
    """Sweep over a host connection; `run(command)` returns (output, exit status).

    It waits `probe_wait(rtt_ms, wait)` per probe; without `rtt_ms`, the first reply's round trip
    sets the wait of the probes after it. Given the path's interface MTUs (`candidates`)
    the search is budgeted (SweepBudget.for_range): the candidates pin the black hole in a few
    probes. Without them a budget would stop at bounds instead of the exact path MTU the fixes are
    written with, so the search runs to the end.
    """
    timeout = probe_wait(rtt_ms, wait)
    measured = rtt_ms is not None and rtt_ms > 0

    def send(size: int) -> tuple[PingResult, str]:
        nonlocal timeout, measured
        command = ping_command(src_ip, dst_ip, size, timeout)
        text, _status = run(command)
        parsed = parse_ping(text)
        if not measured and parsed.outcome == "reply" and parsed.rtt_avg_ms:
            timeout, measured = probe_wait(parsed.rtt_avg_ms, wait), True
        return parsed, f"$ {command}\n{text.rstrip()}"

    return sweep(send, start, candidates, SweepBudget.for_range(start) if candidates else None)
