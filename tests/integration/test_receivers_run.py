"""FRR and BIRD 2 as the receivers (and FRR as the sender) of routes they cannot use, made for real
in namespaces bdz-*-PID:

- corpus cases 67 and 68 (cilium#31911, cilium#37831): a GoBGP node (Cilium's speaker) carries IPv6
  over its IPv4 sessions to a BIRD 2 router and to an FRR router. GoBGP sends the IPv6 routes with
  its IPv4 address as next hop (::ffff:a.b.c.d); BIRD ignores them, FRR keeps them and zebra
  cannot install them. Healthy contrast: the same sessions without IPv6.
- corpus case 91 (calico#4287): two BIRD nodes of the same AS behind an FRR ToR; FRR passes each
  node's route to the other with the nodes' own AS in the path, BIRD drops it as a loop.

Set BGPDOCTOR_RECORD_DIR to keep each run's recording (tests/fixtures/recordings/ holds the ones
the unit tests replay).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bgpdoctor.lab.procs import ns_run  # noqa: E402
from tests.integration.speakers import (  # noqa: E402
    Lab,
    bgpdoctor,
    namespaces,
    needs_bird2,
    needs_frr,
    needs_gobgpd,
    needs_root,
    poll,
    run_dir,
    sh,
    tag,
    veth,
)

pytestmark = [needs_root, needs_bird2, needs_gobgpd, needs_frr]

TIMERS = "hold time 9; keepalive time 3; connect delay time 1; connect retry time 2; error wait time 1, 2;"


def run_recorded(inventory: Path, name: str) -> dict[str, Any]:
    """`bgpdoctor run` with --record; the recording is kept under BGPDOCTOR_RECORD_DIR when set."""
    record = inventory.parent / f"{name}.json"
    proc = bgpdoctor(
        "run", "-i", str(inventory), "-o", "json", "--no-mtu", "--timeout", "8", "--record", str(record)
    )
    assert proc.stdout, (proc.returncode, proc.stderr[-3000:])
    keep = os.environ.get("BGPDOCTOR_RECORD_DIR")
    if keep:
        shutil.copy(record, Path(keep) / record.name)
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def causes(report: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(d["root_cause"], d["hosts"]) for d in report["diagnoses"]]


def statuses(report: dict[str, Any], check: str) -> list[str]:
    return [r["status"] for r in report["results"] if r["check"] == check]


# -- IPv6 over IPv4 sessions: GoBGP -> BIRD 2 and GoBGP -> FRR -------------------------------------


IPV6_FAMILY = """  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
"""


def gobgp_toml(ipv6: bool) -> str:
    out = '[global.config]\n  as = 65002\n  router-id = "10.213.77.2"\n  port = 179\n'
    for neighbor in ("10.213.77.1", "10.213.78.1"):
        out += f"""[[neighbors]]
  [neighbors.config]
    neighbor-address = "{neighbor}"
    peer-as = 65001
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
"""
        if ipv6:
            out += IPV6_FAMILY
    return out


def bird_receiver(ipv6: bool) -> str:
    channel = "  ipv6 { import all; export none; };\n" if ipv6 else ""
    return f"""router id 10.213.77.1;
protocol device {{ scan time 10; }}
protocol kernel {{ ipv6 {{ export where source = RTS_BGP; }}; }}
protocol bgp node1 {{
  local 10.213.77.1 as 65001; neighbor 10.213.77.2 as 65002; {TIMERS}
  ipv4 {{ import all; export none; }};
{channel}}}
"""


def frr_receiver(ipv6: bool) -> str:
    family = (
        " address-family ipv6 unicast\n  neighbor 10.213.78.2 activate\n exit-address-family\n"
        if ipv6
        else ""
    )
    return f"""frr defaults traditional
