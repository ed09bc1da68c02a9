"""`bgpdoctor facts`: the catalogue of facts checks and playbooks can read (engine/facts.py)."""

from __future__ import annotations

import click

from bgpdoctor.engine.facts import FACTS, SUBJECT_KINDS


@click.command(name="facts")
@click.option(
    "--subject",
    "kind",
    type=click.Choice(SUBJECT_KINDS),
    help="Only the facts of this subject kind.",
)
def facts(kind: str | None) -> None:
    """One line per fact: name, the subject kinds that have it, what it holds (type and example).

    Example: ``ip_forward                   host                 int: net.ipv4.ip_forward ...``
    """
    for fact in sorted(FACTS, key=lambda f: f.name):
        if kind is None or kind in fact.kinds:
            click.echo(f"{fact.name:28} {','.join(fact.kinds):20} {fact.description}")
