"""Load, validate and scope a bgpdoctor inventory file (YAML).

Every problem is reported as one line, ``FILE:LINE: where: what``, for example::

    inv.yaml:14: hosts.router-mine.peers[0].address: '192.168.0.300' is not a valid IPv4 address
    inv.yaml:9: hosts.sakamoto: unknown field 'pod_cidr' (did you mean 'pod_cidrs'?)

The file format is documented in docs/inventory.md; the models live in bgpdoctor.inventory_model.
"""

from __future__ import annotations

import difflib
import re
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from bgpdoctor import intent, safe_yaml
from bgpdoctor.errors import InventoryError, UsageError
from bgpdoctor.inventory_model import Inventory, SshTarget

__all__ = [
    "InventoryProblems",
    "inventory_check_command",
    "inventory_summary",
    "load_inventory",
    "scope_hosts",
]

Loc = tuple[str | int, ...]


class InventoryProblems(InventoryError):
    """An InventoryError that carries every problem found, first (lowest line) first.

    ``str(exc)`` is every problem, one ``FILE:LINE: message`` per line (a single line when there
    is one); ``exc.line`` and ``exc.message`` are the first; ``exc.problems`` holds all of them as
    ``[(line, message), ...]``.
    """

    def __init__(self, path: str, problems: list[tuple[int | None, str]]) -> None:
        self.problems = problems
        line, message = problems[0]
        super().__init__(path, line, message)
        self.args = ("\n".join(self.lines()),)  # `run -i` shows them all, like `inventory check`

    def lines(self) -> list[str]:
        """All problems as ``FILE:LINE: message`` strings, e.g. ``['inv.yaml:9: hosts.x: ...']``."""
        return [f"{self.path}:{ln}: {msg}" if ln else f"{self.path}: {msg}" for ln, msg in self.problems]


@dataclass
class _Doc:
    """The plain data of a YAML document plus the line (1-based) of every key and list item."""

    data: Any
    lines: dict[Loc, int]


def _compose(data: bytes, path: str) -> _Doc:
    try:
        docs = list(safe_yaml.compose_all(data, path))
        if len(docs) > 1:
            second = docs[1]
            line = second.start_mark.line + 1 if second is not None else None
            raise InventoryError(path, line, "expected one YAML document, found a second one")
        root = docs[0] if docs else None
        if root is None:
            raise InventoryError(path, None, "the file is empty (expected a mapping with 'hosts:')")
        lines: dict[Loc, int] = {(): root.start_mark.line + 1}
        _walk(root, (), lines, path)
        data_ = safe_yaml.construct(root, path)
    except safe_yaml.YamlError as exc:
        raise InventoryError(path, exc.line, exc.problem) from None
    if not isinstance(data_, dict):
        kind = "a list" if isinstance(data_, list) else f"a {type(data_).__name__}"
        raise InventoryError(path, lines[()], f"the top level must be a mapping with 'hosts:', not {kind}")
    return _Doc(data_, lines)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _escape(text: str) -> str:
    """Control characters as visible escapes, so a hostile name cannot drive the terminal."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _control_characters(data: Any) -> list[tuple[Loc, str]]:
    """Every key and string value holding a control character (newline, ESC, NUL, ...)."""
    found: list[tuple[Loc, str]] = []
    todo: list[tuple[Any, Loc]] = [(data, ())]
    while todo:
        value, loc = todo.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and _CONTROL.search(key):
                    found.append(((*loc, key), _bad_text(key)))
                todo.append((item, (*loc, key)))
        elif isinstance(value, list):
            todo += [(item, (*loc, i)) for i, item in enumerate(value)]
        elif isinstance(value, str) and _CONTROL.search(value):
            found.append((loc, _bad_text(value)))
    return found


def _bad_text(text: str) -> str:
    code = ord(_CONTROL.findall(text)[0])
    return (
        f"'{_escape(text)}' contains a control character (U+{code:04X}); names and values must be printable"
    )


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], path: str) -> None:
    """Record the line of every mapping key and sequence item; duplicate keys are an error."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key: Any = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            line = key_node.start_mark.line + 1
            if key is None:
                raise InventoryError(path, line, f"{_dotted(loc) or 'top level'}: keys must be plain scalars")
            if key in seen:
                raise InventoryError(
                    path,
                    line,
                    f"{_dotted((*loc, key))}: duplicate key '{key}' (first defined on line {seen[key]})",
                )
            seen[key] = line
            lines[(*loc, key)] = line
            _walk(value_node, (*loc, key), lines, path)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _walk(item, (*loc, i), lines, path)


