"""Judge checks on subjects, then reach diagnoses from playbooks and group symptoms under them."""

from __future__ import annotations

import functools
import re
from typing import Any

from jinja2 import TemplateError

from bgpdoctor.engine.rules import (
    CheckDef,
    Condition,
    PlaybookDef,
    compiled_template,
    holds,
    subject_kinds,
    unknown_fact,
)
from bgpdoctor.engine.subject import Subject
from bgpdoctor.errors import BgpDoctorError
from bgpdoctor.report.model import CheckResult, Diagnosis, Evidence, FixSnippet, Status


class TemplateValueError(BgpDoctorError):
    """A playbook template refers to a value the run does not have (never render an empty string)."""


@functools.lru_cache(maxsize=2048)
def _plain(template: str) -> list[str] | None:
    """A template that only substitutes names ("{{ a }}: {{ a_state }}") as [text, name, text, ...];
    None for anything else (filters, blocks, a brace in the text): Jinja renders those."""
    parts = _PLAIN_NAME.split(template)
    if any(c in text for text in parts[::2] for c in "{}\r") or _JINJA_LITERALS & set(parts[1::2]):
        return None
    return parts


_PLAIN_NAME = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_JINJA_LITERALS = {"true", "false", "none", "True", "False", "None"}


def render(template: str, values: dict[str, Any], where: str) -> str:
    # Jinja's render costs ~30 us in context set-up; a run renders one text per verdict (many
    # thousands) from a few hundred templates, nearly all plain substitutions rendered as str() here
    parts = _plain(template)
    if parts is not None and all(name in values for name in parts[1::2]):
        return "".join(str(values[p]) if at % 2 else p for at, p in enumerate(parts)).strip()
    try:
        return compiled_template(template).render(**values).strip()
    except TemplateError as exc:
        raise TemplateValueError(f"{where}: {exc}") from exc


def _text(template: str, facts: dict[str, Any], where: str) -> str:
    try:
        return render(template, facts, where)
    except TemplateValueError as exc:
        return f"[{exc}]"


def fix_snippets(pb: PlaybookDef, facts: dict[str, Any], complete_only: bool = False) -> list[FixSnippet]:
    """The playbook's fixes rendered with the facts. A value the facts lack is shown in brackets,
    or, with ``complete_only`` (lint, which knows only what the files say), the fix is left out."""
    rendered = []
    for f in pb.fixes:
        if not all(holds(c, facts) for c in f.when):
            continue
        where = f"{pb.id} fix {f.platform}"
        text = _text if not complete_only else render
        try:
            rendered.append(
                FixSnippet(
                    platform=f.platform,
                    title=text(f.title, facts, pb.id),
                    host=text(f.host, facts, pb.id) if f.host else None,
                    text=text(f.template, facts, where),
                    fragment=f.fragment,
                    target=(text(f.target, facts, f"{where} target") if f.target else "") or None,
                )
            )
        except TemplateValueError:
            continue
    return rendered


def judge(checks: list[CheckDef], subjects: list[Subject]) -> list[CheckResult]:
    by_kind: dict[str, list[Subject]] = {}
    for x in subjects:
        by_kind.setdefault(x.kind, []).append(x)
    results = []
    texts: dict[str, str] = {}  # one copy of each verdict text: thousands of subjects repeat a few
    for check in checks:
        judged = by_kind.get(check.subject, [])
        if judged:  # the expectation, its text and the check's fields made once per check, not per verdict
            expect = Condition(fact=check.fact, op=check.expect.op, value=check.expect.value)
            expected = texts.setdefault(_expected(check), _expected(check))
            fields = _check_fields(check)
            results += [judge_one(check, s, expect, texts, expected, fields) for s in judged]
    return results


# every field of a CheckResult: the verdicts below are built from values the engine made, so they skip
# validation (a third of a large replay) and share one field set (assigning explained_by adds nothing
# to it); a subject's verdicts share its host list and each fact's evidence list, never copied
# (90 verdicts per node), so results are read, never mutated in place, once judged
_SHARED_FIELDS_SET = set(CheckResult.model_fields)
_NO_EVIDENCE: list[Evidence] = []


class _FieldLayout:
    """Its instances' attribute dicts share one key table: a copy of one holds only the values (a
    third of the size of a dict of its own, for 90 verdicts per node)."""


def _shared_key_dict(names: list[str]) -> dict[str, Any]:
    layout = _FieldLayout()
    for name in names:
        setattr(layout, name, None)
    return layout.__dict__


_RESULT_FIELDS = _shared_key_dict(list(CheckResult.model_fields))


