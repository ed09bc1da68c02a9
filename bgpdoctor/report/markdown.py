"""Markdown rendering of a report, to paste into a ticket (GitHub, GitLab and Gitea render it).

Order: the result and counts, the BGP summary line, a mermaid diagram of the sessions (edges
coloured by state), each root cause with its evidence and fixes, other findings, what could not be
checked, then the checks counted per check (passes are counted, never listed one by one, so a
healthy report stays short). Every code fence carries a language tag. Host-supplied text goes
through `redact` (secrets) and is fenced (`md_fence`, `md_code`) so a backtick cannot end its block.
"""

from __future__ import annotations

from collections.abc import Mapping

from bgpdoctor.redact import redact
from bgpdoctor.report.model import CheckResult, Evidence, Report
from bgpdoctor.report.safe_text import md_cell, md_code, md_fence, one_line, printable, printable_model
from bgpdoctor.report.status import StatusReport, bgp_summary_line, session_state

EVIDENCE_LINES = 60  # of each output shown; the JSON report keeps all of it
FIX_LANGUAGE = {
    "cilium": "yaml",
    "calico": "yaml",
    "gobgp": "toml",
    "nftables": "sh",
    "linux": "sh",
    "sysctl": "sh",
}
# mermaid linkStyle per session state: green established, red dashed down, grey dotted unknown
EDGE_STYLE = {
    "established": "stroke:#2e7d32,stroke-width:2px",
    "down": "stroke:#c62828,stroke-width:2px,stroke-dasharray:6 4",
    "unknown": "stroke:#9e9e9e,stroke-width:2px,stroke-dasharray:2 3",
}
STATUS_ORDER = ("fail", "warn", "error", "unknown", "pass", "skip")


def _clean(text: str) -> str:
    return printable(redact(text))


def _evidence_language(ev: Evidence) -> str:
    head = ev.output.lstrip()[:1]
    return "json" if head in ("{", "[") else "text"


def _cut(text: str, lines: int = EVIDENCE_LINES) -> str:
    rows = text.splitlines()
    if len(rows) <= lines:
        return text
    return "\n".join(rows[:lines]) + f"\n... ({len(rows) - lines} more lines in the JSON report)"


def _mermaid_label(text: str) -> str:
    """Text for a quoted mermaid label: quotes and angle brackets as entity codes."""
    return one_line(text).replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def session_diagram(status: StatusReport, sites: Mapping[str, str | None] | None = None) -> str:
    """A mermaid flowchart: one node per host (grouped by site), one edge per BGP session, labelled
    with its state and coloured with linkStyle (green established, red dashed down, grey unknown).

    Example::

        flowchart LR
          h0["router-mine"]
          h1["yuuko-k8s"]
          h0 ---|"Passive: router-mine passive, yuuko-k8s idle"| h1
          linkStyle 0 stroke:#c62828,stroke-width:2px,stroke-dasharray:6 4
    """
    ids: dict[str, str] = {}

    def node(name: str) -> str:
        if name not in ids:
            ids[name] = f"h{len(ids)}"
        return ids[name]

    for host in status.hosts:
        node(host)
    edges: list[tuple[str, str, str, str]] = []
    for s in status.sessions:
        other = s.b.host if s.b else f"{s.a.peer_address or '?'} (not in the inventory)"
        ends = [s.a] + ([s.b] if s.b else [])
        state = session_state(s)
        label = (
            state
            if s.verdict == "established"
            else f"{state}: " + ", ".join(f"{e.host} {e.state or 'unknown'}" for e in ends)
        )
        edges.append((node(s.a.host), node(other), label, s.verdict))
    used = {a for a, _b, _l, _v in edges} | {b for _a, b, _l, _v in edges}
    lines = ["flowchart LR"]
    by_site: dict[str, list[str]] = {}
    for name, ident in ids.items():
        if ident not in used:
            continue
        site = (sites or {}).get(name) or ""
        by_site.setdefault(site, []).append(f'{ident}["{_mermaid_label(name)}"]')
    for number, (site, nodes) in enumerate(sorted(by_site.items())):
        if site:
            lines.append(f'  subgraph s{number}["site {_mermaid_label(site)}"]')
            lines += [f"    {n}" for n in nodes]
            lines.append("  end")
        else:
            lines += [f"  {n}" for n in nodes]
    for a, b, label, _verdict in edges:
        lines.append(f'  {a} ---|"{_mermaid_label(label)}"| {b}')
    for index, (_a, _b, _label, verdict) in enumerate(edges):
        lines.append(f"  linkStyle {index} {EDGE_STYLE[verdict]}")
    return "\n".join(lines)


def _result_row(r: CheckResult) -> str:
    check = md_code(r.check).replace("|", "\\|")
    why = _clean(r.reason) + (f" (symptom of {r.explained_by})" if r.explained_by else "")
    if r.status == "unknown" and r.unknown_kind:
        why = f"{r.unknown_kind}: {why}"
    return f"| {r.status} | {check} | {md_cell(r.host)} | {md_cell(why)} |"


