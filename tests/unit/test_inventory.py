"""Inventory loading: every bad file gives exactly one clear FILE:LINE: message."""

from __future__ import annotations

import re
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from click.testing import CliRunner

from bgpdoctor.errors import InventoryError, UsageError
from bgpdoctor.inventory import inventory_check_command, load_inventory, scope_hosts
from bgpdoctor.inventory_cli import inventory as inventory_group
from bgpdoctor.inventory_model import Inventory

CASES = Path(__file__).parent / "inventory_cases"
DOCS = Path(__file__).parents[2] / "docs" / "inventory.md"

# file name -> (line, message) of the first problem
BAD: dict[str, tuple[int | None, str]] = {
    "bad_asn": (5, "hosts.router-mine.asn: 0 should be greater than or equal to 1"),
    "bad_cidr": (7, "hosts.sakamoto.pod_cidrs[1]: '10.42.0.1/33' is not a valid IPv4 network"),
    "bad_ip": (7, "hosts.router-mine.peers[0].address: '192.168.0.300' is not a valid IPv4 address"),
    "bad_port": (3, "defaults.ssh.port: 70000 should be less than or equal to 65535"),
    "bad_role": (3, "hosts.switch-1.role: 'switch' should be 'router', 'node' or 'vantage'"),
    "comments_only": (None, "the file is empty (expected a mapping with 'hosts:')"),
    "duplicate_key": (8, "hosts.sakamoto: duplicate key 'sakamoto' (first defined on line 2)"),
    "empty": (None, "the file is empty (expected a mapping with 'hosts:')"),
    "inline_md5_password": (
        6,
        "hosts.router-mine.peers[0]: md5: a reference, {env: VAR} or {file: PATH}, never the password itself",
    ),
    "inline_password_key": (
        6,
        "hosts.router-mine.peers[0]: password: no inline secrets; use md5: {env: VAR} or {file: PATH}",
    ),
    "md5_two_places": (
        9,
        "hosts.router-mine.peers[0].md5: a secret reference needs exactly one of env (a variable name) "
        "or file (a path)",
    ),
    "jump_via_netns_host": (
        10,
        "hosts.sakamoto.connect.ssh.proxy_jump: jump host 'router-mine' is in the inventory "
        "but is not reached over ssh",
    ),
    "missing_hosts": (1, "top level: missing required field 'hosts'"),
    "missing_role": (2, "hosts.sakamoto: missing required field 'role'"),
    "syntax_error": (
        5,
        "YAML syntax error: while parsing a flow mapping, expected ',' or '}', but got ':' "
        "(the construct starts on line 4)",
    ),
    "pod_cidr_not_a_network": (5, "pod_cidr: 'cluster-pods' is not a valid IPv4 network"),
    "pod_cidr_two_ipv4": (
        1,
        "pod_cidr: one IPv4 network at most, one per family on a dual-stack cluster"
        " (got 10.42.0.0/16, 10.43.0.0/16)",
    ),
    "top_list": (1, "the top level must be a mapping with 'hosts:', not a list"),
    "two_transports": (4, "hosts.sakamoto.connect: connect needs exactly one of: ssh, netns, local, pod"),
    "unknown_field": (6, "hosts.sakamoto: unknown field 'pod_cidr' (did you mean 'pod_cidrs'?)"),
    "unknown_metrics_server": (6, "vantage.metrics_server: unknown host 'metrics-server' (known: sakamoto)"),
    "unknown_peer_host": (
        7,
        "hosts.router-mine.peers[1].host: unknown host 'yuko-k8s' (known: router-mine, sakamoto, yuuko-k8s)",
    ),
    "unknown_site": (6, "hosts.yuuko-k8s.site: unknown site 'hom' (known: mine)"),
    "version_two": (1, "version: 2 should be 1"),
}


def docs_example(tmp_path: Path) -> Path:
    """Write the ```yaml block of docs/inventory.md next to a tmp path and return it."""
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "docs/inventory.md must hold exactly one ```yaml example"
    path = tmp_path / "lab.yaml"
    path.write_text(blocks[0], encoding="utf-8")
    return path


