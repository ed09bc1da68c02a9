"""Corpus 99 (cilium/cilium#30121): Cilium drops BGP to a host BIRD over ::1 once lo has a second address.

Fixtures: tests/fixtures/parsers/cilium_monitor (SOURCE.md: the FIB-lookup drop is verbatim from
cilium#29413; the loopback BGP drop uses that format with #30121's flow and reason).
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgpdoctor.engine.active import ActiveResults
from bgpdoctor.engine.cni_drops import CILIUM_DROPS, MONITOR_COMMAND
from bgpdoctor.engine.collect import HostFacts, fact_commands
from bgpdoctor.engine.run import Collected, RunOptions, evaluate
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.parsers import ParseError
from bgpdoctor.parsers.ciliummonitor import parse_drops
from bgpdoctor.report.model import Report
from bgpdoctor.transport.base import CommandResult

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "parsers" / "cilium_monitor"
CAUSE = "cni-drops-local-bgp"
LO = [
    {"ifindex": 1, "ifname": "lo", "mtu": 65536, "operstate": "UNKNOWN",
     "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8},
                   {"family": "inet", "local": "10.9.0.1", "prefixlen": 32},
                   {"family": "inet6", "local": "::1", "prefixlen": 128}]},
]  # fmt: skip


def test_the_verbatim_monitor_line_is_read() -> None:
    (drop,) = parse_drops((FIXTURES / "drop_fib_lookup.txt").read_text())
    assert (drop.reason, drop.src, drop.dst, drop.sport, drop.dport) == (
        "FIB lookup failed",
        "10.234.128.226",
        "169.254.169.254",
        None,
        None,
    )
    assert (drop.ifindex, drop.source_file, drop.identities, drop.summary) == (
        597,
        "bpf_lxc.c:1272",
        "33378->world",
        "EchoRequest",
    )


def test_ipv6_ports_are_read_and_a_broken_drop_line_is_a_parse_error() -> None:
    drops = parse_drops((FIXTURES / "drop_loopback_bgp.txt").read_text())
    first = drops[0]
    assert (first.src, first.sport, first.dst, first.dport, first.summary) == (
        "::1",
        39677,
        "::1",
        179,
        "tcp SYN",
    )
    assert len(drops) == 3
    with pytest.raises(ParseError):
        parse_drops("xx drop (Invalid packet) something else\n")


def _inventory(peer: str) -> Inventory:
    return Inventory.model_validate(
        {
            "hosts": {
                "node02": {
                    "role": "node",
                    "speaker": "bird2",
                    "asn": 65001,
                    "connect": {"local": True},
                    "peers": [{"address": peer, "asn": 65001}],
                }
            }
        }
    )


def _run(inv: Inventory, monitor: str, status: int = 0, stderr: str = "") -> Report:
    outputs = {
        CILIUM_DROPS: CommandResult(MONITOR_COMMAND, status, monitor.encode(), stderr),
        "ip.addr": CommandResult("ip -j addr show", 0, json.dumps(LO).encode()),
    }
    facts = {"node02": HostFacts("node02", inv.hosts["node02"], outputs=outputs, contacted=True)}
    return evaluate(
        inv,
        "inventory.yaml",
        Collected(["node02"], facts, ActiveResults(), datetime.now(UTC), 0.0),
        RunOptions(),
    )


def _check(report: Report) -> tuple[str, str]:
    return next((r.status, r.reason) for r in report.results if r.check == "cni-passes-local-bgp")


def test_the_monitor_runs_only_where_bgp_peers_over_loopback() -> None:
    assert CILIUM_DROPS in fact_commands(_inventory("::1").hosts["node02"])
    assert CILIUM_DROPS not in fact_commands(_inventory("192.168.0.1").hosts["node02"])


def test_dropped_local_bgp_is_named_with_the_extra_lo_address_moved_off() -> None:
    report = _run(_inventory("::1"), (FIXTURES / "drop_loopback_bgp.txt").read_text())
    found = next(d for d in report.diagnoses if d.root_cause == CAUSE)
    assert found.hosts == ["node02"]
    assert "drops [::1]:39677 -> [::1]:179 tcp SYN as `Invalid packet` (3 drops seen)" in found.summary
    assert "lo holds 10.9.0.1/32 besides its loopback address" in found.summary
    lines = found.fixes[0].text.splitlines()
    assert "ip addr del 10.9.0.1/32 dev lo" in lines and "ip addr add 10.9.0.1/32 dev bgp-anycast" in lines
    assert _check(report)[0] == "fail"


def test_drops_of_other_traffic_are_not_this_cause() -> None:
    report = _run(_inventory("::1"), (FIXTURES / "drop_fib_lookup.txt").read_text())
    assert CAUSE not in [d.root_cause for d in report.diagnoses]
    assert _check(report)[0] == "pass"


@pytest.mark.parametrize(
    ("monitor", "status", "stderr", "expected"),
    [
        ("", 0, "", "skip"),  # no cilium-dbg on the host: not used
        ("", 1, "Error: Unable to connect to agent: dial unix /var/run/cilium/monitor1_2.sock", "unknown"),
    ],
)
def test_no_monitor_is_not_used_and_a_failing_one_is_unknown(
    monitor: str, status: int, stderr: str, expected: str
) -> None:
    report = _run(_inventory("::1"), monitor, status, stderr)
    status_seen, reason = _check(report)
    assert status_seen == expected
    if expected == "unknown":
        assert "Unable to connect to agent" in reason
    assert CAUSE not in [d.root_cause for d in report.diagnoses]


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=600), st.text(max_size=60))
def test_cut_or_spliced_monitor_output_raises_only_parse_errors(at: int, junk: str) -> None:
    sample = (FIXTURES / "drop_loopback_bgp.txt").read_text()
    with contextlib.suppress(ParseError):
        parse_drops(sample[: at % (len(sample) + 1)] + junk)
