"""Judge checks on subjects, then reach diagnoses from playbooks and group symptoms under them."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from jinja2 import TemplateError

from bgpdoctor.drivers import driver_for
from bgpdoctor.engine.rules import (
    CheckDef,
    Condition,
    PlaybookDef,
    compiled,
    compiled_template,
    holds,
    subject_kinds,
    template_names,
    unknown_fact,
)
from bgpdoctor.engine.subject import Subject
from bgpdoctor.errors import BgpDoctorError
from bgpdoctor.report.model import CheckResult, Diagnosis, Evidence, FixSnippet, Status


class TemplateValueError(BgpDoctorError):
    """A playbook template refers to a value the run does not have (never render an empty string)."""


@functools.lru_cache(maxsize=2048)
def _plain(template: str) -> tuple[str, tuple[str, ...]] | None:
    """A template that only substitutes names ("{{ a }}: {{ a_state }}") as a str.format pattern
    ("{0!s}: {1!s}") and the names; None for anything else (filters, blocks, a brace in the text):
    Jinja renders those."""
    parts = _PLAIN_NAME.split(template)
    if any(c in text for text in parts[::2] for c in "{}\r") or _JINJA_LITERALS & set(parts[1::2]):
        return None
    names = tuple(parts[1::2])
    pattern = "".join(p if at % 2 == 0 else f"{{{at // 2}!s}}" for at, p in enumerate(parts))
    return pattern, names


_PLAIN_NAME = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_JINJA_LITERALS = {"true", "false", "none", "True", "False", "None"}


def render(template: str, values: dict[str, Any], where: str) -> str:
    # Jinja's render costs ~30 us in context set-up; a run renders one text per verdict (many
    # thousands) from a few hundred templates, nearly all plain substitutions rendered as str() here
    plain = _plain(template)
    if plain is not None:
        pattern, names = plain
        try:
            return pattern.format(*[values[name] for name in names]).strip()
        except KeyError:
            pass  # Jinja names the missing value
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
    return [snippet for _, snippet in _rendered_fixes(pb, facts, complete_only)]


def _rendered_fixes(
    pb: PlaybookDef, facts: dict[str, Any], complete_only: bool = False
) -> list[tuple[int, FixSnippet]]:
    """Each fix that applies to these facts, with the index of its definition in the playbook."""
    rendered = []
    for index, f in enumerate(pb.fixes):
        if not all(holds(c, facts) for c in f.when):
            continue
        where = f"{pb.id} fix {f.platform}"
        text = _text if not complete_only else render
        try:
            rendered.append(
                (
                    index,
                    FixSnippet(
                        platform=f.platform,
                        title=text(f.title, facts, pb.id),
                        host=text(f.host, facts, pb.id) if f.host else None,
                        text=text(f.template, facts, where),
                        fragment=f.fragment,
                        target=(text(f.target, facts, f"{where} target") if f.target else "") or None,
                    ),
                )
            )
        except TemplateValueError:
            continue
    return rendered


def _what_it_changes(fix: FixSnippet) -> tuple[str, str | None, str | None, str, tuple[str, ...]]:
    """A fix without its comment lines: two subjects' fixes that differ only in comments are one."""
    driver = driver_for(fix.platform)
    comment = driver.comment_marks if driver is not None else ("#",)
    lines = tuple(line.rstrip() for line in fix.text.splitlines() if not line.lstrip().startswith(comment))
    return fix.platform, fix.host, fix.target, fix.fragment, lines


def group_fixes(pb: PlaybookDef, subjects: list[Subject]) -> list[FixSnippet]:
    """The fixes every subject of one diagnosis needs, in the playbook's order of fixes and, within
    one fix, the subjects' order (the first is the diagnosis's own). Two sessions of one router each
    need their own protocol block: rendering the first subject's alone hid the second. A fix whose
    commands (comments aside) repeat one already listed is left out, and a fix marked `once` (one
    place is enough, e.g. an MSS clamp on any router of the path) is taken from the first subject
    that offers it. Only the first subject's fixes show a value its facts lack (in brackets); another
    subject's fix is added only when all its values are known."""
    by_definition: dict[int, list[FixSnippet]] = {}
    seen: set[tuple[str, str | None, str | None, str, tuple[str, ...]]] = set()
    for x in subjects:
        for index, snippet in _rendered_fixes(pb, x.facts, complete_only=x is not subjects[0]):
            if pb.fixes[index].once and index in by_definition:
                continue
            key = _what_it_changes(snippet)
            if key not in seen:
                seen.add(key)
                by_definition.setdefault(index, []).append(snippet)
    return [snippet for index in sorted(by_definition) for snippet in by_definition[index]]


