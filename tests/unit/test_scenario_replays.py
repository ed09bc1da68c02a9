"""Generated scenarios replayed from runs recorded on the real namespaces (`bgpdoctor run --record`
after `scenario_cli up SEED` and `scenario_cli fault SEED ...`).

- Seed 16, healthy: an FRR site router sends its nodes nothing (`route-map BDS-NONE out`, the
  nodes route by their default route), so BIRD 1.6 on the calico-like node azure-80 learns no pod
  CIDR, by design. Before, only a BIRD peer's `Export filter: REJECT` said so; with an FRR peer
  `pod-route-learned` failed twice on this healthy network.
- Seed 1017, two faults on the only path between two sites: the FRR router jb-marl's forward chain
  drops the pods (firewall-blocks-pod-cidr) and ferro21 does not forward (ip-forward-disabled).
  Each direction meets a different one first: from ferro-34 the firewall (ferro21 is never reached),
  from coral-64 ferro21 (the firewall is never reached). The recording has no captures or kernel
  drop traces, so the FIB trace and the sysctls are the evidence of which is met first. Both causes
  are named, each with the direction it stops; the firewall only where every hop up to it
  forwards, and not where a hop up to it could not be read."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


SEED1017 = SCENARIOS / "seed1017_firewall_blocks_pod_cidr+ip_forward_disabled.json.gz"


def _replay_1017(tmp_path: Path, change: Callable[[dict[str, Any]], None] | None = None) -> Report:
    data = json.loads(gzip.decompress(SEED1017.read_bytes()))
    if change is not None:
        change(data)
    path = tmp_path / "recording.json"
    path.write_text(json.dumps(data))
    inv, inv_path, nodes, collected = load_recording(path)
    return evaluate(inv, inv_path, collected, RunOptions(nodes=nodes))


def _causes(report: Report) -> dict[tuple[str, tuple[str, ...]], list[str]]:
    return {(d.root_cause, tuple(d.hosts)): d.symptoms for d in report.diagnoses}


def test_a_firewall_before_a_router_that_does_not_forward_is_named_too(tmp_path: Path) -> None:
    report = _replay_1017(tmp_path)
    causes = _causes(report)
    assert set(causes) == {("ip-forward-disabled", ("ferro21",)), ("firewall-blocks-pod-cidr", ("jb-marl",))}
    # each direction is a symptom of the fault it meets first
    assert causes["firewall-blocks-pod-cidr", ("jb-marl",)] == ["pod-ping@ferro-34->coral-64"]
    assert "pod-ping@coral-64->ferro-34" in causes["ip-forward-disabled", ("ferro21",)]
    firewall = next(d for d in report.diagnoses if d.root_cause == "firewall-blocks-pod-cidr")
    assert firewall.summary.startswith("The packet reaches jb-marl (routes and forwarding up to it)")


def test_a_firewall_after_a_router_that_does_not_forward_is_not_named(tmp_path: Path) -> None:
    def only_coral_pings(data: dict[str, Any]) -> None:  # from coral-64 ferro21 comes before jb-marl
        del data["active"]["pings"]["ferro-34->coral-64"]

    causes = _causes(_replay_1017(tmp_path, only_coral_pings))
    assert list(causes) == [("ip-forward-disabled", ("ferro21",))]
    assert "pod-ping@coral-64->ferro-34" in causes["ip-forward-disabled", ("ferro21",)]


def test_a_firewall_whose_hops_up_to_it_could_not_be_read_is_not_concluded(tmp_path: Path) -> None:
    def jb_marl_sysctl_unreadable(data: dict[str, Any]) -> None:
        out = data["hosts"]["jb-marl"]["outputs"]["sysctl"]
        out["exit_status"], out["stdout_b64"], out["stderr"] = 1, "", "grep: /proc/sys: Permission denied"

    report = _replay_1017(tmp_path, jb_marl_sysctl_unreadable)
    assert [d.root_cause for d in report.diagnoses] == ["ip-forward-disabled"]
    assert "pod-ping@ferro-34->coral-64" in report.diagnoses[0].symptoms


# Seed 1027, asn-mismatch on a backbone session behind a transit router: ez19 (the transit router)
# expects the wrong AS from karst-wrem, so the pod CIDRs of site tamar1 never reach site ingot0. The
# traces stop before the session (ember97's router vetch has no route to ferro-jrn's pods; ferro-jrn's
# router karst-wrem none back), so neither trace reaches ez19. The down session is on the only BGP way
# the missing routes come by: the missing routes and the failing pings are its symptoms.
SEED1027 = SCENARIOS / "seed1027_asn_mismatch_on_transit.json.gz"


def test_a_session_down_on_the_only_bgp_way_a_missing_route_comes_by_explains_it(tmp_path: Path) -> None:
    report = _replay(tmp_path, recording=SEED1027)
    [diagnosis] = report.diagnoses
    assert (diagnosis.root_cause, diagnosis.hosts) == ("asn-mismatch", ["ez19"])
    assert {
        "pod-route-present@ember97->ferro-jrn",
        "pod-route-present@ferro-jrn->ember97",
        "pod-route-learned@ember97->ferro-jrn",
        "pod-ping@ember97->ferro-jrn",
        "pod-ping@ferro-jrn->ember97",
    } <= set(diagnosis.symptoms)
    assert [f for f in _failed(report) if f not in diagnosis.symptoms] == []


# Seed 1071 with the names of seed 101071, mtu-blackhole: xe-7-31 on kvr8 has MTU 1460 and kvr8 drops
# ICMP "frag needed". One way the narrow hop is kvr8's outgoing interface (the sweep measures 1460);
# the other way it is kvr8's incoming interface behind iris's 1500, where Linux takes a frame up to
# a VLAN header over the MTU, so 1461 gets through. Before, that direction named no narrow hop and
# each path became its own diagnosis: three, where the same network under seed 1071's names had one.
L2_SLACK = SCENARIOS / "seed1071_names101071_mtu_blackhole_l2_slack.json.gz"


def test_a_probe_a_few_bytes_over_the_receivers_mtu_still_names_the_narrow_interface(tmp_path: Path) -> None:
    report = _replay(tmp_path, recording=L2_SLACK)
    [diagnosis] = report.diagnoses
    assert diagnosis.root_cause == "mtu-blackhole" and "kvr8" in diagnosis.hosts
    assert "xe-7-31 on kvr8 takes only 1460" in diagnosis.summary, diagnosis.summary
    measured_1461 = [r for r in report.results if r.check == "path-mtu" and "1461 bytes vanish" in r.reason]
    assert measured_1461, "the direction through kvr8's incoming interface measures 1461"
