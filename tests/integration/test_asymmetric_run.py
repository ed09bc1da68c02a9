"""An asymmetric pod path through a real stateful drop, found by `bgpdoctor run`.

Four namespaces (bda-n1/n2 nodes, bda-ra/rb routers, each name + pid) make a square of routed
hops with BIRD 2 in each, eBGP on every side of the square. Each node takes a different router
(the other way's AS path is made longer): n1 sends n2's pod CIDR via ra, n2 sends n1's via rb,
so each path goes through one router and comes back through the other. ra has a real
`ct state invalid drop` in its forward chain (what kube-proxy's KUBE-FORWARD rule does). A routed
hop, not a bridge: these machines have net.bridge.bridge-nf-call-iptables=1, so a bridge would
put conntrack on both directions. TCP between the pods fails while the rule is there (the kernel
proves the fault is real) and the run names the cause with the rule; without the rule TCP
connects and the run finds nothing.

n1 also announces a LoadBalancer VIP it does not hold as an address. With an unreachable route
for it on n1 (the healthy form) nothing loops; with a default route back to ra instead, a real
ping to the VIP dies of TTL exceeded between ra and n1, and the run names `lb-vip-routing-loop`.
"""

from __future__ import annotations

import json
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
    namespaces,
    needs_bird2,
    needs_root,
    poll,
    run_dir,
    sh,
    tag,
    veth,
)

pytestmark = [needs_root, needs_bird2]

POD = {"n1": "10.61.1.1", "n2": "10.61.2.1"}
CIDR = {"n1": "10.61.1.0/24", "n2": "10.61.2.0/24"}
# (namespace a, address a, dev a, namespace b, address b, dev b): the four /30 links of the square
LINKS = [
    ("n1", "10.213.61.1", "eth0", "ra", "10.213.61.2", "eth0"),
    ("ra", "10.213.62.1", "eth1", "n2", "10.213.62.2", "eth0"),
    ("n2", "10.213.63.1", "eth1", "rb", "10.213.63.2", "eth0"),
    ("rb", "10.213.64.1", "eth1", "n1", "10.213.64.2", "eth1"),
]
PATHS = ("bda-n1->bda-n2", "bda-n2->bda-n1")
VIP = "10.62.0.1"  # a LoadBalancer VIP n1 announces; healthy: n1 has an unreachable route for it
ASN = {"n1": 65101, "n2": 65102, "ra": 65201, "rb": 65202}
PREFERRED = {"n1": "ra", "n2": "rb"}  # the router each node sends the other node's pods to


def _sessions(host: str) -> list[tuple[str, str, str]]:
    """(peer, local address, peer address) of every side of the square at this host."""
    out = []
    for a, ip_a, _, b, ip_b, _ in LINKS:
        if host == a:
            out.append((b, ip_a, ip_b))
        elif host == b:
            out.append((a, ip_b, ip_a))
    return out


def bird_conf(host: str) -> str:
    routes = "".join(
        f"route {r} blackhole; " for r in [CIDR.get(host), f"{VIP}/32" if host == "n1" else None] if r
    )
    static = f"protocol static {{ ipv4; {routes}}}\n" if routes else ""
    protocols = ""
    for peer, local, address in _sessions(host):
        # the other way is made longer, not less preferred: equal AS paths would be ECMP candidates
        longer = "" if PREFERRED.get(host, peer) == peer else f" bgp_path.prepend({ASN[peer]});"
        protocols += (
            f"protocol bgp peer_{peer} {{\n  local {local} as {ASN[host]};\n"
            f"  neighbor {address} as {ASN[peer]};\n"
            "  hold time 9;\n  keepalive time 3;\n  connect retry time 2;\n"
            f"  ipv4 {{ import filter {{{longer} accept; }};\n"
            "    export where source ~ [RTS_STATIC, RTS_BGP]; };\n}\n"
        )
    return (
        f"router id {_sessions(host)[0][1]};\nprotocol device {{ scan time 10; }}\n"
        "protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; }\n" + static + protocols
    )


RULESET = """table inet bda_fw {
 chain forward {
  type filter hook forward priority 0; policy accept;
  ct state invalid counter drop
 }
}
"""


