"""Offline diagnosis at scale (issue 12): per-output work done once, answers unchanged.

The reference functions below are the implementations before the change (commit de39342), kept to
prove that the shared BIRD block cutter and the indexed pool lookup answer exactly as they did.
"""

from __future__ import annotations

import ipaddress
import re
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgpdoctor.drivers.excerpt import bird_block
from bgpdoctor.engine import limits, vips
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.parsers import birdblocks
from bgpdoctor.parsers.bird import _is_header, _lines
from bgpdoctor.parsers.capabilities import _bird_block as caps_of_block
from bgpdoctor.parsers.capabilities import parse_bird_protocols

HEADER = "Name       Proto      Table      State  Since         Info"


def old_excerpt_block(text: str, name: str) -> str | None:
    lines = text.splitlines()
    header = next((line for line in lines if line.lower().split()[:2] == ["name", "proto"]), None)
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if current is not None and line.strip() and line[:1].isspace():
            current.append(line)
            continue
        current = None
        words = line.split(None, 1)
        if words and line[:1].strip() and line is not header and words[0] not in blocks:
            current = blocks[words[0]] = [line]
    block = blocks.get(name)
    if block is None:
        return None
    return f"{header}\n" + "\n".join(block) if header else "\n".join(block)


def old_limits_block(text: str, name: str | None, address: str | None) -> str:
    for block in re.split(r"\n(?=\S)", text):
        first = block.split(None, 1)[0] if block.strip() else ""
        if (name and first == name) or (
            address and re.search(rf"Neighbor address:\s*{re.escape(address)}\s*$", block, re.M)
        ):
            return block
    return ""


def old_parse_bird_protocols(text: str) -> list[Any]:
    out: list[Any] = []
    name: str | None = None
    block: list[str] = []

    def flush() -> None:
        if name is not None:
            found = caps_of_block(name, block)
            if found is not None:
                out.append(found)

    for line in _lines(text, "bird"):
        if not line.strip() or _is_header(line):
            continue
        if line[0] not in " \t":
            flush()
            name, block = line.split()[0], []
        else:
            block.append(line.replace("\t", "    "))
    flush()
    return out


NAMES = ["node_a", "node_b", "rr1", "device1"]
BODY_LINES = [
    "  BGP state:          Established",
    "  BGP state:          Active",
    "    Neighbor address: 10.0.0.1",
    "    Neighbor address: 10.0.0.2",
    "    Neighbor AS:      65001",
    "  Channel ipv4",
    "\tChannel ipv6",
    "    Import limit:     3 [HIT]",
    "    Import withdraws:            4          0        ---          2          0",
    "    Local capabilities",
    "      Multiprotocol",
    "        AF announced: ipv4",
    "      4-octet AS numbers",
    "    Neighbor capabilities",
    "      Graceful restart",
    "    Session:          external AS4",
    "",
]


@st.composite
def show_protocols(draw: st.DrawFn) -> str:
    lines = ["BIRD 2.0.12 ready.", HEADER] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.sampled_from(NAMES))
        lines.append(f"{name}     BGP        ---        up     12:00:00.000  Established")
        lines += draw(st.lists(st.sampled_from(BODY_LINES), max_size=8))
        if draw(st.booleans()):
            lines.append("")
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"]))


@settings(max_examples=200, deadline=None)
@given(text=show_protocols(), name=st.sampled_from([*NAMES, "missing"]))
def test_the_session_excerpt_quotes_the_same_block_as_before(text: str, name: str) -> None:
    assert bird_block(text, name) == old_excerpt_block(text, name)


@settings(max_examples=200, deadline=None)
@given(
    text=show_protocols(),
    name=st.sampled_from([*NAMES, "missing", None]),
    address=st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.9", None]),
)
def test_the_limit_and_withdraw_counters_read_the_same_block_as_before(
    text: str, name: str | None, address: str | None
) -> None:
    peer = SimpleNamespace(name=name, address=address) if name or address else None
    end = cast(Any, SimpleNamespace(peer=peer))
    old = old_limits_block(text, name, address) if peer else ""
    assert limits._bird_block(text, end).rstrip("\n") == old.rstrip("\n")


