"""Capture real outputs of sessions with and without capability mismatches (bgpdoctor issue 11).

Each scenario is two namespaces bdc-<scenario>-x (10.252.0.1, AS 65201) and bdc-<scenario>-y
(10.252.0.2, AS 65202) joined by one veth; the daemons are started, the wanted state is waited for,
the read-only commands bgpdoctor itself runs are captured into captures/outputs/capabilities/, and
everything is removed again. Run as root: ``python3 scripts/capture_capability_fixtures.py [NAME...]``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bgpdoctor.lab.frr import FrrInstance, start_frr  # noqa: E402
from bgpdoctor.lab.procs import kill_proc, ns_run, start_in_ns  # noqa: E402
from bgpdoctor.lab.state import ProcRecord  # noqa: E402

OUT = ROOT / "captures" / "outputs" / "capabilities"
X_IP, Y_IP, X6, Y6 = "10.252.0.1", "10.252.0.2", "fd00:252::1", "fd00:252::2"
X_AS, Y_AS = 65201, 65202
BIRD16 = "/opt/bgpdoctor/bird16/usr/sbin/bird"
BIRDC16 = "/opt/bgpdoctor/bird16/usr/sbin/birdc"


def frr_conf(global_extra: str = "", ipv6: bool = False, neighbor_extra: str = "", asn: int = X_AS) -> str:
    v6 = (
        " address-family ipv6 unicast\n"
        f"  neighbor {Y_IP} activate\n"
        f"  neighbor {Y_IP} route-map ALL in\n  neighbor {Y_IP} route-map ALL out\n"
        " exit-address-family\n"
        if ipv6
        else ""
    )
    return (
        "hostname frr1\nlog stdout informational\nroute-map ALL permit 10\nexit\n"
        f"router bgp {asn}\n bgp router-id {X_IP}\n timers bgp 3 9\n{global_extra}"
        f" neighbor {Y_IP} remote-as {Y_AS}\n neighbor {Y_IP} timers connect 1\n{neighbor_extra}"
        " address-family ipv4 unicast\n  redistribute connected\n"
        f"  neighbor {Y_IP} route-map ALL in\n  neighbor {Y_IP} route-map ALL out\n exit-address-family\n"
        f"{v6}exit\n"
    )


def bird2_conf(extra: str = "", channel_extra: str = "", ipv6_channel: bool = False) -> str:
    v6 = "  ipv6 { import all; export none; };\n" if ipv6_channel else ""
    return f"""router id {Y_IP};
protocol device {{ scan time 10; }}
protocol static {{ ipv4; route 10.92.2.0/24 blackhole; }}
protocol bgp peer_x {{
  local {Y_IP} as {Y_AS};
  neighbor {X_IP} as {X_AS};
  hold time 9;
  keepalive time 3;
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 2;
{extra}
  ipv4 {{ import all; export where source = RTS_STATIC; {channel_extra} }};
{v6}}}
"""


def bird16_conf(extra: str = "") -> str:
    return f"""router id {Y_IP};
