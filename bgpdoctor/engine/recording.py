"""Record a run's raw outputs to one JSON file, and replay it offline (`bgpdoctor replay`).

A recording holds the inventory, the scope, every command's raw output, the captured pcap
bytes (base64) and the raw text of every ping, MTU probe and kubelet probe. Replaying re-parses
all of it through the same code as a live run, so a ticket can be diagnosed again later, and the
test-suite can replay runs recorded in the lab without root.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from bgpdoctor import redact as redaction
from bgpdoctor.engine.active import ActiveResults
from bgpdoctor.engine.cluster import ClusterFinding
from bgpdoctor.engine.collect import HostFacts, clean_result
from bgpdoctor.engine.run import Collected
from bgpdoctor.engine.world import without_cycle_collection
from bgpdoctor.errors import HostError, UsageError
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.parsers.ping import parse_ping
from bgpdoctor.probes.droptrace import traces_from_outputs
from bgpdoctor.probes.kubelet import parse_kubelet_probe
from bgpdoctor.probes.mtu import SweepBudget, sweep
from bgpdoctor.redact import redact
from bgpdoctor.report.safe_text import one_line
from bgpdoctor.transport.base import CommandResult

FORMAT = "bgpdoctor-recording/1"


def _result(r: CommandResult) -> dict[str, Any]:
    return {
        "command": r.command,
        "exit_status": r.exit_status,
        "stdout_b64": base64.b64encode(r.stdout_bytes).decode(),
        "stderr": r.stderr,
        "timed_out": r.timed_out,
        "truncated": r.truncated,
    }


@functools.cache
def redaction_rules() -> str | None:
    """A fingerprint of the redaction rules (bgpdoctor/redact.py); None when its source is not there."""
    try:
        return hashlib.sha256(Path(redaction.__file__).read_bytes()).hexdigest()[:32]
    except (OSError, TypeError):
        return None


def outputs_digest(outputs: Iterable[tuple[str, str, bytes, str]]) -> str:
    """SHA-256 over every (host, fact, stdout, stderr) of a recording, each part length-prefixed."""
    digest = hashlib.sha256()
    for host, fact, stdout, stderr in outputs:
        err = stderr.encode("utf-8", "surrogateescape")
        digest.update(
            f"{len(host)}:{host}{len(fact)}:{fact}{len(stdout)}:".encode("utf-8", "surrogateescape")
        )
        digest.update(stdout)
        digest.update(b"%d:" % len(err))
        digest.update(err)
    return digest.hexdigest()


def save_recording(
    path: Path, inv: Inventory, inventory_path: str, nodes: list[str], collected: Collected
) -> None:
    path.write_text(recording_json(inv, inventory_path, nodes, collected), encoding="utf-8")


def recording_json(inv: Inventory, inventory_path: str, nodes: list[str], collected: Collected) -> str:
    """The recording as JSON text (`bgpdoctor run --record` writes it, `load_recording` reads it)."""
    a = collected.active
    data = {
        "format": FORMAT,
        "inventory_path": inventory_path,
        "inventory": inv.model_dump(mode="json", exclude_none=True),
        "nodes": nodes,
        "scope": collected.scope,
        "started": collected.started.isoformat(),
        "wall_seconds": collected.wall_seconds,
        "hosts": {
            name: {
                "contacted": f.contacted,
                "error": {"kind": f.error.kind, "message": f.error.message} if f.error else None,
                "outputs": {fact: _result(r) for fact, r in f.outputs.items()},
            }
            for name, f in collected.facts.items()
        },
        "redaction": _redaction_mark(collected),
        "context": collected.context,
        "cluster": [f.to_dict() for f in collected.cluster],
        "cluster_raw": collected.cluster_raw,
        "active": {
            "captures": {h: base64.b64encode(b).decode() for h, b in a.captures.items()},
            "capture_errors": a.capture_errors,
            "pings": {k: {"command": cmd, "raw": raw} for k, (_r, cmd, raw) in a.pings.items()},
            "peer_pings": {k: {"command": cmd, "raw": raw} for k, (_r, cmd, raw) in a.peer_pings.items()},
            "sweeps": {
                k: {
                    "start": s.start,
                    "probes": [{"size": p.size, "raw": p.raw} for p in s.probes],
                    "candidates": s.candidates,
                    "budgeted": s.budgeted,
                }
                for k, s in a.sweeps.items()
            },
            "kubelets": {
                k: {"command": cmd, "raw": raw, "target": r.target} for k, (r, cmd, raw) in a.kubelets.items()
            },
            "errors": a.errors,
        },
    }
    return json.dumps(data, indent=1) + "\n"


def _redaction_mark(collected: Collected) -> dict[str, str] | None:
    """What says the outputs were redacted when recorded, by these rules: replaying skips redacting
    them again while the rules and every output are unchanged (a hand-edited output is redacted)."""
    rules = redaction_rules()
    if rules is None:
        return None
    for f in collected.facts.values():  # checked, not assumed: an output that skipped clean_result
        if any(not r.truncated and clean_result(r, f.max_output) is not r for r in f.outputs.values()):
            return None
    digest = outputs_digest(
        (name, fact, r.stdout_bytes, r.stderr)
        for name, f in collected.facts.items()
        for fact, r in f.outputs.items()
    )
    return {"rules": rules, "digest": digest}


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


def _b64(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return base64.b64decode(value, validate=True)


Base64 = Annotated[bytes, BeforeValidator(_b64)]


class _Output(_Record):
    command: str
    exit_status: int | None
    stdout: Base64 = Field(validation_alias="stdout_b64")
    stderr: str
    timed_out: bool
    truncated: bool = False  # recordings before the output bound have no such field


class _Redaction(_Record):
    rules: str
    digest: str


class _HostError(_Record):
    kind: str
    message: str


class _Host(_Record):
    contacted: bool
    error: _HostError | None
    outputs: dict[str, _Output]


class _Ping(_Record):
    command: str
    raw: str


class _Probe(_Record):
    size: int
    raw: str


class _Sweep(_Record):
    start: int
    probes: list[_Probe]
    candidates: list[int] = []  # the path's interface MTUs the live search tried first
    budgeted: bool = False  # older recordings: searched without a budget


class _Kubelet(_Record):
    command: str
    raw: str
    target: str


class _Active(_Record):
    captures: dict[str, Base64]
    capture_errors: dict[str, str]
    pings: dict[str, _Ping]
    peer_pings: dict[str, _Ping] = {}  # older recordings have none
    sweeps: dict[str, _Sweep]
    kubelets: dict[str, _Kubelet]
    errors: dict[str, str]


class _ClusterFinding(_Record):
    root_cause: str
    subject: str
    message: str
    evidence: dict[str, Any] = Field(default_factory=dict)


class _RawCluster(_Record):
    """The Kubernetes API objects a run read (kube.view.RawCluster), secrets already redacted."""

    context: str | None
    server: str
    resources: dict[str, str | None]
    objects: dict[str, list[dict[str, Any]]]
    cilium_config: dict[str, str] | None = None
    metrics_apiservice: dict[str, Any] | None = None
    problems: list[str] = Field(default_factory=list)


class _Recording(_Record):
    format: str
    inventory_path: str
    inventory: dict[str, Any]
    nodes: list[str] = Field(default_factory=list)
    scope: list[str]
    started: str
    wall_seconds: float
    hosts: dict[str, _Host]
    context: str | None = None
    redaction: _Redaction | None = None  # recordings before 2026-12 have none: redacted on replay
    cluster: list[_ClusterFinding] = Field(default_factory=list)
    cluster_raw: _RawCluster | None = None  # recordings before 2026-12 hold only the findings
    active: _Active

    @field_validator("started")
    @classmethod
    def _iso_time(cls, value: str) -> str:
        datetime.fromisoformat(value)
        return value


MAX_DEPTH = 100  # a recording's JSON is a few levels deep; an inventory or cluster evidence a few more


def _validated_at_once(raw: bytes) -> _Recording | None:
    """The recording parsed and validated in one pass by pydantic's JSON parser (half the time of
    json.loads and validating its objects: a second of a replay of thousands of nodes); None when
    that fails, whatever the reason."""
    try:
        return _Recording.model_validate_json(raw)
    except (ValidationError, ValueError, RecursionError):
        return None


def _free_form(rec: _Recording) -> dict[str, Any]:
    """The parts of a recording whose values may nest at will (typed `Any`), at the depths they had
    in the file: every other field has a fixed shape, so validating it bounded its depth."""
    cluster_raw = rec.cluster_raw
    return {
        "inventory": rec.inventory,
        "cluster": [{"evidence": finding.evidence} for finding in rec.cluster],
        "cluster_raw": {"objects": cluster_raw.objects, "metrics_apiservice": cluster_raw.metrics_apiservice}
        if cluster_raw is not None
        else None,
    }


def _too_deep(data: Any) -> bool:
    """Some value lies deeper than MAX_DEPTH (the top level is depth 1); only containers are
    walked: a recording is mostly strings, thousands of hosts' outputs."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        inside = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        if inside and depth == MAX_DEPTH:  # its values are one level deeper
            return True
        stack += [(v, depth + 1) for v in inside if isinstance(v, dict | list)]
    return False


