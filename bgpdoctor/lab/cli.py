"""`bgpdoctor lab ...`: the click group the main CLI attaches with main.add_command(lab)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from bgpdoctor.errors import BgpDoctorError

F = TypeVar("F", bound=Callable[..., Any])

_dir_option = click.option(
    "--dir",
    "run_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Run directory (default $BGPDOCTOR_LAB_DIR or /var/lib/bgpdoctor/lab).",
)


def _guard(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except BgpDoctorError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


def _fault_names() -> list[str]:
    from bgpdoctor.lab.faults import DUAL_STACK_FAULTS, FAULTS

    return [*FAULTS, *DUAL_STACK_FAULTS]


@click.group("lab")
def lab() -> None:
    """A real four-site BGP lab in network namespaces (needs root)."""


@lab.command("up")
@click.option(
    "--fault",
    "faults",
    multiple=True,
    type=click.Choice(_fault_names()),
    help="Apply this fault after healing to baseline (repeatable).",
)
@click.option("--default-timers", is_flag=True, help="Leave BIRD and GoBGP at their default timers.")
@click.option("--no-wait", is_flag=True, help="Do not wait for convergence / fault symptoms.")
@click.option(
    "--dual-stack",
    is_flag=True,
    help="Give the seed-001 site IPv6 too (ULA LANs and overlay, IPv6 pod CIDRs and BGP sessions).",
)
@_dir_option
def up_cmd(
    faults: tuple[str, ...], default_timers: bool, no_wait: bool, dual_stack: bool, run_dir: str | None
) -> None:
    """Build or repair the lab; print the inventory path last."""
    from bgpdoctor.lab.api import lab_up

    info = _guard(
        lambda: lab_up(
            run_dir, faults=faults, default_timers=default_timers, wait=not no_wait, dual_stack=dual_stack
        )
    )
    for p in info.problems:
        click.echo(f"expected with faults: {p}", err=True)
    click.echo(f"inventory: {info.inventory_path}")


@lab.command("down")
@_dir_option
def down_cmd(run_dir: str | None) -> None:
    """Remove exactly what `lab up` created."""
    from bgpdoctor.lab.api import lab_down

    _guard(lambda: lab_down(run_dir))


@lab.command("faults")
def faults_cmd() -> None:
    """List the faults: NAME  description."""
    from bgpdoctor.lab.api import list_faults

    fl = list_faults()
    width = max(len(f.name) for f in fl)
    for f in fl:
        click.echo(f"{f.name:<{width}}  {f.description}")


@lab.command("status")
@_dir_option
def status_cmd(run_dir: str | None) -> None:
    """Namespaces, daemons, BGP states and health."""
    from bgpdoctor.lab.api import lab_status

    click.echo(_guard(lambda: lab_status(run_dir)), nl=False)


@lab.command("exec", context_settings={"ignore_unknown_options": True})
@_dir_option
@click.argument("host")
@click.argument("argv", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_cmd(run_dir: str | None, host: str, argv: tuple[str, ...]) -> None:
    """Run a command inside a lab host's namespace."""
    from bgpdoctor.lab.api import lab_exec

    cp = _guard(lambda: lab_exec(run_dir, host, list(argv)))
    sys.stdout.write(cp.stdout)
    sys.stderr.write(cp.stderr)
    sys.exit(cp.returncode)


@lab.command("apply-fix")
@_dir_option
@click.argument("report", type=click.Path(exists=True, dir_okay=False))
@click.option("--root-cause", default=None, help="Diagnosis whose fix to apply (default: the top one).")
@click.option(
    "--platform",
    type=click.Choice(["bird2", "frr", "gobgp", "nftables", "sysctl", "linux"]),
    default=None,
    help="Which of its fix snippets (default: the first the lab can apply).",
)
def apply_fix_cmd(run_dir: str | None, report: str, root_cause: str | None, platform: str | None) -> None:
    """Paste a report's fix snippet into the lab, to see that it works (lab hosts only).

    Example: bgpdoctor lab apply-fix report.json --platform sysctl
    """
    import json

    from bgpdoctor.lab.fixes import apply_fix, pick_fix

    try:
        with open(report, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        click.echo(f"error: {report}: not a bgpdoctor JSON report ({exc})", err=True)
        sys.exit(2)
    fix = _guard(lambda: pick_fix(data, root_cause, platform))
    done = _guard(lambda: apply_fix(run_dir, fix))
    click.echo(f"applied [{done.platform}] on {done.host}: {fix.get('title', '')}")
    for step in done.steps:
        click.echo(f"  {step}")


if __name__ == "__main__":
    lab()