@pytest.fixture
def lab(tmp_path: Path) -> Inventory:
    return load_inventory(docs_example(tmp_path))


def test_every_bad_case_is_in_the_table() -> None:
    assert sorted(p.stem for p in (CASES / "bad").glob("*.yaml")) == sorted(BAD)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_inventory_gives_one_clear_line(name: str) -> None:
    path = CASES / "bad" / f"{name}.yaml"
    line, message = BAD[name]
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    err = info.value
    assert (err.line, err.message) == (line, message)
    where = f"{path}:{line}" if line else str(path)
    assert str(err) == f"{where}: {message}"
    assert "\n" not in str(err)


@pytest.mark.parametrize("name", ["minimal", "two_sites"])
def test_good_inventories_load(name: str) -> None:
    inv = load_inventory(CASES / "good" / f"{name}.yaml")
    assert inv.hosts


def test_good_two_sites_values() -> None:
    inv = load_inventory(CASES / "good" / "two_sites.yaml")
    assert inv.hosts["router-mine"].peers[0].address == IPv4Address("192.168.6.80")
    ssh = inv.hosts["sakamoto"].connect.ssh
    assert ssh is not None and ssh.proxy_jump == "root@router-mine:22"
    assert inv.hosts["yuuko-k8s"].connect.netns == "bdlab-yuuko-k8s"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InventoryError) as info:
        load_inventory(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}: no such file"
    with pytest.raises(InventoryError, match="is a directory"):
        load_inventory(tmp_path)


def test_several_problems_are_all_reported_first_line_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(
        "hosts:\n"
        "  sakamoto:\n"
        "    role: node\n"
        "    connect: {local: true}\n"
        "    pod_cidr: [10.42.0.0/24]\n"
        "    peers:\n"
        "      - {address: 192.168.6.300, asn: 64512}\n",
        encoding="utf-8",
    )
    assert inventory_check_command(path) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{path}:5: hosts.sakamoto: unknown field 'pod_cidr' (did you mean 'pod_cidrs'?)",
        f"{path}:7: hosts.sakamoto.peers[0].address: '192.168.6.300' is not a valid IPv4 address",
    ]


def test_yaml_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(
        "hosts:\n  a: &node {role: node, connect: {local: true}}\n  b: {<<: *node, asn: 64514}\n"
        "  c:\n    <<: *node\n    asn: -1\n",
        encoding="utf-8",
    )
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert str(info.value) == f"{path}:6: hosts.c.asn: -1 should be greater than or equal to 1"
    path.write_text(path.read_text().replace("-1", "64515"), encoding="utf-8")
    inv = load_inventory(path)
    assert (inv.hosts["b"].role, inv.hosts["b"].asn, inv.hosts["c"].asn) == ("node", 64514, 64515)


def test_relative_ssh_paths_are_relative_to_the_inventory(lab: Inventory, tmp_path: Path) -> None:
    assert lab.defaults.ssh.identity_file == str(tmp_path / "run/ssh/id_ed25519")
    assert lab.defaults.ssh.known_hosts == str(tmp_path / "run/ssh/known_hosts")


def test_docs_example_is_the_lab(lab: Inventory) -> None:
    assert list(lab.hosts) == ["router-mine", "router-home", "sakamoto", "yuuko-k8s", "metrics-server"]
    assert lab.lab is not None and lab.lab.interface_prefix == "bdl-"
    # the ASNs of the seed-001 design, as the lab uses them
    assert [lab.hosts[h].asn for h in ("router-mine", "router-home", "sakamoto", "yuuko-k8s")] == [
        64513,
        64515,
        64514,
        64514,
    ]
    assert lab.hosts["router-mine"].speaker == "bird2"
    assert lab.hosts["yuuko-k8s"].speaker == "gobgp"
    assert lab.vantage.metrics_server == "metrics-server"


