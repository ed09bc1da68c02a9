"""The pure half of bgpdoctor.kube.services: EndpointSlices, Services and MetalLB objects as read."""

from __future__ import annotations

from typing import Any

from bgpdoctor.kube.selectors import LabelSelector
from bgpdoctor.kube.services import (
    ENDPOINTSLICES,
    MetalLbAdvertisement,
    MetalLbPool,
    MetalLbView,
    ServiceIntent,
    parse_service_intent,
    ready_endpoints,
    service_state,
)
from bgpdoctor.kube.view import RawCluster


def slice_of(svc: str, endpoints: list[dict[str, Any]], namespace: str = "shop") -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"{svc}-abc",
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": svc},
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
    }


def test_ready_endpoints_follow_the_api_semantics() -> None:
    slices = [
        slice_of(
            "web",
            [
                {"addresses": ["10.42.1.5"], "conditions": {"ready": True}, "nodeName": "n1"},
                {"addresses": ["10.42.1.6"], "conditions": {}, "nodeName": "n1"},  # absent: ready
                {"addresses": ["10.42.2.5"], "conditions": {"ready": False}, "nodeName": "n2"},
                {"addresses": ["10.42.3.5"], "conditions": {"ready": True}},  # no nodeName
            ],
        ),
        slice_of("empty", []),
        {"metadata": {"name": "manual", "namespace": "shop"}, "endpoints": [{"nodeName": "n9"}]},
    ]
    per_node, unattributed = ready_endpoints(slices)
    assert per_node == {"shop/web": {"n1": 2}, "shop/empty": {}}
    assert unattributed == {"shop/web": 1}


def test_only_services_with_an_outside_ip_are_kept() -> None:
    cluster_ip = {"metadata": {"name": "db", "namespace": "shop"}, "spec": {"type": "ClusterIP"}}
    pending_lb = {"metadata": {"name": "new", "namespace": "shop"}, "spec": {"type": "LoadBalancer"}}
    external = {
        "metadata": {"name": "ext", "namespace": "shop"},
        "spec": {"type": "ClusterIP", "externalIPs": ["203.0.113.10"], "externalTrafficPolicy": "Local"},
    }
    assert parse_service_intent(cluster_ip) is None
    assert parse_service_intent(pending_lb) is None
    svc = parse_service_intent(external)
    assert svc is not None and svc.ips == ["203.0.113.10"] and svc.external_traffic_policy == "Local"


def test_forbidden_endpoint_slices_are_unknown_with_the_servers_words() -> None:
    problem = 'endpointslices: forbidden (403): User "viewer" cannot list resource "endpointslices"'
    raw = RawCluster(context="home", server="https://127.0.0.1:6443", problems=[problem])
    raw.resources[ENDPOINTSLICES] = None
    state = service_state(raw)
    assert state.ready_nodes is None and state.endpoints_unknown == problem
    raw.objects[ENDPOINTSLICES] = []
    assert service_state(raw).ready_nodes == {}  # read, and empty: known to have none


def test_metallb_pool_of_a_service_by_annotation_or_range() -> None:
    pools = [
        MetalLbPool("a", "metallb-system", {}, ["10.20.30.0/28"]),
        MetalLbPool("b", "metallb-system", {"tier": "edge"}, ["10.20.40.10-10.20.40.20"]),
    ]
    view = MetalLbView(pools=pools)

    def svc(ip: str, pool: str | None = None) -> ServiceIntent:
        return ServiceIntent("shop", "web", {}, "Cluster", [ip], [], pool_annotation=pool)

    assert view.pool_of(svc("10.20.40.15")) is pools[1]
    assert view.pool_of(svc("10.20.40.21")) is None
    assert view.pool_of(svc("10.20.40.21", pool="a")) is pools[0]
    every = MetalLbAdvertisement("BGPAdvertisement", "all", [], [], [], [])
    by_label = MetalLbAdvertisement("BGPAdvertisement", "edge", [], [LabelSelector({"tier": "edge"})], [], [])
    assert every.selects_pool(pools[0]) and every.selects_pool(pools[1])
    assert not by_label.selects_pool(pools[0]) and by_label.selects_pool(pools[1])
