"""The namespace lab for real: BIRD, GoBGP, sshd and the kubelet stub in namespaces this test creates.

Uses its own prefix (bdt-), management /24 and a tmp run dir, so it never touches a user's lab.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.skipif(
        shutil.which("bird") is None or shutil.which("gobgpd") is None,
        reason="bird2/gobgpd missing (scripts/install-deps.sh)",
    ),
]

PREFIX = os.environ.get("BGPDOCTOR_TEST_LAB_PREFIX", "bdt-")
MGMT_NET = os.environ.get("BGPDOCTOR_TEST_LAB_MGMT_NET", "172.31.253.0/24")
REPO = Path(__file__).resolve().parents[2]


if TYPE_CHECKING:
    from bgpdoctor.lab.topology import LabSettings


@dataclass
class Lab:
    run_dir: Path
    inventory_path: Path
    fresh_up_s: float

    def lab_settings(self) -> LabSettings:
        from bgpdoctor.lab import lab_settings

        return lab_settings(self.run_dir)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    from bgpdoctor.lab import lab_down, lab_up

    run_dir = tmp_path_factory.mktemp("bdlab")
    mp = pytest.MonkeyPatch()
    mp.setenv("BGPDOCTOR_LAB_PREFIX", PREFIX)
    mp.setenv("BGPDOCTOR_LAB_MGMT_NET", MGMT_NET)
    try:
        t0 = time.monotonic()
        info = lab_up(run_dir)
        yield Lab(run_dir, info.inventory_path, time.monotonic() - t0)
    finally:
        lab_down(run_dir)
        mp.undo()


def sh(lab: Lab, host: str, *argv: str) -> subprocess.CompletedProcess[str]:
    from bgpdoctor.lab import lab_exec

    return lab_exec(lab.run_dir, host, list(argv))


def sock(lab: Lab, router: str) -> str:
    return str(lab.run_dir / router / "bird.ctl")


def birdc(lab: Lab, router: str, *args: str) -> str:
    return sh(lab, router, "birdc", "-s", sock(lab, router), *args).stdout


def vtysh_json(lab: Lab, command: str) -> dict[str, Any]:
    """A `... json` command of tor's FRR, through its vty socket directory."""
    from bgpdoctor.lab.frr import lab_frr_dir

    vty = str(lab_frr_dir(lab.lab_settings().ns("tor")))
    out = sh(lab, "tor", "vtysh", "--vty_socket", vty, "-c", command).stdout
    data = json.loads(out or "{}")
    assert isinstance(data, dict), out
    return data


def tor_paths(lab: Lab, prefix: str) -> list[dict[str, Any]]:
    paths = vtysh_json(lab, f"show bgp ipv4 unicast {prefix} json").get("paths", [])
    assert isinstance(paths, list)
    return paths


def bgp_lines(lab: Lab, router: str) -> dict[str, str]:
    return {ln.split()[0]: ln for ln in birdc(lab, router, "show", "protocols").splitlines() if " BGP " in ln}


def since_seconds(lines: dict[str, dict[str, str]]) -> dict[str, float]:
    """{router: {protocol: line}} -> {"router/protocol": seconds of the day of its Since column}."""
    out: dict[str, float] = {}
    for router, protos in lines.items():
        for name, line in protos.items():
            h, m, sec = line.split()[4].split(":")
            out[f"{router}/{name}/{line.split()[3]}/{line.split()[5]}"] = (
                int(h) * 3600 + int(m) * 60 + float(sec)
            )
    return out


