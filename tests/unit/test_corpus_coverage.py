"""docs/corpus-coverage.md, the map of the 99 reported failures onto root causes, stays checkable:
every case once, every cause a playbook, every test named for a "detected" case a real test."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from bgpdoctor.engine.rules import load_playbooks

ROOT = Path(__file__).resolve().parents[2]
COVERAGE = ROOT / "docs" / "corpus-coverage.md"
STATUSES = ("detected", "partly", "not yet")
# parametrised ids that come from data files rather than from the test module's text
PARAMS_FROM_DATA = {"tests/unit/test_replay.py": ROOT / "captures" / "runs"}


@dataclass(frozen=True)
class Row:
    number: int
    cause: str | None
    proposed: str | None
    status: str
    tests: tuple[str, ...]
    gap: str


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def parse_rows(text: str) -> list[Row]:
    rows = []
    for line in text.splitlines():
        if not re.match(r"^\|\s*\d+\s*\|", line):
            continue
        cells = _cells(line)
        assert len(cells) == 7, f"row {cells[0]}: {len(cells)} cells, want 7: {line[:80]}"
        number, _case, _source, cause, _how, status, last = cells
        proposed = re.fullmatch(r"proposed `([a-z0-9-]+)`", cause)
        existing = re.fullmatch(r"`([a-z0-9-]+)`", cause)
        rows.append(
            Row(
                number=int(number),
                cause=existing.group(1) if existing else None,
                proposed=proposed.group(1) if proposed else None,
                status=status,
                tests=tuple(re.findall(r"`(tests/[^`]+)`", last)),
                gap=last,
            )
        )
    return rows


def parse_counts(text: str) -> dict[str, int]:
    line = next(ln for ln in text.splitlines() if ln.startswith("**Counts:**"))
    return {
        status: int(n)
        for n, status in ((m[1], m[0]) for m in re.findall(r"(detected|partly|not yet) (\d+)", line))
    }


def missing_test(ref: str) -> str | None:
    """None when the test named by ref (file, file::function or file::function[param]) exists."""
    path, _, name = ref.partition("::")
    file = ROOT / path
    if not file.is_file():
        return f"{path} does not exist"
    if not name:
        return None
    match = re.fullmatch(r"(\w+)(?:\[(.+)\])?", name)
    if match is None:
        return f"{ref}: not a test name"
    function, param = match.groups()
    source = file.read_text()
    if not re.search(rf"^\s*def {function}\(", source, re.MULTILINE):
        return f"{path} has no test function {function}"
    if param is None or f'"{param}"' in source:
        return None
    data = PARAMS_FROM_DATA.get(path)
    if data is not None and (data / f"{param}.json").is_file():
        return None
    return f"{path}::{function} has no parameter {param!r}"


@pytest.fixture(scope="module")
def text() -> str:
    return COVERAGE.read_text()


@pytest.fixture(scope="module")
def rows(text: str) -> list[Row]:
    return parse_rows(text)


def test_every_corpus_case_has_exactly_one_row(rows: list[Row]) -> None:
    numbers = [r.number for r in rows]
    assert sorted(numbers) == list(range(1, 100)), [n for n, k in Counter(numbers).items() if k > 1]


def test_every_row_has_a_known_status_and_the_column_it_needs(rows: list[Row]) -> None:
    for row in rows:
        assert row.status in STATUSES, f"case {row.number}: status {row.status!r}"
        if row.status == "not yet":
            assert row.proposed and row.cause is None, f"case {row.number}: 'not yet' needs `proposed id`"
            assert len(row.gap) > 20, f"case {row.number}: say what a detection would read"
        else:
            assert row.cause and row.proposed is None, f"case {row.number}: name the cause id"
        if row.status == "detected":
            assert row.tests, f"case {row.number}: 'detected' names no test"
        if row.status == "partly":
            assert "Missing:" in row.gap, f"case {row.number}: 'partly' must say what is missing"


def test_causes_are_playbooks_and_no_proposed_cause_exists_already(rows: list[Row]) -> None:
    playbooks = {p.id for p in load_playbooks()}
    unknown = {r.number: r.cause for r in rows if r.cause is not None and r.cause not in playbooks}
    assert not unknown, f"cause ids that are no playbook: {unknown}"
    landed = {r.number: r.proposed for r in rows if r.proposed in playbooks}
    assert not landed, f"these causes exist now, re-check the rows and name their tests: {landed}"


def test_every_named_test_exists(rows: list[Row]) -> None:
    problems = [f"case {r.number}: {p}" for r in rows for ref in r.tests if (p := missing_test(ref))]
    assert not problems, "\n".join(problems)


def test_counts_at_the_top_match_the_rows(text: str, rows: list[Row]) -> None:
    counted = Counter(r.status for r in rows)
    assert parse_counts(text) == {status: counted[status] for status in STATUSES}


@pytest.mark.parametrize(
    ("ref", "problem"),
    [
        ("tests/unit/test_replay.py::test_recorded_fault_gives_its_root_cause[md5-mismatch]", None),
        ("tests/unit/lint/test_lint.py::test_broken_fixture_names_its_root_causes[seed001/broken]", None),
        (
            "tests/unit/test_replay.py::test_recorded_fault_gives_its_root_cause[no-such-fault]",
            "no parameter",
        ),
        ("tests/unit/test_replay.py::test_no_such_function", "no test function"),
        ("tests/unit/test_nowhere.py", "does not exist"),
    ],
)
def test_test_references_are_resolved_against_the_tree(ref: str, problem: str | None) -> None:
    found = missing_test(ref)
    assert found is None if problem is None else (found is not None and problem in found)


def test_a_bad_table_is_caught() -> None:
    table = (
        "**Counts:** detected 1 · partly 0 · not yet 1\n"
        "| 1 | a | s | `md5-mismatch` | live | detected | `tests/unit/test_nowhere.py` |\n"
        "| 1 | b | s | proposed `md5-mismatch` | — | not yet | reads the kernel config somehow |\n"
    )
    rows = parse_rows(table)
    assert [r.number for r in rows] == [1, 1]
    assert missing_test(rows[0].tests[0]) == "tests/unit/test_nowhere.py does not exist"
    assert rows[1].proposed in {p.id for p in load_playbooks()}
    assert parse_counts(table) == {"detected": 1, "partly": 0, "not yet": 1}
