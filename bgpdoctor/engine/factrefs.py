"""Every fact a check or playbook names must exist on its subject kind (engine/facts.py).

A misspelled fact would otherwise be unknown on every subject: a check that silently never
applies, a playbook that never matches. It is a load error naming the file, the line, the
definition and the closest catalogued name:

    mine.yaml:7: check my-forward: fact: unknown fact 'ip_forwrd' for host subjects
        (did you mean 'ip_forward'?)
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterator, Sequence
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING

from bgpdoctor.engine.facts import BY_NAME, names_for
from bgpdoctor.errors import UsageError

if TYPE_CHECKING:
    from jinja2 import Environment

    from bgpdoctor.engine.rules import CheckDef, Condition, PlaybookDef


def definition_error(exc: Exception) -> str:
    """A YAML definition's validation errors on one line, without pydantic's internals.

    Example: "title: Field required; when.0: Value error, bad regex '(': missing ), ..."
    """
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    errors = exc.errors()
    parts = [f"{'.'.join(str(x) for x in e['loc']) or 'definition'}: {e['msg']}" for e in errors[:3]]
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


def _condition_facts(conditions: list[Condition]) -> Iterator[str]:
    for c in conditions:
        yield from c.facts()


def template_facts(env: Environment, template: str) -> set[str]:
    """The facts a Jinja2 template reads. Example: "{{ host }}: {{ a | join(', ') }}" -> {"host", "a"}."""
    return set(_undeclared(template)) - set(env.globals)


@functools.lru_cache(maxsize=4096)
def _undeclared(template: str) -> frozenset[str]:
    """The names a template reads and does not set (cached: a run loads the definitions twice).

    jinja2.meta.find_undeclared_variables answers for templates with scopes (loops, macros, blocks);
    for the rest, names read minus names set is the same answer in half the time.
    """
    if "{" not in template:
        return frozenset()
    from jinja2 import Environment, meta, nodes

    tree = Environment().parse(template)
    scoped = tree.find_all(
        (
            nodes.For,
            nodes.Macro,
            nodes.CallBlock,
            nodes.Import,
            nodes.FromImport,
            nodes.Include,
            nodes.With,
            nodes.FilterBlock,
            nodes.Scope,
            nodes.OverlayScope,
            nodes.Block,
        )
    )
    if next(scoped, None) is not None:
        return frozenset(meta.find_undeclared_variables(tree))
    read = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    return frozenset(read - {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")})


def templates(item: CheckDef | PlaybookDef) -> list[tuple[str, str]]:
    """(where, text) of every Jinja2 template of a check or playbook.

    Example: [("culprit", "{{ host }}"), ("summary", "..."), ("fix sysctl", "sysctl -w ...")]
    """
    from bgpdoctor.engine.rules import CheckDef

    if isinstance(item, CheckDef):
        return [("reason_pass", item.reason_pass), ("reason_fail", item.reason_fail)]
    found = [("culprit", item.culprit), ("summary", item.summary)]
    found += [("next_steps", step) for step in item.next_steps]
    for fix in item.fixes:
        found += [(f"fix {fix.platform}", t) for t in (fix.title, fix.host, fix.template, fix.target) if t]
    return found


def referenced_facts(item: CheckDef | PlaybookDef, source: object = "") -> list[tuple[str, str]]:
    """(fact, where it is used) for every fact a check or playbook reads: conditions first, then templates.

    Example: [("ip_forward", "fact"), ("role", "when"), ("host", "reason_fail")]
    """
    from jinja2 import Environment, TemplateSyntaxError

    from bgpdoctor.engine.rules import CheckDef

    refs: list[tuple[str, str]] = []
    if isinstance(item, CheckDef):
        refs += [(f, "when") for f in _condition_facts(item.when)]
        refs.append((item.fact, "fact"))
    else:
        refs += [(f, "match") for f in _condition_facts(item.match)]
        refs += [(f, "evidence_facts") for f in item.evidence_facts]
        refs += [(f, f"fix {fix.platform} when") for fix in item.fixes for f in _condition_facts(fix.when)]
    env = Environment()
    for where, template in templates(item):
        try:
            refs += [(f, where) for f in sorted(template_facts(env, template))]
        except TemplateSyntaxError as exc:
            at = f"{source}: " if source else ""
            raise UsageError(f"{at}{_what(item)}: {where}: template does not parse: {exc.message}") from exc
    return refs


def _what(item: CheckDef | PlaybookDef) -> str:
    from bgpdoctor.engine.rules import CheckDef

    return f"{'check' if isinstance(item, CheckDef) else 'playbook'} {item.id}"


def fact_problem(fact: str, kinds: Sequence[str]) -> str | None:
    """Why `fact` cannot be read on any subject of `kinds` (None when one kind has it), with a
    suggestion. A playbook on several kinds may read a fact of one of them, guarded in its
    templates with `is defined`.

    Example: fact_problem("ip_forwrd", ["host"])
        -> "unknown fact 'ip_forwrd' for host subjects (did you mean 'ip_forward'?)"
    """
    known = BY_NAME.get(fact)
    if known is not None and set(kinds) & set(known.kinds):
        return None
    where = "/".join(kinds)
    if known is not None:
        owners = ", ".join(known.kinds)
        return f"fact '{fact}' does not exist on {where} subjects (it is a fact of {owners} subjects)"
    own = sorted({name for kind in kinds for name in names_for(kind)})
    close = difflib.get_close_matches(fact, own, n=1) or difflib.get_close_matches(fact, list(BY_NAME), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else " (`bgpdoctor facts` lists them)"
    return f"unknown fact '{fact}' for {where} subjects{hint}"


def check_fact_names(item: object, source: Traversable) -> None:
    """Raise a UsageError naming file:line when `item` (a check or a playbook) reads a fact its
    subject kind does not have."""
    from bgpdoctor.engine.rules import CheckDef, PlaybookDef, subject_kinds

    if not isinstance(item, CheckDef | PlaybookDef):
        return
    kinds = [item.subject] if isinstance(item, CheckDef) else subject_kinds(item)
    for fact, where in referenced_facts(item, source):
        problem = fact_problem(fact, kinds)
        if problem is not None:
            line = _line_of(source, item.id, fact)
            at = f"{source}:{line}" if line else str(source)
            raise UsageError(f"{at}: {_what(item)}: {where}: {problem}")


def _line_of(source: Traversable, item_id: str, fact: str) -> int | None:
    """The line naming `fact` at or after the line with `id: ITEM_ID` (None when not found): where
    it is used as a fact (`fact: NAME`, `{{ NAME }}`, `[NAME]`) before a mere mention in a title."""
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    id_line = re.compile(rf"^\s*(-\s*)?id:\s*['\"]?{re.escape(item_id)}['\"]?\s*(#.*)?$")
    start = next((i for i, text in enumerate(lines) if id_line.match(text)), 0)
    name = rf"(?<![\w]){re.escape(fact)}(?![\w])"
    as_fact = re.compile(rf"fact:\s*['\"]?{name}|[{{%][^}}]*{name}|^\s*-\s*{name}\s*$|[\[,]\s*{name}\s*[,\]]")
    for pattern in (as_fact, re.compile(name)):
        found = next((i for i in range(start, len(lines)) if pattern.search(lines[i])), None)
        if found is not None:
            return found + 1
    return None
