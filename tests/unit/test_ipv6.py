"""IPv6 peers and dual stack: the inventory, the daemons' IPv6 answers and the `ipv6-link-local` cause.

Every output is real: BIRD 2.0.12 (bird1, AS 65001) and gobgpd (node1, AS 65002) in two bd6-
namespaces joined by one veth, with an IPv4 session (10.213.61.1 <-> .2), an IPv6 one
(fd00:6::1 <-> ::2) and a link-local one (fe80::ff:fe00:601 <-> :602 on eth0). captures/ipv6/outputs
holds single command outputs, captures/ipv6/runs whole `bgpdoctor run --record` runs: the healthy
pair and one per fault (IPv6 forwarding off on bird1, node1 not listening on [::]:179, ICMPv6
Neighbor Discovery dropped by an nft rule on node1, IPv6 routes sent over the link-local session
with no global next hop). tests/integration/test_ipv6_run.py makes the same faults live.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bgpdoctor.drivers import driver_for, match_neighbor
from bgpdoctor.engine import ipv6
from bgpdoctor.engine.active import ActiveResults
from bgpdoctor.engine.collect import HostFacts, fact_commands
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import Collected, RunOptions, evaluate
from bgpdoctor.engine.world import World
from bgpdoctor.errors import InventoryError
from bgpdoctor.inventory import inventory_summary, load_inventory
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.parsers import bird, gobgp, iproute, nft, ss
from bgpdoctor.parsers.ping import parse_ping
from bgpdoctor.probes.mtu import ping_command
from bgpdoctor.report.model import Report
from bgpdoctor.transport.base import CommandResult

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = ROOT / "captures" / "ipv6" / "outputs"
RUNS = ROOT / "captures" / "ipv6" / "runs"
DOCS = ROOT / "docs" / "inventory.md"
TAKEN = datetime(2026, 12, 6, 5, 20, tzinfo=UTC)


def raw(name: str) -> str:
    return (OUTPUTS / name).read_text()


# -- the inventory ---------------------------------------------------------------------------------

DUAL = """\
hosts:
  bird1:
    role: router
    speaker: bird2
    asn: 65001
    connect: {netns: bd6-a}
    addresses: [10.213.61.1, "fd00:6::1"]
    peers:
      - {host: node1, address: 10.213.61.2, asn: 65002}
      - {host: node1, address: "fd00:6::2", asn: 65002}
      - {host: node1, address: "fe80::ff:fe00:602", interface: eth0, asn: 65002}
  node1:
    role: node
    speaker: gobgp
    asn: 65002
    connect: {netns: bd6-b}
    addresses: [10.213.61.2, "fd00:6::2"]
    pod_cidrs: [10.42.1.0/24, "fd00:42:1::/64"]
    pod_probe_ip: "fd00:42:1::1"
    peers:
      - {host: bird1, address: 10.213.61.1, asn: 65001}
      - {host: bird1, address: "fd00:6::1", asn: 65001}
      - {host: bird1, address: "PEER", asn: 65001}
