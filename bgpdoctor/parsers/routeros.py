"""Parser for MikroTik RouterOS v7 ``/routing/bgp/session print [detail]``, normalised onto
:class:`bgpdoctor.parsers.routers.NeighborState`.

An entry starts with its number and flags (``E`` established) and continues on indented lines of
``key=value`` tokens; a key starting with ``.`` belongs to the group of the key before it
(``remote.address=192.168.1.2 .as=65532`` is ``remote.as=65532``). Bare words are flags such as
``ebgp``, ``ibgp`` and ``limit-exceeded``::

     0 E name="toR2"
         remote.address=192.168.1.2 .as=65532 .id=192.168.1.1 .refused-cap-opt=no
         .capabilities=mp,rr,as4 .afi=ip,ipv6 .messages=43346 .bytes=3635916 .eor=""
         local.address=192.168.1.1 .as=65531 .id=192.168.44.2 .capabilities=mp,rr,gr,as4 ...
         output.procid=97 .keep-sent-attributes=no
         .last-notification=ffffffffffffffffffffffffffffffff0015030601
         input.procid=97 .limit-process-routes=500000 ebgp limit-exceeded
         hold-time=3m keepalive-time=1m uptime=4s70ms

becomes ``NeighborState(address="192.168.1.2", state="established", peer_as=65532,
local_as=65531, local_address="192.168.1.1", remote_router_id="192.168.1.1", up_for_s=4,
hold_time_s=180, keepalive_s=60, capabilities=["multiprotocol", "route-refresh", "4-byte-as"],
families=["ipv4-unicast", "ipv6-unicast"], max_prefix_exceeded=True,
last_notification="Cease/Maximum Number of Prefixes Reached", notification_sent=True,
description="toR2", ...)``.

The session menu is a cache: an entry without ``E`` is a session that is not established, and
RouterOS does not say which FSM state it is in, so it reads as ``idle``. ``last-notification`` is
the raw NOTIFICATION message in hex; under ``output`` it is the last one this router sent, under
``input`` the last one it received. ``prefix-count`` counts the prefixes received from the peer.
"""

from __future__ import annotations

import re

from bgpdoctor.parsers import ParseError, to_int
from bgpdoctor.parsers.routers import NeighborState, RouterRoute, capability_name, duration_seconds, settled

P = "routeros"
# one whitespace run between the parts: adjacent optional runs backtrack cubically on blank lines
_ENTRY = re.compile(r"^[ \t]*(?:(?P<num>\d+)[ \t]+)?(?:(?P<flags>[A-Z]+)[ \t]+)?name=")
# "0 E ;;; BFD session down": an entry whose comment comes first, its name= on the next line
_COMMENTED = re.compile(
    r"^[ \t]*(?:(?P<num>\d+)[ \t]+)?(?:(?P<flags>[A-Z]+)[ \t]+)?;;;[ \t]*(?P<comment>.*)$"
)
_TOKEN = re.compile(r'(?P<key>[.\w-][\w.-]*)=(?P<value>"(?:[^"\\\n]|\\.)*"|\S*)|(?P<word>\S+)')
_TIME = re.compile(r"^\d{1,2}:\d{2}:\d{2}$")
_AFI = {"ip": "ipv4-unicast", "ipv6": "ipv6-unicast", "vpnv4": "vpnv4-unicast", "evpn": "l2vpn-evpn"}

NOTIFICATION_CODES: dict[int, tuple[str, dict[int, str]]] = {  # RFC 4271 6.x, RFC 4486
    1: (
        "Message Header Error",
        {1: "Connection Not Synchronized", 2: "Bad Message Length", 3: "Bad Message Type"},
    ),
    2: (
        "OPEN Message Error",
        {
            1: "Unsupported Version Number",
            2: "Bad Peer AS",
            3: "Bad BGP Identifier",
            4: "Unsupported Optional Parameter",
            6: "Unacceptable Hold Time",
            7: "Unsupported Capability",
        },
    ),
    3: ("UPDATE Message Error", {1: "Malformed Attribute List", 11: "Malformed AS_PATH"}),
    4: ("Hold Timer Expired", {}),
    5: ("Finite State Machine Error", {}),
    6: (
        "Cease",
        {
            1: "Maximum Number of Prefixes Reached",
            2: "Administrative Shutdown",
            3: "Peer De-configured",
            4: "Administrative Reset",
            5: "Connection Rejected",
            6: "Other Configuration Change",
            7: "Connection Collision Resolution",
            8: "Out of Resources",
            9: "Hard Reset",
        },
    ),
}


