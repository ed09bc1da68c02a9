"""Capture BGP SYNs on the wire while a speaker connects, and decode them with scapy.

tcpdump runs on the host (routers have it; scapy is rarely there) and streams a pcap over the
connection; bgpdoctor decodes it locally (bgpdoctor.parsers.pcap), so the capture is evidence.
"""

from __future__ import annotations

# SYNs and SYN-ACKs: who tries to connect, and whether the other end answers at all
SYN_FILTER = "tcp port 179 and tcp[tcpflags] & tcp-syn != 0"


def syn_capture_command(seconds: float) -> str:
    """Example: timeout 12 tcpdump -i any -n -U -s 128 -w - '...' 2>/dev/null"""
    return f"timeout {seconds:g} tcpdump -i any -n -U -s 128 -w - '{SYN_FILTER}' 2>/dev/null"
