"""The capabilities each BGP daemon says a session negotiated, read onto one shape per neighbor.

Sources (real outputs in captures/outputs/capabilities, scripts/capture_capability_fixtures.py):
- BIRD 2 ``show protocols all``: ``Local capabilities`` / ``Neighbor capabilities`` blocks while
  Established (``Multiprotocol`` / ``AF announced: ipv4 ipv6``, ``Graceful restart`` followed by
  ``Restart time`` and ``AF supported`` only in restart mode, ``4-octet AS numbers``, ``Extended next
  hop`` / ``IPv6 nexthop: ipv4``), ``Session: external AS4``, per channel ``GR recovery: pending``
  (``bird -R``), and ``Neighbor graceful restart active`` / ``Restart timer: 116.978/-`` while it keeps
  a restarting neighbor's routes;
- BIRD 1.6 prints only the neighbor's side (``Neighbor caps: refresh restart-able AS4``), no families;
- GoBGP ``gobgp -j neighbor``: ``state.local_cap`` / ``state.remote_cap``, protobuf ``Any`` messages
  whose ``value`` is base64 protobuf (decoded here: MultiProtocol, GracefulRestart, FourOctetASN,
  ExtendedNexthop);
- FRR ``show bgp neighbors json``: ``neighborCapabilities`` (``advertised``, ``received``,
  ``advertisedAndReceived``), ``gracefulRestartInfo`` (``localGrMode`` / ``remoteGrMode``,
  ``restartTimerRemaining`` while it keeps a restarting neighbor's routes) and ``addressFamilyInfo``.

``None`` is "this output does not say", never "no". Example (FRR in GR restart mode against BIRD 2
with ``graceful restart off``)::

    [NeighborCapabilities(address="10.252.0.2", name=None, established=True,
        local=Advertised(names=["4-byte-as", "graceful-restart", ...], families=["ipv4-unicast"],
                         as4=True, graceful_restart=True, gr_families=["ipv4-unicast"], ...),
        remote=Advertised(names=["4-byte-as", ...], families=["ipv4-unicast"], as4=True,
                          graceful_restart=False, gr_families=[], ...),
        configured_families=["ipv4-unicast"], gr_recovery_pending=False, gr_helper_active=False,
        gr_restart_timer_s=None, as4_session=True)]
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from dataclasses import dataclass, field
from typing import Any

from bgpdoctor.parsers import ParseError, birdblocks, json_int, json_list, json_object, json_str, load_json
from bgpdoctor.parsers.bird import _is_header, _lines

BIRD_FAMILIES = {
    "ipv4": "ipv4-unicast",
    "ipv6": "ipv6-unicast",
    "ipv4-mc": "ipv4-multicast",
    "ipv6-mc": "ipv6-multicast",
    "ipv4-mpls": "ipv4-labeled-unicast",
    "ipv6-mpls": "ipv6-labeled-unicast",
    "vpn4-mpls": "l3vpn-ipv4-unicast",
    "vpn6-mpls": "l3vpn-ipv6-unicast",
    "flow4": "ipv4-flowspec",
    "flow6": "ipv6-flowspec",
}
AFI = {1: "ipv4", 2: "ipv6", 25: "l2vpn"}
SAFI = {1: "unicast", 2: "multicast", 4: "labeled-unicast", 70: "evpn", 128: "vpn", 133: "flowspec"}
BIRD2_CAPABILITIES = {
    "multiprotocol": "multiprotocol",
    "route refresh": "route-refresh",
    "enhanced refresh": "enhanced-route-refresh",
    "graceful restart": "graceful-restart",
    "long-lived graceful restart": "long-lived-graceful-restart",
    "4-octet as numbers": "4-byte-as",
    "extended message": "extended-message",
    "extended next hop": "extended-nexthop",
    "add-path": "add-path",
    "hostname": "hostname",
    "role": "role",
}
BIRD1_CAPABILITIES = {
    "refresh": "route-refresh",
    "enhanced-refresh": "enhanced-route-refresh",
    "restart-able": "graceful-restart",
    "restart-aware": "graceful-restart",
    "llgr-able": "long-lived-graceful-restart",
    "llgr-aware": "long-lived-graceful-restart",
    "as4": "4-byte-as",
    "add-path-rx": "add-path",
    "add-path-tx": "add-path",
}
GOBGP_CAPABILITIES = {
    "MultiProtocolCapability": "multiprotocol",
    "RouteRefreshCapability": "route-refresh",
    "EnhancedRouteRefreshCapability": "enhanced-route-refresh",
    "GracefulRestartCapability": "graceful-restart",
    "LongLivedGracefulRestartCapability": "long-lived-graceful-restart",
    "FourOctetASNCapability": "4-byte-as",
    "ExtendedNexthopCapability": "extended-nexthop",
    "AddPathCapability": "add-path",
    "FqdnCapability": "hostname",
    "ExtendedMessageCapability": "extended-message",
}


@dataclass
class Advertised:
    """The capabilities one end put in its OPEN.

    `families` are the multiprotocol families (a capability list without Multiprotocol means IPv4
    unicast only, RFC 4760); `gr_families` are the families the graceful-restart capability lists,
    which only a speaker in restart mode fills (a helper sends the capability without families);
    `extended_nexthop` the families it may send with an IPv6 next hop (RFC 8950).
    Example: Advertised(names=["multiprotocol", "graceful-restart", "4-byte-as"],
    families=["ipv4-unicast", "ipv6-unicast"], as4=True, graceful_restart=True,
    gr_families=["ipv4-unicast", "ipv6-unicast"], gr_restart_time=120, extended_nexthop=[],
    families_shown=True)
    """

    names: list[str] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    as4: bool = False
    graceful_restart: bool = False
    gr_families: list[str] = field(default_factory=list)
    gr_restart_time: int | None = None
    gr_restart_mode: bool | None = None  # None: only the families tell (BIRD 1.6 says able/aware)
    extended_nexthop: list[str] = field(default_factory=list)
    families_shown: bool = True  # BIRD 1.6 does not print the families a neighbor announced


@dataclass
class NeighborCapabilities:
    """One neighbor's negotiated capabilities as one daemon reports them (see the module doc)."""

    address: str | None
    name: str | None
    established: bool
    local: Advertised | None = None  # what this daemon sent (None: it does not print it)
    remote: Advertised | None = None  # what the neighbor sent
    configured_families: list[str] | None = None  # families this daemon runs for the neighbor
    gr_recovery_pending: bool = False  # `bird -R`: this neighbor's channel holds the recovery back
    gr_helper_active: bool = False  # the neighbor is down and its routes are kept as stale
    gr_restart_timer_s: int | None = None  # seconds left before they are flushed
    as4_session: bool | None = None  # both ends sent the 4-byte AS capability
    cease_received: str | None = None  # a Cease 6/3 (Peer De-configured) the neighbor sent at its stop
    peer_announced_gr: bool | None = None  # the neighbor's last OPEN had graceful restart (while down)


