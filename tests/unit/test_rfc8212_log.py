"""RFC 8212 read from FRR's log as well as its neighbor JSON: the iBGP variant of FRR 7.2
(FRRouting/frr#5565, `DENIED due to: inbound policy missing` on an iBGP neighbor) is named.

Outputs: captures/outputs/rfc8212 (README there): real FRR 8.4 with BIRD 2 over eBGP and iBGP; the
FRR 7.2 log lines quoted from the issue.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bgpdoctor.engine.active import ActiveResults
from bgpdoctor.engine.collect import SPEAKER_LOG_COMMAND, HostFacts, fact_commands
from bgpdoctor.engine.policy import policy_denials
from bgpdoctor.engine.run import Collected, RunOptions, evaluate
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.report.model import Report
from bgpdoctor.transport.base import CommandResult

OUTPUTS = Path(__file__).resolve().parents[2] / "captures" / "outputs" / "rfc8212"
FRR_IP, BIRD_IP = "10.213.172.1", "10.213.172.2"


def _report(peer_as: int, neighbors: str, log: str | bytes | None) -> Report:
    """frr1 (AS 65001) with its neighbor BIRD_IP in `peer_as`; `log` a file of OUTPUTS or the log's
    bytes, None: the log command failed."""
    host: dict[str, Any] = {
        "role": "router",
        "speaker": "frr",
        "asn": 65001,
        "addresses": [FRR_IP],
        "peers": [{"address": BIRD_IP, "asn": peer_as}],
        "connect": {"netns": "bdm"},
    }
    inv = Inventory.model_validate({"hosts": {"frr1": host}})
    commands = fact_commands(inv.hosts["frr1"])
    results = {
        "frr.neighbors": CommandResult(commands["frr.neighbors"], 0, (OUTPUTS / neighbors).read_bytes())
    }
    if log is None:
        results["speaker.log"] = CommandResult(
            SPEAKER_LOG_COMMAND, 1, b"", "sh: journalctl: Permission denied"
        )
    else:
        results["speaker.log"] = CommandResult(
            SPEAKER_LOG_COMMAND, 0, log if isinstance(log, bytes) else (OUTPUTS / log).read_bytes()
        )
    facts = {"frr1": HostFacts("frr1", inv.hosts["frr1"], outputs=results, contacted=True)}
    collected = Collected(
        scope=["frr1"],
        facts=facts,
        active=ActiveResults(),
        started=datetime(2026, 12, 6, 8, 40, tzinfo=UTC),
        wall_seconds=1,
    )
    return evaluate(inv, "inventory.yaml", collected, RunOptions(nodes=[]))


def _policy_check(report: Report) -> str:
    [result] = [r for r in report.results if r.check == "ebgp-policy-present"]
    return result.status


def test_frr_denials_are_read_from_both_log_formats() -> None:
    frr84 = policy_denials((OUTPUTS / "frr84_ebgp_no_route_map_speaker_log.txt").read_text())
    assert (frr84.inbound, frr84.outbound) == ({BIRD_IP}, set())
    frr72 = policy_denials((OUTPUTS / "frr72_ibgp_speaker_log.txt").read_text())
    assert (frr72.inbound, len(frr72.lines), frr72.lines[0][0]) == ({BIRD_IP}, 4, BIRD_IP)
    assert policy_denials("10.0.0.1 [Update:SEND] 77.0.0.0/22 is filtered by route-map\n").neighbors == set()


def test_frr72_denying_an_ibgp_neighbor_for_missing_policy_is_named_from_its_log() -> None:
    # the neighbor JSON says nothing (FRR 8.4's real iBGP output); only the log shows the denials
    report = _report(65001, "frr84_ibgp_neighbors.json", "frr72_ibgp_speaker_log.txt")
    [found] = [d for d in report.diagnoses if d.root_cause == "bird-ebgp-no-policy"]
    assert found.hosts == ["frr1"]
    assert found.summary == (
        f"FRR on frr1 has no inbound policy for eBGP neighbor {BIRD_IP}: the session may be Established, "
        f"but every route received from {BIRD_IP} is discarded (RFC 8212). {BIRD_IP} is an iBGP neighbor, "
        "which RFC 8212 leaves alone: FRR applies the eBGP rule to it, a bug of FRR 7.2 "
        "(FRRouting/frr#5565) that its log shows as `DENIED due to: inbound policy missing`."
    )
    assert _policy_check(report) == "fail"
    [result] = [r for r in report.results if r.check == "ebgp-policy-present"]
    shown = "\n".join(e.output for e in result.evidence)
    assert "rcvd UPDATE about 88.88.0.0/22 IPv4 unicast -- DENIED due to: inbound policy missing" in shown
    assert f"neighbor {BIRD_IP} route-map BGPDOCTOR-IN in" in next(
        f.text for f in found.fixes if f.platform == "frr"
    )


def test_frr84_ebgp_without_route_map_is_named_from_json_and_log_without_the_ibgp_words() -> None:
    report = _report(
        65002, "frr84_ebgp_no_route_map_neighbors.json", "frr84_ebgp_no_route_map_speaker_log.txt"
    )
    [found] = [d for d in report.diagnoses if d.root_cause == "bird-ebgp-no-policy"]
    assert found.summary.startswith(
        f"FRR on frr1 has no inbound or outbound policy for eBGP neighbor {BIRD_IP}"
    )
    assert "iBGP" not in found.summary


def test_healthy_ibgp_on_frr84_passes_and_an_unreadable_log_concludes_nothing() -> None:
    for log in ("frr84_ibgp_speaker_log.txt", None):
        report = _report(65001, "frr84_ibgp_neighbors.json", log)
        assert "bird-ebgp-no-policy" not in [d.root_cause for d in report.diagnoses]
        assert _policy_check(report) == "pass"  # from the neighbor JSON, which says nothing is missing


def test_a_denial_logged_for_another_neighbor_is_not_this_routers() -> None:
    log = (OUTPUTS / "frr72_ibgp_speaker_log.txt").read_text().replace(BIRD_IP, "10.213.99.9")
    assert policy_denials(log).neighbors == {"10.213.99.9"}
    report = _report(65001, "frr84_ibgp_neighbors.json", log.encode())
    assert _policy_check(report) == "pass"
