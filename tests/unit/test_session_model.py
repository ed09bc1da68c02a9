"""One model of a BGP session's intent: the inventory, a daemon's configuration (lint) and the
cluster's BGP objects (kube) read the same session end into the same PeerIntent, each stated field
saying where it was stated; no other class holds those fields."""

from __future__ import annotations

import ast
from ipaddress import IPv4Address
from pathlib import Path

import bgpdoctor
from bgpdoctor.engine.sessions import expected_sessions
from bgpdoctor.engine.world import World
from bgpdoctor.intent import PeerIntent
from bgpdoctor.inventory import load_inventory, peer_intents
from bgpdoctor.kube.derive import node_bgp
from bgpdoctor.kube.view import build_view
from bgpdoctor.lint.checks import build_network
from bgpdoctor.lint.loader import load_paths
from tests.fakeapi import clusters as c
from tests.unit.kube.test_view_derive import raw_of

# sakamoto's session with its router, 192.168.6.1 in AS 64513, two hops away, as each source says it
INVENTORY = """\
version: 1
hosts:
  sakamoto:
    role: node
    speaker: bird2
    connect: {local: true}
    asn: 64514
    peers:
      - host: router-mine
        address: 192.168.6.1
        asn: 64513
        multihop: 2
        name: router_mine
  router-mine:
    role: router
    speaker: bird2
    connect: {local: true}
    asn: 64513
    peers:
      - {host: sakamoto, address: 192.168.6.80, asn: 64514, multihop: 2}
"""

BIRD = """\
router id 192.168.6.80;
protocol bgp router_mine {
  local as 64514;
  neighbor 192.168.6.1 as 64513;
  multihop 2;
  ipv4 { import all; export all; };
}
"""

WANTED = {
    "address": IPv4Address("192.168.6.1"),
    "asn": 64513,
    "local_asn": 64514,
    "multihop": 2,
    "name": "router_mine",
}


def _stated(p: PeerIntent) -> dict[str, object]:
    return {k: v for k, v in p.values().items() if v is not None}


def _from_inventory(tmp_path: Path) -> PeerIntent:
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    return peer_intents(tmp_path / "inventory.yaml")["sakamoto"][0]


def _from_bird(tmp_path: Path) -> PeerIntent:
    (tmp_path / "sakamoto").mkdir()
    (tmp_path / "sakamoto" / "bird.conf").write_text(BIRD)
    network = build_network(load_paths([str(tmp_path / "sakamoto")]))
    [speaker] = network.speakers
    [peer] = speaker.peers
    return peer


def _from_cluster() -> PeerIntent:
    objs = [
        c.node("sakamoto", "192.168.6.80", "10.42.0.0/24"),
        c.cluster_config("bgp-local", None, 64514, [("router_mine", "192.168.6.1", 64513)], "l3"),
        c.peer_config("l3", multihop=2),
    ]
    [nb] = node_bgp(build_view(raw_of(objs)))
    [peer] = nb.peers
    return peer


def test_inventory_bird_config_and_cilium_state_the_same_session_the_same_way(tmp_path: Path) -> None:
    inv, bird, kube = _from_inventory(tmp_path), _from_bird(tmp_path), _from_cluster()
    assert _stated(bird) == _stated(kube) == WANTED
    assert _stated(inv) == {**WANTED, "host": "router-mine"}  # only the inventory knows the other host
    # what none of them states stays unstated (None), not a default
    assert bird.values() == kube.values() == {**inv.values(), "host": None}
    assert inv.passive is None and inv.md5 is None and bird.as4 is None and kube.passive is None


def test_each_stated_field_names_where_it_was_stated(tmp_path: Path) -> None:
    inv, bird, kube = _from_inventory(tmp_path), _from_bird(tmp_path), _from_cluster()
    where = {name: {k: str(p.origin(k)) for k in _stated(p)} for name, p in (("inv", inv), ("bird", bird))}
    yaml = tmp_path / "inventory.yaml"
    assert where["inv"] == {
        "host": f"{yaml}:9",
        "address": f"{yaml}:10",
        "asn": f"{yaml}:11",
        "multihop": f"{yaml}:12",
        "name": f"{yaml}:13",
        "local_asn": f"{yaml}:7",
    }
    conf = tmp_path / "sakamoto" / "bird.conf"
    assert where["bird"] == {
        "address": f"{conf}:4",
        "asn": f"{conf}:4",
        "local_asn": f"{conf}:3",
        "multihop": f"{conf}:5",
        "name": f"{conf}:2",
    }
    assert {k: str(kube.origin(k)) for k in _stated(kube)} == {
        "address": "CiliumBGPClusterConfig/bgp-local",
        "asn": "CiliumBGPClusterConfig/bgp-local",
        "local_asn": "CiliumBGPClusterConfig/bgp-local",
        "name": "CiliumBGPClusterConfig/bgp-local",
        "multihop": "CiliumBGPPeerConfig/l3",
    }
    assert (
        str(kube.origin("config")) == "CiliumBGPPeerConfig/l3"
        and kube.source == "CiliumBGPClusterConfig/bgp-local"
    )


def test_a_run_holds_the_inventorys_intent_for_each_session_end(tmp_path: Path) -> None:
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    world = World(load_inventory(tmp_path / "inventory.yaml"), {})
    [session] = expected_sessions(world, ["sakamoto", "router-mine"])
    ends = {e.host: e for e in session.ends}
    peer = ends["sakamoto"].peer
    assert isinstance(peer, PeerIntent)
    assert _stated(peer) == {**WANTED, "host": "router-mine"}
    assert peer.origin("multihop") is not None and str(peer.origin("multihop")) == "inventory"


# Classes that carry a peer address and an AS but are not a second model of the intent: the one
# model, the inventory file's schema, what daemons report (observed), the Kubernetes objects as they
# are written (a reader's input) and the lab generator's description of what to build.
NOT_INTENT = {
    "intent.py:PeerIntent": "the one model",
    "inventory_model.py:Peer": "the inventory file's schema; Peer.intent() gives the model",
    "parsers/routers.py:NeighborState": "observed: a daemon's neighbor entry",
    "parsers/gobgp.py:GobgpNeighbor": "observed: gobgp neighbor -j",
    "kube/ciliumdbg.py:CiliumPeer": "observed: cilium-dbg bgp peers",
    "kube/view.py:CiliumPeerState": "observed: a CiliumBGPNodeConfig's status",
    "kube/view.py:CiliumPeer": "a CiliumBGPClusterConfig peer as written",
    "kube/view.py:CiliumNeighbor": "a CiliumBGPPeeringPolicy neighbor as written",
    "kube/view.py:CalicoPeer": "a Calico BGPPeer as written",
    "kube/services.py:MetalLbPeer": "a MetalLB BGPPeer as written",
    "lab/scenario.py:End": "what the lab generator builds",
}
ADDRESS = {"address", "peer_addr", "peer_address", "neighbor", "neighbor_address", "peer_ip"}
AS = {"asn", "peer_asn", "peer_as", "remote_as"}


def test_no_other_class_defines_the_session_intent_fields() -> None:
    package = Path(bgpdoctor.__file__).resolve().parent
    found = set()
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            own = {
                s.target.id
                for s in node.body
                if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
            }
            if own & ADDRESS and own & AS:
                found.add(f"{path.relative_to(package)}:{node.name}")
    assert found == set(NOT_INTENT)
