"""The cluster's intent: Calico's mesh next to route reflectors, two LoadBalancer controllers, a
daemon that runs another configuration than the cluster states, Calico with its BGP turned off.

Every case reads real-shaped objects through the real kubernetes client from a fake API server on
loopback (`discover_cluster`, the path `bgpdoctor run --context` takes). DaemonSets and Deployments
round-trip through the client's V1DaemonSet/V1Deployment models; custom resources validate against
the vendored CRD schemas. The daemons' neighbor tables are captured outputs (GoBGP, BIRD 1.6 in
calico-node).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bgpdoctor.engine.active import ActiveResults
from bgpdoctor.engine.cluster import ClusterFinding, cause_of, cluster_subjects
from bgpdoctor.engine.collect import HostFacts
from bgpdoctor.engine.judge import judge
from bgpdoctor.engine.rules import load_checks
from bgpdoctor.engine.run import Collected, RunOptions, evaluate
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.kube.discover import Discovery, discover_cluster
from bgpdoctor.report.model import Report
from bgpdoctor.transport.base import CommandResult
from tests.fakeapi import clusters as c
from tests.fakeapi import write_kubeconfig
from tests.unit.kube.test_services_api import ApiWithEndpointSlices, metallb, service, validate_obj

Obj = dict[str, Any]
OUTPUTS = Path(__file__).resolve().parents[3] / "captures" / "outputs"
RR_ANNOTATION = "projectcalico.org/RouteReflectorClusterID"


class ApiWithWorkloads(ApiWithEndpointSlices):
    """Also serves apps/v1 DaemonSets and Deployments, and the Tigera operator's Installations."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.workloads: dict[str, list[Obj]] = {"daemonsets": [], "deployments": [], "installations": []}

    def add(self, *objs: Obj) -> ApiWithWorkloads:
        for obj in objs:
            if obj["apiVersion"] == "apps/v1":
                self.workloads[obj["kind"].lower() + "s"].append(obj)
            elif obj["apiVersion"] == "operator.tigera.io/v1":
                self.workloads["installations"].append(obj)
            else:
                super().add(obj)
        return self

    def route(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[int, Obj]:
        for prefix, plural, kind in (
            ("/apis/apps/v1/", "daemonsets", "DaemonSetList"),
            ("/apis/apps/v1/", "deployments", "DeploymentList"),
            ("/apis/operator.tigera.io/v1/", "installations", "InstallationList"),
        ):
            if path.rstrip("/") == prefix + plural:
                if plural == "installations" and not self.workloads[plural]:
                    break  # the operator is not installed: 404 below
                core = kind != "InstallationList"
                items = [
                    {k: v for k, v in o.items() if not core or k not in ("apiVersion", "kind")}
                    for o in self.workloads[plural]
                ]
                version = prefix.strip("/").removeprefix("apis/")
                return 200, {
                    "kind": kind,
                    "apiVersion": version,
                    "metadata": {"resourceVersion": "7"},
                    "items": items,
                }
        return super().route(method, path, query)


@pytest.fixture
def discover(tmp_path: Path) -> Iterator[Callable[..., Discovery]]:
    servers: list[ApiWithWorkloads] = []

    def run(*objs: Obj, forbidden: tuple[str, ...] = ()) -> Discovery:
        for obj in objs:
            assert _valid(obj) == [], obj
        api = ApiWithWorkloads()
        api.add(*objs)
        api.forbidden |= set(forbidden)
        servers.append(api.start())  # type: ignore[arg-type]
        path = write_kubeconfig(tmp_path / f"kubeconfig-{len(servers)}", {"home": (api.url, api.token)})
        return discover_cluster("home", str(path), ssh_config=str(tmp_path / "no-ssh-config"))

    yield run
    for api in servers:
        api.stop()


def _valid(obj: Obj) -> list[str]:
    from kubernetes import client

    from tests.fakeapi.schema import _dumped_keys

    model = {"DaemonSet": client.V1DaemonSet, "Deployment": client.V1Deployment}.get(obj["kind"])
    if obj["apiVersion"] == "apps/v1" and model is not None:
        dumped = model.from_dict(obj).model_dump(by_alias=True, exclude_none=True, mode="json")
        return _dumped_keys(obj, dumped, "")
    if obj["apiVersion"] == "operator.tigera.io/v1":
        return []  # the Tigera operator's CRD is not in the reference set
    return validate_obj(obj)


# --- real-shaped objects ---------------------------------------------------------------------------


def _pod_template(app: str, image: str, container: str) -> Obj:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": container, "image": image}]},
    }