def _counts_table(results: list[CheckResult]) -> list[str]:
    counts: dict[str, dict[str, int]] = {}
    for r in results:
        row = counts.setdefault(r.check, dict.fromkeys(STATUS_ORDER, 0))
        row[r.status] += 1
    out = [
        "| check | " + " | ".join(STATUS_ORDER) + " |",
        "|---|" + "---:|" * len(STATUS_ORDER),
    ]
    for check in sorted(counts):
        cells = " | ".join(str(counts[check][s]) if counts[check][s] else "" for s in STATUS_ORDER)
        name = md_code(check).replace("|", "\\|")
        out.append(f"| {name} | {cells} |")
    return out


def render_markdown(
    report: Report, status: StatusReport | None = None, sites: Mapping[str, str | None] | None = None
) -> str:
    """The report as Markdown; with `status` (from the same facts), a BGP summary and a diagram."""
    counts = _counts_table(report.results)  # check ids and statuses only: md_code makes them printable
    # only the results it lists are made printable: the passes of thousands of nodes cost seconds
    listed = [r for r in report.results if r.status in ("fail", "warn", "error", "unknown")]
    report = printable_model(report.model_copy(update={"results": listed}))
    s = report.summary
    verdict = {
        0: "healthy: no findings",
        1: f"{s.findings} finding(s)",
        3: "could not judge the checks that matter",
        4: "internal error",
    }.get(s.exit_code, f"exit {s.exit_code}")
    out = [
        f"# bgpdoctor report: {verdict}",
        "",
        f"- started {one_line(report.timing.started)}, {report.timing.wall_seconds:.1f}s, "
        f"bgpdoctor {one_line(report.tool_version)}, exit code {s.exit_code}",
        f"- inventory {md_code(report.inventory)}; {s.hosts} hosts: {one_line(', '.join(report.scope))}",
        f"- {s.checks} checks: {s.passed} pass, {s.failed} fail, {s.warnings} warn, {s.errors} error, "
        f"{s.skipped} skip, {s.unknown} unknown; {s.diagnoses} root cause(s)",
    ]
    if status is not None:
        out.append(f"- {md_cell(bgp_summary_line(status))}")
    for h in report.hosts:
        if not h.reachable:
            out.append(
                f"- **{md_cell(h.name)}** could not be checked: {md_cell(h.error_kind or '?')}: "
                f"{md_cell(_clean(h.error or ''))}"
            )
    if status is not None and status.sessions:
        out += ["", "## BGP sessions", "", md_fence(session_diagram(status, sites), "mermaid")]
    for d in report.diagnoses:
        out += [
            "",
            f"## {d.rank}. {md_code(d.root_cause)}: {one_line(d.title)}",
            "",
            f"**{one_line(_clean(d.summary))}**",
            "",
            _clean(d.explanation).strip(),
            "",
            f"Hosts: {', '.join(md_code(h) for h in d.hosts)}",
        ]
        if d.symptoms:
            out.append("\nSymptoms it explains: " + ", ".join(md_code(x) for x in d.symptoms))
        if d.ruled_out:
            out += ["", "Ruled out:", ""] + [f"- {md_cell(_clean(x))}" for x in d.ruled_out]
        if d.evidence:
            out += ["", "### Evidence"]
        for ev in d.evidence:
            note = f" ({one_line(_clean(ev.note))})" if ev.note else ""
            out += [
                "",
                f"On {md_code(ev.host)}: {md_code(_clean(ev.command))}{note}",
                "",
                md_fence(_cut(_clean(ev.output)), _evidence_language(ev)),
            ]
        if d.next_steps:
            out += ["", "### Next steps", ""] + [f"- {one_line(_clean(x))}" for x in d.next_steps]
        if d.fixes:
            out += ["", "### Fixes"]
        for fix in d.fixes:
            where = f" on {md_code(fix.host)}" if fix.host else ""
            where += f", inside {md_code(fix.target)}" if fix.target else ""
            out += [
                "",
                f"**{md_cell(fix.platform)}**{where}: {one_line(_clean(fix.title))}",
                "",
                md_fence(_clean(fix.text), FIX_LANGUAGE.get(fix.platform, "text")),
            ]
    other = [r for r in report.results if r.status in ("fail", "warn", "error") and r.explained_by is None]
    if other:
        out += ["", "## Other findings", "", "| status | check | subject | reason |", "|---|---|---|---|"]
        out += [_result_row(r) for r in other]
    unknown = [r for r in report.results if r.status == "unknown"]
    if unknown:
        out += [
            "",
            "## Could not check",
            "",
            "Unknown is neither pass nor fail: these facts could not be collected or read.",
            "",
        ]
        out += [f"- {md_code(r.check)} on {md_code(r.host)}: {md_cell(_clean(r.reason))}" for r in unknown]
    if report.captures:
        out += [
            "",
            "## Packet captures",
            "",
            "Read them with `tcpdump -r FILE` or `bgpdoctor analyze FILE`.",
            "",
        ]
        out += [
            f"- {md_code(c.path)}: {md_cell(c.host)}, {md_cell(c.session or 'whole capture')}, "
            f"{c.packets} packets"
            for c in report.captures
        ]
    out += ["", "## Check results", "", "Per check (passes are counted, not listed).", ""]
    out += counts
    return "\n".join(out) + "\n"
