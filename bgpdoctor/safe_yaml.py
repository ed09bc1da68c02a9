"""The one YAML reader for files a user hands to bgpdoctor (inventory, manifests, checks, playbooks).

It is bounded: a file over `Limits.max_bytes`, a control character, nesting deeper than
`Limits.max_depth` (counted through aliases), an alias that refers to a node containing it, and
aliases that would expand to more than `Limits.max_alias_nodes` nodes (a "billion laughs" bomb)
each raise `YamlError`, a `UsageError` whose message is one line naming ``file:line``::

    inv.yaml:9: YAML aliases expand to more than 250000 nodes (an alias bomb?)

Events come from libyaml's C parser when available (fast, and it keeps no Python recursion);
the node graph is composed here, with the bounds checked on the way, then constructed by PyYAML's
safe constructor. Merge keys (``<<``) work, and an anchor may be redefined (YAML 1.2 rules: an
alias refers to the latest definition). ``core_schema=True`` resolves plain scalars with YAML
1.2's core schema, as Kubernetes does: ``yes``/``no``/``on``/``off`` stay strings, only
``true``/``false`` are booleans, ``012`` is 12 and dates stay strings.

Example: load("a: &x [1, 2]\\nb: *x\\n", "f.yaml") -> {"a": [1, 2], "b": [1, 2]}
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver, Resolver

from bgpdoctor.errors import UsageError

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "YamlError",
    "compose_all",
    "construct",
    "load",
    "load_all",
    "load_file",
    "read_file",
    "read_text",
    "scalar_value",
]

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Bounds on one YAML stream. Example: Limits(max_bytes=16 * MiB, max_depth=200)"""

    max_bytes: int = 16 * MiB
    max_depth: int = 200
    max_alias_nodes: int = 250_000  # nodes added by expanding aliases, over the whole stream
    friendly_errors_below: int = MiB  # re-parse a bad file this small in Python for its clearer message


DEFAULT_LIMITS = Limits()


class YamlError(UsageError):
    """A YAML file bgpdoctor refuses: ``str(exc)`` is ``source:line: message`` on one line.

    ``problem`` is the message without the place, e.g. "YAML syntax error: found undefined alias 'x'".
    """

    def __init__(self, source: str, line: int | None, problem: str) -> None:
        self.source = source
        self.line = line
        self.problem = " ".join(problem.split())
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {self.problem}")


# YAML 1.2 printable characters: tab, LF, CR, x20-x7E, x85, xA0-xD7FF, xE000-xFFFD, astral planes
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_CONTROL_NAMES = {0: "NUL", 7: "BEL", 8: "BS", 0x1B: "ESC", 0x7F: "DEL"}


def _line_at(text: str | bytes, pos: int) -> int:
    if isinstance(text, bytes):
        return text.count(b"\n", 0, pos) + 1
    return text.count("\n", 0, pos) + 1


def _size_text(n: int) -> str:
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n} bytes"


def read_text(data: str | bytes, source: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """The text of a YAML input, checked for size, encoding and control characters.

    Example: read_text(b"a: 1\\n", "f.yaml") -> "a: 1\\n"; read_text("a: \\x00", "f.yaml") raises
    YamlError("f.yaml", 1, "control character U+0000 (NUL) at column 4: not a text file").
    """
    if len(data) > limits.max_bytes:
        raise YamlError(
            source, None, f"file is {_size_text(len(data))}, over the {_size_text(limits.max_bytes)} limit"
        )
    if isinstance(data, bytes):
        try:
            if data.startswith((b"\xff\xfe", b"\xfe\xff")):
                text = data.decode("utf-16")
            else:
                text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise YamlError(
                source, _line_at(data, exc.start), f"not UTF-8 text (byte 0x{data[exc.start]:02x})"
            ) from None
    else:
        text = data
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        code = ord(bad.group())
        name = f" ({_CONTROL_NAMES[code]})" if code in _CONTROL_NAMES else ""
        column = bad.start() - text.rfind("\n", 0, bad.start())
        raise YamlError(
            source,
            _line_at(text, bad.start()),
            f"control character U+{code:04X}{name} at column {column}: not a text file",
        )
    return text


# -- YAML 1.2 core schema ---------------------------------------------------------------------------
class CoreResolver(BaseResolver):
    """Plain scalars as YAML 1.2's core schema reads them (what Kubernetes' JSON-like reader sees)."""


CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)
CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
CoreResolver.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])


