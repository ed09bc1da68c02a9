"""YAML with line numbers: documents are composed (not loaded) so every value keeps its mark."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml


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
        return str(n.v)

    def i(self, *path: str | int) -> int | None:
        n = self.get(*path)
        if n is None or isinstance(n.v, bool):
            return None
        try:
            return int(n.v)
        except (TypeError, ValueError):
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

    def plain(self) -> Any:
        if isinstance(self.v, dict):
            return {k: x.plain() for k, x in self.v.items()}
        if isinstance(self.v, list):
            return [x.plain() for x in self.v]
        return self.v


_SCALARS = yaml.SafeLoader("")


def _build(node: yaml.Node, offset: int) -> Y:
    line = node.start_mark.line + 1 + offset
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Y] = {}
        for k, v in node.value:
            key = _SCALARS.construct_object(k) if isinstance(k, yaml.ScalarNode) else None
            if key is None or isinstance(key, dict | list):
                continue
            out[str(key)] = _build(v, offset)
        return Y(out, line)
    if isinstance(node, yaml.SequenceNode):
        return Y([_build(x, offset) for x in node.value], line)
    return Y(_SCALARS.construct_object(node), line)


def compose_documents(text: str, offset: int = 0) -> Iterator[Y | None]:
    """Each document of a multi-document YAML text; raises yaml.YAMLError (with problem_mark).

    offset shifts every line (for YAML embedded in a string of another file).
    Example: list(compose_documents("a: 1\\n---\\nb: 2\\n")) -> [Y({"a": Y(1, 1)}, 1), Y({"b": ...}, 3)]
    """
    for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
        yield None if node is None else _build(node, offset)


def error_line(exc: yaml.YAMLError, offset: int = 0) -> tuple[int, str]:
    """Line and one-line text of a YAML error. Example: (4, "mapping values are not allowed here")"""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = (mark.line + 1 + offset) if mark is not None else 1
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return line, f"YAML error: {problem}"
