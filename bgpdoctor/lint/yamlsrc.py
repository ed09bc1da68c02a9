"""YAML with line numbers: documents are composed (not loaded) so every value keeps its mark.

Read through bgpdoctor.safe_yaml: bounded (size, depth, aliases), merge keys applied.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bgpdoctor.kube.selectors import label_value
from bgpdoctor.kube.view import Located
from bgpdoctor.safe_yaml import YamlError, compose_all, scalar_value


@dataclass
class Y:
    """A YAML value with its 1-based line. v is dict[str, Y], list[Y] or a plain scalar.

    Example: Y(v={"kind": Y(v="Node", line=2)}, line=1)
    """

    v: Any
    line: int

    def get(self, *path: str | int) -> Y | None:
        cur: Y | None = self
        for p in path:
            if cur is None:
                return None
            if isinstance(p, int):
                cur = cur.v[p] if isinstance(cur.v, list) and p < len(cur.v) else None
            else:
                cur = cur.v.get(p) if isinstance(cur.v, dict) else None
        return cur

    def s(self, *path: str | int) -> str | None:
        n = self.get(*path)
        if n is None or n.v is None or isinstance(n.v, dict | list):
            return None
        return n.text()

    def text(self) -> str:
        """The scalar as Kubernetes' JSON would spell it: True -> "true", None -> ""."""
        return label_value(self.v)

    def i(self, *path: str | int) -> int | None:
        n = self.get(*path)
        if n is None or isinstance(n.v, bool):
            return None
        try:
            return int(n.v)
        except (TypeError, ValueError, OverflowError):
            return None

    def b(self, *path: str | int) -> bool | None:
        n = self.get(*path)
        if n is None:
            return None
        if isinstance(n.v, bool):
            return n.v
        if isinstance(n.v, str) and n.v.lower() in ("true", "false"):
            return n.v.lower() == "true"
        return None

    def m(self, *path: str | int) -> dict[str, Y]:
        n = self.get(*path)
        return n.v if n is not None and isinstance(n.v, dict) else {}

    def ls(self, *path: str | int) -> list[Y]:
        n = self.get(*path)
        return n.v if n is not None and isinstance(n.v, list) else []

    def located(self, file: str, memo: dict[int, Any] | None = None) -> Any:
        """The value as the Kubernetes parsers (bgpdoctor.kube.view) take it: mappings become
        Located (remembering file and lines), lists lists, scalars stay as read.

        Example: Y({"peerASN": Y(65000, 4)}, 3).located("bgp.yaml")
        -> Located({"peerASN": 65000}, "bgp.yaml", 3, {"peerASN": 4})
        """
        memo = {} if memo is None else memo
        done = memo.get(id(self))
        if done is not None:  # an alias: the same object, and a cycle ends here
            return done
        if isinstance(self.v, dict):
            m = Located({}, file, self.line, {k: v.line for k, v in self.v.items()})
            memo[id(self)] = m
            m.update({k: v.located(file, memo) for k, v in self.v.items()})
            return m
        if isinstance(self.v, list):
            items: list[Any] = []
            memo[id(self)] = items
            items += [v.located(file, memo) for v in self.v]
            return items
        return self.v

    def plain(self) -> Any:
        if isinstance(self.v, dict):
            return {k: x.plain() for k, x in self.v.items()}
        if isinstance(self.v, list):
            return [x.plain() for x in self.v]
        return self.v


def _merged(node: MappingNode) -> list[tuple[Node, Node]]:
    """The key/value pairs of a mapping with its merge keys (``<<: *base``) applied: later pairs
    win, so merged mappings come first (the first of a merged list last) and the node's own keys
    last."""
    merged: list[tuple[Node, Node]] = []
    own: list[tuple[Node, Node]] = []
    for k, v in node.value:
        if k.tag != "tag:yaml.org,2002:merge":
            own.append((k, v))
            continue
        sources = [v] if isinstance(v, MappingNode) else v.value if isinstance(v, SequenceNode) else []
        for sub in reversed(sources):
            if isinstance(sub, MappingNode):
                merged += _merged(sub)
    return merged + own


def _build(node: Node, offset: int, memo: dict[int, Y]) -> Y:
    done = memo.get(id(node))
    if done is not None:  # an alias: the same Y, not a second copy
        return done
    line = node.start_mark.line + 1 + offset
    if isinstance(node, MappingNode):
        out: dict[str, Y] = {}
        y = Y(out, line)
        memo[id(node)] = y
        for k, v in _merged(node):
            if not isinstance(k, ScalarNode):
                continue
            key = scalar_value(k, core_schema=True)
            if key is not None:
                out[str(key).lower() if isinstance(key, bool) else str(key)] = _build(v, offset, memo)
        return y
    if isinstance(node, SequenceNode):
        items: list[Y] = []
        y = Y(items, line)
        memo[id(node)] = y
        items += [_build(x, offset, memo) for x in node.value]
        return y
    y = Y(scalar_value(node, core_schema=True) if isinstance(node, ScalarNode) else None, line)
    memo[id(node)] = y
    return y


def compose_documents(text: str, offset: int = 0, source: str = "<yaml>") -> Iterator[Y | None]:
    """Each document of a multi-document YAML text, read as Kubernetes reads it (YAML 1.2 core
    schema: ``yes`` stays a string). Raises YamlError (a UsageError naming source:line); the
    documents before a bad one are yielded first. Bounded by bgpdoctor.safe_yaml's limits.

    offset shifts every line (for YAML embedded in a string of another file).
    Example: list(compose_documents("a: 1\\n---\\nb: 2\\n")) -> [Y({"a": Y(1, 1)}, 1), Y({"b": ...}, 3)]
    """
    for node in compose_all(text, source, core_schema=True, line_offset=offset):
        yield None if node is None else _build(node, offset, {})


def error_line(exc: YamlError) -> tuple[int, str]:
    """Line and one-line text of a YAML error.

    Example: (4, "YAML error: mapping values are not allowed here")
    """
    problem = exc.problem.removeprefix("YAML syntax error: ")
    if not problem.startswith("YAML"):
        problem = f"YAML error: {problem}"
    return (exc.line or 1), problem
