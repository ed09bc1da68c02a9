"""IPv6 pod paths traced hop by hop through the IPv6 FIBs, as the IPv4 ones are.

Every output is real (tests/fixtures/ipv6_paths/README.md): three namespaces bfh-a, bfh-r and
bfh-b, nodes a and b on either side of router r, dual stack. Each node holds its pod addresses on
cilium_host (10.231.10.1 and fd00:bf:a::1 on a, 10.231.20.1 and fd00:bf:b::1 on b); the IPv6
routes between them go through link-local next hops (a's default via fe80::ff:febf:1fe, r's
fd00:bf:b::/64 via fe80::ff:febf:201 dev rb), the IPv4 ones through global addresses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path as FilePath

import pytest

from bgpdoctor.engine import forwarding, ipv6, mtu
from bgpdoctor.engine.active import ActiveResults, NodePair, node_pairs
from bgpdoctor.engine.collect import HostFacts, fact_commands
from bgpdoctor.engine.subject import Subject
from bgpdoctor.engine.subjects import path_subjects
from bgpdoctor.engine.world import Path, World
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.parsers import iproute
from bgpdoctor.parsers.ping import parse_ping
from bgpdoctor.probes.mtu import run_sweep
from bgpdoctor.transport.base import CommandResult

FIX = FilePath(__file__).resolve().parents[1] / "fixtures" / "ipv6_paths"


def raw(name: str) -> str:
    return (FIX / name).read_text()


def _node(letter: str, n: int) -> dict[str, object]:
    return {
        "role": "node",
        "connect": {"netns": f"bfh-{letter}"},
        "addresses": [f"10.231.{n}.1", f"fd00:bf{n}::1"],
        "pod_cidrs": [f"10.231.{n}0.0/24", f"fd00:bf:{letter}::/64"],
        "pod_probe_ip": f"10.231.{n}0.1",
        "peers": [{"host": "r", "address": f"10.231.{n}.254", "asn": 65100}],
    }


INVENTORY = Inventory.model_validate(
    {
        "hosts": {
            "a": _node("a", 1),
            "b": _node("b", 2),
            "r": {
                "role": "router",
                "connect": {"netns": "bfh-r"},
                "addresses": ["10.231.1.254", "fd00:bf1::fe"],
                "peers": [
                    {"host": "a", "address": "10.231.1.1", "asn": 65101},
                    {"host": "b", "address": "10.231.2.1", "asn": 65102},
                ],
            },
        }
    }
)
FILES = {
    "ip.addr": "addr.json",
    "ip.route": "route4.json",
    "ip.rule": "rule4.json",
    "ip6.route": "route6.json",
    "ip6.rule": "rule6.json",
    "ip6.neigh": "neigh6.json",
    "sysctl": "sysctl.txt",
    "sysctl.ipv6": "sysctl6.txt",
}


def world(replace: Mapping[tuple[str, str], str | None] | None = None) -> World:
    """The three hosts' real outputs; `replace[(host, fact)]` names another capture, None drops it."""
    facts = {}
    for name, host in INVENTORY.hosts.items():
        commands = fact_commands(host)
        outputs = {}
        for fact, suffix in FILES.items():
            file = (replace or {}).get((name, fact), f"{name}.{suffix}")
            if file is not None:
                outputs[fact] = CommandResult(commands.get(fact, fact), 0, raw(file).encode())
        facts[name] = HostFacts(name, host, outputs=outputs, contacted=True)
    return World(INVENTORY, facts)


def trace6(w: World, src: str = "a", dst: str = "b") -> Path:
    here, there = ("fd00:bf:a::1", "fd00:bf:b::1") if src == "a" else ("fd00:bf:b::1", "fd00:bf:a::1")
    return w.trace(src, here, there, f"fd00:bf:{dst}::/64", dst)


# -- parsing ---------------------------------------------------------------------------------------


def test_a_gatewayless_ipv6_default_route_is_the_ipv6_default() -> None:
    # `ip -6 -j route` prints {"dst":"default","dev":"rb"}: nothing in it says IPv6
    routes = iproute.parse_routes6(raw("r-extra.route6.json"))
    assert [(r.dst, r.dev, r.type) for r in routes if r.dst == "::/0"] == [("::/0", "rb", "unicast")]
    assert "0.0.0.0/0" not in {r.dst for r in routes}
    by_dst = {r.dst: r for r in routes}
    assert by_dst["fd00:ec::/64"].nexthops == [("fe80::ff:febf:101", "ra"), ("fe80::ff:febf:201", "rb")]
    assert (by_dst["fd00:dead::/64"].type, by_dst["fd00:beef::/64"].type) == ("unreachable", "blackhole")


