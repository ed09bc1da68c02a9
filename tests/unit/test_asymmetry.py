"""Asymmetric paths and the stateful rule that drops them, judged on recorded runs.

tests/fixtures/asymmetric/run-*.json are `bgpdoctor run --record` of the namespace square of
tests/integration/test_asymmetric_run.py: n1 -> n2 goes through router ra, the reply through rb;
ra has `ct state invalid drop` in its forward chain (run-ct-invalid-drop.json) or no ruleset at
all (run-no-stateful-rule.json). The nft-*.json fixtures are real `nft -j list ruleset` outputs:
kube-proxy's KUBE-FORWARD rules added with iptables-nft 1.8.9, an OpenWrt fw4-like vmap, a
forward chain that lets only established traffic through.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bgpdoctor.engine.asymmetry import stateful_drop
from bgpdoctor.engine.judge import render
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.rules import load_playbooks
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.parsers import nft
from bgpdoctor.report.model import Report

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "asymmetric"
DROP_RUN = FIXTURES / "run-ct-invalid-drop.json"
CLEAN_RUN = FIXTURES / "run-no-stateful-rule.json"
PATHS = ("bda-n1->bda-n2", "bda-n2->bda-n1")
CAUSE = "asymmetric-path-stateful-drop"


def _evaluate(path: Path) -> Report:
    inv, inv_path, nodes, collected = load_recording(path)
    return evaluate(inv, inv_path, collected, RunOptions(nodes=nodes))


def _with_output(tmp_path: Path, source: Path, host: str, fact: str, **result: Any) -> Path:
    """A copy of the recording where `host`'s `fact` gave another result (stdout as text)."""
    recording = json.loads(source.read_text())
    entry = recording["hosts"][host]["outputs"][fact]
    if "stdout" in result:
        entry["stdout_b64"] = base64.b64encode(result.pop("stdout").encode()).decode()
    entry.update(result)
    out = tmp_path / source.name
    out.write_text(json.dumps(recording))
    return out


def _results(report: Report, check: str) -> dict[str, tuple[str, str]]:
    return {r.host: (r.status, r.reason) for r in report.results if r.check == check and r.host in PATHS}


def test_the_recorded_invalid_drop_is_the_cause_named_with_its_rule() -> None:
    report = _evaluate(DROP_RUN)
    assert [d.root_cause for d in report.diagnoses] == [CAUSE]
    found = report.diagnoses[0]
    assert found.hosts == ["bda-ra"]
    assert "inet bda_fw forward: ct state invalid drop (3 packets)" in found.summary
    assert "bda-ra sees only 10.61.1.1 -> 10.61.2.1" in found.summary
    checks = _results(report, "path-stateful-asymmetry")
    assert {h: status for h, (status, _) in checks.items()} == {p: "fail" for p in PATHS}
    # the ping n2 -> n1 died (its replies are what ra sees); the ping n1 -> n2 passed, yet TCP fails
    assert "pod-ping@bda-n2->bda-n1" in found.symptoms
    assert _results(report, "pod-ping")["bda-n1->bda-n2"][0] == "pass"


def test_the_fixes_carry_the_real_addresses_of_the_recorded_square() -> None:
    found = _evaluate(DROP_RUN).diagnoses[0]
    by_title = {f.title: f for f in found.fixes}
    route = by_title["Route the reply the way the request came, on bda-n2"]
    # n2 sends replies to n1's pods via rb (10.213.63.2); the request reached n2 from ra's 10.213.62.1
    assert route.host == "bda-n2"
    assert "ip route replace 10.61.1.0/24 via 10.213.62.1" in route.text
    assert "leave via 10.213.63.2 today" in route.text
    snat = by_title["Or SNAT on bda-ra, so replies return to it"]
    assert 'oifname "eth1" snat to 10.213.62.1' in snat.text
    accept = next(f for f in found.fixes if f.platform == "nftables")
    assert accept.text.splitlines() == [
        "nft insert rule inet bda_fw forward ip saddr 10.61.1.1 ip daddr 10.61.2.1 accept",
        "nft insert rule inet bda_fw forward ip saddr 10.61.2.1 ip daddr 10.61.1.1 accept",
    ]
    assert all("[" not in f.text for f in found.fixes)  # no template left unrendered


def test_a_healthy_asymmetric_path_without_a_stateful_rule_is_no_finding() -> None:
    report = _evaluate(CLEAN_RUN)
    assert report.diagnoses == []
    assert {h: s for h, (s, _) in _results(report, "path-stateful-asymmetry").items()} == {
        p: "pass" for p in PATHS
    }
    assert {s for s, _ in _results(report, "path-symmetric").values()} == {"skip"}  # the pings answered


