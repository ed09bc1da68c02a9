"""`bgpdoctor run` as a user runs it (the CLI, over real SSH) against the real namespace lab.

The lab is brought up once healthy, then each fault is injected in turn (the lab heals itself to
baseline before applying a fault). Every case asserts the failing check, the top diagnosis and
that the fix snippets carry the lab's real values.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.labcli import LabCli, running_lab

pytestmark = [pytest.mark.lab, pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")]

PREFIX = os.environ.get("BGPDOCTOR_TEST_LAB_PREFIX", "bdr-")
MGMT_NET = os.environ.get("BGPDOCTOR_TEST_LAB_MGMT_NET", "172.31.252.0/24")


bgpdoctor = LabCli(PREFIX, MGMT_NET)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with running_lab(bgpdoctor, tmp_path_factory.mktemp("runlab")) as inventory:
        yield inventory


def run_json(inventory: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    proc = bgpdoctor(
        inventory.parent,
        "run",
        "--inventory",
        str(inventory),
        "--output",
        "json",
        "--capture-seconds",
        "14",
        *extra,
    )
    assert proc.returncode in (0, 1, 3), proc.stderr[-3000:]
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def inject(inventory: Path, fault: str | None) -> None:
    args = ["lab", "up"] + (["--fault", fault] if fault else [])
    proc = bgpdoctor(inventory.parent, *args, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]


def failing(report: dict[str, Any]) -> set[str]:
    return {f"{r['check']}@{r['host']}" for r in report["results"] if r["status"] == "fail"}


def test_healthy_lab_has_zero_findings(lab: Path) -> None:
    """Also with the kernel's drops traced: no probe packet is dropped, so nothing is proven."""
    inject(lab, None)
    code, report, stderr = run_json(lab, "--trace-drops")
    assert "Proof:" not in json.dumps(report)
    assert report["diagnoses"] == [], report["diagnoses"]
    assert failing(report) == set()
    assert [r for r in report["results"] if r["status"] == "error"] == []
    assert code == 0, stderr[-2000:]
    assert report["schema_version"] == "1.1"
    unknown = [(r["check"], r["host"], r["reason"]) for r in report["results"] if r["status"] == "unknown"]
    assert unknown == [], unknown  # healthy is said only about what was seen: everything was
    segments = [r for r in report["results"] if r["check"] == "path-mtu" and " bgp " in r["host"]]
    assert segments and all(r["status"] == "pass" for r in segments), segments
    assert {h["name"] for h in report["hosts"]} == ALL_HOSTS
    statuses = {(r["check"], r["host"]): r["status"] for r in report["results"]}
    assert statuses[("bgp-session-established", "router-mine<->yuuko-k8s")] == "pass"
    assert statuses[("kubelet-reachable", "metrics-server->yuuko-k8s:10250")] == "pass"
    mtu = next(
        r for r in report["results"] if r["check"] == "path-mtu" and r["host"] == "sakamoto->yuuko-k8s"
    )
    assert mtu["status"] == "pass"
    assert report["timing"]["mtu_probes"] >= 2


ALL_HOSTS = {
    "router-mine",
    "router-home",
    "sakamoto",
    "yuuko-k8s",
    "metrics-server",
    "gateway",  # seed 002: Calico site
    "cn-ns",
    "kubemaster",
    "kubenode-wds1",
    "tor",  # seed 003: LoadBalancer VIPs to a switch
    "master-01",
    "node-01",
}
# faults of the seed-002/003 sites are diagnosed with --node on their own nodes (default: yuuko-k8s)
FOCUS: dict[str, list[str]] = {
    "ibgp-no-route-reflection": ["kubemaster", "kubenode-wds1"],
    "bgp-next-hop-unreachable": ["kubemaster"],
    "ecmp-single-path": ["master-01"],
    "connected-route-shadows-bgp": ["master-01"],
    "frr-ebgp-requires-policy": ["master-01"],
}

