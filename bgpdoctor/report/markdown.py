"""Markdown rendering of a report, to paste into a ticket."""

from __future__ import annotations

from bgpdoctor.report.model import Report


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    s = report.summary
    out = [
        f"# bgpdoctor report ({report.timing.started})",
        "",
        f"- inventory: `{report.inventory}`; scope: {', '.join(report.scope)}",
        f"- {s.checks} checks: {s.passed} pass, {s.failed} fail, {s.warnings} warn, {s.errors} error, "
        f"{s.skipped} skip; {s.diagnoses} root cause(s); exit code {s.exit_code}",
        "",
    ]
    for h in report.hosts:
        if not h.reachable:
            out.append(f"- **{h.name}** could not be checked: {h.error_kind}: {h.error}")
    for d in report.diagnoses:
        out += ["", f"## {d.rank}. `{d.root_cause}`: {d.title}", "", d.summary, "", d.explanation, ""]
        if d.symptoms:
            out.append("Symptoms explained: " + ", ".join(f"`{x}`" for x in d.symptoms))
        if d.ruled_out:
            out.append("\nRuled out: " + "; ".join(d.ruled_out))
        for ev in d.evidence:
            out += ["", f"Evidence on `{ev.host}`: `{ev.command}`", "", "```", ev.output, "```"]
        for fix in d.fixes:
            where = f" on `{fix.host}`" if fix.host else ""
            where += f", inside `{fix.target}`" if fix.target else ""
            out += ["", f"**Fix ({fix.platform}){where}:** {fix.title}", "", "```", fix.text, "```"]
    out += ["", "## Check results", "", "| status | check | subject | reason |", "|---|---|---|---|"]
    for r in report.results:
        if r.status == "skip":
            continue
        out.append(f"| {r.status} | `{r.check}` | {_cell(r.host)} | {_cell(r.reason)} |")
    return "\n".join(out) + "\n"
