"""Load check and playbook definitions (YAML data in checks/ and playbooks/) and test conditions.

Conditions use a small closed set of operators, kube-bench style:
eq, ne, in, not_in, gt, gte, lt, lte, true, false, empty, not_empty, contains, regex; and
`any_of` (a list of conditions, one must hold). Every fact a definition names must be in the
catalogue (engine/facts.py) for its subject kind: see engine/factrefs.py.
"""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import Callable
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from bgpdoctor import safe_yaml
from bgpdoctor.engine.definition_files import (  # noqa: F401 (re-exported: where definitions live)
    builtin_data_dir,
    cached_entries,
    data_dirs,
    definition_files,
    project_root,
    read_small,
    store_entries,
)
from bgpdoctor.engine.factrefs import check_fact_names, definition_error
from bgpdoctor.engine.facts import SubjectKind
from bgpdoctor.errors import UsageError

if TYPE_CHECKING:
    import jinja2

Op = Literal[
    "eq",
    "ne",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "true",
    "false",
    "empty",
    "not_empty",
    "contains",
    "regex",
]


class Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Comparison(Data):
    op: Op = "eq"
    value: Any = None
    _pattern: re.Pattern[str] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _compile(self) -> _Comparison:
        if self.op in ("contains", "regex") and self.value is None:
            raise ValueError(f"op {self.op} needs a value")
        if self.op == "regex":
            if not isinstance(self.value, str):
                raise ValueError(f"op regex needs a string value, not {self.value!r}")
            try:
                self._pattern = re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"bad regex {self.value!r}: {exc}") from exc
        return self

    @property
    def pattern(self) -> re.Pattern[str]:
        return self._pattern or re.compile(str(self.value))


class Condition(_Comparison):
    """One fact compared with a value, or `any_of`: a list of conditions of which one must hold.

    Example: {fact: last_errors, op: regex, value: "(?i)bad peer as"}
             {any_of: [{fact: syn_lost_in_transit, op: "true"}, {fact: syn_unanswered, op: "true"}]}
    """

    fact: str = ""
    any_of: list[Condition] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_kind(self) -> Condition:
        if bool(self.fact) == bool(self.any_of):
            raise ValueError("a condition has either `fact` or `any_of` (a non-empty list of conditions)")
        return self

    @property
    def label(self) -> str:
        """The fact it reads, for messages. Example: "ip_forward", "any_of(syn_unanswered, ...)"."""
        return self.fact or f"any_of({', '.join(c.label for c in self.any_of)})"

    @property
    def text(self) -> str:
        """The condition in words, for messages. Example: "role in ['router']", "any_of(a true None; ...)"."""
        if self.any_of:
            return f"any_of({'; '.join(c.text for c in self.any_of)})"
        return f"{self.fact} {self.op} {self.value!r}"

    def facts(self) -> list[str]:
        """Every fact it reads, nested any_of included."""
        return [self.fact] if self.fact else [f for c in self.any_of for f in c.facts()]


class Expect(_Comparison):
    op: Op = "true"


class CheckDef(Data):
    """A check: which fact of which subject is compared with what is expected (checks/*.yaml)."""

    id: str
    title: str
    subject: SubjectKind
    description: str = ""
    when: list[Condition] = Field(default_factory=list)
    fact: str
    expect: Expect = Field(default_factory=Expect)  # default: the fact is true
    on_miss: Literal["fail", "warn", "error"] = "fail"
    reason_pass: str
    reason_fail: str
    root_causes: list[str] = Field(default_factory=list)
    source: str = ""


class FixDef(Data):
    platform: str
    title: str
    host: str | None = None
    template: str
    when: list[Condition] = Field(default_factory=list)  # the fix applies only where these hold
    # what the snippet is, for validation with the real tool: a whole config ("config"), lines that
    # go inside a `protocol bgp` ("bgp-protocol") or inside its ipv4 channel ("bgp-channel")
    fragment: Literal["config", "bgp-protocol", "bgp-channel"] = "config"
    # where a fragment goes, rendered like the template: "protocol bgp yuuko_k8s" (BIRD),
    # "neighbor 192.168.6.1" (GoBGP), or "FILE:LINE" (the BIRD block at that line)
    target: str | None = None
    # one place is enough for the whole diagnosis (an MSS clamp on any router of the path): taken
    # from one subject, where other fixes are given for every subject the diagnosis groups
    once: bool = False


