"""Parsers for policy routing: ``ip -j rule show`` and the routes of the tables its rules name.

``ip -j rule show`` input (three elements of a host running Tailscale and wg-quick)::

    [{"priority":5270,"src":"all","table":"52"},
     {"priority":32763,"src":"all","table":"main","suppress_prefixlen":0},
     {"priority":32764,"not":null,"src":"all","fwmark":"0xca6c","table":"51820"}]

Output: ``[Rule(priority=5270, table="52"), Rule(priority=32763, table="main",
suppress_prefixlen=0), Rule(priority=32764, invert=True, fwmark=0xCA6C, table="51820")]``.

The tables are collected by ``RULE_TABLES_COMMAND``, which prints ``table NAME`` on a line of its
own and then that table's ``ip -j route show table NAME`` for each table a rule looks up, other
than local, main and default: ``parse_rule_tables`` gives
``{"52": [Route("10.42.0.0/16", dev="tailscale0")]}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bgpdoctor.parsers import ParseError, json_int, json_str, load_json
from bgpdoctor.parsers.iproute import Route, parse_routes

# the command skips the tables every kernel has: main is read on its own, local and default do not
# take part in forwarding between hosts
# `; true`: a table no route was ever added to makes `ip` fail; the tables read before still count.
# The word after each `lookup`, each table once, in the rules' order, read by the shell itself: no
# sed or sort to start on every host (2.6 ms of CPU less per host); `set -f`: `[detached]` is no glob
RULE_TABLES_COMMAND = (
    "set -f; bd_seen=' '; bd_prev=; for bd_w in $(ip rule show); do "
    'if [ "$bd_prev" = lookup ]; then case "$bd_w" in local|main|default|255|254|253) ;; '
    '*) case "$bd_seen" in *" $bd_w "*) ;; '
    '*) bd_seen="$bd_seen$bd_w "; printf \'\\ntable %s\\n\' "$bd_w"; ip -j route show table "$bd_w" ;; '
    "esac ;; esac; fi; bd_prev=$bd_w; done; true"
)

# selectors a path trace cannot evaluate: they depend on the packet's protocol, ports, owner or TOS
OPAQUE_SELECTORS = ("ipproto", "sport", "dport", "uid_start", "tos", "dsfield", "l3mdev", "tun_id", "oif")


@dataclass
class Rule:
    """One policy routing rule; ``action`` is lookup, goto, nop, unreachable, blackhole or prohibit.

    ``src``/``dst`` are prefixes (None: all); ``fwmark``/``fwmask`` the mark selector; ``opaque``
    the selectors a trace cannot evaluate (e.g. ["ipproto tcp", "dport 179"]).
    """

    priority: int
    action: str = "lookup"
    table: str | None = None
    src: str | None = None
    dst: str | None = None
    iif: str | None = None
    fwmark: int | None = None
    fwmask: int | None = None
    invert: bool = False
    goto: int | None = None
    suppress_prefixlen: int | None = None
    opaque: list[str] = field(default_factory=list)

    def text(self) -> str:
        """The rule as `ip rule show` prints it, roughly: "5270: from all lookup 52"."""
        parts = [f"{self.priority}:", "not" if self.invert else "", f"from {self.src or 'all'}"]
        parts += [f"to {self.dst}" if self.dst else "", f"iif {self.iif}" if self.iif else ""]
        if self.fwmark is not None:
            parts.append(
                f"fwmark {self.fwmark:#x}" + (f"/{self.fwmask:#x}" if self.fwmask is not None else "")
            )
        parts += self.opaque
        if self.action == "lookup":
            parts.append(f"lookup {self.table}")
        elif self.action == "goto":
            parts.append(f"goto {self.goto}")
        else:
            parts.append(self.action)
        if self.suppress_prefixlen is not None:
            parts.append(f"suppress_prefixlength {self.suppress_prefixlen}")
        return " ".join(p for p in parts if p)


def _prefix(entry: dict[str, Any], key: str) -> str | None:
    address = json_str(entry.get(key), "iprule", key)
    if address is None or address == "all":
        return None
    length = json_int(entry.get(f"{key}len"), "iprule", f"{key}len")
    if length is None:
        length = 128 if ":" in address else 32
    return f"{address}/{length}"


def _mark(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            pass
    raise ParseError("iprule", f"{what}: not a number: {value!r}")


def parse_rules(json_text: str) -> list[Rule]:
    """Parse ``ip -j rule show`` (IPv4 or IPv6); rules come back sorted by priority."""
    data = load_json(json_text, "iprule", "rule")
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise ParseError("iprule", "rule: expected a JSON list of objects")
    rules: list[Rule] = []
    for entry in data:
        priority = json_int(entry.get("priority"), "iprule", "priority")
        if priority is None:
            raise ParseError("iprule", f"rule without priority: {entry!r}")
        goto = json_int(entry.get("goto"), "iprule", "goto")
        raw_table = entry.get("table")
        if isinstance(raw_table, int) and not isinstance(raw_table, bool):
            table: str | None = str(raw_table)
        else:
            table = json_str(raw_table, "iprule", "table")
        action = json_str(entry.get("action"), "iprule", "action")
        if action is None:
            if goto is None and table is None:
                raise ParseError("iprule", f"rule {priority}: neither an action nor a table")
            action = "goto" if goto is not None else "lookup"
        if action == "lookup" and table is None:
            raise ParseError("iprule", f"rule {priority}: lookup without a table")
        opaque = []
        for key in OPAQUE_SELECTORS:
            if key in entry:
                shown = (
                    f"uidrange {entry.get('uid_start')}-{entry.get('uid_end')}"
                    if key == "uid_start"
                    else None
                )
                opaque.append(shown or f"{key} {entry[key]}")
        rules.append(
            Rule(
                priority=priority,
                action=action,
                table=table,
                src=_prefix(entry, "src"),
                dst=_prefix(entry, "dst"),
                iif=json_str(entry.get("iif"), "iprule", "iif"),
                fwmark=_mark(entry.get("fwmark"), "fwmark"),
                fwmask=_mark(entry.get("fwmask"), "fwmask"),
                invert="not" in entry,
                goto=goto,
                suppress_prefixlen=json_int(entry.get("suppress_prefixlen"), "iprule", "suppress_prefixlen"),
                opaque=opaque,
            )
        )
    return sorted(rules, key=lambda r: r.priority)


def parse_rule_tables(text: str) -> dict[str, list[Route]]:
    """Parse the output of ``RULE_TABLES_COMMAND``: each table a rule looks up, with its routes.

    A table that does not exist (``Error: ipv4: FIB table does not exist.`` on stderr, a lone ``[``
    on stdout) is an empty table: the kernel finds no route there and goes on to the next rule.
    """
    tables: dict[str, list[Route]] = {}
    current: str | None = None
    body: list[str] = []

    def close() -> None:
        if current is not None:
            joined = "\n".join(body).strip()
            # a table no route was ever added to: iproute2 prints "[" and then fails on stderr
            routes = parse_routes(joined) if joined not in ("", "[") else []
            tables[current] = [Route(**{**r.__dict__, "table": current}) for r in routes]

    for line in text.splitlines():
        if line.startswith("table "):
            close()
            current, body = line.split(None, 1)[1].strip(), []
            if not current:
                raise ParseError("iprule", "table line without a name")
        elif current is None:
            if line.strip():
                raise ParseError("iprule", f"route output before any 'table NAME' line: {line[:80]!r}")
        else:
            body.append(line)
    close()
    return tables
