"""Capture real FRR outputs into captures/outputs/frr/ (root; creates and removes bdv-* namespaces).

Topology (each link a veth pair, nothing on a bridge)::

    bdv-f2 (FRR, AS 65002)  10.213.1.2 -- 10.213.1.1  bdv-f1 (FRR, AS 65001)
                            10.213.4.2 -- 10.213.4.1  (f1 expects AS 65099 here: bad peer AS)
    bdv-b (BIRD 2, AS 65003) 10.213.2.2 -- 10.213.2.1 bdv-f1
    bdv-x (nothing listens)  10.213.3.2 -- 10.213.3.1 bdv-f1 (refused)
    bdv-b                    10.213.5.2 -- 10.213.5.1 bdv-f1 (maximum-prefix 1, BIRD sends 2)
    f1 also has 10.213.6.2 configured and shut down (admin down)

f1 has policies towards f2 and BIRD (an inbound prefix list drops 10.90.4.0/24 from BIRD, with
soft-reconfiguration so the filtered route shows); f2 has none towards f1, so RFC 8212 blocks it.

Usage: python3 scripts/capture_frr_fixtures.py   (from the repository root, as root)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bgpdoctor.lab.frr import FrrInstance, start_frr  # noqa: E402
from bgpdoctor.lab.procs import kill_proc, run, start_in_ns  # noqa: E402
from bgpdoctor.lab.state import ProcRecord  # noqa: E402

OUT = REPO / "captures" / "outputs" / "frr"
NAMESPACES = ["bdv-f1", "bdv-f2", "bdv-b", "bdv-x"]
LINKS = [  # (ns a, if a, address a, ns b, if b, address b)
    ("bdv-f1", "f1-f2", "10.213.1.1/24", "bdv-f2", "f2-f1", "10.213.1.2/24"),
    ("bdv-f1", "f1-b", "10.213.2.1/24", "bdv-b", "b-f1", "10.213.2.2/24"),
    ("bdv-f1", "f1-x", "10.213.3.1/24", "bdv-x", "x-f1", "10.213.3.2/24"),
    ("bdv-f1", "f1-f2bad", "10.213.4.1/24", "bdv-f2", "f2-f1bad", "10.213.4.2/24"),
    ("bdv-f1", "f1-bmax", "10.213.5.1/24", "bdv-b", "b-f1max", "10.213.5.2/24"),
]

F1_BGPD = """\
hostname f1
log stdout informational
ip prefix-list FROM-BIRD seq 5 deny 10.90.4.0/24
ip prefix-list FROM-BIRD seq 10 permit 0.0.0.0/0 le 32
route-map ALLOW permit 10
route-map FROM-BIRD permit 10
 match ip address prefix-list FROM-BIRD
router bgp 65001
 bgp router-id 10.213.0.1
 no bgp network import-check
 timers bgp 3 9
 neighbor 10.213.1.2 remote-as 65002
 neighbor 10.213.1.2 description f2-established
 neighbor 10.213.2.2 remote-as 65003
 neighbor 10.213.2.2 description bird-established
 neighbor 10.213.3.2 remote-as 65009
 neighbor 10.213.3.2 description refused
 neighbor 10.213.4.2 remote-as 65099
 neighbor 10.213.4.2 description bad-as
 neighbor 10.213.5.2 remote-as 65003
 neighbor 10.213.5.2 description bird-max-prefix
 neighbor 10.213.6.2 remote-as 65006
 neighbor 10.213.6.2 description admin-down
 neighbor 10.213.6.2 shutdown
 address-family ipv4 unicast
  network 10.90.1.0/24
  neighbor 10.213.1.2 route-map ALLOW in
  neighbor 10.213.1.2 route-map ALLOW out
  neighbor 10.213.2.2 soft-reconfiguration inbound
  neighbor 10.213.2.2 route-map FROM-BIRD in
  neighbor 10.213.2.2 route-map ALLOW out
  neighbor 10.213.3.2 route-map ALLOW in
  neighbor 10.213.3.2 route-map ALLOW out
  neighbor 10.213.4.2 route-map ALLOW in
  neighbor 10.213.4.2 route-map ALLOW out
  neighbor 10.213.5.2 route-map ALLOW in
  neighbor 10.213.5.2 route-map ALLOW out
  neighbor 10.213.5.2 maximum-prefix 1
  neighbor 10.213.6.2 route-map ALLOW in
  neighbor 10.213.6.2 route-map ALLOW out
 exit-address-family
"""

F2_BGPD = """\
hostname f2
log stdout informational
router bgp 65002
 bgp router-id 10.213.0.2
 no bgp network import-check
 timers bgp 3 9
 neighbor 10.213.1.1 remote-as 65001
 neighbor 10.213.1.1 description f1-no-policy
 neighbor 10.213.4.1 remote-as 65001
 neighbor 10.213.4.1 description f1-bad-as
 address-family ipv4 unicast
  network 10.90.2.0/24
 exit-address-family
