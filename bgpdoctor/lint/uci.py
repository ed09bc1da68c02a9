"""OpenWrt UCI files: /etc/config/network (interfaces, subnets, routes) and /etc/config/firewall."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from bgpdoctor.intent import Loc
from bgpdoctor.redact import redact


@dataclass
class UciSection:
    """Example: UciSection(type="zone", name=None, loc=Loc("firewall", 3), options={"name": ["lan"]})"""

    type: str
    name: str | None
    loc: Loc
    options: dict[str, list[str]] = field(default_factory=dict)
    option_locs: dict[str, Loc] = field(default_factory=dict)

    def opt(self, key: str) -> str | None:
        v = self.options.get(key)
        return v[0] if v else None

    def words(self, key: str) -> list[str]:
        """Option or list values, space-separated option values split (OpenWrt allows both)."""
        return [w for v in self.options.get(key, []) for w in v.split()]

    def at(self, key: str) -> Loc:
        return self.option_locs.get(key, self.loc)


_LINE = re.compile(r"^\s*(config|option|list)\s+(.*)$")


def parse_uci(text: str, file: str) -> tuple[list[UciSection], list[tuple[Loc, str]]]:
    """Sections of a UCI file and any lines that are not UCI.

    Example: parse_uci("config zone\\n\\toption name 'lan'\\n", "fw")[0][0].opt("name") -> "lan"
    """
    sections: list[UciSection] = []
    problems: list[tuple[Loc, str]] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        try:
            parts = shlex.split(m.group(2), comments=True) if m else []
        except ValueError as exc:
            problems.append((Loc(file, n), f"UCI syntax error: {exc}"))
            continue
        if not m or not parts:
            problems.append((Loc(file, n), f"UCI syntax error: unexpected '{redact(line)[:40]}'"))
            continue
        kw = m.group(1)
        if kw == "config":
            sections.append(UciSection(parts[0], parts[1] if len(parts) > 1 else None, Loc(file, n)))
        elif not sections:
            problems.append((Loc(file, n), f"UCI syntax error: '{kw}' before any 'config'"))
        else:
            value = " ".join(parts[1:])
            sec = sections[-1]
            if kw == "option":
                sec.options[parts[0]] = [value]
            else:
                sec.options.setdefault(parts[0], []).append(value)
            sec.option_locs.setdefault(parts[0], Loc(file, n))
    return sections, problems


def uci_kind(text: str) -> str | None:
    """ "network", "firewall", "other" (a UCI file lint does not use, e.g. `config bgp`) or None,
    told from the section types in the text."""
    types = set(re.findall(r"^\s*config\s+(\w+)", text, re.M))
    if not types or not re.search(r"^\s*(option|list)\s+\w+", text, re.M):
        return None
    if types & {"zone", "forwarding", "rule", "redirect", "defaults"} and "zone" in types:
        return "firewall"
    if types & {"interface", "device", "route", "globals"}:
        return "network"
    return "other"


@dataclass
class UciInterface:
    name: str
    device: str | None
    addresses: list[tuple[IPv4Interface, Loc]]
    loc: Loc


@dataclass
class UciNetwork:
    """Example: UciNetwork(file="network", interfaces=[UciInterface("lan", "br-lan", [...])], routes=[...])"""

    file: str
    interfaces: list[UciInterface] = field(default_factory=list)
    routes: list[tuple[IPv4Network, str, IPv4Address | None, Loc]] = field(default_factory=list)


def _mask_len(mask: str | None) -> int:
    if not mask:
        return 32
    return IPv4Network(f"0.0.0.0/{mask}").prefixlen


def network_from(sections: list[UciSection], file: str, problems: list[tuple[Loc, str]]) -> UciNetwork:
    net = UciNetwork(file)
    for s in sections:
        if s.type == "interface" and s.name:
            addrs: list[tuple[IPv4Interface, Loc]] = []
            for v in s.words("ipaddr"):
                try:
                    text = v if "/" in v else f"{v}/{_mask_len(s.opt('netmask'))}"
                    addrs.append((IPv4Interface(text), s.at("ipaddr")))
                except ValueError:
                    problems.append((s.at("ipaddr"), f"bad ipaddr '{v}'"))
            net.interfaces.append(UciInterface(s.name, s.opt("device") or s.opt("ifname"), addrs, s.loc))
        elif s.type == "route":
            try:
                target = s.opt("target") or ""
                dst = IPv4Network(target if "/" in target else f"{target}/{_mask_len(s.opt('netmask'))}")
                gw = IPv4Address(s.opt("gateway")) if s.opt("gateway") else None
            except ValueError:
                problems.append((s.loc, "bad route target/gateway"))
                continue
            net.routes.append((dst, s.opt("interface") or "", gw, s.loc))
    return net


@dataclass
class Zone:
    name: str
    networks: list[str]
    devices: list[str]
    subnets: list[IPv4Network]
    masq: bool
    masq_loc: Loc | None
    loc: Loc


@dataclass
class FwRule:
    src: str | None
    dest: str | None
    src_ip: list[IPv4Network]
    dest_ip: list[IPv4Network]
    target: str
    proto: str
    loc: Loc
    name: str | None


@dataclass
class UciFirewall:
    file: str
    zones: dict[str, Zone] = field(default_factory=dict)
    forwardings: list[tuple[str, str, Loc]] = field(default_factory=list)
    rules: list[FwRule] = field(default_factory=list)


def _nets(values: list[str]) -> list[IPv4Network]:
    out = []
    for v in values:
        try:
            out.append(IPv4Network(v.lstrip("!"), strict=False))
        except ValueError:
            continue
    return out


def firewall_from(sections: list[UciSection], file: str) -> UciFirewall:
    fw = UciFirewall(file)
    for s in sections:
        if s.type == "zone" and s.opt("name"):
            name = s.opt("name") or ""
            masq = (s.opt("masq") or "0") in ("1", "yes", "on", "true")
            fw.zones[name] = Zone(
                name, s.words("network"), s.words("device"), _nets(s.words("subnet")), masq,
                s.at("masq") if masq else None, s.loc,
            )  # fmt: skip
        elif s.type == "forwarding" and s.opt("src") and s.opt("dest"):
            fw.forwardings.append((s.opt("src") or "", s.opt("dest") or "", s.loc))
        elif s.type == "rule":
            fw.rules.append(
                FwRule(s.opt("src"), s.opt("dest"), _nets(s.words("src_ip")), _nets(s.words("dest_ip")),
                       (s.opt("target") or "DROP").upper(), s.opt("proto") or "tcp udp", s.loc, s.opt("name"))
            )  # fmt: skip
    return fw
