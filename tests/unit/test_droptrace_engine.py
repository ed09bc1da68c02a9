"""Drop traces in the active phase and in recordings: tracers started on every host, always stopped
(also when the probes are interrupted), their raw outputs recorded and re-read on replay."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from bgpdoctor.engine.active import ActiveResults, ProbeSettings, _drop_tracing
from bgpdoctor.engine.drops import host_drop_facts
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.subject import Subject
from bgpdoctor.engine.world import Unknown
from bgpdoctor.parsers.droptrace import DropEvent
from bgpdoctor.probes import droptrace as dt
from bgpdoctor.transport.base import CommandResult

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "droptrace"
HEALTHY = REPO / "captures" / "runs" / "healthy.json"
CAPS = (FIXTURES / "capabilities-netns-linux-6.18.txt").read_text()
NETNS = {"router-home": "4026533079", "router-mine": "4026533080"}  # one kernel, two namespaces


class FakeHost:
    """Answers the three droptrace commands like a lab namespace that saw an rp_filter drop."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.commands: list[str] = []
        self.caps = CAPS.replace("4026533079", NETNS[name])
        self.rulesets: list[str] = []  # answers to `nft -j list ruleset`, in turn
        self.stop = (FIXTURES / "stop-bpftrace-linux-6.18.txt").read_text()

    def run(self, command: str, timeout: float = 10.0, max_output: int = 1 << 20) -> CommandResult:
        self.commands.append(command)
        if command == dt.CAPABILITIES_COMMAND:
            out = self.caps
        elif command == dt.NFT_COMMAND:
            out = self.rulesets.pop(0) if self.rulesets else "nft: not installed\n"
        elif "mktemp -d" in command:
            out = "dir=/tmp/bgpdoctor-drops.AbC123 pid=42 ready=yes attach_ms=1234\n"
        elif self.name == "router-home":
            out = self.stop
        else:
            out = "Attaching 3 probes...\nREADY\n--- stderr\n130\n"
        return CommandResult(command, 0, out.encode(), "", 0.1)

    def close(self) -> None:
        pass


class World:
    def __init__(self, facts: dict[str, Any]) -> None:
        self.facts = facts


@pytest.fixture
def world() -> tuple[World, dict[str, FakeHost]]:
    _inv, _path, _nodes, collected = load_recording(HEALTHY)
    hosts = {name: FakeHost(name) for name in NETNS}
    facts = {name: collected.facts[name] for name in NETNS}
    for name, host in hosts.items():
        facts[name].connection = host
        facts[name].outputs.clear()
    return World(facts), hosts


FLOWS = [dt.Flow("10.213.9.1", "10.213.0.2", 1), dt.Flow("10.213.9.1", "10.213.0.2", 6, 179)]


def test_each_host_gets_its_own_drops_and_the_outputs_are_recorded(
    world: tuple[World, dict[str, FakeHost]],
) -> None:
    w, hosts = world
    out = ActiveResults()
    with _drop_tracing(w, sorted(NETNS), FLOWS, ProbeSettings(drop_trace=True), out, lambda _m: None):  # type: ignore[arg-type]
        pass
    assert dt.drop_facts(out.drops["router-home"])["drop_reason_names"] == ["IP_RPFILTER"]
    assert out.drops["router-mine"].events == [] and out.drops["router-mine"].unknown is None
    # one kernel under both: one tracer, on router-home, filtering on both namespaces
    starts = {n: [c for c in h.commands if "mktemp -d" in c] for n, h in hosts.items()}
    assert starts["router-mine"] == [] and len(starts["router-home"]) == 1
    assert "($ns == 4026533079 || $ns == 4026533080)" in starts["router-home"][0]
    assert set(w.facts["router-home"].outputs) == {
        dt.CAPABILITIES_FACT,
        dt.NFT_BEFORE_FACT,
        dt.START_FACT,
        dt.STOP_FACT,
    }


def test_tracers_are_stopped_when_the_probes_are_interrupted(
    world: tuple[World, dict[str, FakeHost]],
) -> None:
    w, hosts = world
    out = ActiveResults()
    with (
        pytest.raises(KeyboardInterrupt),
        _drop_tracing(w, sorted(NETNS), FLOWS, ProbeSettings(drop_trace=True), out, lambda _m: None),  # type: ignore[arg-type]
    ):
        raise KeyboardInterrupt
    assert any("kill -TERM $p" in c for c in hosts["router-home"].commands)  # the stop command ran
    assert "router-home" in out.drops


