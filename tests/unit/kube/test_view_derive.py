"""Pure parsing (RawCluster -> ClusterView) and derivation (facts, findings), no server."""

from __future__ import annotations

from typing import Any

from bgpdoctor.engine.cluster import cause_of
from bgpdoctor.kube.derive import advertisement_facts, kube_findings, lb_pool_overlaps, node_bgp, node_subnets
from bgpdoctor.kube.reader import CUSTOM_RESOURCES
from bgpdoctor.kube.view import (
    RawCluster,
    build_view,
    parse_calico_ippool,
    parse_cilium_config,
    parse_lb_pool,
)
from tests.fakeapi import clusters as c


def raw_of(objs: list[dict[str, Any]]) -> RawCluster:
    """What read_cluster would return for these objects (all served at their own version)."""
    raw = RawCluster(context="t", server="http://127.0.0.1:1")
    raw.objects["nodes"] = [o for o in objs if o["kind"] == "Node"]
    raw.objects["services"] = [o for o in objs if o["kind"] == "Service"]
    raw.resources.update({"nodes": "v1", "services": "v1"})
    for o in objs:
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "cilium-config":
            raw.cilium_config = o["data"]
        if o["kind"] == "APIService":
            raw.metrics_apiservice = o
    for plural in CUSTOM_RESOURCES:
        raw.resources.setdefault(plural, None)
    for o in objs:
        if "/" in o["apiVersion"] and o["kind"] != "APIService":
            from tests.fakeapi.schema import crd_index

            group = o["apiVersion"].split("/")[0]
            plural = crd_index().plural(group, o["kind"])
            raw.resources[plural] = o["apiVersion"]
            raw.objects.setdefault(plural, []).append(o)
    return raw


