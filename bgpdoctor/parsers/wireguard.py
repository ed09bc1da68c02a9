"""Parsers for wireguard-tools: ``wg show all dump`` (collected) and ``wg show all endpoints``
(recordings made before the dump was collected).

Collected once per host as `command -v wg >/dev/null 2>&1 || exit 0; wg show all dump`: an empty
output is a host without WireGuard. The dump prints the interface's private key (column 2 of the
interface line) and each peer's preshared key (column 3 of a peer line); collection replaces both
with REDACTED (bgpdoctor.redact) before anything is kept, and nothing here keeps either.

Input of ``wg show all dump`` (tab-separated; an interface line has 5 fields: interface, private
key, public key, listen port, fwmark; a peer line 9: interface, public key, preshared key,
endpoint, allowed ips, latest handshake, rx bytes, tx bytes, persistent keepalive)::

    wg0\t<redacted>\tpzRotBRoV92RFy8vq9MRKmEP9d8olVYSBKeY2R1WphU=\t51820\toff
    wg0\tMF5eQ4Z2ERpsUvQqAPRuAdqOSEZIB4Xgo+4OaywVviw=\t<redacted>\t10.244.55.193:51820\t10.254.42.2/32,10.244.1.0/24\t0\t0\t0\t25
    wg0\tcfhmP7zjRmnTv53I8TrP6ZZdKrCWyM20XtwDcv4eJ38=\t(none)\t(none)\t10.254.42.3/32\t0\t0\t0\toff

Output::

    WgDump(interfaces={"wg0": WgInterface(public_key="pzRo...phU=", listen_port=51820)},
           peers=[WgPeer("wg0", "MF5e...viw=", "10.244.55.193:51820", ["10.254.42.2/32", "10.244.1.0/24"]),
                  WgPeer("wg0", "cfhm...J38=", None, ["10.254.42.3/32"])])

``dump.endpoints()`` and ``dump.allowed_ips()`` give what ``wg show all endpoints`` and ``wg show all
allowed-ips`` give for the same state.

Input of ``wg show all endpoints`` (one peer a line: interface, peer public key, endpoint or
"(none)"; wg names the interface on its first peer's line only)::

    wg0\tbkKlJ2fH6lqRqG5Zg8JXQm3n3n2Bfn8E3v4zZyXyVnE=\t10.42.1.7:51820
    xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\t(none)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bgpdoctor.parsers import ParseError

PARSER = "wireguard"
_KEY = re.compile(r"^[A-Za-z0-9+/]{42,43}=?$")
# what may stand where wg prints a secret: the key itself (before redaction), the redaction mark
# (bgpdoctor.redact.REDACTED, not imported: parsers stay free of the collection layer) or "(none)"
_SECRET = re.compile(r"^(?:[A-Za-z0-9+/]{42,43}=?|<redacted>|\(none\))$")
_FWMARK = re.compile(r"^(?:off|0x[0-9a-fA-F]{1,8}|\d{1,10})$")


@dataclass
class WgEndpoint:
    interface: str
    peer_key: str  # a public key: safe to show
    endpoint: str | None  # "ip:port" ("[v6]:port"), None when the peer has none yet


@dataclass
class WgInterface:
    public_key: str | None  # None when the interface has no key yet
    listen_port: int | None  # None when redaction took it for a secret (a public key ending in "...key=")


@dataclass
class WgPeer:
    interface: str
    peer_key: str  # a public key: safe to show
    endpoint: str | None
    allowed_ips: list[str] = field(default_factory=list)
    latest_handshake: int = 0  # Unix time, 0 for never
    keepalive: int | None = None  # seconds, None when off


@dataclass
class WgDump:
    interfaces: dict[str, WgInterface] = field(default_factory=dict)
    peers: list[WgPeer] = field(default_factory=list)

    def endpoints(self) -> list[WgEndpoint]:
        return [WgEndpoint(p.interface, p.peer_key, p.endpoint) for p in self.peers]

    def allowed_ips(self) -> dict[str, list[tuple[str, list[str]]]]:
        """{interface: [(peer public key, [allowed CIDRs])]}, as engine.world.parse_wg_allowed_ips."""
        out: dict[str, list[tuple[str, list[str]]]] = {}
        for p in self.peers:
            out.setdefault(p.interface, []).append((p.peer_key, list(p.allowed_ips)))
        return out


def _number(text: str, what: str, n: int) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        raise ParseError(PARSER, f"line {n}: {what} is not a number: {text[:40]!r}")
    return int(text)


def _optional(text: str) -> str | None:
    return None if text in ("(none)", "") else text


def parse_dump(text: str) -> WgDump:
    """`wg show all dump`; an empty output is a host without WireGuard."""
    dump = WgDump()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if not parts[0] or len(parts[0]) > 15 or not parts[0].isprintable():
            raise ParseError(PARSER, f"line {n}: not an interface name: {parts[0][:40]!r}")
        if len(parts) == 5:
            name, secret, public, port, fwmark = parts
            if not _SECRET.match(secret) or not (public == "(none)" or _KEY.match(public)):
                raise ParseError(PARSER, f"line {n}: not 'interface, private key, public key, port, fwmark'")
            if not _FWMARK.match(fwmark):
                raise ParseError(PARSER, f"line {n}: not a fwmark: {fwmark[:40]!r}")
            listen_port = None if port == "<redacted>" else _number(port, "listen port", n)
            dump.interfaces[name] = WgInterface(_optional(public), listen_port)
        elif len(parts) == 9:
            name, public, secret, endpoint, allowed, handshake, rx, tx, keepalive = parts
            if name not in dump.interfaces:
                raise ParseError(PARSER, f"line {n}: a peer of {name[:16]!r} before its interface line")
            if not _KEY.match(public) or not _SECRET.match(secret):
                raise ParseError(PARSER, f"line {n}: not 'interface, public key, preshared key, ...'")
            for value, what in ((rx, "rx bytes"), (tx, "tx bytes")):
                _number(value, what, n)
            dump.peers.append(
                WgPeer(
                    name,
                    public,
                    _optional(endpoint),
                    [] if allowed == "(none)" else [a for a in allowed.split(",") if a],
                    _number(handshake, "latest handshake", n),
                    None if keepalive == "off" else _number(keepalive, "persistent keepalive", n),
                )
            )
        else:
            raise ParseError(PARSER, f"line {n}: {len(parts)} fields, not a line of `wg show all dump`")
    return dump


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