protocol device {{ scan time 10; }}
protocol static {{ route 10.92.2.0/24 blackhole; }}
protocol bgp peer_x {{
  local {Y_IP} as {Y_AS};
  neighbor {X_IP} as {X_AS};
  hold time 9;
  keepalive time 3;
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 2;
  import all;
  export where source = RTS_STATIC;
{extra}
}}
"""


def gobgp_toml(gr: bool, families: list[str], neighbor: str = Y_IP, peer_as: int = Y_AS) -> str:
    text = f"""[global.config]
  as = {X_AS}
  router-id = "{X_IP}"
  port = 179
  local-address-list = ["{X_IP}"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "{neighbor}"
    peer-as = {peer_as}
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 1
"""
    if gr:
        text += "  [neighbors.graceful-restart.config]\n    enabled = true\n    restart-time = 120\n"
    for family in families:
        text += (
            f'  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = "{family}"\n'
        )
        if gr:
            text += "    [neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true\n"
    return text


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=20)


@dataclass
class Lab:
    name: str
    run_dir: Path
    procs: list[ProcRecord] = field(default_factory=list)
    frr: FrrInstance | None = None
    created: list[str] = field(default_factory=list)
    commands: dict[str, str] = field(default_factory=dict)

    @property
    def x(self) -> str:
        return f"bdc-{self.name}-x"[:15]

    @property
    def y(self) -> str:
        return f"bdc-{self.name}-y"[:15]

    def up(self) -> None:
        for ns in (self.x, self.y):
            sh("ip", "netns", "add", ns)
            self.created.append(ns)
        sh("ip", "-n", self.x, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", self.y)
        for ns, ip, ip6 in ((self.x, X_IP, X6), (self.y, Y_IP, Y6)):
            sh("ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", "eth0")
            sh("ip", "-n", ns, "addr", "add", f"{ip6}/64", "dev", "eth0", "nodad")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")

    def down(self) -> None:
        if self.frr is not None:
            self.frr.stop()
        for rec in self.procs:
            kill_proc(rec)
        for ns in self.created:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)

    def bird(self, ns: str, conf: str, old: bool = False, recovery: bool = False, tag: str = "y") -> None:
        path = self.run_dir / f"bird-{tag}.conf"
        path.write_text(conf)
        argv = [BIRD16 if old else "bird", "-f", "-c", str(path), "-s", str(self.run_dir / f"bird-{tag}.ctl")]
        if recovery:
            argv.append("-R")
        self.procs.append(start_in_ns(ns, tag, "bird", argv, self.run_dir / f"bird-{tag}.log"))
        time.sleep(0.5)

    def gobgp(self, ns: str, toml: str) -> None:
        path = self.run_dir / f"gobgpd-{ns}.toml"
        path.write_text(toml)
        argv = ["gobgpd", "-t", "toml", "-f", str(path), "-p", "--log-level", "info"]
        self.procs.append(start_in_ns(ns, "x", "gobgpd", argv, self.run_dir / "gobgpd.log"))
        time.sleep(1)

    def start_frr(self, conf: str) -> None:
        self.frr = start_frr(self.x, "frr1", self.run_dir / "frr", bgpd_conf=conf)

    def capture(self, file: str, ns: str, argv: list[str], shown: str) -> str:
        cp = ns_run(ns, argv, check=False, timeout=20)
        text = cp.stdout
        (OUT / f"{file}.txt").write_text(text)
        self.commands[file] = shown
        return text

    def birdc(self, file: str, what: str, old: bool = False, tag: str = "y", ns: str | None = None) -> str:
        client = BIRDC16 if old else "birdc"
        sock = str(self.run_dir / f"bird-{tag}.ctl")
        ns = ns or self.y
        return self.capture(
            file,
            ns,
            [client, "-s", sock, "-r", *what.split()],
            f"ip netns exec bdc-Y {client} -s $RUN/bird.ctl -r {what}",
        )

    def vtysh(self, file: str, what: str) -> str:
        assert self.frr is not None
        return self.capture(
            file,
            self.x,
            ["vtysh", "--vty_socket", str(self.frr.run_dir), "-c", what],
            f"ip netns exec bdc-X vtysh --vty_socket $RUN -c '{what}'",
        )

    def gobgp_neighbor(self, file: str) -> str:
        return self.capture(
            file, self.x, ["gobgp", "-j", "neighbor"], "ip netns exec bdc-X gobgp -j neighbor"
        )


def wait(what: str, ok: Callable[[], bool], timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ok():
            return
        time.sleep(0.5)
    raise SystemExit(f"never saw {what} in {timeout}s")


def frr_state(lab: Lab) -> dict[str, object]:
    assert lab.frr is not None
    try:
        data: dict[str, dict[str, object]] = json.loads(lab.frr.vtysh(f"show bgp neighbors {Y_IP} json"))
    except json.JSONDecodeError:
        return {}
    return data.get(Y_IP, {})


def bird_established(lab: Lab, old: bool = False, tag: str = "y", ns: str | None = None) -> bool:
    client = BIRDC16 if old else "birdc"
    cp = ns_run(
        ns or lab.y, [client, "-s", str(lab.run_dir / f"bird-{tag}.ctl"), "show", "protocols"], check=False
    )
    return "Established" in cp.stdout


# -- scenarios -------------------------------------------------------------------------------


def frr_bird_pair(lab: Lab, prefix: str, frr: str, bird: str, old: bool = False) -> None:
    lab.bird(lab.y, bird, old=old)
    lab.start_frr(frr)
    wait("Established", lambda: frr_state(lab).get("bgpState") == "Established")
    time.sleep(4)
    lab.vtysh(f"{prefix}_frr_neighbors", "show bgp neighbors json")
    lab.birdc(f"{prefix}_bird_protocols_all", "show protocols all", old=old)
    lab.birdc(f"{prefix}_bird_status", "show status", old=old)


def healthy(lab: Lab) -> None:
    frr_bird_pair(lab, "healthy", frr_conf(), bird2_conf())


def gr_restart_vs_off(lab: Lab) -> None:
    """FRR in GR restart mode (`bgp graceful-restart`) against BIRD 2 with `graceful restart off`."""
    frr_bird_pair(lab, "gr_off", frr_conf(" bgp graceful-restart\n"), bird2_conf("  graceful restart off;"))


def gr_restart_vs_off16(lab: Lab) -> None:
    """The same against BIRD 1.6 (Calico's) with `graceful restart off`."""
    frr_bird_pair(
        lab, "gr_off16", frr_conf(" bgp graceful-restart\n"), bird16_conf("  graceful restart off;"), old=True
    )


def gr_both(lab: Lab) -> None:
    """GR restart mode on both ends: FRR `bgp graceful-restart`, BIRD 2 `graceful restart on`."""
    frr_bird_pair(lab, "gr_both", frr_conf(" bgp graceful-restart\n"), bird2_conf("  graceful restart on;"))


def ipv6_one_side(lab: Lab) -> None:
    """FRR activates ipv6 unicast for the IPv4 neighbor; BIRD 2 runs only an ipv4 channel."""
    frr_bird_pair(lab, "v6_frr_only", frr_conf(ipv6=True), bird2_conf())


def ipv6_bird_side(lab: Lab) -> None:
    """BIRD 2 has an ipv6 channel on the IPv4 session; FRR only ipv4 unicast."""
    frr_bird_pair(lab, "v6_bird_only", frr_conf(), bird2_conf(ipv6_channel=True))


def as4_off(lab: Lab) -> None:
    """BIRD 2 with `enable as4 off` against FRR."""
    frr_bird_pair(lab, "as4_off", frr_conf(), bird2_conf("  enable as4 off;"))


def as4_off16(lab: Lab) -> None:
    frr_bird_pair(lab, "as4_off16", frr_conf(), bird16_conf("  enable as4 off;"), old=True)


def gobgp_gr_v4v6(lab: Lab) -> None:
    """GoBGP GR for ipv4 + ipv6 (Cilium's default families) against an IPv4-only BIRD 2 (#50)."""
    lab.bird(lab.y, bird2_conf())
    lab.gobgp(lab.x, gobgp_toml(True, ["ipv4-unicast", "ipv6-unicast"]))
    wait("Established", lambda: bird_established(lab))
    time.sleep(4)
    lab.gobgp_neighbor("gobgp_gr_v4v6_gobgp_neighbor")
    lab.birdc("gobgp_gr_v4v6_bird_protocols_all", "show protocols all")


def gobgp_gr_v4(lab: Lab) -> None:
    """GoBGP GR for ipv4 only against BIRD 2 with `graceful restart on`: healthy."""
    lab.bird(lab.y, bird2_conf("  graceful restart on;"))
    lab.gobgp(lab.x, gobgp_toml(True, ["ipv4-unicast"]))
    wait("Established", lambda: bird_established(lab))
    time.sleep(4)
    lab.gobgp_neighbor("gobgp_gr_v4_gobgp_neighbor")
    lab.birdc("gobgp_gr_v4_bird_protocols_all", "show protocols all")


def gobgp_plain(lab: Lab) -> None:
    """GoBGP without GR (its default, Cilium < 1.14) against BIRD 2 with `graceful restart on`."""
    lab.bird(lab.y, bird2_conf("  graceful restart on;"))
    lab.gobgp(lab.x, gobgp_toml(False, ["ipv4-unicast"]))
    wait("Established", lambda: bird_established(lab))
    time.sleep(4)
    lab.gobgp_neighbor("gobgp_nogr_gobgp_neighbor")
    lab.birdc("gobgp_nogr_bird_protocols_all", "show protocols all")


def bird_recovery_dead_peer(lab: Lab) -> None:
    """BIRD 2 restarted with -R (graceful restart recovery, as Calico runs it) and `graceful restart
    on`: peer_x (FRR) is up, a second peer (10.252.0.9) is dead, so recovery waits for it."""
    dead = """protocol bgp peer_dead {
  local 10.252.0.2 as 65202;
  neighbor 10.252.0.9 as 65209;
  graceful restart on;
  connect retry time 2;
  ipv4 { import all; export all; };
}
"""
    lab.start_frr(frr_conf(" bgp graceful-restart\n"))
    lab.bird(lab.y, bird2_conf("  graceful restart on;") + dead, recovery=True)
    wait("Established", lambda: frr_state(lab).get("bgpState") == "Established")
    time.sleep(4)
    lab.birdc("recovery_bird_status", "show status")
    lab.birdc("recovery_bird_protocols_all", "show protocols all")
    lab.vtysh("recovery_frr_neighbors", "show bgp neighbors json")


def bird16_recovery_dead_peer(lab: Lab) -> None:
    dead = """protocol bgp peer_dead {
  local 10.252.0.2 as 65202;
  neighbor 10.252.0.9 as 65209;
  graceful restart on;
  connect retry time 2;
  import all;
  export all;
}
"""
    lab.start_frr(frr_conf(" bgp graceful-restart\n"))
    lab.bird(lab.y, bird16_conf("  graceful restart on;") + dead, old=True, recovery=True)
    wait("Established", lambda: frr_state(lab).get("bgpState") == "Established")
    time.sleep(4)
    lab.birdc("recovery16_bird_status", "show status", old=True)
    lab.birdc("recovery16_bird_protocols_all", "show protocols all", old=True)


def helper_keeps_stale(lab: Lab) -> None:
    """BIRD 2 (GR restart mode) dies; FRR (helper) keeps its route as stale, waiting for it."""
    lab.start_frr(frr_conf(" bgp graceful-restart\n"))
    lab.bird(lab.y, bird2_conf("  graceful restart on;"))
    wait("Established", lambda: frr_state(lab).get("bgpState") == "Established")
    time.sleep(4)
    for rec in lab.procs:
        subprocess.run(["kill", "-9", str(rec.pid)], check=False)
    time.sleep(3)
    lab.vtysh("stale_frr_neighbors", "show bgp neighbors json")
    lab.vtysh("stale_frr_bgp_ipv4", "show bgp ipv4 unicast json")


def bird_helper_keeps_stale(lab: Lab) -> None:
    """GoBGP (GR restart mode) dies; BIRD 2 (helper) keeps its route as stale, waiting for it."""
    lab.bird(lab.y, bird2_conf("  graceful restart on;"))
    lab.gobgp(lab.x, gobgp_toml(True, ["ipv4-unicast"]))
    ns_run(lab.x, ["gobgp", "global", "rib", "add", "10.92.1.0/24", "-a", "ipv4"], check=False)
    wait("Established", lambda: bird_established(lab))
    time.sleep(4)
    gobgpd = [r for r in lab.procs if r.name == "gobgpd"]
    for rec in gobgpd:
        subprocess.run(["kill", "-9", str(rec.pid)], check=False)
    time.sleep(3)
    lab.birdc("stale_bird_protocols_all", "show protocols all")
    lab.birdc("stale_bird_route_all", "show route all")


def gobgp_stop_sends_cease(lab: Lab, notification: bool = False, prefix: str = "cease") -> None:
    """gobgpd (GR restart mode) in y is stopped with SIGTERM, as an agent stop does: it sends a Cease
    (6/3 Peer De-configured), which cancels graceful restart on FRR (helper) in x (cilium#31346).
    With `notification-enabled` (RFC 8538) the Cease keeps graceful restart."""
    toml = gobgp_toml(True, ["ipv4-unicast"], neighbor=X_IP, peer_as=X_AS)
    if notification:
        toml = toml.replace("restart-time = 120\n", "restart-time = 120\n    notification-enabled = true\n")
    toml = toml.replace(f"\n  as = {X_AS}\n", f"\n  as = {Y_AS}\n").replace(f'"{X_IP}"]', f'"{Y_IP}"]')
    toml = toml.replace(f'router-id = "{X_IP}"', f'router-id = "{Y_IP}"')
    lab.start_frr(frr_conf())
    lab.gobgp(lab.y, toml)
    ns_run(lab.y, ["gobgp", "global", "rib", "add", "10.92.2.0/24", "-a", "ipv4"], check=False)
    wait("Established", lambda: frr_state(lab).get("bgpState") == "Established")
    time.sleep(4)
    lab.vtysh(f"{prefix}_before_frr_neighbors", "show bgp neighbors json")
    for rec in [r for r in lab.procs if r.name == "gobgpd"]:
        subprocess.run(["kill", "-TERM", str(rec.pid)], check=False)
    time.sleep(3)
    lab.vtysh(f"{prefix}_frr_neighbors", "show bgp neighbors json")
    lab.vtysh(f"{prefix}_frr_bgp_ipv4", "show bgp ipv4 unicast json")


def gobgp_stop_with_notification_gr(lab: Lab) -> None:
    gobgp_stop_sends_cease(lab, notification=True, prefix="cease_nbit")


SCENARIOS: dict[str, Callable[[Lab], None]] = {
    "healthy": healthy,
    "groff": gr_restart_vs_off,
    "groff16": gr_restart_vs_off16,
    "grboth": gr_both,
    "v6frr": ipv6_one_side,
    "v6bird": ipv6_bird_side,
    "as4off": as4_off,
    "as4off16": as4_off16,
    "ggrv4v6": gobgp_gr_v4v6,
    "ggrv4": gobgp_gr_v4,
    "gnogr": gobgp_plain,
    "recov": bird_recovery_dead_peer,
    "recov16": bird16_recovery_dead_peer,
    "stale": helper_keeps_stale,
    "bstale": bird_helper_keeps_stale,
    "cease": gobgp_stop_sends_cease,
    "ceasenbit": gobgp_stop_with_notification_gr,
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    names = sys.argv[1:] or list(SCENARIOS)
    commands_file = OUT / "commands.json"
    commands = json.loads(commands_file.read_text()) if commands_file.exists() else {}
    for name in names:
        run_dir = Path(tempfile.mkdtemp(prefix=f"bdc-{name}-"))
        run_dir.chmod(0o755)
        lab = Lab(name, run_dir)
        try:
            lab.up()
            SCENARIOS[name](lab)
            print(f"{name}: {sorted(lab.commands)}")
        finally:
            lab.down()
            shutil.rmtree(run_dir, ignore_errors=True)
        commands.update(lab.commands)
    commands["_note"] = (
        "exact command run inside the bdc- namespaces of scripts/capture_capability_fixtures.py "
        "(BIRD 2.0.12, BIRD 1.6.8, gobgpd 3.10.0, FRR 8.4.4); stdout only"
    )
    commands_file.write_text(json.dumps(dict(sorted(commands.items())), indent=1) + "\n")


if __name__ == "__main__":
    main()
