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

from bgpdoctor.parsers import ParseError, json_int, json_list, json_object, json_str, load_json

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


def _inner(value: dict[str, Any], key: str) -> dict[str, Any] | None:
    """value[key] when it is an object (``{"meta": {"key": "oifname"}}``), else None."""
    inner = value.get(key)
    return inner if isinstance(inner, dict) else None


def _pair(value: Any) -> tuple[Any, Any] | None:
    return (value[0], value[1]) if isinstance(value, list) and len(value) == 2 else None


def _render_value(value: Any, quote: bool = False) -> str:
    if isinstance(value, dict):
        prefix, span = _inner(value, "prefix"), _pair(value.get("range"))
        meta, payload, ct = _inner(value, "meta"), _inner(value, "payload"), _inner(value, "ct")
        if prefix is not None:
            return f"{prefix.get('addr')}/{prefix.get('len')}"
        if isinstance(value.get("set"), list):
            return "{ " + ", ".join(_render_value(v, quote) for v in value["set"]) + " }"
        if span is not None:
            return f"{_render_value(span[0])}-{_render_value(span[1])}"
        if meta is not None:
            return str(meta.get("key"))
        if payload is not None:
            return f"{payload.get('protocol')} {payload.get('field')}"
        if ct is not None:
            return f"ct {ct.get('key')}"
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


def _name(raw: dict[str, Any], key: str, what: str) -> str:
    value = json_str(raw.get(key), "nft", f"{what}.{key}")
    if value is None:
        raise ParseError("nft", f"{what} without {key}: {str(raw)[:120]}")
    return value


def _rule(raw: Any) -> Rule:
    r = json_object(raw, "nft", "rule")
    rule = Rule(
        family=_name(r, "family", "rule"),
        table=_name(r, "table", "rule"),
        chain=_name(r, "chain", "rule"),
        expr=json_list(r.get("expr"), "nft", "rule.expr"),
        comment=json_str(r.get("comment"), "nft", "rule.comment"),
        handle=json_int(r.get("handle"), "nft", "rule.handle"),
    )
    parts: list[str] = []
    for e in rule.expr:
        if not isinstance(e, dict) or len(e) != 1:
            raise ParseError("nft", f"unexpected rule expression {e!r}")
        ((key, value),) = e.items()
        if key == "match" and isinstance(value, dict):
            parts.append(_render_match(value))
            left = value.get("left")
            meta = _inner(left, "meta") if isinstance(left, dict) else None
            if meta is not None and value.get("op", "==") == "==":
                meta_key = meta.get("key")
                if meta_key == "oifname":
                    rule.oifname = str(value.get("right"))
                elif meta_key == "iifname":
                    rule.iifname = str(value.get("right"))
        elif key == "counter":
            if isinstance(value, dict):
                rule.counter_packets = json_int(value.get("packets"), "nft", "counter.packets")
                rule.counter_bytes = json_int(value.get("bytes"), "nft", "counter.bytes")
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
    data = load_json(json_text, "nft")
    if not isinstance(data, dict) or not isinstance(data.get("nftables"), list):
        raise ParseError("nft", "no top-level 'nftables' list")
    rs = Ruleset()
    for item in data["nftables"]:
        if not isinstance(item, dict):
            raise ParseError("nft", f"unexpected element {str(item)[:80]}")
        if "table" in item:
            t = json_object(item["table"], "nft", "table")
            rs.tables.append(
                Table(
                    family=json_str(t.get("family"), "nft", "table.family") or "",
                    name=json_str(t.get("name"), "nft", "table.name") or "",
                )
            )
        elif "chain" in item:
            c = json_object(item["chain"], "nft", "chain")
            rs.chains.append(
                Chain(
                    family=json_str(c.get("family"), "nft", "chain.family") or "",
                    table=json_str(c.get("table"), "nft", "chain.table") or "",
                    name=json_str(c.get("name"), "nft", "chain.name") or "",
                    hook=json_str(c.get("hook"), "nft", "chain.hook"),
                    policy=json_str(c.get("policy"), "nft", "chain.policy"),
                    type=json_str(c.get("type"), "nft", "chain.type"),
                    prio=json_int(c.get("prio"), "nft", "chain.prio"),
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
        prefix, span = _inner(value, "prefix"), _pair(value.get("range"))
        if prefix is not None:
            out.extend(_networks(f"{prefix.get('addr')}/{prefix.get('len')}"))
        elif isinstance(value.get("set"), list):
            for v in value["set"]:
                out.extend(_networks(v))
        elif span is not None:
            try:
                first, last = ipaddress.ip_address(span[0]), ipaddress.ip_address(span[1])
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
            payload = _inner(left, "payload") if isinstance(left, dict) else None
            if payload is None or payload.get("field") not in ("saddr", "daddr"):
                continue
            if any(n.version == target.version and n.overlaps(target) for n in _networks(m.get("right"))):
                found.append(rule)
                break
    return found
