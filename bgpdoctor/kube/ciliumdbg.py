"""Parsers for ``cilium-dbg bgp peers`` run in the Cilium agent (``cilium bgp peers`` before 1.15).

No Cilium runs here, so the fixtures are outputs quoted in Cilium's own pull requests and issues
(captures/outputs/cilium/README.md names each source). Two forms exist:

``cilium-dbg bgp peers -o json`` prints the agent API's BgpPeer list; keys are kebab-case and
zero/empty values are left out (``families[].received`` is missing for an empty family).
Older agents (the first version, cilium/cilium#24612) call the uptime ``uptime``, later ones
``uptime-nanoseconds``; both are nanoseconds::

    [{"local-asn": 65001, "peer-address": "172.0.0.1", "peer-asn": 65000,
      "session-state": "established", "uptime-nanoseconds": 8144057623,
      "families": [{"afi": "ipv4", "safi": "unicast", "received": 1, "advertised": 1}], ...}]

The text table (the default) has one row per peer and one continuation row per extra family; the
peer address may carry the port (``10.0.2.1:179``, newer agents). Both become::

    [CiliumPeer(address="172.0.0.1", peer_as=65000, local_as=65001, state="established",
                uptime_s=8.1, received=1, accepted=None, advertised=1, port=None)]

``as_gobgp_neighbors`` maps them onto the GoBGP neighbor facts the engine already judges (Cilium's
BGP control plane is GoBGP inside the agent), so checks and playbooks treat them like any session.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from bgpdoctor.parsers import ParseError, json_int, json_list, json_str, load_json, to_int
from bgpdoctor.parsers.gobgp import GobgpNeighbor

__all__ = [
    "CiliumPeer",
    "as_gobgp_neighbors",
    "parse_bgp_peers",
    "parse_bgp_peers_json",
    "parse_bgp_peers_text",
]

_STATES = {"idle", "connect", "active", "opensent", "openconfirm", "established", "unknown"}
_PARSER = "cilium-dbg bgp peers"
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(h|ms|m|s|us|µs|ns)")
_MAX_NANOS = 2**63  # Go's time.Duration is an int64 of nanoseconds
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


@dataclass
class CiliumPeer:
    """One BGP peer of the agent; counts are for the IPv4 unicast family (None when not shown)."""

    address: str
    peer_as: int
    local_as: int
    state: str
    uptime_s: float | None = None
    received: int | None = None
    accepted: int | None = None
    advertised: int | None = None
    port: int | None = None


def _split_address(text: str) -> tuple[str, int | None]:
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:([0-9]+)", text) or re.fullmatch(r"([0-9.]+):([0-9]+)", text)
    if m:
        return m.group(1), to_int(m.group(2), _PARSER, "peer port")
    return text, None


def _v4_unicast(families: list[Any]) -> dict[str, Any]:
    for fam in families:
        if isinstance(fam, dict) and fam.get("afi") == "ipv4" and fam.get("safi", "unicast") == "unicast":
            return fam
    return {}


def _json_int(value: Any, what: str) -> int | None:
    return json_int(value, _PARSER, what)


def _count(fam: dict[str, Any], key: str) -> int | None:
    """A family's counter: left out when 0; None when the agent lists no IPv4 unicast family."""
    return _json_int(fam.get(key, 0), f"families[].{key}") if fam else None


def parse_bgp_peers_json(text: str) -> list[CiliumPeer]:
    """``cilium-dbg bgp peers -o json`` -> CiliumPeer list (see the module docstring)."""
    data = load_json(text or "[]", _PARSER)
    if data is None:
        return []
    if not isinstance(data, list):
        raise ParseError(_PARSER, "expected a list of peers")
    peers = []
    for item in data:
        if not isinstance(item, dict) or "peer-address" not in item:
            raise ParseError(_PARSER, f"not a peer: {str(item)[:80]}")
        peer_address = json_str(item["peer-address"], _PARSER, "peer-address")
        if not peer_address:
            raise ParseError(_PARSER, "peer without peer-address")
        address, port = _split_address(peer_address)
        nanos = _json_int(item.get("uptime-nanoseconds", item.get("uptime")), "uptime-nanoseconds")
        if nanos is not None and not -_MAX_NANOS <= nanos < _MAX_NANOS:
            raise ParseError(_PARSER, f"uptime-nanoseconds out of range: {str(nanos)[:40]}")
        fam = _v4_unicast(json_list(item.get("families"), _PARSER, "families"))
        peers.append(
            CiliumPeer(
                address=address,
                peer_as=_json_int(item.get("peer-asn"), "peer-asn") or 0,
                local_as=_json_int(item.get("local-asn"), "local-asn") or 0,
                state=(json_str(item.get("session-state"), _PARSER, "session-state") or "unknown").lower(),
                uptime_s=round(nanos / 1e9, 3) if nanos is not None else None,
                received=_count(fam, "received"),
                accepted=_count(fam, "accepted"),
                advertised=_count(fam, "advertised"),
                port=_json_int(item.get("peer-port"), "peer-port") or port,
            )
        )
    return peers


