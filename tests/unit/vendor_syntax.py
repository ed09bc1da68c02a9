"""Grammars of the vendor router commands bgpdoctor's fixes use, for the routers nothing real runs here.

RouterOS v7, FortiOS and Huawei VRP cannot be run on this machine, so their fix snippets are checked
against the command paths, parameter names and value types their vendors document (quoted, with the
pages, in tests/fixtures/vendor_syntax/SOURCE.md). Each check returns the problems it found, one line
each; an empty list means every line is a documented command with documented parameters.

Example: check_routeros('/routing/bgp/connection set [find where remote.address~"10.0.0.1"] use-bfd=maybe')
-> ['line 1: use-bfd=maybe: not a valid value']
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Callable

Value = Callable[[str], bool]


def _int(low: int, high: int) -> Value:
    return lambda v: v.isdigit() and low <= int(v) <= high


def _one_of(*words: str) -> Value:
    return lambda v: v in words


def _ipv4(v: str) -> bool:
    try:
        ipaddress.IPv4Address(v)
    except ValueError:
        return False
    return True


def _ip_or_prefix(v: str) -> bool:
    try:
        ipaddress.ip_network(v, strict=False)
    except ValueError:
        return False
    return True


def _any(v: str) -> bool:
    return bool(v)


ASN = _int(0, 4294967295)
YES_NO = _one_of("yes", "no")
ENABLE = _one_of("enable", "disable")
_ROS_TIME = re.compile(r"(?:\d+h)?(?:\d+m)?(?:\d+s)?")
_ROS_FAMILIES = {"ip", "ipv6", "l2vpn", "l2vpn-cisco", "vpnv4"}


def _ros_time(v: str) -> bool:
    return v == "infinity" or (bool(v) and _ROS_TIME.fullmatch(v) is not None)


# -- MikroTik RouterOS v7 (help.mikrotik.com/docs/spaces/ROS/pages/328220/BGP) ---------------------
# /routing/bgp/connection: the connection properties and the template properties it exposes
_ROS_CONNECTION: dict[str, Value] = {
    "name": _any,
    "connect": YES_NO,
    "listen": YES_NO,
    "local.address": _ip_or_prefix,
    "local.port": _int(0, 65535),
    "local.role": _one_of(
        "ebgp", "ebgp-customer", "ebgp-peer", "ebgp-provider", "ebgp-rs", "ebgp-rs-client", "ibgp", "ibgp-rr"
    ),
    "local.ttl": _int(1, 255),
    "remote.address": _ip_or_prefix,
    "remote.port": _int(0, 65535),
    "remote.as": ASN,
    "remote.ttl": _int(1, 255),
    "tcp-md5-key": _any,
    "templates": _any,
    "as": ASN,
    "address-families": lambda v: bool(v) and set(v.split(",")) <= _ROS_FAMILIES,
    "disabled": YES_NO,
    "hold-time": lambda v: _ros_time(v) and (v == "infinity" or 3 <= _ros_seconds(v) <= 3600),
    "keepalive-time": lambda v: _ros_time(v) and 1 <= _ros_seconds(v) <= 1800,
    "input.limit-process-routes-ipv4": _int(1, 4294967295),
    "input.limit-process-routes-ipv6": _int(1, 4294967295),
    "multihop": YES_NO,
    "use-bfd": YES_NO,
}
# /routing/bgp/session: read-only, with commands; `clear` takes the flag to clear
_ROS_SESSION_CLEAR: dict[str, Value] = {
    "flag": _one_of(
        "input-last-notification", "limit-exceeded", "output-last-notification", "refused-cap-opt", "stopped"
    )
}
_ROS_COMMANDS: dict[tuple[str, str], dict[str, Value]] = {
    ("/routing/bgp/connection", "add"): _ROS_CONNECTION,
    ("/routing/bgp/connection", "set"): _ROS_CONNECTION,
    ("/routing/bgp/session", "clear"): _ROS_SESSION_CLEAR,
    ("/routing/bgp/session", "reset"): {},
    ("/routing/bgp/session", "stop"): {},
}
_ROS_FIND = re.compile(r'\[find where (remote\.address)~"([^"]+)"\]')


def _ros_seconds(v: str) -> int:
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", v))


def check_routeros(text: str) -> list[str]:
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"line {number}"
        path, _, rest = line.strip().partition(" ")
        verb, _, rest = rest.partition(" ")
        params = _ROS_COMMANDS.get((path, verb))
        if params is None:
            problems.append(f"{where}: {path} {verb}: not a documented command")
            continue
        if verb != "add":
            found = _ROS_FIND.match(rest)
            if found is None or not _ip_or_prefix(found.group(2)):
                problems.append(f'{where}: {verb} needs [find where remote.address~"ADDRESS"]')
                continue
            rest = rest[found.end() :]
        try:
            words = shlex.split(rest)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        for word in words:
            name, eq, value = word.partition("=")
            if not eq or name not in params:
                problems.append(f"{where}: {word}: not a property of {path}")
            elif not params[name](value):
                problems.append(f"{where}: {word}: not a valid value")
    return problems


# -- FortiOS (docs.fortinet.com CLI reference "config router bgp", "config system settings") -------
_FORTI_BGP: dict[str, Value] = {
    "as": ASN,
    "router-id": _ipv4,
    "keepalive-timer": _int(0, 65535),
    "holdtime-timer": _int(3, 65535),
    "ebgp-multipath": ENABLE,
    "ibgp-multipath": ENABLE,
    "graceful-restart": ENABLE,
    "graceful-restart-time": _int(1, 3600),
}
_FORTI_NEIGHBOR: dict[str, Value] = {
    "remote-as": ASN,
    "password": _any,
    "ebgp-enforce-multihop": ENABLE,
    "ebgp-multihop-ttl": _int(1, 255),
    "update-source": lambda v: bool(v) and " " not in v,
    "bfd": ENABLE,
    "keep-alive-timer": _int(0, 65535),
    "holdtime-timer": _int(3, 65535),
    "maximum-prefix": _int(1, 4294967295),
    "shutdown": ENABLE,
    "capability-graceful-restart": ENABLE,
    "activate": ENABLE,
    "activate6": ENABLE,
}
_FORTI_SETTINGS: dict[str, Value] = {"bfd": ENABLE}
# where each `config` may appear: (parent block, config name) -> the block it opens
_FORTI_BLOCKS = {
    ("", "router bgp"): "router bgp",
    ("", "system settings"): "system settings",
    ("router bgp", "neighbor"): "neighbor",
}
_FORTI_SETS = {"router bgp": _FORTI_BGP, "system settings": _FORTI_SETTINGS, "neighbor edit": _FORTI_NEIGHBOR}


def check_fortigate(text: str) -> list[str]:
    problems: list[str] = []
    stack: list[str] = []  # open blocks: "router bgp", "neighbor", "neighbor edit"
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words:
            continue
        where = f"line {number}"
        top = stack[-1] if stack else ""
        if words[0] == "config":
            opened = _FORTI_BLOCKS.get((top, " ".join(words[1:])))
            if opened is None:
                problems.append(
                    f"{where}: config {' '.join(words[1:])} is not documented inside {top or 'the top'}"
                )
                return problems
            stack.append(opened)
        elif words[0] == "edit":
            address = words[1].strip('"') if len(words) == 2 else ""
            if top != "neighbor" or not _ip_or_prefix(address) or "/" in address:
                problems.append(f"{where}: edit needs a neighbor address inside config neighbor")
                return problems
            stack.append("neighbor edit")
        elif words[0] == "next":
            if top != "neighbor edit":
                problems.append(f"{where}: next outside an edit")
                return problems
            stack.pop()
        elif words[0] == "end":
            if top not in ("router bgp", "system settings", "neighbor"):
                problems.append(f"{where}: end closes no config block")
                return problems
            stack.pop()
        elif words[0] == "set":
            attributes = _FORTI_SETS.get(top)
            if attributes is None or len(words) < 3 or words[1] not in attributes:
                problems.append(
                    f"{where}: set {' '.join(words[1:2])} is not documented in {top or 'the top'}"
                )
            elif not attributes[words[1]](" ".join(words[2:]).strip('"')):
                problems.append(f"{where}: set {words[1]} {' '.join(words[2:])}: not a valid value")
        else:
            problems.append(f"{where}: {words[0]}: not a FortiOS configuration command")
    if stack:
        problems.append(f"unclosed: {', '.join(stack)}")
    return problems


# -- Huawei VRP (command references quoted in SOURCE.md) ------------------------------------------
_PEER = r"peer (?P<peer>\S+) "
_ROUTE_LIMIT = (
    _PEER
    + r"route-limit (?P<limit>\d+)"
    + r"(?: (?P<pct>\d+))?(?: alert-only| idle-forever| idle-timeout (?P<minutes>\d+))?"
)
_HUAWEI_IFACE = r"[A-Za-z][A-Za-z-]*\s?\d+(?:/\d+)*(?:\.\d+)?"
_HUAWEI: dict[str, list[tuple[str, str | None]]] = {
    # view -> [(command pattern, the view it enters or None)]
    "system": [(r"bgp (?P<asn>\d+)", "bgp"), (r"bfd", "bfd")],
    "bfd": [],
    "bgp": [
        (_PEER + r"as-number (?P<asn>\d+)", None),
        (_PEER + r"password (?:cipher|simple) \S+", None),
        (_PEER + r"ebgp-max-hop(?: (?P<hops>\d+))?", None),
        (_PEER + r"connect-interface " + _HUAWEI_IFACE + r"(?: (?P<source>\S+))?", None),
        (_PEER + r"timer keepalive (?P<keepalive>\d+) hold (?P<hold>\d+)", None),
        (r"(?:undo )?" + _PEER + r"bfd enable", None),
        (r"(?:undo )?" + _PEER + r"ignore", None),
        (_PEER + r"valid-ttl-hops(?: (?P<hops>\d+))?", None),
        (_ROUTE_LIMIT, None),
        (r"graceful-restart", None),
        (r"graceful-restart timer restart (?P<restart>\d+)", None),
        (r"ipv4-family unicast", "family"),
        (r"ipv6-family unicast", "family"),
    ],
    "family": [
        (_ROUTE_LIMIT, None),
        (r"(?:undo )?" + _PEER + r"enable", None),
        (r"maximum load-balancing (?:(?:ebgp|ibgp) )?(?P<paths>\d+)", None),
    ],
}
_HUAWEI_PARENT = {"bgp": "system", "bfd": "system", "family": "bgp"}
_HUAWEI_RANGES: dict[str, tuple[int, int]] = {
    "asn": (1, 4294967295),
    "hops": (1, 255),
    "keepalive": (0, 21845),
    "hold": (0, 65535),
    "limit": (1, 4294967295),
    "pct": (1, 100),
    "minutes": (1, 1200),
    "paths": (1, 128),
    "restart": (3, 3600),
}
# a snippet that names no `bgp AS` line starts in the BGP view, said in a leading comment
_HUAWEI_IN_BGP_VIEW = re.compile(r"#.*\bBGP view\b")


def check_huawei(text: str) -> list[str]:
    problems: list[str] = []
    lines = text.splitlines()
    view = "bgp" if lines and _HUAWEI_IN_BGP_VIEW.match(lines[0].strip()) else "system"
    for number, line in enumerate(lines, 1):
        command = line.strip()
        if not command or command.startswith("#"):
            continue
        where = f"line {number}"
        if command == "quit":
            if view == "system":
                problems.append(f"{where}: quit in the system view")
            view = _HUAWEI_PARENT.get(view, "system")
            continue
        match = None
        entered = None
        for pattern, enters in _HUAWEI[view]:
            match = re.fullmatch(pattern, command)
            if match is not None:
                entered = enters
                break
        if match is None:
            problems.append(f"{where}: {command!r} is not a documented command of the {view} view")
            continue
        values = {k: v for k, v in match.groupdict().items() if v is not None}
        if "peer" in values and not _ip_or_prefix(values["peer"]):
            problems.append(f"{where}: peer {values['peer']}: not an address")
        if "source" in values and not _ip_or_prefix(values["source"]):
            problems.append(f"{where}: source {values['source']}: not an address")
        for name, (low, high) in _HUAWEI_RANGES.items():
            if name in values and not low <= int(values[name]) <= high:
                problems.append(f"{where}: {name} {values[name]} outside {low}..{high}")
        if "hold" in values and int(values["hold"]) not in (0, *range(3, 65536)):
            problems.append(f"{where}: hold {values['hold']}: 0 or 3..65535")
        if entered is not None:
            view = entered
    return problems


CHECKS: dict[str, Callable[[str], list[str]]] = {
    "routeros": check_routeros,
    "fortigate": check_fortigate,
    "huawei": check_huawei,
}