def notification_text(hex_message: str) -> str:
    """A NOTIFICATION message in hex (marker, length, type 3, code, subcode, data) in words.

    Example: notification_text("ffffffffffffffffffffffffffffffff0015030601")
    -> "Cease/Maximum Number of Prefixes Reached"; raises ParseError when it is not one.
    """
    raw = hex_message.strip().lower()
    if not re.fullmatch(r"(?:[0-9a-f]{2}){21,4096}", raw) or not raw.startswith("f" * 32):
        raise ParseError(P, f"last-notification is not a NOTIFICATION message: {hex_message[:60]!r}")
    message_type, code, subcode = (int(raw[i : i + 2], 16) for i in (36, 38, 40))
    if message_type != 3:
        raise ParseError(P, f"last-notification has message type {message_type}, not 3")
    name, subcodes = NOTIFICATION_CODES.get(code, (f"Error code {code}", {}))
    if subcode == 0:
        return name
    return f"{name}/{subcodes.get(subcode, f'subcode {subcode}')}"


def _tokens(text: str) -> tuple[dict[str, str], list[str]]:
    """key=value pairs (``.key`` expanded with the group of the key before it) and bare words."""
    values: dict[str, str] = {}
    words: list[str] = []
    group = ""
    last_key = ""
    for m in _TOKEN.finditer(text):
        if m.group("word") is not None:
            word = m.group("word")
            if _TIME.match(word) and last_key.endswith(("last-started", "last-stopped")):
                values[last_key] += " " + word  # "last-started=2024-12-18 17:21:42"
            else:
                words.append(word)
            continue
        key, value = m.group("key"), m.group("value")
        if key.startswith("."):
            key = f"{group}{key}"
        elif "." in key:
            group = key.split(".", 1)[0]
        else:
            group = ""
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1]
        values[key] = value
        last_key = key
    return values, words


def _int(values: dict[str, str], key: str) -> int | None:
    return to_int(values[key], P, key) if key in values else None


def _list(values: dict[str, str], key: str) -> list[str] | None:
    if key not in values:
        return None
    return [item for item in values[key].split(",") if item]


def _both(local: list[str] | None, remote: list[str] | None) -> list[str]:
    if local is None or remote is None:
        return list(remote or local or [])
    return [item for item in remote if item in local]


def _bare(address: str | None) -> str | None:
    """``111.111.11.12@vrf1`` / ``10.0.0.1%ether1`` / ``10.0.0.1/32`` -> ``111.111.11.12``."""
    return re.split(r"[/@%]", address, maxsplit=1)[0] or None if address else None


def _yes_no(value: str, key: str) -> bool:
    if value not in ("yes", "no"):
        raise ParseError(P, f"{key}: expected yes or no, got {value[:40]!r}")
    return value == "yes"


def _session(flags: str, body: str, comment: str = "") -> NeighborState:
    values, words = _tokens(body)
    address = values.get("remote.address")
    if not address:
        raise ParseError(P, f"session without remote.address: {body[:80]!r}")
    established = "E" in flags or "established" in words
    session = NeighborState(
        address=re.split(r"[/@%]", address, maxsplit=1)[0],
        state="established" if established else "idle",
        peer_as=_int(values, "remote.as"),
        local_as=_int(values, "local.as"),
        local_address=_bare(values.get("local.address")),
        remote_router_id=values.get("remote.id") or None,
        received=_int(values, "prefix-count"),
        description=values.get("name") or None,
        max_prefix_exceeded="limit-exceeded" in words,
        admin_down="X" in flags,
    )
    if established:
        if "uptime" in values:
            session.up_for_s = duration_seconds(values["uptime"], P)
        if values.get("hold-time") == "infinity":
            session.hold_time_s = 0  # RouterOS's word for a hold time of 0: no keepalives (RFC 4271 4.2)
        elif "hold-time" in values:
            session.hold_time_s = duration_seconds(values["hold-time"], P)
        if "keepalive-time" in values:
            session.keepalive_s = duration_seconds(values["keepalive-time"], P)
        caps = _both(_list(values, "local.capabilities"), _list(values, "remote.capabilities"))
        session.capabilities = [capability_name(c) for c in caps]
        afis = _both(_list(values, "local.afi"), _list(values, "remote.afi"))
        session.families = [_AFI.get(a, a) for a in afis]
    if "use-bfd" in values:
        session.bfd = _yes_no(values["use-bfd"], "use-bfd")
    if "bfd session down" in comment.lower():
        session.bfd_state = "down"
    for key, sent in (("input.last-notification", False), ("output.last-notification", True)):
        if key in values:
            session.last_notification = notification_text(values[key])
            session.notification_sent = sent
            break
    return session


