"""The fact catalogue (engine/facts.py) is what the engine produces and what checks and playbooks
read, and a definition reading a fact its subject does not have is a load error naming the file."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from jinja2 import Environment, meta

from bgpdoctor import safe_yaml
from bgpdoctor.cli import main
from bgpdoctor.engine.factrefs import fact_problem, referenced_facts, template_facts, templates
from bgpdoctor.engine.facts import BY_NAME, FACTS, SUBJECT_KINDS, names_for
from bgpdoctor.engine.judge import judge_one
from bgpdoctor.engine.rules import (
    CheckDef,
    Condition,
    PlaybookDef,
    holds,
    load_checks,
    load_playbooks,
    subject_kinds,
)
from bgpdoctor.engine.subject import Subject
from bgpdoctor.engine.world import Unknown
from bgpdoctor.errors import UsageError

PKG = Path(__file__).resolve().parents[2] / "bgpdoctor"
SUBJECT_METHODS = {"add", "unknown", "deriving"}


# --- what the engine adds -------------------------------------------------------------------------


def _is_subject(annotation: ast.expr | None) -> bool:
    return annotation is not None and ast.unparse(annotation).strip("'\"") == "Subject"


def _literal_names(node: ast.expr, loops: dict[str, list[ast.expr]]) -> list[str]:
    """Fact names a call argument can take: a string, an f-string as a pattern (`syn_{role}_sources`
    -> `syn_.+_sources`), or a loop variable over a literal tuple of those."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [
            "".join(
                re.escape(v.value) if isinstance(v, ast.Constant) and isinstance(v.value, str) else ".+"
                for v in node.values
            )
        ]
    if isinstance(node, ast.Name) and node.id in loops:
        return [n for item in loops[node.id] for n in _literal_names(item, loops)]
    raise AssertionError(f"a fact name the catalogue test cannot read: {ast.unparse(node)}")


