"""Causes the speakers say themselves, made for real: bgpdoctor names the cause and the end.

Three namespaces, bdh-f-PID (FRR 8.4, AS 65001, 10.213.29.1), bdh-b-PID (BIRD 2, AS 65002,
10.213.29.2 and 10.213.30.2) and bdh-g-PID (gobgpd, AS 65003, 10.213.30.1), joined by veth pairs
created inside them (no interface in the root namespace). Each test starts the daemons with its own
configuration:
- healthy: every check of engine/speaker_state.py passes, no diagnosis;
- BIRD's protocol towards FRR `disabled`, then FRR's `neighbor ... shutdown`: peer-admin-shutdown,
  naming the end shut down while the other end only shows the symptom;
- gobgpd with `router-id = "0.0.0.0"`: BIRD refuses its OPEN (Bad BGP identifier), invalid-router-id
  names gobgp1;
- BIRD with a password and an LD_PRELOAD shim whose setsockopt(TCP_MD5SIG) fails with ENOPROTOOPT,
  as on a kernel without CONFIG_TCP_MD5SIG: md5-kernel-unsupported names bird1.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bgpdoctor.lab.procs import ns_run  # noqa: E402
from tests.integration import speakers  # noqa: E402
from tests.integration.speakers import (  # noqa: E402
    Lab,
    namespaces,
    needs_bird2,
    needs_frr,
    needs_gobgpd,
    needs_root,
    poll,
    run_dir,
    sh,
    tag,
    veth,
)

pytestmark = [needs_root, needs_frr, needs_bird2, needs_gobgpd]

FRR_IP, BIRD_F_IP, BIRD_G_IP, GOBGP_IP = "10.213.29.1", "10.213.29.2", "10.213.30.2", "10.213.30.1"
FRR_AS, BIRD_AS, GOBGP_AS = 65001, 65002, 65003

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
  static int (*real)(int, int, int, const void *, socklen_t);
  if (level == IPPROTO_TCP && name == 14 /* TCP_MD5SIG */) { errno = ENOPROTOOPT; return -1; }
  if (!real) real = dlsym(RTLD_NEXT, "setsockopt");
  return real(fd, level, name, val, len);
}
"""


def frr_conf(shutdown: bool = False) -> str:
    return (
        "hostname frr1\nlog stdout informational\nroute-map ALL permit 10\nexit\n"
        f"router bgp {FRR_AS}\n bgp router-id {FRR_IP}\n timers bgp 3 9\n"
        f" neighbor {BIRD_F_IP} remote-as {BIRD_AS}\n neighbor {BIRD_F_IP} timers connect 1\n"
        + (f" neighbor {BIRD_F_IP} shutdown\n" if shutdown else "")
        + " address-family ipv4 unicast\n  redistribute connected\n"
        f"  neighbor {BIRD_F_IP} route-map ALL in\n  neighbor {BIRD_F_IP} route-map ALL out\n"
        " exit-address-family\nexit\n"
    )


def bird_conf(disabled: bool = False, password: bool = False) -> str:
    timers = (
        "hold time 9; keepalive time 3; connect delay time 1; connect retry time 2; error wait time 1, 2;"
    )
    channel = "ipv4 { import all; export where source = RTS_STATIC; };"
    return f"""
log stderr all;
router id {BIRD_F_IP};
protocol device {{ scan time 10; }}
protocol static {{ ipv4; route 10.90.28.0/24 blackhole; }}
protocol bgp frr1 {{
  {"disabled;" if disabled else ""}
  local {BIRD_F_IP} as {BIRD_AS}; neighbor {FRR_IP} as {FRR_AS};
  {'password "lab-only-md5";' if password else ""}
  {timers}
  {channel}
}}
protocol bgp gobgp1 {{
  local {BIRD_G_IP} as {BIRD_AS}; neighbor {GOBGP_IP} as {GOBGP_AS};
  {timers}
  {channel}
}}
"""


def gobgp_conf(router_id: str = GOBGP_IP) -> str:
    return f"""
[global.config]
  as = {GOBGP_AS}
  router-id = "{router_id}"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{BIRD_G_IP}"
    peer-as = {BIRD_AS}
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 9
    keepalive-interval = 3
"""


