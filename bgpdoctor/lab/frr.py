"""FRR (zebra + bgpd) in a network namespace, without watchfrr, systemd or /etc/frr.

Each daemon runs in the foreground (so the lab records its own PID), reads its config from
``run_dir``, and puts its pid file, its vty socket and zebra's zserv socket in ``run_dir`` as well.
The daemons drop to the ``frr`` user, so ``run_dir`` is handed to that user first.

Example::

    frr = start_frr("bdl-tor", "tor", Path("/tmp/bdl-tor-frr"), bgpd_conf=BGPD_CONF)
    frr.vtysh("show bgp summary json")      # -> the JSON text bgpd printed
    frr.stop()                               # kills only the two recorded PIDs
"""

from __future__ import annotations

import os
import pwd
import time
from dataclasses import dataclass, field
from pathlib import Path

from bgpdoctor.errors import LabError
from bgpdoctor.lab.procs import kill_proc, ns_run, proc_alive, start_in_ns
from bgpdoctor.lab.state import ProcRecord

FRR_DAEMON_DIR = Path("/usr/lib/frr")
FRR_USER = "frr"
DEFAULT_ZEBRA_CONF = "hostname zebra\nlog stdout informational\n"
# the main lab's FRR files live outside its run dir, whose parents may be closed to user frr
# (pytest's 0700 temporary dirs): one directory per namespace, removed by `lab down`
FRR_LAB_ROOT = Path("/run/bgpdoctor-lab")


def lab_frr_dir(ns: str) -> Path:
    """The run dir (configs, pid files, zserv and vty sockets) of the main lab's FRR in namespace ns.

    Example: lab_frr_dir("bdl-tor") -> Path("/run/bgpdoctor-lab/bdl-tor/frr")
    """
    return FRR_LAB_ROOT / ns / "frr"


@dataclass
class FrrInstance:
    """FRR daemons started by :func:`start_frr` in one namespace.

    Example: FrrInstance(ns="bdl-tor", host="tor", run_dir=Path("/tmp/bdl-tor-frr"),
    procs=[ProcRecord(host="tor", name="zebra", ...), ProcRecord(host="tor", name="bgpd", ...)])
    """

    ns: str
    host: str
    run_dir: Path
    procs: list[ProcRecord] = field(default_factory=list)

    def vtysh(self, command: str, timeout: float = 15.0) -> str:
        """Run one vtysh command against this instance's daemons; its output (stdout) as text."""
        cp = ns_run(
            self.ns,
            ["vtysh", "--vty_socket", str(self.run_dir), "-c", command],
            check=False,
            timeout=timeout,
        )
        if cp.returncode != 0 and not cp.stdout.strip():
            raise LabError(f"vtysh -c {command!r} in {self.ns} failed: {cp.stderr.strip()[-200:]}")
        return cp.stdout

    def configure(self, lines: list[str], timeout: float = 15.0) -> None:
        """Apply configuration lines to the running daemons (`configure terminal` then each line, as
        typed at the vtysh prompt); LabError when vtysh rejects one."""
        args = [arg for line in ["configure terminal", *lines] for arg in ("-c", line)]
        cp = ns_run(
            self.ns, ["vtysh", "--vty_socket", str(self.run_dir), *args], check=False, timeout=timeout
        )
        said = (cp.stdout + cp.stderr).strip()
        if cp.returncode != 0 or "%" in said:
            raise LabError(f"vtysh configure in {self.ns} failed: {said[-300:]}")

    def alive(self) -> bool:
        return bool(self.procs) and all(proc_alive(p) for p in self.procs)

    def stop(self) -> None:
        """Stop bgpd, then zebra, by their recorded PIDs only."""
        for rec in reversed(self.procs):
            kill_proc(rec)
        self.procs.clear()


def _hand_to_frr(path: Path) -> None:
    user = pwd.getpwnam(FRR_USER)
    os.chown(path, user.pw_uid, user.pw_gid)


