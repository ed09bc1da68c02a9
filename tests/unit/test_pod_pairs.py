"""Pod paths are probed along a set that covers every pair of sites, every router on the way and
every node, and that grows linearly with the nodes (not all N² ordered pairs)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bgpdoctor.engine.active import NodePair, node_pairs, routing_domains
from bgpdoctor.engine.collect import HostFacts
from bgpdoctor.engine.world import World
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.transport.base import CommandResult


def _node_ip(site: int, k: int) -> str:
    return f"10.{100 + site}.{1 + k // 250}.{k % 250 + 1}"


def _pod(site: int, k: int, last: str) -> str:
    """Each site's pods in 10.(64 + 4 site).0.0/14, one /24 per node."""
    return f"10.{64 + 4 * site + k // 256}.{k % 256}.{last}"


def generated(sizes: list[int], isolated: int = 0) -> tuple[Inventory, dict[str, HostFacts]]:
    """Sites of `sizes[s]` nodes, each site with two routers on a shared backbone, and `isolated`
    nodes of one more site whose router peers with nobody else (a second routing domain).

    Even nodes leave through router a of their site, odd ones through router b; every site's pod
    routes come in through router a. So router b of a site is on the way out of its odd nodes only.
    Example: generated([2, 1]) -> routers r0a r0b r1a r1b, nodes n0-0 n0-1 n1-0.
    """
    hosts: dict[str, Any] = {}
    routes: dict[str, list[dict[str, Any]]] = {}
    addrs: dict[str, list[tuple[str, str, int]]] = {}
    connect = {"local": True}
    all_sites = [*sizes, isolated] if isolated else sizes
    for s, count in enumerate(all_sites):
        lan = f"10.{100 + s}"
        alone = isolated and s == len(sizes)
        for r, letter in enumerate("ab"):
            name = f"r{s}{letter}"
            bb_peers = (
                []
                if alone
                else [
                    {"host": f"r{t}{x}", "address": f"10.200.0.{2 * t + i + 1}", "asn": 64512}
                    for t in range(len(sizes))
                    for i, x in enumerate("ab")
                    if (t, x) != (s, letter)
                ]
            )
            node_peers = [
                {"host": f"n{s}-{k}", "address": _node_ip(s, k), "asn": 64513} for k in range(count)
            ]
            hosts[name] = {
                "role": "router",
                "site": f"s{s}",
                "connect": connect,
                "asn": 64512,
                "peers": node_peers + bb_peers,
            }
            addrs[name] = [("lan", f"{lan}.0.{r + 1}", 16), ("bb", f"10.200.0.{2 * s + r + 1}", 24)]
            routes[name] = [{"dst": f"{lan}.0.0/16", "dev": "lan"}, {"dst": "10.200.0.0/24", "dev": "bb"}]
            routes[name] += [
                {"dst": _pod(s, k, "0/24"), "gateway": _node_ip(s, k), "dev": "lan"} for k in range(count)
            ]
            routes[name] += [
                {"dst": f"10.{64 + 4 * t}.0.0/14", "gateway": f"10.200.0.{2 * t + 1}", "dev": "bb"}
                for t in range(len(sizes))
                if t != s and not alone
            ]
        for k in range(count):
            name = f"n{s}-{k}"
            hosts[name] = {
                "role": "node",
                "site": f"s{s}",
                "connect": connect,
                "pod_cidrs": [_pod(s, k, "0/24")],
                "pod_probe_ip": _pod(s, k, "1"),
                "peers": [
                    {"host": f"r{s}{x}", "address": f"{lan}.0.{i + 1}", "asn": 64512}
                    for i, x in enumerate("ab")
                ],
            }
            addrs[name] = [("eth0", _node_ip(s, k), 16), ("pod", _pod(s, k, "1"), 24)]
            routes[name] = [
                {"dst": f"{lan}.0.0/16", "dev": "eth0"},
                {"dst": _pod(s, k, "0/24"), "dev": "pod"},
                {"dst": "default", "gateway": f"{lan}.0.{1 + k % 2}", "dev": "eth0"},
            ]
    inv = Inventory.model_validate({"version": 1, "hosts": hosts})
    facts = {}
    for name in hosts:
        links = [
            {"ifname": i, "mtu": 1500, "addr_info": [{"local": a, "prefixlen": p}]} for i, a, p in addrs[name]
        ]
        outputs = {
            "ip.addr": CommandResult("ip -j addr", 0, json.dumps(links).encode()),
            "ip.route": CommandResult("ip -j route", 0, json.dumps(routes[name]).encode()),
        }
        facts[name] = HostFacts(name, inv.hosts[name], outputs=outputs, contacted=True)
    return inv, facts


def nodes_of(inv: Inventory) -> list[str]:
    return [n for n, h in inv.hosts.items() if h.role == "node"]