@dataclass
class GrRecovery:
    """BIRD ``show status`` while started with ``-R``: graceful restart recovery in progress.

    Example: GrRecovery(waiting=1, wait_left_s=234, wait_s=240)
    """

    waiting: int | None
    wait_left_s: int | None
    wait_s: int | None


def _add(items: list[str], value: str) -> None:
    if value not in items:
        items.append(value)


def bird_family(name: str) -> str:
    """BIRD's channel/AF name to the one spelling used here.

    Example: bird_family("ipv6") -> "ipv6-unicast"
    """
    return BIRD_FAMILIES.get(name.lower(), name.lower())


# -- BIRD 2 and 1.6 ---------------------------------------------------------------------------


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _bird2_caps(lines: list[str]) -> Advertised:
    """One ``Local capabilities`` / ``Neighbor capabilities`` block (its lines, header excluded)."""
    adv = Advertised()
    base = min((_indent(x) for x in lines), default=0)
    current = ""
    for line in lines:
        text = line.strip()
        if _indent(line) == base:
            head = text.split(":", 1)[0].strip().lower()
            current = BIRD2_CAPABILITIES.get(head, head)
            _add(adv.names, current)
            continue
        key, _, value = text.partition(":")
        words = [bird_family(w) for w in value.split()]
        if current == "multiprotocol" and key == "AF announced":
            for w in words:
                _add(adv.families, w)
        elif current == "graceful-restart" and key == "AF supported":
            adv.gr_families = words
            adv.gr_restart_mode = True
        elif current == "graceful-restart" and key == "Restart time" and value.strip().isdigit():
            adv.gr_restart_time = int(value.strip())
            adv.gr_restart_mode = True
        elif current == "extended-nexthop" and key == "IPv6 nexthop":
            adv.extended_nexthop = words
    adv.as4 = "4-byte-as" in adv.names
    adv.graceful_restart = "graceful-restart" in adv.names
    if adv.graceful_restart and adv.gr_restart_mode is None:
        adv.gr_restart_mode = False  # `Graceful restart` alone: aware (helper) only
    if "multiprotocol" not in adv.names:
        adv.families = ["ipv4-unicast"]
    return adv


