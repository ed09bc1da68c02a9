"""lint concludes through the playbooks' `match` conditions, judged as a live run judges them
(issue 9, "Judge lint and run alike"): editing or adding a playbook changes lint too."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bgpdoctor.lint import lint_paths
from bgpdoctor.lint.cli import lint

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "lint"
PLAYBOOKS = Path(__file__).resolve().parents[3] / "playbooks"
ASN_CASE = FIX / "cases" / "asn-md5"


def _playbook_copy(tmp_path: Path, cause: str, **changes: object) -> Path:
    """A folder holding one installed playbook with some of its fields replaced."""
    folder = tmp_path / "playbooks"
    folder.mkdir(exist_ok=True)
    data = yaml.safe_load((PLAYBOOKS / f"{cause}.yaml").read_text())
    data.update(changes)
    (folder / f"{data['id']}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def _found(case: Path, playbooks: Path | None = None) -> set[tuple[str, str, int]]:
    res = lint_paths([str(case)], extra_playbooks=[str(playbooks)] if playbooks else None)
    return {(f.root_cause, os.path.relpath(f.file, case), f.line) for f in res.findings}


def test_an_edited_match_condition_changes_lints_finding(tmp_path: Path) -> None:
    assert ("asn-mismatch", "networks.yaml", 11) in _found(ASN_CASE)
    assert not any(cause == "asn-mismatch" for cause, _, _ in _found(FIX / "lab" / "healthy"))

    inverted = _playbook_copy(
        tmp_path, "asn-mismatch", match=[{"fact": "asn_mismatch", "op": "eq", "value": False}]
    )

    # the wrong expectation is no longer a finding; the direction whose ASNs agree now is
    assert _found(ASN_CASE, inverted) == {
        ("md5-mismatch", "networks.yaml", 10),
        ("asn-mismatch", "router/bird.conf", 11),
    }
    # every end of the healthy lab's sessions agrees on the ASNs: with the inverted condition each is one
    healthy = [f for f in _found(FIX / "lab" / "healthy", inverted) if f[0] == "asn-mismatch"]
    assert len(healthy) == 8


def test_a_live_only_condition_keeps_a_playbook_from_matching_in_lint(tmp_path: Path) -> None:
    """Whether a session is up cannot be read from files: unknown, never false, so a playbook that
    also needs `established: false` no longer matches what lint reads."""
    needs_live = _playbook_copy(
        tmp_path,
        "asn-mismatch",
        match=[
            {"fact": "asn_mismatch", "op": "eq", "value": True},
            {"fact": "established", "op": "eq", "value": False},
        ],
    )
    found = _found(ASN_CASE, needs_live)
    assert not any(cause == "asn-mismatch" for cause, _, _ in found)
    assert ("md5-mismatch", "networks.yaml", 10) in found


def test_an_added_playbook_is_a_lint_finding_in_its_own_words(tmp_path: Path) -> None:
    extra = _playbook_copy(
        tmp_path,
        "md5-mismatch",
        id="md5-site-policy",
        title="MD5 is required on one end only",
        priority=1,
        summary="{{ md5_rejecting_host }} signs its BGP segments and {{ md5_other_host }} does not.",
    )
    res = lint_paths([str(ASN_CASE)], extra_playbooks=[str(extra)])
    added = [f for f in res.findings if f.root_cause == "md5-site-policy"]
    assert len(added) == 1
    assert added[0].title == "MD5 is required on one end only"
    assert " signs its BGP segments and " in added[0].message
    assert (added[0].file, added[0].line) == (str(ASN_CASE / "networks.yaml"), 10)
    assert any(f.root_cause == "md5-mismatch" for f in res.findings)  # the installed one still holds


def test_lint_cli_takes_playbooks_like_run(tmp_path: Path) -> None:
    never = _playbook_copy(
        tmp_path, "asn-mismatch", match=[{"fact": "asn_mismatch", "op": "eq", "value": "never"}]
    )
    plain = CliRunner().invoke(lint, ["-o", "json", str(ASN_CASE)])
    edited = CliRunner().invoke(lint, ["-o", "json", "--playbooks", str(never), str(ASN_CASE)])
    causes = [[f["root_cause"] for f in json.loads(r.output)["findings"]] for r in (plain, edited)]
    assert "asn-mismatch" in causes[0]
    assert "asn-mismatch" not in causes[1]
    assert "md5-mismatch" in causes[1]


GOBGP_NODE = """[global.config]
  as = 64514
  router-id = "192.168.6.80"
  port = -1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.168.6.1"
    peer-as = 64513