def routers_on(world: World, pairs: list[tuple[str, str]]) -> set[str]:
    """Every host the probes of these pairs cross, there and back (what path_subjects looks at)."""
    seen: set[str] = set()
    for a, b in pairs:
        here, there = str(world.inv.hosts[a].pod_probe_ip), str(world.inv.hosts[b].pod_probe_ip)
        for path in (
            world.trace(a, here, there, f"{there}/32", b),
            world.trace(b, there, here, f"{here}/32", a),
        ):
            assert path.complete, path.stop_reason
            seen.update(path.transit)
    return seen


def keys(pairs: list[NodePair]) -> list[tuple[str, str]]:
    return [(p.source, p.destination) for p in pairs]


def test_every_router_on_the_way_between_sites_is_on_a_probed_path() -> None:
    inv, facts = generated([6, 5, 4])
    world = World(inv, facts)
    nodes = nodes_of(inv)
    chosen = keys(node_pairs(world, list(inv.hosts), []))
    every = [(a, b) for a in nodes for b in nodes if a != b]
    assert (
        routers_on(world, chosen) == routers_on(world, every) == {f"r{s}{x}" for s in range(3) for x in "ab"}
    )
    assert len(chosen) < len(every) / 3


def test_pairs_cover_every_site_pair_both_ways_and_every_node() -> None:
    inv, facts = generated([5, 1, 3], isolated=3)
    world = World(inv, facts)
    chosen = keys(node_pairs(world, list(inv.hosts), []))
    site = {n: inv.hosts[n].site for n in nodes_of(inv)}
    assert {(site[a], site[b]) for a, b in chosen if site[a] != site[b]} == {
        (s, t) for s in ("s0", "s1", "s2") for t in ("s0", "s1", "s2") if s != t
    }
    # the return path: every pair between sites is probed both ways
    assert all((b, a) in chosen for a, b in chosen if site[a] != site[b])
    # node-local faults (a node's firewall, its rp_filter) need each node as a source and a destination
    assert {a for a, _ in chosen} == {b for _, b in chosen} == set(site)
    # the isolated site is another routing domain: only its own ring, nothing across
    assert [(a, b) for a, b in chosen if "s3" in (site[a], site[b])] == [
        ("n3-0", "n3-1"),
        ("n3-1", "n3-2"),
        ("n3-2", "n3-0"),
    ]


def test_pairs_grow_linearly_with_the_nodes() -> None:
    counts = {}
    for per_site in (50, 500):
        inv, facts = generated([per_site] * 4)
        counts[per_site] = len(node_pairs(World(inv, facts), list(inv.hosts), []))
    # a ring per site, both ways between the 6 site pairs, one more pair each way for the odd nodes'
    # other router out of each site: 4N + 12 + 24
    assert counts == {50: 200 + 36, 500: 2000 + 36}


def test_the_lab_keeps_its_pod_paths() -> None:
    # one node per site: both ways between the two sites, nothing across routing domains
    inv, facts = generated([1, 1])
    assert keys(node_pairs(World(inv, facts), list(inv.hosts), [])) == [("n0-0", "n1-0"), ("n1-0", "n0-0")]


def test_with_node_every_pair_of_the_focus_both_ways() -> None:
    inv, facts = generated([3, 2])
    chosen = keys(node_pairs(World(inv, facts), list(inv.hosts), ["n0-1"]))
    others = [n for n in nodes_of(inv) if n != "n0-1"]
    assert sorted(chosen) == sorted([("n0-1", o) for o in others] + [(o, "n0-1") for o in others])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 7), min_size=1, max_size=6), st.integers(0, 4))
def test_covering_set_without_facts(sizes: list[int], isolated: int) -> None:
    """Whatever the sites, with routes unknown: each node sends and receives when its domain has
    another node, every site pair both ways, never across domains, at most N + S(S-1) pairs."""
    inv, _facts = generated(sizes, isolated=isolated if isolated != 1 else 0)
    chosen = keys(node_pairs(World(inv, {}), list(inv.hosts), []))
    domain = routing_domains(inv)
    site = {n: inv.hosts[n].site for n in nodes_of(inv)}
    assert all(domain[a] == domain[b] and a != b for a, b in chosen)
    assert len(chosen) == len(set(chosen))
    lonely = {n for n in site if sum(domain[o] == domain[n] for o in site) == 1}
    assert {a for a, _ in chosen} == {b for _, b in chosen} == set(site) - lonely
    pairs_of_sites = {(site[a], site[b]) for a, b in chosen if site[a] != site[b]}
    assert pairs_of_sites == {
        (f"s{s}", f"s{t}") for s in range(len(sizes)) for t in range(len(sizes)) if s != t
    }
    assert len(chosen) <= len(site) + len(sizes) * (len(sizes) - 1)
