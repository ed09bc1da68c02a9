"""Path MTU sweep with `ping -M do`: a binary search, not a linear walk.

Each probe is classified by bgpdoctor.parsers.ping: a reply, a local "message too long" (the
sender already knows a smaller MTU), an ICMP "frag needed" from a router (PMTU discovery works),
or silent loss (nothing came back: a black hole if it happens only above some size).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from bgpdoctor.parsers.ping import PingResult, parse_ping

IP_ICMP_HEADERS = 28  # 20 bytes IPv4 + 8 bytes ICMP: ping -s takes the payload size
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

    @property
    def blackhole(self) -> bool:
        return self.silent_above is not None and self.path_mtu is not None


def ping_command(src_ip: str | None, dst_ip: str, size: int, wait: float) -> str:
    source = f" -I {shlex.quote(src_ip)}" if src_ip else ""
    payload = size - IP_ICMP_HEADERS
    return f"ping -n -M do -c 1 -W {wait:g} -s {payload}{source} {shlex.quote(dst_ip)}"


def sweep(send: Callable[[int], tuple[PingResult, str]], start: int) -> SweepResult:
    """Find the largest IP packet size that reaches the destination.

    `send(size)` runs one DF ping of that IP size and returns the parsed result and raw text.
    Local and ICMP MTU hints shrink the upper bound at once; silent loss bisects.
    """
    result = SweepResult(start, None, None, None, None, None)

    def probe(size: int) -> PingResult:
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
    last = result.probes[-1]
    if last.outcome != "silent-loss":
        # unreachable, time exceeded or an error: not an MTU question
        return result
    lost = hi
    low_probe = probe(MIN_SIZE)
    if low_probe.outcome != "reply":
        return result  # nothing gets through at all: not an MTU problem
    ok = MIN_SIZE
    while lost - ok > 1:
        mid = (ok + lost) // 2
        r = probe(mid)
        if r.outcome == "reply":
            ok = mid
        elif r.outcome in ("local-too-big", "frag-needed") and (r.local_error_mtu or r.frag_needed_mtu):
            lost = min(mid, (r.local_error_mtu or r.frag_needed_mtu or mid) + 1)
        else:
            lost = mid
    result.path_mtu = ok
    result.silent_above = lost
    return result


def run_sweep(
    run: Callable[[str], tuple[str, int | None]],
    src_ip: str | None,
    dst_ip: str,
    start: int,
    wait: float = 1.0,
) -> SweepResult:
    """Sweep over a host connection; `run(command)` returns (output, exit status)."""

    def send(size: int) -> tuple[PingResult, str]:
        command = ping_command(src_ip, dst_ip, size, wait)
        text, _status = run(command)
        return parse_ping(text), f"$ {command}\n{text.rstrip()}"

    return sweep(send, start)
