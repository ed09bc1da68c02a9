"""An FRR route reflector passes on a next hop its client cannot resolve: found live, fixed with
the diagnosis's own FRR snippet.

Three namespaces, every daemon real: `node` (BIRD 2) announces its pod CIDR over iBGP to `gw`
(FRR 8, route reflector), which reflects it to `core` (BIRD 2). A reflected route keeps its next
hop, the node's LAN address, and core has no route to that LAN: BIRD holds the pod CIDR as
`unreachable`. bgpdoctor must name gw as the sender and give an FRR fix for gw's neighbor that is
core; typed into gw's vtysh, it makes core resolve the route, and a second run finds nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bgpdoctor.lab.fixes import frr_lines  # noqa: E402
from bgpdoctor.lab.frr import start_frr  # noqa: E402
from bgpdoctor.lab.procs import ns_run  # noqa: E402
from tests.integration.speakers import (  # noqa: E402
    Lab,
    needs_bird2,
    needs_frr,
    needs_root,
    poll,
    run,
    speaker_lab,
    veth,
)

pytestmark = [needs_root, needs_frr, needs_bird2]

ASN = 64530
NODE_IP, GW_LAN_IP = "10.213.71.1", "10.213.71.2"  # the node's LAN, which core does not know
GW_CORE_IP, CORE_IP = "10.214.71.1", "10.214.71.2"
POD_CIDR = "10.42.71.0/24"

NODE_BIRD = f"""
router id {NODE_IP};
protocol device {{ scan time 10; }}
protocol static {{ ipv4; route {POD_CIDR} blackhole; }}
protocol bgp to_gw {{
  local as {ASN};
  neighbor {GW_LAN_IP} as {ASN};
  hold time 9; connect retry time 1;
  ipv4 {{ import none; export where source = RTS_STATIC; }};
}}
"""

CORE_BIRD = f"""
router id {CORE_IP};
protocol device {{ scan time 10; }}
protocol direct {{ ipv4; interface "eth0"; }}
protocol bgp to_gw {{
  local as {ASN};
  neighbor {GW_CORE_IP} as {ASN};
  hold time 9; connect retry time 1;
  ipv4 {{ import all; export none; }};
}}
"""

GW_FRR = (
    "hostname gw\nlog stdout informational\n"
    f"router bgp {ASN}\n bgp router-id {GW_CORE_IP}\n timers bgp 3 9\n"
    f" neighbor {NODE_IP} remote-as {ASN}\n neighbor {NODE_IP} timers connect 1\n"
    f" neighbor {CORE_IP} remote-as {ASN}\n neighbor {CORE_IP} timers connect 1\n"
    " address-family ipv4 unicast\n"
    f"  neighbor {NODE_IP} route-reflector-client\n  neighbor {CORE_IP} route-reflector-client\n"
    " exit-address-family\nexit\n"
)


def _inventory(path: Path, ns: dict[str, str], run_dir: Path) -> Path:
    def peer(host: str, address: str) -> dict[str, Any]:
        return {"host": host, "address": address, "asn": ASN, "name": "to_gw" if host == "gw" else host}

    hosts = {
        "node": {
            "role": "node", "speaker": "bird2", "asn": ASN, "router_id": NODE_IP, "addresses": [NODE_IP],
            "pod_cidrs": [POD_CIDR], "connect": {"netns": ns["node"]},
            "control_socket": str(run_dir / "node.ctl"), "peers": [peer("gw", GW_LAN_IP)],
        },
        "gw": {
            "role": "router", "speaker": "frr", "asn": ASN, "router_id": GW_CORE_IP,
            "addresses": [GW_LAN_IP, GW_CORE_IP], "connect": {"netns": ns["gw"]},
            "control_socket": str(run_dir / "frr"), "peers": [peer("node", NODE_IP), peer("core", CORE_IP)],
        },
        "core": {
            "role": "router", "speaker": "bird2", "asn": ASN, "router_id": CORE_IP, "addresses": [CORE_IP],
            "connect": {"netns": ns["core"]}, "control_socket": str(run_dir / "core.ctl"),
            "peers": [peer("gw", GW_CORE_IP)],
        },
    }  # fmt: skip
    path.write_text(yaml.safe_dump({"hosts": hosts}))
    return path


def _core_route(ns: str, run_dir: Path) -> str:
    argv = ["birdc", "-s", str(run_dir / "core.ctl"), "-r", "show", "route", "all", "for", POD_CIDR]
    return ns_run(ns, argv, check=False).stdout  # "Network not found" until the route comes


def _diagnosis(report: dict[str, Any], cause: str) -> dict[str, Any] | None:
    return next((d for d in report["diagnoses"] if d["root_cause"] == cause), None)


def test_an_frr_reflector_gets_next_hop_self_for_its_client_and_the_fix_works() -> None:
    with speaker_lab(Lab, "bfn", "node", "gw", "core") as (lab, ns):
        veth(ns["node"], NODE_IP, ns["gw"], GW_LAN_IP)
        veth(ns["gw"], GW_CORE_IP, ns["core"], CORE_IP, dev_a="eth1")
        lab.start_bird(ns["node"], "node", NODE_BIRD, name="node")
        lab.start_bird(ns["core"], "core", CORE_BIRD, name="core")
        lab.frr = frr = start_frr(ns["gw"], "gw", lab.run_dir / "frr", bgpd_conf=GW_FRR)
        assert poll(lambda: "unreachable" in _core_route(ns["core"], lab.run_dir), 40), _core_route(
            ns["core"], lab.run_dir
        )
        inventory = _inventory(lab.run_dir / "inventory.yaml", ns, lab.run_dir)

        code, report, stderr = run(inventory)
        found = _diagnosis(report, "bgp-next-hop-unreachable")
        assert code == 1 and found is not None, (code, [d["root_cause"] for d in report["diagnoses"]], stderr)
        assert found["hosts"] == ["core"] and "gw passes them on" in found["summary"]
        [fix] = found["fixes"]  # FRR's, for gw; no BIRD `next hop self` for an FRR router
        assert (fix["platform"], fix["host"]) == ("frr", "gw")
        assert f"neighbor {CORE_IP} next-hop-self force" in fix["text"] and f"router bgp {ASN}" in fix["text"]

        frr.configure(frr_lines(fix["text"]))
        assert poll(lambda: "unicast" in _core_route(ns["core"], lab.run_dir), 40), _core_route(
            ns["core"], lab.run_dir
        )
        code, report, _ = run(inventory)
        assert _diagnosis(report, "bgp-next-hop-unreachable") is None, report["diagnoses"]
