"""cilium-no-bind-capability: Cilium told to bind a port below 1024 while its agent container lacks
CAP_NET_BIND_SERVICE (cilium#34248 and #34016: `localPort: 179` and the peer disappears, 1790
works; cilium#41581: a maintainer points at the same capability).

The cluster is served by the fake API server to the real kubernetes client (`discover_cluster`);
the agent DaemonSet is the shape Cilium's Helm chart renders (drop ALL, add its own list back).
The live side is the recorded lab run of `node-not-listening` (seed 001: yuuko-k8s's Cilium does
not listen, router-home's BIRD is refused), the same node names as the fake cluster.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bgpdoctor.engine.cluster import ClusterFinding
from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.kube.discover import Discovery, discover_cluster
from bgpdoctor.report.model import Report
from bgpdoctor.transport.base import CommandResult
from tests.fakeapi import clusters as c
from tests.fakeapi import write_kubeconfig
from tests.unit.kube.test_cluster_intent import ApiWithWorkloads, _valid, cluster_result, of

RUNS = Path(__file__).resolve().parents[3] / "captures" / "runs"
Obj = dict[str, Any]


@pytest.fixture
def discover(tmp_path: Path) -> Iterator[Callable[..., Discovery]]:
    """discover_cluster on the objects, served by a fake API server (DaemonSets included)."""
    servers: list[ApiWithWorkloads] = []

    def run(*objs: Obj, forbidden: tuple[str, ...] = ()) -> Discovery:
        assert [p for o in objs for p in _valid(o)] == []
        api = ApiWithWorkloads()
        api.add(*objs)
        api.forbidden |= set(forbidden)
        servers.append(api.start())  # type: ignore[arg-type]
        path = write_kubeconfig(tmp_path / f"kubeconfig-{len(servers)}", {"home": (api.url, api.token)})
        return discover_cluster("home", str(path), ssh_config=str(tmp_path / "no-ssh-config"))

    yield run
    for api in servers:
        api.stop()


def seed001_listening(where: str, port: int = 179) -> list[Obj]:
    """Seed 001 with yuuko-k8s's Cilium told to use `port`, the way each report set it."""
    objs = c.seed001("v2alpha1" if where == "transport" else "v2")  # v2 dropped transport.localPort
    for o in objs:
        if (
            o["kind"] == "CiliumBGPClusterConfig"
            and o["metadata"]["name"] == "bgp-remote"
            and where == "cluster"
        ):
            o["spec"]["bgpInstances"][0]["localPort"] = port  # cilium PR#37476 (1.18)
        if o["kind"] == "CiliumBGPPeerConfig" and where == "transport":
            o["spec"]["transport"] = {"localPort": port, "peerPort": 179}  # cilium#34016
    if where == "override":  # cilium#34248: the override's localPort
        objs.append(
            c.cr(
                "cilium.io/v2",
                "CiliumBGPNodeConfigOverride",
                "yuuko-k8s",
                {"bgpInstances": [{"name": "cilium", "localPort": port}]},
            )
        )
    return objs


def findings(d: Discovery) -> list[ClusterFinding]:
    return of(d, "cilium-no-bind-capability")


def recorded_refusal(cluster: list[ClusterFinding], listening: bool = False) -> Report:
    """The recorded node-not-listening run, with the cluster's findings; `listening` rewrites
    yuuko-k8s's `ss` output to a GoBGP socket on 179 (the host lets it bind after all)."""
    inv, ipath, nodes, collected = load_recording(RUNS / "node-not-listening.json")
    if listening:
        old = collected.facts["yuuko-k8s"].outputs["ss.listen"]
        line = 'LISTEN 0  4096  0.0.0.0:179  0.0.0.0:*  users:(("cilium-agent",pid=2112,fd=41))\n'
        collected.facts["yuuko-k8s"].outputs["ss.listen"] = CommandResult(old.command, 0, line.encode())
    collected.cluster = cluster
    collected.context = "home"
    return evaluate(inv, ipath, collected, RunOptions(nodes=nodes))


@pytest.mark.parametrize("where", ["cluster", "override", "transport"])
def test_low_port_without_the_capability_is_found(discover: Callable[..., Discovery], where: str) -> None:
    d = discover(*seed001_listening(where), c.cilium_daemonset())
    # the peer config is shared: both nodes bind its source port; a localPort is yuuko-k8s's alone
    nodes = ["node/sakamoto", "node/yuuko-k8s"] if where == "transport" else ["node/yuuko-k8s"]
    assert [x.subject for x in findings(d)] == nodes
    f = findings(d)[-1]
    assert "without NET_BIND_SERVICE" in f.message and "kube-system/cilium" in f.message
    owner = {
        "cluster": "CiliumBGPClusterConfig/bgp-remote instance cilium localPort 179",
        "override": "CiliumBGPNodeConfigOverride/yuuko-k8s instance cilium localPort 179",
        "transport": "CiliumBGPPeerConfig/l3-bgp-peer-config transport.localPort 179",
    }[where]
    assert owner in f.message
    status, _, subjects = cluster_result(f)
    assert status == "fail"
    assert subjects[0].facts["cilium_no_bind_capability"] is True


