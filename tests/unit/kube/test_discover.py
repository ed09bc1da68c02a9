"""`bgpdoctor discover` and inventory_from_cluster: the inventory validates, loads, and merges ssh_config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from bgpdoctor.inventory import load_inventory
from bgpdoctor.kube.cli import discover
from bgpdoctor.kube.discover import inventory_from_cluster, ssh_aliases
from tests.fakeapi import DEFAULT_TOKEN as TOKEN
from tests.fakeapi import clusters as c
from tests.fakeapi import write_kubeconfig

SSH_CONFIG = """\
Host *
  ServerAliveInterval 30

Host saka
  HostName 192.168.6.80
  User root

Host yuuko-k8s
  HostName 192.168.0.81

Include conf.d/*
"""


def run_discover(args: list[str]) -> Any:
    return CliRunner().invoke(discover, args, catch_exceptions=False)


def test_discover_seed001_writes_a_loadable_inventory(fake_api: Any, tmp_path: Path) -> None:
    home = fake_api(*c.seed001())
    office = fake_api(*c.seed003(), token="office-token")
    kc = write_kubeconfig(
        tmp_path / "kc", {"office": (office.url, "office-token"), "home": (home.url, TOKEN)}
    )
    ssh = tmp_path / "ssh_config"
    ssh.write_text(SSH_CONFIG)
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "routers").write_text("Host gw-mine\n  HostName 192.168.6.1\n")
    # Include is relative to ~/.ssh in OpenSSH; point HOME's .ssh at tmp_path for this test
    (Path.home() / ".ssh").parent.mkdir(parents=True, exist_ok=True)
    (Path.home() / ".ssh").symlink_to(tmp_path)

    result = run_discover(["--context", "home", "--kubeconfig", str(kc), "--ssh-config", str(ssh)])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"# bgpdoctor discover: context 'home' ({home.url}) at ")
    assert "# router found as a BGP peer address" in out
    assert (
        "note: router 192.168.0.1 found as a peer address of yuuko-k8s: complete its connect: block"
        in result.stderr
    )

    path = tmp_path / "inventory.yaml"
    path.write_text(out)
    inv = load_inventory(path)
    assert sorted(inv.hosts) == ["router-home", "router-mine", "sakamoto", "yuuko-k8s"]
    sak = inv.hosts["sakamoto"]
    assert (sak.role, sak.speaker, sak.asn, sak.listens) == ("node", "gobgp", 64514, False)
    assert sak.connect.ssh is not None and sak.connect.ssh.host == "saka"  # matched by HostName
    assert inv.hosts["yuuko-k8s"].connect.ssh.host == "yuuko-k8s"  # type: ignore[union-attr]
    assert [str(p) for p in sak.pod_cidrs] == ["10.42.0.0/24"] and str(sak.internal_ip) == "192.168.6.80"
    assert [(p.host, str(p.address), p.asn) for p in sak.peers] == [("router-mine", "192.168.6.1", 64513)]
    mine = inv.hosts["router-mine"]
    assert mine.role == "router" and mine.asn == 64513
    assert mine.connect.ssh is not None and mine.connect.ssh.host == "gw-mine"  # from the Include'd file
    home_router = inv.hosts["router-home"]
    assert (
        home_router.connect.ssh is not None and home_router.connect.ssh.host == "192.168.0.1"
    )  # placeholder
    assert [(p.host, str(p.address)) for p in home_router.peers] == [("yuuko-k8s", "192.168.0.81")]
    assert [str(n) for n in inv.cluster_pod_cidrs] == ["10.42.0.0/16"]


def test_discover_calico(fake_api: Any, kubeconfig: Any, tmp_path: Path) -> None:
    api = fake_api(*c.calico_seed002())
    result = run_discover(["--kubeconfig", kubeconfig(api), "--ssh-config", str(tmp_path / "none")])
    assert result.exit_code == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    master = data["hosts"]["kubemaster"]
    assert master["speaker"] == "bird1" and master["control_socket"] == "/var/run/calico/bird.ctl"
    assert [p["name"] for p in master["peers"]] == [
        "Node_192_168_100_1",
        "Mesh_192_168_100_252",
        "Mesh_10_2_5_7",
    ]
    assert [p.get("host") for p in master["peers"]] == [
        "route-reflector-wds",
        "kubenode-wds-1",
        "kubenode-hkg04",
    ]
    assert data["hosts"]["route-reflector-global"]["role"] == "router"
    assert "route-reflector-domestic" not in data["hosts"]  # its nodeSelector selects no node
    path = tmp_path / "inv.yaml"
    path.write_text(result.stdout)
    assert len(load_inventory(path).hosts) == 5


def test_discover_broken_cluster_lists_findings_as_notes(
    fake_api: Any, kubeconfig: Any, tmp_path: Path
) -> None:
    api = fake_api(*c.seed000_broken())
    result = run_discover(["--kubeconfig", kubeconfig(api), "--ssh-config", str(tmp_path / "none")])
    assert result.exit_code == 0
    assert "#   - auto-direct-routes-across-l3: " in result.stdout
    assert "note: podcidr-not-advertised: " in result.stderr


def test_discover_without_cni_resources(fake_api: Any, kubeconfig: Any, tmp_path: Path) -> None:
    api = fake_api(c.node("n1", "10.0.0.1", "10.42.0.0/24"))
    inv, notes = inventory_from_cluster(None, kubeconfig(api), str(tmp_path / "none"))
    assert inv.hosts["n1"].speaker == "none" and inv.hosts["n1"].peers == []
    assert notes == []


def test_inventory_from_cluster_notes(fake_api: Any, kubeconfig: Any, tmp_path: Path) -> None:
    api = fake_api(*c.seed003())
    inv, notes = inventory_from_cluster(None, kubeconfig(api), str(tmp_path / "none"))
    assert sorted(inv.hosts) == ["gpu-node-01", "master-01", "node-01", "switch"]
    assert notes == [
        "router 10.0.4.250 found as a peer address of gpu-node-01, master-01, node-01: "
        "complete its connect: block"
    ]
    assert [(p.host, p.asn) for p in inv.hosts["switch"].peers] == [
        ("gpu-node-01", 65001),
        ("master-01", 65001),
        ("node-01", 65001),
    ]


def test_discover_unknown_context_exit_2(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.seed001())
    result = run_discover(["--context", "nope", "--kubeconfig", kubeconfig(api)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("bgpdoctor: no context 'nope' in ")


def test_discover_401_exit_3(fake_api: Any, kubeconfig: Any) -> None:
    api = fake_api(*c.seed001())
    result = run_discover(["--kubeconfig", kubeconfig(api, token="wrong")])
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.strip().endswith(
        "unauthorized (401): the kubeconfig credentials were refused; log in again"
    )


def test_ssh_aliases_skip_wildcards(tmp_path: Path) -> None:
    ssh = tmp_path / "cfg"
    ssh.write_text("Host *.lan !bad\n  User x\nHost r1 r1-alt\n  HostName 10.0.0.1\n")
    assert ssh_aliases(str(ssh)) == {"r1": "r1", "10.0.0.1": "r1", "r1-alt": "r1-alt"}
    assert ssh_aliases(str(tmp_path / "missing")) == {}


def test_discover_calico_pod_cidrs_come_from_ipam_blocks(
    fake_api: Any, kubeconfig: Any, tmp_path: Path
) -> None:
    api = fake_api(*c.calico_seed002(calico_ipam=True))
    result = run_discover(["--kubeconfig", kubeconfig(api), "--ssh-config", str(tmp_path / "none")])
    assert result.exit_code == 0, result.stderr
    hosts = yaml.safe_load(result.stdout)["hosts"]
    assert hosts["kubemaster"]["pod_cidrs"] == ["10.42.189.64/26"]
    assert hosts["kubenode-wds-1"]["pod_cidrs"] == ["10.42.37.0/26", "10.42.37.64/26"]
    assert hosts["kubenode-hkg04"]["pod_cidrs"] == ["10.42.2.192/26"]
    assert "10.42.250.0/26" not in result.stdout