def _check_fields(check: CheckDef) -> dict[str, Any]:
    """The fields every verdict of one check shares (a copy per verdict keeps the shared key table)."""
    fields = _RESULT_FIELDS.copy()
    fields.update(check=check.id, title=check.title, explained_by=None)
    return fields


def _check_result(
    fields: dict[str, Any],
    s: Subject,
    fact: str,
    status: Status,
    reason: str,
    actual: Any,
    expected: str | None,
    kind: str | None,
) -> CheckResult:
    """A CheckResult as CheckResult(**fields, host=s.label, ...) makes it (every field given), without
    validating; `fields` are its check's (_check_fields), copied."""
    made = CheckResult.__new__(CheckResult)
    values = fields.copy()
    values["host"] = s.label
    values["hosts"] = s.hosts
    values["status"] = status
    values["actual"] = actual
    values["expected"] = expected
    values["reason"] = reason
    values["evidence"] = s.evidence.get(fact, _NO_EVIDENCE)
    values["unknown_kind"] = kind
    object.__setattr__(made, "__dict__", values)
    object.__setattr__(made, "__pydantic_fields_set__", _SHARED_FIELDS_SET)
    object.__setattr__(made, "__pydantic_extra__", None)
    object.__setattr__(made, "__pydantic_private__", None)
    return made


def _expected(check: CheckDef) -> str:
    expect = check.expect
    return f"{expect.op} {expect.value!r}" if expect.value is not None else expect.op


def judge_one(
    check: CheckDef,
    s: Subject,
    expect_condition: Condition | None = None,
    texts: dict[str, str] | None = None,
    expected_text: str | None = None,
    check_fields: dict[str, Any] | None = None,
) -> CheckResult:
    shared = texts if texts is not None else {}
    text = (
        expected_text if expected_text is not None else shared.setdefault(_expected(check), _expected(check))
    )
    expect = expect_condition or Condition(fact=check.fact, op=check.expect.op, value=check.expect.value)
    status, reason, actual, expected, kind = _verdict(check, s, expect, text)
    fields = check_fields if check_fields is not None else _check_fields(check)
    return _check_result(
        fields, s, check.fact, status, shared.setdefault(reason, reason), actual, expected, kind
    )


def _verdict(
    check: CheckDef, s: Subject, expect: Condition, expected: str
) -> tuple[Status, str, Any, str | None, str | None]:
    """status, reason, actual value, expected text and unknown kind of one check on one subject."""
    for cond in check.when:
        ok = holds(cond, s.facts)
        if ok is None and (problem := s.problem(unknown_fact(cond, s.facts))) is not None:
            return "unknown", f"could not check: {problem}", None, expected, problem.kind
        if not ok:
            return (
                "skip",
                f"not applicable ({cond.text} is {'unknown' if ok is None else 'false'})",
                None,
                None,
                None,
            )
    actual = s.facts.get(check.fact)
    verdict = holds(expect, s.facts)
    if verdict is None:
        problem = s.problem(check.fact)
        if problem is not None and problem.kind == "internal-error":
            return "error", f"could not check: {problem}", None, expected, problem.kind
        if problem is not None:
            return "unknown", f"could not check: {problem}", None, expected, problem.kind
        return "skip", f"does not apply to {s.label}", None, expected, None
    if verdict:
        return "pass", _text(check.reason_pass, s.facts, check.id), actual, expected, None
    return check.on_miss, _text(check.reason_fail, s.facts, check.id), actual, expected, None


def _matches(pb: PlaybookDef, s: Subject) -> bool:
    return all(holds(c, s.facts) for c in pb.match)


def matches(pb: PlaybookDef, s: Subject) -> bool:
    """The playbook applies to s's kind and every match condition holds (an unknown fact holds
    nothing): how a live run and `lint` both decide that a root cause is there."""
    return s.kind in subject_kinds(pb) and _matches(pb, s)


def _why_not(pb: PlaybookDef, s: Subject) -> str:
    for c in pb.match:
        ok = holds(c, s.facts)
        if ok is None and (problem := s.problem(fact := unknown_fact(c, s.facts))) is not None:
            return f"{pb.id}: could not be ruled out: {fact} unknown on {s.label} ({problem})"
        if not ok:
            actual = repr(s.facts.get(c.fact)) if c.fact else "false"
            return f"{pb.id}: {c.label} is {'unknown' if ok is None else actual} on {s.label}"
    return f"{pb.id}: ranked lower"


def _with_proof(summary: str, s: Subject) -> str:
    """The kernel's own drop reasons are the strongest evidence there is: quoted after the summary."""
    proof = s.facts.get("kernel_proof")
    return f"{summary} Proof: {proof}." if proof else summary


def _all_explained(failures: list[CheckResult], s: Subject) -> bool:
    own = [r for r in failures if r.host == s.label]
    return bool(own) and all(r.explained_by is not None for r in own)


