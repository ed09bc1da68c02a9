"""Markdown rendering of a report, to paste into a ticket.

Host-supplied text is fenced (`md_fence`, `md_code`) so a backtick in an output cannot end its
block, and stripped of terminal control sequences, as in the text rendering.
"""

from __future__ import annotations

from bgpdoctor.report.model import Report
from bgpdoctor.report.safe_text import md_cell, md_code, md_fence, one_line, printable, printable_model


def render_markdown(report: Report) -> str:
    report = printable_model(report)
    s = report.summary
    out = [
        f"# bgpdoctor report ({one_line(report.timing.started)})",
        "",
        f"- inventory: {md_code(report.inventory)}; scope: {one_line(', '.join(report.scope))}",
        f"- {s.checks} checks: {s.passed} pass, {s.failed} fail, {s.warnings} warn, {s.errors} error, "
        f"{s.skipped} skip, {s.unknown} unknown; {s.diagnoses} root cause(s); exit code {s.exit_code}",
        "",
    ]
    for h in report.hosts:
        if not h.reachable:
            out.append(
                f"- **{md_cell(h.name)}** could not be checked: {md_cell(h.error_kind or '?')}: "
                f"{md_cell(h.error or '')}"
            )
    for d in report.diagnoses:
        out += [
            "",
            f"## {d.rank}. {md_code(d.root_cause)}: {one_line(d.title)}",
            "",
            one_line(d.summary),
            "",
            printable(d.explanation),
            "",
        ]
        if d.symptoms:
            out.append("Symptoms explained: " + ", ".join(md_code(x) for x in d.symptoms))
        if d.ruled_out:
            out.append("\nRuled out: " + one_line("; ".join(d.ruled_out)))
        for ev in d.evidence:
            out += ["", f"Evidence on {md_code(ev.host)}: {md_code(ev.command)}", "", md_fence(ev.output)]
        for fix in d.fixes:
            where = f" on {md_code(fix.host)}" if fix.host else ""
            where += f", inside {md_code(fix.target)}" if fix.target else ""
            out += [
                "",
                f"**Fix ({md_cell(fix.platform)}){where}:** {one_line(fix.title)}",
                "",
                md_fence(fix.text),
            ]
    unknown = [r for r in report.results if r.status == "unknown"]
    if unknown:
        out += [
            *([""] if out[-1] else []),
            "## Could not check",
            "",
            "Unknown is neither pass nor fail: these facts could not be collected or read.",
            "",
        ]
        out += [f"- {md_code(r.check)} on {md_code(r.host)}: {md_cell(r.reason)}" for r in unknown]
    out += ["", "## Check results", "", "| status | check | subject | reason |", "|---|---|---|---|"]
    for r in report.results:
        if r.status == "skip":
            continue
        check = md_code(r.check).replace("|", "\\|")
        out.append(f"| {r.status} | {check} | {md_cell(r.host)} | {md_cell(r.reason)} |")
    return "\n".join(out) + "\n"