@settings(max_examples=200, deadline=None)
@given(text=show_protocols())
def test_capabilities_are_read_from_the_same_blocks_as_before(text: str) -> None:
    if HEADER not in text:
        text = f"{HEADER}\n{text}"
    assert parse_bird_protocols(text) == old_parse_bird_protocols(text)


def test_a_routers_output_is_cut_once_for_all_its_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    """A router with N peers: N sessions each asked for their block and re-cut the whole output."""
    blocks = [
        f"peer{i}     BGP        ---        up     12:00:00.000  Established\n"
        f"  BGP state:          Established\n    Neighbor address: 10.1.{i // 250}.{i % 250}\n"
        for i in range(300)
    ]
    text = HEADER + "\n" + "\n".join(blocks)
    cuts = []
    real_cut = birdblocks.cut
    monkeypatch.setattr(birdblocks, "cut", lambda lines: cuts.append(1) or real_cut(lines))
    for i in range(300):
        end = cast(
            Any, SimpleNamespace(peer=SimpleNamespace(name=None, address=f"10.1.{i // 250}.{i % 250}"))
        )
        assert f"peer{i} " in limits._bird_block(text, end)
        assert bird_block(text, f"peer{i}") is not None
    assert len(cuts) == 1


def old_pool_overlaps(inv: Any) -> dict[str, list[str]]:
    subnets: dict[str, str] = {}
    for site_name, site in inv.sites.items():
        for net in site.subnets:
            subnets[str(net)] = f"site {site_name}"
    for host_name, host in inv.hosts.items():
        if host.role == "node":
            for address in [*host.addresses, *([host.internal_ip] if host.internal_ip else [])]:
                if not any(address in ipaddress.ip_network(n) for n in subnets):
                    subnets[f"{address}/32"] = f"node {host_name}"
    return {
        name: [
            f"{n} ({whose})" for n, whose in subnets.items() if pool.cidr.overlaps(ipaddress.ip_network(n))
        ]
        for name, pool in sorted(inv.lb_pools.items())
    }


def _inventory(sites: list[list[str]], nodes: list[list[str]], pools: list[str]) -> Any:
    return SimpleNamespace(
        sites={
            f"s{i}": SimpleNamespace(subnets=[ipaddress.ip_network(n) for n in nets])
            for i, nets in enumerate(sites)
        },
        hosts={
            f"n{i}": SimpleNamespace(
                role="node" if i % 5 else "router",
                addresses=[ipaddress.ip_address(a) for a in addresses[1:]],
                internal_ip=ipaddress.ip_address(addresses[0]) if addresses else None,
            )
            for i, addresses in enumerate(nodes)
        },
        lb_pools={
            f"p{i}": SimpleNamespace(cidr=ipaddress.ip_network(cidr), l2=i % 3 == 2)
            for i, cidr in enumerate(pools)
        },
    )


octet = st.integers(0, 3)
address = st.builds(lambda a, b: f"10.{a}.{b}.7", octet, octet)
network = st.builds(lambda a, b, length: f"10.{a}.{b}.0/{length}", octet, octet, st.sampled_from([24]))
wide = st.builds(lambda a, length: f"10.{a}.0.0/{length}", octet, st.sampled_from([16, 23]))


@settings(max_examples=200, deadline=None)
@given(
    sites=st.lists(st.lists(st.one_of(network, wide), max_size=3), max_size=3),
    nodes=st.lists(st.lists(address, max_size=3), max_size=12),
    pools=st.lists(st.one_of(network, wide, address.map(lambda a: f"{a}/32")), max_size=4),
)
def test_pool_overlaps_are_listed_as_before(
    sites: list[list[str]], nodes: list[list[str]], pools: list[str]
) -> None:
    inv = _inventory(sites, nodes, pools)
    new = {
        s.facts["lb_pool_name"]: s.facts["lb_pool_overlaps"]
        for s in vips.inventory_pool_subjects(cast(Inventory, inv))
    }
    old = old_pool_overlaps(inv)
    for name, pool in inv.lb_pools.items():
        assert new[name] == ([] if pool.l2 else old[name])