class PlaybookDef(Data):
    """A root cause: when it is proven, what it means, how to fix it (playbooks/*.yaml)."""

    id: str
    title: str
    priority: int = 50  # lower ranks first when several causes match
    subject: SubjectKind | list[SubjectKind]
    match: list[Condition]
    culprit: str  # template naming the host(s) at fault
    summary: str
    explanation: str
    evidence_facts: list[str] = Field(default_factory=list)
    explains: list[str] = Field(default_factory=list)  # check ids whose failures are its symptoms
    next_steps: list[str] = Field(default_factory=list)
    fixes: list[FixDef] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    example: dict[str, Any] = Field(default_factory=dict)  # facts to render the fixes with (docs, tests)
    source: str = ""


def subject_kinds(pb: PlaybookDef) -> list[str]:
    return list(pb.subject) if isinstance(pb.subject, list) else [pb.subject]


def _load(kind: str, model: type[BaseModel], extra: list[str] | None) -> list[Any]:
    files, searched = definition_files(kind, extra)
    items: dict[str, Any] = {}
    for path in files:
        for item in load_definition_file(kind, path, model):
            items[item.id] = item
    if not items:
        raise UsageError(f"no {kind[:-1]} definitions found; searched: {', '.join(searched)}")
    return list(items.values())


def load_definition_file(kind: str, path: Traversable, model: type[BaseModel] | None = None) -> list[Any]:
    """Every definition of one YAML file of `kind` ("checks" or "playbooks"), validated: the model's
    fields and every fact it names (engine/factrefs.py). Raises UsageError naming the file."""
    model = model or (CheckDef if kind == "checks" else PlaybookDef)
    data = read_small(path)
    # validated before from these very bytes by this very code: the same models again, without
    # parsing the YAML and every template once more (most of a run's start-up)
    if (cached := cached_entries(kind, path, data)) is not None:
        return [model.model_validate(entry) for entry in cached]
    try:
        # bounded: a user's folder is input like any other
        docs = (
            safe_yaml.load(data, str(path))
            if data is not None
            else safe_yaml.load_file(path)
            if isinstance(path, Path)
            else safe_yaml.load(path.read_bytes(), str(path))
        )
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from exc
    entries = docs.get(kind, []) if isinstance(docs, dict) and kind in docs else [docs]
    items: list[Any] = []
    for entry in entries:
        try:
            item = model.model_validate({**entry, "source": str(path)})
        except (ValidationError, TypeError) as exc:
            raise UsageError(f"{path}: invalid {kind[:-1]} definition: {definition_error(exc)}") from exc
        check_fact_names(item, path)
        items.append(item)
    dumps = [item.model_dump(mode="json") for item in items]
    if all(
        model.model_validate(json.loads(json.dumps(d))) == item for d, item in zip(dumps, items, strict=True)
    ):
        store_entries(kind, path, data, dumps)  # only what comes back exactly from JSON
    return items


def load_checks(extra: list[str] | None = None) -> list[CheckDef]:
    return _load("checks", CheckDef, extra)


def load_playbooks(extra: list[str] | None = None) -> list[PlaybookDef]:
    return _load("playbooks", PlaybookDef, extra)


_MISSING = object()


def holds(cond: Condition, facts: dict[str, Any]) -> bool | None:
    """True/False, or None when the fact is not known for this subject.

    any_of: True when one condition holds, False when every one is false, else None (unknown).
    """
    if cond.any_of:
        verdicts = [holds(c, facts) for c in cond.any_of]
        if any(v is True for v in verdicts):
            return True
        return False if all(v is False for v in verdicts) else None
    actual = facts.get(cond.fact, _MISSING)
    if actual is _MISSING or actual is None:
        return None
    v = cond.value
    match cond.op:
        case "eq":
            return bool(actual == v)
        case "ne":
            return bool(actual != v)
        case "in":
            return actual in (v or [])
        case "not_in":
            return actual not in (v or [])
        case "gt":
            return bool(actual > v)
        case "gte":
            return bool(actual >= v)
        case "lt":
            return bool(actual < v)
        case "lte":
            return bool(actual <= v)
        case "true":
            return bool(actual)
        case "false":
            return not actual
        case "empty":
            return not actual
        case "not_empty":
            return bool(actual)
        case "contains":
            if isinstance(actual, str):
                return str(v) in actual
            return v in actual if isinstance(actual, list | tuple | set | frozenset) else False
        case "regex":
            items = actual if isinstance(actual, list | tuple | set | frozenset) else [actual]
            return any(cond.pattern.search(x if isinstance(x, str) else str(x)) for x in items)
    return None