def parse_bgp_sessions(text: str) -> list[NeighborState]:
    """Parse ``/routing/bgp/session print`` or ``print detail`` (prompt and ``Flags:`` lines are
    skipped). Example: see the module docstring."""
    entries: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        if m := _COMMENTED.match(line):
            entries.append((m.group("flags") or "", m.group("comment"), []))
        elif (m := _ENTRY.match(line)) and entries and not entries[-1][2] and not m.group("num"):
            entries[-1][2].append(line[m.end() - len("name=") :])  # the commented entry's name
        elif m:
            entries.append((m.group("flags") or "", "", [line[m.end() - len("name=") :]]))
        elif entries and line[:1].isspace() and line.strip():
            entries[-1][2].append(line)
        elif line.strip().startswith(
            ("failure:", "syntax error", "bad command name", "expected end of command")
        ):
            raise ParseError(P, line.strip()[:120])
    return settled([_session(flags, "\n".join(body), comment) for flags, comment, body in entries], True)


# -- /ip/route print [detail] -------------------------------------------------------------------------

# RouterOS v7's own legend, used when the output has none; the output's `Flags:` lines override it
# (7.1 printed "C - CONNECT, S - STATIC" in upper case, later releases "c - connect, s - static")
ROUTE_FLAGS = {
    "D": "dynamic", "X": "disabled", "I": "inactive", "A": "active", "c": "connect", "s": "static",
    "r": "rip", "b": "bgp", "o": "ospf", "i": "is-is", "d": "dhcp", "v": "vpn", "m": "modem",
    "y": "bgp-mpls-vpn", "H": "hw-offloaded", "+": "ecmp",
}  # fmt: skip
_PROTOCOLS = {
    "connect": "connected", "static": "static", "rip": "rip", "bgp": "bgp", "ospf": "ospf",
    "is-is": "isis", "dhcp": "dhcp", "vpn": "vpn", "modem": "modem", "bgp-mpls-vpn": "bgp",
}  # fmt: skip
_LEGEND_ITEM = re.compile(r"(?:^|[;,])\s*(?P<flag>[A-Za-z+])\s+-\s+(?P<word>[A-Za-z][A-Za-z-]*)")
_PREFIX = r"[0-9A-Fa-f:.]+(?:%[\w.@-]+)?/\d{1,3}"
_ROUTE_FLAGS = r"[A-Za-z+](?:[A-Za-z+ ]{0,6}[A-Za-z+])?"
_DETAIL_ENTRY = re.compile(rf"^\s*(?:(?P<num>\d+)\s+)?(?:(?P<flags>{_ROUTE_FLAGS})\s+)?dst-address=")
_TERSE_ENTRY = re.compile(
    rf"^\s*(?:(?P<num>\d+)\s+)?(?:(?P<flags>{_ROUTE_FLAGS})\s+)?(?P<dst>{_PREFIX})(?:\s+(?P<rest>.*))?$"
)
_ERRORS = ("failure:", "syntax error", "bad command name", "expected end of command", "no such item")


def _legend(line: str) -> dict[str, str]:
    """``Flags: D - DYNAMIC; I - INACTIVE, A - ACTIVE`` -> {"D": "dynamic", "I": "inactive", ...}."""
    return {m.group("flag"): m.group("word").lower() for m in _LEGEND_ITEM.finditer(line)}


def _is_legend(line: str) -> bool:
    """A `Flags:` line or its continuation (``H - hw-offloaded; + - ecmp``)."""
    text = line.strip()
    return text.startswith("Flags:") or bool(
        re.fullmatch(r"(?:[A-Za-z+]\s+-\s+[A-Za-z][\w-]*[;,]?\s*)+>?", text)
    )


def _gateway(gateway: str | None) -> tuple[str | None, str | None]:
    """``10.0.0.1%ether1`` -> ("10.0.0.1", "ether1"); ``ether1`` -> (None, "ether1")."""
    if not gateway:
        return None, None
    address, _, interface = gateway.partition("%")
    if re.fullmatch(r"[0-9.]+|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*", address):
        return address, (interface.split("@", 1)[0] or None)
    return None, gateway.split("@", 1)[0]


