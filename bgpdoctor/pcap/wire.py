"""Link-layer, IP and TCP headers of one captured packet, read straight from its bytes.

Reading the headers of a packet this way costs a few microseconds; a full scapy dissection costs
about half a millisecond, which would make a 100 000-packet capture take a minute. scapy reads
the files and decodes the BGP messages (bgpdoctor.pcap.analyze).

Example: tcp_segment(276, data) -> Segment(src="192.168.0.1", dst="192.168.0.81", ttl=1, ip_id=0,
sport=42735, dport=179, seq=176726337, ack=0, flags=0x02, options=b"\\x02\\x04\\x05\\xb4...",
payload=b"", incoming=True)
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

ETHERNET, RAW, RAW_ALT, NULL, SLL, SLL2 = 1, 101, 12, 0, 113, 276
_OUTGOING = 4  # SLL/SLL2 packet type: sent by this host


@dataclass(frozen=True)
class Segment:
    src: str
    dst: str
    ttl: int
    ip_id: int  # 0 for IPv6
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    options: bytes
    payload: bytes
    incoming: bool | None  # None: the link type does not say (Ethernet, raw IP)
    # the TCP checksum verified, for a segment carrying data that was captured whole; None otherwise
    checksum_ok: bool | None = None


def network_offset(linktype: int, packet: bytes) -> int | None:
    """Where the IP header starts, or None when the packet carries no IP (ARP, unknown link types)."""
    if linktype == ETHERNET:
        offset, ethertype = 14, packet[12:14]
        while ethertype in (b"\x81\x00", b"\x88\xa8") and len(packet) >= offset + 4:
            ethertype, offset = packet[offset + 2 : offset + 4], offset + 4
        return offset if ethertype in (b"\x08\x00", b"\x86\xdd") else None
    return {SLL: 16, SLL2: 20, RAW: 0, RAW_ALT: 0, NULL: 4}.get(linktype)


def _incoming(linktype: int, packet: bytes) -> bool | None:
    if linktype == SLL and len(packet) >= 2:
        return int(struct.unpack("!H", packet[:2])[0]) != _OUTGOING
    if linktype == SLL2 and len(packet) >= 11:
        return packet[10] != _OUTGOING
    return None


def _ones_complement_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def tcp_checksum_ok(src: str, dst: str, tcp: bytes) -> bool:
    """Does the TCP checksum of this whole segment (header and data) match its IP addresses?"""
    source, destination = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
    if len(source) == 4:
        pseudo = source + destination + struct.pack("!BBH", 0, 6, len(tcp))
    else:
        pseudo = source + destination + struct.pack("!I3xB", len(tcp), 6)
    return _ones_complement_sum(pseudo + tcp) == 0xFFFF


def tcp_segment(linktype: int, packet: bytes) -> Segment | None:
    """The TCP segment in a packet, or None when there is none (or its headers are cut short)."""
    start = network_offset(linktype, packet)
    if start is None or len(packet) < start + 20:
        return None
    version = packet[start] >> 4
    if version == 4:
        header = (packet[start] & 0x0F) * 4
        if header < 20 or packet[start + 9] != 6:
            return None
        total = struct.unpack("!H", packet[start + 2 : start + 4])[0]
        end = start + max(total, header)
        src = str(ipaddress.IPv4Address(packet[start + 12 : start + 16]))
        dst = str(ipaddress.IPv4Address(packet[start + 16 : start + 20]))
        ttl, ip_id = packet[start + 8], struct.unpack("!H", packet[start + 4 : start + 6])[0]
    elif version == 6 and len(packet) >= start + 40:
        header = 40
        if packet[start + 6] != 6:  # extension headers before TCP: not read
            return None
        end = start + 40 + struct.unpack("!H", packet[start + 4 : start + 6])[0]
        src = str(ipaddress.IPv6Address(packet[start + 8 : start + 24]))
        dst = str(ipaddress.IPv6Address(packet[start + 24 : start + 40]))
        ttl, ip_id = packet[start + 7], 0
    else:
        return None
    tcp = packet[start + header : end]
    if len(tcp) < 20:
        return None
    sport, dport, seq, ack = struct.unpack("!HHII", tcp[:12])
    offset = (tcp[12] >> 4) * 4
    if offset < 20:
        return None
    whole = len(packet) >= end  # not cut by the capture's snap length
    checksum_ok = tcp_checksum_ok(src, dst, tcp) if whole and len(tcp) > offset else None
    return Segment(
        src,
        dst,
        ttl,
        ip_id,
        sport,
        dport,
        seq,
        ack,
        tcp[13],
        tcp[20:offset],
        tcp[offset:],
        _incoming(linktype, packet),
        checksum_ok,
    )
