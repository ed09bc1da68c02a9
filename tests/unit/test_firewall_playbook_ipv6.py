"""firewall-blocks-pod-cidr on IPv6 paths: rp_filter is IPv4's alone, so an IPv6 path never has an
rp_filter verdict, and the cause must not wait for one (while an IPv4 path still needs it)."""

from __future__ import annotations

from typing import Any

from bgpdoctor.engine.rules import holds, load_playbooks

BLOCKED: dict[str, Any] = {
    "pod_ping_ok": False,
    "route_complete": True,
    "forwarding_ok": True,
    "firewall_host": "r",
}


def _verdicts(facts: dict[str, Any]) -> list[bool | None]:
    playbook = next(p for p in load_playbooks() if p.id == "firewall-blocks-pod-cidr")
    return [holds(cond, facts) for cond in playbook.match]


def test_a_firewall_dropping_an_ipv6_pod_path_is_matched_without_an_rp_filter_verdict() -> None:
    assert _verdicts({**BLOCKED, "dst_ip": "fd00:bf:b::1"}) == [True] * 5


def test_an_ipv4_path_still_needs_rp_filter_ruled_out() -> None:
    assert None in _verdicts({**BLOCKED, "dst_ip": "10.42.3.1"})
    assert False in _verdicts({**BLOCKED, "dst_ip": "10.42.3.1", "rp_filter_ok": False})
    assert _verdicts({**BLOCKED, "dst_ip": "10.42.3.1", "rp_filter_ok": True}) == [True] * 5
