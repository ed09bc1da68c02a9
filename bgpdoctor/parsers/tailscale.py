"""Parsers for Tailscale's CLI: ``tailscale status --json`` and ``tailscale debug prefs``.

Both are collected as `command -v tailscale >/dev/null 2>&1 || exit 0; tailscale ...`: an empty
output means the host has no Tailscale (not used), which these parsers return as
``used=False``; a tailscaled that does not answer makes the command fail (unknown, never read here).

``tailscale status --json`` (ipn/ipnstate.Status; trimmed)::

    {"BackendState": "Running",
     "Self": {"HostName": "node-a", "TailscaleIPs": ["100.97.160.100"],
              "AllowedIPs": ["100.97.160.100/32"], "PrimaryRoutes": ["10.42.0.0/24"], "Addrs": null},
     "Peer": {"nodekey:5a1b...": {"HostName": "node-b", "TailscaleIPs": ["100.112.81.21"],
              "AllowedIPs": ["100.112.81.21/32", "10.42.1.0/24"], "PrimaryRoutes": ["10.42.1.0/24"],
              "Addrs": ["192.168.3.22:41641", "10.244.55.193:41641"], "CurAddr": "10.244.55.193:41641",
              "Online": true}}}

Output::

    TailscaleStatus(used=True, backend_state="Running",
        self_node=TailscaleNode(host_name="node-a", tailscale_ips=["100.97.160.100"],
                                allowed_ips=["100.97.160.100/32"], primary_routes=["10.42.0.0/24"]),
        peers=[TailscaleNode(host_name="node-b", ..., addrs=["192.168.3.22:41641", ...],
                             cur_addr="10.244.55.193:41641", online=True)])

``tailscale debug prefs`` (ipn.Prefs) gives ``TailscalePrefs(used=True, advertise_routes=[...],
route_all=False)``: RouteAll is ``--accept-routes``. Its ``Persist`` section may hold the node's
private keys; the collected output is redacted (bgpdoctor.redact) and nothing here keeps it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from bgpdoctor.parsers import ParseError, json_list, json_object, json_str, load_json

PARSER = "tailscale"


@dataclass
class TailscaleNode:
    """One node of the tailnet as `tailscale status --json` shows it (Self or a Peer)."""

    host_name: str
    public_key: str = ""
    dns_name: str = ""
    tailscale_ips: list[str] = field(default_factory=list)
    allowed_ips: list[str] = field(default_factory=list)  # what the tunnel carries to it
    primary_routes: list[str] = field(default_factory=list)  # its approved subnet routes in use
    addrs: list[str] = field(default_factory=list)  # its endpoints, "ip:port"
    cur_addr: str = ""  # the endpoint in use now ("" when relayed over DERP)
    online: bool | None = None

    @property
    def name(self) -> str:
        return self.host_name or self.dns_name.split(".")[0] or self.public_key[:16]


@dataclass
class TailscaleStatus:
    used: bool
    backend_state: str = ""
    self_node: TailscaleNode | None = None
    peers: list[TailscaleNode] = field(default_factory=list)


@dataclass
class TailscalePrefs:
    used: bool
    advertise_routes: list[str] = field(default_factory=list)
    route_all: bool | None = None  # --accept-routes
    want_running: bool | None = None


def _strings(value: Any, what: str) -> list[str]:
    out = []
    for item in json_list(value, PARSER, what):
        text = json_str(item, PARSER, what)
        if text:
            out.append(text)
    return out


def _prefixes(value: Any, what: str) -> list[str]:
    out = _strings(value, what)
    for text in out:
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise ParseError(PARSER, f"{what}: not a prefix: {text[:60]!r}") from exc
    return out


def _bool(value: Any, what: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ParseError(PARSER, f"{what}: expected true or false, got {type(value).__name__}")


def _node(raw: Any, key: str, what: str) -> TailscaleNode:
    obj = json_object(raw, PARSER, what)
    return TailscaleNode(
        host_name=json_str(obj.get("HostName"), PARSER, f"{what}.HostName") or "",
        public_key=json_str(obj.get("PublicKey"), PARSER, f"{what}.PublicKey") or key,
        dns_name=json_str(obj.get("DNSName"), PARSER, f"{what}.DNSName") or "",
        tailscale_ips=_strings(obj.get("TailscaleIPs"), f"{what}.TailscaleIPs"),
        allowed_ips=_prefixes(obj.get("AllowedIPs"), f"{what}.AllowedIPs"),
        primary_routes=_prefixes(obj.get("PrimaryRoutes"), f"{what}.PrimaryRoutes"),
        addrs=_strings(obj.get("Addrs"), f"{what}.Addrs"),
        cur_addr=json_str(obj.get("CurAddr"), PARSER, f"{what}.CurAddr") or "",
        online=_bool(obj.get("Online"), f"{what}.Online"),
    )


def parse_status(text: str) -> TailscaleStatus:
    """`tailscale status --json`; an empty output is a host without Tailscale."""
    if not text.strip():
        return TailscaleStatus(used=False)
    doc = json_object(load_json(text, PARSER, "tailscale status --json"), PARSER, "status")
    if "BackendState" not in doc and "Peer" not in doc and "Self" not in doc:
        raise ParseError(PARSER, "no BackendState, Self or Peer: not `tailscale status --json`")
    peers_raw = json_object(doc.get("Peer"), PARSER, "Peer")
    return TailscaleStatus(
        used=True,
        backend_state=json_str(doc.get("BackendState"), PARSER, "BackendState") or "",
        self_node=_node(doc["Self"], "", "Self") if doc.get("Self") is not None else None,
        peers=[_node(raw, str(key), f"Peer[{str(key)[:24]}]") for key, raw in sorted(peers_raw.items())],
    )


def parse_prefs(text: str) -> TailscalePrefs:
    """`tailscale debug prefs`; an empty output is a host without Tailscale."""
    if not text.strip():
        return TailscalePrefs(used=False)
    doc = json_object(load_json(text, PARSER, "tailscale debug prefs"), PARSER, "prefs")
    if "AdvertiseRoutes" not in doc and "RouteAll" not in doc and "WantRunning" not in doc:
        raise ParseError(PARSER, "no AdvertiseRoutes, RouteAll or WantRunning: not `tailscale debug prefs`")
    return TailscalePrefs(
        used=True,
        advertise_routes=_prefixes(doc.get("AdvertiseRoutes"), "AdvertiseRoutes"),
        route_all=_bool(doc.get("RouteAll"), "RouteAll"),
        want_running=_bool(doc.get("WantRunning"), "WantRunning"),
    )


def endpoint_address(endpoint: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address of an "ip:port" endpoint ("[v6]:port" for IPv6); None for anything else.

    Example: endpoint_address("10.244.55.193:41641") -> IPv4Address("10.244.55.193")
    """
    host = endpoint.rsplit(":", 1)[0] if ":" in endpoint else endpoint
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