def judge(checks: list[CheckDef], subjects: list[Subject]) -> list[CheckResult]:
    by_kind: dict[str, list[Subject]] = {}
    for x in subjects:
        by_kind.setdefault(x.kind, []).append(x)
    results: list[CheckResult] = []
    texts: dict[str, str] = {}  # one copy of each verdict text: thousands of subjects repeat a few
    for check in checks:
        judged = by_kind.get(check.subject, [])
        if judged:
            results += map(_Judging(check, texts).result, judged)
    return results


def judge_one(check: CheckDef, s: Subject) -> CheckResult:
    return _Judging(check, {}).result(s)


_NO_EVIDENCE: list[Evidence] = []
_new_result = object.__new__


def _renderer(template: str, where: str) -> Callable[[dict[str, Any]], str]:
    """`_text(template, facts, where)` as a function of the facts, its template read once."""
    plain = _plain(template)
    if plain is None:
        return _kept_renderer(template, where)
    fill, names = plain[0].format, plain[1]

    def filled(facts: dict[str, Any]) -> str:
        try:
            values = [facts[name] for name in names]
        except KeyError:
            return _text(template, facts, where)  # Jinja names the missing value
        return fill(*values).strip()

    return filled


def _kept_renderer(template: str, where: str) -> Callable[[dict[str, Any]], str]:
    """`_text` of a template Jinja renders (a filter, a condition: ~20 us each), kept for each
    combination of the values it names: thousands of subjects give it the same few (a list of
    listeners, a daemon's name). Values that cannot be a key (an object) are rendered each time."""
    names = tuple(sorted(template_names(template)))
    kept: dict[tuple[Any, ...], str] = {}

    def rendered(facts: dict[str, Any]) -> str:
        key = tuple(_as_key(facts.get(name, _ABSENT)) for name in names)
        try:
            return kept[key]
        except KeyError:
            text = kept[key] = _text(template, facts, where)
            return text
        except TypeError:  # unhashable
            return _text(template, facts, where)

    return rendered


_ABSENT = object()  # a name the facts do not have: the template says so in brackets


def _as_key(value: Any) -> Any:
    """The value as part of a key that tells apart values that print differently (1, 1.0 and True
    are one key in a dict; a list is no key at all)."""
    kind = type(value)
    if kind is list or kind is tuple:
        return kind, tuple(_as_key(item) for item in value)
    return kind, value


class _Judging:
    """One check made ready once for all its subjects: its conditions compiled, its texts made.
    Its verdicts skip validation (every value is the engine's own) and share each subject's host
    list and each fact's evidence list, never copied (100 verdicts per node): results are read,
    never mutated in place, once judged."""

    def __init__(self, check: CheckDef, texts: dict[str, str]) -> None:
        self.check, self.id, self.title, self.fact = check, check.id, check.title, check.fact
        self.texts = texts
        self.when = [
            (c, compiled(c), f"not applicable ({c.text} is unknown)", f"not applicable ({c.text} is false)")
            for c in check.when
        ]
        self.expect = compiled(Condition(fact=check.fact, op=check.expect.op, value=check.expect.value))
        expect = check.expect
        text = f"{expect.op} {expect.value!r}" if expect.value is not None else expect.op
        self.expected = texts.setdefault(text, text)
        self.reason_pass = _renderer(check.reason_pass, check.id)
        self.reason_fail = _renderer(check.reason_fail, check.id)

    def result(self, s: Subject) -> CheckResult:
        status, reason, actual, expected, kind = self.verdict(s)
        made: CheckResult = _new_result(CheckResult)
        made.check = self.id
        made.title = self.title
        made.host = s.label
        made.hosts = s.hosts
        made.status = status
        made.actual = actual
        made.expected = expected
        made.reason = self.texts.setdefault(reason, reason)
        made.evidence = s.evidence.get(self.fact, _NO_EVIDENCE)
        made.explained_by = None
        made.unknown_kind = kind
        return made

    def verdict(self, s: Subject) -> tuple[Status, str, Any, str | None, str | None]:
        """status, reason, actual value, expected text and unknown kind of the check on s."""
        facts, expected = s.facts, self.expected
        for cond, test, if_unknown, if_false in self.when:
            ok = test(facts)
            if ok:
                continue
            if ok is None:
                if (problem := s.problem(unknown_fact(cond, facts))) is not None:
                    return "unknown", f"could not check: {problem}", None, expected, problem.kind
                return "skip", if_unknown, None, None, None
            return "skip", if_false, None, None, None
        verdict = self.expect(facts)
        if verdict is None:
            problem = s.problem(self.fact)
            if problem is not None and problem.kind == "internal-error":
                return "error", f"could not check: {problem}", None, expected, problem.kind
            if problem is not None:
                return "unknown", f"could not check: {problem}", None, expected, problem.kind
            return "skip", f"does not apply to {s.label}", None, expected, None
        actual = facts.get(self.fact)
        if verdict:
            return "pass", self.reason_pass(facts), actual, expected, None
        return self.check.on_miss, self.reason_fail(facts), actual, expected, None


