"""Parser for ``nft -j list ruleset`` (nftables JSON schema 1).

Input (trimmed)::

    {"nftables": [{"metainfo": {...}},
      {"table": {"family": "ip", "name": "bdfx_nat", "handle": 2}},
      {"chain": {"family": "ip", "table": "bdfx_nat", "name": "postrouting", "type": "nat",
                 "hook": "postrouting", "prio": 100, "policy": "accept"}},
      {"rule": {"family": "ip", "table": "bdfx_nat", "chain": "postrouting", "comment": "node lan nat",
                "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                                    "right": {"prefix": {"addr": "10.0.1.0", "len": 24}}}},
                         {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "mid-r16"}},
                         {"counter": {"packets": 4, "bytes": 1604}}, {"masquerade": null}]}}]}

Output::

    Ruleset(tables=[Table(family="ip", name="bdfx_nat")],
            chains=[Chain(family="ip", table="bdfx_nat", name="postrouting", hook="postrouting",
                          policy="accept", type="nat", prio=100)],
            rules=[Rule(family="ip", table="bdfx_nat", chain="postrouting", expr=[...],
                        counter_packets=4, verdict="masquerade", comment="node lan nat",
                        matches='ip saddr 10.0.1.0/24 oifname "mid-r16" masquerade',
                        oifname="mid-r16", iifname=None, handle=2, counter_bytes=1604)])
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

from bgpdoctor.parsers import ParseError

_VERDICTS = (
    "accept",
    "drop",
    "reject",
    "masquerade",
    "snat",
    "dnat",
    "redirect",
    "return",
    "jump",
    "goto",
    "queue",
)


@dataclass
class Table:
    """One nftables table."""

    family: str
    name: str


@dataclass
class Chain:
    """One chain; ``hook``/``policy``/``type`` are None for a regular (non-base) chain."""

    family: str
    table: str
    name: str
    hook: str | None = None
    policy: str | None = None
    type: str | None = None
    prio: int | None = None


@dataclass
class Rule:
    """One rule; ``matches`` is a short nft-like rendering without the counter."""

    family: str
    table: str
    chain: str
    expr: list[Any]
    counter_packets: int | None = None
    verdict: str | None = None
    comment: str | None = None
    matches: str = ""
    oifname: str | None = None
    iifname: str | None = None
    handle: int | None = None
    counter_bytes: int | None = None


@dataclass
class Ruleset:
    """All tables, chains and rules of ``nft -j list ruleset``."""

    tables: list[Table] = field(default_factory=list)
    chains: list[Chain] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)


def _render_value(value: Any, quote: bool = False) -> str:
    if isinstance(value, dict):
        if "prefix" in value:
            return f"{value['prefix'].get('addr')}/{value['prefix'].get('len')}"
        if "set" in value:
            return "{ " + ", ".join(_render_value(v, quote) for v in value["set"]) + " }"
        if "range" in value:
            low, high = value["range"]
            return f"{_render_value(low)}-{_render_value(high)}"
        if "meta" in value:
            return str(value["meta"].get("key"))
        if "payload" in value:
            return f"{value['payload'].get('protocol')} {value['payload'].get('field')}"
        if "ct" in value:
            return f"ct {value['ct'].get('key')}"
        return json.dumps(value, sort_keys=True)
    if isinstance(value, list):
        return ",".join(_render_value(v, quote) for v in value)
    if isinstance(value, str) and quote:
        return f'"{value}"'
    return str(value)


def _render_match(m: dict[str, Any]) -> str:
    left = _render_value(m.get("left"))
    quote = left in ("iifname", "oifname", "iif", "oif")
    right = _render_value(m.get("right"), quote)
    op = m.get("op", "==")
    return f"{left} {right}" if op in ("==", "in") else f"{left} {op} {right}"


def _rule(raw: dict[str, Any]) -> Rule:
    try:
        rule = Rule(
            family=raw["family"],
            table=raw["table"],
            chain=raw["chain"],
            expr=raw.get("expr") or [],
            comment=raw.get("comment"),
            handle=raw.get("handle"),
        )
    except KeyError as exc:
        raise ParseError("nft", f"rule without {exc.args[0]}: {raw!r}") from exc
    parts: list[str] = []
    for e in rule.expr:
        if not isinstance(e, dict) or len(e) != 1:
            raise ParseError("nft", f"unexpected rule expression {e!r}")
        ((key, value),) = e.items()
        if key == "match" and isinstance(value, dict):
            parts.append(_render_match(value))
            left = value.get("left")
            if isinstance(left, dict) and "meta" in left and value.get("op", "==") == "==":
                meta_key = left["meta"].get("key")
                if meta_key == "oifname":
                    rule.oifname = str(value.get("right"))
                elif meta_key == "iifname":
                    rule.iifname = str(value.get("right"))
        elif key == "counter":
            if isinstance(value, dict):
                rule.counter_packets = value.get("packets")
                rule.counter_bytes = value.get("bytes")
        elif key in _VERDICTS:
            if key in ("jump", "goto") and isinstance(value, dict):
                rule.verdict = f"{key} {value.get('target')}"
            elif key in ("snat", "dnat") and isinstance(value, dict):
                rule.verdict = f"{key} to {_render_value(value.get('addr'))}"
            else:
                rule.verdict = key
            parts.append(rule.verdict)
        else:
            parts.append(key)
    rule.matches = " ".join(parts)
    return rule


def parse_ruleset(json_text: str) -> Ruleset:
    """Parse ``nft -j list ruleset``.

    Example: Ruleset(tables=[Table(family="inet", name="bdfx_fw"), ...],
    chains=[Chain(family="inet", table="bdfx_fw", name="forward", hook="forward", policy="drop",
    type="filter", prio=0), ...], rules=[Rule(..., counter_packets=3, verdict="drop",
    comment="silent drop", matches="ip saddr 10.0.3.2 icmp type echo-request drop"), ...])
    """
    try:
        data = json.loads(json_text)
    except json.JSONDecodeError as exc:
        raise ParseError("nft", f"not JSON ({exc.msg}): {json_text[:80]!r}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("nftables"), list):
        raise ParseError("nft", "no top-level 'nftables' list")
    rs = Ruleset()
    for item in data["nftables"]:
        if not isinstance(item, dict):
            raise ParseError("nft", f"unexpected element {item!r}")
        if "table" in item:
            t = item["table"]
            rs.tables.append(Table(family=t.get("family", ""), name=t.get("name", "")))
        elif "chain" in item:
            c = item["chain"]
            rs.chains.append(
                Chain(
                    family=c.get("family", ""),
                    table=c.get("table", ""),
                    name=c.get("name", ""),
                    hook=c.get("hook"),
                    policy=c.get("policy"),
                    type=c.get("type"),
                    prio=c.get("prio"),
                )
            )
        elif "rule" in item:
            rs.rules.append(_rule(item["rule"]))
    return rs


def masquerade_rules(ruleset: Ruleset) -> list[Rule]:
    """Rules whose verdict is masquerade (``oifname`` set when the rule matches one).

    Example: [Rule(..., verdict="masquerade", oifname="mid-r16",
    matches='ip saddr 10.0.1.0/24 oifname "mid-r16" masquerade')]
    """
    return [r for r in ruleset.rules if r.verdict == "masquerade"]


def forward_policy_drop(ruleset: Ruleset) -> bool:
    """True when a base chain on the forward hook has policy drop (traffic needs an accept rule).

    Example: forward_policy_drop(parse_ruleset(text)) -> True
    """
    return any(c.hook == "forward" and c.policy == "drop" for c in ruleset.chains)


def _networks(value: Any) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    out: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    if isinstance(value, dict):
        if "prefix" in value:
            out.extend(_networks(f"{value['prefix'].get('addr')}/{value['prefix'].get('len')}"))
        elif "set" in value:
            for v in value["set"]:
                out.extend(_networks(v))
        elif "range" in value:
            low, high = value["range"]
            try:
                first, last = ipaddress.ip_address(low), ipaddress.ip_address(high)
                out.extend(ipaddress.summarize_address_range(first, last))
            except (ValueError, TypeError):
                pass
    elif isinstance(value, list):
        for v in value:
            out.extend(_networks(v))
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            out.append(ipaddress.ip_network(value, strict=False))
    return out


def rules_matching_network(ruleset: Ruleset, cidr: str) -> list[Rule]:
    """Rules with an address match (saddr/daddr) that overlaps ``cidr``.

    Example: rules_matching_network(rs, "10.42.3.0/24") -> [Rule(..., comment="pod cidr",
    matches="ip daddr 10.42.0.0/16 accept")]
    """
    try:
        target = ipaddress.ip_network(cidr, strict=False)
    except ValueError as exc:
        raise ParseError("nft", f"not a network: {cidr!r}") from exc
    found: list[Rule] = []
    for rule in ruleset.rules:
        for e in rule.expr:
            m = e.get("match") if isinstance(e, dict) else None
            if not isinstance(m, dict):
                continue
            left = m.get("left")
            if not (
                isinstance(left, dict)
                and "payload" in left
                and left["payload"].get("field") in ("saddr", "daddr")
            ):
                continue
            if any(n.version == target.version and n.overlaps(target) for n in _networks(m.get("right"))):
                found.append(rule)
                break
    return found
