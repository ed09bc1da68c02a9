"""Plain-text rendering of a report for the terminal (colour only when stdout is a TTY)."""

from __future__ import annotations

import click

from bgpdoctor.report.model import Report

_COLOURS = {"pass": "green", "fail": "red", "warn": "yellow", "error": "magenta", "skip": "bright_black"}


def _indent(text: str, prefix: str = "      ", width: int = 200) -> str:
    """Indent, and cut very long lines (a JSON ruleset) so the terminal stays readable."""
    return "\n".join(
        prefix + (line if len(line) <= width else line[:width] + " ...") for line in text.splitlines()
    )


def render_text(report: Report, verbose: bool = False) -> str:
    out: list[str] = []
    s = report.summary
    out.append(
        f"bgpdoctor {report.tool_version}: {s.hosts} hosts, {s.checks} checks "
        f"({s.passed} pass, {s.failed} fail, {s.warnings} warn, {s.errors} error, {s.skipped} skip) "
        f"in {report.timing.wall_seconds:.1f}s"
    )
    for h in report.hosts:
        if not h.reachable:
            out.append(click.style(f"  host {h.name}: {h.error_kind}: {h.error}", fg="magenta"))
    if report.diagnoses:
        out.append("")
        out.append(click.style(f"{len(report.diagnoses)} root cause(s) found:", bold=True))
    for d in report.diagnoses:
        out.append("")
        out.append(click.style(f"#{d.rank} {d.root_cause}", fg="red", bold=True) + f"  {d.title}")
        out.append(f"   {d.summary}")
        out.append(f"   hosts: {', '.join(d.hosts)}")
        if d.symptoms:
            out.append(f"   symptoms explained: {', '.join(d.symptoms)}")
        if d.ruled_out:
            out.append("   ruled out: " + "; ".join(d.ruled_out))
        excerpts = {(e.host, e.command) for e in d.evidence if (e.note or "").startswith("excerpt")}
        shown_evidence = [
            e
            for e in d.evidence
            if (e.note or "").startswith("excerpt") or (e.host, e.command) not in excerpts
        ]
        for ev in shown_evidence[:4]:
            out.append(f"   evidence on {ev.host}: $ {ev.command}" + (f"  ({ev.note})" if ev.note else ""))
            lines = ev.output.splitlines()
            out.append(_indent("\n".join(lines[:12]) + ("\n..." if len(lines) > 12 else "")))
        for step in d.next_steps:
            out.append(f"   next: {step}")
        for fix in d.fixes:
            where = f" on {fix.host}" if fix.host else ""
            where += f", inside {fix.target}" if fix.target else ""
            out.append(click.style(f"   fix [{fix.platform}]{where}: {fix.title}", fg="cyan"))
            out.append(_indent(fix.text))
    shown = [
        r
        for r in report.results
        if verbose or (r.status in ("fail", "warn", "error") and r.explained_by is None)
    ]
    if shown:
        out.append("")
        out.append(click.style("check results:" if verbose else "other findings:", bold=True))
        for r in shown:
            status = click.style(f"{r.status.upper():5}", fg=_COLOURS[r.status])
            tail = f" [symptom of {r.explained_by}]" if r.explained_by else ""
            out.append(f"  {status} {r.check:28} {r.host:32} {r.reason}{tail}")
    out.append("")
    verdict = {0: "no findings", 1: f"{s.findings} finding(s)", 3: "could not check everything"}
    out.append(
        f"result: {verdict.get(s.exit_code, str(s.exit_code))} (exit {s.exit_code}); "
        f"MTU probes sent: {report.timing.mtu_probes}"
    )
    return "\n".join(out)