def _bird1_caps(words: list[str]) -> Advertised:
    lowered = [w.lower() for w in words]
    adv = Advertised(families_shown=False)
    for w in lowered:
        _add(adv.names, BIRD1_CAPABILITIES.get(w, w))
    adv.as4 = "as4" in lowered
    adv.graceful_restart = "restart-able" in lowered or "restart-aware" in lowered
    adv.gr_restart_mode = "restart-able" in lowered if adv.graceful_restart else None
    return adv


def _bird_block(name: str, block: list[str]) -> NeighborCapabilities | None:
    caps = NeighborCapabilities(address=None, name=name, established=False)
    channels: list[str] = []
    i = 0
    bgp = False
    while i < len(block):
        line = block[i]
        text = line.strip()
        key, sep, value = text.partition(":")
        value = value.strip()
        if text in ("Local capabilities", "Neighbor capabilities"):
            depth = _indent(line)
            j = i + 1
            while j < len(block) and _indent(block[j]) > depth and block[j].strip():
                j += 1
            adv = _bird2_caps(block[i + 1 : j])
            if text.startswith("Local"):
                caps.local = adv
            else:
                caps.remote = adv
            i = j
            continue
        if text.startswith("Channel "):
            channels.append(bird_family(text.split(None, 1)[1]))
        elif key == "BGP state":
            bgp = True
            caps.established = value == "Established"
        elif key == "Neighbor address":
            caps.address = value.split("%")[0] or None
        elif key == "Neighbor caps":
            caps.remote = _bird1_caps(value.split())
        elif key == "Session" and sep:
            caps.as4_session = "AS4" in value.split()
        elif key == "GR recovery" and "pending" in value.split():
            caps.gr_recovery_pending = True
        elif text == "Neighbor graceful restart active":
            caps.gr_helper_active = True
        elif key == "Restart timer":
            m = re.match(r"(\d+)(?:\.\d+)?/", value)
            caps.gr_restart_timer_s = int(m.group(1)) if m else None
        i += 1
    if not bgp:
        return None
    caps.configured_families = channels or None  # BIRD 1.6 has no channels: one family per build
    return caps


def parse_bird_protocols(text: str) -> list[NeighborCapabilities]:
    """``birdc show protocols all`` (BIRD 2 or 1.6, with or without ``-v``): one entry per BGP protocol.

    Example (BIRD 2 with ``graceful restart off`` against FRR in restart mode):
    [NeighborCapabilities(address="10.252.0.1", name="peer_x", established=True,
    local=Advertised(names=["multiprotocol", "route-refresh", "4-byte-as", "enhanced-route-refresh"],
    families=["ipv4-unicast"], as4=True, graceful_restart=False, ...), remote=Advertised(...,
    graceful_restart=True, gr_families=["ipv4-unicast"], gr_restart_time=120, gr_restart_mode=True),
    configured_families=["ipv4-unicast"], as4_session=True, ...)]
    """
    lines = _lines(text, "bird")
    if not any(_is_header(x) for x in lines) and not any("No protocols match" in x for x in lines):
        raise ParseError("bird", "no 'Name Proto Table State Since Info' header")
    out: list[NeighborCapabilities] = []
    for name, block in birdblocks.cut(lines):
        found = _bird_block(name, [line.replace("\t", "    ") for line in block[1:] if line.strip()])
        if found is not None:
            out.append(found)
    return out


def parse_bird_gr_recovery(text: str) -> GrRecovery | None:
    """``birdc show status``: the graceful restart recovery BIRD is in (started with ``-R``), or None.

    Example: "Graceful restart recovery in progress / Waiting for 1 channels to recover / Wait timer
    is 234.917/240" -> GrRecovery(waiting=1, wait_left_s=234, wait_s=240)
    """
    lines = [x.strip() for x in _lines(text, "bird")]
    if not any(x.startswith("BIRD ") for x in lines):
        raise ParseError("bird", "'show status' does not start with the BIRD version")
    if "Graceful restart recovery in progress" not in lines:
        return None
    found = GrRecovery(None, None, None)
    for x in lines:
        m = re.match(r"Waiting for (\d+) (?:channels|protocols) to recover", x)
        if m:
            found.waiting = int(m.group(1))
        m = re.match(r"Wait timer is (\d+)(?:\.\d+)?/(\d+)", x)
        if m:
            found.wait_left_s, found.wait_s = int(m.group(1)), int(m.group(2))
    return found


