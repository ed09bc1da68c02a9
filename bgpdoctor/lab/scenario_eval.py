"""Run bgpdoctor on a generated scenario as a user runs it, and judge its answer.

    outcome = diagnose(sc, [plan_fault(sc, "asn-mismatch")])
    outcome.verdict   # "ok" or what was wrong, e.g. "top diagnosis ip-forward-disabled, expected ..."

A case is one bgpdoctor run on a scenario in one state: healthy (expected: exit 0, no finding),
one fault (expected: its root cause is diagnoses[0]) or two independent faults (expected: both
root causes among the diagnoses). Nothing here changes what bgpdoctor says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bgpdoctor.errors import LabError
from bgpdoctor.lab.scenario import FaultPlan, Scenario
from bgpdoctor.lab.scenario_net import apply_faults, heal, wait_symptoms

CAPTURE_SECONDS = 12  # bgpdoctor's default; GoBGP and BIRD retry every 5 s (after a 3 s idle hold)


@dataclass
class Outcome:
    """What bgpdoctor said about one case, and whether that was right.

    Example: Outcome(seed=7, names_seed=7, faults=("asn-mismatch",), culprits=("heron-4",),
    exit_code=1, diagnoses=[("asn-mismatch", ["heron-4"])], unexplained=[], seconds=9.1,
    verdict="ok")
    """

    seed: int
    names_seed: int
    shape: str
    faults: tuple[str, ...]
    culprits: tuple[str, ...]  # the host each fault's diagnosis should name
    exit_code: int | None = None
    diagnoses: list[tuple[str, list[str]]] = field(default_factory=list)  # (root cause, hosts)
    unexplained: list[str] = field(default_factory=list)  # "check@subject" failures no diagnosis explains
    unknown: list[str] = field(default_factory=list)  # "check@subject: reason"
    seconds: float = 0.0  # the bgpdoctor run
    setup_seconds: float = 0.0  # breaking (or building) and waiting for the symptom
    verdict: str = "not run"
    error: str | None = None
    report: str | None = None  # where the JSON report was saved

    @property
    def root_causes(self) -> list[str]:
        return [cause for cause, _ in self.diagnoses]

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    @property
    def culprit_named(self) -> bool:
        """Each fault's diagnosis names the host the fault was put on."""
        return all(
            any(cause == f and c in hosts for cause, hosts in self.diagnoses)
            for f, c in zip(self.faults, self.culprits, strict=True)
        )

    def label(self) -> str:
        what = " + ".join(self.faults) or "healthy"
        names = "" if self.names_seed == self.seed else f" names {self.names_seed}"
        return f"seed {self.seed}{names}: {what}"

    def said(self) -> str:
        """What bgpdoctor said, in one line."""
        if self.error:
            return f"error: {self.error}"
        diag = ", ".join(f"{c}({'/'.join(h)})" for c, h in self.diagnoses) or "no diagnosis"
        extra = f"; unexplained failures: {', '.join(self.unexplained[:4])}" if self.unexplained else ""
        unk = f"; unknown: {len(self.unknown)}" if self.unknown else ""
        return f"exit {self.exit_code}: {diag}{extra}{unk}"


def run_bgpdoctor(
    sc: Scenario, capture_seconds: float = CAPTURE_SECONDS, record: Path | None = None
) -> tuple[int, dict[str, Any]]:
    """`bgpdoctor run -i <inventory> -o json` in a subprocess; BIRD 1.6's client first on PATH.
    With `record`, the run's raw facts are also written there (`--record`, for `replay`)."""
    env = {
        **os.environ,
        "PATH": f"{sc.bin_dir}:{os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}",
        "NO_COLOR": "1",
    }
    argv = [sys.executable, "-m", "bgpdoctor", "run", "-i", str(sc.inventory_path), "-o", "json"]
    argv += ["--capture-seconds", f"{capture_seconds:g}"]
    if record is not None:
        argv += ["--record", str(record)]
    cp = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
    try:
        report = json.loads(cp.stdout)
    except json.JSONDecodeError as exc:
        raise LabError(f"bgpdoctor run exit {cp.returncode}, no JSON report: {cp.stderr[-800:]}") from exc
    return cp.returncode, report


def read_report(outcome: Outcome, code: int, report: dict[str, Any]) -> None:
    outcome.exit_code = code
    outcome.diagnoses = [(d["root_cause"], list(d.get("hosts", []))) for d in report.get("diagnoses", [])]
    results = report.get("results", [])
    outcome.unexplained = [
        f"{r['check']}@{r['host']}" for r in results if r["status"] == "fail" and not r.get("explained_by")
    ]
    outcome.unknown = [
        f"{r['check']}@{r['host']}: {r['reason']}" for r in results if r["status"] == "unknown"
    ]