def test_docs_documents_every_field() -> None:
    from bgpdoctor import inventory_model as m

    text = DOCS.read_text(encoding="utf-8")
    for model in (
        m.Inventory,
        m.Defaults,
        m.Site,
        m.Host,
        m.Peer,
        m.Connect,
        m.SshTarget,
        m.Vantage,
        m.LabGuard,
        m.Switch,
        m.LbPool,
        m.SecretRef,
    ):
        for field in model.model_fields:
            assert f"`{field}`" in text, f"docs/inventory.md does not document {model.__name__}.{field}"


def test_check_command_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = docs_example(tmp_path)
    assert inventory_check_command(path) == 0
    assert capsys.readouterr().out == f"{path}: ok (5 hosts: 2 routers, 2 nodes, 1 vantage; 4 sessions)\n"


def test_click_group_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(inventory_group, ["check", str(docs_example(tmp_path))])
    assert good.exit_code == 0 and ": ok (5 hosts" in good.stdout
    bad_path = CASES / "bad" / "bad_ip.yaml"
    bad = runner.invoke(inventory_group, ["check", str(bad_path)])
    assert bad.exit_code == 2
    assert bad.stderr.splitlines()[0].startswith(f"{bad_path}:7: hosts.router-mine.peers[0].address")


def test_scope_hosts(lab: Inventory) -> None:
    # the other site's node is the far end of the pod paths, so the small lab is all in scope
    assert scope_hosts(lab, ["yuuko-k8s"]) == list(lab.hosts)
    assert scope_hosts(lab, ["sakamoto", "yuuko-k8s"]) == list(lab.hosts)
    assert scope_hosts(lab, []) == list(lab.hosts)
    # a second node at yuuko-k8s's own site is neither its peer nor a far end: left out
    extra = lab.hosts["yuuko-k8s"].model_copy(update={"peers": []})
    bigger = lab.model_copy(update={"hosts": {**lab.hosts, "kubenode-home2": extra}})
    assert "kubenode-home2" not in scope_hosts(bigger, ["yuuko-k8s"])
    assert "sakamoto" in scope_hosts(bigger, ["yuuko-k8s"])


def test_scope_hosts_peers_outside_the_router_role() -> None:
    inv = load_inventory(CASES / "good" / "two_sites.yaml")
    # yuuko-k8s has no sessions and its site no router: no pod path reaches it, so only itself and
    # the metrics-server host (sakamoto); router-mine is on none of its paths
    assert scope_hosts(inv, ["yuuko-k8s"]) == ["sakamoto", "yuuko-k8s"]


def test_scope_hosts_unknown_node(lab: Inventory) -> None:
    with pytest.raises(UsageError) as info:
        scope_hosts(lab, ["yuko-k8s"])
    assert str(info.value) == (
        "unknown node 'yuko-k8s' (known nodes: sakamoto, yuuko-k8s; "
        "other hosts: router-mine, router-home, metrics-server)"
    )


@pytest.mark.parametrize("name", ["inline_md5_password", "inline_password_key"])
def test_an_inline_secret_is_refused_without_being_printed(name: str) -> None:
    with pytest.raises(InventoryError) as info:
        load_inventory(CASES / "bad" / f"{name}.yaml")
    assert "hunter2" not in str(info.value) and "hunter2" not in info.value.message


def test_operator_intent_is_read(tmp_path: Path) -> None:
    inv = load_inventory(CASES / "good" / "intent.yaml")
    assert [str(n) for n in inv.sites["home"].subnets] == ["192.168.0.0/24", "192.168.10.0/24"]
    assert (str(inv.lb_pools["lan-l2"].cidr), inv.lb_pools["lan-l2"].l2) == ("192.168.10.240/28", True)
    server = inv.hosts["route-server"]
    assert server.forwards is False
    peer = server.peers[0]
    assert (peer.route_reflector_client, peer.next_hop_self, peer.md5 and peer.md5.env) == (
        True,
        False,
        "BGP_MD5_SAKAMOTO",
    )
    assert [str(v) for v in inv.hosts["sakamoto"].lb_vips] == ["10.0.6.1"]