hostname frr1
router bgp 65001
 bgp router-id 10.213.78.1
 no bgp ebgp-requires-policy
 neighbor 10.213.78.2 remote-as 65002
 neighbor 10.213.78.2 timers 3 9
{family}"""


def afi_inventory(names: dict[str, str], rd: Path, path: Path) -> Path:
    inv = {
        "hosts": {
            "bird1": {
                "role": "router",
                "speaker": "bird2",
                "asn": 65001,
                "addresses": ["10.213.77.1"],
                "connect": {"netns": names["bird1"]},
                "control_socket": str(rd / "bird.ctl"),
                "peers": [{"host": "node1", "address": "10.213.77.2", "asn": 65002, "name": "node1"}],
            },
            "frr1": {
                "role": "router",
                "speaker": "frr",
                "asn": 65001,
                "addresses": ["10.213.78.1"],
                "connect": {"netns": names["frr1"]},
                "control_socket": str(rd / "frr"),
                "peers": [{"host": "node1", "address": "10.213.78.2", "asn": 65002}],
            },
            "node1": {
                "role": "node",
                "speaker": "gobgp",
                "asn": 65002,
                "addresses": ["10.213.77.2", "10.213.78.2"],
                "connect": {"netns": names["node1"]},
                "peers": [
                    {"host": "bird1", "address": "10.213.77.1", "asn": 65001},
                    {"host": "frr1", "address": "10.213.78.1", "asn": 65001},
                ],
            },
        }
    }
    path.write_text(yaml.safe_dump(inv))
    return path


def afi_lab(ipv6: bool, tmp_path: Path, record: str) -> dict[str, Any]:
    t = tag()
    names = {"node1": f"bdz-s-{t}", "bird1": f"bdz-b-{t}", "frr1": f"bdz-f-{t}"}
    with run_dir("bdz-afi") as rd, namespaces(*names.values()), Lab(rd) as lab:
        veth(names["node1"], "10.213.77.2", names["bird1"], "10.213.77.1")
        veth(names["node1"], "10.213.78.2", names["frr1"], "10.213.78.1", dev_a="eth1")
        lab.start_bird(names["bird1"], "bird1", bird_receiver(ipv6))
        frr = lab.start_frr(names["frr1"], frr_receiver(ipv6))
        lab.start_gobgp(names["node1"], "node1", gobgp_toml(ipv6))

        def gobgp(*args: str) -> str:
            return ns_run(names["node1"], ["gobgp", *args], check=False).stdout

        assert poll(lambda: "10.213" in gobgp("global"), 15), "gobgpd did not start"
        gobgp("global", "rib", "add", "10.42.77.0/24", "-a", "ipv4")
        if ipv6:
            gobgp("global", "rib", "add", "fd00:42:77::/64", "-a", "ipv6")
        assert poll(lambda: gobgp("neighbor").count("Establ") == 2, 40), gobgp("neighbor")
        want = "fd00:42:77::/64" if ipv6 else "10.42.77.0/24"
        table = "show bgp ipv6 unicast" if ipv6 else "show bgp ipv4 unicast"
        assert poll(lambda: want in frr.vtysh(table), 30), frr.vtysh(table)
        time.sleep(2)  # BIRD has the same UPDATE by now
        return run_recorded(afi_inventory(names, rd, tmp_path / "inventory.yaml"), record)


def test_ipv6_over_ipv4_sessions_to_bird_and_frr_is_afi_capability_mismatch(tmp_path: Path) -> None:
    report = afi_lab(True, tmp_path, "ipv6_over_ipv4_receivers")
    afi = [d for d in report["diagnoses"] if d["root_cause"] == "afi-capability-mismatch"]
    assert [d["hosts"] for d in afi] == [["node1"]], causes(report)
    print(afi[0]["summary"])
    checks = {
        (r["hosts"][0] if r.get("hosts") else r["host"]): r
        for r in report["results"]
        if r["check"] == "bgp-ipv6-over-ipv4-next-hop"
    }
    reasons = sorted(r["reason"] for r in checks.values() if r["status"] == "fail")
    assert len(reasons) == 2, [(r["status"], r["reason"]) for r in checks.values()]
    assert "FRR on frr1 cannot use them (fd00:42:77::/64 via ::ffff:ad5:4e02)" in " ".join(reasons)
    assert "BIRD 2 on bird1 cannot use them (1 IPv6 update(s) ignored by the ipv6 channel" in " ".join(
        reasons
    )


def test_ipv4_only_sessions_are_clean(tmp_path: Path) -> None:
    report = afi_lab(False, tmp_path, "ipv4_only_receivers")
    assert report["diagnoses"] == [], causes(report)
    # FRR's IPv6 table is clean, and node1 (GoBGP) has no IPv6 route to send BIRD
    assert statuses(report, "bgp-ipv6-over-ipv4-next-hop") == ["pass", "pass"]


# -- an FRR ToR sends same-AS nodes each other's routes (as-path-loop) -----------------------------


def loop_node(third: int, prefix: str) -> str:
    return f"""router id 10.213.{third}.2;
