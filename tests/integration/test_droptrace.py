"""Proof of the drop, for real: faults made in namespaces of our own (client a -- router b -- server c,
all sharing this kernel), each seen by the drop tracers with the kernel's reason on the right host.

Needs root, a kernel with drop reasons and bpftrace; otherwise skipped with the reason.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from bgpdoctor.probes import droptrace as dt
from bgpdoctor.transport.netns import NetnsConnection

pytestmark = [pytest.mark.lab, pytest.mark.skipif(os.geteuid() != 0, reason="namespaces need root")]

FORMAT = "/sys/kernel/tracing/events/skb/kfree_skb/format"
CLIENT, CLIENT_ALIAS, ROUTER_IN, ROUTER_OUT, SERVER = (
    "10.213.0.1",
    "10.213.9.1",
    "10.213.0.2",
    "10.213.1.1",
    "10.213.1.2",
)
NOBODY = "10.213.1.77"  # in the server's subnet, on no interface
PREFIX = os.environ.get("BGPDOCTOR_TEST_DROPTRACE_PREFIX", "bdk")  # of this module's namespaces and links


def sh(*commands: str) -> None:
    for command in commands:
        subprocess.run(command, shell=True, check=True, capture_output=True, timeout=30)


def _why_not() -> str | None:
    if not shutil.which("bpftrace"):
        return "bpftrace is not installed (scripts/install-deps.sh installs it)"
    if not os.path.exists(FORMAT):
        proc = subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"], capture_output=True)
        if proc.returncode != 0 and not os.path.exists(FORMAT):
            return f"no tracefs: {proc.stderr.decode().strip()}"
    with open(FORMAT, encoding="utf-8") as fmt:
        if "skb_drop_reason reason" not in fmt.read():
            return f"kernel {os.uname().release} records no drop reasons"
    return None


@dataclass
class Lab:
    ns: dict[str, str]  # host -> namespace
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # of the last trace

    def exec(self, host: str, command: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.ns[host], "sh", "-c", command],
            capture_output=True,
            text=True,
            timeout=30,
            check=check,
        )

    def netns(self, host: str) -> int:
        return os.stat(f"/run/netns/{self.ns[host]}").st_ino

    def trace(self, flows: list[dt.Flow], action: str, host: str = "a") -> dict[str, dt.DropTrace]:
        """Trace drops on a, b and c while `action` runs on `host`."""
        connections = {h: NetnsConnection(h, ns) for h, ns in self.ns.items()}

        def run(h: str, _fact: str, command: str, timeout: float) -> str:
            return connections[h].run(command, timeout).stdout

        tracing = dt.DropTracing(run, flows, 60, 200)
        tracing.start(sorted(self.ns))
        try:
            self.exec(host, action)
        finally:
            traces = tracing.stop()
            self.outputs = tracing.outputs
        for h, trace in traces.items():
            assert trace.unknown is None, trace.unknown
            assert trace.method == "bpftrace" and trace.netns == self.netns(h)
        return traces


def connect(address: str, port: int, source: str = CLIENT, md5: str | None = None, peer: str = SERVER) -> str:
    """Python run in a namespace: one TCP connect (with an MD5 key for `peer` if given), 1.5 s at most."""
    return textwrap.dedent(f"""\
        python3 - <<'EOF'
        import socket, struct
        s = socket.socket()
        s.bind(({source!r}, 0))
        key = {md5!r}
        if key:
            addr = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 0) + socket.inet_aton({peer!r})
            sig = addr.ljust(128, b"\\0") + struct.pack("=BBHi", 0, 0, len(key), 0)
            sig += key.encode().ljust(80, b"\\0")
            s.setsockopt(socket.IPPROTO_TCP, 14, sig)  # TCP_MD5SIG
        s.settimeout(1.5)
        try:
            s.connect(({address!r}, {port}))
        except OSError as exc:
            print(exc)
        EOF""")


def listen(port: int, md5: str | None = None, peer: str = CLIENT) -> str:
    """Python run in the background in a namespace: a listener on SERVER:port, for 20 s."""
    return textwrap.dedent(f"""\
        python3 - >/dev/null 2>&1 <<'EOF' &
        import socket, struct, time
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        key = {md5!r}
        if key:
            addr = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 0) + socket.inet_aton({peer!r})
            sig = addr.ljust(128, b"\\0") + struct.pack("=BBHi", 0, 0, len(key), 0)
            sig += key.encode().ljust(80, b"\\0")
            s.setsockopt(socket.IPPROTO_TCP, 14, sig)
        s.bind(({SERVER!r}, {port}))
        s.listen()
        time.sleep(20)
        EOF
        sleep 0.3""")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    why = _why_not()
    if why:
        pytest.skip(why)
    tag = PREFIX + secrets.token_hex(2)
    ns = {h: f"{tag}-{h}" for h in "abc"}
    lab = Lab(ns)
    try:
        sh(*(f"ip netns add {n} && ip -n {n} link set lo up" for n in ns.values()))
        sh(
            f"ip link add {tag}a0 netns {ns['a']} type veth peer name {tag}b0 netns {ns['b']}",
            f"ip link add {tag}b1 netns {ns['b']} type veth peer name {tag}c0 netns {ns['c']}",
            f"ip -n {ns['a']} addr add {CLIENT}/24 dev {tag}a0 && ip -n {ns['a']} link set {tag}a0 up",
            f"ip -n {ns['a']} addr add {CLIENT_ALIAS}/32 dev lo",
            f"ip -n {ns['a']} route add default via {ROUTER_IN}",
            f"ip -n {ns['b']} addr add {ROUTER_IN}/24 dev {tag}b0",
            f"ip -n {ns['b']} addr add {ROUTER_OUT}/24 dev {tag}b1",
            f"ip -n {ns['b']} link set {tag}b0 up && ip -n {ns['b']} link set {tag}b1 up",
            f"ip -n {ns['b']} link set {tag}b1 mtu 1280",
            # the client's alias is routed away from the client: strict rp_filter drops what it sends
            f"ip -n {ns['b']} route add 10.213.9.0/24 via {SERVER}",
            f"ip netns exec {ns['b']} sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=1"
            f" net.ipv4.conf.{tag}b0.rp_filter=1",
            f"ip netns exec {ns['b']} sysctl -qw net.ipv4.neigh.{tag}b1.mcast_solicit=1"
            f" net.ipv4.neigh.{tag}b1.retrans_time_ms=200",
            f"ip -n {ns['c']} addr add {SERVER}/24 dev {tag}c0 && ip -n {ns['c']} link set {tag}c0 up",
            f"ip -n {ns['c']} link set {tag}c0 mtu 1280",
            f"ip -n {ns['c']} route add default via {ROUTER_OUT}",
            f"ip netns exec {ns['c']} nft -f - <<'EOF'\n"
            "table inet bdk {\n chain input {\n  type filter hook input priority 0;\n"
            '  tcp dport 180 drop\n  tcp dport 184 counter drop comment "counted"\n }\n}\nEOF',
        )
        lab.exec("a", f"ping -c 1 -W 2 {SERVER}", check=True)  # the healthy path works
        yield lab
    finally:
        for n in ns.values():
            subprocess.run(["ip", "netns", "del", n], capture_output=True)


def reasons(trace: dt.DropTrace) -> dict[str, int]:
    out: dict[str, int] = {}
    for event in trace.faults:
        out[event.reason] = out.get(event.reason, 0) + event.count
    return out


def test_strict_rp_filter_on_the_router_is_ip_rpfilter_there(lab: Lab) -> None:
    flows = [dt.Flow(CLIENT_ALIAS, SERVER, 1)]
    traces = lab.trace(flows, f"ping -n -c 3 -i 0.2 -W 1 -I {CLIENT_ALIAS} {SERVER}")
    assert reasons(traces["b"]) == {"IP_RPFILTER": 3}
    assert traces["b"].faults[0].location == "ip_rcv_finish_core"
    assert (traces["b"].faults[0].src, traces["b"].faults[0].dst) == (CLIENT_ALIAS, SERVER)
    assert reasons(traces["a"]) == {} and reasons(traces["c"]) == {}


def test_an_nft_drop_on_the_server_is_netfilter_drop_there(lab: Lab) -> None:
    traces = lab.trace([dt.Flow(CLIENT, SERVER, 6, 180)], connect(SERVER, 180))
    assert set(reasons(traces["c"])) == {"NETFILTER_DROP"}
    assert traces["c"].faults[0].dport == 180
    assert traces["c"].faults[0].location in ("nft_do_chain", "nf_hook_slow")  # 6.18: nft_do_chain
    assert reasons(traces["a"]) == {} and reasons(traces["b"]) == {}


def test_the_nft_rule_that_dropped_it_is_named_by_its_counter(lab: Lab) -> None:
    traces = lab.trace([dt.Flow(CLIENT, SERVER, 6, 184)], connect(SERVER, 184))
    assert set(reasons(traces["c"])) == {"NETFILTER_DROP"}
    assert traces["c"].nft_rule is not None and traces["c"].nft_unnamed is None
    assert traces["c"].nft_rule.startswith("inet bdk input handle "), traces["c"].nft_rule
    assert traces["c"].nft_rule.endswith(': tcp dport 184 drop (comment "counted")'), traces["c"].nft_rule


def test_a_drop_rule_without_a_counter_is_not_named_and_says_why(lab: Lab) -> None:
    traces = lab.trace([dt.Flow(CLIENT, SERVER, 6, 180)], connect(SERVER, 180))
    assert traces["c"].nft_rule is None
    assert traces["c"].nft_unnamed == (
        "rule not named: no counted drop rule rose; it was one of: 1 drop rule without a counter"
    )


def test_a_syn_to_a_closed_port_is_no_socket_and_a_reset(lab: Lab) -> None:
    traces = lab.trace([dt.Flow(CLIENT, SERVER, 6, 181)], connect(SERVER, 181))
    assert reasons(traces["c"]) == {"NO_SOCKET": 1}
    assert traces["c"].faults[0].location == "tcp_v4_rcv"


def test_md5_key_missing_on_the_caller_is_tcp_md5notfound_at_the_listener(lab: Lab) -> None:
    lab.exec("c", listen(179, md5="secret-x"))
    traces = lab.trace([dt.Flow(CLIENT, SERVER, 6, 179)], connect(SERVER, 179))
    assert set(reasons(traces["c"])) == {"TCP_MD5NOTFOUND"}
    assert reasons(traces["a"]) == {}


def test_md5_key_only_on_the_caller_is_tcp_md5unexpected_at_the_listener(lab: Lab) -> None:
    lab.exec("c", listen(182))
    traces = lab.trace([dt.Flow(CLIENT, SERVER, 6, 182)], connect(SERVER, 182, md5="secret-x"))
    assert set(reasons(traces["c"])) == {"TCP_MD5UNEXPECTED"}


def test_a_too_big_df_packet_is_pkt_too_big_on_the_router(lab: Lab) -> None:
    traces = lab.trace([dt.Flow(CLIENT, SERVER, 1)], f"ping -n -c 2 -i 0.2 -W 1 -M do -s 1400 {SERVER}")
    # one: the ICMP "frag needed" that the router sends back makes the client's next ping fail locally
    assert reasons(traces["b"]) == {"PKT_TOO_BIG": 1}
    assert traces["b"].faults[0].location == "ip_forward"


def test_an_address_nobody_answers_arp_for_is_neigh_failed_on_the_router(lab: Lab) -> None:
    traces = lab.trace([dt.Flow(CLIENT, NOBODY, 1)], f"ping -n -c 1 -W 2 {NOBODY}")
    assert set(reasons(traces["b"])) == {"NEIGH_FAILED"}


def test_healthy_probes_show_no_drop(lab: Lab) -> None:
    # ping's echo replies are also offered to ICMP datagram sockets, and dropped there as NO_SOCKET
    # at ping_rcv when ping uses a raw socket: normal, so not a fault
    flows = [dt.Flow(CLIENT, SERVER, 1), dt.Flow(CLIENT, SERVER, 6, 183)]
    lab.exec(
        "c", "timeout 5 nc -l -s 10.213.1.2 -p 183 >/dev/null 2>&1 &" if shutil.which("nc") else listen(183)
    )
    traces = lab.trace(flows, f"ping -n -c 3 -i 0.2 -W 1 {SERVER}; " + connect(SERVER, 183))
    assert all(reasons(t) == {} for t in traces.values()), {h: t.events for h, t in traces.items()}


def test_tracers_are_gone_afterwards(lab: Lab) -> None:
    """Nothing of this trace's tracers is left: no process, no work dir (other bgpdoctor runs on the
    machine may be tracing meanwhile, so only this trace's work dirs are looked for)."""
    lab.trace([dt.Flow(CLIENT, SERVER, 1)], "true")
    dirs = [dt.parse_start(o[dt.START_FACT])[0] for o in lab.outputs.values() if dt.START_FACT in o]
    assert dirs
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if any(d.encode() in cmdline.read() for d in dirs):
                    left.append(pid)
        except OSError:
            continue
    assert not left
    assert not [d for d in dirs if os.path.exists(d)]
