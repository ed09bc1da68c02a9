"""`bgpdoctor status` as a user runs it (the CLI, over real SSH) against the real namespace lab."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.labcli import LabCli, running_lab

pytestmark = [pytest.mark.lab, pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")]

PREFIX = os.environ.get("BGPDOCTOR_TEST_STATUS_LAB_PREFIX", "bdu-")
MGMT_NET = os.environ.get("BGPDOCTOR_TEST_STATUS_LAB_MGMT_NET", "172.31.249.0/24")

bgpdoctor = LabCli(PREFIX, MGMT_NET)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with running_lab(bgpdoctor, tmp_path_factory.mktemp("statuslab")) as inventory:
        yield inventory


def test_status_healthy_then_speaker_down(lab: Path) -> None:
    started = time.monotonic()
    healthy = bgpdoctor(lab.parent, "status", "-i", str(lab), timeout=60)
    elapsed = time.monotonic() - started
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr[-2000:]
    assert " 0 down, 0 unknown" in healthy.stdout
    assert elapsed < 30, f"status took {elapsed:.1f}s"

    down = bgpdoctor(lab.parent, "lab", "up", "--fault", "speaker-down", timeout=240)
    assert down.returncode == 0, down.stderr[-3000:]
    proc = bgpdoctor(lab.parent, "status", "-i", str(lab), "-o", "json", timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-2000:]
    sessions = {s["session"]: s for s in json.loads(proc.stdout)["sessions"]}
    home = sessions["router-mine<->router-home"]
    assert home["verdict"] == "down"
    assert home["b"]["state"] is None
    assert "router-home" in home["b"]["unknown"]
