"""Policy routing (`ip rule`) read from real outputs and followed the way the kernel follows it.

The fixtures are outputs of a namespace with Tailscale's and wg-quick's rules
(captures/outputs/ip/commands.json); each expected route below was checked by hand against
`ip route get` in that namespace (tests/integration/test_policy_routing_kernel.py does it live).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from bgpdoctor.engine.policy import policy_lookup
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.routing import RouteTable
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.parsers import ParseError, iprule
from bgpdoctor.parsers.iproute import Route

REPO = Path(__file__).resolve().parents[2]
OUTPUTS = REPO / "captures" / "outputs" / "ip"
RULES = iprule.parse_rules((OUTPUTS / "tailscale_wgquick_rule.txt").read_text())
TABLES_TEXT = (OUTPUTS / "tailscale_wgquick_rule_tables.txt").read_text()
MAIN = RouteTable(
    [Route("0.0.0.0/0", gateway="192.168.0.1", dev="eth0"), Route("192.168.0.0/24", dev="eth0", scope="link")]
)


def tables(extra: dict[str, list[Route]] | None = None) -> dict[str, RouteTable]:
    read = iprule.parse_rule_tables(TABLES_TEXT)
    read.update(extra or {})
    return {name: RouteTable(routes) for name, routes in read.items()}


def test_the_rules_as_ip_rule_show_prints_them() -> None:
    shown = [r.text() for r in RULES]
    assert shown[0] == "0: from all lookup local"
    assert "101: from all ipproto tcp dport 179 lookup 101" in shown
    assert "102: from all uidrange 1000-2000 lookup 102" in shown
    assert "200: from all to 10.7.0.0/16 blackhole" in shown
    assert "201: from 10.6.0.0/16 goto 32766" in shown
    assert "5210: from all fwmark 0x80000/0xff0000 lookup main" in shown
    assert "5270: from all lookup 52" in shown
    assert "32763: from all lookup main suppress_prefixlength 0" in shown
    assert "32764: not from all fwmark 0xca6c lookup 51820" in shown
    assert [r.priority for r in RULES] == sorted(r.priority for r in RULES)


def test_tables_that_do_not_exist_are_empty_and_the_others_keep_their_name() -> None:
    read = iprule.parse_rule_tables(TABLES_TEXT)
    assert {name: len(routes) for name, routes in read.items()} == {
        "100": 0,
        "101": 0,
        "102": 0,
        "51820": 1,
        "52": 2,
    }
    assert [(r.dst, r.dev, r.table) for r in read["52"]] == [
        ("10.42.0.0/16", "tailscale0", "52"),
        ("100.100.100.100/32", "tailscale0", "52"),
    ]


@pytest.mark.parametrize(
    ("dst", "src", "iif", "dev", "table"),
    [
        ("10.42.1.5", "192.168.0.81", "lo", "tailscale0", "52"),  # Tailscale takes the pod CIDR
        ("8.8.8.8", "192.168.0.81", "lo", "tailscale0", "51820"),  # main's /0 suppressed, wg-quick's
        ("192.168.0.50", "192.168.0.81", "lo", "eth0", "main"),  # /24 is not suppressed by length 0
        ("10.8.1.1", "10.9.1.1", "eth0", "tailscale0", "51820"),  # rule 100's table is empty
        ("10.99.1.1", "10.6.1.1", "eth0", "eth0", "main"),  # goto 32766 skips to the main table
    ],
)
def test_the_route_the_kernel_picks(dst: str, src: str, iif: str, dev: str, table: str) -> None:
    answer = policy_lookup(RULES, tables(), MAIN, dst, src, iif)
    assert answer.ambiguous is None
    assert answer.route is not None and (answer.route.dev, answer.route.table) == (dev, table)


def test_a_blackhole_rule_is_a_blackhole_route() -> None:
    answer = policy_lookup(RULES, tables(), MAIN, "10.7.1.1", "192.168.0.81", "lo")
    assert answer.route is not None and answer.route.type == "blackhole"
    assert answer.rule is not None and answer.rule.priority == 200


def test_a_rule_on_the_protocol_is_ambiguous_only_where_it_would_change_the_route() -> None:
    bgp_table = {"101": [Route("10.42.0.0/16", gateway="192.168.0.9", dev="eth0")]}
    answer = policy_lookup(RULES, tables(bgp_table), MAIN, "10.42.1.5", "192.168.0.81", "lo")
    assert answer.route is None and answer.ambiguous is not None
    assert "ipproto tcp dport 179" in answer.ambiguous
    # a destination table 101 has no route for is decided as before
    other = policy_lookup(RULES, tables(bgp_table), MAIN, "8.8.8.8", "192.168.0.81", "lo")
    assert other.ambiguous is None and other.route is not None and other.route.table == "51820"


def test_a_table_that_was_not_read_is_unknown_not_empty() -> None:
    partial = {name: t for name, t in tables().items() if name != "52"}
    answer = policy_lookup(RULES, partial, MAIN, "10.42.1.5", "192.168.0.81", "lo")
    assert answer.route is None and answer.ambiguous is not None and "table 52" in answer.ambiguous


def test_without_rules_or_with_the_default_rules_the_main_table_decides() -> None:
    default = iprule.parse_rules((OUTPUTS / "default_rule.txt").read_text())
    assert [r.text() for r in default] == [
        "0: from all lookup local",
        "32766: from all lookup main",
        "32767: from all lookup default",
    ]
    for rules in (None, default):
        answer = policy_lookup(rules, {}, MAIN, "10.42.1.5", "192.168.0.81", None)
        assert answer.ambiguous is None and answer.rule is None
        assert answer.route is not None and answer.route.gateway == "192.168.0.1"


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        "[1]",
        '[{"table": "52"}]',
        '[{"priority": 5, "fwmark": "0xzz", "table": "1"}]',
        '[{"priority": 1}]',
    ],
)
def test_malformed_rules_are_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        iprule.parse_rules(text)


def test_route_output_before_a_table_line_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        iprule.parse_rule_tables('[{"dst":"default","dev":"eth0"}]\ntable 52\n[]')


def _with_rules(tmp_path: Path, host: str, rules: str, tables_text: str) -> Path:
    recording = json.loads((REPO / "captures" / "runs" / "healthy.json").read_text())
    outputs = recording["hosts"][host]["outputs"]
    for fact, command, text in (
        ("ip.rule", "ip -j rule show", rules),
        ("ip.route.rules", iprule.RULE_TABLES_COMMAND, tables_text),
    ):
        outputs[fact] = {
            "command": command,
            "exit_status": 0,
            "stdout_b64": base64.b64encode(text.encode()).decode(),
            "stderr": "",
            "timed_out": False,
        }
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(recording))
    return path


def _path_results(path: Path, subject: str) -> dict[str, tuple[str, str]]:
    inv, inv_path, nodes, collected = load_recording(path)
    report = evaluate(inv, inv_path, collected, RunOptions(nodes=nodes))
    return {r.check: (r.status, r.reason) for r in report.results if r.host == subject}


def test_a_run_follows_tailscales_table_for_the_pod_cidr(tmp_path: Path) -> None:
    rules = (OUTPUTS / "tailscale_wgquick_rule.txt").read_text()
    results = _path_results(_with_rules(tmp_path, "yuuko-k8s", rules, TABLES_TEXT), "yuuko-k8s->sakamoto")
    status, hops = results["pod-route-present"]
    assert status == "pass"
    assert hops.startswith("yuuko-k8s(->tailscale0 table 52) -> sakamoto")


def test_a_rule_table_that_could_not_be_read_leaves_the_path_unknown(tmp_path: Path) -> None:
    rules = (OUTPUTS / "tailscale_wgquick_rule.txt").read_text()
    only_52 = '\ntable 52\n[{"dst":"10.42.0.0/16","dev":"tailscale0","scope":"link","flags":[]}]\n'
    results = _path_results(_with_rules(tmp_path, "yuuko-k8s", rules, only_52), "yuuko-k8s->sakamoto")
    status, message = results["pod-route-present"]
    assert status == "unknown"
    assert "lookup 101` looks up table 101, which was not read" in message