# fault -> (top root cause, a check that must fail on a subject, values the fixes must carry)
FAULTS: dict[str, tuple[str, str, list[str]]] = {
    "node-not-listening": (
        "node-not-listening",
        "bgp-accepting-end-listens@router-home<->yuuko-k8s",
        ["192.168.0.81", "passive on", "64514"],
    ),
    # both ends wait: router-home's BIRD `passive on`, yuuko-k8s's GoBGP `passive-mode`
    "neither-end-connects": (
        "neither-end-connects",
        "bgp-session-established@router-home<->yuuko-k8s",
        ["passive-mode = false", "192.168.0.1"],
    ),
    "nat-rewrites-bgp-source": (
        "nat-rewrites-bgp-source",
        "bgp-session-established@router-mine<->yuuko-k8s",
        ["192.168.6.1", "zt0"],
    ),
    "unexpected-source-address": (
        "unexpected-source-address",
        "bgp-source-address@router-mine<->yuuko-k8s",
        ["192.168.191.81", "192.168.0.81"],
    ),
    "ebgp-multihop-missing": (
        "ebgp-multihop-missing",
        "ebgp-multihop@router-mine<->yuuko-k8s",
        ["ebgpMultihop", "192.168.6.1"],
    ),
    "firewall-blocks-pod-cidr": (
        "firewall-blocks-pod-cidr",
        "pod-ping@sakamoto->yuuko-k8s",
        ["10.42.0.0/16"],
    ),
    "ip-forward-disabled": ("ip-forward-disabled", "ip-forward@router-home", ["net.ipv4.ip_forward=1"]),
    # dropped on the overlay switch, which is not in the inventory: found from the wire alone
    "bgp-filtered-unseen": ("bgp-filtered-unseen", "pod-ping@sakamoto->yuuko-k8s", ["192.168.191.", "179"]),
    "rp-filter-strict": ("rp-filter-strict", "rp-filter@sakamoto->yuuko-k8s", ["zt0", "rp_filter=2"]),
    "mtu-blackhole": ("mtu-blackhole", "path-mtu@sakamoto->yuuko-k8s", ["1380"]),
    "podcidr-not-advertised": (
        "podcidr-not-advertised",
        "podcidr-advertised@yuuko-k8s",
        ["10.42.3.0/24", "PodCIDR"],
    ),
    "kubelet-unreachable": (
        "kubelet-unreachable",
        "kubelet-reachable@metrics-server->yuuko-k8s:10250",
        ["10250"],
    ),
    "asn-mismatch": (
        "asn-mismatch",
        "bgp-asn-match@router-home<->yuuko-k8s",
        ["neighbor 192.168.0.81 as 64514"],
    ),
    "router-id-conflict": (
        "router-id-conflict",
        "bgp-router-id-unique@router-home<->yuuko-k8s",
        ['router-id = "192.168.0.81"'],
    ),
    "md5-mismatch": ("md5-mismatch", "bgp-md5@router-home<->yuuko-k8s", ["password"]),
    "bgp-port-filtered": (
        "bgp-port-filtered",
        "bgp-port-open@router-mine<->yuuko-k8s",
        ["ip saddr 192.168.0.81 tcp dport 179 accept"],
    ),
    "peer-not-configured": (
        "peer-not-configured",
        "bgp-peer-configured@router-home<->yuuko-k8s",
        ["neighbor 192.168.0.81 as 64514"],
    ),
    "speaker-down": ("speaker-down", "bgp-speaker-answers@router-home", ["bird -p -c"]),
    "bird-kernel-export-none": (
        "bird-kernel-export-none",
        "bird-rib-in-fib@router-home",
        ["export where source = RTS_BGP"],
    ),
    "bird-ebgp-no-policy": ("bird-ebgp-no-policy", "bird-config-parses@router-home", ["import all"]),
    "port-179-conflict": ("port-179-conflict", "bgp-port-single-owner@router-home", ["local port 1790"]),
    "tunnel-drops-pod-cidr": (
        "tunnel-drops-pod-cidr",
        "pod-ping@sakamoto->yuuko-k8s",
        ["10.42.3.0/24", "wg set"],
    ),
    "ibgp-no-route-reflection": (
        "ibgp-no-route-reflection",
        "pod-route-learned@kubemaster->kubenode-wds1",
        ["rr client", "k3s_master_v4", "nodeToNodeMeshEnabled"],
    ),
    "bgp-next-hop-unreachable": (
        "bgp-next-hop-unreachable",
        "bgp-next-hop-resolvable@cn-ns",
        ["next hop self", "protocol bgp k3s_backbone_cn_v4 on gateway"],
    ),
    "ecmp-single-path": (
        "ecmp-single-path",
        "bgp-ecmp-installed@tor",
        ["router bgp 65000", "maximum-paths 64"],
    ),
    "connected-route-shadows-bgp": (
        "connected-route-shadows-bgp",
        "bgp-route-not-shadowed@tor",
        ["ip addr del 10.0.6.254/24 dev vlanif6", "10.0.6.0/24"],
    ),
    # tor runs FRR: RFC 8212 discards the VIP of both nodes, sessions up
    "frr-ebgp-requires-policy": (
        "bird-ebgp-no-policy",
        "ebgp-policy-present@tor",
        ["router bgp 65000", "neighbor 10.0.4.109 route-map BGPDOCTOR-IN in"],
    ),
}


