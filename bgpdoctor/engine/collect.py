"""Phase 1: collect facts from every host in scope, concurrently, one connection per host.

Each fact is one command whose raw output is kept as evidence; parsing happens afterwards in pure
functions (bgpdoctor.parsers), so a recorded run can be replayed offline through the same code.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bgpdoctor.errors import HostError
from bgpdoctor.inventory_model import Host, Inventory
from bgpdoctor.transport.base import CommandResult, Connection

Progress = Callable[[str], None]

# One portable command for the forwarding and reverse-path sysctls: busybox (OpenWrt) has grep -H
# but no `sysctl -r`.
SYSCTL_COMMAND = "grep -H . /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/*/rp_filter"


@dataclass
class HostFacts:
    """Everything collected from one host: raw command results keyed by fact name."""

    name: str
    host: Host
    connection: Connection | None = None
    error: HostError | None = None
    outputs: dict[str, CommandResult] = field(default_factory=dict)

    @property
    def reachable(self) -> bool:
        return self.error is None and self.connection is not None

    def run(self, fact: str, command: str, timeout: float) -> CommandResult | None:
        """Run a command and keep its result under `fact`; None when the host is unusable."""
        if self.connection is None:
            return None
        try:
            result = self.connection.run(command, timeout=timeout)
        except HostError as exc:
            self.error = exc
            return None
        self.outputs[fact] = result
        return result


def speaker_commands(host: Host) -> dict[str, str]:
    """The BGP daemon's own view, per speaker kind.

    Example: {"bird.protocols": "birdc -s /run/bird.ctl show protocols all", ...}
    """
    sock = f" -s {shlex.quote(host.control_socket)}" if host.control_socket else ""
    if host.speaker == "bird2":
        return {
            "bird.protocols": f"birdc{sock} show protocols all",
            "bird.routes": f"birdc{sock} show route",
        }
    if host.speaker == "bird1":
        return {
            "bird.protocols": f"birdcl{sock} show protocols all",
            "bird.routes": f"birdcl{sock} show route",
        }
    if host.speaker == "gobgp":
        api = ""
        if host.gobgp_api:
            address, _, port = host.gobgp_api.rpartition(":")
            api = f" -u {shlex.quote(address)} -p {shlex.quote(port)}"
        return {
            "gobgp.neighbors": f"gobgp{api} -j neighbor",
            "gobgp.global": f"gobgp{api} -j global",
            "gobgp.rib": f"gobgp{api} -j global rib -a ipv4",
        }
    return {}


def fact_commands(host: Host) -> dict[str, str]:
    """Every read-only command run on a host in phase 1, keyed by fact name."""
    commands = {
        "ip.addr": "ip -j addr show",
        "ip.route": "ip -j route show table main",
        "sysctl": SYSCTL_COMMAND,
        "ss.listen": "ss -Htlnp 'sport = :179'",
        "ss.bgp": "ss -Htnp 'sport = :179 or dport = :179'",
    }
    commands.update(speaker_commands(host))
    if host.role == "router":
        commands["nft.ruleset"] = "nft -j list ruleset"
    for peer in host.peers:
        commands[f"route.get.{peer.address}"] = f"ip -j route get {peer.address}"
    return commands


def collect_host(
    name: str,
    inv: Inventory,
    connect: Callable[[str], Connection],
    timeout: float,
    progress: Progress,
) -> HostFacts:
    facts = HostFacts(name=name, host=inv.hosts[name])
    try:
        facts.connection = connect(name)
    except HostError as exc:
        facts.error = exc
        progress(f"{name}: {exc.kind}: {exc.message}")
        return facts
    except Exception as exc:  # a transport bug must not end the run; it becomes this host's result
        facts.error = HostError(name, "error", f"{type(exc).__name__}: {exc}")
        progress(f"{name}: error: {exc}")
        return facts
    started = time.monotonic()
    for fact, command in fact_commands(facts.host).items():
        if facts.run(fact, command, timeout) is None:
            progress(f"{name}: lost the connection ({facts.error})")
            break
    progress(f"{name}: {len(facts.outputs)} facts in {time.monotonic() - started:.2f}s")
    return facts


def collect_all(
    names: list[str],
    inv: Inventory,
    connect: Callable[[str], Connection],
    timeout: float,
    progress: Progress,
    workers: int = 8,
) -> dict[str, HostFacts]:
    """Collect phase-1 facts from all hosts concurrently (bounded), never raising for one host."""
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(names)))) as pool:
        futures = {n: pool.submit(collect_host, n, inv, connect, timeout, progress) for n in names}
        return {n: f.result() for n, f in futures.items()}
