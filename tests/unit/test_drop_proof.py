"""The kernel's own drop reasons, recorded on the lab with `run --trace-drops`, quoted as proof.

captures/runs/traced/*.json were recorded on a private copy of the lab (bpftrace on skb:kfree_skb)
with the fault named by the file; replay reads the traces back like a live run does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.probes.droptrace import NFT_AFTER_FACT, NFT_BEFORE_FACT
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
        (
            "bgp-port-filtered",
            "the kernel on router-mine dropped 7 x NETFILTER_DROP at nft_do_chain (nft rule inet bdl_fault "
            'input handle 4: ip saddr 192.168.0.81 tcp dport 179 drop (comment "fault: bgp from yuuko-k8s '
            'filtered"))',
        ),
        ("ip-forward-disabled", "the kernel on router-home dropped 29 x IP_INADDRERRORS at ip_error"),
        ("ebgp-multihop-missing", "the kernel on router-home dropped 2 x IP_INHDR at ip_forward"),
        ("node-not-listening", "the kernel on yuuko-k8s dropped 4 x NO_SOCKET at tcp_v4_rcv"),
        # the router cannot forward the big pings into its 1380-byte zt0, and nft drops its frag-needed
        (
            "mtu-blackhole",
            "the kernel on router-mine dropped 4 x NETFILTER_DROP at nft_do_chain (nft rule inet bdl_fault "
            "output handle 4: icmp type destination-unreachable icmp code frag-needed drop (comment "
            '"fault: pmtu")), 4 x PKT_TOO_BIG at ip_forward; the kernel on router-home dropped 1 x '
            "PKT_TOO_BIG at ip_forward",
        ),
    ],
)
def test_the_kernels_reason_is_quoted_as_proof(fault: str, proof: str) -> None:
    report = replay(fault)
    top = report.diagnoses[0]
    assert top.root_cause == fault
    assert top.summary.endswith(f"Proof: {proof}.")
    traced = [e for e in top.evidence if e.command.endswith("skb:kfree_skb")]
    assert traced and proof.split(" dropped ")[0].removeprefix("the kernel on ") == traced[0].host


def test_the_nft_rule_that_dropped_the_syns_is_in_the_evidence() -> None:
    """Its counter rose between the two `nft -j list ruleset` read around the probes."""
    top = replay("bgp-port-filtered").diagnoses[0]
    traced = next(e for e in top.evidence if e.command.endswith("skb:kfree_skb") and e.host == "router-mine")
    assert (
        "NETFILTER_DROP: nft rule inet bdl_fault input handle 4: ip saddr 192.168.0.81 tcp dport 179 drop"
        in (traced.output)
    )


def test_a_recording_without_the_rulesets_says_why_the_rule_is_not_named(tmp_path: Path) -> None:
    """Recordings made before the nft snapshots (or a host where `nft` failed) still give the proof."""
    data = json.loads((TRACED / "bgp-port-filtered.json").read_text())
    for host in data["hosts"].values():
        for fact in (NFT_BEFORE_FACT, NFT_AFTER_FACT):
            host["outputs"].pop(fact, None)
    (tmp_path / "old.json").write_text(json.dumps(data))
    inv, path, nodes, collected = load_recording(tmp_path / "old.json")
    summary = evaluate(inv, path, collected, RunOptions(nodes=nodes)).diagnoses[0].summary
    assert summary.endswith(
        "NETFILTER_DROP at nft_do_chain (rule not named: the nft ruleset was not read before the probes)."
    )


def test_a_late_answer_to_a_closed_socket_is_not_proof() -> None:
    """yuuko-k8s's kernel dropped a SYN-ACK from port 179 that came after its socket closed."""
    summary = replay("bgp-port-filtered").diagnoses[0].summary
    assert "NO_SOCKET" not in summary


def test_the_healthy_lab_shows_no_drop_of_probe_packets() -> None:
    report = replay("healthy")
    assert report.diagnoses == [] and report.summary.exit_code == 0
    assert not [r for r in report.results if "Proof:" in (r.reason or "")]
