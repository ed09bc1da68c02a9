"""`--node NAME` visits the node, its peers, the routers on its paths and one node per other site
of its routing domain, and finds the same root cause as the whole run for a fault on its paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bgpdoctor.engine import run as run_module
from bgpdoctor.engine.active import ActiveResults
from bgpdoctor.engine.collect import HostFacts
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import Collected, RunOptions, collect, evaluate, narrow
from bgpdoctor.inventory import scope_hosts
from bgpdoctor.inventory_model import Inventory

RUNS = Path(__file__).resolve().parents[2] / "captures" / "runs"


@pytest.fixture(scope="module")
def lab() -> Inventory:
    """The twelve-host lab: two sites over ZeroTier, the seed sites wds/iepl and lb (own domains)."""
    return load_recording(RUNS / "healthy.json")[0]


def test_node_scope_in_the_lab(lab: Inventory) -> None:
    assert len(lab.hosts) == 12
    home = ["router-mine", "router-home", "sakamoto", "yuuko-k8s", "metrics-server"]
    assert scope_hosts(lab, ["yuuko-k8s"]) == home
    assert scope_hosts(lab, ["sakamoto"]) == home
    # its routing domain has no other site with nodes: one node of its own site, and the backbone
    # router its pod routes are passed to
    assert scope_hosts(lab, ["kubemaster"]) == [
        "metrics-server",
        "gateway",
        "cn-ns",
        "kubemaster",
        "kubenode-wds1",
    ]
    assert scope_hosts(lab, ["master-01"]) == ["metrics-server", "tor", "master-01", "node-01"]


def test_node_scope_adds_the_routers_between_sites() -> None:
    """A chain of sites: the routers in between are on the node's paths; a site off the chain is not."""
    hosts: dict[str, object] = {}
    chain = ["a", "b", "c"]
    for i, site in enumerate(chain):
        peers = [{"host": f"n-{site}", "address": f"10.0.{i}.10", "asn": 65000 + i}]
        peers += [
            {"host": f"r-{o}", "address": f"10.9.0.{j + 1}", "asn": 65000 + j}
            for j, o in enumerate(chain)
            if abs(i - j) == 1
        ]
        hosts[f"r-{site}"] = {"role": "router", "site": site, "connect": {"local": True}, "peers": peers}
        hosts[f"n-{site}"] = {
            "role": "node",
            "site": site,
            "connect": {"local": True},
            "peers": [{"host": f"r-{site}", "address": f"10.0.{i}.1", "asn": 65000 + i}],
        }
    hosts["n-a2"] = {**hosts["n-a"], "peers": [{"host": "r-a", "address": "10.0.0.1", "asn": 65000}]}  # type: ignore[dict-item]
    hosts["r-x"] = {"role": "router", "site": "x", "connect": {"local": True}}
    inv = Inventory.model_validate({"version": 1, "hosts": hosts})
    # n-c is the far end at site c; r-b sits between the sites; n-a2 (its own site) and r-x are not on a path
    assert scope_hosts(inv, ["n-a"]) == ["r-a", "n-a", "r-b", "n-b", "r-c", "n-c"]


# recordings of a whole or wider run, and a node whose paths carry the recorded fault
NARROWED = [
    ("traced/md5-mismatch", ["yuuko-k8s"]),
    ("traced/rp-filter-strict", ["yuuko-k8s"]),
    ("traced/bgp-port-filtered", ["yuuko-k8s"]),
    ("traced/healthy", ["yuuko-k8s"]),
    ("healthy", ["sakamoto"]),
    ("bgp-filtered-unseen", ["yuuko-k8s"]),
    ("combined/ip-forward-disabled+mtu-blackhole", ["yuuko-k8s"]),
    ("bgp-next-hop-unreachable", ["kubemaster"]),
    ("ibgp-no-route-reflection", ["kubemaster", "kubenode-wds1"]),
    ("ecmp-single-path", ["master-01"]),
    ("connected-route-shadows-bgp", ["master-01"]),
]


@pytest.mark.parametrize(("name", "nodes"), NARROWED)
def test_node_scope_finds_what_the_wider_run_found(name: str, nodes: list[str]) -> None:
    inv, path, recorded_nodes, collected = load_recording(RUNS / f"{name}.json")
    wide = evaluate(inv, path, collected, RunOptions(nodes=recorded_nodes))
    scoped = narrow(inv, collected, nodes)
    report = evaluate(inv, path, scoped, RunOptions(nodes=nodes))
    assert len(scoped.scope) <= 5 < len(collected.scope)
    assert [d.root_cause for d in report.diagnoses] == [d.root_cause for d in wide.diagnoses]
    assert report.summary.findings == wide.summary.findings
    assert report.summary.unknown <= wide.summary.unknown


def test_replay_honours_node(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bgpdoctor",
            "replay",
            str(RUNS / "traced" / "md5-mismatch.json"),
            "--node",
            "yuuko-k8s",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["scope"] == ["router-mine", "router-home", "sakamoto", "yuuko-k8s", "metrics-server"]
    assert report["diagnoses"][0]["root_cause"] == "md5-mismatch"
    bad = subprocess.run(
        [sys.executable, "-m", "bgpdoctor", "replay", str(RUNS / "healthy.json"), "--node", "yuko-k8s"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "unknown node 'yuko-k8s'" in bad.stderr


def test_run_collects_the_hosts_its_paths_cross(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scope that left out the routers (an inventory without the sessions that name them) grows
    along the traced paths until it holds every host on the way."""
    inv, _path, _nodes, recorded = load_recording(RUNS / "traced" / "healthy.json")
    asked: list[list[str]] = []

    def replayed(names: list[str], *_args: object, **_kwargs: object) -> dict[str, HostFacts]:
        asked.append(list(names))
        return {n: recorded.facts[n] for n in names}

    monkeypatch.setattr(run_module, "collect_all", replayed)
    monkeypatch.setattr(run_module, "run_active", lambda *_a, **_k: ActiveResults())
    options = RunOptions(nodes=["yuuko-k8s"])
    got: Collected = collect(inv, ["yuuko-k8s", "sakamoto"], lambda _n: None, options, lambda _m: None)  # type: ignore[arg-type,return-value]
    assert asked[0] == ["yuuko-k8s", "sakamoto"]
    assert set(got.scope) == {"router-mine", "router-home", "sakamoto", "yuuko-k8s"}
    assert "router-home" in asked[1]
    # a whole run never grows: it already holds every host
    asked.clear()
    collect(inv, list(inv.hosts), lambda _n: None, RunOptions(), lambda _m: None)  # type: ignore[arg-type,return-value]
    assert asked == [list(inv.hosts)]
