"""Phase 2: active probes that need several hosts at once, run concurrently.

- SYN captures at both ends of every session that is not Established (what source really arrives);
- pod-to-pod pings and the DF-ping MTU sweep along a set of node pairs covering every site pair;
- TCP + TLS to every kubelet from the metrics-server vantage point.
All raw outputs are stored in the hosts' HostFacts, so they become evidence like phase-1 facts.

The probes a host's own facts already determine (its pod pings, the first DF probe of each of its
sweeps, the kubelet probes from the vantage host) start as soon as that host is collected, while
the other hosts still are (ProbeRunner); the probe phase takes their results over, so a run lasts
about as long as its slowest host's collection and probes, not the sum of the phases.
"""

from __future__ import annotations

import contextlib
import secrets
import shlex
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_address

from bgpdoctor.drivers import is_appliance
from bgpdoctor.engine.collect import NETSTAT_COMMAND, HostFacts, clean_result
from bgpdoctor.engine.liveness import session_rtt_ms
from bgpdoctor.engine.sessions import established, expected_sessions
from bgpdoctor.engine.world import Session, World
from bgpdoctor.errors import HostError
from bgpdoctor.inventory_model import Inventory
from bgpdoctor.parsers.ping import PingResult, parse_ping
from bgpdoctor.probes.batch import KILL_AFTER_S, parse_probe_batch, probe_batch_script
from bgpdoctor.probes.capture import syn_capture_command
from bgpdoctor.probes.droptrace import DropTrace, DropTracing, Flow
from bgpdoctor.probes.kubelet import KubeletProbe, kubelet_command, parse_kubelet_probe
from bgpdoctor.probes.mtu import USER_PING_INTERVAL, SweepResult, ping_command, probe_wait, run_sweep
from bgpdoctor.redact import redact
from bgpdoctor.transport.base import CommandResult

# probes (and the jobs waiting on them) in flight at once: each mostly waits on a host or a timer
PROBE_WORKERS = 64
# commands at once on one host: each is an SSH session, and sshd allows 10 per connection by
# default (MaxSessions); one more would fail to open and cost the host its connection
PROBES_PER_HOST = 8


@dataclass
class ProbeSettings:
    capture_seconds: float = 12.0
    ping_wait: float = 1.0
    command_timeout: float = 10.0
    mtu_sweep: bool = True
    capture: bool = True
    drop_trace: bool = False  # trace the kernel's packet drops (skb:kfree_skb) on every host while probing
    drop_trace_seconds: float = 180.0  # upper bound: the tracer stops itself after this
    drop_trace_events: int = 1000


@dataclass
class NodePair:
    """Two hosts whose path is probed: pod to pod, or one BGP session's segment (end to end)."""

    source: str
    destination: str
    src_ip: str
    dst_ip: str
    dst_cidr: str
    segment: bool = False  # the path between the two ends of a BGP session, probed for its MTU
    ipv6: bool = False  # the IPv6 pod path of two dual-stack nodes, beside their IPv4 one (engine/ipv6.py)

    @property
    def key(self) -> str:
        """Example: "sakamoto->yuuko-k8s", or "router-home->router-mine bgp 192.168.191.12" for a segment."""
        base = f"{self.source}->{self.destination}" + ("/ipv6" if self.ipv6 else "")
        return f"{base} bgp {self.dst_ip}" if self.segment else base