Test = Callable[[dict[str, Any]], bool | None]


def compiled(cond: Condition) -> Test:
    """`holds(cond, facts)` as a function of the facts alone, its operator chosen once: a run tests
    the same few hundred conditions on hundreds of thousands of subjects."""
    if cond.any_of:
        tests = [compiled(c) for c in cond.any_of]

        def any_of(facts: dict[str, Any]) -> bool | None:
            verdicts = [t(facts) for t in tests]
            if any(v is True for v in verdicts):
                return True
            return False if all(v is False for v in verdicts) else None

        return any_of
    fact, v, op = cond.fact, cond.value, cond.op
    if op in ("in", "not_in"):
        choices = v or []
        inside = op == "in"
        return lambda facts: None if (a := facts.get(fact)) is None else (a in choices) is inside
    if op in ("true", "not_empty", "false", "empty"):
        truthy = op in ("true", "not_empty")
        return lambda facts: None if (a := facts.get(fact)) is None else bool(a) is truthy
    if op == "contains":
        needle = str(v)

        def contains(facts: dict[str, Any]) -> bool | None:
            a = facts.get(fact)
            if a is None:
                return None
            if isinstance(a, str):
                return needle in a
            return v in a if isinstance(a, list | tuple | set | frozenset) else False

        return contains
    if op == "regex":
        search = cond.pattern.search

        def regex(facts: dict[str, Any]) -> bool | None:
            a = facts.get(fact)
            if a is None:
                return None
            items = a if isinstance(a, list | tuple | set | frozenset) else [a]
            return any(search(x if isinstance(x, str) else str(x)) for x in items)

        return regex
    compare = _COMPARE.get(op)
    if compare is None:
        return lambda facts: None
    return lambda facts: None if (a := facts.get(fact)) is None else bool(compare(a, v))


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def unknown_fact(cond: Condition, facts: dict[str, Any]) -> str:
    """The fact that leaves `cond` undecided (the first unknown one of an any_of), for its reason."""
    if not cond.any_of:
        return cond.fact
    return next((unknown_fact(c, facts) for c in cond.any_of if holds(c, facts) is None), cond.label)


def check_references(checks: list[CheckDef], playbooks: list[PlaybookDef]) -> None:
    """Every root cause a check names is a playbook, and every check a playbook explains exists:
    a misspelled id is a load error, never a diagnosis that silently never groups its symptoms."""
    causes = {p.id for p in playbooks}
    check_ids = {c.id for c in checks}
    for c in checks:
        for cause in c.root_causes:
            if cause not in causes:
                raise UsageError(f"{c.source}: check {c.id} names an unknown root cause '{cause}'")
    for pb in playbooks:
        for check in pb.explains:
            if check not in check_ids:
                raise UsageError(f"{pb.source}: playbook {pb.id} explains an unknown check '{check}'")


@functools.lru_cache(maxsize=2048)
def compiled_template(text: str) -> jinja2.Template:
    """A check's or playbook's template compiled once per process (a run renders the same few
    hundred templates for thousands of verdicts). Undefined values raise, as a render must never
    print an empty string for a value the run does not have.

    Example: compiled_template("{{ host }} has no route").render(host="r1") -> "r1 has no route"
    """
    return _template_environment().from_string(text)


def template_names(text: str) -> set[str]:
    """The values a template reads.

    Example: template_names("{{ a | join(', ') }} on {{ host }}") -> {"a", "host"}
    """
    from jinja2 import meta

    return meta.find_undeclared_variables(_template_environment().parse(text))


@functools.lru_cache(maxsize=1)
def _template_environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
