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
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


# Seed 1071, mtu-blackhole, under two sets of names (and addresses): the router's backbone interface
# has MTU 1460 and the router drops ICMP "frag needed"; its one neighbour on that layer 2 has 1500.
# One way the narrow hop is the router's outgoing interface (the sweep measures 1460); the other way
# it is its incoming interface behind the neighbour's 1500, where Linux takes a frame up to a VLAN
# header over the MTU, so 1461 gets through.
L2_SLACK = SCENARIOS / "seed1071_names101071_mtu_blackhole_l2_slack.json.gz"  # kvr8 narrow, iris across
SEED_NAMES = SCENARIOS / "seed1071_mtu_blackhole.json.gz"  # jasper-2 narrow, mfco27 across


def test_a_probe_a_few_bytes_over_the_receivers_mtu_still_names_the_narrow_interface(tmp_path: Path) -> None:
    # before, the direction that measured 1461 named no narrow hop: each path its own diagnosis, three
    report = _replay(tmp_path, recording=L2_SLACK)
    [diagnosis] = report.diagnoses
    assert diagnosis.root_cause == "mtu-blackhole" and "kvr8" in diagnosis.hosts
    failed = {r.host: r for r in report.results if r.check == "path-mtu" and r.status == "fail"}
    assert "packets above 1461 bytes vanish" in failed["gale61->pmb38"].reason  # into kvr8's 1460
    assert all(r.explained_by == "mtu-blackhole" for r in failed.values()), failed


def _flipped(tmp_path: Path, recording: Path, renamed: dict[str, str]) -> Report:
    """The recording with hosts renamed, so that they sort the other way round."""
    text = gzip.decompress(recording.read_bytes()).decode()
    for old, new in renamed.items():  # whole names only: in keys, values and labels like "a->b bgp"
        text = re.sub(rf"(?<![\w.-]){re.escape(old)}(?![\w.]|-(?!>))", new, text)
    flipped = tmp_path / "flipped.json"
    flipped.write_text(text)
    inv, inv_path, nodes, collected = load_recording(flipped)
    return evaluate(inv, inv_path, collected, RunOptions(nodes=nodes))


@pytest.mark.parametrize(
    ("recording", "narrow", "across", "iface", "peer_iface"),
    [(L2_SLACK, "kvr8", "iris", "xe-7-31", "eth13"), (SEED_NAMES, "jasper-2", "mfco27", "eno13", "azure-s5")],
)
def test_the_same_network_gets_the_same_diagnosis_whatever_its_names(
    tmp_path: Path, recording: Path, narrow: str, across: str, iface: str, peer_iface: str
) -> None:
    """Before, the culprit whose text sorted first claimed the symptoms: the segment's two ends under
    one set of names, the narrow router alone under the other. Now both namings, and each with its
    two hosts sorted the other way round, name the segment's two ends (no third member tells which
    MTU is the odd one), with the narrow router's own repairs."""
    for report, (a, b) in [
        (_replay(tmp_path, recording=recording), (narrow, across)),
        (
            _flipped(tmp_path, recording, {narrow: f"zzz-{narrow}", across: f"aaa-{across}"}),
            (f"zzz-{narrow}", f"aaa-{across}"),
        ),
        (
            _flipped(tmp_path, recording, {narrow: f"aaa-{narrow}", across: f"zzz-{across}"}),
            (f"aaa-{narrow}", f"zzz-{across}"),
        ),
    ]:
        [diagnosis] = report.diagnoses
        assert (diagnosis.root_cause, diagnosis.hosts) == ("mtu-blackhole", sorted([a, b]))
        fixes: dict[tuple[str, str | None], str] = {}
        for f in diagnosis.fixes:
            fixes[f.platform, f.host] = fixes.get((f.platform, f.host), "") + f.text
        assert "frag-needed accept" in fixes["nftables", a]
        # which of the two MTUs is right nothing tells: the smaller one works whatever the link carries
        link = fixes["linux", b]
        assert link.splitlines()[-1] == f"ip link set dev {peer_iface} mtu 1460", link
        assert f"# or, on {a} if its link carries 1500: ip link set dev {iface} mtu 1500" in link, link
        failed = [r for r in report.results if r.check == "path-mtu" and r.status == "fail"]
        assert len(failed) == 5 and all(r.explained_by == "mtu-blackhole" for r in failed)


def test_an_unread_neighbour_interface_claims_no_second_mtu_on_the_segment(tmp_path: Path) -> None:
    """When mfco27's `ip -j addr show` failed, its interface's MTU is unknown: no layer 2 with two
    MTUs is claimed, and no repair of it is printed. The black hole itself was measured, and the
    narrow hop is still named from jasper-2's own interfaces."""
    data = json.loads(gzip.decompress(SEED_NAMES.read_bytes()))
    out = data["hosts"]["mfco27"]["outputs"]["ip.addr"]
    out.update(stdout_b64="", exit_status=1)
    edited = tmp_path / "unread.json"
    edited.write_text(json.dumps(data))
    inv, inv_path, nodes, collected = load_recording(edited)
    report = evaluate(inv, inv_path, collected, RunOptions(nodes=nodes))
    mtu = [d for d in report.diagnoses if d.root_cause == "mtu-blackhole"]
    assert mtu and all("Across that layer 2" not in d.summary for d in mtu), [d.summary for d in mtu]
    assert any("The narrow hop is eno13 on jasper-2" in d.summary for d in mtu)
    assert not any("to 1500" in f.title for d in mtu for f in d.fixes)
