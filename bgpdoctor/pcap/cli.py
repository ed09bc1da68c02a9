"""`bgpdoctor analyze FILE.pcap...`: what BGP packet captures show, and the root causes it points to."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bgpdoctor.parsers import ParseError
from bgpdoctor.report.safe_text import one_line

ANALYZE_EXIT_HELP = (
    "Exit codes: 0 nothing on the wire points to a root cause, 1 some capture does, "
    "2 some file could not be read (the others are still analysed)."
)


@click.command(epilog=ANALYZE_EXIT_HELP)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--max-packets",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Read at most this many packets of each file.",
)
@click.option(
    "--address",
    "addresses",
    multiple=True,
    metavar="IP",
    help="An address of the host that captured (repeatable): tells a router on the way, where a TTL runs "
    "out, from the destination that drops SYNs itself.",
)
def analyze(files: tuple[Path, ...], output: str, max_packets: int, addresses: tuple[str, ...]) -> None:
    """Decode BGP captures (OPEN, NOTIFICATION, SYNs and their answers) and name root causes.

    \b
    Examples:
      bgpdoctor analyze captures/pcaps/asn-mismatch__router-home.pcap -o json
      bgpdoctor analyze --address 192.168.0.1 --address 192.168.191.10 router-home.pcap
    """
    import ipaddress

    from bgpdoctor.errors import UsageError
    from bgpdoctor.pcap.analyze import analyze_pcap, render_text

    try:
        own = frozenset(str(ipaddress.ip_address(a)) for a in addresses) if addresses else None
    except ValueError as exc:
        raise UsageError(f"--address: {one_line(str(exc))}") from None
    results = []
    failed = False
    for path in files:
        try:
            results.append(analyze_pcap(path, max_packets, own))
        except ParseError as exc:
            failed = True
            click.echo(f"bgpdoctor: {one_line(str(path))}: {one_line(exc.message)[:300]}", err=True)
    if output == "json":
        click.echo(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        click.echo("\n\n".join(render_text(r) for r in results))
    sys.exit(2 if failed else 1 if any(r.findings for r in results) else 0)