def ping(lab: Lab, host: str, dst: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return sh(lab, host, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", *extra, dst)


def counter(lab: Lab, host: str, table: str, key: str) -> int:
    out = sh(lab, host, "cat", "/proc/net/snmp", "/proc/net/netstat").stdout
    rows = [ln.split() for ln in out.splitlines() if ln.startswith(table + ":")]
    for names, values in zip(rows[::2], rows[1::2], strict=False):
        if key in names:
            return int(values[names.index(key)])
    raise AssertionError(f"{table} {key} not found")


def tls(lab: Lab, target: str) -> subprocess.CompletedProcess[str]:
    from bgpdoctor.lab.health import STUB

    return sh(lab, "metrics-server", sys.executable, STUB, "probe", target, "--timeout", "2")


# ---- baseline --------------------------------------------------------------------------------
def test_fresh_up_converges(lab: Lab) -> None:
    assert lab.fresh_up_s < 60
    assert lab.inventory_path.exists()


def test_bird_protocols_established(lab: Lab) -> None:
    want = {
        "router-mine": {"sakamoto", "yuuko_k8s", "router_home"},
        "router-home": {"yuuko_k8s", "router_mine"},
    }
    for router, names in want.items():
        lines = bgp_lines(lab, router)
        assert set(lines) == names, lines
        for ln in lines.values():
            assert ln.split()[5] == "Established", ln


def test_gobgp_neighbors_established(lab: Lab) -> None:
    for node, peers in (("sakamoto", {"192.168.6.1"}), ("yuuko-k8s", {"192.168.0.1", "192.168.6.1"})):
        out = sh(lab, node, "gobgp", "-u", "127.0.0.1", "-p", "50051", "neighbor").stdout
        rows = {ln.split()[0]: ln for ln in out.splitlines()[1:] if ln.strip()}
        assert set(rows) == peers, out
        assert all("Establ" in r for r in rows.values()), out


def test_pod_cidrs_in_router_fibs(lab: Lab) -> None:
    for router in ("router-mine", "router-home"):
        out = sh(lab, router, "ip", "route", "show", "proto", "bird").stdout
        assert "10.42.0.0/24" in out and "10.42.3.0/24" in out, out


def test_pod_ping_both_ways(lab: Lab) -> None:
    assert ping(lab, "sakamoto", "10.42.3.1", "-I", "10.42.0.1").returncode == 0
    assert ping(lab, "yuuko-k8s", "10.42.0.1", "-I", "10.42.3.1").returncode == 0
    assert ping(lab, "metrics-server", "10.42.3.1").returncode == 0


def test_kubelet_tls_from_metrics_server(lab: Lab) -> None:
    for ip in ("192.168.0.81", "192.168.6.80"):
        cp = tls(lab, ip)
        assert cp.returncode == 0, cp.stderr
        assert cp.stdout.startswith("TLS") and cp.stdout.strip().endswith("ok"), cp.stdout


def test_seed_002_and_003_sites(lab: Lab) -> None:
    # Calico nodes (BIRD 1.6) learn each other's block through the reflector, cn-ns via next hop self
    assert (
        "10.42.64.64/26 via 192.168.100.252 dev eth0 proto bird"
        in sh(lab, "kubemaster", "ip", "route").stdout
    )
    assert "10.42.141.0/26 via 10.255.100.1 dev iepl0 proto bird" in sh(lab, "cn-ns", "ip", "route").stdout
    assert ping(lab, "kubemaster", "10.42.64.66", "-I", "10.42.141.9").returncode == 0
    assert ping(lab, "cn-ns", "10.42.141.9").returncode == 0
    status = sh(
        lab,
        "kubemaster",
        "/opt/bgpdoctor/bird16/usr/sbin/birdc",
        "-s",
        sock(lab, "kubemaster"),
        "show",
        "status",
    )
    assert "BIRD 1.6" in status.stdout, status.stdout
    # the switch (FRR, its default maximum-paths) installs the VIP both nodes announce as one ECMP route
    vip = sh(lab, "tor", "ip", "route", "show", "10.0.6.1").stdout
    assert "nexthop via 10.0.4.109" in vip and "nexthop via 10.0.4.110" in vip and "proto bgp" in vip, vip
    assert ping(lab, "tor", "10.0.6.1").returncode == 0
    neighbors = vtysh_json(lab, "show bgp neighbors json")
    assert {a: n["bgpState"] for a, n in neighbors.items()} == {
        "10.0.4.109": "Established",
        "10.0.4.110": "Established",
    }
    families = [n["addressFamilyInfo"]["ipv4Unicast"] for n in neighbors.values()]
    assert not any("inboundEbgpRequiresPolicy" in f or "outboundEbgpRequiresPolicy" in f for f in families)


def test_inventory_validates(lab: Lab) -> None:
    from bgpdoctor.inventory_model import Inventory

    text = lab.inventory_path.read_text()
    assert text.startswith("# bgpdoctor inventory")
    inv = Inventory.model_validate(yaml.safe_load(text))
    assert inv.lab is not None and inv.lab.interface_prefix == PREFIX
    assert inv.vantage.metrics_server == "metrics-server"
    rm = inv.hosts["router-mine"]
    assert rm.asn == 64513 and str(rm.router_id) == "192.168.6.1"
    assert rm.control_socket == sock(lab, "router-mine")
    yk = next(p for p in rm.peers if p.name == "yuuko_k8s")
    assert yk.multihop == 4 and yk.passive is True
    node = inv.hosts["yuuko-k8s"]
    assert node.listens is False and str(node.pod_probe_ip) == "10.42.3.1"
    assert node.connect.ssh is not None and node.connect.ssh.host == MGMT_NET.rsplit(".", 1)[0] + ".22"


def test_ssh_login_with_pinned_host_keys(lab: Lab) -> None:
    import paramiko

    from bgpdoctor.inventory_model import Inventory

    inv = Inventory.model_validate(yaml.safe_load(lab.inventory_path.read_text()))
    d = inv.defaults.ssh
    assert d.known_hosts and d.identity_file
    for name, host in inv.hosts.items():
        assert host.connect.ssh is not None and host.connect.ssh.host
        c = paramiko.SSHClient()
        c.load_host_keys(d.known_hosts)
        c.set_missing_host_key_policy(paramiko.RejectPolicy())
        c.connect(
            host.connect.ssh.host,
            username=d.user,
            key_filename=d.identity_file,
            allow_agent=False,
            look_for_keys=False,
            timeout=5,
        )
        try:
            cmd = "ip netns identify $$"
            if host.control_socket and host.speaker == "frr":
                cmd += f"; vtysh --vty_socket {host.control_socket} -c 'show bgp summary'"
            elif host.control_socket:
                cmd += f"; birdc -s {host.control_socket} show status; birdc show protocols"
            _, out, _ = c.exec_command(cmd, timeout=10)
            text = out.read().decode()
        finally:
            c.close()
        assert text.splitlines()[0] == PREFIX + name
        if host.control_socket and host.speaker == "frr":
            assert "BGP router identifier 10.0.4.250, local AS number 65000" in text, text
        elif host.control_socket:
            assert "Daemon is up and running" in text and "router id" in text.lower()
            assert "Established" in text  # the birdc wrapper on the session PATH picked the socket


def test_mgmt_not_in_data_plane(lab: Lab) -> None:
    mgmt = MGMT_NET.rsplit(".", 1)[0]
    for router in ("router-mine", "router-home"):
        assert mgmt not in birdc(lab, router, "show", "route")
    assert mgmt not in sh(lab, "router-mine", "ip", "route", "show", "proto", "bird").stdout


def test_second_up_is_fast_and_changes_nothing(lab: Lab) -> None:
    from bgpdoctor.lab.state import load_state

    before = load_state(lab.run_dir / "state.json")
    since = {r: bgp_lines(lab, r) for r in ("router-mine", "router-home")}
    links = sh(lab, "router-mine", "ip", "-o", "link").stdout
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.monotonic()
    cp = subprocess.run(
        [sys.executable, "-m", "bgpdoctor.lab.cli", "up", "--dir", str(lab.run_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    took = time.monotonic() - t0
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.strip().splitlines()[-1] == f"inventory: {lab.inventory_path}"
    assert took < 5, took
    after = load_state(lab.run_dir / "state.json")
    assert before is not None and after is not None
    assert {k: v.pid for k, v in before.procs.items()} == {k: v.pid for k, v in after.procs.items()}
    # no session flapped: Since unchanged. BIRD turns its monotonic timestamps into wall-clock time
    # anew on every call, so the printed milliseconds may move by one; allow 50 ms.
    assert since_seconds({r: bgp_lines(lab, r) for r in since}) == pytest.approx(
        since_seconds(since), abs=0.05
    )
    assert sh(lab, "router-mine", "ip", "-o", "link").stdout == links
    assert "starting" not in cp.stderr


def test_cli_lists_faults() -> None:
    from bgpdoctor.lab import list_faults

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cp = subprocess.run(
        [sys.executable, "-m", "bgpdoctor.lab.cli", "faults"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    names = [ln.split()[0] for ln in cp.stdout.splitlines()]
    assert names == [f.name for f in list_faults()]
    assert len(names) == len(list_faults())
    assert "frr-ebgp-requires-policy" in names


# ---- faults: raw symptoms --------------------------------------------------------------------
def up_fault(lab: Lab, name: str) -> None:
    from bgpdoctor.lab import lab_up

    info = lab_up(lab.run_dir, faults=[name])
    assert info.faults == [name]


def test_fault_node_not_listening(lab: Lab) -> None:
    up_fault(lab, "node-not-listening")
    out = birdc(lab, "router-home", "show", "protocols", "all", "yuuko_k8s")
    assert "Connection refused" in out, out
    assert "Established" not in out
    assert ":179 " not in sh(lab, "yuuko-k8s", "ss", "-Htln").stdout  # GoBGP never listens


def test_fault_nat_rewrites_bgp_source(lab: Lab) -> None:
    up_fault(lab, "nat-rewrites-bgp-source")
    log = (lab.run_dir / "router-mine" / "bird.log").read_text()
    assert "Unexpected connect from unknown address 192.168.191.10" in log
    nft = sh(lab, "router-home", "nft", "list", "table", "ip", "bdl_fault_nat").stdout
    assert re.search(r"counter packets [1-9]\d* .* masquerade", nft), nft


def test_fault_unexpected_source_address(lab: Lab) -> None:
    up_fault(lab, "unexpected-source-address")
    assert "src 192.168.191.81" in sh(lab, "yuuko-k8s", "ip", "route", "get", "192.168.6.1").stdout
    log = (lab.run_dir / "router-mine" / "bird.log").read_text()
    assert "Unexpected connect from unknown address 192.168.191.81" in log


def test_fault_ebgp_multihop_missing(lab: Lab) -> None:
    up_fault(lab, "ebgp-multihop-missing")
    assert counter(lab, "router-home", "Icmp", "OutTimeExcds") > 0
    out = sh(lab, "yuuko-k8s", "gobgp", "-u", "127.0.0.1", "-p", "50051", "neighbor").stdout
    row = next(ln for ln in out.splitlines() if ln.startswith("192.168.6.1"))
    assert "Establ" not in row, out


def test_fault_firewall_blocks_pod_cidr(lab: Lab) -> None:
    up_fault(lab, "firewall-blocks-pod-cidr")
    assert all(ln.split()[5] == "Established" for ln in bgp_lines(lab, "router-mine").values())
    assert "100% packet loss" in ping(lab, "sakamoto", "10.42.3.1", "-I", "10.42.0.1").stdout
    assert ping(lab, "sakamoto", "192.168.0.81").returncode == 0  # node to node still fine
    fw = sh(lab, "router-mine", "nft", "list", "table", "inet", "bdl_fw").stdout
    assert re.search(r'counter packets [1-9]\d* bytes \d+ drop comment "zone forward reject"', fw), fw


def test_fault_ip_forward_disabled(lab: Lab) -> None:
    up_fault(lab, "ip-forward-disabled")
    assert sh(lab, "router-home", "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "0"
    assert "100% packet loss" in ping(lab, "yuuko-k8s", "192.168.6.1").stdout


def test_fault_bgp_filtered_unseen(lab: Lab) -> None:
    up_fault(lab, "bgp-filtered-unseen")
    nft = sh(lab, "zt", "nft", "list", "table", "bridge", "bdl_fault").stdout
    assert re.search(r"tcp dport 179 counter packets [1-9]", nft), nft
    assert "Established" not in birdc(lab, "router-mine", "show", "protocols", "router_home")
    # ICMP between the same two addresses passes
    assert sh(lab, "router-mine", "ping", "-c", "1", "-W", "2", "192.168.191.10").returncode == 0


def test_fault_rp_filter_strict(lab: Lab) -> None:
    up_fault(lab, "rp-filter-strict")
    assert "via 10.255.255.1 dev bk0" in sh(lab, "router-home", "ip", "route", "show", "10.42.0.0/24").stdout
    assert "100% packet loss" in ping(lab, "sakamoto", "10.42.3.1", "-I", "10.42.0.1").stdout
    assert counter(lab, "router-home", "TcpExt", "IPReversePathFilter") > 0


def test_fault_mtu_blackhole(lab: Lab) -> None:
    up_fault(lab, "mtu-blackhole")
    assert ping(lab, "sakamoto", "192.168.0.81", "-M", "do", "-s", "1352").returncode == 0
    big = ping(lab, "sakamoto", "192.168.0.81", "-M", "do", "-s", "1392")
    assert "100% packet loss" in big.stdout
    assert "Frag needed" not in big.stdout  # silent: no ICMP comes back


def test_fault_podcidr_not_advertised(lab: Lab) -> None:
    up_fault(lab, "podcidr-not-advertised")
    rib = sh(
        lab, "yuuko-k8s", "gobgp", "-u", "127.0.0.1", "-p", "50051", "global", "rib", "-a", "ipv4"
    ).stdout
    assert "10.42.3.0/24" not in rib
    assert "Network not found" in birdc(lab, "router-mine", "show", "route", "for", "10.42.3.0/24")
    assert sh(lab, "router-mine", "ip", "route", "get", "10.42.3.1").returncode != 0
    assert all(ln.split()[5] == "Established" for ln in bgp_lines(lab, "router-home").values())


def test_fault_kubelet_unreachable(lab: Lab) -> None:
    up_fault(lab, "kubelet-unreachable")
    assert tls(lab, "192.168.0.81").returncode != 0
    assert ping(lab, "metrics-server", "192.168.0.81").returncode == 0
    assert tls(lab, "192.168.6.80").returncode == 0


def gobgp_json(lab: Lab, node: str, addr: str) -> dict[str, Any]:
    out = sh(lab, node, "gobgp", "-u", "127.0.0.1", "-p", "50051", "neighbor", addr, "-j").stdout
    data: dict[str, Any] = json.loads(out)
    return data


def test_fault_asn_mismatch(lab: Lab) -> None:
    up_fault(lab, "asn-mismatch")
    out = birdc(lab, "router-home", "show", "protocols", "all", "yuuko_k8s")
    assert "BGP Error: Bad peer AS" in out and "Neighbor AS:      64516" in out, out
    assert "Error: Bad peer AS: 64514" in (lab.run_dir / "router-home" / "bird.log").read_text()
    nb = gobgp_json(lab, "yuuko-k8s", "192.168.0.1")
    assert nb["state"]["session_state"] != 6 and nb["state"]["messages"]["received"]["notification"] > 0


def test_fault_router_id_conflict(lab: Lab) -> None:
    up_fault(lab, "router-id-conflict")
    out = birdc(lab, "router-home", "show", "protocols", "all", "yuuko_k8s")
    assert "BGP Error: Bad BGP identifier" in out and "Local AS:         64514" in out, out
    assert 'router-id = "192.168.191.10"' in (lab.run_dir / "yuuko-k8s" / "gobgpd.toml").read_text()
    log = (lab.run_dir / "yuuko-k8s" / "gobgpd.log").read_text()
    assert "bad BGP identifier 192.168.191.10" in log  # GoBGP rejects router-home's OPEN too


def test_fault_md5_mismatch(lab: Lab) -> None:
    from bgpdoctor.lab.faults import md5_secret
    from bgpdoctor.lab.state import load_state

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cp = subprocess.run(
        [
            sys.executable,
            "-m",
            "bgpdoctor.lab.cli",
            "up",
            "--dir",
            str(lab.run_dir),
            "--fault",
            "md5-mismatch",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert cp.returncode == 0, cp.stderr
    secret = md5_secret(lab.lab_settings())
    secret_file = lab.run_dir / "router-home" / "md5.secret"
    assert secret_file.stat().st_mode & 0o077 == 0
    # the password lives in bird.conf and its own file, nowhere else the lab writes or prints
    assert secret not in cp.stdout + cp.stderr
    holders = {
        p.name for p in lab.run_dir.rglob("*") if p.is_file() and secret in p.read_text(errors="replace")
    }
    assert holders == {"bird.conf", "md5.secret"}, holders
    st = load_state(lab.run_dir / "state.json")
    assert st is not None and st.faults == ["md5-mismatch"]
    assert counter(lab, "router-home", "TcpExt", "TCPMD5NotFound") > 0
    assert bgp_lines(lab, "router-home")["yuuko_k8s"].split()[5] != "Established"
    assert gobgp_json(lab, "yuuko-k8s", "192.168.0.1")["state"]["session_state"] != 6


def test_fault_bgp_port_filtered(lab: Lab) -> None:
    up_fault(lab, "bgp-port-filtered")
    nft = sh(lab, "router-mine", "nft", "list", "chain", "inet", "bdl_fault", "input").stdout
    assert re.search(r"ip saddr 192.168.0.81 tcp dport 179 counter packets [1-9]\d* .* drop", nft), nft
    assert bgp_lines(lab, "router-mine")["yuuko_k8s"].split()[5] != "Established"
    assert gobgp_json(lab, "yuuko-k8s", "192.168.6.1")["state"]["session_state"] != 6
    for _ in range(20):  # the next connect attempt sits in SYN-SENT: no answer at all
        if "SYN-SENT" in sh(lab, "yuuko-k8s", "ss", "-Htn", "dst 192.168.6.1 and dport = :179").stdout:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("no SYN-SENT towards 192.168.6.1:179")


def test_fault_peer_not_configured(lab: Lab) -> None:
    up_fault(lab, "peer-not-configured")
    assert set(bgp_lines(lab, "router-home")) == {"router_mine"}
    log = (lab.run_dir / "router-home" / "bird.log").read_text()
    assert "Unexpected connect from unknown address 192.168.0.81" in log
    assert gobgp_json(lab, "yuuko-k8s", "192.168.0.1")["state"]["session_state"] != 6
    assert sh(lab, "router-home", "ip", "route", "get", "10.42.3.1").returncode != 0


def test_fault_speaker_down(lab: Lab) -> None:
    up_fault(lab, "speaker-down")
    cp = sh(lab, "router-home", "birdc", "-s", sock(lab, "router-home"), "show", "status")
    assert cp.returncode != 0 and "Unable to connect to server control socket" in cp.stdout + cp.stderr
    assert sh(lab, "router-home", "ss", "-Htln", "sport = :179").stdout.strip() == ""
    assert "Connection refused" in bgp_lines(lab, "router-mine")["router_home"]


def test_fault_bird_kernel_export_none(lab: Lab) -> None:
    up_fault(lab, "bird-kernel-export-none")
    assert "10.42.0.0/24" in birdc(lab, "router-home", "show", "route", "for", "10.42.0.0/24")
    assert sh(lab, "router-home", "ip", "route", "show", "proto", "bird").stdout.strip() == ""
    k = birdc(lab, "router-home", "show", "protocols", "all", "kernel1")
    assert "Output filter:  REJECT" in k and "0 exported" in k, k
    assert all(ln.split()[5] == "Established" for ln in bgp_lines(lab, "router-home").values())


def test_fault_bird_ebgp_no_policy(lab: Lab) -> None:
    up_fault(lab, "bird-ebgp-no-policy")
    conf = lab.run_dir / "router-home" / "bird.conf"
    parse = subprocess.run(["bird", "-p", "-c", str(conf)], capture_output=True, text=True)
    assert parse.returncode != 0 and "EBGP requires explicit import policy" in parse.stderr
    cp = sh(lab, "router-home", "birdc", "-s", sock(lab, "router-home"), "configure")
    assert cp.returncode != 0 and "EBGP requires explicit import policy" in cp.stdout, cp.stdout
    assert all(ln.split()[5] == "Established" for ln in bgp_lines(lab, "router-home").values())  # old config


def test_fault_port_179_conflict(lab: Lab) -> None:
    up_fault(lab, "port-179-conflict")
    owners = sh(lab, "router-home", "ss", "-Htlnp", "sport = :179").stdout
    assert '"gobgpd"' in owners and '"bird"' not in owners, owners
    lines = bgp_lines(lab, "router-home")
    assert all("Error: No listening socket" in ln for ln in lines.values()), lines
    log = (lab.run_dir / "router-home" / "bird.log").read_text()
    assert "yuuko_k8s: Socket error: bind: Address already in use" in log


@pytest.mark.skipif(shutil.which("wireguard-go") is None, reason="wireguard-go not installed")
def test_fault_tunnel_drops_pod_cidr(lab: Lab) -> None:
    from bgpdoctor.lab.faults import wg_ifname

    up_fault(lab, "tunnel-drops-pod-cidr")
    wg = wg_ifname(lab.lab_settings(), "router-mine")
    allowed = sh(lab, "router-mine", "wg", "show", wg, "allowed-ips").stdout
    assert "192.168.0.0/24" in allowed and "10.42.3.0/24" not in allowed, allowed
    assert f"dev {wg}" in sh(lab, "router-mine", "ip", "route", "get", "10.42.3.1").stdout
    assert ping(lab, "router-mine", "10.254.42.2").returncode == 0  # the tunnel itself works
    assert "100% packet loss" in ping(lab, "sakamoto", "10.42.3.1", "-I", "10.42.0.1").stdout
    assert "private key: (hidden)" in sh(lab, "router-mine", "wg", "show", wg).stdout


def test_fault_ibgp_no_route_reflection(lab: Lab) -> None:
    up_fault(lab, "ibgp-no-route-reflection")
    session = birdc(lab, "gateway", "show", "protocols", "all", "k3s_master_v4")
    assert "Session:          internal" in session and "route-reflector" not in session, session
    assert "10.42.64.64/26" not in sh(lab, "kubemaster", "ip", "route").stdout
    assert "10.42.64.64/26" in sh(lab, "gateway", "ip", "route").stdout
    # the pods still reach each other, on a detour through the gateway (the nodes' default route)
    assert ping(lab, "kubemaster", "10.42.64.66", "-I", "10.42.141.9").returncode == 0


def test_fault_bgp_next_hop_unreachable(lab: Lab) -> None:
    up_fault(lab, "bgp-next-hop-unreachable")
    out = birdc(lab, "cn-ns", "show", "route", "all")
    assert re.search(r"10\.42\.141\.0/26\s+unreachable", out) and "BGP.next_hop: 192.168.100.251" in out, out
    assert "unreachable 10.42.141.0/26 proto bird" in sh(lab, "cn-ns", "ip", "route").stdout
    assert ping(lab, "cn-ns", "10.42.141.9").returncode != 0


def test_fault_ecmp_single_path(lab: Lab) -> None:
    up_fault(lab, "ecmp-single-path")
    paths = tor_paths(lab, "10.0.6.1/32")
    assert [p["aspath"]["string"] for p in paths] == ["65001", "65001"], paths
    assert [bool(p.get("multipath")) for p in paths].count(True) == 0, paths  # maximum-paths 1
    vip = sh(lab, "tor", "ip", "route", "show", "10.0.6.1").stdout
    assert "nexthop" not in vip and "proto bgp" in vip, vip


def test_fault_connected_route_shadows_bgp(lab: Lab) -> None:
    up_fault(lab, "connected-route-shadows-bgp")
    assert "dev vlanif6" in sh(lab, "tor", "ip", "route", "get", "10.0.6.1").stdout
    assert [p["aspath"]["string"] for p in tor_paths(lab, "10.0.6.0/24")] == ["65001", "65001"]
    assert "100% packet loss" in ping(lab, "tor", "10.0.6.1").stdout


def test_fault_frr_ebgp_requires_policy(lab: Lab) -> None:
    """RFC 8212 on FRR: the sessions come up, yet the VIP both nodes announce is discarded."""
    up_fault(lab, "frr-ebgp-requires-policy")
    neighbors = vtysh_json(lab, "show bgp neighbors json")
    for address in ("10.0.4.109", "10.0.4.110"):
        assert neighbors[address]["bgpState"] == "Established"
        family = neighbors[address]["addressFamilyInfo"]["ipv4Unicast"]
        assert family["inboundEbgpRequiresPolicy"] == "Inbound updates discarded due to missing policy"
        assert family["outboundEbgpRequiresPolicy"] == "Outbound updates discarded due to missing policy"
    assert tor_paths(lab, "10.0.6.1/32") == []
    assert sh(lab, "tor", "ip", "route", "show", "10.0.6.1").stdout.strip() == ""


def test_up_heals_to_baseline(lab: Lab) -> None:
    from bgpdoctor.lab import lab_health, lab_up
    from bgpdoctor.lab.frr import lab_frr_dir
    from bgpdoctor.lab.state import load_state

    info = lab_up(lab.run_dir)
    assert info.faults == [] and lab_health(lab.run_dir) == []
    assert sh(lab, "yuuko-k8s", "nft", "list", "tables").stdout.strip() == ""
    st = load_state(lab.run_dir / "state.json")
    assert st is not None and not [k for k in st.procs if k.startswith("fault:")]
    assert '"bird"' in sh(lab, "router-home", "ss", "-Htlnp", "sport = :179").stdout
    assert (
        subprocess.run(["bird", "-p", "-c", str(lab.run_dir / "router-home" / "bird.conf")]).returncode == 0
    )
    assert (
        "maximum-paths"
        not in sh(
            lab,
            "tor",
            "vtysh",
            "--vty_socket",
            str(lab_frr_dir(lab.lab_settings().ns("tor"))),
            "-c",
            "show running-config",
        ).stdout
    )


# ---- teardown (keep last) --------------------------------------------------------------------
def test_down_leaves_nothing(lab: Lab) -> None:
    from pyroute2 import IPRoute, netns

    from bgpdoctor.lab import lab_down
    from bgpdoctor.lab.frr import lab_frr_dir
    from bgpdoctor.lab.procs import proc_alive
    from bgpdoctor.lab.state import load_state

    st = load_state(lab.run_dir / "state.json")
    assert st is not None
    t0 = time.monotonic()
    lab_down(lab.run_dir)
    assert time.monotonic() - t0 < 10
    assert not [n for n in netns.listnetns() if n.startswith(PREFIX)]
    with IPRoute() as ipr:
        assert not [lk.get("ifname") for lk in ipr.get_links() if str(lk.get("ifname")).startswith(PREFIX)]
    assert not [k for k, rec in st.procs.items() if proc_alive(rec)]
    assert not lab_frr_dir(f"{PREFIX}tor").parent.exists()  # FRR's files (outside the run dir) are gone
    assert lab_down(lab.run_dir) == []  # idempotent


def test_lab_cli_exit_codes_without_a_lab(tmp_path: Path) -> None:
    """`lab status` with no lab is "could not check" (3), an unknown host is a usage error (2)."""
    from click.testing import CliRunner

    from bgpdoctor.lab.cli import lab as lab_group

    status = CliRunner().invoke(lab_group, ["status", "--dir", str(tmp_path / "none")])
    assert status.exit_code == 3 and "no lab in" in status.output
    bad = CliRunner().invoke(lab_group, ["exec", "no-such-host", "true"])
    assert bad.exit_code == 2 and "unknown lab host 'no-such-host'" in bad.output
