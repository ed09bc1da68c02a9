"""Parser for ``wg show all endpoints`` (wireguard-tools).

Collected as `command -v wg >/dev/null 2>&1 && wg show all endpoints || true`: an empty output is
a host without WireGuard. Only public keys and endpoints are printed; never ask `wg` for `dump`,
`showconf` or `private-key`, which print the interface's private key.

Input (one peer a line: interface, peer public key, endpoint or "(none)"; wg names the interface
on its first peer's line only, the next peers' lines have two fields)::

    wg0\tbkKlJ2fH6lqRqG5Zg8JXQm3n3n2Bfn8E3v4zZyXyVnE=\t10.42.1.7:51820
    xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\t(none)

Output::

    [WgEndpoint(interface="wg0", peer_key="bkKl...VnE=", endpoint="10.42.1.7:51820"),
     WgEndpoint(interface="wg0", peer_key="xTIB...8Dg=", endpoint=None)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bgpdoctor.parsers import ParseError

PARSER = "wireguard"
_KEY = re.compile(r"^[A-Za-z0-9+/]{42,43}=?$")


@dataclass
class WgEndpoint:
    interface: str
    peer_key: str  # a public key: safe to show
    endpoint: str | None  # "ip:port" ("[v6]:port"), None when the peer has none yet


def parse_endpoints(text: str) -> list[WgEndpoint]:
    out = []
    interface: str | None = None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) == 2 and interface is not None:
            parts = [interface, *parts]
        if len(parts) != 3 or not parts[0] or not _KEY.match(parts[1]):
            raise ParseError(PARSER, f"line {n}: not 'interface<TAB>public key<TAB>endpoint': {line[:80]!r}")
        interface = parts[0]
        endpoint = parts[2].strip()
        out.append(WgEndpoint(parts[0], parts[1], None if endpoint in ("(none)", "") else endpoint))
    return out
