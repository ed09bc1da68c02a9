"""lint on configurations shaped like the ones people commit (issue 9): LB-only Cilium designs,
BIRD 1.x files and fragments, include-only entry files, dynamic peers, IPv6 neighbors, YAML 1.1
words, merge keys, Flux substitutions, addresses claimed twice, node addresses from every source.

The sets under tests/fixtures/lint/repos/ are written after public homelab, DN42 and ISP repos;
every BIRD file in them is accepted by the BIRD version it is written for.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bgpdoctor.intent import Loc
from bgpdoctor.lint import LintResult, lint_paths
from bgpdoctor.lint.bird import parse_bird
from bgpdoctor.lint.cli import lint
from bgpdoctor.lint.loader import parse_roots

REPOS = Path(__file__).resolve().parents[2] / "fixtures" / "lint" / "repos"
DN42_ROOT = {"/etc/bird": str(REPOS / "dn42-absolute" / "router1")}

# the only findings on these sets: each one a real problem
EXPECTED: dict[str, set[tuple[str, str, int]]] = {
    "as4-off": set(),
    "bird1-fragments": set(),
    "bird1-isp-router": set(),
    "calico-dynamic-peers": set(),
    "cilium-lb-only-native": set(),
    "cilium-lb-only-tunnel": set(),
    "dn42-absolute": set(),
    "dn42-include-only": set(),
    "dup-address": set(),
    "flux-vars": set(),
    "lb-pool-node-addrs": {
        ("lb-pool-in-node-subnet", "kubernetes/pools.yaml", 7),
        ("lb-pool-in-node-subnet", "kubernetes/pools.yaml", 15),
        ("lb-pool-in-node-subnet", "kubernetes/pools.yaml", 24),
        ("lb-pool-in-node-subnet", "kubernetes/pools.yaml", 32),
    },
}


def _lint(name: str, roots: dict[str, str] | None = None) -> LintResult:
    return lint_paths([str(REPOS / name)], roots)


def _found(res: LintResult, base: Path) -> set[tuple[str, str, int]]:
    return {(f.root_cause, os.path.relpath(f.file, base), f.line) for f in res.findings}


def _notes(res: LintResult) -> list[str]:
    return [p.message for p in res.problems if p.kind == "note"]


def test_every_set_is_covered() -> None:
    assert sorted(EXPECTED) == sorted(d.name for d in REPOS.iterdir() if d.is_dir())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_repository_sets_give_only_real_findings(name: str) -> None:
    res = _lint(name, DN42_ROOT if name == "dn42-absolute" else None)
    assert _found(res, REPOS / name) == EXPECTED[name]
    assert [p for p in res.problems if p.kind == "error"] == []


# -- podcidr-not-advertised follows the routing design ---------------------------------------------
def test_lb_only_cilium_with_native_direct_routes_or_tunnel_is_no_podcidr_finding() -> None:
    for name in ("cilium-lb-only-native", "cilium-lb-only-tunnel"):
        res = _lint(name)
        assert not [f for f in res.findings if f.root_cause == "podcidr-not-advertised"], name
    assert _lint("cilium-lb-only-native").sessions_checked == 2


def _copy(name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copytree(REPOS / name, dst)
    return dst


def test_native_routing_without_direct_routes_still_needs_pod_cidrs(tmp_path: Path) -> None:
    repo = _copy("cilium-lb-only-native", tmp_path)
    values = repo / "kubernetes/apps/kube-system/cilium/app/helmrelease.yaml"
    values.write_text(values.read_text().replace("autoDirectNodeRoutes: true", "autoDirectNodeRoutes: false"))
    res = lint_paths([str(repo)])
    errors = [f for f in res.findings if f.root_cause == "podcidr-not-advertised"]
    assert len(errors) == 1 and errors[0].severity == "error"
    assert "native routing" in errors[0].message and "without autoDirectNodeRoutes" in errors[0].message


def test_lb_only_design_with_unknown_routing_mode_is_a_note(tmp_path: Path) -> None:
    repo = _copy("cilium-lb-only-tunnel", tmp_path)
    (repo / "cluster/cilium/cilium-config.yaml").unlink()
    res = lint_paths([str(repo)])
    assert res.findings == []
    assert any("routing mode is not in the inputs" in n for n in _notes(res))


# -- BIRD dialect from the syntax -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("router id 1.1.1.1; protocol kernel { persist; scan time 20; }", "1.6"),
        ("router id 1.1.1.1; protocol static { route 10.0.0.0/8 via 192.0.2.1; }", "1.6"),
        ("protocol bgp a { local as 1; neighbor 192.0.2.1 as 2; next hop self; }", "1.6"),
        ("protocol bgp a { local as 1; neighbor 192.0.2.1 as 2; gateway direct; }", "1.6"),
        ("protocol bgp a { local as 1; neighbor 192.0.2.1 as 2; import all; }", "1.6"),
        ("table peers; protocol device { }", "1.6"),
        ("protocol bgp a { local as 1; neighbor 192.0.2.1 as 2; ipv4 { import all; export none; }; }", "2"),
        ("protocol bgp a { local as 1; neighbor 192.0.2.1 as 2; igp metric on; }", "unknown"),
        ("protocol bgp a { local as 1; neighbor 192.0.2.1 as 2; }", "unknown"),
    ],
)
def test_bird_dialect_is_told_from_the_syntax(tmp_path: Path, text: str, version: str) -> None:
    path = tmp_path / "bird.conf"
    path.write_text(text + "\n")
    problems: list[tuple[Loc, str]] = []
    cfg = parse_bird(str(path), problems)
    assert problems == []
    assert cfg is not None and cfg.version == version


def test_bird_1x_fragment_gets_no_bird2_policy_errors() -> None:
    res = _lint("bird1-fragments")
    assert res.findings == []
    notes = _notes(res)
    assert any("BIRD 1.x or 2 cannot be told" in n and "ix_rs1, ix_rs2" in n for n in notes)
    assert any("read as a fragment" in n for n in notes)
    isp = _lint("bird1-isp-router")
    assert set(isp.files.values()) == {"bird1.6", "bird-include"}


def test_an_unmarked_bird2_config_still_gets_its_policy_error_when_the_syntax_tells(tmp_path: Path) -> None:
    (tmp_path / "bird.conf").write_text(
        "router id 10.0.0.1;\nprotocol kernel { ipv4 { export all; }; }\n"
        "protocol bgp up { local as 65001; neighbor 10.0.0.2 as 65002; ipv4 { import all; }; }\n"
    )
    res = lint_paths([str(tmp_path)])
    assert [(f.root_cause, f.line) for f in res.findings] == [("bird-ebgp-no-policy", 3)]


# -- YAML as Kubernetes reads it --------------------------------------------------------------------
def test_yaml_11_words_stay_strings_in_labels_and_selectors() -> None:
    res = _lint("calico-dynamic-peers")
    assert not [f for f in res.findings if f.root_cause == "node-not-selected"]
    assert res.sessions_checked == 2


def test_merge_keys_and_redefined_anchors_do_not_break_a_file() -> None:
    res = _lint("flux-vars")
    hr = str(REPOS / "flux-vars/kubernetes/main/apps/kube-system/cilium/app/helmrelease.yaml")
    assert res.files[hr] == "yaml"
    assert [p for p in res.problems if p.file == hr and p.kind == "error"] == []


def test_flux_substitutions_are_noted_not_skipped_silently() -> None:
    res = _lint("flux-vars")
    notes = [p for p in res.problems if p.kind == "note" and "not substituted" in p.message]
    by_file = {os.path.basename(p.file): (p.line, p.message) for p in notes}
    assert by_file["bgp.yaml"][0] == 13
    assert "${CLUSTER_BGP_ASN}, ${GATEWAY_ADDR}, ${LB_CIDR}" in by_file["bgp.yaml"][1]
    assert "${CLUSTER_CIDR}" in by_file["helmrelease.yaml"][1]


# -- sessions ---------------------------------------------------------------------------------------
def test_an_address_claimed_by_two_configs_is_ambiguous_not_an_owner_choice() -> None:
    res = _lint("dup-address")
    assert res.findings == []
    assert res.unchecked == {"address claimed by more than one config": 3}
    assert any("192.168.1.1 is claimed by 2 configs" in n for n in _notes(res))


def test_dynamic_peers_pair_with_the_nodes_in_their_range(tmp_path: Path) -> None:
    res = _lint("calico-dynamic-peers")
    assert res.findings == [] and res.sessions_checked == 2
    assert not [n for n in _notes(res) if "None" in n]
    # a node outside the range has no peer on the router, and the message shows the range
    repo = _copy("calico-dynamic-peers", tmp_path)
    bird = repo / "tor/bird.conf"
    bird.write_text(bird.read_text().replace("10.40.0.0/24", "10.40.0.16/30"))
    broken = lint_paths([str(repo)])
    assert [(f.root_cause, f.severity) for f in broken.findings] == [("peer-not-configured", "error")] * 2
    assert all(
        "range 10.40.0.16/30 as 64512" in f.message and "None" not in f.message for f in broken.findings
    )


def test_as4_off_with_as_trans_is_no_asn_mismatch(tmp_path: Path) -> None:
    res = _lint("as4-off")
    assert res.findings == [] and res.sessions_checked == 1
    repo = _copy("as4-off", tmp_path)
    edge = repo / "edge-old/bird.conf"
    edge.write_text(edge.read_text().replace("  enable as4 off;\n", ""))
    assert [f.root_cause for f in lint_paths([str(repo)]).findings] == ["asn-mismatch"]


def test_bird_dialling_a_cilium_node_stays_a_note() -> None:
    res = _lint("cilium-lb-only-native")
    assert not [f for f in res.findings if f.root_cause == "node-not-listening"]
    assert len([n for n in _notes(res) if "never listens: harmless" in n]) == 2


# -- includes, fragments, IPv6 ----------------------------------------------------------------------
def test_an_include_only_entry_file_is_a_config_and_finds_the_included_kernel() -> None:
    res = _lint("dn42-include-only")
    entry = str(REPOS / "dn42-include-only/bird.conf")
    assert res.files[entry] == "bird2"
    assert {k for p, k in res.files.items() if p != entry} == {"bird-include"}
    assert res.findings == []


def test_absolute_includes_resolve_through_root() -> None:
    res = _lint("dn42-absolute", DN42_ROOT)
    assert set(res.files.values()) == {"bird2", "bird-include"}
    assert _notes(res) == []
    assert res.unchecked == {"one end missing": 2}


def test_absolute_includes_without_root_are_notes_and_peers_read_as_fragments() -> None:
    res = _lint("dn42-absolute")
    assert res.findings == [] and [p for p in res.problems if p.kind == "error"] == []
    assert any("--root /etc/bird=DIR" in n for n in _notes(res))


def test_absolute_includes_resolve_from_the_including_files_location(tmp_path: Path) -> None:
    etc = tmp_path / "host" / "etc" / "bird"
    shutil.copytree(REPOS / "dn42-absolute" / "router1", etc)
    res = lint_paths([str(tmp_path)])
    assert set(res.files.values()) == {"bird2", "bird-include"}
    assert _notes(res) == []


def test_root_option_on_the_command_line() -> None:
    dn42 = REPOS / "dn42-absolute"
    r = CliRunner().invoke(lint, ["--root", f"/etc/bird={dn42 / 'router1'}", str(dn42)])
    assert r.exit_code == 3, r.output
    assert "note" not in r.output
    assert parse_roots(["/etc/bird/=x"]) == {"/etc/bird": "x"}
    bad = CliRunner().invoke(lint, ["--root", "etc/bird", str(dn42)])
    assert bad.exit_code != 0


def test_ipv6_neighbors_are_kept_and_noted_not_the_file_dropped() -> None:
    res = _lint("bird1-isp-router")
    v6 = str(REPOS / "bird1-isp-router/etc/bird/bird6.conf")
    assert res.files[v6] == "bird1.6"
    assert res.unchecked["IPv6"] == 2
    dn42 = _lint("dn42-include-only")
    assert dn42.unchecked["IPv6"] == 2 and dn42.unchecked["one end missing"] == 1


# -- notes ------------------------------------------------------------------------------------------
def test_notes_are_counted_and_listed_only_with_verbose() -> None:
    path = str(REPOS / "bird1-fragments")
    quiet = CliRunner().invoke(lint, [path])
    assert "note:" not in quiet.output
    assert quiet.output.strip().splitlines()[-1].count("4 notes, -v to show") == 1
    loud = CliRunner().invoke(lint, ["-v", path])
    assert loud.output.count("note:") == 4
    assert "-v to show" not in loud.output


# -- LB pools against every source of node addresses -----------------------------------------------
def test_lb_pool_covering_node_addresses_from_talos_k3s_and_inventory() -> None:
    res = _lint("lb-pool-node-addrs")
    by_line = {f.line: f for f in res.findings}
    assert "10.0.60.0/24:" in by_line[7].message and "assumed" not in by_line[7].message  # talconfig
    assert "worker-1" in by_line[15].message  # Talos machine config patch
    assert "config.yaml" in by_line[24].message  # K3s config.yaml node-ip
    assert "edge-2" in by_line[32].message  # Ansible inventory