def _dotted(loc: Loc) -> str:
    """("hosts", "router-mine", "peers", 0, "address") -> "hosts.router-mine.peers[0].address"."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{_escape(str(part))}" if out else _escape(str(part))
    return out


def _line_for(doc: _Doc, loc: Loc) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in doc.lines:
            return doc.lines[loc[:n]]
    return None


def _clean_loc(data: Any, loc: tuple[Any, ...]) -> Loc:
    """Drop the parts pydantic adds for unions and validators (e.g. 'function-after[...]')."""
    out: list[str | int] = []
    cur = data
    for i, part in enumerate(loc):
        if part == "[key]":  # the error is about the key itself: loc already names it
            break
        last = i == len(loc) - 1
        in_list = isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)
        if (isinstance(cur, dict) and part in cur) or in_list:
            out.append(part)
            cur = cur[part]
        elif last and isinstance(part, str | int) and isinstance(cur, dict):
            out.append(part)  # a missing or unknown field
        # else: a pydantic tag, or a loc inside a scalar; skip it
    return tuple(out)


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at loc, e.g. ("hosts", "x") -> Host."""
    tp: Any = Inventory
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        elif typing.get_origin(tp) is list:
            tp = typing.get_args(tp)[0]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(err: Any, loc: Loc) -> tuple[Loc, str]:
    """Turn one pydantic error into (where, message) in plain words."""
    kind = err["type"]
    msg: str = err["msg"]
    if kind == "extra_forbidden" and loc:
        name = str(loc[-1])
        parent = loc[:-1]
        model = _model_at(parent)
        hint = ""
        if model is not None:
            close = difflib.get_close_matches(name, list(model.model_fields), n=1, cutoff=0.6)
            if close:
                hint = f" (did you mean '{close[0]}'?)"
            else:
                hint = f" (allowed: {', '.join(model.model_fields)})"
        return parent, f"unknown field '{name}'{hint}"
    if kind == "missing" and loc:
        return loc[:-1], f"missing required field '{loc[-1]}'"
    if msg.startswith("Value error, "):
        return loc, msg[len("Value error, ") :]
    if kind.startswith(("ip_v4", "ip_v6", "ip_any")):
        what = "network" if "network" in kind else "address"
        family = "IPv6" if ":" in str(err["input"]) else "IPv4"  # what the value looks like
        return loc, f"{_short(err['input'])} is not a valid {family} {what}"
    if msg.startswith("Input "):
        return loc, f"{_short(err['input'])} {msg[len('Input ') :]}"
    return loc, msg


def _cross_check(inv: Inventory, doc: _Doc) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    known = ", ".join(inv.hosts) or "none"
    for name, host in inv.hosts.items():
        if host.site is not None and host.site not in inv.sites:
            sites = ", ".join(inv.sites) or "none; add it under 'sites:'"
            problems.append((("hosts", name, "site"), f"unknown site '{host.site}' (known: {sites})"))
        for i, peer in enumerate(host.peers):
            if peer.host is None:
                continue
            if peer.host not in inv.hosts:
                problems.append(
                    (("hosts", name, "peers", i, "host"), f"unknown host '{peer.host}' (known: {known})")
                )
            elif peer.host == name:
                problems.append(
                    (("hosts", name, "peers", i, "host"), f"host '{name}' cannot peer with itself")
                )
        ssh = host.connect.ssh
        if ssh is not None and ssh.proxy_jump:
            for hop in _jump_names(ssh.proxy_jump):
                target = inv.hosts.get(hop)
                if hop == name:
                    problems.append(
                        (("hosts", name, "connect", "ssh", "proxy_jump"), "a host cannot jump via itself")
                    )
                elif target is not None and target.connect.ssh is None:
                    problems.append(
                        (
                            ("hosts", name, "connect", "ssh", "proxy_jump"),
                            f"jump host '{hop}' is in the inventory but is not reached over ssh",
                        )
                    )
    ms = inv.vantage.metrics_server
    if ms is not None and ms not in inv.hosts:
        problems.append((("vantage", "metrics_server"), f"unknown host '{ms}' (known: {known})"))
    return problems


def _jump_names(proxy_jump: str) -> list[str]:
    """'admin@router-mine:2222,bastion' -> ['router-mine', 'bastion'] (the host part of each hop)."""
    names = []
    for hop in proxy_jump.split(","):
        hop = hop.strip().removeprefix("ssh://")
        hop = hop.rsplit("@", 1)[-1]
        if hop.startswith("["):
            hop = hop[1:].split("]", 1)[0]
        elif hop.count(":") == 1:
            hop = hop.split(":", 1)[0]
        if hop:
            names.append(hop)
    return names


