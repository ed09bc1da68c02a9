"""The lab guard: refuse to connect to a lab host whose route leaves through a non-lab interface."""

from __future__ import annotations

import ipaddress

from bgpdoctor.errors import HostError


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
    from pyroute2 import IPRoute  # lazy: heavy import

    try:
        with IPRoute() as ipr:
            routes = list(ipr.route("get", dst=str(ip)))
            oif = routes[0].get_attr("RTA_OIF") if routes else None
            links = list(ipr.link("get", index=oif)) if oif is not None else []
            ifname = links[0].get_attr("IFLA_IFNAME") if links else None
    except Exception as exc:  # netlink errors (e.g. ENETUNREACH) mean no route: refuse
        raise HostError(who, "refused-by-guard", f"lab guard: no route to {ip} ({exc})") from None
    if not ifname or not str(ifname).startswith(interface_prefix):
        raise HostError(
            who,
            "refused-by-guard",
            f"lab guard: {ip} is routed via {ifname or 'no interface'}, not a '{interface_prefix}' interface;"
            " refusing to connect",
        )
