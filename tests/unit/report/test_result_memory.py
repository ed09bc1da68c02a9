"""Thousands of nodes make hundreds of thousands of results and quoted outputs: kept small."""

from __future__ import annotations

import sys

import pytest
from pydantic import TypeAdapter, ValidationError

from bgpdoctor.report.model import CheckResult, Evidence


def test_outputs_quoted_alike_share_one_set_of_the_fields_given() -> None:
    a = Evidence(host="r1", command="ip route", output="default via 10.0.0.1")
    b = Evidence(host="r2", command="ip route", output="default via 10.0.0.2")
    noted = Evidence(host="r2", command="ip route", output="x", note="excerpt")
    assert a.__pydantic_fields_set__ is b.__pydantic_fields_set__
    assert noted.model_fields_set == {"host", "command", "output", "note"}
    assert a.model_fields_set == {"host", "command", "output"}


def test_a_field_set_on_one_output_leaves_the_others_alone() -> None:
    a = Evidence(host="r1", command="ip route", output="one")
    b = Evidence(host="r2", command="ip route", output="two")
    b.note = "cut"
    copied = a.model_copy(update={"exit_status": 1})
    assert a.model_fields_set == {"host", "command", "output"}
    assert b.model_fields_set == {"host", "command", "output", "note"}
    assert copied.model_fields_set == {"host", "command", "output", "exit_status"}
    assert Evidence(host="r3", command="c", output="o").model_fields_set == {"host", "command", "output"}


def test_a_result_keeps_its_fields_in_slots_and_validates_as_before() -> None:
    result = CheckResult(check="c", title="t", host="h", hosts=["h"], status="pass", reason="ok")
    assert not hasattr(result, "__dict__")
    assert sys.getsizeof(result) < 200
    adapter = TypeAdapter(CheckResult)
    assert adapter.dump_json(result) == (
        b'{"check":"c","title":"t","host":"h","hosts":["h"],"status":"pass","actual":null,'
        b'"expected":null,"reason":"ok","evidence":[],"explained_by":null,"unknown_kind":null}'
    )
    with pytest.raises(ValidationError, match="status"):
        adapter.validate_python(
            {"check": "c", "title": "t", "host": "h", "hosts": [], "status": "x", "reason": ""}
        )


def test_a_result_copied_with_changes_leaves_the_original_alone() -> None:
    result = CheckResult(check="c", title="t", host="h", hosts=["h"], status="fail", reason="down")
    copied = result.model_copy(update={"status": "unknown", "reason": "timed out"})
    assert (copied.status, copied.reason, copied.check, copied.hosts) == ("unknown", "timed out", "c", ["h"])
    assert (result.status, result.reason) == ("fail", "down")
