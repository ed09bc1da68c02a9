"""The `lint` click command (added to the main CLI by the lead)."""

from __future__ import annotations

import json

import click


def render_text(result: object) -> str:
    """Text report: one `FILE:LINE: [root-cause] message` line per finding, problems first.

    Example: "bird.conf:7: [asn-mismatch] router-mine peers with ... (error)"
    """
    from bgpdoctor.lint import LintResult

    assert isinstance(result, LintResult)
    lines = []
    for p in result.problems:
        tag = "note: " if p.kind == "note" else ""
        lines.append(f"{p.file}:{p.line}: {tag}{p.message}")
    for f in result.findings:
        also = f" (see also {', '.join(f'{a}:{b}' for a, b in f.other)})" if f.other else ""
        lines.append(f"{f.file}:{f.line}: [{f.root_cause}] {f.severity}: {f.message}{also}")
    errors = sum(f.severity == "error" for f in result.findings)
    lines.append(
        f"{len(result.files)} file(s) read, {errors} error(s), {len(result.findings) - errors} warning(s), "
        f"{sum(p.kind == 'error' for p in result.problems)} input problem(s)"
    )
    return "\n".join(lines)


@click.command("lint")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True)
def lint(paths: tuple[str, ...], output: str) -> None:
    """Lint Kubernetes manifests, BIRD configs and OpenWrt UCI files offline.

    Exit codes: 0 clean, 1 findings, 2 nothing usable was read.
    """
    from bgpdoctor.lint import lint_paths

    result = lint_paths(list(paths))
    if output == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(render_text(result))
    raise SystemExit(result.exit_code)
