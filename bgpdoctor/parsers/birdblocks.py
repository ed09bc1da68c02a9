"""BIRD's `show protocols all` cut into one block per protocol: the one cutter every reader uses.

A block is a protocol's own line (unindented, not the `Name Proto Table State` header) and every
following line that is indented or blank, up to the next protocol line or header. A router with N
peers prints N blocks and each of its N sessions asks for its own: the output is cut once (cached
per text) and looked up by protocol name or by neighbor address.

Example: protocol_blocks(SHOW_PROTOCOLS_ALL).block(name="node_a") -> ("node_a  BGP  ---  up ...",
"  BGP state:          Established", ...); .block(address="10.0.0.7") -> the block whose
`Neighbor address:` line says 10.0.0.7.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

_HEADER = re.compile(r"^(Name|name)\s+(Proto|proto)\s+(Table|table)\s+(State|state)")
_NEIGHBOR_ADDRESS = "Neighbor address:"

Block = tuple[str, tuple[str, ...]]  # (protocol name, its lines; the first is the protocol's own line)


def is_header(line: str) -> bool:
    return bool(_HEADER.match(line))


def cut(lines: Iterable[str]) -> list[Block]:
    """Every protocol's block, in the order printed (a name printed twice gives two blocks)."""
    blocks: list[Block] = []
    current: list[str] | None = None
    name = ""
    for line in lines:
        if not line.strip() or line[:1].isspace():
            if current is not None:
                current.append(line)
            continue
        if current is not None:
            blocks.append((name, tuple(current)))
        if is_header(line):
            current = None
            continue
        name, current = line.split(None, 1)[0], [line]
    if current is not None:
        blocks.append((name, tuple(current)))
    return blocks


@dataclass(frozen=True)
class ProtocolBlocks:
    header: str | None  # the first `Name Proto Table State Since Info` line
    blocks: list[Block]
    _by_name: dict[str, int] = field(default_factory=dict)
    _by_address: dict[str, int] = field(default_factory=dict)

    def block(self, name: str | None = None, address: str | None = None) -> tuple[str, ...] | None:
        """The first block named `name` or whose `Neighbor address:` is `address`, whichever is
        printed first; None when neither is there."""
        found = [
            at
            for at in (
                self._by_name.get(name) if name else None,
                self._by_address.get(address) if address else None,
            )
            if at is not None
        ]
        return self.blocks[min(found)][1] if found else None


_RECENT: OrderedDict[int, tuple[str, ProtocolBlocks]] = OrderedDict()
_RECENT_SIZE = 64
_LOCK = threading.Lock()


def protocol_blocks(text: str) -> ProtocolBlocks:
    """One `show protocols all` output cut and indexed once (a router's sessions all ask).

    Found by the text's identity first: a cache keyed by value compares an equal copy byte by byte
    on every call, megabytes per session on a router with thousands of peers."""
    with _LOCK:  # a TUI evaluates in a worker thread
        recent = _RECENT.get(id(text))
        if recent is not None and recent[0] is text:
            _RECENT.move_to_end(id(text))
            return recent[1]
    found = _cut_once(text)
    with _LOCK:
        _RECENT[id(text)] = (text, found)  # the text is held, so its id is not reused while cached
        if len(_RECENT) > _RECENT_SIZE:
            _RECENT.popitem(last=False)
    return found


@functools.lru_cache(maxsize=_RECENT_SIZE)
def _cut_once(text: str) -> ProtocolBlocks:
    lines = text.splitlines()
    blocks = cut(lines)
    by_name: dict[str, int] = {}
    by_address: dict[str, int] = {}
    for at, (name, block) in enumerate(blocks):
        by_name.setdefault(name, at)
        for line in block:
            if _NEIGHBOR_ADDRESS in line:
                by_address.setdefault(line.split(_NEIGHBOR_ADDRESS, 1)[1].strip(), at)
    header = next((line for line in lines if is_header(line)), None)
    return ProtocolBlocks(header, blocks, by_name, by_address)
