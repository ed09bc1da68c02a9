"""The part of a daemon's session list that is about one neighbor, quoted as a session's evidence.

A router with 200 peers prints 200 blocks; each session quoting all of them made reports (and
memory) grow with the square of the peers, and buried the one block a reader needs.

Each driver's `excerpt(text, neighbor)` uses one of these. Example: bird_block(SHOW_PROTOCOLS_ALL,
"node_a") -> the header line and node_a's block, verbatim; None when it is not there (quote it all).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any

from bgpdoctor.parsers.birdblocks import protocol_blocks


def bird_block(text: str, name: str) -> str | None:
    """The header line (`Name Proto Table State Since Info`) and the protocol's own block, verbatim
    up to its first blank line."""
    cut = protocol_blocks(text)
    block = cut.block(name=name)
    if block is None:
        return None
    end = next((at for at, line in enumerate(block) if not line.strip()), len(block))
    quoted = "\n".join(block[:end])
    return f"{cut.header}\n{quoted}" if cut.header else quoted


@functools.lru_cache(maxsize=64)
def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


@functools.lru_cache(maxsize=8192)
def _gobgp_entries(text: str) -> dict[str, str]:
    """Each neighbor's entry of one `gobgp -j neighbor`, as quoted; made once per node and output
    (a node's sessions, and the session status after the diagnosis, all quote it)."""
    return gobgp_entries_of(_json(text))


def gobgp_entries_of(data: Any) -> dict[str, str]:
    """_gobgp_entries of the output already decoded."""
    found: dict[str, Any] = {}
    for entry in data if isinstance(data, list) else []:
        conf = entry.get("conf") if isinstance(entry, dict) else None
        if isinstance(conf, dict) and isinstance(conf.get("neighbor_address"), str):
            found.setdefault(conf["neighbor_address"], entry)
    return {address: indented([entry]) for address, entry in found.items()}


def indented(value: Any) -> str:
    """`json.dumps(value, indent=1)` of decoded JSON, the same text: the standard encoder is pure
    Python once indenting, and quoting one entry per node was a tenth of a large replay."""
    parts: list[str] = []
    _indent(value, "\n", parts.append)
    return "".join(parts)


def _indent(value: Any, newline: str, out: Callable[[str], None]) -> None:
    kind = type(value)
    if kind is str:
        out(encode_basestring_ascii(value))
    elif kind is dict:
        if not value:
            out("{}")
            return
        inner = newline + " "
        before = "{" + inner
        for key, item in value.items():
            out(before + encode_basestring_ascii(key) + ": ")
            _indent(item, inner, out)
            before = "," + inner
        out(newline + "}")
    elif kind is list:
        if not value:
            out("[]")
            return
        inner = newline + " "
        before = "[" + inner
        for item in value:
            out(before)
            _indent(item, inner, out)
            before = "," + inner
        out(newline + "]")
    elif value is None or value is True or value is False:
        out(_SCALARS[value])
    elif kind is int:
        out(int.__repr__(value))
    elif kind is float and math.isfinite(value):
        out(float.__repr__(value))
    else:
        out(json.dumps(value, indent=1))


_SCALARS: dict[Any, str] = {True: "true", False: "false", None: "null"}


def gobgp_entry(text: str, address: str) -> str | None:
    return _gobgp_entries(text).get(address)


def frr_entry(text: str, key: str) -> str | None:
    data = _json(text)
    if isinstance(data, dict) and isinstance(data.get(key), dict):
        return json.dumps({key: data[key]}, indent=1)
    return None
