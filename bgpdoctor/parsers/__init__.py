"""Pure parsers: command output text in, dataclasses out.

One module per tool (``bird``, ``gobgp``, ``ping``, ``ss``, ``sysctl``, ``iproute``, ``nft``,
``pcap``). Every parser raises :class:`ParseError` on input it cannot make sense of, never a bare
``KeyError`` or ``ValueError``, so a probe can turn it into a finding with the raw text as evidence.
The helpers below read JSON with a depth bound and check each field's type, and read numbers only
when they are ASCII digits (``"²".isdigit()`` is True, ``int("²")`` is not).

Example::

    >>> from bgpdoctor.parsers.sysctl import parse_sysctl
    >>> parse_sysctl("net.ipv4.ip_forward = 1\\n")
    {'net.ipv4.ip_forward': '1'}
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from bgpdoctor.errors import BgpDoctorError

MAX_JSON_DEPTH = 100  # real outputs nest about 10 deep; nft JSON is the deepest

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_AS_PARENS = str.maketrans("[{]}", "(())")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?|[+-]?\.[0-9]+")


class ParseError(BgpDoctorError):
    """Output a parser could not understand.

    Example: ParseError("bird", "no 'Name Proto Table State Since Info' header") whose str() is
    "bird: no 'Name Proto Table State Since Info' header".
    """

    def __init__(self, parser: str, message: str) -> None:
        self.parser = parser
        self.message = message
        super().__init__(f"{parser}: {message}")


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _json_depth(text: str, limit: int) -> int:
    """How deep brackets outside strings nest, counted up to limit + 1 (peeling innermost pairs)."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)).translate(_AS_PARENS)
    if "(" * (limit + 1) in brackets:
        return limit + 1
    for depth in range(limit + 1):
        shorter = brackets.replace("()", "")
        if shorter == brackets:  # empty, or unbalanced (then json.loads says it is not JSON)
            return depth
        brackets = shorter
    return limit + 1


def _nesting(value: Any, limit: int) -> int:
    """How deep the lists and objects of decoded JSON nest (what `_json_depth` counts in its text),
    counted up to limit + 1."""
    depth, level = 0, [value] if type(value) is dict or type(value) is list else []
    while level and depth <= limit:
        depth += 1
        level = [
            inner
            for outer in level
            for inner in (outer.values() if type(outer) is dict else outer)
            if type(inner) is dict or type(inner) is list
        ]
    return depth


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_no_constant)


def load_json(text: str, parser: str, what: str = "output", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON output, or raise ParseError: not JSON, nested deeper than ``max_depth``, NaN or a
    number out of range (``1e309``, an integer of thousands of digits).

    Example: load_json('[{"dst":"default"}]', "iproute") -> [{"dst": "default"}];
    load_json('[{"mtu":1e309}]', "iproute") raises ParseError("iproute", "output: not JSON (...)").
    """
    # no deeper than its opening brackets: most outputs have too few to need a look
    may_be_deep = text.count("[") + text.count("{") > max_depth
    try:
        if type(text) is str and not text.startswith("\ufeff"):  # what json.loads refuses itself
            value = _DECODER.decode(text)  # json.loads with these hooks built a decoder per call
        else:
            value = json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        if may_be_deep and _json_depth(text, max_depth) > max_depth:  # too deep, whatever else is wrong
            raise ParseError(parser, f"{what}: JSON nested more than {max_depth} levels deep") from None
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ParseError(parser, f"{what}: not JSON ({reason[:80]}): {text[:80]!r}") from None
    # measured on what was decoded: scanning the text for brackets outside strings took longer
    if may_be_deep and _nesting(value, max_depth) > max_depth:
        raise ParseError(parser, f"{what}: JSON nested more than {max_depth} levels deep")
    return value


def json_object(value: Any, parser: str, what: str) -> dict[str, Any]:
    """An object field; a missing one (``None``, as Go's encoder leaves it out) reads as ``{}``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParseError(parser, f"{what}: expected an object, got {_kind(value)}")
    return value


def json_list(value: Any, parser: str, what: str) -> list[Any]:
    """A list field; a missing one reads as ``[]``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ParseError(parser, f"{what}: expected a list, got {_kind(value)}")
    return value


def json_str(value: Any, parser: str, what: str) -> str | None:
    """A string field or None. Example: json_str({"a": 1}, "iproute", "dev") raises ParseError."""
    if value is None or isinstance(value, str):
        return value
    raise ParseError(parser, f"{what}: expected a string, got {_kind(value)}")


def json_int(value: Any, parser: str, what: str) -> int | None:
    """An integer field or None: a JSON integer, a whole float (``1500.0``) or a string of ASCII
    digits (protojson writes int64 as ``"1795382528"``); anything else raises ParseError."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ParseError(parser, f"{what}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return to_int(value, parser, what)
    raise ParseError(parser, f"{what}: expected an integer, got {_kind(value)} {str(value)[:40]!r}")


def to_int(text: str, parser: str, what: str) -> int:
    """ASCII digits (optionally signed, surrounding blanks allowed) to int, else ParseError.

    Example: to_int("1400", "ping", "mtu") -> 1400; to_int("²", "ping", "mtu") raises ParseError.
    """
    stripped = text.strip()
    if not _INTEGER.fullmatch(stripped):
        raise ParseError(parser, f"{what}: not a number: {text[:40]!r}")
    try:
        return int(stripped)
    except ValueError:  # longer than int() reads (4300 digits)
        raise ParseError(parser, f"{what}: number too long ({len(stripped)} digits)") from None


def to_float(text: str, parser: str, what: str) -> float:
    """An ASCII decimal (``0.047``, ``100``) to a finite float, else ParseError."""
    stripped = text.strip()
    if not _DECIMAL.fullmatch(stripped):
        raise ParseError(parser, f"{what}: not a number: {text[:40]!r}")
    value = float(stripped)
    if not math.isfinite(value):
        raise ParseError(parser, f"{what}: number out of range: {text[:40]!r}")
    return value


__all__ = [
    "MAX_JSON_DEPTH",
    "ParseError",
    "json_int",
    "json_list",
    "json_object",
    "json_str",
    "load_json",
    "to_float",
    "to_int",
]