def test_a_dual_stack_network_is_described_in_both_families(tmp_path: Path) -> None:
    # the dual-stack lab's own shape: a site with an IPv6 LAN beside the IPv4 one, an overlay
    # carrying both, an IPv6 LoadBalancer pool and VIP; before, each was refused as "not IPv4"
    path = tmp_path / "inventory.yaml"
    path.write_text(
        "sites:\n"
        "  home: {lan: 192.168.0.0/24, lans: ['fd00:192:168::/64']}\n"
        "switches:\n"
        "  zt: {segments: [192.168.191.0/24, 'fd00:192:168:191::/64']}\n"
        "lb_pools:\n"
        "  v6: {cidr: 'fd00:10:96::/112'}\n"
        "hosts:\n"
        "  yuuko-k8s:\n"
        "    role: node\n"
        "    site: home\n"
        "    connect: {local: true}\n"
        "    lb_vips: [10.0.6.1, 'fd00:10:96::1']\n"
    )
    inv = load_inventory(path)
    assert [str(n) for n in inv.sites["home"].subnets] == ["192.168.0.0/24", "fd00:192:168::/64"]
    assert [n.version for n in inv.switches["zt"].segments] == [4, 6]
    assert str(inv.lb_pools["v6"].cidr) == "fd00:10:96::/112"
    assert [str(v) for v in inv.hosts["yuuko-k8s"].lb_vips] == ["10.0.6.1", "fd00:10:96::1"]


def _with_pod_cidr(tmp_path: Path, value: str) -> Inventory:
    path = tmp_path / "inventory.yaml"
    path.write_text(f"pod_cidr: {value}\nhosts:\n  n1: {{role: node, connect: {{local: true}}}}\n")
    return load_inventory(path)


def test_a_dual_stack_cluster_states_its_pod_range_in_each_family(tmp_path: Path) -> None:
    inv = _with_pod_cidr(tmp_path, "[10.42.0.0/16, 'fd00:10:42::/48']")
    assert [str(n) for n in inv.cluster_pod_cidrs] == ["10.42.0.0/16", "fd00:10:42::/48"]
    assert str(inv.cluster_pod_cidr_of("fd00:10:42:3::1")) == "fd00:10:42::/48"
    assert str(inv.cluster_pod_cidr_of("10.42.3.1")) == "10.42.0.0/16"
    assert inv.model_dump(mode="json")["pod_cidr"] == ["10.42.0.0/16", "fd00:10:42::/48"]


def test_a_single_pod_range_keeps_its_form_and_has_no_other_family(tmp_path: Path) -> None:
    inv = _with_pod_cidr(tmp_path, "10.42.0.0/16")
    assert [str(n) for n in inv.cluster_pod_cidrs] == ["10.42.0.0/16"]
    assert inv.cluster_pod_cidr_of("fd00:10:42:3::1") is None
    # written back (recordings, discover) as it was read: an IPv4-only inventory is unchanged
    assert inv.model_dump(mode="json")["pod_cidr"] == "10.42.0.0/16"
    assert Inventory.model_validate(inv.model_dump(mode="json")) == inv
    v6_only = _with_pod_cidr(tmp_path, "'fd00:10:42::/48'")
    assert v6_only.cluster_pod_cidr_of("10.42.3.1") is None
    unset = Inventory.model_validate({"hosts": {}})
    assert unset.cluster_pod_cidrs == [] and "pod_cidr" not in unset.model_dump(
        mode="json", exclude_none=True
    )


def test_two_ipv6_pod_ranges_are_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(InventoryError) as info:
        _with_pod_cidr(tmp_path, "['fd00:10:42::/48', 'fd00:10:43::/48', 10.42.0.0/16]")
    assert info.value.line == 1 and "\n" not in str(info.value)
    assert info.value.message == (
        "pod_cidr: one IPv6 network at most, one per family on a dual-stack cluster"
        " (got fd00:10:42::/48, fd00:10:43::/48)"
    )
