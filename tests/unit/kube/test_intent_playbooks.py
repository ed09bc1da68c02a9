"""Every cause the cluster's intent shows is the playbooks' word, not bgpdoctor.kube's: the records
state facts, and a copied playbook whose `match` no longer holds removes the finding (from the
report, the `cluster-config` check and the cause a recording keeps), while a copy under another id
renames it. bgpdoctor/kube/ names no playbook id at all (engine/cluster_legacy.py reads the ids of
older recordings)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bgpdoctor.engine.cluster import ClusterFinding, cause_of, cluster_subjects
from bgpdoctor.engine.rules import load_playbooks
from bgpdoctor.engine.run import Collected, RunOptions, evaluate
from bgpdoctor.engine.world import World
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.kube.discover import Discovery
from bgpdoctor.report.model import Report
from bgpdoctor.transport.base import CommandResult
from tests.fakeapi import clusters as c
from tests.unit.kube.test_cilium_bind_capability import seed001_listening
from tests.unit.kube.test_cluster_intent import (
    TAKEN,
    calico_with_reflectors,
    gobgp_neighbors,
    k3s_with_metallb,
    svclb,
)
from tests.unit.kube.test_ipam_announcements import cilium_node, rib, seed001_ipam
from tests.unit.kube.test_ipam_announcements import discover as discover_ipam  # noqa: F401 (fixture)
from tests.unit.kube.test_metallb_speaker import discover as discover_metallb  # noqa: F401 (fixture)
from tests.unit.kube.test_metallb_speaker import (
    equinix_cluster,
    equinix_log,
    relabelled_cluster,
    service_status,
    up_log,
)
from tests.unit.kube.test_services_api import metallb
from tests.unit.lint.test_lint_playbooks import _playbook_copy

ROOT = Path(__file__).resolve().parents[3]
Outputs = dict[str, dict[str, CommandResult]]


@dataclass
class Case:
    """One intent cause: the fact its playbook matches, the objects and what the daemons printed."""

    cause: str
    fact: str
    objects: Callable[[], list[dict[str, Any]]]
    fixture: str = "discover_metallb"
    extra: Callable[[], dict[str, Any]] = dict
    outputs: Callable[[], Outputs] = dict
    world: bool = False  # judged against the daemons: the discovered inventory is the run's


def _collision() -> list[dict[str, Any]]:
    return [
        *c.calico_seed002(mesh=False),
        metallb("IPAddressPool", "public", {"addresses": ["10.20.30.1-10.20.30.14"]}),
        metallb(
            "BGPPeer",
            "wds-router",
            {"myASN": 64512, "peerASN": 64512, "peerAddress": "192.168.100.1"},
            version="v1beta2",
        ),
    ]


def _local_peer() -> list[dict[str, Any]]:
    local = c.cr(
        "crd.projectcalico.org/v1",
        "BGPPeer",
        "metallb-local",
        {"node": "kubemaster", "peerIP": "192.168.100.251", "asNumber": 64513},
    )
    return [*c.calico_seed002(), local]


CASES = [
    Case("mesh-vs-rr-transition", "mesh_with_reflectors", lambda: calico_with_reflectors(True)),
    Case("duplicate-lb-controller", "lb_controller_conflict", lambda: k3s_with_metallb(svclb("web"))),
    Case("speaker-collision", "speaker_collision", _collision),
    Case("readiness-gated-on-peer", "readiness_gated_on_peer", _local_peer),
    Case(
        "cilium-no-bind-capability",
        "cilium_no_bind_capability",
        lambda: [*seed001_listening("cluster"), c.cilium_daemonset()],
    ),
    Case(
        "max-prefix-exceeded",
        "max_prefix_hit",
        equinix_cluster,
        extra=lambda: {"logs": {"ny5-node-1": equinix_log("169.254.255.1")}},
    ),
    Case(
        "stale-speaker-config",
        "speaker_config_stale",
        relabelled_cluster,
        extra=lambda: {
            "logs": {"k3s-1": up_log(), "k3s-2": up_log()},
            "statuses": (service_status("k3s-1", "web", ["tor"]), service_status("k3s-2", "web", [])),
        },
    ),
    Case(
        "stale-speaker-config",
        "speaker_config_stale",
        c.seed001,
        outputs=lambda: {"sakamoto": {"gobgp.neighbors": gobgp_neighbors("192.168.6.1", 64600)}},
        world=True,
    ),
    Case(
        "unallocated-prefix-advertised",
        "advertises_unallocated_prefix",
        lambda: seed001_ipam("cluster-pool"),
        fixture="discover_ipam",
        extra=lambda: {"ciliumnodes": (cilium_node("sakamoto", ["10.216.137.32/27"]),)},
        outputs=lambda: {"sakamoto": {"gobgp.rib": rib("10.216.137.0/24")}},
        world=True,
    ),
]
IDS = [f"{x.cause}-{i}" for i, x in enumerate(CASES)]


def _run(case: Case, d: Discovery, playbooks: Path | None) -> tuple[Report, set[str], set[str | None]]:
    """The report of a run over the cluster's records; the causes its failing cluster subjects
    name; the causes the records would be recorded with (ClusterFinding.to_dict)."""
    from bgpdoctor.engine.active import ActiveResults
    from bgpdoctor.engine.collect import HostFacts

    inv = d.inventory if case.world else Inventory(hosts={})
    outputs = case.outputs()
    records = [ClusterFinding.of(f) for f in d.findings + d.speaker_checks]
    facts = {n: HostFacts(n, inv.hosts[n], outputs=r, contacted=True) for n, r in outputs.items()}
    extra = [str(playbooks)] if playbooks else []
    collected = Collected(list(outputs), facts, ActiveResults(), TAKEN, 1, records, "home")
    report = evaluate(inv, "discovered", collected, RunOptions(nodes=[], extra_playbooks=extra))
    judges = load_playbooks(extra or None)
    subjects = cluster_subjects(records, inv, "home", World(inv, facts), judges)
    failed = {str(s.facts["root_cause"]) for s in subjects if s.facts.get("ok") is False}
    return report, failed, {cause_of(r, judges) for r in records}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_playbook_decides_each_intent_finding(
    case: Case, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    d = request.getfixturevalue(case.fixture)(*case.objects(), **case.extra())
    report, failed, recorded = _run(case, d, None)
    assert case.cause in {x.root_cause for x in report.diagnoses}
    assert case.cause in failed and case.cause in recorded
    results = [r for r in report.results if r.check == "cluster-config" and f"[{case.cause}]" in r.reason]
    assert results and {r.status for r in results} == {"fail"}

    never = _playbook_copy(tmp_path, case.cause, match=[{"fact": case.fact, "op": "eq", "value": "never"}])
    report, failed, recorded = _run(case, d, never)
    assert case.cause not in {x.root_cause for x in report.diagnoses}
    assert case.cause not in failed
    # a record the daemons decide is recorded before they are read: its fact unknown, a cause that
    # matches on it stays undecided (unknown is not false); the others are decided by the API alone
    assert case.world or case.cause not in recorded
    assert not [r for r in report.results if r.check == "cluster-config" and f"[{case.cause}]" in r.reason]

    (tmp_path / "mine").mkdir()
    mine = _playbook_copy(tmp_path / "mine", case.cause, id=f"my-{case.cause}", priority=1)
    report, failed, recorded = _run(case, d, mine)
    assert f"my-{case.cause}" in {x.root_cause for x in report.diagnoses}
    assert f"my-{case.cause}" in failed and f"my-{case.cause}" in recorded
    assert case.cause not in failed


def _playbook_ids() -> set[str]:
    return {p.stem for p in (ROOT / "playbooks").glob("*.yaml")}


def _strings(path: Path) -> list[tuple[int, str]]:
    """Every string literal of the module (docstrings and f-string parts included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_kube_names_no_root_cause() -> None:
    """bgpdoctor/kube states facts: no string in it is a playbook id, or quotes one ("id", `id`,
    'id'), so no cause can be decided there instead of by the playbooks."""
    ids = _playbook_ids()
    assert len(ids) == len(list((ROOT / "playbooks").glob("*.yaml"))) and "kubelet-unreachable" in ids
    found = []
    for path in sorted((ROOT / "bgpdoctor" / "kube").rglob("*.py")):
        for line, text in _strings(path):
            quoted = {i for i in ids for q in ('"', "'", "`") if f"{q}{i}{q}" in text}
            if text in ids or quoted:
                found.append(f"{path.relative_to(ROOT)}:{line}: {sorted(quoted or {text})}")
    assert found == []


def test_the_scan_finds_an_id_it_is_shown(tmp_path: Path) -> None:
    """The scan above would see a cause named as a value, as an argument or quoted in a docstring."""
    sample = tmp_path / "sample.py"
    sample.write_text('"""Example: Finding("speaker-collision")."""\nX = "mesh-vs-rr-transition"\n')
    texts = [t for _, t in _strings(sample)]
    assert "mesh-vs-rr-transition" in texts and any('"speaker-collision"' in t for t in texts)


def test_a_misspelled_fact_in_a_record_is_an_error_naming_it() -> None:
    """A fact the catalogue does not know is never dropped silently: replaying such a record fails
    with a line naming the fact (recordings turn it into one line naming the file)."""
    from bgpdoctor.kube.families import CALICO_MESH

    record = ClusterFinding(
        "", "bgpconfiguration/default", "m", {}, {"mesh_with_reflector": True}, family=CALICO_MESH
    )
    with pytest.raises(ValueError, match="cluster facts not in the catalogue: mesh_with_reflector"):
        cluster_subjects([record], Inventory(hosts={}), "home")


def test_an_older_recordings_intent_ids_are_read_as_facts() -> None:
    """Recordings made before the records stated facts hold the cause id; engine/cluster_legacy.py
    reads it as facts, and a copied playbook under another id names the finding, as for new ones."""
    old = ClusterFinding(
        "mesh-vs-rr-transition",
        "bgpconfiguration/default",
        "Calico's node-to-node mesh is still on",
        {
            "reflector_nodes": {"rr-1": "244.0.0.1"},
            "rr_peers": ["peer-rr"],
            "mesh": "nodeToNodeMeshEnabled: true",
        },
    )
    (s,) = cluster_subjects([old], Inventory(hosts={}), "home")
    assert s.facts["root_cause"] == "mesh-vs-rr-transition" and s.facts["mesh_with_reflectors"] is True
    assert s.hosts == ["rr-1"] and s.facts["rr_cluster_ids"] == ["244.0.0.1"]