def _wait_for(path: Path, rec: ProcRecord, log_file: Path, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return
        if not proc_alive(rec):
            raise LabError(f"{rec.name} on {rec.host} exited before creating {path} (see {log_file})")
        time.sleep(0.05)
    raise LabError(f"{rec.name} on {rec.host} did not create {path} within {seconds:.0f}s (see {log_file})")


def _start_daemon(
    ns: str, host: str, run_dir: Path, daemon: str, config: str, extra: list[str]
) -> ProcRecord:
    conf = run_dir / f"{daemon}.conf"
    (run_dir / f"{daemon}.vty").unlink(missing_ok=True)  # a restart waits for the new socket
    conf.write_text(config)
    conf.chmod(0o644)
    _hand_to_frr(conf)
    argv = [
        str(FRR_DAEMON_DIR / daemon),
        "-f",
        str(conf),
        "-i",
        str(run_dir / f"{daemon}.pid"),
        "-z",
        str(run_dir / "zserv.api"),
        "--vty_socket",
        str(run_dir),
        "-P",
        "0",
        "--log",
        "stdout",
        *extra,
    ]
    log_file = run_dir / f"{daemon}.log"
    rec = start_in_ns(ns, host, daemon, argv, log_file)
    _wait_for(run_dir / f"{daemon}.vty", rec, log_file)
    return rec


def start_frr(
    ns: str,
    host: str,
    run_dir: Path,
    bgpd_conf: str,
    zebra_conf: str = DEFAULT_ZEBRA_CONF,
    bgp_listen: list[str] | None = None,
) -> FrrInstance:
    """Start zebra then bgpd in namespace ``ns``; everything they write lives in ``run_dir``.

    ``bgp_listen`` restricts the addresses bgpd listens on (``-l``; default all). Raises LabError
    when a daemon exits or does not open its vty socket; the one already started is stopped then.
    """
    if not (FRR_DAEMON_DIR / "bgpd").exists():
        raise LabError(f"FRR is not installed ({FRR_DAEMON_DIR / 'bgpd'} missing): apt-get install frr")
    run_dir.mkdir(parents=True, exist_ok=True)
    run_dir.chmod(0o755)
    _hand_to_frr(run_dir)
    instance = FrrInstance(ns=ns, host=host, run_dir=run_dir)
    try:
        instance.procs.append(_start_daemon(ns, host, run_dir, "zebra", zebra_conf, []))
        _wait_for(run_dir / "zserv.api", instance.procs[0], run_dir / "zebra.log")
        listen = [arg for address in bgp_listen or [] for arg in ("-l", address)]
        instance.procs.append(_start_daemon(ns, host, run_dir, "bgpd", bgpd_conf, listen))
    except LabError:
        instance.stop()
        raise
    return instance


def restart_bgpd(instance: FrrInstance, bgpd_conf: str, bgp_listen: list[str] | None = None) -> None:
    """Stop the instance's bgpd (by its recorded PID) and start it again with a new configuration,
    zebra left running: an edited frr.conf taking effect. Example: restart_bgpd(frr, NEW_CONF)"""
    for rec in [p for p in instance.procs if p.name == "bgpd"]:
        kill_proc(rec)
        instance.procs.remove(rec)
    listen = [arg for address in bgp_listen or [] for arg in ("-l", address)]
    instance.procs.append(
        _start_daemon(instance.ns, instance.host, instance.run_dir, "bgpd", bgpd_conf, listen)
    )


def check_config(text: str, daemon: str = "bgpd") -> tuple[bool, str]:
    """FRR's own checker (``DAEMON --dryrun``) on a config text: (valid, what it printed).

    Runs in the current namespace without opening sockets; the file is a private temporary.
    Example: check_config("router bgp 65001\n neighbor 10.0.0.1 remote-as\n") -> (False,
    "... Command returned Incomplete on config line 2:  neighbor 10.0.0.1 remote-as")
    """
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bgpdoctor-frr-check-") as scratch:
        path = Path(scratch) / f"{daemon}.conf"
        path.write_text(text)
        path.chmod(0o644)
        Path(scratch).chmod(0o755)
        try:
            cp = subprocess.run(
                [str(FRR_DAEMON_DIR / daemon), "--dryrun", "-f", str(path), "--log", "stdout"],
                capture_output=True,
                text=True,
                timeout=20,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LabError(f"{daemon} --dryrun could not run: {exc}") from exc
    output = (cp.stdout + cp.stderr).strip()
    # --dryrun exits 0 even when a line is rejected; the rejection is logged with an error code
    rejected = any("[EC " in line or "Unknown command" in line for line in output.splitlines())
    return cp.returncode == 0 and not rejected, output
