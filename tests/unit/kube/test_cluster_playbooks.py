"""The cluster's configuration is judged by the playbooks, as a live run's facts are: bgpdoctor.kube
states facts, a copied playbook with another `match` changes the cluster finding, and a recording
made before the facts (its findings named by root cause, no API objects) is judged the same way."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bgpdoctor.cli import main
from bgpdoctor.engine.cluster import ClusterFinding, cluster_subjects
from bgpdoctor.engine.facts import names_for
from bgpdoctor.engine.judge import diagnose, judge
from bgpdoctor.engine.rules import load_checks, load_playbooks
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.kube.cluster_intent import intent_findings
from bgpdoctor.kube.derive import KubeFacts, kube_findings
from bgpdoctor.kube.services import ENDPOINTSLICES, ServiceFinding, service_state
from bgpdoctor.kube.view import RawCluster, build_view
from tests.fakeapi import clusters as c
from tests.unit.kube.test_cluster_intent import calico_with_reflectors
from tests.unit.kube.test_run_context import run_args
from tests.unit.kube.test_services_api import endpoint_slice, seed003_with, service
from tests.unit.kube.test_view_derive import raw_of
from tests.unit.lint.test_lint_playbooks import _playbook_copy

Objs = list[dict[str, Any]]


def _unselected() -> Objs:
    return [o for o in c.seed001() if o["metadata"]["name"] != "bgp-remote"]


def _without_peers() -> Objs:
    objs = c.seed001()
    for o in objs:
        if o["metadata"]["name"] == "bgp-remote":
            o["spec"]["bgpInstances"][0]["peers"] = []
    return objs


def _range_pool_in_node_subnet() -> Objs:
    return c.seed003({"start": "10.0.4.200", "stop": "10.0.4.250"})


def _no_pod_cidr_advert() -> Objs:
    return [o for o in c.seed001() if o["kind"] != "CiliumBGPPeerConfig"]


def _service_not_advertised() -> Objs:
    objs = seed003_with(service("my-service", "10.0.6.1", policy="Cluster"))
    for o in objs:
        if o["metadata"]["name"] == "lb-ips":
            del o["spec"]["advertisements"][0]["selector"]
    return objs


def _etp_local_without_ready_endpoint() -> Objs:
    return seed003_with(service("web", "10.0.6.1"), endpoint_slice("web", [("10.60.1.9", "node-01", False)]))


# each cause the cluster's configuration shows, a cluster that shows it, and a fact its playbook matches
CASES: dict[str, tuple[Callable[[], Objs], str]] = {
    "node-not-selected": (_unselected, "unselected_nodes"),
    "node-without-peers": (_without_peers, "bgp_peer_count"),
    "podcidr-not-advertised": (_no_pod_cidr_advert, "advertises_pod_cidrs"),
    "auto-direct-routes-across-l3": (c.seed000_broken, "auto_direct_routes_across_l3"),
    "lb-pool-in-node-subnet": (_range_pool_in_node_subnet, "lb_pool_overlaps"),
    "lb-advert-not-configured": (_service_not_advertised, "lb_advert_missing"),
    "etp-local-no-endpoints": (_etp_local_without_ready_endpoint, "etp_gap"),
}


def _records(objs: Objs) -> list[Any]:
    """What bgpdoctor.kube states of these objects, the EndpointSlices read when there are some."""
    slices = [o for o in objs if o["kind"] == "EndpointSlice"]
    raw: RawCluster = raw_of([o for o in objs if o["kind"] != "EndpointSlice"])
    if not slices:
        return list(kube_findings(build_view(raw)))
    raw.objects[ENDPOINTSLICES] = slices
    raw.resources[ENDPOINTSLICES] = "discovery.k8s.io/v1"
    return list(kube_findings(build_view(raw), services=service_state(raw)))


def _judged(objs: Objs, extra: Path | None = None) -> tuple[set[str], set[str]]:
    """(the causes the `cluster-config` check names, the diagnoses) for the cluster's records."""
    playbooks = load_playbooks([str(extra)] if extra else None)
    checks = load_checks()
    records = [ClusterFinding.of(f) for f in _records(objs)]
    subjects = cluster_subjects(records, Inventory(hosts={}), "t", None, playbooks)
    results = judge(checks, subjects)
    failed = {str(s.facts["root_cause"]) for s in subjects if s.facts.get("ok") is False}
    return failed, {d.root_cause for d in diagnose(playbooks, subjects, results, checks)}


def test_kube_states_facts_and_names_no_cause() -> None:
    for cause, (cluster, fact) in CASES.items():
        records = [f for f in _records(cluster()) if isinstance(f, KubeFacts | ServiceFinding)]
        assert any(fact in f.facts for f in records), cause
        assert not any(hasattr(f, "root_cause") for f in records)
        # named and documented in the catalogue, like every fact a live run states
        assert {name for f in records for name in f.facts} <= set(names_for("cluster")), cause


