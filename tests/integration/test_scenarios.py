"""bgpdoctor on generated scenarios: the diagnosis must not depend on the seed lab's names,
addresses or shape (bgpdoctor/lab/scenario.py; docs/scenarios.md).

The first group needs no root: the generator's own promises (deterministic, names and addresses
that are never the seed lab's, one shape under any names, a valid inventory, faults placed by
role). The second group (`-m lab`, root) builds a fixed small sample for real and runs
`bgpdoctor run` on it as a user would:

- a healthy scenario gives exit 0 and no finding;
- each fault gives its root cause as diagnoses[0];
- two independent faults give both root causes;
- the same scenario with every name, address, ASN and interface name redrawn gives the same
  root causes.

The sample is six scenario runs (about 6 minutes on 2 cores; F, the FRR one, and R, the later
shapes, add under a minute each);
benchmarks/scenario_accuracy.py runs as many seeds as you like.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

import pytest

from bgpdoctor.inventory import load_inventory
from bgpdoctor.lab.scenario import (
    FAULTS,
    SEED_LAB_NETWORKS,
    Scenario,
    applicable_faults,
    build_inventory,
    generate,
    independent_pair,
    ns_prefix,
    plan_fault,
    render_inventory,
)
from bgpdoctor.lab.scenario_eval import Outcome, SeedRun, run_seed
from bgpdoctor.lab.topology import HOSTS, NAMESPACES

SEEDS = range(40)
IFNAME = re.compile(r"[a-z][a-z0-9-]{0,14}")


# -- the generator (no root) ---------------------------------------------------------------------
def _names(sc: Scenario) -> set[str]:
    return {h.name for h in sc.hosts.values()}


def _networks(sc: Scenario) -> list[ipaddress.IPv4Network]:
    return [
        ipaddress.IPv4Network(a.cidr, strict=False)
        for h in sc.hosts.values()
        for a in h.addrs
        if not a.cidr.endswith("/32")
    ]


def _shape(sc: Scenario) -> list[object]:
    """Everything but names: roles, daemons, sites, links, sessions, where each fault goes."""
    hosts = sorted((k, h.role, h.speaker, h.site, tuple(sorted(h.mtu.values()))) for k, h in sc.hosts.items())
    sessions = [(s.kind, s.a.host, s.b.host, s.a.passive, s.b.passive) for s in sc.sessions]
    veths = sorted((v.a, v.b) for v in sc.veths)
    faults = []
    for f in FAULTS:
        p = plan_fault(sc, f)
        value = p.value if p is not None and f == "mtu-blackhole" else None  # a wrong ASN is a name
        faults.append(None if p is None else (p.target, p.culprit, p.session, p.pair, p.uplink, value))
    pair = independent_pair(sc)
    return [
        sc.backbone,
        len(sc.sites),
        hosts,
        sessions,
        veths,
        faults,
        pair and [p.name for p in pair],
        sc.nodes_learn,
    ]


def test_a_seed_always_gives_the_same_scenario() -> None:
    for seed in (0, 7, 23):
        assert render_inventory(generate(seed)) == render_inventory(generate(seed))
    assert render_inventory(generate(1)) != render_inventory(generate(2))


def test_redrawn_names_keep_the_shape_and_change_every_name() -> None:
    for seed in SEEDS:
        a, b = generate(seed), generate(seed, names_seed=seed + 100000)
        assert _shape(a) == _shape(b), seed
        assert len(_names(a) & _names(b)) <= 1, (seed, _names(a) & _names(b))
        assert set(map(str, _networks(a))).isdisjoint(map(str, _networks(b))), seed
        assert a.cluster_pod_cidr != b.cluster_pod_cidr
        assert a.namespaces != b.namespaces and not set(a.namespaces) & set(b.namespaces)


def test_names_addresses_and_asns_are_never_the_seed_labs_and_always_valid() -> None:
    lab = {*HOSTS, *NAMESPACES}
    for seed in SEEDS:
        sc = generate(seed)
        for h in sc.hosts.values():
            assert not any(x in h.name for x in lab), h.name
            assert re.fullmatch(r"[a-z0-9-]+", h.name), h.name
            for a in h.addrs:
                ip = ipaddress.IPv4Address(a.ip)
                assert ip.is_private and not any(ip in n for n in SEED_LAB_NETWORKS), (seed, a)
            if h.asn is not None:
                assert 64512 <= h.asn <= 65534 or 4200000000 <= h.asn <= 4294967294, h.asn
        for ns in sc.namespaces:
            assert ns.startswith(ns_prefix()) and not ns.startswith("bdl-")
        for v in (*sc.veths, sc.backup):
            for name in (v.a_if, v.b_if):
                assert IFNAME.fullmatch(name) and name not in ("lo", "all", "default"), name


def test_segments_never_overlap_and_pods_stay_in_the_cluster_range() -> None:
    for seed in SEEDS:
        sc = generate(seed)
        segments = sorted(set(_networks(sc)))
        for i, x in enumerate(segments):
            for y in segments[i + 1 :]:
                assert not x.overlaps(y), (seed, x, y)
        cluster = ipaddress.IPv4Network(sc.cluster_pod_cidr)
        for n in sc.nodes:
            pod = ipaddress.IPv4Network(str(sc.hosts[n].pod_cidr))
            assert pod.subnet_of(cluster) and ipaddress.IPv4Address(sc.hosts[n].pod_ip) in pod
            assert not any(s.overlaps(cluster) for s in segments), seed
        pods = [ipaddress.IPv4Network(str(sc.hosts[n].pod_cidr)) for n in sc.nodes]
        assert len({str(p) for p in pods}) == len(pods)


def test_the_inventory_is_valid_and_names_every_session_from_both_ends(tmp_path: Path) -> None:
    for seed in SEEDS:
        sc = generate(seed)
        path = tmp_path / f"{seed}.yaml"
        path.write_text(render_inventory(sc))
        inv = load_inventory(path)
        assert {h.name for h in sc.hosts.values() if h.role != "switch"} == set(inv.hosts)
        pairs = {frozenset((name, p.host)) for name, h in inv.hosts.items() for p in h.peers}
        assert len(pairs) == len(sc.sessions)
        data = build_inventory(sc)
        assert all(h["connect"]["netns"].startswith(sc.prefix) for h in data["hosts"].values())


def test_every_fault_is_placed_by_role() -> None:
    for seed in SEEDS:
        sc = generate(seed)
        assert {"ip-forward-disabled", "rp-filter-strict", "asn-mismatch", "mtu-blackhole"} <= set(
            applicable_faults(sc)
        )
        for f in applicable_faults(sc):
            p = plan_fault(sc, f)
            assert p is not None
            role = sc.hosts[p.target].role
            if f in ("ip-forward-disabled", "firewall-blocks-pod-cidr", "rp-filter-strict", "mtu-blackhole"):
                assert role == "router", (seed, f)
            if f in ("bgp-port-filtered", "node-not-listening"):
                assert p.session is not None
                node = sc.sessions[p.session].a.host
                assert sc.hosts[node].speaker == "gobgp" and p.target == sc.sessions[p.session].b.host
                assert p.culprit == (p.target if f == "bgp-port-filtered" else node)
            if f == "lb-pool-in-node-subnet":
                assert p.session is not None
                node, router = sc.sessions[p.session].a.host, sc.sessions[p.session].b.host
                assert p.target == p.culprit == node and sc.hosts[router].is_bird
                lan = ipaddress.IPv4Interface(sc.hosts[node].addrs[0].cidr).network
                vip = ipaddress.IPv4Address(p.value)
                held = {ipaddress.IPv4Interface(a.cidr).ip for h in sc.hosts.values() for a in h.addrs}
                assert vip in lan and vip not in held
            if f == "bird-ebgp-no-policy":
                assert p.session is not None and p.target in sc.sessions[p.session].hosts
                assert p.target == p.culprit and sc.hosts[p.target].is_frr, (seed, f)
            if f == "asn-mismatch":
                assert p.session is not None and p.target in sc.sessions[p.session].hosts
                assert p.value not in {h.asn for h in sc.hosts.values()}
        pair = independent_pair(sc)
        assert pair is not None and pair[0].name != pair[1].name
        assert not pair[0].hosts & pair[1].hosts, seed


def test_some_routers_run_frr_and_the_bird_only_sample_seeds_keep_their_shapes() -> None:
    with_frr = [seed for seed in SEEDS if any(h.is_frr for h in generate(seed).hosts.values())]
    assert 10 <= len(with_frr) <= 30, with_frr
    assert any("t" in sc.hosts and sc.hosts["t"].is_frr for sc in map(generate, SEEDS))
    for seed in SEEDS:
        assert all(not h.is_frr for h in generate(seed).hosts.values() if h.role == "node")
    for key, (seed, names, _, _) in SAMPLE.items():
        frr = [h.name for h in generate(seed, names).hosts.values() if h.is_frr]
        assert bool(frr) == (key == "F"), (key, frr)


def test_frr_routers_get_a_policy_on_every_neighbor_and_do_what_the_bird_routers_do() -> None:
    from bgpdoctor.lab.scenario_configs import Knobs, frr_config, knobs_for

    for seed in SEEDS:
        sc = generate(seed)
        for key in [k for k in sc.routers if sc.hosts[k].is_frr]:
            text = frr_config(sc, key, Knobs())
            assert f"router bgp {sc.hosts[key].asn}\n" in text
            for s in sc.sessions_of(key):
                n = s.end(key).neighbor
                assert f" neighbor {n} remote-as {s.end(key).peer_asn}\n" in text
                assert f"  neighbor {n} route-map BDS-ALL in\n" in text
                export = "BDS-NONE" if s.kind == "node" and not sc.nodes_learn else "BDS-ALL"
                assert f"  neighbor {n} route-map {export} out\n" in text
                assert (f"  neighbor {n} next-hop-self\n" in text) == (s.kind == "backbone")
                gobgp_node = s.kind == "node" and sc.hosts[s.a.host].speaker == "gobgp"
                assert (f" neighbor {n} passive\n" in text) == gobgp_node, (seed, key, n)
        plan = plan_fault(sc, "bird-ebgp-no-policy")
        assert (plan is not None) == any(sc.hosts[k].is_frr for k in sc.routers), seed
        if plan is not None:
            assert plan.session is not None
            n = sc.sessions[plan.session].end(plan.target).neighbor
            broken = frr_config(sc, plan.target, knobs_for([plan]))
            assert f"neighbor {n} route-map" not in broken and f" neighbor {n} remote-as" in broken
            assert (
                broken.count("route-map BDS-")
                == frr_config(sc, plan.target, Knobs()).count("route-map BDS-") - 2
            )


def test_every_fault_says_whether_it_applies_to_frr_and_goes_there_when_asked() -> None:
    from bgpdoctor.lab.scenario import FRR_FAULTS

    assert set(FRR_FAULTS) == set(FAULTS)
    for seed in SEEDS:
        sc = generate(seed)
        if not any(sc.hosts[k].is_frr for k in sc.routers):
            continue
        for f in ("ip-forward-disabled", "firewall-blocks-pod-cidr", "mtu-blackhole", "asn-mismatch"):
            p = plan_fault(sc, f, on_frr=True)
            if f == "mtu-blackhole" and not any(sc.hosts[k].is_frr for k in sc.site_routers):
                continue  # an uplink is a site router's, never the transit's
            assert p is not None and sc.hosts[p.target].is_frr, (seed, f)
        for f in ("bgp-port-filtered", "node-not-listening"):
            p = plan_fault(sc, f, on_frr=True)
            frr_behind_gobgp = any(
                s.kind == "node" and sc.hosts[s.a.host].speaker == "gobgp" and sc.hosts[s.b.host].is_frr
                for s in sc.sessions
            )
            if frr_behind_gobgp:
                assert p is not None and sc.hosts[p.target].is_frr, (seed, f)
        lb = plan_fault(sc, "lb-pool-in-node-subnet", on_frr=True)
        assert lb is None or sc.hosts[sc.sessions[lb.session or 0].b.host].is_bird


def test_a_fault_on_frr_reconfigures_only_its_own_neighbor() -> None:
    from bgpdoctor.lab.scenario_configs import Knobs, frr_changes, frr_config, knobs_for

    sc = generate(SEED_F)
    healthy = frr_config(sc, "r0", Knobs())
    assert frr_changes(healthy, healthy) == []
    for f in ("asn-mismatch", "node-not-listening", "bird-ebgp-no-policy"):
        p = plan_fault(sc, f, on_frr=True)
        assert p is not None and p.session is not None and sc.hosts[p.target].is_frr
        neighbor = sc.sessions[p.session].end("r0").neighbor
        broken = frr_config(sc, "r0", knobs_for([p]))
        for forth, text in ((frr_changes(healthy, broken), broken), (frr_changes(broken, healthy), healthy)):
            assert forth[0] == f"router bgp {sc.hosts['r0'].asn}" and forth[-1] == "exit", forth
            assert [line for line in forth if line.startswith("no ")] == [f"no neighbor {neighbor}"]
            mine = [
                line.strip() for line in text.splitlines() if line.strip().startswith(f"neighbor {neighbor} ")
            ]
            assert [line for line in forth if line.startswith("neighbor ")] == mine


@pytest.mark.skipif(not Path("/usr/lib/frr/bgpd").exists(), reason="FRR is not installed")
def test_frr_configs_pass_frrs_own_checker() -> None:
    from bgpdoctor.lab.frr import check_config
    from bgpdoctor.lab.scenario_configs import Knobs, frr_config, knobs_for

    for seed in (3, 15, 19):  # an FRR transit, an FRR site router with a GoBGP node, two FRR sites
        sc = generate(seed)
        for key in [k for k in sc.routers if sc.hosts[k].is_frr]:
            ok, said = check_config(frr_config(sc, key, Knobs()))
            assert ok, (seed, key, said)
        plan = plan_fault(sc, "bird-ebgp-no-policy")
        assert plan is not None
        ok, said = check_config(frr_config(sc, plan.target, knobs_for([plan])))
        assert ok, (seed, said)


def test_the_inventory_names_frr_by_its_vty_socket_directory() -> None:
    sc = generate(SEED_F)
    data = build_inventory(sc)["hosts"]
    for key in sc.routers:
        h = sc.hosts[key]
        entry = data[h.name]
        assert entry["speaker"] == h.speaker
        if h.is_frr:
            assert entry["control_socket"] == str(sc.frr_dir(key))
            assert all("name" not in peer for peer in entry["peers"])


def test_a_namespace_prefix_of_its_own_moves_every_namespace_and_the_run_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bgpdoctor.errors import LabError

    monkeypatch.setenv("BGPDOCTOR_SCENARIO_PREFIX", "bdf-")
    sc = generate(SEED_F)
    assert all(ns.startswith("bdf-15-") for ns in sc.namespaces) and sc.run_dir.name == "bdf-15"
    for wrong in ("bdl-", "bds", "BDF-", "x-", "toolongprefix-"):
        monkeypatch.setenv("BGPDOCTOR_SCENARIO_PREFIX", wrong)
        with pytest.raises(LabError, match="BGPDOCTOR_SCENARIO_PREFIX"):
            generate(SEED_F)


def test_every_fault_is_a_root_cause_of_the_playbooks() -> None:
    from bgpdoctor.engine.rules import load_playbooks

    assert set(FAULTS) <= {p.id for p in load_playbooks()}


def test_node_not_listening_is_only_planned_where_a_gobgp_node_exists() -> None:
    for seed in SEEDS:
        sc = generate(seed)
        has_gobgp = any(sc.hosts[n].speaker == "gobgp" for n in sc.nodes)
        assert (plan_fault(sc, "node-not-listening") is not None) == has_gobgp


# -- the sample, for real (root) -----------------------------------------------------------------
# A, A with every name redrawn, C and K. A: two sites over an L2 switch namespace, BIRD 2 routers,
# GoBGP nodes. C: two sites over a transit router, a BIRD 1.6 router with a GoBGP node, a BIRD 2
# router with two calico-like BIRD 1.6 nodes that learn routes. K: the smallest shape that showed
# two engine misses (calico-like BIRD 1.6 nodes routing by default route; asn-mismatch against BIRD
# 1.6), kept as regression cases. F: the smallest shape with an FRR router (FRR towards a GoBGP
# node and a BIRD 2 router over a veth), healthy and with FRR's RFC 8212 default deny. R: the later
# shapes (seeds >= 1000): a BIRD 1.6 router reflecting over iBGP for two calico-like nodes on two
# subnets, a BIRD 2 router with two subnets, GoBGP nodes announcing LoadBalancer VIPs; healthy and
# with the reflector's `rr client` gone.
SEED_A, RENAMED_A, SEED_C, SEED_K, SEED_F, SEED_R = 2, 100002, 33, 246, 15, 1009
SAMPLE: dict[str, tuple[int, int | None, tuple[str, ...], bool]] = {
    "A": (
        SEED_A,
        None,
        ("asn-mismatch", "mtu-blackhole", "node-not-listening", "lb-pool-in-node-subnet"),
        True,
    ),
    "A-renamed": (
        SEED_A,
        RENAMED_A,
        ("asn-mismatch", "mtu-blackhole", "node-not-listening", "lb-pool-in-node-subnet"),
        True,
    ),
    "C": (SEED_C, None, ("ip-forward-disabled", "rp-filter-strict"), True),
    "K": (SEED_K, None, ("asn-mismatch",), False),
    "F": (SEED_F, None, ("bird-ebgp-no-policy",), False),
    "R": (SEED_R, None, ("ibgp-no-route-reflection",), False),
}
# (key, faults) -> why the engine is known to miss it; empty since the misses of K and A's firewall
# hidden behind node-not-listening were fixed. A new miss goes here as a strict xfail, so fixing it
# asks for the marker to go.
KNOWN_MISSES: dict[tuple[str, tuple[str, ...]], str] = {}


def _case_param(key: str, faults: tuple[str, ...]) -> object:
    reason = KNOWN_MISSES.get((key, faults))
    marks = (
        [pytest.mark.xfail(strict=True, raises=AssertionError, reason=f"FINDING: {reason}")] if reason else []
    )
    return pytest.param(key, faults, id=f"{key}-{'+'.join(faults) or 'healthy'}", marks=marks)


def _pair_names(key: str) -> tuple[str, ...]:
    seed, names, _, _ = SAMPLE[key]
    pair = independent_pair(generate(seed, names))
    assert pair is not None
    return pair[0].name, pair[1].name


root_only = pytest.mark.skipif(os.geteuid() != 0, reason="scenarios need root (namespaces, veths, nft)")


class Sample:
    """Each scenario of SAMPLE is built, diagnosed in every case and torn down on first use."""

    def __init__(self) -> None:
        self.runs: dict[str, SeedRun] = {}

    def outcomes(self, key: str) -> list[Outcome]:
        if key not in self.runs:
            seed, names, faults, pair = SAMPLE[key]
            self.runs[key] = run_seed(seed, list(faults), pair=pair, names_seed=names)
        run = self.runs[key]
        if run.error is not None:  # a broken scenario must fail even a case expected to fail
            pytest.fail(f"{key}: {run.shape}: {run.error}")
        return run.outcomes

    def case(self, key: str, faults: tuple[str, ...]) -> Outcome:
        found = [o for o in self.outcomes(key) if o.faults == faults]
        if not found:
            pytest.fail(f"{key}: no case {faults} in {[o.faults for o in self.outcomes(key)]}")
        if found[0].error is not None:
            pytest.fail(f"{key} {faults}: {found[0].error}")
        return found[0]


@pytest.fixture(scope="module")
def sample() -> Sample:
    return Sample()


@pytest.mark.lab
@root_only
@pytest.mark.parametrize(("key", "faults"), [_case_param(k, ()) for k in SAMPLE])
def test_a_healthy_scenario_has_no_finding(key: str, faults: tuple[str, ...], sample: Sample) -> None:
    o = sample.case(key, faults)
    assert o.exit_code == 0 and o.diagnoses == [] and o.unexplained == [], o.said()


@pytest.mark.lab
@root_only
@pytest.mark.parametrize(
    ("key", "faults"), [_case_param(k, (f,)) for k, (_, _, faults, _) in SAMPLE.items() for f in faults]
)
def test_a_fault_is_the_top_diagnosis(key: str, faults: tuple[str, ...], sample: Sample) -> None:
    o = sample.case(key, faults)
    assert o.root_causes[:1] == list(faults) and o.exit_code == 1, o.said()


@pytest.mark.lab
@root_only
@pytest.mark.parametrize(
    ("key", "faults"), [_case_param(k, _pair_names(k)) for k, (_, _, _, pair) in SAMPLE.items() if pair]
)
def test_two_independent_faults_are_both_found(key: str, faults: tuple[str, ...], sample: Sample) -> None:
    o = sample.case(key, faults)
    assert set(faults) <= set(o.root_causes) and o.exit_code == 1, o.said()


@pytest.mark.lab
@root_only
def test_redrawn_names_give_the_same_root_causes(sample: Sample) -> None:
    a, b = sample.outcomes("A"), sample.outcomes("A-renamed")
    assert [o.faults for o in a] == [o.faults for o in b]
    for x, y in zip(a, b, strict=True):
        assert (x.root_causes, x.exit_code) == (y.root_causes, y.exit_code), (x.said(), y.said())
        # and on the same hosts: each named by its place in the scenario, not by its name
        assert sample.runs["A"].keyed(x) == sample.runs["A-renamed"].keyed(y), (x.said(), y.said())