# -- proof from the kernel (run --trace-drops): the reason, from the host that dropped the packet ----
# fault -> (the host whose kernel dropped the probe packets, the reason it gave)
DROP_PROOF = {
    "rp-filter-strict": ("router-home", "IP_RPFILTER"),
    "md5-mismatch": ("router-home", "TCP_MD5NOTFOUND"),
    "bgp-port-filtered": ("router-mine", "NETFILTER_DROP"),
    "firewall-blocks-pod-cidr": ("router-mine", "NETFILTER_DROP"),
    "kubelet-unreachable": ("yuuko-k8s", "NETFILTER_DROP"),
    # forwarding off: ip_route_input fails with EHOSTUNREACH, ip_error drops it as IP_INADDRERRORS
    "ip-forward-disabled": ("router-home", "IP_INADDRERRORS"),
    # the router cannot forward 1420 bytes into its 1380 zt0, and its frag-needed is dropped by nft
    "mtu-blackhole": ("router-mine", "PKT_TOO_BIG"),
    "node-not-listening": ("yuuko-k8s", "NO_SOCKET"),
    # TTL 1 expires at the first router: ip_forward's "too many hops" is IP_INHDR (not TCP_MINTTL,
    # which is TTL security on the receiving socket)
    "ebgp-multihop-missing": ("router-home", "IP_INHDR"),
    # the SYNs to 179 find no socket
    "speaker-down": ("router-home", "NO_SOCKET"),
}
# NETFILTER_DROP names the rule whose counter rose while the probes ran (the lab's rules count)
NFT_RULES = {
    "bgp-port-filtered": 'comment "fault: bgp from yuuko-k8s filtered"',
    "firewall-blocks-pod-cidr": 'comment "zone forward reject"',  # the accepts are gone: it falls through
    "kubelet-unreachable": 'comment "fault: kubelet only from LAN"',
    "mtu-blackhole": 'comment "fault: pmtu"',  # the router's frag-needed, dropped on its way out
}
# faults whose packets no traced kernel drops with a reason that proves them, and why
NO_PROOF = {
    # the `zt` switch drops TCP 179: it is not in the inventory, so nobody traces it
    "bgp-filtered-unseen": "the drop is outside the inventory",
    # wireguard-go (userspace) discards what its allowed-ips lack: the kernel hands it over fine
    "tunnel-drops-pod-cidr": "dropped in userspace",
    # router-mine's kernel accepts the connection; BIRD closes it (unknown source address)
    "unexpected-source-address": "rejected in userspace",
    # gobgpd accepts the peers' connections; router-home's IP_INNOROUTES for the withdrawn pod routes
    # is a consequence, not proof of the port conflict
    "port-179-conflict": "accepted by the wrong daemon",
}


def focus(fault: str) -> list[str]:
    return [arg for node in FOCUS.get(fault, ["yuuko-k8s"]) for arg in ("--node", node)]


