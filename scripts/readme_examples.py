"""Regenerate the example outputs in README.md (and docs/reports.md) from the tool itself.

A generated example is one or more marker lines followed by a fenced block::

    <!-- example: bgpdoctor replay captures/runs/healthy.json | head -2 -->
    ```
    (replaced by "$ bgpdoctor replay ..." and what the command prints now)
    ```

Several marker lines in a row fill one block, in order. A command is ``bgpdoctor ARGS``, optionally
followed by ``| head -N`` or ``| tail -N`` (applied here, no shell) and ``; echo $?`` (the exit
code printed after the output). It runs as ``python3 -m bgpdoctor ARGS`` from the repository root
with NO_COLOR=1 and COLUMNS=100, stderr merged into stdout. Only commands whose output depends on
files in the repository alone are accepted (see ``check_deterministic``); a block the script
cannot produce (it needs root, the lab or a cluster) is marked ``<!-- not generated: reason -->``
and left as written.

    python3 scripts/readme_examples.py            # rewrite README.md
    python3 scripts/readme_examples.py --check    # exit 1 with a unified diff when README.md drifted
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = ("README.md", "docs/reports.md")

MARKER_RE = re.compile(r"^<!-- example: (?P<command>bgpdoctor .+?) -->$")
FENCE_RE = re.compile(r"^```")
PIPE_RE = re.compile(r"^(?P<which>head|tail) -(?P<count>\d+)$")
ECHO_EXIT = "echo $?"

# subcommand words -> the repository folder every path argument must lie under (None: no path)
DETERMINISTIC: dict[tuple[str, ...], tuple[str, ...] | None] = {
    ("replay",): ("captures/runs/",),
    ("status",): ("captures/runs/",),
    ("lint",): ("tests/fixtures/lint/",),
    ("analyze",): ("captures/pcaps/",),
    ("inventory", "check"): ("tests/unit/inventory_cases/", "docs/"),
    ("explain",): None,
    ("causes",): None,
    ("checks", "list"): None,
    ("facts",): None,
    ("schema", "report"): None,
    ("schema", "lint"): None,
    ("lab", "faults"): None,
}
# options whose value is a file the command writes or reads live: never in a generated example
FORBIDDEN_OPTIONS = {"--report", "--pcap-dir", "--prometheus", "-i", "--inventory", "--context", "--record"}


class ExampleError(Exception):
    """A marker that names a command this script will not run, or a block it cannot find."""


@dataclass(frozen=True)
class Example:
    """One marker line: the command as shown, the bgpdoctor arguments and what to do with its output.

    >>> Example.parse("bgpdoctor causes | head -3")
    Example(shown='bgpdoctor causes | head -3', args=('causes',), head=3, tail=None, echo_exit=False)
    """

    shown: str
    args: tuple[str, ...]
    head: int | None
    tail: int | None
    echo_exit: bool

    @classmethod
    def parse(cls, shown: str) -> Example:
        text = shown.strip()
        echo_exit = False
        if text.endswith(ECHO_EXIT):
            text = text[: -len(ECHO_EXIT)].rstrip()
            if not text.endswith(";"):
                raise ExampleError(f"{shown!r}: write `; echo $?`")
            text = text[:-1].rstrip()
            echo_exit = True
        command, *pipes = (part.strip() for part in text.split("|"))
        head = tail = None
        for pipe in pipes:
            match = PIPE_RE.match(pipe)
            if match is None:
                raise ExampleError(f"{shown!r}: only `| head -N` and `| tail -N` may follow the command")
            if match["which"] == "head":
                head = int(match["count"])
            else:
                tail = int(match["count"])
        words = shlex.split(command)
        if not words or words[0] != "bgpdoctor":
            raise ExampleError(f"{shown!r}: an example runs `bgpdoctor ...`")
        example = cls(
            shown=text if not echo_exit else shown.strip(),
            args=tuple(words[1:]),
            head=head,
            tail=tail,
            echo_exit=echo_exit,
        )
        check_deterministic(example)
        return example


def check_deterministic(example: Example) -> None:
    """Refuse a command whose output would depend on more than the repository's files."""
    args = example.args
    for words, folders in DETERMINISTIC.items():
        if args[: len(words)] != words:
            continue
        rest = args[len(words) :]
        if words == ("status",) and "--recording" not in rest:
            raise ExampleError(f"{example.shown!r}: `status` is generated only with --recording")
        for arg in rest:
            if arg.split("=", 1)[0] in FORBIDDEN_OPTIONS:
                raise ExampleError(f"{example.shown!r}: {arg} reads or writes outside the repository")
            if folders is not None and not arg.startswith("-") and not arg.startswith(folders):
                raise ExampleError(f"{example.shown!r}: {arg} is not under {' or '.join(folders)}")
        return
    raise ExampleError(f"{example.shown!r}: not a deterministic command (see DETERMINISTIC)")


