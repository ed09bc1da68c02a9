"""Tailscale's table 52 taking the pod CIDR away from the CNI (tailscale/tailscale#14706), named.

The healthy recorded lab run (captures/runs/healthy.json) gets, on sakamoto, the `ip rule` list and
rule tables of a namespace running Tailscale's and wg-quick's rules (captures/outputs/ip, the same
outputs tests/unit/test_policy_routing.py reads; tests/integration/test_policy_routing_kernel.py
checks them against the kernel). Table 52 routes 10.42.0.0/16 into tailscale0, so sakamoto's pod
path to yuuko-k8s leaves through the tunnel although its main table routes it elsewhere.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.parsers import iprule
from bgpdoctor.report.model import Report

REPO = Path(__file__).resolve().parents[2]
OUTPUTS = REPO / "captures" / "outputs" / "ip"
PATH = "sakamoto->yuuko-k8s"
CAUSE = "tunnel-table-hijacks-pod-cidr"
LOST = (
    "PING 10.42.3.1 (10.42.3.1) from 10.42.0.1 : 56(84) bytes of data.\n\n"
    "--- 10.42.3.1 ping statistics ---\n2 packets transmitted, 0 received, 100% packet loss, time 1020ms\n"
)


def _recording(tmp_path: Path, tables: str, ping_lost: bool) -> Path:
    recording = json.loads((REPO / "captures" / "runs" / "healthy.json").read_text())
    outputs = recording["hosts"]["sakamoto"]["outputs"]
    rules = (OUTPUTS / "tailscale_wgquick_rule.txt").read_text()
    for fact, command, text in (
        ("ip.rule", "ip -j rule show", rules),
        ("ip.route.rules", iprule.RULE_TABLES_COMMAND, tables),
    ):
        outputs[fact] = {
            "command": command,
            "exit_status": 0,
            "stdout_b64": base64.b64encode(text.encode()).decode(),
            "stderr": "",
            "timed_out": False,
        }
    if ping_lost:
        recording["active"]["pings"][PATH]["raw"] = LOST
    path = tmp_path / "tailscale.json"
    path.write_text(json.dumps(recording))
    return path


def _evaluate(path: Path) -> Report:
    inv, inv_path, nodes, collected = load_recording(path)
    return evaluate(inv, inv_path, collected, RunOptions(nodes=nodes))


def _check(report: Report) -> tuple[str, str]:
    return next(
        (r.status, r.reason) for r in report.results if r.check == "pod-route-not-hijacked" and r.host == PATH
    )


TABLES = (OUTPUTS / "tailscale_wgquick_rule_tables.txt").read_text()


def test_a_failing_pod_path_hijacked_by_tailscales_table_52_is_named(tmp_path: Path) -> None:
    report = _evaluate(_recording(tmp_path, TABLES, ping_lost=True))
    found = next(d for d in report.diagnoses if d.root_cause == CAUSE)
    assert found.hosts == ["sakamoto"]
    assert "into tailscale0 by rule `5270: from all lookup 52` (10.42.0.0/16 dev tailscale0 table 52)" in (
        found.summary
    )
    assert f"pod-ping@{PATH}" in found.symptoms
    fix = found.fixes[0].text.splitlines()
    assert fix[0] == "ip rule add to 10.42.0.0/16 lookup main priority 5260"
    assert fix[-1] == "ip route add throw 10.42.0.0/16 table 52"
    assert found.fixes[1].text.startswith("tailscale set --accept-routes=false")


def test_a_pod_path_over_the_tunnel_that_answers_is_a_warning_not_a_cause(tmp_path: Path) -> None:
    report = _evaluate(_recording(tmp_path, TABLES, ping_lost=False))
    assert CAUSE not in [d.root_cause for d in report.diagnoses]
    status, reason = _check(report)
    assert status == "warn"
    assert "sakamoto sends 10.42.3.1 into tailscale0" in reason


def test_without_tailscales_route_wg_quicks_table_takes_the_pod_range(tmp_path: Path) -> None:
    # main's route for 10.42.3.1 is the default route, which `suppress_prefixlength 0` skips, so
    # wg-quick's `not fwmark 51820 lookup 51820` sends it into the tunnel device instead
    tables = TABLES.replace('{"dst":"10.42.0.0/16","dev":"tailscale0","scope":"link","flags":[]},', "")
    assert tables != TABLES
    report = _evaluate(_recording(tmp_path, tables, ping_lost=True))
    found = next(d for d in report.diagnoses if d.root_cause == CAUSE)
    assert "by rule `32764: not from all fwmark 0xca6c lookup 51820`" in found.summary
    assert found.fixes[1].text.startswith(
        "# wg-quick config of tailscale0: leave 10.42.0.0/16 out of AllowedIPs"
    )


def test_with_the_default_rules_nothing_is_hijacked(tmp_path: Path) -> None:
    path = _recording(tmp_path, "", ping_lost=True)
    recording = json.loads(path.read_text())
    rules = (OUTPUTS / "default_rule.txt").read_text()
    recording["hosts"]["sakamoto"]["outputs"]["ip.rule"]["stdout_b64"] = base64.b64encode(
        rules.encode()
    ).decode()
    path.write_text(json.dumps(recording))
    report = _evaluate(path)
    assert CAUSE not in [d.root_cause for d in report.diagnoses]
    assert _check(report)[0] == "pass"


def test_an_unread_rule_table_leaves_the_hijack_unknown(tmp_path: Path) -> None:
    only_52 = '\ntable 52\n[{"dst":"10.42.0.0/16","dev":"tailscale0","scope":"link","flags":[]}]\n'
    report = _evaluate(_recording(tmp_path, only_52, ping_lost=True))
    assert CAUSE not in [d.root_cause for d in report.diagnoses]
    assert _check(report)[0] == "unknown"