"""

BIRD_CONF = """\
router id 10.213.0.3;
log stderr all;
protocol device {}
protocol static {
  ipv4;
  route 10.90.3.0/24 blackhole;
  route 10.90.4.0/24 blackhole;
}
protocol bgp f1 {
  local 10.213.2.2 as 65003;
  neighbor 10.213.2.1 as 65001;
  hold time 9;
  keepalive time 3;
  ipv4 { import all; export all; };
}
protocol bgp f1max {
  local 10.213.5.2 as 65003;
  neighbor 10.213.5.1 as 65001;
  hold time 9;
  keepalive time 3;
  ipv4 { import all; export all; };
}
"""

# (fixture name, namespace, command); the name says host_command_case
CAPTURES = [
    ("f1_summary", "f1", "show bgp summary json"),
    ("f1_summary_text", "f1", "show bgp summary"),
    ("f2_summary", "f2", "show bgp summary json"),
    ("f2_summary_text", "f2", "show bgp summary"),
    ("f1_neighbors", "f1", "show bgp neighbors json"),
    ("f2_neighbors", "f2", "show bgp neighbors json"),
    ("f1_neighbor_bird", "f1", "show bgp neighbors 10.213.2.2 json"),
    ("f1_neighbor_max_prefix", "f1", "show bgp neighbors 10.213.5.2 json"),
    ("f1_neighbor_admin_down", "f1", "show bgp neighbors 10.213.6.2 json"),
    ("f1_ip_route", "f1", "show ip route json"),
    ("f2_ip_route", "f2", "show ip route json"),
    ("f1_bgp_ipv4", "f1", "show bgp ipv4 unicast json"),
    ("f2_bgp_ipv4", "f2", "show bgp ipv4 unicast json"),
    ("f1_received_bird", "f1", "show bgp ipv4 unicast neighbors 10.213.2.2 received-routes json"),
    ("f1_filtered_bird", "f1", "show bgp ipv4 unicast neighbors 10.213.2.2 filtered-routes json"),
    ("f1_routes_bird", "f1", "show bgp ipv4 unicast neighbors 10.213.2.2 routes json"),
    ("f1_advertised_f2", "f1", "show bgp ipv4 unicast neighbors 10.213.1.2 advertised-routes json"),
    ("f2_advertised_f1", "f2", "show bgp ipv4 unicast neighbors 10.213.1.1 advertised-routes json"),
    ("f1_advertised_bird", "f1", "show bgp ipv4 unicast neighbors 10.213.2.2 advertised-routes json"),
]


def sh(*argv: str) -> None:
    run(list(argv))


def setup() -> None:
    for ns in NAMESPACES:
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    for ns_a, if_a, addr_a, ns_b, if_b, addr_b in LINKS:
        sh("ip", "-n", ns_a, "link", "add", if_a, "type", "veth", "peer", "name", if_b, "netns", ns_b)
        for ns, ifname, addr in ((ns_a, if_a, addr_a), (ns_b, if_b, addr_b)):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", ifname)
            sh("ip", "-n", ns, "link", "set", ifname, "up")


def teardown() -> None:
    for ns in NAMESPACES:
        run(["ip", "netns", "del", ns], check=False)


def wait_established(frr: FrrInstance, peers: list[str], seconds: float = 40.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        data = json.loads(frr.vtysh("show bgp summary json") or "{}")
        states = {p: v.get("state") for p, v in data.get("ipv4Unicast", {}).get("peers", {}).items()}
        if all(states.get(p) == "Established" for p in peers):
            return
        time.sleep(0.5)
    raise SystemExit(f"peers {peers} of {frr.host} not established: {states}")


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="bdv-frr-"))
    scratch.chmod(0o755)  # the daemons, running as frr, reach their run dirs through it
    instances: list[FrrInstance] = []
    bird: ProcRecord | None = None
    teardown()
    try:
        setup()
        instances.append(start_frr("bdv-f1", "f1", scratch / "f1", F1_BGPD))
        instances.append(start_frr("bdv-f2", "f2", scratch / "f2", F2_BGPD))
        (scratch / "bird.conf").write_text(BIRD_CONF)
        bird = start_in_ns(
            "bdv-b",
            "b",
            "bird",
            ["bird", "-f", "-c", str(scratch / "bird.conf"), "-s", str(scratch / "bird.ctl")],
            scratch / "bird.log",
        )
        f1, f2 = instances
        wait_established(f1, ["10.213.1.2", "10.213.2.2"])
        time.sleep(12)  # several connect retries towards the refused and bad-AS peers
        OUT.mkdir(parents=True, exist_ok=True)
        commands: dict[str, str] = {
            "_note": "exact command run by scripts/capture_frr_fixtures.py (FRR 8.4.4, Debian 12), "
            "vtysh --vty_socket RUN_DIR -c COMMAND inside the bdv- namespace; stdout only",
        }
        by_host = {"f1": f1, "f2": f2}
        for name, host, command in CAPTURES:
            text = by_host[host].vtysh(command)
            suffix = ".txt"
            (OUT / f"{name}{suffix}").write_text(text)
            commands[name] = f"ip netns exec bdv-{host} vtysh -c '{command}'"
        (OUT / "commands.json").write_text(json.dumps(commands, indent=1) + "\n")
        for inst in instances:
            shutil.copy(inst.run_dir / "bgpd.log", scratch / f"{inst.host}-bgpd.log")
        print(f"wrote {len(CAPTURES)} outputs to {OUT}; logs in {scratch}")
        subprocess.run(["grep", "-h", "bad OPEN\\|NOTIFICATION", *map(str, scratch.glob("*-bgpd.log"))])
    finally:
        for inst in instances:
            inst.stop()
        if bird is not None:
            kill_proc(bird)
        teardown()


if __name__ == "__main__":
    main()