def test_pool_overlaps_parse_each_node_address_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every node address was checked against every subnet and every earlier node, each parsed anew."""
    nodes = [[f"10.{9 + i // 250}.{i % 250}.7"] for i in range(1000)]
    inv = _inventory([["10.0.0.0/16"]], nodes, ["10.9.0.0/16"])
    parsed = []
    real = ipaddress.ip_network
    monkeypatch.setattr(vips.ipaddress, "ip_network", lambda *a, **k: parsed.append(1) or real(*a, **k))
    (subject,) = vips.inventory_pool_subjects(cast(Inventory, inv))
    assert len(subject.facts["lb_pool_overlaps"]) == 200  # the pool's /16 holds 250 x 4/5 nodes
    assert len(parsed) < 2 * len(nodes)  # before: ~400,000


values = st.one_of(
    st.text(max_size=8),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(),
    st.lists(st.text(max_size=3), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(
        st.one_of(
            st.text(alphabet=" ab:.-\n\t{}%#()'", max_size=6),
            st.sampled_from(
                [
                    "{{ a }}",
                    "{{b}}",
                    "{{  none }}",
                    "{{ a|length }}",
                    "{{ missing }}",
                    "{% if a %}x{% endif %}",
                ]
            ),
        ),
        max_size=6,
    ),
    a=values,
    b=values,
)
def test_verdict_texts_read_as_jinja_renders_them(pieces: list[str], a: Any, b: Any) -> None:
    """Plain `{{ name }}` templates are filled without Jinja's per-render set-up; the text is Jinja's."""
    import jinja2

    from bgpdoctor.engine.judge import TemplateValueError, render
    from bgpdoctor.engine.rules import compiled_template

    template = "".join(pieces)
    try:
        expected: str | None = compiled_template(template).render(a=a, b=b).strip()
    except (jinja2.TemplateError, TypeError):
        expected = None
    try:
        got: str | None = render(template, {"a": a, "b": b}, "t")
    except (TemplateValueError, TypeError):
        got = None
    assert got == expected


def test_a_line_with_a_secret_is_redacted_every_time_and_never_remembered() -> None:
    """Lines that only look secret are remembered as clean (every node prints netstat's counter names);
    a line with a secret must be redacted on each call and not be kept in memory."""
    from bgpdoctor import redact as redact_module
    from bgpdoctor.redact import REDACTED, redact

    names = "TcpExt: SyncookiesSent TCPMD5NotFound TCPMD5Unexpected TCPMD5Failure MPFallbackTokenInit\n"
    assert redact(names) == names
    assert redact(names) == names
    secret = 'neighbor 10.0.0.1 password "s3cret-value"\n'
    for _ in range(2):
        assert "s3cret-value" not in redact(secret) and REDACTED in redact(secret)
    assert not any("s3cret-value" in line for line in redact_module._CLEAN_LINES)


@settings(max_examples=200, deadline=None)
@given(
    neighbors=st.lists(
        st.tuples(st.sampled_from(["10.0.0.1", "10.0.0.2", None]), st.sampled_from(["p1", "p2", None])),
        max_size=6,
    ),
    address=st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
    name=st.sampled_from(["p1", "p2", None]),
)
def test_a_session_end_finds_the_neighbor_the_linear_scan_found(
    neighbors: list[tuple[str | None, str | None]], address: str, name: str | None
) -> None:
    from bgpdoctor.drivers import NeighborState, match_neighbor
    from bgpdoctor.engine.world import World

    states = [NeighborState(address=a, name=n, state="established") for a, n in neighbors]
    peer = cast(Any, SimpleNamespace(address=ipaddress.ip_address(address), name=name))
    world = World(cast(Any, SimpleNamespace(hosts={})), {})
    world._neighbors["r1"] = states
    assert world.neighbor_for("r1", peer) is match_neighbor(states, peer)


def test_the_cycle_collector_is_back_on_after_an_evaluation_fails() -> None:
    import gc

    from bgpdoctor.engine.world import without_cycle_collection

    @without_cycle_collection
    def failing() -> None:
        assert not gc.isenabled()
        raise ValueError("odd output")

    assert gc.isenabled()
    with pytest.raises(ValueError):
        failing()
    assert gc.isenabled()


RUNS = __import__("pathlib").Path(__file__).resolve().parents[2] / "captures" / "runs"


def _replayed(name: str) -> tuple[Any, Any, Any]:
    from bgpdoctor.engine.recording import load_recording
    from bgpdoctor.engine.run import RunOptions, evaluate

    inv, inventory_path, nodes, collected = load_recording(RUNS / f"{name}.json")
    report = evaluate(inv, inventory_path, collected, RunOptions(nodes=nodes))
    return inv, collected, report


@pytest.mark.parametrize("run", ["healthy", "nat-rewrites-bgp-source"])
@pytest.mark.parametrize("per_chunk", [1, 7, 200])
def test_the_streamed_json_report_is_the_report_dumped_whole(
    run: str, per_chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bgpdoctor.report import outputs

    _inv, _collected, report = _replayed(run)
    monkeypatch.setattr(outputs, "RESULTS_PER_CHUNK", per_chunk)
    chunks = list(outputs.json_chunks(report))
    assert "".join(chunks) == report.model_dump_json(indent=2)
    assert len(chunks) > len(report.results) // per_chunk  # never the whole report at once
    empty = report.model_copy(update={"results": []})
    assert "".join(outputs.json_chunks(empty)) == empty.model_dump_json(indent=2)


def test_the_verdicts_are_the_results_validation_would_make() -> None:
    from pydantic import TypeAdapter

    from bgpdoctor.report.model import CheckResult

    results = TypeAdapter(CheckResult)
    _inv, _collected, report = _replayed("nat-rewrites-bgp-source")
    assert {r.status for r in report.results} >= {"pass", "fail", "skip"}
    assert any(r.explained_by is not None for r in report.results)
    for r in report.results:
        validated = results.validate_python(results.dump_python(r))
        assert r == validated
        assert results.dump_json(r) == results.dump_json(validated)


def test_a_result_has_no_attribute_dict() -> None:
    import sys

    _inv, _collected, report = _replayed("healthy")
    result = report.results[0]
    assert not hasattr(result, "__dict__")
    assert sys.getsizeof(result) < 200  # its fields in slots, no dict or field set of its own


def test_the_session_status_reads_the_sessions_the_diagnosis_paired(monkeypatch: pytest.MonkeyPatch) -> None:
    from bgpdoctor.engine import sessions
    from bgpdoctor.report.outputs import run_outputs

    inv, collected, _report = _replayed("healthy")
    paired: list[int] = []
    original = sessions._paired
    monkeypatch.setattr(sessions, "_paired", lambda w, s: paired.append(1) or original(w, s))
    status = run_outputs(inv, collected).status
    assert status is not None and status.sessions and not paired
    collected.world = None  # without the run's view the status pairs them itself
    assert run_outputs(inv, collected).status == status and paired == [1]


def test_each_output_is_quoted_by_one_evidence_object() -> None:
    _inv, collected, report = _replayed("healthy")
    world = collected.world
    host = "router-mine"
    assert world.evidence(host, "ip.route") is world.evidence(host, "ip.route")
    assert world.evidence(host, "ip.route", "a note") is not world.evidence(host, "ip.route")
    assert world.evidence(host, "ip.route", "a note").note == "a note"
    quoted = world.route_excerpt(host, ["0.0.0.0/0", "default"])
    assert quoted is world.route_excerpt(host, ["default", "0.0.0.0/0"])
    cited = [e for r in report.results for e in r.evidence]
    assert len({id(e) for e in cited}) < len(cited)


def test_the_benchmark_measures_the_replays_peak_not_its_own() -> None:
    """Linux starts a spawned process's peak RSS at its parent's; the benchmark held the previous
    replay's whole report, so later replays read as the benchmark's size."""
    import sys

    sys.path.insert(0, str(RUNS.parents[1] / "benchmarks"))
    import offline_scale

    held = b"x" * (200 * 2**20)  # the benchmark's own memory, written so that it is resident
    _wall, peak_mib, status, results, unknown = offline_scale._measure(
        RUNS / "healthy.json", str(RUNS.parents[1])
    )
    assert len(held) and status == 0 and results > 100 and unknown == 0
    assert peak_mib < 150