def test_addresses_keep_their_link_hardware_address() -> None:
    eth0 = next(a for a in iproute.parse_addresses(raw("b.addr.json")) if a.address == "fe80::ff:febf:201")
    assert (eth0.ifname, eth0.lladdr) == ("eth0", "02:00:00:bf:02:01")


def test_ipv6_hosts_are_asked_for_their_ipv6_rules_and_rule_tables() -> None:
    commands = fact_commands(INVENTORY.hosts["r"])
    assert commands["ip6.rule"] == "ip -6 -j rule show"
    assert "ip -6 rule show" in commands["ip6.route.rules"]
    assert 'ip -6 -j route show table "$bd_w"' in commands["ip6.route.rules"]


# -- the trace -------------------------------------------------------------------------------------


def test_an_ipv6_pod_path_is_traced_through_link_local_next_hops() -> None:
    path = trace6(world())
    assert path.complete and path.unknown is None
    hops = [(h.host, h.iif, h.oif, h.gateway, h.route) for h in path.hops]
    assert hops == [
        ("a", None, "eth0", "fe80::ff:febf:1fe", "::/0"),
        ("r", "ra", "rb", "fe80::ff:febf:201", "fd00:bf:b::/64"),
        ("b", "eth0", None, None, "fd00:bf:b::/64"),
    ]
    back = trace6(world(), "b", "a")
    assert [h.host for h in back.hops] == ["b", "r", "a"] and back.complete


def test_the_ipv4_path_of_the_same_nodes_is_traced_as_before() -> None:
    path = world().trace("a", "10.231.10.1", "10.231.20.1", "10.231.20.0/24", "b")
    assert [(h.host, h.iif, h.oif, h.gateway) for h in path.hops] == [
        ("a", None, "eth0", "10.231.1.254"),
        ("r", "ra", "rb", "10.231.2.1"),
        ("b", "eth0", None, None),
    ]


def test_an_ipv6_route_missing_on_the_transit_router_stops_the_trace_there() -> None:
    path = trace6(world({("r", "ip6.route"): "r.route6.missing.json"}))
    assert not path.complete and path.unknown is None
    assert path.hops[-1].host == "r"
    assert path.stop_reason == "no route to fd00:bf:b::1 on r"


def test_ipv6_routes_that_could_not_be_read_make_the_path_unknown_not_missing() -> None:
    path = trace6(world({("r", "ip6.route"): None}))
    assert not path.complete
    assert path.unknown is not None and path.unknown.kind == "not-collected"
    assert str(path.unknown) == "ip6.route was not collected on r"
    subject = _path_subject(world({("r", "ip6.route"): None}))
    assert "route_complete" not in subject.facts
    assert str(subject.problems["route_complete"]) == "ip6.route was not collected on r"


def test_a_link_local_next_hop_held_twice_is_resolved_by_the_neighbour_table() -> None:
    # a holds fe80::ff:febf:201 too (on cilium_host); r's neighbour entry on rb has b's MAC
    twice = {("a", "ip.addr"): "a.addr.dup-ll.json"}
    assert [h.host for h in trace6(world(twice)).hops] == ["a", "r", "b"]
    unread = trace6(world({**twice, ("r", "ip6.neigh"): None}))
    assert unread.unknown is not None and unread.unknown.kind == "ambiguous"
    assert "held by a, b" in str(unread.unknown)


def test_ipv6_policy_rules_pick_the_table_they_name() -> None:
    # r: `from fd00:bf:a::/64 lookup 100`, table 100 holding fd00:bf:b::/64 via b
    w = world(
        {("r", "ip6.route"): "r.route6.missing.json", ("r", "ip6.rule"): "r-pbr.rule6.json"},
    )
    w.facts["r"].outputs["ip6.route.rules"] = CommandResult("tables", 0, raw("r-pbr.tables6.txt").encode())
    path = trace6(w)
    assert path.complete
    assert path.hops[1].table == "100"


# -- the path subject ------------------------------------------------------------------------------


def _pairs(w: World) -> list[NodePair]:
    return node_pairs(w, list(INVENTORY.hosts), [])


