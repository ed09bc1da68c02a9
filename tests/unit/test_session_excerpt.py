"""A session quotes its neighbor's entry of the daemon's list, a path the route each hop used.

Quoting a router's whole `show protocols all` in every one of its sessions made reports grow with
the square of its peers (75 MB per session check at 200 nodes) and hid the block that matters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bgpdoctor.drivers import NeighborState, driver_for
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate

REPO = Path(__file__).resolve().parents[2]


def _evidence(run: str, check: str, subject: str) -> list[Any]:
    inv, path, nodes, collected = load_recording(REPO / "captures" / "runs" / f"{run}.json")
    report = evaluate(inv, path, collected, RunOptions(nodes=nodes))
    (result,) = [r for r in report.results if r.check == check and r.host == subject]
    return list(result.evidence)


def test_a_bird_session_quotes_its_own_protocol_block_verbatim() -> None:
    _inv, _path, _nodes, collected = load_recording(REPO / "captures" / "runs" / "node-not-listening.json")
    whole = collected.facts["router-mine"].outputs["bird.protocols"].stdout
    (own,) = [
        e
        for e in _evidence("node-not-listening", "bgp-session-established", "router-mine<->sakamoto")
        if e.host == "router-mine" and e.command.startswith("birdc")
    ]
    assert own.note == "its entry for sakamoto"
    lines = own.output.splitlines()
    assert lines[0].split()[:2] == ["Name", "Proto"] and lines[1].split()[0] == "sakamoto"
    assert "Neighbor address: 192.168.6.80" in own.output
    assert "yuuko_k8s" not in own.output and "router_home" not in own.output
    assert all(line in whole.splitlines() for line in lines)  # quoted, not rewritten
    assert len(own.output) < len(whole) / 2


def test_a_gobgp_session_quotes_its_neighbor_object() -> None:
    (own,) = [
        e
        for e in _evidence("node-not-listening", "bgp-session-established", "router-mine<->sakamoto")
        if e.host == "sakamoto" and "gobgp" in e.command
    ]
    (entry,) = json.loads(own.output)
    assert entry["conf"]["neighbor_address"] == "192.168.6.1"


def test_an_frr_neighbor_is_cut_out_of_the_neighbors_json_and_a_missing_one_is_not() -> None:
    text = (REPO / "captures" / "outputs" / "frr" / "f1_neighbors.txt").read_text()
    frr = driver_for("frr")
    assert frr is not None
    cut = frr.excerpt(text, NeighborState(address="10.213.2.2", name=None, state="established"))
    assert cut is not None and list(json.loads(cut)) == ["10.213.2.2"]
    assert json.loads(cut)["10.213.2.2"] == json.loads(text)["10.213.2.2"]
    assert frr.excerpt(text, NeighborState(address="10.9.9.9", name=None, state="idle")) is None


def test_unreadable_or_foreign_output_is_quoted_whole() -> None:
    bird, gobgp = driver_for("bird2"), driver_for("gobgp")
    assert bird is not None and gobgp is not None
    neighbor = NeighborState(address="10.0.0.2", name="peer1", state="up")
    assert bird.excerpt("BIRD 2.0.12 ready.\nsyntax error\n", neighbor) is None
    assert gobgp.excerpt("not json", neighbor) is None
    assert gobgp.excerpt('{"conf": {}}', neighbor) is None


def test_a_pod_path_quotes_the_route_each_hop_used_and_the_whole_table_where_it_stops() -> None:
    _inv, _path, _nodes, collected = load_recording(REPO / "captures" / "runs" / "mtu-blackhole.json")
    evidence = _evidence("mtu-blackhole", "pod-route-present", "sakamoto->yuuko-k8s")
    routes = {e.host: e for e in evidence if e.command == "ip -j route show table main"}
    assert "yuuko-k8s" not in routes  # it delivers locally: no route was used there
    for host in ("sakamoto", "router-mine", "router-home"):
        (entry,) = json.loads(routes[host].output)
        whole = json.loads(collected.facts[host].outputs["ip.route"].stdout)
        assert entry in whole and routes[host].note == f"the route {host} uses"


def test_a_path_that_stops_quotes_the_whole_table_of_the_hop_without_a_route() -> None:
    _inv, _path, _nodes, collected = load_recording(
        REPO / "captures" / "runs" / "bird-kernel-export-none.json"
    )
    evidence = _evidence("bird-kernel-export-none", "pod-route-present", "sakamoto->yuuko-k8s")
    routes = {e.host: e for e in evidence if e.command == "ip -j route show table main"}
    # router-home has no route to yuuko-k8s's pods: its whole table is what shows that
    assert routes["router-home"].output == collected.facts["router-home"].outputs["ip.route"].stdout.rstrip()
    assert len(json.loads(routes["router-mine"].output)) == 1
