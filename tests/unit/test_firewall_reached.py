"""firewall-blocks-pod-cidr needs only what is true up to the drop (firewall_reached): every hop up
to the dropping router forwards and passes rp_filter; a fault further along cannot rule it out, and
the hosts further along no longer explain the path's failure. A hop up to it that could not be read
leaves the cause open. IPv6 has no rp_filter: an IPv6 path never waits for one.

The world is three real namespaces (tests/fixtures/ipv6_paths): nodes a and b on either side of
router r, dual stack; r is given a forward chain with policy drop that accepts nothing for the pods.
"""

from __future__ import annotations

from typing import Any

from bgpdoctor.engine.active import ActiveResults
from bgpdoctor.engine.rules import holds, load_playbooks
from bgpdoctor.engine.subject import Subject
from bgpdoctor.engine.subjects import path_subjects
from bgpdoctor.engine.world import World
from bgpdoctor.parsers.ping import parse_ping
from bgpdoctor.transport.base import CommandResult
from tests.unit.test_ipv6_paths import _pairs, raw, world

FORWARD_DROP = (
    '{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},'
    ' {"table": {"family": "inet", "name": "fw", "handle": 1}},'
    ' {"chain": {"family": "inet", "table": "fw", "name": "forward", "handle": 1, "type": "filter",'
    ' "hook": "forward", "prio": 0, "policy": "drop"}}]}'
)
SILENT = {
    "a->b": "PING 10.231.20.1 (10.231.20.1) from 10.231.10.1 : 56(84) bytes of data.\n\n"
    "--- 10.231.20.1 ping statistics ---\n2 packets transmitted, 0 received, 100% packet loss, time 1001ms\n",
    "a->b/ipv6": raw("ping6.silent.txt"),
}


def _firewalled(**r_outputs: str | None) -> World:
    """r drops forwarded pod traffic; `r_outputs` replaces (a string) or drops (None) r's outputs."""
    w = world()
    w.facts["r"].outputs["nft.ruleset"] = CommandResult("nft -j list ruleset", 0, FORWARD_DROP.encode())
    for fact, text in r_outputs.items():
        if text is None:
            del w.facts["r"].outputs[fact]
        else:
            w.facts["r"].outputs[fact] = CommandResult(fact, 0, text.encode())
    return w


def _subject(w: World, key: str = "a->b") -> Subject:
    active = ActiveResults(pings={k: (parse_ping(text), "ping", text) for k, text in SILENT.items()})
    return next(s for s in path_subjects(w, _pairs(w), active) if s.label == key)


def _named(s: Subject) -> bool | None:
    playbook = next(p for p in load_playbooks() if p.id == "firewall-blocks-pod-cidr")
    verdicts = [holds(cond, s.facts) for cond in playbook.match]
    return False if False in verdicts else None if None in verdicts else True


def test_a_router_that_forwards_into_its_own_drop_is_named_and_only_the_hops_up_to_it_are_related() -> None:
    s = _subject(_firewalled())
    assert (s.facts["firewall_host"], s.facts["firewall_reached"]) == ("r", True)
    assert _named(s) is True
    assert s.related == ["a", "b", "r"]


def test_a_router_that_does_not_forward_never_reaches_its_forward_chain() -> None:
    off = raw("r.sysctl.txt").replace("ip_forward:1", "ip_forward:0")
    s = _subject(_firewalled(sysctl=off))
    assert (s.facts["firewall_host"], s.facts["firewall_reached"]) == ("r", False)
    assert _named(s) is False


def test_a_router_whose_sysctls_could_not_be_read_is_not_concluded() -> None:
    s = _subject(_firewalled(sysctl=None))
    assert "firewall_reached" not in s.facts and s.facts["firewall_host"] == "r"
    assert str(s.problems["firewall_reached"]) == "sysctl was not collected on r"
    assert _named(s) is None


def test_an_ipv6_path_is_judged_by_ipv6_forwarding_without_an_rp_filter_verdict() -> None:
    # IPv4's sysctls unread on r: the IPv4 path is open, the IPv6 one is not affected
    w = _firewalled(sysctl=None)
    s = _subject(w, "a->b/ipv6")
    assert "rp_filter_ok" not in s.facts and "rp_filter_ok" not in s.problems
    assert (s.facts["firewall_reached"], _named(s)) == (True, True)
    off = _subject(_firewalled(**{"sysctl.ipv6": raw("r.sysctl6.off.txt")}), "a->b/ipv6")
    assert (off.facts["firewall_reached"], _named(off)) == (False, False)


def test_the_playbook_no_longer_asks_for_the_whole_path() -> None:
    facts: dict[str, Any] = {"pod_ping_ok": False, "firewall_reached": True, "firewall_host": "r"}
    s = Subject("path", "a->b", ["a", "b"], ["a", "r", "b"], facts={**facts, "forwarding_ok": False})
    assert _named(s) is True
    not_reached = {**facts, "firewall_reached": False}
    assert _named(Subject("path", "a->b", ["a", "b"], [], facts=not_reached)) is False