def _always(facts: dict[str, Any]) -> bool:
    return True


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


def _all_explained(failures_of: dict[str, list[CheckResult]], s: Subject) -> bool:
    own = failures_of.get(s.label, [])
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


def _culprit_count(culprit: str) -> int:
    """How many hosts a rendered culprit names (none counts as the widest)."""
    return sum(1 for c in culprit.split(",") if c.strip()) or 1 << 16


def _related(r: CheckResult, by_label: dict[str, Subject], known: dict[str, set[str]]) -> set[str]:
    """The hosts whose faults can explain a failure: its subject's hosts and transit hosts."""
    if r.host not in known:
        x = by_label.get(r.host)
        if x is None:
            return set(r.hosts)
        known[r.host] = set(x.related) | set(x.hosts)
    return known[r.host]


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
        first, *rest = [compiled(c) for c in pb.match] or [_always]
        for s in of_kinds[kinds]:
            # most subjects fail the first condition: tested without a generator's set-up
            if not first(facts := s.facts) or (rest and not all(test(facts) for test in rest)):
                continue
            culprit = _text(pb.culprit, s.facts, pb.id)
            found.setdefault((pb.id, culprit), (pb, [], culprit))[1].append(s)
    check_causes = {c.id: c.root_causes for c in checks}
    others = {p.id: p for p in playbooks}
    by_label = {x.label: x for x in subjects}
    related_by_label: dict[str, set[str]] = {}
    # a configuration finding from the cluster is only ever explained by its own diagnosis
    cluster_labels = {x.label for x in subjects if x.kind == "cluster"}
    # errors are grouped too: a session that cannot be judged because its speaker is down is a symptom
    failures = [r for r in results if r.status in ("fail", "warn", "error")]
    failures_of: dict[str, list[CheckResult]] = {}
    for r in failures:
        failures_of.setdefault(r.host, []).append(r)
    diagnoses: list[Diagnosis] = []
    # within one cause the narrowest culprit first, then the one more subjects show: it claims the
    # symptoms it explains before a wider one does. Never the names' alphabetical order, which made
    # the same network give "iris, kvr8" under one set of names and "jasper-2" under another.
    ordered = sorted(
        found.values(),
        key=lambda t: (t[0].priority, t[0].id, _culprit_count(t[2]), -len(t[1]), t[2]),
    )
    for pb, matched, culprit in ordered:
        standing = [x for x in matched if not _all_explained(failures_of, x)]
        if not standing:
            continue  # every failure it rests on is a symptom of a higher-ranked cause
        # the summary speaks for the subject with the strongest evidence: the kernel's own drop reason,
        # then the most of the cause's evidence facts; not merely the one whose name sorts first
        s = min(
            standing,
            key=lambda x: (not x.facts.get("kernel_proof"), -sum(f in x.facts for f in pb.evidence_facts)),
        )
        culprits = [c.strip() for c in culprit.split(",") if c.strip()]
        related = set(s.related) | set(culprits)
        anchors = [set(x.hosts) if x.kind == "session" else set(culprits or x.hosts) for x in matched]
        own = list(failures_of.get(s.label, []))
        rank = len(diagnoses) + 1
        proven = [f"{r.check}@{r.host}" for r in own]
        symptoms = []
        for r in failures:
            if r.host in cluster_labels and r.host != s.label:
                continue
            if (
                r.explained_by is None
                and r.check in pb.explains
                and (r.host == s.label or _affects(anchors, related, _related(r, by_label, related_by_label)))
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
        fixes = group_fixes(pb, [s, *(x for x in standing if x is not s)])
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
