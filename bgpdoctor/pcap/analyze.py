"""Read a BGP packet capture and say what the wire shows, in root causes from playbooks/.

Input: a pcap or pcapng file (``tcpdump -w``, ``bgpdoctor run --pcap-dir``), on an Ethernet
interface or ``-i any`` (Linux cooked SLL / SLL2). scapy (imported here, lazily) reads the file
and decodes the BGP messages (``scapy.contrib.bgp``); IP and TCP headers are read directly
(bgpdoctor.pcap.wire), a hundred times faster than a scapy dissection of every packet.

Output (``analyze_pcap(path).to_dict()``)::

    {"file": "node-not-listening__yuuko-k8s.pcap", "packets": 8, "bgp_packets": 8, "cut_short": false,
     "attempts": [{"src": "192.168.0.1", "dst": "192.168.0.81", "port": 179, "syns": 4, "syn_acks": 0,
                   "rsts": 4, "unanswered": 0, "ttl": [1], "mss": [1460], "md5": "none",
                   "arrived": true, "for_this_host": true}],
     "opens": [{"src": "192.168.191.10", "dst": "192.168.191.12", "asn": 64515, "hold_time": 9,
                "router_id": "192.168.191.10", "capabilities": ["multiprotocol", "4-byte-as", ...]}],
     "notifications": [{"src": "...", "dst": "...", "code": 2, "subcode": 2,
                        "error": "OPEN Message Error", "detail": "Bad Peer AS"}],
     "ttl_expired": [{"src": "192.168.0.81", "dst": "192.168.6.1", "packets": 2, "kinds": ["SYN"]}],
     "messages": {"open": 2, "update": 0, "notification": 1, "keepalive": 0, "route-refresh": 0},
     "findings": [{"root_cause": "node-not-listening", "alternatives": ["speaker-down"],
                   "reason": "192.168.0.81 answered 4 of 4 SYNs (...) with a RST: ..."}]}

What maps to which root cause (the wire alone, so findings are candidates; `bgpdoctor run` on the
hosts proves them):

- a RST answering a SYN to port 179: nothing listens there -> node-not-listening (or speaker-down);
- NOTIFICATION 2/2 (Bad Peer AS) -> asn-mismatch; 2/3 (Bad BGP Identifier) -> router-id-conflict;
  6/5 (Connection Rejected) -> peer-not-configured;
- SYNs between two addresses with the TCP MD5 option and without it, or signed SYNs never
  answered -> md5-mismatch;
- a packet arriving with TTL 1 for an address that is not this host's, neither answered nor
  forwarded (it expired on this hop) -> ebgp-multihop-missing. Which addresses are this host's:
  ``--address``, else those it forwards packets to are not and those it sends from are;
- SYNs that reach this host unanswered and unsigned: md5-mismatch (a password here only) or
  bgp-port-filtered, or, when the file does not say whether the host is their destination, a TTL
  that ran out here;
- SYNs never answered (no SYN-ACK, no RST) -> a filter on the path: bgp-filtered-unseen or
  bgp-port-filtered;
- after a completed handshake, BGP segments with a bad TCP checksum, sent again and never
  acknowledged: a device on the path damages them (calico#4059) -> bgp-filtered-unseen (or
  bgp-port-filtered). A bad checksum alone is not one: a host that offloads checksums to its NIC
  captures its own segments before the NIC fills the checksum in, and the peer acknowledges them.
"""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bgpdoctor.parsers import ParseError
from bgpdoctor.pcap.wire import tcp_segment

MAX_FILE_BYTES = 256 << 20
MAX_PACKETS = 100_000
BGP_PORT = 179
_MARKER = b"\xff" * 16
_MESSAGE_TYPES = {1: "open", 2: "update", 3: "notification", 4: "keepalive", 5: "route-refresh"}
# short names of the capabilities BGP speakers send; others keep the IANA name scapy knows
CAPABILITY_NAMES = {
    1: "multiprotocol",
    2: "route-refresh",
    5: "extended-nexthop",
    6: "extended-message",
    9: "bgp-role",
    64: "graceful-restart",
    65: "4-byte-as",
    69: "add-path",
    70: "enhanced-route-refresh",
    71: "long-lived-graceful-restart",
    73: "fqdn",
    128: "route-refresh-cisco",
}
_TCP_MD5_OPTION = 19


