"""gobgpd TOML (the way Cilium configures its embedded GoBGP, as in bgpdoctor's lab).

A mistake gobgpd itself would refuse (a router-id that is not an address, ``[neighbors]`` written
as a table instead of ``[[neighbors]]``, a neighbor without an address) is a problem at its line;
the rest of the file is still read. IPv6 and unnumbered (``neighbor-interface``) neighbors are
valid: they are kept as peers without an IPv4 address, which lint does not pair.
"""

from __future__ import annotations

import os
import re
import tomllib
from ipaddress import IPv4Address, ip_address
from typing import Any

from bgpdoctor.intent import Loc, PeerIntent, located
from bgpdoctor.lint.model import Speaker

_GLOBAL = re.compile(r"^\s*\[global\.config\]|^\s*\[global\]", re.M)
_NEIGHBORS = re.compile(r"^\s*\[\[neighbors\]\]", re.M)


def looks_like_gobgp(text: str) -> bool:
    """gobgpd's TOML: a [global.config] table, or [[neighbors]] arrays next to a [global] table.

    Example: looks_like_gobgp('[global.config]\\n  as = 64512\\n') -> True
    """
    return bool(
        re.search(r"^\s*\[global\.config\]", text, re.M) or (_GLOBAL.search(text) and _NEIGHBORS.search(text))
    )


def _line_of(lines: list[str], pattern: str, start: int = 0, end: int | None = None) -> int | None:
    rx = re.compile(pattern)
    for i in range(start, len(lines) if end is None else end):
        if rx.search(lines[i]):
            return i + 1
    return None


def _table(data: Any, *path: str) -> dict[str, Any]:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ip(value: Any) -> IPv4Address | str | None:
    """An IPv4Address, the text of an IPv6 address, or None when value is not an address."""
    if not isinstance(value, str):
        return None
    try:
        addr = ip_address(value.split("%")[0])
    except ValueError:
        return None
    return addr if isinstance(addr, IPv4Address) else str(addr)


def parse_gobgp(text: str, file: str, problems: list[tuple[Loc, str]]) -> Speaker | None:
    """Speaker for a gobgpd config. port = -1 means it never listens (Cilium's embedded GoBGP).

    Returns None (and a problem) only when the file is not TOML or has no [global.config].
    Example: parse_gobgp(text, "yuuko.toml", []) -> Speaker(kind="gobgp", name="yuuko-k8s (GoBGP)", ...)
    """
    try:
        data = tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, and a number or date Python cannot hold
        m = re.search(r"line (\d+)", str(exc))
        problems.append((Loc(file, int(m.group(1)) if m else 1), f"TOML error: {str(exc).splitlines()[0]}"))
        return None
    lines = text.splitlines()
    gl = _line_of(lines, r"^\s*\[global\.config\]") or _line_of(lines, r"^\s*\[global\]") or 1
    g = _table(data, "global", "config")
    if not g:
        problems.append((Loc(file, gl), "gobgpd: no [global.config] table (as, router-id)"))
        return None
    host = os.path.basename(os.path.dirname(os.path.abspath(file)))
    asn = _int(g.get("as"))
    asn_loc = Loc(file, _line_of(lines, r"^\s*as\s*=") or gl)
    if g.get("as") is not None and asn is None:
        problems.append((asn_loc, f"gobgpd: global as = {g.get('as')!r} is not a number"))
    rid = g.get("router-id")
    sp = Speaker("gobgp", f"{host or rid} (GoBGP)", Loc(file, gl), is_node=True, asn=asn)
    if rid is not None:
        rid_loc = Loc(file, _line_of(lines, r"^\s*router-id\s*=") or gl)
        addr = _ip(rid)
        if isinstance(addr, IPv4Address):
            sp.addresses[addr] = rid_loc
        else:
            problems.append((rid_loc, f"gobgpd: router-id {rid!r} is not an IPv4 address"))
    port = g.get("port", 179)
    if _int(port) is not None and int(port) < 0:
        sp.listens = False
        sp.listens_loc = Loc(file, _line_of(lines, r"^\s*port\s*=") or gl)
    neighbors = data.get("neighbors", [])
    if isinstance(neighbors, dict):
        at = _line_of(lines, r"^\s*\[neighbors[.\]]") or gl
        problems.append(
            (Loc(file, at), "gobgpd: [neighbors] is a table; write [[neighbors]] for each neighbor")
        )
        neighbors = []
    elif not isinstance(neighbors, list):
        problems.append(
            (Loc(file, _line_of(lines, r"^\s*neighbors\s*=") or gl), "gobgpd: neighbors is not a list")
        )
        neighbors = []
    starts = [i for i, line in enumerate(lines) if _NEIGHBORS.match(line)]
    for n, nb in enumerate(neighbors):
        start = starts[n] if n < len(starts) else 0
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        peer = _neighbor(nb if isinstance(nb, dict) else {}, lines, start, end, file, problems)
        if peer is not None:
            peer.set("local_asn", asn, asn_loc)
            sp.peers.append(peer)
    return sp


