"""An FRR router the nodes peer with over iBGP, not reflecting their routes (split horizon).

Read from real FRR 8.4 outputs and replayed from real runs (scripts/capture_frr_reflection.py: two
BIRD 2 nodes and FRR on one LAN, before and after `route-reflector-client`).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from bgpdoctor.drivers.frr import FRR
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.engine.world import World
from bgpdoctor.parsers import frr
from bgpdoctor.report.model import Report

ROOT = Path(__file__).resolve().parents[2]
FRR_OUT = ROOT / "captures" / "outputs" / "frr"
RECORDINGS = ROOT / "tests" / "fixtures" / "recordings"


def _clients(name: str) -> dict[str | None, bool | None]:
    return {
        n.address: n.reflector_client for n in frr.parse_bgp_neighbors((FRR_OUT / f"{name}.txt").read_text())
    }


def test_frr_says_which_neighbors_are_its_route_reflector_clients() -> None:
    assert _clients("rr_nonclient_neighbors") == {"10.215.0.1": False, "10.215.0.2": False}
    assert _clients("rr_client_neighbors") == {"10.215.0.1": True, "10.215.0.2": True}
    # an eBGP neighbor with ipv4 unicast is no client; one without the family's block cannot say
    assert set(_clients("f1_neighbors").values()) <= {False, None}


def _replay(path: Path) -> Report:
    inv, inv_path, nodes, collected = load_recording(path)
    return evaluate(inv, inv_path, collected, RunOptions(nodes=nodes))


def test_an_frr_router_keeping_the_nodes_routes_back_is_named_with_its_own_fix() -> None:
    report = _replay(RECORDINGS / "frr_reflector_not_reflecting.json")
    [d] = report.diagnoses
    assert (d.root_cause, d.hosts) == ("ibgp-no-route-reflection", ["gw"])
    assert "from neighbor 10.215.0.2" in d.summary and "with neighbor 10.215.0.1 is plain iBGP" in d.summary
    assert {e.split("@")[0] for e in d.symptoms} >= {"pod-route-learned", "pod-route-present", "pod-ping"}
    frr_fix = next(f for f in d.fixes if f.platform == "frr")
    assert frr_fix.host == "gw"
    assert [line.strip() for line in frr_fix.text.splitlines()] == [
        "router bgp 64531",
        "address-family ipv4 unicast",
        "neighbor 10.215.0.1 route-reflector-client",
        "neighbor 10.215.0.2 route-reflector-client",
        "exit-address-family",
        "exit",
    ]
    assert not [f for f in d.fixes if f.platform.startswith("bird")]  # gw runs FRR


def test_once_the_router_reflects_the_same_network_is_clean() -> None:
    report = _replay(RECORDINGS / "frr_reflector_reflecting.json")
    assert report.diagnoses == [] and report.summary.exit_code == 0


def test_without_the_routers_neighbor_states_nothing_is_concluded(tmp_path: Path) -> None:
    """Whether a neighbor is a client is read from `show bgp neighbors json`: when that could not be
    read, the router is not blamed (and the missing route stays a finding without a cause)."""
    data = json.loads((RECORDINGS / "frr_reflector_not_reflecting.json").read_text())
    outputs = data["hosts"]["gw"]["outputs"]
    outputs["frr.neighbors"] |= {"exit_status": 1, "stdout_b64": "", "stderr": "vtysh: timed out"}
    broken = tmp_path / "gw-neighbors-unread.json"
    broken.write_text(json.dumps(data))
    report = _replay(broken)
    assert not [d for d in report.diagnoses if d.root_cause == "ibgp-no-route-reflection"]
    assert report.summary.exit_code != 0


def test_a_session_to_the_node_that_is_down_is_not_split_horizon(tmp_path: Path) -> None:
    """Nothing is withheld over a session that is not up: the session's own fault explains the
    missing route, and the router is not also said to keep routes back from that node."""
    data = json.loads((RECORDINGS / "frr_reflector_not_reflecting.json").read_text())
    out = data["hosts"]["gw"]["outputs"]["frr.neighbors"]
    neighbors = json.loads(base64.b64decode(out["stdout_b64"]))
    neighbors["10.215.0.1"]["bgpState"] = "Active"  # n1's session, as FRR shows it while n1 is away
    out["stdout_b64"] = base64.b64encode(json.dumps(neighbors).encode()).decode()
    down = tmp_path / "n1-session-down.json"
    down.write_text(json.dumps(data))
    inv, _, _, collected = load_recording(down)
    world = World(inv, collected.facts)
    assert FRR.split_horizon(world, "gw", "10.215.0.1", None) is None
    kept = FRR.split_horizon(world, "gw", "10.215.0.2", None)  # n2's session is still up
    assert kept is not None and (kept.prefix, kept.learned_from) == ("10.42.1.0/24", "10.215.0.1")