def svclb(service_name: str, namespace: str = "default") -> Obj:
    """The DaemonSet K3s servicelb (klipper-lb) creates for a LoadBalancer Service (k3s >= 1.21)."""
    labels = {
        "objectset.rio.cattle.io/owner-gvk": "/v1, Kind=Service",
        "svccontroller.k3s.cattle.io/svcname": service_name,
        "svccontroller.k3s.cattle.io/svcnamespace": namespace,
    }
    name = f"svclb-{service_name}-4f1c2a9e"
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "kube-system", "labels": labels, "uid": f"uid-{name}"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": _pod_template(name, "rancher/klipper-lb:v0.4.13", "lb-tcp-80"),
        },
    }


def metallb_controller() -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "controller",
            "namespace": "metallb-system",
            "labels": {"app": "metallb", "component": "controller"},
            "uid": "uid-metallb-controller",
        },
        "spec": {
            "selector": {"matchLabels": {"app": "metallb", "component": "controller"}},
            "template": _pod_template("metallb", "quay.io/metallb/controller:v0.14.9", "controller"),
        },
    }


def k3s_with_metallb(*extra: Obj) -> list[Obj]:
    """K3s (servicelb on by default) with MetalLB added: the setup of k3s#269."""
    return [
        c.node("k3s-1", "192.168.10.11", "10.42.0.0/24"),
        c.node("k3s-2", "192.168.10.12", "10.42.1.0/24"),
        metallb("IPAddressPool", "public", {"addresses": ["10.20.30.0/28"]}),
        metallb_controller(),
        service("web", "10.20.30.1", policy="Cluster"),
        *extra,
    ]


def calico_with_reflectors(mesh: bool | None) -> list[Obj]:
    """Seed 002's Calico cluster switched to a reflector on kubemaster, as Calico's guide does it."""
    objs = c.calico_seed002()
    for o in objs:
        if o["kind"] == "Node" and o["metadata"]["name"] == "kubemaster":
            o["metadata"]["annotations"][RR_ANNOTATION] = "244.0.0.1"
            o["metadata"]["labels"]["route-reflector"] = "true"
        if o["kind"] == "BGPConfiguration" and mesh is None:
            del o["spec"]["nodeToNodeMeshEnabled"]
    objs.append(
        c.cr(
            "crd.projectcalico.org/v1",
            "BGPPeer",
            "peer-with-route-reflectors",
            {"nodeSelector": "all()", "peerSelector": "route-reflector == 'true'"},
        )
    )
    if mesh is False:
        for o in objs:
            if o["kind"] == "BGPConfiguration":
                o["spec"]["nodeToNodeMeshEnabled"] = False
    return objs


def installation(bgp: str) -> Obj:
    return {
        "apiVersion": "operator.tigera.io/v1",
        "kind": "Installation",
        "metadata": {"name": "default"},
        "spec": {
            "calicoNetwork": {
                "bgp": bgp,
                "ipPools": [{"cidr": "10.42.0.0/16", "encapsulation": "VXLAN", "natOutgoing": "Enabled"}],
            }
        },
    }


def of(d: Discovery, cause: str) -> list[ClusterFinding]:
    return [ClusterFinding.of(f) for f in d.findings + d.speaker_checks if cause_of(f) == cause]


def cluster_result(f: ClusterFinding) -> tuple[str, str | None, list[Any]]:
    subjects = cluster_subjects([f], Inventory(hosts={}), "home")
    (result,) = judge([ch for ch in load_checks([]) if ch.id == "cluster-config"], subjects)
    return result.status, result.unknown_kind, subjects


# --- mesh-vs-rr-transition -------------------------------------------------------------------------


@pytest.mark.parametrize("mesh", [True, None], ids=["mesh-true", "mesh-unset"])
def test_mesh_left_on_next_to_route_reflectors(discover: Callable[..., Discovery], mesh: bool | None) -> None:
    d = discover(*calico_with_reflectors(mesh))
    (f,) = of(d, "mesh-vs-rr-transition")
    assert "kubemaster" in f.message and "peer-with-route-reflectors" in f.message
    assert ("unset, which means on" in f.message) is (mesh is None)
    assert cluster_result(f)[0] == "fail"
    report = _report(Inventory(hosts={}), {}, [f])
    (diag,) = report.diagnoses
    assert diag.root_cause == "mesh-vs-rr-transition" and diag.hosts == ["kubemaster"]
    assert "nodeToNodeMeshEnabled: false" in diag.fixes[0].text and "asNumber: 64512" in diag.fixes[0].text