@dataclass
class Attempt:
    """Connection attempts from one address to another's TCP 179, and how they were answered."""

    src: str
    dst: str
    port: int
    syns: int = 0  # distinct SYNs (retransmissions and -i any copies counted once)
    syn_acks: int = 0
    rsts: int = 0
    unanswered: int = 0
    ttl: list[int] = field(default_factory=list)
    mss: list[int] = field(default_factory=list)
    md5: str = "none"  # none, all, mixed: SYNs carrying the TCP MD5 signature option (RFC 2385)
    arrived: bool = False  # the SYNs reached this host (SLL/SLL2 say so; a plain Ethernet capture does not)
    for_this_host: bool = False  # dst is an address of this host (given, or this host sends from it)


@dataclass
class Expired:
    """Packets that arrived with TTL 1 for an address this host forwards other packets to: the TTL
    ran out here (the sender is further from its peer than its TTL allows)."""

    src: str
    dst: str
    packets: int
    kinds: list[str]  # SYN, SYN-ACK, ...


@dataclass
class OpenMessage:
    src: str
    dst: str
    version: int
    asn: int  # the 4-byte AS capability's value when present, else the 2-byte field
    hold_time: int
    router_id: str
    capabilities: list[str]
    count: int = 1  # the same OPEN again (every retry of the session sends one)


@dataclass
class NotificationMessage:
    src: str
    dst: str
    code: int
    subcode: int
    error: str
    detail: str
    count: int = 1


@dataclass
class Corrupted:
    """BGP segments one way of a connection whose handshake completed, captured whole with a bad TCP
    checksum, sent again and never acknowledged by the other end: the receiver's TCP discarded them."""

    src: str
    dst: str
    segments: int  # distinct data segments with a bad checksum
    sent: int  # copies of them on the wire, retransmissions included
    messages: list[str]  # the BGP messages they carry, e.g. ["open"]


@dataclass
class Finding:
    root_cause: str  # a playbook id
    reason: str
    alternatives: list[str] = field(default_factory=list)  # other root causes the wire cannot rule out


@dataclass
class Analysis:
    file: str
    packets: int = 0
    bgp_packets: int = 0
    cut_short: bool = False  # MAX_PACKETS reached: the rest of the file was not read
    attempts: list[Attempt] = field(default_factory=list)
    opens: list[OpenMessage] = field(default_factory=list)
    notifications: list[NotificationMessage] = field(default_factory=list)
    ttl_expired: list[Expired] = field(default_factory=list)
    corrupted: list[Corrupted] = field(default_factory=list)
    messages: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_MESSAGE_TYPES.values(), 0))
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Syn:
    key: tuple[str, int, str, int, int]  # src, sport, dst, dport, seq
    ttl: int
    mss: int | None
    md5: bool
    ip_id: int
    incoming: bool | None  # None: the link type does not say
    answer: str | None = None  # syn-ack or rst