"""


def _inventory(tmp_path: Path, last_peer: str = '"fe80::ff:fe00:601", interface: eth0') -> Path:
    path = tmp_path / "inv.yaml"
    path.write_text(DUAL.replace('"PEER"', last_peer))
    return path


def test_a_dual_stack_pair_with_a_link_local_session_loads_as_three_sessions(tmp_path: Path) -> None:
    inv = load_inventory(_inventory(tmp_path))
    peers = inv.hosts["bird1"].peers
    assert [(str(p.address), p.family, p.link_local, p.interface) for p in peers] == [
        ("10.213.61.2", 4, False, None),
        ("fd00:6::2", 6, False, None),
        ("fe80::ff:fe00:602", 6, True, "eth0"),
    ]
    assert [str(c) for c in inv.hosts["node1"].pod_cidrs] == ["10.42.1.0/24", "fd00:42:1::/64"]
    assert inventory_summary(inv) == "2 hosts: 1 router, 1 node; 3 sessions"


@pytest.mark.parametrize(
    ("peer", "message"),
    [
        (
            '"fe80::ff:fe00:601%eth0"',
            "hosts.node1.peers[2].address: 'fe80::ff:fe00:601%eth0': give the interface of a "
            "link-local address in its own field (address: fe80::ff:fe00:601, interface: eth0)",
        ),
        (
            '"fe80::ff:fe00:601"',
            "hosts.node1.peers[2]: address fe80::ff:fe00:601 is link-local: name the interface it "
            "is reached on (interface: eth0)",
        ),
        ('"fd00:6::zz"', "hosts.node1.peers[2].address: 'fd00:6::zz' is not a valid IPv6 address"),
        (
            '"fd00:6::1", interface: eth0',
            "hosts.node1.peers[2]: interface: only a link-local (fe80::/10) neighbor needs one, "
            "not fd00:6::1",
        ),
        (
            '"fe80::1", interface: "eth0;id"',
            "hosts.node1.peers[2].interface: 'eth0;id' is not an interface name (1 to 15 letters, "
            "digits, '-', '_', '.' or '@')",
        ),
    ],
)
def test_a_bad_ipv6_peer_is_one_line_naming_file_and_line(tmp_path: Path, peer: str, message: str) -> None:
    path = _inventory(tmp_path, peer)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert str(info.value) == f"{path}:23: {message}"


def test_a_bad_ipv6_pod_cidr_says_ipv6_once(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(DUAL.replace('"PEER"', "10.213.61.1").replace('"fd00:42:1::/64"', '"fd00:42:1::/129"'))
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert (
        str(info.value)
        == f"{path}:18: hosts.node1.pod_cidrs[1]: 'fd00:42:1::/129' is not a valid IPv6 network"
    )


def test_the_docs_dual_stack_example_loads(tmp_path: Path) -> None:
    [block] = [b for b in re.findall(r"```text\n(.*?)```", DOCS.read_text(), re.S) if "interface: eth0" in b]
    path = tmp_path / "dual.yaml"
    path.write_text(block)
    inv = load_inventory(path)
    assert inv.hosts["router1"].peers[2].interface == "eth0"
    assert inventory_summary(inv) == "2 hosts: 1 router, 1 node; 3 sessions"


# -- commands ----------------------------------------------------------------------------------------


def test_ipv6_commands_are_asked_only_of_hosts_with_ipv6(tmp_path: Path) -> None:
    inv = load_inventory(_inventory(tmp_path))
    commands = fact_commands(inv.hosts["node1"])
    assert commands["route.get.fe80::ff:fe00:601"] == "ip -j route get fe80::ff:fe00:601 oif eth0"
    assert commands["route.get.fd00:6::1"] == "ip -j route get fd00:6::1"
    assert commands["sysctl.ipv6"] == "grep -H . /proc/sys/net/ipv6/conf/all/forwarding"
    assert commands["ip6.neigh"] == "ip -6 -j neigh show"
    assert commands["ip6.route"] == "ip -6 -j route show table main"
    assert commands["gobgp.rib6"] == "gobgp -j global rib -a ipv6"
    v4_only = Inventory.model_validate(
        {"hosts": {"r": {"role": "router", "speaker": "bird2", "connect": {"local": True}}}}
    )
    assert not {"sysctl.ipv6", "ip6.neigh", "ip6.route"} & set(fact_commands(v4_only.hosts["r"]))


def test_the_mtu_sweep_pings_ipv6_with_dash_6_and_ipv6_headers() -> None:
    assert ping_command("fd00:42:1::1", "fd00:42:2::1", 1500, 1) == (
        "ping -6 -n -M do -c 1 -i 0.2 -W 1 -s 1452 -I fd00:42:1::1 fd00:42:2::1"
    )
    assert ping_command(None, "10.42.2.1", 1500, 1) == "ping -n -M do -c 1 -i 0.2 -W 1 -s 1472 10.42.2.1"


def test_ping6_packet_too_big_and_the_local_error_are_read_as_the_mtu() -> None:
    # ping -6 -M do -s 1452 through a router whose next link has MTU 1400: the router's ICMPv6
    # Packet Too Big first, then (the kernel learned the path MTU) ping's own local error
    remote = parse_ping(raw("ping6_packet_too_big.txt"))
    assert (remote.outcome, remote.frag_needed_mtu, remote.frag_needed_from) == (
        "frag-needed",
        1400,
        "fd00:71::2",
    )
    local = parse_ping(raw("ping6_local_too_long.txt"))
    assert (local.outcome, local.local_error_mtu) == ("local-too-big", 1400)


# -- the daemons' IPv6 answers (real outputs) -----------------------------------------------------------


def test_bird2_and_gobgp_neighbors_match_ipv6_and_link_local_peers(tmp_path: Path) -> None:
    inv = load_inventory(_inventory(tmp_path))
    protocols = bird.parse_show_protocols_all(raw("bird2_dual_stack_protocols.txt"))
    assert [(p.name, p.neighbor_address) for p in protocols if p.name.startswith("node1")] == [
        ("node1_v4", "10.213.61.2"),
        ("node1_v6", "fd00:6::2"),
        ("node1_ll", "fe80::ff:fe00:602"),  # BIRD prints fe80::ff:fe00:602%eth0
    ]
    found = gobgp.parse_neighbors(raw("gobgp_dual_stack_neighbors.json"))
    assert sorted(n.address for n in found) == ["10.213.61.1", "fd00:6::1", "fe80::ff:fe00:601%eth0"]
    facts = HostFacts(
        "node1",
        inv.hosts["node1"],
        outputs={
            "gobgp.neighbors": CommandResult(
                "gobgp -j neighbor", 0, raw("gobgp_dual_stack_neighbors.json").encode()
            )
        },
        contacted=True,
    )
    driver = driver_for("gobgp")
    assert driver is not None
    states = driver.neighbors(World(inv, {"node1": facts}), "node1")
    assert states is not None
    matched = [match_neighbor(states, p) for p in inv.hosts["node1"].peers]
    assert [(m.address, m.state) if m else None for m in matched] == [
        ("10.213.61.1", "established"),
        ("fd00:6::1", "established"),
        ("fe80::ff:fe00:601%eth0", "established"),
    ]


def test_frr_neighbors_over_ipv6_and_link_local_match_the_inventory() -> None:
    # FRR 8.4 (`neighbor fd00:63::2` and `neighbor fe80::ff:fe00:6302 interface eth0`) with BIRD 2
    inv = Inventory.model_validate(
        {
            "hosts": {
                "frr1": {
                    "role": "router",
                    "speaker": "frr",
                    "asn": 65001,
                    "connect": {"netns": "bd6-f"},
                    "peers": [
                        {"address": "fd00:63::2", "asn": 65002},
                        {"address": "fe80::ff:fe00:6302", "interface": "eth0", "asn": 65002},
                    ],
                }
            }
        }
    )
    command = "vtysh -c 'show bgp neighbors json'"
    facts = HostFacts(
        "frr1",
        inv.hosts["frr1"],
        outputs={"frr.neighbors": CommandResult(command, 0, raw("frr_ipv6_neighbors.json").encode())},
        contacted=True,
    )
    driver = driver_for("frr")
    assert driver is not None
    states = driver.neighbors(World(inv, {"frr1": facts}), "frr1")
    assert states is not None
    matched = [match_neighbor(states, p) for p in inv.hosts["frr1"].peers]
    assert [(m.address, m.state, m.peer_as) if m else None for m in matched] == [
        ("fd00:63::2", "established", 65002),
        ("fe80::ff:fe00:6302", "established", 65002),
    ]


def test_an_ipv6_session_needs_an_ipv6_socket(tmp_path: Path) -> None:
    inv = load_inventory(_inventory(tmp_path))
    dual = raw("ss_listen_dual.txt")  # 0.0.0.0:179 and [::]:179 (BIRD 2)
    v4_only = 'LISTEN 0      4096   10.213.61.2:179 0.0.0.0:* users:(("gobgpd",pid=8599,fd=8))\n'
    assert [s.local_address for s in ss.parse_ss(dual)] == ["0.0.0.0", "::"]
    for text, v4, v6 in ((dual, True, True), (v4_only, True, False)):
        facts = HostFacts(
            "node1",
            inv.hosts["node1"],
            outputs={"ss.listen": CommandResult("ss -Htlnp 'sport = :179'", 0, text.encode())},
            contacted=True,
        )
        world = World(inv, {"node1": facts})
        peers = inv.hosts["node1"].peers
        assert (
            ipv6.listening_for(world, "node1", peers[0]),
            ipv6.listening_for(world, "node1", peers[1]),
        ) == (
            v4,
            v6,
        )


def test_the_ndp_failure_and_the_rule_are_read_from_real_output() -> None:
    entries = iproute.parse_neighbours(raw("ip6_neigh_failed.json"))
    assert [(e.address, e.dev, e.states) for e in entries] == [
        ("fe80::ff:fe00:601", "eth0", ["FAILED"]),
        ("fd00:6::1", "eth0", ["INCOMPLETE"]),
    ]
    [rule] = nft.parse_ruleset(raw("nft_icmpv6_nd_drop.json")).rules
    assert ipv6._drops_nd(rule)
    paths = gobgp.parse_rib(raw("gobgp_rib_v6.json"))
    assert [(p.next_hop, p.neighbor_ip) for p in paths] == [
        ("fd00:6::1", "fd00:6::1"),
        ("::", "fe80::ff:fe00:601"),  # what BIRD sent over the link-local session
    ]
    assert [ipv6._unusable_next_hop(p.next_hop) for p in paths] == [False, True]


# -- whole recorded runs -------------------------------------------------------------------------------


def replay(name: str) -> Report:
    inv, path, nodes, collected = load_recording(RUNS / f"{name}.json")
    return evaluate(inv, path, collected, RunOptions(nodes=nodes))


def _status(report: Report, check: str, subject: str) -> str:
    [result] = [r for r in report.results if r.check == check and r.host == subject]
    return result.status


def test_the_healthy_dual_stack_pair_has_no_finding_and_three_established_sessions() -> None:
    report = replay("healthy")
    assert report.diagnoses == []
    assert [r for r in report.results if r.status in ("fail", "warn", "error")] == []
    for label in ("bird1<->node1", "bird1<->node1/ipv6", "bird1<->node1/ipv6-ll"):
        assert _status(report, "bgp-session-established", label) == "pass"
        assert _status(report, "bgp-source-address", label) == "pass"
        assert _status(report, "bgp-accepting-end-listens", label) == "pass"
    # the IPv6 pod CIDR is found in GoBGP's IPv6 table and in BIRD's kernel's IPv6 FIB
    assert _status(report, "podcidr-advertised", "node1") == "pass"
    assert _status(report, "bird-rib-in-fib", "bird1") == "pass"
    assert _status(report, "ipv6-forwarding", "bird1") == "pass"
    assert _status(report, "bgp-ipv6-neighbor-discovery", "bird1<->node1/ipv6-ll") == "pass"
    assert _status(report, "bgp-ipv6-neighbor-discovery", "bird1<->node1") == "skip"


def _diagnosis(report: Report, cause: str) -> Any:
    found = [d for d in report.diagnoses if d.root_cause == cause]
    assert found, [d.root_cause for d in report.diagnoses]
    return found[0]


def test_ipv6_forwarding_off_is_ip_forward_disabled_on_that_router() -> None:
    report = replay("ipv6_forwarding_off")
    d = _diagnosis(report, "ip-forward-disabled")
    assert d.summary.startswith("net.ipv6.conf.all.forwarding is 0 on bird1")
    assert _status(report, "ipv6-forwarding", "bird1") == "fail"
    assert _status(report, "ip-forward", "bird1") == "pass"
    assert "sysctl -w net.ipv6.conf.all.forwarding=1" in d.fixes[0].text


def test_an_ipv6_session_refused_by_a_node_listening_on_ipv4_only_is_node_not_listening() -> None:
    report = replay("ipv6_not_listening")
    d = _diagnosis(report, "node-not-listening")
    assert "fd00:6::2" in d.summary and "node1 has no socket listening" in d.summary
    assert _status(report, "bgp-accepting-end-listens", "bird1<->node1/ipv6") == "fail"
    assert _status(report, "bgp-session-established", "bird1<->node1") == "pass"  # 10.213.61.2:179 listens


def test_icmpv6_nd_dropped_on_the_node_is_ipv6_link_local_naming_the_rule() -> None:
    report = replay("ipv6_ndp_dropped")
    d = _diagnosis(report, "ipv6-link-local")
    assert (
        "node1 drops ICMPv6 Neighbor Discovery with "
        "`icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } drop`" in d.summary
    )
    assert _status(report, "bgp-ipv6-neighbor-discovery", "bird1<->node1/ipv6-ll") == "fail"
    assert "nft insert rule inet hostfw input icmpv6 type" in d.fixes[0].text
    assert _status(report, "bgp-session-established", "bird1<->node1") == "pass"


def test_routes_over_the_link_local_session_without_a_global_next_hop_are_ipv6_link_local() -> None:
    report = replay("ipv6_link_local_next_hop")
    d = _diagnosis(report, "ipv6-link-local")
    assert "node1 received IPv6 routes with no global next hop (fd00:90:61::/64 via ::)" in d.summary
    assert _status(report, "bgp-ipv6-next-hop-usable", "node1") == "fail"


def test_ipv6_over_an_ipv4_session_arrives_with_an_ipv4_next_hop_on_gobgp() -> None:
    # two gobgpd (AS 65011 -> 65012) with ipv4-unicast and ipv6-unicast on one IPv4 session: the
    # receiver shows the IPv4-mapped next hop as 10.213.64.1 (corpus cases 67 and 68)
    inv = Inventory.model_validate(
        {
            "hosts": {
                "node2": {
                    "role": "node",
                    "speaker": "gobgp",
                    "asn": 65012,
                    "connect": {"netns": "bd6-my"},
                    "peers": [{"address": "10.213.64.1", "asn": 65011}],
                }
            }
        }
    )
    commands = fact_commands(inv.hosts["node2"])
    assert commands["gobgp.rib6"] == "gobgp -j global rib -a ipv6"  # asked of an IPv4-only GoBGP too
    assert "sysctl.ipv6" not in commands
    rib6 = raw("gobgp_rib_v6_over_ipv4_session.json").encode()
    facts = HostFacts(
        "node2",
        inv.hosts["node2"],
        outputs={"gobgp.rib6": CommandResult(commands["gobgp.rib6"], 0, rib6)},
        contacted=True,
    )
    collected = Collected(
        scope=["node2"], facts={"node2": facts}, active=ActiveResults(), started=TAKEN, wall_seconds=1
    )
    report = evaluate(inv, "inventory.yaml", collected, RunOptions(nodes=[]))
    [result] = [r for r in report.results if r.check == "bgp-ipv6-next-hop-family"]
    assert (result.status, result.reason) == (
        "warn",
        "node2 received fd00:42:11::/64 via 10.213.64.1: IPv6 routes with an IPv4 next hop "
        "(IPv6 over an IPv4 session)",
    )
    assert _status(report, "bgp-ipv6-next-hop-usable", "node2") == "pass"


def test_unreadable_ipv6_outputs_are_unknown_never_pass_or_fail() -> None:
    inv, path, nodes, collected = load_recording(RUNS / "ipv6_ndp_dropped.json")
    for host in ("bird1", "node1"):
        outputs = collected.facts[host].outputs
        for fact in ("sysctl.ipv6", "ip6.neigh"):
            outputs[fact] = CommandResult(outputs[fact].command, None, b"", "", timed_out=True)
    report = evaluate(inv, path, collected, RunOptions(nodes=nodes))
    assert _status(report, "ipv6-forwarding", "bird1") == "unknown"
    assert _status(report, "bgp-ipv6-neighbor-discovery", "bird1<->node1/ipv6-ll") == "unknown"
    assert all(d.root_cause != "ipv6-link-local" for d in report.diagnoses)