@dataclass(kw_only=True)
class Trio(Lab):
    frr_ns: str
    bird_ns: str
    gobgp_ns: str

    def start(self, frr: str, bird: str, gobgp: str, bird_env: dict[str, str] | None = None) -> None:
        self.start_frr(self.frr_ns, frr)
        self.start_bird(self.bird_ns, "bird1", bird, env=bird_env)
        self.start_gobgp(self.gobgp_ns, "gobgp1", gobgp, "--api-hosts", "127.0.0.1:50051")

    def birdc(self, *args: str) -> str:
        cp = ns_run(self.bird_ns, ["birdc", "-s", str(self.run_dir / "bird.ctl"), *args], check=False)
        return cp.stdout

    def wait_for(self, what: str, ok: Callable[[], bool], timeout: float = 40) -> None:
        if not poll(ok, timeout, ignore=(Exception,)):
            pytest.fail(f"never saw {what} in {timeout}s: {self.birdc('show', 'protocols')}")

    def established(self, protocol: str) -> bool:
        line = next(
            (ln for ln in self.birdc("show", "protocols").splitlines() if ln.startswith(protocol)), ""
        )
        return "Established" in line

    def inventory(self, path: Path) -> Path:
        def host(
            speaker: str, asn: int, ns: str, addresses: list[str], peers: list[dict[str, Any]]
        ) -> dict[str, Any]:
            return {
                "role": "router",
                "speaker": speaker,
                "asn": asn,
                "addresses": addresses,
                "connect": {"netns": ns},
                "peers": peers,
            }

        inv = {
            "hosts": {
                "frr1": {
                    **host(
                        "frr",
                        FRR_AS,
                        self.frr_ns,
                        [FRR_IP],
                        [{"host": "bird1", "address": BIRD_F_IP, "asn": BIRD_AS}],
                    ),
                    "control_socket": str(self.run_dir / "frr"),
                },
                "bird1": {
                    **host(
                        "bird2",
                        BIRD_AS,
                        self.bird_ns,
                        [BIRD_F_IP, BIRD_G_IP],
                        [
                            {"host": "frr1", "address": FRR_IP, "asn": FRR_AS, "name": "frr1"},
                            {"host": "gobgp1", "address": GOBGP_IP, "asn": GOBGP_AS, "name": "gobgp1"},
                        ],
                    ),
                    "control_socket": str(self.run_dir / "bird.ctl"),
                },
                "gobgp1": host(
                    "gobgp",
                    GOBGP_AS,
                    self.gobgp_ns,
                    [GOBGP_IP],
                    [{"host": "bird1", "address": BIRD_G_IP, "asn": BIRD_AS}],
                ),
            }
        }
        path.write_text(yaml.safe_dump(inv))
        return path


@pytest.fixture
def trio() -> Iterator[Trio]:
    t = tag()
    frr_ns, bird_ns, gobgp_ns = f"bdh-f-{t}", f"bdh-b-{t}", f"bdh-g-{t}"
    with (
        run_dir("bdh-ss") as rd,
        namespaces(frr_ns, bird_ns, gobgp_ns),
        Trio(rd, frr_ns=frr_ns, bird_ns=bird_ns, gobgp_ns=gobgp_ns) as trio,
    ):
        veth(frr_ns, FRR_IP, bird_ns, BIRD_F_IP)
        veth(gobgp_ns, GOBGP_IP, bird_ns, BIRD_G_IP, dev_a="eth1", dev_b="eth1")
        # gobgpd installs nothing it receives: the node reaches BIRD's routes through BIRD, as designed
        sh("ip", "-n", gobgp_ns, "route", "add", "default", "via", BIRD_G_IP)
        yield trio


def run(inventory: Path) -> tuple[int, dict[str, Any]]:
    code, report, _ = speakers.run(inventory, timeout=240)
    return code, report


def statuses(report: dict[str, Any], check: str) -> dict[str, str]:
    return {r["host"]: r["status"] for r in report["results"] if r["check"] == check}


def test_healthy_speakers_pass_every_speaker_state_check(trio: Trio, tmp_path: Path) -> None:
    trio.start(frr_conf(), bird_conf(), gobgp_conf())
    trio.wait_for(
        "both sessions Established", lambda: trio.established("frr1") and trio.established("gobgp1")
    )
    code, report = run(trio.inventory(tmp_path / "inventory.yaml"))
    assert report["diagnoses"] == [], [(d["root_cause"], d["summary"]) for d in report["diagnoses"]]
    assert set(statuses(report, "bgp-not-admin-down").values()) == {"pass"}
    assert statuses(report, "bgp-router-id-valid") == {"frr1": "pass", "bird1": "pass", "gobgp1": "pass"}
    # this machine's kernel has CONFIG_TCP_MD5SIG=y (/proc/config.gz): known, not unknown
    assert statuses(report, "md5-kernel-support") == {"frr1": "pass", "bird1": "pass", "gobgp1": "pass"}
    assert statuses(report, "bgp-learned-routes-reachable")["gobgp1"] == "pass"
    assert code == 0