def test_no_flows_no_tracing(world: tuple[World, dict[str, FakeHost]]) -> None:
    w, hosts = world
    out = ActiveResults()
    with _drop_tracing(w, sorted(NETNS), [], ProbeSettings(drop_trace=True), out, lambda _m: None):  # type: ignore[arg-type]
        pass
    assert out.drops == {} and all(h.commands == [] for h in hosts.values())


def _output(text: str) -> dict[str, Any]:
    return {
        "command": "(droptrace)",
        "exit_status": 0,
        "stdout_b64": base64.b64encode(text.encode()).decode(),
        "stderr": "",
        "timed_out": False,
    }


def test_a_replayed_recording_reads_the_drop_trace_again(tmp_path: Path) -> None:
    data = json.loads(HEALTHY.read_text())
    data["hosts"]["router-home"]["outputs"].update(
        {
            dt.CAPABILITIES_FACT: _output(CAPS),
            dt.START_FACT: _output("dir=/tmp/bgpdoctor-drops.AbC123 pid=42 ready=yes\n"),
            dt.STOP_FACT: _output((FIXTURES / "stop-bpftrace-linux-6.18.txt").read_text()),
        }
    )
    path = tmp_path / "rec.json"
    path.write_text(json.dumps(data))
    _inv, _path, _nodes, collected = load_recording(path)
    trace = collected.active.drops["router-home"]
    assert dt.drop_facts(trace)["drop_count"] == 3 and trace.method == "bpftrace"
    assert set(collected.active.drops) == {"router-home"}  # no trace recorded elsewhere: none, not an error


def test_a_recording_without_drop_traces_has_none() -> None:
    assert load_recording(HEALTHY)[3].active.drops == {}


# -- which nft rule dropped the probe's packets: counters before and after, read-only ---------------
def _ruleset(*rules: tuple[str, int | None, str], policy: str = "accept") -> str:
    """nft -j list ruleset with one input chain; each rule (verdict, counter packets or None, comment)
    matches tcp dport 179."""
    items: list[dict[str, Any]] = [
        {"metainfo": {"version": "1.0.9", "json_schema_version": 1}},
        {"table": {"family": "inet", "name": "fw", "handle": 1}},
        {"chain": {"family": "inet", "table": "fw", "name": "input", "handle": 1, "type": "filter",
                   "hook": "input", "prio": 0, "policy": policy}},
    ]  # fmt: skip
    for handle, (verdict, packets, comment) in enumerate(rules, start=2):
        expr: list[dict[str, Any]] = [
            {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 179}}
        ]
        if packets is not None:
            expr.append({"counter": {"packets": packets, "bytes": packets * 60}})
        expr.append({verdict: None})
        items.append({"rule": {"family": "inet", "table": "fw", "chain": "input", "handle": handle,
                               "comment": comment, "expr": expr}})  # fmt: skip
    return json.dumps({"nftables": items})


def test_the_one_drop_rule_whose_counter_rose_is_named() -> None:
    before = _ruleset(("accept", 40, "peers"), ("drop", 3, "bgp"), ("drop", 7, "old"))
    after = _ruleset(("accept", 90, "peers"), ("drop", 8, "bgp"), ("drop", 7, "old"))
    assert dt.name_nft_rule(before, after) == (
        'inet fw input handle 3: tcp dport 179 drop (comment "bgp")',
        None,
    )


