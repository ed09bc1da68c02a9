"""Fix snippets for vendor routers (RouterOS v7, FortiGate, Huawei VRP) in their own syntax.

Nothing of these vendors runs here: their snippets are checked against the grammar of the commands
their documentation gives (tests/unit/vendor_syntax.py, sources in tests/fixtures/vendor_syntax/).
These tests show that grammar refuses what the routers would refuse, that every variant a playbook
can render is valid, and that a diagnosis whose culprit is a RouterOS router carries the RouterOS
command for its real neighbor.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bgpdoctor.engine.judge import fix_snippets
from bgpdoctor.engine.rules import PlaybookDef, load_playbooks
from bgpdoctor.inventory_model import Host
from bgpdoctor.lint import lint_paths
from tests.unit.test_appliance_routers import (
    ALL_THREE,
    BFD_SESSION,
    ROUTEROS_ROUTES,
    VendorCli,
    _bfd_run,
    _run,
    inventory,
)
from tests.unit.vendor_syntax import CHECKS, check_fortigate, check_huawei, check_routeros


def _neighbor(line: str) -> str:
    return f'config router bgp\n config neighbor\n  edit "10.0.0.1"\n   {line}\n  next\n end\nend'


LINT_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lint"
VENDORS = ("routeros", "fortigate", "huawei")


def _playbook(pb_id: str) -> PlaybookDef:
    return next(p for p in load_playbooks() if p.id == pb_id)


# -- the grammar accepts the vendors' own examples and refuses near misses ---------------------------

DOCUMENTED = [
    # MikroTik manual, "BGP", Connection Menu
    (
        check_routeros,
        "/routing/bgp/connection add name=toR2 remote.address=192.168.1.2 as=65531 local.role=ebgp",
    ),
    # FortiOS Administration Guide, "BGP neighbor password" (the password is starred in the page)
    (
        check_fortigate,
        'config router bgp\n    config neighbor\n        edit "172.16.201.1"\n'
        "            set remote-as 65518\n            set password ********\n        next\n    end\nend",
    ),
    # FortiOS Administration Guide, "BFD for multihop path for BGP"
    (check_fortigate, "config system settings\n    set bfd enable\nend"),
    # Huawei NetEngine 8000 F1A command reference, "peer ignore (BGP view)" example
    (check_huawei, "bgp 100\n peer 10.1.1.1 as-number 200\n peer 10.1.1.1 ignore"),
]


@pytest.mark.parametrize(("check", "text"), DOCUMENTED)
def test_the_vendors_documented_examples_pass_the_grammar(check: object, text: str) -> None:
    assert callable(check)
    assert check(text) == []


MALFORMED = [
    # a RouterOS v6 menu, a typo, a value the property does not take, a hold time below 3 s
    (
        "routeros",
        '/routing/bgp/peer set [find where remote.address~"10.0.0.1"] disabled=no',
        "not a documented",
    ),
    (
        "routeros",
        '/routing/bgp/connection set [find where remote.address~"10.0.0.1"] use-bdf=yes',
        "not a property",
    ),
    (
        "routeros",
        '/routing/bgp/connection set [find where remote.address~"10.0.0.1"] use-bfd=on',
        "valid value",
    ),
    (
        "routeros",
        '/routing/bgp/connection set [find where remote.address~"10.0.0.1"] hold-time=1s',
        "valid value",
    ),
    ("routeros", "/routing/bgp/connection set 0 multihop=yes", "needs [find where"),
    # the Ansible name instead of the CLI's, GTSM FortiOS does not have, an unclosed block, `on`
    (
        "fortigate",
        _neighbor("set remote_as 65001"),
        "not documented",
    ),
    (
        "fortigate",
        _neighbor("set ttl-security-hops 1"),
        "not documented",
    ),
    (
        "fortigate",
        'config router bgp\n config neighbor\n  edit "10.0.0.1"\n   set bfd enable\n  next\n end',
        "unclosed",
    ),
    (
        "fortigate",
        _neighbor("set bfd on"),
        "valid value",
    ),
    ("fortigate", 'config router bgp\n edit "10.0.0.1"\n next\nend', "edit needs"),
    # Cisco words in VRP, a hold time VRP refuses, a family command outside its view, GTSM out of range
    ("huawei", "bgp 65001\n neighbor 10.0.0.1 remote-as 65002", "not a documented command"),
    ("huawei", "bgp 65001\n peer 10.0.0.1 ebgp-multihop 3", "not a documented command"),
    ("huawei", "bgp 65001\n peer 10.0.0.1 timer keepalive 3 hold 2", "0 or 3..65535"),
    ("huawei", "bgp 65001\n maximum load-balancing 8", "not a documented command of the bgp view"),
    ("huawei", "bgp 65001\n peer 10.0.0.1 valid-ttl-hops 300", "outside 1..255"),
    ("huawei", "peer 10.0.0.1 as-number 65002", "of the system view"),
]


@pytest.mark.parametrize(
    ("platform", "text", "problem"), MALFORMED, ids=[f"{m[0]}-{i}" for i, m in enumerate(MALFORMED)]
)
def test_a_malformed_vendor_snippet_is_refused(platform: str, text: str, problem: str) -> None:
    problems = CHECKS[platform](text)
    assert problems and any(problem in p for p in problems), problems


# -- every variant a playbook renders is valid, not only its example --------------------------------

GR_VARIANTS = [
    "not-negotiated",
    "family-not-run",
    "waits-for-dead-peer",
    "stale-routes-kept",
    "cease-cancels-gr",
    "restart-mode-missing",
]


@pytest.mark.parametrize("variant", GR_VARIANTS)
def test_every_graceful_restart_variant_renders_valid_vendor_syntax(variant: str) -> None:
    pb = _playbook("graceful-restart-misbehaviour")
    facts = {**(pb.example or {}), "gr_variant": variant}
    fixes = {f.platform: f for f in fix_snippets(pb, facts) if f.platform in VENDORS}
    assert "routeros" in fixes  # RouterOS says what it cannot do rather than staying silent
    for platform, fix in fixes.items():
        assert CHECKS[platform](fix.text) == [], (platform, fix.text)
        assert "[" not in fix.text.replace("[find where", ""), fix.text  # every fact was there
    if variant == "stale-routes-kept":
        assert "set graceful-restart-time 30" in fixes["fortigate"].text
        assert "graceful-restart timer restart 30" in fixes["huawei"].text
    if variant == "cease-cancels-gr":
        assert set(fixes) == {"routeros"}  # no documented FortiOS or VRP command for the N-bit


@pytest.mark.parametrize("bfd", ["on", "off"])
def test_bfd_on_and_off_render_valid_vendor_syntax(bfd: str) -> None:
    pb = _playbook("session-liveness")
    facts = {**(pb.example or {}), "liveness_fix_bfd": bfd}
    fixes = {f.platform: f.text for f in fix_snippets(pb, facts) if f.platform in VENDORS}
    assert set(fixes) == set(VENDORS)
    for platform, text in fixes.items():
        assert CHECKS[platform](text) == [], (platform, text)
    assert fixes["routeros"].endswith(f"use-bfd={'yes' if bfd == 'on' else 'no'}")
    assert ("undo peer 10.213.61.2 bfd enable" in fixes["huawei"]) == (bfd == "off")


def test_ecmp_on_routeros_says_it_cannot_rather_than_inventing_a_command() -> None:
    pb = _playbook("ecmp-single-path")
    [routeros] = [f for f in fix_snippets(pb, dict(pb.example or {})) if f.platform == "routeros"]
    lines = routeros.text.splitlines()
    assert lines and all(line.startswith("#") for line in lines)
    assert "no BGP multipath" in routeros.text


def test_a_missing_interface_shows_a_marker_not_an_invented_name() -> None:
    pb = _playbook("unexpected-source-address")
    facts = {
        "dialer": "edge",
        "listener": "node-a",
        "listener_address": "10.0.0.2",
        "expected_source": "10.0.0.1",
        "dialer_asn": 65001,
        "dialer_expected_interface": "",
    }
    fixes = {f.platform: f.text for f in fix_snippets(pb, facts) if f.platform in VENDORS}
    assert 'set update-source "[the interface holding 10.0.0.1]"' in fixes["fortigate"]
    assert "connect-interface [the interface holding 10.0.0.1] 10.0.0.1" in fixes["huawei"]
    assert fixes["routeros"].endswith("local.address=10.0.0.1")


# -- a run whose culprit is a RouterOS router -----------------------------------------------------


def test_a_routeros_culprit_gets_the_routeros_command_for_its_real_neighbor() -> None:
    report = _bfd_run(BFD_SESSION)  # edge (RouterOS, AS 555) has use-bfd=yes towards GoBGP
    [diagnosis] = [d for d in report.diagnoses if d.root_cause == "session-liveness"]
    assert diagnosis.hosts == ["edge"]
    fixes = {f.platform: f for f in diagnosis.fixes}
    routeros = fixes["routeros"]
    assert routeros.host == "edge"
    assert (
        routeros.text == '/routing/bgp/connection set [find where remote.address~"111.111.11.11"] use-bfd=no'
    )
    assert routeros.title == "RouterOS v7 on edge: BFD off for 111.111.11.11"
    assert CHECKS["routeros"](routeros.text) == []
    # no FortiGate or Huawei router in this network: their syntax would only be noise
    assert "huawei" not in fixes and "fortigate" not in fixes


def test_a_fix_comes_in_the_syntax_of_the_router_it_is_for_whatever_else_the_network_has() -> None:
    """With a Huawei and a FortiGate router in the network, the RouterOS router's own session gets
    the RouterOS fix only: VRP and FortiOS commands for a RouterOS box are no fix."""
    inv = inventory("routeros", "111.111.11.12", "111.111.11.11", 555, 65530)
    for name, speaker in (("core", "huawei"), ("fw", "fortigate")):
        extra = {"role": "router", "speaker": speaker, "asn": 555, "addresses": ["111.111.11.20"]}
        inv.hosts[name] = Host.model_validate(extra | {"connect": {"ssh": {"host": "198.51.100.9"}}})
    answers = {"/routing/bgp/session print detail": BFD_SESSION, ROUTEROS_ROUTES: ALL_THREE}
    report, _ = _run(inv, VendorCli("edge", answers, "bad command name"))
    [diagnosis] = [d for d in report.diagnoses if d.root_cause == "session-liveness"]
    on_edge = [f.platform for f in diagnosis.fixes if f.host == "edge"]
    assert on_edge == ["routeros"], [(f.platform, f.host) for f in diagnosis.fixes]
    [routeros] = [f for f in diagnosis.fixes if f.platform == "routeros"]
    assert CHECKS["routeros"](routeros.text) == [], routeros.text


def test_lint_never_offers_a_vendor_router_fix() -> None:
    """Lint reads BIRD, FRR, GoBGP and Kubernetes files, never a router's: its findings keep their
    own platforms' fixes (md5-mismatch's vendor fixes would otherwise render from the file facts)."""
    seen: set[str] = set()
    for case in ("cases/asn-md5", "frr/broken", "seed000/broken", "seed001/broken"):
        for finding in lint_paths([str(LINT_FIXTURES / case)]).findings:
            seen |= {fix["platform"] for fix in finding.fixes}
    assert seen and not seen & set(VENDORS), seen