def test_bird_protocol_disabled_is_named_as_the_shut_end(trio: Trio, tmp_path: Path) -> None:
    trio.start(frr_conf(), bird_conf(), gobgp_conf())
    trio.wait_for("frr1 Established", lambda: trio.established("frr1"))
    assert "frr1: disabled" in trio.birdc("disable", "frr1")
    time.sleep(2)
    code, report = run(trio.inventory(tmp_path / "inventory.yaml"))
    top = report["diagnoses"][0]
    print(top["summary"])
    assert (top["root_cause"], top["hosts"]) == ("peer-admin-shutdown", ["bird1"]), [
        d["root_cause"] for d in report["diagnoses"]
    ]
    assert top["summary"].startswith(
        "bird1 keeps the session down on purpose: BIRD 2 protocol frr1 is disabled."
    )
    assert "frr1: " in top["summary"] and "Cease/Administrative Shutdown" in top["summary"]
    assert statuses(report, "bgp-not-admin-down")["bird1<->frr1"] == "fail"
    assert statuses(report, "bgp-not-admin-down")["bird1<->gobgp1"] == "pass"
    assert code == 1


def test_frr_neighbor_shutdown_is_named_while_bird_only_sees_resets(trio: Trio, tmp_path: Path) -> None:
    trio.start(frr_conf(shutdown=True), bird_conf(), gobgp_conf())
    trio.wait_for("gobgp1 Established", lambda: trio.established("gobgp1"))
    time.sleep(3)  # BIRD has tried FRR a few times by now
    code, report = run(trio.inventory(tmp_path / "inventory.yaml"))
    top = report["diagnoses"][0]
    print(top["summary"])
    assert (top["root_cause"], top["hosts"]) == ("peer-admin-shutdown", ["frr1"]), [
        d["root_cause"] for d in report["diagnoses"]
    ]
    assert top["summary"].startswith(
        f"frr1 keeps the session down on purpose: FRR neighbor {BIRD_F_IP} is administratively shut down."
    )
    fix = next(f for f in top["fixes"] if f["platform"] == "frr")
    assert fix["text"].splitlines() == [f"router bgp {FRR_AS}", f" no neighbor {BIRD_F_IP} shutdown", "exit"]
    assert code == 1

    # the fix, applied as it is, brings the session back and the finding goes
    args = [a for ln in ["configure terminal", *fix["text"].splitlines()] for a in ("-c", ln)]
    applied = ns_run(trio.frr_ns, ["vtysh", "--vty_socket", str(trio.run_dir / "frr"), *args], check=False)
    assert applied.returncode == 0 and "%" not in applied.stdout, applied.stdout + applied.stderr
    trio.wait_for("frr1 Established after the fix", lambda: trio.established("frr1"))
    code, report = run(trio.inventory(tmp_path / "inventory.yaml"))
    assert report["diagnoses"] == [] and code == 0, [d["summary"] for d in report["diagnoses"]]


def test_gobgp_router_id_zero_is_named_as_invalid_router_id(trio: Trio, tmp_path: Path) -> None:
    trio.start(frr_conf(), bird_conf(), gobgp_conf(router_id="0.0.0.0"))
    trio.wait_for("frr1 Established", lambda: trio.established("frr1"))
    trio.wait_for(
        "BIRD refusing GoBGP's OPEN",
        lambda: "Bad BGP identifier" in trio.birdc("show", "protocols", "gobgp1"),
    )
    code, report = run(trio.inventory(tmp_path / "inventory.yaml"))
    causes = [d["root_cause"] for d in report["diagnoses"]]
    assert causes and causes[0] == "invalid-router-id", causes
    top = report["diagnoses"][0]
    print(top["summary"])
    assert top["hosts"] == ["gobgp1"]
    assert top["summary"].startswith(
        'GoBGP on gobgp1 uses router id 0.0.0.0, which is in 0.0.0.0/8 ("this network"'
    )
    assert "router-id-conflict" not in causes
    assert statuses(report, "bgp-router-id-valid") == {"frr1": "pass", "bird1": "pass", "gobgp1": "warn"}
    fix = next(f for f in top["fixes"] if f["platform"] == "gobgp")
    assert f'router-id = "{GOBGP_IP}"' in fix["text"]
    assert code == 1


