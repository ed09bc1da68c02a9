"""Every object the fake API server serves is real-shaped: it validates against the CRD
openAPIV3Schema (unknown keys flagged, since Kubernetes would prune them silently) or, for core
objects, survives a round trip through the kubernetes client's models."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakeapi import clusters as c
from tests.fakeapi.schema import validate

FIXTURES: dict[str, list[dict[str, Any]]] = {
    "seed001-v2": c.seed001(),
    "seed001-v2alpha1": c.seed001("v2alpha1"),
    "seed000-broken": c.seed000_broken(),
    "seed003": c.seed003(),
    "seed003-broken": c.seed003({"start": "10.0.4.200", "stop": "10.0.4.250"}),
    "peering-policy": c.peering_policy_cluster(),
    "calico-v1": c.calico_seed002(),
    "calico-v3": c.calico_seed002("projectcalico.org/v3"),
    "calico-mesh-off": c.calico_seed002(mesh=False, hkg_region="Tokyo"),
    "calico-ipam-blocks": c.calico_seed002(calico_ipam=True),
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_objects_are_real_shaped(name: str) -> None:
    problems = [p for obj in FIXTURES[name] for p in validate(obj)]
    assert problems == []


def test_validator_flags_a_typo_in_a_custom_resource() -> None:
    obj = c.cluster_config("bgp", None, 64514, [("router-mine", "192.168.6.1", 64513)])
    obj["spec"]["bgpInstances"][0]["peers"][0]["peerASn"] = obj["spec"]["bgpInstances"][0]["peers"][0].pop(
        "peerASN"
    )
    assert any("peerASn: not in the schema" in p for p in validate(obj))


def test_validator_flags_a_wrong_type_and_enum() -> None:
    obj = c.cluster_config("bgp", {"matchExpressions": [{"key": "a", "operator": "Maybe"}]}, 64514, [])
    obj["spec"]["bgpInstances"][0]["localASN"] = "64514"
    problems = validate(obj)
    assert any("localASN" in p for p in problems)
    assert any("Maybe" in p for p in problems)


def test_validator_flags_the_pre_rename_cidrs_field() -> None:
    # spec.cidrs predates every schema in the reference set; parsing still reads it (test_view).
    obj = c.cr("cilium.io/v2alpha1", "CiliumLoadBalancerIPPool", "old", {"cidrs": [{"cidr": "10.0.6.0/24"}]})
    assert any("cidrs: not in the schema" in p for p in validate(obj))


def test_validator_flags_unknown_core_fields() -> None:
    obj = c.node("n1", "10.0.0.1", "10.42.0.0/24")
    obj["spec"]["podCIDRz"] = ["x"]
    assert any("podCIDRz" in p for p in validate(obj))
