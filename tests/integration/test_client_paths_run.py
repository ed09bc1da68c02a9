"""Test clients' paths through a real stateful drop, and a stale conntrack entry of the 179 flow.

Namespaces (bdx-NAME-PID): a LAN 10.214.0.0/24 on a bridge in its own namespace (sw, so no
conntrack of a transit host sees bridged frames) joins router r (.1), nodes n1 (.11) and n2 (.12)
and a client c (.10) in the node subnet; an external host x hangs off r (10.214.9.0/30); n1 has a
second interface eth1 to router r2 (10.214.8.0/30), which r reaches over 10.214.7.0/30. Pods
10.63.1.1 (n1) and 10.63.2.1 (n2), VIPs 10.64.0.1 (on n1) and 10.64.0.2 (on n2) are addresses on lo.
n1 and n2 have kube-proxy's `ct state invalid drop` in their forward chains.

Each fault is made by routes, as users reported it, and proven with real TCP before bgpdoctor runs:
- pod egress whose replies come back through another node (calico#7901): r sends n1's pods to n2;
- an external host whose route leads to one node (calico#7434): r sends n2's pods to n1; ping
  passes, TCP fails;
- a client in the node subnet reaching a VIP through the router, replies on-link (cilium#34972): r
  drops INVALID;
- BGP on eth1, replies by eth0's default route (cilium#40521): r sends VIP 10.64.0.1 via r2 to n1's
  eth1, r2 drops INVALID;
- a VIP announced by a node without the endpoint (cilium#12895): r sends 10.64.0.2 to n1, which
  passes it to n2; n2 answers from the VIP by its default route;
- a stale conntrack entry of the 179 flow (an OpenWrt router after a reboot): BIRD on n2 dials r,
  whose prerouting DNAT (a proxy's rule that caught port 179) sends the flow to a listener on 1179.
The healthy form (each VIP on its backend, each pod CIDR via its node, no rule on r) is clean and
TCP works on every path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.integration.speakers import (  # noqa: E402
    Lab,
    bgpdoctor,
    lan_port,
    namespaces,
    needs_bird2,
    needs_root,
    poll,
    run_dir,
    sh,
    tag,
    veth,
)

pytestmark = [needs_root]

CAUSE = "asymmetric-path-stateful-drop"
LAN = {"r": "10.214.0.1", "c": "10.214.0.10", "n1": "10.214.0.11", "n2": "10.214.0.12"}
LAN6 = {"r": "fd00:214::1", "n2": "fd00:214::12"}  # an IPv6 BGP session on the same layer 2
POD = {"n1": "10.63.1.1", "n2": "10.63.2.1"}
CIDR = {"n1": "10.63.1.0/24", "n2": "10.63.2.0/24"}
VIP1, VIP2 = "10.64.0.1", "10.64.0.2"
X = "10.214.9.2"
# (namespace a, address a, dev a, namespace b, address b, dev b): the routed /30 links
LINKS = [
    ("r", "10.214.9.1", "eth1", "x", X, "eth0"),
    ("r2", "10.214.8.1", "eth0", "n1", "10.214.8.2", "eth1"),
    ("r2", "10.214.7.1", "eth1", "r", "10.214.7.2", "eth2"),
]
ASN = {"r": 65301, "n2": 65302}
INVALID_DROP = """table inet bdx_fw {
 chain forward {
  type filter hook forward priority 0; policy accept;
  ct state invalid counter drop
 }
}
"""
HEALTHY_ROUTES = {
    "r": [f"{CIDR['n1']} via {LAN['n1']}", f"{CIDR['n2']} via {LAN['n2']}", f"{VIP1} via {LAN['n1']}",
          f"{VIP2} via {LAN['n2']}"],
    "r2": ["default via 10.214.7.2"],
    "n1": [f"default via {LAN['r']}"],
    "n2": [f"default via {LAN['r']}"],
    "c": [f"default via {LAN['r']}"],
    "x": ["default via 10.214.9.1"],
}  # fmt: skip


@dataclass
class Site:
    ns: dict[str, str]
    lab: Lab
    tmp: Path

    def exec(
        self, host: str, *argv: str, timeout: float = 30, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.ns[host], *argv],
            capture_output=True, text=True, timeout=timeout, check=False, input=stdin,
        )  # fmt: skip

    def route(self, host: str, spec: str) -> None:
        sh("ip", "-n", self.ns[host], "route", "replace", *spec.split())

    def rules(self, host: str, text: str = INVALID_DROP) -> None:
        done = self.exec(host, "nft", "-f", "-", stdin=text)
        assert done.returncode == 0, done.stderr

    def tcp_works(self, client: str, src: str, server: str, dst: str, port: int = 18081) -> bool:
        """A real TCP exchange: `client` sends from src to a server on dst in `server`, which echoes."""
        listener = subprocess.Popen(
            ["ip", "netns", "exec", self.ns[server], sys.executable, "-c",
             f"import socket; s = socket.create_server(('{dst}', {port})); s.settimeout(10)\n"
             "try:\n c, _ = s.accept(); c.settimeout(5); c.sendall(c.recv(4)); c.close()\n"
             "except OSError: pass"],
        )  # fmt: skip
        try:
            talk = self.exec(
                client, sys.executable, "-c",
                "import socket, sys, time\nfor _ in range(20):\n try:\n"
                f"  c = socket.create_connection(('{dst}', {port}), 3, ('{src}', 0)); break\n"
                " except ConnectionRefusedError: time.sleep(0.2)\n"
                "c.settimeout(4); c.sendall(b'ping'); sys.exit(0 if c.recv(4) == b'ping' else 1)",
            )  # fmt: skip
            return talk.returncode == 0
        finally:
            listener.kill()
            listener.wait(timeout=10)

    def ping(self, client: str, src: str, dst: str) -> bool:
        return self.exec(client, "ping", "-n", "-c", "1", "-W", "2", "-I", src, dst).returncode == 0

    def inventory(
        self, vips: dict[str, list[str]] | None = None, bgp: bool = False, lan: dict[str, str] = LAN
    ) -> Path:
        """`lan`: the addresses the BGP session runs between (LAN6 for an IPv6 session)."""
        vips = vips if vips is not None else {"n1": [VIP1], "n2": [VIP2]}
        addresses: dict[str, list[str]] = {h: [LAN[h]] if h in LAN else [] for h in self.ns if h != "sw"}
        if lan is not LAN:
            for h in lan:
                addresses[h].append(lan[h])
        for a, ip_a, _, b, ip_b, _ in LINKS:
            addresses[a].append(ip_a)
            addresses[b].append(ip_b)
        hosts: dict[str, Any] = {}
        for host in addresses:
            entry: dict[str, Any] = {
                "role": "node" if host in POD else "router" if host.startswith("r") else "vantage",
                "addresses": addresses[host],
                "connect": {"netns": self.ns[host]},
            }
            if host in POD:
                entry |= {"pod_cidrs": [CIDR[host]], "pod_probe_ip": POD[host], "lb_vips": vips.get(host, [])}
            if bgp and host in ASN:
                other = "n2" if host == "r" else "r"
                entry |= {
                    "speaker": "bird2",
                    "asn": ASN[host],
                    "router_id": LAN[host],
                    "control_socket": str(self.lab.run_dir / f"{host}.ctl"),
                    "peers": [
                        {"host": f"bdx-{other}", "address": lan[other], "asn": ASN[other], "name": "peer"}
                    ],
                }
            hosts[f"bdx-{host}"] = entry
        path = self.tmp / "inventory.yaml"
        path.write_text(yaml.safe_dump({"pod_cidr": "10.63.0.0/16", "hosts": hosts}))
        return path


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    if shutil.which("nft") is None:
        pytest.skip("nft is not installed")
    names = {h: f"bdx-{h}-{tag()}" for h in ("sw", "r", "r2", "n1", "n2", "c", "x")}
    with run_dir("bdx-clients") as rd, namespaces(*names.values()), Lab(rd) as lab:
        for ns in names.values():
            for key in ("all", "default"):
                sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv4.conf.{key}.rp_filter=0")
        sw = names["sw"]
        sh("ip", "-n", sw, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", sw, "link", "set", "br0", "up")
        for host, address in LAN.items():
            lan_port(sw, f"p-{host}", names[host], address)
        for a, ip_a, dev_a, b, ip_b, dev_b in LINKS:
            veth(names[a], ip_a, names[b], ip_b, dev_a, dev_b)
        for host, addresses in (("n1", [POD["n1"], VIP1]), ("n2", [POD["n2"], VIP2])):
            for address in addresses:
                sh("ip", "-n", names[host], "addr", "add", f"{address}/32", "dev", "lo")
        site = Site(names, lab, tmp_path)
        for host, routes in HEALTHY_ROUTES.items():
            for spec in routes:
                site.route(host, spec)
        site.rules("n1")
        site.rules("n2")
        yield site


def _run(site: Site, inventory: Path, name: str) -> dict[str, Any]:
    record = site.tmp / f"{name}.recording.json"
    proc = bgpdoctor(
        "run", "-i", str(inventory), "-o", "json", "--no-mtu", "--timeout", "8", "--record", str(record),
        timeout=300,
    )  # fmt: skip
    assert proc.stdout, (proc.returncode, proc.stderr[-3000:])
    report: dict[str, Any] = json.loads(proc.stdout)
    if os.environ.get("BGPDOCTOR_REFRESH_FIXTURES") == "1":  # the recordings test_client_paths.py replays
        shutil.copy(record, ROOT / "tests" / "fixtures" / "asymmetric" / "clients" / f"{name}.json")
    return report


def _results(report: dict[str, Any], check: str) -> dict[str, tuple[str, str]]:
    return {r["host"]: (r["status"], r["reason"]) for r in report["results"] if r["check"] == check}


def _found(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in report["diagnoses"] if d["root_cause"] == CAUSE]


def test_healthy_client_paths_are_clean_and_tcp_works(site: Site) -> None:
    assert site.tcp_works("n1", POD["n1"], "x", X)
    assert site.tcp_works("x", X, "n2", POD["n2"])
    assert site.tcp_works("c", LAN["c"], "n1", VIP1)  # on-link replies, but r has no stateful rule
    assert site.tcp_works("x", X, "n2", VIP2)
    report = _run(site, site.inventory(), "healthy")
    assert report["diagnoses"] == [], [(d["root_cause"], d["summary"]) for d in report["diagnoses"]]
    checks = _results(report, "path-stateful-asymmetry")
    for path in (
        "bdx-x->bdx-n1",
        "bdx-n1->bdx-x",
        "bdx-c->bdx-n1 vip 10.64.0.1",
        "bdx-x->bdx-n2 vip 10.64.0.2",
    ):
        assert checks[path][0] == "pass", (path, checks[path])
    # c reaches the VIP through r and gets the reply on-link: asymmetric, and nothing drops it
    assert "bdx-n1(->eth0) -> bdx-c(eth0>-)" in checks["bdx-c->bdx-n1 vip 10.64.0.1"][1]
    assert {s for s, _ in _results(report, "client-reply-interface").values()} == {"pass"}


def test_pod_egress_whose_replies_come_back_through_another_node(site: Site) -> None:
    site.route("r", f"{CIDR['n1']} via {LAN['n2']}")  # the router's next hop for n1's pods is n2
    site.route("n2", f"{CIDR['n1']} via {LAN['n1']}")
    assert not site.tcp_works("n1", POD["n1"], "x", X), "n2's INVALID drop should break pod egress"
    report = _run(site, site.inventory(), "pod-egress")
    found = _found(report)
    assert [d["hosts"] for d in found] == [["bdx-n2"]], report["diagnoses"]
    egress = _results(report, "path-stateful-asymmetry")["bdx-n1->bdx-x"]
    assert egress[0] == "fail"
    assert f"bdx-n2 sees only {X} -> {POD['n1']}" in egress[1]
    assert "inet bdx_fw forward: ct state invalid" in egress[1]


def test_an_external_host_routed_to_one_node_pings_a_pod_but_tcp_fails(site: Site) -> None:
    site.route("r", f"{CIDR['n2']} via {LAN['n1']}")
    site.route("n1", f"{CIDR['n2']} via {LAN['n2']}")
    assert site.ping("x", X, POD["n2"]), "ICMP echo is NEW on every packet: it passes"
    assert not site.tcp_works("x", X, "n2", POD["n2"]), "n1's INVALID drop should break TCP"
    report = _run(site, site.inventory(), "external-to-pod")
    found = _found(report)
    assert [d["hosts"] for d in found] == [["bdx-n1"]], report["diagnoses"]
    inbound = _results(report, "path-stateful-asymmetry")["bdx-x->bdx-n2"]
    assert inbound[0] == "fail"
    assert f"bdx-n1 sees only {X} -> {POD['n2']}" in inbound[1]


def test_a_client_in_the_node_subnet_reaching_a_vip_through_the_router(site: Site) -> None:
    site.rules("r")  # the router's firewall drops INVALID (MikroTik's default forward rules do)
    assert not site.tcp_works("c", LAN["c"], "n1", VIP1)
    report = _run(site, site.inventory(), "vip-on-link-reply")
    found = [d for d in _found(report) if d["hosts"] == ["bdx-r"]]
    assert found, report["diagnoses"]
    vip = _results(report, "path-stateful-asymmetry")["bdx-c->bdx-n1 vip 10.64.0.1"]
    assert vip[0] == "fail"
    assert f"bdx-r sees only {LAN['c']} -> {VIP1}" in vip[1]
    # the SNAT on r that users applied (a NAT rule on the MikroTik), for c's flows through r
    snat = next(f["text"] for f in found[0]["fixes"] if f["title"].startswith("Or SNAT on bdx-r"))
    assert f"ip saddr {LAN['c']} ip daddr " in snat and f"snat to {LAN['r']}" in snat


def test_a_vip_reached_on_eth1_answered_by_eth0s_default_route(site: Site) -> None:
    site.route("r", f"{VIP1} via 10.214.7.1")  # the VIP is learned over the BGP link: r2, n1's eth1
    site.route("r2", f"{VIP1} via 10.214.8.2")
    site.rules("r2")
    assert not site.tcp_works("x", X, "n1", VIP1)
    report = _run(site, site.inventory(), "vip-other-interface")
    found = _found(report)
    assert [d["hosts"] for d in found] == [["bdx-r2"]], report["diagnoses"]
    assert "bdx-n1 gets the request on eth1 and replies by eth0" in found[0]["summary"]
    interface = _results(report, "client-reply-interface")["bdx-x->bdx-n1 vip 10.64.0.1"]
    assert interface[0] == "warn"
    assert f"bdx-n1 gets {X} -> {VIP1} on eth1 but replies by eth0" in interface[1]


def test_a_vip_announced_by_a_node_without_the_endpoint(site: Site) -> None:
    site.route("r", f"{VIP2} via {LAN['n1']}")  # n1 announces it; the endpoint answers on n2 (DSR)
    site.route("n1", f"{VIP2} via {LAN['n2']}")
    assert not site.tcp_works("x", X, "n2", VIP2)
    report = _run(site, site.inventory({"n1": [VIP1, VIP2]}), "vip-without-endpoint")
    found = _found(report)
    assert [d["hosts"] for d in found] == [["bdx-n1"]], report["diagnoses"]
    vip = _results(report, "path-stateful-asymmetry")["bdx-x->bdx-n1 vip 10.64.0.2"]
    assert vip[0] == "fail"
    assert f"bdx-n1 sees only {X} -> {VIP2}" in vip[1]
    # answered from the VIP by n2, the backend, not by n1 which the request went through
    assert "but the reply comes back bdx-n2(->eth0) -> " in found[0]["summary"]


def _bird(host: str, passive: bool, lan: dict[str, str] = LAN) -> str:
    other = "n2" if host == "r" else "r"
    family = "ipv6" if lan is LAN6 else "ipv4"
    return (
        f"router id {LAN[host]};\nprotocol device {{ scan time 10; }}\n"
        f"protocol bgp peer {{\n  local {lan[host]} as {ASN[host]};\n"
        f"  neighbor {lan[other]} as {ASN[other]};\n"
        f"  startup hold time 6;\n  connect retry time 2;\n{'  passive on;' if passive else ''}\n"
        f"  {family} {{ import none; export none; }};\n}}\n"
    )


def _bgp_up(site: Site) -> bool:
    shown = site.exec("r", "birdc", "-s", str(site.lab.run_dir / "r.ctl"), "show", "protocols")
    return "Established" in shown.stdout


@needs_bird2
@pytest.mark.parametrize("lan", [LAN, LAN6], ids=["ipv4", "ipv6"])
def test_a_stale_conntrack_entry_of_the_179_flow_on_the_router(site: Site, lan: dict[str, str]) -> None:
    if shutil.which("conntrack") is None:
        pytest.skip("conntrack is not installed (scripts/install-deps.sh)")
    ip, family, suffix = ("ip6", "AF_INET6", "-ipv6") if lan is LAN6 else ("ip", "AF_INET", "")
    if lan is LAN6:
        for host in LAN6:  # both route IPv6 as they route IPv4
            sh("ip", "-n", site.ns[host], "addr", "add", f"{LAN6[host]}/64", "dev", "eth0", "nodad")
            sh("ip", "netns", "exec", site.ns[host], "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
    r, n2 = lan["r"], lan["n2"]
    # a proxy's redirect caught port 179 on r (fw4 with Mihomo after a reboot): a listener that
    # accepts and never speaks BGP stands for the proxy
    proxy = subprocess.Popen(
        ["ip", "netns", "exec", site.ns["r"], sys.executable, "-c",
         f"import socket, time; s = socket.create_server(('{r}', 1179), family=socket.{family}); "
         "c = [s.accept()]\ntime.sleep(600)"],
    )  # fmt: skip
    to = f"[{r}]:1179" if lan is LAN6 else f"{r}:1179"
    try:
        site.rules(
            "r",
            f"table {ip} bdx_proxy {{\n chain pre {{\n  type nat hook prerouting priority dstnat;\n"
            f"  {ip} saddr {n2} tcp dport 179 dnat to {to}\n }}\n}}\n",
        )
        site.lab.start_bird(site.ns["r"], "bdx-r", _bird("r", passive=True, lan=lan), name="r")
        site.lab.start_bird(site.ns["n2"], "bdx-n2", _bird("n2", passive=False, lan=lan), name="n2")
        entries = lambda: site.exec("r", "conntrack", "-L", "-p", "tcp", "--dport", "179").stdout  # noqa: E731
        assert poll(lambda: "sport=1179" in entries(), 30), entries()
        assert not _bgp_up(site)
        report = _run(site, site.inventory(bgp=True, lan=lan), f"stale-conntrack-179{suffix}")
        found = [d for d in _found(report) if d["hosts"] == ["bdx-r"]]
        assert found, [(d["root_cause"], d["summary"]) for d in report["diagnoses"]]
        at = f"[{r}]" if lan is LAN6 else r
        assert f"the reply comes from {at}:1179, not {at}:179" in found[0]["summary"]
        stale = _results(report, "bgp-conntrack-179")
        assert next(iter(stale.values()))[0] == "fail"
        fix = next(f for f in found[0]["fixes"] if f["title"].startswith("Delete the stale entry"))
        delete = f"conntrack -D{' -f ipv6' if lan is LAN6 else ''} -p tcp --orig-src {n2} --orig-dst {r}"
        assert fix["text"].startswith(delete), fix["text"]
        # the fix works: without the redirect and the entry, the session comes up; the notrack
        # lines are valid nft for the session's family
        sh("ip", "netns", "exec", site.ns["r"], "nft", "delete", "table", ip, "bdx_proxy")
        for line in fix["text"].splitlines():
            if line and not line.startswith("#"):
                done = site.exec("r", "sh", "-c", line)
                assert done.returncode == 0, (line, done.stderr)
        assert poll(lambda: _bgp_up(site), 60)
        healthy = _run(site, site.inventory(bgp=True, lan=lan), f"conntrack-179-up{suffix}")
        assert _found(healthy) == [], healthy["diagnoses"]
        assert {s for s, _ in _results(healthy, "bgp-conntrack-179").values()} <= {"skip"}
    finally:
        proxy.kill()
        proxy.wait(timeout=10)