def load_inventory(path: str | Path) -> Inventory:
    """Read and validate an inventory file; raise InventoryError naming the file and line.

    Example: ``load_inventory("inv.yaml").hosts["router-mine"].peers[0].address`` ->
    ``IPv4Address('192.168.6.80')``. A bad file raises e.g.
    ``InventoryError("inv.yaml", 14, "hosts.router-mine.peers[0].address: '192.168.0.300' is not a
    valid IPv4 address")``.
    """
    shown = str(path)
    try:
        data = safe_yaml.read_file(path, source=shown)
    except safe_yaml.YamlError as exc:
        problem = (
            "is a directory, not an inventory file" if exc.problem.startswith("is a dir") else exc.problem
        )
        raise InventoryError(shown, exc.line, problem) from None
    doc = _compose(data, shown)
    control = _control_characters(doc.data)
    found = [(_line_for(doc, loc), f"{_dotted(loc) or 'top level'}: {msg}") for loc, msg in control]
    try:
        inv = Inventory.model_validate(doc.data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = _clean_loc(doc.data, err["loc"])
            if any(loc[: len(bad)] == bad for bad, _ in control):
                continue  # already reported as a control character
            where, message = _describe(err, loc)
            label = _dotted(where) or "top level"
            entry = (_line_for(doc, loc), f"{label}: {message}")
            if entry not in found:  # an IPv4-or-IPv6 field fails once per family
                found.append(entry)
    if found:
        found.sort(key=lambda p: p[0] or 0)
        raise InventoryProblems(shown, found) from None
    cross = _cross_check(inv, doc)
    if cross:
        problems = sorted(
            ((_line_for(doc, loc), f"{_dotted(loc)}: {msg}") for loc, msg in cross), key=lambda p: p[0] or 0
        )
        raise InventoryProblems(shown, problems)
    return _anchor_paths(inv, Path(path).resolve().parent)


def peer_intents(path: str | Path) -> dict[str, list[intent.PeerIntent]]:
    """Every host's peer entries as the one session model, each field stated at its line of the file
    (validated as load_inventory validates, with its errors).

    Example: peer_intents("inv.yaml")["sakamoto"][0].origin("asn") -> Loc("inv.yaml", 23)
    """
    inv = load_inventory(path)
    shown = str(path)
    doc = _compose(safe_yaml.read_file(path, source=shown), shown)
    out: dict[str, list[intent.PeerIntent]] = {}
    for name, host in inv.hosts.items():
        at_asn = doc.lines.get(("hosts", name, "asn"))
        out[name] = [
            peer.intent(
                intent.Loc(shown, doc.lines.get(("hosts", name, "peers", i), 0)),
                {str(k[-1]): line for k, line in doc.lines.items() if k[:-1] == ("hosts", name, "peers", i)},
                local_asn=host.asn,
                local_asn_at=intent.Loc(shown, at_asn) if at_asn else None,
            )
            for i, peer in enumerate(host.peers)
        ]
    return out


def _anchor_paths(inv: Inventory, base: Path) -> Inventory:
    """Make relative identity_file/known_hosts/ssh_config paths relative to the inventory's folder."""

    def fix(target: SshTarget) -> SshTarget:
        update = {}
        for key in ("identity_file", "known_hosts", "ssh_config"):
            value = getattr(target, key)
            if value and not value.startswith("~") and not Path(value).is_absolute():
                update[key] = str(base / value)
        return target.model_copy(update=update) if update else target

    inv.defaults.ssh = fix(inv.defaults.ssh)
    for host in inv.hosts.values():
        if host.connect.ssh is not None:
            host.connect.ssh = fix(host.connect.ssh)
    return inv


def _sessions(inv: Inventory) -> set[tuple[frozenset[str], int, bool]]:
    found: set[tuple[frozenset[str], int, bool]] = set()
    for name, host in inv.hosts.items():
        for peer in host.peers:
            other = peer.host if peer.host is not None else f"@{peer.address}"
            found.add((frozenset((name, other)), peer.family, peer.link_local))  # dual stack: one per family
    return found


def inventory_summary(inv: Inventory) -> str:
    """One line describing an inventory, e.g. ``5 hosts: 2 routers, 2 nodes, 1 vantage; 4 sessions``.

    A BGP session is counted once even when both ends list it.
    """
    counts = {
        role: sum(1 for h in inv.hosts.values() if h.role == role) for role in ("router", "node", "vantage")
    }
    plural = {"router": "routers", "node": "nodes", "vantage": "vantage"}
    parts = ", ".join(f"{n} {plural[r] if n != 1 else r}" for r, n in counts.items() if n)
    n_hosts = len(inv.hosts)
    n_sessions = len(_sessions(inv))
    return (
        f"{n_hosts} host{'s' if n_hosts != 1 else ''}: {parts}; "
        f"{n_sessions} session{'s' if n_sessions != 1 else ''}"
    )


def inventory_check_command(path: str | Path) -> int:
    """`bgpdoctor inventory check FILE`: print ``FILE: ok (...)`` and return 0, or the problems and 2.

    Example stdout: ``lab.yaml: ok (5 hosts: 2 routers, 2 nodes, 1 vantage; 4 sessions)``.
    On error every problem goes to stderr, one per line, the first one first.
    """
    try:
        inv = load_inventory(path)
    except InventoryProblems as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return 2
    except InventoryError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"{path}: ok ({inventory_summary(inv)})")
    return 0


