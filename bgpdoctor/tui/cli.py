"""`bgpdoctor tui`: the command that starts the Textual app (registered lazily in bgpdoctor.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from bgpdoctor.errors import UsageError

if TYPE_CHECKING:
    from bgpdoctor.engine.run import RunOptions
    from bgpdoctor.transport.base import Connection
    from bgpdoctor.tui.source import LiveSource


@click.command("tui")
@click.option("--inventory", "-i", "inventory_path", type=click.Path(dir_okay=False), help="Inventory YAML.")
@click.option("--context", "kube_context", help="Kubernetes context to read the BGP intent from.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="kubeconfig file.")
@click.option(
    "--ssh-config", type=click.Path(dir_okay=False), help="ssh_config to match discovered nodes with."
)
@click.option(
    "--replay",
    "replay_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Browse a file written by `bgpdoctor run --record` (no host is contacted).",
)
@click.option(
    "--node", "nodes", multiple=True, help="Scope to this node, its peers and the routers on its paths."
)
@click.option("--accept-new-host-keys", is_flag=True, help="Trust and save unknown SSH host keys.")
@click.option("--no-capture", is_flag=True, help="Do not capture packets.")
@click.option("--no-mtu", is_flag=True, help="Skip the path MTU sweep.")
@click.option("--timeout", "command_timeout", type=float, default=10.0, show_default=True)
@click.option("--checks", "extra_checks", multiple=True, type=click.Path(file_okay=False))
@click.option("--playbooks", "extra_playbooks", multiple=True, type=click.Path(file_okay=False))
def tui(
    inventory_path: str | None,
    kube_context: str | None,
    kubeconfig: str | None,
    ssh_config: str | None,
    replay_path: str | None,
    nodes: tuple[str, ...],
    accept_new_host_keys: bool,
    no_capture: bool,
    no_mtu: bool,
    command_timeout: float,
    extra_checks: tuple[str, ...],
    extra_playbooks: tuple[str, ...],
) -> None:
    """Diagnose interactively: hosts live, the session topology, findings, evidence and fixes.

    Keys: 1-4 tabs, Enter opens, e evidence, f fixes, c copy, s save, / filter, r/R re-run, q quit.
    Example: bgpdoctor tui --replay captures/runs/mtu-blackhole.json
    """
    from bgpdoctor.engine.active import ProbeSettings
    from bgpdoctor.engine.collect import max_output_setting
    from bgpdoctor.engine.run import RunOptions
    from bgpdoctor.tui.source import ReplaySource, Source

    live = inventory_path is not None or kube_context is not None or kubeconfig is not None
    if live == (replay_path is not None):
        raise UsageError("give --inventory FILE or --context/--kubeconfig for a live run, or --replay FILE")
    source: Source
    if replay_path is not None:
        source = ReplaySource(Path(replay_path), list(extra_checks))
    else:
        options = RunOptions(
            nodes=list(nodes),
            accept_new_host_keys=accept_new_host_keys,
            command_timeout=command_timeout,
            max_output=max_output_setting(),
            probes=ProbeSettings(
                command_timeout=command_timeout, mtu_sweep=not no_mtu, capture=not no_capture
            ),
            extra_checks=list(extra_checks),
            extra_playbooks=list(extra_playbooks),
        )
        source = _live_source(inventory_path, kube_context, kubeconfig, ssh_config, options)
    from bgpdoctor.engine.rules import check_references, load_checks, load_playbooks

    check_references(load_checks(list(extra_checks)), load_playbooks(list(extra_playbooks)))
    from bgpdoctor.tui.app import BgpDoctorApp

    BgpDoctorApp(source).run()


def _live_source(
    inventory_path: str | None,
    kube_context: str | None,
    kubeconfig: str | None,
    ssh_config: str | None,
    options: RunOptions,
) -> LiveSource:
    """The inventory (from the file, or discovered from the cluster) as `bgpdoctor run` reads it."""
    from bgpdoctor.engine.cluster import ClusterFinding
    from bgpdoctor.inventory import load_inventory, scope_hosts
    from bgpdoctor.transport.factory import open_connection
    from bgpdoctor.tui.source import LiveSource

    cluster: list[ClusterFinding] = []
    if inventory_path is not None:
        inv = load_inventory(inventory_path)
        where = inventory_path
    if kube_context is not None or kubeconfig is not None:
        from bgpdoctor.kube.discover import discover_cluster

        discovery = discover_cluster(kube_context, kubeconfig, ssh_config)
        cluster = [ClusterFinding.of(f) for f in discovery.findings + discovery.speaker_checks]
        if inventory_path is None:
            inv = discovery.inventory
            where = f"discovered from context {discovery.context or '(current)'}"

    def connect(name: str) -> Connection:
        return open_connection(name, inv, accept_new_host_keys=options.accept_new_host_keys)

    scope = scope_hosts(inv, options.nodes)
    return LiveSource(inv, where, scope, connect, options, cluster, kube_context)
