"""LoadBalancer Services and their announcements, read by the real kubernetes client from a fake API
server on loopback that also serves EndpointSlices (discovery.k8s.io/v1) and MetalLB's CRDs.

Every case goes through `discover_cluster`, the path `bgpdoctor run --context` takes; the objects are
real-shaped (EndpointSlices round-trip through the client's V1EndpointSlice model, custom resources
validate against the vendored CRD schemas).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bgpdoctor.engine.cluster import ClusterFinding, cause_of, cluster_subjects
from bgpdoctor.engine.judge import judge
from bgpdoctor.engine.rules import load_checks
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.kube.discover import Discovery, discover_cluster
from tests.fakeapi import FakeApiServer, write_kubeconfig
from tests.fakeapi import clusters as c
from tests.fakeapi.schema import _dumped_keys, validate

Obj = dict[str, Any]
T0 = c.T0


class ApiWithEndpointSlices(FakeApiServer):
    """The fake API server plus the built-in discovery.k8s.io/v1 group (EndpointSlices)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.slices: list[Obj] = []

    def add(self, *objs: Obj) -> FakeApiServer:
        for obj in objs:
            if obj["apiVersion"] == "discovery.k8s.io/v1":
                self.slices.append(obj)
            else:
                super().add(obj)
        return self

    def route(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[int, Obj]:
        if path.rstrip("/") == "/apis/discovery.k8s.io/v1/endpointslices":
            items = [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")} for o in self.slices]
            return 200, {
                "kind": "EndpointSliceList",
                "apiVersion": "discovery.k8s.io/v1",
                "metadata": {"resourceVersion": "4242"},
                "items": items,
            }
        return super().route(method, path, query)


@pytest.fixture
def discover(tmp_path: Path) -> Iterator[Callable[..., Discovery]]:
    servers: list[FakeApiServer] = []

    def run(*objs: Obj, forbidden: tuple[str, ...] = ()) -> Discovery:
        for obj in objs:
            assert validate_obj(obj) == [], obj
        api = ApiWithEndpointSlices()
        api.add(*objs)
        api.forbidden |= set(forbidden)
        servers.append(api.start())
        path = write_kubeconfig(tmp_path / f"kubeconfig-{len(servers)}", {"home": (api.url, api.token)})
        return discover_cluster("home", str(path), ssh_config=str(tmp_path / "no-ssh-config"))

    yield run
    for api in servers:
        api.stop()


def validate_obj(obj: Obj) -> list[str]:
    if obj["kind"] == "EndpointSlice":
        from kubernetes import client

        dumped = client.V1EndpointSlice.from_dict(obj).model_dump(
            by_alias=True, exclude_none=True, mode="json"
        )
        return _dumped_keys(obj, dumped, "")
    return validate(obj)


# --- real-shaped objects ---------------------------------------------------------------------------


def service(
    name: str,
    ip: str | None,
    policy: str = "Local",
    labels: dict[str, str] | None = None,
    external_ips: list[str] | None = None,
    namespace: str = "default",
    annotations: dict[str, str] | None = None,
) -> Obj:
    svc = c.lb_service(namespace, name, ip, labels)
    svc["metadata"]["uid"] = f"uid-svc-{name}"
    svc["spec"]["externalTrafficPolicy"] = policy
    if policy == "Local":
        svc["spec"]["healthCheckNodePort"] = 32191  # the API server allocates one for eTP=Local
    if external_ips:
        svc["spec"]["externalIPs"] = external_ips
    if annotations:
        svc["metadata"]["annotations"] = annotations
    return svc


def endpoint_slice(
    svc: str, endpoints: list[tuple[str, str | None, bool]], namespace: str = "default"
) -> Obj:
    """An EndpointSlice as the endpointslice controller writes it; endpoints: (pod IP, node, ready)."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{svc}-x7k2p",
            "namespace": namespace,
            "uid": f"uid-eps-{svc}",
            "resourceVersion": "2001",
            "creationTimestamp": T0,
            "generateName": f"{svc}-",
            "labels": {
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                "kubernetes.io/service-name": svc,
            },
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "name": svc,
                    "uid": f"uid-svc-{svc}",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": [ip],
                "conditions": {"ready": ready, "serving": ready, "terminating": False},
                **({"nodeName": node} if node else {}),
                "targetRef": {
                    "kind": "Pod",
                    "name": f"{svc}-{i}",
                    "namespace": namespace,
                    "uid": f"uid-pod-{i}",
                },
            }
            for i, (ip, node, ready) in enumerate(endpoints)
        ],
        "ports": [{"name": "", "port": 8080, "protocol": "TCP"}],
    }


def seed003_with(*extra: Obj, nodes_selector: Obj | None = None) -> list[Obj]:
    """Seed 003 (Cilium BGPv2, three nodes behind one ToR, LB pool 10.0.6.0/24) minus its Service."""
    objs = [o for o in c.seed003() if o["kind"] != "Service"]
    if nodes_selector is not None:
        for o in objs:
            if o["kind"] == "CiliumBGPClusterConfig":
                o["spec"]["nodeSelector"] = nodes_selector
    return [*objs, *extra]


def causes(d: Discovery) -> list[tuple[str, str]]:
    return sorted((cause_of(f), f.subject) for f in d.findings if not ClusterFinding.of(f).pending)


def finding(d: Discovery, cause: str) -> Any:
    return next(f for f in d.findings if cause_of(f) == cause and not ClusterFinding.of(f).pending)


# --- etp-local-no-endpoints ------------------------------------------------------------------------


def test_etp_local_with_an_endpoint_on_an_announcing_node_is_clean(
    discover: Callable[..., Discovery],
) -> None:
    d = discover(
        *seed003_with(
            service("web", "10.0.6.1"),
            endpoint_slice("web", [("10.60.1.14", "node-01", True)]),
        )
    )
    assert causes(d) == []
    # the routers decide the rest: a router check, not a finding, and not counted in the notes
    (check,) = [ClusterFinding.of(f) for f in d.findings]
    assert check.pending and check.evidence["endpoint_nodes"] == ["node-01"]
    assert check.evidence["speaker_nodes"] == ["gpu-node-01", "master-01", "node-01"]
    assert not any("etp-local" in n for n in d.notes)


def test_etp_local_endpoints_only_on_nodes_bgp_does_not_select(discover: Callable[..., Discovery]) -> None:
    objs = seed003_with(
        service("web", "10.0.6.1"),
        endpoint_slice("web", [("10.60.2.7", "gpu-node-01", True), ("10.60.1.9", "node-01", False)]),
        nodes_selector={"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]},
    )
    gpu = next(o for o in objs if o["metadata"]["name"] == "gpu-node-01")
    gpu["metadata"]["labels"]["gpu"] = "true"
    d = discover(*objs)
    assert causes(d) == [
        ("etp-local-no-endpoints", "service/default/web"),
        ("node-not-selected", "node/gpu-node-01"),
    ]
    f = finding(d, "etp-local-no-endpoints")
    assert f.evidence["gap"] == "endpoints-on-non-speakers"
    assert f.evidence["endpoint_nodes"] == ["gpu-node-01"]
    assert f.evidence["speaker_nodes"] == ["master-01", "node-01"]
    assert "only on gpu-node-01 (10.0.4.111)" in f.message
    # the same cluster with the GPU node selected too is clean
    gpu["metadata"]["labels"].pop("gpu")
    assert causes(discover(*objs)) == []


def test_etp_local_without_a_ready_endpoint(discover: Callable[..., Discovery]) -> None:
    d = discover(
        *seed003_with(
            service("web", "10.0.6.1"),
            endpoint_slice("web", [("10.60.1.9", "node-01", False)]),
        )
    )
    assert causes(d) == [("etp-local-no-endpoints", "service/default/web")]
    assert finding(d, "etp-local-no-endpoints").evidence["gap"] == "no-ready-endpoint"


def test_etp_cluster_without_endpoints_is_not_this_cause(discover: Callable[..., Discovery]) -> None:
    d = discover(*seed003_with(service("web", "10.0.6.1", policy="Cluster"), endpoint_slice("web", [])))
    assert causes(d) == []


def test_endpoint_slices_forbidden_is_unknown_never_no_endpoints(discover: Callable[..., Discovery]) -> None:
    d = discover(
        *seed003_with(service("web", "10.0.6.1"), endpoint_slice("web", [("10.60.1.14", "node-01", True)])),
        forbidden=("/apis/discovery.k8s.io/v1/endpointslices",),
    )
    assert any("endpointslices: forbidden (403)" in n for n in d.notes)
    f = ClusterFinding.of(finding(d, "etp-local-no-endpoints"))
    assert "could not be read" in f.message and "no ready endpoint" not in f.message
    subjects = cluster_subjects([f], Inventory(hosts={}), "home")
    (result,) = [r for r in judge(load_checks([]), subjects) if r.check == "cluster-config"]
    assert result.status == "unknown" and result.unknown_kind == "permission-denied"
    assert "etp_gap" not in subjects[0].facts


def test_endpoints_that_name_no_node_give_no_verdict(discover: Callable[..., Discovery]) -> None:
    d = discover(
        *seed003_with(service("web", "10.0.6.1"), endpoint_slice("web", [("10.60.1.14", None, True)]))
    )
    assert d.findings == []


# --- lb-advert-not-configured --------------------------------------------------------------------


def test_cilium_service_advertisement_without_selector(discover: Callable[..., Discovery]) -> None:
    objs = seed003_with(service("my-service", "10.0.6.1", policy="Cluster"))
    for o in objs:
        if o["metadata"]["name"] == "lb-ips":
            del o["spec"]["advertisements"][0]["selector"]
    d = discover(*objs)
    assert causes(d) == [("lb-advert-not-configured", "service/default/my-service")]
    f = finding(d, "lb-advert-not-configured")
    assert "CiliumBGPAdvertisement lb-ips has a Service advertisement without a selector" in f.message
    assert f.evidence["peer_advertisement_labels"] == {"advertise": "bgp"}


def test_cilium_service_selector_matching_nothing(discover: Callable[..., Discovery]) -> None:
    objs = seed003_with(service("my-service", "10.0.6.1", policy="Cluster", labels={"app": "web"}))
    for o in objs:
        if o["metadata"]["name"] == "lb-ips":
            o["spec"]["advertisements"][0]["selector"] = {"matchLabels": {"bgp-announce": "true"}}
    d = discover(*objs)
    assert causes(d) == [("lb-advert-not-configured", "service/default/my-service")]
    assert (
        "(bgp-announce=true) does not match Service default/my-service"
        in finding(d, "lb-advert-not-configured").message
    )


def test_cilium_peering_policy_without_service_selector(discover: Callable[..., Discovery]) -> None:
    d = discover(*c.peering_policy_cluster(), service("web", "10.0.6.1", policy="Cluster"))
    assert causes(d) == [
        ("lb-advert-not-configured", "service/default/web"),
        ("node-not-selected", "node/node-01"),
    ]
    assert (
        "CiliumBGPPeeringPolicy rack0 has no serviceSelector"
        in finding(d, "lb-advert-not-configured").message
    )


def metallb_cluster(*extra: Obj, pool_labels: dict[str, str] | None = None) -> list[Obj]:
    """Three k3s nodes, flannel, MetalLB in BGP mode with one pool and one peer."""
    return [
        c.node("k3s-1", "192.168.10.11", "10.42.0.0/24"),
        c.node("k3s-2", "192.168.10.12", "10.42.1.0/24"),
        c.node("k3s-3", "192.168.10.13", "10.42.2.0/24"),
        c.metrics_apiservice(True),
        metallb("IPAddressPool", "public", {"addresses": ["10.20.30.0/28"]}, labels=pool_labels),
        metallb(
            "BGPPeer",
            "opnsense",
            {"myASN": 64512, "peerASN": 64500, "peerAddress": "192.168.10.1"},
            version="v1beta2",
        ),
        service(
            "web",
            "10.20.30.1",
            annotations={"metallb.io/ip-allocated-from-pool": "public"},
        ),
        endpoint_slice("web", [("10.42.1.5", "k3s-2", True)]),
        *extra,
    ]


def metallb(
    kind: str, name: str, spec: Obj, version: str = "v1beta1", labels: dict[str, str] | None = None
) -> Obj:
    obj = c.cr(f"metallb.io/{version}", kind, name, spec, labels=labels)
    obj["metadata"]["namespace"] = "metallb-system"
    return obj


def test_metallb_pool_without_bgp_advertisement(discover: Callable[..., Discovery]) -> None:
    d = discover(*metallb_cluster())
    assert causes(d) == [("lb-advert-not-configured", "service/default/web")]
    f = finding(d, "lb-advert-not-configured")
    assert "no BGPAdvertisement selects IPAddressPool public" in f.message
    assert "making 0 advertisements" in f.message
    assert (f.evidence["pool"], f.evidence["pool_namespace"]) == ("public", "metallb-system")


def test_metallb_healthy_and_l2_only_are_clean(discover: Callable[..., Discovery]) -> None:
    d = discover(*metallb_cluster(metallb("BGPAdvertisement", "public", {"ipAddressPools": ["public"]})))
    assert causes(d) == []
    (check,) = [ClusterFinding.of(f) for f in d.findings]
    assert check.pending and check.evidence["speaker_nodes"] == ["k3s-1", "k3s-2", "k3s-3"]
    assert causes(discover(*metallb_cluster(metallb("L2Advertisement", "lan", {})))) == []


@pytest.mark.parametrize(
    ("advert", "expected"),
    [
        (
            {"ipAddressPoolSelectors": [{"matchLabels": {"bgp": "yes"}}]},
            "no BGPAdvertisement selects IPAddressPool",
        ),
        ({"ipAddressPools": ["public"], "peers": ["opnsense-2"]}, "names peers opnsense-2, and no BGPPeer"),
        (
            {"ipAddressPools": ["public"], "nodeSelectors": [{"matchLabels": {"bgp": "yes"}}]},
            "nodeSelectors of BGPAdvertisement public match no node",
        ),
    ],
)
def test_metallb_advertisement_selecting_nothing(
    discover: Callable[..., Discovery], advert: Obj, expected: str
) -> None:
    d = discover(*metallb_cluster(metallb("BGPAdvertisement", "public", advert)))
    assert causes(d) == [("lb-advert-not-configured", "service/default/web")]
    assert expected in finding(d, "lb-advert-not-configured").message


def test_metallb_etp_local_endpoints_outside_the_advertising_nodes(
    discover: Callable[..., Discovery],
) -> None:
    advert = {
        "ipAddressPools": ["public"],
        "nodeSelectors": [{"matchLabels": {"kubernetes.io/hostname": "k3s-1"}}],
    }
    d = discover(*metallb_cluster(metallb("BGPAdvertisement", "public", advert)))
    assert causes(d) == [("etp-local-no-endpoints", "service/default/web")]
    f = finding(d, "etp-local-no-endpoints")
    assert (f.evidence["endpoint_nodes"], f.evidence["speaker_nodes"]) == (["k3s-2"], ["k3s-1"])


def calico_with(external_cidrs: list[str] | None, lb_cidrs: list[str] | None) -> list[Obj]:
    objs = copy.deepcopy(c.calico_seed002())
    for o in objs:
        if o["kind"] == "BGPConfiguration":
            if external_cidrs is not None:
                o["spec"]["serviceExternalIPs"] = [{"cidr": x} for x in external_cidrs]
            if lb_cidrs is not None:
                o["spec"]["serviceLoadBalancerIPs"] = [{"cidr": x} for x in lb_cidrs]
    svc = service("web", None, external_ips=["203.0.113.10"])
    svc["spec"]["type"] = "ClusterIP"
    del svc["spec"]["healthCheckNodePort"]
    svc["spec"]["ports"][0].pop("nodePort")
    return [*objs, svc, endpoint_slice("web", [("10.42.1.5", "kubenode-wds-1", True)])]


def test_calico_external_ip_outside_service_external_ips(discover: Callable[..., Discovery]) -> None:
    d = discover(*calico_with(["198.51.100.0/24"], None))
    assert causes(d) == [("lb-advert-not-configured", "service/default/web")]
    f = finding(d, "lb-advert-not-configured")
    assert (
        "external IP 203.0.113.10 is outside the default BGPConfiguration's serviceExternalIPs" in f.message
    )
    assert f.evidence["calico_external_cidrs"] == ["198.51.100.0/24"]


def test_calico_external_ip_inside_service_external_ips_is_clean(discover: Callable[..., Discovery]) -> None:
    d = discover(*calico_with(["203.0.113.0/24"], None))
    assert causes(d) == []


def test_calico_lb_ip_without_service_load_balancer_ips(discover: Callable[..., Discovery]) -> None:
    objs = [o for o in calico_with(None, None) if o["kind"] != "Service"]
    d = discover(*objs, service("web", "10.0.6.1"))
    assert causes(d) == [("lb-advert-not-configured", "service/default/web")]
    assert "serviceLoadBalancerIPs (none)" in finding(d, "lb-advert-not-configured").message
    objs = [o for o in calico_with(None, ["10.0.6.0/24"]) if o["kind"] != "Service"]
    assert causes(discover(*objs, service("web", "10.0.6.1"))) == []


def test_k3s_servicelb_node_addresses_are_not_bgp_announcements(discover: Callable[..., Discovery]) -> None:
    objs = [o for o in calico_with(None, None) if o["kind"] != "Service"]
    d = discover(*objs, service("traefik", "192.168.100.251", policy="Cluster"))  # kubemaster's own IP
    assert d.findings == []


@pytest.mark.parametrize(
    "objs",
    [
        c.seed001(),
        c.seed003(),
        c.calico_seed002(),
        c.calico_seed002("projectcalico.org/v3"),
        c.peering_policy_cluster(),
    ],
    ids=["seed001", "seed003", "calico-v1", "calico-v3", "peering-policy"],
)
def test_healthy_seeds_stay_clean(discover: Callable[..., Discovery], objs: list[Obj]) -> None:
    d = discover(*objs)
    assert [f for f in causes(d) if f[0] in ("etp-local-no-endpoints", "lb-advert-not-configured")] == []


# --- with the routers' BGP routes: the recorded healthy lab run (its ToR learns 10.0.6.1/32) --------

RECORDING = Path(__file__).resolve().parents[3] / "captures" / "runs" / "healthy.json"


def judged_with_lab_routers(d: Discovery) -> Any:
    """The healthy lab run (captures/runs/healthy.json, seed 003's ToR `tor` learns 10.0.6.1/32 from
    master-01 and node-01) judged with this cluster's records, as `bgpdoctor run --context` does."""
    from bgpdoctor.engine.recording import load_recording
    from bgpdoctor.engine.run import RunOptions, evaluate

    inv, inventory_path, nodes, collected = load_recording(RECORDING)
    collected.cluster = [ClusterFinding.of(f) for f in d.findings]
    return evaluate(inv, inventory_path, collected, RunOptions(nodes=nodes))


def test_router_learns_etp_local_ip_from_a_node_without_endpoint(discover: Callable[..., Discovery]) -> None:
    """Corpus 56-58: the speaker ignores externalTrafficPolicy: Local and announces from every node."""
    d = discover(
        *seed003_with(service("web", "10.0.6.1"), endpoint_slice("web", [("10.60.1.14", "node-01", True)]))
    )
    assert causes(d) == []  # nothing is wrong in the API: only the routers can show it
    report = judged_with_lab_routers(d)
    (diag,) = [x for x in report.diagnoses if x.root_cause == "etp-local-no-endpoints"]
    assert diag.hosts == ["master-01"]
    assert (
        "The routers learn 10.0.6.1 (Service default/web, externalTrafficPolicy: Local) from master-01"
        in (diag.summary)
    )
    assert any(e.host == "tor" and "10.0.6.1/32" in e.output for e in diag.evidence)
    assert "kubectl -n default patch service web" in diag.fixes[0].text
    assert report.summary.exit_code == 1


def test_router_next_hops_all_with_endpoints_is_clean(discover: Callable[..., Discovery]) -> None:
    d = discover(
        *seed003_with(
            service("web", "10.0.6.1"),
            endpoint_slice("web", [("10.60.0.3", "master-01", True), ("10.60.1.14", "node-01", True)]),
        )
    )
    report = judged_with_lab_routers(d)
    assert report.diagnoses == [] and report.summary.exit_code == 0
    (result,) = [r for r in report.results if r.host == "service/default/web"]
    assert result.status == "pass"
    assert any(e.output == "10.0.6.1 on tor via 10.0.4.109, 10.0.4.110" for e in result.evidence)


def test_router_misses_an_ip_the_cluster_says_is_advertised(discover: Callable[..., Discovery]) -> None:
    """Corpus 63: the advertisement selects the Service, yet no router learning the nodes' routes has it."""
    d = discover(*seed003_with(service("api", "10.0.6.9", policy="Cluster")))
    report = judged_with_lab_routers(d)
    (diag,) = [x for x in report.diagnoses if x.root_cause == "lb-advert-not-configured"]
    assert "10.0.6.9 is missing from the BGP routes of tor" in diag.summary


def test_router_checks_without_router_routes_claim_nothing(discover: Callable[..., Discovery]) -> None:
    d = discover(
        *seed003_with(service("web", "10.0.6.1"), endpoint_slice("web", [("10.60.1.14", "node-01", True)]))
    )
    records = [ClusterFinding.of(f) for f in d.findings]
    assert cluster_subjects(records, Inventory(hosts={}), "home") == []


def test_a_recorded_run_replays_the_router_check(discover: Callable[..., Discovery], tmp_path: Path) -> None:
    from bgpdoctor.engine.recording import load_recording, recording_json
    from bgpdoctor.engine.run import RunOptions, evaluate

    d = discover(
        *seed003_with(service("web", "10.0.6.1"), endpoint_slice("web", [("10.60.1.14", "node-01", True)]))
    )
    inv, inventory_path, nodes, collected = load_recording(RECORDING)
    collected.cluster = [ClusterFinding.of(f) for f in d.findings]
    saved = tmp_path / "run.json"
    saved.write_text(recording_json(inv, inventory_path, nodes, collected))
    inv, inventory_path, nodes, replayed = load_recording(saved)
    report = evaluate(inv, inventory_path, replayed, RunOptions(nodes=nodes))
    assert [x.hosts for x in report.diagnoses if x.root_cause == "etp-local-no-endpoints"] == [["master-01"]]


FRR_CAPTURE = Path(__file__).resolve().parents[2] / "fixtures" / "services"


def opnsense_run(d: Discovery) -> Any:
    """A run whose only host is an FRR router (FRR 8.4, `maximum-paths 4`) that learns 10.0.6.1/32
    from all three nodes: real outputs from tests/fixtures/services/capture_etp_frr.py."""
    from datetime import UTC, datetime

    from bgpdoctor.drivers.frr import FRR
    from bgpdoctor.engine.active import ActiveResults
    from bgpdoctor.engine.collect import HostFacts
    from bgpdoctor.engine.run import Collected, RunOptions, evaluate
    from bgpdoctor.transport.base import CommandResult

    nodes = {"master-01": "10.0.4.109", "node-01": "10.0.4.110", "gpu-node-01": "10.0.4.111"}
    hosts: dict[str, Any] = {
        "opnsense": {
            "role": "router",
            "speaker": "frr",
            "asn": 65000,
            "connect": {"ssh": {"host": "10.0.4.250"}},
            "addresses": ["10.0.4.250"],
            "peers": [{"host": n, "address": ip, "asn": 65001} for n, ip in nodes.items()],
        },
        **{
            n: {
                "role": "node",
                "speaker": "gobgp",
                "asn": 65001,
                "connect": {"ssh": {"host": ip}},
                "addresses": [ip],
                "peers": [{"host": "opnsense", "address": "10.0.4.250", "asn": 65000}],
            }
            for n, ip in nodes.items()
        },
    }
    inv = Inventory.model_validate({"hosts": hosts})
    commands = FRR.commands(inv.hosts["opnsense"])
    outputs = {
        fact: CommandResult(commands[fact], 0, (FRR_CAPTURE / f"frr_{stem}.txt").read_bytes())
        for fact, stem in (
            ("frr.neighbors", "neighbors"),
            ("frr.summary", "summary"),
            ("frr.ip_route", "ip_route"),
        )
    }
    facts = {"opnsense": HostFacts("opnsense", inv.hosts["opnsense"], outputs=outputs, contacted=True)}
    collected = Collected(
        scope=["opnsense"],
        facts=facts,
        active=ActiveResults(),
        started=datetime(2026, 12, 6, 2, 10, tzinfo=UTC),
        wall_seconds=1,
        cluster=[ClusterFinding.of(f) for f in d.findings],
        context="home",
    )
    return evaluate(inv, "inventory.yaml", collected, RunOptions())


def test_frr_router_learns_etp_local_ip_from_every_node(discover: Callable[..., Discovery]) -> None:
    """Corpus 58: Cilium's v2 API announces an eTP=Local IP from all nodes to an OPNsense FRR peer."""
    d = discover(
        *seed003_with(service("web", "10.0.6.1"), endpoint_slice("web", [("10.60.1.14", "node-01", True)]))
    )
    report = opnsense_run(d)
    (diag,) = [x for x in report.diagnoses if x.root_cause == "etp-local-no-endpoints"]
    assert diag.hosts == ["gpu-node-01", "master-01"]
    assert any(e.host == "opnsense" and "10.0.4.111" in e.output for e in diag.evidence)
    d = discover(
        *seed003_with(
            service("web", "10.0.6.1"),
            endpoint_slice(
                "web",
                [
                    ("10.60.0.3", "master-01", True),
                    ("10.60.1.14", "node-01", True),
                    ("10.60.2.9", "gpu-node-01", True),
                ],
            ),
        )
    )
    assert [x for x in opnsense_run(d).diagnoses if x.root_cause == "etp-local-no-endpoints"] == []


def calico_tor_cluster(*extra: Obj) -> list[Obj]:
    """Calico (BIRD 1.6) on seed 003's three nodes, the ToR as a global BGPPeer, LB IPs announced."""
    gv = "crd.projectcalico.org/v1"
    return [
        *(o for o in c.seed003() if o["kind"] == "Node"),
        c.cr(gv, "BGPPeer", "tor", {"peerIP": "10.0.4.250", "asNumber": 65000}),
        c.cr(
            gv,
            "BGPConfiguration",
            "default",
            {
                "asNumber": 65001,
                "nodeToNodeMeshEnabled": True,
                "serviceLoadBalancerIPs": [{"cidr": "10.0.6.0/24"}],
            },
        ),
        c.cr(
            gv,
            "IPPool",
            "default-ipv4-ippool",
            {"cidr": "10.60.0.0/16", "ipipMode": "Never", "natOutgoing": True},
        ),
        *extra,
    ]


def test_calico_announcing_an_etp_local_ip_from_every_node(discover: Callable[..., Discovery]) -> None:
    """Corpus 56: Calico announces an eTP=Local LB IP from every node, the router spreads it to all."""
    d = discover(
        *calico_tor_cluster(
            service("web", "10.0.6.1"), endpoint_slice("web", [("10.60.1.14", "node-01", True)])
        )
    )
    assert causes(d) == []
    assert [f.evidence["announcer"] for f in d.findings] == ["calico"]
    report = opnsense_run(d)
    (diag,) = [x for x in report.diagnoses if x.root_cause == "etp-local-no-endpoints"]
    assert diag.hosts == ["gpu-node-01", "master-01"]