"""
BIRD_GTSM = (
    "router id 192.168.6.1;\nprotocol device {}\nprotocol kernel { ipv4 { export all; }; }\n"
    "protocol bgp node {\n  local 192.168.6.1 as 64513;\n  neighbor 192.168.6.80 as 64514;\n"
    "  ttl security on;\n  ipv4 { import all; export all; };\n}\n"
)


def _gtsm(tmp_path: Path) -> Path:
    """BIRD enforces TTL 255 (`ttl security on`), the GoBGP node sends eBGP's TTL 1."""
    case = tmp_path / "gtsm"
    (case / "r1").mkdir(parents=True)
    (case / "node").mkdir()
    (case / "r1" / "bird.conf").write_text(BIRD_GTSM)
    (case / "node" / "gobgpd.toml").write_text(GOBGP_NODE)
    return case


def _unselected(tmp_path: Path) -> Path:
    """seed001 with yuuko-k8s selected by no CiliumBGPClusterConfig while router-home peers with it."""
    case = tmp_path / "unselected"
    case.mkdir()
    for src in (FIX / "seed001" / "broken").rglob("*"):
        if src.is_file():
            dst = case / src.relative_to(FIX / "seed001" / "broken")
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())
    networks = (case / "networks.yaml").read_text()
    networks = networks.replace("node-type: remote # yuuko carries this label", "node-type: faraway")
    (case / "networks.yaml").write_text(
        networks.replace("node-role: remote\n", "node-role: remote\n        node-type: remote\n")
    )
    return case


def _no_kernel(tmp_path: Path) -> Path:
    """A whole BIRD config (it has a router id) with a BGP session and no `protocol kernel`."""
    case = tmp_path / "no-kernel"
    (case / "r1").mkdir(parents=True)
    (case / "r1" / "bird.conf").write_text(
        BIRD_GTSM.replace("protocol kernel { ipv4 { export all; }; }\n", "")
    )
    return case


BIRD_PASSIVE = BIRD_GTSM.replace("  ttl security on;\n", "  passive on;\n")
GOBGP_PASSIVE = GOBGP_NODE + "  [neighbors.transport.config]\n    passive-mode = true\n"


def _both_passive(tmp_path: Path) -> Path:
    """BIRD `passive on` (bird.conf:7) facing a GoBGP node with `passive-mode = true` (gobgpd.toml:11)."""
    case = tmp_path / "both-passive"
    (case / "r1").mkdir(parents=True)
    (case / "node").mkdir()
    (case / "r1" / "bird.conf").write_text(BIRD_PASSIVE)
    (case / "node" / "gobgpd.toml").write_text(GOBGP_PASSIVE)
    return case


def _lb_unadvertised(tmp_path: Path) -> Path:
    """seed003 whose Service advertisement has no selector: it selects no Service (cilium#33076)."""
    case = tmp_path / "lb-unadvertised"
    case.mkdir()
    for src in (FIX / "seed003" / "broken").iterdir():
        (case / src.name).write_bytes(src.read_bytes())
    bgp = (case / "cilium-bgp.yaml").read_text()
    selector = (
        "      selector:\n        matchExpressions:\n          - key: somekey\n"
        '            operator: NotIn\n            values: ["never-used-value"]\n'
    )
    assert selector in bgp
    (case / "cilium-bgp.yaml").write_text(bgp.replace(selector, ""))
    return case


