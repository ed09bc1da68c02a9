"""Every form `run` and `replay` can print or write, chosen by name (`-o`, a `--report` suffix).

text (the terminal; `--quiet` shortens it), json (the report itself, `bgpdoctor schema report`),
md (for a ticket), junit (for CI); `--prometheus FILE` writes metrics beside any of them. The BGP
summary line, the Markdown diagram and the Prometheus session metrics come from the session status
of the same facts (`bgpdoctor status`), computed once here.
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import TypeAdapter

from bgpdoctor.report.model import CheckResult, Report
from bgpdoctor.report.status import StatusReport, status_of_facts

if TYPE_CHECKING:
    from bgpdoctor.engine.run import Collected
    from bgpdoctor.inventory_model import Inventory

FORMS = ("text", "json", "md", "junit")
_SUFFIX_FORM = {".md": "md", ".markdown": "md", ".xml": "junit"}


@dataclass
class RunOutputs:
    """What the renderings need beside the report."""

    status: StatusReport | None = None
    sites: dict[str, str | None] = field(default_factory=dict)
    extra_checks: list[str] = field(default_factory=list)
    quiet: bool = False
    status_problem: str | None = None  # why the session status could not be computed


def run_outputs(
    inv: Inventory, collected: Collected, extra_checks: list[str] | None = None, quiet: bool = False
) -> RunOutputs:
    """The session status of a run's facts; a failure there costs the BGP line, never the report."""
    out = RunOutputs(
        sites={h: inv.hosts[h].site for h in collected.scope if h in inv.hosts},
        extra_checks=list(extra_checks or []),
        quiet=quiet,
    )
    try:
        out.status = status_of_facts(
            inv, collected.facts, collected.scope, collected.started, collected.world
        )
    except Exception as exc:  # the diagnosis is worth more than its heading line
        out.status_problem = f"{type(exc).__name__}: {exc}"
    # nothing reads the run's parsed view after this: rendering a large report needs its memory
    collected.world = None
    return out


def form_for_path(path: Path) -> str:
    """The form of a `--report` file by its suffix: .md Markdown, .xml JUnit, anything else JSON."""
    return _SUFFIX_FORM.get(path.suffix.lower(), "json")


def render(report: Report, form: str, verbose: bool = False, extras: RunOutputs | None = None) -> str:
    extras = extras or RunOutputs()
    if form == "json":
        return report.model_dump_json(indent=2)
    if form == "md":
        from bgpdoctor.report.markdown import render_markdown

        return render_markdown(report, extras.status, extras.sites)
    if form == "junit":
        from bgpdoctor.report.junit import check_families, render_junit

        return render_junit(report, check_families(extras.extra_checks))
    from bgpdoctor.report.safe_text import one_line
    from bgpdoctor.report.text import render_quiet, render_text

    text = (
        render_quiet(report, extras.status)
        if extras.quiet
        else render_text(report, verbose=verbose, status=extras.status)
    )
    if extras.status is None and extras.status_problem:
        text = f"BGP: the sessions could not be summarised ({one_line(extras.status_problem)})\n{text}"
    return text


_RESULTS = TypeAdapter(list[CheckResult])
_NO_RESULTS = '\n  "results": [],\n'
RESULTS_PER_CHUNK = 200  # a few hundred KiB of JSON, copied a few times on its way out


def json_chunks(report: Report) -> Iterator[str]:
    """`render(report, "json")` in pieces, the same text once joined: a report of thousands of
    nodes is hundreds of MiB of JSON, and holding it whole (and its encoded copy) doubled a replay's
    memory. The results are dumped a few hundred at a time, indented one level deeper.
    """
    return (chunk.decode() for chunk in json_byte_chunks(report))


def json_for_stdout(report: Report) -> Iterator[str] | Iterator[bytes]:
    """json_chunks for click.echo: the serializer's UTF-8 bytes as they are when stdout writes
    UTF-8 anyway (encoding hundreds of MiB again costs a large replay a tenth of its time)."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    return json_byte_chunks(report) if codecs.lookup(encoding).name == "utf-8" else json_chunks(report)


def json_byte_chunks(report: Report) -> Iterator[bytes]:
    """json_chunks UTF-8 encoded, as the serializer makes them (never decoded to be encoded again)."""
    if not report.results:
        yield report.model_dump_json(indent=2).encode()
        return
    frame = report.model_copy(update={"results": []}).model_dump_json(indent=2)
    head, _, tail = frame.partition(_NO_RESULTS)
    yield (head + '\n  "results": [\n').encode()
    for start in range(0, len(report.results), RESULTS_PER_CHUNK):
        batch = _RESULTS.dump_json(report.results[start : start + RESULTS_PER_CHUNK], indent=2)
        # "[\n  {...},\n  {...}\n]" -> the items at the report's depth, "    {...}"
        items = batch[2:-2].replace(b"\n", b"\n  ")
        yield (b"  " if start == 0 else b",\n  ") + items
    yield ("\n  ],\n" + tail).encode()


def write_prometheus(path: Path, report: Report | None, status: StatusReport | None) -> None:
    """node_exporter textfile metrics of a run or a status, written atomically."""
    from bgpdoctor.report.prometheus import render_prometheus, write_atomically

    write_atomically(path, render_prometheus(report, status))
