"""The scenario generator's later site shapes (bgpdoctor/lab/scenario.py, docs/scenarios.md): drawn
only on seeds from EXTENDED_FROM on, so every seed below keeps exactly the scenario it always gave.
No root: the generator is pure."""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path

import pytest

from bgpdoctor.inventory import load_inventory
from bgpdoctor.lab.scenario import (
    EXTENDED_FROM,
    FRR_REFLECTORS_FROM,
    FaultPlan,
    applicable_faults,
    build_inventory,
    faults_for_seed,
    generate,
    independent_pair,
    plan_fault,
    render_inventory,
)

EXTENDED = range(EXTENDED_FROM, EXTENDED_FROM + 40)
# sha256 of describe(), the inventory, every planned fault, the pair and the faults a benchmark picks
# of seeds 0-20, as generated before the later shapes existed (git archive of the session's start)
CLASSIC_DIGEST = "93a374f0253063c711754f0bc06f795b0cbd6d0d938e380c90e372a958c56dbd"


@pytest.fixture(autouse=True)
def _default_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BGPDOCTOR_SCENARIO_PREFIX", raising=False)
    monkeypatch.delenv("BGPDOCTOR_SCENARIO_DIR", raising=False)


def test_seeds_below_the_extended_range_give_exactly_the_scenarios_they_always_gave() -> None:
    digest = hashlib.sha256()
    for seed in range(21):
        sc = generate(seed)
        digest.update(sc.describe().encode())
        digest.update(render_inventory(sc).encode())
        digest.update(repr([plan_fault(sc, f) for f in applicable_faults(sc)]).encode())
        digest.update(repr(independent_pair(sc)).encode())
        digest.update(repr([faults_for_seed(sc, n) for n in (1, 2, 3)]).encode())
    assert digest.hexdigest() == CLASSIC_DIGEST
    for sc in map(generate, range(60)):
        assert not sc.more_lans and not any(sc.reflects(r) for r in sc.routers)
        assert "ibgp-no-route-reflection" not in applicable_faults(sc)


def test_some_extended_sites_have_two_subnets_with_a_node_on_each() -> None:
    two = 0
    for seed in EXTENDED:
        sc = generate(seed)
        for site in sc.more_lans:
            two += 1
            subnets = [ipaddress.IPv4Network(n) for n in sc.site_subnets(site)]
            assert len(subnets) == 2 and "(2 subnets)" in sc.describe()
            router = sc.hosts[sc.router_of(site)]
            on_router = [ipaddress.IPv4Interface(a.cidr) for a in router.addrs]
            for net in subnets:  # the router has an address in each subnet
                assert sum(i.network == net for i in on_router) == 1, (seed, net)
            placed = {net: [] for net in subnets}
            for n in sc.nodes_of(site):
                node = sc.hosts[n]
                net = ipaddress.IPv4Interface(node.addrs[0].cidr).network
                placed[net].append(n)
                assert node.gateway is not None
                gateway = ipaddress.IPv4Address(node.gateway.ip)
                assert gateway in net and gateway in {i.ip for i in on_router}, (seed, n)
                session = sc.sessions_of(n)[0]
                assert session.end(n).neighbor == node.gateway.ip  # it peers on its own subnet
            assert all(placed.values()), (seed, placed)
    assert 25 <= two <= 70, two  # about half the sites of 40 seeds


def test_the_inventory_lists_a_sites_second_subnet_under_lans(tmp_path: Path) -> None:
    for seed in EXTENDED:
        sc = generate(seed)
        if not sc.more_lans:
            continue
        path = tmp_path / f"{seed}.yaml"
        path.write_text(render_inventory(sc))
        inv = load_inventory(path)
        for site, name in enumerate(sc.sites):
            assert [str(n) for n in inv.sites[name].subnets] == sc.site_subnets(site), seed


def test_extended_seeds_keep_their_shape_under_other_names_and_never_overlap() -> None:
    for seed in EXTENDED:
        a, b = generate(seed), generate(seed, names_seed=seed + 100000)
        assert a.describe().count("(2 subnets)") == b.describe().count("(2 subnets)")
        assert sorted(a.more_lans) == sorted(b.more_lans)
        assert [sorted(s.hosts) for s in a.sessions] == [sorted(s.hosts) for s in b.sessions]
        nets = sorted(
            {ipaddress.IPv4Interface(x.cidr).network for h in a.hosts.values() for x in h.addrs}
            - {ipaddress.IPv4Network(f"{h.pod_ip}/32") for h in a.hosts.values() if h.pod_ip}
        )
        for i, x in enumerate(nets):
            assert not any(x.overlaps(y) for y in nets[i + 1 :]), (seed, x)


