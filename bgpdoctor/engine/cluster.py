"""Configuration findings read from the Kubernetes API (bgpdoctor.kube) as `cluster` subjects.

`bgpdoctor run --context C` reads the cluster once; each finding becomes a subject whose facts the
`cluster-config` check and the config-only playbooks (auto-direct-routes-across-l3,
node-not-selected, lb-pool-in-node-subnet, podcidr-not-advertised) match on.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from bgpdoctor.engine.cluster_intent import INTENT_CAUSES, intent_subjects
from bgpdoctor.engine.lb_services import SERVICE_CAUSES, cluster_evidence, service_subjects
from bgpdoctor.engine.subject import Subject
from bgpdoctor.engine.vips import suggest_pool
from bgpdoctor.engine.world import World
from bgpdoctor.inventory_model import Inventory, IpNetwork


@dataclass
class ClusterFinding:
    """A configuration finding from the cluster, as recorded (same fields as kube's KubeFinding)."""

    root_cause: str
    subject: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, finding: Any) -> ClusterFinding:
        return cls(
            finding.root_cause, finding.subject, finding.message, _jsonable(dict(finding.evidence or {}))
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def pending(self) -> bool:
        """A router check (engine/lb_services.py): the routers' routes decide, it is no finding yet."""
        return self.evidence.get("verify") in ("router-rib", "daemon-neighbors", "speaker-rib")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


_LABEL = re.compile(r"([\w./-]+)=([\w.-]+)|([\w./-]+) in \(([\w.-]+)")


def _selector_label(selectors: dict[str, str]) -> str | None:
    """A label that one of the selectors would match, e.g. "node-type=remote"."""
    for text in selectors.values():
        for part in text.split(","):
            m = _LABEL.fullmatch(part.strip())
            if m:
                return f"{m.group(1)}={m.group(2)}" if m.group(1) else f"{m.group(3)}={m.group(4)}"
    return None


def cluster_subjects(
    findings: list[ClusterFinding], inv: Inventory, context: str | None, world: World | None = None
) -> list[Subject]:
    subjects = []
    for f in findings:
        if f.root_cause in SERVICE_CAUSES:
            subjects += service_subjects(f, context, world)
            continue
        if f.root_cause in INTENT_CAUSES:
            subjects += intent_subjects(f, context, world)
            continue
        ev = f.evidence or {}
        s = Subject("cluster", f.subject, [], [])
        s.add("ok", False, cluster_evidence(f, context))
        s.add("root_cause", f.root_cause)
        s.add("message", f.message)
        node = f.subject.removeprefix("node/") if f.subject.startswith("node/") else None
        if node:
            s.hosts = [node]
            s.related = [node]
        if f.root_cause == "node-not-selected" and node:
            s.add("unselected_nodes", [node])
            s.add("node_selectors", "; ".join(f"{k}: {v}" for k, v in ev.get("node_selectors", {}).items()))
            label = ev.get("selector_label") or _selector_label(ev.get("node_selectors", {}))
            if label:
                s.add("selector_label", label)
        elif f.root_cause == "auto-direct-routes-across-l3":
            groups: dict[str, list[str]] = ev.get("subnets", {})
            ordered = sorted(groups.values(), key=len, reverse=True)
            s.add("auto_direct_routes_across_l3", True)
            s.add("local_nodes", ordered[0] if ordered else [])
            s.add("remote_nodes", [n for g in ordered[1:] for n in g])
            s.add("cluster_pod_cidr", str(inv.pod_cidr) if inv.pod_cidr else _supernet(inv))
            s.hosts = [n for g in ordered for n in g]
        elif f.root_cause == "lb-pool-in-node-subnet":
            s.add("lb_pool_name", ev.get("pool", f.subject))
            s.add("lb_pool_cidr", str(ev.get("block")))
            s.add("lb_pool_overlaps", [str(ev.get("subnet"))])
            s.add("lb_pool_suggested", suggest_pool(str(ev.get("block")), [str(ev.get("subnet"))]))
        elif f.root_cause == "podcidr-not-advertised" and node:
            host = inv.hosts.get(node)
            cidrs = [str(c) for c in host.pod_cidrs] if host else []
            s.add("host", node)
            s.add("advertises_pod_cidrs", False)
            s.add("unadvertised_pod_cidrs", cidrs or ["(the node's pod CIDR)"])
            s.add("pod_cidr", ", ".join(cidrs) or "(the node's pod CIDR)")
        subjects.append(s)
    return subjects


def _supernet(inv: Inventory) -> str:
    cidrs = [c for h in inv.hosts.values() for c in h.pod_cidrs]
    if not cidrs:
        return "the pod CIDR"
    net = cidrs[0]
    same = [c for c in cidrs if c.version == net.version]  # a dual-stack cluster: its first family

    def inside(c: IpNetwork) -> bool:
        first, last = int(net.network_address), int(net.broadcast_address)
        return first <= int(c.network_address) and int(c.broadcast_address) <= last

    while not all(inside(c) for c in same):
        net = net.supernet()
    return str(net)
