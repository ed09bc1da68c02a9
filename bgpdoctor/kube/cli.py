"""``bgpdoctor discover``: write an inventory from the cluster to stdout (progress on stderr)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from bgpdoctor.errors import BgpDoctorError

if TYPE_CHECKING:
    from bgpdoctor.inventory_model import Inventory

__all__ = ["discover", "inventory_from_cluster"]


@click.command(epilog="Exit codes: 0 written, 2 usage error (bad kubeconfig/context), 3 cluster unusable.")
@click.option("--context", default=None, help="kubeconfig context (default: the current context).")
@click.option(
    "--kubeconfig",
    default=None,
    help="kubeconfig file(s), ':'-joined like KUBECONFIG (default: $KUBECONFIG, ~/.kube/config).",
)
@click.option(
    "--ssh-config",
    default=None,
    type=click.Path(dir_okay=False),
    help="ssh_config whose Host aliases name the hosts (default ~/.ssh/config).",
)
@click.option(
    "--timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.1), help="API timeout, s."
)
def discover(context: str | None, kubeconfig: str | None, ssh_config: str | None, timeout: float) -> None:
    """Write an inventory (YAML) built from the cluster: nodes, ASNs, peers, pod CIDRs, routers.

    \b
    Example:  bgpdoctor discover --context home > inventory.yaml
    Routers found as peer addresses are listed for you to complete (connect: block).
    """
    from bgpdoctor.kube.discover import discover_cluster, render_inventory_yaml

    try:
        discovery = discover_cluster(
            context, kubeconfig, ssh_config, timeout, progress=lambda m: click.echo(m, err=True)
        )
    except BgpDoctorError as exc:
        click.echo(f"bgpdoctor: {exc}", err=True)
        sys.exit(exc.exit_code)
    for note in discovery.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(render_inventory_yaml(discovery), nl=False)


def inventory_from_cluster(
    context: str | None, kubeconfig: str | None, ssh_config: str | None = None
) -> tuple[Inventory, list[str]]:
    """The inventory for ``bgpdoctor run --context C`` (no inventory file) and notes for stderr.

    Raises UsageError (exit 2: kubeconfig/context) or BgpDoctorError (exit 3: cluster unusable).
    Example: (Inventory(hosts={"sakamoto": Host(...), "router-mine": Host(...)}),
    ["router 192.168.6.1 found as a peer address of sakamoto: complete its connect: block"])
    """
    from bgpdoctor.kube.discover import inventory_from_cluster as build

    return build(context, kubeconfig, ssh_config)