class _Constructor(SafeConstructor):
    pass


def _core_int(constructor: SafeConstructor, node: ScalarNode) -> int:
    value = str(constructor.construct_scalar(node))
    if value.startswith("0o"):
        return int(value[2:], 8)
    if value.startswith("0x"):
        return int(value[2:], 16)
    return int(value, 10)


def _core_float(constructor: SafeConstructor, node: ScalarNode) -> float:
    value = str(constructor.construct_scalar(node)).lower()
    if value.endswith(".inf"):
        return float("-inf") if value.startswith("-") else float("inf")
    if value == ".nan":
        return float("nan")
    return float(value)


class _CoreConstructor(SafeConstructor):
    """SafeConstructor with YAML 1.2 numbers (012 is twelve, 0o12 is ten)."""

    yaml_constructors: ClassVar[dict[Any, Any]] = {
        **SafeConstructor.yaml_constructors,
        "tag:yaml.org,2002:int": _core_int,
        "tag:yaml.org,2002:float": _core_float,
    }


_RESOLVERS: dict[bool, BaseResolver] = {False: Resolver(), True: CoreResolver()}
_SCALAR_CONSTRUCTORS: dict[bool, SafeConstructor] = {False: _Constructor(), True: _CoreConstructor()}


# -- events and composition ------------------------------------------------------------------------
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _mark_line(mark: Any) -> int | None:
    return int(mark.line) + 1 if mark is not None else None


def _syntax_error(exc: yaml.YAMLError, source: str, offset: int) -> YamlError:
    if not isinstance(exc, yaml.MarkedYAMLError):
        return YamlError(source, None, f"YAML error: {str(exc).splitlines()[0] if str(exc) else exc}")
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem:
        what = f"{exc.context}, {exc.problem}"
        ctx = exc.context_mark
        if ctx is not None and mark is not None and ctx.line != mark.line:
            what += f" (the construct starts on line {ctx.line + 1 + offset})"
    line = _mark_line(mark)
    return YamlError(source, line + offset if line else None, f"YAML syntax error: {what}")


def _friendlier(text: str, exc: yaml.YAMLError) -> yaml.YAMLError:
    """The pure-Python parser's error for the same text: it says what it found ("but got ':'")."""
    try:
        for _event in yaml.parse(text, Loader=yaml.SafeLoader):
            pass
    except yaml.MarkedYAMLError as better:
        return better
    return exc


