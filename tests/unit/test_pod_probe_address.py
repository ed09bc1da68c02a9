"""Where a node's pod paths are probed from, when the inventory does not say (`pod_probe_ip`).

An inventory written by hand, or discovered from the cluster, rarely names an address inside each
node's pod CIDR. The run then takes one the node holds (Cilium's cilium_host, flannel's cni0,
Calico's tunl0); with none, its pod paths are not probed and the run says so instead of calling
the cluster healthy. Replayed from real runs (scripts/capture_frr_reflection.py: the nodes hold
their first pod address on lo).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.report.model import Report

RECORDINGS = Path(__file__).resolve().parents[1] / "fixtures" / "recordings"


def _without_probe_ip(name: str, tmp_path: Path, drop_address: str | None = None) -> Path:
    data: dict[str, Any] = json.loads((RECORDINGS / f"{name}.json").read_text())
    for host in data["inventory"]["hosts"].values():
        host.pop("pod_probe_ip", None)
    if drop_address is not None:  # the node no longer holds it (as a Calico node without tunl0)
        for host in data["hosts"].values():
            out = host["outputs"]["ip.addr"]
            links = json.loads(base64.b64decode(out["stdout_b64"]))
            for link in links:
                link["addr_info"] = [a for a in link.get("addr_info", []) if a.get("local") != drop_address]
            out["stdout_b64"] = base64.b64encode(json.dumps(links).encode()).decode()
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def _replay(path: Path) -> Report:
    inv, inv_path, nodes, collected = load_recording(path)
    return evaluate(inv, inv_path, collected, RunOptions(nodes=nodes))


def _results(report: Report, check: str) -> dict[str, tuple[str, str]]:
    return {
        " ".join(r.hosts): (r.status, r.reason)
        for r in report.results
        if r.check == check and r.status != "skip"
    }


def test_a_node_without_pod_probe_ip_is_probed_from_an_address_it_holds_in_its_pod_cidr(
    tmp_path: Path,
) -> None:
    report = _replay(_without_probe_ip("frr_reflector_not_reflecting", tmp_path))
    assert _results(report, "pod-probe-address") == {
        "n1": ("pass", "its pod paths are probed from 10.42.1.1"),
        "n2": ("pass", "its pod paths are probed from 10.42.2.1"),
    }
    # the same pod paths, and so the same diagnosis, as with the addresses in the inventory
    assert set(_results(report, "pod-ping")) == {"n1 n2", "n2 n1"}
    assert [(d.root_cause, d.hosts) for d in report.diagnoses] == [("ibgp-no-route-reflection", ["gw"])]


def test_a_node_with_no_address_to_probe_from_leaves_the_run_unable_to_call_it_healthy(
    tmp_path: Path,
) -> None:
    """Before, such nodes had no pod path at all, and the healthy-looking run exited 0."""
    report = _replay(_without_probe_ip("frr_reflector_reflecting", tmp_path, drop_address="10.42.2.1"))
    checked = _results(report, "pod-probe-address")
    assert checked["n1"] == ("pass", "its pod paths are probed from 10.42.1.1")
    status, reason = checked["n2"]
    assert status == "unknown" and "n2 has no pod_probe_ip" in reason and "10.42.2.0/24" in reason
    assert _results(report, "pod-ping") == {}  # no path is probed to or from n2, and none is guessed
    assert report.diagnoses == [] and report.summary.exit_code == 3


def test_a_node_with_no_other_node_to_reach_has_no_pod_path_to_miss(tmp_path: Path) -> None:
    """One node with pod CIDRs and no test client: there is no pod path to probe, with or without
    an address, so nothing is left unchecked and the healthy run still exits 0."""
    path = _without_probe_ip("frr_reflector_reflecting", tmp_path, drop_address="10.42.1.1")
    data = json.loads(path.read_text())
    data["inventory"]["hosts"]["n2"]["pod_cidrs"] = []  # n2 no longer a pod-path node
    path.write_text(json.dumps(data))
    report = _replay(path)
    assert _results(report, "pod-probe-address") == {}
    assert report.summary.exit_code == 0
