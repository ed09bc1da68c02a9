"""The part of a daemon's session list that is about one neighbor, quoted as a session's evidence.

A router with 200 peers prints 200 blocks; each session quoting all of them made reports (and
memory) grow with the square of the peers, and buried the one block a reader needs.

Each driver's `excerpt(text, neighbor)` uses one of these. Example: bird_block(SHOW_PROTOCOLS_ALL,
"node_a") -> the header line and node_a's block, verbatim; None when it is not there (quote it all).
"""

from __future__ import annotations

import functools
import json
from typing import Any


@functools.lru_cache(maxsize=64)
def _bird_blocks(text: str) -> tuple[str | None, dict[str, str]]:
    """Every protocol's block of one `show protocols all`, cut once (a router's sessions all ask)."""
    lines = text.splitlines()
    header = next((line for line in lines if line.lower().split()[:2] == ["name", "proto"]), None)
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if current is not None and line.strip() and line[:1].isspace():
            current.append(line)
            continue
        current = None
        words = line.split(None, 1)
        if words and line[:1].strip() and line is not header and words[0] not in blocks:
            current = blocks[words[0]] = [line]
    return header, {name: "\n".join(block) for name, block in blocks.items()}


def bird_block(text: str, name: str) -> str | None:
    """The header line (`Name Proto Table State Since Info`) and the protocol's own block, verbatim."""
    header, blocks = _bird_blocks(text)
    block = blocks.get(name)
    if block is None:
        return None
    return f"{header}\n{block}" if header else block


@functools.lru_cache(maxsize=64)
def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


@functools.lru_cache(maxsize=64)
def _gobgp_by_address(text: str) -> dict[str, Any]:
    data = _json(text)
    found: dict[str, Any] = {}
    for entry in data if isinstance(data, list) else []:
        conf = entry.get("conf") if isinstance(entry, dict) else None
        if isinstance(conf, dict) and isinstance(conf.get("neighbor_address"), str):
            found.setdefault(conf["neighbor_address"], entry)
    return found


def gobgp_entry(text: str, address: str) -> str | None:
    entry = _gobgp_by_address(text).get(address)
    return None if entry is None else json.dumps([entry], indent=1)


def frr_entry(text: str, key: str) -> str | None:
    data = _json(text)
    if isinstance(data, dict) and isinstance(data.get(key), dict):
        return json.dumps({key: data[key]}, indent=1)
    return None
