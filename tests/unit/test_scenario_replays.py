"""Generated scenarios replayed from runs recorded on the real namespaces (`bgpdoctor run --record`
after `scenario_cli up SEED` and `scenario_cli fault SEED ...`).

- Seed 16, healthy: an FRR site router sends its nodes nothing (`route-map BDS-NONE out`, the
  nodes route by their default route), so BIRD 1.6 on the calico-like node azure-80 learns no pod
  CIDR, by design. Before, only a BIRD peer's `Export filter: REJECT` said so; with an FRR peer
  `pod-route-learned` failed twice on this healthy network.
- Seed 1017, two faults on the only path between two sites: the FRR router jb-marl's forward chain
  drops the pods (firewall-blocks-pod-cidr) and ferro21 does not forward (ip-forward-disabled).
  Each direction meets a different one first, but the firewall playbook wants forwarding on along
  the whole path, so only ip-forward-disabled is named (a known miss, strict xfail)."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.report.model import Report

SCENARIOS = Path(__file__).resolve().parents[1] / "fixtures" / "recordings" / "scenarios"
RECORDING = SCENARIOS / "seed16_healthy_frr_sends_nodes_nothing.json.gz"
NODE_ADDRESS = "172.22.234.189"  # azure-80, as FRR on fjord95 names it


def _replay(tmp_path: Path, sent: int | None = None, recording: Path = RECORDING) -> Report:
    data = json.loads(gzip.decompress(recording.read_bytes()))
    if sent is not None:  # as if FRR announced the node `sent` routes and the node still had none
        out = data["hosts"]["fjord95"]["outputs"]["frr.neighbors"]
        neighbors = json.loads(base64.b64decode(out["stdout_b64"]))
        neighbors[NODE_ADDRESS]["addressFamilyInfo"]["ipv4Unicast"]["sentPrefixCounter"] = sent
        out["stdout_b64"] = base64.b64encode(json.dumps(neighbors).encode()).decode()
    path = tmp_path / "recording.json"
    path.write_text(json.dumps(data))
    inv, inv_path, nodes, collected = load_recording(path)
    return evaluate(inv, inv_path, collected, RunOptions(nodes=nodes))


def _failed(report: Report) -> list[str]:
    return sorted(f"{r.check}@{r.host}" for r in report.results if r.status == "fail")


def test_a_node_whose_frr_router_announces_it_nothing_routes_by_default(tmp_path: Path) -> None:
    report = _replay(tmp_path)
    assert report.diagnoses == [] and _failed(report) == []


def test_a_node_missing_a_route_its_frr_router_does_announce_still_fails(tmp_path: Path) -> None:
    report = _replay(tmp_path, sent=3)
    assert _failed(report) == ["pod-route-learned@azure-80->gb-azure", "pod-route-learned@azure-80->rdb84"]


@pytest.mark.xfail(
    strict=True,
    reason="FINDING: firewall-blocks-pod-cidr needs forwarding_ok on the whole path; ferro21's"
    " ip_forward=0 further along hides jb-marl's forward-chain drop, met first from ferro-34",
)
def test_a_firewall_before_a_router_that_does_not_forward_is_named_too(tmp_path: Path) -> None:
    recording = SCENARIOS / "seed1017_firewall_blocks_pod_cidr+ip_forward_disabled.json.gz"
    causes = {(d.root_cause, tuple(d.hosts)) for d in _replay(tmp_path, recording=recording).diagnoses}
    assert ("ip-forward-disabled", ("ferro21",)) in causes
    assert ("firewall-blocks-pod-cidr", ("jb-marl",)) in causes