@dataclass
class Square:
    ns: dict[str, str]
    lab: Lab

    def exec(self, host: str, *argv: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.ns[host], *argv],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    def inventory(self, path: Path) -> Path:
        addresses: dict[str, list[str]] = {h: [] for h in self.ns}
        for a, ip_a, _, b, ip_b, _ in LINKS:
            addresses[a].append(ip_a)
            addresses[b].append(ip_b)
        hosts: dict[str, Any] = {}
        for host, ns in self.ns.items():
            entry: dict[str, Any] = {
                "role": "node" if host in POD else "router",
                "speaker": "bird2",
                "asn": ASN[host],
                "router_id": _sessions(host)[0][1],
                "addresses": addresses[host],
                "connect": {"netns": ns},
                "control_socket": str(self.lab.run_dir / f"{host}.ctl"),
                "peers": [
                    {"host": f"bda-{peer}", "address": address, "asn": ASN[peer], "name": f"peer_{peer}"}
                    for peer, _, address in _sessions(host)
                ],
            }
            if host in POD:
                entry |= {"pod_cidrs": [CIDR[host]], "pod_probe_ip": POD[host]}
            if host == "n1":
                entry["lb_vips"] = [VIP]
            hosts[f"bda-{host}"] = entry
        path.write_text(yaml.safe_dump({"pod_cidr": "10.61.0.0/16", "hosts": hosts}))
        return path

    def tcp_connects(self) -> bool:
        """A real TCP connection from n2's pod address to a listener on n1's (the SYN-ACK crosses ra)."""
        server = subprocess.Popen(
            ["ip", "netns", "exec", self.ns["n1"], sys.executable, "-c",
             "import socket; s = socket.create_server(('10.61.1.1', 18080)); s.settimeout(8)\n"
             "try:\n c, _ = s.accept(); c.close()\nexcept OSError: pass"],
        )  # fmt: skip
        try:
            client = self.exec(
                "n2", sys.executable, "-c",
                "import socket, time\nfor _ in range(20):\n try:\n"
                "  socket.create_connection(('10.61.1.1', 18080), 2, ('10.61.2.1', 0)).close(); break\n"
                " except ConnectionRefusedError: time.sleep(0.2)\n",
            )  # fmt: skip
            return client.returncode == 0
        finally:
            server.kill()
            server.wait(timeout=10)


def _established(square: Square) -> bool:
    for host in square.ns:
        shown = square.exec(host, "birdc", "-s", str(square.lab.run_dir / f"{host}.ctl"), "show", "protocols")
        if shown.stdout.count("Established") < 2:
            return False
    routes = square.exec("n1", "ip", "route", "get", POD["n2"], "from", POD["n1"]).stdout
    back = square.exec("n2", "ip", "route", "get", POD["n1"], "from", POD["n2"]).stdout
    return "via 10.213.61.2" in routes and "via 10.213.63.2" in back


@pytest.fixture
def square() -> Iterator[Square]:
    names = {h: f"bda-{h}-{tag()}" for h in ("n1", "n2", "ra", "rb")}
    with run_dir("bda-asym") as rd, namespaces(*names.values()), Lab(rd) as lab:
        for ns in names.values():
            for key in ("all", "default"):
                sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv4.conf.{key}.rp_filter=0")
        for a, ip_a, dev_a, b, ip_b, dev_b in LINKS:
            veth(names[a], ip_a, names[b], ip_b, dev_a, dev_b)
        for host, pod in POD.items():
            sh("ip", "-n", names[host], "addr", "add", f"{pod}/32", "dev", "lo")
        sh("ip", "-n", names["n1"], "route", "add", "unreachable", f"{VIP}/32")
        square = Square(names, lab)
        for host, ns in names.items():
            lab.start_bird(ns, f"bda-{host}", bird_conf(host), name=host)
        assert poll(lambda: _established(square), 60), "BGP sessions or the asymmetric routes never came up"
        rules = subprocess.run(
            ["ip", "netns", "exec", names["ra"], "nft", "-f", "-"], input=RULESET, text=True, check=False
        )
        assert rules.returncode == 0
        yield square