@pytest.mark.parametrize(
    ("before", "after", "why"),
    [
        (
            _ruleset(("drop", 3, "a"), ("reject", 1, "b")),
            _ruleset(("drop", 5, "a"), ("reject", 2, "b")),
            "rule not named: 2 drop rules counted packets while the probes ran (inet fw input handle 2: "
            'tcp dport 179 drop (comment "a"); inet fw input handle 3: tcp dport 179 reject (comment "b"))',
        ),
        (
            _ruleset(("drop", None, "a"), policy="drop"),
            _ruleset(("drop", None, "a"), policy="drop"),
            "rule not named: no counted drop rule rose; it was one of: 1 drop rule without a counter; "
            "the drop policy of inet fw input (a policy has no counter)",
        ),
        (
            _ruleset(("accept", 1, "a")),
            _ruleset(("accept", 2, "a")),
            "rule not named: no nft rule or policy drops here (another netfilter table",
        ),
        ("nft: not installed\n", "nft: not installed\n", "rule not named: nft is not installed"),
        (_ruleset(("drop", 1, "a")), None, "rule not named: the nft ruleset was not read after the probes"),
        (
            "Error: Operation not permitted",
            _ruleset(),
            "rule not named: the nft ruleset read before the probes is",
        ),
    ],
)
def test_a_rule_that_cannot_be_told_says_why(before: str, after: str | None, why: str) -> None:
    rule, unnamed = dt.name_nft_rule(before, after)
    assert rule is None and unnamed is not None and unnamed.startswith(why), unnamed


def test_a_netfilter_drop_names_its_rule_in_the_proof_and_the_rulesets_are_recorded(
    world: tuple[World, dict[str, FakeHost]],
) -> None:
    """router-mine's kernel drops a probe SYN in nft; its `bgp` rule's counter rose meanwhile."""
    w, hosts = world
    hosts["router-mine"].rulesets = [_ruleset(("drop", 3, "bgp")), _ruleset(("drop", 9, "bgp"))]
    hosts["router-home"].stop = (
        "READY\ndrop netns=4026533080 reason=12 location=nft_do_chain proto=6 src=10.213.9.1 sport=40000 "
        "dst=10.213.0.2 dport=179\n--- stderr\n130\n--- times\n0m0.00s 0m0.00s\n0m0.41s 0m0.12s\n"
    )
    out = ActiveResults()
    with _drop_tracing(w, sorted(NETNS), FLOWS, ProbeSettings(drop_trace=True), out, lambda _m: None):  # type: ignore[arg-type]
        pass
    trace = out.drops["router-mine"]
    assert trace.nft_rule == 'inet fw input handle 2: tcp dport 179 drop (comment "bgp")'
    assert hosts["router-mine"].commands.count(dt.NFT_COMMAND) == 2  # before and after
    assert hosts["router-home"].commands.count(dt.NFT_COMMAND) == 1  # no netfilter drop there: no "after"
    assert {dt.NFT_BEFORE_FACT, dt.NFT_AFTER_FACT} <= set(w.facts["router-mine"].outputs)
    # the tracer's cost is the leader's, the one host whose tracer it was
    assert out.drops["router-home"].cost == dt.TracerCost(attach_seconds=1.234, cpu_seconds=0.53)
    assert trace.cost is None


def test_a_kernel_without_drop_reasons_is_unknown_with_that_reason_not_an_error(
    world: tuple[World, dict[str, FakeHost]],
) -> None:
    """Before Linux 5.17 skb:kfree_skb has no `reason` field (the 5.15 format file of the fixture, from
    include/trace/events/skb.h of v5.15): no tracer starts, and the host's drop facts are unknown with
    that reason, never "no drop"."""
    w, hosts = world
    old = CAPS.split("--- format\n")[0].replace("6.18.44-fc-v1272", "5.15.0-91-generic")
    old += "--- format\n" + (FIXTURES / "kfree_skb-format-linux-5.15.txt").read_text()
    for host in hosts.values():
        host.caps = old
    out = ActiveResults()
    with _drop_tracing(w, sorted(NETNS), FLOWS, ProbeSettings(drop_trace=True), out, lambda _m: None):  # type: ignore[arg-type]
        pass
    assert not [c for h in hosts.values() for c in h.commands if "mktemp -d" in c]  # no tracer started
    trace = out.drops["router-home"]
    assert trace.method is None and trace.unknown_kind == "not-collected"
    assert (
        trace.unknown
        == "router-home: kernel 5.15.0-91-generic records no drop reasons (Linux 5.17 or later does)"
    )
    subject = Subject("host", "router-home", ["router-home"], ["router-home"])
    host_drop_facts(subject, out, "router-home")
    assert "drop_reason_names" not in subject.facts and "kernel_drops" not in subject.facts
    assert subject.problem("drop_reason_names") == Unknown("not-collected", trace.unknown)


