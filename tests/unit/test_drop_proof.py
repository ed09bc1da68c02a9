"""The kernel's own drop reasons, recorded on the lab with `run --trace-drops`, quoted as proof.

captures/runs/traced/*.json were recorded on a private copy of the lab (bpftrace on skb:kfree_skb)
with the fault named by the file; replay reads the traces back like a live run does."""

from __future__ import annotations

from pathlib import Path

import pytest

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.report.model import Report

TRACED = Path(__file__).resolve().parents[2] / "captures" / "runs" / "traced"


def replay(name: str) -> Report:
    inv, path, nodes, collected = load_recording(TRACED / f"{name}.json")
    return evaluate(inv, path, collected, RunOptions(nodes=nodes))


@pytest.mark.parametrize(
    ("fault", "proof"),
    [
        ("rp-filter-strict", "the kernel on router-home dropped 8 x IP_RPFILTER at ip_rcv_finish_core"),
        ("md5-mismatch", "the kernel on router-home dropped 4 x TCP_MD5NOTFOUND at tcp_v4_rcv"),
        ("bgp-port-filtered", "the kernel on router-mine dropped 5 x NETFILTER_DROP at nft_do_chain"),
    ],
)
def test_the_kernels_reason_is_quoted_as_proof(fault: str, proof: str) -> None:
    report = replay(fault)
    top = report.diagnoses[0]
    assert top.root_cause == fault
    assert top.summary.endswith(f"Proof: {proof}.")
    traced = [e for e in top.evidence if e.command.endswith("skb:kfree_skb")]
    assert traced and proof.split(" dropped ")[0].removeprefix("the kernel on ") == traced[0].host


def test_a_late_answer_to_a_closed_socket_is_not_proof() -> None:
    """yuuko-k8s's kernel dropped a SYN-ACK from port 179 that came after its socket closed."""
    summary = replay("bgp-port-filtered").diagnoses[0].summary
    assert "NO_SOCKET" not in summary


def test_the_healthy_lab_shows_no_drop_of_probe_packets() -> None:
    report = replay("healthy")
    assert report.diagnoses == [] and report.summary.exit_code == 0
    assert not [r for r in report.results if "Proof:" in (r.reason or "")]