@pytest.mark.parametrize("cause", sorted(CASES))
def test_an_edited_match_changes_the_cluster_finding(cause: str, tmp_path: Path) -> None:
    cluster, fact = CASES[cause]
    failed, diagnosed = _judged(cluster())
    assert cause in failed and cause in diagnosed
    never = _playbook_copy(tmp_path, cause, match=[{"fact": fact, "op": "eq", "value": "never"}])
    failed, diagnosed = _judged(cluster(), never)
    assert cause not in failed and cause not in diagnosed


def test_an_edited_match_changes_an_intent_finding(tmp_path: Path) -> None:
    """Calico's mesh left on next to route reflectors: the record states the facts, and the
    `cluster-config` check and the diagnoses follow the playbook, not the record's kind."""
    objs = calico_with_reflectors(True)
    raw = raw_of(objs)

    def judged(extra: Path | None = None) -> tuple[set[str], set[str]]:
        playbooks = load_playbooks([str(extra)] if extra else None)
        checks = load_checks()
        records = [ClusterFinding.of(f) for f in intent_findings(build_view(raw), raw)]
        subjects = cluster_subjects(records, Inventory(hosts={}), "t", None, playbooks)
        failed = {str(s.facts["root_cause"]) for s in subjects if s.facts.get("ok") is False}
        return failed, {d.root_cause for d in diagnose(playbooks, subjects, judge(checks, subjects), checks)}

    assert judged() == ({"mesh-vs-rr-transition"}, {"mesh-vs-rr-transition"})
    never = _playbook_copy(
        tmp_path,
        "mesh-vs-rr-transition",
        match=[{"fact": "mesh_with_reflectors", "op": "eq", "value": False}],
    )
    assert judged(never) == (set(), set())
    (tmp_path / "mine").mkdir()
    mine = _playbook_copy(tmp_path / "mine", "mesh-vs-rr-transition", id="my-mesh", priority=1)
    assert judged(mine)[0] == {"my-mesh"}


def test_a_copied_playbook_under_another_id_names_the_finding(tmp_path: Path) -> None:
    """A user's playbook matching the same facts ahead of the built-in one names the finding."""
    mine = _playbook_copy(tmp_path, "node-not-selected", id="my-node-not-selected", priority=1)
    failed, diagnosed = _judged(_unselected(), mine)
    assert failed == {"my-node-not-selected"}
    assert "my-node-not-selected" in diagnosed


def test_run_with_context_follows_the_users_playbook(fake_api: Any, kubeconfig: Any, tmp_path: Path) -> None:
    """`run --context --playbooks DIR`: the cluster-config check and the diagnoses follow the copy."""
    never = _playbook_copy(
        tmp_path,
        "auto-direct-routes-across-l3",
        match=[{"fact": "auto_direct_routes_across_l3", "op": "eq", "value": False}],
    )
    args = [*run_args(kubeconfig(fake_api(*c.seed000_broken())), tmp_path), "--playbooks", str(never)]
    result = CliRunner().invoke(main, args)
    report = json.loads(result.stdout)
    reasons = [r["reason"] for r in report["results"] if r["check"] == "cluster-config"]
    assert reasons and not [r for r in reasons if "auto-direct-routes-across-l3" in r]
    assert "auto-direct-routes-across-l3" not in {d["root_cause"] for d in report["diagnoses"]}
    assert "podcidr-not-advertised" in {d["root_cause"] for d in report["diagnoses"]}


def test_a_recording_holding_only_findings_is_judged_like_its_objects(
    fake_api: Any, kubeconfig: Any, tmp_path: Path
) -> None:
    """Recordings from before `cluster_raw` hold each finding by its root-cause id: replay reads
    their facts and reaches the diagnoses the API objects give."""
    recording = tmp_path / "rec.json"
    api = fake_api(*c.seed000_broken())
    CliRunner().invoke(main, [*run_args(kubeconfig(api), tmp_path), "--record", str(recording)])
    data = json.loads(recording.read_text())
    assert {f["root_cause"] for f in data["cluster"]} >= {
        "auto-direct-routes-across-l3",
        "podcidr-not-advertised",
    }
    from_objects = CliRunner().invoke(main, ["replay", str(recording), "-o", "json"])
    data["cluster_raw"] = None
    recording.write_text(json.dumps(data))
    from_findings = CliRunner().invoke(main, ["replay", str(recording), "-o", "json"])
    assert from_findings.exit_code == from_objects.exit_code == 1, from_findings.stderr
    a, b = json.loads(from_objects.stdout), json.loads(from_findings.stdout)
    assert [(d["root_cause"], d["summary"], d["fixes"]) for d in a["diagnoses"]] == [
        (d["root_cause"], d["summary"], d["fixes"]) for d in b["diagnoses"]
    ]
    assert [r["reason"] for r in a["results"] if r["check"] == "cluster-config"] == [
        r["reason"] for r in b["results"] if r["check"] == "cluster-config"
    ]
