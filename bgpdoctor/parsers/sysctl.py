"""Parser for ``sysctl -a`` and ``sysctl KEY...`` output.

Input::

    net.ipv4.ip_forward = 1
    net.ipv4.conf.r2-mid.rp_filter = 2
    sysctl: cannot stat /proc/sys/net/ipv4/conf/nosuch0/rp_filter: No such file or directory

Output: ``{"net.ipv4.ip_forward": "1", "net.ipv4.conf.r2-mid.rp_filter": "2"}`` (``sysctl:``
diagnostics are skipped; values keep inner tabs, e.g. ``tcp_rmem``).
"""

from __future__ import annotations

from bgpdoctor.parsers import ParseError, to_int


def parse_sysctl(text: str) -> dict[str, str]:
    """Parse ``key = value`` lines into a dict.

    Example: parse_sysctl("net.ipv4.conf.all.rp_filter = 0\\n") -> {"net.ipv4.conf.all.rp_filter": "0"}
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("sysctl:"):
            continue
        key, sep, value = line.partition(" = ")
        if not sep:
            if line.rstrip().endswith(" ="):  # a key with an empty value
                key, value = line.rstrip()[:-2], ""
            else:
                raise ParseError("sysctl", f"not a 'key = value' line: {line!r}")
        key = key.strip()
        if not key or " " in key:
            raise ParseError("sysctl", f"bad key in {line!r}")
        values[key] = value.strip(" \n")
    return values


def effective_rp_filter(values: dict[str, str], interface: str) -> int:
    """The rp_filter mode the kernel applies on ``interface``: max(conf.all, conf.<iface>).

    Interface names with dots are written with "/" in sysctl keys (eth0.100 -> eth0/100).
    Example: effective_rp_filter({"net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.r2-mid.rp_filter": "2"}, "r2-mid") -> 2
    """
    keys = ["net.ipv4.conf.all.rp_filter", f"net.ipv4.conf.{interface.replace('.', '/')}.rp_filter"]
    found: list[int] = []
    for key in keys:
        raw = values.get(key)
        if raw is None and "/" in key:
            raw = values.get(f"net.ipv4.conf.{interface}.rp_filter")
        if raw is None:
            raise ParseError("sysctl", f"{key} was not collected")
        found.append(to_int(raw, "sysctl", key))
    return max(found)