def judge(outcome: Outcome) -> str:
    """ "ok", or what is wrong with bgpdoctor's answer for this case."""
    if outcome.error:
        return f"could not run: {outcome.error}"
    if not outcome.faults:
        if outcome.exit_code == 0 and not outcome.diagnoses and not outcome.unexplained:
            return "ok"
        return f"false finding on a healthy scenario ({outcome.said()})"
    if len(outcome.faults) == 1:
        top = outcome.root_causes[0] if outcome.root_causes else None
        if top == outcome.faults[0] and outcome.exit_code == 1:
            return "ok"
        return f"top diagnosis {top or 'none'}, expected {outcome.faults[0]} ({outcome.said()})"
    missing = [f for f in outcome.faults if f not in outcome.root_causes]
    if not missing and outcome.exit_code == 1:
        return "ok"
    return f"not found: {', '.join(missing) or '-'} ({outcome.said()})"


def diagnose(
    sc: Scenario,
    plans: list[FaultPlan],
    capture_seconds: float = CAPTURE_SECONDS,
    report_dir: Path | None = None,
    record_dir: Path | None = None,
) -> Outcome:
    """Break the (healthy, running) scenario with `plans`, run bgpdoctor, judge, heal.

    With no plans this is the healthy case. The scenario is healthy again afterwards (or
    LabError is raised: it could not be healed).
    """
    outcome = Outcome(
        seed=sc.seed,
        names_seed=sc.names_seed,
        shape=sc.describe(),
        faults=tuple(p.name for p in plans),
        culprits=tuple(sc.name(p.culprit) for p in plans),
    )
    t0 = time.monotonic()
    try:
        if plans:
            apply_faults(sc, plans)
            wait_symptoms(sc, plans)
        outcome.setup_seconds = round(time.monotonic() - t0, 2)
        t1 = time.monotonic()
        record = None
        if record_dir is not None:
            record_dir.mkdir(parents=True, exist_ok=True)
            record = record_dir / f"{sc.prefix}{'+'.join(outcome.faults) or 'healthy'}.json"
        code, report = run_bgpdoctor(sc, capture_seconds, record)
        read_report(outcome, code, report)
        outcome.seconds = round(time.monotonic() - t1, 2)
        if report_dir is not None:
            report_dir.mkdir(parents=True, exist_ok=True)
            path = report_dir / f"{sc.prefix}{'+'.join(outcome.faults) or 'healthy'}.json"
            path.write_text(json.dumps(report, indent=1) + "\n")
            outcome.report = str(path)
    except LabError as exc:
        outcome.error = str(exc)
    outcome.verdict = judge(outcome)
    if plans:
        heal(sc)
    return outcome


@dataclass
class SeedRun:
    """Every case run on one scenario, and how long bringing it up took."""

    seed: int
    names_seed: int
    shape: str
    up_seconds: float = 0.0
    total_seconds: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None  # the scenario could not be built or healed
    keys: dict[str, str] = field(default_factory=dict)  # host name -> its key in the scenario ("r1")

    def keyed(self, outcome: Outcome) -> list[tuple[str, list[str]]]:
        """The outcome's diagnoses with hosts by their scenario keys: the same network under other
        names gives the same list when the diagnosis does not depend on the names."""
        return [(cause, sorted(self.keys.get(h, h) for h in hosts)) for cause, hosts in outcome.diagnoses]


def run_seed(
    seed: int,
    faults: list[str] | None = None,
    pair: bool = True,
    names_seed: int | None = None,
    capture_seconds: float = CAPTURE_SECONDS,
    keep_files: bool = False,
    report_dir: Path | None = None,
    on_frr: bool = False,
    record_dir: Path | None = None,
) -> SeedRun:
    """Bring scenario `seed` up, run the healthy case, each fault in `faults` (default: two chosen
    from the seed; on an FRR router where the fault's role allows it with `on_frr`), and an
    independent pair; always tear it down.

    Example: run_seed(3).outcomes -> [Outcome(faults=(), verdict="ok"), Outcome(faults=
    ("mtu-blackhole",), ...), ..., Outcome(faults=("asn-mismatch", "firewall-blocks-pod-cidr"), ...)]
    """
    from bgpdoctor.lab.scenario import faults_for_seed, generate, independent_pair, plan_fault
    from bgpdoctor.lab.scenario_net import running, up_seconds

    sc = generate(seed, names_seed)
    result = SeedRun(seed, sc.names_seed, sc.describe(), keys={h.name: key for key, h in sc.hosts.items()})
    t0 = time.monotonic()
    cases: list[list[FaultPlan]] = [[]]
    for name in faults_for_seed(sc, 2) if faults is None else faults:
        plan = plan_fault(sc, name, on_frr=on_frr)
        if plan is not None:
            cases.append([plan])
    two = independent_pair(sc) if pair else None
    if two is not None:
        cases.append(list(two))
    try:
        with running(sc, keep_files=keep_files):
            result.up_seconds = up_seconds(sc)
            for plans in cases:
                result.outcomes.append(diagnose(sc, plans, capture_seconds, report_dir, record_dir))
    except LabError as exc:
        result.error = str(exc)
    result.total_seconds = round(time.monotonic() - t0, 2)
    return result
