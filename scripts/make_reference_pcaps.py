#!/usr/bin/env python3
"""Make captures/pcaps/: reference BGP captures of the lab's faults, taken by bgpdoctor itself.

For each fault: `bgpdoctor lab up --fault NAME` (the lab healed to its baseline, then the fault),
`bgpdoctor run -i INVENTORY --pcap-dir DIR` (the run's own tcpdump on every host of a session that
is down), then the per-session files that show the fault are copied as ``<fault>__<host>.pcap``.
"healthy" has no session down, so the run captures nothing: its capture is tcpdump (the filter of
`bgpdoctor run`) on router-home while `birdc restart` reopens its session to router-mine.
The lab is torn down at the end, also on failure. Needs root; takes about 3 minutes.

Usage: python3 scripts/make_reference_pcaps.py [--keep-lab] [--capture-seconds 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bgpdoctor.probes.capture import syn_capture_command  # noqa: E402

OUT = REPO / "captures" / "pcaps"
INVENTORY = "/var/lib/bgpdoctor/lab/inventory.yaml"
BIRDC = "/var/lib/bgpdoctor/lab/bin/birdc"  # the wrapper that finds the namespace's control socket
BGPDOCTOR = [sys.executable, "-m", "bgpdoctor"]
# fault -> (host whose capture is kept, the session it shows)
FAULTS = {
    "node-not-listening": ("yuuko-k8s", "router-home<->yuuko-k8s"),
    "asn-mismatch": ("router-home", "router-home<->yuuko-k8s"),
    "md5-mismatch": ("router-home", "router-home<->yuuko-k8s"),
    "bgp-filtered-unseen": ("router-home", "router-home<->router-mine"),
    "ebgp-multihop-missing": ("router-home", "router-mine<->yuuko-k8s"),
}


def bgpdoctor(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*BGPDOCTOR, *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    if check and done.returncode not in (0, 1):
        raise SystemExit(f"bgpdoctor {' '.join(args)}: exit {done.returncode}: {done.stderr.strip()[-500:]}")
    return done


def capture_fault(fault: str, seconds: float, work: Path) -> dict[str, object]:
    host, session = FAULTS[fault]
    bgpdoctor("lab", "up", "--fault", fault)
    folder = work / fault
    report = work / f"{fault}.json"
    command = ["run", "-i", INVENTORY, "--no-mtu", "--capture-seconds", f"{seconds:g}"]
    command += ["--pcap-dir", str(folder), "-o", "json", "--report", str(report)]
    bgpdoctor(*command)
    files = json.loads(report.read_text())["captures"]
    ends = set(session.split("<->"))
    chosen = next(
        (f for f in files if f["host"] == host and f["session"] and set(f["session"].split("<->")) == ends),
        None,
    )
    if chosen is None:
        listed = ", ".join(f"{f['host']}:{f['session']}" for f in files)
        raise SystemExit(f"{fault}: no capture of {session} on {host}; the run wrote: {listed or 'none'}")
    target = OUT / f"{fault}__{host}.pcap"
    shutil.copyfile(chosen["path"], target)
    diagnoses = [d["root_cause"] for d in json.loads(report.read_text())["diagnoses"]]
    return {
        "file": target.name,
        "fault": fault,
        "host": host,
        "session": session,
        "packets": chosen["packets"],
        "made_by": f"bgpdoctor lab up --fault {fault}; bgpdoctor {' '.join(command[:-6])} --pcap-dir DIR",
        "run_diagnoses": diagnoses,
        "host_addresses": addresses_of(host),
    }


def addresses_of(host: str) -> list[str]:
    """A lab host's IPv4 addresses: `bgpdoctor analyze --address` tells a transit hop by them."""
    done = bgpdoctor("lab", "exec", host, "ip", "-j", "-4", "addr", "show")
    return sorted(a["local"] for link in json.loads(done.stdout) for a in link.get("addr_info", []))


def capture_healthy(seconds: float) -> dict[str, object]:
    bgpdoctor("lab", "up")
    target = OUT / "healthy__router-home.pcap"
    # lab exec prints text: tcpdump writes the file itself (a network namespace shares the filesystem)
    capture = f"{syn_capture_command(seconds)} > {target}"
    tcpdump = subprocess.Popen([*BGPDOCTOR, "lab", "exec", "router-home", "sh", "-c", capture], cwd=REPO)
    time.sleep(2)
    bgpdoctor("lab", "exec", "router-home", BIRDC, "restart", "router_mine")
    tcpdump.wait(timeout=seconds + 30)
    return {
        "file": target.name,
        "fault": "healthy",
        "host": "router-home",
        "session": "router-home<->router-mine",
        "made_by": f'bgpdoctor lab up; bgpdoctor lab exec router-home sh -c "{syn_capture_command(seconds)} '
        '> FILE" while `bgpdoctor lab exec router-home birdc restart router_mine` reopens the session',
        "host_addresses": addresses_of("router-home"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep-lab", action="store_true", help="Leave the lab up afterwards.")
    parser.add_argument("--capture-seconds", type=float, default=20.0)
    parser.add_argument("--only", action="append", help="Only this fault (repeatable).")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    made = []
    try:
        with tempfile.TemporaryDirectory(prefix="bgpdoctor-pcaps-") as work:
            for fault in args.only or ["healthy", *FAULTS]:
                print(f"[pcaps] {fault}", file=sys.stderr)
                if fault == "healthy":
                    made.append(capture_healthy(args.capture_seconds))
                else:
                    made.append(capture_fault(fault, args.capture_seconds, Path(work)))
    finally:
        if not args.keep_lab:
            bgpdoctor("lab", "down", check=False)
    index = OUT / "made.json"
    old = json.loads(index.read_text()) if index.exists() else []
    kept = [m for m in old if m["fault"] not in {n["fault"] for n in made}]
    index.write_text(json.dumps(sorted(kept + made, key=lambda m: str(m["fault"])), indent=1) + "\n")
    for m in made:
        print(f"{m['file']}: {m.get('run_diagnoses', '-')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
