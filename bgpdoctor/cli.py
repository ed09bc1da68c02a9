"""The `bgpdoctor` command line. Heavy imports happen inside the commands, so --help is fast.

Exit codes: 0 no findings, 1 findings, 2 usage, inventory or file error, 3 could not check what
matters, 4 internal error (a bug: one line, the traceback with -v or BGPDOCTOR_DEBUG=1; the report
and the recording are still written when they can be).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from bgpdoctor import __version__
from bgpdoctor.errors import BgpDoctorError, UsageError
from bgpdoctor.report.safe_text import one_line, printable

if TYPE_CHECKING:
    from bgpdoctor.engine.cluster import ClusterFinding

EXIT_CODES_HELP = (
    "Exit codes: 0 no findings, 1 findings, 2 usage or inventory error, 3 could not check what matters, "
    "4 internal error."
)
EXIT_INTERNAL_ERROR = 4
_DEBUG_KEY = "bgpdoctor.debug"  # ctx.meta: a command's -v also shows an internal error's traceback


def _fail(exc: BgpDoctorError) -> NoReturn:
    click.echo(f"bgpdoctor: {printable(str(exc))}", err=True)
    sys.exit(exc.exit_code)


def _internal_error(exc: Exception, show_traceback: bool) -> NoReturn:
    if show_traceback:
        traceback.print_exception(exc, file=sys.stderr)
    hint = "" if show_traceback else " (-v or BGPDOCTOR_DEBUG=1 shows the traceback)"
    message = one_line(f"{type(exc).__name__}: {exc}")[:300]
    click.echo(f"bgpdoctor: internal error: {message}{hint}", err=True)
    sys.exit(EXIT_INTERNAL_ERROR)


def _debug_requested(ctx: click.Context) -> bool:
    return bool(ctx.meta.get(_DEBUG_KEY)) or os.environ.get("BGPDOCTOR_DEBUG", "") not in ("", "0")


def progress(message: str) -> None:
    """One progress line on stderr; host-supplied text cannot add lines or control the terminal."""
    click.echo(f"[bgpdoctor] {one_line(message)}", err=True)


# Subcommands that live in their own packages are imported only when used: `--help` stays fast
# and a problem in one of them cannot break `bgpdoctor run`.
LAZY_COMMANDS = {
    "inventory": ("bgpdoctor.inventory_cli", "inventory", "Check and inspect an inventory file."),
    "lab": ("bgpdoctor.lab.cli", "lab", "A real four-site BGP lab in network namespaces (needs root)."),
    "lint": ("bgpdoctor.lint.cli", "lint", "Check Kubernetes manifests, BIRD and OpenWrt configs offline."),
    "discover": (
        "bgpdoctor.kube.cli",
        "discover",
        "Write an inventory from a Kubernetes cluster (nodes, ASNs, peers).",
    ),
    "tui": ("bgpdoctor.tui.cli", "tui", "Interactive diagnosis: hosts live, topology, findings, fixes."),
    "analyze": ("bgpdoctor.pcap.cli", "analyze", "Decode BGP packet captures and name the root causes."),
    "facts": ("bgpdoctor.facts_cli", "facts", "The facts checks and playbooks read, per subject kind."),
}


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            import importlib

            module, attr, _help = LAZY_COMMANDS[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.commands[name].get_short_help_str(60)) for name in super().list_commands(ctx)]
        rows += [(name, text) for name, (_m, _a, text) in LAZY_COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BgpDoctorError as exc:
            _fail(exc)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # stdout closed early (| head): click handles it
                raise
            _internal_error(exc, _debug_requested(ctx))
        except Exception as exc:
            _internal_error(exc, _debug_requested(ctx))


@click.group(cls=_Group, epilog=EXIT_CODES_HELP)
@click.version_option(__version__, prog_name="bgpdoctor")
def main() -> None:
    """Find why BGP-routed pod networks do not work, across nodes and routers, and how to fix it."""
    if os.environ.get("NO_COLOR"):
        click.get_current_context().color = False


# the commands that asked for their process to end at once once they are done (see `program`)
_ENDING_AT_ONCE: set[str] = set()


def program() -> None:
    """`bgpdoctor` as a program (the console script, `python -m bgpdoctor`): `main`, then, for a
    command that asked for it (`replay`: no thread, no exit handler), the process ends as soon as
    its output is flushed, without freeing its objects one by one as Python's exit does (a replay of
    5,000 nodes holds millions of them: a quarter of a second). mypy ends its runs the same way.
    Tests call `main` and never end this way."""
    try:
        main()
    except SystemExit as done:
        code = done.code
        if _ENDING_AT_ONCE and (code is None or isinstance(code, int)):
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except Exception:
                raise done from None  # Python's own exit reports it, as it always did
            os._exit(code or 0)
        raise


def _complete_hosts(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Host names of the inventory given with -i on the same command line (shell completion)."""
    from bgpdoctor.inventory import load_inventory

    path = ctx.params.get("inventory_path")
    if not path:
        return []
    try:
        names = list(load_inventory(path).hosts)
    except (BgpDoctorError, OSError):
        return []
    return sorted(n for n in names if n.startswith(incomplete))


