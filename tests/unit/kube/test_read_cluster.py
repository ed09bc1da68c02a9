"""The real kubernetes client against the fake API server: discovery, versions, 404 and 403."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bgpdoctor.engine.cluster import cause_of
from bgpdoctor.kube.config import open_client
from bgpdoctor.kube.derive import kube_findings, node_bgp
from bgpdoctor.kube.reader import KubeApiError, read_cluster
from bgpdoctor.kube.view import ClusterView, build_view
from tests.fakeapi import FakeApiServer
from tests.fakeapi import clusters as c


def read(api: FakeApiServer, kubeconfig: Callable[..., str]) -> ClusterView:
    kc = open_client(None, kubeconfig(api), timeout=5)
    try:
        return build_view(read_cluster(kc))
    finally:
        kc.close()


def causes(view: ClusterView) -> list[tuple[str, str]]:
    return sorted((cause, f.subject) for f in kube_findings(view) if (cause := cause_of(f)) is not None)


def test_seed001_prefers_v2_when_v2alpha1_is_also_served(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.seed001())
    api.serve_versions("cilium.io", ["v2alpha1"])
    view = read(api, kubeconfig)
    assert view.resources["ciliumbgpclusterconfigs"] == "cilium.io/v2"
    assert view.resources["bgppeers"] is None
    assert [cc.name for cc in view.cilium.cluster_configs] == ["bgp-local", "bgp-remote"]  # type: ignore[union-attr]
    assert {n.name: (n.internal_ip, n.pod_cidrs, n.ready) for n in view.nodes} == {
        "sakamoto": ("192.168.6.80", ["10.42.0.0/24"], True),
        "yuuko-k8s": ("192.168.0.81", ["10.42.3.0/24"], True),
    }
    peers = {nb.node: [(str(p.address), p.asn) for p in nb.peers] for nb in node_bgp(view)}
    assert peers == {"sakamoto": [("192.168.6.1", 64513)], "yuuko-k8s": [("192.168.0.1", 64515)]}
    assert view.metrics is not None and view.metrics.available is True
    assert causes(view) == []
    assert "GET /apis/cilium.io/v2/ciliumbgpclusterconfigs" in api.requests


def test_v2alpha1_only_cluster(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.seed001("v2alpha1"))
    view = read(api, kubeconfig)
    assert view.resources["ciliumbgpclusterconfigs"] == "cilium.io/v2alpha1"
    assert view.resources["ciliumbgpnodeconfigs"] is None
    peers = {nb.node: [(str(p.address), p.asn, p.advertises) for p in nb.peers] for nb in node_bgp(view)}
    assert peers == {
        "sakamoto": [("192.168.6.1", 64513, ["PodCIDR"])],
        "yuuko-k8s": [("192.168.0.1", 64515, ["PodCIDR"])],
    }
    assert causes(view) == []


def test_seed000_broken_variant(fake_api: Any, kubeconfig: Any) -> None:
    view = read(fake_api(*c.seed000_broken()), kubeconfig)
    assert view.cilium is not None and view.cilium.config is not None
    assert view.cilium.config.auto_direct_node_routes is True
    assert causes(view) == [
        ("auto-direct-routes-across-l3", "configmap/kube-system/cilium-config"),
        ("podcidr-not-advertised", "node/sakamoto"),
        ("podcidr-not-advertised", "node/yuuko-k8s"),
    ]
    states = {nb.node: nb.peers[0].state for nb in node_bgp(view)}
    assert states == {"sakamoto": "established", "yuuko-k8s": "active"}


def test_calico_seed002_crd_v1(fake_api: Any, kubeconfig: Any) -> None:
    view = read(fake_api(*c.calico_seed002()), kubeconfig)
    assert view.cni == "calico" and view.cilium is None
    assert view.resources["bgppeers"] == "crd.projectcalico.org/v1"
    assert view.calico is not None and view.calico.mesh_enabled
    assert [p.cidr for p in view.calico.ippools] == ["10.42.0.0/16"]
    assert not view.calico.ippools[0].encapsulated
    first = {nb.node: str(nb.peers[0].address) for nb in node_bgp(view)}
    assert first == {
        "kubemaster": "192.168.100.1",
        "kubenode-wds-1": "192.168.100.1",
        "kubenode-hkg04": "100.64.1.106",
    }
    assert causes(view) == []


def test_calico_prefers_projectcalico_v3_when_served(fake_api: Any, kubeconfig: Any) -> None:
    v3_only = [o for o in c.calico_seed002("projectcalico.org/v3") if "projectcalico" in o["apiVersion"]]
    api = fake_api(*c.calico_seed002(mesh=False), *v3_only)
    view = read(api, kubeconfig)
    assert view.resources["bgpconfigurations"] == "projectcalico.org/v3"
    assert view.calico is not None and view.calico.mesh_enabled  # the v3 copy has the mesh on


def test_calico_mesh_off_node_not_selected(fake_api: Any, kubeconfig: Any) -> None:
    view = read(fake_api(*c.calico_seed002(mesh=False, hkg_region="Tokyo")), kubeconfig)
    assert causes(view) == [("node-not-selected", "node/kubenode-hkg04")]


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"start": "10.0.6.1", "stop": "10.0.6.254"}, []),
        ({"cidr": "10.0.6.0/24"}, []),
        (
            {"start": "10.0.4.200", "stop": "10.0.4.250"},
            [("lb-pool-in-node-subnet", "ciliumloadbalancerippool/lb-pool")],
        ),
        ({"cidr": "10.0.4.128/25"}, [("lb-pool-in-node-subnet", "ciliumloadbalancerippool/lb-pool")]),
    ],
)
def test_seed003_lb_pool(fake_api: Any, kubeconfig: Any, block: dict[str, str], expected: list[Any]) -> None:
    view = read(fake_api(*c.seed003(block)), kubeconfig)
    assert [s.name for s in view.lb_services] == ["my-service"]
    assert causes(view) == expected


def test_crds_not_installed_means_feature_not_used(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(c.node("n1", "10.0.0.1", "10.42.0.0/24"), c.node("n2", "10.0.1.1", None))
    view = read(api, kubeconfig)
    assert view.cilium is None and view.calico is None and view.metrics is None
    assert all(v is None for k, v in view.resources.items() if k not in ("nodes", "services"))
    assert causes(view) == []
    assert view.nodes[1].pod_cidrs == []


def test_installed_but_unused_crds(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(c.node("n1", "10.0.0.1", "10.42.0.0/24"))
    api.install("cilium.io", "ciliumbgpclusterconfigs", ["v2"])
    view = read(api, kubeconfig)
    assert view.resources["ciliumbgpclusterconfigs"] == "cilium.io/v2"
    assert view.cilium is not None and view.cilium.cluster_configs == []
    assert causes(view) == []  # no config and no enable-bgp-control-plane: BGP is not in use


def test_forbidden_optional_resource_is_a_problem_not_a_crash(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.seed001())
    api.forbidden.add("/apis/cilium.io/v2/ciliumbgpnodeconfigs")
    view = read(api, kubeconfig)
    assert view.resources["ciliumbgpnodeconfigs"] is None
    assert any("ciliumbgpnodeconfigs" in p and "403" in p for p in view.problems)
    assert causes(view) == []


def test_forbidden_nodes_is_an_error(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.seed001())
    api.forbidden.add("/api/v1/nodes")
    with pytest.raises(
        KubeApiError, match=r"context 'home' \(http://127\.0\.0\.1:\d+\): nodes: forbidden"
    ) as exc:
        read(api, kubeconfig)
    assert exc.value.kind == "forbidden" and exc.value.exit_code == 3
