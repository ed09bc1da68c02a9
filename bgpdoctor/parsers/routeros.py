"""Parser for MikroTik RouterOS v7 ``/routing/bgp/session print [detail]``, normalised onto
:class:`bgpdoctor.parsers.routers.RouterSession`.

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

becomes ``RouterSession(address="192.168.1.2", state="established", remote_as=65532,
local_as=65531, local_address="192.168.1.1", remote_router_id="192.168.1.1", uptime_seconds=4,
hold_time=180, keepalive=60, capabilities=["multiprotocol", "route-refresh", "4-byte-as"],
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
from bgpdoctor.parsers.routers import RouterSession, capability_name, duration_seconds

P = "routeros"
# one whitespace run between the parts: adjacent optional runs backtrack cubically on blank lines
_ENTRY = re.compile(r"^[ \t]*(?:(?P<num>\d+)[ \t]+)?(?:(?P<flags>[A-Z]+)[ \t]+)?name=")
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


def _session(flags: str, body: str) -> RouterSession:
    values, words = _tokens(body)
    address = values.get("remote.address")
    if not address:
        raise ParseError(P, f"session without remote.address: {body[:80]!r}")
    established = "E" in flags or "established" in words
    session = RouterSession(
        address=address.split("/", 1)[0],
        state="established" if established else "idle",
        remote_as=_int(values, "remote.as"),
        local_as=_int(values, "local.as"),
        local_address=values.get("local.address") or None,
        remote_router_id=values.get("remote.id") or None,
        prefixes_received=_int(values, "prefix-count"),
        description=values.get("name") or None,
        max_prefix_exceeded="limit-exceeded" in words,
        admin_down="X" in flags,
    )
    if established:
        if "uptime" in values:
            session.uptime_seconds = duration_seconds(values["uptime"], P)
        if "hold-time" in values:
            session.hold_time = duration_seconds(values["hold-time"], P)
        if "keepalive-time" in values:
            session.keepalive = duration_seconds(values["keepalive-time"], P)
        caps = _both(_list(values, "local.capabilities"), _list(values, "remote.capabilities"))
        session.capabilities = [capability_name(c) for c in caps]
        afis = _both(_list(values, "local.afi"), _list(values, "remote.afi"))
        session.families = [_AFI.get(a, a) for a in afis]
    for key, sent in (("input.last-notification", False), ("output.last-notification", True)):
        if key in values:
            session.last_notification = notification_text(values[key])
            session.notification_sent = sent
            break
    return session


def parse_bgp_sessions(text: str) -> list[RouterSession]:
    """Parse ``/routing/bgp/session print`` or ``print detail`` (prompt and ``Flags:`` lines are
    skipped). Example: see the module docstring."""
    entries: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if m := _ENTRY.match(line):
            entries.append((m.group("flags") or "", [line[m.end() - len("name=") :]]))
        elif entries and line[:1].isspace() and line.strip():
            entries[-1][1].append(line)
        elif line.strip().startswith(
            ("failure:", "syntax error", "bad command name", "expected end of command")
        ):
            raise ParseError(P, line.strip()[:120])
    return [_session(flags, "\n".join(body)) for flags, body in entries]


__all__ = ["NOTIFICATION_CODES", "notification_text", "parse_bgp_sessions"]