# every cause lint concludes (all through the judge), the fact its playbook matches, and a set
# where lint finds it: a copied playbook whose match can never hold takes each finding away
JUDGED = [
    ("asn-mismatch", "asn_mismatch", "cases/asn-md5"),
    ("md5-mismatch", "md5_rejecting_host", "cases/asn-md5"),
    ("peer-not-configured", "unconfigured_end", "seed001/broken"),
    ("node-not-listening", "refused_by_non_listener", "lab/node-not-listening"),
    ("bird-ebgp-no-policy", "ebgp_policy_missing", "seed001/broken"),
    ("bird-ebgp-no-policy", "ebgp_policy_missing", "frr/broken"),
    ("lb-pool-in-node-subnet", "lb_pool_overlaps", "seed003/broken"),
    ("auto-direct-routes-across-l3", "auto_direct_routes_across_l3", "seed000/broken"),
    ("mesh-vs-rr-transition", "mesh_with_reflectors", "cases/mesh-vs-rr"),
    ("ttl-security-gtsm", "ttl_security_mismatch", _gtsm),
    ("node-not-selected", "unselected_nodes", _unselected),
    ("nat-rewrites-bgp-source", "nat_culprit", "seed000/broken"),
    ("unexpected-source-address", "source_matches", "seed000/broken"),
    ("ebgp-multihop-missing", "multihop_ok", "seed000/broken"),
    ("ebgp-multihop-missing", "multihop_ok", "lab/ebgp-multihop-missing"),
    ("bird-kernel-export-none", "bird_routes_in_fib", "seed001/broken"),
    ("bird-kernel-export-none", "bird_routes_in_fib", _no_kernel),
    ("ibgp-no-route-reflection", "ibgp_not_reflected", "seed002/broken"),
    # once decided in lint's Python, now facts judged by the playbooks
    ("firewall-blocks-pod-cidr", "firewall_host", "seed000/broken"),
    ("neither-end-connects", "neither_end_dials", _both_passive),
    ("podcidr-not-advertised", "advertises_pod_cidrs", "seed000/broken"),
    ("lb-advert-not-configured", "lb_advert_missing", _lb_unadvertised),
]


@pytest.mark.parametrize(("cause", "fact", "case"), JUDGED, ids=lambda x: x if isinstance(x, str) else "")
def test_each_judged_cause_follows_its_playbook(
    tmp_path: Path, cause: str, fact: str, case: str | Callable[[Path], Path]
) -> None:
    where = FIX / case if isinstance(case, str) else case(tmp_path)
    found = _found(where)
    assert [f for f in found if f[0] == cause]
    never = _playbook_copy(tmp_path, cause, match=[{"fact": fact, "op": "eq", "value": "never"}])
    # only this cause's findings go: the others stand as they were
    assert _found(where, never) == {f for f in found if f[0] != cause}


# the four conclusions lint's Python once wrote, where lint finds each, and its severity
ONCE_IN_PYTHON = [
    ("firewall-blocks-pod-cidr", "seed000/broken", ("router-mine/etc/config/firewall", 23), "error"),
    ("neither-end-connects", _both_passive, ("r1/bird.conf", 7), "error"),
    ("lb-advert-not-configured", _lb_unadvertised, ("cilium-bgp.yaml", 37), "warning"),
    ("node-not-selected", _unselected, ("networks.yaml", 29), "warning"),
]
# a fact of each playbook's subject kind that files never state (a live run's)
LIVE_ONLY = {
    "path": {"fact": "route_complete", "op": "eq", "value": True},
    "session": {"fact": "established", "op": "eq", "value": True},
    "cluster": {"fact": "ok", "op": "eq", "value": False},
}


@pytest.mark.parametrize(
    ("cause", "case", "at", "severity"), ONCE_IN_PYTHON, ids=[c[0] for c in ONCE_IN_PYTHON]
)
def test_an_edited_match_changes_each_finding_lints_python_once_decided(
    tmp_path: Path, cause: str, case: str | Callable[[Path], Path], at: tuple[str, int], severity: str
) -> None:
    """Through `lint --playbooks`, as a user would: the playbook's match decides, in YAML only."""
    where = str(FIX / case if isinstance(case, str) else case(tmp_path))
    data = yaml.safe_load((PLAYBOOKS / f"{cause}.yaml").read_text())
    # the same playbook, plus a condition the files never state
    kind = data["subject"] if isinstance(data["subject"], str) else data["subject"][0]
    stricter = _playbook_copy(tmp_path, cause, match=[*data["match"], LIVE_ONLY[kind]])
    runs = [
        CliRunner().invoke(lint, ["-o", "json", *extra, where])
        for extra in ([], ["--playbooks", str(stricter)])
    ]
    found = [
        {(f["root_cause"], os.path.relpath(f["file"], where), f["line"], f["severity"], f["title"])
         for f in json.loads(r.output)["findings"]}
        for r in runs
    ]  # fmt: skip
    assert (cause, *at, severity, data["title"]) in found[0]
    assert found[1] == {f for f in found[0] if f[0] != cause}