def test_reflectors_with_the_mesh_off_are_clean(discover: Callable[..., Discovery]) -> None:
    assert of(discover(*calico_with_reflectors(False)), "mesh-vs-rr-transition") == []


def test_mesh_alone_is_clean(discover: Callable[..., Discovery]) -> None:
    assert of(discover(*c.calico_seed002()), "mesh-vs-rr-transition") == []


def test_bgp_configurations_forbidden_leave_the_mesh_unknown(discover: Callable[..., Discovery]) -> None:
    d = discover(
        *calico_with_reflectors(False),
        forbidden=("/apis/crd.projectcalico.org/v1/bgpconfigurations",),
    )
    (f,) = of(d, "mesh-vs-rr-transition")
    status, kind, subjects = cluster_result(f)
    assert (status, kind) == ("unknown", "permission-denied")
    assert "mesh_with_reflectors" not in subjects[0].facts
    assert _report(Inventory(hosts={}), {}, [f]).diagnoses == []


# --- duplicate-lb-controller -----------------------------------------------------------------------


def test_servicelb_and_metallb_both_claim_the_service(discover: Callable[..., Discovery]) -> None:
    d = discover(*k3s_with_metallb(svclb("web")))
    (f,) = of(d, "duplicate-lb-controller")
    assert f.subject == "service/default/web"
    assert "K3s servicelb (DaemonSet kube-system/svclb-web-4f1c2a9e)" in f.message
    assert "MetalLB (controller metallb-system/controller" in f.message
    assert cluster_result(f)[0] == "fail"
    (diag,) = _report(Inventory(hosts={}), {}, [f]).diagnoses
    assert diag.root_cause == "duplicate-lb-controller"
    assert "svccontroller.k3s.cattle.io/svcname=web" in diag.fixes[0].text


def test_cilium_lb_ipam_and_metallb_both_claim_the_service(discover: Callable[..., Discovery]) -> None:
    pool = c.cr("cilium.io/v2", "CiliumLoadBalancerIPPool", "lb", {"blocks": [{"cidr": "10.0.6.0/24"}]})
    d = discover(*k3s_with_metallb(pool))
    (f,) = of(d, "duplicate-lb-controller")
    assert "Cilium LB-IPAM (CiliumLoadBalancerIPPool lb)" in f.message


def test_one_controller_or_a_load_balancer_class_is_clean(discover: Callable[..., Discovery]) -> None:
    assert of(discover(*k3s_with_metallb()), "duplicate-lb-controller") == []
    classed = service("web", "10.20.30.1", policy="Cluster")
    classed["spec"]["loadBalancerClass"] = "metallb.io/metallb"
    objs = [o for o in k3s_with_metallb(svclb("web")) if o["kind"] != "Service"]
    assert of(discover(*objs, classed), "duplicate-lb-controller") == []


def test_daemonsets_forbidden_leave_the_second_controller_unknown(
    discover: Callable[..., Discovery],
) -> None:
    d = discover(*k3s_with_metallb(svclb("web")), forbidden=("/apis/apps/v1/daemonsets",))
    assert any("daemonsets.apps/v1: forbidden (403)" in n for n in d.notes)
    (f,) = of(d, "duplicate-lb-controller")
    status, kind, subjects = cluster_result(f)
    assert (status, kind) == ("unknown", "permission-denied")
    assert "lb_controller_conflict" not in subjects[0].facts


# --- stale-speaker-config --------------------------------------------------------------------------

TAKEN = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)


def _report(
    inv: Inventory, outputs: dict[str, dict[str, CommandResult]], cluster: list[ClusterFinding]
) -> Report:
    facts = {
        name: HostFacts(name, inv.hosts[name], outputs=results, contacted=True)
        for name, results in outputs.items()
    }
    collected = Collected(
        scope=list(outputs),
        facts=facts,
        active=ActiveResults(),
        started=TAKEN,
        wall_seconds=1,
        cluster=cluster,
        context="home",
    )
    return evaluate(inv, "discovered", collected, RunOptions(nodes=[]))


