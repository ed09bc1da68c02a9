"""Phase 1: collect facts from every host in scope, concurrently, one connection per host.

Each fact is one command whose raw output is kept as evidence; parsing happens afterwards in pure
functions (bgpdoctor.parsers), so a recorded run can be replayed offline through the same code.
Every result is bounded (BGPDOCTOR_MAX_OUTPUT, 8 MiB by default) and has its secrets redacted
(bgpdoctor.redact) before it is stored, so no report, recording or evidence can hold a password.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import secrets
import shlex
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bgpdoctor.drivers import is_appliance
from bgpdoctor.engine.progress import HostEvent, OnEvent, ignore_event
from bgpdoctor.errors import HostError, UsageError
from bgpdoctor.inventory_model import Host, Inventory
from bgpdoctor.parsers.iprule import RULE_TABLES_COMMAND
from bgpdoctor.redact import redact, redact_bytes
from bgpdoctor.transport.base import DEFAULT_MAX_OUTPUT, CommandResult, Connection

Progress = Callable[[str], None]

MAX_OUTPUT_ENV = "BGPDOCTOR_MAX_OUTPUT"
# seconds `timeout -k` waits after SIGTERM before it sends SIGKILL
KILL_AFTER_S = 2
_SIZE = re.compile(r"(?P<n>\d+)\s*(?P<unit>[kmg]?)(?:i?b)?", re.IGNORECASE)
_PCAP_MAGIC = (
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x0a\x0d\x0d\x0a",
)


def max_output_setting(value: str | None = None) -> int:
    """The per-command output bound: `value`, else $BGPDOCTOR_MAX_OUTPUT, else 8 MiB.

    Accepts bytes or a size with a unit. Example: "16M" -> 16777216, "512KiB" -> 524288, "4096" -> 4096.
    Raises UsageError for anything else (or less than 1 KiB).
    """
    text = value if value is not None else os.environ.get(MAX_OUTPUT_ENV)
    if text is None or not text.strip():
        return DEFAULT_MAX_OUTPUT
    m = _SIZE.fullmatch(text.strip())
    size = (
        int(m.group("n")) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group("unit").lower()]
        if m
        else 0
    )
    if size < 1024:
        raise UsageError(f"{MAX_OUTPUT_ENV}={text!r}: give a size of at least 1 KiB, e.g. 8M or 16777216")
    return size


def clean_result(result: CommandResult, max_output: int) -> CommandResult:
    """`result` cut to `max_output` bytes (then ``truncated``) and with every secret redacted.

    This is the only way a result enters HostFacts. A pcap (tcpdump -w -) is binary and kept as is:
    bgpdoctor captures only TCP 179 headers and BGP messages, which carry no secret (an MD5
    option holds a digest, never the password).
    Example: clean_result(CommandResult("gobgp -j neighbor", 0, b'[{"auth_password":"x"}]'), 8 << 20)
    -> CommandResult("gobgp -j neighbor", 0, b'[{"auth_password":"<redacted>"}]')
    """
    out, err, truncated = result.stdout_bytes, result.stderr, result.truncated
    if len(out) > max_output or len(err) > max_output:
        out, err, truncated = out[:max_output], err[:max_output], True
    clean_out = out if out[:4] in _PCAP_MAGIC else redact_bytes(out)
    clean_err = redact(err)
    if not truncated and clean_out is result.stdout_bytes and clean_err == result.stderr:
        return result  # nothing cut, nothing secret: a replay of thousands of hosts copied each output
    return dataclasses.replace(
        result,
        exit_status=None if truncated else result.exit_status,
        stdout_bytes=clean_out,
        stderr=clean_err,
        truncated=truncated,
    )


# One portable command for the forwarding and reverse-path sysctls: busybox (OpenWrt) has grep -H
# but no `sysctl -r`.
# TCP MD5 and other kernel counters; read directly so nstat's history file is never written.
NETSTAT_COMMAND = "cat /proc/net/netstat"

# `ss -i` run with CAP_NET_ADMIN prints every socket's TCP MD5 key, unframed, somewhere in its
# output (iproute2 writes it past its own buffer). Without that capability the kernel sends no keys
# and the TCP info is the same, so root drops it for this one command (setpriv, util-linux).
SS_TCP_INFO_COMMAND = (
    'if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; '
    "then setpriv --bounding-set=-net_admin ss -Htni 'sport = :179 or dport = :179'; "
    "else ss -Htni 'sport = :179 or dport = :179'; fi"
)
SYSCTL_COMMAND = "grep -H . /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/*/rp_filter"

# the BGP flow's conntrack entries (engine/conntrack_flows.py): conntrack(8), else the kernel's
# table; no conntrack module loaded means no entry (empty), a table that cannot be read is missing
CONNTRACK_BGP_COMMAND = (
    "if command -v conntrack >/dev/null 2>&1; then conntrack -L -p tcp --dport 179; "
    "elif [ -r /proc/net/nf_conntrack ]; then grep -F 'dport=179 ' /proc/net/nf_conntrack; [ $? -le 1 ]; "
    "elif [ ! -e /proc/sys/net/netfilter/nf_conntrack_count ]; then true; "
    "else echo 'conntrack: command not found and no /proc/net/nf_conntrack' >&2; exit 127; fi"
)
# Is the kernel built with TCP MD5 signatures? Read-only, a few lines; `source none` when no
# configuration is readable (parsers/kernelconf.py).
KERNEL_MD5_COMMAND = (
    'echo "release $(uname -r)"; c="/boot/config-$(uname -r)"; o="^(# )?CONFIG_TCP_MD5SIG[= ]"; '
    'if [ -r /proc/config.gz ] && zcat /proc/config.gz >/dev/null 2>&1; then echo "source /proc/config.gz"; '
    'zcat /proc/config.gz | grep -E "$o"; elif [ -r "$c" ]; then echo "source $c"; grep -E "$o" "$c"; '
    'else echo "source none"; fi; true'
)
# What the speaker logged about TCP MD5, unbindable source addresses, RFC 8212 denials, AS_PATHs it
# found malformed and neighbor settings removed (FRR `log commands`: `(config-router)# no neighbor`),
# from its journal, OpenWrt's logread, common log files, those BIRD's configuration names, and the
# container logs of MetalLB, Cilium and Calico: the last 20 matching lines of the last 5000 of each.
SPEAKER_LOG_COMMAND = (
    "{ journalctl -q --no-pager -n 5000 2>/dev/null; logread 2>/dev/null | tail -n 5000; "
    "tail -q -n 5000 /var/log/bird.log /var/log/bird/*.log /var/log/frr/*.log /var/log/gobgpd.log "
    # the files BIRD's own configuration logs to (`log "FILE" all;`)
    '$(sed -n \'s/^[[:space:]]*log[[:space:]]*"\\([^"]*\\)".*/\\1/p\' /etc/bird/bird.conf /etc/bird.conf '
    "/etc/bird/bird6.conf 2>/dev/null) "
    "/var/log/containers/*speaker*.log /var/log/containers/cilium-*.log "
    "/var/log/containers/calico-node*.log 2>/dev/null; } "
    "| grep -i -E 'md5|protocol not available|bind: cannot assign requested address"
    "|denied due to: .*policy missing|malformed as.?path|\\)# no neighbor ' "
    "| tail -n 20; true"
)


@dataclass
class HostFacts:
    """Everything collected from one host: raw command results keyed by fact name."""

    name: str
    host: Host
    connection: Connection | None = None
    error: HostError | None = None
    outputs: dict[str, CommandResult] = field(default_factory=dict)
    contacted: bool = False  # a connection was made (also true for a replayed recording)
    max_output: int = DEFAULT_MAX_OUTPUT

    @property
    def reachable(self) -> bool:
        return self.error is None and self.contacted

    def run(self, fact: str, command: str, timeout: float) -> CommandResult | None:
        """Run a command and keep its bounded, redacted result under `fact`; None when the host is
        unusable."""
        result = self.run_raw(command, timeout, self.max_output)
        if result is not None:
            result = self.outputs[fact] = clean_result(result, self.max_output)
        return result

    def run_raw(self, command: str, timeout: float, max_output: int) -> CommandResult | None:
        """The transport's result as it is, not stored (the framed batch, cut into facts by the caller);
        None when the host is unusable."""
        if self.connection is None:
            return None
        try:
            return self.connection.run(command, timeout=timeout, max_output=max_output)
        except HostError as exc:
            self.error = _redacted_error(exc)
            return None


def _redacted_error(exc: HostError) -> HostError:
    return HostError(exc.host, exc.kind, redact(exc.message))


def speaker_commands(host: Host) -> dict[str, str]:
    """The BGP daemon's own view: its driver's commands (bgpdoctor/drivers/).

    Example: {"bird.protocols": "birdc -s /run/bird.ctl -r show protocols all", ...}
    """
    from bgpdoctor.drivers import driver_for

    driver = driver_for(host.speaker)
    return driver.commands(host) if driver is not None else {}


def fact_commands(host: Host) -> dict[str, str]:
    """Every read-only command run on a host in phase 1, keyed by fact name."""
    if is_appliance(host.speaker):
        return speaker_commands(host)  # a vendor CLI: none of the Linux commands below exist there
    commands = {
        "ip.addr": "ip -j addr show",
        "ip.route": "ip -j route show table main",
        "ip.rule": "ip -j rule show",
        "ip.route.rules": RULE_TABLES_COMMAND,
        "sysctl": SYSCTL_COMMAND,
        "ss.listen": "ss -Htlnp 'sport = :179'",
        "ss.bgp": "ss -Htnp 'sport = :179 or dport = :179'",
        # TCP info of the BGP connections: a session Established on a dead connection (engine/liveness.py)
        "ss.bgp_tcp": SS_TCP_INFO_COMMAND,
        "netstat": NETSTAT_COMMAND,
    }
    commands.update(speaker_commands(host))
    if host.speaker != "none":
        commands["kernel.md5sig"] = KERNEL_MD5_COMMAND
        commands["speaker.log"] = SPEAKER_LOG_COMMAND
    if host.role in ("router", "node"):
        commands["nft.ruleset"] = "nft -j list ruleset"
        commands["conntrack.bgp"] = CONNTRACK_BGP_COMMAND  # engine/conntrack_flows.py
    if host.role == "router":
        # who answered ARP on the router's LANs (a LoadBalancer VIP inside a LAN needs an answer)
        commands["ip.neigh"] = "ip -j neigh show"
    if host.role in ("router", "node"):
        from bgpdoctor.engine import cni_drops, tunnels

        # one `wg show all dump` (WireGuard peers' endpoints and AllowedIPs), Tailscale status and prefs
        commands.update(tunnels.commands())
        commands.update(cni_drops.commands(host))  # Cilium's drops, where BGP runs over loopback
    from bgpdoctor.engine import ipv6

    for peer in host.peers:
        commands[f"route.get.{peer.address}"] = ipv6.route_get_command(peer)
    commands.update(ipv6.commands(host))
    return commands


def batch_script(
    commands: dict[str, str], marker: str, timeout: float, max_output: int = DEFAULT_MAX_OUTPUT
) -> str:
    """One POSIX sh script that runs every fact command and frames its output.

    One SSH session per host instead of one per command: sshd forks a session per exec, which
    costs more than the commands themselves on small routers. stdout stays raw; stderr lines
    come back prefixed with `<marker> ERR `, the exit status after `<marker> END <fact>`.
    Works with dash and busybox ash. Each command runs under `timeout -k 2 N` when the host has it
    (SIGKILL 2 s after SIGTERM, so a command that ignores SIGTERM cannot hold the host), and its
    stdout and stderr pass `head -c max_output+1` when the host has it, so the host never sends
    more than split_batch() keeps.
    """
    seconds = max(1, int(timeout))
    limit = max_output + 1  # one byte more than kept, so split_batch() can tell the output was cut
    lines = [
        "exec 4>&1",
        "T=''",
        "if command -v timeout >/dev/null 2>&1; then",
        f"  if timeout -k 1 5 true >/dev/null 2>&1; then T='timeout -k {KILL_AFTER_S} {seconds}'",
        f"  elif timeout 5 true >/dev/null 2>&1; then T='timeout {seconds}'",
        f"  elif timeout -t 5 true >/dev/null 2>&1; then T='timeout -t {seconds}'; fi",  # old busybox
        "fi",
        f"if [ \"$(printf abc | head -c 2 2>/dev/null)\" = ab ]; then H='head -c {limit}'; else H=cat; fi",
        "bd_run() {",
        f"  printf '%s BEGIN %s\\n' '{marker}' \"$1\"",
        # the command's stdout -> head -> fd 4; its stderr -> head -> sed ERR -> fd 4; its exit status
        # -> fd 5 -> rc. The command itself gets neither fd 4 nor fd 5, so a process it leaves
        # behind cannot hold the session open.
        f'  rc=$( {{ {{ {{ $T sh -c "$2" 4>&- 5>&-; echo $? >&5; }} | $H >&4; }} 2>&1 | $H | '
        f"sed 's/^/{marker} ERR /' >&4; }} 5>&1 )",
        f"  printf '\\n%s END %s %s\\n' '{marker}' \"$1\" \"$rc\"",
        "}",
    ]
    lines += [f"bd_run {shlex.quote(fact)} {shlex.quote(command)}" for fact, command in commands.items()]
    return "\n".join(lines) + "\n"


# what `timeout` reports: 124 after SIGTERM, 137 (128+SIGKILL) when -k had to kill
_TIMEOUT_STATUSES = (124, 137)


def split_batch(
    output: bytes, marker: str, commands: dict[str, str], max_output: int = DEFAULT_MAX_OUTPUT
) -> dict[str, CommandResult]:
    """Cut the framed output of batch_script() back into one CommandResult per fact.

    A fact whose stdout or stderr is longer than `max_output` is cut there and marked truncated.
    Example: b"M BEGIN a\\nhello\\n\\nM END a 0\\n" -> {"a": CommandResult("...", 0, b"hello\\n")}
    """
    results: dict[str, CommandResult] = {}
    mark = marker.encode()
    current: str | None = None
    out = bytearray()
    err: list[str] = []
    err_size = 0
    for line in io.BytesIO(output):  # lines end at b"\n" only (splitlines also cuts at b"\r")
        if line.startswith(mark + b" BEGIN "):
            current, out, err, err_size = line[len(mark) + 7 :].decode().strip(), bytearray(), [], 0
        elif line.startswith(mark + b" ERR ") and current is not None:
            if err_size <= max_output:
                text = line[len(mark) + 5 :].decode("utf-8", "replace")
                err.append(text)
                err_size += len(text)
        elif line.startswith(mark + b" END ") and current is not None:
            status_text = line.decode().split()[-1]
            status = int(status_text) if status_text.lstrip("-").isdigit() else None
            body = bytes(out[:-1] if out.endswith(b"\n") else out)  # drop the newline END added
            stderr = "".join(err)
            truncated = len(body) > max_output or len(stderr) > max_output
            own_timeout = "timeout" in commands.get(current, "")
            timed_out = status in _TIMEOUT_STATUSES and not own_timeout and not truncated
            results[current] = CommandResult(
                commands.get(current, current),
                None if timed_out or truncated else status,
                body[:max_output],
                stderr[:max_output],
                timed_out=timed_out,
                truncated=truncated,
            )
            current = None
        elif current is not None and len(out) <= max_output + 1:
            out += line
    return results


def collect_host(
    name: str,
    inv: Inventory,
    connect: Callable[[str], Connection],
    timeout: float,
    progress: Progress,
    max_output: int | None = None,
    on_event: OnEvent = ignore_event,
) -> HostFacts:
    """Run every fact command on one host (one framed batch, or one exec each where the login has no
    POSIX shell). Never raises: a host that cannot be used is a HostFacts with `error` set.

    `max_output` bounds each command's stdout and stderr (default: max_output_setting()).
    """
    limit = max_output if max_output is not None else max_output_setting()
    facts = HostFacts(name=name, host=inv.hosts[name], max_output=limit)
    on_event(HostEvent(name, "connecting"))
    try:
        facts.connection = connect(name)
        facts.contacted = True
    except HostError as exc:
        facts.error = _redacted_error(exc)
        progress(f"{name}: {exc.kind}: {facts.error.message}")
        on_event(HostEvent(name, "failed", f"{exc.kind}: {facts.error.message}"))
        return facts
    except Exception as exc:  # a transport bug must not end the run; it becomes this host's result
        facts.error = HostError(name, "error", redact(f"{type(exc).__name__}: {exc}"))
        progress(f"{name}: error: {facts.error.message}")
        on_event(HostEvent(name, "failed", f"error: {facts.error.message}"))
        return facts
    on_event(HostEvent(name, "collecting"))
    started = time.monotonic()
    commands = fact_commands(facts.host)
    marker = f"@@bgpdoctor-{secrets.token_hex(6)}"
    # each command may run for timeout + KILL_AFTER_S; the raw batch is never stored, only the
    # facts split_batch() cuts out of it, each cleaned (bounded, redacted) on its own
    appliance = is_appliance(facts.host.speaker)
    batch = None
    if not appliance:  # a vendor CLI would only choke on a sh script
        batch = facts.run_raw(
            batch_script(commands, marker, timeout, limit),
            (timeout + KILL_AFTER_S) * len(commands) + 5,
            (limit + 4096) * 2 * len(commands) + 65536,
        )
    if batch is not None:
        for fact, result in split_batch(batch.stdout_bytes, marker, commands, limit).items():
            facts.outputs[fact] = clean_result(result, limit)
    missing = [f for f in commands if f not in facts.outputs]
    if batch is not None and batch.timed_out and missing:
        for fact in missing:
            facts.outputs[fact] = CommandResult(commands[fact], None, b"", "", timed_out=True)
    elif missing and (batch is not None or appliance):
        # a vendor CLI (never sent the batch), another login without a POSIX shell, or a batch cut
        # short: one exec per command
        for fact in missing:
            if facts.run(fact, commands[fact], timeout) is None:
                break
    if facts.error is not None:
        progress(f"{name}: lost the connection ({facts.error})")
    facts.outputs = {k: facts.outputs[k] for k in commands if k in facts.outputs}
    progress(f"{name}: {len(facts.outputs)} facts in {time.monotonic() - started:.2f}s")
    if facts.error is not None:
        on_event(HostEvent(name, "failed", f"{facts.error.kind}: {facts.error.message}"))
    else:
        on_event(HostEvent(name, "collected", f"{len(facts.outputs)} facts"))
    return facts


def collect_all(
    names: list[str],
    inv: Inventory,
    connect: Callable[[str], Connection],
    timeout: float,
    progress: Progress,
    workers: int = 64,
    max_output: int | None = None,
    on_event: OnEvent = ignore_event,
    on_host: Callable[[HostFacts], None] | None = None,
) -> dict[str, HostFacts]:
    """Collect phase-1 facts from all hosts concurrently (bounded), never raising for one host.

    A host's collection mostly waits on its network and its commands, so up to 64 run at once (at 8,
    20 hosts took three rounds of SSH handshakes: benchmarks/peer_harness.py).

    `max_output`: bytes kept per command (default $BGPDOCTOR_MAX_OUTPUT or 8 MiB); a bad
    $BGPDOCTOR_MAX_OUTPUT is a UsageError before any host is contacted.
    `on_host` sees each host's facts as soon as they are in, while the others are still being
    collected (engine.active.ProbeRunner starts that host's probes there); it must not raise.
    """
    limit = max_output if max_output is not None else max_output_setting()

    def collect_one(name: str) -> HostFacts:
        facts = collect_host(name, inv, connect, timeout, progress, limit, on_event)
        if on_host is not None:
            on_host(facts)
        return facts

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(names)))) as pool:
        futures = {n: pool.submit(collect_one, n) for n in names}
        return {n: f.result() for n, f in futures.items()}
