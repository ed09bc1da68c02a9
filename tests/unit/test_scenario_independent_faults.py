"""Independent faults on generated scenarios (bgpdoctor/lab/scenario.py), replayed from runs
recorded on the real namespaces (tests/fixtures/recordings/scenarios/, gzip'd `bgpdoctor run
--record` files, as `BGPDOCTOR_SCENARIO_PREFIX=bfe- python3 benchmarks/scenario_accuracy.py --start 4
--seeds 1 --fault none --record DIR` writes them):

- seed 4: ip-forward-disabled on one router and node-not-listening where an FRR router dials a
  GoBGP node that neither listens nor dials. FRR keeps dialling and never says "refused"; only the
  captures show the node's kernel answering each SYN with a RST. Before, only the first was named.
- seeds 6 and 2: one router's backbone interface (and its switch port) below the segment's MTU.
  The peers' DF sweeps towards it are lost on layer 2; before, each sender was named.
"""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.parsers.pcap import syn_sources
from bgpdoctor.report.model import Report

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SCENARIOS = FIXTURES / "recordings" / "scenarios"
FRR_DIALER = "192.168.197.109"  # zvxi-jasper (FRR) in seed 4
NODE = "192.168.197.159"  # pn79 (GoBGP, neither listening nor dialling)


def _replay(
    tmp_path: Path, name: str, drop_captures: bool = False, frr_dials_in_inventory: bool = False
) -> Report:
    data = json.loads(gzip.decompress((SCENARIOS / f"{name}.json.gz").read_bytes()))
    if drop_captures:  # as if tcpdump could not run on the session's ends
        data["active"]["capture_errors"] = {h: "tcpdump: not found" for h in data["active"]["captures"]}
    if frr_dials_in_inventory:  # the operator's inventory says what the fault made true: the FRR end dials
        hosts = data["inventory"]["hosts"]
        for host, address, passive in (("pn79", FRR_DIALER, True), ("zvxi-jasper", NODE, False)):
            for peer in hosts[host]["peers"]:
                if peer["address"] == address:
                    peer["passive"] = passive
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    inv, inv_path, nodes, collected = load_recording(path)
    return evaluate(inv, inv_path, collected, RunOptions(nodes=nodes))


def _causes(report: Report) -> list[tuple[str, list[str]]]:
    return [(d.root_cause, d.hosts) for d in report.diagnoses]


# -- the RSTs of a port nobody listens on, from real captures ---------------------------------------


def test_rst_mode_reads_the_kernels_answer_to_each_frr_syn() -> None:
    # zvxi-jasper's own capture (tcpdump -i any, SLL2; the ifb mirror shows each packet twice)
    data = (FIXTURES / "pcap" / "frr_dial_refused.pcap").read_bytes()
    syns = syn_sources(data)
    rsts = syn_sources(data, rst=True)
    assert sorted({(s.src, s.sport, s.dst, s.dport) for s in syns}) == [
        (FRR_DIALER, 56994, NODE, 179),
        (FRR_DIALER, 56998, NODE, 179),
    ]
    assert sorted({(r.src, r.sport, r.dst, r.dport) for r in rsts}) == [
        (NODE, 179, FRR_DIALER, 56994),
        (NODE, 179, FRR_DIALER, 56998),
    ]
    assert syn_sources(data, syn_ack=True) == []


def test_rst_mode_reads_the_listener_side_of_the_seed_labs_refusals() -> None:
    data = (FIXTURES.parent.parent / "captures" / "pcaps" / "node-not-listening__yuuko-k8s.pcap").read_bytes()
    rsts = syn_sources(data, rst=True)
    assert len(rsts) == 5 and {(r.src, r.sport, r.dst) for r in rsts} == {
        ("192.168.0.81", 179, "192.168.0.1")
    }
    assert sorted(r.dport for r in rsts) == sorted(s.sport for s in syn_sources(data))


def test_rst_mode_leaves_out_resets_of_an_open_connection() -> None:
    # asn-mismatch: BIRD resets the connection after its NOTIFICATION (RST without ACK, its own
    # sequence number): no SYN was refused
    data = (FIXTURES.parent.parent / "captures" / "pcaps" / "asn-mismatch__router-home.pcap").read_bytes()
    assert syn_sources(data, rst=True) == []


# -- seed 4: node-not-listening under an FRR dialer, next to ip-forward-disabled -----------------------