def test_gobgp_routes_received_but_unreachable_are_named(trio: Trio, tmp_path: Path) -> None:
    sh("ip", "-n", trio.gobgp_ns, "route", "del", "default")
    trio.start(frr_conf(), bird_conf(), gobgp_conf())
    trio.wait_for("gobgp1 Established", lambda: trio.established("gobgp1"))
    time.sleep(2)  # BIRD's export reaches GoBGP's RIB
    inventory = trio.inventory(tmp_path / "inventory.yaml")
    code, report = run(inventory)
    causes = [d["root_cause"] for d in report["diagnoses"]]
    assert causes == ["learned-routes-not-installed"], causes
    top = report["diagnoses"][0]
    print(top["summary"])
    assert top["hosts"] == ["gobgp1"]
    assert top["summary"].startswith(
        "gobgp1 receives 10.90.28.0/24 over BGP, but its kernel has no route to them"
    )
    assert top["fixes"][0]["text"].strip() == f"ip route add 10.90.28.0/24 via {BIRD_G_IP}"
    assert code == 1

    # the design's answer, a default route through the router, makes it as designed
    sh("ip", "-n", trio.gobgp_ns, "route", "add", "default", "via", BIRD_G_IP)
    code, report = run(inventory)
    assert report["diagnoses"] == [] and code == 0, [d["summary"] for d in report["diagnoses"]]
    [check] = [
        r for r in report["results"] if r["check"] == "bgp-learned-routes-reachable" and r["host"] == "gobgp1"
    ]
    assert (
        check["reason"]
        == f"1 received route(s) not installed, as designed; the FIB reaches them: 0.0.0.0/0 via {BIRD_G_IP}"
    )


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc builds the setsockopt shim")
def test_bird_whose_kernel_refuses_md5_is_named(trio: Trio, tmp_path: Path) -> None:
    (tmp_path / "nomd5.c").write_text(SHIM)
    shim = tmp_path / "nomd5.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-o", str(shim), str(tmp_path / "nomd5.c"), "-ldl"], check=True
    )
    trio.start(frr_conf(), bird_conf(password=True), gobgp_conf(), bird_env={"LD_PRELOAD": str(shim)})
    trio.wait_for(
        "BIRD's MD5 error", lambda: "Kernel MD5 auth failed" in trio.birdc("show", "protocols", "frr1")
    )
    code, report = run(trio.inventory(tmp_path / "inventory.yaml"))
    causes = [d["root_cause"] for d in report["diagnoses"]]
    assert causes and causes[0] == "md5-kernel-unsupported", causes
    top = report["diagnoses"][0]
    print(top["summary"])
    assert top["hosts"] == ["bird1"]
    assert "frr1: Error: Kernel MD5 auth failed" in top["summary"]
    assert "peer-admin-shutdown" not in causes
    assert statuses(report, "md5-kernel-support")["bird1"] == "fail"
    assert "lab-only-md5" not in json.dumps(report)
    assert code == 1


# -- as-path-loop: a BIRD ToR (AS 65001) between two BIRD nodes that share AS 65002 ---------------------

LOOP_TIMERS = (
    "hold time 9; keepalive time 3; connect delay time 1; connect retry time 2; error wait time 1, 2;"
)


def loop_node_conf(third: int, prefix: str, allow_local_as: bool = False) -> str:
    allow = "allow local as 1;" if allow_local_as else ""
    return f"""
router id 10.213.{third}.2;
protocol device {{ scan time 10; }}
protocol static {{ ipv4; route {prefix} blackhole; }}
protocol bgp tor {{
  local 10.213.{third}.2 as 65002; neighbor 10.213.{third}.1 as 65001; {allow}
  {LOOP_TIMERS}
  ipv4 {{ import all; export where source = RTS_STATIC; }};
}}
"""


LOOP_TOR_CONF = f"""
router id 10.213.39.1;
protocol device {{ scan time 10; }}
protocol bgp node_a {{
  local 10.213.39.1 as 65001; neighbor 10.213.39.2 as 65002; {LOOP_TIMERS}
  ipv4 {{ import all; export all; }};
}}
protocol bgp node_b {{
  local 10.213.40.1 as 65001; neighbor 10.213.40.2 as 65002; {LOOP_TIMERS}
  ipv4 {{ import all; export all; }};
}}
"""


