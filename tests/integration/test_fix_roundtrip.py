"""Fix round trip: for every lab fault, the fix bgpdoctor prints really repairs the lab.

Each case injects the fault, runs `bgpdoctor run` as a user would, pastes the report's fix snippet
into the lab with `bgpdoctor lab apply-fix` (BIRD/GoBGP configs merged and reloaded, FRR lines typed
into vtysh, nft/sysctl/ip/wg lines run on the host the fix names), waits for the lab's own health
checks (every BGP session Established, pods reachable) and runs `bgpdoctor run` again: exit 0, no
diagnosis, no failed check.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bgpdoctor.lab.faults import get_fault
from tests.integration.labcli import LabCli, running_lab

pytestmark = [pytest.mark.lab, pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")]

PREFIX = os.environ.get("BGPDOCTOR_TEST_FIX_LAB_PREFIX", "bdf-")
MGMT_NET = os.environ.get("BGPDOCTOR_TEST_FIX_LAB_MGMT_NET", "172.31.250.0/24")

# fault -> the platform(s) of the fixes the round trip pastes (those that fit the lab hosts they name).
# The MTU fault has two sides: router-mine drops its frag-needed (sakamoto -> yuuko-k8s) and the
# overlay members disagree on the MTU (yuuko-k8s -> sakamoto); the diagnosis prints a fix for each.
ROUND_TRIP: dict[str, str | tuple[str, ...]] = {
    "node-not-listening": "gobgp",
    "nat-rewrites-bgp-source": "nftables",
    "unexpected-source-address": "linux",
    "ebgp-multihop-missing": "gobgp",
    "firewall-blocks-pod-cidr": "nftables",
    "ip-forward-disabled": "sysctl",
    "rp-filter-strict": "sysctl",
    "mtu-blackhole": ("nftables", "linux"),
    "podcidr-not-advertised": "gobgp",
    "kubelet-unreachable": "nftables",
    "asn-mismatch": "bird2",
    "router-id-conflict": "gobgp",
    "md5-mismatch": "gobgp",
    "bgp-port-filtered": "nftables",
    "peer-not-configured": "bird2",
    "speaker-down": "linux",
    "bird-kernel-export-none": "bird2",
    "bird-ebgp-no-policy": "bird2",
    "port-179-conflict": "linux",
    "tunnel-drops-pod-cidr": "linux",
    "ibgp-no-route-reflection": "bird2",
    "bgp-next-hop-unreachable": "bird2",
    "ecmp-single-path": "frr",  # tor runs FRR: `maximum-paths` typed into vtysh
    "connected-route-shadows-bgp": "linux",
    "frr-ebgp-requires-policy": "frr",  # RFC 8212: route-maps in and out for the nodes
    "neither-end-connects": "gobgp",  # yuuko-k8s dials: passive-mode off in its neighbor config
}
# the nodes a user would name for the faults of the seed-002/003 sites (default: yuuko-k8s)
FOCUS: dict[str, list[str]] = {
    "ibgp-no-route-reflection": ["kubemaster", "kubenode-wds1"],
    "bgp-next-hop-unreachable": ["kubemaster"],
    "ecmp-single-path": ["master-01"],
    "connected-route-shadows-bgp": ["master-01"],
    "frr-ebgp-requires-policy": ["master-01"],
}


bgpdoctor = LabCli(PREFIX, MGMT_NET)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with running_lab(bgpdoctor, tmp_path_factory.mktemp("fixlab")) as inventory:
        yield inventory.parent


def run_report(run_dir: Path, report: Path, nodes: list[str]) -> tuple[int, dict[str, Any]]:
    proc = bgpdoctor(
        run_dir,
        "run",
        "--inventory",
        str(run_dir / "inventory.yaml"),
        "--output",
        "json",
        "--report",
        str(report),
        *[arg for node in nodes for arg in ("--node", node)],
    )
    assert proc.returncode in (0, 1, 3), proc.stderr[-3000:]
    return proc.returncode, json.loads(proc.stdout)


def wait_healthy(run_dir: Path, timeout: float = 90) -> list[str]:
    """The lab's own view (birdc/gobgp states, pings), independent of bgpdoctor's diagnosis."""
    from bgpdoctor.errors import BgpDoctorError
    from bgpdoctor.lab.api import lab_health

    deadline = time.monotonic() + timeout
    problems: list[str] = ["not checked"]
    while time.monotonic() < deadline:
        try:
            problems = lab_health(run_dir)  # the run dir's state.json names the lab's prefix
        except BgpDoctorError as exc:
            problems = [str(exc)]
        if not problems:
            return []
        time.sleep(2)
    return problems


@pytest.mark.parametrize("fault", sorted(ROUND_TRIP))
def test_fix_repairs_the_lab(lab: Path, fault: str, tmp_path: Path) -> None:
    up = bgpdoctor(lab, "lab", "up", "--fault", fault, timeout=240)
    assert up.returncode == 0, up.stderr[-3000:]
    report = tmp_path / "before.json"
    nodes = FOCUS.get(fault, ["yuuko-k8s"])
    code, before = run_report(lab, report, nodes)
    assert code == 1 and before["diagnoses"], "the fault is not diagnosed"
    assert before["diagnoses"][0]["root_cause"] == get_fault(fault).root_cause

    platforms = ROUND_TRIP[fault]
    for platform in (platforms,) if isinstance(platforms, str) else platforms:
        applied = bgpdoctor(lab, "lab", "apply-fix", str(report), "--platform", platform, timeout=120)
        assert applied.returncode == 0, applied.stderr[-2000:]
        assert "$BGP_MD5_PASSWORD" not in applied.stdout

    problems = wait_healthy(lab)
    assert problems == [], (problems, applied.stdout, bgpdoctor(lab, "lab", "status").stdout[-4000:])
    code, after = run_report(lab, tmp_path / "after.json", nodes)
    failed = [f"{r['check']}@{r['host']}: {r['reason']}" for r in after["results"] if r["status"] == "fail"]
    assert after["diagnoses"] == [] and failed == [], (applied.stdout, after["diagnoses"], failed)
    unknown = [(r["check"], r["reason"]) for r in after["results"] if r["status"] == "unknown"]
    # a limitation, said as unknown: the hosts behind a WireGuard tunnel are not traced, so whether
    # a reply crosses the same ones (path-stateful-asymmetry) is not known across it
    tunnel = [u for u in unknown if u[0] == "path-stateful-asymmetry" and "without a gateway" in u[1]]
    assert unknown == tunnel, unknown
    assert code == (3 if tunnel else 0)