@contextmanager
def _no_gc() -> Iterator[None]:
    """Composing makes millions of acyclic objects; the cycle collector would re-scan them all."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Frame:
    __slots__ = ("anchor", "is_map", "node", "nodes_before", "outer_peak", "pending_key")

    def __init__(self, node: Node, anchor: _Anchor | None, nodes_before: int, outer_peak: int) -> None:
        self.node = node
        self.is_map = isinstance(node, MappingNode)
        self.anchor = anchor
        self.pending_key: Node | None = None
        self.nodes_before = nodes_before
        self.outer_peak = outer_peak


class _Anchor:
    """An anchored node; size and depth (in collection levels) count its aliases expanded."""

    __slots__ = ("depth", "node", "open", "size")

    def __init__(self, node: Node, open_: bool) -> None:
        self.node = node
        self.open = open_
        self.size = 1
        self.depth = 0


def _compose_stream(
    text: str, source: str, core_schema: bool, limits: Limits, offset: int
) -> Iterator[Node | None]:
    """Node graphs, one per document, composed from parser events without recursion.

    `nodes` counts nodes with aliases expanded, so a frame's expanded size is the difference
    between its close and its open; `peak` is the deepest collection level reached (through
    aliases) while the innermost open frame is open.
    """
    resolve: Callable[[type[Node], str | None, Any], str] = _RESOLVERS[core_schema].resolve
    max_depth, max_alias_nodes = limits.max_depth, limits.max_alias_nodes
    loader = _Loader(text)
    stack: list[_Frame] = []
    anchors: dict[str, _Anchor] = {}
    nodes = alias_nodes = peak = 0
    root: Node | None = None

    def fail(mark: Any, problem: str) -> YamlError:
        line = _mark_line(mark)
        return YamlError(source, line + offset if line else None, problem)

    def attach(node: Node) -> None:
        nonlocal root
        if not stack:
            root = node
            return
        top = stack[-1]
        if not top.is_map:
            top.node.value.append(node)
        elif top.pending_key is None:
            top.pending_key = node
        else:
            top.node.value.append((top.pending_key, node))
            top.pending_key = None

    try:
        while True:
            event = loader.get_event()
            kind = type(event)
            if kind is yaml.ScalarEvent:
                tag = event.tag
                if tag is None or tag == "!":
                    tag = resolve(ScalarNode, event.value, event.implicit)
                node: Node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
                nodes += 1
                if event.anchor is not None:
                    anchors[event.anchor] = _Anchor(node, False)
                attach(node)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if len(stack) >= max_depth:
                    raise fail(event.start_mark, f"YAML nested deeper than {max_depth} levels")
                node_kind = MappingNode if kind is yaml.MappingStartEvent else SequenceNode
                tag = event.tag
                if tag is None or tag == "!":
                    tag = resolve(node_kind, None, event.implicit)
                node = node_kind(tag, [], event.start_mark, None, event.flow_style)
                opened = _Anchor(node, True) if event.anchor is not None else None
                if opened is not None:
                    anchors[event.anchor] = opened
                stack.append(_Frame(node, opened, nodes, peak))
                nodes += 1
                peak = len(stack)
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                level = len(stack)
                frame = stack.pop()
                frame.node.end_mark = event.end_mark
                if frame.anchor is not None:
                    frame.anchor.open = False
                    frame.anchor.size = nodes - frame.nodes_before
                    frame.anchor.depth = peak - level + 1
                peak = max(peak, frame.outer_peak)
                attach(frame.node)
            elif kind is yaml.AliasEvent:
                target = anchors.get(event.anchor)
                if target is None:
                    raise fail(event.start_mark, f"YAML syntax error: found undefined alias '{event.anchor}'")
                if target.open:
                    raise fail(
                        event.start_mark,
                        f"YAML alias *{event.anchor} refers to a node that contains it (a recursive alias)",
                    )
                alias_nodes += target.size
                if alias_nodes > max_alias_nodes:
                    raise fail(
                        event.start_mark,
                        f"YAML aliases expand to more than {max_alias_nodes} nodes (an alias bomb?)",
                    )
                if len(stack) + target.depth > max_depth:
                    raise fail(event.start_mark, f"YAML nested deeper than {max_depth} levels")
                nodes += target.size
                peak = max(peak, len(stack) + target.depth)
                attach(target.node)
            elif kind is yaml.DocumentStartEvent:
                anchors, root = {}, None
            elif kind is yaml.DocumentEndEvent:
                yield root
            elif event is None or kind is yaml.StreamEndEvent:
                break
    except yaml.YAMLError as exc:
        small = len(text) <= limits.friendly_errors_below
        raise _syntax_error(_friendlier(text, exc) if small else exc, source, offset) from None
    finally:
        loader.dispose()


_END: Any = object()


def compose_all(
    data: str | bytes,
    source: str,
    *,
    core_schema: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    line_offset: int = 0,
) -> Iterator[Node | None]:
    """Each document's node graph (None for an empty document), checked against limits.

    Nodes keep their marks (``node.start_mark.line`` is 0-based). line_offset shifts the lines in
    errors (for YAML embedded in a string of another file). Raises YamlError, possibly after
    yielding the documents before the bad one.
    Example: [n.tag for n in compose_all("a: 1\\n---\\n- 2\\n", "f")] -> ["...:map", "...:seq"]
    """
    text = read_text(data, source, limits)
    stream = _compose_stream(text, source, core_schema, limits, line_offset)
    while True:
        with _no_gc():
            node = next(stream, _END)
        if node is _END:
            return
        yield node if isinstance(node, Node) else None


def construct(node: Node | None, source: str, *, core_schema: bool = False) -> Any:
    """Python data for a node graph from compose_all (dicts, lists, scalars). Raises YamlError."""
    if node is None:
        return None
    constructor = _CoreConstructor() if core_schema else _Constructor()
    try:
        with _no_gc():
            return constructor.construct_document(node)
    except ConstructorError as exc:
        raise _syntax_error(exc, source, 0) from None
    except (ValueError, OverflowError) as exc:
        raise YamlError(source, None, f"YAML error: bad value ({exc})") from None


def scalar_value(node: ScalarNode, *, core_schema: bool = False) -> Any:
    """The Python value of one scalar node; a tag bgpdoctor does not know gives the plain string.

    Example: scalar_value(<ScalarNode tag=int value="012">, core_schema=True) -> 12
    """
    constructor = _SCALAR_CONSTRUCTORS[core_schema]
    make: Callable[[SafeConstructor, Node], Any] | None = constructor.yaml_constructors.get(node.tag)
    if make is None or node.tag in ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"):
        return node.value
    try:
        return make(constructor, node)
    except (ConstructorError, ValueError, OverflowError, TypeError):
        return node.value


def load_all(
    data: str | bytes, source: str, *, core_schema: bool = False, limits: Limits = DEFAULT_LIMITS
) -> list[Any]:
    """Every document of a YAML stream as Python data. Example: load_all("1\\n---\\n2\\n", "f") -> [1, 2]"""
    return [
        construct(node, source, core_schema=core_schema)
        for node in compose_all(data, source, core_schema=core_schema, limits=limits)
    ]


def load(
    data: str | bytes, source: str, *, core_schema: bool = False, limits: Limits = DEFAULT_LIMITS
) -> Any:
    """The one document of a YAML text (None when it is empty); more than one is a YamlError.

    Example: load("hosts: {}\\n", "inv.yaml") -> {"hosts": {}}
    """
    docs = list(compose_all(data, source, core_schema=core_schema, limits=limits))
    if len(docs) > 1:
        second = docs[1]
        line = second.start_mark.line + 1 if second is not None else None
        raise YamlError(source, line, "expected a single YAML document, found more than one")
    return construct(docs[0], source, core_schema=core_schema) if docs else None


def load_file(
    path: str | Path, *, core_schema: bool = False, limits: Limits = DEFAULT_LIMITS, source: str | None = None
) -> Any:
    """load() of a file, reading at most limits.max_bytes + 1 bytes of it. Raises YamlError.

    Example: load_file("checks/bird.yaml") -> [{"id": "bird-running", ...}, ...]
    """
    shown = source or str(path)
    return load(read_file(path, limits, shown), shown, core_schema=core_schema, limits=limits)


def read_file(path: str | Path, limits: Limits = DEFAULT_LIMITS, source: str | None = None) -> bytes:
    """The bytes of a file, refused without reading it all when it is over limits.max_bytes."""
    shown = source or str(path)
    try:
        with open(path, "rb") as f:
            data = f.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise YamlError(shown, None, "no such file") from None
    except IsADirectoryError:
        raise YamlError(shown, None, "is a directory, not a file") from None
    except OSError as exc:
        raise YamlError(shown, None, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limits.max_bytes:
        raise YamlError(shown, None, f"file is over the {_size_text(limits.max_bytes)} limit")
    return data
