"""IPv6 pod paths through a transit router, made for real: nodes a and b (GoBGP, announcing their
pod CIDRs of both families, like Cilium) on either side of router r (BIRD 2, installing them), in
three namespaces bfh-a-PID, bfh-r-PID, bfh-b-PID. Each node holds its pod addresses on cilium_host
(10.231.N0.1 and fd00:bf:X::1) and routes by its default routes, the IPv6 one through r's
link-local address (fixed MACs: fe80::ff:febf:1fe on ra, fe80::ff:febf:2fe on rb).

The healthy trio must be clean with both families' pod paths traced, pinged and swept; then each
fault is made on r, run and undone, and must fail the IPv6 pod path while the IPv4 one passes:
a leftover `unreachable fd00:bf:b::/64 metric 1` (only the path trace sees it: BIRD's route is
still in the FIB beside it), IPv6 forwarding off, and an MTU drop on rb whose ICMPv6 Packet Too
Big r's own nft rule drops (an IPv6-only black hole, measured with `ping -6 -M do`). The
segments of the IPv6 sessions are swept with `ping -6 -M do` as the IPv4 ones are.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bgpdoctor.lab.procs import ns_run, start_in_ns  # noqa: E402
from tests.integration.speakers import (  # noqa: E402
    Lab,
    bgpdoctor,
    needs_bird2,
    needs_gobgpd,
    needs_root,
    ns_names,
    poll,
    sh,
    speaker_lab,
)

pytestmark = [needs_root, needs_bird2, needs_gobgpd]

A_NS, R_NS, B_NS = ns_names("bfh", "a", "r", "b").values()
R_AS = 65100
NODES = {  # name: (namespace, index, AS, router-side interface)
    "a": (A_NS, 1, 65101, "ra"),
    "b": (B_NS, 2, 65102, "rb"),
}
UNREACHABLE = ["ip", "-6", "route", "add", "unreachable", "fd00:bf:b::/64", "metric", "1"]
NFT_DROP_PTB = """table inet bfh {
  chain output {
    type filter hook output priority 0; policy accept;
    icmpv6 type packet-too-big counter drop
  }
}
"""


def bird_conf() -> str:
    channels = "import all; export none;"
    sessions = "".join(
        f"protocol bgp {name}_v4 from tpl {{ neighbor 10.231.{n}.1 as {asn}; ipv4 {{ {channels} }}; }}\n"
        f"protocol bgp {name}_v6 from tpl {{ neighbor fd00:bf{n}::1 as {asn}; ipv6 {{ {channels} }}; }}\n"
        for name, (_ns, n, asn, _dev) in NODES.items()
    )
    return f"""
router id 10.231.1.254;
protocol device {{ scan time 10; }}
protocol kernel {{ ipv4 {{ export where source = RTS_BGP; }}; }}
protocol kernel {{ ipv6 {{ export where source = RTS_BGP; }}; }}
template bgp tpl {{
  local as {R_AS};
  hold time 30; keepalive time 10; connect delay time 1; connect retry time 2; error wait time 1, 2;
}}
{sessions}"""


def gobgp_toml(n: int, asn: int) -> str:
    neighbors = ""
    for address, family in ((f"10.231.{n}.254", "ipv4"), (f"fd00:bf{n}::fe", "ipv6")):
        neighbors += f"""[[neighbors]]
  [neighbors.config]
    neighbor-address = "{address}"
    peer-as = {R_AS}
  [neighbors.timers.config]
    hold-time = 30
    keepalive-interval = 10
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "{family}-unicast"
"""
    return f'[global.config]\n  as = {asn}\n  router-id = "10.231.{n}.1"\n  port = 179\n' + neighbors


class Trio(Lab):
    def start_node(self, ns: str, name: str, toml: str) -> None:
        """gobgpd with its own config file (Lab.start_gobgp writes one gobgpd.toml for all)."""
        config = self.run_dir / f"gobgpd-{name}.toml"
        config.write_text(toml)
        argv = ["gobgpd", "-t", "toml", "-f", str(config)]
        self.procs.append(start_in_ns(ns, name, "gobgpd", argv, self.run_dir / f"gobgpd-{name}.log"))

    def birdc(self, *args: str) -> str:
        return ns_run(R_NS, ["birdc", "-s", str(self.run_dir / "bird.ctl"), *args], check=False).stdout

    def established(self) -> int:
        return sum("Established" in line for line in self.birdc("show", "protocols").splitlines())

    def inventory(self) -> Path:
        hosts: dict[str, Any] = {
            "r": {
                "role": "router",
                "speaker": "bird2",
                "asn": R_AS,
                "router_id": "10.231.1.254",
                "addresses": ["10.231.1.254", "fd00:bf1::fe", "10.231.2.254", "fd00:bf2::fe"],
                "connect": {"netns": R_NS},
                "control_socket": str(self.run_dir / "bird.ctl"),
                "peers": [
                    {"host": name, "name": f"{name}_v{v}", "address": address, "asn": asn}
                    for name, (_ns, n, asn, _dev) in NODES.items()
                    for v, address in ((4, f"10.231.{n}.1"), (6, f"fd00:bf{n}::1"))
                ],
            }
        }
        for name, (ns, n, asn, _dev) in NODES.items():
            hosts[name] = {
                "role": "node",
                "speaker": "gobgp",
                "asn": asn,
                "router_id": f"10.231.{n}.1",
                "addresses": [f"10.231.{n}.1", f"fd00:bf{n}::1"],
                "pod_cidrs": [f"10.231.{n}0.0/24", f"fd00:bf:{name}::/64"],
                "pod_probe_ip": f"10.231.{n}0.1",
                "connect": {"netns": ns},
                "peers": [
                    {"host": "r", "address": f"10.231.{n}.254", "asn": R_AS},
                    {"host": "r", "address": f"fd00:bf{n}::fe", "asn": R_AS},
                ],
            }
        path = self.run_dir / "inventory.yaml"
        path.write_text(yaml.safe_dump({"hosts": hosts}))
        return path


def _wire(name: str, ns: str, n: int, dev: str) -> None:
    """Node `ns` eth0 <-> r `dev`, both families, fixed MACs; the node's pod addresses on cilium_host."""
    sh("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", dev, "netns", R_NS)
    sh("ip", "-n", ns, "link", "add", "cilium_host", "type", "veth", "peer", "name", "cilium_net")
    sh("ip", "-n", ns, "link", "set", "eth0", "address", f"02:00:00:bf:0{n}:01")
    sh("ip", "-n", R_NS, "link", "set", dev, "address", f"02:00:00:bf:0{n}:fe")
    for where, link, v4, v6 in (
        (ns, "eth0", f"10.231.{n}.1", f"fd00:bf{n}::1"),
        (R_NS, dev, f"10.231.{n}.254", f"fd00:bf{n}::fe"),
    ):
        sh("ip", "-n", where, "addr", "add", f"{v4}/24", "dev", link)
        sh("ip", "-n", where, "addr", "add", f"{v6}/64", "dev", link, "nodad")
        sh("ip", "-n", where, "link", "set", link, "up")
    sh("ip", "-n", ns, "addr", "add", f"10.231.{n}0.1/32", "dev", "cilium_host")
    sh("ip", "-n", ns, "addr", "add", f"fd00:bf:{name}::1/128", "dev", "cilium_host", "nodad")
    for link in ("cilium_host", "cilium_net"):
        sh("ip", "-n", ns, "link", "set", link, "up")


