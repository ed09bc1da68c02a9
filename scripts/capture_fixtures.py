#!/usr/bin/env python3
"""Capture real command outputs for bgpdoctor's parser fixtures from a throwaway namespace lab.

Run as root from the repository root: ``python3 scripts/capture_fixtures.py`` (about 35 s).
Set ``BDFX_CAPTURE_DIR=/tmp/somewhere`` for a dry run that leaves ``captures/`` alone.

Topology (namespaces prefixed ``bdfx-``, run dir ``/tmp/bdfx-run-*``, both removed at the end)::

    g1 (GoBGP AS64514, port -1 like Cilium)  --10.0.1.0/24--+
    g2 (GoBGP AS64515, listens on 179)       --10.0.3.0/24--+-- r2 (BIRD 2, AS64512)
                                                             |
                                    r2 --10.0.4.0/24-- mid --10.0.5.0/24 mtu 1400-- r16 (BIRD 1.6, AS64513)

mid forwards with an nft forward policy drop, a masquerade rule and a silent ICMP drop; it is the
lower-MTU hop that sends "Frag needed". Outputs go to captures/outputs/<tool>/<case>.txt and the
exact command of each case to captures/outputs/<tool>/commands.json; pcaps to captures/pcap/.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bgpdoctor.lab.configs import gobgpd_argv

REPO = Path(__file__).resolve().parent.parent
# BDFX_CAPTURE_DIR lets a dry run write elsewhere instead of replacing the committed fixtures.
CAPTURES = Path(os.environ.get("BDFX_CAPTURE_DIR", REPO / "captures"))
OUT = CAPTURES / "outputs"
PCAP = CAPTURES / "pcap"
BIRD16 = "/opt/bgpdoctor/bird16/usr/sbin/bird"
BIRDC16 = "/opt/bgpdoctor/bird16/usr/sbin/birdc"
NS = ["bdfx-r2", "bdfx-r16", "bdfx-g1", "bdfx-g2", "bdfx-mid"]

created_ns: list[str] = []
pids: list[tuple[int, str]] = []  # (pid, expected comm) of every process we started
commands: dict[str, dict[str, str]] = {}


def sh(*args: str, check: bool = True, ns: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = ["ip", "netns", "exec", ns, *args] if ns else list(args)
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=60)


def save(tool: str, case: str, ns: str, command: str, merge_stderr: bool = True) -> str:
    """Run `command` (a shell string) in namespace ns and store its output as a fixture."""
    full = ["ip", "netns", "exec", ns, "sh", "-c", command + (" 2>&1" if merge_stderr else "")]
    res = subprocess.run(full, capture_output=True, text=True, timeout=60)
    text = res.stdout
    d = OUT / tool
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{case}.txt").write_text(text)
    commands.setdefault(tool, {})[case] = f"ip netns exec {ns} " + command.replace(RUN_STR, "$RUN")
    print(f"--- {tool}/{case} (rc={res.returncode}, {len(text)} bytes)", file=sys.stderr)
    return text


def comm_of(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def start_bg(ns: str, argv: list[str], log: Path, comm: str) -> subprocess.Popen[bytes]:
    # `ip netns exec` execs the program, so the Popen pid is the daemon's pid.
    p = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=log.open("wb"), stderr=subprocess.STDOUT)
    pids.append((p.pid, comm))
    return p


def wait_for(pred: Callable[[], bool], timeout: float, what: str) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.5)
    print(f"!!! timeout waiting for {what}", file=sys.stderr)
    return False


RUN = Path(tempfile.mkdtemp(prefix="bdfx-run-"))
RUN_STR = str(RUN)


def bird2(args: str) -> str:
    return f"birdc -s {RUN}/r2/bird.ctl {args}"


def bird16(args: str) -> str:
    return f"{BIRDC16} -s {RUN}/r16/bird.ctl {args}"


BIRD2_CONF = """\
router id 10.0.4.1;
log "{run}/r2/bird.log" all;
protocol device {{}}
protocol kernel kernel1 {{
  ipv4 {{ import none; export where source = RTS_BGP || dest = RTD_BLACKHOLE || dest = RTD_UNREACHABLE; }};
}}
protocol static statics {{
  ipv4;
  route 10.0.5.0/24 via 10.0.4.2;
  route 203.0.113.0/24 blackhole;
  route 198.51.100.0/24 unreachable;
}}
template bgp tbgp {{
  local as 64512;
  hold time 9;
  connect retry time 5;
  error wait time 30,300;
}}
protocol bgp node_sakamoto_1 from tbgp {{
  description "sakamoto (Cilium GoBGP)";
  neighbor 10.0.1.2 as 64514;
  ipv4 {{ import all; export all; }};
}}
protocol bgp cilium_refused from tbgp {{
  neighbor 10.0.1.3 as 64514;
  ipv4 {{ import all; export none; }};
}}
protocol bgp g2_badas from tbgp {{
  neighbor 10.0.3.2 as 64599;
  ipv4 {{ import all; export none; }};
}}
protocol bgp passive_wait from tbgp {{
  neighbor 10.0.1.4 as 64514;
  passive on;
  ipv4 {{ import all; export none; }};
}}
protocol bgp r16_multihop from tbgp {{
  neighbor 10.0.5.2 as 64513;
  multihop 4;
  source address 10.0.4.1;
  hold time 6;
  ipv4 {{ import all; export filter {{ if net = 198.51.100.0/24 then reject; accept; }}; }};
}}
"""

BIRD16_CONF = """\
router id 10.0.5.2;
log "{run}/r16/bird.log" all;
protocol device {{}}
protocol kernel {{ export where source = RTS_BGP; import none; }}
protocol static pod_block {{
  route 10.42.3.0/24 blackhole;
  route 10.0.4.0/24 via 10.0.5.1;
}}
template bgp tbgp {{
  local as 64513;
  hold time 9;
  connect retry time 5;
  error wait time 30,300;
}}
protocol bgp rmine_multihop_peer from tbgp {{
  description "router-mine over the 1400 hop";
  neighbor 10.0.4.1 as 64512;
  multihop 4;
  source address 10.0.5.2;
  hold time 6;
  import all;
  export where proto = "pod_block" && net = 10.42.3.0/24;
}}
protocol bgp g1_refused from tbgp {{
  neighbor 10.0.1.3 as 64514;
  multihop 4;
  import all;
  export none;
}}
protocol bgp g2_badas from tbgp {{
  neighbor 10.0.3.2 as 64515;
  multihop 4;
  import all;
  export none;
}}
protocol bgp passive_wait from tbgp {{
  neighbor 10.0.5.9 as 64512;
  passive on;
  import all;
  export none;
}}
"""

G1_TOML = """\
[global.config]
  as = 64514
  router-id = "10.0.1.2"
  port = -1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.0.1.1"
    peer-as = 64512
    description = "router-mine"
  [neighbors.timers.config]
    hold-time = 9
    connect-retry = 5
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.0.5.99"
    peer-as = 64513
  [neighbors.ebgp-multihop.config]
    enabled = true
    multihop-ttl = 4
  [neighbors.timers.config]
    connect-retry = 5
