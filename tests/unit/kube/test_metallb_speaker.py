"""MetalLB's native speaker as a node daemon: BGPPeers as per-node intent, its session state from
its own log (pods/log) and its ServiceBGPStatus.

The log lines are what metallb/metallb internal/bgp/native/native.go (commit abd9bc48) logs through
go-kit's JSON logger (keys in sorted order, each session's lines carrying peer, localASN and
peerASN): `level.Error(s.logger).Log("event", "peerNotification", "error", err, "msg", "peer sent
notification, closing session")` in consumeBGP, `level.Error(s.logger).Log("op", "connect", "error",
err, "msg", "failed to connect to peer")` in run, and messages.go's readNotification error `got BGP
notification code 0x%04x (%s)`. ServiceBGPStatus is api/v1beta1/servicebgpstatus_types.go (commit
ae962f5d, MetalLB >= 0.15); its CRD is not in tests/fixtures/crds, so it is served without schema
validation.

- kubernetes-retired/cloud-provider-equinix-metal#457: Equinix Metal's routers (169.254.255.1 and
  .2, AS 65530) have a default max-prefix of 10; the 11th LoadBalancer IP tears the sessions down.
- metallb#181: a session re-added through node labels comes up but the speaker advertises nothing
  to it (as ServiceBGPStatus would show it: the peer missing from the Service's status on the node).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bgpdoctor.engine.cluster import ClusterFinding
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.kube.discover import Discovery, discover_cluster
from tests.fakeapi import clusters as c
from tests.fakeapi import write_kubeconfig
from tests.unit.kube.test_cluster_intent import ApiWithWorkloads, _report, _valid, cluster_result, of
from tests.unit.kube.test_services_api import metallb, service

Obj = dict[str, Any]


def speaker_pod(node: str) -> Obj:
    """A speaker pod of MetalLB's manifests (metallb-native.yaml labels: app=metallb, component=speaker)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"speaker-{node}",
            "namespace": "metallb-system",
            "uid": f"uid-speaker-{node}",
            "labels": {"app": "metallb", "component": "speaker"},
            "creationTimestamp": c.T0,
        },
        "spec": {
            "nodeName": node,
            "hostNetwork": True,
            "containers": [{"name": "speaker", "image": "quay.io/metallb/speaker:v0.14.9"}],
        },
        "status": {"phase": "Running"},
    }


def log_line(peer: str, my_asn: int, peer_asn: int, ts: str, **fields: Any) -> str:
    entry = {
        "caller": "native.go:121",
        "level": "error" if "error" in fields else "info",
        "localASN": my_asn,
        "peer": f"{peer}:179",
        "peerASN": peer_asn,
        "ts": ts,
        **fields,
    }
    return json.dumps(dict(sorted(entry.items())), separators=(",", ":"))


NOTIFIED = "got BGP notification code 0x0601 (Maximum Number of Prefixes Reached)"


def equinix_log(peer: str, recovered: bool = False) -> str:
    lines = [
        '{"caller":"main.go:106","msg":"MetalLB speaker starting version 0.14.9","level":"info"}',
        log_line(
            peer, 65000, 65530, "2021-05-05T10:00:01Z", event="sessionUp", msg="BGP session established"
        ),
        log_line(
            peer,
            65000,
            65530,
            "2021-05-05T10:12:31Z",
            event="peerNotification",
            error=NOTIFIED,
            msg="peer sent notification, closing session",
        ),
        log_line(peer, 65000, 65530, "2021-05-05T10:12:31Z", event="sessionDown", msg="BGP session down"),
        log_line(
            peer,
            65000,
            65530,
            "2021-05-05T10:12:33Z",
            op="connect",
            error=f'read OPEN from "{peer}:179": {NOTIFIED}',
            msg="failed to connect to peer",
        ),
    ]
    if recovered:
        lines.append(
            log_line(
                peer, 65000, 65530, "2021-05-05T11:00:00Z", event="sessionUp", msg="BGP session established"
            )
        )
    return "\n".join(lines) + "\n"


