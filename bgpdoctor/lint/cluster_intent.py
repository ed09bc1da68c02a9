"""The cluster's intent read from manifests: Calico's node-to-node mesh left on next to route
reflectors (``mesh-vs-rr-transition``), judged by the same reader as the live cluster
(bgpdoctor.kube.cluster_intent.route_reflectors)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bgpdoctor.kube.cluster_intent import route_reflectors
from bgpdoctor.lint.judging import Saying, lint_subject
from bgpdoctor.lint.k8s import K8sInputs, src_loc

if TYPE_CHECKING:
    from bgpdoctor.lint.checks import ConfiguredNetwork


def check_calico_mesh_reflectors(w: ConfiguredNetwork, k: K8sInputs) -> None:
    """A BGPConfiguration that leaves the mesh on (true, or the default one not stating it) while
    the files configure route reflectors. Files that state no BGPConfiguration say nothing about
    the mesh (the cluster may hold one): mesh_with_reflectors stays unknown."""
    reflectors, rr_peers = route_reflectors(k.nodes, k.calico_peers)
    if not reflectors and not rr_peers:
        return
    mesh = k.calico_mesh()
    default = next((c for c in reversed(k.calico_configs) if c.name == "default"), None)
    if mesh is not None and not mesh[0]:
        off = lint_subject("cluster", "bgpconfiguration/default", [], {"mesh_with_reflectors": False})
        w.conclude(off, mesh[1], {})
        return
    if mesh is None and default is None:
        return
    where = mesh[1] if mesh is not None else src_loc(default.source if default else None)
    stated = (
        "nodeToNodeMeshEnabled: true" if mesh is not None else "nodeToNodeMeshEnabled unset, which means on"
    )
    parts = []
    if reflectors:
        parts.append(f"nodes {', '.join(sorted(reflectors))} are route reflectors")
    if rr_peers:
        parts.append(f"BGPPeers {', '.join(p.name for p in rr_peers)} peer nodes by peerSelector")
    asn = k.calico_asn()
    facts: dict[str, object] = {
        "mesh_with_reflectors": True,
        "calico_mesh": stated,
        "rr_nodes": sorted(reflectors),
        "rr_cluster_ids": sorted(set(reflectors.values())),
        "rr_peers": [p.name for p in rr_peers],
        "calico_asn": asn[0] if asn else 64512,
    }
    others = [src_loc(p.source) for p in rr_peers]
    others += [src_loc(n.source) for n in k.nodes if n.name in reflectors]
    said = Saying(
        "error",
        where,
        f"Calico's node-to-node mesh is on ({stated}) while {' and '.join(parts)}: every node runs mesh and "
        "reflector sessions to the same addresses; set nodeToNodeMeshEnabled: false",
        others,
        {name: value for name, value in facts.items() if name != "mesh_with_reflectors"},
    )
    subject = lint_subject("cluster", "bgpconfiguration/default", sorted(reflectors), facts)
    w.conclude(subject, where, {"mesh-vs-rr-transition": said})