def _event(
    reason: str, location: str, protocol: int = 1, sport: int | None = None, dport: int | None = None
) -> DropEvent:
    return DropEvent(
        "router-home",
        4026533079,
        reason,
        location,
        4,
        0x0800,
        protocol,
        "10.42.0.1",
        sport,
        "10.42.3.1",
        dport,
    )


@pytest.mark.parametrize(
    ("events", "proof"),
    [
        (
            [_event("IP_INADDRERRORS", "ip_error")],
            "the kernel on router-home dropped 4 x IP_INADDRERRORS at ip_error",
        ),
        (
            [_event("NO_SOCKET", "tcp_v4_rcv", 6, 40000, 179)],
            "the kernel on router-home dropped 4 x NO_SOCKET at tcp_v4_rcv",
        ),
        # a route missing here follows from any session down elsewhere (port-179-conflict on the lab);
        # path-MTU discovery and TTL expiry tell about the sender or the path; a late answer to a
        # closed ephemeral socket is no fault
        ([_event("IP_INNOROUTES", "ip_error")], None),
        ([_event("PKT_TOO_BIG", "ip_forward"), _event("IP_INHDR", "ip_forward", 6, 40000, 179)], None),
        ([_event("NO_SOCKET", "tcp_v4_rcv", 6, 179, 40000)], None),
    ],
)
def test_a_host_quotes_only_the_drops_that_indict_it(events: list[DropEvent], proof: str | None) -> None:
    out = ActiveResults(drops={"router-home": dt.DropTrace("router-home", "bpftrace", events)})
    subject = Subject("host", "router-home", ["router-home"], ["router-home"])
    host_drop_facts(subject, out, "router-home")
    assert subject.facts.get("kernel_proof") == proof
    assert subject.facts["drop_count"] == sum(e.count for e in events)  # every drop is still counted


def test_icmp_errors_about_a_ping_are_traced_from_any_hop() -> None:
    """A router's frag-needed or time-exceeded goes back to the ping's source: the filter takes ICMP
    to the source from anywhere (mtu-blackhole: router-mine's frag-needed dropped by its nft)."""
    source = dt._word("10.42.0.1", True)
    program = dt.bpftrace_program([dt.Flow("10.42.0.1", "10.42.3.1", 1)], None, True, 100)
    assert f"|| $dst == {source})" in program
    tcp = dt.bpftrace_program([dt.Flow("10.42.0.1", "10.42.3.1", 6, 179)], None, True, 100)
    assert f"|| $dst == {source})" not in tcp


def test_a_cause_seen_on_two_sessions_is_summarised_by_the_one_the_kernel_proved() -> None:
    # node-not-listening on both routers' sessions to one node: only router-home dialled while its
    # drops were traced; the summary speaks for that session and quotes the kernel, whichever comes
    # first in the run's order
    from bgpdoctor.engine.judge import diagnose
    from bgpdoctor.engine.rules import PlaybookDef

    playbook = PlaybookDef.model_validate(
        {
            "id": "node-not-listening",
            "title": "t",
            "subject": "session",
            "match": [{"fact": "refused_by_non_listener", "op": "eq", "value": True}],
            "culprit": "{{ listener }}",
            "summary": "{{ dialer }} is refused by {{ listener }}.",
            "explanation": "e",
        }
    )
    sessions = []
    for router in ("router-mine", "router-home"):
        s = Subject("session", f"{router}<->yuuko-k8s", [router, "yuuko-k8s"], [router, "yuuko-k8s"])
        s.add("refused_by_non_listener", True)
        s.add("dialer", router)
        s.add("listener", "yuuko-k8s")
        sessions.append(s)
    sessions[1].add("kernel_proof", "the kernel on yuuko-k8s dropped 3 SYNs (NO_SOCKET)")
    [found] = diagnose([playbook], sessions, [], [])
    assert found.summary == (
        "router-home is refused by yuuko-k8s. Proof: the kernel on yuuko-k8s dropped 3 SYNs (NO_SOCKET)."
    )
    assert found.hosts == ["yuuko-k8s"]