_timeout_option = click.option(
    "--timeout",
    "command_timeout",
    type=float,
    default=10.0,
    show_default=True,
    help="Timeout of each command on a host, in seconds.",
)
_prometheus_option = click.option(
    "--prometheus",
    "prometheus_path",
    type=click.Path(dir_okay=False),
    help="Also write Prometheus metrics to this file (node_exporter textfile format, written atomically).",
)
_quiet_option = click.option(
    "--quiet", "-q", is_flag=True, help="No progress on stderr; print only the BGP line, root causes, result."
)


@main.command(epilog=EXIT_CODES_HELP)
@click.option(
    "--inventory",
    "-i",
    "inventory_path",
    required=False,
    type=click.Path(dir_okay=False),
    help="Inventory YAML (see docs/inventory.md); `bgpdoctor lab up` prints the lab's.",
)
@click.option(
    "--node",
    "nodes",
    multiple=True,
    shell_complete=_complete_hosts,
    help="Scope to this node, its peers and the routers on its paths.",
)
@click.option(
    "--output", "-o", type=click.Choice(["text", "json", "md", "junit"]), default="text", show_default=True
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    help="Also write the report to this file (.json, .md, or .xml for JUnit).",
)
@click.option("--accept-new-host-keys", is_flag=True, help="Trust and save unknown SSH host keys.")
@click.option(
    "--capture-seconds",
    type=float,
    default=12.0,
    show_default=True,
    help="How long to capture BGP SYNs at both ends of a session that is down.",
)
@click.option("--no-capture", is_flag=True, help="Do not capture packets.")
@click.option(
    "--pcap-dir",
    type=click.Path(file_okay=False),
    help="Write each host's BGP capture here as pcap files (whole, and per session); the report links them.",
)
@click.option("--no-mtu", is_flag=True, help="Skip the path MTU sweep.")
@click.option(
    "--trace-drops",
    is_flag=True,
    help="While probing, trace the kernel's packet drops and their reasons (skb:kfree_skb) on every host.",
)
@_timeout_option
@click.option(
    "--ping-wait", type=float, default=1.0, show_default=True, help="Seconds to wait for each ping reply."
)
@click.option(
    "--max-output",
    default=None,
    metavar="SIZE",
    help="Keep at most this much of one command's output, e.g. 16M (default $BGPDOCTOR_MAX_OUTPUT or 8M); "
    "a cut output is unknown, never read as the whole answer.",
)
@click.option(
    "--checks",
    "extra_checks",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Extra folder of check definitions (YAML).",
)
@click.option(
    "--playbooks",
    "extra_playbooks",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Extra folder of playbooks (root causes, YAML).",
)
@click.option(
    "--context", "kube_context", help="Kubernetes context to read the BGP intent and configuration from."
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config).",
)
@click.option(
    "--ssh-config",
    type=click.Path(dir_okay=False),
    help="ssh_config to match discovered nodes with (default ~/.ssh/config).",
)
@click.option(
    "--record",
    "record_path",
    type=click.Path(dir_okay=False),
    help="Save every raw output of the run to this JSON file, for `bgpdoctor replay`.",
)
@_prometheus_option
@_quiet_option
@click.option(
    "--verbose", "-v", is_flag=True, help="Show every check result, not only findings (and tracebacks)."
)
def run(
    inventory_path: str,
    nodes: tuple[str, ...],
    output: str,
    report_path: str | None,
    accept_new_host_keys: bool,
    capture_seconds: float,
    no_capture: bool,
    pcap_dir: str | None,
    no_mtu: bool,
    trace_drops: bool,
    command_timeout: float,
    ping_wait: float,
    max_output: str | None,
    extra_checks: tuple[str, ...],
    extra_playbooks: tuple[str, ...],
    kube_context: str | None,
    kubeconfig: str | None,
    ssh_config: str | None,
    record_path: str | None,
    prometheus_path: str | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """Diagnose the hosts of an inventory over SSH and name the root causes.

    Example: bgpdoctor run -i /var/lib/bgpdoctor/lab/inventory.yaml --node yuuko-k8s
    """
    # the Kubernetes findings and the recording are imported only when asked for: the start is serial
    from bgpdoctor.engine.active import ProbeSettings
    from bgpdoctor.engine.run import Collected, RunOptions, run_diagnosis
    from bgpdoctor.inventory import load_inventory, scope_hosts
    from bgpdoctor.transport.factory import open_connection

    click.get_current_context().meta[_DEBUG_KEY] = verbose
    cluster: list[ClusterFinding] = []
    cluster_raw: dict[str, Any] | None = None
    if inventory_path is None and kube_context is None and kubeconfig is None:
        raise UsageError("give --inventory FILE, or --context/--kubeconfig to read the cluster")
    check_output_paths({"--report": report_path, "--record": record_path, "--prometheus": prometheus_path})
    if kube_context is not None or kubeconfig is not None:
        from bgpdoctor.engine.cluster import ClusterFinding
        from bgpdoctor.kube.discover import discover_cluster

        discovery = discover_cluster(kube_context, kubeconfig, ssh_config)
        cluster = [ClusterFinding.of(f) for f in discovery.findings + discovery.speaker_checks]
        cluster_raw = dataclasses.asdict(discovery.raw) if discovery.raw is not None else None
        found = sum(not c.pending for c in cluster)  # router checks are judged with the hosts' facts
        for note in [
            f"cluster {discovery.context or ''} ({discovery.server}): {found} configuration findings",
            *discovery.notes,
        ]:
            if not quiet:
                progress(note)
    if inventory_path is not None:
        inv = load_inventory(inventory_path)
    else:
        inv = discovery.inventory
        inventory_path = f"discovered from context {discovery.context or '(current)'}"
    scope = scope_hosts(inv, list(nodes))
    from bgpdoctor.engine.collect import max_output_setting

    options = RunOptions(
        nodes=list(nodes),
        accept_new_host_keys=accept_new_host_keys,
        command_timeout=command_timeout,
        max_output=max_output_setting(max_output),
        probes=ProbeSettings(
            capture_seconds=capture_seconds,
            ping_wait=ping_wait,
            command_timeout=command_timeout,
            mtu_sweep=not no_mtu,
            capture=not no_capture,
            drop_trace=trace_drops,
        ),
        extra_checks=list(extra_checks),
        extra_playbooks=list(extra_playbooks),
    )

    def connect(name: str) -> Any:
        return open_connection(name, inv, accept_new_host_keys=accept_new_host_keys)

    def record(collected: Collected) -> None:
        if record_path:
            from bgpdoctor.engine.recording import recording_json

            text = recording_json(inv, str(inventory_path), list(nodes), collected)
            if save_output(Path(record_path), text, "recording"):
                shown.message(f"recording written to {record_path}")

    from bgpdoctor.report.console import ConsoleProgress
    from bgpdoctor.report.outputs import run_outputs

    with ConsoleProgress(quiet=quiet) as shown:
        report, collected = run_diagnosis(
            inv, str(inventory_path), scope, connect, options, shown.message, cluster, kube_context, record,
            on_event=shown.event, cluster_raw=cluster_raw,
        )  # fmt: skip
    _write_pcaps(report, inv, collected, pcap_dir, quiet)
    extras = run_outputs(inv, collected, list(extra_checks), quiet)
    _finish(report, output, verbose, report_path, extras, prometheus_path)


@main.command(epilog=EXIT_CODES_HELP)
@click.argument("recording", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--output", "-o", type=click.Choice(["text", "json", "md", "junit"]), default="text", show_default=True
)
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Also write the report here.")
@click.option("--checks", "extra_checks", multiple=True, type=click.Path(file_okay=False))
@click.option("--playbooks", "extra_playbooks", multiple=True, type=click.Path(file_okay=False))
@click.option(
    "--pcap-dir", type=click.Path(file_okay=False), help="Write the recorded BGP captures here as pcap files."
)
@click.option(
    "--node",
    "nodes",
    multiple=True,
    help="Only what `run --node` would have seen of the recording: this node's scope (repeatable).",
)
@_prometheus_option
@_quiet_option
@click.option(
    "--verbose", "-v", is_flag=True, help="Show every check result, not only findings (and tracebacks)."
)
def replay(
    recording: str,
    output: str,
    report_path: str | None,
    extra_checks: tuple[str, ...],
    extra_playbooks: tuple[str, ...],
    pcap_dir: str | None,
    nodes: tuple[str, ...],
    prometheus_path: str | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """Diagnose again, offline, from a file written by `bgpdoctor run --record`.

    Example: bgpdoctor replay captures/runs/nat-rewrites-bgp-source.json
    """
    from bgpdoctor.engine.recording import load_recording
    from bgpdoctor.engine.run import RunOptions, evaluate, narrow

    click.get_current_context().meta[_DEBUG_KEY] = verbose
    check_output_paths({"--report": report_path, "--prometheus": prometheus_path})
    inv, inventory_path, recorded_nodes, collected = load_recording(Path(recording))
    if nodes:
        collected = narrow(inv, collected, list(nodes))
    focus = list(nodes) or recorded_nodes
    options = RunOptions(nodes=focus, extra_checks=list(extra_checks), extra_playbooks=list(extra_playbooks))
    report = evaluate(inv, inventory_path, collected, options)
    _ENDING_AT_ONCE.add("replay")
    import gc

    # what is left to do (status, rendering) adds little; a cycle collection over the millions of
    # objects a large recording keeps would rescan them all, seconds each time
    gc.freeze()
    _write_pcaps(report, inv, collected, pcap_dir, quiet)
    from bgpdoctor.report.outputs import run_outputs

    extras = run_outputs(inv, collected, list(extra_checks), quiet)
    _finish(report, output, verbose, report_path, extras, prometheus_path)


STATUS_EXIT_HELP = (
    "Exit codes: 0 every session established at both ends, 1 some session down, 2 usage or inventory "
    "error, 3 no session down but some end could not be read, 4 internal error."
)


@main.command(epilog=STATUS_EXIT_HELP)
@click.option("--inventory", "-i", "inventory_path", type=click.Path(dir_okay=False), help="Inventory YAML.")
@click.option(
    "--recording",
    "recording_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Read a file written by `bgpdoctor run --record` instead of the hosts.",
)
@click.option(
    "--node",
    "nodes",
    multiple=True,
    shell_complete=_complete_hosts,
    help="Only the sessions of this node's scope (repeatable).",
)
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_timeout_option
@click.option("--accept-new-host-keys", is_flag=True, help="Trust and save unknown SSH host keys.")
@_prometheus_option
def status(
    inventory_path: str | None,
    recording_path: str | None,
    nodes: tuple[str, ...],
    output: str,
    command_timeout: float,
    accept_new_host_keys: bool,
    prometheus_path: str | None,
) -> None:
    """Every BGP session from both ends, as the daemons report it (no probes, a few seconds).

    Example: bgpdoctor status -i /var/lib/bgpdoctor/lab/inventory.yaml -o json
    """
    from datetime import UTC, datetime

    from bgpdoctor.engine.sessions import expected_sessions
    from bgpdoctor.engine.world import World
    from bgpdoctor.inventory import scope_hosts
    from bgpdoctor.report.status import build_status, render_status_json, render_status_text

    if (inventory_path is None) == (recording_path is None):
        raise UsageError("give either --inventory FILE or --recording FILE")
    if command_timeout <= 0:
        raise UsageError(f"--timeout {command_timeout}: give a positive number of seconds")
    check_output_paths({"--prometheus": prometheus_path})
    if recording_path is not None:
        from bgpdoctor.engine.recording import load_recording

        inv, _path, _nodes, collected = load_recording(Path(recording_path))
        scope = [h for h in scope_hosts(inv, list(nodes)) if h in collected.scope]
        facts, taken = collected.facts, collected.started
    else:
        from bgpdoctor.engine.collect import collect_all
        from bgpdoctor.inventory import load_inventory
        from bgpdoctor.transport.factory import open_connection

        inv = load_inventory(str(inventory_path))
        scope = scope_hosts(inv, list(nodes))
        taken = datetime.now(UTC)
        progress(f"reading BGP sessions from {len(scope)} hosts")

        def connect(name: str) -> Any:
            return open_connection(name, inv, accept_new_host_keys=accept_new_host_keys)

        from bgpdoctor.report.console import ConsoleProgress

        with ConsoleProgress() as shown:
            facts = collect_all(scope, inv, connect, command_timeout, shown.message, on_event=shown.event)
        for host_facts in facts.values():
            if host_facts.connection is not None:
                host_facts.connection.close()
    world = World(inv, facts)
    report = build_status(world, expected_sessions(world, scope), scope, taken)
    click.echo(render_status_json(report) if output == "json" else render_status_text(report))
    _write_metrics(prometheus_path, None, report)
    sys.exit(report.exit_code)


def _write_metrics(path: str | None, report: Any, status: Any) -> bool:
    """Write --prometheus; a failure is one line on stderr and False, never a lost report."""
    if not path:
        return True
    from bgpdoctor.report.outputs import write_prometheus

    try:
        write_prometheus(Path(path), report, status)
    except OSError as exc:
        problem = exc.strerror or str(exc)
        click.echo(f"bgpdoctor: could not write the metrics to {one_line(path)} ({problem})", err=True)
        return False
    return True


def _write_pcaps(report: Any, inv: Any, collected: Any, pcap_dir: str | None, quiet: bool = False) -> None:
    """A folder that cannot be written costs the pcap files, never the report."""
    if pcap_dir:
        from bgpdoctor.pcap.files import write_capture_files

        try:
            report.captures = write_capture_files(inv, collected, Path(pcap_dir))
        except BgpDoctorError as exc:
            click.echo(f"bgpdoctor: {printable(str(exc))}", err=True)
            return
        if not quiet:
            progress(f"{len(report.captures)} pcap files written to {pcap_dir}")


def check_output_paths(paths: dict[str, str | None]) -> None:
    """Fail (exit 2) before any host is contacted when an output file could not be written later.

    Example: check_output_paths({"--report": "/nonexistent-dir/x.json"}) raises
    UsageError("--report /nonexistent-dir/x.json: folder /nonexistent-dir does not exist").
    """
    seen: dict[Path, str] = {}
    for option, text in paths.items():
        if not text:
            continue
        path = Path(text)
        where = f"{option} {one_line(text)}"
        if path.resolve() in seen:
            raise UsageError(f"{where}: the same file as {seen[path.resolve()]}")
        seen[path.resolve()] = option
        if path.is_dir():
            raise UsageError(f"{where}: is a directory")
        if not path.parent.is_dir():
            raise UsageError(f"{where}: folder {one_line(str(path.parent))} does not exist")
        try:
            if path.is_file():
                os.close(os.open(path, os.O_WRONLY | os.O_APPEND))  # opens without changing it
            elif path.exists():  # a FIFO or a device (/dev/stdout): opening could block
                if not os.access(path, os.W_OK):
                    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            else:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                path.unlink()
        except OSError as exc:
            raise UsageError(f"{where}: cannot write: {exc.strerror or exc}") from None


def save_output(path: Path, text: str, what: str) -> bool:
    """Write `text`; if that fails, keep it in a temporary file and say where. True: written at `path`.

    A finished run is never lost to a full disk or a folder removed meanwhile.
    """
    try:
        path.write_text(text, encoding="utf-8")
        return True
    except OSError as exc:
        problem = exc.strerror or str(exc)
    _keep_elsewhere(
        text, path.suffix or ".txt", f"could not write the {what} to {one_line(str(path))} ({problem})"
    )
    return False


def _keep_elsewhere(text: str, suffix: str, problem: str) -> None:
    try:
        fd, temp = tempfile.mkstemp(prefix="bgpdoctor-", suffix=suffix)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        click.echo(f"bgpdoctor: {problem}; nor to a temporary file ({exc.strerror or exc})", err=True)
        return
    click.echo(f"bgpdoctor: {problem}; wrote it to {temp} instead", err=True)


def _finish(
    report: Any,
    output: str,
    verbose: bool,
    report_path: str | None,
    extras: Any = None,
    prometheus_path: str | None = None,
) -> NoReturn:
    """Write the report file, print the report, exit with its code.

    An error while rendering one form does not stop the others: the report file is written (as
    JSON in a temporary file when the Markdown rendering is what failed), then the error is raised
    again for the internal-error exit.
    """
    failures: list[Exception] = []
    if report_path:
        path = Path(report_path)
        from bgpdoctor.report.outputs import form_for_path

        form = form_for_path(path)
        try:
            text = _rendered(report, form, extras=extras).rstrip("\n") + "\n"
        except Exception as exc:
            failures.append(exc)
            if form != "json":
                with contextlib.suppress(Exception):
                    name = {"md": "Markdown", "junit": "JUnit XML"}.get(form, form)
                    problem = f"could not render the report as {name} for {one_line(str(path))}"
                    _keep_elsewhere(_rendered(report, "json"), ".json", problem)
        else:
            if save_output(path, text, "report") and not getattr(extras, "quiet", False):
                progress(f"report written to {report_path}")
    try:
        _write_metrics(prometheus_path, report, getattr(extras, "status", None))
    except Exception as exc:
        failures.append(exc)
    try:
        if output == "json":  # streamed: thousands of nodes make hundreds of MiB of it
            from bgpdoctor.report.outputs import json_for_stdout

            for chunk in json_for_stdout(report):  # JSON escapes control characters: no ANSI to strip
                click.echo(chunk, nl=False, color=True)
            click.echo("")
        else:
            click.echo(_rendered(report, output, verbose, extras))
    except Exception as exc:
        failures.append(exc)
    if failures:
        raise failures[0]
    sys.exit(report.summary.exit_code)


def _rendered(report: Any, form: str, verbose: bool = False, extras: Any = None) -> str:
    from bgpdoctor.report.outputs import render

    return render(report, form, verbose, extras)


@main.group()
def schema() -> None:
    """Print the JSON Schema of bgpdoctor's formats."""


@schema.command("report")
def schema_report() -> None:
    """JSON Schema (draft 2020-12) of the JSON report."""
    from bgpdoctor.report.model import report_json_schema

    click.echo(json.dumps(report_json_schema(), indent=2))


@schema.command("recording")
def schema_recording() -> None:
    """JSON Schema (draft 2020-12) of a recording (`run --record`, read by `replay`)."""
    from bgpdoctor.engine.recording import recording_json_schema

    click.echo(json.dumps(recording_json_schema(), indent=2))


@schema.command("lint")
def schema_lint() -> None:
    """JSON Schema (draft 2020-12) of `bgpdoctor lint -o json` (also docs/schemas/lint.schema.json)."""
    from bgpdoctor.report.lint_schema import lint_json_schema

    click.echo(json.dumps(lint_json_schema(), indent=2))


@main.group("checks")
def checks_group() -> None:
    """The checks bgpdoctor runs (data in checks/)."""


_extra_checks = click.option(
    "--checks",
    "extra_checks",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Extra folder of checks.",
)
_extra_playbooks = click.option(
    "--playbooks",
    "extra_playbooks",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Extra folder of playbooks (root causes).",
)


def _complete_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    from bgpdoctor.engine.rules import load_checks, load_playbooks

    try:
        ids = [c.id for c in load_checks()] + [p.id for p in load_playbooks()]
    except BgpDoctorError:
        return []
    return sorted(i for i in ids if i.startswith(incomplete))


@checks_group.command("list")
@_extra_checks
def checks_list(extra_checks: tuple[str, ...]) -> None:
    """One line per check: id, subject, title."""
    from bgpdoctor.engine.rules import load_checks

    for c in sorted(load_checks(list(extra_checks)), key=lambda c: c.id):
        click.echo(f"{c.id:32} {c.subject:8} {c.title}")


@main.command("causes")
@_extra_playbooks
def causes(extra_playbooks: tuple[str, ...]) -> None:
    """One line per root cause (playbooks/): id, what it reacts to, title."""
    from bgpdoctor.engine.rules import load_playbooks, subject_kinds

    for p in sorted(load_playbooks(list(extra_playbooks)), key=lambda p: p.id):
        click.echo(f"{p.id:32} {','.join(subject_kinds(p)):8} {p.title}")


def _named_slots(template: str) -> str:
    """A playbook template shown without a run: each value is a named slot.

    Example: "On {{ rp_filter_host }}: ip route get {{ src_ip }}"
        -> "On <rp_filter_host>: ip route get <src_ip>"
    """
    import re

    def slot(m: re.Match[str]) -> str:
        name = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)", m.group(1))
        return f"<{name.group(1) if name else 'value'}>"

    text = re.sub(r"\{\{(.*?)\}\}", slot, template)
    return re.sub(r"\{%.*?%\}", "", text)


@main.command()
@click.argument("item_id", shell_complete=_complete_ids)
@_extra_checks
@_extra_playbooks
def explain(item_id: str, extra_checks: tuple[str, ...], extra_playbooks: tuple[str, ...]) -> None:
    """Explain a check or a root cause by its id."""
    from bgpdoctor.engine.definition_files import explained_definition

    kind, d = explained_definition(item_id, list(extra_checks), list(extra_playbooks))
    if kind == "checks":
        click.echo(f"check {d['id']} ({d['subject']}): {d['title']}\n\n{d['description'].strip()}\n")
        causes = ", ".join(d["root_causes"]) or "-"
        click.echo(f"fact: {d['fact']}; root causes: {causes}\nsource: {d['source']}")
        return
    click.echo(f"root cause {d['id']}: {d['title']}\n\n{d['explanation'].strip()}\n")
    if d["next_steps"]:
        steps = [_named_slots(s) for s in d["next_steps"]]
        click.echo("next steps (<slots> are filled with your values in a report):")
        click.echo("\n".join(f"  - {s}" for s in steps))
    click.echo(f"fix platforms: {', '.join(f['platform'] for f in d['fixes'])}\nsource: {d['source']}")
