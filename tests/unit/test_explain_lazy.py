"""`bgpdoctor explain` reads only the definition it shows, validated as a full load validates it,
and once that file is validated (and cached) it starts without pydantic or Jinja."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bgpdoctor.cli import main
from bgpdoctor.engine.definition_files import explained_definition
from bgpdoctor.engine.rules import load_checks, load_playbooks
from bgpdoctor.errors import UsageError

REPO = Path(__file__).resolve().parents[2]

PLAYBOOK = """id: my-cause
title: My own root cause
subject: host
match:
  - {fact: ip_forward, op: eq, value: 7}
culprit: "{{ host }}"
summary: "never"
explanation: |
  A cause of my own.
fixes:
  - {platform: linux, title: Turn it on, template: "sysctl -w net.ipv4.ip_forward=1"}
"""


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _explain(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["explain", *args])
    return result.exit_code, result.output


def test_explain_with_a_validated_file_imports_neither_pydantic_nor_jinja(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from bgpdoctor.cli import main\n"
        "try:\n"
        "    main(['explain', 'mtu-blackhole'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('heavy:', sorted(m for m in ('pydantic', 'jinja2', 'yaml') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    runs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert runs[0].stdout.startswith("root cause mtu-blackhole:")
    assert "heavy: ['jinja2', 'pydantic', 'yaml']" in runs[0].stdout  # the first one validates the file
    assert runs[1].stdout.replace("heavy: []", "heavy: ['jinja2', 'pydantic', 'yaml']") == runs[0].stdout


def test_every_definition_is_explained_as_the_full_load_has_it() -> None:
    for check in load_checks():
        assert explained_definition(check.id) == ("checks", check.model_dump(mode="json"))
    check_ids = {c.id for c in load_checks()}
    for playbook in load_playbooks():
        if playbook.id not in check_ids:  # a check of the same id is shown first, as before
            assert explained_definition(playbook.id) == ("playbooks", playbook.model_dump(mode="json"))


def test_an_invalid_definition_is_refused_each_time_and_an_edit_is_seen(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    path = folder / "my-cause.yaml"
    path.write_text(PLAYBOOK.replace("fact: ip_forward,", "fact: ip_forwrd,"))
    for _ in range(2):
        code, output = _explain("my-cause", "--playbooks", str(folder))
        assert code == 2 and "unknown fact 'ip_forwrd'" in output and "did you mean 'ip_forward'" in output
    path.write_text(PLAYBOOK)
    assert _explain("my-cause", "--playbooks", str(folder)) == (
        0,
        "root cause my-cause: My own root cause\n\nA cause of my own.\n\n"
        f"fix platforms: linux\nsource: {path}\n",
    )
    path.write_text(PLAYBOOK.replace("A cause of my own.", "Edited."))
    code, output = _explain("my-cause", "--playbooks", str(folder))
    assert code == 0 and "Edited." in output and "A cause of my own." not in output


def test_a_user_definition_replaces_the_built_in_one_of_its_id(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(PLAYBOOK.replace("my-cause", "mtu-blackhole"))
    code, output = _explain("mtu-blackhole", "--playbooks", str(tmp_path))
    assert code == 0 and output.startswith("root cause mtu-blackhole: My own root cause\n")


def test_a_playbook_that_explains_an_unknown_check_is_refused(tmp_path: Path) -> None:
    (tmp_path / "my-cause.yaml").write_text(PLAYBOOK + "explains: [no-such-check]\n")
    code, output = _explain("my-cause", "--playbooks", str(tmp_path))
    assert code == 2
    assert (
        f"{tmp_path / 'my-cause.yaml'}: playbook my-cause explains an unknown check 'no-such-check'" in output
    )


def test_an_id_spelled_with_a_yaml_escape_is_still_found(tmp_path: Path) -> None:
    (tmp_path / "escaped.yaml").write_text(PLAYBOOK.replace("id: my-cause", 'id: "my\\x2dcause"'))
    code, output = _explain("my-cause", "--playbooks", str(tmp_path))
    assert code == 0 and output.startswith("root cause my-cause:")


def test_an_unwritable_cache_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    code, output = _explain("rp-filter-strict")
    assert code == 0 and output.startswith("root cause rp-filter-strict:")


def test_a_run_loads_the_same_definitions_from_the_cache_and_an_edit_is_validated(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "my-cause.yaml").write_text(PLAYBOOK)
    cold = (load_checks(), load_playbooks([str(folder)]))
    assert list((tmp_path / "cache" / "bgpdoctor" / "definitions").iterdir())  # the cache was filled
    warm = (load_checks(), load_playbooks([str(folder)]))
    assert warm == cold
    (folder / "my-cause.yaml").write_text(PLAYBOOK.replace("fact: ip_forward,", "fact: ip_forwrd,"))
    with pytest.raises(UsageError, match="unknown fact 'ip_forwrd'"):
        load_playbooks([str(folder)])
