"""Capture real FRR outputs of passive neighbors into captures/outputs/frr/ (root; creates and
removes its own namespaces, named with $BGPDOCTOR_LAB_PREFIX, default bdv-).

Topology (each link a veth pair)::

    f3 (FRR, AS 65031) 10.213.7.1 -- 10.213.7.2 f4 (FRR, AS 65041)   both `neighbor ... passive`
    f3                 10.213.8.1 -- 10.213.8.2 y  (nothing listens)  f3 dials, refused

So f3's `show bgp neighbors json` holds a passive neighbor in Active (`"bgpStateIs": "passive"`)
and an active one in Active (no `bgpStateIs`), and f4's holds the other passive end. FRR prints
`bgpStateIs` only while the neighbor is in Active (bgpd/bgp_vty.c, bgp_show_peer).

Usage: sudo python3 scripts/capture_frr_passive.py   (from the repository root)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bgpdoctor.lab.frr import FrrInstance, start_frr  # noqa: E402
from bgpdoctor.lab.procs import run  # noqa: E402

OUT = REPO / "captures" / "outputs" / "frr"
PREFIX = os.environ.get("BGPDOCTOR_LAB_PREFIX", "bdv-")
NS = {host: f"{PREFIX}{host}" for host in ("f3", "f4", "y")}
LINKS = [  # (host a, if a, address a, host b, if b, address b)
    ("f3", "f3-f4", "10.213.7.1/24", "f4", "f4-f3", "10.213.7.2/24"),
    ("f3", "f3-y", "10.213.8.1/24", "y", "y-f3", "10.213.8.2/24"),
]

F3_BGPD = """\
hostname f3
log stdout informational
router bgp 65031
 bgp router-id 10.213.0.31
 no bgp ebgp-requires-policy
 timers bgp 3 9
 neighbor 10.213.7.2 remote-as 65041
 neighbor 10.213.7.2 description f4-both-passive
 neighbor 10.213.7.2 passive
 neighbor 10.213.8.2 remote-as 65009
 neighbor 10.213.8.2 description refused-dialing
 address-family ipv4 unicast
  neighbor 10.213.7.2 activate
  neighbor 10.213.8.2 activate
 exit-address-family
"""

F4_BGPD = """\
hostname f4
log stdout informational
router bgp 65041
 bgp router-id 10.213.0.41
 no bgp ebgp-requires-policy
 timers bgp 3 9
 neighbor 10.213.7.1 remote-as 65031
 neighbor 10.213.7.1 description f3-both-passive
 neighbor 10.213.7.1 passive
 address-family ipv4 unicast
  neighbor 10.213.7.1 activate
 exit-address-family
"""

CAPTURES = [  # (fixture name, host, command)
    ("f3_neighbors", "f3", "show bgp neighbors json"),
    ("f4_neighbors", "f4", "show bgp neighbors json"),
    ("f3_summary", "f3", "show bgp summary json"),
]


def setup() -> None:
    for ns in NS.values():
        run(["ip", "netns", "add", ns])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
    for a, if_a, addr_a, b, if_b, addr_b in LINKS:
        run(["ip", "-n", NS[a], "link", "add", if_a, "type", "veth", "peer", "name", if_b, "netns", NS[b]])
        for host, ifname, addr in ((a, if_a, addr_a), (b, if_b, addr_b)):
            run(["ip", "-n", NS[host], "addr", "add", addr, "dev", ifname])
            run(["ip", "-n", NS[host], "link", "set", ifname, "up"])


def teardown() -> None:
    for ns in NS.values():
        run(["ip", "netns", "del", ns], check=False)


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="bdv-frr-passive-"))
    scratch.chmod(0o755)  # the daemons, running as frr, reach their run dirs through it
    instances: list[FrrInstance] = []
    teardown()
    try:
        setup()
        instances.append(start_frr(NS["f3"], "f3", scratch / "f3", F3_BGPD))
        instances.append(start_frr(NS["f4"], "f4", scratch / "f4", F4_BGPD))
        time.sleep(12)  # several connect retries towards the refused peer; the passive pair waits
        by_host = {inst.host: inst for inst in instances}
        commands = json.loads((OUT / "commands.json").read_text())
        for name, host, command in CAPTURES:
            (OUT / f"{name}.txt").write_text(by_host[host].vtysh(command))
            commands[name] = f"ip netns exec {NS[host]} vtysh -c '{command}'"
        (OUT / "commands.json").write_text(json.dumps(commands, indent=1) + "\n")
        text = by_host["f3"].vtysh("show bgp neighbors")
        print("\n".join(ln for ln in text.splitlines() if "BGP state" in ln))
        print(f"wrote {len(CAPTURES)} outputs to {OUT}")
    finally:
        for inst in instances:
            inst.stop()
        teardown()


if __name__ == "__main__":
    main()