def by_node(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return {nb.node: nb for nb in node_bgp(build_view(raw_of(objs)))}


def test_seed001_nodes_pick_their_site_router() -> None:
    nodes = by_node(c.seed001())
    sak, yuuko = nodes["sakamoto"], nodes["yuuko-k8s"]
    assert sak.selected_by == ["CiliumBGPClusterConfig/bgp-local"]
    assert [(str(p.address), p.asn, p.source) for p in sak.peers] == [
        ("192.168.6.1", 64513, "CiliumBGPClusterConfig/bgp-local")
    ]
    assert yuuko.selected_by == ["CiliumBGPClusterConfig/bgp-remote"]
    assert [(str(p.address), p.asn) for p in yuuko.peers] == [("192.168.0.1", 64515)]
    assert sak.asn == yuuko.asn == 64514
    assert sak.advertises_pod_cidr is True and sak.peers[0].advertises == ["PodCIDR"]
    assert sak.peers[0].state == "established"
    assert sak.listens is False and sak.speaker == "gobgp"
    assert kube_findings(build_view(raw_of(c.seed001()))) == []


def test_missing_peer_config_means_nothing_is_advertised() -> None:
    objs = [o for o in c.seed001() if o["kind"] != "CiliumBGPPeerConfig"]
    nodes = by_node(objs)
    assert nodes["sakamoto"].peers[0].problems == [
        "peerConfigRef 'l3-bgp-peer-config' names no CiliumBGPPeerConfig"
    ]
    causes = {(cause_of(f), f.subject) for f in kube_findings(build_view(raw_of(objs)))}
    assert causes == {
        ("podcidr-not-advertised", "node/sakamoto"),
        ("podcidr-not-advertised", "node/yuuko-k8s"),
    }


def test_node_with_unmatched_labels_is_not_selected() -> None:
    objs = c.seed001()
    # drop bgp-remote: yuuko-k8s (node-type=remote) is then excluded by bgp-local's NotIn
    objs = [o for o in objs if o["metadata"]["name"] != "bgp-remote"]
    findings = kube_findings(build_view(raw_of(objs)))
    assert [(cause_of(f), f.subject) for f in findings] == [("node-not-selected", "node/yuuko-k8s")]
    assert findings[0].evidence["node_selectors"] == {"bgp-local": "node-type notin (remote)"}
    assert findings[0].evidence["labels"]["node-type"] == "remote"


def test_selected_node_without_peers() -> None:
    objs = c.seed001()
    for o in objs:
        if o["metadata"]["name"] == "bgp-remote":
            o["spec"]["bgpInstances"][0]["peers"] = []
    findings = kube_findings(build_view(raw_of(objs)))
    assert [(cause_of(f), f.subject) for f in findings] == [("node-without-peers", "node/yuuko-k8s")]


def test_tunnel_mode_needs_no_podcidr_advertisement() -> None:
    objs = [o for o in c.seed001() if o["kind"] != "CiliumBGPAdvertisement"]
    for o in objs:
        if o["kind"] == "ConfigMap":
            o["data"]["routing-mode"] = "tunnel"
    assert kube_findings(build_view(raw_of(objs))) == []


def test_lb_pool_legacy_cidrs_field_is_read() -> None:
    pool = parse_lb_pool({"metadata": {"name": "old"}, "spec": {"cidrs": [{"cidr": "10.0.4.0/26"}]}})
    assert pool.field_name == "cidrs" and pool.blocks[0].cidr == "10.0.4.0/26"
    view = build_view(raw_of(c.seed003()))
    assert view.cilium is not None
    view.cilium.lb_pools = [pool]
    overlaps = lb_pool_overlaps(view)
    assert [(o.block, o.subnet, o.subnet_assumed) for o in overlaps] == [("10.0.4.0/26", "10.0.4.0/24", True)]


def test_lb_pool_outside_node_subnet_is_fine_and_known_subnets_win() -> None:
    view = build_view(raw_of(c.seed003()))
    assert lb_pool_overlaps(view) == []
    # with the real mask (/21) the pool 10.0.6.0/24 *is* inside the node subnet
    known = {n.name: "10.0.0.0/21" for n in view.nodes}
    assert node_subnets(view, known)["master-01"][1] is False
    assert [o.subnet for o in lb_pool_overlaps(view, known)] == ["10.0.0.0/21"]


def test_service_advertisement_facts() -> None:
    view = build_view(raw_of(c.seed003()))
    facts = {(f.name, f.type): f for f in advertisement_facts(view)}
    assert facts[("lb-ips", "Service")].selects_services == ["default/my-service"]
    assert facts[("lb-ips", "Service")].used_by == ["default-peer"]
    assert facts[("pod-cidr", "PodCIDR")].selects_services is None


def test_service_advertisement_without_selector_selects_nothing() -> None:
    objs = c.seed003()
    for o in objs:
        if o["metadata"]["name"] == "lb-ips":
            del o["spec"]["advertisements"][0]["selector"]
    findings = kube_findings(build_view(raw_of(objs)))
    assert [(cause_of(f), f.subject) for f in findings] == [
        ("lb-advert-not-configured", "service/default/my-service")
    ]


def test_cilium_config_parsing_old_and_new_keys() -> None:
    new = parse_cilium_config(
        {
            "routing-mode": "native",
            "auto-direct-node-routes": "true",
            "mtu": "1370",
            "enable-bgp-control-plane": "true",
        }
    )
    assert (new.routing_mode, new.auto_direct_node_routes, new.mtu, new.bgp_control_plane) == (
        "native",
        True,
        1370,
        True,
    )
    old = parse_cilium_config({"tunnel": "disabled", "cluster-pool-ipv4-cidr": "10.42.0.0/16"})
    assert old.routing_mode == "native" and old.cluster_pool_cidrs == ["10.42.0.0/16"]
    assert parse_cilium_config({"tunnel": "vxlan"}).routing_mode == "tunnel"


def test_calico_ippool_old_ipip_shape() -> None:
    pool = parse_calico_ippool(
        {
            "metadata": {"name": "p"},
            "spec": {"cidr": "10.42.0.0/16", "ipip": {"enabled": True, "mode": "cross-subnet"}},
        }
    )
    assert pool.ipip_mode == "CrossSubnet" and pool.encapsulated


def test_calico_seed002_peers_by_region_and_mesh() -> None:
    nodes = by_node(c.calico_seed002())
    master = nodes["kubemaster"]
    assert master.speaker == "bird1" and master.asn == 64512 and master.listens is True
    assert [(str(p.address), p.source) for p in master.peers] == [
        ("192.168.100.1", "BGPPeer/route-reflector-wds"),
        ("192.168.100.252", "node-to-node mesh"),
        ("10.2.5.7", "node-to-node mesh"),
    ]
    assert [p.state for p in master.peers] == ["Established"] * 3
    hkg = nodes["kubenode-hkg04"]
    assert str(hkg.peers[0].address) == "100.64.1.106" and hkg.peers[0].name == "route-reflector-global"
    assert kube_findings(build_view(raw_of(c.calico_seed002()))) == []


def test_calico_mesh_off_node_outside_every_region_is_not_selected() -> None:
    objs = c.calico_seed002(mesh=False, hkg_region="Tokyo")
    findings = kube_findings(build_view(raw_of(objs)))
    assert [(cause_of(f), f.subject) for f in findings] == [("node-not-selected", "node/kubenode-hkg04")]


def test_calico_disable_bgp_export() -> None:
    objs = c.calico_seed002()
    for o in objs:
        if o["kind"] == "IPPool":
            o["spec"]["disableBGPExport"] = True
    causes = [cause_of(f) for f in kube_findings(build_view(raw_of(objs)))]
    assert causes == ["podcidr-not-advertised"] * 3


def test_calico_node_subnet_comes_from_the_annotation() -> None:
    view = build_view(raw_of(c.calico_seed002()))
    net, assumed = node_subnets(view)["kubemaster"]
    assert (str(net), assumed) == ("192.168.100.0/24", False)


def test_seed000_broken_findings() -> None:
    findings = kube_findings(build_view(raw_of(c.seed000_broken())))
    got = sorted((cause, f.subject) for f in findings if (cause := cause_of(f)) is not None)
    assert got == [
        ("auto-direct-routes-across-l3", "configmap/kube-system/cilium-config"),
        ("podcidr-not-advertised", "node/sakamoto"),
        ("podcidr-not-advertised", "node/yuuko-k8s"),
    ]
    adr = next(f for f in findings if cause_of(f) == "auto-direct-routes-across-l3")
    assert adr.evidence["subnets"] == {"192.168.0.0/24": ["yuuko-k8s"], "192.168.6.0/24": ["sakamoto"]}
    # the APIService's state is a fact, no cause: only a probe of a kubelet says it is unreachable
    (kub,) = [f for f in findings if f.subject == "apiservice/v1beta1.metrics.k8s.io"]
    assert cause_of(kub) is None and kub.evidence["reason"] == "FailedDiscoveryCheck"
    assert kub.facts == {"metrics_api_available": False, "metrics_api_reason": "FailedDiscoveryCheck"}


def test_peering_policy_v1() -> None:
    nodes = by_node(c.peering_policy_cluster())
    m = nodes["master-01"]
    assert m.selected_by == ["CiliumBGPPeeringPolicy/rack0"]
    assert [(str(p.address), p.asn, p.multihop, p.advertises) for p in m.peers] == [
        ("10.0.4.250", 65000, 2, ["PodCIDR"])
    ]
    assert nodes["node-01"].selected_by == []


def test_no_cni_resources_means_no_bgp() -> None:
    view = build_view(raw_of([c.node("n1", "10.0.0.1", "10.42.0.0/24")]))
    assert view.cni == "unknown" and view.cilium is None and view.calico is None and view.metrics is None
    assert node_bgp(view)[0].speaker == "none"
    assert kube_findings(view) == []
