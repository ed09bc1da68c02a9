"""lint reads Kubernetes manifests through the live cluster's parsers and selector evaluators, and
names only root causes that are playbooks."""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

import pytest

from bgpdoctor import safe_yaml
from bgpdoctor.kube.derive import node_bgp
from bgpdoctor.kube.view import RawCluster, build_view
from bgpdoctor.lint import lint_paths, root_causes
from bgpdoctor.lint.checks import ConfiguredNetwork, build_network
from bgpdoctor.lint.loader import load_paths
from bgpdoctor.lint.model import UnknownRootCause

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "lint"
LINT_SOURCES = Path(__file__).resolve().parents[3] / "bgpdoctor" / "lint"

NODES = """\
apiVersion: v1
kind: Node
metadata:
  name: wds-1
  labels: {region: WDS-east, bgp: yes, enabled: true}
status:
  addresses: [{type: InternalIP, address: 10.0.1.11}]
---
apiVersion: v1
kind: Node
metadata:
  name: hkg-1
  labels: {region: HKG, bgp: no}
status:
  addresses: [{type: InternalIP, address: 10.0.2.11}]
"""


def _calico(tmp_path: Path, selectors: list[str]) -> Path:
    docs = [NODES]
    for i, sel in enumerate(selectors):
        docs.append(
            "apiVersion: crd.projectcalico.org/v1\nkind: BGPPeer\n"
            f"metadata: {{name: peer-{i}}}\n"
            f'spec: {{nodeSelector: "{sel}", peerIP: 10.0.{i}.1, asNumber: 65000}}\n'
        )
    (tmp_path / "calico.yaml").write_text("---\n".join(docs))
    return tmp_path


def _lint_selected(tmp_path: Path) -> dict[str, set[str]]:
    net = build_network(load_paths([str(tmp_path)]))
    return {s.name.split(" ")[0]: {p.name for p in s.peers} for s in net.speakers if s.kind == "calico"}


def _live_selected(tmp_path: Path) -> dict[str, set[str]]:
    docs = [d for d in safe_yaml.load_all((tmp_path / "calico.yaml").read_text(), "c", core_schema=True) if d]
    raw = RawCluster(context="t", server="https://127.0.0.1:1")
    raw.objects = {
        "nodes": [d for d in docs if d["kind"] == "Node"],
        "bgppeers": [d for d in docs if d["kind"] == "BGPPeer"],
    }
    raw.resources = {"nodes": "v1", "bgppeers": "crd.projectcalico.org/v1"}
    peers = {nb.node: nb.selected_by for nb in node_bgp(build_view(raw))}
    return {
        node: {s.removeprefix("BGPPeer/") for s in by if s.startswith("BGPPeer/")}
        for node, by in peers.items()
    }


def test_calico_starts_with_selector_selects_the_node(tmp_path: Path) -> None:
    """`region starts with 'WDS'` raised in lint's own evaluator (an input error plus a false
    node-not-selected) while the live path matched it."""
    res = lint_paths([str(_calico(tmp_path, ["region starts with 'WDS'"]))])
    assert [p for p in res.problems if p.kind == "error"] == []
    assert [f.root_cause for f in res.findings] == []
    assert _lint_selected(tmp_path) == {"wds-1": {"peer-0"}, "hkg-1": set()}


def test_lint_and_the_live_cluster_select_the_same_nodes(tmp_path: Path) -> None:
    selectors = [
        "region starts with 'WDS'",
        "region ends with 'east'",
        "region contains 'KG'",
        "bgp == 'yes'",  # YAML 1.2: the label `yes` is the string "yes", not True
        "enabled == 'true'",
        "has(bgp) && region not in {'HKG'}",
        "!has(region) || bgp == 'no'",
    ]
    _calico(tmp_path, selectors)
    lint = _lint_selected(tmp_path)
    assert lint == _live_selected(tmp_path)
    assert lint == {
        "wds-1": {"peer-0", "peer-1", "peer-3", "peer-4", "peer-5"},
        "hkg-1": {"peer-2", "peer-6"},
    }


def test_unparsable_selector_is_one_input_problem_naming_its_line(tmp_path: Path) -> None:
    _calico(tmp_path, ["region == WDS"])  # Calico wants quoted values
    res = lint_paths([str(tmp_path)])
    errors = [(os.path.basename(p.file), p.line) for p in res.problems if p.kind == "error"]
    assert errors == [("calico.yaml", 20)]


def test_yaml_boolean_in_a_cilium_match_labels_is_the_string_true(tmp_path: Path) -> None:
    (tmp_path / "nodes.yaml").write_text(NODES)
    (tmp_path / "bgp.yaml").write_text(
        "apiVersion: cilium.io/v2\nkind: CiliumBGPClusterConfig\nmetadata: {name: bgp}\n"
        "spec:\n  nodeSelector:\n    matchLabels: {enabled: true}\n"
        "  bgpInstances:\n  - name: i\n    localASN: 65001\n"
        "    peers: [{name: r, peerAddress: 10.0.1.1, peerASN: 65000}]\n"
    )
    net = build_network(load_paths([str(tmp_path)]))
    assert [s.name for s in net.speakers if s.kind == "cilium"] == ["wds-1 (Cilium)"]


