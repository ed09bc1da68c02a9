"""The main lab's seed-003 switch `tor` runs FRR: its runs (`bgpdoctor run --node master-01 --record`,
recorded on the real lab in tests/fixtures/recordings/lab_frr_tor_*.json) replayed offline.

Before FRR, bgpdoctor judged ECMP and connected-route shadowing from BIRD's tables only: on an FRR
router both checks were skipped and both faults went unnamed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.report.model import Report

RECORDINGS = Path(__file__).resolve().parents[1] / "fixtures" / "recordings"


def _replay(name: str) -> Report:
    inv, path, nodes, collected = load_recording(RECORDINGS / f"lab_frr_tor_{name}.json")
    return evaluate(inv, path, collected, RunOptions(nodes=nodes))


def _status(report: Report, check: str) -> tuple[str, str]:
    [result] = [r for r in report.results if r.check == check and r.host == "tor"]
    return result.status, result.reason


def test_healthy_frr_tor_is_clean_with_both_route_checks_judged() -> None:
    report = _replay("healthy")
    assert report.diagnoses == []
    assert report.summary.exit_code == 0
    assert _status(report, "bgp-ecmp-installed")[0] == "pass"
    assert _status(report, "bgp-route-not-shadowed")[0] == "pass"
    assert _status(report, "ebgp-policy-present")[0] == "pass"


def test_maximum_paths_1_on_frr_is_ecmp_single_path_with_the_frr_fix() -> None:
    report = _replay("ecmp_single_path")
    assert [d.root_cause for d in report.diagnoses] == ["ecmp-single-path"]
    top = report.diagnoses[0]
    assert top.hosts == ["tor"]
    assert top.summary.startswith(
        "FRR on tor holds several equal BGP paths for 10.0.6.1/32 (10.0.6.1/32: 10.0.4.109, 10.0.4.110 "
        "(installed: "
    ), top.summary
    status, reason = _status(report, "bgp-ecmp-installed")
    assert status == "fail" and reason.startswith("FRR on tor holds several equal BGP paths"), reason
    # only FRR's fix: BIRD's `merge paths` does not belong on an FRR router
    assert [f.platform for f in top.fixes] == ["frr"]
    assert top.fixes[0].text == (
        "router bgp 65000\n address-family ipv4 unicast\n  maximum-paths 64\n exit-address-family\nexit"
    )
    assert {e.command.split("-c ")[-1] for e in top.evidence} >= {
        "'show bgp ipv4 unicast json'",
        "'show ip route json'",
    }


def test_connected_vlanif6_on_frr_shadows_the_bgp_pool() -> None:
    report = _replay("connected_shadow")
    assert [d.root_cause for d in report.diagnoses] == ["connected-route-shadows-bgp"]
    top = report.diagnoses[0]
    assert top.summary.startswith(
        "tor learns 10.0.6.0/24 over BGP, but its connected 10.0.6.0/24 dev vlanif6"
    )
    assert "ip addr del 10.0.6.254/24 dev vlanif6" in top.fixes[0].text
    # the pool's paths are not installed at all (the connected route wins): not an ECMP question
    assert _status(report, "bgp-ecmp-installed")[0] == "pass"


@pytest.mark.parametrize("name", ["healthy", "ecmp_single_path", "connected_shadow"])
def test_tor_is_read_as_frr_over_vtysh(name: str) -> None:
    inv, _path, _nodes, collected = load_recording(RECORDINGS / f"lab_frr_tor_{name}.json")
    tor = inv.hosts["tor"]
    assert tor.speaker == "frr" and tor.control_socket and tor.control_socket.endswith("-tor/frr")
    assert "frr.bgp_ipv4" in collected.facts["tor"].outputs


def test_a_vip_inside_the_node_lan_on_frr_is_lb_pool_in_node_subnet() -> None:
    """The healthy run with the nodes' VIP moved into their own LAN (10.0.4.0/24, tor's vlanif4): FRR's
    BGP host route is inside a connected subnet, so the router's neighbours ARP for it."""
    from dataclasses import replace

    inv, path, nodes, collected = load_recording(RECORDINGS / "lab_frr_tor_healthy.json")
    outputs = collected.facts["tor"].outputs
    table = outputs["frr.bgp_ipv4"]
    assert b'"10.0.6.1/32"' in table.stdout_bytes
    outputs["frr.bgp_ipv4"] = replace(
        table, stdout_bytes=table.stdout_bytes.replace(b"10.0.6.1/32", b"10.0.4.200/32")
    )
    report = evaluate(inv, path, collected, RunOptions(nodes=nodes))
    status, reason = _status(report, "lb-vip-outside-lan")
    assert status == "fail", reason
    lb = next(d for d in report.diagnoses if d.root_cause == "lb-pool-in-node-subnet")
    assert "10.0.4.200/32" in lb.summary and "10.0.4.0/24" in lb.summary, lb.summary


def test_a_network_frr_originates_itself_is_not_shadowed_by_its_own_lan(tmp_path: Path) -> None:
    # `network 10.0.4.0/24` on tor: FRR lists its own path (peerId "(unspec)", next hop 0.0.0.0)
    # beside the learned ones; it is no BGP route the connected LAN steals (seen live on a healthy
    # FRR+BIRD pair in tests/integration/test_capabilities_run.py)
    import base64
    import json

    data = json.loads((RECORDINGS / "lab_frr_tor_healthy.json").read_text())
    output = data["hosts"]["tor"]["outputs"]["frr.bgp_ipv4"]
    table = json.loads(base64.b64decode(output["stdout_b64"]))
    table["routes"]["10.0.4.0/24"] = [
        {
            "valid": True,
            "bestpath": True,
            "pathFrom": "external",
            "prefix": "10.0.4.0",
            "prefixLen": 24,
            "network": "10.0.4.0/24",
            "metric": 0,
            "weight": 32768,
            "peerId": "(unspec)",
            "path": "",
            "origin": "IGP",
            "nexthops": [{"ip": "0.0.0.0", "hostname": "tor", "afi": "ipv4", "used": True}],
        }
    ]
    output["stdout_b64"] = base64.b64encode(json.dumps(table).encode()).decode()
    path = tmp_path / "recording.json"
    path.write_text(json.dumps(data))
    inv, inv_path, nodes, collected = load_recording(path)
    report = evaluate(inv, inv_path, collected, RunOptions(nodes=nodes))
    assert report.diagnoses == []
    assert _status(report, "bgp-route-not-shadowed")[0] == "pass"
