"""Parser for /proc/net/netstat (the counters `nstat` reads), without writing nstat's history file.

Input (pairs of header and value lines per protocol):
    TcpExt: SyncookiesSent SyncookiesRecv ... TCPMD5NotFound TCPMD5Unexpected ...
    TcpExt: 0 0 ... 3 0 ...
    IpExt: InNoRoutes ...
    IpExt: 0 ...
Output: {"TcpExtTCPMD5NotFound": 3, "TcpExtTCPMD5Unexpected": 0, "IpExtInNoRoutes": 0, ...}
"""

from __future__ import annotations

from bgpdoctor.parsers import ParseError, to_int


def parse_proc_netstat(text: str) -> dict[str, int]:
    counters: dict[str, int] = {}
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) % 2:
        raise ParseError("netstat", "header and value lines do not pair up")
    for header, values in zip(lines[::2], lines[1::2], strict=True):
        hp, _, names = header.partition(":")
        vp, _, numbers = values.partition(":")
        if hp != vp:
            raise ParseError("netstat", f"header {hp!r} followed by values of {vp!r}")
        keys, nums = names.split(), numbers.split()
        if len(keys) != len(nums):
            raise ParseError("netstat", f"{hp}: {len(keys)} names but {len(nums)} values")
        for key, num in zip(keys, nums, strict=True):
            counters[f"{hp}{key}"] = to_int(num, "netstat", f"{hp}{key}")
    return counters
