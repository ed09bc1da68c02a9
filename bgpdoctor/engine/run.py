"""One diagnostic run: collect, probe, judge, diagnose, report.

`run_diagnosis` talks to hosts; `evaluate` is pure and is also what `bgpdoctor replay` runs on a
recording, so an offline diagnosis of a ticket goes through the same code as a live one.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bgpdoctor import __version__
from bgpdoctor.drivers import driver_for, is_appliance, takes_fix
from bgpdoctor.engine.active import (
    ActiveResults,
    ProbeRunner,
    ProbeSettings,
    node_pairs,
    run_active,
    segment_pairs,
    session_transit,
)
from bgpdoctor.engine.collect import HostFacts, collect_all
from bgpdoctor.engine.progress import HostEvent, OnEvent, ignore_event
from bgpdoctor.engine.rules import check_references, load_checks, load_playbooks
from bgpdoctor.engine.sessions import expected_sessions
from bgpdoctor.engine.world import World, without_cycle_collection
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.report.model import Diagnosis, FixSnippet, HostReport, Report, Summary, Timing
from bgpdoctor.transport.base import Connection

if TYPE_CHECKING:
    from bgpdoctor.engine.cluster import ClusterFinding

# what only judging needs, imported while the hosts are being read rather than before the first
# connection: a run of many hosts is bound by CPU, and the start is the one time the client's
# other core is idle
_JUDGING_MODULES = (
    "bgpdoctor.engine.cluster",
    "bgpdoctor.engine.judge",
    "bgpdoctor.engine.subjects",
    "bgpdoctor.engine.vips",
)
MAX_SCOPE_ROUNDS = 4  # a --node scope grows along its paths at most this many times


@dataclass
class RunOptions:
    nodes: list[str] = field(default_factory=list)
    accept_new_host_keys: bool = False
    command_timeout: float = 10.0
    probes: ProbeSettings = field(default_factory=ProbeSettings)
    extra_checks: list[str] = field(default_factory=list)
    extra_playbooks: list[str] = field(default_factory=list)
    workers: int = 64  # hosts collected at once (engine.collect.collect_all says why)
    max_output: int | None = None  # bytes kept of one command's output (None: the default bound)


@dataclass
class Collected:
    """Everything a run gathered from the hosts: the input of `evaluate`, and what --record saves."""

    scope: list[str]
    facts: dict[str, HostFacts]
    active: ActiveResults
    started: datetime
    wall_seconds: float
    cluster: list[ClusterFinding] = field(default_factory=list)  # from the Kubernetes API (--context)
    context: str | None = None
    # the API objects those findings were drawn from (kube.view.RawCluster as a dict, redacted)
    cluster_raw: dict[str, Any] | None = None
    # the parsed view `evaluate` built over these facts: the session status reads it again, not anew
    world: Any = field(default=None, repr=False, compare=False)


def exit_code_for(findings: int, errors: int, reachable: int, unknown: int = 0) -> int:
    """0 no findings in what was checked and nothing left unchecked, 1 findings, 3 could not check
    (nothing reachable, or no findings while some checks could not be judged: "healthy" is said
    only about what was seen)."""
    if reachable == 0:
        return 3
    if findings:
        return 1
    return 3 if errors or unknown else 0


def collect(
    inv: Inventory,
    scope: list[str],
    connect: Callable[[str], Connection],
    options: RunOptions,
    progress: Callable[[str], None],
    on_event: OnEvent = ignore_event,
) -> Collected:
    """Phase 1 and 2 on every host of `scope`; `on_event` sees each host's state change."""
    started = datetime.now(UTC)
    t0 = time.monotonic()
    progress(f"collecting facts from {len(scope)} hosts")
    # each host's own probes start once it is collected, beside the others' collection
    runner = ProbeRunner(inv, scope, options.nodes, options.probes)
    facts = collect_all(
        scope, inv, connect, options.command_timeout, progress, options.workers, options.max_output, on_event,
        on_host=runner.host_collected,
    )  # fmt: skip
    # a --node scope is predicted from the inventory; the FIBs may route through hosts it left out
    for _ in range(MAX_SCOPE_ROUNDS if options.nodes else 0):
        missing = [n for n in path_hosts(World(inv, facts), scope, options.nodes) if n not in facts]
        if not missing:
            break
        progress(f"the paths cross {', '.join(missing)}: collecting facts there too")
        facts.update(
            collect_all(
                missing, inv, connect, options.command_timeout, progress, options.workers,
                options.max_output, on_event,
            )
        )  # fmt: skip
        scope = [n for n in inv.hosts if n in facts]
    for name in scope:
        if facts[name].reachable:
            on_event(HostEvent(name, "probing"))
    try:
        world = World(inv, facts)
        sessions = expected_sessions(world, scope)
        pod_pairs = node_pairs(world, scope, options.nodes)
        pairs = pod_pairs + segment_pairs(world, sessions)
        progress(f"{len(sessions)} BGP sessions, {len(pod_pairs)} pod paths; running active probes")
        active = run_active(world, sessions, pairs, options.probes, progress, runner)
    finally:
        runner.close()
        for f in facts.values():
            if f.connection is not None:
                f.connection.close()
    for name in scope:
        if facts[name].contacted:
            error = facts[name].error
            detail = f"{error.kind}: {error.message}" if error else ""
            on_event(HostEvent(name, "failed" if error else "done", detail))
    return Collected(scope, facts, active, started, round(time.monotonic() - t0, 2))