def _options(raw: bytes) -> tuple[int | None, bool]:
    """(MSS, MD5 option present) from the option bytes of a TCP header."""
    mss, md5, i = None, False, 0
    while i < len(raw):
        kind = raw[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(raw) or raw[i + 1] < 2:
            break
        length = raw[i + 1]
        if kind == 2 and length == 4 and i + 4 <= len(raw):
            mss = struct.unpack("!H", raw[i + 2 : i + 4])[0]
        md5 = md5 or kind == _TCP_MD5_OPTION
        i += length
    return mss, md5


def _bgp_messages(payload: bytes) -> list[tuple[int, bytes]]:
    """(type, whole message) of each complete BGP message at the start of a TCP segment."""
    out: list[tuple[int, bytes]] = []
    offset = 0
    while len(payload) - offset >= 19 and payload[offset : offset + 16] == _MARKER:
        length, kind = struct.unpack("!HB", payload[offset + 16 : offset + 19])
        if length < 19 or offset + length > len(payload):
            if kind in _MESSAGE_TYPES and length >= 19:
                out.append((kind, b""))  # cut by the snap length: counted, not decoded
            break
        out.append((kind, payload[offset : offset + length]))
        offset += length
    return out


def _capabilities_of(message: bytes) -> list[tuple[int, bytes]]:
    """(code, value) of every capability in an OPEN's optional parameters; one parameter may carry
    several (BIRD sends them all in one), which scapy's BGPOpen reads as the first only."""
    params_len = message[28] if len(message) > 28 else 0
    params, offset, found = message[29 : 29 + params_len], 0, []
    while offset + 2 <= len(params):
        kind, length = params[offset], params[offset + 1]
        value = params[offset + 2 : offset + 2 + length]
        offset += 2 + length
        if kind != 2:  # 2: capabilities
            continue
        i = 0
        while i + 2 <= len(value):
            code, size = value[i], value[i + 1]
            found.append((code, value[i + 2 : i + 2 + size]))
            i += 2 + size
    return found


def _decode_open(src: str, dst: str, message: bytes) -> OpenMessage | None:
    from scapy.contrib.bgp import BGPHeader, BGPOpen, _capabilities

    try:
        opened = BGPHeader(message)[BGPOpen]
        asn = int(opened.my_as)
        names: list[str] = []
        for code, value in _capabilities_of(message):
            names.append(CAPABILITY_NAMES.get(code) or str(_capabilities.get(code, f"code {code}")))
            if code == 65 and len(value) == 4:
                asn = struct.unpack("!I", value)[0]
        return OpenMessage(
            src, dst, int(opened.version), asn, int(opened.hold_time), str(opened.bgp_id), names
        )
    except Exception:  # scapy raises many kinds on a malformed OPEN: the message stays counted
        return None


def _decode_notification(src: str, dst: str, message: bytes) -> NotificationMessage | None:
    from scapy.contrib.bgp import _error_codes, _error_subcodes

    if len(message) < 21:
        return None
    code, subcode = message[19], message[20]
    error = _error_codes.get(code, f"error code {code}")
    detail = _error_subcodes.get(code, {}).get(subcode, f"subcode {subcode}")
    return NotificationMessage(src, dst, code, subcode, error, detail)


def analyze_pcap(
    path: Path, max_packets: int = MAX_PACKETS, addresses: frozenset[str] | None = None
) -> Analysis:
    """Decode one capture file. Raises ParseError (one line, no file name) when it cannot be read.

    `addresses`: those of the host that captured, when known. A SYN that arrived with TTL 1 and
    was not answered is then placed: for one of them, this host dropped it; for another address,
    this host is a router on the way and the TTL ran out here. Without them, only addresses seen
    in packets the host forwards are known not to be its own, and addresses it sends from to be.

    Example: analyze_pcap(Path("captures/pcaps/asn-mismatch__router-home.pcap")).findings[0].root_cause
    -> "asn-mismatch"
    """
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise ParseError("pcap", f"cannot read it: {exc.strerror or exc}") from None
    if size > MAX_FILE_BYTES:
        raise ParseError(
            "pcap", f"{size} bytes, more than {MAX_FILE_BYTES >> 20} MiB: cut it (tcpdump -c) first"
        )
    logging.getLogger("scapy").setLevel(logging.ERROR)
    from scapy.error import Scapy_Exception
    from scapy.utils import RawPcapReader

    analysis = Analysis(file=str(path))
    syns: dict[tuple[str, int, str, int, int], _Syn] = {}
    seen: set[tuple[Any, ...]] = set()
    arrived: set[tuple[Any, ...]] = set()
    forwarded: set[tuple[Any, ...]] = set()
    remote: set[str] = set()  # addresses in packets this host forwards: never its own
    local: set[str] = set(addresses or ())  # addresses this host sends from (not forwarding)
    last_hop: list[tuple[tuple[Any, ...], str, str, str]] = []  # arrived with TTL <= 1
    carried: dict[tuple[str, int, str, int], list[_Data]] = {}  # data segments of each way of a connection
    acks: dict[tuple[str, int, str, int], list[int]] = {}  # the ACK numbers each way sent
    try:
        reader = RawPcapReader(str(path))  # pcap or pcapng; packets as bytes
    except (Scapy_Exception, EOFError, ValueError, struct.error) as exc:
        raise ParseError("pcap", f"not a pcap or pcapng file: {exc}") from None
    try:
        for data, meta in reader:
            analysis.packets += 1
            if analysis.packets > max_packets:
                analysis.packets -= 1
                analysis.cut_short = True
                break
            # pcapng: per interface, in each packet's metadata; pcap: once, in the file header
            linktype = getattr(meta, "linktype", None) or getattr(reader, "linktype", None)
            segment = tcp_segment(int(linktype if linktype is not None else -1), data)
            if segment is None or BGP_PORT not in (segment.sport, segment.dport):
                continue
            analysis.bgp_packets += 1
            src, dst, sport, dport = segment.src, segment.dst, segment.sport, segment.dport
            ttl, ip_id, flags, seq = segment.ttl, segment.ip_id, segment.flags, segment.seq
            incoming, payload = segment.incoming, segment.payload
            # -i any sees a forwarded packet twice (in, out) and mirrors (ifb) again: count it once
            identity = (src, sport, dst, dport, seq, flags, ip_id, len(payload))
            if incoming:
                arrived.add(identity)
                if ttl <= 1:
                    last_hop.append((identity, src, dst, _kind(flags)))
            elif incoming is False and identity in arrived:
                forwarded.add(identity)
                remote.update((src, dst))
            elif incoming is False and addresses is None:
                local.add(src)
            if flags & 0x02 and not flags & 0x10:  # SYN
                key = (src, sport, dst, dport, seq)
                known = syns.get(key)
                if known is None:
                    mss, md5 = _options(segment.options)
                    syns[key] = _Syn(key, ttl, mss, md5, ip_id, incoming)
                elif incoming and (not known.incoming or ttl < known.ttl):
                    known.ttl, known.incoming = ttl, True
                seen.add(identity)
                continue
            if identity in seen:
                continue
            seen.add(identity)
            if flags & 0x12 == 0x12 or flags & 0x04:  # SYN-ACK, RST
                answered = syns.get((dst, dport, src, sport, (segment.ack - 1) & 0xFFFFFFFF))
                if answered is not None and answered.answer is None:
                    answered.answer = "syn-ack" if flags & 0x02 else "rst"
            way = (src, sport, dst, dport)
            if flags & 0x10:
                acks.setdefault(way, []).append(segment.ack)
            if segment.checksum_ok is not None:
                kinds = [_MESSAGE_TYPES.get(k, f"type {k}") for k, _m in _bgp_messages(payload)]
                carried.setdefault(way, []).append(_Data(seq, len(payload), segment.checksum_ok, kinds))
            for kind, message in _bgp_messages(payload):
                name = _MESSAGE_TYPES.get(kind)
                if name is None:
                    continue
                analysis.messages[name] += 1
                if kind == 1 and message:
                    _add_once(analysis.opens, _decode_open(src, dst, message))
                elif kind == 3 and message:
                    _add_once(analysis.notifications, _decode_notification(src, dst, message))
    except (Scapy_Exception, EOFError, ValueError, struct.error, IndexError, TypeError) as exc:
        raise ParseError(
            "pcap", f"truncated or corrupt capture after {analysis.packets} packets: {exc}"
        ) from None
    except Exception as exc:  # scapy's readers raise more kinds than they document: one file, one line
        raise ParseError(
            "pcap", f"could not decode packet {analysis.packets}: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        reader.close()
    analysis.attempts = _attempts(syns.values())
    analysis.corrupted = _corrupted(carried, acks, syns)
    if addresses is not None:
        remote = {a for a in remote | {x for _i, _s, x, _k in last_hop} if a not in addresses}
    analysis.ttl_expired = _expired(last_hop, forwarded, remote - local)
    for attempt in analysis.attempts:
        attempt.for_this_host = attempt.dst in local
    analysis.findings = _findings(analysis)
    return analysis


def _add_once(found: list[Any], message: OpenMessage | NotificationMessage | None) -> None:
    """Append a decoded message, or count it on an equal one already there."""
    if message is None:
        return
    for known in found:
        if known == message:
            known.count += 1
            return
    found.append(message)


@dataclass
class _Data:
    seq: int
    length: int
    checksum_ok: bool
    messages: list[str]


def _covers(ack: int, end: int) -> bool:
    """Does an ACK number acknowledge every byte before `end` (sequence numbers wrap at 2**32)?"""
    return (ack - end) & 0xFFFFFFFF < 0x80000000


def _corrupted(
    data: dict[tuple[str, int, str, int], list[_Data]],
    acks: dict[tuple[str, int, str, int], list[int]],
    syns: dict[tuple[str, int, str, int, int], _Syn],
) -> list[Corrupted]:
    """Ways of a connection whose handshake completed where data segments with a bad TCP checksum
    were sent again and none was ever acknowledged (see Corrupted)."""
    shaken = {
        way
        for syn in syns.values()
        if syn.answer == "syn-ack"
        for way in (syn.key[:4], (syn.key[2], syn.key[3], syn.key[0], syn.key[1]))
    }
    found: list[Corrupted] = []
    for way, segments in data.items():
        bad = [d for d in segments if not d.checksum_ok]
        if not bad or way not in shaken:
            continue
        copies: dict[tuple[int, int], int] = {}
        for d in bad:
            copies[(d.seq, d.length)] = copies.get((d.seq, d.length), 0) + 1
        back = acks.get((way[2], way[3], way[0], way[1]), [])
        ends = [(seq + length) & 0xFFFFFFFF for seq, length in copies]
        acknowledged = any(_covers(ack, end) for end in ends for ack in back)
        if acknowledged or max(copies.values()) < 2:
            continue  # the peer took them (a checksum offloaded to the NIC), or nothing says it did not
        messages = list(dict.fromkeys(m for d in bad for m in d.messages))
        found.append(Corrupted(way[0], way[2], len(copies), len(bad), messages))
    return sorted(found, key=lambda c: (c.src, c.dst))


def _kind(flags: int) -> str:
    if flags & 0x02:
        return "SYN-ACK" if flags & 0x10 else "SYN"
    return "RST" if flags & 0x04 else "FIN" if flags & 0x01 else "data"


def _expired(
    last_hop: list[tuple[tuple[Any, ...], str, str, str]], forwarded: set[tuple[Any, ...]], remote: set[str]
) -> list[Expired]:
    """Packets that arrived with TTL 1, were not forwarded, and were for an address this host
    forwards other packets to (so not one of its own): their TTL ran out on this hop."""
    found: dict[tuple[str, str], Expired] = {}
    counted: set[tuple[Any, ...]] = set()
    for identity, src, dst, kind in last_hop:
        if identity in forwarded or identity in counted or dst not in remote:
            continue
        counted.add(identity)
        entry = found.setdefault((src, dst), Expired(src, dst, 0, []))
        entry.packets += 1
        if kind not in entry.kinds:
            entry.kinds.append(kind)
    return sorted(found.values(), key=lambda e: (e.src, e.dst))


def _attempts(syns: Any) -> list[Attempt]:
    """SYNs to TCP 179 grouped by (source, destination), with how each was answered."""
    by_pair: dict[tuple[str, str, int], Attempt] = {}
    signed: dict[tuple[str, str, int], set[bool]] = {}
    for syn in syns:
        src, _sport, dst, dport, _seq = syn.key
        if dport != BGP_PORT:
            continue
        pair = (src, dst, dport)
        attempt = by_pair.setdefault(pair, Attempt(src, dst, dport))
        attempt.syns += 1
        attempt.syn_acks += syn.answer == "syn-ack"
        attempt.rsts += syn.answer == "rst"
        attempt.unanswered += syn.answer is None
        if syn.ttl not in attempt.ttl:
            attempt.ttl.append(syn.ttl)
        if syn.mss is not None and syn.mss not in attempt.mss:
            attempt.mss.append(syn.mss)
        signed.setdefault(pair, set()).add(syn.md5)
        attempt.arrived = attempt.arrived or bool(syn.incoming)
    for pair, attempt in by_pair.items():
        kinds = signed[pair]
        attempt.md5 = "mixed" if len(kinds) == 2 else ("all" if True in kinds else "none")
        attempt.ttl.sort()
        attempt.mss.sort()
    return sorted(by_pair.values(), key=lambda a: (a.src, a.dst))


_NOTIFICATION_CAUSES = {(2, 2): "asn-mismatch", (2, 3): "router-id-conflict", (6, 5): "peer-not-configured"}


def _findings(analysis: Analysis) -> list[Finding]:
    found: list[Finding] = []
    for note in analysis.notifications:
        cause = _NOTIFICATION_CAUSES.get((note.code, note.subcode))
        if cause is None or any(f.root_cause == cause for f in found):
            continue
        what = f"NOTIFICATION {note.code}/{note.subcode} ({note.error}: {note.detail})"
        reason = f"{note.src} sent {what} to {note.dst}"
        rejected = next((o for o in analysis.opens if o.src == note.dst and o.dst == note.src), None)
        if rejected is not None and cause == "asn-mismatch":
            reason += f" after its OPEN announced AS {rejected.asn}"
        elif rejected is not None and cause == "router-id-conflict":
            reason += f" after its OPEN announced router id {rejected.router_id}"
        found.append(Finding(cause, reason))
    for e in analysis.ttl_expired:
        found.append(
            Finding(
                "ebgp-multihop-missing",
                f"{e.packets} packet(s) ({', '.join(e.kinds)}) from {e.src} to {e.dst} arrived here with "
                f"TTL 1 and were not forwarded, while this host forwards other packets to {e.dst}: the "
                "TTL ran out on this hop, the sender's peer is further away than its TTL allows",
            )
        )
    for c in analysis.corrupted:
        carrying = f" ({', '.join(m.upper() for m in c.messages)})" if c.messages else ""
        found.append(
            Finding(
                "bgp-filtered-unseen",
                f"the TCP handshake between {c.src} and {c.dst} completed, but {c.sent} BGP segment(s)"
                f"{carrying} from {c.src} arrived with a bad TCP checksum, were sent again and never "
                f"acknowledged by {c.dst}: a device on the path damages BGP's segments",
                ["bgp-port-filtered"],
            )
        )
    expired = {(e.src, e.dst) for e in analysis.ttl_expired}
    md5_pairs = {frozenset((a.src, a.dst)) for a in analysis.attempts if a.md5 != "none"}
    plain_pairs = {frozenset((a.src, a.dst)) for a in analysis.attempts if a.md5 != "all"}
    for a in analysis.attempts:
        where = f"{a.src} -> {a.dst}:{a.port}"
        pair = frozenset((a.src, a.dst))
        silent = a.unanswered and not a.syn_acks and not a.rsts
        if a.rsts and not a.syn_acks:
            found.append(
                Finding(
                    "node-not-listening",
                    f"{a.dst} answered {a.rsts} of {a.syns} SYNs ({where}) with a RST: nothing listens on "
                    f"TCP {a.port} there",
                    ["speaker-down"],
                )
            )
        elif not silent or (a.src, a.dst) in expired:
            continue
        elif pair in md5_pairs and pair in plain_pairs:
            found.append(
                Finding(
                    "md5-mismatch",
                    f"SYNs between {a.src} and {a.dst} carry the TCP MD5 option one way and not the other; "
                    f"none of the {a.syns} SYNs {where} was answered",
                )
            )
        elif a.md5 == "all":
            found.append(
                Finding(
                    "md5-mismatch",
                    f"{a.syns} SYNs ({where}) signed with TCP MD5 were never answered: the peer has no or "
                    "another password, or something drops them",
                    UNANSWERED_CAUSES[1:],
                )
            )
        elif a.arrived and a.for_this_host:
            found.append(
                Finding(
                    "md5-mismatch",
                    f"{a.syns} SYNs ({where}) reached {a.dst}, an address of this host, and none was "
                    "answered: this host drops them itself, a TCP MD5 password here that the peer does "
                    "not send (its SYNs carry no MD5 option), or a firewall rule",
                    ["bgp-port-filtered"],
                )
            )
        elif a.arrived:
            found.append(
                Finding(
                    "md5-mismatch",
                    f"{a.syns} SYNs ({where}) reached this host and none was answered or forwarded: if "
                    f"{a.dst} is this host, it drops them itself: a TCP MD5 password here that the peer "
                    "does not send (its SYNs carry no MD5 option), or a firewall rule; if it is a router "
                    "on the way, their TTL ran out here",
                    ["bgp-port-filtered", "ebgp-multihop-missing"],
                )
            )
        else:
            ttl_note = " (sent with TTL 1: if the peer is more than one hop away, the TTL runs out)" * (
                min(a.ttl) <= 1
            )
            found.append(
                Finding(
                    "bgp-filtered-unseen",
                    f"{a.syns} SYNs ({where}) were never answered, no SYN-ACK and no RST: something on "
                    f"the path drops TCP {a.port}, or the peer drops them itself{ttl_note}",
                    [c for c in UNANSWERED_CAUSES if c != "bgp-filtered-unseen"]
                    if min(a.ttl) <= 1
                    else ["md5-mismatch", "bgp-port-filtered"],
                )
            )
    return found


# what silently drops a SYN, in the order of the playbooks' priority (md5 7, port 15, multihop 16,
# unseen 35; a test keeps it so)
UNANSWERED_CAUSES = ["md5-mismatch", "bgp-port-filtered", "ebgp-multihop-missing", "bgp-filtered-unseen"]
ROOT_CAUSES = {
    "node-not-listening",
    "speaker-down",
    "asn-mismatch",
    "router-id-conflict",
    "peer-not-configured",
    "md5-mismatch",
    "ebgp-multihop-missing",
    "bgp-filtered-unseen",
    "bgp-port-filtered",
}


def render_text(analysis: Analysis) -> str:
    """Example:
    captures/pcaps/node-not-listening__yuuko-k8s.pcap: 31 packets, 31 on TCP 179
      SYN 192.168.0.1 -> 192.168.0.81:179  3 SYNs: 0 SYN-ACK, 3 RST, 0 unanswered; TTL 1; MSS 1460
      messages: open 0, update 0, notification 0, keepalive 8, route-refresh 0
      => node-not-listening (or speaker-down): 192.168.0.81 answered 3 of 3 SYNs ... with a RST ...
    """
    from bgpdoctor.report.safe_text import one_line

    a = analysis
    lines = [f"{one_line(a.file)}: {a.packets} packets, {a.bgp_packets} on TCP {BGP_PORT}"]
    if a.cut_short:
        lines.append(f"  (only the first {a.packets} packets were read)")
    for t in a.attempts:
        md5 = {"none": "", "all": "; TCP MD5 signed", "mixed": "; TCP MD5 on some"}[t.md5]
        mss = f"; MSS {', '.join(map(str, t.mss))}" if t.mss else ""
        expired = "; arrived here" if t.arrived else ""
        lines.append(
            f"  SYN {t.src} -> {t.dst}:{t.port}  {t.syns} SYNs: {t.syn_acks} SYN-ACK, {t.rsts} RST, "
            f"{t.unanswered} unanswered; TTL {', '.join(map(str, t.ttl))}{mss}{md5}{expired}"
        )
    for o in a.opens:
        lines.append(
            f"  OPEN {o.src} -> {o.dst}: AS {o.asn}, hold time {o.hold_time}, router id {o.router_id}, "
            f"capabilities {', '.join(o.capabilities) or '-'}" + (f" (x{o.count})" if o.count > 1 else "")
        )
    for e in a.ttl_expired:
        lines.append(f"  TTL ran out here: {e.packets} {'/'.join(e.kinds)} from {e.src} to {e.dst}")
    for c in a.corrupted:
        lines.append(
            f"  bad TCP checksum, never acknowledged: {c.sent} segment(s) from {c.src} to {c.dst}"
            + (f" ({', '.join(c.messages)})" if c.messages else "")
        )
    for n in a.notifications:
        again = f" (x{n.count})" if n.count > 1 else ""
        lines.append(f"  NOTIFICATION {n.src} -> {n.dst}: {n.code}/{n.subcode} {n.error}: {n.detail}{again}")
    lines.append("  messages: " + ", ".join(f"{k} {v}" for k, v in a.messages.items()))
    for f in a.findings:
        also = f" (or {', '.join(f.alternatives)})" if f.alternatives else ""
        lines.append(f"  => {f.root_cause}{also}: {f.reason}")
    if not a.findings:
        lines.append("  => nothing on the wire points to a root cause")
    return "\n".join(lines)