def equinix_cluster(services: int = 11) -> list[Obj]:
    objs = [
        c.node("ny5-node-1", "10.65.4.3", "10.42.0.0/24"),
        metallb("IPAddressPool", "eip", {"addresses": ["147.75.80.0/28"]}),
        metallb("BGPAdvertisement", "eip", {"ipAddressPools": ["eip"]}),
        metallb(
            "BGPPeer",
            "equinix-1",
            {"myASN": 65000, "peerASN": 65530, "peerAddress": "169.254.255.1"},
            version="v1beta2",
        ),
        speaker_pod("ny5-node-1"),
    ]
    objs += [service(f"svc-{i}", f"147.75.80.{i + 1}", policy="Cluster") for i in range(services)]
    return objs


@pytest.fixture
def discover(tmp_path: Path) -> Iterator[Callable[..., Discovery]]:
    servers: list[ApiWithWorkloads] = []

    def run(
        *objs: Obj,
        logs: dict[str, str] | None = None,
        statuses: tuple[Obj, ...] = (),
        forbidden: tuple[str, ...] = (),
    ) -> Discovery:
        assert [p for o in objs for p in _valid(o)] == []
        api = ApiWithWorkloads()
        api.add(*objs)
        for node, text in (logs or {}).items():
            api.pod_logs[("metallb-system", f"speaker-{node}", "speaker")] = text
        if statuses:
            api.kinds[("metallb.io", "servicebgpstatuses")] = "ServiceBGPStatus"
            api.crs[("metallb.io", "servicebgpstatuses")] = list(statuses)
            api.served[("metallb.io", "servicebgpstatuses")] = ["v1beta1"]
        api.forbidden |= set(forbidden)
        servers.append(api.start())  # type: ignore[arg-type]
        path = write_kubeconfig(tmp_path / f"kubeconfig-{len(servers)}", {"home": (api.url, api.token)})
        return discover_cluster("home", str(path), ssh_config=str(tmp_path / "no-ssh-config"))

    yield run
    for api in servers:
        api.stop()


# --- max-prefix-exceeded (kubernetes-retired/cloud-provider-equinix-metal#457) --------------------


def test_the_peers_cease_6_1_in_the_speaker_log_is_max_prefix_exceeded(
    discover: Callable[..., Discovery],
) -> None:
    d = discover(*equinix_cluster(), logs={"ny5-node-1": equinix_log("169.254.255.1")})
    (f,) = of(d, "max-prefix-exceeded")
    assert "BGPPeer equinix-1 (169.254.255.1, AS 65530)" in f.message
    assert "MetalLB announces it 11 LoadBalancer IPs" in f.message
    assert cluster_result(f)[0] == "fail"
    (diag,) = _report(Inventory(hosts={}), {}, [f]).diagnoses
    assert diag.root_cause == "max-prefix-exceeded" and diag.hosts == ["169.254.255.1"]
    assert diag.summary.startswith(
        "169.254.255.1 received more than its maximum number of prefixes from ny5-node-1"
    )
    assert "ny5-node-1 (MetalLB speaker log)" in diag.summary
    (log,) = [e for e in diag.evidence if e.note == "the speaker's session log"]
    assert "got BGP notification code 0x0601" in log.output
    assert log.command == "kubernetes API: pods/log metallb-system/speaker-ny5-node-1 -c speaker"


def test_a_session_that_came_back_is_no_finding(discover: Callable[..., Discovery]) -> None:
    d = discover(*equinix_cluster(), logs={"ny5-node-1": equinix_log("169.254.255.1", recovered=True)})
    assert of(d, "max-prefix-exceeded") == []


def test_an_unreadable_speaker_log_gives_no_finding_and_says_why(discover: Callable[..., Discovery]) -> None:
    d = discover(
        *equinix_cluster(),
        logs={"ny5-node-1": equinix_log("169.254.255.1")},
        forbidden=("/api/v1/namespaces/metallb-system/pods/speaker-ny5-node-1/log",),
    )
    assert of(d, "max-prefix-exceeded") == []
    assert any("pods/log metallb-system/speaker-ny5-node-1: HTTP 403" in n for n in d.notes)


# --- stale-speaker-config (metallb#181) -------------------------------------------------------------