def test_a_router_between_two_subnets_loses_forwarding_between_its_own_nodes() -> None:
    seen = 0
    for seed in EXTENDED:
        sc = generate(seed)
        for name in ("ip-forward-disabled", "firewall-blocks-pod-cidr"):
            p = plan_fault(sc, name)
            assert p is not None and p.pair is not None
            site = sc.hosts[p.target].site
            chain_middle = p.target == "r1" and sc.backbone == "direct" and len(sc.sites) == 3
            if site in sc.more_lans and not chain_middle:
                seen += 1
                a, b = p.pair
                assert sc.hosts[a].site == sc.hosts[b].site == site
                nets = {ipaddress.IPv4Interface(sc.hosts[n].addrs[0].cidr).network for n in (a, b)}
                assert len(nets) == 2, (seed, name)
    assert seen >= 5, seen


def _reflecting(seed: int) -> list[str]:
    sc = generate(seed)
    return [r for r in sc.site_routers if sc.reflects(r)]


def test_a_reflecting_site_router_runs_ibgp_with_its_nodes_as_route_reflector_clients() -> None:
    from bgpdoctor.lab.scenario_configs import Knobs, bird_config

    found = 0
    for seed in EXTENDED:
        sc = generate(seed)
        inventory = build_inventory(sc)["hosts"]
        for r in _reflecting(seed):
            found += 1
            router = sc.hosts[r]
            assert router.is_bird, (seed, r)  # the engine reads `route-reflector` from BIRD
            site = router.site
            assert site is not None
            text = bird_config(sc, r, Knobs())
            for n in sc.nodes_of(site):
                assert sc.hosts[n].asn == router.asn  # iBGP
                session = sc.sessions_of(n)[0]
                mine = session.end(r)
                assert mine.reflects and mine.peer_asn == router.asn
                block = text.split(f"protocol bgp {mine.proto} {{")[1].split("}\n")[0]
                assert "rr client;" in block and "direct;" in block and "next hop self" in block
                assert "export where source = RTS_BGP" in block  # its clients learn, whatever the seed
                if sc.hosts[n].speaker == "bird1":
                    assert "\n  direct;" in bird_config(sc, n, Knobs())
                peer = next(p for p in inventory[router.name]["peers"] if p["host"] == sc.name(n))
                assert peer["route_reflector_client"] is True and peer["next_hop_self"] is True
            backbone = {sc.name(s.other(r).host) for s in sc.sessions_of(r) if s.kind == "backbone"}
            for peer in inventory[router.name]["peers"]:
                assert ("route_reflector_client" in peer) == (peer["host"] not in backbone), (seed, peer)
    assert 15 <= found <= 60, found  # about 4 in 10 BIRD site routers


def test_an_frr_site_router_reflects_for_its_nodes_only_from_frr_reflectors_from_on() -> None:
    from bgpdoctor.lab.scenario_configs import Knobs, frr_config

    assert not any(
        generate(seed).hosts[r].is_frr
        for seed in range(EXTENDED_FROM, FRR_REFLECTORS_FROM)
        for r in _reflecting(seed)
    )
    found = 0
    for seed in range(FRR_REFLECTORS_FROM, FRR_REFLECTORS_FROM + 40):
        sc = generate(seed)
        for r in (r for r in _reflecting(seed) if sc.hosts[r].is_frr):
            found += 1
            text = frr_config(sc, r, Knobs())
            for n in sc.nodes_of(sc.hosts[r].site or 0):
                assert sc.hosts[n].asn == sc.hosts[r].asn  # iBGP
                address = sc.sessions_of(n)[0].end(r).neighbor
                assert f" neighbor {address} remote-as {sc.hosts[r].asn}\n" in text
                assert f"  neighbor {address} route-reflector-client\n" in text
                assert f"  neighbor {address} next-hop-self force\n" in text
                assert f"  neighbor {address} route-map BDS-ALL out\n" in text  # its clients learn
            p = plan_fault(sc, "ibgp-no-route-reflection")
            assert p is None or p.target != r  # the fault needs a BIRD reflector
            p = plan_fault(sc, "bird-ebgp-no-policy")  # RFC 8212 is about eBGP: never a client's session
            assert p is None or p.session is None or not sc.sessions[p.session].end(p.target).reflects
    assert 5 <= found <= 20, found