def _path_subject(w: World, key: str = "a->b/ipv6") -> Subject:
    return next(s for s in path_subjects(w, _pairs(w), ActiveResults()) if s.label == key)


def test_dual_stack_nodes_get_an_ipv6_pod_path_beside_the_ipv4_one() -> None:
    pairs = [(p.key, p.src_ip, p.dst_ip, p.dst_cidr) for p in _pairs(world())]
    assert pairs == [
        ("a->b", "10.231.10.1", "10.231.20.1", "10.231.20.0/24"),
        ("b->a", "10.231.20.1", "10.231.10.1", "10.231.10.0/24"),
        ("a->b/ipv6", "fd00:bf:a::1", "fd00:bf:b::1", "fd00:bf:b::/64"),
        ("b->a/ipv6", "fd00:bf:b::1", "fd00:bf:a::1", "fd00:bf:a::/64"),
    ]


def test_the_healthy_ipv6_path_is_complete_and_forwarded_with_the_routes_quoted() -> None:
    s = _path_subject(world())
    assert s.facts["route_complete"] is True
    assert s.facts["hops"] == "a(->eth0) -> r(ra>rb) -> b(eth0>-)"
    assert s.facts["forwarding_ok"] is True
    assert "rp_filter_ok" not in s.facts and "rp_filter_ok" not in s.problems  # IPv4's sysctl only
    quoted = {e.host: e for e in s.evidence["route_complete"]}
    assert quoted["r"].command == "ip -6 -j route show table main"
    assert json.loads(quoted["r"].output) == [json.loads(raw("r.route6.json"))[1]]  # fd00:bf:b::/64


def test_a_missing_ipv6_route_on_the_transit_router_fails_only_the_ipv6_path() -> None:
    w = world({("r", "ip6.route"): "r.route6.missing.json"})
    s = _path_subject(w)
    assert (s.facts["route_complete"], s.facts["route_missing_on"]) == (False, "r")
    assert s.facts["route_stop_reason"] == "no route to fd00:bf:b::1 on r"
    assert _path_subject(w, "a->b").facts["route_complete"] is True


def test_ipv6_forwarding_off_on_the_transit_router_is_judged_on_the_ipv6_path_only() -> None:
    w = world({("r", "sysctl.ipv6"): "r.sysctl6.off.txt"})
    s = _path_subject(w)
    assert s.facts["forwarding_ok"] is False
    assert [e.output for e in s.evidence["forwarding_ok"]] == ["/proc/sys/net/ipv6/conf/all/forwarding:0"]
    assert _path_subject(w, "a->b").facts["forwarding_ok"] is True  # net.ipv4.ip_forward is 1


def test_ipv6_forwarding_unread_on_the_transit_router_is_unknown() -> None:
    s = _path_subject(world({("r", "sysctl.ipv6"): None}))
    assert "forwarding_ok" not in s.facts
    assert str(s.problems["forwarding_ok"]) == "sysctl.ipv6 was not collected on r"


def test_rp_filter_is_not_judged_on_an_ipv6_path() -> None:
    subject = Subject("path", "a->b/ipv6", ["a", "b"], ["a", "r", "b"])
    w = world()
    pair = next(p for p in _pairs(w) if p.key == "a->b/ipv6")
    forwarding.rp_filter_facts(w, subject, trace6(w), pair)
    assert subject.facts == {} and subject.problems == {}


# -- the MTU sweep over IPv6 ----------------------------------------------------------------------


