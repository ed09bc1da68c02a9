"""A check's conditions are compiled once per run: the compiled test decides as `holds` does."""

from __future__ import annotations

from typing import Any, get_args

from hypothesis import given, settings
from hypothesis import strategies as st

from bgpdoctor.engine.rules import Condition, Op, compiled, holds

OPS = [op for op in get_args(Op) if op != "regex"]  # regex needs patterns, drawn apart
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["", "a", "ab", "b"]))
values = st.one_of(
    scalars, st.lists(scalars, max_size=3), st.tuples(scalars), st.frozensets(st.integers(0, 2))
)
facts = st.dictionaries(st.sampled_from(["x", "y"]), values, max_size=2)


@st.composite
def conditions(draw: st.DrawFn, depth: int = 2) -> Condition:
    if depth and draw(st.booleans()):
        return Condition(any_of=draw(st.lists(conditions(depth - 1), min_size=1, max_size=3)))
    op = draw(st.sampled_from([*OPS, "regex"]))
    if op == "regex":
        return Condition(
            fact=draw(st.sampled_from(["x", "y"])), op=op, value=draw(st.sampled_from(["^a", "b$", "1"]))
        )
    value = draw(values)
    if op == "contains" and value is None:
        value = "a"
    return Condition(fact=draw(st.sampled_from(["x", "y"])), op=op, value=value)


def _outcome(test: Any, *args: Any) -> Any:
    try:
        return test(*args)
    except Exception as exc:  # a comparison the facts do not support fails alike in both
        return type(exc)


@settings(max_examples=300, deadline=None)
@given(cond=conditions(), known=facts)
def test_a_compiled_condition_decides_as_holds(cond: Condition, known: dict[str, Any]) -> None:
    assert _outcome(compiled(cond), known) == _outcome(holds, cond, known)


def test_a_compiled_condition_reads_unknown_facts_as_unknown() -> None:
    test = compiled(Condition(fact="state", op="eq", value="established"))
    assert test({"state": "established"}) is True
    assert test({"state": "idle"}) is False
    assert test({}) is None
    assert test({"state": None}) is None
    either = compiled(Condition(any_of=[Condition(fact="a", op="true"), Condition(fact="b", op="true")]))
    assert either({"a": False, "b": True}) is True
    assert either({"a": False}) is None
    assert either({"a": False, "b": False}) is False
