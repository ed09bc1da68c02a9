"""Decode BGP connection attempts (pure TCP SYNs) and their answers from a classic pcap.

Input: the bytes of ``tcpdump -w FILE 'tcp port 179'``, on a plain interface (Ethernet) or on
``-i any`` (Linux cooked capture SLL or SLL2; SLL2 carries the interface index, not its name).

Output::

    [Syn(src="10.0.4.1", sport=57423, dst="10.0.5.2", dport=179, ttl=64,
         time=1795382524.046, iface=None, ifindex=4)]

scapy is imported lazily (only ``scapy.layers.l2`` and ``scapy.layers.inet``, never ``scapy.all``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from bgpdoctor.parsers import ParseError


@dataclass
class Syn:
    """One SYN without ACK: who tried to open a session to whom, with which TTL (in the other
    modes of `syn_sources`, a SYN-ACK or a RST refusing a SYN, read onto the same fields)."""

    src: str
    sport: int
    dst: str
    dport: int
    ttl: int
    time: float
    iface: str | None = None
    ifindex: int | None = None


def syn_sources(
    pcap_bytes: bytes,
    port: int = 179,
    ifnames: dict[int, str] | None = None,
    syn_ack: bool = False,
    rst: bool = False,
) -> list[Syn]:
    """All pure SYNs (or, with ``syn_ack``, all SYN-ACKs) to or from ``port`` in a pcap, in capture order.

    With ``rst``, the refusals instead: RST+ACKs with sequence number 0, what a kernel answers to a
    SYN for a port nobody listens on (a RST that ends an open connection carries its own sequence
    number). The refused SYN is the one whose source port is the RST's ``dport``.

    SLL2 only records the interface index of the capturing namespace; pass ``ifnames`` (index ->
    name, e.g. from ``ip -j link`` of the same host) to fill ``iface``. tcpdump itself resolves the
    index in *its own* namespace, which names the wrong interface when run from outside.

    Example: syn_sources(open("bgp.pcap", "rb").read()) -> [Syn(src="10.0.1.2", sport=48135,
    dst="10.0.1.1", dport=179, ttl=1, time=1795382528.05, iface=None, ifindex=2), ...]
    """
    import logging

    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    from scapy.error import Scapy_Exception
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import CookedLinuxV2  # importing l2 registers the SLL/SLL2 link types
    from scapy.utils import PcapReader

    syns: list[Syn] = []
    try:
        reader = PcapReader(io.BytesIO(pcap_bytes))  # type: ignore[arg-type]  # accepts file objects
    except (Scapy_Exception, EOFError, ValueError) as exc:
        raise ParseError("pcap", f"not a pcap file: {exc}") from exc
    try:
        for pkt in reader:
            if IP not in pkt or TCP not in pkt:
                continue
            tcp = pkt[TCP]
            flags = int(tcp.flags)
            if rst:
                if flags & 0x16 != 0x14 or int(tcp.seq) != 0:  # RST and ACK set, SYN clear, seq 0
                    continue
            elif flags & 0x12 != (0x12 if syn_ack else 0x02):  # SYN set; ACK clear (or set for SYN-ACKs)
                continue
            if port not in (int(tcp.sport), int(tcp.dport)):
                continue
            ifindex: int | None = None
            if CookedLinuxV2 in pkt:
                ifindex = int(pkt[CookedLinuxV2].ifindex)
            iface = getattr(pkt, "sniffed_on", None)
            if iface is None and ifindex is not None and ifnames:
                iface = ifnames.get(ifindex)
            ip = pkt[IP]
            syns.append(
                Syn(
                    src=str(ip.src),
                    sport=int(tcp.sport),
                    dst=str(ip.dst),
                    dport=int(tcp.dport),
                    ttl=int(ip.ttl),
                    time=round(float(pkt.time), 6),
                    iface=str(iface) if iface else None,
                    ifindex=ifindex,
                )
            )
    except (Scapy_Exception, EOFError, ValueError) as exc:
        raise ParseError("pcap", f"truncated or corrupt pcap: {exc}") from exc
    finally:
        reader.close()
    return syns