def _run(inventory: Path) -> dict[str, Any]:
    record = inventory.parent / "recording.json"
    proc = bgpdoctor(
        "run", "-i", str(inventory), "-o", "json", "--no-mtu", "--timeout", "8", "--record", str(record)
    )
    assert proc.stdout, (proc.returncode, proc.stderr[-3000:])
    (inventory.parent / "report.json").write_text(proc.stdout)
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def _results(report: dict[str, Any], check: str) -> dict[str, tuple[str, str]]:
    return {r["host"]: (r["status"], r["reason"]) for r in report["results"] if r["check"] == check}


def test_the_stateful_drop_on_the_asymmetric_path_is_named_with_its_rule(
    square: Square, tmp_path: Path
) -> None:
    assert not square.tcp_connects(), "the INVALID drop on ra should break TCP from n2 to n1"
    report = _run(square.inventory(tmp_path / "inventory.yaml"))
    found = [d for d in report["diagnoses"] if d["root_cause"] == "asymmetric-path-stateful-drop"]
    assert found, [d["root_cause"] for d in report["diagnoses"]]
    assert found[0]["hosts"] == ["bda-ra"]
    assert "ct state invalid drop" in found[0]["summary"]
    assert "inet bda_fw forward" in found[0]["summary"]
    assert [d["root_cause"] for d in report["diagnoses"]] == ["asymmetric-path-stateful-drop"]
    results = _results(report, "path-stateful-asymmetry")
    assert {h: results[h][0] for h in PATHS} == {"bda-n1->bda-n2": "fail", "bda-n2->bda-n1": "fail"}
    assert "bda-ra sees only 10.61.1.1 -> 10.61.2.1" in results["bda-n1->bda-n2"][1]
    assert "bda-ra sees only 10.61.1.1 -> 10.61.2.1" in results["bda-n2->bda-n1"][1]  # the reply
    fixes = {f["platform"] + ":" + (f["host"] or ""): f["text"] for f in found[0]["fixes"]}
    # the reply of n1 -> n2 leaves n2 via rb; the request came through ra's 10.213.62.1
    assert any("ip route replace 10.61." in t and " via 10.213." in t for t in fixes.values()), fixes


def test_without_the_rule_the_asymmetric_path_is_no_finding(square: Square, tmp_path: Path) -> None:
    sh("ip", "netns", "exec", square.ns["ra"], "nft", "delete", "table", "inet", "bda_fw")
    assert square.tcp_connects()
    report = _run(square.inventory(tmp_path / "inventory.yaml"))
    assert "asymmetric-path-stateful-drop" not in [d["root_cause"] for d in report["diagnoses"]]
    assert report["diagnoses"] == []
    loops = _results(report, "lb-vip-no-routing-loop")
    assert (loops["bda-ra"][0], loops["bda-rb"][0]) == ("pass", "pass")
    results = _results(report, "path-stateful-asymmetry")
    assert {h: results[h][0] for h in PATHS} == {"bda-n1->bda-n2": "pass", "bda-n2->bda-n1": "pass"}
    assert {_results(report, "path-symmetric")[h][0] for h in PATHS} == {"skip"}  # both pings answered


def test_a_vip_routed_back_by_the_node_is_named_as_a_loop(square: Square, tmp_path: Path) -> None:
    sh("ip", "-n", square.ns["n1"], "route", "del", "unreachable", f"{VIP}/32")
    sh("ip", "-n", square.ns["n1"], "route", "add", "default", "via", "10.213.61.2")
    ping = square.exec("n2", "ping", "-n", "-c", "1", "-W", "2", "-I", POD["n2"], VIP)
    assert "Time to live exceeded" in ping.stdout, ping.stdout
    report = _run(square.inventory(tmp_path / "inventory.yaml"))
    found = [d for d in report["diagnoses"] if d["root_cause"] == "lb-vip-routing-loop"]
    assert found, [d["root_cause"] for d in report["diagnoses"]]
    assert found[0]["hosts"] == ["bda-n1"]
    assert f"{VIP} to bda-n1, which does not hold it as an address" in found[0]["summary"]
    loops = _results(report, "lb-vip-no-routing-loop")
    assert loops["bda-ra"] == ("fail", f"{VIP} loops: bda-ra(->eth0) -> bda-n1(eth0>eth0) -> bda-ra")
    assert loops["bda-rb"][0] == "fail"
    assert found[0]["fixes"][0]["text"].startswith(f"ip route add unreachable {VIP}/32")
