"""gobgpd TOML (the way Cilium configures its embedded GoBGP, as in bgpdoctor's lab)."""

from __future__ import annotations

import os
import re
import tomllib
from ipaddress import IPv4Address

from bgpdoctor.lint.model import Loc, Peer, Speaker


def looks_like_gobgp(text: str) -> bool:
    return bool(re.search(r"^\s*\[global\.config\]", text, re.M))


def _line_of(lines: list[str], pattern: str, start: int) -> int:
    rx = re.compile(pattern)
    for i in range(start, len(lines)):
        if rx.search(lines[i]):
            return i + 1
    return start + 1


def parse_gobgp(text: str, file: str, problems: list[tuple[Loc, str]]) -> Speaker | None:
    """Speaker for a gobgpd config. port = -1 means it never listens (Cilium's embedded GoBGP).

    Example: parse_gobgp(text, "yuuko.toml", []) -> Speaker(kind="gobgp", name="192.168.0.81", ...)
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        problems.append((Loc(file, int(m.group(1)) if m else 1), f"TOML error: {exc}"))
        return None
    lines = text.splitlines()
    g = data.get("global", {}).get("config", {})
    gl = _line_of(lines, r"^\s*\[global\.config\]", 0)
    rid = g.get("router-id")
    host = os.path.basename(os.path.dirname(os.path.abspath(file)))
    sp = Speaker("gobgp", f"{host or rid} (GoBGP)", Loc(file, gl), is_node=True, asn=g.get("as"))
    if rid:
        sp.addresses[IPv4Address(rid)] = Loc(file, _line_of(lines, r"^\s*router-id\s*=", 0))
    if int(g.get("port", 179)) < 0:
        sp.listens = False
        sp.listens_loc = Loc(file, _line_of(lines, r"^\s*port\s*=", 0))
    asn_loc = Loc(file, _line_of(lines, r"^\s*as\s*=", 0))
    for nb in data.get("neighbors", []):
        c = nb.get("config", {})
        addr = c.get("neighbor-address", "")
        nl = _line_of(lines, r"neighbor-address\s*=\s*\"" + re.escape(addr) + '"', 0)
        end = len(lines)
        for j in range(nl, len(lines)):
            if lines[j].strip() == "[[neighbors]]":
                end = j
                break

        def find(pat: str, _s: int = nl, _e: int = end) -> Loc | None:
            for j in range(_s, _e):
                if re.search(pat, lines[j]):
                    return Loc(file, j + 1)
            return None

        mh = nb.get("ebgp-multihop", {}).get("config", {})
        passive = bool(nb.get("transport", {}).get("config", {}).get("passive-mode", False))
        local = nb.get("transport", {}).get("config", {}).get("local-address")
        p = Peer(
            name=str(c.get("description") or addr),
            loc=Loc(file, nl),
            peer_addr=IPv4Address(addr),
            peer_asn=c.get("peer-as"),
            peer_asn_loc=find(r"^\s*peer-as\s*="),
            local_asn=g.get("as"),
            local_asn_loc=asn_loc,
            local_addr=IPv4Address(local) if local else None,
            local_addr_loc=find(r"^\s*local-address\s*="),
            multihop=int(mh.get("multihop-ttl", 255)) if mh.get("enabled") else None,
            multihop_loc=find(r"^\s*\[neighbors\.ebgp-multihop\.config\]"),
            passive=passive,
            passive_loc=find(r"^\s*passive-mode\s*="),
            password=bool(c.get("auth-password")),
            password_loc=find(r"^\s*auth-password\s*="),
        )
        sp.peers.append(p)
    return sp