protocol device {{ scan time 10; }}
protocol static {{ ipv4; route {prefix} blackhole; }}
protocol bgp tor {{
  local 10.213.{third}.2 as 65002; neighbor 10.213.{third}.1 as 65001; {TIMERS}
  ipv4 {{ import all; export where source = RTS_STATIC; }};
}}
"""


FRR_TOR = """frr defaults traditional
hostname tor
router bgp 65001
 bgp router-id 10.213.87.1
 no bgp ebgp-requires-policy
 neighbor 10.213.87.2 remote-as 65002
 neighbor 10.213.87.2 timers 3 9
 neighbor 10.213.88.2 remote-as 65002
 neighbor 10.213.88.2 timers 3 9
"""


@pytest.fixture
def frr_tor_lab(tmp_path: Path) -> Iterator[tuple[Lab, Path]]:
    t = tag()
    names = {"tor": f"bdz-t-{t}", "node-a": f"bdz-a-{t}", "node-b": f"bdz-c-{t}"}
    with run_dir("bdz-loop") as rd, namespaces(*names.values()), Lab(rd) as lab:
        veth(names["tor"], "10.213.87.1", names["node-a"], "10.213.87.2")
        veth(names["tor"], "10.213.88.1", names["node-b"], "10.213.88.2", dev_a="eth1")
        lab.start_bird(names["node-a"], "node-a", loop_node(87, "10.90.87.0/24"), name="node-a")
        lab.start_bird(names["node-b"], "node-b", loop_node(88, "10.90.88.0/24"), name="node-b")
        lab.start_frr(names["tor"], FRR_TOR)

        def node(name: str, third: int, prefix: str) -> dict[str, Any]:
            return {
                "role": "node",
                "speaker": "bird2",
                "asn": 65002,
                "addresses": [f"10.213.{third}.2"],
                "pod_cidrs": [prefix],
                "connect": {"netns": names[name]},
                "control_socket": str(rd / f"{name}.ctl"),
                "peers": [{"host": "tor", "address": f"10.213.{third}.1", "asn": 65001, "name": "tor"}],
            }

        inv = {
            "hosts": {
                "tor": {
                    "role": "router",
                    "speaker": "frr",
                    "asn": 65001,
                    "addresses": ["10.213.87.1", "10.213.88.1"],
                    "connect": {"netns": names["tor"]},
                    "control_socket": str(rd / "frr"),
                    "peers": [
                        {"host": "node-a", "address": "10.213.87.2", "asn": 65002},
                        {"host": "node-b", "address": "10.213.88.2", "asn": 65002},
                    ],
                },
                "node-a": node("node-a", 87, "10.90.87.0/24"),
                "node-b": node("node-b", 88, "10.90.88.0/24"),
            }
        }
        path = tmp_path / "inventory.yaml"
        path.write_text(yaml.safe_dump(inv))
        yield lab, path


def test_frr_tor_sending_same_as_nodes_each_others_routes_is_as_path_loop(
    frr_tor_lab: tuple[Lab, Path],
) -> None:
    lab, inventory = frr_tor_lab
    assert lab.frr is not None
    frr = lab.frr
    assert poll(
        lambda: "10.90.87.0/24" in (out := frr.vtysh("show bgp ipv4 unicast")) and "10.90.88.0/24" in out, 40
    ), frr.vtysh("show bgp ipv4 unicast")
    time.sleep(3)
    report = run_recorded(inventory, "frr_tor_as_path_loop")
    loops = {tuple(d["hosts"]): d for d in report["diagnoses"] if d["root_cause"] == "as-path-loop"}
    assert set(loops) == {("node-a",), ("node-b",)}, causes(report)
    print(loops[("node-b",)]["summary"])
    assert loops[("node-b",)]["summary"].startswith(
        "tor sends node-b routes whose AS path already holds node-b's own AS 65002 "
        "(10.90.87.0/24: AS path 65002)"
    )


# -- a dual-homed GoBGP node uses the default route of one uplink only (kube-router#901) ------------


def uplink(third: int) -> str:
    return f"""router id 10.213.{third}.1;