def _route(flags: str, legend: dict[str, str], dst: str, gateway: str | None, distance: int | None,
           table: str | None, as_path: str | None) -> RouterRoute:  # fmt: skip
    meanings = {legend.get(f, ROUTE_FLAGS.get(f, "")) for f in flags.replace(" ", "")}
    protocol = next((_PROTOCOLS[m] for m in sorted(meanings) if m in _PROTOCOLS), "unknown")
    next_hop, interface = _gateway(gateway)
    active = "active" in meanings
    return RouterRoute(
        prefix=dst.split("%", 1)[0] if "%" in dst else dst,
        next_hop=next_hop,
        protocol=protocol,
        interface=interface,
        selected=active,
        installed=active and "disabled" not in meanings,
        as_path=as_path,
        distance=distance,
        table=table,
    )


def parse_ip_routes(text: str) -> list[RouterRoute]:
    """Parse RouterOS v7 ``/ip/route print``, ``print terse`` or ``print detail`` (also
    ``/ipv6/route``): one RouterRoute per entry, ``selected`` and ``installed`` from the ``A``
    (active) flag, the protocol from the protocol flag (``b`` bgp), the next hop from ``gateway``.

    An ECMP route is one entry per gateway, each flagged ``+``; a BGP path that lost the best-path
    selection is an entry without ``A`` (``D b``). Example: the line ``  DAb 10.100.0.0/24
    10.90.0.2  20`` -> RouterRoute(prefix="10.100.0.0/24", next_hop="10.90.0.2", protocol="bgp",
    selected=True, installed=True, distance=20).
    """
    legend: dict[str, str] = {}
    columns: list[str] = ["GATEWAY", "DISTANCE"]
    details: list[tuple[str, list[str]]] = []
    routes: list[RouterRoute] = []
    for raw in text.splitlines():
        line = re.sub(r"\s*\[[^\]\n]*@[^\]\n]*\][^\n]*$", "", raw)  # a prompt glued to the last line
        stripped = line.strip()
        if not stripped or stripped.startswith(";;;") or stripped.startswith("#"):
            continue
        if stripped.lower().startswith(_ERRORS):
            raise ParseError(P, stripped[:120])
        if _is_legend(stripped):
            legend.update(_legend(stripped.removeprefix("Flags:")))
            continue
        if stripped.startswith("Columns:"):
            columns = [c.strip().upper() for c in stripped.removeprefix("Columns:").split(",")][1:]
            continue
        if m := _DETAIL_ENTRY.match(line):
            details.append((m.group("flags") or "", [line[m.end() - len("dst-address=") :]]))
        elif details and line[:1].isspace() and "=" in line:
            details[-1][1].append(line)
        elif (m := _TERSE_ENTRY.match(line)) and not details:
            routes.append(_terse(m, legend, columns))
        elif "=" not in line and not details and "/" not in line:
            continue  # the column header without `#`, a prompt line
        else:
            raise ParseError(P, f"not a route entry: {stripped[:80]!r}")
    for flags, body in details:
        values, _words = _tokens("\n".join(body))
        routes.append(
            _route(
                flags,
                legend,
                values.get("dst-address", ""),
                values.get("gateway") or values.get("immediate-gw"),
                _int(values, "distance"),
                values.get("routing-table"),
                values.get("bgp.as-path"),
            )
        )
    return routes


def _terse(m: re.Match[str], legend: dict[str, str], columns: list[str]) -> RouterRoute:
    rest = (m.group("rest") or "").split()
    by_column: dict[str, str] = {}
    if len(rest) == len(columns):
        by_column = dict(zip(columns, rest, strict=True))
    elif rest and rest[-1].isdigit() and columns[-1:] in (["DISTANCE"], ["D"]):
        by_column = {"DISTANCE": rest[-1]}  # no gateway (a blackhole, a route being resolved)
        if len(rest) > 1:
            by_column["GATEWAY"] = rest[0]
    distance = by_column.get("DISTANCE") or by_column.get("D")
    return _route(
        m.group("flags") or "",
        legend,
        m.group("dst"),
        by_column.get("GATEWAY"),
        to_int(distance, P, "distance") if distance is not None else None,
        by_column.get("ROUTING-TABLE"),
        None,
    )


__all__ = ["NOTIFICATION_CODES", "ROUTE_FLAGS", "notification_text", "parse_bgp_sessions", "parse_ip_routes"]
