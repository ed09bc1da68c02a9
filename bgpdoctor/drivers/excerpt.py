"""The part of a daemon's session list that is about one neighbor, quoted as a session's evidence.

A router with 200 peers prints 200 blocks; each session quoting all of them made reports (and
memory) grow with the square of the peers, and buried the one block a reader needs.

Each driver's `excerpt(text, neighbor)` uses one of these. Example: bird_block(SHOW_PROTOCOLS_ALL,
"node_a") -> the header line and node_a's block, verbatim; None when it is not there (quote it all).
"""

from __future__ import annotations

import json
from typing import Any


def bird_block(text: str, name: str) -> str | None:
    """The header line (`Name Proto Table State Since Info`) and the protocol's own block, verbatim."""
    lines = text.splitlines()
    header = next((line for line in lines if line.lower().split()[:2] == ["name", "proto"]), None)
    block: list[str] = []
    for line in lines:
        if block:
            if not line.strip() or not line[:1].isspace():
                break
            block.append(line)
        elif line.split(None, 1)[:1] == [name]:
            block.append(line)
    if not block:
        return None
    return "\n".join([header, *block] if header else block)


def gobgp_entry(text: str, address: str) -> str | None:
    try:
        data: Any = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, list):
        return None
    for entry in data:
        conf = entry.get("conf") if isinstance(entry, dict) else None
        if isinstance(conf, dict) and conf.get("neighbor_address") == address:
            return json.dumps([entry], indent=1)
    return None


def frr_entry(text: str, key: str) -> str | None:
    try:
        data: Any = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get(key), dict):
        return json.dumps({key: data[key]}, indent=1)
    return None