def test_an_frr_router_refused_on_the_wire_is_named_next_to_an_independent_fault(tmp_path: Path) -> None:
    report = _replay(tmp_path, "seed4_ip_forward_disabled+node_not_listening_frr")
    assert sorted(_causes(report)) == [("ip-forward-disabled", ["mica-om"]), ("node-not-listening", ["pn79"])]
    [nnl] = [d for d in report.diagnoses if d.root_cause == "node-not-listening"]
    assert nnl.summary.startswith(f'zvxi-jasper connects to {NODE}:179 and gets "Connection refused"')
    resets = [e for e in nnl.evidence if "RST+ACK seq 0" in e.output]
    assert resets and {e.host for e in resets} <= {"zvxi-jasper", "pn79"}
    assert f"{NODE}:179 -> {FRR_DIALER}:56994 RST+ACK seq 0" in resets[0].output
    [listens] = [r for r in report.results if r.check == "bgp-accepting-end-listens" and "pn79" in r.hosts]
    assert listens.status == "fail" and listens.reason.startswith("zvxi-jasper dials")
    assert report.summary.exit_code == 1


def test_without_captures_no_refusal_is_invented(tmp_path: Path) -> None:
    report = _replay(tmp_path, "seed4_ip_forward_disabled+node_not_listening_frr", drop_captures=True)
    assert ("ip-forward-disabled", ["mica-om"]) in _causes(report)
    assert "node-not-listening" not in [d.root_cause for d in report.diagnoses]


def test_an_frr_dialer_without_captures_is_neither_refused_nor_not_refused(tmp_path: Path) -> None:
    # FRR never says "Connection refused": with no capture, whether its SYNs were refused is unknown,
    # not "dials and is not refused" (which would clear the node that does not listen)
    report = _replay(
        tmp_path,
        "seed4_ip_forward_disabled+node_not_listening_frr",
        drop_captures=True,
        frr_dials_in_inventory=True,
    )
    [listens] = [r for r in report.results if r.check == "bgp-accepting-end-listens" and "pn79" in r.hosts]
    assert listens.status == "unknown", listens.reason
    assert "FRR on zvxi-jasper does not say when its connection is refused" in listens.reason
    assert ("ip-forward-disabled", ["mica-om"]) in _causes(report)


def test_the_recorded_captures_hold_the_rsts(tmp_path: Path) -> None:
    data = json.loads(
        gzip.decompress((SCENARIOS / "seed4_ip_forward_disabled+node_not_listening_frr.json.gz").read_bytes())
    )
    rsts = syn_sources(base64.b64decode(data["active"]["captures"]["zvxi-jasper"]), rst=True)
    assert {(r.src, r.dst) for r in rsts} == {(NODE, FRR_DIALER)}


# -- seeds 6 and 2: a layer 2 with two MTUs ----------------------------------------------------------


def test_the_member_whose_mtu_differs_from_the_segment_is_named(tmp_path: Path) -> None:
    # onyx32's backbone (and its switch port) at 1380; fjord and gale stay at 1500 on that switch:
    # their sweeps towards onyx32 are lost on layer 2, the pod path's at onyx32's own interface
    report = _replay(tmp_path, "seed6_firewall_blocks_pod_cidr+mtu_blackhole")
    assert sorted(_causes(report)) == [("firewall-blocks-pod-cidr", ["gale"]), ("mtu-blackhole", ["onyx32"])]
    [mtu] = [d for d in report.diagnoses if d.root_cause == "mtu-blackhole"]
    assert {"path-mtu@fjord->onyx32 bgp 10.121.233.154", "path-mtu@gale->onyx32 bgp 10.121.233.154"} <= set(
        mtu.symptoms
    )
    # whichever path speaks for it, the repair of the segment is onyx32's, to the others' MTU
    [link] = [f for f in mtu.fixes if f.platform == "linux"]
    assert link.host == "onyx32" and link.text.splitlines()[-1] == "ip link set dev ge7-4 mtu 1500", link


def test_two_ends_with_two_mtus_and_no_third_member_are_both_named(tmp_path: Path) -> None:
    # only ingot53 (1460) and pom-drift (1500) on the switch: nothing tells which MTU is the odd one
    report = _replay(tmp_path, "seed2_mtu_blackhole+firewall_blocks_pod_cidr")
    assert sorted(_causes(report)) == [
        ("firewall-blocks-pod-cidr", ["pom-drift"]),
        ("mtu-blackhole", ["ingot53", "pom-drift"]),
    ]
    [mtu] = [d for d in report.diagnoses if d.root_cause == "mtu-blackhole"]
    assert (
        "pom-drift sends 1500-byte frames out of ferr25, but eth10 on ingot53 takes only 1460" in mtu.summary
    )
