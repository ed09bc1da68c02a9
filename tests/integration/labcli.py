"""The bgpdoctor CLI against a private copy of the lab, run as a user runs it (shared by lab tests).

Each test module gets its own namespace prefix and management /24 so modules (and developers'
own labs) never collide.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class LabCli:
    """Example: LabCli("bdr-", "172.31.252.0/24")(run_dir, "lab", "up") -> CompletedProcess"""

    prefix: str
    mgmt_net: str
    extra_env: dict[str, str] = field(default_factory=dict)
    timeout: float = 300

    def env(self, run_dir: Path) -> dict[str, str]:
        return {
            **os.environ,
            "BGPDOCTOR_LAB_PREFIX": self.prefix,
            "BGPDOCTOR_LAB_MGMT_NET": self.mgmt_net,
            "BGPDOCTOR_LAB_DIR": str(run_dir),
            "NO_COLOR": "1",
            **self.extra_env,
        }

    def __call__(
        self, run_dir: Path, *args: str, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bgpdoctor", *args],
            capture_output=True,
            text=True,
            env=self.env(run_dir),
            timeout=timeout or self.timeout,
            check=False,
        )


@contextmanager
def running_lab(cli: LabCli, run_dir: Path) -> Iterator[Path]:
    """`lab up` (healthy), yield the written inventory, always `lab down` afterwards."""
    up = cli(run_dir, "lab", "up", timeout=240)
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        inventory = Path(up.stdout.strip().splitlines()[-1].removeprefix("inventory: ").strip())
        assert inventory.is_file()
        yield inventory
    finally:
        down = cli(run_dir, "lab", "down", timeout=120)
        assert down.returncode == 0, down.stderr[-2000:]
