"""The view's parsers: Kubernetes' string semantics for labels, objects of any shape, and the
file:line each model keeps when it is read from a manifest (lint reads files through them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgpdoctor.kube import view
from bgpdoctor.kube.view import LbBlock, Located, Source

PARSERS: list[Callable[[Any], object]] = [
    view.parse_node,
    view.parse_service,
    view.parse_cilium_config,
    view.parse_cilium_cluster_config,
    view.parse_cilium_peer_config,
    view.parse_cilium_advertisement,
    view.parse_cilium_node_config,
    view.parse_cilium_node_override,
    view.parse_lb_pool,
    view.parse_peering_policy,
    view.parse_calico_peer,
    view.parse_calico_bgp_config,
    view.parse_calico_ippool,
    view.parse_calico_node_status,
]
KEYS = [
    "metadata", "name", "labels", "annotations", "spec", "status", "addresses", "type", "address",
    "bgpInstances", "peers", "peerAddress", "peerASN", "peerConfigRef", "localASN", "families",
    "advertisements", "matchLabels", "matchExpressions", "values", "blocks", "cidrs", "cidr", "start",
    "stop", "virtualRouters", "neighbors", "advertisedPathAttributes", "nodeSelector", "peerIP",
    "asNumber", "ipip", "peersV4", "bgp", "agent", "birdV4", "service", "routing-mode", "tunnel",
    "podCIDRs", "podCIDR", "conditions", "loadBalancer", "ingress", "transport", "localAddress",
    "InternalIP", "projectcalico.org/IPv4Address", "nodeToNodeMeshEnabled", "serviceLoadBalancerIPs",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8),
    st.sampled_from(["10.0.0.1", "10.0.0.0/24", "LoadBalancer", "InternalIP", "9" * 4400, "²", "host:n"]),
)  # fmt: skip
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(obj=st.dictionaries(st.sampled_from(KEYS), JSONISH, max_size=5))
def test_no_object_shape_makes_a_parser_raise(obj: dict[str, Any]) -> None:
    for parse in PARSERS:
        parse(obj)


def test_node_labels_are_strings_as_kubernetes_stores_them() -> None:
    node = view.parse_node({"metadata": {"name": "n", "labels": {"bgp": True, "rack": "yes", "null": None}}})
    assert node.labels == {"bgp": "true", "rack": "yes", "null": ""}


def test_node_addresses_come_from_status_and_address_annotations() -> None:
    node = view.parse_node(
        {
            "metadata": {
                "name": "n",
                "annotations": {
                    "projectcalico.org/IPv4Address": "10.0.1.11/24",
                    "k3s.io/internal-ip": "10.0.9.9,2001:db8::9",
                    "projectcalico.org/ASNumber": "64512",
                },
            },
            "status": {"addresses": [{"type": "InternalIP", "address": "10.0.1.11"}, {"type": "Hostname"}]},
        }
    )
    assert node.addresses == ["10.0.1.11", "10.0.9.9"]
    assert node.subnets == ["10.0.1.0/24"]
    assert node.calico_asn == 64512


def _located(value: Any, line: int = 1) -> Any:
    """A mapping as a file reader gives it: each key one line below its parent."""
    if isinstance(value, dict):
        lines = {k: line + 1 + i for i, k in enumerate(value)}
        return Located({k: _located(v, lines[k]) for k, v in value.items()}, "bgp.yaml", line, lines)
    if isinstance(value, list):
        return [_located(v, line + 1 + i) for i, v in enumerate(value)]
    return value


def test_a_located_object_keeps_the_line_of_each_field() -> None:
    cc = view.parse_cilium_cluster_config(
        _located(
            {
                "metadata": {"name": "bgp"},
                "spec": {
                    "nodeSelector": {"matchLabels": {"bgp": "on"}},
                    "bgpInstances": [{"name": "i", "localASN": 65001, "peers": [{"peerASN": 65000}]}],
                },
            }
        )
    )
    assert cc.source == Source("bgp.yaml", 1, {"node_selector": 4})
    inst = cc.instances[0]
    assert inst.source is not None and inst.source.line_of("local_asn") == inst.source.line + 2
    peer = inst.peers[0]
    assert peer.source is not None and peer.source.line_of("asn") == peer.source.line + 1
    assert peer.source.line_of("address") == peer.source.line  # not stated: the object's own line


def test_an_api_object_has_no_source() -> None:
    assert view.parse_lb_pool({"spec": {"blocks": [{"cidr": "10.0.6.0/24"}]}}).blocks[0].source is None


@pytest.mark.parametrize(
    ("block", "nets"),
    [
        (LbBlock("10.0.6.0/24", None, None), ["10.0.6.0/24"]),
        (LbBlock(None, "10.0.6.1", "10.0.6.2"), ["10.0.6.1/32", "10.0.6.2/32"]),
        (LbBlock(None, "10.0.6.9", "10.0.6.1"), []),
        (LbBlock("2001:db8::/64", None, None), []),
        (LbBlock("x", None, None), []),
    ],
)
def test_lb_block_networks(block: LbBlock, nets: list[str]) -> None:
    assert [str(n) for n in block.networks()] == nets


@pytest.mark.parametrize(
    ("text", "design"),
    [("native", "native"), ("disabled", "native"), ("vxlan", "tunnel"), ("Tunnel", "tunnel"), ("", None)],
)
def test_cilium_routing_design(text: str, design: str | None) -> None:
    assert view.cilium_routing(text) == design


def test_calico_peer_address_drops_the_port() -> None:
    peer = view.parse_calico_peer({"spec": {"peerIP": "10.0.0.1:1790"}})
    assert peer.peer_address == "10.0.0.1"
    assert view.parse_calico_peer({"spec": {"peerIP": "2001:db8::1"}}).peer_address == "2001:db8::1"
