"""Lab processes: started detached (own session) inside a namespace, killed only by recorded PID."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bgpdoctor.errors import LabError
from bgpdoctor.lab.state import ProcRecord


def _log(msg: str) -> None:
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


def config_hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, starttime) of a process, None if it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def proc_alive(rec: ProcRecord) -> bool:
    """True when the recorded process still runs (a zombie counts as dead, gotcha 11)."""
    st = _stat(rec.pid)
    if st is None or st[0] in ("Z", "X"):
        return False
    return st[1] == rec.starttime and _comm(rec.pid) == rec.comm


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def kill_proc(rec: ProcRecord) -> None:
    """Stop a recorded process: SIGTERM, wait up to 3 s, then SIGKILL. Never touches other PIDs."""
    if not proc_alive(rec):
        _reap(rec.pid)
        return
    os.kill(rec.pid, signal.SIGTERM)
    for _ in range(60):
        _reap(rec.pid)
        if not proc_alive(rec):
            return
        time.sleep(0.05)
    if proc_alive(rec):
        os.kill(rec.pid, signal.SIGKILL)
        for _ in range(40):
            _reap(rec.pid)
            if not proc_alive(rec):
                return
            time.sleep(0.05)


def start_in_ns(
    ns: str,
    host: str,
    name: str,
    argv: list[str],
    log_file: Path,
    cfg_hash: str = "",
    env: dict[str, str] | None = None,
) -> ProcRecord:
    """Start argv (a non-forking daemon) in namespace ns, detached, and record it.

    Example: start_in_ns("bdl-sakamoto", "sakamoto", "gobgpd", ["gobgpd", "-f", ...], log)
    -> ProcRecord(host="sakamoto", name="gobgpd", pid=5123, comm="gobgpd", starttime=..., ...)
    """
    comm = os.path.basename(argv[0])[:15]
    with open(log_file, "ab") as lf:
        lf.write(f"---- start {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(argv)}\n".encode())
        lf.flush()
        # `ip netns exec` execs in place, so the child PID is the daemon itself.
        p = subprocess.Popen(
            ["ip", "netns", "exec", ns, *argv],
            stdin=subprocess.DEVNULL,
            stdout=lf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, **env} if env else None,
        )
    st = _stat(p.pid)
    if st is None:
        raise LabError(f"{name} on {host} exited at once (see {log_file})")
    rec = ProcRecord(host=host, name=name, pid=p.pid, comm=comm, starttime=st[1], config_hash=cfg_hash)
    for _ in range(100):
        if proc_alive(rec):
            return rec
        if p.poll() is not None:
            break
        time.sleep(0.02)
    raise LabError(f"{name} on {host} did not start (see {log_file})")


def run(
    argv: list[str], check: bool = True, timeout: float = 30.0, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture text output; raise LabError with its stderr when check fails."""
    try:
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input_text)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout}s: {' '.join(argv)}") from exc
    if check and cp.returncode != 0:
        err = (cp.stderr or cp.stdout).strip().splitlines()
        raise LabError(f"{' '.join(argv)} failed: {err[-1] if err else cp.returncode}")
    return cp


def ns_run(
    ns: str, argv: list[str], check: bool = True, timeout: float = 30.0, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """run() inside a network namespace (ip netns exec)."""
    return run(["ip", "netns", "exec", ns, *argv], check=check, timeout=timeout, input_text=input_text)
