"""The `lint` click command (added to the main CLI by the lead)."""

from __future__ import annotations

import json

import click


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def summary_line(result: object) -> str:
    """What was read and judged, e.g. "6 files: 3 linted, 2 not a config, 1 could not be parsed;
    2 sessions checked, 1 could not be (1 one end missing); 1 error, 0 warnings, 1 input problem"
    """
    from bgpdoctor.lint import LintResult

    assert isinstance(result, LintResult)
    s = result.summary()
    counts = [f"{s['files_read']} linted"]
    counts += [f"{n} {reason}" for reason, n in sorted(s["skipped"].items())]
    if s["files_unparsed"]:
        counts.append(f"{s['files_unparsed']} could not be parsed")
    total = s["files_read"] + sum(s["skipped"].values()) + s["files_unparsed"]
    parts = [f"{_plural(total, 'file')}: {', '.join(counts)}"]
    not_checked = sum(s["sessions_not_checked"].values())
    why = ", ".join(f"{n} {reason}" for reason, n in sorted(s["sessions_not_checked"].items()))
    parts.append(
        f"{_plural(s['sessions_checked'], 'session')} checked"
        + (f", {not_checked} could not be ({why})" if not_checked else "")
    )
    parts.append(
        f"{_plural(s['errors'], 'error')}, {_plural(s['warnings'], 'warning')}, "
        f"{_plural(s['input_problems'], 'input problem')}"
        + (f", {_plural(s['notes'], 'note')}" if s["notes"] else "")
    )
    line = "; ".join(parts)
    if result.exit_code == 3:
        line += "; nothing could be checked (give the configs of both ends of a session)"
    return line


def render_text(result: object, verbose: bool = False) -> str:
    """Text report: one `FILE:LINE: [root-cause] message` line per finding, problems first, then
    the summary line. Under a finding, the playbook's fixes the files complete: their titles, and
    with ``verbose`` their text. Everything from the files is shown on one line with control
    characters removed.
    Notes (what was read without being judged) are counted in the summary, listed only when verbose.

    Example: "bird.conf:7: [asn-mismatch] error: router-mine peers with ... "
    """
    from bgpdoctor.lint import LintResult
    from bgpdoctor.report.safe_text import one_line

    assert isinstance(result, LintResult)
    lines = []
    for p in result.problems:
        if p.kind == "note" and not verbose:
            continue
        tag = "note: " if p.kind == "note" else ""
        lines.append(one_line(f"{p.file}:{p.line}: {tag}{p.message}"))
    for f in result.findings:
        also = f" (see also {', '.join(f'{a}:{b}' for a, b in f.other)})" if f.other else ""
        lines.append(one_line(f"{f.file}:{f.line}: [{f.root_cause}] {f.severity}: {f.message}{also}"))
        for fix in f.fixes:
            lines.append("  " + one_line(f"fix ({fix['platform']}): {fix['title']}"))
            if verbose:
                lines += [f"      {one_line(text)}" for text in fix["text"].splitlines()]
    summary = summary_line(result)
    notes = _plural(result.summary()["notes"], "note")
    if not verbose and result.summary()["notes"]:
        head, _, tail = summary.rpartition(f", {notes}")
        summary = f"{head}, {notes}, -v to show{tail}"
    lines.append(summary)
    return "\n".join(lines)


@click.command("lint")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--output",
    "-o",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
    help="json: schema in docs/schemas/lint.schema.json; sarif: SARIF 2.1.0 for code-scanning views.",
)
@click.option(
    "--root",
    "roots",
    multiple=True,
    metavar="PREFIX=DIR",
    help="Read BIRD includes under an absolute PREFIX (e.g. /etc/bird) from DIR.",
)
@click.option(
    "--playbooks",
    "extra_playbooks",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Extra folder of playbooks (root causes): lint judges with them, as `run` does.",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="List the notes (what was read but not judged) and the fixes' text."
)
def lint(
    paths: tuple[str, ...],
    output: str,
    roots: tuple[str, ...] = (),
    extra_playbooks: tuple[str, ...] = (),
    verbose: bool = False,
) -> None:
    """Lint Kubernetes manifests, BIRD and GoBGP configs and OpenWrt UCI files offline.

    Exit codes: 0 sessions checked and nothing found, 1 findings, 2 a file could not be read or
    parsed, 3 no session could be checked (e.g. only one end of each session was given).
    """
    from bgpdoctor.lint import lint_paths
    from bgpdoctor.lint.loader import parse_roots

    result = lint_paths(list(paths), parse_roots(roots), list(extra_playbooks))
    if output == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    elif output == "sarif":
        from bgpdoctor.report.sarif import catalogue_rules, render_sarif

        click.echo(render_sarif(result.to_dict(), catalogue_rules()))
    else:
        click.echo(render_text(result, verbose))
    raise SystemExit(result.exit_code)
