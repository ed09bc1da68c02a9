"""Tunnels and host firewalls made real in namespaces, then read the way a run reads them.

- WireGuard (wireguard-go) between two namespaces, the peer's endpoint first on the other side's
  pod address (its `cilium_host` address inside the pod CIDR, routed over the underlay), then on its
  node address: `wg show all endpoints` as wg prints it must give tunnel-over-cni-loop for the first
  and nothing for the second; no collected output holds the private key.
- nftables: `notrack` at raw priority plus an input chain that accepts by `ct state
  established,related` drops the echo reply (the ping fails for real); bgpdoctor names it from
  `nft -j list ruleset`, and the rule its playbook renders makes the ping pass. Without the notrack
  rule the same firewall passes the ping and nothing is found.

Every packet stays between the test's own namespaces (prefix bdn-); all are deleted afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bgpdoctor.engine.active import ActiveResults
from bgpdoctor.engine.collect import HostFacts
from bgpdoctor.engine.judge import render
from bgpdoctor.engine.rules import load_playbooks
from bgpdoctor.engine.run import Collected, RunOptions, evaluate
from bgpdoctor.engine.tunnels import WG_ENDPOINTS
from bgpdoctor.engine.untracked import Packet, untracked_drop
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.parsers.nft import parse_ruleset
from bgpdoctor.parsers.wireguard import parse_endpoints
from bgpdoctor.redact import redact
from bgpdoctor.report.model import Report
from bgpdoctor.transport.base import CommandResult

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "nft", "ping")),
    reason="needs root, iproute2, nft and ping (network namespaces)",
)
TIMEOUT = 30  # the machine is shared and loaded


def run(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), input=stdin, text=True, capture_output=True, check=check, timeout=TIMEOUT
    )


def ns_run(
    ns: str, *args: str, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return run("ip", "netns", "exec", ns, *args, check=check, stdin=stdin)


def ping(ns: str, src: str, dst: str) -> bool:
    return ns_run(ns, "ping", "-n", "-c", "1", "-W", "2", "-I", src, dst, check=False).returncode == 0


@pytest.fixture
def pair() -> Iterator[tuple[str, str]]:
    """Two namespaces joined by a veth: a (192.168.77.1, pod 10.42.0.1) and b (192.168.77.2, pod
    10.42.3.1 on cilium_host), each routing the other's pod range over the veth."""
    tag = uuid.uuid4().hex[:6]
    a, b = f"bdn-a-{tag}", f"bdn-b-{tag}"
    for ns in (a, b):
        run("ip", "netns", "add", ns)
    try:
        run(
            "ip",
            "link",
            "add",
            f"bdn{tag}a",
            "netns",
            a,
            "type",
            "veth",
            "peer",
            "name",
            f"bdn{tag}b",
            "netns",
            b,
        )
        for ns, link, addr, pod, other_pod, gateway in (
            (a, f"bdn{tag}a", "192.168.77.1", "10.42.0.1", "10.42.3.0/24", "192.168.77.2"),
            (b, f"bdn{tag}b", "192.168.77.2", "10.42.3.1", "10.42.0.0/24", "192.168.77.1"),
        ):
            run("ip", "-n", ns, "link", "set", link, "name", "eth0")
            # as Cilium makes it: a veth pair cilium_host / cilium_net (no dummy module here)
            run("ip", "-n", ns, "link", "add", "cilium_host", "type", "veth", "peer", "name", "cilium_net")
            for up in ("lo", "eth0", "cilium_host", "cilium_net"):
                run("ip", "-n", ns, "link", "set", up, "up")
            run("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
            run("ip", "-n", ns, "addr", "add", f"{pod}/32", "dev", "cilium_host")
            run("ip", "-n", ns, "route", "add", other_pod, "via", gateway)
        yield a, b
    finally:
        for ns in (a, b):
            run("ip", "netns", "del", ns, check=False)


# -- a run's view of outputs collected here ------------------------------------------------------


def _evaluate(inv: Inventory, outputs: dict[str, dict[str, CommandResult]]) -> Report:
    facts = {n: HostFacts(n, inv.hosts[n], outputs=outputs.get(n, {}), contacted=True) for n in inv.hosts}
    collected = Collected(list(inv.hosts), facts, ActiveResults(), datetime.now(UTC), 0.0)
    return evaluate(inv, "inventory.yaml", collected, RunOptions())


def _collected(ns: str, command: list[str]) -> CommandResult:
    proc = ns_run(ns, *command, check=False)
    return CommandResult(
        " ".join(command), proc.returncode, redact(proc.stdout).encode(), redact(proc.stderr)
    )


# -- WireGuard over the pod network ----------------------------------------------------------------


@pytest.mark.skipif(
    not (shutil.which("wg") and shutil.which("wireguard-go")), reason="needs wg and wireguard-go"
)
def test_a_wireguard_peer_reached_at_its_pod_address_is_found_and_its_node_address_is_clean(
    pair: tuple[str, str],
) -> None:
    a, b = pair
    tag = uuid.uuid4().hex[:6]
    # wireguard-go's UAPI socket (/var/run/wireguard/NAME.sock) is not per namespace: one name each
    names = {a: f"bdnwg{tag}a", b: f"bdnwg{tag}b"}
    ifname = names[a]
    keys = {ns: run("wg", "genkey").stdout.strip() for ns in (a, b)}
    pubs = {ns: run("wg", "pubkey", stdin=keys[ns]).stdout.strip() for ns in (a, b)}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for ns, tunnel_ip in ((a, "10.254.7.1"), (b, "10.254.7.2")):
            procs.append(subprocess.Popen(["ip", "netns", "exec", ns, "wireguard-go", "-f", names[ns]]))
            for _ in range(100):
                if ns_run(ns, "ip", "link", "show", names[ns], check=False).returncode == 0:
                    break
                time.sleep(0.1)
            key_file = f"/dev/shm/{names[ns]}.key"
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(keys[ns])
            try:
                ns_run(ns, "wg", "set", names[ns], "listen-port", "51820", "private-key", key_file)
            finally:
                os.unlink(key_file)
            ns_run(ns, "ip", "addr", "add", f"{tunnel_ip}/30", "dev", names[ns])
            ns_run(ns, "ip", "link", "set", names[ns], "up")
        ns_run(b, "wg", "set", names[b], "peer", pubs[a], "allowed-ips", "10.254.7.1/32")
        # a's peer is b at b's pod address: the tunnel rides the pod network
        ns_run(
            a,
            "wg",
            "set",
            ifname,
            "peer",
            pubs[b],
            "endpoint",
            "10.42.3.1:51820",
            "allowed-ips",
            "10.254.7.2/32",
        )
        assert ping(a, "10.254.7.1", "10.254.7.2"), "the tunnel itself must pass traffic"

        inv = Inventory.model_validate(
            {
                "pod_cidr": "10.42.0.0/16",
                "hosts": {
                    "a": {"role": "node", "connect": {"netns": a}, "addresses": ["192.168.77.1"]},
                    "b": {
                        "role": "node",
                        "connect": {"netns": b},
                        "addresses": ["192.168.77.2", "10.42.3.1"],
                    },
                },
            }
        )

        def outputs() -> dict[str, dict[str, CommandResult]]:
            return {
                "a": {
                    WG_ENDPOINTS: _collected(a, ["wg", "show", "all", "endpoints"]),
                    "ip.route": _collected(a, ["ip", "-j", "route", "show", "table", "main"]),
                    "ip.addr": _collected(a, ["ip", "-j", "addr", "show"]),
                }
            }

        collected = outputs()
        mine = [p for p in parse_endpoints(collected["a"][WG_ENDPOINTS].stdout) if p.interface == ifname]
        assert [(p.peer_key, p.endpoint) for p in mine] == [(pubs[b], "10.42.3.1:51820")]
        report = _evaluate(inv, collected)
        found = next(d for d in report.diagnoses if d.root_cause == "tunnel-over-cni-loop")
        assert found.hosts == ["a"]
        assert f"wg set {ifname} peer {pubs[b]} endpoint 192.168.77.2:51820" in found.fixes[0].text
        dumped = report.model_dump_json()
        assert keys[a] not in dumped and keys[b] not in dumped

        # the fix: b at its node address
        ns_run(a, "wg", "set", ifname, "peer", pubs[b], "endpoint", "192.168.77.2:51820")
        assert ping(a, "10.254.7.1", "10.254.7.2")
        report = _evaluate(inv, outputs())
        assert "tunnel-over-cni-loop" not in [d.root_cause for d in report.diagnoses]
        assert (
            next(r.status for r in report.results if r.check == "tunnel-not-over-cni" and r.host == "a")
            == "pass"
        )
    finally:
        for ns in (a, b):
            ns_run(ns, "ip", "link", "del", names[ns], check=False)
        for p in procs:
            p.terminate()
            p.wait(timeout=TIMEOUT)


# -- nftables: untracked replies on the input path -------------------------------------------------

FIREWALL = """
table inet bdn_fw {
    chain input {
        type filter hook input priority filter; policy drop;
        iifname "lo" accept
        ct state established,related counter accept
        tcp dport 22 accept
    }
}
"""
NOTRACK = """
table inet bdn_raw {
    chain prerouting {
        type filter hook prerouting priority raw; policy accept;
        ip saddr 10.42.0.0/16 counter notrack
    }
}
"""
REPLY = Packet("10.42.3.1", "10.42.0.1", "eth0", "icmp")


def _fix(found_table: str, found_chain: str) -> str:
    playbook = next(p for p in load_playbooks() if p.id == "firewall-blocks-pod-cidr")
    facts: dict[str, Any] = {
        "firewall_untracked": True,
        "firewall_host": "a",
        "firewall_table": found_table,
        "firewall_chain": found_chain,
        "cluster_pod_cidr": "10.42.0.0/16",
    }
    return render(playbook.fixes[0].template, facts, playbook.id)


def test_an_untracked_reply_is_dropped_named_and_let_in_by_the_rendered_fix(pair: tuple[str, str]) -> None:
    a, _b = pair
    ns_run(a, "nft", "-f", "-", stdin=FIREWALL)
    assert ping(a, "10.42.0.1", "10.42.3.1"), "tracked, the reply is established and passes"
    assert untracked_drop(parse_ruleset(ns_run(a, "nft", "-j", "list", "ruleset").stdout), REPLY) is None

    ns_run(a, "nft", "-f", "-", stdin=NOTRACK)
    assert not ping(a, "10.42.0.1", "10.42.3.1"), "untracked, the reply meets no ct state rule"
    ruleset = json.loads(ns_run(a, "nft", "-j", "list", "ruleset").stdout)
    found = untracked_drop(parse_ruleset(json.dumps(ruleset)), REPLY)
    assert found is not None
    assert found.notrack.matches == "ip saddr 10.42.0.0/16 notrack"

    fix = _fix(f"{found.chain.family} {found.chain.table}", found.chain.name)
    assert fix == "nft insert rule inet bdn_fw input ct state untracked ip saddr 10.42.0.0/16 accept"
    ns_run(a, *fix.split())
    assert ping(a, "10.42.0.1", "10.42.3.1"), "the playbook's rule lets the untracked reply in"
    assert untracked_drop(parse_ruleset(ns_run(a, "nft", "-j", "list", "ruleset").stdout), REPLY) is None
