"""bgpdoctor's reading of policy routing agrees with the kernel's own answer (`ip route get`).

A namespace gets Tailscale's rules and table 52, wg-quick's rules and table 51820, and rules on
source, destination, input interface, protocol, uid, a blackhole and a goto. bgpdoctor reads it as
a run would (`ip -j rule show`, the rule tables command, the main table), then picks a route for
each probe destination; the kernel picks one too, from the same state. They must agree.
`ip route get` is a netlink query: no packet is sent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bgpdoctor.engine.policy import policy_lookup
from bgpdoctor.engine.routing import RouteTable
from bgpdoctor.parsers import iproute, iprule

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and iproute2 (network namespaces)"
)

SETUP = [
    "link add tailscale0 type veth peer name ts-peer",
    "link add eth0 type veth peer name eth0-peer",
    *(f"link set {link} up" for link in ("tailscale0", "ts-peer", "eth0", "eth0-peer", "lo")),
    "addr add 192.168.0.81/24 dev eth0",
    "addr add 100.64.0.5/32 dev tailscale0",
    "route add default via 192.168.0.1",
    "rule add pref 5210 fwmark 0x80000/0xff0000 table main",
    "rule add pref 5230 fwmark 0x80000/0xff0000 table default",
    "rule add pref 5250 fwmark 0x80000/0xff0000 type unreachable",
    "rule add pref 5270 table 52",
    "rule add pref 5280 iif bd-absent table 52",  # a second rule to table 52, on a [detached] interface
    "route add 10.42.0.0/16 dev tailscale0 table 52",
    "route add 100.100.100.100 dev tailscale0 table 52",
    "rule add pref 32763 table main suppress_prefixlength 0",
    "rule add pref 32764 not fwmark 51820 table 51820",
    "route add default dev tailscale0 table 51820",
    "route add 192.168.0.0/24 dev eth0 table 51820",
    "rule add pref 100 from 10.9.0.0/16 iif eth0 to 10.8.0.0/16 lookup 100",
    "rule add pref 101 ipproto tcp dport 179 lookup 101",
    "rule add pref 102 uidrange 1000-2000 lookup 102",
    "rule add pref 200 to 10.7.0.0/16 blackhole",
    "rule add pref 201 from 10.6.0.0/16 goto 32766",
]

# (destination, source, input interface): None input is a packet the host sends itself
PROBES = [
    ("10.42.1.5", "192.168.0.81", None),  # a pod CIDR that Tailscale's table 52 takes
    ("100.100.100.100", "192.168.0.81", None),
    ("8.8.8.8", "192.168.0.81", None),  # main's default is suppressed; wg-quick's table has one
    ("192.168.0.50", "192.168.0.81", None),  # the LAN: main, more specific than /0
    ("10.7.1.1", "192.168.0.81", None),  # a blackhole rule
    ("10.8.1.1", "10.9.1.1", "eth0"),  # rule 100 selects it, table 100 is empty: on to the next
    ("10.99.1.1", "10.6.1.1", "eth0"),  # goto 32766 skips Tailscale's and wg-quick's rules
    ("10.42.1.1", "10.6.1.1", "eth0"),
]


def ns_ip(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "-n", ns, *args], text=True, capture_output=True, check=check, timeout=10)


@pytest.fixture(scope="module")
def namespace() -> Iterator[str]:
    ns = f"bdy-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True, timeout=10)
    try:
        subprocess.run(
            ["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True, timeout=10
        )
        for line in SETUP:
            ns_ip(ns, *line.split())
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False, timeout=10)


def kernel_route(ns: str, dst: str, src: str, iif: str | None) -> tuple[str | None, str | None, str]:
    """(dev, gateway, type) as `ip route get` answers; type "error: ..." when it refuses."""
    args = ["-j", "route", "get", dst, "from", src, *(["iif", iif] if iif else [])]
    done = ns_ip(ns, *args, check=False)
    if done.returncode != 0:
        return None, None, f"error: {done.stderr.strip()}"
    got = iproute.parse_route_get(done.stdout)
    return got.dev, got.gateway, got.type


def test_every_table_a_rule_looks_up_is_read_once_in_the_rules_order(namespace: str, tmp_path: Path) -> None:
    """The shell reads `ip rule show` itself (no sed, no sort on the host): each table once, the
    first rule's place deciding its order, whatever files the command's directory holds."""
    for name in ("d", "e", "t"):  # what `[detached]` would expand to as a glob
        (tmp_path / name).touch()
    done = subprocess.run(
        ["ip", "netns", "exec", namespace, "sh", "-c", iprule.RULE_TABLES_COMMAND],
        text=True, capture_output=True, check=True, timeout=10, cwd=tmp_path,
    )  # fmt: skip
    listed = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("table ")]
    looked_up = [
        r["table"] for r in json.loads(ns_ip(namespace, "-j", "rule", "show").stdout) if "table" in r
    ]
    wanted = [t for t in dict.fromkeys(looked_up) if t not in ("local", "main", "default")]
    assert listed == wanted == ["100", "101", "102", "52", "51820"]  # by rule priority
    assert looked_up.count("52") == 2 and listed.count("52") == 1
    assert "[detached]" in ns_ip(namespace, "rule", "show").stdout


def test_policy_lookup_agrees_with_the_kernel(namespace: str) -> None:
    exec_sh = ["ip", "netns", "exec", namespace, "sh", "-c"]
    rules = iprule.parse_rules(ns_ip(namespace, "-j", "rule", "show").stdout)
    tables_text = subprocess.run(
        [*exec_sh, iprule.RULE_TABLES_COMMAND], text=True, capture_output=True, check=True, timeout=10
    ).stdout
    tables = {name: RouteTable(routes) for name, routes in iprule.parse_rule_tables(tables_text).items()}
    main = RouteTable(iproute.parse_routes(ns_ip(namespace, "-j", "route", "show", "table", "main").stdout))
    assert set(tables) == {"52", "51820", "100", "101", "102"}

    for dst, src, iif in PROBES:
        answer = policy_lookup(rules, tables, main, dst, src, iif or "lo")
        dev, gateway, kind = kernel_route(namespace, dst, src, iif)
        assert answer.ambiguous is None, (dst, answer.ambiguous)
        assert answer.route is not None, dst
        if kind.startswith("error"):  # the kernel refuses a route get that meets a blackhole rule
            assert answer.route.type == "blackhole", (dst, kind)
            continue
        assert (answer.route.dev, answer.route.gateway) == (dev, gateway), (dst, src, iif, answer)
