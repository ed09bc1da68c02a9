"""bgpdoctor lint against config fixtures written after the seeds and generated from the lab."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from bgpdoctor.lint import lint_paths, root_causes
from bgpdoctor.lint.cli import lint

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "lint"
BIRD2 = "/usr/sbin/bird"
BIRD16 = "/opt/bgpdoctor/bird16/usr/sbin/bird"

BROKEN = {
    "seed000/broken": {
        ("auto-direct-routes-across-l3", "cilium-values.yaml", 4),
        ("podcidr-not-advertised", "networks.yaml", 23),
        ("ebgp-multihop-missing", "router-mine/bird.conf", 27),
        ("unexpected-source-address", "router-mine/bird.conf", 27),
        ("nat-rewrites-bgp-source", "router-mine/etc/config/firewall", 21),
        ("firewall-blocks-pod-cidr", "router-mine/etc/config/firewall", 23),
        ("firewall-blocks-pod-cidr", "router-mine/etc/config/firewall", 27),
    },
    "seed001/broken": {
        ("peer-not-configured", "networks.yaml", 16),
        ("bird-ebgp-no-policy", "router-home/bird.conf", 20),
        ("peer-not-configured", "router-home/bird.conf", 25),
        ("bird-kernel-export-none", "router-mine/bird.conf", 8),
    },
    # a BGP config whose selector matches no node, while every node is selected otherwise (seed001's
    # bgp-remote, seed002's route-reflector-domestic), is a note: a live run finds no unselected node
    "seed002/broken": {("ibgp-no-route-reflection", "gateway/k3s/ibgp.conf", 36)},
    "seed003/broken": {("lb-pool-in-node-subnet", "cilium-bgp.yaml", 53)},
    "lab/node-not-listening": {("node-not-listening", "yuuko-k8s/gobgpd.toml", 13)},
    "lab/ebgp-multihop-missing": {("ebgp-multihop-missing", "yuuko-k8s/gobgpd.toml", 28)},
    "cases/asn-md5": {
        ("asn-mismatch", "networks.yaml", 11),
        ("md5-mismatch", "networks.yaml", 10),
    },
    "syntax/asn-bird2": {("asn-mismatch", "router/bird.conf", 9)},
    "syntax/asn-bird16": {("asn-mismatch", "router/bird.conf", 10)},
    "syntax/md5-bird16": {("md5-mismatch", "networks.yaml", 10)},
}
FIXED = [
    "seed000/fixed",
    "seed001/fixed",
    "seed002/fixed",
    "seed003/fixed",
    "lab/healthy",
    "bird16/calico-node",
]
# fixtures that hold only one end of every session: clean, but no session could be checked, so
# lint exits 3 ("could not check"), not 0 (issue 8: "exits 0 when it could not check a single session")
ONE_END_ONLY = {"seed003/fixed", "bird16/calico-node"}


def _found(case: str) -> set[tuple[str, str, int]]:
    res = lint_paths([str(FIX / case)])
    return {(f.root_cause, os.path.relpath(f.file, FIX / case), f.line) for f in res.findings}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_fixture_names_its_root_causes(case: str) -> None:
    assert _found(case) == BROKEN[case]


@pytest.mark.parametrize("case", FIXED)
def test_fixed_fixture_is_clean(case: str) -> None:
    res = lint_paths([str(FIX / case)])
    assert res.findings == []
    assert [p for p in res.problems if p.kind == "error"] == []
    if case in ONE_END_ONLY:
        assert (res.sessions_checked, res.exit_code) == (0, 3)
        assert res.unchecked["one end missing"] > 0
    else:
        assert res.sessions_checked > 0
        assert res.exit_code == 0


def test_root_cause_ids_are_catalogue_ids() -> None:
    for case in BROKEN:
        for f in lint_paths([str(FIX / case)]).findings:
            assert f.root_cause in root_causes()


def test_directory_recursion_reads_nested_files() -> None:
    res = lint_paths([str(FIX / "seed000" / "broken")])
    kinds = {os.path.relpath(p, FIX / "seed000" / "broken"): k for p, k in res.files.items()}
    assert kinds == {
        "cilium-values.yaml": "yaml",
        "networks.yaml": "yaml",
        "nodes.yaml": "yaml",
        "router-mine/bird.conf": "bird2",
        "router-mine/etc/config/network": "uci-network",
        "router-mine/etc/config/firewall": "uci-firewall",
    }


def test_bird_includes_are_followed_not_linted_alone() -> None:
    res = lint_paths([str(FIX / "seed002" / "broken" / "gateway")])
    assert res.files[str(FIX / "seed002/broken/gateway/k3s/ibgp.conf")] == "bird-include"
    assert {f.root_cause for f in res.findings} == set()  # no nodes known: nothing to reflect to


def test_content_sniffing_ignores_names(tmp_path: Path) -> None:
    src = FIX / "seed000" / "broken"
    names = {
        "cilium-values.yaml": "a.txt",
        "networks.yaml": "b.conf",
        "nodes.yaml": "c",
        "router-mine/bird.conf": "d.yaml",
        "router-mine/etc/config/network": "e.yaml",
        "router-mine/etc/config/firewall": "f.json",
    }
    for old, new in names.items():
        shutil.copy(src / old, tmp_path / new)
    res = lint_paths([str(tmp_path)])
    got = {(f.root_cause, os.path.basename(f.file), f.line) for f in res.findings}
    want = {(rc, names[file], line) for rc, file, line in BROKEN["seed000/broken"]}
    assert got == want
    assert res.files[str(tmp_path / "d.yaml")] == "bird2"


def test_bad_input_is_reported_and_the_rest_still_linted() -> None:
    res = lint_paths([str(FIX / "bad"), str(FIX / "seed003" / "broken")])
    probs = {(os.path.relpath(p.file, FIX), p.line, p.kind) for p in res.problems}
    assert ("bad/malformed.yaml", 5, "error") in probs
    assert ("bad/unknown-kind.yaml", 1, "note") in probs
    assert ("bad/bird-syntax/bird.conf", 6, "error") in probs
    assert ("bad/bird-include/bird.conf", 2, "error") in probs
    assert [f.root_cause for f in res.findings] == ["lb-pool-in-node-subnet"]
    assert res.exit_code == 1


def test_nothing_usable_exits_2() -> None:
    res = lint_paths([str(FIX / "bad")])
    assert res.exit_code == 2
    r = CliRunner().invoke(lint, [str(FIX / "bad")])
    assert r.exit_code == 2
    assert re.search(r"bad/malformed\.yaml:5: YAML error", r.output)
    assert CliRunner().invoke(lint, ["/nonexistent/path"]).exit_code == 2


def test_text_output_format_and_exit_codes() -> None:
    r = CliRunner().invoke(lint, [str(FIX / "seed003" / "broken")])
    assert r.exit_code == 1
    assert re.search(r"cilium-bgp\.yaml:53: \[lb-pool-in-node-subnet\] error: ", r.output)
    # only the nodes' side of the sessions: clean, but nothing pairable (exit 3, not 0 "clean")
    fixed = CliRunner().invoke(lint, [str(FIX / "seed003" / "fixed")])
    assert fixed.exit_code == 3
    assert "0 sessions checked, 3 could not be (3 one end missing)" in fixed.output
    healthy = CliRunner().invoke(lint, [str(FIX / "lab" / "healthy")])
    assert healthy.exit_code == 0
    assert "4 sessions checked;" in healthy.output


def test_json_output_shape() -> None:
    r = CliRunner().invoke(lint, [str(FIX / "seed001" / "broken"), "--output", "json"])
    assert r.exit_code == 1
    data = json.loads(r.output)
    assert set(data) == {"findings", "problems", "files", "summary", "exit_code"}
    assert data["exit_code"] == 1
    assert data["summary"]["sessions_checked"] == 4
    f = data["findings"][0]
    assert set(f) == {"root_cause", "severity", "file", "line", "message", "other", "title", "fixes"}
    assert f["severity"] in ("error", "warning")
    assert all(set(o) == {"file", "line"} for x in data["findings"] for o in x["other"])


def test_md5_password_is_never_printed() -> None:
    r = CliRunner().invoke(lint, [str(FIX / "cases" / "asn-md5")])
    assert "s3cr3t-md5" not in r.output
    assert "set on" in r.output and "missing on" in r.output
    verbose = CliRunner().invoke(lint, ["-v", "-o", "json", str(FIX / "cases" / "asn-md5")])
    assert "s3cr3t-md5" not in verbose.output and "$BGP_MD5_PASSWORD" in verbose.output


def test_a_finding_carries_its_playbooks_fix_with_the_files_values() -> None:
    """The same playbook as a live run explains a lint finding: its title, and the fixes rendered
    with what the files say, only for the platform where the mistake is."""
    r = CliRunner().invoke(lint, ["-o", "json", str(FIX / "cases" / "asn-md5")])
    asn = next(f for f in json.loads(r.output)["findings"] if f["root_cause"] == "asn-mismatch")
    assert asn["title"] == "One end expects a different AS than the other end has"
    # sakamoto (Cilium) expects the router as AS 65000; the router's bird.conf says 64513
    assert [fix["platform"] for fix in asn["fixes"]] == ["cilium"]  # not BIRD: the router is right
    text = asn["fixes"][0]["text"]
    assert "peerASN: 64513" in text and "peerAddress: 192.168.6.1" in text and "localASN: 64514" in text
    shown = CliRunner().invoke(lint, [str(FIX / "cases" / "asn-md5")]).output
    assert "  fix (cilium): Or, when the wrong expectation is in Cilium: peerASN 64513" in shown


@pytest.mark.parametrize(
    ("case", "platforms"),
    [
        ("asn-bird2", ["bird2"]),  # never BIRD 1.x's protocol-level `import all;`: BIRD 2 refuses it
        ("asn-bird16", ["bird1"]),  # its own block, not BIRD 2's `ipv4 { ... }` beside it
        ("md5-bird16", ["bird2", "cilium"]),  # no BIRD 1.x fix: BIRD 2's `password` line, which 1.6 takes
    ],
)
def test_each_bird_file_gets_fixes_in_the_syntax_its_version_takes_as_a_live_run_decides(
    case: str, platforms: list[str]
) -> None:
    """Lint asks the drivers' `fix_syntaxes` as a live run does: BIRD 1.6 takes BIRD 2's lines inside
    a `protocol bgp` when the playbook has none of its own, and BIRD 2 takes only its own."""
    (finding,) = lint_paths([str(FIX / "syntax" / case)]).findings
    assert [fix["platform"] for fix in finding.fixes] == platforms


def test_the_bird2_line_a_bird16_router_is_given_is_one_real_bird16_accepts(tmp_path: Path) -> None:
    if not os.path.exists(BIRD16):
        pytest.skip(f"{BIRD16} not installed")
    (finding,) = lint_paths([str(FIX / "syntax" / "md5-bird16")]).findings
    (bird,) = [fix for fix in finding.fixes if fix["platform"] == "bird2"]
    lines = [line for line in bird["text"].splitlines() if not line.lstrip().startswith("#")]
    conf = (FIX / "syntax" / "md5-bird16" / "router" / "bird.conf").read_text()
    conf = "\n".join(line for line in conf.splitlines() if "password" not in line)
    conf = conf.replace("  local as 64513;", "  local as 64513;\n" + "\n".join(lines))
    (tmp_path / "bird.conf").write_text(conf)
    real = subprocess.run([BIRD16, "-p", "-c", "bird.conf"], cwd=tmp_path, capture_output=True, text=True)
    assert real.returncode == 0, real.stderr
    assert 'password "$BGP_MD5_PASSWORD";' in conf


@pytest.mark.parametrize("case", ["seed000", "seed001", "seed002", "seed003", "cases", "repos", "bird16"])
def test_a_fix_is_shown_only_when_the_files_give_every_value_it_needs(case: str) -> None:
    """A value only a live run knows (a hop count, an nft chain) leaves its fix out: never a
    placeholder, never "undefined", never a fix for a daemon no file of the finding configures."""
    data = lint_paths([str(FIX / case)]).to_dict()
    for finding in data["findings"]:
        for fix in finding["fixes"]:
            assert "undefined" not in fix["text"] + fix["title"] and not fix["text"].startswith("["), fix
            assert fix["platform"] != "frr", fix  # no fixture holds an frr.conf


def _bird_roots() -> list[Path]:
    roots = []
    for p in sorted(FIX.rglob("*")):
        # a config with absolute includes is written for its own machine: real BIRD cannot read it here
        if p.is_file() and p.name in ("bird.conf", "bird.cfg") and 'include "/' not in p.read_text():
            roots.append(p)
    return roots


@pytest.mark.parametrize("path", _bird_roots(), ids=lambda p: str(p.relative_to(FIX)))
def test_bird_parser_agrees_with_real_bird(path: Path) -> None:
    res = lint_paths([str(path)])
    version = res.files.get(str(path), "bird2")
    binary = BIRD16 if "bird16" in str(path) or version == "bird1.6" else BIRD2
    if not os.path.exists(binary):
        pytest.skip(f"{binary} not installed")
    real = subprocess.run([binary, "-p", "-c", path.name], cwd=path.parent, capture_output=True, text=True)
    ours = not [p for p in res.problems if p.kind == "error"] and not [
        f for f in res.findings if f.root_cause == "bird-ebgp-no-policy" and "refuses" in f.message
    ]
    assert ours == (real.returncode == 0), real.stderr


def test_bird_dialling_a_node_that_dials_out_is_no_finding_as_in_a_live_run() -> None:
    """BIRD connects actively by default; to a Cilium node that never listens this gives refused
    attempts while the node's own connection brings the session up: a note, not a finding."""
    res = lint_paths([str(FIX / "seed000" / "broken")])
    assert not [f for f in res.findings if f.root_cause == "node-not-listening"]
    notes = [p for p in res.problems if p.kind == "note" and "never listens: harmless" in p.message]
    assert {os.path.relpath(p.file, FIX / "seed000" / "broken") for p in notes} == {"router-mine/bird.conf"}
