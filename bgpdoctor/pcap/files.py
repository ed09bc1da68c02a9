"""Write each host's capture as pcap files: one per BGP session it was taken for, and the whole.

A capture is the bytes ``tcpdump -w -`` streamed (a classic pcap). Records are copied byte for
byte, never re-encoded, so the files are exactly what tcpdump saw; only the link-layer and IP
headers are read, to sort each packet to its session.

Names: ``<host>.pcap`` (everything the host captured) and ``<host>__<end-a>--<end-b>.pcap`` (the
packets between the two ends of one session, as the host saw them).

Example: write_capture_files(inv, collected, Path("pcaps")) -> [CaptureFile(host="router-home",
session=None, path="pcaps/router-home.pcap", packets=14, bytes=1876), CaptureFile(host="router-home",
session="router-home<->yuuko-k8s", path="pcaps/router-home__router-home--yuuko-k8s.pcap", ...)]
"""

from __future__ import annotations

import ipaddress
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bgpdoctor.errors import UsageError
from bgpdoctor.pcap.wire import network_offset
from bgpdoctor.report.model import CaptureFile

if TYPE_CHECKING:
    from bgpdoctor.engine.run import Collected
    from bgpdoctor.inventory_model import Inventory

_MAGICS = {
    b"\xd4\xc3\xb2\xa1": "<",
    b"\x4d\x3c\xb2\xa1": "<",  # nanosecond timestamps
    b"\xa1\xb2\xc3\xd4": ">",
    b"\xa1\xb2\x3c\x4d": ">",
}
GLOBAL_HEADER = 24
RECORD_HEADER = 16


@dataclass
class Pcap:
    """A classic pcap split into its global header and its records (header + data, as stored)."""

    header: bytes
    linktype: int
    records: list[bytes]


def split_records(data: bytes, max_records: int = 1_000_000) -> Pcap:
    """The records of a classic pcap; a record cut short at the end (a capture stopped by
    ``timeout``) is dropped. Raises ValueError when `data` is not a classic pcap.

    Example: split_records(open("r.pcap", "rb").read()) -> Pcap(header=b"\\xd4\\xc3...", linktype=276,
    records=[b"<16-byte record header><packet>", ...])
    """
    endian = _MAGICS.get(data[:4])
    if endian is None or len(data) < GLOBAL_HEADER:
        raise ValueError("not a classic pcap (tcpdump -w) file")
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    records: list[bytes] = []
    offset = GLOBAL_HEADER
    while offset + RECORD_HEADER <= len(data) and len(records) < max_records:
        caplen = struct.unpack(endian + "I", data[offset + 8 : offset + 12])[0]
        end = offset + RECORD_HEADER + caplen
        if end > len(data):
            break
        records.append(data[offset:end])
        offset = end
    return Pcap(data[:GLOBAL_HEADER], linktype, records)


def addresses(linktype: int, record: bytes) -> tuple[str, str] | None:
    """(source, destination) IP of one record, or None when it carries no IP packet.

    Example: addresses(276, record) -> ("192.168.191.10", "192.168.191.12")
    """
    packet = record[RECORD_HEADER:]
    start = network_offset(linktype, packet)
    if start is None or len(packet) <= start:
        return None
    version = packet[start] >> 4
    if version == 4 and len(packet) >= start + 20:
        return (
            str(ipaddress.IPv4Address(packet[start + 12 : start + 16])),
            str(ipaddress.IPv4Address(packet[start + 16 : start + 20])),
        )
    if version == 6 and len(packet) >= start + 40:
        return (
            str(ipaddress.IPv6Address(packet[start + 8 : start + 24])),
            str(ipaddress.IPv6Address(packet[start + 24 : start + 40])),
        )
    return None


def split_by_session(
    pcap: Pcap, sessions: dict[str, frozenset[str]], others: frozenset[frozenset[str]] = frozenset()
) -> dict[str, list[bytes]]:
    """Records per session (label -> the session's two addresses).

    A packet between exactly a session's two addresses belongs to it. One between an address of a
    session and an address no session has (`others`: the address pairs of sessions not split here;
    a rewritten source: NAT, another interface) goes to every session with that address, so an
    unexpected source is never lost from the files.
    """
    out: dict[str, list[bytes]] = {label: [] for label in sessions}
    for record in pcap.records:
        pair = addresses(pcap.linktype, record)
        if pair is None:
            continue
        ends = frozenset(pair)
        exact = [label for label, addrs in sessions.items() if addrs == ends]
        if not exact and ends in others:
            continue
        near = [label for label, addrs in sessions.items() if addrs & ends]
        for label in exact or near:
            out[label].append(record)
    return out


def safe_name(text: str) -> str:
    """A file-name part from a host or session name. Example: "router-mine<->yuuko-k8s" ->
    "router-mine--yuuko-k8s"."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text.replace("<->", "--")).strip(".-")
    return name[:100] or "unnamed"


def _session_addresses(
    inv: Inventory, collected: Collected
) -> tuple[dict[str, tuple[list[str], frozenset[str]]], frozenset[frozenset[str]]]:
    """Sessions the capture was taken for (not established at both ends, as in engine.active):
    label -> (hosts that captured for it, its addresses); and the address pairs of every session."""
    from bgpdoctor.engine.active import session_transit
    from bgpdoctor.engine.sessions import established, expected_sessions
    from bgpdoctor.engine.world import World

    world = World(inv, collected.facts)
    out: dict[str, tuple[list[str], frozenset[str]]] = {}
    pairs: set[frozenset[str]] = set()
    for s in expected_sessions(world, collected.scope):
        addrs = {str(e.peer.address) for e in s.ends if e.peer is not None}
        if s.b is None and s.a.source_address:
            addrs.add(s.a.source_address)
        pairs.add(frozenset(addrs))
        if s.b is not None and established(s.a) and established(s.b):
            continue
        hosts = [*s.hosts, *session_transit(world, s)]
        out[s.label] = ([h for h in hosts if h in collected.active.captures], frozenset(addrs))
    return out, frozenset(pairs)


def write_capture_files(inv: Inventory, collected: Collected, directory: Path) -> list[CaptureFile]:
    """Write every host's capture, whole and per session, into `directory` (created if missing).

    A capture that is empty or not a pcap (tcpdump missing or failed) gets no file. Raises
    UsageError when the folder cannot be written.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--pcap-dir {directory}: cannot create it: {exc.strerror or exc}") from None
    sessions, pairs = _session_addresses(inv, collected)
    written: list[CaptureFile] = []
    for host in sorted(collected.active.captures):
        data = collected.active.captures[host]
        try:
            pcap = split_records(data)
        except ValueError:
            continue
        wanted = {label: addrs for label, (hosts, addrs) in sessions.items() if host in hosts}
        parts: list[tuple[str | None, list[bytes]]] = [(None, pcap.records)]
        others = pairs - frozenset(wanted.values())
        parts += sorted(split_by_session(pcap, wanted, others).items())
        for session, records in parts:
            name = safe_name(host) + (f"__{safe_name(session)}" if session else "") + ".pcap"
            path = directory / name
            content = pcap.header + b"".join(records)
            try:
                path.write_bytes(content)
            except OSError as exc:
                raise UsageError(
                    f"--pcap-dir {directory}: cannot write {name}: {exc.strerror or exc}"
                ) from None
            written.append(
                CaptureFile(
                    host=host, session=session, path=str(path), packets=len(records), bytes=len(content)
                )
            )
    return written
