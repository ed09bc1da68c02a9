"""Data the linter passes around: findings, input problems and the normalized BGP speakers.

Every parsed statement keeps its Loc (file, line) so a finding can point at the offending line; a
speaker's sessions are bgpdoctor.intent.PeerIntent, the model the inventory and the cluster share.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any, Literal

from bgpdoctor.errors import BgpDoctorError
from bgpdoctor.intent import Loc, PeerIntent

Severity = Literal["error", "warning"]


@functools.cache
def root_causes() -> tuple[str, ...]:
    """The root causes a lint finding may name: the playbooks' ids (playbooks/ is the one catalogue,
    read by bgpdoctor.engine.rules). Loaded once, on first use.

    Example: root_causes() -> ("asn-mismatch", "auto-direct-routes-across-l3", ...)
    """
    from bgpdoctor.engine.rules import load_playbooks

    return tuple(sorted(pb.id for pb in load_playbooks()))


class UnknownRootCause(BgpDoctorError):
    """Lint named a root cause that is not a playbook (a bug in lint, caught by its tests)."""


@dataclass
class LintFinding:
    """One configuration mistake, named by its root-cause id.

    Example: LintFinding(root_cause="asn-mismatch", severity="error", file="bird.conf", line=7,
    message="...", other=[("networks.yaml", 12)])
    """

    root_cause: str
    severity: Severity
    file: str
    line: int
    message: str
    other: list[tuple[str, int]] = field(default_factory=list)
    # what the files say, named as the run's facts, so the playbook's fixes render with them
    facts: dict[str, Any] = field(default_factory=dict)
    title: str = ""  # the playbook's title
    fixes: list[dict[str, Any]] = field(default_factory=list)  # the playbook's fixes the facts complete

    def to_dict(self) -> dict[str, Any]:
        return {
            "root_cause": self.root_cause,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "message": self.message,
            "other": [{"file": f, "line": n} for f, n in self.other],
            "title": self.title,
            "fixes": self.fixes,
        }


@dataclass
class InputProblem:
    """A file (or part of one) that could not be used. kind: "error" or "note" (e.g. unknown kind).

    Example: InputProblem(file="bad.yaml", line=3, message="YAML error: ...", kind="error")
    """

    file: str
    line: int
    message: str
    kind: Literal["error", "note"] = "error"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "message": self.message, "kind": self.kind}


@dataclass
class Speaker:
    """A BGP speaker (router, Kubernetes node, GoBGP daemon) and the peers it configures.

    kind: bird2, bird16, cilium, calico, gobgp. listens: accepts TCP 179 (Cilium never does).
    """

    kind: str
    name: str
    loc: Loc
    addresses: dict[IPv4Address, Loc | None] = field(default_factory=dict)
    subnets: list[tuple[IPv4Network, str, Loc | None]] = field(default_factory=list)  # net, iface
    peers: list[PeerIntent] = field(default_factory=list)
    listens: bool = True
    listens_loc: Loc | None = None
    is_node: bool = False
    asn: int | None = None

    def owns(self, addr: IPv4Address | None) -> bool:
        return addr is not None and addr in self.addresses