# -- GoBGP ------------------------------------------------------------------------------------


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ParseError("gobgp", "capability: truncated protobuf varint")
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i += 1
        if not byte & 0x80:
            return value, i
        shift += 7


def protobuf_fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of one protobuf message: varints as int, length-delimited as
    bytes (the only wire types GoBGP's capability messages use).

    Example: protobuf_fields(bytes.fromhex("0a0408011001")) -> [(1, b"\\x08\\x01\\x10\\x01")]
    """
    out: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
            out.append((number, value))
        elif wire == 2:
            size, i = _varint(data, i)
            if i + size > len(data):
                raise ParseError("gobgp", "capability: truncated protobuf field")
            out.append((number, data[i : i + size]))
            i += size
        else:
            raise ParseError("gobgp", f"capability: unexpected protobuf wire type {wire}")
    return out


def _sub(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ParseError("gobgp", "capability: a nested message is a number")
    return value


def gobgp_family(message: bytes) -> str:
    """apipb.Family {afi = 1, safi = 2} -> "ipv4-unicast".

    Example: gobgp_family(b"\\x08\\x02\\x10\\x01") -> "ipv6-unicast"
    """
    values = {n: v for n, v in protobuf_fields(message) if isinstance(v, int)}
    afi, safi = values.get(1, 0), values.get(2, 0)
    return f"{AFI.get(afi, f'afi{afi}')}-{SAFI.get(safi, f'safi{safi}')}"


# a fleet's nodes send the same few capability messages: each is decoded once
_family = functools.lru_cache(maxsize=1024)(gobgp_family)


@functools.lru_cache(maxsize=4096)
def _capability_fields(kind: str, encoded: str) -> tuple[tuple[int, int | bytes], ...]:
    """The fields of one capability's base64 protobuf message."""
    try:
        body = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ParseError("gobgp", f"{kind}: value is not base64") from exc
    return tuple(protobuf_fields(body))


def _gobgp_caps(raw: Any, what: str) -> Advertised:
    adv = Advertised()
    for item in json_list(raw, "gobgp", what):
        cap = json_object(item, "gobgp", f"{what}[]")
        kind = (json_str(cap.get("type_url"), "gobgp", "type_url") or "").rsplit(".", 1)[-1]
        name = GOBGP_CAPABILITIES.get(kind, kind)
        _add(adv.names, name)
        fields = _capability_fields(kind, json_str(cap.get("value"), "gobgp", f"{kind}.value") or "")
        if name == "multiprotocol":
            for number, value in fields:
                if number == 1:
                    _add(adv.families, _family(_sub(value)))
        elif name == "graceful-restart":
            adv.graceful_restart = True
            for number, value in fields:
                if number == 2 and isinstance(value, int):
                    adv.gr_restart_time = value
                elif number == 3:
                    family = next((v for n, v in protobuf_fields(_sub(value)) if n == 1), None)
                    if family is not None:
                        _add(adv.gr_families, _family(_sub(family)))
            adv.gr_restart_mode = bool(adv.gr_families)
        elif name == "extended-nexthop":
            for number, value in fields:
                if number == 1:
                    nlri = next((v for n, v in protobuf_fields(_sub(value)) if n == 1), None)
                    if nlri is not None:
                        _add(adv.extended_nexthop, _family(_sub(nlri)))
    adv.as4 = "4-byte-as" in adv.names
    if "multiprotocol" not in adv.names:
        adv.families = ["ipv4-unicast"]
    return adv


def parse_gobgp_neighbors(text: str) -> list[NeighborCapabilities]:
    """``gobgp -j neighbor`` (a list) or ``gobgp -j neighbor ADDR`` (one object).

    Example (GoBGP with graceful restart for ipv4 and ipv6 against an IPv4-only BIRD 2):
    [NeighborCapabilities(address="10.252.0.2", name=None, established=True,
    local=Advertised(families=["ipv4-unicast", "ipv6-unicast"], graceful_restart=True,
    gr_families=["ipv4-unicast", "ipv6-unicast"], gr_restart_time=120, ...),
    remote=Advertised(families=["ipv4-unicast"], graceful_restart=True, gr_families=[], ...),
    configured_families=["ipv4-unicast", "ipv6-unicast"], as4_session=True, ...)]
    """
    return gobgp_capabilities_of(load_json(text, "gobgp"))


def gobgp_capabilities_of(data: Any) -> list[NeighborCapabilities]:
    """parse_gobgp_neighbors of `gobgp -j neighbor` already decoded (World.json decodes it once)."""
    if data is None:
        return []
    out = []
    for raw in data if isinstance(data, list) else [data]:
        peer = json_object(raw, "gobgp", "neighbor")
        conf = json_object(peer.get("conf"), "gobgp", "conf")
        state = json_object(peer.get("state"), "gobgp", "state")
        address = json_str(conf.get("neighbor_address"), "gobgp", "neighbor_address") or json_str(
            state.get("neighbor_address"), "gobgp", "state.neighbor_address"
        )
        session_state = state.get("session_state")
        established = session_state in (6, "ESTABLISHED", "SESSION_STATE_ESTABLISHED", "established")
        caps = NeighborCapabilities(address=address, name=None, established=established)
        if established:
            caps.local = _gobgp_caps(state.get("local_cap"), "local_cap")
            caps.remote = _gobgp_caps(state.get("remote_cap"), "remote_cap")
            caps.as4_session = caps.local.as4 and caps.remote.as4
        configured: list[str] = []
        for afi in json_list(peer.get("afi_safis"), "gobgp", "afi_safis"):
            config = json_object(json_object(afi, "gobgp", "afi_safi").get("config"), "gobgp", "config")
            family = json_object(config.get("family"), "gobgp", "family")
            afi_n = json_int(family.get("afi"), "gobgp", "afi") or 0
            safi_n = json_int(family.get("safi"), "gobgp", "safi") or 0
            _add(configured, f"{AFI.get(afi_n, f'afi{afi_n}')}-{SAFI.get(safi_n, f'safi{safi_n}')}")
        caps.configured_families = configured or None
        out.append(caps)
    return out


# -- FRR --------------------------------------------------------------------------------------

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
FRR_CAPABILITIES = {
    "4byteAs": "4-byte-as",
    "extendedMessage": "extended-message",
    "addPath": "add-path",
    "longLivedGracefulRestart": "long-lived-graceful-restart",
    "routeRefresh": "route-refresh",
    "enhancedRouteRefresh": "enhanced-route-refresh",
    "multiprotocolExtensions": "multiprotocol",
    "hostName": "hostname",
    "gracefulRestart": "graceful-restart",
    "gracefulRestartCapability": "graceful-restart",
    "extendedNexthop": "extended-nexthop",
    "dynamic": "dynamic",
    "role": "role",
}


def frr_family(name: str) -> str:
    """FRR's ``ipv4Unicast`` -> ``ipv4-unicast``. Example: frr_family("ipv6Unicast") -> "ipv6-unicast"."""
    return _CAMEL.sub("-", name).lower()


def _sides(value: Any) -> tuple[bool, bool]:
    """(advertised, received) of a capability value: "advertisedAndReceived...", "advertised",
    "received", or an object of per-family flags."""
    if isinstance(value, str):
        lowered = value.lower()
        return lowered.startswith("advertised"), "received" in lowered
    if isinstance(value, dict):
        keys = [k.lower() for k in value]
        return any("advertised" in k for k in keys), any("received" in k for k in keys)
    return False, False


def _frr_neighbor(address: str, raw: Any) -> NeighborCapabilities:
    peer = json_object(raw, "frr", f"neighbor {address}")
    state = (json_str(peer.get("bgpState"), "frr", "bgpState") or "").lower()
    caps = NeighborCapabilities(address=address, name=None, established=state == "established")
    families = [frr_family(k) for k in json_object(peer.get("addressFamilyInfo"), "frr", "addressFamilyInfo")]
    caps.configured_families = families or None
    gr = json_object(peer.get("gracefulRestartInfo"), "frr", "gracefulRestartInfo")
    timers = json_object(gr.get("timers"), "frr", "gracefulRestartInfo.timers")
    remaining = json_int(timers.get("restartTimerRemaining"), "frr", "restartTimerRemaining")
    if not caps.established and remaining is not None:
        caps.gr_helper_active = True
        caps.gr_restart_timer_s = remaining
    if not caps.established:
        received = json_int(timers.get("receivedRestartTimer"), "frr", "receivedRestartTimer")
        caps.peer_announced_gr = None if received is None else received > 0
        reset = (json_str(peer.get("lastResetDueTo"), "frr", "lastResetDueTo") or "").lower()
        notification = json_str(peer.get("lastNotificationReason"), "frr", "lastNotificationReason")
        if "received" in reset and (notification or "").lower().startswith("cease/peer de-configured"):
            caps.cease_received = notification
    raw_caps = peer.get("neighborCapabilities")
    if not caps.established or raw_caps is None:
        return caps
    local, remote = Advertised(), Advertised()
    for key, value in json_object(raw_caps, "frr", "neighborCapabilities").items():
        name = FRR_CAPABILITIES.get(key)
        if name is None:
            continue
        sent, got = _sides(value)
        if name in ("multiprotocol", "add-path") and isinstance(value, dict):
            sent = got = False
            for family, flags in value.items():
                f_sent, f_got = _sides(flags)
                sent, got = sent or f_sent, got or f_got
                if name == "multiprotocol" and f_sent:
                    _add(local.families, frr_family(family))
                if name == "multiprotocol" and f_got:
                    _add(remote.families, frr_family(family))
        if name == "hostname" and isinstance(value, dict):
            sent, got = "advHostName" in value, "rcvHostName" in value
        if name == "extended-nexthop":
            # FRR announces it for IPv4 unicast only; the peer's families under its (misspelt) key
            if sent:
                local.extended_nexthop = ["ipv4-unicast"]
            caps_obj = json_object(raw_caps, "frr", "neighborCapabilities")
            by_peer = caps_obj.get(
                "extendedNexthopFamililesByPeer", caps_obj.get("extendedNexthopFamiliesByPeer")
            )
            if got and isinstance(by_peer, dict):
                remote.extended_nexthop = [frr_family(k) for k in by_peer]
        for side, present in ((local, sent), (remote, got)):
            if present:
                _add(side.names, name)
    for side in (local, remote):
        side.as4 = "4-byte-as" in side.names
        side.graceful_restart = "graceful-restart" in side.names
        if "multiprotocol" not in side.names:
            side.families = ["ipv4-unicast"]
    local_mode = (json_str(gr.get("localGrMode"), "frr", "localGrMode") or "").rstrip("*").lower()
    remote_mode = (json_str(gr.get("remoteGrMode"), "frr", "remoteGrMode") or "").rstrip("*").lower()
    if local.graceful_restart:
        local.gr_restart_mode = local_mode == "restart"
        local.gr_families = list(families) if local.gr_restart_mode else []
        local.gr_restart_time = json_int(
            timers.get("configuredRestartTimer"), "frr", "configuredRestartTimer"
        )
    if remote.graceful_restart:
        by_peer = json_object(raw_caps, "frr", "neighborCapabilities").get("addressFamiliesByPeer")
        remote.gr_families = [frr_family(k) for k in by_peer] if isinstance(by_peer, dict) else []
        remote.gr_restart_mode = remote_mode == "restart" or bool(remote.gr_families)
        msecs = json_int(
            json_object(raw_caps, "frr", "neighborCapabilities").get("gracefulRestartRemoteTimerMsecs"),
            "frr",
            "gracefulRestartRemoteTimerMsecs",
        )
        remote.gr_restart_time = None if msecs is None else msecs // 1000
    caps.local, caps.remote = local, remote
    caps.as4_session = local.as4 and remote.as4
    return caps


def parse_frr_neighbors(text: str) -> list[NeighborCapabilities]:
    """``vtysh -c 'show bgp neighbors json'`` (or ``... neighbors ADDR json``).

    Example (FRR activates ipv6 unicast for an IPv4 neighbor that runs only ipv4):
    [NeighborCapabilities(address="10.252.0.2", established=True,
    local=Advertised(families=["ipv4-unicast", "ipv6-unicast"], ...),
    remote=Advertised(families=["ipv4-unicast"], ...),
    configured_families=["ipv4-unicast", "ipv6-unicast"], as4_session=True, ...)]
    """
    if not text.strip():
        return []
    data = json_object(load_json(text, "frr", "neighbors"), "frr", "neighbors")
    warning = data.get("warning")
    if isinstance(warning, str) and len(data) == 1:
        raise ParseError("frr", f"neighbors: {warning[:120]}")
    return [_frr_neighbor(address, raw) for address, raw in data.items()]


__all__ = [
    "Advertised",
    "GrRecovery",
    "NeighborCapabilities",
    "gobgp_capabilities_of",
    "parse_bird_gr_recovery",
    "parse_bird_protocols",
    "parse_frr_neighbors",
    "parse_gobgp_neighbors",
    "protobuf_fields",
]
