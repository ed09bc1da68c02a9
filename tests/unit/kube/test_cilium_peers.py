"""`cilium-dbg bgp peers` parsers against outputs quoted from Cilium's own threads
(captures/outputs/cilium/README.md names each source)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bgpdoctor.kube.ciliumdbg import CiliumPeer, as_gobgp_neighbors, parse_bgp_peers
from bgpdoctor.parsers import ParseError

FIXTURES = Path(__file__).resolve().parents[3] / "captures" / "outputs" / "cilium"


def read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "pr25408_bgp_peers.json",
            CiliumPeer("172.0.0.1", 65000, 65001, "established", 8.144, received=1, accepted=0, advertised=1),
        ),
        (
            "pr24612_bgp_peers.json",
            CiliumPeer(
                "10.0.0.1", 65010, 65010, "established", 2133.0, received=11, accepted=11, advertised=1
            ),
        ),
        (
            "pr24612_bgp_peers.txt",
            CiliumPeer("10.0.0.1", 65010, 65010, "established", 2130.0, received=11, advertised=1),
        ),
        (
            "pr33035_bgp_peers.txt",
            CiliumPeer("10.0.2.1", 65000, 65002, "established", 253.0, received=6, advertised=2, port=179),
        ),
        (
            "issue39861_bgp_peers.txt",
            CiliumPeer(
                "10.55.20.111", 4294967291, 4294967291, "active", 0.0, received=0, advertised=2, port=179
            ),
        ),
        (
            "pr30506_cli_bgp_peers.txt",
            CiliumPeer("10.0.1.1", 65000, 65001, "active", 0.0, received=0, advertised=0),
        ),
    ],
)
def test_real_outputs(name: str, expected: CiliumPeer) -> None:
    assert parse_bgp_peers(read(name)) == [expected]


def test_mapped_to_the_gobgp_session_facts() -> None:
    (n,) = as_gobgp_neighbors(read("pr25408_bgp_peers.json"))
    assert (n.address, n.peer_as, n.local_as, n.state, n.passive, n.admin_down) == (
        "172.0.0.1",
        65000,
        65001,
        "established",
        False,
        False,
    )
    (down,) = as_gobgp_neighbors(read("issue39861_bgp_peers.txt"))
    assert (down.address, down.state) == ("10.55.20.111", "active")


def test_no_peers_and_garbage() -> None:
    assert parse_bgp_peers("[]\n") == [] and parse_bgp_peers("null") == [] and parse_bgp_peers("") == []
    with pytest.raises(ParseError):
        parse_bgp_peers('Error: cannot get peers list: Get "http:///var/run/cilium/cilium.sock/v1/bgp/peers"')
    with pytest.raises(ParseError):
        parse_bgp_peers('[{"local-asn": 1}]')
