"""With the daemons' default timers (BIRD hold 240 / error wait 60-300 s, GoBGP hold 90) bgpdoctor
must reach the same diagnosis, and must not mistake BIRD's error back-off for a persisting fault."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.labcli import LabCli

pytestmark = [pytest.mark.lab, pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("deflab")
    try:
        yield path
    finally:
        proc = bgpdoctor(path, "lab", "down")
        assert proc.returncode == 0, proc.stderr[-2000:]


bgpdoctor = LabCli("bdd-", "172.31.251.0/24", {"BGPDOCTOR_LAB_WAIT": "300"}, timeout=420)


def run_json(run_dir: Path) -> tuple[int, dict[str, Any]]:
    proc = bgpdoctor(
        run_dir,
        "run",
        "-i",
        str(run_dir / "inventory.yaml"),
        "-o",
        "json",
        "--node",
        "yuuko-k8s",
        "--capture-seconds",
        "5",
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return proc.returncode, json.loads(proc.stdout)


def test_fault_then_error_backoff_with_default_timers(run_dir: Path) -> None:
    # forwarding off on router-home: the multihop session router-mine<->yuuko-k8s dies only when
    # its hold timer (90 s, Cilium's and GoBGP's default) expires; the lab waits for that
    up = bgpdoctor(run_dir, "lab", "up", "--default-timers", "--fault", "ip-forward-disabled")
    assert up.returncode == 0, up.stderr[-3000:]
    code, report = run_json(run_dir)
    assert code == 1
    assert report["diagnoses"][0]["root_cause"] == "ip-forward-disabled"

    # healed, but BIRD now holds the session in its error wait (60 s by default): a warning that
    # names the old error, no diagnosis, exit 0
    healed = bgpdoctor(run_dir, "lab", "up", "--default-timers", "--no-wait")
    assert healed.returncode == 0, healed.stderr[-3000:]
    code, report = run_json(run_dir)
    backoff = [r for r in report["results"] if r["check"] == "bgp-error-backoff" and r["status"] == "warn"]
    assert backoff, [(r["check"], r["host"], r["status"]) for r in report["results"] if r["status"] != "pass"]
    assert "Hold timer expired" in backoff[0]["reason"]
    assert report["diagnoses"] == []
    assert [r for r in report["results"] if r["status"] == "fail"] == []
    assert code == 0
