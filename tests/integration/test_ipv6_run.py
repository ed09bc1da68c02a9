"""A dual-stack pair made for real: BIRD 2 (bird1, AS 65001) and GoBGP (node1, AS 65002) in two
namespaces bd6-a-PID and bd6-b-PID joined by one veth (eth0 at both ends, fixed MACs so the
link-local addresses are known). Three sessions: IPv4 (10.213.62.1 <-> .2), IPv6 (fd00:62::1 <->
::2) and link-local (fe80::ff:fe00:6201 <-> :6202 on eth0). node1 announces its pod CIDRs of both
families; BIRD installs them.

The healthy pair must be clean with the three sessions Established; then each fault is made, run,
named and undone: IPv6 forwarding off on bird1, node1 listening on IPv4 only (the IPv6 session is
refused), ICMPv6 Neighbor Discovery dropped by an nft rule on node1, and BIRD sending IPv6 routes
over the link-local session without a global next hop, and node1's kernel picking another IPv6
source address for its session to a passive bird1 (corpus case 11).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bgpdoctor.lab.procs import kill_proc, ns_run  # noqa: E402
from tests.integration.speakers import (  # noqa: E402
    Lab,
    namespaces,
    needs_bird2,
    needs_gobgpd,
    needs_root,
    poll,
    run,
    run_dir,
    sh,
    tag,
    veth,
)

pytestmark = [needs_root, needs_bird2, needs_gobgpd]

BIRD_NS, NODE_NS = f"bd6-a-{tag()}", f"bd6-b-{tag()}"
BIRD_V4, NODE_V4 = "10.213.62.1", "10.213.62.2"
BIRD_V6, NODE_V6 = "fd00:62::1", "fd00:62::2"
BIRD_LL, NODE_LL = "fe80::ff:fe00:6201", "fe80::ff:fe00:6202"
BIRD_MAC, NODE_MAC = "02:00:00:00:62:01", "02:00:00:00:62:02"
BIRD_AS, NODE_AS = 65001, 65002
POD_V4, POD_V6 = "10.42.62.0/24", "fd00:42:62::/64"


def bird_conf(link_local_export: str = "none", v6_passive: bool = False) -> str:
    passive = "  passive on;\n" if v6_passive else ""
    return f"""
