"""`bgpdoctor run` against the dual-stack lab (`lab up --dual-stack`), as a user runs it over SSH.

The seed-001 site gets IPv6 beside IPv4: ULA LANs and overlay, an IPv6 pod CIDR per node and a
second, IPv6 BGP session per node and between the routers. The healthy lab must be clean with the
IPv6 sessions Established; then each dual-stack fault is made, run, named with its culprit host,
and undone (`lab up --dual-stack` heals to baseline).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.labcli import LabCli

pytestmark = [pytest.mark.lab, pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")]

PREFIX = os.environ.get("BGPDOCTOR_TEST_DUAL_STACK_PREFIX", "bfb-")
MGMT_NET = os.environ.get("BGPDOCTOR_TEST_DUAL_STACK_MGMT_NET", "172.31.241.0/24")

bgpdoctor = LabCli(PREFIX, MGMT_NET)
IPV6_SESSIONS = (
    "router-mine<->sakamoto/ipv6",
    "router-home<->yuuko-k8s/ipv6",
    "router-mine<->router-home/ipv6",
)


def lab_up(run_dir: Path, *args: str) -> Path:
    proc = bgpdoctor(run_dir, "lab", "up", "--dual-stack", *args, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return Path(proc.stdout.strip().splitlines()[-1].removeprefix("inventory: ").strip())


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    run_dir = tmp_path_factory.mktemp("dualstack")
    try:
        yield lab_up(run_dir)
    finally:
        down = bgpdoctor(run_dir, "lab", "down", timeout=120)
        assert down.returncode == 0, down.stderr[-2000:]


def run_json(inventory: Path) -> tuple[int, dict[str, Any]]:
    proc = bgpdoctor(
        inventory.parent,
        "run",
        "--inventory",
        str(inventory),
        "--output",
        "json",
        "--capture-seconds",
        "14",
    )
    assert proc.returncode in (0, 1, 3), proc.stderr[-3000:]
    return proc.returncode, json.loads(proc.stdout)


def status(report: dict[str, Any], check: str, subject: str) -> str:
    return next(r["status"] for r in report["results"] if r["check"] == check and r["host"] == subject)


def test_the_healthy_dual_stack_lab_is_clean_with_its_ipv6_sessions_established(lab: Path) -> None:
    inventory = lab.read_text()
    assert "fd00:10:42:3::/64" in inventory and "yuuko_k8s_v6" in inventory
    code, report = run_json(lab)
    assert report["diagnoses"] == []
    not_passing = [
        (r["check"], r["host"], r["reason"])
        for r in report["results"]
        if r["status"] in ("fail", "warn", "error", "unknown")
    ]
    assert not_passing == []
    assert code == 0
    for subject in IPV6_SESSIONS:
        assert status(report, "bgp-session-established", subject) == "pass", subject
    assert status(report, "bgp-session-established", "router-home<->yuuko-k8s") == "pass"
    assert status(report, "podcidr-advertised", "yuuko-k8s") == "pass"  # fd00:10:42:3::/64 included


def test_a_dual_stack_fault_needs_the_dual_stack_lab(lab: Path) -> None:
    proc = bgpdoctor(lab.parent, "lab", "up", "--fault", "ipv6-nd-dropped", timeout=60)
    assert proc.returncode != 0
    assert "ipv6-nd-dropped needs the dual-stack lab" in proc.stderr


# fault -> (root cause, culprit host, a check that fails on a subject, text of the top summary,
#           a check that passes on a subject: the IPv4 half of the same site or path, untouched)
FAULTS: dict[str, tuple[str, str, str, str, str]] = {
    "ipv6-forward-disabled": (
        "ip-forward-disabled",
        "router-home",
        "ipv6-forwarding@router-home",
        "net.ipv6.conf.all.forwarding is 0 on router-home",
        "pod-ping@yuuko-k8s->sakamoto",
    ),
    "ipv6-node-not-listening": (
        "node-not-listening",
        "yuuko-k8s",
        "bgp-accepting-end-listens@router-home<->yuuko-k8s/ipv6",
        "router-home connects to fd00:192:168::81:179",
        "bgp-session-established@router-home<->yuuko-k8s",
    ),
    # found by the `ping -6 -M do` sweep: IPv4's frag-needed still passes on this path
    "ipv6-mtu-blackhole": (
        "mtu-blackhole",
        "router-mine",
        "path-mtu@sakamoto->yuuko-k8s/ipv6",
        "packets up to 1380 bytes get through",
        "path-mtu@sakamoto->yuuko-k8s",
    ),
    "ipv6-nd-dropped": (
        "ipv6-link-local",
        "yuuko-k8s",
        "bgp-ipv6-neighbor-discovery@router-home<->yuuko-k8s/ipv6",
        "yuuko-k8s drops ICMPv6 Neighbor Discovery",
        "bgp-session-established@router-home<->yuuko-k8s",
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_an_ipv6_fault_is_named_with_its_culprit(lab: Path, fault: str) -> None:
    cause, culprit, failing, summary, passing = FAULTS[fault]
    lab_up(lab.parent, "--fault", fault)
    try:
        code, report = run_json(lab)
    finally:
        lab_up(lab.parent)
    assert code == 1
    top = report["diagnoses"][0]
    assert top["root_cause"] == cause, [d["root_cause"] for d in report["diagnoses"]]
    assert culprit in top["hosts"]
    assert summary in top["summary"]
    fails = {f"{r['check']}@{r['host']}" for r in report["results"] if r["status"] == "fail"}
    assert failing in fails
    check, subject = passing.split("@")
    assert status(report, check, subject) == "pass"
