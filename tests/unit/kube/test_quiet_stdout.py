"""Opening Kubernetes clients from several threads leaves the report's stdout where it was."""

from __future__ import annotations

import sys
import threading
import time

from bgpdoctor.kube.config import _quiet_stdout


def test_overlapping_quiet_stdout_restores_stdout() -> None:
    original = sys.stdout
    start = threading.Barrier(8)

    def open_client() -> None:
        start.wait()
        with _quiet_stdout():
            time.sleep(0.01)

    threads = [threading.Thread(target=open_client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sys.stdout is original
