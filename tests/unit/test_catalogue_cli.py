"""The catalogue from the command line: `causes`, `checks list` and `explain` read the same
folders as a run, user folders included, and complete ids in the shell."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bgpdoctor.cli import main
from bgpdoctor.engine.rules import load_playbooks

PLAYBOOK = """id: my-cause
title: My own root cause
subject: host
match:
  - {fact: ip_forward, op: eq, value: 7}
culprit: "{{ host }}"
summary: "never"
explanation: |
  A cause of my own.
"""


def test_causes_lists_every_playbook_once() -> None:
    out = CliRunner().invoke(main, ["causes"])
    assert out.exit_code == 0
    ids = [line.split()[0] for line in out.output.splitlines()]
    assert ids == sorted(p.id for p in load_playbooks())


def test_user_playbooks_are_listed_and_explained(tmp_path: Path) -> None:
    (tmp_path / "my-cause.yaml").write_text(PLAYBOOK)
    out = CliRunner().invoke(main, ["causes", "--playbooks", str(tmp_path)])
    assert "my-cause" in out.output
    explained = CliRunner().invoke(main, ["explain", "my-cause", "--playbooks", str(tmp_path)])
    assert explained.exit_code == 0 and "A cause of my own." in explained.output
    unknown = CliRunner().invoke(main, ["explain", "my-cause"])
    assert unknown.exit_code == 2 and "bgpdoctor causes" in unknown.output


def test_explain_completes_root_cause_ids() -> None:
    from bgpdoctor.cli import _complete_ids

    assert "rp-filter-strict" in _complete_ids(None, None, "rp-")  # type: ignore[arg-type]
    assert all(i.startswith("bgp-") for i in _complete_ids(None, None, "bgp-"))  # type: ignore[arg-type]


def test_a_misspelled_root_cause_in_a_user_check_is_a_load_error(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "checks:\n"
        "  - id: my-check\n"
        "    title: mine\n"
        "    subject: host\n"
        "    fact: ip_forward\n"
        "    reason_pass: ok\n"
        "    reason_fail: bad\n"
        "    root_causes: [ip-forward-disabeld]\n"
    )
    runs = Path(__file__).resolve().parents[2] / "captures" / "runs" / "healthy.json"
    out = CliRunner().invoke(main, ["replay", str(runs), "--checks", str(tmp_path)])
    assert out.exit_code == 2
    assert "mine.yaml: check my-check names an unknown root cause 'ip-forward-disabeld'" in out.output


def test_explain_shows_named_slots_not_template_syntax() -> None:
    out = CliRunner().invoke(main, ["explain", "rp-filter-strict"])
    assert out.exit_code == 0
    assert "{{" not in out.output and "<rp_filter_host>" in out.output


def test_node_completes_with_the_host_names_of_the_inventory_given(tmp_path: Path) -> None:
    import click

    from bgpdoctor.cli import _complete_hosts, main

    inv = tmp_path / "inv.yaml"
    inv.write_text(
        "hosts:\n  yuuko-k8s: {role: node, connect: {local: true}}\n"
        "  yuna: {role: node, connect: {local: true}}\n"
        "  router-mine: {role: router, connect: {local: true}}\n"
    )
    run = main.get_command(click.Context(main), "run")
    assert run is not None
    param = next(p for p in run.params if p.name == "nodes")

    def context(**params: str) -> click.Context:
        ctx = click.Context(run)
        ctx.params.update(params)
        return ctx

    assert _complete_hosts(context(inventory_path=str(inv)), param, "yu") == ["yuna", "yuuko-k8s"]
    assert _complete_hosts(context(), param, "") == []  # no -i yet: nothing to offer
    assert _complete_hosts(context(inventory_path=str(tmp_path / "missing.yaml")), param, "") == []
