"""A prefix limit hit (Cease 6/1) and a hold timer tuned too tight are diagnosed from real daemon outputs.

The BIRD 2.0.12 and gobgpd 3.10.0 outputs were captured in two namespaces (bdm-a 10.251.0.1 sends 5
prefixes, bdm-b 10.251.0.2 limits them to 3, then to 10): captures/outputs/_lab_configs/max_prefix.
The FRR 8.4 outputs are f1's (captures/outputs/frr), whose neighbor 10.213.5.2 hit `maximum-prefix 1`.
The 3 s hold timer outputs (BIRD 2 against gobgpd, before and after a 5 s blackout of port 179):
captures/outputs/_lab_configs/hold_timer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bgpdoctor.drivers import driver_for
from bgpdoctor.engine.active import ActiveResults
from bgpdoctor.engine.collect import HostFacts
from bgpdoctor.engine.run import Collected, RunOptions, evaluate
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.report.model import Report
from bgpdoctor.transport.base import CommandResult

OUTPUTS = Path(__file__).resolve().parents[2] / "captures" / "outputs"
TAKEN = datetime(2026, 12, 5, 23, 15, tzinfo=UTC)


def _host(speaker: str, asn: int, peer: str | None, address: str, peer_asn: int, name: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"address": address, "asn": peer_asn, "name": name}
    if peer is not None:
        entry["host"] = peer
    return {"role": "router", "speaker": speaker, "asn": asn, "connect": {"netns": "bdm"}, "peers": [entry]}


def _report(hosts: dict[str, dict[str, Any]], outputs: dict[str, dict[str, str]]) -> Report:
    """A run over `hosts` whose speakers answered with the files in `outputs` (host -> fact -> file)."""
    inv = Inventory.model_validate({"hosts": hosts})
    facts = {}
    for name, files in outputs.items():
        driver = driver_for(inv.hosts[name].speaker)
        assert driver is not None
        commands = driver.commands(inv.hosts[name])
        results = {
            fact: CommandResult(commands[fact], 0, (OUTPUTS / file).read_bytes())
            for fact, file in files.items()
        }
        facts[name] = HostFacts(name, inv.hosts[name], outputs=results, contacted=True)
    collected = Collected(
        scope=list(outputs), facts=facts, active=ActiveResults(), started=TAKEN, wall_seconds=1
    )
    return evaluate(inv, "inventory.yaml", collected, RunOptions(nodes=[]))


def _bird_pair(router_file: str, node_file: str, router_speaker: str = "bird2") -> Report:
    router_fact = "bird.protocols" if router_speaker == "bird2" else "gobgp.neighbors"
    return _report(
        {
            "router": _host(router_speaker, 65102, "node1", "10.251.0.1", 65101, "peer_a"),
            "node1": _host("bird2", 65101, "router", "10.251.0.2", 65102, "peer_b"),
        },
        {"router": {router_fact: router_file}, "node1": {"bird.protocols": f"bird/{node_file}"}},
    )


def _limit_check(report: Report) -> list[str]:
    return [r.status for r in report.results if r.check == "bgp-prefix-limit-not-hit"]


def test_bird_import_limit_hit_names_the_limiting_end_and_its_limit() -> None:
    report = _bird_pair(
        "bird/bird2_max_prefix_limited_show_protocols_all.txt",
        "bird2_max_prefix_sender_show_protocols_all.txt",
    )
    [d] = [d for d in report.diagnoses if d.root_cause == "max-prefix-exceeded"]
    assert d.hosts == ["router"]
    assert "router received more than its limit of 3 prefixes from node1" in d.summary
    bird_fix = next(f for f in d.fixes if f.platform == "bird2")
    assert "import limit 12 action restart;" in bird_fix.text
    assert any("birdc enable peer_a" in step for step in d.next_steps)
    assert _limit_check(report) == ["fail"]


def test_bird_within_its_limit_is_not_a_prefix_limit_hit() -> None:
    report = _bird_pair(
        "bird/bird2_max_prefix_within_show_protocols_all.txt",
        "bird2_max_prefix_within_sender_show_protocols_all.txt",
    )
    assert not [d for d in report.diagnoses if d.root_cause == "max-prefix-exceeded"]
    assert _limit_check(report) == ["pass"]


def test_gobgp_idle_pfxct_names_gobgp_as_the_limiting_end() -> None:
    # BIRD on the other end only saw "Socket: Connection reset by peer": GoBGP's own state proves it
    report = _bird_pair(
        "gobgp/gobgp_max_prefix_hit_neighbor.txt",
        "bird2_max_prefix_gobgp_peer_show_protocols_all.txt",
        "gobgp",
    )
    [d] = [d for d in report.diagnoses if d.root_cause == "max-prefix-exceeded"]
    assert d.hosts == ["router"] and "its limit of 3 prefixes from node1" in d.summary
    gobgp_fix = next(f for f in d.fixes if f.platform == "gobgp")
    assert "max-prefixes = 12" in gobgp_fix.text and gobgp_fix.target == "neighbor 10.251.0.1"


def test_gobgp_within_its_limit_is_not_a_prefix_limit_hit() -> None:
    report = _bird_pair(
        "gobgp/gobgp_max_prefix_within_neighbor.txt",
        "bird2_max_prefix_within_sender_show_protocols_all.txt",
        "gobgp",
    )
    assert not [d for d in report.diagnoses if d.root_cause == "max-prefix-exceeded"]
    assert _limit_check(report) == ["pass"]


def test_a_limit_outside_the_inventory_is_read_from_the_senders_notification() -> None:
    """Only node1 is ours: BIRD's `Received: Maximum number of prefixes reached` blames the peer."""
    report = _report(
        {"node1": _host("bird2", 65101, None, "10.251.0.2", 65102, "peer_b")},
        {"node1": {"bird.protocols": "bird/bird2_max_prefix_sender_show_protocols_all.txt"}},
    )
    [d] = [d for d in report.diagnoses if d.root_cause == "max-prefix-exceeded"]
    assert "10.251.0.2 received more than its maximum number of prefixes from node1" in d.summary
    assert "seen in the output of node1" in d.summary


