"""Where a run's wall time goes, exec by exec: `bgpdoctor` with each SSH exec timed.

Usage: python3 benchmarks/exec_trace.py [--full] BGPDOCTOR-ARGS...
       e.g. python3 benchmarks/exec_trace.py run -i /tmp/bfa-lab/inventory.yaml -o json > /dev/null
Runs the command in this process with `SshConnection.run` wrapped, and prints to stderr, when the
run ends, one line per exec in the order they started: seconds from start at its start and end,
its duration, the host and the command's first 70 characters (--full: the whole command), then the
five longest. The run's own output and exit status are unchanged. It only reads the hosts, like any
run: nothing is sent that the run itself would not send.
"""

from __future__ import annotations

import sys
import time
from typing import Any

START = time.monotonic()
FULL = "--full" in sys.argv[1:2]


def main() -> None:
    from bgpdoctor.cli import main as bgpdoctor
    from bgpdoctor.transport import ssh

    execs: list[tuple[float, float, str, str]] = []
    run = ssh.SshConnection.run

    def timed(self: ssh.SshConnection, command: str, *args: Any, **kwargs: Any) -> Any:
        begun = time.monotonic()
        try:
            return run(self, command, *args, **kwargs)
        finally:
            shown = command if FULL else command.replace("\n", " ")[:70]
            execs.append((begun - START, time.monotonic() - START, str(getattr(self, "host", "?")), shown))

    ssh.SshConnection.run = timed  # type: ignore[method-assign]
    sys.argv = ["bgpdoctor", *sys.argv[2 if FULL else 1 :]]
    try:
        bgpdoctor()
    finally:
        for begun, ended, host, shown in sorted(execs):
            print(f"{begun:7.3f} {ended:7.3f} {ended - begun:6.3f} {host:16} {shown}", file=sys.stderr)
        print("longest:", file=sys.stderr)
        for begun, ended, host, shown in sorted(execs, key=lambda e: e[0] - e[1])[:5]:
            print(f"{ended - begun:6.3f} {host:16} {shown[:70]}", file=sys.stderr)


if __name__ == "__main__":
    main()
