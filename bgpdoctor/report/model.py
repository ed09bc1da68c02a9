"""The JSON report a run produces (documented in docs/report.md; `bgpdoctor schema report`).

A report names every host, every check result with the raw output it was judged on, and the
diagnoses (root causes from playbooks/) the run reached, with fix snippets rendered from real values.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Literal

import pydantic.dataclasses
from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.1"
# unknown: the facts the check needs could not be collected or read (the reason says why); never
# pass, never fail. error: the check itself could not be run (a bug, a template problem).
Status = Literal["pass", "fail", "warn", "error", "skip", "unknown"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Evidence(Model):
    """Raw output a verdict rests on: which host, which command, what it printed."""

    host: str
    command: str
    output: str
    exit_status: int | None = None
    note: str | None = None

    # a large run quotes ~20 outputs per node: one set of the fields given per combination of them,
    # shared, not one each (a set of five names is larger than the model's own fields)
    def model_post_init(self, context: Any, /) -> None:
        given = self.__pydantic_fields_set__
        object.__setattr__(self, "__pydantic_fields_set__", _FIELDS_GIVEN.setdefault(frozenset(given), given))

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, "__pydantic_fields_set__", set(self.__pydantic_fields_set__))  # unshared
        super().__setattr__(name, value)


_FIELDS_GIVEN: dict[frozenset[str], set[str]] = {}


# a run judges ~100 checks per node: slots, not a model's attribute dict and field set per result
# (a third of the memory of a replay of thousands of nodes); serialized, validated and described
# by its JSON Schema exactly as a model with these fields
@pydantic.dataclasses.dataclass(slots=True, kw_only=True, config=ConfigDict(extra="forbid"))
class CheckResult:
    """One check judged on one subject (a host, a BGP session, a path or a kubelet)."""

    check: str
    title: str
    host: str  # the subject's label: "router-mine", "router-mine<->yuuko-k8s", "sakamoto->yuuko-k8s"
    hosts: list[str]  # every host the verdict involves
    status: Status
    actual: Any = None
    expected: Any = None
    reason: str
    evidence: list[Evidence] = dataclasses.field(default_factory=list)
    explained_by: str | None = None  # id of the diagnosis this failure is a symptom of
    # status unknown: why the facts could not be had (timeout, command-missing, permission-denied,
    # failed, parse-error, unreachable, not-collected, truncated, internal-error, ambiguous)
    unknown_kind: str | None = None

    def model_copy(self, *, update: dict[str, Any] | None = None) -> CheckResult:
        """A shallow copy with `update`'s fields replaced, not validated, as a model's."""
        copied = copy.copy(self)
        for name, value in (update or {}).items():
            setattr(copied, name, value)
        return copied


class FixSnippet(Model):
    platform: str  # cilium, calico, bird2, bird1, openwrt, nftables, sysctl, routeros
    title: str
    host: str | None = None
    text: str
    fragment: str = "config"  # config (whole statements), bgp-protocol or bgp-channel (lines inside one)
    target: str | None = None  # where a fragment goes: "protocol bgp yuuko_k8s", "neighbor 192.168.6.1"


class Diagnosis(Model):
    """A root cause the run reached, the evidence that proves it and how to fix it."""

    root_cause: str  # a playbook id, e.g. "nat-rewrites-bgp-source"
    title: str
    rank: int
    summary: str  # one sentence with the real addresses
    explanation: str
    hosts: list[str]
    evidence: list[Evidence]
    proven_by: list[str]  # "check@subject" entries that prove it
    symptoms: list[str]  # "check@subject" failures grouped under this cause
    ruled_out: list[str] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list)
    fixes: list[FixSnippet]


class HostReport(Model):
    name: str
    role: str
    speaker: str
    reachable: bool
    error_kind: str | None = None  # unreachable, auth, hostkey, timeout, command-missing, ...
    error: str | None = None
    commands_run: int = 0


class Timing(Model):
    started: str
    finished: str
    wall_seconds: float
    mtu_probes: int = 0


class Summary(Model):
    hosts: int
    unreachable_hosts: int
    checks: int
    passed: int
    failed: int
    warnings: int
    errors: int
    skipped: int
    unknown: int = 0  # checks whose facts could not be collected or read
    diagnoses: int
    findings: int  # diagnoses + failures not explained by any diagnosis
    exit_code: int


class CaptureFile(Model):
    """A pcap file `run --pcap-dir` wrote: a host's whole capture (session null) or one session's part."""

    host: str
    session: str | None = None  # "router-home<->yuuko-k8s"
    path: str
    packets: int
    bytes: int


class Report(Model):
    schema_version: str = SCHEMA_VERSION
    tool: str = "bgpdoctor"
    tool_version: str
    inventory: str
    scope: list[str]
    hosts: list[HostReport]
    results: list[CheckResult]
    diagnoses: list[Diagnosis]
    summary: Summary
    timing: Timing
    captures: list[CaptureFile] = Field(default_factory=list)  # run/replay --pcap-dir


def report_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the report, as printed by `bgpdoctor schema report`."""
    schema = Report.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://bgpdoctor.dev/schema/report-{SCHEMA_VERSION}.json"
    return schema
