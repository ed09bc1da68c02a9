"""Lint's conclusions come from the playbooks, as a live run's do.

Lint states what the files say as a subject (a session, host, path or cluster) carrying facts under
the names a live run gives them (bgpdoctor.engine.facts), and the one judge
(bgpdoctor.engine.judge.matches) decides which playbooks' `match` conditions hold. A fact is
stated with the value a live run would observe on these files, and only where the files decide it:
a session they keep down (its source rewritten, TTL 1 across subnets) is `established: false`, a
kernel protocol exporting nothing is `bird_routes_in_fib: false`. A fact the files leave open
(whether a healthy session is up, what a ping returns) is left out: unknown, never false, so a
playbook that needs it does not match in lint. Editing or adding a playbook
changes lint as it changes live runs; lint words the causes it knows (Saying), and a playbook it
has no words for is reported with the playbook's own summary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bgpdoctor.engine.judge import TemplateValueError, matches, render
from bgpdoctor.engine.rules import PlaybookDef
from bgpdoctor.engine.subject import Subject
from bgpdoctor.intent import Loc
from bgpdoctor.lint.model import Severity


@dataclass
class Saying:
    """How lint words one root cause on one subject: where, how bad, what the files say.

    Example: Saying("error", Loc("bird.conf", 7), "router-mine peers with ... as AS 65001, but ...",
    [Loc("networks.yaml", 12)], {"asn_wrong_end": "router-mine"})
    """

    severity: Severity
    loc: Loc | None
    message: str
    other: Iterable[Loc | None] = ()
    facts: dict[str, Any] | None = None  # the playbook's fixes are rendered with these


@dataclass
class Conclusion:
    """A playbook that matched a lint subject, worded for the finding."""

    root_cause: str
    saying: Saying


def lint_subject(kind: str, label: str, hosts: list[str], facts: dict[str, Any]) -> Subject:
    """A subject from the files: a fact whose value is None is unknown and left out.

    Example: lint_subject("session", "router-mine -> yuuko-k8s", ["router-mine", "yuuko-k8s"],
    {"asn_mismatch": True, "asn_wrong_end": "router-mine", "asn_actual": None})
    -> Subject(kind="session", facts={"asn_mismatch": True, "asn_wrong_end": "router-mine"})
    """
    subject = Subject(kind, label, hosts, list(hosts))
    for name, value in facts.items():
        if value is not None:
            subject.add(name, value)
    return subject


def conclude(
    playbooks: list[PlaybookDef], subject: Subject, at: Loc | None, said: dict[str, Saying]
) -> list[Conclusion]:
    """Every playbook (in the order given) whose match holds on the subject, with lint's words for it,
    or, where lint has none, the playbook's summary at the subject's place `at`."""
    out = []
    for pb in playbooks:
        if matches(pb, subject):
            out.append(Conclusion(pb.id, said.get(pb.id) or _summary(pb, subject, at)))
    return out


def _summary(pb: PlaybookDef, subject: Subject, at: Loc | None) -> Saying:
    try:
        text = render(pb.summary, subject.facts, pb.id)
    except TemplateValueError:
        text = pb.title
    return Saying("error", at, f"{subject.label}: {text}", facts=dict(subject.facts))