router id {BIRD_V4};
protocol device {{ scan time 10; }}
protocol kernel {{ ipv4 {{ export where source = RTS_BGP; }}; }}
protocol kernel {{ ipv6 {{ export where source = RTS_BGP; }}; }}
protocol static {{ ipv6; route fd00:90:62::/64 blackhole; }}
template bgp tpl {{
  local as {BIRD_AS};
  hold time 9; keepalive time 3; connect delay time 1; connect retry time 2; error wait time 1, 2;
}}
protocol bgp node1_v4 from tpl {{
  neighbor {NODE_V4} as {NODE_AS};
  ipv4 {{ import all; export none; }};
}}
protocol bgp node1_v6 from tpl {{
  neighbor {NODE_V6} as {NODE_AS};
{passive}  ipv6 {{ import all; export none; }};
}}
protocol bgp node1_ll from tpl {{
  neighbor {NODE_LL} % 'eth0' as {NODE_AS};
  ipv6 {{ import all; export {link_local_export}; }};
}}
"""


def _neighbor(address: str, family: str, transport: str = "") -> str:
    return f"""[[neighbors]]
  [neighbors.config]
    neighbor-address = "{address}"
    peer-as = {BIRD_AS}
{transport}  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "{family}-unicast"
"""


def gobgp_toml(ipv6_listening: bool = True) -> str:
    # IPv4 only: gobgpd listens on 10.213.62.2:179 alone and only waits for bird1's IPv6 session
    listen = "" if ipv6_listening else f'  local-address-list = ["{NODE_V4}"]\n'
    passive = "" if ipv6_listening else "  [neighbors.transport.config]\n    passive-mode = true\n"
    link_local = f'  [neighbors.transport.config]\n    local-address = "{NODE_LL}%eth0"\n'
    return (
        f'[global.config]\n  as = {NODE_AS}\n  router-id = "{NODE_V4}"\n  port = 179\n{listen}'
        + _neighbor(BIRD_V4, "ipv4")
        + _neighbor(BIRD_V6, "ipv6", passive)
        + _neighbor(f"{BIRD_LL}%eth0", "ipv6", link_local)
    )


class DualStack(Lab):
    def birdc(self, *args: str) -> str:
        return ns_run(BIRD_NS, ["birdc", "-s", str(self.run_dir / "bird.ctl"), *args], check=False).stdout

    def gobgp(self, *args: str) -> str:
        return ns_run(NODE_NS, ["gobgp", *args], check=False).stdout

    def start_node(self, toml: str) -> None:
        for rec in [r for r in self.procs if r.name == "gobgpd"]:
            kill_proc(rec)
            self.procs.remove(rec)
        self.start_gobgp(NODE_NS, "node1", toml)
        assert poll(lambda: "10.213" in self.gobgp("global"), 15), "gobgpd did not start"
        self.gobgp("global", "rib", "add", POD_V4, "-a", "ipv4")
        self.gobgp("global", "rib", "add", POD_V6, "-a", "ipv6")

    def reconfigure_bird(self, conf: str) -> None:
        (self.run_dir / "bird.conf").write_text(conf)
        answer = self.birdc("configure")
        assert "Reconfigur" in answer, answer  # "Reconfigured" or "Reconfiguration in progress"

    def established(self) -> int:
        return sum("Established" in line for line in self.birdc("show", "protocols").splitlines())

    def wait(self, what: str, ok: Callable[[], bool], timeout: float = 40) -> None:
        if not poll(ok, timeout):
            pytest.fail(f"never saw {what}: {self.birdc('show', 'protocols')}\n{self.gobgp('neighbor')}")

    def inventory(self) -> Path:
        inv = {
            "hosts": {
                "bird1": {
                    "role": "router",
                    "speaker": "bird2",
                    "asn": BIRD_AS,
                    "router_id": BIRD_V4,
                    "addresses": [BIRD_V4, BIRD_V6],
                    "connect": {"netns": BIRD_NS},
                    "control_socket": str(self.run_dir / "bird.ctl"),
                    "peers": [
                        {"host": "node1", "name": "node1_v4", "address": NODE_V4, "asn": NODE_AS},
                        {"host": "node1", "name": "node1_v6", "address": NODE_V6, "asn": NODE_AS},
                        {
                            "host": "node1",
                            "name": "node1_ll",
                            "address": NODE_LL,
                            "interface": "eth0",
                            "asn": NODE_AS,
                        },
                    ],
                },
                "node1": {
                    "role": "node",
                    "speaker": "gobgp",
                    "asn": NODE_AS,
                    "router_id": NODE_V4,
                    "addresses": [NODE_V4, NODE_V6],
                    "pod_cidrs": [POD_V4, POD_V6],
                    "connect": {"netns": NODE_NS},
                    "peers": [
                        {"host": "bird1", "address": BIRD_V4, "asn": BIRD_AS},
                        {"host": "bird1", "address": BIRD_V6, "asn": BIRD_AS},
                        {"host": "bird1", "address": BIRD_LL, "interface": "eth0", "asn": BIRD_AS},
                    ],
                },
            }
        }
        path = self.run_dir / "inventory.yaml"
        path.write_text(yaml.safe_dump(inv))
        return path


@pytest.fixture(scope="module")
def lab() -> Iterator[DualStack]:
    with run_dir("bd6") as rd, namespaces(BIRD_NS, NODE_NS), DualStack(rd) as dual:
        veth(BIRD_NS, BIRD_V4, NODE_NS, NODE_V4)
        for ns, mac, v6 in ((BIRD_NS, BIRD_MAC, BIRD_V6), (NODE_NS, NODE_MAC, NODE_V6)):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
            sh("ip", "-n", ns, "link", "set", "eth0", "down")
            sh("ip", "-n", ns, "link", "set", "eth0", "address", mac)
            sh("ip", "-n", ns, "addr", "add", f"{v6}/64", "dev", "eth0", "nodad")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
        assert poll(
            lambda: (
                "tentative" not in ns_run(BIRD_NS, ["ip", "-6", "addr"]).stdout
                and "tentative" not in ns_run(NODE_NS, ["ip", "-6", "addr"]).stdout
            ),
            10,
        ), "link-local addresses stayed tentative"
        dual.start_bird(BIRD_NS, "bird1", bird_conf())
        dual.start_node(gobgp_toml())
        dual.wait("three Established sessions", lambda: dual.established() == 3)
        yield dual


def _run(lab: DualStack) -> tuple[int, dict[str, Any]]:
    code, report, _stderr = run(lab.inventory())
    return code, report


def _status(report: dict[str, Any], check: str, subject: str) -> str:
    return next(r["status"] for r in report["results"] if r["check"] == check and r["host"] == subject)


def _causes(report: dict[str, Any]) -> list[str]:
    return [d["root_cause"] for d in report["diagnoses"]]


def test_the_healthy_dual_stack_pair_is_clean_with_both_families_established(lab: DualStack) -> None:
    code, report = _run(lab)
    assert _causes(report) == []
    failed = [
        (r["check"], r["host"], r["reason"]) for r in report["results"] if r["status"] in ("fail", "warn")
    ]
    assert failed == []
    for label in ("bird1<->node1", "bird1<->node1/ipv6", "bird1<->node1/ipv6-ll"):
        assert _status(report, "bgp-session-established", label) == "pass", label
    assert _status(report, "podcidr-advertised", "node1") == "pass"  # fd00:42:62::/64 included
    assert _status(report, "bird-rib-in-fib", "bird1") == "pass"
    unknown = [(r["check"], r["host"], r["reason"]) for r in report["results"] if r["status"] == "unknown"]
    assert (code, unknown) == (0, [])


def test_ipv6_forwarding_off_on_the_router_is_named(lab: DualStack) -> None:
    sh("ip", "netns", "exec", BIRD_NS, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=0")
    try:
        code, report = _run(lab)
    finally:
        sh("ip", "netns", "exec", BIRD_NS, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
    assert code == 1
    assert _causes(report) == ["ip-forward-disabled"]
    assert report["diagnoses"][0]["summary"].startswith("net.ipv6.conf.all.forwarding is 0 on bird1")


def test_an_ipv6_session_refused_by_a_node_listening_on_ipv4_only_is_node_not_listening(
    lab: DualStack,
) -> None:
    lab.start_node(gobgp_toml(ipv6_listening=False))
    try:
        lab.wait("the IPv6 session refused", lambda: "Connection refused" in lab.birdc("show", "protocols"))
        code, report = _run(lab)
    finally:
        lab.start_node(gobgp_toml())
        lab.wait("three Established sessions again", lambda: lab.established() == 3)
    assert code == 1
    assert "node-not-listening" in _causes(report)
    assert _status(report, "bgp-accepting-end-listens", "bird1<->node1/ipv6") == "fail"
    assert _status(report, "bgp-session-established", "bird1<->node1") == "pass"


NFT_DROP_ND = """table inet hostfw {
  chain input {
    type filter hook input priority 0; policy accept;
    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } counter drop comment "hostFirewall"
  }
}
"""


def test_icmpv6_neighbor_discovery_dropped_on_the_node_is_ipv6_link_local(lab: DualStack) -> None:
    ns_run(NODE_NS, ["nft", "-f", "-"], input_text=NFT_DROP_ND)
    try:
        for ns in (BIRD_NS, NODE_NS):
            sh("ip", "-n", ns, "-6", "neigh", "flush", "dev", "eth0")
        lab.wait(
            "node1's NDP entry for bird1 failing and the link-local session down",
            lambda: (
                not any(
                    "Establ" in line for line in lab.gobgp("neighbor").splitlines() if line.startswith("fe80")
                )
                and any(
                    s in ns_run(NODE_NS, ["ip", "-6", "neigh", "show", BIRD_LL, "dev", "eth0"]).stdout
                    for s in ("FAILED", "INCOMPLETE")
                )
            ),
            timeout=60,
        )
        code, report = _run(lab)
    finally:
        ns_run(NODE_NS, ["nft", "delete", "table", "inet", "hostfw"], check=False)
    lab.wait("three Established sessions again", lambda: lab.established() == 3, timeout=60)
    assert code == 1
    assert "ipv6-link-local" in _causes(report)
    diagnosis = next(d for d in report["diagnoses"] if d["root_cause"] == "ipv6-link-local")
    assert "node1 drops ICMPv6 Neighbor Discovery" in diagnosis["summary"]
    assert _status(report, "bgp-ipv6-neighbor-discovery", "bird1<->node1/ipv6-ll") == "fail"
    assert _status(report, "bgp-session-established", "bird1<->node1") == "pass"


def test_ipv6_routes_sent_over_the_link_local_session_without_a_global_next_hop(lab: DualStack) -> None:
    lab.reconfigure_bird(bird_conf(link_local_export="where source = RTS_STATIC"))
    try:
        lab.wait(
            "node1 receiving fd00:90:62::/64",
            lambda: "fd00:90:62::/64" in lab.gobgp("global", "rib", "-a", "ipv6"),
        )
        code, report = _run(lab)
    finally:
        lab.reconfigure_bird(bird_conf())
    assert code == 1
    assert _causes(report) == ["ipv6-link-local"]
    assert "fd00:90:62::/64 via ::" in report["diagnoses"][0]["summary"]


def test_an_ipv6_session_sourced_from_another_address_is_unexpected_source_address(lab: DualStack) -> None:
    # bird1 waits for node1 on the IPv6 session; node1's route to bird1 prefers a second address
    other = "fd00:62::99"
    lab.reconfigure_bird(bird_conf(v6_passive=True))
    sh("ip", "-n", NODE_NS, "addr", "add", f"{other}/64", "dev", "eth0", "nodad")
    sh("ip", "-n", NODE_NS, "-6", "route", "add", f"{BIRD_V6}/128", "dev", "eth0", "src", other)
    try:
        lab.birdc("restart", "node1_v6")
        lab.wait(
            "the IPv6 session down",
            lambda: (
                "node1_v6" in lab.birdc("show", "protocols")
                and not any(
                    "node1_v6" in line and "Established" in line
                    for line in lab.birdc("show", "protocols").splitlines()
                )
            ),
        )
        code, report = _run(lab)
    finally:
        ns_run(NODE_NS, ["ip", "-6", "route", "del", f"{BIRD_V6}/128"], check=False)
        ns_run(NODE_NS, ["ip", "addr", "del", f"{other}/64", "dev", "eth0"], check=False)
        lab.reconfigure_bird(bird_conf())
    lab.wait("three Established sessions again", lambda: lab.established() == 3, timeout=60)
    assert code == 1
    assert "unexpected-source-address" in _causes(report)
    assert _status(report, "bgp-source-address", "bird1<->node1/ipv6") == "fail"
    result = next(
        r
        for r in report["results"]
        if r["check"] == "bgp-source-address" and r["host"] == "bird1<->node1/ipv6"
    )
    assert result["reason"].startswith(f"node1 connects from {other} (via eth0) but bird1 expects {NODE_V6}")