def path_hosts(world: World, scope: list[str], nodes: list[str]) -> list[str]:
    """Inventory hosts on the run's paths, both ways: its pod paths, its sessions' segments and
    the routers between a session's ends (collected or not; a trace stops at the first host
    without facts, so collecting those and tracing again walks the whole path).

    Example: ["router-home", "router-mine", "sakamoto", "yuuko-k8s"]
    """
    sessions = expected_sessions(world, scope)
    seen: dict[str, None] = {}
    for pair in node_pairs(world, scope, nodes) + segment_pairs(world, sessions):
        for path in (
            world.trace(pair.source, pair.src_ip, pair.dst_ip, pair.dst_cidr, pair.destination),
            world.trace(pair.destination, pair.dst_ip, pair.src_ip, f"{pair.src_ip}/32", pair.source),
        ):
            seen.update((h.host, None) for h in path.hops if h.host in world.inv.hosts)
    for session in sessions:
        seen.update((h, None) for h in session_transit(world, session) if h in world.inv.hosts)
    return list(seen)


def narrow(inv: Inventory, collected: Collected, nodes: list[str]) -> Collected:
    """What a `--node` run would have collected, cut out of a recording of a wider run: the
    node's scope plus the recorded hosts its paths cross (as `collect` adds them live).

    Example: narrow(inv, a 12-host lab recording, ["yuuko-k8s"]).scope
        -> ["router-mine", "router-home", "sakamoto", "yuuko-k8s", "metrics-server"]
    """
    from bgpdoctor.inventory import scope_hosts

    wanted = [n for n in scope_hosts(inv, nodes) if n in collected.facts]
    for _ in range(MAX_SCOPE_ROUNDS):
        world = World(inv, {n: collected.facts[n] for n in wanted})
        more = [n for n in path_hosts(world, wanted, nodes) if n in collected.facts and n not in wanted]
        if not more:
            break
        wanted += more
    scope = [n for n in collected.scope if n in wanted]
    return replace(collected, scope=scope, facts={n: collected.facts[n] for n in scope})


def _fixes_for_what_runs_there(diagnoses: list[Diagnosis], inv: Inventory) -> None:
    """Each fix in the syntax of what its host runs. A network of BIRD and Cilium gains nothing from
    RouterOS, FortiOS and VRP commands under every diagnosis, and an FRR router nothing from a BIRD
    block written for it ("BIRD on frr1: ..."). A host whose speaker the inventory does not name keeps
    every alternative. BIRD 1.x takes BIRD 2's lines inside a `protocol bgp` (passive, hold time,
    password), so a BIRD 1.x host keeps a BIRD 2 fix when the playbook gives it none of its own."""
    present = {host.speaker for host in inv.hosts.values()}
    for d in diagnoses:
        given = {(f.host, f.platform) for f in d.fixes}
        d.fixes = [
            f
            for f in d.fixes
            if (f.platform in present or not is_appliance(f.platform)) and _in_its_hosts_syntax(f, inv, given)
        ]


def _in_its_hosts_syntax(fix: FixSnippet, inv: Inventory, given: set[tuple[str | None, str]]) -> bool:
    """A fix in a daemon's syntax (`driver_for(platform)`) is for a host that runs that daemon, or
    whose daemon takes its lines and has no fix of its own in this diagnosis."""
    host = inv.hosts.get(fix.host) if fix.host else None
    runs = driver_for(host.speaker) if host is not None else None
    if runs is None or driver_for(fix.platform) is None:
        return True  # a host that runs no named daemon, or a fix for no daemon (sysctl, Cilium, ...)
    offered = {platform for host, platform in given if host == fix.host}
    return takes_fix(runs.fix_syntaxes, fix.platform, offered)


