"""The cluster's configuration (bgpdoctor.kube) as `cluster` subjects, judged by the playbooks.

`bgpdoctor run --context C` reads the cluster once. bgpdoctor.kube.derive states facts on the
subjects whose configuration departs from a working design (a node, a LoadBalancer pool,
cilium-config); the playbooks decide which root cause they show, through the same judge as a live
run's facts (engine/judge.py ``matches``): a subject no playbook matches is no finding, and the
`cluster-config` check names the cause the first matching playbook gives. A Service's record
(family "service") makes its subject in engine/lb_services.py, judged the same way; the intent
records (engine/cluster_intent.py) carry their own subjects; older recordings' findings are read
by engine/cluster_legacy.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from bgpdoctor.engine.cluster_intent import INTENT_CAUSES, intent_subjects
from bgpdoctor.engine.cluster_legacy import legacy_facts
from bgpdoctor.engine.lb_services import cluster_evidence, pending_subject, service_subjects
from bgpdoctor.engine.rules import PlaybookDef, holds, load_playbooks, subject_kinds, unknown_fact
from bgpdoctor.engine.subject import Subject
from bgpdoctor.engine.vips import suggest_pool
from bgpdoctor.engine.world import World
from bgpdoctor.inventory_model import Inventory, IpNetwork
from bgpdoctor.kube.services import SERVICE


@dataclass
class ClusterFinding:
    """A record from the cluster, as recorded: `facts` (bgpdoctor.kube.derive.KubeFacts) for the
    playbooks to judge, `root_cause` the cause they gave ("" until judged); a service or intent
    record, or an older recording's finding, has a `root_cause` and no `facts`."""

    root_cause: str
    subject: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] | None = None
    hosts: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    family: str = ""

    @classmethod
    def of(cls, finding: Any) -> ClusterFinding:
        facts = getattr(finding, "facts", None)
        return cls(
            getattr(finding, "root_cause", ""),
            finding.subject,
            finding.message,
            _jsonable(dict(finding.evidence or {})),
            _jsonable(dict(facts)) if facts is not None else None,
            list(getattr(finding, "hosts", [])),
            list(getattr(finding, "related", [])),
            str(getattr(finding, "family", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        """As recordings hold it: the cause today's playbooks give, the subject, message, evidence."""
        cause = self.root_cause
        if self.facts is not None and not cause:
            cause = cause_of(self) or ""
        return {
            "root_cause": cause,
            "subject": self.subject,
            "message": self.message,
            "evidence": self.evidence,
        }

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


def _fact_subject(f: ClusterFinding, inv: Inventory | None) -> Subject:
    """The record's facts, and those the inventory adds (pod CIDRs, a free pool range); `ok` and
    `root_cause` wait for the judge."""
    s = Subject("cluster", f.subject, list(f.hosts), list(f.related))
    _add_facts(s, f, inv)
    return s


def _add_facts(s: Subject, f: ClusterFinding, inv: Inventory | None) -> None:
    s.add("ok", False)
    s.add("root_cause", "")
    s.add("message", f.message)
    facts = dict(f.facts or {})
    for name in (
        "unselected_nodes",
        "node_selectors",
        "selector_label",
        "host",
        "bgp_peer_count",
        "selected_by",
        "advertises_pod_cidrs",
        "auto_direct_routes_across_l3",
        "local_nodes",
        "remote_nodes",
        "lb_pool_name",
        "lb_pool_cidr",
        "lb_pool_overlaps",
    ):
        if name in facts:
            s.add(name, facts.pop(name))
    if facts:  # a fact the catalogue (engine/facts.py) and this list do not know: never dropped silently
        raise ValueError(f"{f.subject}: cluster facts not in the catalogue: {', '.join(sorted(facts))}")
    if "advertises_pod_cidrs" in s.facts and inv is not None:
        host = inv.hosts.get(str(s.facts.get("host")))
        cidrs = [str(c) for c in host.pod_cidrs] if host else []
        s.add("unadvertised_pod_cidrs", cidrs or ["(the node's pod CIDR)"])
        s.add("pod_cidr", ", ".join(cidrs) or "(the node's pod CIDR)")
    if "lb_pool_cidr" in s.facts:
        block = str(s.facts["lb_pool_cidr"]).split("-")[0]  # a range ("10.0.4.200-10.0.4.250") by its start
        s.add("lb_pool_suggested", suggest_pool(block, list(s.facts["lb_pool_overlaps"])))
    if "remote_nodes" in s.facts and inv is not None:
        ipv4_cidr = inv.cluster_pod_cidr_of("0.0.0.0")  # the fix sets ipv4NativeRoutingCIDR
        s.add("cluster_pod_cidr", str(ipv4_cidr) if ipv4_cidr else _supernet(inv))


def _judged(s: Subject, playbooks: list[PlaybookDef]) -> str | None:
    """The root cause the subject shows: the first playbook, by priority, that matches it; on a
    subject with unknown facts and no match, the first one those facts leave undecided."""
    from bgpdoctor.engine.judge import matches

    ranked = sorted(playbooks, key=lambda p: (p.priority, p.id))
    if (cause := next((pb.id for pb in ranked if matches(pb, s)), None)) is not None or not s.problems:
        return cause

    def undecided(pb: PlaybookDef) -> bool:
        verdicts = [holds(c, s.facts) for c in pb.match]
        unknown = [unknown_fact(c, s.facts) for c, v in zip(pb.match, verdicts, strict=True) if v is None]
        return bool(unknown) and False not in verdicts and all(f in s.problems for f in unknown)

    return next((pb.id for pb in ranked if s.kind in subject_kinds(pb) and undecided(pb)), None)


def _judged_subject(
    f: ClusterFinding, inv: Inventory, context: str | None, playbooks: list[PlaybookDef]
) -> Subject | None:
    s = Subject("cluster", f.subject, list(f.hosts), list(f.related))
    _add_facts(s, f, inv)
    cause = _judged(s, playbooks)
    if cause is None:
        return None  # a state no playbook calls a mistake
    s.add("ok", False, cluster_evidence(replace(f, root_cause=cause), context))
    s.add("root_cause", cause)
    return s


def _checked(s: Subject, playbooks: list[PlaybookDef]) -> str | None:
    """On a subject no playbook matches: the first playbook whose every fact it knows (ruled out)."""
    ranked = sorted(playbooks, key=lambda p: (p.priority, p.id))
    known = (pb for pb in ranked if s.kind in subject_kinds(pb) and pb.match)
    return next((pb.id for pb in known if all(holds(c, s.facts) is not None for c in pb.match)), None)


def _judged_intent(
    f: ClusterFinding, context: str | None, world: World | None, playbooks: list[PlaybookDef]
) -> list[Subject]:
    """An intent record's subject, its root cause the one the playbooks give its facts: a failing
    subject no playbook matches is no finding; a passing one names the cause it rules out."""
    stated = intent_subjects(f, context, world)
    if not stated:
        return []
    s = stated[0]
    cause = _judged(s, playbooks)
    if cause is None and s.facts.get("ok") is False:
        return []  # a state no playbook calls a mistake
    if cause is None:
        cause = _checked(s, playbooks) or ""
    return intent_subjects(replace(f, family=f.family or f.root_cause, root_cause=cause), context, world)


def cluster_subjects(
    findings: list[ClusterFinding],
    inv: Inventory,
    context: str | None,
    world: World | None = None,
    playbooks: list[PlaybookDef] | None = None,
) -> list[Subject]:
    """One or more subjects per record; `playbooks` (default: the built-in ones) judge the facts."""
    judges = playbooks if playbooks is not None else load_playbooks()
    subjects = []
    for f in findings:
        record = f if f.facts is not None else legacy_facts(f)
        if record is not None and record.family == SERVICE:
            subjects += service_subjects(record, context, world, lambda s: _judged(s, judges))
            continue
        if f.facts is None and (f.family or f.root_cause) in INTENT_CAUSES:
            subjects += _judged_intent(f, context, world, judges)
            continue
        if record is not None:
            s = _judged_subject(record, inv, context, judges)
            subjects += [s] if s is not None else []
            continue
        node = f.subject.removeprefix("node/") if f.subject.startswith("node/") else None
        s = Subject("cluster", f.subject, [node] if node else [], [node] if node else [])
        s.add("ok", False, cluster_evidence(f, context))
        s.add("root_cause", f.root_cause)
        s.add("message", f.message)
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


def cause_of(finding: Any, playbooks: list[PlaybookDef] | None = None) -> str | None:
    """The root cause of a record of bgpdoctor.kube: the first playbook its facts match (None: no
    finding), or the id a service or intent record carries, e.g. "node-not-selected"."""
    if getattr(finding, "facts", None) is None:
        return str(finding.root_cause)
    judges = playbooks if playbooks is not None else load_playbooks()
    record = finding if isinstance(finding, ClusterFinding) else ClusterFinding.of(finding)
    if record.family == SERVICE:
        if record.pending:
            return _judged(pending_subject(record), judges)  # the cause the routers' routes will decide
        subjects = service_subjects(record, None, None, lambda s: _judged(s, judges))
        return next((str(s.facts["root_cause"]) or None for s in subjects), None)
    return _judged(_fact_subject(record, None), judges)


def finding_notes(findings: list[Any], playbooks: list[PlaybookDef] | None = None) -> list[str]:
    """One line per finding, "cause: message" (a fact record no playbook matches is no finding).
    Example: ["node-not-selected: node yuuko-k8s is selected by no Cilium BGP config (...)"]"""
    judges = playbooks if playbooks is not None else load_playbooks()
    causes = [(cause_of(f, judges), f.message) for f in findings]
    return [f"{cause}: {message}" for cause, message in causes if cause is not None]