def gobgp_neighbors(address: str, peer_as: int) -> CommandResult:
    """A captured `gobgp -j neighbor` (one neighbor) with its address and AS set to the case's."""
    data = json.loads((OUTPUTS / "speaker_state" / "gobgp_admin_down_neighbor.json").read_text())
    n = copy.deepcopy(data[0])
    for part in ("conf", "state"):
        n[part]["neighbor_address"] = address
        n[part]["peer_asn"] = peer_as
    return CommandResult("gobgp -j neighbor", 0, json.dumps([n]).encode())


def stale_of(d: Discovery, node: str) -> ClusterFinding:
    return next(f for f in of(d, "stale-speaker-config") if f.evidence["node"] == node)


def test_cilium_peer_running_with_the_old_asn(discover: Callable[..., Discovery]) -> None:
    """cilium#33163: the peer's ASN changed in the CiliumBGPClusterConfig; GoBGP still runs the old one."""
    d = discover(*c.seed001())
    assert stale_of(d, "sakamoto").pending
    assert not [f for f in d.findings if cause_of(f) == "stale-speaker-config"]  # not a finding by itself
    outputs = {"sakamoto": {"gobgp.neighbors": gobgp_neighbors("192.168.6.1", 64600)}}
    report = _report(d.inventory, outputs, [stale_of(d, "sakamoto")])
    (result,) = [r for r in report.results if r.host == "node/sakamoto speaker config"]
    assert result.status == "fail"
    assert "192.168.6.1 runs with AS 64600, the cluster says AS 64513" in result.reason
    diag = next(x for x in report.diagnoses if x.root_cause == "stale-speaker-config")
    assert diag.hosts == ["sakamoto"]
    assert diag.fixes[0].text == (
        "kubectl -n kube-system delete pod -l k8s-app=cilium --field-selector spec.nodeName=sakamoto"
    )


def test_cilium_daemon_running_what_the_cluster_says_is_clean(discover: Callable[..., Discovery]) -> None:
    d = discover(*c.seed001())
    outputs = {"sakamoto": {"gobgp.neighbors": gobgp_neighbors("192.168.6.1", 64513)}}
    report = _report(d.inventory, outputs, [stale_of(d, "sakamoto")])
    (result,) = [r for r in report.results if r.host == "node/sakamoto speaker config"]
    assert result.status == "pass"
    assert not [x for x in report.diagnoses if x.root_cause == "stale-speaker-config"]


def test_configured_neighbor_the_daemon_does_not_run(discover: Callable[..., Discovery]) -> None:
    d = discover(*c.seed001())
    outputs = {"sakamoto": {"gobgp.neighbors": gobgp_neighbors("192.168.6.99", 64513)}}
    report = _report(d.inventory, outputs, [stale_of(d, "sakamoto")])
    (result,) = [r for r in report.results if r.host == "node/sakamoto speaker config"]
    assert result.status == "fail"
    assert "192.168.6.1 (AS 64513, from CiliumBGPClusterConfig/bgp-local) is configured but not running" in (
        result.reason
    )


def test_daemon_table_that_cannot_be_read_is_unknown(discover: Callable[..., Discovery]) -> None:
    d = discover(*c.seed001())
    failed = CommandResult(
        "gobgp -j neighbor", 1, b"", "rpc error: code = Unavailable desc = connection refused"
    )
    report = _report(d.inventory, {"sakamoto": {"gobgp.neighbors": failed}}, [stale_of(d, "sakamoto")])
    (result,) = [r for r in report.results if r.host == "node/sakamoto speaker config"]
    assert result.status == "unknown" and "connection refused" in result.reason
    assert not [x for x in report.diagnoses if x.root_cause == "stale-speaker-config"]


def test_a_node_outside_the_run_makes_no_subject(discover: Callable[..., Discovery]) -> None:
    d = discover(*c.seed001())
    report = _report(d.inventory, {}, [stale_of(d, "sakamoto")])
    assert [r for r in report.results if "speaker config" in r.host] == []


def calico_bird(*extra_blocks: str) -> CommandResult:
    text = (OUTPUTS / "bird" / "bird16_calico_show_protocols_all.txt").read_text()
    return CommandResult(
        "birdcl -s /var/run/calico/bird.ctl -r show protocols all", 0, (text + "".join(extra_blocks)).encode()
    )


