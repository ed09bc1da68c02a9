"""README.md's example outputs are what the tool prints now (scripts/readme_examples.py)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("readme_examples", REPO / "scripts" / "readme_examples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


examples = _load_script()


@pytest.mark.parametrize("document", examples.DOCUMENTS)
def test_examples_are_what_the_tool_prints_now(document: str) -> None:
    try:
        diff = examples.drift(document)
    except examples.ExampleError as error:
        pytest.fail(f"an example in {document} could not be generated: {error}")
    if diff:
        pytest.fail(f"{document} drifted from the tool; run `python3 scripts/readme_examples.py`:\n" + diff)


def test_every_command_of_help_is_documented_in_the_readme() -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "bgpdoctor", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"NO_COLOR": "1", "COLUMNS": "100", "PATH": "/usr/bin:/bin"},
    ).stdout
    commands_section = help_text.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    commands = re.findall(r"^  ([a-z][a-z-]*)\s", commands_section, flags=re.MULTILINE)
    assert len(commands) >= 10, help_text
    readme = README.read_text(encoding="utf-8")
    missing = [name for name in commands if f"bgpdoctor {name}" not in readme]
    assert not missing, f"commands of `bgpdoctor --help` the README never shows: {missing}"


def test_every_shown_bgpdoctor_command_is_generated_or_says_why_not() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    unmarked: list[str] = []
    index = 0
    while index < len(lines):
        if not lines[index].startswith("```"):
            index += 1
            continue
        end = index + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        body = lines[index + 1 : end]
        shows_a_session = any(re.match(r"^[$#] bgpdoctor ", line) for line in body)
        marked = index > 0 and re.match(r"^<!-- (example|not generated): .+ -->$", lines[index - 1])
        if shows_a_session and not marked:
            unmarked.append(f"README.md:{index + 1}: {body[0]}")
        index = end + 1
    assert not unmarked, "blocks with shell sessions and no example / not generated marker:\n" + "\n".join(
        unmarked
    )


@pytest.mark.parametrize(
    "command",
    [
        "bgpdoctor run -i /var/lib/bgpdoctor/lab/inventory.yaml",
        "bgpdoctor status -i inventory.yaml",
        "bgpdoctor replay /tmp/ticket.json",
        "bgpdoctor replay captures/runs/healthy.json --report out.json",
        "bgpdoctor lint /etc/bird",
        "bgpdoctor discover --context home",
        "bgpdoctor lab status",
        "bgpdoctor causes | grep asn",
        "ls captures",
    ],
)
def test_a_command_that_depends_on_more_than_the_repository_is_refused(command: str) -> None:
    with pytest.raises(examples.ExampleError):
        examples.Example.parse(command)


def test_pipes_and_exit_code_are_parsed_not_run_by_a_shell() -> None:
    example = examples.Example.parse("bgpdoctor lint tests/fixtures/lint/seed000/broken | tail -2; echo $?")
    assert example.args == ("lint", "tests/fixtures/lint/seed000/broken")
    assert (example.head, example.tail, example.echo_exit) == (None, 2, True)
    assert example.shown == "bgpdoctor lint tests/fixtures/lint/seed000/broken | tail -2; echo $?"


def test_normalise_makes_repository_paths_relative_and_drops_trailing_space() -> None:
    output = f"{REPO}/captures/pcaps/x.pcap: 3 packets   \nin {REPO}\n\n\n"
    assert examples.normalise(output) == "captures/pcaps/x.pcap: 3 packets\nin ."


def test_render_replaces_a_stale_block_and_keeps_the_rest() -> None:
    document = "Intro.\n\n<!-- example: bgpdoctor causes | head -1 -->\n```\nstale output\n```\n\nAfter.\n"
    first_cause = subprocess.run(
        [sys.executable, "-m", "bgpdoctor", "causes"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    rendered = examples.render(document)
    assert rendered == (
        "Intro.\n\n<!-- example: bgpdoctor causes | head -1 -->\n```\n"
        f"$ bgpdoctor causes | head -1\n{first_cause.rstrip()}\n```\n\nAfter.\n"
    )
    assert examples.render(rendered) == rendered


def test_a_marker_without_a_block_names_its_line() -> None:
    with pytest.raises(examples.ExampleError, match=r"README.md:2: "):
        examples.find_blocks("text\n<!-- example: bgpdoctor causes -->\nno fence\n")