"""

G2_TOML = """\
[global.config]
  as = 64515
  router-id = "10.0.3.2"
  local-address-list = ["10.0.3.2"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.0.3.1"
    peer-as = 64512
  [neighbors.timers.config]
    connect-retry = 5
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.0.5.2"
    peer-as = 64600
  [neighbors.ebgp-multihop.config]
    enabled = true
    multihop-ttl = 4
  [neighbors.transport.config]
    passive-mode = true
"""

MID_NFT = """\
table inet bdfx_fw {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related counter accept
    ip saddr 10.0.3.2 icmp type echo-request counter drop comment "silent drop"
    ip daddr 10.42.0.0/16 counter accept comment "pod cidr"
    iifname "mid-r2" counter accept
    iifname "mid-r16" counter accept
  }
}
table ip bdfx_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 10.0.1.0/24 oifname "mid-r16" counter masquerade comment "node lan nat"
  }
}
"""

HOLD_DROP = """\
table inet bdfx_hold {
  chain forward {
    type filter hook forward priority -10; policy accept;
    tcp dport 179 ip saddr 10.0.4.1 counter drop
    tcp sport 179 ip saddr 10.0.4.1 counter drop
    tcp dport 179 ip saddr 10.0.5.2 counter drop
    tcp sport 179 ip saddr 10.0.5.2 counter drop
  }
}
"""


def veth(a: str, ai: str, aip: str, b: str, bi: str, bip: str, mtu: int = 1500) -> None:
    sh("ip", "link", "add", ai, "netns", a, "type", "veth", "peer", "name", bi, "netns", b)
    for ns, i, ip in ((a, ai, aip), (b, bi, bip)):
        sh("ip", "link", "set", i, "mtu", str(mtu), ns=ns)
        for addr in ip.split(","):
            sh("ip", "addr", "add", addr, "dev", i, ns=ns)
        sh("ip", "link", "set", i, "up", ns=ns)


def build() -> None:
    for ns in NS:
        if Path(f"/run/netns/{ns}").exists():
            raise SystemExit(f"namespace {ns} already exists: not touching it")
    for ns in NS:
        sh("ip", "netns", "add", ns)
        created_ns.append(ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
        sh("sysctl", "-qw", "net.ipv4.ip_forward=0", ns=ns)
        sh("sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", ns=ns)
        sh("sysctl", "-qw", "net.ipv4.conf.default.rp_filter=0", ns=ns)
    veth("bdfx-g1", "g1-r2", "10.0.1.2/24,10.0.1.3/24", "bdfx-r2", "r2-g1", "10.0.1.1/24")
    veth("bdfx-g2", "g2-r2", "10.0.3.2/24", "bdfx-r2", "r2-g2", "10.0.3.1/24")
    veth("bdfx-r2", "r2-mid", "10.0.4.1/24", "bdfx-mid", "mid-r2", "10.0.4.2/24")
    veth("bdfx-mid", "mid-r16", "10.0.5.1/24", "bdfx-r16", "r16-mid", "10.0.5.2/24", mtu=1400)
    sh("ip", "addr", "add", "10.42.0.1/32", "dev", "lo", ns="bdfx-g1")  # the node's "pod" IP
    for ns in ("bdfx-r2", "bdfx-mid"):
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=ns)
    sh("sysctl", "-qw", "net.ipv4.conf.r2-mid.rp_filter=2", ns="bdfx-r2")
    sh("sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1", ns="bdfx-mid")
    sh("ip", "route", "add", "default", "via", "10.0.1.1", ns="bdfx-g1")
    sh("ip", "route", "add", "default", "via", "10.0.3.1", ns="bdfx-g2")
    sh("ip", "route", "add", "default", "via", "10.0.4.1", ns="bdfx-mid")
    sh("ip", "route", "add", "default", "via", "10.0.5.1", ns="bdfx-r16")
    sh("ip", "route", "add", "10.0.5.0/24", "via", "10.0.4.2", ns="bdfx-r2")
    sh(
        "ip",
        "route",
        "add",
        "192.0.2.0/24",
        "nexthop",
        "via",
        "10.0.1.2",
        "nexthop",
        "via",
        "10.0.3.2",
        ns="bdfx-r2",
    )
    (RUN / "mid.nft").write_text(MID_NFT)
    sh("nft", "-f", str(RUN / "mid.nft"), ns="bdfx-mid")


def start_daemons() -> None:
    for h, conf, binary in (("r2", BIRD2_CONF, "bird"), ("r16", BIRD16_CONF, BIRD16)):
        d = RUN / h
        d.mkdir()
        (d / "bird.conf").write_text(conf.format(run=RUN))
        # -f keeps bird in the foreground so the pid we record is the daemon's pid.
        start_bg(
            f"bdfx-{h}",
            [binary, "-f", "-c", str(d / "bird.conf"), "-s", str(d / "bird.ctl")],
            d / "stdout.log",
            "bird",
        )
    for h, conf in (("g1", G1_TOML), ("g2", G2_TOML)):
        d = RUN / h
        d.mkdir()
        (d / "gobgpd.toml").write_text(conf)
        argv = gobgpd_argv(str(d / "gobgpd.toml"))
        start_bg(f"bdfx-{h}", argv, d / "gobgpd.log", "gobgpd")
    wait_for(lambda: (RUN / "r2/bird.ctl").exists() and (RUN / "r16/bird.ctl").exists(), 10, "bird sockets")
    for ns in ("bdfx-g1", "bdfx-g2"):
        wait_for(
            lambda ns=ns: sh("gobgp", "global", ns=ns, check=False).returncode == 0,  # type: ignore[misc]
            10,
            f"gobgpd {ns}",
        )
    sh("gobgp", "global", "rib", "add", "-a", "ipv4", "10.42.0.0/24", ns="bdfx-g1")


def established(ns: str, birdc: str, name: str) -> bool:
    out = sh("sh", "-c", f"{birdc} show protocols {name}", ns=ns, check=False).stdout
    return "Established" in out


def capture_bird(prefix: str, ns: str, birdc: Callable[[str], str], verbose: bool) -> None:
    for case, args in (
        ("show_protocols", "show protocols"),
        ("show_protocols_all", "show protocols all"),
        ("show_route", "show route"),
        ("show_route_all", "show route all"),
        ("show_status", "show status"),
    ):
        save("bird", f"{prefix}_{case}", ns, birdc(args))
        if verbose:
            save("bird", f"{prefix}_{case}_v", ns, birdc("-v " + args))


def main() -> None:
    tcpdumps: list[subprocess.Popen[bytes]] = []
    try:
        build()
        PCAP.mkdir(parents=True, exist_ok=True)
        any_pcap = RUN / "bgp_syn_any.pcap"
        if_pcap = RUN / "bgp_syn_iface.pcap"
        tcpdumps.append(
            start_bg(
                "bdfx-r2",
                ["tcpdump", "-U", "-n", "-i", "any", "-w", str(any_pcap), "tcp port 179"],
                RUN / "tcpdump-any.log",
                "tcpdump",
            )
        )
        tcpdumps.append(
            start_bg(
                "bdfx-r2",
                ["tcpdump", "-U", "-n", "-i", "r2-mid", "-w", str(if_pcap), "tcp port 179"],
                RUN / "tcpdump-if.log",
                "tcpdump",
            )
        )
        time.sleep(1.5)
        start_daemons()
        b2, b16 = bird2, bird16
        wait_for(
            lambda: (
                established("bdfx-r2", b2(""), "node_sakamoto_1")
                and established("bdfx-r2", b2(""), "r16_multihop")
            ),
            40,
            "BIRD 2 sessions",
        )
        # Let the failing sessions reach their error states (refused, bad AS) at least once.
        time.sleep(8)
        for t in tcpdumps:
            t.send_signal(signal.SIGINT)
            t.wait(timeout=10)
        shutil.copy(any_pcap, PCAP / "bgp_syn_any.pcap")
        shutil.copy(if_pcap, PCAP / "bgp_syn_iface.pcap")
        commands["pcap"] = {
            "bgp_syn_any": "tcpdump -U -n -i any -w FILE 'tcp port 179'  (ns bdfx-r2)",
            "bgp_syn_iface": "tcpdump -U -n -i r2-mid -w FILE 'tcp port 179'  (ns bdfx-r2)",
        }

        capture_bird("bird2", "bdfx-r2", b2, verbose=True)
        capture_bird("bird16", "bdfx-r16", b16, verbose=True)
        save("bird", "bird2_show_protocols_all_one", "bdfx-r2", b2("show protocols all cilium_refused"))
        save("bird", "bird16_show_protocols_all_one", "bdfx-r16", b16("show protocols all g2_badas"))
        save("bird", "bird2_show_route_not_found", "bdfx-r2", b2("show route for 10.99.0.0/24"))

        for ns, name in (("bdfx-g1", "g1"), ("bdfx-g2", "g2")):
            save("gobgp", f"{name}_neighbor", ns, "gobgp -j neighbor")
            save("gobgp", f"{name}_global", ns, "gobgp -j global")
            save("gobgp", f"{name}_rib", ns, "gobgp -j global rib -a ipv4")
            save("gobgp", f"{name}_neighbor_text", ns, "gobgp neighbor")
        save("gobgp", "g1_neighbor_one", "bdfx-g1", "gobgp -j neighbor 10.0.1.1")

        save("ss", "r2_tlnp", "bdfx-r2", "ss -Htlnp")
        save("ss", "g2_tlnp", "bdfx-g2", "ss -Htlnp")
        save("ss", "g1_tlnp", "bdfx-g1", "ss -Htlnp")
        save("ss", "r2_tanp", "bdfx-r2", "ss -Htanp")
        save("ss", "r2_tni", "bdfx-r2", "ss -Htni")
        save("ss", "r16_tanpi", "bdfx-r16", "ss -Htanpi")

        save(
            "sysctl",
            "r2_keys",
            "bdfx-r2",
            "sysctl net.ipv4.ip_forward net.ipv4.conf.all.rp_filter "
            "net.ipv4.conf.r2-mid.rp_filter net.ipv4.conf.nosuch0.rp_filter",
        )
        save(
            "sysctl",
            "mid_pattern",
            "bdfx-mid",
            "sysctl -a --pattern '^net\\.ipv4\\.(conf\\.|ip_forward|tcp_mtu_probing|ip_no_pmtu_disc)'",
            merge_stderr=False,
        )

        save("ip", "r2_route", "bdfx-r2", "ip -j route show")
        save("ip", "r2_route_table_all", "bdfx-r2", "ip -j route show table all")
        save("ip", "r16_route", "bdfx-r16", "ip -j route show")
        save("ip", "r2_addr", "bdfx-r2", "ip -j addr")
        save("ip", "r2_route_get_bgp", "bdfx-r2", "ip -j route get 10.42.3.1")
        save("ip", "r2_route_get_unreachable", "bdfx-r2", "ip -j route get 10.99.0.1")
        save("ip", "r2_route_get_blackhole", "bdfx-r2", "ip -j route get 203.0.113.5")
        save("ip", "mid_route_get_rpfilter", "bdfx-mid", "ip -j route get 10.0.4.1 from 10.0.5.2 iif mid-r2")

        save("ping", "ok", "bdfx-g1", "ping -c 3 -i 0.2 -W 1 10.0.5.2")
        save("ping", "ok_source_pod_ip", "bdfx-g1", "ping -c 2 -i 0.2 -W 1 -I 10.42.0.1 10.0.4.1")
        save("ping", "df_ok", "bdfx-g1", "ping -c 2 -i 0.2 -W 1 -M do -s 1372 10.0.5.2")
        save("ping", "frag_needed", "bdfx-g1", "ping -c 3 -i 0.2 -W 1 -M do -s 1472 10.0.5.2")
        save("ip", "g1_route_get_pmtu", "bdfx-g1", "ip -j route get 10.0.5.2")
        save("ping", "local_too_big", "bdfx-r16", "ping -c 2 -i 0.2 -W 1 -M do -s 1472 10.0.4.1")
        save("ping", "silent_loss", "bdfx-g2", "ping -c 3 -i 0.2 -W 1 10.0.5.2")
        save("ping", "net_unreachable", "bdfx-g1", "ping -c 2 -i 0.2 -W 1 10.99.0.1")
        save("ping", "local_net_unreachable", "bdfx-r2", "ping -c 2 -i 0.2 -W 1 10.99.0.1")
        save("ping", "ttl_exceeded", "bdfx-g1", "ping -c 2 -i 0.2 -W 1 -t 1 10.0.5.2")
        save("ping", "unknown_host", "bdfx-g1", "ping -c 1 -W 1 no-such-host.invalid")

        save("nft", "mid_ruleset", "bdfx-mid", "nft -j list ruleset")
        save("nft", "mid_ruleset_text", "bdfx-mid", "nft list ruleset")
        save("nft", "r2_empty_ruleset", "bdfx-r2", "nft -j list ruleset")

        # Hold timer expired: cut BGP on the multihop path and wait out the 6 s hold time.
        (RUN / "hold.nft").write_text(HOLD_DROP)
        sh("nft", "-f", str(RUN / "hold.nft"), ns="bdfx-mid")
        wait_for(
            lambda: (
                "Hold timer expired"
                in sh("sh", "-c", b2("show protocols r16_multihop"), ns="bdfx-r2", check=False).stdout
            ),
            20,
            "hold expiry",
        )
        time.sleep(1)
        save("bird", "bird2_hold_expired_show_protocols_all", "bdfx-r2", b2("show protocols all"))
        save("bird", "bird2_hold_expired_show_protocols", "bdfx-r2", b2("show protocols"))
        save("bird", "bird16_hold_expired_show_protocols_all", "bdfx-r16", b16("show protocols all"))
        save("bird", "bird16_hold_expired_show_protocols", "bdfx-r16", b16("show protocols"))

        # BIRD 2 with "timeformat protocol iso long": the Since column becomes date + time.
        conf = (RUN / "r2/bird.conf").read_text()
        (RUN / "r2/bird.conf").write_text(
            conf.replace(
                "router id 10.0.4.1;",
                "router id 10.0.4.1;\ntimeformat protocol iso long;\ntimeformat route iso long;",
            )
        )
        sh("sh", "-c", b2("configure"), ns="bdfx-r2", check=False)
        time.sleep(1)
        save("bird", "bird2_isolong_show_protocols", "bdfx-r2", b2("show protocols"))
        save("bird", "bird2_isolong_show_route", "bdfx-r2", b2("show route"))
        for tool, cmds in commands.items():
            d = PCAP if tool == "pcap" else OUT / tool
            d.mkdir(parents=True, exist_ok=True)
            note = (
                "exact command run inside the bdfx- namespace lab of scripts/capture_fixtures.py"
                " (stderr merged into stdout unless noted)"
            )
            (d / "commands.json").write_text(
                json.dumps({"_note": note, **cmds}, indent=1, sort_keys=True) + "\n"
            )
        shutil.copytree(
            RUN,
            OUT / "_lab_configs",
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("*.ctl", "*.pcap", "*.log"),
        )
    finally:
        teardown()


def teardown() -> None:
    for pid, comm in reversed(pids):
        if comm_of(pid) == comm:
            os.kill(pid, signal.SIGTERM)
    for pid, comm in pids:
        for _ in range(50):
            c = comm_of(pid)
            if c != comm:
                break
            try:  # reap our own children so they do not linger as zombies
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                pass
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
    for ns in reversed(created_ns):
        subprocess.run(["ip", "netns", "del", ns], check=False)
    shutil.rmtree(RUN, ignore_errors=True)


if __name__ == "__main__":
    main()