def _gobgp_up(ns: str) -> bool:
    return "10.231" in ns_run(ns, ["gobgp", "global"], check=False).stdout


@pytest.fixture(scope="module")
def trio() -> Iterator[Trio]:
    with speaker_lab(Trio, "bfh", "a", "r", "b", ipv6_forwarding=True) as (lab, _namespaces):
        for name, (ns, n, _asn, dev) in NODES.items():
            _wire(name, ns, n, dev)
        assert poll(
            lambda: all(
                "tentative" not in ns_run(ns, ["ip", "-6", "addr"]).stdout for ns in (A_NS, R_NS, B_NS)
            ),
            10,
        ), "link-local addresses stayed tentative"
        for name, (ns, n, asn, _dev) in NODES.items():
            sh("ip", "-n", ns, "route", "add", "default", "via", f"10.231.{n}.254")
            sh("ip", "-n", ns, "-6", "route", "add", "default", "via", f"fe80::ff:febf:{n}fe", "dev", "eth0")
            lab.start_node(ns, name, gobgp_toml(n, asn))
        lab.start_bird(R_NS, "r", bird_conf())
        for name, (ns, n, _asn, _dev) in NODES.items():
            assert poll(functools.partial(_gobgp_up, ns), 15), f"gobgpd did not start in {ns}"
            ns_run(ns, ["gobgp", "global", "rib", "add", f"10.231.{n}0.0/24", "-a", "ipv4"])
            ns_run(ns, ["gobgp", "global", "rib", "add", f"fd00:bf:{name}::/64", "-a", "ipv6"])
        if not poll(
            lambda: (
                lab.established() == 4
                and "fd00:bf:b::/64" in ns_run(R_NS, ["ip", "-6", "route"]).stdout
                and "fd00:bf:a::/64" in ns_run(R_NS, ["ip", "-6", "route"]).stdout
            ),
            90,
        ):
            pytest.fail(f"the trio did not come up: {lab.birdc('show', 'protocols')}")
        yield lab


def _run(lab: Trio, *extra: str) -> tuple[int, dict[str, Any]]:
    inventory = lab.inventory()
    proc = bgpdoctor("run", "-i", str(inventory), "-o", "json", "--timeout", "8", *extra, timeout=300)
    assert proc.stdout, (proc.returncode, proc.stderr[-3000:])
    (inventory.parent / "report.json").write_text(proc.stdout)
    return proc.returncode, json.loads(proc.stdout)


def _result(report: dict[str, Any], check: str, subject: str) -> dict[str, Any]:
    return next(r for r in report["results"] if r["check"] == check and r["host"] == subject)


