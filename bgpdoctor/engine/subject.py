"""The subject a check judges: a host, a BGP session (both ends), a path, a kubelet or a cluster.

Its facts are plain values (bool, int, str, list) so that checks and playbooks stay data; every
fact can carry the raw evidence it was derived from, and a fact that could not be known carries
its reason instead of a value. The builders of each kind are in engine/subjects.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bgpdoctor.engine.world import FactUnknown, Unknown
from bgpdoctor.report.model import Evidence


@dataclass
class Subject:
    kind: str  # host, session, path, kubelet
    label: str
    hosts: list[str]  # hosts the subject is about
    related: list[str]  # hosts + transit hosts whose faults can cause this subject's symptoms
    facts: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)
    problems: dict[str, Unknown] = field(default_factory=dict)  # fact -> why it could not be known
    # every fact of this subject that is neither known nor in `problems` is unknown for this reason
    # (the host could not be reached, deriving its facts failed)
    blanket: Unknown | None = None

    def add(self, fact: str, value: Any, *evidence: Evidence | None) -> None:
        self.facts[fact] = value
        if self.problems:  # nearly always empty: a run adds ~170 facts per node
            self.problems.pop(fact, None)
        if evidence:
            found = [e for e in evidence if e is not None]
            if found:
                self.evidence.setdefault(fact, []).extend(found)

    def unknown(self, fact: str, why: Unknown | None, *evidence: Evidence | None) -> None:
        """`fact` could not be known; never a value, so no check passes or fails on it."""
        self.facts.pop(fact, None)
        self.problems[fact] = why or Unknown("not-collected", f"{fact} could not be derived")
        found = [e for e in evidence if e is not None]
        if found:
            self.evidence.setdefault(fact, []).extend(found)

    def problem(self, fact: str) -> Unknown | None:
        if fact in self.facts:
            return None
        return self.problems.get(fact) or self.blanket

    @contextmanager
    def deriving(self, *facts: str) -> Iterator[None]:
        """Derive `facts` from outputs that may be unknown: if one is (FactUnknown), every fact the
        block added is withdrawn and `facts` become unknown with that reason."""
        before = dict(self.facts)
        try:
            yield
        except FactUnknown as exc:
            for added in set(self.facts) - set(before):
                del self.facts[added]
                self.evidence.pop(added, None)
            for fact in facts:
                if fact not in self.facts:
                    self.problems[fact] = exc.unknown
