"""Capture BGP SYNs on the wire while a speaker connects, and decode them with scapy.

tcpdump runs on the host (routers have it; scapy is rarely there) and streams a pcap over the
connection; bgpdoctor decodes it locally (bgpdoctor.parsers.pcap), so the capture is evidence.
`bgpdoctor run --pcap-dir` writes it out and `bgpdoctor analyze` reads the rest (bgpdoctor.pcap).
"""

from __future__ import annotations

# SYNs and SYN-ACKs: who tries to connect, and whether the other end answers at all; RSTs (nobody
# listens) and FINs; segments with PSH carry BGP messages (OPEN, NOTIFICATION, KEEPALIVE, UPDATE).
# Pure ACKs are left out: they say nothing and an established session sends many.
SYN_FILTER = "tcp port 179 and tcp[tcpflags] & (tcp-syn|tcp-rst|tcp-fin|tcp-push) != 0"
SNAPLEN = 512  # the headers and a whole OPEN or NOTIFICATION; UPDATEs are cut


def syn_capture_command(seconds: float) -> str:
    """Example: timeout 12 tcpdump -i any -n -U -s 512 -w - '...' 2>/dev/null"""
    return f"timeout {seconds:g} tcpdump -i any -n -U -s {SNAPLEN} -w - '{SYN_FILTER}' 2>/dev/null"
