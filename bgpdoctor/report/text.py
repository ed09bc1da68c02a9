"""Plain-text rendering of a report for the terminal (colour only when stdout is a TTY).

Styles are click's: `click.echo` drops them when stdout is not a terminal, and the CLI turns them
off for NO_COLOR. Everything a host supplied goes through `safe_text` first: no control sequence
reaches the terminal. With the session status, a one-line BGP summary heads the output.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from bgpdoctor.report.model import CheckResult, Report, Summary
from bgpdoctor.report.safe_text import one_line, printable_model
from bgpdoctor.report.status import StatusReport, bgp_summary_line

_COLOURS = {
    "pass": "green",
    "fail": "red",
    "warn": "yellow",
    "error": "magenta",
    "skip": "bright_black",
    "unknown": "blue",
}
UNKNOWN_SHOWN = 20  # the "could not check" section lists this many unless -v
_FINDINGS = ("fail", "warn", "error")  # listed under "other findings" unless a diagnosis explains them


def _indent(text: str, prefix: str = "      ", width: int = 200) -> str:
    """Indent, and cut very long lines (a JSON ruleset) so the terminal stays readable."""
    return "\n".join(
        prefix + (line if len(line) <= width else line[:width] + " ...") for line in text.splitlines()
    )


def summary_counts(s: Summary) -> str:
    """Example: "189 checks (150 pass, 2 fail, 0 warn, 0 error, 30 skip, 7 unknown)"."""
    return (
        f"{s.checks} checks ({s.passed} pass, {s.failed} fail, {s.warnings} warn, {s.errors} error, "
        f"{s.skipped} skip, {s.unknown} unknown)"
    )


def _result_line(r: CheckResult) -> str:
    status = click.style(f"{r.status.upper():7}", fg=_COLOURS.get(r.status))
    tail = f" [symptom of {one_line(r.explained_by)}]" if r.explained_by else ""
    return f"  {status} {one_line(r.check):28} {one_line(r.host):32} {one_line(r.reason)}{tail}"


_VERDICT_COLOUR = {0: "green", 1: "red", 3: "blue"}


def bgp_heading(status: StatusReport) -> str:
    """The BGP summary line, green when every session is established, red when one is down."""
    return click.style(bgp_summary_line(status), fg=_VERDICT_COLOUR.get(status.exit_code), bold=True)


def _verdict_line(report: Report) -> str:
    s = report.summary
    verdict = {
        0: "no findings",
        1: f"{s.findings} finding(s)",
        3: "could not judge the checks that matter",
        4: "internal error",
    }
    return click.style(
        f"result: {verdict.get(s.exit_code, str(s.exit_code))} (exit {s.exit_code})",
        fg=_VERDICT_COLOUR.get(s.exit_code),
    )


def _printable_shown(report: Report, shown: Callable[[CheckResult], bool]) -> Report:
    """`printable_model` of the report with only the results a rendering can show: made printable
    whole, the pass and skip verdicts of thousands of nodes took more time and memory than the run."""
    return printable_model(report.model_copy(update={"results": [r for r in report.results if shown(r)]}))


def render_quiet(report: Report, status: StatusReport | None = None) -> str:
    """`--quiet`: the BGP line, one line per root cause and per other finding, the result."""
    report = _printable_shown(report, lambda r: r.status in ("fail", "error") and r.explained_by is None)
    out = [bgp_heading(status)] if status is not None else []
    for d in report.diagnoses:
        out.append(
            click.style(f"#{d.rank} {one_line(d.root_cause)}", fg="red", bold=True)
            + f": {one_line(d.summary)}"
        )
    out += [
        _result_line(r) for r in report.results if r.status in ("fail", "error") and r.explained_by is None
    ]
    out.append(_verdict_line(report))
    return "\n".join(out)


def render_text(report: Report, verbose: bool = False, status: StatusReport | None = None) -> str:
    report = _printable_shown(
        report,
        lambda r: verbose or r.status == "unknown" or (r.status in _FINDINGS and r.explained_by is None),
    )
    out: list[str] = [bgp_heading(status)] if status is not None else []
    s = report.summary
    out.append(
        f"bgpdoctor {one_line(report.tool_version)}: {s.hosts} hosts, {summary_counts(s)} "
        f"in {report.timing.wall_seconds:.1f}s"
    )
    for h in report.hosts:
        if not h.reachable:
            line = f"  host {one_line(h.name)}: {one_line(h.error_kind or '?')}: {one_line(h.error or '')}"
            out.append(click.style(line, fg="magenta"))
    if report.diagnoses:
        out.append("")
        out.append(click.style(f"{len(report.diagnoses)} root cause(s) found:", bold=True))
    for d in report.diagnoses:
        out.append("")
        out.append(
            click.style(f"#{d.rank} {one_line(d.root_cause)}", fg="red", bold=True) + f"  {one_line(d.title)}"
        )
        out.append(f"   {one_line(d.summary)}")
        out.append(f"   hosts: {one_line(', '.join(d.hosts))}")
        if d.symptoms:
            out.append(f"   symptoms explained: {one_line(', '.join(d.symptoms))}")
        if d.ruled_out:
            out.append("   ruled out: " + one_line("; ".join(d.ruled_out)))
        excerpts = {(e.host, e.command) for e in d.evidence if (e.note or "").startswith("excerpt")}
        shown_evidence = [
            e
            for e in d.evidence
            if (e.note or "").startswith("excerpt") or (e.host, e.command) not in excerpts
        ]
        for ev in shown_evidence[:4]:
            note = f"  ({one_line(ev.note)})" if ev.note else ""
            out.append(f"   evidence on {one_line(ev.host)}: $ {one_line(ev.command)}{note}")
            lines = ev.output.splitlines()
            out.append(_indent("\n".join(lines[:12]) + ("\n..." if len(lines) > 12 else "")))
        for step in d.next_steps:
            out.append(f"   next: {one_line(step)}")
        for fix in d.fixes:
            where = f" on {one_line(fix.host)}" if fix.host else ""
            where += f", inside {one_line(fix.target)}" if fix.target else ""
            out.append(
                click.style(f"   fix [{one_line(fix.platform)}]{where}: {one_line(fix.title)}", fg="cyan")
            )
            out.append(_indent(fix.text))
    shown = [r for r in report.results if verbose or (r.status in _FINDINGS and r.explained_by is None)]
    if shown:
        out.append("")
        out.append(click.style("check results:" if verbose else "other findings:", bold=True))
        out += [_result_line(r) for r in shown]
    unknown = [r for r in report.results if r.status == "unknown"]
    if unknown:
        out.append("")
        out.append(
            click.style(f"could not check ({len(unknown)}):", bold=True)
            + " neither pass nor fail, the facts could not be read"
        )
        listed = unknown if verbose else unknown[:UNKNOWN_SHOWN]
        out += [_result_line(r) for r in listed]
        if len(listed) < len(unknown):
            out.append(f"  ... and {len(unknown) - len(listed)} more (-v lists them all)")
    if report.captures:
        out.append("")
        out.append(f"pcap files ({len(report.captures)}; tcpdump -r or bgpdoctor analyze reads them):")
        out += [
            f"  {one_line(c.path)}  {one_line(c.host)} {one_line(c.session or 'whole capture')}, "
            f"{c.packets} packets"
            for c in report.captures
        ]
    out.append("")
    out.append(f"{_verdict_line(report)}; MTU probes sent: {report.timing.mtu_probes}")
    return "\n".join(out)