def _problems(exc: ValidationError) -> str:
    """Example: "missing inventory, scope; hosts.r1.contacted: Input should be a valid boolean"."""
    errors = exc.errors()
    missing = [".".join(str(p) for p in e["loc"]) for e in errors if e["type"] == "missing"]
    others = [
        f"{'.'.join(str(p) for p in e['loc']) or 'top level'}: {e['msg'].removeprefix('Value error, ')}"
        for e in errors
        if e["type"] != "missing"
    ]
    parts = ([f"missing {', '.join(missing)}"] if missing else []) + others[:3]
    more = f" (and {len(others) - 3} more)" if len(others) > 3 else ""
    return "; ".join(parts) + more


def _cross_references(rec: _Recording, inv: Inventory) -> str | None:
    """The first name a recording uses that its inventory does not define (evaluate looks them up)."""
    for name in rec.scope:
        if name not in rec.hosts:
            return f"scope: host '{name}' has no entry under hosts"
    for where, names in (("scope", rec.scope), ("hosts", list(rec.hosts)), ("nodes", rec.nodes)):
        for name in names:
            if name not in inv.hosts:
                return f"{where}: host '{name}' is not in the recorded inventory"
    for name, host in inv.hosts.items():
        if host.site is not None and host.site not in inv.sites:
            return f"inventory.hosts.{name}.site: unknown site '{host.site}'"
        for i, peer in enumerate(host.peers):
            if peer.host is not None and peer.host not in inv.hosts:
                return f"inventory.hosts.{name}.peers.{i}.host: unknown host '{peer.host}'"
    metrics_server = inv.vantage.metrics_server
    if metrics_server is not None and metrics_server not in inv.hosts:
        return f"inventory.vantage.metrics_server: unknown host '{metrics_server}'"
    return None