# faults with a case of their own below
OWN_CASE = {"neither-end-connects"}


@pytest.mark.parametrize(
    "fault", [f for f in FAULTS if f not in DROP_PROOF and f not in NO_PROOF and f not in OWN_CASE]
)
def test_fault_is_diagnosed(lab: Path, fault: str) -> None:
    inject(lab, fault)
    code, report, stderr = run_json(lab, *focus(fault))
    assert_diagnosed(fault, code, report, stderr)


def test_both_ends_passive_is_neither_end_connects_not_node_not_listening(lab: Path) -> None:
    """router-home's BIRD waits for yuuko-k8s and yuuko-k8s's GoBGP waits for router-home: the run
    names the session's two ends from what each daemon shows (BIRD's Passive, GoBGP's passive_mode)
    and the empty SYN captures, and does not take it for an end that does not listen."""
    inject(lab, "neither-end-connects")
    code, report, stderr = run_json(lab, *focus("neither-end-connects"))
    assert_diagnosed("neither-end-connects", code, report, stderr)
    top = report["diagnoses"][0]
    assert top["hosts"] == ["router-home", "yuuko-k8s"]
    assert top["summary"].startswith("router-home and yuuko-k8s are both set to wait for the other")
    shown = {
        (e["host"], e["command"].split()[0])
        for e in top["evidence"]
        if "BGP state:          Passive" in e["output"] or '"passive_mode": true' in e["output"]
    }
    assert shown == {("router-home", "birdc"), ("yuuko-k8s", "gobgp")}, top["evidence"]
    assert sum("(no BGP SYN seen during the capture)" in e["output"] for e in top["evidence"]) == 2
    assert "node-not-listening" not in [d["root_cause"] for d in report["diagnoses"]]


def assert_diagnosed(fault: str, code: int, report: dict[str, Any], stderr: str) -> None:
    """The fault's check fails, its root cause comes first with evidence and fixes that carry the
    lab's real values, and what it explains is grouped under it."""
    top, check, values = FAULTS[fault]
    assert code == 1, stderr[-2000:]
    assert check in failing(report), sorted(failing(report))
    diagnoses = report["diagnoses"]
    assert diagnoses, "no diagnosis"
    assert diagnoses[0]["root_cause"] == top, [d["root_cause"] for d in diagnoses]
    fixes = "\n".join(f["text"] + f["title"] for f in diagnoses[0]["fixes"])
    for value in values:
        assert value in fixes, (value, fixes)
    assert not [f for f in diagnoses[0]["fixes"] if "is undefined" in f["text"]]  # every value rendered
    assert diagnoses[0]["evidence"], "a diagnosis must show its evidence"
    # failures the top cause explains are grouped under it, not left as a pile of findings
    unexplained = [r for r in report["results"] if r["status"] == "fail" and r["explained_by"] is None]
    assert len(unexplained) <= 1, unexplained


def test_one_fault_does_not_hide_another(lab: Path) -> None:
    """Forwarding off on router-home stops all pod traffic; the MTU black hole on the overlay
    segment is still found, by the sweep across that BGP session's own segment."""
    inject_many(lab, ["ip-forward-disabled", "mtu-blackhole"])
    code, report, stderr = run_json(lab, "--node", "yuuko-k8s")
    assert code == 1, stderr[-2000:]
    causes = [d["root_cause"] for d in report["diagnoses"]]
    assert causes[:2] == ["ip-forward-disabled", "mtu-blackhole"], causes
    mtu = next(d for d in report["diagnoses"] if d["root_cause"] == "mtu-blackhole")
    assert "1380" in mtu["summary"] and "router-home" in mtu["hosts"]


