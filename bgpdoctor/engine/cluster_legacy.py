"""Findings of recordings made before bgpdoctor.kube stated facts (no `cluster_raw`).

Those recordings hold each finding as a root-cause id with its evidence; the ids below are that
format's vocabulary, not a verdict: the facts read from the evidence (and, for the intent records,
the family they now belong to, bgpdoctor/kube/families.py) are judged by today's playbooks like any
other (engine/cluster.py). A finding of another kind keeps its id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bgpdoctor.engine.cluster import ClusterFinding


def _unselected(ev: dict[str, Any], node: str) -> dict[str, Any]:
    from bgpdoctor.kube.derive import selector_label

    selectors: dict[str, str] = ev.get("node_selectors", {})
    facts: dict[str, Any] = {
        "unselected_nodes": [node],
        "node_selectors": "; ".join(f"{k}: {v}" for k, v in selectors.items()),
    }
    if label := ev.get("selector_label") or selector_label(selectors):
        facts["selector_label"] = label
    return facts


def _without_peers(ev: dict[str, Any], node: str) -> dict[str, Any]:
    return {"host": node, "bgp_peer_count": 0, "selected_by": list(ev.get("selected_by", []))}


def _pod_cidr(ev: dict[str, Any], node: str) -> dict[str, Any]:
    return {"host": node, "advertises_pod_cidrs": False}


def _direct_routes(ev: dict[str, Any], node: str) -> dict[str, Any]:
    ordered = sorted(dict(ev.get("subnets", {})).values(), key=len, reverse=True)
    return {
        "auto_direct_routes_across_l3": True,
        "local_nodes": ordered[0] if ordered else [],
        "remote_nodes": [n for g in ordered[1:] for n in g],
    }


def _pool(ev: dict[str, Any], node: str) -> dict[str, Any]:
    return {
        "lb_pool_name": ev.get("pool", ""),
        "lb_pool_cidr": str(ev.get("block")),
        "lb_pool_overlaps": [str(ev.get("subnet"))],
    }


def _lb_advert(ev: dict[str, Any], node: str) -> dict[str, Any]:
    return {} if ev.get("verify") else {"lb_advert_missing": str(ev.get("missing", ""))}


def _etp_gap(ev: dict[str, Any], node: str) -> dict[str, Any]:
    if ev.get("verify") or isinstance(ev.get("unknown"), dict):
        return {}
    return {"etp_gap": str(ev.get("gap", "")), "advertising_without_endpoint": []}


_SERVICE = {"lb-advert-not-configured": _lb_advert, "etp-local-no-endpoints": _etp_gap}
_RECORDED: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    "node-not-selected": _unselected,
    "node-without-peers": _without_peers,
    "podcidr-not-advertised": _pod_cidr,
    "auto-direct-routes-across-l3": _direct_routes,
    "lb-pool-in-node-subnet": _pool,
}
_ON_A_NODE = ("node-not-selected", "node-without-peers", "podcidr-not-advertised")


def _unknown(ev: dict[str, Any]) -> bool:
    return isinstance(ev.get("unknown"), dict)


def _mesh(ev: dict[str, Any]) -> dict[str, Any]:
    reflectors: dict[str, str] = dict(ev.get("reflector_nodes") or {})
    facts: dict[str, Any] = {
        "rr_nodes": sorted(reflectors),
        "rr_cluster_ids": sorted(set(reflectors.values())),
        "rr_peers": [str(p) for p in ev.get("rr_peers", [])],
        "calico_asn": int(ev.get("calico_asn") or 64512),
    }
    if _unknown(ev):
        return {**facts, "mesh_with_reflectors": None}
    return {**facts, "mesh_with_reflectors": True, "calico_mesh": str(ev.get("mesh"))}


def _claims(ev: dict[str, Any]) -> dict[str, Any]:
    return {
        "lb_service": f"{ev.get('namespace')}/{ev.get('name')}",
        "lb_service_namespace": str(ev.get("namespace")),
        "lb_service_name": str(ev.get("name")),
        "lb_controllers": [str(c) for c in ev.get("controllers", [])],
        "lb_controller_conflict": None if _unknown(ev) else True,
    }


def _collision(ev: dict[str, Any]) -> dict[str, Any]:
    return {
        "host": str(ev.get("node")),
        "local_peer_address": str(ev.get("peer_address")),
        "speaker_collision": True,
        "colliding_speakers": [str(x) for x in ev.get("speakers", [])],
        "metallb_peer": str(ev.get("metallb_peer")),
        "calico_lb_cidrs": [str(x) for x in ev.get("lb_cidrs", [])],
    }


def _readiness(ev: dict[str, Any]) -> dict[str, Any]:
    return {
        "host": str(ev.get("node")),
        "local_peer_address": str(ev.get("peer_address")),
        "readiness_gated_on_peer": True,
        "calico_bgp_peer": str(ev.get("bgp_peer")),
    }


def _neighbors(ev: dict[str, Any]) -> dict[str, Any]:
    return {"host": str(ev.get("node")), "node_speaker": str(ev.get("speaker"))}


def _intent(f: ClusterFinding) -> ClusterFinding | None:
    """An intent finding as its family's facts, or None when the id is not one of them."""
    from bgpdoctor.kube import families
    from bgpdoctor.kube.cilium_agent import bind_facts
    from bgpdoctor.kube.ipam import originated_facts
    from bgpdoctor.kube.metallb import session_facts, speaker_facts

    ev = dict(f.evidence or {})
    read: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
        "mesh-vs-rr-transition": (families.CALICO_MESH, _mesh),
        "duplicate-lb-controller": (families.LB_CLAIMS, _claims),
        "speaker-collision": (families.LOCAL_PEER, _collision),
        "readiness-gated-on-peer": (families.LOCAL_PEER, _readiness),
        "cilium-no-bind-capability": (families.AGENT_BIND, bind_facts),
        "unallocated-prefix-advertised": (families.ORIGINATED, originated_facts),
        "max-prefix-exceeded": (families.METALLB_SESSION, session_facts),
        "stale-speaker-config": (families.CONFIGURED_NEIGHBORS, _neighbors),
    }
    if f.root_cause == "stale-speaker-config" and ev.get("speaker") == "metallb":
        read[f.root_cause] = (families.METALLB_SPEAKER, speaker_facts)
    if f.root_cause not in read:
        return None
    family, facts_of = read[f.root_cause]
    facts = facts_of(ev)
    node = str(ev.get("node")) if ev.get("node") else ""
    hosts = [node] if node else []
    if family == families.CALICO_MESH:
        hosts = [] if _unknown(ev) else list(facts["rr_nodes"])
    return replace(f, root_cause="", facts=facts, family=family, hosts=hosts, related=[node] if node else [])


def legacy_facts(f: ClusterFinding) -> ClusterFinding | None:
    """The facts an older recording's finding states, or None when it is of another kind."""
    from bgpdoctor.kube.services import SERVICE

    if f.root_cause in _SERVICE or (not f.root_cause and (f.evidence or {}).get("verify") == "router-rib"):
        facts = _SERVICE[f.root_cause](f.evidence or {}, "") if f.root_cause else {}
        return replace(f, root_cause="", facts=facts, family=SERVICE)
    if (intent := _intent(f)) is not None:
        return intent
    read = _RECORDED.get(f.root_cause)
    node = f.subject.removeprefix("node/") if f.subject.startswith("node/") else ""
    if read is None or (f.root_cause in _ON_A_NODE and not node):
        return None
    facts = read(f.evidence or {}, node)
    if f.root_cause == "lb-pool-in-node-subnet":
        facts["lb_pool_name"] = (f.evidence or {}).get("pool", f.subject)
    hosts = [node] if node else []
    if f.root_cause == "auto-direct-routes-across-l3":
        hosts = [*facts["local_nodes"], *facts["remote_nodes"]]
    return replace(f, root_cause="", facts=facts, hosts=hosts, related=[node] if node else [])