def recording_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a recording (`bgpdoctor run --record`), as `replay` reads it.

    Byte strings (command outputs, captures) are base64 text; fields a newer bgpdoctor adds are ignored.
    """
    schema = _Recording.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "bgpdoctor recording"
    return schema


class _MissingProbe(Exception):
    pass


@without_cycle_collection
def load_recording(path: Path) -> tuple[Inventory, str, list[str], Collected]:
    """Read and check a recording; any malformed part is a UsageError naming the file.

    Example: load_recording(Path("captures/runs/nat-rewrites-bgp-source.json"))
    """

    def bad(problem: str) -> UsageError:
        return UsageError(f"{path}: not a valid bgpdoctor recording: {one_line(problem)}")

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: not a bgpdoctor recording: {one_line(str(exc))}") from exc
    rec = _validated_at_once(raw)
    if rec is None:  # read step by step, to name what is wrong
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"{path}: not a bgpdoctor recording: {one_line(str(exc))}") from exc
        except RecursionError:
            raise bad(f"nested deeper than {MAX_DEPTH} levels") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise UsageError(f"{path}: not a bgpdoctor recording (format {FORMAT} expected)")
        if _too_deep(data):
            raise bad(f"nested deeper than {MAX_DEPTH} levels")
        try:
            rec = _Recording.model_validate(data)
        except ValidationError as exc:
            raise bad(_problems(exc)) from None
    elif rec.format != FORMAT:
        raise UsageError(f"{path}: not a bgpdoctor recording (format {FORMAT} expected)")
    elif _too_deep(_free_form(rec)):
        raise bad(f"nested deeper than {MAX_DEPTH} levels")
    try:
        inv = Inventory.model_validate(rec.inventory)
    except ValidationError as exc:
        raise bad("inventory: " + _problems(exc)) from None
    problem = _cross_references(rec, inv)
    if problem:
        raise bad(problem)
    redacted = _redacted_by_these_rules(rec)
    facts: dict[str, HostFacts] = {}
    for name, h in rec.hosts.items():
        f = HostFacts(name=name, host=inv.hosts[name], contacted=h.contacted)
        if h.error:
            f.error = HostError(name, h.error.kind, redact(h.error.message))
        for fact, r in h.outputs.items():
            result = CommandResult(
                r.command, r.exit_status, r.stdout, r.stderr, timed_out=r.timed_out, truncated=r.truncated
            )
            if (
                redacted
                and not r.truncated
                and len(r.stdout) <= f.max_output
                and len(r.stderr) <= f.max_output
            ):
                f.outputs[fact] = result  # what clean_result gives: redacting is idempotent
            else:
                # written before redaction, or edited since: clean it as a live run would
                f.outputs[fact] = clean_result(result, f.max_output)
        facts[name] = f
    a = rec.active
    active = ActiveResults(
        captures=dict(a.captures), capture_errors=dict(a.capture_errors), errors=dict(a.errors)
    )
    # as in a live run (engine.active), a probe whose output cannot be read is an error, not a crash
    for key, ping in a.pings.items():
        try:
            active.pings[key] = (parse_ping(ping.raw), ping.command, ping.raw)
        except Exception as exc:
            active.errors[f"ping {key}"] = f"{type(exc).__name__}: {exc}"
    for key, ping in a.peer_pings.items():
        try:
            active.peer_pings[key] = (parse_ping(ping.raw), ping.command, ping.raw)
        except Exception as exc:
            active.errors[f"peer-ping {key}"] = f"{type(exc).__name__}: {exc}"
    for key, kubelet in a.kubelets.items():
        try:
            active.kubelets[key] = (
                parse_kubelet_probe(kubelet.raw, kubelet.target),
                kubelet.command,
                kubelet.raw,
            )
        except Exception as exc:
            active.errors[f"kubelet {key}"] = f"{type(exc).__name__}: {exc}"
    for key, s in a.sweeps.items():
        replies = {p.size: p.raw for p in s.probes}

        def send(size: int, replies: dict[int, str] = replies) -> tuple[Any, str]:
            if size not in replies:
                raise _MissingProbe(size)
            raw = replies[size]
            return parse_ping(raw.split("\n", 1)[1] if raw.startswith("$ ") else raw), raw

        try:
            budget = SweepBudget.for_range(s.start) if s.budgeted else None
            active.sweeps[key] = sweep(send, s.start, s.candidates, budget)
        except _MissingProbe as exc:
            raise bad(
                f"active.sweeps.{key}: the MTU search needs a probe of {exc} bytes, none recorded"
            ) from None
        except Exception as exc:
            active.errors[f"mtu {key}"] = f"{type(exc).__name__}: {exc}"
    # drop traces are host outputs (droptrace.*): parsed again here, as a live run parses them
    active.drops = traces_from_outputs(
        {
            name: {k: r.stdout for k, r in f.outputs.items() if k.startswith("droptrace.")}
            for name, f in facts.items()
        }
    )
    collected = Collected(
        rec.scope,
        facts,
        active,
        datetime.fromisoformat(rec.started),
        rec.wall_seconds,
        _cluster_findings(rec, bad),
        rec.context,
        rec.cluster_raw.model_dump() if rec.cluster_raw is not None else None,
    )
    return inv, rec.inventory_path, rec.nodes, collected


def _redacted_by_these_rules(rec: _Recording) -> bool:
    """The recording says its outputs were redacted by today's rules, and none changed since."""
    mark, rules = rec.redaction, redaction_rules()
    if mark is None or rules is None or mark.rules != rules:
        return False
    outputs = (
        (name, fact, r.stdout, r.stderr) for name, h in rec.hosts.items() for fact, r in h.outputs.items()
    )
    return outputs_digest(outputs) == mark.digest


def _cluster_findings(rec: _Recording, bad: Callable[[str], UsageError]) -> list[ClusterFinding]:
    """Drawn again from the recorded API objects by today's code; older recordings keep their findings."""
    if rec.cluster_raw is None:
        return [ClusterFinding(c.root_cause, c.subject, c.message, c.evidence) for c in rec.cluster]
    from bgpdoctor.kube.discover import cluster_findings
    from bgpdoctor.kube.view import RawCluster

    raw = RawCluster(**rec.cluster_raw.model_dump())
    try:
        return [ClusterFinding.of(f) for f in cluster_findings(raw)]
    except Exception as exc:  # objects edited by hand: one line naming the file, never a traceback
        raise bad(f"cluster_raw: {type(exc).__name__}: {exc}") from None