# A mesh protocol left behind in `start` (calico#3785), in BIRD 1.6's shape: the captured
# `g1_refused` block of bird16_hold_expired_show_protocols_all.txt, named as Calico names mesh peers.
STALE_MESH_BLOCK = """
Mesh_192_168_100_252 BGP      master   start  21:21:59    Connect       Socket: Connection refused
  Description:    Connection to BGP peer
  Preference:     100
  Input filter:   ACCEPT
  Output filter:  calico_export_to_bgp_peers
  Routes:         0 imported, 0 exported, 0 preferred
  Route change stats:     received   rejected   filtered    ignored   accepted
    Import updates:              0          0          0          0          0
    Import withdraws:            0          0        ---          0          0
    Export updates:              0          0          0        ---          0
    Export withdraws:            0        ---        ---        ---          0
  BGP state:          Connect
    Neighbor address: 192.168.100.252
    Neighbor AS:      64512
    Last error:       Socket: Connection refused

"""


def test_calico_mesh_protocols_left_after_the_mesh_was_turned_off(discover: Callable[..., Discovery]) -> None:
    d = discover(*c.calico_seed002(mesh=False))
    f = stale_of(d, "kubemaster")
    assert f.evidence["calico_mesh"] is False
    report = _report(d.inventory, {"kubemaster": {"bird.protocols": calico_bird(STALE_MESH_BLOCK)}}, [f])
    (result,) = [r for r in report.results if r.host == "node/kubemaster speaker config"]
    assert result.status == "fail"
    assert "BIRD still runs the node-to-node mesh (Mesh_192_168_100_252)" in result.reason
    diag = next(x for x in report.diagnoses if x.root_cause == "stale-speaker-config")
    assert "calico-system" in diag.fixes[0].text and "kubemaster" in diag.fixes[0].text


def test_calico_running_its_reflector_peer_only_is_clean(discover: Callable[..., Discovery]) -> None:
    d = discover(*c.calico_seed002(mesh=False))
    report = _report(
        d.inventory, {"kubemaster": {"bird.protocols": calico_bird()}}, [stale_of(d, "kubemaster")]
    )
    (result,) = [r for r in report.results if r.host == "node/kubemaster speaker config"]
    assert result.status == "pass"


# --- Calico with BGP disabled on purpose (calico#6697) ---------------------------------------------


def test_calico_bgp_disabled_expects_no_speaker(discover: Callable[..., Discovery]) -> None:
    d = discover(*c.calico_seed002(), installation("Disabled"))
    nodes = [h for h in d.inventory.hosts.values() if h.role == "node"]
    assert nodes and all(h.speaker == "none" and h.peers == [] for h in nodes)
    assert [h for h in d.inventory.hosts.values() if h.role == "router"] == []
    assert d.speaker_checks == [] and of(d, "mesh-vs-rr-transition") == []
    assert any("Calico's BGP is off by design (Installation default" in n for n in d.notes)
    # birdcl finds no BIRD, as calico-node without BGP: no speaker-down, no session to judge
    absent = CommandResult(
        "birdcl -r show protocols all", 1, b"", "Unable to connect to server control socket"
    )
    report = _report(d.inventory, {"kubemaster": {"bird.protocols": absent}}, [])
    assert "speaker-down" not in [x.root_cause for x in report.diagnoses]
    assert [r for r in report.results if r.check.startswith("bgp-") and r.status in ("fail", "error")] == []


def test_calico_bgp_enabled_still_expects_bird(discover: Callable[..., Discovery]) -> None:
    d = discover(*c.calico_seed002(), installation("Enabled"))
    assert d.inventory.hosts["kubemaster"].speaker == "bird1"
    absent = CommandResult(
        "birdcl -r show protocols all", 1, b"", "Unable to connect to server control socket"
    )
    report = _report(d.inventory, {"kubemaster": {"bird.protocols": absent}}, [])
    assert "speaker-down" in [x.root_cause for x in report.diagnoses]


# --- lint reads the same design from manifests -----------------------------------------------------

LINT_CASES = Path(__file__).resolve().parents[2] / "fixtures" / "lint" / "cases"