def test_ibgp_no_route_reflection_takes_rr_client_off_every_node_session_of_a_reflector() -> None:
    from bgpdoctor.lab.scenario_configs import Knobs, bird_config, knobs_for

    planned = 0
    for seed in EXTENDED:
        sc = generate(seed)
        p = plan_fault(sc, "ibgp-no-route-reflection")
        reflectors_with_a_bird_node = [
            r
            for r in _reflecting(seed)
            if len(sc.nodes_of(sc.hosts[r].site or 0)) > 1
            and any(sc.hosts[n].speaker == "bird1" for n in sc.nodes_of(sc.hosts[r].site or 0))
        ]
        assert (p is not None) == bool(reflectors_with_a_bird_node), seed
        if p is None:
            continue
        planned += 1
        assert p.target == p.culprit and p.target in reflectors_with_a_bird_node and p.pair is not None
        source, dest = p.pair
        assert sc.hosts[source].speaker == "bird1" and source != dest
        assert sc.hosts[source].site == sc.hosts[dest].site == sc.hosts[p.target].site
        healthy, broken = bird_config(sc, p.target, Knobs()), bird_config(sc, p.target, knobs_for([p]))
        assert "rr client;" in healthy and "rr client;" not in broken
        assert healthy.replace("\n  rr client;", "") == broken
        assert "ibgp-no-route-reflection" in faults_for_seed(sc, 20)
    assert planned >= 3, planned


def test_gobgp_nodes_announce_loadbalancer_vips_from_a_pool_off_every_lan(tmp_path: Path) -> None:
    with_pool = 0
    for seed in EXTENDED:
        sc = generate(seed)
        vips = {h.name: h.lb_vips for h in sc.hosts.values() if h.lb_vips}
        if not sc.lb_pools:
            assert not vips
            continue
        with_pool += 1
        (name, cidr), *more = sc.lb_pools.items()
        pool = ipaddress.IPv4Network(cidr)
        assert not more and f"LoadBalancer pool {name} {cidr}" in sc.describe()
        assert set(vips) == {h.name for h in sc.hosts.values() if h.speaker == "gobgp"}, seed
        flat = [ipaddress.IPv4Address(v) for vs in vips.values() for v in vs]
        assert len(set(flat)) == len(flat) and all(v in pool for v in flat)
        held = [ipaddress.IPv4Interface(a.cidr) for h in sc.hosts.values() for a in h.addrs]
        assert not any(pool.overlaps(i.network) for i in held), seed  # off every LAN, link and pod CIDR
        path = tmp_path / f"{seed}.yaml"
        path.write_text(render_inventory(sc))
        inv = load_inventory(path)
        assert {k: str(p.cidr) for k, p in inv.lb_pools.items()} == sc.lb_pools
        assert {n: [str(v) for v in h.lb_vips] for n, h in inv.hosts.items() if h.lb_vips} == vips
    assert 10 <= with_pool <= 30, with_pool


def test_a_wrong_asn_on_a_reflector_session_drops_rr_client_as_bird_demands() -> None:
    from bgpdoctor.lab.scenario_configs import bird_config, knobs_for

    checked = 0
    for seed in EXTENDED:
        sc = generate(seed)
        for r in _reflecting(seed):
            i, session = next((i, s) for i, s in enumerate(sc.sessions) if r in s.hosts and s.kind == "node")
            plan = FaultPlan("asn-mismatch", r, r, session=i, value=64999)
            block = bird_config(sc, r, knobs_for([plan])).split(f"protocol bgp {session.end(r).proto} {{")[1]
            block = block.split("}\n")[0]
            assert "neighbor" in block and "as 64999;" in block and "rr client" not in block, seed
            checked += 1
    assert checked >= 10


def test_a_scenario_already_up_is_refused_and_left_to_the_run_that_owns_it(tmp_path: Path) -> None:
    from bgpdoctor.errors import LabError
    from bgpdoctor.lab.scenario_net import ScenarioState, running

    sc = generate(EXTENDED_FROM + 9, base_dir=tmp_path)
    owned = ScenarioState(namespaces=list(sc.namespaces))
    owned.save(sc.state_path)
    with pytest.raises(LabError, match="already up"), running(sc):
        pytest.fail("a second run of the same scenario must not start")
    assert ScenarioState.load(sc.state_path).namespaces == sc.namespaces  # nothing was torn down