@without_cycle_collection
def evaluate(inv: Inventory, inventory_path: str, collected: Collected, options: RunOptions) -> Report:
    """Judge checks and reach diagnoses from collected facts; no host is contacted."""
    from bgpdoctor.engine.cluster import cluster_subjects
    from bgpdoctor.engine.judge import diagnose, judge
    from bgpdoctor.engine.subjects import host_subjects, kubelet_subjects, path_subjects, session_subjects
    from bgpdoctor.engine.vips import inventory_pool_subjects

    checks = load_checks(options.extra_checks)
    playbooks = load_playbooks(options.extra_playbooks)
    check_references(checks, playbooks)
    scope, facts, active = collected.scope, collected.facts, collected.active
    world = collected.world = World(inv, facts)
    sessions = expected_sessions(world, scope)
    pairs = node_pairs(world, scope, options.nodes) + segment_pairs(world, sessions)
    subjects = (
        host_subjects(world, scope, active)
        + session_subjects(world, sessions, active)
        + path_subjects(world, pairs, active)
        + kubelet_subjects(world, active)
        + cluster_subjects(collected.cluster, inv, collected.context, world, playbooks)
        + inventory_pool_subjects(inv)
    )
    world.forget_traces()  # the subjects keep what they need of the paths; the peak comes later
    results = judge(checks, subjects)
    diagnoses = diagnose(playbooks, subjects, results, checks)
    _fixes_for_what_runs_there(diagnoses, inv)
    hosts = []
    for n in scope:
        error = facts[n].error
        hosts.append(
            HostReport(
                name=n,
                role=inv.hosts[n].role,
                speaker=inv.hosts[n].speaker,
                reachable=facts[n].reachable,
                error_kind=error.kind if error else None,
                error=error.message if error else None,
                commands_run=len(facts[n].outputs),
            )
        )
    statuses = Counter(r.status for r in results)
    count = {s: statuses[s] for s in ("pass", "fail", "warn", "error", "skip", "unknown")}
    unexplained = sum(1 for r in results if r.status == "fail" and r.explained_by is None)
    findings = len(diagnoses) + unexplained
    reachable = sum(1 for h in hosts if h.reachable)
    code = exit_code_for(findings, count["error"], reachable, count["unknown"])
    finished = collected.started.timestamp() + collected.wall_seconds
    return Report(
        tool_version=__version__,
        inventory=inventory_path,
        scope=scope,
        hosts=hosts,
        results=results,
        diagnoses=diagnoses,
        summary=Summary(
            hosts=len(hosts),
            unreachable_hosts=len(hosts) - reachable,
            checks=len(results),
            passed=count["pass"],
            failed=count["fail"],
            warnings=count["warn"],
            errors=count["error"],
            skipped=count["skip"],
            unknown=count["unknown"],
            diagnoses=len(diagnoses),
            findings=findings,
            exit_code=code,
        ),
        timing=Timing(
            started=collected.started.isoformat(timespec="seconds"),
            finished=datetime.fromtimestamp(finished, UTC).isoformat(timespec="seconds"),
            wall_seconds=collected.wall_seconds,
            mtu_probes=active.mtu_probe_count,
        ),
    )


def _import_judging() -> None:
    import importlib

    try:
        for name in _JUDGING_MODULES:
            importlib.import_module(name)
    except Exception:  # evaluate() imports them again and reports what fails there
        return


def run_diagnosis(
    inv: Inventory,
    inventory_path: str,
    scope: list[str],
    connect: Callable[[str], Connection],
    options: RunOptions,
    progress: Callable[[str], None],
    cluster: list[ClusterFinding] | None = None,
    context: str | None = None,
    on_collected: Callable[[Collected], None] | None = None,
    on_event: OnEvent = ignore_event,
    cluster_raw: dict[str, Any] | None = None,
) -> tuple[Report, Collected]:
    """Collect from the hosts (plus configuration findings already read from the cluster), judge.

    `on_collected` sees what was collected before judging starts (the CLI saves --record there, so
    an error while judging cannot lose the run).
    """
    # a broken user check fails before any host is contacted
    check_references(load_checks(options.extra_checks), load_playbooks(options.extra_playbooks))
    threading.Thread(target=_import_judging, name="bgpdoctor-imports", daemon=True).start()
    collected = collect(inv, scope, connect, options, progress, on_event)
    collected.cluster = list(cluster or [])
    collected.context = context
    collected.cluster_raw = cluster_raw
    if on_collected is not None:
        on_collected(collected)
    return evaluate(inv, inventory_path, collected, options), collected