@dataclass
class ActiveResults:
    captures: dict[str, bytes] = field(default_factory=dict)  # host -> pcap bytes
    capture_errors: dict[str, str] = field(default_factory=dict)
    pings: dict[str, tuple[PingResult, str, str]] = field(default_factory=dict)  # pair -> (res, cmd, raw)
    sweeps: dict[str, SweepResult] = field(default_factory=dict)
    kubelets: dict[str, tuple[KubeletProbe, str, str]] = field(
        default_factory=dict
    )  # node -> (res, cmd, raw)
    # ICMP from a session end to the address it has configured for its peer (sessions not up only):
    # "host->address" -> (result, command, raw output)
    peer_pings: dict[str, tuple[PingResult, str, str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    drops: dict[str, DropTrace] = field(default_factory=dict)  # host -> the kernel's drops of probe packets

    @property
    def mtu_probe_count(self) -> int:
        return sum(len(s.probes) for s in self.sweeps.values())


def routing_domains(inv: Inventory) -> dict[str, int]:
    """Hosts joined by configured BGP sessions (directly or through routers) share a domain number.

    Pod routes only travel along BGP sessions, so two nodes in different domains (two separate
    clusters in one inventory, like the lab's seed sites) are never expected to reach each other.
    Example: {"router-mine": 0, "sakamoto": 0, "yuuko-k8s": 0, "gateway": 1, "kubemaster": 1}
    """
    parent = {name: name for name in inv.hosts}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for name, host in inv.hosts.items():
        for peer in host.peers:
            if peer.host in parent:
                parent[root(peer.host)] = root(name)
    numbers: dict[str, int] = {}
    return {name: numbers.setdefault(root(name), len(numbers)) for name in inv.hosts}


def node_pairs(world: World, scope: list[str], focus: list[str]) -> list[NodePair]:
    """The pod paths to probe between nodes with a pod probe address in one routing domain.

    With --node: every pair that involves a focused node, both ways (its scope is already small).
    Otherwise a covering set that grows linearly with the nodes, not all N² ordered pairs:
    - within each site a ring (a->b, b->c, ..., z->a), so every node sends and receives once and a
      node-local fault (its firewall, its rp_filter) is met on two paths;
    - between every two sites of a domain, one node of each, both ways (the return path of an
      asymmetric route), the nodes taken in turn so the far ends spread over the site;
    - more pairs between two sites for nodes whose path to the far node, or back, goes through
      other hosts, so every router on the way between two sites is on a probed path.
    Example (one node per site): [sakamoto->yuuko-k8s, yuuko-k8s->sakamoto]
    """
    inv = world.inv
    nodes = [n for n in scope if inv.hosts[n].role == "node" and pod_address(world, n)]
    domain = routing_domains(inv)
    if focus:
        ordered = [
            (a, b)
            for a in nodes
            for b in nodes
            if a != b and (a in focus or b in focus) and domain[a] == domain[b]
        ]
    else:
        ordered = _covering_pairs(world, nodes, domain)
    from bgpdoctor.engine import ipv6

    return [_node_pair(world, a, b) for a, b in ordered] + ipv6.pod_pairs(world, ordered)


def pod_address(world: World, name: str) -> str | None:
    """The address a node's pod paths are probed from and to: its inventory `pod_probe_ip`, else
    the first IPv4 address it holds inside one of its IPv4 pod CIDRs (Cilium's cilium_host,
    flannel's cni0, Calico's tunl0 or vxlan.calico); None: neither (its pod paths are not probed,
    and the host check pod-probe-address says why).

    Example: pod_address(world, "n1") -> "10.42.1.1"
    """
    host = world.inv.hosts[name]
    if host.pod_probe_ip is not None:
        return str(host.pod_probe_ip)
    cidrs = [c for c in host.pod_cidrs if isinstance(c, IPv4Network)]
    if not cidrs or name not in world.facts:
        return None
    return world.memo(("pod_address", name), lambda: held_inside(world, name, cidrs))


def held_inside(world: World, name: str, cidrs: Sequence[IPv4Network | IPv6Network]) -> str | None:
    """The first address `ip addr` shows on `name` inside one of `cidrs` (None: none)."""
    for a in world.addresses(name):
        try:
            address = ip_address(a.address)
        except ValueError:
            continue
        if any(address in c for c in cidrs):
            return a.address
    return None


def pod_cidr_of(world: World, name: str, address: str) -> str:
    """The node's pod CIDR that holds `address` (the address's /32 when none does)."""
    held = ip_address(address)
    return next((str(c) for c in world.inv.hosts[name].pod_cidrs if held in c), f"{address}/32")


def _node_pair(world: World, source: str, destination: str) -> NodePair:
    src, dst = pod_address(world, source), pod_address(world, destination)
    assert src is not None and dst is not None  # node_pairs keeps only nodes that have one
    return NodePair(source, destination, src, dst, pod_cidr_of(world, destination, dst))


def _covering_pairs(world: World, nodes: list[str], domain: dict[str, int]) -> list[tuple[str, str]]:
    """Ordered (source, destination) pairs: see `node_pairs`. Cost: one trace each way per node and
    other site of its domain."""
    inv = world.inv
    sites: dict[tuple[int, str | None], list[str]] = {}
    for n in nodes:
        sites.setdefault((domain[n], inv.hosts[n].site), []).append(n)
    chosen: dict[tuple[str, str], None] = {}
    for members in sites.values():
        if len(members) > 1:
            chosen.update(((a, members[(i + 1) % len(members)]), None) for i, a in enumerate(members))
    turn = dict.fromkeys(sites, 0)

    def take(site: tuple[int, str | None]) -> str:
        members = sites[site]
        turn[site] += 1
        return members[(turn[site] - 1) % len(members)]

    keys = list(sites)
    for i, near in enumerate(keys):
        for far in keys[i + 1 :]:
            if near[0] != far[0]:
                continue
            a, b = take(near), take(far)
            for site, mine, other in ((near, a, b), (far, b, a)):
                seen = {_ways(world, mine, other)}
                chosen.update({(mine, other): None, (other, mine): None})
                for n in sites[site]:
                    if (way := _ways(world, n, other)) not in seen:
                        seen.add(way)
                        chosen.update({(n, other): None, (other, n): None})
    return list(chosen)


def _ways(world: World, node: str, far: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The hosts between two nodes' pod addresses, there and back, as their FIBs route it.

    Example: (("router-home", "router-mine"), ("router-mine",))
    """
    here, there = str(pod_address(world, node)), str(pod_address(world, far))
    forth = world.trace(node, here, there, f"{there}/32", far).transit
    back = world.trace(far, there, here, f"{here}/32", node).transit
    return tuple(forth), tuple(back)


def segment_pairs(world: World, sessions: list[Session]) -> list[NodePair]:
    """Each BGP session's two ends, both ways: probed for the MTU of the segment the session
    crosses, so a black hole on one segment is found even when another fault stops pod traffic."""
    pairs = []
    for session in sessions:
        for end in session.ends:
            other = next((e for e in session.ends if e is not end), None)
            if other is None or end.peer is None or end.host not in world.facts:
                continue
            address = str(end.peer.address)
            if end.peer.link_local:
                continue  # ping would need the interface (fe80::1%eth0) and -I takes only one of them
            if not end.source_address:
                continue  # no `ip route get` towards the peer: no source to probe from, nothing to claim
            host_route = f"{address}/{128 if ':' in address else 32}"
            pairs.append(NodePair(end.host, other.host, end.source_address, address, host_route, True))
    return pairs


# two echo requests (one may be lost to ARP or a first-packet drop) as close as any user may send
# them, since a sweep waits for this ping
PING_INTERVAL = USER_PING_INTERVAL


def peer_ping_command(address: str, settings: ProbeSettings) -> str:
    """Example: "ping -n -c 2 -i 0.2 -W 1 192.168.191.12" """
    return f"ping -n -c 2 -i {PING_INTERVAL:g} -W {settings.ping_wait:g} {shlex.quote(address)}"


def ping_pair_command(pair: NodePair, settings: ProbeSettings) -> str:
    """Example: "ping -n -c 2 -i 0.2 -W 1 -I 10.42.3.1 10.42.0.1" """
    return (
        f"ping -n -c 2 -i {PING_INTERVAL:g} -W {settings.ping_wait:g} -I {shlex.quote(pair.src_ip)} "
        f"{shlex.quote(pair.dst_ip)}"
    )


_Outcome = CommandResult | HostError | None


class _Rerun:
    """An early probe's answer the probe batch did not bring back: the probe phase runs it alone."""


RERUN = _Rerun()
_Early = _Outcome | _Rerun
# an early probe: the future the probe phase finds, its command, timeout and sweep stage
_Job = tuple[Future[_Early], str, float, "_SweepStage | None"]
# the sweep follows a router's or the kernel's MTU hint this many times before it searches
HINTS_FOLLOWED = 4


class ProbeRunner:
    """Runs the probe commands; starts a host's probes early, right after its collection.

    `host_collected` (collect_all's `on_host`) starts what the host's own facts and the inventory
    already fix: the pings of the pod paths every run probes (the covering set, before the FIBs add
    paths through routers), its pings to the peers of its sessions that are not up, the kubelet
    probes when it is the vantage point, and the first stage of the MTU sweep of its pod paths and
    session segments (after the ping that sets its waits: the first DF probe, then the sizes its
    answers name), each command exactly as the probe phase sends it. `run` hands such a result over
    when the probe phase sends the same command from the same host, and runs the command otherwise;
    an early result nobody asks for is dropped (it is no evidence). Nothing starts early while
    kernel drops are traced (the tracers start with the probe phase), nor with `early=False`.
    """

    def __init__(
        self,
        inv: Inventory,
        scope: list[str],
        nodes: list[str],
        settings: ProbeSettings,
        early: bool = True,
    ) -> None:
        self.inv = inv
        self.scope = scope
        self.settings = settings
        self.early = early and not settings.drop_trace
        self._pool = ThreadPoolExecutor(max_workers=PROBE_WORKERS, thread_name_prefix="probe")
        self._lock = threading.Lock()
        self._started: dict[tuple[str, str], Future[_Early]] = {}
        self._claimed: set[tuple[str, str]] = set()  # run by the probe phase itself
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._pod_pairs: list[NodePair] = []
        if self.early:
            try:  # the pod paths whatever the FIBs say (node_pairs adds paths through routers)
                self._pod_pairs = node_pairs(World(inv, {}), scope, nodes)
            except Exception:  # a guess that cannot be made costs time, not correctness
                self._pod_pairs = []

    def host_collected(self, facts: HostFacts) -> None:
        """Start the probes `facts`' host sends that the probe phase will ask for; never raises."""
        if not self.early or not facts.reachable:
            return
        try:
            commands, sweeps = self._early_probes(facts)
        except Exception:  # a guess that cannot be made costs time, not correctness
            return
        jobs: list[_Job] = []
        for command, timeout in commands.items():
            if (announced := self._announce(facts.name, command)) is not None:
                jobs.append((announced, command, timeout, None))
        for pair, start, ping, rtt_ms in sweeps:
            wait = probe_wait(rtt_ms, self.settings.ping_wait)
            first, timeout = ping or (
                ping_command(pair.src_ip or None, pair.dst_ip, start, wait),
                self.probe_timeout,
            )
            if (announced := self._announce(facts.name, first)) is not None:
                follow = _SweepStage(pair, start, self.settings, pinged=ping is None, wait=wait)
                jobs.append((announced, first, timeout, follow))
        if is_appliance(self.inv.hosts[facts.name].speaker):
            for job in jobs:  # a vendor CLI runs no sh script: one exec per probe
                self._submit(facts, [job])
        elif jobs:
            self._submit(facts, jobs)

    def _submit(self, facts: HostFacts, jobs: list[_Job]) -> None:
        """Start the host's early probes in rounds; every announced future is settled whatever
        becomes of them (the probe phase waits for them)."""
        announced = [job[0] for job in jobs]

        def settle(task: Future[None]) -> None:
            error = None if task.cancelled() else task.exception()
            for waiting in list(announced):
                if not waiting.done():
                    with contextlib.suppress(InvalidStateError):
                        waiting.set_exception(error or RuntimeError("early probe dropped"))

        try:
            task = self._pool.submit(self._chain, facts, jobs, announced)
        except RuntimeError:  # the pool is closed: the probe phase runs the commands itself
            with self._lock:
                for _waiting, command, _timeout, _follow in jobs:
                    self._started.pop((facts.name, command), None)
            return
        task.add_done_callback(settle)

    @property
    def probe_timeout(self) -> float:
        return self.settings.ping_wait + self.settings.command_timeout

    def _early_probes(
        self, facts: HostFacts
    ) -> tuple[dict[str, float], list[tuple[NodePair, int, tuple[str, float] | None, float | None]]]:
        """The host's early probes: commands with their timeouts, and its sweeps (pair, first size,
        the ping whose round trip sets the sweep's waits, or the round trip already known)."""
        settings, name = self.settings, facts.name
        world = World(self.inv, {name: facts})
        commands: dict[str, float] = {}
        sweeps: list[tuple[NodePair, int, tuple[str, float] | None, float | None]] = []
        own = [p for p in self._pod_pairs if p.source == name]
        sessions = expected_sessions(world, self.scope)
        down = {  # its ends of sessions not up: the probe phase pings their peers
            str(e.peer.address)
            for s in sessions
            if s.b is not None and settings.capture
            for e in s.ends
            if e.host == name and e.peer is not None and not established(e)
        }
        for address in sorted(down):
            commands[peer_ping_command(address, settings)] = settings.command_timeout
        for pair in own:
            commands[ping_pair_command(pair, settings)] = settings.command_timeout
        if settings.mtu_sweep:
            segments = [p for p in segment_pairs(world, sessions) if p.source == name]
            for pair in own + segments:
                if pair.segment:
                    ping = peer_ping_command(pair.dst_ip, settings) if pair.dst_ip in down else None
                else:
                    ping = ping_pair_command(pair, settings)
                commands.pop(ping or "", None)  # the sweep's chain sends it
                step = (ping, settings.command_timeout) if ping else None
                known = None if ping else _socket_rtt(world, pair)
                sweeps.append((pair, _start_mtu(world, name, pair.dst_ip), step, known))
        if name == self.inv.vantage.metrics_server:
            for node in self.scope:
                host = self.inv.hosts[node]
                if host.role == "node" and host.internal_ip:
                    command = _kubelet_probe(str(host.internal_ip), self.inv.vantage.kubelet_port, settings)
                    commands[command] = settings.command_timeout
        return commands, sweeps

    def _announce(self, host: str, command: str) -> Future[_Early] | None:
        """A future the probe phase will find for `command` on `host`; None when it is taken."""
        with self._lock:
            if (host, command) in self._started or (host, command) in self._claimed:
                return None
            announced: Future[_Early] = Future()
            self._started[(host, command)] = announced
            return announced

    def _chain(self, facts: HostFacts, jobs: list[_Job], announced: list[Future[_Early]]) -> None:
        """Run the jobs' commands in one exec (a probe batch), then the commands their sweeps derive
        from the answers, a round per exec, until no sweep follows a hint any more. Each next
        command is announced before the answer it follows is handed over, so the probe phase,
        which waits for that answer, finds the next one already under way."""
        while jobs:
            outcomes = self._round(facts, [(command, timeout) for _w, command, timeout, _f in jobs])
            following: list[_Job] = []
            for (waiting, _command, _timeout, follow), outcome in zip(jobs, outcomes, strict=True):
                if follow is not None and isinstance(outcome, CommandResult):
                    cleaned = clean_result(outcome, facts.max_output)
                    command = follow.next(cleaned.stdout + cleaned.stderr)
                    if command is not None and (mine := self._announce(facts.name, command)) is not None:
                        announced.append(mine)
                        following.append((mine, command, self.probe_timeout, follow))
                waiting.set_result(outcome)
            jobs = following

    def _round(self, facts: HostFacts, commands: list[tuple[str, float]]) -> list[_Early]:
        """One exec: the command alone, or every command side by side in a probe batch; RERUN for
        a command whose answer the batch did not bring back (the probe phase runs it alone)."""
        if len(commands) == 1:
            with self._slot(facts.name):
                return [_raw(facts, *commands[0])]
        marker = f"@@bgpdoctor-probe-{secrets.token_hex(6)}"
        timeout = max(t for _c, t in commands)
        script = probe_batch_script([c for c, _t in commands], marker, timeout)
        try:
            with self._slot(facts.name):
                answer = _raw(facts, script, timeout + KILL_AFTER_S + 5)
        except Exception:  # the batch broke (not the host): each command is run alone
            return [RERUN] * len(commands)
        if not isinstance(answer, CommandResult):
            return [answer] * len(commands)  # the host is unusable (or gone): so is each probe
        results = parse_probe_batch(answer, marker, [c for c, _t in commands])
        return [RERUN if r is None else r for r in results]

    def run(self, facts: HostFacts, fact: str, command: str, timeout: float) -> CommandResult | None:
        """As HostFacts.run: the bounded, redacted result kept under `fact`, None when the host is
        unusable; taken from the early probe of the same command when there was one."""
        with self._lock:
            started = self._started.pop((facts.name, command), None)
            if started is None:
                self._claimed.add((facts.name, command))
        if started is None:
            with self._slot(facts.name):
                return facts.run(fact, command, timeout)
        outcome = started.result()
        if isinstance(outcome, _Rerun):
            with self._slot(facts.name):
                return facts.run(fact, command, timeout)
        if isinstance(outcome, HostError):
            facts.error = HostError(outcome.host, outcome.kind, redact(outcome.message))
            return None
        if outcome is None:
            return None
        result = facts.outputs[fact] = clean_result(outcome, facts.max_output)
        return result

    def _slot(self, host: str) -> threading.BoundedSemaphore:
        with self._lock:
            return self._slots.setdefault(host, threading.BoundedSemaphore(PROBES_PER_HOST))

    def close(self) -> None:
        """Drop the early probes nobody asked for (those already running end within their timeouts)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class _SweepStage:
    """The DF probes a sweep (probes.mtu.run_sweep) sends before it searches: after the ping that
    measures the round trip (when there is one: `pinged=False`), the source's own MTU, then the
    sizes the answers name, each waiting as run_sweep waits."""

    def __init__(
        self, pair: NodePair, start: int, settings: ProbeSettings, pinged: bool, wait: float
    ) -> None:
        self.pair, self.size, self.default = pair, start, settings.ping_wait
        self.wait = wait  # until the ping before the probes (if any) measures the round trip
        self.pinged = pinged  # the round trip is measured, or never will be: answers are DF probes'
        self.sent = 1 if pinged else 0  # DF probes

    def next(self, answer: str) -> str | None:
        """The command after the one that printed `answer`; None once the search would begin."""
        parsed = parse_ping(answer)
        if not self.pinged:
            self.pinged = True
            self.wait = probe_wait(parsed.rtt_avg_ms, self.default)
        else:
            hint = parsed.local_error_mtu or parsed.frag_needed_mtu
            if parsed.outcome not in ("local-too-big", "frag-needed") or not hint or hint >= self.size:
                return None
            self.size = hint
        self.sent += 1
        if self.sent > HINTS_FOLLOWED:
            return None
        return ping_command(self.pair.src_ip or None, self.pair.dst_ip, self.size, self.wait)


def _raw(facts: HostFacts, command: str, timeout: float) -> _Outcome:
    """An early probe's result, kept aside: a lost connection counts once the probe is used."""
    if facts.connection is None:
        return None
    try:
        return facts.connection.run(command, timeout=timeout, max_output=facts.max_output)
    except HostError as exc:
        return exc


def _kubelet_probe(address: str, port: int, settings: ProbeSettings) -> str:
    return kubelet_command(address, port, min(5.0, settings.command_timeout))


def _run(
    runner: ProbeRunner, facts: HostFacts, key: str, command: str, timeout: float
) -> tuple[str, int | None, bytes]:
    result = runner.run(facts, key, command, timeout)
    if result is None:
        return (f"[host unusable: {facts.error}]", None, b"")
    return (result.stdout + result.stderr, result.exit_status, result.stdout_bytes)


def run_active(
    world: World,
    sessions: list[Session],
    pairs: list[NodePair],
    settings: ProbeSettings,
    progress: Callable[[str], None],
    runner: ProbeRunner | None = None,
) -> ActiveResults:
    """Run every probe at once (a sweep's second probe after its source's pings); `runner` holds
    the probes started while the hosts were collected (None: every probe starts here)."""
    if runner is None:
        own = ProbeRunner(world.inv, list(world.facts), [], settings, early=False)
        try:
            return run_active(world, sessions, pairs, settings, progress, own)
        finally:
            own.close()
    out = ActiveResults()
    inv = world.inv
    usable = {n for n, f in world.facts.items() if f.reachable}
    capture_hosts: set[str] = set()
    peer_pings: list[tuple[str, str]] = []
    if settings.capture:
        for s in sessions:
            if s.b is None or (established(s.a) and established(s.b)):
                continue
            capture_hosts.update(e.host for e in s.ends if e.host in usable)
            # and every router on the way, so a SYN that vanishes is placed between two hops
            capture_hosts.update(h for h in session_transit(world, s) if h in usable)
            peer_pings += [(e.host, str(e.peer.address)) for e in s.ends if e.host in usable and e.peer]
    jobs: dict[str, Future[None]] = {}
    flows = probe_flows(world, sessions, pairs, settings) if settings.drop_trace else []
    with (
        _drop_tracing(world, sorted(usable), flows, settings, out, progress),
        ThreadPoolExecutor(max_workers=PROBE_WORKERS) as pool,
    ):

        def capture(host: str) -> None:
            cmd = syn_capture_command(settings.capture_seconds)
            _text, status, data = _run(
                runner, world.facts[host], "capture.syn", cmd, settings.capture_seconds + 10
            )
            if status == 127 or (status not in (0, 124) and not data):
                out.capture_errors[host] = f"tcpdump failed (exit {status})"
            out.captures[host] = data
            # kernel counters again: TCP MD5 rejections that rose while the speakers kept trying
            _run(runner, world.facts[host], "netstat.after", NETSTAT_COMMAND, settings.command_timeout)

        def ping(pair: NodePair) -> None:
            cmd = ping_pair_command(pair, settings)
            text, _status, _data = _run(
                runner,
                world.facts[pair.source],
                f"ping.{pair.destination}" + (f"@{pair.dst_ip}" if pair.ipv6 else ""),
                cmd,
                settings.command_timeout,
            )
            out.pings[pair.key] = (parse_ping(text), cmd, text)

        def peer_ping(host: str, address: str) -> None:
            cmd = peer_ping_command(address, settings)
            text, _status, _data = _run(
                runner, world.facts[host], f"ping.peer.{address}", cmd, settings.command_timeout
            )
            out.peer_pings[f"{host}->{address}"] = (parse_ping(text), cmd, text)

        def sweep(pair: NodePair, candidates: list[int], pings_first: list[Future[None]]) -> None:
            # this source's pings first: their probes do not interleave, and they measure the round trip
            wait(pings_first)
            rtt_ms = _rtt(world, out, pair)
            facts = world.facts[pair.source]
            start = _start_mtu(world, pair.source, pair.dst_ip)
            fact = f"mtu.{pair.destination}" + (f"@{pair.dst_ip}" if pair.segment or pair.ipv6 else "")

            def run(command: str) -> tuple[str, int | None]:
                text, status, _ = _run(runner, facts, fact, command, runner.probe_timeout)
                return text, status

            out.sweeps[pair.key] = run_sweep(
                run, pair.src_ip or None, pair.dst_ip, start, settings.ping_wait, candidates, rtt_ms
            )

        def kubelet(vantage: str, node: str, address: str, port: int) -> None:
            cmd = _kubelet_probe(address, port, settings)
            text, _status, _ = _run(
                runner, world.facts[vantage], f"kubelet.{node}", cmd, settings.command_timeout
            )
            out.kubelets[node] = (parse_kubelet_probe(text, f"{address}:{port}"), cmd, text)

        for name in sorted(capture_hosts):
            progress(f"{name}: capturing BGP SYNs for {settings.capture_seconds:g}s")
            jobs[f"capture {name}"] = pool.submit(capture, name)
        pings_from: dict[str, list[Future[None]]] = {}
        for pair in pairs:
            if pair.source in usable and not pair.segment:
                jobs[f"ping {pair.key}"] = pool.submit(ping, pair)
                pings_from.setdefault(pair.source, []).append(jobs[f"ping {pair.key}"])
        for host, address in dict.fromkeys(peer_pings):
            jobs[f"peer-ping {host}->{address}"] = pool.submit(peer_ping, host, address)
            pings_from.setdefault(host, []).append(jobs[f"peer-ping {host}->{address}"])
        if pinging := sum(k.startswith(("ping ", "peer-ping ")) for k in jobs):
            progress(f"pinging {pinging} paths and peers")
        vantage = inv.vantage.metrics_server
        if vantage and vantage in usable:
            for name in world.facts:
                node = inv.hosts[name]
                if node.role == "node" and node.internal_ip:
                    jobs[f"kubelet {name}"] = pool.submit(
                        kubelet, vantage, name, str(node.internal_ip), inv.vantage.kubelet_port
                    )
        # each sweep starts once its source's pings are done (a ping that failed is reported with
        # the others below, it must not stop the run), not after every host's: no phase waits for
        # the slowest ping. The pings were submitted first, so a waiting sweep never blocks them.
        if settings.mtu_sweep:
            if sweeping := sum(p.source in usable for p in pairs):
                progress(f"path MTU sweep on {sweeping} paths")
            for pair in pairs:
                if pair.source in usable:
                    jobs[f"mtu {pair.key}"] = pool.submit(
                        sweep, pair, path_mtus(world, pair), pings_from.get(pair.source, [])
                    )
        for key, job in jobs.items():
            try:
                job.result()
            except Exception as exc:  # one broken probe becomes an error result, not a crash
                out.errors[key] = f"{type(exc).__name__}: {exc}"
                progress(f"probe {key} failed: {exc}")
    return out


def session_transit(world: World, session: Session) -> list[str]:
    """Inventory hosts the kernels route through between the two ends (both directions)."""
    hosts: list[str] = []
    for end in session.ends:
        other = next((e for e in session.ends if e is not end), None)
        if end.peer is None or other is None or end.host not in world.facts:
            continue
        address = str(end.peer.address)
        path = world.trace(end.host, end.source_address or address, address, f"{address}/32", other.host)
        hosts += [h for h in path.transit if h not in hosts and h not in session.hosts]
    return hosts


def path_mtus(world: World, pair: NodePair) -> list[int]:
    """The MTUs of the interfaces a DF probe and its echo reply cross, as the hosts' FIBs route
    them, and of the routes they take: the sweep tries these first (a black hole sits at one).

    Example: [1380, 1420, 1500]
    """
    mtus: set[int] = set()
    forth = world.trace(pair.source, pair.src_ip, pair.dst_ip, pair.dst_cidr, pair.destination)
    back = world.trace(pair.destination, pair.dst_ip, pair.src_ip, f"{pair.src_ip}/32", pair.source)
    for path, towards in ((forth, pair.dst_ip), (back, pair.src_ip)):
        for hop in path.hops:
            by_name = {a.ifname: a.mtu for a in world.addresses(hop.host) if a.mtu}
            mtus.update(by_name[name] for name in (hop.iif, hop.oif) if name in by_name)
            if hop.oif is not None and (route := world.lookup(hop.host, towards)) is not None and route.mtu:
                mtus.add(route.mtu)
    return sorted(mtus)


def _rtt(world: World, out: ActiveResults, pair: NodePair) -> float | None:
    """The round trip the pings before the sweep measured on this path, or for a session segment
    without a ping, its BGP connection's (None: not measured)."""
    ping = out.pings.get(pair.key) or out.peer_pings.get(f"{pair.source}->{pair.dst_ip}")
    if ping is not None:
        return ping[0].rtt_avg_ms
    return _socket_rtt(world, pair)


def _socket_rtt(world: World, pair: NodePair) -> float | None:
    """An established session's segment: the kernel's RTT of its BGP connection, so its first DF
    probe waits a few round trips, not a second. That matters when the kernel already caches a
    smaller path MTU: ping then fails locally ("message too long") yet waits out its whole -W."""
    if not pair.segment:
        return None
    return session_rtt_ms(world, pair.source, pair.src_ip, pair.dst_ip)


def _start_mtu(world: World, host: str, dst_ip: str) -> int:
    route = world.lookup(host, dst_ip)
    dev = route.dev if route else None
    if route is not None and route.mtu:
        return route.mtu
    for address in world.addresses(host):
        if address.ifname == dev and address.mtu:
            return address.mtu
    return 1500


def probe_flows(
    world: World, sessions: list[Session], pairs: list[NodePair], settings: ProbeSettings
) -> list[Flow]:
    """The packets the active probes send, for the drop tracers' in-kernel filter.

    Example: [Flow("192.168.191.11", "192.168.191.12", 6, 179), Flow(None, "192.168.191.12", 1), ...]
    """
    flows: list[Flow] = []
    if settings.capture:
        for s in sessions:
            if s.b is None or (established(s.a) and established(s.b)):
                continue
            for end in s.ends:
                if end.peer is not None:
                    flows.append(Flow(end.source_address or None, str(end.peer.address), 6, 179))
                    flows.append(Flow(None, str(end.peer.address), 1))
    flows += [Flow(p.src_ip or None, p.dst_ip, 1) for p in pairs]
    if world.inv.vantage.metrics_server:
        for host in world.inv.hosts.values():
            if host.role == "node" and host.internal_ip:
                flows.append(Flow(None, str(host.internal_ip), 6, world.inv.vantage.kubelet_port))
    return list(dict.fromkeys(flows))


@contextmanager
def _drop_tracing(
    world: World,
    hosts: list[str],
    flows: list[Flow],
    settings: ProbeSettings,
    out: ActiveResults,
    progress: Callable[[str], None],
) -> Iterator[None]:
    """Kernel drop tracers on `hosts` for as long as the probes run; stopped also on an exception."""
    if not flows:
        yield
        return

    def run(host: str, fact: str, command: str, timeout: float) -> str:
        result = world.facts[host].run(fact, command, timeout)  # never early: see ProbeRunner
        return result.stdout if result is not None else ""

    tracing = DropTracing(run, flows, settings.drop_trace_seconds, settings.drop_trace_events)
    progress(f"tracing kernel drops of probe packets on {len(hosts)} hosts")
    tracing.start(hosts)
    try:
        yield
    finally:
        out.drops = tracing.stop()