protocol device {{ scan time 10; }}
protocol static {{ ipv4; route 0.0.0.0/0 blackhole; }}
protocol bgp node1 {{
  local 10.213.{third}.1 as 65001; neighbor 10.213.{third}.2 as 65002; {TIMERS}
  ipv4 {{ import all; export where source = RTS_STATIC; }};
}}
"""


def dual_toml() -> str:
    out = '[global.config]\n  as = 65002\n  router-id = "10.213.91.2"\n  port = 179\n'
    for third in (91, 92):
        out += f"""[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.213.{third}.1"
    peer-as = 65001
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 1
"""
    return out


def test_a_second_default_route_left_unused_is_learned_routes_not_installed(tmp_path: Path) -> None:
    t = tag()
    names = {"node1": f"bdz-n-{t}", "r1": f"bdz-r1-{t}", "r2": f"bdz-r2-{t}"}
    with run_dir("bdz-dual") as rd, namespaces(*names.values()), Lab(rd) as lab:
        veth(names["node1"], "10.213.91.2", names["r1"], "10.213.91.1")
        veth(names["node1"], "10.213.92.2", names["r2"], "10.213.92.1", dev_a="eth1")
        lab.start_bird(names["r1"], "r1", uplink(91), name="r1")
        lab.start_bird(names["r2"], "r2", uplink(92), name="r2")
        lab.start_gobgp(names["node1"], "node1", dual_toml())
        ns_run(names["node1"], ["ip", "route", "add", "default", "via", "10.213.91.1"])

        def rib() -> str:
            return ns_run(names["node1"], ["gobgp", "global", "rib"], check=False).stdout

        assert poll(lambda: "10.213.92.1" in rib() and "10.213.91.1" in rib(), 40), rib()

        def router(name: str, third: int) -> dict[str, Any]:
            return {
                "role": "router",
                "speaker": "bird2",
                "asn": 65001,
                "addresses": [f"10.213.{third}.1"],
                "connect": {"netns": names[name]},
                "control_socket": str(rd / f"{name}.ctl"),
                "peers": [{"host": "node1", "address": f"10.213.{third}.2", "asn": 65002, "name": "node1"}],
            }

        inv = {
            "hosts": {
                "r1": router("r1", 91),
                "r2": router("r2", 92),
                "node1": {
                    "role": "node",
                    "speaker": "gobgp",
                    "asn": 65002,
                    "addresses": ["10.213.91.2", "10.213.92.2"],
                    "connect": {"netns": names["node1"]},
                    "peers": [
                        {"host": "r1", "address": "10.213.91.1", "asn": 65001},
                        {"host": "r2", "address": "10.213.92.1", "asn": 65001},
                    ],
                },
            }
        }
        inventory = tmp_path / "inventory.yaml"
        inventory.write_text(yaml.safe_dump(inv))
        report = run_recorded(inventory, "dual_homed_one_default")
        found = [d for d in report["diagnoses"] if d["root_cause"] == "learned-routes-not-installed"]
        assert [d["hosts"] for d in found] == [["node1"]], causes(report)
        print(found[0]["summary"])
        assert "0.0.0.0/0 via 10.213.92.1 (from 10.213.92.1)" in found[0]["summary"]

        # the fix: one default over both uplinks
        ns_run(
            names["node1"],
            [
                "ip",
                "route",
                "replace",
                "default",
                "nexthop",
                "via",
                "10.213.91.1",
                "nexthop",
                "via",
                "10.213.92.1",
            ],
        )
        report = run_recorded(inventory, "dual_homed_both_defaults")
        assert "learned-routes-not-installed" not in [d["root_cause"] for d in report["diagnoses"]]
        node_results = [r for r in report["results"] if r["host"] == "node1"]
        assert [r["status"] for r in node_results if r["check"] == "bgp-learned-default-installed"] == [
            "pass"
        ]


# -- IPv6 routes with a link-local-only next hop, BIRD 2 and FRR receiving (corpus case 71) -------

SENDER_LL_MAC = "02:00:00:00:97:02"


def ll_sender(link_local_only: bool) -> str:
    hop = "next hop address fe80::ff:fe00:9702; " if link_local_only else ""
    out = "router id 10.213.97.2;\nprotocol device { scan time 10; }\n"
    out += "protocol static { ipv6; route fd00:97::/64 blackhole; }\n"
    for name, net in (("to_bird", 1), ("to_frr", 2)):
        out += f"""protocol bgp {name} {{
  local fd00:97:{net}::2 as 65002; neighbor fd00:97:{net}::1 as 65001; multihop 2; {TIMERS}
  ipv6 {{ import none; export where source = RTS_STATIC; {hop}}};
}}
"""
    return out


LL_BIRD = f"""router id 10.213.97.1;
protocol device {{ scan time 10; }}
protocol kernel {{ ipv6 {{ export where source = RTS_BGP; }}; }}
protocol bgp sender {{
  local fd00:97:1::1 as 65001; neighbor fd00:97:1::2 as 65002; multihop 2; {TIMERS}
  ipv6 {{ import all; export none; }};
}}
"""

LL_FRR = """frr defaults traditional
hostname frr1
router bgp 65001
 bgp router-id 10.213.98.1
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor fd00:97:2::2 remote-as 65002
 neighbor fd00:97:2::2 ebgp-multihop 2
 neighbor fd00:97:2::2 timers 3 9
 address-family ipv6 unicast
  neighbor fd00:97:2::2 activate
 exit-address-family
"""


def ll_lab(link_local_only: bool, tmp_path: Path, record: str) -> dict[str, Any]:
    t = tag()
    names = {"sender": f"bdz-ls-{t}", "bird1": f"bdz-lb-{t}", "frr1": f"bdz-lf-{t}"}
    with run_dir("bdz-ll") as rd, namespaces(*names.values()), Lab(rd) as lab:
        veth(names["sender"], "10.213.97.2", names["bird1"], "10.213.97.1")
        veth(names["sender"], "10.213.98.2", names["frr1"], "10.213.98.1", dev_a="eth1")
        sh("ip", "-n", names["sender"], "link", "set", "eth0", "down")
        sh("ip", "-n", names["sender"], "link", "set", "eth0", "address", SENDER_LL_MAC)
        sh("ip", "-n", names["sender"], "link", "set", "eth0", "up")
        for ns, address, dev in (
            (names["sender"], "fd00:97:1::2/64", "eth0"),
            (names["sender"], "fd00:97:2::2/64", "eth1"),
            (names["bird1"], "fd00:97:1::1/64", "eth0"),
            (names["frr1"], "fd00:97:2::1/64", "eth0"),
        ):
            sh("ip", "-n", ns, "addr", "add", address, "dev", dev, "nodad")
        for ns in names.values():  # routers: the healthy variant must be clean
            for key in ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"):
                sh("ip", "netns", "exec", ns, "sysctl", "-qw", key)
        lab.start_bird(names["bird1"], "bird1", LL_BIRD, name="bird")
        lab.start_bird(names["sender"], "sender", ll_sender(link_local_only), name="sender")
        frr = lab.start_frr(names["frr1"], LL_FRR)

        def bird_up() -> bool:
            out = ns_run(names["bird1"], ["birdc", "-s", str(rd / "bird.ctl"), "show", "protocols"]).stdout
            return "Established" in out

        assert poll(bird_up, 40), "bird1 never established its session with the sender"
        assert poll(lambda: "fd00:97:2::2" in frr.vtysh("show bgp ipv6 unicast summary"), 30)
        assert poll(lambda: "Established" in frr.vtysh("show bgp neighbors fd00:97:2::2"), 40)
        time.sleep(4)  # the UPDATEs are exchanged right after Established

        def host(name: str, speaker: str, asn: int, addresses: list[str], peers: list[Any]) -> dict[str, Any]:
            entry: dict[str, Any] = {
                "role": "router",
                "speaker": speaker,
                "asn": asn,
                "addresses": addresses,
                "connect": {"netns": names[name]},
                "peers": peers,
            }
            entry["control_socket"] = str(
                rd / ("frr" if speaker == "frr" else f"{name.replace('1', '')}.ctl")
            )
            return entry

        inv = {
            "hosts": {
                "sender": host(
                    "sender",
                    "bird2",
                    65002,
                    ["fd00:97:1::2", "fd00:97:2::2"],
                    [
                        {"host": "bird1", "address": "fd00:97:1::1", "asn": 65001, "name": "to_bird"},
                        {"host": "frr1", "address": "fd00:97:2::1", "asn": 65001, "name": "to_frr"},
                    ],
                ),
                "bird1": host(
                    "bird1",
                    "bird2",
                    65001,
                    ["fd00:97:1::1"],
                    [{"host": "sender", "address": "fd00:97:1::2", "asn": 65002, "name": "sender"}],
                ),
                "frr1": host(
                    "frr1",
                    "frr",
                    65001,
                    ["fd00:97:2::1"],
                    [{"host": "sender", "address": "fd00:97:2::2", "asn": 65002}],
                ),
            }
        }
        inventory = tmp_path / "inventory.yaml"
        inventory.write_text(yaml.safe_dump(inv))
        return run_recorded(inventory, record)


def test_ipv6_routes_with_a_link_local_only_next_hop_dropped_by_bird_and_frr(tmp_path: Path) -> None:
    report = ll_lab(True, tmp_path, "ipv6_link_local_next_hop_receivers")
    found = [d for d in report["diagnoses"] if d["root_cause"] == "ipv6-link-local"]
    assert causes(report) == [("ipv6-link-local", ["sender"])]
    print(found[0]["summary"])
    failed = sorted(
        r["reason"]
        for r in report["results"]
        if r["check"] == "bgp-ipv6-next-hop-global" and r["status"] == "fail"
    )
    assert len(failed) == 2, failed
    assert failed[0].startswith("bird1 drops the IPv6 routes of sender: 1 IPv6 update(s) ignored"), failed
    assert failed[1].startswith(
        "frr1 drops the IPv6 routes of sender: 1 IPv6 route(s) sender exported, none in FRR's table"
    )


def test_ipv6_routes_with_a_global_next_hop_are_accepted(tmp_path: Path) -> None:
    report = ll_lab(False, tmp_path, "ipv6_global_next_hop_receivers")
    assert report["diagnoses"] == [], causes(report)
    assert set(statuses(report, "bgp-ipv6-next-hop-global")) == {"pass"}