class _Scan(ast.NodeVisitor):
    """Per function: the Subject variables it holds, the kinds of the subjects it builds, the fact
    names it adds to them, and the functions it passes them to."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.adds: dict[str, list[tuple[str, str]]] = defaultdict(list)  # function -> (pattern, file:line)
        self.builds: dict[str, set[str]] = defaultdict(set)  # function -> subject kinds it constructs
        self.passes: dict[str, set[str]] = defaultdict(set)  # function -> functions given a Subject
        self._stack: list[tuple[str, set[str], dict[str, list[ast.expr]]]] = []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        subjects = {a.arg for a in args if _is_subject(a.annotation)}
        if self._stack:  # a closure sees its parent's subjects
            subjects |= self._stack[-1][1]
        self._stack.append((node.name, subjects, {}))
        self.generic_visit(node)
        self._stack.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_For(self, node: ast.For) -> None:
        if self._stack and isinstance(node.target, ast.Name) and isinstance(node.iter, ast.Tuple | ast.List):
            self._stack[-1][2][node.target.id] = list(node.iter.elts)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if self._stack and isinstance(node.value, ast.Call) and ast.unparse(node.value.func) == "Subject":
            name, subjects, _loops = self._stack[-1]
            subjects |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            kind = node.value.args[0] if node.value.args else None
            if isinstance(kind, ast.Constant) and isinstance(kind.value, str):
                self.builds[name].add(kind.value)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if self._stack:
            name, subjects, loops = self._stack[-1]
            func = node.func
            on = (
                func.value.id
                if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                else None
            )
            if isinstance(func, ast.Attribute) and func.attr in SUBJECT_METHODS and on in subjects:
                for arg in node.args if func.attr == "deriving" else node.args[:1]:
                    for pattern in _literal_names(arg, loops):
                        self.adds[name].append((pattern, f"{self.where}:{node.lineno}"))
            elif isinstance(func, ast.Attribute) and func.attr in SUBJECT_METHODS and on == "s":
                # a subject the scan does not recognise would hide its facts from these tests
                raise AssertionError(f"{self.where}:{node.lineno}: annotate `s: Subject` in {name}")
            elif any(isinstance(a, ast.Name) and a.id in subjects for a in node.args):
                self.passes[name].add(func.attr if isinstance(func, ast.Attribute) else ast.unparse(func))
        self.generic_visit(node)


def _engine_facts() -> dict[str, tuple[set[str], list[str]]]:
    """pattern -> (subject kinds it is added on, where) for every fact name the engine adds."""
    adds: dict[str, list[tuple[str, str]]] = defaultdict(list)
    builds: dict[str, set[str]] = defaultdict(set)
    passes: dict[str, set[str]] = defaultdict(set)
    # drivers: what only one daemon's outputs say about its host (Driver.host_facts)
    modules = [*(PKG / "engine").glob("*.py"), *(PKG / "kube").glob("*.py"), *(PKG / "drivers").glob("*.py")]
    for path in sorted(modules):
        scan = _Scan(str(path.relative_to(PKG.parent)))
        scan.visit(ast.parse(path.read_text(encoding="utf-8")))
        for function, found in scan.adds.items():
            adds[function] += found
        for function, built in scan.builds.items():
            builds[function] |= built
        for function, callees in scan.passes.items():
            passes[function] |= callees
    kinds = {function: set(built) for function, built in builds.items()}
    changed = True
    while changed:  # a helper given a subject adds facts on the kinds of its callers' subjects
        changed = False
        for caller, callees in passes.items():
            for callee in callees:
                new = kinds.get(caller, set()) - kinds.get(callee, set())
                if new:
                    kinds.setdefault(callee, set()).update(new)
                    changed = True
    out: dict[str, tuple[set[str], list[str]]] = {}
    for function, found in adds.items():
        assert kinds.get(function), f"{function}: adds facts to a subject of no kind the test can tell"
        for pattern, where in found:
            entry = out.setdefault(pattern, (set(), []))
            entry[0].update(kinds[function])
            entry[1].append(where)
    return out


ENGINE = _engine_facts()


def test_the_scan_sees_every_family_of_facts() -> None:
    """The scan itself can fail: it must find facts of every subject kind and the f-string names."""
    assert {k for kinds, _ in ENGINE.values() for k in kinds} == set(SUBJECT_KINDS)
    assert "syn_.+_sources" in ENGINE and "ip_forward" in ENGINE and "lb_pool_overlaps" in ENGINE


# the values of the fact names the engine builds with an f-string (the scan sees only a pattern)
FSTRING_FACTS = {
    "syn_.+_sources": {"syn_sent_sources", "syn_received_sources"},
    "syn_.+_ttl": {"syn_sent_ttl", "syn_received_ttl"},
}


def _names(pattern: str) -> set[str]:
    return FSTRING_FACTS.get(pattern, {pattern})


def test_every_fact_the_engine_adds_is_catalogued_for_the_kinds_it_is_added_on() -> None:
    assert {p for p in ENGINE if ".+" in p} == set(FSTRING_FACTS), "a new f-string fact: list its names"
    for pattern, (kinds, where) in sorted(ENGINE.items()):
        for name in sorted(_names(pattern)):
            assert name in BY_NAME, f"{where[0]}: the engine adds '{name}', missing from engine/facts.py"
            assert kinds <= set(BY_NAME[name].kinds), f"{where[0]}: '{name}' is added on {sorted(kinds)}"


def test_every_catalogued_fact_is_one_the_engine_adds_on_exactly_those_kinds() -> None:
    for fact in FACTS:
        kinds = {k for pattern, (ks, _) in ENGINE.items() if fact.name in _names(pattern) for k in ks}
        assert kinds == set(fact.kinds), f"{fact.name}: catalogued on {fact.kinds}, added on {sorted(kinds)}"


def test_each_description_says_the_type_first() -> None:
    for fact in FACTS:
        assert re.match(r"(str|int|bool|list\[(str|int)\]): \S", fact.description), fact
    assert len(BY_NAME) == len(FACTS), "a fact is listed twice"


# --- what the shipped checks and playbooks read ------------------------------------------------------


def test_every_fact_the_shipped_checks_and_playbooks_read_is_catalogued() -> None:
    definitions: list[CheckDef | PlaybookDef] = [*load_checks(), *load_playbooks()]
    read = 0
    for item in definitions:
        kinds = [item.subject] if isinstance(item.subject, str) else list(item.subject)
        for fact, where in referenced_facts(item):
            assert fact_problem(fact, kinds) is None, f"{item.source}: {item.id} {where}: {fact}"
            read += 1
    assert read > 300  # every check and playbook reads several


def test_every_playbook_example_uses_catalogued_facts_of_its_kinds() -> None:
    for pb in load_playbooks():
        for fact in pb.example:
            assert fact_problem(fact, subject_kinds(pb)) is None, f"{pb.source}: example: {fact}"


def test_the_names_a_template_reads_are_what_jinja_finds_undeclared() -> None:
    definitions: list[CheckDef | PlaybookDef] = [*load_checks(), *load_playbooks()]
    texts = [text for item in definitions for _where, text in templates(item)]
    texts += [
        "{% set x = host %}{{ x }}",
        "{% for r in routes %}{{ r }} {{ loop.index }} {{ host }}{% endfor %}",
        "{{ a if a is defined else b }} {{ xs | join(', ') }} {{ range(3) | list }}",
        "{% macro m(y) %}{{ y }}{{ z }}{% endmacro %}{{ m(w) }}",
    ]
    env = Environment()
    for text in texts:
        assert template_facts(env, text) == meta.find_undeclared_variables(env.parse(text)) - set(env.globals)
    assert template_facts(env, texts[-1]) == {"z", "w"}


# --- validation at load --------------------------------------------------------------------------


def _check(tmp_path: Path, body: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(
        "checks:\n  - id: my-forward\n    title: forwarding\n    subject: host\n"
        "    reason_pass: ok\n    reason_fail: bad\n" + body
    )
    return path


def test_a_misspelled_fact_in_a_user_check_is_exit_2_naming_file_line_and_the_fix(tmp_path: Path) -> None:
    _check(tmp_path, "    when:\n      - {fact: role, op: eq, value: router}\n    fact: ip_forwrd\n")
    result = CliRunner().invoke(main, ["checks", "list", "--checks", str(tmp_path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert f"{tmp_path / 'mine.yaml'}:9: check my-forward: fact: unknown fact 'ip_forwrd'" in lines[0]
    assert "did you mean 'ip_forward'?" in lines[0]


def test_a_misspelled_fact_in_a_when_condition_is_a_load_error(tmp_path: Path) -> None:
    _check(tmp_path, "    when:\n      - {fact: rol, op: eq, value: router}\n    fact: ip_forward\n")
    with pytest.raises(
        UsageError, match=r"mine\.yaml:8: check my-forward: when: .*'rol'.*did you mean 'role'"
    ):
        load_checks([str(tmp_path)])


def test_a_fact_of_another_subject_kind_says_whose_it_is(tmp_path: Path) -> None:
    _check(tmp_path, "    fact: syn_unanswered\n")
    with pytest.raises(UsageError, match=r"'syn_unanswered' does not exist on host subjects .*session"):
        load_checks([str(tmp_path)])


def test_a_misspelled_fact_in_a_reason_template_is_a_load_error(tmp_path: Path) -> None:
    path = _check(tmp_path, "    fact: ip_forward\n")
    path.write_text(path.read_text().replace("reason_fail: bad", "reason_fail: 'off on {{ hots }}'"))
    with pytest.raises(UsageError, match=r"mine\.yaml:6: .*reason_fail: unknown fact 'hots'.*'host'"):
        load_checks([str(tmp_path)])


def test_a_misspelled_fact_inside_any_of_is_a_load_error(tmp_path: Path) -> None:
    _check(
        tmp_path,
        "    when:\n      - any_of:\n          - {fact: role, op: eq, value: router}\n"
        "          - {fact: reachble, op: 'true'}\n    fact: ip_forward\n",
    )
    with pytest.raises(UsageError, match=r"mine\.yaml:10: .*'reachble'.*did you mean 'reachable'"):
        load_checks([str(tmp_path)])


def test_a_bad_regex_is_a_load_error_naming_the_file(tmp_path: Path) -> None:
    _check(tmp_path, "    fact: speaker_problem\n    expect: {op: regex, value: '(unable'}\n")
    with pytest.raises(
        UsageError, match=r"mine\.yaml: invalid check definition: expect: .*bad regex '\(unable'"
    ):
        load_checks([str(tmp_path)])


def test_contains_and_regex_need_a_value(tmp_path: Path) -> None:
    _check(tmp_path, "    fact: port_179_owners\n    expect: {op: contains}\n")
    with pytest.raises(UsageError, match=r"mine\.yaml: .*op contains needs a value"):
        load_checks([str(tmp_path)])


def _playbook(tmp_path: Path, **fields: str) -> None:
    text = {
        "id": "my-cause",
        "title": "mine",
        "subject": "host",
        "match": "[{fact: ip_forward, op: eq, value: 0}]",
        "culprit": "'{{ host }}'",
        "summary": "'forwarding off on {{ host }}'",
        "explanation": "because",
        **fields,
    }
    (tmp_path / "my-cause.yaml").write_text("".join(f"{k}: {v}\n" for k, v in text.items()))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "match",
            "[{fact: ip_froward, op: eq, value: 0}]",
            r"my-cause\.yaml:4: playbook my-cause: match: .*'ip_froward'",
        ),
        (
            "evidence_facts",
            "[ip_forwad]",
            r"my-cause\.yaml:8: playbook my-cause: evidence_facts: .*'ip_forwad'",
        ),
        (
            "next_steps",
            "['on {{ hsot }}: sysctl -a']",
            r"my-cause\.yaml:8: .*next_steps: unknown fact 'hsot'",
        ),
        (
            "fixes",
            "[{platform: sysctl, title: t, template: 'sysctl -w x={{ ip_forwarding }}'}]",
            r"my-cause\.yaml:8: .*fix sysctl: unknown fact 'ip_forwarding'.*'ip_forward'",
        ),
        ("summary", "'{{ host '", r"my-cause\.yaml: playbook my-cause: summary: template does not parse"),
        ("culprit", "'{{ dialer }}'", r"'dialer' does not exist on host subjects \(it is a fact of session"),
    ],
)
def test_a_playbook_reading_a_fact_its_subject_lacks_is_a_load_error(
    tmp_path: Path, field: str, value: str, message: str
) -> None:
    _playbook(tmp_path, **{field: value})
    with pytest.raises(UsageError, match=message):
        load_playbooks([str(tmp_path)])


def test_a_playbook_on_several_kinds_may_read_a_fact_of_one_of_them(tmp_path: Path) -> None:
    _playbook(
        tmp_path,
        subject="[host, cluster]",
        match="[{fact: lb_pool_overlaps, op: not_empty}]",
        culprit="'{{ lb_vip_announcer if lb_vip_announcer is defined else lb_pool_name }}'",
    )
    assert "my-cause" in {p.id for p in load_playbooks([str(tmp_path)])}
    _playbook(tmp_path, subject="[host, cluster]", culprit="'{{ dialer }}'")
    with pytest.raises(UsageError, match=r"'dialer' does not exist on host/cluster subjects"):
        load_playbooks([str(tmp_path)])


# --- the operators ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "actual", "expected"),
    [
        ("contains", "Bad peer AS", "gateway: Received: Bad peer AS", True),
        ("contains", "Bad peer AS", "gateway: Hold timer expired", False),
        ("contains", "nc", ["bird", "nc"], True),
        ("contains", "n", ["bird", "nc"], False),  # a list element, not a substring of one
        ("contains", 4242, [4242], True),
        ("contains", "x", 5, False),
        ("regex", r"(?i)bad peer as", "r1: Received: Bad peer AS", True),
        ("regex", r"^10\.42\.", ["192.168.0.0/24", "10.42.1.0/24"], True),
        ("regex", r"^10\.42\.", ["192.168.0.0/24"], False),
        ("regex", r"^10\.42\.", [], False),
        ("regex", r"^645\d\d$", 64512, True),
    ],
)
def test_contains_and_regex(op: str, value: object, actual: object, expected: bool) -> None:
    assert holds(Condition(fact="f", op=op, value=value), {"f": actual}) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize("op", ["contains", "regex"])
def test_contains_and_regex_on_an_unknown_fact_are_unknown(op: str) -> None:
    assert holds(Condition(fact="f", op=op, value="x"), {}) is None  # type: ignore[arg-type]
    assert holds(Condition(fact="f", op=op, value="x"), {"f": None}) is None  # type: ignore[arg-type]


def _any_of(*conditions: dict[str, object]) -> Condition:
    return Condition.model_validate({"any_of": list(conditions)})


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"a": True, "b": False}, True),
        ({"a": False, "b": True}, True),
        ({"a": False, "b": False}, False),
        ({"a": True}, True),  # one holds: the unknown one does not matter
        ({"a": False}, None),  # none holds and one is unknown: unknown, never false
        ({}, None),
    ],
)
def test_any_of(facts: dict[str, object], expected: bool | None) -> None:
    cond = _any_of({"fact": "a", "op": "true"}, {"fact": "b", "op": "true"})
    assert holds(cond, facts) is expected


def test_any_of_nests_and_names_what_it_reads() -> None:
    cond = _any_of(
        {"fact": "a", "op": "eq", "value": 1}, {"any_of": [{"fact": "b", "op": "regex", "value": "x"}]}
    )
    assert holds(cond, {"a": 0, "b": "yxz"}) is True
    assert holds(cond, {"a": 0, "b": "y"}) is False
    assert cond.facts() == ["a", "b"]


@pytest.mark.parametrize("body", [{}, {"fact": "a", "any_of": [{"fact": "b"}]}, {"any_of": []}])
def test_a_condition_is_a_fact_or_any_of(body: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="either `fact` or `any_of`"):
        Condition.model_validate(body)


def test_a_check_whose_any_of_is_undecided_is_unknown_with_the_reason() -> None:
    check = CheckDef.model_validate(
        {
            "id": "c",
            "title": "t",
            "subject": "session",
            "when": [
                {
                    "any_of": [
                        {"fact": "syn_lost_in_transit", "op": "true"},
                        {"fact": "syn_unanswered", "op": "true"},
                    ]
                }
            ],
            "fact": "port_filter_ok",
            "reason_pass": "ok",
            "reason_fail": "bad",
        }
    )
    s = Subject("session", "r1<->n1", ["r1", "n1"], ["r1", "n1"])
    s.add("syn_lost_in_transit", False)
    s.unknown("syn_unanswered", Unknown("failed", "SYN capture on n1: tcpdump missing"))
    result = judge_one(check, s)
    assert (result.status, result.unknown_kind) == ("unknown", "failed")
    assert "tcpdump missing" in result.reason
    s.add("syn_unanswered", False)
    assert judge_one(check, s).status == "skip"
    assert (
        "any_of(syn_lost_in_transit true None; syn_unanswered true None) is false"
        in judge_one(check, s).reason
    )


def test_the_operator_examples_in_the_docs_load_and_read_catalogued_facts() -> None:
    text = (PKG.parent / "docs" / "checks.md").read_text()
    block = re.search(r"```yaml\n(when:\n.*?any_of:.*?)```", text, re.S)
    assert block is not None
    conditions = [Condition.model_validate(c) for c in safe_yaml.load(block.group(1), "docs")["when"]]
    assert {c.op for c in conditions} >= {"contains", "regex"} and any(c.any_of for c in conditions)
    assert all(f in BY_NAME for c in conditions for f in c.facts())
    facts = {"last_errors": "r1: Received: Bad peer AS", "unreachable_bgp_routes": ["10.42.1.0/24"]}
    assert holds(conditions[0], facts) is True and holds(conditions[3], facts) is True


# --- bgpdoctor facts -------------------------------------------------------------------------------


def test_facts_command_lists_the_catalogue() -> None:
    result = CliRunner().invoke(main, ["facts"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()] == sorted(BY_NAME)


def test_facts_command_lists_one_subject_kind() -> None:
    result = CliRunner().invoke(main, ["facts", "--subject", "kubelet"])
    assert result.exit_code == 0
    rows = [line.split()[:2] for line in result.output.splitlines()]
    assert [name for name, _kinds in rows] == names_for("kubelet")
    assert all("kubelet" in kinds.split(",") for _name, kinds in rows)
    assert "ip_forward" not in result.output


def test_facts_command_refuses_an_unknown_kind() -> None:
    assert CliRunner().invoke(main, ["facts", "--subject", "router"]).exit_code == 2
