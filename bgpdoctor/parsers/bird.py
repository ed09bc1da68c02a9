"""Parsers for ``birdc``/``birdcl`` output of BIRD 2.0.x and BIRD 1.6 (Calico), with or without ``-v``.

Input (BIRD 2, ``birdc show protocols``; names longer than the column push the other columns right,
and with ``timeformat protocol iso long`` the Since column is two words)::

    BIRD 2.0.12 ready.
    Name       Proto      Table      State  Since         Info
    node_sakamoto_1 BGP        ---        up     21:22:08.059  Established
    cilium_refused BGP        ---        start  21:22:00.047  Active        Socket: Connection refused

BIRD 1.6 prints ``name proto table state since info`` in lower case, the table is ``master`` and
``show protocols all`` has no ``Channel`` blocks (filters and route counts sit at the top level,
before ``BGP state:``). With ``-v`` every line carries a reply code (``1002-`` row, ``1006-`` detail,
five spaces for a continuation, ``0000`` end); the codes are stripped first.

Output::

    [BirdProtocol(name="cilium_refused", proto="BGP", table="---", state="start",
                  since="21:22:00.047", info="Active        Socket: Connection refused",
                  bgp_state="Active", last_error="Socket: Connection refused",
                  neighbor_address="10.0.1.3", neighbor_as=64514, local_as=64512, ...,
                  channels=["ipv4"], error_wait=False)]

``parse_show_route`` reads both route formats::

    BIRD 2:   10.42.3.0/24   unicast [r16_multihop 21:22:04.089 from 10.0.5.2] * (100/?) [AS64513i]
                      via 10.0.4.2 on r2-mid
    BIRD 1.6: 10.42.0.0/24   via 10.0.5.1 on r16-mid [rmine_multihop_peer 21:22:08 from 10.0.4.1] * ...

into ``BirdRoute(prefix="10.42.3.0/24", gateway="10.0.4.2", interface="r2-mid",
protocol="r16_multihop", primary=True, kind="unicast", bgp_next_hop="10.0.5.2", as_path="64513", ...)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bgpdoctor.parsers import ParseError, to_int

BGP_STATES = frozenset(
    {"Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established", "Close", "Passive", "Down"}
)

_CODE_RE = re.compile(r"^(\d{4})(?:([ -])(.*))?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_RE = re.compile(r"^\d{1,2}:\d{2}:\d{2}(\.\d+)?$")
_ROUTES_RE = re.compile(r"(?P<imp>\d+) imported(?:, (?P<filt>\d+) filtered)?, (?P<exp>\d+) exported")
# prefix (absent on a second route for the same prefix), destination, [proto since [from X]], flags
_ROUTE_RE = re.compile(
    r"^(?P<prefix>\S+)?\s+(?P<dest>.*?)\s*\[(?P<proto>\S+)\s+(?P<since>[^\]]*?)"
    r"(?:\s+from\s+(?P<src>\S+))?\]\s*(?P<flag>[*!])?\s*\((?P<pref>[^)]*)\)"
    r"(?:\s*\[(?P<origin>[^\]]*)\])?\s*$"
)
_GREETING_RE = re.compile(r"^BIRD \S+ ready\.$")
_CLIENT_ERROR_RE = re.compile(r"^(syntax error|Unknown command|Access denied)")
# the first letters of the lines above and of "Access restricted" and "Unable to connect..."
_SPECIAL_STARTS = ("B", "A", "U", "s")
_HEADER_RE = re.compile(r"^(Name|name)\s+(Proto|proto)\s+(Table|table)\s+(State|state)")
_TABLE_RE = re.compile(r"^Table (\S+):$")
_NEXTHOP_RE = re.compile(r"^\s+via\s+(?P<gw>\S+)(?:\s+on\s+(?P<iface>\S+))?|^\s+dev\s+(?P<dev>\S+)")


@dataclass
class BirdProtocol:
    """One protocol of ``show protocols [all]``; detail fields stay None for the short table."""

    name: str
    proto: str
    table: str
    state: str
    since: str
    info: str
    bgp_state: str | None = None
    last_error: str | None = None
    neighbor_address: str | None = None
    neighbor_as: int | None = None
    local_as: int | None = None
    neighbor_id: str | None = None
    source_address: str | None = None
    session: str | None = None
    hold_timer: str | None = None
    routes_imported: int | None = None
    routes_exported: int | None = None
    routes_filtered: int | None = None
    import_filter: str | None = None
    export_filter: str | None = None
    description: str | None = None
    channels: list[str] = field(default_factory=list)
    error_wait: bool = False


@dataclass
class BirdRoute:
    """One route of ``show route [all]``; ``kind`` is unicast, unreachable, blackhole, prohibit..."""

    prefix: str
    gateway: str | None
    interface: str | None
    protocol: str
    primary: bool
    kind: str
    bgp_next_hop: str | None = None
    as_path: str | None = None
    table: str | None = None
    since: str | None = None
    from_address: str | None = None
    sync_error: bool = False  # BIRD 1.6 marks a primary route the kernel refused with "!" not "*"
    local_pref: int | None = None  # BGP.local_pref
    med: int | None = None  # BGP.med
    origin: str | None = None  # BGP.origin: IGP, EGP or Incomplete


@dataclass
class BirdStatus:
    """``show status``.

    Example: BirdStatus(version="2.0.12", router_id="10.0.4.1", hostname="vm",
    server_time="2026-11-22 21:22:16.123", last_reboot="2026-11-22 21:22:00.047",
    last_reconfiguration="2026-11-22 21:22:00.047", message="Daemon is up and running")
    """

    version: str
    router_id: str | None = None
    hostname: str | None = None
    server_time: str | None = None
    last_reboot: str | None = None
    last_reconfiguration: str | None = None
    message: str | None = None


def _lines(text: str, parser: str = "bird") -> list[str]:
    """Drop the greeting and reply codes; raise on a client error (socket missing, syntax error)."""
    raw = text.splitlines()
    verbose = any(_CODE_RE.match(line) for line in raw[:2])
    out: list[str] = []
    for line in raw:
        if verbose:
            m = _CODE_RE.match(line)
            if m:
                code, rest = m.group(1), m.group(3) or ""
                if code in ("0001", "0000"):
                    continue
                if code.startswith("9"):
                    raise ParseError(parser, f"BIRD error {code}: {rest}")
                line = rest
            elif line.startswith("     "):
                line = line[5:]
            elif line.startswith(" "):  # raw control-socket protocol: one space marks continuation
                line = line[1:]
        if line.startswith(_SPECIAL_STARTS):  # one test for every line, the patterns for a few
            if _GREETING_RE.match(line) or line == "Access restricted":
                continue  # greeting, and the notice of `birdc -r` (restricted to show commands)
            if line.startswith(("Unable to connect to server control socket", "Unable to connect to server")):
                raise ParseError(parser, line.strip())
            if _CLIENT_ERROR_RE.match(line):
                raise ParseError(parser, line.strip())
        out.append(line)
    return out


def _split_row(line: str) -> BirdProtocol | None:
    words = line.split()
    if len(words) < 5:
        return None
    name, proto, table, state = words[:4]
    rest = words[4:]
    since = rest[0]
    n = 1
    if _DATE_RE.match(rest[0]) and len(rest) > 1 and _TIME_RE.match(rest[1]):
        since, n = f"{rest[0]} {rest[1]}", 2
    # Info keeps its own inner spacing, so cut it out of the original line after the since field.
    idx = 0
    for w in [name, proto, table, state, *rest[:n]]:
        idx = line.index(w, idx) + len(w)
    info = line[idx:].strip()
    p = BirdProtocol(name=name, proto=proto, table=table, state=state, since=since, info=info)
    if proto == "BGP" and info:
        first, _, more = info.partition(" ")
        if first in BGP_STATES:
            p.bgp_state = first
            p.last_error = more.strip() or None
    return p


def _is_header(line: str) -> bool:
    return line[:1] in ("N", "n") and _HEADER_RE.match(line) is not None


def _int(value: str, what: str) -> int:
    return to_int(value, "bird", what)


def _apply_detail(p: BirdProtocol, line: str, seen: set[str]) -> None:
    s = line.strip()
    key, sep, value = s.partition(":")
    value = value.strip()
    if s.startswith("Channel "):
        p.channels.append(s.split(None, 1)[1])
        return
    if not sep:
        return
    if key == "Description":
        p.description = value
    elif key == "BGP state":
        p.bgp_state = value
    elif key == "Neighbor address":
        p.neighbor_address = value.split("%")[0] or None
    elif key == "Neighbor AS":
        p.neighbor_as = _int(value, key)
    elif key == "Local AS":
        p.local_as = _int(value, key)
    elif key == "Neighbor ID":
        p.neighbor_id = value
    elif key == "Source address":
        p.source_address = value
    elif key == "Session":
        p.session = value
    elif key == "Hold timer":
        p.hold_timer = value
    elif key == "Last error":
        p.last_error = value
    elif key == "Error wait":
        p.error_wait = True
    elif key in ("Input filter", "Output filter") and key not in seen:
        seen.add(key)  # several channels: the first one (ipv4 in practice) wins
        if key == "Input filter":
            p.import_filter = value
        else:
            p.export_filter = value
    elif key == "Routes":
        m = _ROUTES_RE.search(value)
        if m:
            p.routes_imported = (p.routes_imported or 0) + _int(m.group("imp"), "routes imported")
            p.routes_exported = (p.routes_exported or 0) + _int(m.group("exp"), "routes exported")
            if m.group("filt") is not None:
                p.routes_filtered = (p.routes_filtered or 0) + _int(m.group("filt"), "routes filtered")


def _parse_protocols(text: str, detail: bool) -> list[BirdProtocol]:
    lines = _lines(text)
    protocols: list[BirdProtocol] = []
    header = False
    current: BirdProtocol | None = None
    seen: set[str] = set()
    for line in lines:
        if not line.strip():
            current = None
            continue
        if _is_header(line):
            header = True
            continue
        if line.strip() in ("No protocols match", "Daemon is up and running"):
            continue
        if line[0] not in " \t":
            if not header:
                raise ParseError("bird", f"protocol row before the table header: {line!r}")
            row = _split_row(line)
            if row is None:
                raise ParseError("bird", f"cannot split protocol row: {line!r}")
            protocols.append(row)
            current, seen = row, set()
        elif detail and current is not None:
            _apply_detail(current, line, seen)
        elif not detail:
            raise ParseError("bird", f"unexpected detail line in 'show protocols': {line!r}")
    if not header and not any("No protocols match" in line for line in lines):
        raise ParseError("bird", "no 'Name Proto Table State Since Info' header")
    return protocols


def parse_show_protocols(text: str) -> list[BirdProtocol]:
    """Parse ``birdc [-v] show protocols`` (BIRD 2 or 1.6).

    Example: [BirdProtocol(name="g2_badas", proto="BGP", table="---", state="start",
    since="21:22:04.428", info="Idle          BGP Error: Bad peer AS", bgp_state="Idle",
    last_error="BGP Error: Bad peer AS", ...)]
    """
    return _parse_protocols(text, detail=False)


def parse_show_protocols_all(text: str) -> list[BirdProtocol]:
    """Parse ``birdc [-v] show protocols all [name]`` (BIRD 2 or 1.6).

    Example: [BirdProtocol(name="r16_multihop", ..., bgp_state="Established",
    neighbor_address="10.0.5.2", neighbor_as=64513, local_as=64512, neighbor_id="10.0.5.2",
    source_address="10.0.4.1", session="external multihop AS4", hold_timer="3.064/6",
    routes_imported=1, routes_exported=3, import_filter="ACCEPT", export_filter="(unnamed)",
    channels=["ipv4"], error_wait=False)]
    """
    return _parse_protocols(text, detail=True)


def _route_from_match(m: re.Match[str], prefix: str, table: str | None) -> BirdRoute:
    dest = m.group("dest").strip()
    gateway = interface = None
    kind = dest.split()[0] if dest else "unicast"
    v = re.match(r"^via\s+(\S+)(?:\s+on\s+(\S+))?", dest)
    d = re.match(r"^dev\s+(\S+)", dest)
    if v:  # BIRD 1.6 puts the next hop on the same line
        gateway, interface, kind = v.group(1), v.group(2), "unicast"
    elif d:
        interface, kind = d.group(1), "unicast"
    elif kind == "multipath":
        kind = "unicast"
    flag = m.group("flag")
    return BirdRoute(
        prefix=prefix,
        gateway=gateway,
        interface=interface,
        protocol=m.group("proto"),
        primary=flag in ("*", "!"),
        kind=kind,
        table=table,
        since=m.group("since") or None,
        from_address=m.group("src"),
        sync_error=flag == "!",
    )


def parse_show_route(text: str) -> list[BirdRoute]:
    """Parse ``birdc [-v] show route [all] [...]`` of BIRD 2 or 1.6; "Network not found" gives [].

    Example: [BirdRoute(prefix="10.42.0.0/24", gateway="10.0.1.2", interface="r2-g1",
    protocol="node_sakamoto_1", primary=True, kind="unicast", bgp_next_hop="10.0.1.2",
    as_path="64514", table="master4", since="21:22:08.059", from_address=None, sync_error=False)]
    """
    routes: list[BirdRoute] = []
    table: str | None = None
    prefix: str | None = None
    current: BirdRoute | None = None
    for line in _lines(text):
        if not line.strip():
            continue
        s = line.strip()
        if s in ("Network not found", "No protocols match"):
            continue
        t = _TABLE_RE.match(s) if s.startswith("Table ") else None
        if t:
            table = t.group(1)
            continue
        m = None if line.startswith("\t") else _ROUTE_RE.match(line)  # a tab: the route's details
        if m:
            if m.group("prefix"):
                prefix = m.group("prefix")
            if prefix is None:
                raise ParseError("bird", f"route line without a prefix: {line!r}")
            current = _route_from_match(m, prefix, table)
            routes.append(current)
            continue
        if current is None:
            raise ParseError("bird", f"unexpected line in 'show route': {line!r}")
        nh = _NEXTHOP_RE.match(line)
        if nh:
            if current.gateway is None and current.interface is None:  # first next hop of several
                current.gateway = nh.group("gw")
                current.interface = nh.group("iface") or nh.group("dev")
            continue
        key, _, value = s.partition(":")
        if key == "BGP.as_path":
            current.as_path = value.strip()
        elif key == "BGP.next_hop":
            current.bgp_next_hop = value.split()[0] if value.strip() else None
        elif key == "BGP.local_pref":
            current.local_pref = _int_or_none(value)
        elif key == "BGP.med":
            current.med = _int_or_none(value)
        elif key == "BGP.origin":
            current.origin = value.strip() or None
    return routes


def _int_or_none(text: str) -> int | None:
    return int(text.strip()) if text.strip().isdigit() else None


def parse_show_status(text: str) -> BirdStatus:
    """Parse ``birdc [-v] show status``.

    Example: BirdStatus(version="1.6.8", router_id="10.0.5.2", hostname=None,
    server_time="2026-11-22 21:22:16", last_reboot="2026-11-22 21:21:59",
    last_reconfiguration="2026-11-22 21:21:59", message="Daemon is up and running")
    """
    status: BirdStatus | None = None
    for line in _lines(text):
        s = line.strip()
        if not s:
            continue
        m = re.match(r"^BIRD (v?\S+)$", s)
        if m and status is None:
            status = BirdStatus(version=m.group(1))
            continue
        if status is None:
            raise ParseError("bird", f"'show status' does not start with the BIRD version: {s!r}")
        for prefix, attr in (
            ("Router ID is ", "router_id"),
            ("Hostname is ", "hostname"),
            ("Current server time is ", "server_time"),
            ("Last reboot on ", "last_reboot"),
            ("Last reconfiguration on ", "last_reconfiguration"),
        ):
            if s.startswith(prefix):
                setattr(status, attr, s[len(prefix) :])
                break
        else:
            status.message = s
    if status is None:
        raise ParseError("bird", "empty 'show status' output")
    return status
