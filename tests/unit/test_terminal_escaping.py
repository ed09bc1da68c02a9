"""Host output cannot take over the terminal or break out of its Markdown block.

A host printed `\\x1b[2J\\x1b[32mALL SESSIONS OK`: the screen cleared and a fake green verdict
appeared; a triple backtick closed the Markdown fence; a newline in a host name forged a
`[bgpdoctor]` progress line.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bgpdoctor import cli
from bgpdoctor.report.markdown import render_markdown
from bgpdoctor.report.model import (
    CheckResult,
    Diagnosis,
    Evidence,
    FixSnippet,
    HostReport,
    Report,
    Summary,
    Timing,
)
from bgpdoctor.report.safe_text import md_cell, md_code, md_fence, one_line, printable
from bgpdoctor.report.text import render_text

REPO = Path(__file__).resolve().parents[2]
ATTACK = "\x1b[2J\x1b[32mALL SESSIONS OK\x1b]0;owned\x07\x9b2J\r\x85 ```\n[bgpdoctor] all sessions OK"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
OWN_STYLE = re.compile(r"\x1b\[(?:\d+;)*\d*m")  # click.style's colours


def _control_left(out: str) -> list[str]:
    """Control characters left once bgpdoctor's own colour codes are taken out."""
    return CONTROL.findall(OWN_STYLE.sub("", out))


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J\x1b[32mALL SESSIONS OK\x1b[0m", "ALL SESSIONS OK"),
        ("title\x1b]0;owned\x07 after", "title after"),
        ("link \x1b]8;;http://evil\x1b\\here\x1b]8;;\x1b\\", "link here"),
        ("8-bit \x9b2J\x9d0;x\x9c csi", "8-bit  csi"),
        ("over\rwrite\x08\x7f", "overwrite"),
        ("keeps\ttabs\nand lines\r\n", "keeps\ttabs\nand lines\n"),
        ("unterminated \x1b]0;swallows the line\nnext line", "unterminated \nnext line"),
        ("ünïcødé 日本語 \u00a0", "ünïcødé 日本語 \u00a0"),
    ],
)
def test_printable(raw: str, shown: str) -> None:
    assert printable(raw) == shown


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("\x1b[]\x07\x9b\x9d`\n\r|")))
def test_no_control_character_survives(text: str) -> None:
    shown = printable(text)
    assert not CONTROL.search(shown)
    assert printable(shown) == shown
    assert "\n" not in one_line(text) and "\n" not in md_code(text) and "\n" not in md_cell(text)
    assert re.search(r"(?<!\\)\|", md_cell(text)) is None


def _fence_blocks(markdown: str) -> list[str]:
    """The content of each fenced code block, as CommonMark reads it (backtick fences)."""
    blocks: list[str] = []
    fence: str | None = None
    body: list[str] = []
    for line in markdown.split("\n"):
        stripped = line.lstrip(" ")
        if fence is None:
            opening = re.match(r"(`{3,})[^`]*$", stripped)
            if opening and len(line) - len(stripped) <= 3:
                fence, body = opening.group(1), []
        elif re.fullmatch(rf"{fence}`*\s*", stripped) and len(line) - len(stripped) <= 3:
            blocks.append("\n".join(body))
            fence = None
        else:
            body.append(line)
    assert fence is None, "a fence was left open"
    return blocks


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("`~ \nab\x1b")))
def test_nothing_inside_a_fence_can_close_it(text: str) -> None:
    assert _fence_blocks(md_fence(text)) == [printable(text)]


