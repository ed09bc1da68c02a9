"""Parser for ``cilium-dbg monitor --type drop`` (``cilium monitor`` before 1.15), run for a few seconds.

Each drop is one line (the header lines and anything else are skipped; the drop line is cut in two
here only)::

    Listening for events on 64 CPUs with 64x4096 of shared memory
    Press Ctrl-C to quit
    xx drop (FIB lookup failed, 4) flow 0x0 to endpoint 0, ifindex 597, file bpf_lxc.c:1272, ,
        identity 33378->world: 10.234.128.226 -> 169.254.169.254 EchoRequest

becomes ``[CiliumDrop(reason="FIB lookup failed", src="10.234.128.226", sport=None,
dst="169.254.169.254", dport=None, summary="EchoRequest", ifindex=597, source_file="bpf_lxc.c:1272",
identities="33378->world")]``. TCP and UDP drops carry ports: ``10.0.0.1:39677 -> 10.0.0.2:179 tcp
SYN``, ``[::1]:39677 -> [::1]:179 tcp SYN`` for IPv6.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bgpdoctor.parsers import ParseError

PARSER = "cilium-dbg monitor"
_DROP = re.compile(
    r"^xx drop \((?P<reason>[^)]*)\)(?P<meta>.*?)(?:, identity (?P<ids>\S+))?: "
    r"(?P<src>\S+) -> (?P<dst>\S+)(?: (?P<summary>.*))?$"
)
_IFINDEX = re.compile(r"ifindex (\d+)")
_FILE = re.compile(r"file (\S+?),")
_HOSTPORT = re.compile(r"^\[(?P<v6>[0-9a-fA-F:.%]+)\]:(?P<v6port>\d+)$|^(?P<v4>[0-9.]+):(?P<v4port>\d+)$")


@dataclass
class CiliumDrop:
    reason: str
    src: str
    sport: int | None
    dst: str
    dport: int | None
    summary: str
    ifindex: int | None = None
    source_file: str = ""
    identities: str = ""
    line: str = ""


def _split(endpoint: str) -> tuple[str, int | None]:
    m = _HOSTPORT.match(endpoint)
    if m is None:
        return endpoint.strip("[]"), None
    if m.group("v6"):
        return m.group("v6"), int(m.group("v6port"))
    return m.group("v4"), int(m.group("v4port"))


def parse_drops(text: str) -> list[CiliumDrop]:
    drops = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.startswith("xx drop"):
            continue
        m = _DROP.match(line.rstrip())
        if m is None:
            raise ParseError(PARSER, f"line {n}: a drop line without 'SRC -> DST': {line[:100]!r}")
        src, sport = _split(m.group("src"))
        dst, dport = _split(m.group("dst"))
        ifindex = _IFINDEX.search(m.group("meta"))
        source = _FILE.search(m.group("meta") + ",")
        drops.append(
            CiliumDrop(
                reason=m.group("reason").split(",")[0].strip(),
                src=src,
                sport=sport,
                dst=dst,
                dport=dport,
                summary=m.group("summary") or "",
                ifindex=int(ifindex.group(1)) if ifindex else None,
                source_file=source.group(1) if source else "",
                identities=m.group("ids") or "",
                line=line.rstrip(),
            )
        )
    return drops