def _causes(report: dict[str, Any]) -> list[str]:
    return [d["root_cause"] for d in report["diagnoses"]]


def test_the_healthy_trio_is_clean_with_its_ipv6_pod_paths_traced_pinged_and_swept(trio: Trio) -> None:
    code, report = _run(trio)
    bad = [
        (r["check"], r["host"], r["reason"])
        for r in report["results"]
        if r["status"] in ("fail", "warn", "unknown")
    ]
    assert (code, _causes(report), bad) == (0, [], [])
    for key in ("a->b/ipv6", "b->a/ipv6", "a->b", "b->a"):
        assert _result(report, "pod-route-present", key)["status"] == "pass", key
        assert _result(report, "pod-ping", key)["status"] == "pass", key
        assert _result(report, "path-mtu", key)["status"] == "pass", key
    assert _result(report, "pod-route-present", "a->b/ipv6")["reason"] == "a(->eth0) -> r(ra>rb) -> b(eth0>-)"
    assert _result(report, "pod-ping", "a->b/ipv6")["reason"] == "fd00:bf:a::1 -> fd00:bf:b::1 answered"
    # the segments of the IPv6 sessions are swept too (`ping -6 -M do` from each end)
    for key in ("a->r bgp fd00:bf1::fe", "r->b bgp fd00:bf2::1"):
        assert _result(report, "path-mtu", key)["status"] == "pass", key


def test_an_unreachable_ipv6_route_left_on_the_router_fails_only_the_ipv6_path(trio: Trio) -> None:
    ns_run(R_NS, UNREACHABLE)
    try:
        code, report = _run(trio, "--no-mtu")
    finally:
        ns_run(
            R_NS, ["ip", "-6", "route", "del", "unreachable", "fd00:bf:b::/64", "metric", "1"], check=False
        )
    assert code == 1
    missing = _result(report, "pod-route-present", "a->b/ipv6")
    assert missing["status"] == "fail"
    assert missing["reason"] == "no route to fd00:bf:b::1 on r (a(->eth0) -> r(ra>-))"
    for key in ("a->b", "b->a"):
        assert _result(report, "pod-route-present", key)["status"] == "pass", key
        assert _result(report, "pod-ping", key)["status"] == "pass", key
    # b reaches a, but a's echo replies die on r: the IPv6 pings fail both ways
    assert _result(report, "pod-route-present", "b->a/ipv6")["status"] == "pass"
    assert [_result(report, "pod-ping", k)["status"] for k in ("a->b/ipv6", "b->a/ipv6")] == ["fail", "fail"]
    assert _result(report, "bird-rib-in-fib", "r")["status"] == "pass"  # BIRD's route is in the FIB


def test_ipv6_forwarding_off_on_the_router_stops_the_ipv6_paths_only(trio: Trio) -> None:
    sh("ip", "netns", "exec", R_NS, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=0")
    try:
        code, report = _run(trio, "--no-mtu")
    finally:
        sh("ip", "netns", "exec", R_NS, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
    assert code == 1
    assert _causes(report)[0] == "ip-forward-disabled"
    assert report["diagnoses"][0]["summary"].startswith("net.ipv6.conf.all.forwarding is 0 on r")
    assert _result(report, "pod-ping", "a->b/ipv6")["status"] == "fail"
    assert _result(report, "pod-ping", "a->b")["status"] == "pass"


def test_an_ipv6_only_mtu_black_hole_is_found_by_the_ping6_sweep(trio: Trio) -> None:
    for ns, dev in ((R_NS, "rb"), (B_NS, "eth0")):  # one link, one MTU: no layer 2 mismatch
        sh("ip", "-n", ns, "link", "set", dev, "mtu", "1300")
    ns_run(R_NS, ["nft", "-f", "-"], input_text=NFT_DROP_PTB)
    try:
        for ns in (A_NS, B_NS):
            ns_run(ns, ["ip", "-6", "route", "flush", "cache"], check=False)
            ns_run(ns, ["ip", "route", "flush", "cache"], check=False)
        code, report = _run(trio)
    finally:
        ns_run(R_NS, ["nft", "delete", "table", "inet", "bfh"], check=False)
        for ns, dev in ((R_NS, "rb"), (B_NS, "eth0")):
            sh("ip", "-n", ns, "link", "set", dev, "mtu", "1500")
    assert code == 1
    assert "mtu-blackhole" in _causes(report)
    hole = _result(report, "path-mtu", "a->b/ipv6")
    assert hole["status"] == "fail"
    assert hole["reason"].startswith("packets above 1300 bytes vanish without ICMP")
    for key in ("a->b", "b->a", "b->a/ipv6"):  # IPv4's frag-needed gets through; b knows its own MTU
        assert _result(report, "path-mtu", key)["status"] == "pass", key
    assert _causes(report).count("mtu-blackhole") == 1
    diagnosis = next(d for d in report["diagnoses"] if d["root_cause"] == "mtu-blackhole")
    assert diagnosis["evidence"][0]["command"].startswith("ping -6 -M do sweep")
    assert "icmpv6 type packet-too-big" in json.dumps(diagnosis)
