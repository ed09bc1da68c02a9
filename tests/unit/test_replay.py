"""Replay runs recorded in the lab (captures/runs/*.json, real outputs of BIRD, GoBGP, ping, tcpdump)
through the whole engine without root or network: the same diagnosis as the live run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import jsonschema
import pytest

from bgpdoctor.engine.recording import load_recording
from bgpdoctor.engine.run import RunOptions, evaluate
from bgpdoctor.report.markdown import render_markdown
from bgpdoctor.report.model import Report, report_json_schema
from bgpdoctor.report.text import render_text

RUNS = Path(__file__).resolve().parents[2] / "captures" / "runs"
FAULTS = sorted(p.stem for p in RUNS.glob("*.json") if p.stem != "healthy")


def replay(name: str):  # type: ignore[no-untyped-def]
    inv, path, nodes, collected = load_recording(RUNS / f"{name}.json")
    return evaluate(inv, path, collected, RunOptions(nodes=nodes))


def test_every_lab_fault_has_a_recording() -> None:
    from bgpdoctor.lab.faults import FAULTS as LAB_FAULTS

    assert set(FAULTS) == set(LAB_FAULTS)


def test_healthy_recording_has_no_findings() -> None:
    report = replay("healthy")
    assert report.diagnoses == []
    assert [r for r in report.results if r.status in ("fail", "error", "warn")] == []
    assert report.summary.exit_code == 0


@pytest.mark.parametrize("fault", FAULTS)
def test_recorded_fault_gives_its_root_cause(fault: str) -> None:
    from bgpdoctor.lab.faults import get_fault

    cause = get_fault(fault).root_cause  # frr-ebgp-requires-policy is bird-ebgp-no-policy on FRR
    report = replay(fault)
    assert report.summary.exit_code == 1
    assert report.diagnoses[0].root_cause == cause
    assert report.diagnoses[0].fixes and all("is undefined" not in f.text for f in report.diagnoses[0].fixes)
    assert report.summary.findings == 1, [d.root_cause for d in report.diagnoses]
    assert report.diagnoses[0].evidence, "a diagnosis must show its evidence"
    jsonschema.Draft202012Validator(report_json_schema()).validate(json.loads(report.model_dump_json()))
    assert f"`{cause}`" in render_markdown(report)
    assert cause in render_text(report)


def test_replay_cli_matches(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bgpdoctor",
            "replay",
            str(RUNS / "mtu-blackhole.json"),
            "-o",
            "json",
            "--report",
            str(tmp_path / "r.md"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["diagnoses"][0]["root_cause"] == "mtu-blackhole"
    assert "MTU: 1380" in "".join(f["text"] for f in report["diagnoses"][0]["fixes"])
    assert (tmp_path / "r.md").read_text().startswith("# bgpdoctor report")


def test_not_a_recording(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    proc = subprocess.run(
        [sys.executable, "-m", "bgpdoctor", "replay", str(bad)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == f"bgpdoctor: {bad}: not a bgpdoctor recording (format bgpdoctor-recording/1 expected)"
    )


def _with_unknowns(report: Report, count: int) -> Report:
    """The report as if `count` passing checks had met a timed-out `ip -j route`."""
    results = list(report.results)
    for i in [i for i, r in enumerate(results) if r.status == "pass"][:count]:
        reason = f"ip -j route on {results[i].hosts[0]} timed out after 10s"
        results[i] = results[i].model_copy(update={"status": "unknown", "reason": reason})
    summary = report.summary.model_copy(update={"passed": report.summary.passed - count, "unknown": count})
    return report.model_copy(update={"results": results, "summary": summary})


def test_unknown_results_are_counted_and_listed_apart() -> None:
    report = _with_unknowns(replay("mtu-blackhole"), 2)
    s = report.summary
    text = click.unstyle(render_text(report))
    assert text.splitlines()[0].startswith(
        f"bgpdoctor 0.1.0: 5 hosts, {s.checks} checks ({s.passed} pass, 2 fail, 0 warn, 0 error, "
        f"{s.skipped} skip, 2 unknown) in "
    )
    unknown = [r for r in report.results if r.status == "unknown"]
    section = text.split("could not check (2): neither pass nor fail, the facts could not be read\n")[1]
    assert section.splitlines()[:2] == [f"  UNKNOWN {r.check:28} {r.host:32} {r.reason}" for r in unknown]
    assert "timed out after 10s" not in text.split("could not check")[0]  # not among the findings
    md = render_markdown(report)
    assert f"{s.skipped} skip, 2 unknown; 1 root cause(s)" in md
    listed = "".join(f"- `{r.check}` on `{r.host}`: {r.reason}\n" for r in unknown)
    assert (
        "## Could not check\n\n"
        "Unknown is neither pass nor fail: these facts could not be collected or read.\n\n" + listed
    ) in md
    jsonschema.Draft202012Validator(report_json_schema()).validate(json.loads(report.model_dump_json()))


def test_many_unknowns_are_cut_short_unless_verbose() -> None:
    report = _with_unknowns(replay("mtu-blackhole"), 25)
    short = click.unstyle(render_text(report)).split("could not check (25)")[1]
    assert short.count("UNKNOWN") == 20 and "... and 5 more (-v lists them all)" in short
    full = click.unstyle(render_text(report, verbose=True)).split("could not check (25)")[1]
    assert full.count("UNKNOWN") == 25


def test_one_fault_does_not_hide_another() -> None:
    """Recorded with ip-forward-disabled and mtu-blackhole at once: both are found (the MTU on the
    overlay segment's own sweep, though no pod packet gets through)."""
    inv, path, nodes, collected = load_recording(RUNS / "combined" / "ip-forward-disabled+mtu-blackhole.json")
    report = evaluate(inv, path, collected, RunOptions(nodes=nodes))
    assert [d.root_cause for d in report.diagnoses] == ["ip-forward-disabled", "mtu-blackhole"]
    assert report.summary.exit_code == 1


def test_a_drop_on_a_device_without_login_is_placed_from_the_wire() -> None:
    """The overlay switch drops TCP 179: no host bgpdoctor reads has a rule for it, the SYN is seen
    on one router and not on the next, ICMP passes; the inventory's switch on that segment is named."""
    report = replay("bgp-filtered-unseen")
    top = report.diagnoses[0]
    assert top.root_cause == "bgp-filtered-unseen"
    assert top.hosts == ["zt"]
    assert "(zt0) -> " in top.summary and "the inventory lists zt there" in top.summary
    port = [r for r in report.results if r.check == "bgp-port-open" and r.status != "skip"]
    assert port and all(r.status == "unknown" for r in port)