def _affects(anchors: list[set[str]], related: set[str], other: set[str]) -> bool:
    """Can a cause anchored on these hosts (one set per subject it matched) explain a failure on a
    subject spanning `other`?

    A session between a node and its router explains the pod paths that use that session (both ends
    on the path), not every path through the router; a fault on one host explains what passes it,
    and a cause explains failures on any part of its own hosts.
    """
    if not other:
        return False
    if any(anchors):
        return any(a and (a <= other or other <= a) for a in anchors)
    return bool(related & other)


def diagnose(
    playbooks: list[PlaybookDef], subjects: list[Subject], results: list[CheckResult], checks: list[CheckDef]
) -> list[Diagnosis]:
    """Match playbooks against subjects, dedupe by (cause, culprit), rank, group symptoms."""
    # every subject a (cause, culprit) matches, in order: when the first one's failures turn out to be
    # symptoms of a higher-ranked cause, the next one may still stand on failures of its own
    found: dict[tuple[str, str], tuple[PlaybookDef, list[Subject], str]] = {}
    of_kinds: dict[tuple[str, ...], list[Subject]] = {}  # in the subjects' order
    for pb in sorted(playbooks, key=lambda p: (p.priority, p.id)):
        kinds = tuple(subject_kinds(pb))
        if kinds not in of_kinds:
            of_kinds[kinds] = [x for x in subjects if x.kind in kinds]
        for s in of_kinds[kinds]:
            if not _matches(pb, s):
                continue
            culprit = _text(pb.culprit, s.facts, pb.id)
            found.setdefault((pb.id, culprit), (pb, [], culprit))[1].append(s)
    check_causes = {c.id: c.root_causes for c in checks}
    others = {p.id: p for p in playbooks}
    related_by_label = {x.label: set(x.related) | set(x.hosts) for x in subjects}
    # a configuration finding from the cluster is only ever explained by its own diagnosis
    cluster_labels = {x.label for x in subjects if x.kind == "cluster"}
    # errors are grouped too: a session that cannot be judged because its speaker is down is a symptom
    failures = [r for r in results if r.status in ("fail", "warn", "error")]
    diagnoses: list[Diagnosis] = []
    ordered = sorted(found.values(), key=lambda t: (t[0].priority, t[0].id, t[2]))
    for pb, matched, culprit in ordered:
        standing = [x for x in matched if not _all_explained(failures, x)]
        if not standing:
            continue  # every failure it rests on is a symptom of a higher-ranked cause
        # the summary speaks for the subject with the strongest evidence: the kernel's own drop reason
        s = next((x for x in standing if x.facts.get("kernel_proof")), standing[0])
        culprits = [c.strip() for c in culprit.split(",") if c.strip()]
        related = set(s.related) | set(culprits)
        anchors = [set(x.hosts) if x.kind == "session" else set(culprits or x.hosts) for x in matched]
        own = [r for r in failures if r.host == s.label]
        rank = len(diagnoses) + 1
        proven = [f"{r.check}@{r.host}" for r in own]
        symptoms = []
        for r in failures:
            if r.host in cluster_labels and r.host != s.label:
                continue
            if (
                r.explained_by is None
                and r.check in pb.explains
                and (
                    r.host == s.label
                    or _affects(anchors, related, related_by_label.get(r.host, set(r.hosts)))
                )
            ):
                r.explained_by = pb.id
                symptoms.append(f"{r.check}@{r.host}")
        evidence: list[Evidence] = []
        for fact in [*pb.evidence_facts, "kernel_drops"]:
            for ev in s.evidence.get(fact, []):
                if ev not in evidence:
                    evidence.append(ev)
        candidates = {c for r in failures if r.explained_by == pb.id for c in check_causes.get(r.check, [])}
        ruled_out = [
            _why_not(others[c], s)
            for c in sorted(candidates - {pb.id})
            if c in others and s.kind in subject_kinds(others[c]) and not _matches(others[c], s)
        ]
        fixes = fix_snippets(pb, s.facts)
        diagnoses.append(
            Diagnosis(
                root_cause=pb.id,
                title=pb.title,
                rank=rank,
                summary=_with_proof(_text(pb.summary, s.facts, pb.id), s),
                explanation=pb.explanation.strip(),
                hosts=sorted(related if not culprits else set(culprits)),
                evidence=evidence,
                proven_by=proven or [f"{s.kind}@{s.label}"],
                symptoms=symptoms,
                ruled_out=ruled_out,
                next_steps=[_text(n, s.facts, pb.id) for n in pb.next_steps],
                fixes=fixes,
            )
        )
    return diagnoses
