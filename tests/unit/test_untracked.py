"""Corpus 49: a host firewall that lets its own traffic in by conntrack state drops untracked replies.

tests/fixtures/untracked/ruleset_notrack.json is the real `nft -j list ruleset` of a namespace where
this was made and seen (tests/integration/test_tunnels_kernel.py does it again): `ip saddr
10.42.0.0/16 notrack` at raw priority, and an input chain `policy drop` with `iifname "lo" accept`,
`ct state established,related accept`, `tcp dport 22 accept`. A ping from 10.42.0.1 on that host
to 10.42.3.1 got no answer; without the notrack rule it did (the gist of the Talos + Cilium report:
Cilium untracks its decrypted WireGuard traffic, `ct state established` does not match it).

Here that ruleset is sakamoto's in the healthy lab recording (its pod address 10.42.0.1 is local,
on cilium_host), and the ping to yuuko-k8s is lost.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.engine.untracked import Packet, untracked_drop
from bgpdoctor.parsers.nft import parse_ruleset
from bgpdoctor.report.model import Report

REPO = Path(__file__).resolve().parents[2]
RULESET = (REPO / "tests" / "fixtures" / "untracked" / "ruleset_notrack.json").read_text()
PATH = "sakamoto->yuuko-k8s"
CAUSE = "firewall-blocks-pod-cidr"
LOST = (
    "PING 10.42.3.1 (10.42.3.1) from 10.42.0.1 : 56(84) bytes of data.\n\n"
    "--- 10.42.3.1 ping statistics ---\n2 packets transmitted, 0 received, 100% packet loss, time 1020ms\n"
)
REPLY = Packet("10.42.3.1", "10.42.0.1", "eth0", "icmp")


def _edited(edit: Any) -> str:
    doc = json.loads(RULESET)
    doc["nftables"] = edit(doc["nftables"])
    return json.dumps(doc)


def _without_notrack(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for i in items if not ("rule" in i and any("notrack" in e for e in i["rule"]["expr"]))]


def _accepting_untracked(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rule = {
        "rule": {
            "family": "inet",
            "table": "bdn_fw",
            "chain": "input",
            "handle": 9,
            "expr": [
                {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "untracked"}},
                {"accept": None},
            ],
        }
    }
    at = next(i for i, x in enumerate(items) if "rule" in x and x["rule"]["chain"] == "input")
    return [*items[:at], rule, *items[at:]]


def _recording(tmp_path: Path, ruleset: str, lost: bool = True) -> Path:
    recording = json.loads((REPO / "captures" / "runs" / "healthy.json").read_text())
    recording["hosts"]["sakamoto"]["outputs"]["nft.ruleset"] = {
        "command": "nft -j list ruleset",
        "exit_status": 0,
        "stdout_b64": base64.b64encode(ruleset.encode()).decode(),
        "stderr": "",
        "timed_out": False,
    }
    if lost:
        recording["active"]["pings"][PATH]["raw"] = LOST
    path = tmp_path / "untracked.json"
    path.write_text(json.dumps(recording))
    return path


def _evaluate(path: Path) -> Report:
    inv, inv_path, nodes, collected = load_recording(path)
    return evaluate(inv, inv_path, collected, RunOptions(nodes=nodes))


def test_the_real_ruleset_drops_the_untracked_reply_and_says_which_rules() -> None:
    found = untracked_drop(parse_ruleset(RULESET), REPLY)
    assert found is not None
    assert found.notrack.matches == "ip saddr 10.42.0.0/16 notrack"
    assert (found.chain.table, found.chain.name) == ("bdn_fw", "input")
    assert found.established.handle == 3


def test_a_reply_the_notrack_rule_does_not_take_is_tracked_and_passes() -> None:
    assert untracked_drop(parse_ruleset(RULESET), Packet("192.168.0.81", "10.42.0.1", "eth0", "icmp")) is None
    assert untracked_drop(parse_ruleset(_edited(_without_notrack)), REPLY) is None
    assert untracked_drop(parse_ruleset(_edited(_accepting_untracked)), REPLY) is None


def test_the_lost_ping_is_named_as_the_untracked_input_drop_with_its_fix(tmp_path: Path) -> None:
    report = _evaluate(_recording(tmp_path, RULESET))
    found = next(d for d in report.diagnoses if d.root_cause == CAUSE)
    assert found.hosts == ["sakamoto"]
    assert (
        "sakamoto leaves 10.42.3.1 -> 10.42.0.1 (the reply) on eth0 untracked "
        "(`ip saddr 10.42.0.0/16 notrack` in inet bdn_raw prerouting)"
    ) in found.summary
    assert "input chain (inet bdn_fw input, policy drop)" in found.summary
    assert f"pod-ping@{PATH}" in found.symptoms
    assert (
        found.fixes[0].text
        == "nft insert rule inet bdn_fw input ct state untracked ip saddr 10.42.0.0/16 accept"
    )
    excerpt = next(e for e in found.evidence if e.note and "notrack" in e.note)
    assert "leaves it untracked" in excerpt.output and "ct state established,related" in excerpt.output


def test_without_the_notrack_rule_the_same_firewall_is_not_this_cause(tmp_path: Path) -> None:
    report = _evaluate(_recording(tmp_path, _edited(_without_notrack)))
    assert CAUSE not in [d.root_cause for d in report.diagnoses]


def test_a_ping_that_answers_is_never_judged(tmp_path: Path) -> None:
    report = _evaluate(_recording(tmp_path, RULESET, lost=False))
    assert CAUSE not in [d.root_cause for d in report.diagnoses]