def sessions_graph(inv: Inventory) -> dict[str, set[str]]:
    """Each host's BGP neighbours in the inventory, configured at either end."""
    graph: dict[str, set[str]] = {name: set() for name in inv.hosts}
    for name, host in inv.hosts.items():
        for peer in host.peers:
            if peer.host is not None and peer.host in graph and peer.host != name:
                graph[name].add(peer.host)
                graph[peer.host].add(name)
    return graph


def peer_distances(graph: dict[str, set[str]], start: str) -> dict[str, int]:
    """Hops from `start` over configured BGP sessions; absent hosts are in another routing domain,
    which pod routes never reach."""
    distance = {start: 0}
    queue = [start]
    for name in queue:
        for other in sorted(graph[name]):
            if other not in distance:
                distance[other] = distance[name] + 1
                queue.append(other)
    return distance


def scope_hosts(inv: Inventory, nodes: list[str]) -> list[str]:
    """The hosts to visit for ``--node NAME`` (repeatable), in inventory order.

    The scope of a node is: the node itself, every host it lists as a peer or that lists it as a
    peer (the routers of its site when it has none), one node of every other site of its routing
    domain (the hosts joined to it by BGP sessions) as the far end of its pod paths, or one of its
    own site when there is no other, the far ends' routers, the routers of the domain's sites
    without nodes (a backbone its pod routes are passed to), the hosts on the shortest session
    chains to all of these, and the metrics-server vantage host. Sites its pod routes never reach
    are left out.
    The run adds any host its traced paths still cross (engine/run.py). No nodes means every host.
    Example for the lab and ``["yuuko-k8s"]``: router-mine, router-home, sakamoto, yuuko-k8s and
    metrics-server; the seed sites (gateway, kubemaster, tor, ...) are left out.
    Unknown names raise UsageError listing the known nodes.
    """
    if not nodes:
        return list(inv.hosts)
    unknown = [n for n in nodes if n not in inv.hosts]
    if unknown:
        known_nodes = [n for n, h in inv.hosts.items() if h.role == "node"]
        others = [n for n in inv.hosts if n not in known_nodes]
        raise UsageError(
            f"unknown node {', '.join(repr(u) for u in unknown)} "
            f"(known nodes: {', '.join(known_nodes) or 'none'}; other hosts: {', '.join(others) or 'none'})"
        )
    wanted: set[str] = set(nodes)
    focus_sites = {inv.hosts[n].site for n in nodes}
    graph = sessions_graph(inv)
    for n in nodes:
        neighbours = graph[n]
        wanted.update(neighbours)
        site = inv.hosts[n].site
        if not neighbours:  # no sessions: its way out is one of its site's routers
            wanted.update(r for r, h in inv.hosts.items() if h.role == "router" and site and h.site == site)
        near = peer_distances(graph, n)
        # a far end with a pod probe address first: it is the other end of a probed pod path
        candidates = sorted(
            (o for o, h in inv.hosts.items() if h.role == "node" and o in near and o not in nodes),
            key=lambda o: inv.hosts[o].pod_probe_ip is None,
        )
        far: dict[str | None, str] = {}
        for o in candidates:
            if inv.hosts[o].site not in focus_sites:
                far.setdefault(inv.hosts[o].site, o)
        if not far and (same := [o for o in candidates if inv.hosts[o].site == site]):
            far[site] = same[0]
        ends = list(far.values())
        wanted.update(r for o in ends for r in graph[o] if inv.hosts[r].role == "router")
        # a site of the domain without nodes (a backbone) is reached through its routers
        ends += [
            r
            for r, h in inv.hosts.items()
            if h.role == "router" and r in near and h.site not in focus_sites and h.site not in far
        ]
        wanted.update(ends)
        for o in ends:
            there = peer_distances(graph, o)
            wanted.update(h for h, d in near.items() if h in there and d + there[h] == near[o])
    if inv.vantage.metrics_server is not None:
        wanted.add(inv.vantage.metrics_server)
    return [n for n in inv.hosts if n in wanted]
