"""`bgpdoctor inventory ...`: commands about the inventory file (the lead adds the group to the CLI)."""

from __future__ import annotations

import click


@click.group(name="inventory")
def inventory() -> None:
    """Check and inspect an inventory file."""


@inventory.command(name="check")
@click.argument("file", type=click.Path(dir_okay=False))
def check(file: str) -> None:
    """Validate FILE; print a summary, or FILE:LINE: problem lines and exit 2.

    Example: ``lab.yaml: ok (5 hosts: 2 routers, 2 nodes, 1 vantage; 4 sessions)``.
    """
    from bgpdoctor.inventory import inventory_check_command

    code = inventory_check_command(file)
    if code:
        raise SystemExit(code)