def normalise(output: str) -> str:
    """Everything that may differ between two runs on two machines, made equal.

    - the repository's absolute path becomes relative (`/work/main/captures/x` -> `captures/x`);
    - trailing spaces and trailing blank lines go (Markdown and editors strip them anyway).

    Times in a replay ("in 4.9s", "facts taken 2026-...") come from the recording, not from the
    clock, so they are kept: they tell the reader how long the real lab run took.
    """
    text = output.replace(f"{REPO}/", "").replace(str(REPO), ".")
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def run_example(example: Example) -> str:
    """The block text for one example: `$ command`, then its normalised output.

    Exit 4 (a bug), or 2 and up where the example does not show `; echo $?`, means the tool could
    not produce the example (a broken checkout, a check being edited): an error, not an output.
    """
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    env.pop("FORCE_COLOR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "bgpdoctor", *example.args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode == 4 or (proc.returncode >= 2 and not example.echo_exit):
        first_line = (proc.stdout.strip().splitlines() or [""])[0]
        raise ExampleError(f"{example.shown!r} failed with exit {proc.returncode}: {first_line}")
    lines = normalise(proc.stdout).splitlines()
    if example.head is not None:
        lines = lines[: example.head]
    if example.tail is not None:
        lines = lines[-example.tail :] if example.tail else []
    if example.echo_exit:
        lines.append(str(proc.returncode))
    return "\n".join([f"$ {example.shown}", *lines])


@dataclass(frozen=True)
class Block:
    """The marker lines before a fence and the line range of the fence's content (0-based, end excluded)."""

    examples: tuple[Example, ...]
    start: int
    end: int


def find_blocks(text: str, name: str = "README.md") -> list[Block]:
    """Every fenced block preceded by example markers."""
    lines = text.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        if MARKER_RE.match(lines[index]) is None:
            index += 1
            continue
        first_marker = index
        examples: list[Example] = []
        while index < len(lines) and (match := MARKER_RE.match(lines[index])) is not None:
            examples.append(Example.parse(match["command"]))
            index += 1
        if index >= len(lines) or FENCE_RE.match(lines[index]) is None:
            raise ExampleError(
                f"{name}:{first_marker + 1}: an example marker must be followed by a ``` block"
            )
        start = index + 1
        end = start
        while end < len(lines) and FENCE_RE.match(lines[end]) is None:
            end += 1
        if end >= len(lines):
            raise ExampleError(f"{name}:{index + 1}: the ``` block is never closed")
        blocks.append(Block(tuple(examples), start, end))
        index = end + 1
    return blocks


def render(text: str, name: str = "README.md") -> str:
    """The document with every generated block filled from the commands' output now."""
    blocks = find_blocks(text, name)
    examples = [example for block in blocks for example in block.examples]
    with ThreadPoolExecutor(max_workers=min(16, (os.cpu_count() or 2) * 2)) as pool:
        outputs = dict(zip(examples, pool.map(run_example, examples), strict=True))
    lines = text.splitlines()
    for block in reversed(blocks):
        content = "\n".join(outputs[example] for example in block.examples).splitlines()
        lines[block.start : block.end] = content
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


def drift(name: str) -> str:
    """A unified diff from the document as committed to the document as generated; empty when equal."""
    path = REPO / name
    current = path.read_text(encoding="utf-8")
    generated = render(current, name)
    return "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            generated.splitlines(keepends=True),
            fromfile=f"{name} (committed)",
            tofile=f"{name} (generated now)",
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 with a diff when a document drifted")
    parser.add_argument("documents", nargs="*", default=list(DOCUMENTS), help="relative to the repository")
    options = parser.parse_args(argv)
    status = 0
    for name in options.documents:
        try:
            if options.check:
                diff = drift(name)
                if diff:
                    sys.stdout.write(diff)
                    status = 1
            else:
                path = REPO / name
                current = path.read_text(encoding="utf-8")
                generated = render(current, name)
                if generated != current:
                    path.write_text(generated, encoding="utf-8")
                    print(f"{name}: examples regenerated", file=sys.stderr)
        except ExampleError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    if status:
        print("\nREADME examples drifted: run python3 scripts/readme_examples.py", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