@pytest.fixture
def loop_lab() -> Iterator[tuple[dict[str, str], Path]]:
    t = tag()
    names = {"tor": f"bdh-lt-{t}", "node-a": f"bdh-la-{t}", "node-b": f"bdh-lb-{t}"}
    with run_dir("bdh-loop") as rd, namespaces(*names.values()), Lab(rd) as lab:
        veth(names["tor"], "10.213.39.1", names["node-a"], "10.213.39.2")
        veth(names["tor"], "10.213.40.1", names["node-b"], "10.213.40.2", dev_a="eth1")
        confs = {
            "tor": LOOP_TOR_CONF,
            "node-a": loop_node_conf(39, "10.90.31.0/24"),
            "node-b": loop_node_conf(40, "10.90.32.0/24"),
        }
        for host, conf in confs.items():
            lab.start_bird(names[host], host, conf, name=host)
        yield names, rd


def loop_inventory(names: dict[str, str], run_dir: Path, path: Path) -> Path:
    def host(name: str, asn: int, peers: list[tuple[str, str, int, str]]) -> dict[str, Any]:
        return {
            "role": "router",
            "speaker": "bird2",
            "asn": asn,
            "connect": {"netns": names[name]},
            "control_socket": str(run_dir / f"{name}.ctl"),
            "peers": [{"host": h, "address": a, "asn": x, "name": n} for h, a, x, n in peers],
        }

    inv = {
        "hosts": {
            "tor": host(
                "tor",
                65001,
                [("node-a", "10.213.39.2", 65002, "node_a"), ("node-b", "10.213.40.2", 65002, "node_b")],
            ),
            "node-a": host("node-a", 65002, [("tor", "10.213.39.1", 65001, "tor")]),
            "node-b": host("node-b", 65002, [("tor", "10.213.40.1", 65001, "tor")]),
        }
    }
    path.write_text(yaml.safe_dump(inv))
    return path


def test_same_as_nodes_behind_an_ebgp_tor_is_as_path_loop(
    loop_lab: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    names, run_dir = loop_lab

    def tor_has_both() -> bool:
        out = ns_run(
            names["tor"], ["birdc", "-s", str(run_dir / "tor.ctl"), "show", "route"], check=False
        ).stdout
        return "10.90.31.0/24" in out and "10.90.32.0/24" in out

    deadline = time.monotonic() + 40
    while not tor_has_both():
        assert time.monotonic() < deadline, "the tor never learned both nodes' routes"
        time.sleep(0.5)
    inventory = loop_inventory(names, run_dir, tmp_path / "inventory.yaml")
    code, report = run(inventory)
    loops = {tuple(d["hosts"]): d for d in report["diagnoses"] if d["root_cause"] == "as-path-loop"}
    assert set(loops) == {("node-a",), ("node-b",)}, [d["root_cause"] for d in report["diagnoses"]]
    print(loops[("node-b",)]["summary"])
    assert loops[("node-b",)]["summary"].startswith(
        "tor sends node-b routes whose AS path already holds node-b's own AS 65002 "
        "(10.90.31.0/24: AS path 65002)"
    )
    assert code == 1

    # the BIRD fix, applied on both nodes, brings the routes in and the finding goes
    for node, third, prefix in (("node-a", 39, "10.90.31.0/24"), ("node-b", 40, "10.90.32.0/24")):
        (run_dir / f"{node}.conf").write_text(loop_node_conf(third, prefix, allow_local_as=True))
        ns_run(names[node], ["birdc", "-s", str(run_dir / f"{node}.ctl"), "configure"])
    deadline = time.monotonic() + 40
    while (
        "10.90.31.0/24"
        not in ns_run(names["node-b"], ["birdc", "-s", str(run_dir / "node-b.ctl"), "show", "route"]).stdout
    ):
        assert time.monotonic() < deadline, "node-b never accepted node-a's route after allow local as"
        time.sleep(0.5)
    time.sleep(2)
    code, report = run(inventory)
    assert "as-path-loop" not in [d["root_cause"] for d in report["diagnoses"]]
    assert set(statuses(report, "bgp-no-as-path-loop").values()) == {"pass"}
