"""The lab state file: exactly what `lab up` created, so `lab down` removes only that."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ProcRecord:
    """A daemon the lab started. starttime (clock ticks since boot) guards against PID reuse.

    Example: ProcRecord(host="router-mine", name="bird", pid=4242, comm="bird", starttime=123456,
    config_hash="9f1c...")
    """

    host: str
    name: str
    pid: int
    comm: str
    starttime: int
    config_hash: str = ""


@dataclass
class LabState:
    """Example: LabState(prefix="bdl-", mgmt_net="172.31.254.0/24", namespaces=["bdl-zt", ...],
    root_links=["bdl-mgmt", "bdl-m11", ...], procs={"router-mine/bird": ProcRecord(...)},
    faults=["mtu-blackhole"], default_timers=False)"""

    prefix: str
    mgmt_net: str
    namespaces: list[str] = field(default_factory=list)
    root_links: list[str] = field(default_factory=list)
    procs: dict[str, ProcRecord] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    default_timers: bool = False
    dual_stack: bool = False  # lab up --dual-stack

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabState:
        procs = {k: ProcRecord(**v) for k, v in data.get("procs", {}).items()}
        return cls(
            prefix=data["prefix"],
            mgmt_net=data["mgmt_net"],
            namespaces=list(data.get("namespaces", [])),
            root_links=list(data.get("root_links", [])),
            procs=procs,
            faults=list(data.get("faults", [])),
            default_timers=bool(data.get("default_timers", False)),
            dual_stack=bool(data.get("dual_stack", False)),
        )


def load_state(path: Path) -> LabState | None:
    """The recorded state, or None when there is no lab in this run dir."""
    try:
        return LabState.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        return None


def save_state(path: Path, st: LabState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(st.to_json(), indent=2) + "\n")
    os.replace(tmp, path)
