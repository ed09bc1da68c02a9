"""The lab guard: refuse to connect to a lab host whose route leaves through a non-lab interface."""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct

from bgpdoctor.errors import HostError

# rtnetlink (linux/rtnetlink.h, linux/netlink.h): one RTM_GETROUTE request, as `ip route get` sends
_RTM_NEWROUTE, _RTM_GETROUTE, _NLMSG_ERROR = 24, 26, 2
_NLM_F_REQUEST = 1
_RTA_DST, _RTA_OIF = 1, 4
_NLMSG_HDR = struct.Struct("=IHHII")  # length, type, flags, sequence, port
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RTA_HDR = struct.Struct("=HH")  # length, type


def route_oif(address: str) -> int:
    """The index of the interface the kernel routes `address` (an IP literal) out of, asked over
    rtnetlink from this namespace (no packet is sent). Raises OSError when there is no route.

    A few lines of netlink rather than pyroute2: importing pyroute2 cost every run ~110 ms of CPU,
    and opening its IPRoute per host more, for one question per connection.
    Example: route_oif("172.31.254.11") -> 57 (bdlab-mgmt)
    """
    ip = ipaddress.ip_address(address)
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    dst = ip.packed
    body = _RTMSG.pack(family, len(dst) * 8, 0, 0, 0, 0, 0, 0, 0)
    body += _RTA_HDR.pack(4 + len(dst), _RTA_DST) + dst
    request = _NLMSG_HDR.pack(_NLMSG_HDR.size + len(body), _RTM_GETROUTE, _NLM_F_REQUEST, 1, 0) + body
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.settimeout(5.0)
        sock.bind((0, 0))
        sock.sendto(request, (0, 0))
        reply = sock.recv(65536)
    if len(reply) < _NLMSG_HDR.size + 4:
        raise OSError(errno.EPROTO, "short netlink reply")
    _length, kind, _flags, _seq, _port = _NLMSG_HDR.unpack_from(reply)
    if kind == _NLMSG_ERROR:
        (code,) = struct.unpack_from("=i", reply, _NLMSG_HDR.size)
        raise OSError(-code, os.strerror(-code))
    if kind != _RTM_NEWROUTE:
        raise OSError(errno.EPROTO, f"unexpected netlink message type {kind}")
    offset = _NLMSG_HDR.size + _RTMSG.size
    while offset + _RTA_HDR.size <= len(reply):
        size, attr = _RTA_HDR.unpack_from(reply, offset)
        if size < _RTA_HDR.size:
            break
        if attr == _RTA_OIF and size >= _RTA_HDR.size + 4:
            return int(struct.unpack_from("=I", reply, offset + _RTA_HDR.size)[0])
        offset += (size + 3) & ~3
    raise OSError(errno.ENETUNREACH, "the route names no interface")


def ensure_routed_via_lab(address: str, interface_prefix: str, host: str | None = None) -> None:
    """Raise HostError(kind "refused-by-guard") unless `address` routes out of a lab interface.

    Asks the kernel (netlink RTM_GETROUTE from the root namespace), which sends no packet. The
    address must be an IP literal: resolving a name could itself send a DNS query.
    Example: ``ensure_routed_via_lab("172.31.254.11", "bdlab-")`` -> None (route via bdlab-mgmt);
    ``ensure_routed_via_lab("192.0.2.1", "bdlab-")`` -> HostError("192.0.2.1", "refused-by-guard",
    "lab guard: 192.0.2.1 is routed via eth0, not a 'bdlab-' interface; refusing to connect").
    """
    who = host or address
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise HostError(
            who,
            "refused-by-guard",
            f"lab guard: '{address}' is not an IP address (lab hosts must use IP literals)",
        ) from None
    try:
        ifname: str | None = socket.if_indextoname(route_oif(str(ip)))
    except OSError as exc:  # no route (e.g. ENETUNREACH), or an interface gone meanwhile: refuse
        raise HostError(who, "refused-by-guard", f"lab guard: no route to {ip} ({exc})") from None
    if not ifname or not ifname.startswith(interface_prefix):
        raise HostError(
            who,
            "refused-by-guard",
            f"lab guard: {ip} is routed via {ifname or 'no interface'}, not a '{interface_prefix}' interface;"
            " refusing to connect",
        )