def test_both_ends_passive_is_neither_end_connects_with_both_lines_and_the_fix(tmp_path: Path) -> None:
    """Not node-not-listening: nothing is refused, both ends wait. Each `passive` line is named, and
    the fix makes the end whose peer listens dial: the node (`port = -1`, it never listens) dials BIRD."""
    case = _both_passive(tmp_path)
    res = lint_paths([str(case)])
    assert [(f.root_cause, os.path.relpath(f.file, case), f.line) for f in res.findings] == [
        ("neither-end-connects", "r1/bird.conf", 7)
    ]
    [f] = res.findings
    assert f"{case}/r1/bird.conf:7" in f.message and f"{case}/node/gobgpd.toml:10" in f.message
    assert (str(case / "node" / "gobgpd.toml"), 10) in f.other
    assert [(x["platform"], x["host"], x["target"], x["text"]) for x in f.fixes] == [
        ("gobgp", "node", "neighbor 192.168.6.1", "[neighbors.transport.config]\n  passive-mode = false")
    ]
    # one end dialling is fine: GoBGP without passive-mode dials BIRD, which listens
    (case / "node" / "gobgpd.toml").write_text(GOBGP_NODE)
    assert lint_paths([str(case)]).findings == []


# the causes whose playbooks need a session seen down, and where lint finds each in seed000
KEPT_DOWN = {
    "nat-rewrites-bgp-source": ("router-mine/etc/config/firewall", 21),
    "unexpected-source-address": ("router-mine/bird.conf", 27),
    "ebgp-multihop-missing": ("router-mine/bird.conf", 27),
}


@pytest.mark.parametrize("cause", sorted(KEPT_DOWN))
def test_a_session_the_files_keep_down_is_judged_by_its_playbooks_live_condition(
    tmp_path: Path, cause: str
) -> None:
    """lint states `established: false` where the files state the fault, so the playbook's own
    live condition decides: required up, the finding is gone (through `lint --playbooks`)."""
    case = str(FIX / "seed000" / "broken")
    data = yaml.safe_load((PLAYBOOKS / f"{cause}.yaml").read_text())
    up = [
        {"fact": "established", "op": "eq", "value": True} if c.get("fact") == "established" else c
        for c in data["match"]
    ]
    assert up != data["match"]
    edited = _playbook_copy(tmp_path, cause, match=up)
    plain = CliRunner().invoke(lint, ["-o", "json", case])
    changed = CliRunner().invoke(lint, ["-o", "json", "--playbooks", str(edited), case])
    found = [
        {
            (f["root_cause"], os.path.relpath(f["file"], case), f["line"])
            for f in json.loads(r.output)["findings"]
        }
        for r in (plain, changed)
    ]
    assert (cause, *KEPT_DOWN[cause]) in found[0]
    assert found[1] == found[0] - {(cause, *KEPT_DOWN[cause])}


def test_lint_states_a_session_down_only_where_the_files_state_why(tmp_path: Path) -> None:
    """A playbook matching any session seen down finds nothing on healthy sets, and in seed000 only
    the session whose faults lint names."""
    down = _playbook_copy(
        tmp_path,
        "nat-rewrites-bgp-source",
        id="any-session-down",
        priority=99,
        summary="{{ dialer }} -> {{ listener }} stays down.",
        match=[{"fact": "established", "op": "eq", "value": False}],
        fixes=[],
    )
    for healthy in ("seed000/fixed", "lab/healthy", "frr/healthy"):
        assert not [f for f in _found(FIX / healthy, down) if f[0] == "any-session-down"], healthy
    broken = {
        (file, line)
        for cause, file, line in _found(FIX / "seed000" / "broken", down)
        if cause == "any-session-down"
    }
    assert broken == set(KEPT_DOWN.values())