def test_an_unreadable_firewall_on_the_one_way_host_is_unknown_not_a_finding(tmp_path: Path) -> None:
    broken = _with_output(
        tmp_path,
        DROP_RUN,
        "bda-ra",
        "nft.ruleset",
        stdout="",
        stderr="Operation not permitted",
        exit_status=1,
    )
    report = _evaluate(broken)
    assert CAUSE not in [d.root_cause for d in report.diagnoses]
    checks = _results(report, "path-stateful-asymmetry")
    assert {h: s for h, (s, _) in checks.items()} == {p: "unknown" for p in PATHS}
    assert "nft -j list ruleset` failed on bda-ra" in checks["bda-n1->bda-n2"][1]
    # the ping n2 -> n1 failed on an asymmetric path: a warning, never the cause
    assert _results(report, "path-symmetric")["bda-n2->bda-n1"][0] == "warn"


def test_kube_proxys_iptables_nft_rule_is_found_though_nft_json_hides_its_state(tmp_path: Path) -> None:
    text = (FIXTURES / "nft-kube-proxy-iptables-nft.json").read_text()
    report = _evaluate(_with_output(tmp_path, DROP_RUN, "bda-ra", "nft.ruleset", stdout=text))
    assert [d.root_cause for d in report.diagnoses] == [CAUSE]
    reason = _results(report, "path-stateful-asymmetry")["bda-n1->bda-n2"][1]
    assert (
        "ip filter KUBE-FORWARD: -m conntrack (its --ctstate is not in `nft -j`) drop (0 packets)" in reason
    )


def test_a_router_that_forwards_only_established_traffic_drops_the_one_way_flow(tmp_path: Path) -> None:
    text = (FIXTURES / "nft-established-only-forward.json").read_text()
    report = _evaluate(_with_output(tmp_path, DROP_RUN, "bda-ra", "nft.ruleset", stdout=text))
    assert [d.root_cause for d in report.diagnoses] == [CAUSE]
    checks = _results(report, "path-stateful-asymmetry")
    # ra routes n1 -> n2's requests (a new flow it does not accept: a firewall, not asymmetry)
    # and n2 -> n1's replies, which it drops as not established
    assert checks["bda-n1->bda-n2"][0] == "pass"
    assert checks["bda-n2->bda-n1"][0] == "fail"
    assert (
        "inet fw forward: ct state established,related accept (0 packets); policy drop"
        in checks["bda-n2->bda-n1"][1]
    )


def _ruleset(name: str) -> nft.Ruleset:
    return nft.parse_ruleset((FIXTURES / name).read_text())


def test_the_fw4_vmap_drops_invalid_for_traffic_from_any_interface() -> None:
    found = stateful_drop(_ruleset("nft-fw4-vmap.json"), "10.61.1.1", "10.61.2.1", "wan", "br-lan")
    assert found is not None and (found.table, found.chain, found.kind) == (
        "inet fw4",
        "forward",
        "invalid-drop",
    )


def test_rules_for_other_addresses_or_interfaces_leave_the_flow_alone() -> None:
    established = _ruleset("nft-established-only-forward.json")
    # lan0 -> wan0 is accepted without conntrack: only that way is safe
    assert stateful_drop(established, "192.168.1.5", "10.61.2.1", "lan0", "wan0") is None
    assert stateful_drop(established, "10.61.2.1", "192.168.1.5", "wan0", "lan0") is not None
    only_other = nft.parse_ruleset(_rule_for("ip saddr 192.168.0.0/16 ct state invalid drop"))
    assert stateful_drop(only_other, "10.61.1.1", "10.61.2.1", "eth0", "eth1") is None
    assert stateful_drop(only_other, "192.168.1.1", "10.61.2.1", "eth0", "eth1") is not None


def _rule_for(rule: str) -> str:
    """`nft -j` of one forward chain holding `rule`, as nft prints it (written by hand from real output)."""
    saddr, cidr = rule.split()[1:3]
    addr, length = cidr.split("/")
    return json.dumps(
        {
            "nftables": [
                {"table": {"family": "inet", "name": "t"}},
                {"chain": {"family": "inet", "table": "t", "name": "forward", "type": "filter",
                           "hook": "forward", "prio": 0, "policy": "accept"}},
                {"rule": {"family": "inet", "table": "t", "chain": "forward", "handle": 2, "expr": [
                    {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": saddr}},
                               "right": {"prefix": {"addr": addr, "len": int(length)}}}},
                    {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "invalid"}},
                    {"drop": None}]}},
            ]
        }
    )  # fmt: skip


def test_the_snat_fix_passes_nft_check_in_a_nat_chain(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("unshare"):
        pytest.skip("nft -c needs root and unshare")
    pb = next(p for p in load_playbooks() if p.id == CAUSE)
    fix = next(f for f in pb.fixes if "SNAT" in f.title)
    lines = [
        ln.removeprefix("nft ").replace("'", "")
        for ln in render(fix.template, pb.example, CAUSE).splitlines()
    ]
    script = tmp_path / "snat.nft"
    script.write_text("\n".join(lines) + "\n")
    proc = subprocess.run(
        ["unshare", "-n", "nft", "-c", "-f", str(script)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"nft -c refused:\n{script.read_text()}\n{proc.stderr}"