def test_lint_names_the_mesh_left_on_next_to_reflectors_with_its_fix() -> None:
    from bgpdoctor.lint import lint_paths

    (f,) = lint_paths([str(LINT_CASES / "mesh-vs-rr")]).findings
    assert (f.root_cause, Path(f.file).name, f.line) == ("mesh-vs-rr-transition", "calico.yaml", 32)
    assert "kubemaster" in f.message and "peer-with-route-reflectors" in f.message
    (fix,) = f.fixes
    assert fix["platform"] == "calico" and "nodeToNodeMeshEnabled: false" in fix["text"]


def test_lint_is_clean_once_the_mesh_is_off() -> None:
    from bgpdoctor.lint import lint_paths

    assert lint_paths([str(LINT_CASES / "mesh-vs-rr-off")]).findings == []


# --- MetalLB with every peered node excluded from load balancers (cozystack#4043) --------------------

EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"


def metallb_bgp(*nodes: Obj) -> list[Obj]:
    return [
        *nodes,
        metallb("IPAddressPool", "public", {"addresses": ["10.20.30.0/28"]}),
        metallb("BGPAdvertisement", "public", {"ipAddressPools": ["public"]}),
        metallb(
            "BGPPeer",
            "tor",
            {"myASN": 64512, "peerASN": 64500, "peerAddress": "192.168.10.1"},
            version="v1beta2",
        ),
    ]


def test_metallb_on_nodes_all_excluded_from_load_balancers(discover: Callable[..., Discovery]) -> None:
    d = discover(
        *metallb_bgp(
            c.node("cp-1", "192.168.10.11", "10.244.0.0/24", labels={EXCLUDE: ""}),
            c.node("cp-2", "192.168.10.12", "10.244.1.0/24", labels={EXCLUDE: ""}),
        )
    )
    found = of(d, "node-not-selected")
    assert [f.subject for f in found] == ["node/cp-1", "node/cp-2"]
    assert EXCLUDE in found[0].message
    (diag,) = [x for x in _report(Inventory(hosts={}), {}, found[:1]).diagnoses]
    assert diag.root_cause == "node-not-selected"
    assert f"kubectl label node cp-1 {EXCLUDE}-" in diag.fixes[0].text


def test_some_nodes_excluded_from_load_balancers_is_the_labels_purpose(
    discover: Callable[..., Discovery],
) -> None:
    d = discover(
        *metallb_bgp(
            c.node("cp-1", "192.168.10.11", "10.244.0.0/24", labels={EXCLUDE: ""}),
            c.node("worker-1", "192.168.10.21", "10.244.1.0/24"),
        )
    )
    assert of(d, "node-not-selected") == []


# --- the kubelet registered with the wrong address (metrics-server#1408, k0s#5189) --------------------


def _suspect(d: Discovery) -> list[ClusterFinding]:
    return [ClusterFinding.of(f) for f in d.findings if (f.facts or {}).get("node_ip_suspect")]


def test_node_registered_with_its_tailscale_address(discover: Callable[..., Discovery]) -> None:
    """The API shows a suspect address, not an unreachable kubelet: no cause is concluded without a
    probe, and the note names the kubelet to probe."""
    d = discover(
        c.node("k0s-1", "192.168.10.11", "10.244.0.0/24"),
        c.node("k0s-2", "100.101.102.103", "10.244.1.0/24"),
        c.metrics_apiservice(False),
    )
    assert of(d, "kubelet-unreachable") == []
    (f,) = _suspect(d)
    assert f.subject == "node/k0s-2" and f.facts is not None
    assert f.facts["node_internal_ip"] == "100.101.102.103" and "100.64.0.0/10" in f.facts["node_ip_suspect"]
    assert cluster_subjects([f], Inventory(hosts={}), "home") == []  # no finding: no probe backs it
    (note,) = [n for n in d.notes if "k0s-2" in n]
    assert note.startswith("unconfirmed until probed: ")
    assert "probe its kubelet at 100.101.102.103:10250" in note
    assert any(n.startswith("unconfirmed until probed: APIService v1beta1.metrics.k8s.io") for n in d.notes)


