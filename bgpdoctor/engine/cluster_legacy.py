"""Findings of recordings made before bgpdoctor.kube stated facts (no `cluster_raw`).

Those recordings hold each finding as a root-cause id with its evidence; the ids below are that
format's vocabulary, not a verdict: the facts read from the evidence are judged by today's
playbooks like any other (engine/cluster.py). A finding of another kind keeps its id.
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


def legacy_facts(f: ClusterFinding) -> ClusterFinding | None:
    """The facts an older recording's finding states, or None when it is of another kind."""
    from bgpdoctor.kube.services import SERVICE

    if f.root_cause in _SERVICE or (not f.root_cause and (f.evidence or {}).get("verify") == "router-rib"):
        facts = _SERVICE[f.root_cause](f.evidence or {}, "") if f.root_cause else {}
        return replace(f, root_cause="", facts=facts, family=SERVICE)
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
