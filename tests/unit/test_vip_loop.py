"""A LoadBalancer VIP routed back to the router by the node that announces it (cilium#14176).

tests/fixtures/asymmetric/run-vip-loop.json is `bgpdoctor run --record` of the namespace square of
tests/integration/test_asymmetric_run.py with n1 announcing VIP 10.62.0.1 over BGP, not holding it
as an address and having a default route back to ra (a real ping to the VIP died there of TTL
exceeded). The healthy form replaces that default route with `unreachable 10.62.0.1`.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.report.model import Report

LOOP_RUN = Path(__file__).resolve().parents[1] / "fixtures" / "asymmetric" / "run-vip-loop.json"
CAUSE = "lb-vip-routing-loop"


def _evaluate(path: Path) -> Report:
    inv, inv_path, nodes, collected = load_recording(path)
    return evaluate(inv, inv_path, collected, RunOptions(nodes=nodes))


def _n1_routes(tmp_path: Path, edit: Any, **result: Any) -> Path:
    recording = json.loads(LOOP_RUN.read_text())
    entry = recording["hosts"]["bda-n1"]["outputs"]["ip.route"]
    routes = json.loads(base64.b64decode(entry["stdout_b64"]))
    entry["stdout_b64"] = base64.b64encode(json.dumps(edit(routes)).encode()).decode()
    entry.update(result)
    out = tmp_path / "run.json"
    out.write_text(json.dumps(recording))
    return out


def _loops(report: Report) -> dict[str, tuple[str, str]]:
    return {r.host: (r.status, r.reason) for r in report.results if r.check == "lb-vip-no-routing-loop"}


def test_the_recorded_loop_is_a_finding_on_the_node_that_routes_the_vip_back() -> None:
    report = _evaluate(LOOP_RUN)
    found = next(d for d in report.diagnoses if d.root_cause == CAUSE)
    assert found.hosts == ["bda-n1"]
    assert "bda-ra(->eth0) -> bda-n1(eth0>eth0) -> bda-ra" in found.summary
    assert found.fixes[0].host == "bda-n1"
    assert found.fixes[0].text.splitlines()[0] == "ip route add unreachable 10.62.0.1/32"
    loops = _loops(report)
    assert loops["bda-ra"] == ("fail", "10.62.0.1 loops: bda-ra(->eth0) -> bda-n1(eth0>eth0) -> bda-ra")
    # from rb the VIP goes to n1, back to ra, and to n1 again: the loop is n1 <-> ra
    assert loops["bda-rb"] == (
        "fail",
        "10.62.0.1 loops: bda-rb(->eth1) -> bda-n1(eth1>eth0) -> bda-ra(eth0>eth0) -> bda-n1",
    )
    assert "bda-n1" not in loops or loops["bda-n1"][0] == "skip"  # a node traces nothing


def test_an_unreachable_route_for_the_vip_on_the_node_is_no_loop(tmp_path: Path) -> None:
    def healthy(routes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = [r for r in routes if r["dst"] != "default"]
        return [*kept, {"type": "unreachable", "dst": "10.62.0.1", "flags": []}]

    report = _evaluate(_n1_routes(tmp_path, healthy))
    assert CAUSE not in [d.root_cause for d in report.diagnoses]
    loops = _loops(report)
    assert (loops["bda-ra"][0], loops["bda-rb"][0]) == ("pass", "pass")


def test_a_node_whose_routes_could_not_be_read_leaves_the_loop_unknown(tmp_path: Path) -> None:
    broken = _n1_routes(
        tmp_path, lambda routes: routes, exit_status=1, stderr="RTNETLINK answers: Permission denied"
    )
    report = _evaluate(broken)
    assert CAUSE not in [d.root_cause for d in report.diagnoses]
    loops = _loops(report)
    assert loops["bda-ra"][0] == "unknown"
    assert "ip -j route show table main` failed on bda-n1" in loops["bda-ra"][1]
