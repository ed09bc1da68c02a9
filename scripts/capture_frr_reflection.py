"""Capture a real FRR router that does not reflect iBGP routes, and the same router once it does
(root; creates and removes its own namespaces and run dir).

Topology: one LAN (a bridge in gw's namespace)::

    n1 (BIRD 2, 10.215.0.1, pods 10.42.1.0/24) --+
                                                 +-- gw (FRR 8, 10.215.0.254)   all in AS 64531
    n2 (BIRD 2, 10.215.0.2, pods 10.42.2.0/24) --+

The nodes peer only with gw, as Calico nodes do with a ToR once the node-to-node mesh is off. gw
takes both pod CIDRs over iBGP and, without `route-reflector-client`, passes neither on (split
horizon): n1 never learns 10.42.2.0/24. Written:

- captures/outputs/frr/rr_{nonclient,client}_{neighbors,bgp_ipv4}.txt: gw's `show bgp neighbors
  json` and `show bgp ipv4 unicast json` before and after the fix (FRR prints
  `"routeReflectorClient": true` in a neighbor's ipv4Unicast only when it is one), and their
  commands in captures/outputs/frr/commands.json;
- tests/fixtures/recordings/frr_reflector_{not_reflecting,reflecting}.json: `bgpdoctor run
  --record` of each state (the replayed diagnosis is tested in tests/unit/test_frr_reflection.py).

Usage: sudo python3 scripts/capture_frr_reflection.py   (from the repository root)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bgpdoctor.lab.procs import ns_run  # noqa: E402
from tests.integration.speakers import RR_ASN, RR_NODES, reflector_lab  # noqa: E402

OUT = REPO / "captures" / "outputs" / "frr"
RECORDINGS = REPO / "tests" / "fixtures" / "recordings"
SHOWS = (("neighbors", "show bgp neighbors json"), ("bgp_ipv4", "show bgp ipv4 unicast json"))
RECORDED = {"nonclient": "frr_reflector_not_reflecting", "client": "frr_reflector_reflecting"}
CLIENT_LINES = [
    f"router bgp {RR_ASN}",
    "address-family ipv4 unicast",
    *(f"neighbor {ip} route-reflector-client" for ip, _ in RR_NODES.values()),
]


def record(inv: Path, name: str) -> None:
    target = RECORDINGS / f"{name}.json"
    subprocess.run(
        [sys.executable, "-m", "bgpdoctor", "run", "-i", str(inv), "-q", "-o", "json", "--no-mtu",
         "--timeout", "8", "--record", str(target)],
        cwd=REPO, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    print(f"recorded {target.relative_to(REPO)}")


def main() -> int:
    commands = json.loads((OUT / "commands.json").read_text())
    with reflector_lab("bfr") as (lab, ns, frr, inv):
        time.sleep(3)  # both pod CIDRs in gw's table
        for state in ("nonclient", "client"):
            if state == "client":
                frr.configure(CLIENT_LINES)
                time.sleep(4)
            for fact, show in (
                ("neighbors", "show bgp neighbors json"),
                ("bgp_ipv4", "show bgp ipv4 unicast json"),
            ):
                key = f"rr_{state}_{fact}"
                (OUT / f"{key}.txt").write_text(frr.vtysh(show))
                after = " (after route-reflector-client for both nodes)" if state == "client" else ""
                commands[key] = (
                    f"ip netns exec bfr-gw-PID vtysh --vty_socket RUN_DIR -c '{show}'{after}"
                    " [scripts/capture_frr_reflection.py]"
                )
            record(
                inv, "frr_reflector_not_reflecting" if state == "nonclient" else "frr_reflector_reflecting"
            )
            routes = ns_run(ns["n1"], ["birdc", "-s", str(lab.run_dir / "n1.ctl"), "-r", "show", "route"])
            print(state, "n1 learns 10.42.2.0/24:", "10.42.2.0/24" in routes.stdout)
    (OUT / "commands.json").write_text(json.dumps(commands, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