def test_the_ipv6_sweep_finds_the_black_hole_and_the_rule_dropping_packet_too_big() -> None:
    recorded = json.loads(raw("sweep6.blackhole.json"))  # [command, output, exit status] per probe
    sent: list[str] = []

    def run(command: str) -> tuple[str, int | None]:
        sent.append(command)
        _cmd, output, status = recorded[len(sent) - 1]
        return output, status

    sweep = run_sweep(run, "fd00:bf:a::1", "fd00:bf:b::1", 1400, 0.5, [1300, 1400])
    # captured before DF probes set ping's interval (probes.mtu.LOCAL_ERROR_WAIT); otherwise the same
    assert sent == [c.replace(" -c 1 ", " -c 1 -i 0.2 ") for c, _o, _s in recorded]
    assert all(c.startswith("ping -6 -n -M do -c 1") for c in sent)
    assert (sweep.path_mtu, sweep.silent_above, sweep.blackhole) == (1300, 1301, True)
    w = world()
    w.facts["r"].outputs["nft.ruleset"] = CommandResult(
        "nft -j list ruleset", 0, raw("r.nft-ptb.json").encode()
    )
    pair = next(p for p in _pairs(w) if p.key == "a->b/ipv6")
    s = Subject("path", pair.key, ["a", "b"], ["a", "r", "b"])
    mtu.sweep_facts(w, s, trace6(w), pair, sweep)
    assert s.facts["mtu_blackhole"] is True and s.facts["path_mtu"] == 1300
    assert s.evidence["mtu_probes"][0].command == "ping -6 -M do sweep (4 probes)"
    assert (s.facts["pmtu_filter_host"], s.facts["pmtu_filter_chain"]) == ("r", "output")
    assert "packet-too-big" in s.facts["pmtu_filter_rule"]


@pytest.mark.parametrize(
    ("capture", "outcome", "mtu"),
    [
        ("ping6.too-big.txt", "frag-needed", 1300),
        ("ping6.local-too-big.txt", "local-too-big", 1300),
        ("ping6.silent.txt", "silent-loss", None),
        ("ping6.reply.txt", "reply", None),
    ],
)
def test_ping6_answers_are_read_like_ipv4_ones(capture: str, outcome: str, mtu: int | None) -> None:
    result = parse_ping(raw(capture))
    assert result.outcome == outcome
    assert (result.frag_needed_mtu or result.local_error_mtu) == mtu


def test_a_node_without_an_ipv6_pod_address_gets_no_ipv6_path() -> None:
    w = world({("b", "ip.addr"): "r.addr.json"})  # b's addresses replaced by ones outside its pod CIDRs
    assert ipv6.pod_address6(w, "b") is None
    assert [p.key for p in ipv6.pod_pairs(w, [("a", "b")])] == []
    assert ipv6.pod_address6(w, "a") == "fd00:bf:a::1"


# -- test clients' IPv6 paths ---------------------------------------------------------------------

# the same three hosts and a client c behind r's third link (fd00:bf3::1 on c's eth0, rc on r)
CLIENT_INVENTORY = Inventory.model_validate(
    {
        "hosts": {
            **INVENTORY.model_dump(mode="json", exclude_defaults=True)["hosts"],
            "c": {
                "role": "vantage",
                "connect": {"netns": "bfh-c"},
                "addresses": ["10.231.3.1", "fd00:bf3::1"],
            },
        }
    }
)


def client_world() -> World:
    facts = {}
    for name, host in CLIENT_INVENTORY.hosts.items():
        commands = fact_commands(host)
        outputs = {
            fact: CommandResult(commands.get(fact, fact), 0, raw(f"client/{name}.{suffix}").encode())
            for fact, suffix in FILES.items()
        }
        facts[name] = HostFacts(name, host, outputs=outputs, contacted=True)
    return World(CLIENT_INVENTORY, facts)


def test_a_client_reaches_the_ipv6_pods_and_is_answered_by_the_way_it_came() -> None:
    from bgpdoctor.engine.client_paths import client_pairs, client_subject

    w = client_world()
    pairs = {p.key: p for p in client_pairs(w)}
    assert sorted(k for k in pairs if k.endswith("/ipv6")) == [
        "a->c/ipv6",
        "b->c/ipv6",
        "c->a/ipv6",
        "c->b/ipv6",
    ]
    assert (pairs["c->a/ipv6"].src_ip, pairs["c->a/ipv6"].dst_ip) == ("fd00:bf3::1", "fd00:bf:a::1")
    s = client_subject(w, pairs["c->a/ipv6"])
    assert (s.facts["route_complete"], s.facts["hops"]) == (True, "c(->eth0) -> r(rc>ra) -> a(eth0>-)")
    assert (s.facts["reply_same_interface"], s.facts["path_symmetric"]) == (True, True)
    # r delivers to c on-link (fd00:bf3::/64 dev rc): a /64 is a subnet, not a tunnel with unknown hosts
    assert w.interface_for_subnet("r", "fd00:bf3::1") == "rc"
    back = client_subject(w, pairs["a->c/ipv6"])
    assert (back.facts["hops"], back.facts["path_symmetric"]) == ("a(->eth0) -> r(ra>rc) -> c(eth0>-)", True)