def inject_many(inventory: Path, faults: list[str]) -> None:
    proc = bgpdoctor(inventory.parent, "lab", "up", *[a for f in faults for a in ("--fault", f)], timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_unreachable_host_is_a_result_not_a_crash(lab: Path, tmp_path: Path) -> None:
    inject(lab, None)
    data = yaml.safe_load(lab.read_text())
    data["hosts"]["router-home"]["connect"]["ssh"]["port"] = 2222  # nothing listens there
    broken = tmp_path / "inventory.yaml"
    broken.write_text(yaml.safe_dump(data))
    proc = bgpdoctor(lab.parent, "run", "-i", str(broken), "-o", "json", "--no-mtu", "--capture-seconds", "2")
    report = json.loads(proc.stdout)
    host = next(h for h in report["hosts"] if h["name"] == "router-home")
    assert host["reachable"] is False and host["error_kind"] == "unreachable"
    assert {h["name"] for h in report["hosts"] if h["reachable"]} == ALL_HOSTS - {"router-home"}
    assert proc.returncode in (1, 3)
    errors = [r for r in report["results"] if r["status"] == "error"]
    assert any(r["check"] == "host-reachable" and r["host"] == "router-home" for r in errors)


def test_unknown_host_key_is_rejected_by_default(lab: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(lab.read_text())
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    data["defaults"]["ssh"]["known_hosts"] = str(empty)
    for host in data["hosts"].values():
        ssh = host["connect"].get("ssh") or {}
        ssh.pop("known_hosts", None)
    inv = tmp_path / "inventory.yaml"
    inv.write_text(yaml.safe_dump(data))
    proc = bgpdoctor(lab.parent, "run", "-i", str(inv), "-o", "json", "--no-mtu", "--no-capture")
    assert proc.returncode == 3
    report = json.loads(proc.stdout)
    assert {h["error_kind"] for h in report["hosts"]} == {"hostkey"}
    assert "PRIVATE KEY" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("fault", sorted(DROP_PROOF))
def test_the_kernel_names_its_drop_reason_on_the_dropping_host(lab: Path, fault: str) -> None:
    host, reason = DROP_PROOF[fault]
    inject(lab, fault)
    code, report, stderr = run_json(lab, *focus(fault), "--trace-drops")
    assert_diagnosed(fault, code, report, stderr)
    top = report["diagnoses"][0]
    assert f"Proof: the kernel on {host} dropped " in top["summary"], top["summary"]
    proof = top["summary"].split("Proof:")[1]
    assert reason in proof, top["summary"]
    if fault in NFT_RULES:
        assert "NETFILTER_DROP at nft_do_chain (nft rule inet " in proof and NFT_RULES[fault] in proof, proof
    assert any(e["host"] == host and e["command"].endswith("skb:kfree_skb") for e in top["evidence"])


@pytest.mark.parametrize("fault", sorted(NO_PROOF))
def test_a_fault_no_traced_kernel_drops_is_diagnosed_without_proof(lab: Path, fault: str) -> None:
    inject(lab, fault)
    code, report, stderr = run_json(lab, *focus(fault), "--trace-drops")
    assert_diagnosed(fault, code, report, stderr)
    top = report["diagnoses"][0]
    assert "Proof:" not in top["summary"], (NO_PROOF[fault], top["summary"])


@pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux")
def test_the_tui_on_the_live_lab_shows_the_diagnosis(lab: Path) -> None:
    """The real program in a real terminal against the live lab: it collects, probes, and the root
    cause appears on the findings screen."""
    from tests.integration.test_tui_tmux import _tmux, _wait_for, kill_session

    inject(lab, "node-not-listening")
    session = f"bgpdoctor-tui-lab-{uuid.uuid4().hex[:8]}"
    env = [f"-e{k}={v}" for k, v in bgpdoctor.env(lab.parent).items() if k.startswith("BGPDOCTOR_")]
    # the pane stays after an early exit, so a failure shows what the program printed
    command = f"{sys.executable} -m bgpdoctor tui -i {lab} --no-mtu; echo exited $?; sleep 600"
    _tmux("new-session", "-d", "-s", session, "-x", "100", "-y", "30", "-c", str(lab.parent), *env, command)
    try:
        _wait_for(session, lambda s: "finding(s)" in s, seconds=120)
        _tmux("send-keys", "-t", session, "3")
        _wait_for(session, lambda s: "node-not-listening" in s, seconds=20)
    finally:
        kill_session(session)
