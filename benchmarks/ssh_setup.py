"""Benchmark: client CPU spent on SSH settings before any packet is sent, for a fleet of N hosts.

Usage: python3 benchmarks/ssh_setup.py [N ...] [--src DIR]
For each host bgpdoctor resolves its settings (ssh_config lookup) and loads the known_hosts files
into the connection's client. Writes an ssh_config with one Host block per host and a known_hosts
with one ed25519 key per host, then times N connections' set-up in one process (no network: this
is the per-run cost that grew with N^2 when every connection re-read both files). Prints CPU
seconds per size, per host, and the ratio to the previous size (linear: the size ratio).
--src DIR imports bgpdoctor from DIR (an export of an older tree) for a before/after table.
Default sizes: 20 50 100 200.
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_fleet(folder: Path, n: int) -> tuple[Path, Path]:
    config = folder / "ssh_config"
    known = folder / "known_hosts"
    blocks = [
        f"Host h{i}\n  HostName 10.77.{i // 250}.{i % 250 + 1}\n  User root\n  Port 22\n"
        f"  IdentityFile {folder}/id_%r_%h\n  ServerAliveInterval 15\n"
        for i in range(n)
    ]
    config.write_text("Host *\n  ConnectTimeout 5\n\n" + "\n".join(blocks), encoding="utf-8")
    lines = []
    for i in range(n):
        blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + i.to_bytes(32, "big")
        lines.append(f"10.77.{i // 250}.{i % 250 + 1} ssh-ed25519 {base64.b64encode(blob).decode()}")
    known.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config, known


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[20, 50, 100, 200])
    parser.add_argument("--src", default=str(REPO), help="import bgpdoctor from this directory")
    args = parser.parse_args()
    sys.path.insert(0, args.src)
    import paramiko

    from bgpdoctor.inventory_model import SshTarget
    from bgpdoctor.transport import ssh

    log = logging.getLogger("bench")
    log.disabled = True
    print(f"bgpdoctor from {args.src}")
    print(f"{'hosts':>6} {'cpu s':>7} {'ms/host':>8} {'x cpu':>6}")
    previous: float | None = None
    for n in args.sizes:
        folder = Path(tempfile.mkdtemp(prefix="bgpdoctor-ssh-bench-"))
        config, known = write_fleet(folder, n)
        defaults = SshTarget(ssh_config=str(config), known_hosts=str(known))
        t = time.process_time()
        for i in range(n):
            conn = ssh.SshConnection(f"h{i}", SshTarget(), defaults, log=log)
            hop = conn.resolve(f"h{i}", SshTarget())
            client = paramiko.SSHClient()
            files = [ssh.SYSTEM_KNOWN_HOSTS, hop.user_known_hosts]
            if hasattr(ssh, "_shared_known_hosts"):
                ssh._copy_host_keys(ssh._shared_known_hosts(files, log), client.get_host_keys())
            else:
                ssh.load_known_hosts(files, log, into=client.get_host_keys())
            assert client.get_host_keys().lookup(hop.hostname), hop.hostname
        cpu = time.process_time() - t
        ratio = f"{cpu / previous:>6.2f}" if previous else f"{'-':>6}"
        print(f"{n:>6} {cpu:>7.3f} {cpu / n * 1000:>8.2f} {ratio}", flush=True)
        previous = cpu
        for f in folder.iterdir():
            f.unlink()
        os.rmdir(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