def test_node_registered_with_the_wrong_nic(discover: Callable[..., Discovery]) -> None:
    calico_ip = {"projectcalico.org/IPv4Address": "192.168.10.12/24"}
    d = discover(
        c.node("k3s-1", "192.168.10.11", "10.244.0.0/24"),
        c.node("k3s-2", "10.0.2.15", "10.244.1.0/24", annotations=calico_ip),
        c.node("k3s-3", "192.168.10.13", "10.244.2.0/24"),
        c.metrics_apiservice(False),
    )
    assert of(d, "kubelet-unreachable") == []
    (f,) = _suspect(d)
    assert f.subject == "node/k3s-2"
    assert "10.0.2.15 lies outside the nodes' subnet (192.168.10.0/24)" in f.message
    assert "192.168.10.12 there" in f.message


def test_node_addresses_are_not_judged_while_metrics_work(discover: Callable[..., Discovery]) -> None:
    d = discover(
        c.node("k0s-1", "192.168.10.11", "10.244.0.0/24"),
        c.node("k0s-2", "100.101.102.103", "10.244.1.0/24"),
        c.metrics_apiservice(True),
    )
    assert of(d, "kubelet-unreachable") == [] and _suspect(d) == []


# --- two speakers of one node at one peer (metallb#114), a peer on the node itself (calico#2620) -----


def test_metallb_and_calico_peer_with_the_same_router(discover: Callable[..., Discovery]) -> None:
    d = discover(
        *c.calico_seed002(mesh=False),
        metallb("IPAddressPool", "public", {"addresses": ["10.20.30.1-10.20.30.14"]}),
        metallb(
            "BGPPeer",
            "wds-router",
            {"myASN": 64512, "peerASN": 64512, "peerAddress": "192.168.100.1"},
            version="v1beta2",
        ),
    )
    found = of(d, "speaker-collision")
    # the two WDS nodes peer 192.168.100.1 through Calico (BGPPeer route-reflector-wds); hkg04 does not
    assert sorted(f.subject for f in found) == ["node/kubemaster", "node/kubenode-wds-1"]
    f = next(x for x in found if x.subject == "node/kubemaster")
    assert "MetalLB (BGPPeer wds-router) and Calico (BGPPeer/route-reflector-wds)" in f.message
    assert cluster_result(f)[0] == "fail"
    diag = next(
        x for x in _report(Inventory(hosts={}), {}, [f]).diagnoses if x.root_cause == "speaker-collision"
    )
    assert diag.hosts == ["kubemaster"]
    assert diag.fixes[0].text == "kubectl -n metallb-system delete bgppeers.metallb.io wds-router"
    assert "- cidr: 10.20.30.1/32" in diag.fixes[1].text and "- cidr: 10.20.30.8/30" in diag.fixes[1].text


def test_metallb_peering_another_router_is_no_collision(discover: Callable[..., Discovery]) -> None:
    d = discover(
        *c.calico_seed002(mesh=False),
        metallb("IPAddressPool", "public", {"addresses": ["10.20.30.0/28"]}),
        metallb(
            "BGPPeer",
            "edge",
            {"myASN": 64512, "peerASN": 64500, "peerAddress": "192.168.100.9"},
            version="v1beta2",
        ),
    )
    assert of(d, "speaker-collision") == []


def test_calico_peer_on_the_node_itself_gates_readiness(discover: Callable[..., Discovery]) -> None:
    local = c.cr(
        "crd.projectcalico.org/v1",
        "BGPPeer",
        "metallb-local",
        {"node": "kubemaster", "peerIP": "192.168.100.251", "asNumber": 64513},
    )
    loopback = c.cr(
        "crd.projectcalico.org/v1",
        "BGPPeer",
        "metallb-loopback",
        {"nodeSelector": "region == 'Global'", "peerIP": "127.0.0.1", "asNumber": 64513},
    )
    d = discover(*c.calico_seed002(), local, loopback)
    found = {f.subject: f for f in of(d, "readiness-gated-on-peer")}
    assert sorted(found) == ["node/kubemaster", "node/kubenode-hkg04"]
    assert "its own address" in found["node/kubemaster"].message
    assert "a loopback address" in found["node/kubenode-hkg04"].message
    diag = next(
        x
        for x in _report(Inventory(hosts={}), {}, [found["node/kubemaster"]]).diagnoses
        if x.root_cause == "readiness-gated-on-peer"
    )
    assert diag.fixes[0].text == "kubectl delete bgppeers.crd.projectcalico.org metallb-local"


def test_calico_peers_with_routers_only_do_not_gate_readiness(discover: Callable[..., Discovery]) -> None:
    assert of(discover(*c.calico_seed002()), "readiness-gated-on-peer") == []
