"""`bgpdoctor lint` on FRR's frr.conf: sessions paired with the other ends' configs, RFC 8212 judged
the way bgpd judges it, and every fixture and rendered FRR fix accepted by FRR's own checker."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bgpdoctor.lint import lint_paths
from bgpdoctor.lint.cli import lint
from bgpdoctor.lint.frr import ebgp_without_policy, parse_frr

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "lint" / "frr"
needs_vtysh = pytest.mark.skipif(not shutil.which("vtysh"), reason="needs FRR's vtysh")

NODE = """[global.config]
  as = 64514
  router-id = "192.168.6.80"
  port = -1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.168.6.1"
    peer-as = 64513
"""


def router(body: str, head: str = "frr version 8.4.4\nfrr defaults traditional\n") -> str:
    return (
        f"{head}hostname r1\n!\ninterface eth0\n ip address 192.168.6.1/24\nexit\n!\n"
        f"router bgp 64513\n bgp router-id 192.168.6.1\n{body}exit\n!\n"
        "route-map ALL permit 10\nexit\n!\n"
    )


def lint_pair(tmp_path: Path, frr_conf: str, node: str = NODE) -> dict[str, object]:
    (tmp_path / "r1").mkdir(exist_ok=True)
    (tmp_path / "node").mkdir(exist_ok=True)
    (tmp_path / "r1" / "frr.conf").write_text(frr_conf)
    (tmp_path / "node" / "gobgpd.toml").write_text(node)
    return lint_paths([str(tmp_path)]).to_dict()


def causes(data: dict[str, object]) -> list[str]:
    findings = data["findings"]
    assert isinstance(findings, list)
    return sorted(f["root_cause"] for f in findings)


def test_the_healthy_frr_router_and_its_nodes_give_no_finding() -> None:
    data = lint_paths([str(FIX / "healthy")]).to_dict()
    assert data["findings"] == [] and data["exit_code"] == 0
    assert data["summary"]["sessions_checked"] == 2  # type: ignore[index]
    assert data["files"][str(FIX / "healthy" / "opnsense" / "frr.conf")] == "frr"  # type: ignore[index]


def test_the_broken_frr_router_names_each_mistake_at_its_line() -> None:
    data = lint_paths([str(FIX / "broken")]).to_dict()
    found = {(f["root_cause"], Path(f["file"]).name, f["line"]) for f in data["findings"]}  # type: ignore[attr-defined]
    assert found == {
        ("asn-mismatch", "frr.conf", 20),  # the peer-group's `remote-as 64515`
        ("bird-ebgp-no-policy", "frr.conf", 22),  # neighbor 192.168.6.80: no route-map out
        ("bird-ebgp-no-policy", "frr.conf", 24),  # neighbor 192.168.6.81
        ("md5-mismatch", "gobgpd.toml", 9),  # node-b has no auth-password
    }
    out = CliRunner().invoke(lint, [str(FIX / "broken")]).output
    assert "s3cret-frr-md5" not in out
    assert "FRR sends it nothing" in out


@pytest.mark.parametrize(
    ("body", "head", "expected"),
    [
        (" neighbor 192.168.6.80 remote-as 64514\n", None, ["bird-ebgp-no-policy"]),
        (" neighbor 192.168.6.80 remote-as external\n", None, ["bird-ebgp-no-policy"]),
        # RFC 8212 turned off, by command, by the datacenter profile, by a config written before 7.4
        (" no bgp ebgp-requires-policy\n neighbor 192.168.6.80 remote-as 64514\n", None, []),
        (" neighbor 192.168.6.80 remote-as 64514\n", "frr defaults datacenter\n", []),
        (" neighbor 192.168.6.80 remote-as 64514\n", "frr version 7.2\n", []),
        # filters of every kind count, on the neighbor or on its peer-group
        (
            " neighbor 192.168.6.80 remote-as 64514\n address-family ipv4 unicast\n"
            "  neighbor 192.168.6.80 prefix-list P in\n  neighbor 192.168.6.80 filter-list F out\n"
            " exit-address-family\n",
            None,
            [],
        ),
        (
            " neighbor G peer-group\n neighbor G remote-as external\n neighbor 192.168.6.80 peer-group G\n"
            " address-family ipv4 unicast\n  neighbor G route-map ALL in\n  neighbor G route-map ALL out\n"
            " exit-address-family\n",
            None,
            [],
        ),
        # the old style: policies outside an address-family block are ipv4 unicast's
        (
            " neighbor 192.168.6.80 remote-as 64514\n neighbor 192.168.6.80 route-map ALL in\n"
            " neighbor 192.168.6.80 route-map ALL out\n",
            None,
            [],
        ),
        # a neighbor not active for ipv4 unicast exchanges nothing there: not judged
        (" no bgp default ipv4-unicast\n neighbor 192.168.6.80 remote-as 64514\n", None, []),
        (" neighbor 192.168.6.80 remote-as 64514\n neighbor 192.168.6.80 shutdown\n", None, []),
    ],
)
def test_rfc_8212_is_judged_as_bgpd_judges_it(
    tmp_path: Path, body: str, head: str | None, expected: list[str]
) -> None:
    conf = router(body) if head is None else router(body, head)
    assert causes(lint_pair(tmp_path, conf)) == expected


def test_an_ibgp_neighbor_needs_no_policy_and_its_as_is_the_routers(tmp_path: Path) -> None:
    node = NODE.replace("as = 64514", "as = 64513")
    assert causes(lint_pair(tmp_path, router(" neighbor 192.168.6.80 remote-as internal\n"), node)) == []
    wrong = causes(lint_pair(tmp_path, router(" neighbor 192.168.6.80 remote-as internal\n")))
    assert wrong == ["asn-mismatch"]  # the node is AS 64514, `internal` means 64513


def test_a_listen_range_pairs_with_the_nodes_inside_it(tmp_path: Path) -> None:
    body = (
        " neighbor NODES peer-group\n neighbor NODES remote-as 64514\n"
        " bgp listen range 192.168.6.0/24 peer-group NODES\n"
        " address-family ipv4 unicast\n  neighbor NODES route-map ALL in\n"
        "  neighbor NODES route-map ALL out\n exit-address-family\n"
    )
    data = lint_pair(tmp_path, router(body))
    assert data["summary"]["sessions_checked"] == 1  # type: ignore[index]
    assert causes(data) == []  # the node dials, FRR accepts it from the range
    # FRR only accepts from a listen range: a passive node that never listens opens nothing
    passive = NODE + "  [neighbors.transport.config]\n    passive-mode = true\n"
    assert causes(lint_pair(tmp_path, router(body), passive)) == ["neither-end-connects"]


def test_unnumbered_and_ipv6_neighbors_are_noted_not_paired(tmp_path: Path) -> None:
    body = " neighbor eth0 interface remote-as external\n neighbor 2001:db8::2 remote-as 64514\n"
    data = lint_pair(tmp_path, router(body))
    notes = [p["message"] for p in data["problems"] if p["kind"] == "note"]  # type: ignore[attr-defined]
    assert any("unnumbered neighbor on eth0" in n for n in notes), notes
    assert any("IPv6 neighbor 2001:db8::2" in n for n in notes), notes


@needs_vtysh
@pytest.mark.parametrize("conf", sorted(FIX.rglob("frr.conf")), ids=lambda p: p.parent.parent.name)
def test_frrs_own_checker_accepts_every_fixture(conf: Path) -> None:
    proc = subprocess.run(["vtysh", "--dryrun", "-f", str(conf)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_vtysh
def test_the_rendered_frr_fix_is_accepted_by_frr_and_clears_the_finding(tmp_path: Path) -> None:
    data = json.loads(CliRunner().invoke(lint, ["-o", "json", str(FIX / "broken")]).output)
    fix = next(f for f in data["findings"] if f["root_cause"] == "bird-ebgp-no-policy")["fixes"][0]
    assert fix["platform"] == "frr" and "neighbor 192.168.6.80 route-map BGPDOCTOR-OUT out" in fix["text"]
    snippet = tmp_path / "fix.conf"
    snippet.write_text(fix["text"] + "\n")
    proc = subprocess.run(
        ["vtysh", "--dryrun", "-f", str(snippet)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # applied as FRR would merge it (the snippet's lines go into the router's blocks), lint is satisfied
    conf = (FIX / "broken" / "opnsense" / "frr.conf").read_text()
    conf = conf.replace(
        "  neighbor K8S route-map K8S-IN in\n",
        "  neighbor K8S route-map K8S-IN in\n"
        + "".join(line + "\n" for line in fix["text"].splitlines() if "route-map BGPDOCTOR-OUT out" in line),
    )
    conf += "route-map BGPDOCTOR-OUT permit 10\nexit\n"
    cfg = parse_frr(conf, "frr.conf", [])
    assert cfg is not None and ebgp_without_policy(cfg) == []


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("router bgp 6451\n neighbor 10.0.0.1 remote-as xyz!peer-group")))
)
def test_any_text_is_read_or_refused_with_a_problem_never_a_crash(text: str) -> None:
    problems: list[tuple[object, str]] = []
    cfg = parse_frr(text, "frr.conf", problems)  # type: ignore[arg-type]
    assert cfg is not None or problems


def test_frr_dialing_from_its_interface_address_instead_of_the_vip_the_node_expects(tmp_path: Path) -> None:
    """Corpus case 10 (pfSense FRR with a CARP VIP, kube-router#991): the node peers with the VIP,
    FRR connects from its interface address; FRR's `update-source` is the fix, and it clears it."""
    conf = router(
        " neighbor 192.168.6.80 remote-as 64514\n address-family ipv4 unicast\n"
        "  neighbor 192.168.6.80 route-map ALL in\n  neighbor 192.168.6.80 route-map ALL out\n"
        " exit-address-family\n"
    ).replace(" ip address 192.168.6.1/24\n", " ip address 192.168.6.1/24\n ip address 192.168.6.254/32\n")
    node = NODE.replace('neighbor-address = "192.168.6.1"', 'neighbor-address = "192.168.6.254"')
    data = lint_pair(tmp_path, conf, node)
    assert causes(data) == ["unexpected-source-address"]
    finding = data["findings"][0]  # type: ignore[index]
    assert "connects from 192.168.6.1" in finding["message"]
    fix = next(f for f in finding["fixes"] if f["platform"] == "frr")
    assert "neighbor 192.168.6.80 update-source 192.168.6.254" in fix["text"]
    fixed = conf.replace(
        " neighbor 192.168.6.80 remote-as 64514\n",
        " neighbor 192.168.6.80 remote-as 64514\n neighbor 192.168.6.80 update-source 192.168.6.254\n",
    )
    assert causes(lint_pair(tmp_path, fixed, node)) == []


POLICY = (
    " address-family ipv4 unicast\n  neighbor 192.168.6.80 route-map ALL in\n"
    "  neighbor 192.168.6.80 route-map ALL out\n exit-address-family\n"
)


@pytest.mark.parametrize(
    ("node_extra", "expected"),
    [
        ("", ["ttl-security-gtsm"]),  # eBGP at TTL 1 meets a router that wants 255
        ("  [neighbors.ttl-security.config]\n    enabled = true\n    ttl-min = 255\n", []),
        ("  [neighbors.ebgp-multihop.config]\n    enabled = true\n    multihop-ttl = 255\n", []),
        (
            "  [neighbors.ebgp-multihop.config]\n    enabled = true\n    multihop-ttl = 64\n",
            ["ttl-security-gtsm"],
        ),
    ],
    ids=["ttl-1", "gtsm-both", "multihop-255", "multihop-64"],
)
def test_gtsm_at_one_end_needs_ttl_255_from_the_other(
    tmp_path: Path, node_extra: str, expected: list[str]
) -> None:
    """Corpus case 90 (metallb#3038): the router enforces TTL 255, the speaker sends TTL 1."""
    conf = router(
        " neighbor 192.168.6.80 remote-as 64514\n neighbor 192.168.6.80 ttl-security hops 1\n" + POLICY
    )
    data = lint_pair(tmp_path, conf, NODE + node_extra)
    assert causes(data) == expected
    if expected:
        finding = data["findings"][0]  # type: ignore[index]
        assert "r1 (FRR) requires TTL >= 255 from node (GoBGP)" in finding["message"]
        assert [f["platform"] for f in finding["fixes"]] == ["gobgp"]  # the fix goes to the sender


def test_bird_ttl_security_on_is_read_as_gtsm(tmp_path: Path) -> None:
    bird = (
        "router id 192.168.6.1;\nprotocol device {}\nprotocol kernel { ipv4 { export all; }; }\n"
        "protocol bgp node {\n  local 192.168.6.1 as 64513;\n  neighbor 192.168.6.80 as 64514;\n"
        "  ttl security on;\n  ipv4 { import all; export all; };\n}\n"
    )
    (tmp_path / "r1").mkdir()
    (tmp_path / "node").mkdir()
    (tmp_path / "r1" / "bird.conf").write_text(bird)
    (tmp_path / "node" / "gobgpd.toml").write_text(NODE)
    data = lint_paths([str(tmp_path)]).to_dict()
    assert causes(data) == ["ttl-security-gtsm"]
    assert data["findings"][0]["line"] == 7  # type: ignore[index]
