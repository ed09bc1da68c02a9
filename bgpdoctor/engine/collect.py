"""Phase 1: collect facts from every host in scope, concurrently, one connection per host.

Each fact is one command whose raw output is kept as evidence; parsing happens afterwards in pure
functions (bgpdoctor.parsers), so a recorded run can be replayed offline through the same code.
"""

from __future__ import annotations

import secrets
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
# TCP MD5 and other kernel counters; read directly so nstat's history file is never written.
NETSTAT_COMMAND = "cat /proc/net/netstat"

SYSCTL_COMMAND = "grep -H . /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/*/rp_filter"


@dataclass
class HostFacts:
    """Everything collected from one host: raw command results keyed by fact name."""

    name: str
    host: Host
    connection: Connection | None = None
    error: HostError | None = None
    outputs: dict[str, CommandResult] = field(default_factory=dict)
    contacted: bool = False  # a connection was made (also true for a replayed recording)

    @property
    def reachable(self) -> bool:
        return self.error is None and self.contacted

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
    if host.speaker in ("bird2", "bird1"):
        # -r: restricted mode, BIRD itself refuses anything but show commands
        client = ("birdc" if host.speaker == "bird2" else "birdcl") + sock
        return {
            "bird.protocols": f"{client} -r show protocols all",
            "bird.routes": f"{client} -r show route",
            # every BGP path with its attributes (AS path, next hop), not only the best one
            "bird.bgp_routes": f"{client} -r show route all where source = RTS_BGP",
            "bird.status": f"{client} -r show status",
            # parses the configuration file on disk without applying it
            "bird.config_check": f"{client} configure check",
        }
    if host.speaker == "gobgp" and host.connect.pod is not None and host.connect.pod.cni != "calico":
        # Cilium's agent embeds GoBGP without the gobgp CLI; its own view is cilium-dbg, read onto
        # the same neighbor facts (bgpdoctor.kube.ciliumdbg, via World.gobgp_neighbors)
        return {"gobgp.neighbors": "cilium-dbg bgp peers -o json"}
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
        "netstat": NETSTAT_COMMAND,
    }
    commands.update(speaker_commands(host))
    if host.role in ("router", "node"):
        commands["nft.ruleset"] = "nft -j list ruleset"
    if host.role in ("router", "node"):
        # WireGuard peers and what they may carry; hosts without wg just report the command missing
        commands["wg.allowed"] = "command -v wg >/dev/null 2>&1 && wg show all allowed-ips || true"
    for peer in host.peers:
        commands[f"route.get.{peer.address}"] = f"ip -j route get {peer.address}"
    return commands


def batch_script(commands: dict[str, str], marker: str, timeout: float) -> str:
    """One POSIX sh script that runs every fact command and frames its output.

    One SSH session per host instead of one per command: sshd forks a session per exec, which
    costs more than the commands themselves on small routers. stdout stays raw; stderr lines
    come back prefixed with `<marker> ERR `, the exit status after `<marker> END <fact>`.
    Works with dash and busybox ash; `timeout` is used when the host has it.
    """
    lines = [
        "exec 4>&1",
        f"if command -v timeout >/dev/null 2>&1; then T='timeout {max(1, int(timeout))}'; else T=''; fi",
        "bd_run() {",
        f"  printf '%s BEGIN %s\\n' '{marker}' \"$1\"",
        f"  rc=$( {{ {{ $T sh -c \"$2\"; echo $? >&5; }} 2>&1 1>&4 | sed 's/^/{marker} ERR /' >&4; }} 5>&1 )",
        f"  printf '\\n%s END %s %s\\n' '{marker}' \"$1\" \"$rc\"",
        "}",
    ]
    lines += [f"bd_run {shlex.quote(fact)} {shlex.quote(command)}" for fact, command in commands.items()]
    return "\n".join(lines) + "\n"


def split_batch(output: bytes, marker: str, commands: dict[str, str]) -> dict[str, CommandResult]:
    """Cut the framed output of batch_script() back into one CommandResult per fact.

    Example: b"M BEGIN a\\nhello\\n\\nM END a 0\\n" -> {"a": CommandResult("...", 0, b"hello\\n")}
    """
    results: dict[str, CommandResult] = {}
    mark = marker.encode()
    current: str | None = None
    out = bytearray()
    err: list[str] = []
    for line in output.splitlines(keepends=True):
        if line.startswith(mark + b" BEGIN "):
            current, out, err = line[len(mark) + 7 :].decode().strip(), bytearray(), []
        elif line.startswith(mark + b" ERR ") and current is not None:
            err.append(line[len(mark) + 5 :].decode("utf-8", "replace"))
        elif line.startswith(mark + b" END ") and current is not None:
            status_text = line.decode().split()[-1]
            status = int(status_text) if status_text.lstrip("-").isdigit() else None
            body = bytes(out[:-1] if out.endswith(b"\n") else out)  # drop the newline END added
            timed_out = status == 124 and "timeout" not in commands.get(current, "")
            results[current] = CommandResult(
                commands.get(current, current),
                None if timed_out else status,
                body,
                "".join(err),
                timed_out=timed_out,
            )
            current = None
        elif current is not None:
            out += line
    return results


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
        facts.contacted = True
    except HostError as exc:
        facts.error = exc
        progress(f"{name}: {exc.kind}: {exc.message}")
        return facts
    except Exception as exc:  # a transport bug must not end the run; it becomes this host's result
        facts.error = HostError(name, "error", f"{type(exc).__name__}: {exc}")
        progress(f"{name}: error: {exc}")
        return facts
    started = time.monotonic()
    commands = fact_commands(facts.host)
    marker = f"@@bgpdoctor-{secrets.token_hex(6)}"
    batch = facts.run("batch", batch_script(commands, marker, timeout), timeout * len(commands) + 5)
    if batch is not None:
        del facts.outputs["batch"]
        facts.outputs.update(split_batch(batch.stdout_bytes, marker, commands))
        missing = [f for f in commands if f not in facts.outputs]
        if batch.timed_out and missing:
            for fact in missing:
                facts.outputs[fact] = CommandResult(commands[fact], None, b"", "", timed_out=True)
        elif missing:
            # no POSIX shell behind the login (RouterOS and other appliances): one exec per command
            for fact in missing:
                if facts.run(fact, commands[fact], timeout) is None:
                    break
    if facts.error is not None:
        progress(f"{name}: lost the connection ({facts.error})")
    facts.outputs = {k: facts.outputs[k] for k in commands if k in facts.outputs}
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