def test_unknown_label_selector_operator_is_an_input_problem_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "nodes.yaml").write_text(NODES)
    (tmp_path / "bgp.yaml").write_text(
        "apiVersion: cilium.io/v2\nkind: CiliumBGPClusterConfig\nmetadata: {name: bgp}\n"
        "spec:\n  nodeSelector:\n    matchExpressions: [{key: rack, operator: Gt, values: ['1']}]\n"
        "  bgpInstances: [{name: i, localASN: 65001, peers: []}]\n"
    )
    res = lint_paths([str(tmp_path)])
    assert [(os.path.basename(p.file), p.line) for p in res.problems if p.kind == "error"] == [
        ("bgp.yaml", 6)
    ]


def _objects(path: Path) -> list[dict[str, Any]]:
    """The Kubernetes objects of a manifest file, a NodeList's items included."""
    docs = [
        d for d in safe_yaml.load_all(path.read_text(), str(path), core_schema=True) if isinstance(d, dict)
    ]
    lists = [d.get("items") for d in docs if str(d.get("kind")).endswith("List")]
    return docs + [{"kind": "Node", **i} for items in lists if isinstance(items, list) for i in items]


@pytest.mark.parametrize(
    "case", ["seed000/broken", "seed001/broken", "seed002/broken", "seed003/broken", "repos/flux-vars"]
)
def test_lint_reads_the_same_models_as_the_live_cluster(case: str) -> None:
    """One reader: lint's models of a manifest equal the live path's for the same objects."""
    lint = load_paths([str(FIX / case)]).k8s
    docs = [d for p in sorted((FIX / case).rglob("*.yaml")) for d in _objects(p)]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for d in docs:
        by_kind.setdefault(str(d.get("kind")), []).append(d)
    raw = RawCluster(context=None, server="")
    plurals = {
        "Node": "nodes", "CiliumBGPClusterConfig": "ciliumbgpclusterconfigs",
        "CiliumBGPPeerConfig": "ciliumbgppeerconfigs", "CiliumBGPAdvertisement": "ciliumbgpadvertisements",
        "CiliumLoadBalancerIPPool": "ciliumloadbalancerippools", "BGPPeer": "bgppeers",
        "BGPConfiguration": "bgpconfigurations",
    }  # fmt: skip
    for kind, plural in plurals.items():
        raw.objects[plural] = by_kind.get(kind, [])
        raw.resources[plural] = "x/v1"
    live = build_view(raw)
    assert live.cilium is not None and live.calico is not None
    assert lint.nodes == live.nodes
    assert lint.cluster_configs == live.cilium.cluster_configs
    assert lint.peer_configs == live.cilium.peer_configs
    assert lint.advertisements == live.cilium.advertisements
    assert lint.lb_pools == live.cilium.lb_pools
    assert lint.calico_peers == live.calico.peers
    assert lint.nodes or lint.calico_peers or lint.cluster_configs


def _is_saying(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Saying"


def _named_root_causes() -> list[tuple[str, int, str]]:
    """Every root-cause id lint's code names: the first argument of ConfiguredNetwork.add, and the
    keys of the words lint has for a playbook that matches (`{"asn-mismatch": Saying(...)}`)."""
    found = []
    for path in sorted(LINT_SOURCES.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            said = []
            if isinstance(node, ast.Dict):
                said += [k for k, v in zip(node.keys, node.values, strict=True) if _is_saying(v)]
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "conclude":
                said += [k for arg in node.args if isinstance(arg, ast.Dict) for k in arg.keys]
            for key in said:
                assert isinstance(key, ast.Constant), (
                    f"{path.name}:{node.lineno}: root cause is not a literal"
                )
                found.append((path.name, node.lineno, str(key.value)))
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add"
                and len(node.args) >= 4
            ):
                first = node.args[0]
                if isinstance(first, ast.Attribute) and first.attr == "root_cause":
                    continue  # a conclusion of the judge, named by its playbook
                assert isinstance(first, ast.Constant), (
                    f"{path.name}:{node.lineno}: root cause is not a literal"
                )
                found.append((path.name, node.lineno, str(first.value)))
    return found


def test_every_root_cause_lint_can_name_is_a_playbook() -> None:
    named = _named_root_causes()
    # + mesh-vs-rr-transition (lint/cluster_intent.py)
    assert len({cause for _, _, cause in named}) == 19
    assert [n for n in named if n[2] not in root_causes()] == []


def test_every_lint_finding_is_a_conclusion_of_the_playbooks() -> None:
    """No root cause is written in lint's Python: ConfiguredNetwork.add is only handed the cause a
    playbook matched (issue 9: lint is a source of facts, not a second rule engine)."""
    direct = []
    for path in sorted(LINT_SOURCES.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add"
                and len(node.args) >= 4
                and isinstance(node.args[0], ast.Constant)
            ):
                direct.append(f"{path.name}:{node.lineno}: {node.args[0].value}")
    assert direct == []


def test_a_root_cause_that_is_not_a_playbook_is_refused() -> None:
    with pytest.raises(UnknownRootCause, match="not-a-playbook"):
        ConfiguredNetwork().add("not-a-playbook", "error", None, "x")