def _neighbor(
    nb: dict[str, Any], lines: list[str], start: int, end: int, file: str, problems: list[tuple[Loc, str]]
) -> PeerIntent | None:
    def find(pattern: str) -> Loc | None:
        line = _line_of(lines, pattern, start, end)
        return Loc(file, line) if line else None

    here = Loc(file, start + 1)
    c = _table(nb, "config")
    raw = c.get("neighbor-address")
    iface = c.get("neighbor-interface") or _table(nb, "transport", "config").get("neighbor-interface")
    addr = _ip(raw)
    at = find(r"^\s*neighbor-address\s*=") or here
    unpaired, detail = None, ""
    if raw is None and isinstance(iface, str) and iface:
        unpaired, detail = "unnumbered", f"neighbor on {iface}"
        at = find(r"^\s*neighbor-interface\s*=") or here
    elif raw is None:
        problems.append((here, "gobgpd: neighbor without neighbor-address (or neighbor-interface)"))
        return None
    elif addr is None:
        problems.append((at, f"gobgpd: neighbor-address {raw!r} is not an IP address"))
        return None
    elif not isinstance(addr, IPv4Address):
        unpaired, detail = "IPv6", f"neighbor {addr}"
    transport = _table(nb, "transport", "config")
    local_raw = transport.get("local-address")
    local = _ip(local_raw)
    if local_raw is not None and local is None:
        problems.append(
            (
                find(r"^\s*local-address\s*=") or here,
                f"gobgpd: local-address {local_raw!r} is not an IP address",
            )
        )
    mh = _table(nb, "ebgp-multihop", "config")
    ttl = _int(mh.get("multihop-ttl"))
    gtsm = _table(nb, "ttl-security", "config")
    ttl_min = _int(gtsm.get("ttl-min")) or 255
    description = c.get("description")
    return PeerIntent(
        name=str(description) if isinstance(description, str) and description else str(raw or iface),
        loc=at,
        address=addr if isinstance(addr, IPv4Address) else None,
        asn=_int(c.get("peer-as")),
        local_address=local if isinstance(local, IPv4Address) else None,
        multihop=(ttl if ttl is not None else 255) if mh.get("enabled") is True else None,
        passive=passive if isinstance(passive := transport.get("passive-mode"), bool) else None,
        ttl_security_hops=256 - ttl_min if gtsm.get("enabled") is True else None,
        md5=True if c.get("auth-password") else None,
        origins=located(
            asn=find(r"^\s*peer-as\s*="),
            local_address=find(r"^\s*local-address\s*="),
            multihop=find(r"^\s*\[neighbors\.ebgp-multihop\.config\]"),
            ttl_security_hops=find(r"^\s*\[neighbors\.ttl-security\.config\]"),
            passive=find(r"^\s*passive-mode\s*="),
            md5=find(r"^\s*auth-password\s*="),
        ),
        unpaired=unpaired,
        unpaired_detail=detail,
    )
