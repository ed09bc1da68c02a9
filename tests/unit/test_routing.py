"""Routing domains (which nodes are paired for pod paths) and prefix containment, on the lab inventory."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bgpdoctor.engine.active import routing_domains
from bgpdoctor.engine.routing import RouteTable, address_owners, covers
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.lab.inventory import build_inventory
from bgpdoctor.lab.topology import LabSettings
from bgpdoctor.parsers.iproute import Address, Route


def test_lab_sites_are_separate_routing_domains() -> None:
    inv = Inventory.model_validate(build_inventory(LabSettings(run_dir=Path("/tmp/x"))))
    d = routing_domains(inv)
    assert d["sakamoto"] == d["yuuko-k8s"] == d["router-mine"] == d["router-home"]
    assert d["kubemaster"] == d["kubenode-wds1"] == d["gateway"] == d["cn-ns"]
    assert d["master-01"] == d["node-01"] == d["tor"]
    assert len({d["sakamoto"], d["kubemaster"], d["tor"], d["metrics-server"]}) == 4


def test_covers() -> None:
    assert covers("10.42.64.64/26", "10.42.64.64/26")
    assert covers("10.42.0.0/16", "10.42.64.64/26")
    assert not covers("10.42.64.64/26", "10.42.0.0/16")
    assert not covers("0.0.0.0/0", "10.42.64.64/26")  # the default route is no learned pod route
    assert not covers("not-a-prefix", "10.0.0.0/8")


def _naive_lookup(routes: list[Route], address: str) -> Route | None:
    """The longest-prefix match as World.lookup did it before the index: every route parsed per call."""
    ip = ipaddress.ip_address(address)
    best, best_len, best_metric = None, -1, 0
    for r in routes:
        try:
            net = ipaddress.ip_network(r.dst, strict=False)
        except ValueError:
            continue
        if ip not in net:
            continue
        metric = r.metric or 0
        if net.prefixlen > best_len or (net.prefixlen == best_len and metric < best_metric):
            best, best_len, best_metric = r, net.prefixlen, metric
    return best


_octet = st.sampled_from([0, 1, 10, 42, 128, 255])
_dst = st.one_of(
    st.builds(lambda a, b, n: f"10.{a}.{b}.0/{n}", _octet, _octet, st.integers(0, 32)),
    st.just("0.0.0.0/0"),
    st.just("not-a-prefix"),
    st.just("fd00::/8"),
)


@settings(max_examples=200, deadline=None)
@given(
    routes=st.lists(
        st.builds(
            lambda d, m, g: Route(dst=d, metric=m, gateway=g),
            _dst,
            st.none() | st.integers(0, 3),
            _octet.map(str),
        ),
        max_size=12,
    ),
    addresses=st.lists(
        st.builds(lambda a, b, c: f"10.{a}.{b}.{c}", _octet, _octet, _octet), min_size=1, max_size=5
    ),
)
def test_indexed_lookup_picks_the_route_the_kernel_would(routes: list[Route], addresses: list[str]) -> None:
    table = RouteTable(routes)
    for address in addresses:
        assert table.lookup(address) is _naive_lookup(routes, address)
    assert table.lookup("fd00::1") is _naive_lookup(routes, "fd00::1")


def test_address_owner_prefers_collected_addresses_then_the_inventory_order() -> None:
    owners = address_owners(
        [
            ("r1", [Address("eth0", "10.0.0.1", 24, 1500, "UP")]),
            ("r2", [Address("eth0", "10.0.0.1", 24, 1500, "UP")]),
        ],
        [("n1", ["10.0.0.1", "10.0.0.9"]), ("n2", ["10.0.0.9"])],
    )
    assert owners == {"10.0.0.1": "r1", "10.0.0.9": "n1"}