def test_frr_neighbor_stopped_by_maximum_prefix() -> None:
    inv_hosts = {
        "f1": {
            "role": "router",
            "speaker": "frr",
            "asn": 65001,
            "connect": {"netns": "bdv-f1"},
            "peers": [{"address": "10.213.5.2", "asn": 65005}, {"address": "10.213.2.2", "asn": 65003}],
        }
    }
    files = {"frr.neighbors": "frr/f1_neighbors.txt", "frr.summary": "frr/f1_summary.txt"}
    report = _report(inv_hosts, {"f1": files})
    [d] = [d for d in report.diagnoses if d.root_cause == "max-prefix-exceeded"]
    assert "f1 received more than its maximum number of prefixes from 10.213.5.2" in d.summary
    frr_fix = next(f for f in d.fixes if f.platform == "frr")
    assert "router bgp 65001" in frr_fix.text and "neighbor 10.213.5.2 maximum-prefix 1000" in frr_fix.text
    statuses = {r.host: r.status for r in report.results if r.check == "bgp-prefix-limit-not-hit"}
    assert statuses == {"f1<->10.213.5.2": "fail", "f1<->10.213.2.2": "pass"}


def _fast_pair(node_file: str, router_file: str) -> Report:
    """node1 runs BIRD 2 (hold 3 s, keepalive 1 s), router gobgpd (hold-time 3): _lab_configs/hold_timer."""
    return _bird_pair(f"gobgp/{router_file}", node_file, "gobgp")


def _hold_check(report: Report) -> list[tuple[str, str]]:
    return [(r.status, r.reason) for r in report.results if r.check == "bgp-hold-time-sane"]


def test_a_3s_hold_time_is_a_warning_while_no_expiry_is_seen() -> None:
    report = _fast_pair("bird2_fast_timers_show_protocols_all.txt", "gobgp_fast_timers_neighbor.txt")
    [(status, reason)] = _hold_check(report)
    assert status == "warn" and "hold time 3 s (router: 3 s, node1: 3 s) is under 9 s" in reason
    assert not [d for d in report.diagnoses if d.root_cause == "hold-timer-mismatch"]
    assert report.summary.findings == 0  # a warning, not a finding


def test_a_3s_hold_time_that_expired_is_the_cause() -> None:
    """BIRD cleared its `Hold timer expired` once back up; GoBGP's second OPEN still tells."""
    report = _fast_pair(
        "bird2_fast_timers_after_hold_expiry_show_protocols_all.txt",
        "gobgp_fast_timers_after_hold_expiry_neighbor.txt",
    )
    [d] = [d for d in report.diagnoses if d.root_cause == "hold-timer-mismatch"]
    assert "run a hold time of 3 s" in d.summary and "GoBGP received 2 OPENs" in d.summary
    bird_fix = next(f for f in d.fixes if f.platform == "gobgp")
    assert "hold-time = 9" in bird_fix.text
    assert [s for s, _ in _hold_check(report)] == ["warn"]


def test_default_timers_pass() -> None:
    report = _bird_pair(
        "bird/bird2_max_prefix_within_show_protocols_all.txt",
        "bird2_max_prefix_within_sender_show_protocols_all.txt",
    )
    assert _hold_check(report) == [("pass", "hold time 240 s (router: 240 s, node1: 240 s)")]


def test_odd_gobgp_json_is_no_limit_hit_and_no_crash() -> None:
    from bgpdoctor.engine.limits import _gobgp_limit_hit

    address = "10.251.0.1"
    for text in (
        "",
        "null",
        "[1, 2]",
        '{"state": []}',
        f'[{{"state": {{"neighbor_address": "{address}"}}, "afi_safis": 5}}]',
        f'[{{"conf": {{"neighbor_address": "{address}"}}, "afi_safis": [{{"prefix_limits": []}}]}}]',
    ):
        assert _gobgp_limit_hit(text, address) == (False, None), text
    hit = (OUTPUTS / "gobgp/gobgp_max_prefix_hit_neighbor.txt").read_text()
    assert _gobgp_limit_hit(hit, address) == (True, 3)