def test_the_refused_node_is_explained_by_the_missing_capability_first(
    discover: Callable[..., Discovery],
) -> None:
    d = discover(*seed001_listening("cluster"), c.cilium_daemonset())
    report = recorded_refusal(findings(d))
    first = report.diagnoses[0]
    assert first.root_cause == "cilium-no-bind-capability" and first.hosts == ["yuuko-k8s"]
    assert any(e.note == "listening sockets on TCP 179: none" for e in first.evidence)
    assert "bgp-accepting-end-listens@router-home<->yuuko-k8s" in first.symptoms
    assert "node-not-listening" not in [x.root_cause for x in report.diagnoses]
    helm, ds_patch, port_patch = first.fixes
    assert helm.platform == "cilium"
    assert (
        "\n".join(f"      - {cap}" for cap in [*c.CILIUM_AGENT_CAPABILITIES, "NET_BIND_SERVICE"]) in helm.text
    )
    assert ds_patch.text == (
        "kubectl -n kube-system patch daemonset cilium --type json -p "
        '\'[{"op":"add","path":"/spec/template/spec/containers/0/securityContext/capabilities/add/-",'
        '"value":"NET_BIND_SERVICE"}]\''
    )
    assert port_patch.text == (
        "kubectl patch ciliumbgpclusterconfig bgp-remote --type json -p "
        '\'[{"op":"replace","path":"/spec/bgpInstances/0/localPort","value":1790}]\''
    )


def test_without_the_cluster_the_refusal_stays_node_not_listening() -> None:
    report = recorded_refusal([])
    assert report.diagnoses[0].root_cause == "node-not-listening"


@pytest.mark.parametrize(
    "daemonset",
    [
        c.cilium_daemonset(add=[*c.CILIUM_AGENT_CAPABILITIES, "NET_BIND_SERVICE"]),
        c.cilium_daemonset(add=["CAP_NET_BIND_SERVICE"]),
        c.cilium_daemonset(drop=[]),  # the runtime's default set keeps NET_BIND_SERVICE
        c.cilium_daemonset(privileged=True),
    ],
    ids=["added", "added-with-prefix", "nothing-dropped", "privileged"],
)
def test_an_agent_that_may_bind_is_clean(discover: Callable[..., Discovery], daemonset: Obj) -> None:
    assert findings(discover(*seed001_listening("override"), daemonset)) == []


def test_ports_of_1024_or_more_and_no_local_port_are_clean(discover: Callable[..., Discovery]) -> None:
    assert findings(discover(*seed001_listening("cluster", 1790), c.cilium_daemonset())) == []
    assert findings(discover(*c.seed001(), c.cilium_daemonset())) == []


def test_unreadable_daemonsets_leave_the_capability_unknown(discover: Callable[..., Discovery]) -> None:
    d = discover(*seed001_listening("cluster"), c.cilium_daemonset(), forbidden=("/apis/apps/v1/daemonsets",))
    (f,) = findings(d)
    status, kind, subjects = cluster_result(f)
    assert (status, kind) == ("unknown", "permission-denied")
    assert "cilium_no_bind_capability" not in subjects[0].facts
    report = recorded_refusal([f])
    assert "cilium-no-bind-capability" not in [x.root_cause for x in report.diagnoses]
    assert report.diagnoses[0].root_cause == "node-not-listening"


def test_a_node_seen_listening_on_179_binds_it_after_all(discover: Callable[..., Discovery]) -> None:
    d = discover(*seed001_listening("cluster"), c.cilium_daemonset())
    report = recorded_refusal(findings(d), listening=True)
    (result,) = [r for r in report.results if r.host == "node/yuuko-k8s (cilium-no-bind-capability)"]
    assert result.status == "pass"
    assert "cilium-no-bind-capability" not in [x.root_cause for x in report.diagnoses]


def test_the_finding_survives_a_recording(discover: Callable[..., Discovery]) -> None:
    (f,) = findings(discover(*seed001_listening("cluster"), c.cilium_daemonset()))
    again = ClusterFinding(**json.loads(json.dumps(f.to_dict())))
    assert cluster_result(again)[0] == "fail"
