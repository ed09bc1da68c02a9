"""MetalLB's native BGP speaker as a node daemon: what each node should run, and what it says it runs.

Intent: every BGPPeer whose ``nodeSelectors`` select a node (none: every node), minus the nodes
labelled ``node.kubernetes.io/exclude-from-external-load-balancers``, is a session that node's
speaker should hold.

State, where it is visible:

- the speaker's own log, read through the API (pods/log of the ``speaker`` container). The native
  implementation (metallb/metallb ``internal/bgp/native/native.go``, commit abd9bc48) logs with
  go-kit's JSON logger, each session's lines carrying ``peer``, ``localASN`` and ``peerASN``:
  ``"msg":"BGP session established"`` (``event: sessionUp``), ``"BGP session down"``
  (``sessionDown``), ``"peer sent notification, closing session"`` (``event: peerNotification``)
  and ``"failed to connect to peer"`` (``op: connect``). A NOTIFICATION is rendered by
  ``readNotification`` (``internal/bgp/native/messages.go``) as ``got BGP notification code
  0x0601 (Maximum Number of Prefixes Reached)``.
- ``ServiceBGPStatus`` (metallb.io/v1beta1, MetalLB >= 0.15; ``api/v1beta1/servicebgpstatus_types.go``,
  commit ae962f5d): per node and Service, ``status.peers``, the BGPPeers the speaker is configured
  to advertise the Service to.

Facts (the playbooks name the root cause): ``max_prefix_hit`` when a session's last word is the
peer's Cease 6/1 (kubernetes-retired/cloud-provider-equinix-metal#457: the provider's default limit
of 10), and ``speaker_config_stale`` when a node's speaker does not run a BGPPeer the cluster selects for it,
or its ServiceBGPStatus leaves out a peer the BGPAdvertisement sends the Service to (metallb#181:
a session re-added through node labels comes up and advertises nothing). A log or status that
could not be read says nothing: no fact rests on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bgpdoctor.kube.config import KubeClient
from bgpdoctor.kube.derive import KubeFacts
from bgpdoctor.kube.families import METALLB_SESSION, METALLB_SPEAKER
from bgpdoctor.kube.services import MetalLbPeer, MetalLbView, service_state
from bgpdoctor.kube.view import ClusterView, KubeNode, RawCluster
from bgpdoctor.redact import redact, redact_object

__all__ = [
    "SPEAKER_LOGS",
    "PeerState",
    "metallb_findings",
    "node_peers",
    "peer_states",
    "read_speaker_logs",
    "session_facts",
    "speaker_facts",
]

SPEAKER_LOGS = "metallb/speaker-logs"
SERVICE_STATUSES = "metallb.io/servicebgpstatuses"
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
SPEAKER_SELECTORS = ("component=speaker", "app.kubernetes.io/component=speaker")
SESSION_MESSAGES = {
    "BGP session established": "up",
    "BGP session down": "down",
    "peer sent notification, closing session": "notification",
    "failed to connect to peer": "connect-failed",
}
NOTIFICATION = re.compile(r"got BGP notification code 0x([0-9a-fA-F]{4}) \(([^)]*)\)")
LOG_TAIL = 5000
KEPT = 200  # session lines kept per speaker
Obj = Mapping[str, Any]


# --- reading -----------------------------------------------------------------------------------


def _is_metallb(labels: Mapping[str, Any]) -> bool:
    return labels.get("app") == "metallb" or labels.get("app.kubernetes.io/name") == "metallb"


def _session_lines(text: str) -> list[str]:
    kept = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("msg") in SESSION_MESSAGES:
            kept.append(line.strip())
    return kept[-KEPT:]


def read_speaker_logs(kc: KubeClient, raw: RawCluster, progress: Callable[[str], None] | None = None) -> None:
    """Add each MetalLB speaker's session log lines to ``raw.objects["metallb/speaker-logs"]``.

    Only when MetalLB's BGPPeers were read. A refused list or log goes to ``raw.problems``; the
    key (or that speaker's entry) then stays out, unknown rather than quiet. Lines are redacted.
    Example: [{"node": "node-01", "pod": "metallb-system/speaker-7xq2d", "lines": ['{"caller":...}']}]
    """
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from bgpdoctor.kube.reader import ResourceForbidden, ResourceNotFound, api_json

    if not raw.objects.get("metallb.io/bgppeers"):
        return
    (progress or (lambda _msg: None))(f"reading MetalLB speaker logs from {kc.where}")
    core = client.CoreV1Api(kc.api)
    pods: dict[str, Obj] = {}
    for selector in SPEAKER_SELECTORS:
        try:
            body = api_json(
                kc, "pods (MetalLB speakers)", core.list_pod_for_all_namespaces, label_selector=selector
            )
        except ResourceForbidden as exc:
            raw.problems.append(redact(str(exc)))
            return
        except ResourceNotFound:
            continue
        for pod in body.get("items") or []:
            meta = pod.get("metadata") or {}
            if _is_metallb(meta.get("labels") or {}):
                pods[f"{meta.get('namespace')}/{meta.get('name')}"] = pod
    entries = []
    for ref, pod in sorted(pods.items()):
        namespace, _, name = ref.partition("/")
        node = (pod.get("spec") or {}).get("nodeName")
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = "speaker" if "speaker" in containers else (containers[0] if containers else None)
        try:
            resp: Any = core.read_namespaced_pod_log(
                name,
                namespace,
                container=container,
                tail_lines=LOG_TAIL,
                _preload_content=False,
                _request_timeout=(kc.timeout, kc.timeout),
            )
            text = bytes(resp.data or b"").decode("utf-8", "replace")
        except ApiException as exc:
            raw.problems.append(redact(f"pods/log {ref}: HTTP {exc.status}: the speaker's log was not read"))
            continue
        entries.append({"node": node, "pod": ref, "lines": [redact(x) for x in _session_lines(text)]})
    raw.objects[SPEAKER_LOGS] = redact_object(entries)
    raw.resources[SPEAKER_LOGS] = "v1"


# --- state -------------------------------------------------------------------------------------


@dataclass
class PeerState:
    """What a node's speaker last said about one peer.

    Example: PeerState(address="147.75.64.1", state="down", notification="0601",
    notification_text="Maximum Number of Prefixes Reached", line='{"caller":"native.go:...}')
    """

    address: str
    state: str  # up, down, notification, connect-failed
    notification: str | None = None
    notification_text: str | None = None
    line: str = ""
    lines: list[str] = field(default_factory=list)


def _address(peer: str) -> str:
    """'10.0.0.1:179' -> '10.0.0.1'; '[fd00::1]:179' -> 'fd00::1'."""
    host, sep, port = peer.rpartition(":")
    if not sep or not port.isdigit():
        return peer
    return host.strip("[]")


def peer_states(lines: list[str]) -> dict[str, PeerState]:
    """The last state of each peer in a speaker's session lines (oldest first)."""
    out: dict[str, PeerState] = {}
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or not entry.get("peer"):
            continue
        address = _address(str(entry["peer"]))
        state = SESSION_MESSAGES.get(str(entry.get("msg")), "down")
        found = NOTIFICATION.search(str(entry.get("error") or ""))
        previous = out.get(address)
        ps = PeerState(address, state, line=line, lines=[*(previous.lines if previous else []), line][-5:])
        if found:
            ps.notification, ps.notification_text = found.group(1).lower(), found.group(2)
        elif state != "up" and previous is not None and previous.state != "up":
            ps.notification, ps.notification_text = previous.notification, previous.notification_text
        out[address] = ps
    return out


def node_peers(view: ClusterView, metallb: MetalLbView) -> dict[str, list[MetalLbPeer]]:
    """The BGPPeers each node's speaker should run (exclude-from-external-load-balancers: none)."""
    out: dict[str, list[MetalLbPeer]] = {}
    for node in view.nodes:
        if EXCLUDE_LB_LABEL in node.labels:
            continue
        peers = [p for p in metallb.peers if p.address and _selects(p, node)]
        if peers:
            out[node.name] = peers
    return out


def _selects(peer: MetalLbPeer, node: KubeNode) -> bool:
    return not peer.node_selectors or any(s.matches(node.labels) for s in peer.node_selectors)


# --- findings ----------------------------------------------------------------------------------


def _announced(view: ClusterView, raw: RawCluster) -> dict[str, list[str]]:
    """Per BGPPeer name, the LoadBalancer IPs MetalLB sends it (pool selected by a BGPAdvertisement)."""
    state = service_state(raw)
    metallb = state.metallb
    out: dict[str, list[str]] = {}
    if metallb is None:
        return out
    for svc in state.services:
        pool = metallb.pool_of(svc)
        if pool is None:
            continue
        for adv in metallb.bgp_advertisements:
            if not adv.selects_pool(pool):
                continue
            if adv.service_selectors and not any(s.matches(svc.labels) for s in adv.service_selectors):
                continue
            for peer in metallb.peers:
                if not adv.peers or peer.name in adv.peers:
                    out.setdefault(peer.name, [])
                    out[peer.name] += [ip for ip in svc.ips if ip not in out[peer.name]]
    return out


def _service_peers(raw: RawCluster) -> dict[tuple[str, str], set[str]] | None:
    """(node, "ns/service") -> the peers its ServiceBGPStatus lists; None when not read."""
    if SERVICE_STATUSES not in raw.objects:
        return None
    out: dict[tuple[str, str], set[str]] = {}
    for obj in raw.objects[SERVICE_STATUSES]:
        status = obj.get("status") or {}
        key = (str(status.get("node")), f"{status.get('serviceNamespace')}/{status.get('serviceName')}")
        out[key] = {str(p) for p in status.get("peers") or []}
    return out


def session_facts(evidence: Mapping[str, Any]) -> dict[str, Any]:
    """A session the peer closed for too many prefixes, as facts (its end: the peer)."""
    node = str(evidence.get("node"))
    facts: dict[str, Any] = {
        "host": node,
        "max_prefix_hit": True,
        "max_prefix_end": str(evidence.get("peer_address")),
        "max_prefix_sender": node,
        "max_prefix_reported_by": f"{node} (MetalLB speaker log)",
        "max_prefix_daemon": "unknown",
        "max_prefix_sender_address": str(evidence.get("node_address") or node),
    }
    if evidence.get("peer_asn"):
        facts["max_prefix_end_asn"] = int(evidence["peer_asn"])
    return facts


def speaker_facts(evidence: Mapping[str, Any]) -> dict[str, Any]:
    """A speaker that does not run what the cluster configures, as facts."""
    return {
        "host": str(evidence.get("node")),
        "node_speaker": "metallb",
        "stale_neighbors": [str(x) for x in evidence.get("stale", [])],
        "speaker_config_stale": True,
    }


def metallb_findings(view: ClusterView, raw: RawCluster) -> list[KubeFacts]:
    """Facts from MetalLB's speakers (see the module docstring): a session closed by the peer's
    Cease 6/1 (``max_prefix_hit``), a speaker not running what the cluster configures
    (``speaker_config_stale``). Example: [KubeFacts("node/ny5-node-1", "...", {"max_prefix_hit": True,
    "max_prefix_end": "147.75.64.1", ...}, {"node": "ny5-node-1", "peer_address": "147.75.64.1",
    "notification": "0601", ...}, family="metallb-session")]"""
    state = service_state(raw)
    metallb = state.metallb
    if metallb is None or not metallb.peers:
        return []
    intent = node_peers(view, metallb)
    logs = {str(e.get("node")): e for e in raw.objects.get(SPEAKER_LOGS, []) if e.get("node")}
    announced = _announced(view, raw)
    statuses = _service_peers(raw)
    out: list[KubeFacts] = []
    for node_name, peers in sorted(intent.items()):
        node = view.node(node_name)
        entry = logs.get(node_name)
        states = peer_states([str(x) for x in entry.get("lines", [])]) if entry else None
        stale: list[str] = []
        for peer in peers:
            assert peer.address is not None
            ips = announced.get(peer.name, [])
            ps = states.get(peer.address) if states is not None else None
            if ps is not None and ps.state != "up" and ps.notification == "0601":
                evidence: dict[str, Any] = {
                    "node": node_name,
                    "node_address": node.internal_ip if node else None,
                    "peer": peer.name,
                    "peer_address": peer.address,
                    "peer_asn": peer.asn,
                    "my_asn": peer.my_asn,
                    "announced": ips,
                    "notification": ps.notification,
                    "log_lines": ps.lines,
                    "speaker_pod": entry.get("pod") if entry else None,
                }
                out.append(
                    KubeFacts(
                        f"node/{node_name}",
                        f"MetalLB's speaker on {node_name} got NOTIFICATION Cease / Maximum Number of "
                        f"Prefixes Reached (6/1) from BGPPeer {peer.name} ({peer.address}, AS {peer.asn}) "
                        f"and the session is down: MetalLB announces it {len(ips)} LoadBalancer IPs, "
                        "one /32 each",
                        session_facts(evidence),
                        evidence,
                        hosts=[node_name],
                        related=[node_name],
                        family=METALLB_SESSION,
                    )
                )
            if states is not None and states and ps is None:
                stale.append(
                    f"{peer.address} (AS {peer.asn}, from BGPPeer {peer.name}) is configured but its speaker "
                    "never opened a session to it"
                )
            if statuses is not None and (ps is None or ps.state == "up"):
                for svc in state.services:
                    ref = f"{svc.namespace}/{svc.name}"
                    listed = statuses.get((node_name, ref))
                    if listed is not None and any(ip in ips for ip in svc.ips) and peer.name not in listed:
                        stale.append(
                            f"Service {ref} ({', '.join(svc.ips)}) is not advertised to BGPPeer {peer.name} "
                            f"({peer.address}): its ServiceBGPStatus on {node_name} lists "
                            f"{', '.join(sorted(listed)) or 'no peer'}"
                        )
        if stale:
            said: dict[str, Any] = {
                "node": node_name,
                "speaker": "metallb",
                "stale": stale,
                "speaker_pod": entry.get("pod") if entry else None,
                "peers": [{"address": p.address, "asn": p.asn, "name": p.name} for p in peers],
            }
            out.append(
                KubeFacts(
                    f"node/{node_name}",
                    f"MetalLB's speaker on {node_name} does not run what the cluster configures: "
                    + "; ".join(stale),
                    speaker_facts(said),
                    said,
                    hosts=[node_name],
                    related=[node_name],
                    family=METALLB_SPEAKER,
                )
            )
    return out
