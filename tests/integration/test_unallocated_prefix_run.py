"""unallocated-prefix-advertised with a real GoBGP: the node announces a prefix its IPAM never gave it.

cilium#18852 (Cilium 1.11, cluster-pool): BGP announced the Node's spec.podCIDR 10.216.137.0/24
while the pool allocated the node 10.216.137.32/27 in its CiliumNode. Here gobgpd runs in a network
namespace of its own (prefix bfw-) with that /24 in its global RIB, put there the way an
originating speaker does (`gobgp global rib add`); the cluster (seed 001 with Cilium's
cluster-pool IPAM and sakamoto's CiliumNode) is served by the fake API server the unit tests use.
The node's facts are collected through bgpdoctor's own netns transport, so the RIB judged is
what that gobgpd printed. The healthy variant announces the allocated /27 and is clean.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bgpdoctor.engine.active import ActiveResults
from bgpdoctor.engine.collect import collect_host
from bgpdoctor.engine.run import Collected, RunOptions, evaluate
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.kube.discover import Discovery
from bgpdoctor.report.model import Report
from bgpdoctor.transport.factory import open_connection
from tests.integration.speakers import Lab, needs_gobgpd, needs_root, poll, speaker_lab
from tests.unit.kube.test_cluster_intent import TAKEN, of
from tests.unit.kube.test_ipam_announcements import cilium_node, discover, seed001_ipam

pytestmark = [needs_root, needs_gobgpd]
__all__ = ["discover"]  # the fake API server fixture, used by name

NODE = "sakamoto"
NODE_AS = 64512
ALLOCATED = "10.216.137.32/27"
NODE_SPEC_POD_CIDR = "10.216.137.0/24"
API = "127.0.0.1:50051"
TIMEOUT = 30  # the machine is shared and loaded


def gobgp_conf() -> str:
    return f"""
[global.config]
  as = {NODE_AS}
  router-id = "192.168.6.80"
"""


@pytest.fixture
def gobgp_node() -> Iterator[tuple[str, Lab]]:
    with speaker_lab(Lab, "bfw", "g") as (lab, namespaces):
        ns = namespaces["g"]
        lab.start_gobgp(ns, NODE, gobgp_conf(), "--api-hosts", API)
        assert poll(lambda: _gobgp(ns, "global").returncode == 0, TIMEOUT), "gobgpd did not answer"
        yield ns, lab


def _gobgp(ns: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", ns, "gobgp", "-u", "127.0.0.1", "-p", "50051", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _announce(ns: str, prefix: str) -> None:
    done = _gobgp(ns, "global", "rib", "add", "-a", "ipv4", prefix)
    assert done.returncode == 0, done.stderr
    rib = json.loads(_gobgp(ns, "-j", "global", "rib", "-a", "ipv4").stdout or "{}")
    assert prefix in rib, f"gobgpd does not hold {prefix}: {rib}"


def _node_in(d: Discovery, ns: str) -> Inventory:
    """The discovered inventory, sakamoto reached in its namespace and asked at its gobgpd's API."""
    data: dict[str, Any] = d.inventory.model_dump(mode="json", exclude_none=True)
    node = data["hosts"][NODE]
    node.update({"connect": {"netns": ns}, "speaker": "gobgp", "gobgp_api": API, "peers": []})
    return Inventory.model_validate(
        {"hosts": {NODE: node}, **{k: v for k, v in data.items() if k != "hosts"}}
    )


def _judged(d: Discovery, ns: str) -> tuple[Report, Any]:
    inv = _node_in(d, ns)
    facts = collect_host(NODE, inv, lambda name: open_connection(name, inv), 20.0, lambda _m: None)
    assert facts.error is None and facts.outputs["gobgp.rib"].exit_status == 0
    records = [f for f in of(d, "unallocated-prefix-advertised") if f.evidence["node"] == NODE]
    collected = Collected(
        scope=[NODE],
        facts={NODE: facts},
        active=ActiveResults(),
        started=TAKEN,
        wall_seconds=1,
        cluster=records,
        context="home",
    )
    report = evaluate(inv, "discovered", collected, RunOptions(nodes=[]))
    (result,) = [r for r in report.results if r.host == f"node/{NODE} announced prefixes"]
    return report, result


def test_a_real_gobgp_announcing_the_nodes_spec_pod_cidr_instead_of_its_allocation_is_named(
    gobgp_node: tuple[str, Lab], discover: Callable[..., Discovery]
) -> None:
    ns, _lab = gobgp_node
    d = discover(
        *seed001_ipam("cluster-pool", NODE_SPEC_POD_CIDR), ciliumnodes=(cilium_node(NODE, [ALLOCATED]),)
    )
    _announce(ns, NODE_SPEC_POD_CIDR)
    report, result = _judged(d, ns)
    assert result.status == "fail"
    assert f"{NODE} announces {NODE_SPEC_POD_CIDR}, which no IPAM allocation ({ALLOCATED}" in result.reason
    diag = next(x for x in report.diagnoses if x.root_cause == "unallocated-prefix-advertised")
    assert diag.hosts == [NODE]
    assert any(NODE_SPEC_POD_CIDR in e.output and e.command.startswith("gobgp") for e in diag.evidence)


def test_the_same_gobgp_announcing_only_its_allocation_is_clean(
    gobgp_node: tuple[str, Lab], discover: Callable[..., Discovery]
) -> None:
    ns, _lab = gobgp_node
    d = discover(
        *seed001_ipam("cluster-pool", NODE_SPEC_POD_CIDR), ciliumnodes=(cilium_node(NODE, [ALLOCATED]),)
    )
    _announce(ns, ALLOCATED)
    report, result = _judged(d, ns)
    assert result.status == "pass", result.reason
    assert any(ALLOCATED in e.output and e.command.startswith("gobgp") for e in result.evidence)
    assert "unallocated-prefix-advertised" not in [x.root_cause for x in report.diagnoses]
