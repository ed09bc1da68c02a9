"""The built-in checks and playbooks load, refer to each other correctly and their templates compile."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jinja2 import Environment, StrictUndefined

from bgpdoctor.engine.rules import Condition, holds, load_checks, load_playbooks
from bgpdoctor.errors import UsageError

# playbooks/ is the one catalogue of root causes: everything else refers to it
CATALOGUE = {p.id for p in load_playbooks()}
ROOT = Path(__file__).resolve().parents[2]


def test_checks_and_playbooks_load() -> None:
    checks = load_checks()
    playbooks = load_playbooks()
    assert len(checks) == sum(
        (ROOT / "checks" / f).read_text().count("\n  - id: ") for f in os.listdir(ROOT / "checks")
    )
    assert len(playbooks) == len(list((ROOT / "playbooks").glob("*.yaml")))
    assert {p.id for p in playbooks} >= {
        "node-not-listening",
        "nat-rewrites-bgp-source",
        "unexpected-source-address",
        "ebgp-multihop-missing",
        "firewall-blocks-pod-cidr",
        "ip-forward-disabled",
        "rp-filter-strict",
        "mtu-blackhole",
        "podcidr-not-advertised",
        "kubelet-unreachable",
    }


def test_every_reference_is_known() -> None:
    checks = {c.id for c in load_checks()}
    for c in load_checks():
        assert set(c.root_causes) <= CATALOGUE, c.id
    for p in load_playbooks():
        assert Path(p.source).name == f"{p.id}.yaml", "a playbook lives in the file named after its id"
        assert set(p.explains) <= checks, (p.id, set(p.explains) - checks)


def test_templates_compile() -> None:
    env = Environment(undefined=StrictUndefined)
    for p in load_playbooks():
        for text in [p.summary, p.culprit, *p.next_steps, *(f.template for f in p.fixes)]:
            env.parse(text)
    for c in load_checks():
        env.parse(c.reason_pass)
        env.parse(c.reason_fail)


def test_user_folder_adds_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "checks:\n  - id: ip-forward\n    title: overridden\n    subject: host\n    fact: ip_forward\n"
        "    reason_pass: ok\n    reason_fail: bad\n"
    )
    checks = {c.id: c for c in load_checks([str(tmp_path)])}
    assert checks["ip-forward"].title == "overridden"


def test_bad_check_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("checks:\n  - id: x\n    subject: nowhere\n")
    with pytest.raises(UsageError, match=r"broken\.yaml"):
        load_checks([str(tmp_path)])


@pytest.mark.parametrize(
    ("op", "value", "actual", "expected"),
    [
        ("eq", 1, 1, True),
        ("eq", 1, 0, False),
        ("ne", 1, 0, True),
        ("in", [1, 2], 2, True),
        ("not_in", [1, 2], 2, False),
        ("gt", 3, 4, True),
        ("lte", 3, 4, False),
        ("true", None, 1, True),
        ("false", None, 1, False),
        ("empty", None, [], True),
        ("not_empty", None, ["x"], True),
    ],
)
def test_operators(op: str, value: object, actual: object, expected: bool) -> None:
    assert holds(Condition(fact="f", op=op, value=value), {"f": actual}) is expected  # type: ignore[arg-type]


def test_unknown_fact_is_none() -> None:
    assert holds(Condition(fact="f", op="eq", value=1), {}) is None