def _report(attack: str) -> Report:
    evidence = Evidence(
        host=f"r1{attack}", command=f"birdc {attack}", output=f"line one\n{attack}\nline three"
    )
    return Report(
        tool_version="0.1.0",
        inventory=f"inv{attack}.yaml",
        scope=["r1", f"r2{attack}"],
        hosts=[
            HostReport(name="r1", role="router", speaker="bird2", reachable=True),
            HostReport(
                name=f"r2{attack}",
                role="node",
                speaker="gobgp",
                reachable=False,
                error_kind="unreachable",
                error=attack,
            ),
        ],
        results=[
            CheckResult(
                check="bgp-session-established",
                title="t",
                host=f"r1<->r2{attack}",
                hosts=["r1"],
                status=status,
                reason=f"reason {attack}",
                evidence=[evidence],
            )
            for status in ("fail", "unknown", "pass")
        ],
        diagnoses=[
            Diagnosis(
                root_cause="speaker-down",
                title=f"title {attack}",
                rank=1,
                summary=f"summary {attack}",
                explanation=f"explanation {attack}",
                hosts=[f"r2{attack}"],
                evidence=[evidence],
                proven_by=[],
                symptoms=[f"bgp-session-established@r1<->r2{attack}"],
                ruled_out=[f"x: {attack}"],
                next_steps=[attack],
                fixes=[FixSnippet(platform="bird2", title=attack, host=attack, text=attack, target=attack)],
            )
        ],
        summary=Summary(
            hosts=2,
            unreachable_hosts=1,
            checks=3,
            passed=1,
            failed=1,
            warnings=0,
            errors=0,
            skipped=0,
            unknown=1,
            diagnoses=1,
            findings=1,
            exit_code=1,
        ),
        timing=Timing(
            started="2026-01-01T00:00:00+00:00", finished="2026-01-01T00:00:01+00:00", wall_seconds=1
        ),
    )


@pytest.mark.parametrize("verbose", [False, True])
def test_text_report_shows_host_text_without_its_control_sequences(verbose: bool) -> None:
    out = render_text(_report(ATTACK), verbose=verbose)
    assert "\x1b[2J" not in out and "\x1b[32mALL" not in out
    assert _control_left(out) == []
    assert "ALL SESSIONS OK" in out  # shown, as text
    assert not any(line.startswith("[bgpdoctor]") for line in out.splitlines())


def test_markdown_keeps_host_text_inside_its_blocks() -> None:
    out = render_markdown(_report(ATTACK))
    assert _control_left(out) == []
    blocks = _fence_blocks(out)
    evidence = printable(f"line one\n{ATTACK}\nline three")
    assert evidence in blocks  # the ``` inside did not end the block
    assert "## Check results" in out.split(evidence)[-1]  # the document goes on after it
    # the diagnosis, "Other findings", "Could not check" and "Check results": none forged
    assert [line for line in out.splitlines() if line.startswith("## ")][1:] == [
        "## Other findings",
        "## Could not check",
        "## Check results",
    ]


def test_progress_line_cannot_be_forged(capsys: pytest.CaptureFixture[str]) -> None:
    cli.progress("r1\n[bgpdoctor] all 12 sessions established\x1b[2J")
    err = capsys.readouterr().err
    assert err == "[bgpdoctor] r1\\n[bgpdoctor] all 12 sessions established\n"


def _hostile_recording(tmp_path: Path) -> Path:
    """The lab's MTU black hole, with a hostile nft rule comment on router-mine (shown as evidence)."""
    data: dict[str, Any] = json.loads((REPO / "captures" / "runs" / "mtu-blackhole.json").read_text())
    ruleset = data["hosts"]["router-mine"]["outputs"]["nft.ruleset"]
    text = base64.b64decode(ruleset["stdout_b64"]).decode()
    assert '"fault: pmtu"' in text
    ruleset["stdout_b64"] = base64.b64encode(
        text.replace('"fault: pmtu"', json.dumps(ATTACK)).encode()
    ).decode()
    data["hosts"]["sakamoto"]["error"] = {"kind": "unreachable", "message": ATTACK}
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(data))
    return path


def test_replay_to_a_terminal_is_safe(tmp_path: Path) -> None:
    # color=True: as on a terminal, where click passes escape sequences through untouched
    result = CliRunner().invoke(cli.main, ["replay", str(_hostile_recording(tmp_path))], color=True)
    assert "\x1b[2J" not in result.stdout and "\x1b]0;owned" not in result.stdout
    assert _control_left(result.stdout) == []
    assert "ALL SESSIONS OK" in result.stdout  # the evidence is still there to read
    assert not any(line.startswith("[bgpdoctor]") for line in result.stdout.splitlines())


def test_replay_markdown_keeps_the_backticks_inside_the_fence(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.main, ["replay", str(_hostile_recording(tmp_path)), "-o", "md"])
    assert _control_left(result.stdout) == []
    assert any(
        "ALL SESSIONS OK ```\n[bgpdoctor] all sessions OK" in block for block in _fence_blocks(result.stdout)
    )