def service_status(node: str, svc: str, peers: list[str]) -> Obj:
    return {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "ServiceBGPStatus",
        "metadata": {"name": f"{node}-{svc}", "namespace": "metallb-system", "uid": f"uid-sbs-{node}-{svc}"},
        "spec": {},
        "status": {"node": node, "serviceName": svc, "serviceNamespace": "default", "peers": peers},
    }


def relabelled_cluster() -> list[Obj]:
    """Two nodes selected by label for BGPPeer tor; k3s-2 got its label back (re-added)."""
    return [
        c.node("k3s-1", "192.168.10.11", "10.42.0.0/24", labels={"bgp": "enabled"}),
        c.node("k3s-2", "192.168.10.12", "10.42.1.0/24", labels={"bgp": "enabled"}),
        metallb("IPAddressPool", "public", {"addresses": ["10.20.30.0/28"]}),
        metallb("BGPAdvertisement", "public", {"ipAddressPools": ["public"]}),
        metallb(
            "BGPPeer",
            "tor",
            {
                "myASN": 64512,
                "peerASN": 64500,
                "peerAddress": "192.168.10.1",
                "nodeSelectors": [{"matchLabels": {"bgp": "enabled"}}],
            },
            version="v1beta2",
        ),
        service(
            "web", "10.20.30.1", policy="Cluster", annotations={"metallb.io/ip-allocated-from-pool": "public"}
        ),
        speaker_pod("k3s-1"),
        speaker_pod("k3s-2"),
    ]


def up_log() -> str:
    return (
        log_line(
            "192.168.10.1",
            64512,
            64500,
            "2026-12-06T05:00:00Z",
            event="sessionUp",
            msg="BGP session established",
        )
        + "\n"
    )


def test_a_re_added_session_that_advertises_nothing_is_stale(discover: Callable[..., Discovery]) -> None:
    d = discover(
        *relabelled_cluster(),
        logs={"k3s-1": up_log(), "k3s-2": up_log()},
        statuses=(service_status("k3s-1", "web", ["tor"]), service_status("k3s-2", "web", [])),
    )
    (f,) = [x for x in of(d, "stale-speaker-config") if x.evidence.get("speaker") == "metallb"]
    assert f.subject == "node/k3s-2"
    assert "Service default/web (10.20.30.1) is not advertised to BGPPeer tor (192.168.10.1)" in f.message
    status, _, subjects = cluster_result(f)
    assert status == "fail" and subjects[0].facts["speaker_config_stale"] is True
    (diag,) = _report(Inventory(hosts={}), {}, [f]).diagnoses
    assert diag.root_cause == "stale-speaker-config" and diag.hosts == ["k3s-2"]
    assert diag.fixes[0].text == (
        "kubectl -n metallb-system delete pod -l component=speaker --field-selector spec.nodeName=k3s-2"
    )


def test_every_node_advertising_to_its_peers_is_clean(discover: Callable[..., Discovery]) -> None:
    d = discover(
        *relabelled_cluster(),
        logs={"k3s-1": up_log(), "k3s-2": up_log()},
        statuses=(service_status("k3s-1", "web", ["tor"]), service_status("k3s-2", "web", ["tor"])),
    )
    assert [x for x in of(d, "stale-speaker-config") if x.evidence.get("speaker") == "metallb"] == []


def test_without_service_statuses_nothing_is_said_about_advertisements(
    discover: Callable[..., Discovery],
) -> None:
    d = discover(*relabelled_cluster(), logs={"k3s-1": up_log(), "k3s-2": up_log()})
    assert [x for x in of(d, "stale-speaker-config") if x.evidence.get("speaker") == "metallb"] == []


def test_the_findings_survive_a_recording(discover: Callable[..., Discovery]) -> None:
    d = discover(*equinix_cluster(), logs={"ny5-node-1": equinix_log("169.254.255.1")})
    (f,) = of(d, "max-prefix-exceeded")
    again = ClusterFinding(**json.loads(json.dumps(f.to_dict())))
    assert cluster_result(again)[0] == "fail"
    assert d.raw is not None and d.raw.objects["metallb/speaker-logs"][0]["node"] == "ny5-node-1"
