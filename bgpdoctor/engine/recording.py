"""Record a run's raw outputs to one JSON file, and replay it offline (`bgpdoctor replay`).

A recording holds the inventory, the scope, every command's raw output, the captured pcap
bytes (base64) and the raw text of every ping, MTU probe and kubelet probe. Replaying re-parses
all of it through the same code as a live run, so a ticket can be diagnosed again later, and the
test-suite can replay runs recorded in the lab without root.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from bgpdoctor.engine.active import ActiveResults
from bgpdoctor.engine.cluster import ClusterFinding
from bgpdoctor.engine.collect import HostFacts
from bgpdoctor.engine.run import Collected
from bgpdoctor.errors import HostError, UsageError
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.parsers.ping import parse_ping
from bgpdoctor.probes.kubelet import parse_kubelet_probe
from bgpdoctor.probes.mtu import sweep
from bgpdoctor.transport.base import CommandResult

FORMAT = "bgpdoctor-recording/1"


def _result(r: CommandResult) -> dict[str, Any]:
    return {
        "command": r.command,
        "exit_status": r.exit_status,
        "stdout_b64": base64.b64encode(r.stdout_bytes).decode(),
        "stderr": r.stderr,
        "timed_out": r.timed_out,
    }


def save_recording(
    path: Path, inv: Inventory, inventory_path: str, nodes: list[str], collected: Collected
) -> None:
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
        "context": collected.context,
        "cluster": [f.to_dict() for f in collected.cluster],
        "active": {
            "captures": {h: base64.b64encode(b).decode() for h, b in a.captures.items()},
            "capture_errors": a.capture_errors,
            "pings": {k: {"command": cmd, "raw": raw} for k, (_r, cmd, raw) in a.pings.items()},
            "sweeps": {
                k: {"start": s.start, "probes": [{"size": p.size, "raw": p.raw} for p in s.probes]}
                for k, s in a.sweeps.items()
            },
            "kubelets": {
                k: {"command": cmd, "raw": raw, "target": r.target} for k, (r, cmd, raw) in a.kubelets.items()
            },
            "errors": a.errors,
        },
    }
    path.write_text(json.dumps(data, indent=1) + "\n")


def load_recording(path: Path) -> tuple[Inventory, str, list[str], Collected]:
    """Example: load_recording(Path("captures/runs/nat-rewrites-bgp-source.json"))"""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not a bgpdoctor recording: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f"{path}: not a bgpdoctor recording (format {FORMAT} expected)")
    inv = Inventory.model_validate(data["inventory"])
    facts: dict[str, HostFacts] = {}
    for name, h in data["hosts"].items():
        f = HostFacts(name=name, host=inv.hosts[name], contacted=h["contacted"])
        if h["error"]:
            f.error = HostError(name, h["error"]["kind"], h["error"]["message"])
        for fact, r in h["outputs"].items():
            f.outputs[fact] = CommandResult(
                r["command"],
                r["exit_status"],
                base64.b64decode(r["stdout_b64"]),
                r["stderr"],
                timed_out=r["timed_out"],
            )
        facts[name] = f
    a = data["active"]
    active = ActiveResults(
        captures={h: base64.b64decode(b) for h, b in a["captures"].items()},
        capture_errors=a["capture_errors"],
        pings={k: (parse_ping(v["raw"]), v["command"], v["raw"]) for k, v in a["pings"].items()},
        kubelets={
            k: (parse_kubelet_probe(v["raw"], v["target"]), v["command"], v["raw"])
            for k, v in a["kubelets"].items()
        },
        errors=a["errors"],
    )
    for key, s in a["sweeps"].items():
        replies = {p["size"]: p["raw"] for p in s["probes"]}

        def send(size: int, replies: dict[int, str] = replies) -> tuple[Any, str]:
            raw = replies[size]
            return parse_ping(raw.split("\n", 1)[1] if raw.startswith("$ ") else raw), raw

        active.sweeps[key] = sweep(send, s["start"])
    collected = Collected(
        data["scope"],
        facts,
        active,
        datetime.fromisoformat(data["started"]),
        data["wall_seconds"],
        [ClusterFinding(**f) for f in data.get("cluster", [])],
        data.get("context"),
    )
    return inv, data["inventory_path"], data.get("nodes", []), collected