def _duration_s(text: str) -> float | None:
    """Go's time.Duration.String(): ``35m30s``, ``4m13s``, ``0s``, ``1h2m3s``."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    seconds = sum(float(n) * _UNIT_S[u] for n, u in parts)
    return seconds if math.isfinite(seconds) else None


def parse_bgp_peers_text(text: str) -> list[CiliumPeer]:
    """The default table of ``cilium-dbg bgp peers`` -> CiliumPeer list.

    Columns are found by the header (``Local AS  Peer AS  Peer Address  Session  Uptime  Family
    Received  Advertised``; ``cilium bgp peers`` of cilium-cli adds ``Node`` first and says
    ``Session State``). Continuation rows (more families of the same peer) only fill the counts.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    head = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith(("Local AS", "Node "))), None)
    if head is None:
        if not lines:
            return []
        raise ParseError(_PARSER, "no header line (Local AS  Peer AS  Peer Address ...)")
    names = re.split(r"\s{2,}", lines[head].strip())
    col = {n.lower(): i for i, n in enumerate(names)}
    state_col = col.get("session", col.get("session state"))
    need = ("local as", "peer as", "peer address", "uptime")
    if state_col is None or any(n not in col for n in need):
        raise ParseError(_PARSER, f"unexpected header {names}")
    peers: list[CiliumPeer] = []
    for line in lines[head + 1 :]:
        cells = line.split()
        if len(cells) == len(names):
            address, port = _split_address(cells[col["peer address"]])
            state = cells[state_col].lower()
            if state not in _STATES:
                raise ParseError(_PARSER, f"unknown session state {cells[state_col]!r}")
            peers.append(
                CiliumPeer(
                    address=address,
                    peer_as=to_int(cells[col["peer as"]], _PARSER, "Peer AS"),
                    local_as=to_int(cells[col["local as"]], _PARSER, "Local AS"),
                    state=state,
                    uptime_s=_duration_s(cells[col["uptime"]]),
                    port=port,
                )
            )
            row = {n: cells[i] for n, i in col.items()}
        elif peers and len(cells) == 3:  # family, received, advertised of the peer above
            row = {"family": cells[0], "received": cells[1], "advertised": cells[2]}
        else:
            raise ParseError(_PARSER, f"cannot read row {line.strip()!r}")
        if row.get("family") in ("ipv4_unicast", "ipv4/unicast") and peers:
            peers[-1].received = _counter_cell(row.get("received", ""))
            peers[-1].advertised = _counter_cell(row.get("advertised", ""))
    return peers


def _counter_cell(cell: str) -> int | None:
    return to_int(cell, _PARSER, "count") if cell.isascii() and cell.isdigit() else None


def parse_bgp_peers(text: str) -> list[CiliumPeer]:
    """Either form: JSON when the output starts with ``[`` (or is ``null``), else the table."""
    stripped = text.strip()
    if stripped.startswith("[") or stripped == "null":
        return parse_bgp_peers_json(stripped)
    return parse_bgp_peers_text(text)


def as_gobgp_neighbors(text: str) -> list[GobgpNeighbor]:
    """``cilium-dbg bgp peers`` output as the engine's GoBGP neighbor facts.

    Example: -> [GobgpNeighbor(address="172.0.0.1", peer_as=65000, local_as=65001,
    state="established", received=1, advertised=1)]; Cilium never listens, so passive stays False.
    """
    return [
        GobgpNeighbor(
            address=p.address,
            peer_as=p.peer_as,
            local_as=p.local_as,
            state=p.state,
            received=p.received,
            accepted=p.accepted,
            advertised=p.advertised,
        )
        for p in parse_bgp_peers(text)
    ]
