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

from bgpdoctor.drivers import JoinedRead, driver_for, is_appliance, joined_reads
from bgpdoctor.engine.progress import HostEvent, OnEvent, ignore_event
from bgpdoctor.errors import HostError, UsageError
from bgpdoctor.inventory_model import Host, Inventory
from bgpdoctor.parsers.iprule import RULE_TABLES_COMMAND
from bgpdoctor.probes.batch import KILL_AFTER_S, timeout_lookup
from bgpdoctor.redact import redact, redact_bytes
from bgpdoctor.transport.base import DEFAULT_MAX_OUTPUT, CommandResult, Connection

Progress = Callable[[str], None]

MAX_OUTPUT_ENV = "BGPDOCTOR_MAX_OUTPUT"
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

# The sockets of TCP 179, read once (`ss -p` walks every process's file descriptors) for two facts,
# each the lines its own `ss` would print: `ss -l` shows the states LISTEN and UNCONN (CLOSE), plain
# `ss` all but those, TIME-WAIT and SYN-RECV (iproute2's SS_CONN). Each fact's command is that
# cut, runnable on its own (per-command runs, a user checking the evidence).
SS_SOCKETS_179 = "ss -Htanp 'sport = :179 or dport = :179'"
_LISTEN_STATES = ("LISTEN", "UNCONN")
_NOT_CONNECTED_STATES = (*_LISTEN_STATES, "TIME-WAIT", "SYN-RECV")
SS_LISTEN_STATES = frozenset(_LISTEN_STATES)
SS_NOT_CONNECTED_STATES = frozenset(_NOT_CONNECTED_STATES)


def _state_cut(states: tuple[str, ...], keep: bool) -> str:
    """The shared read cut to the lines whose first word (the state) is in `states` (keep) or not."""
    test, join = ("==", " || ") if keep else ("!=", " && ")
    condition = join.join(f'$1 {test} "{state}"' for state in states)
    return f"{SS_SOCKETS_179} | awk '{condition}'"


SS_LISTEN_COMMAND = _state_cut(_LISTEN_STATES, keep=True)
SS_BGP_COMMAND = _state_cut(_NOT_CONNECTED_STATES, keep=False)
SS_VIEWS_COMMANDS = (SS_LISTEN_COMMAND, SS_BGP_COMMAND)
# the facts the batch reads with one command: fact -> (its command, the shared command, which
# lines of the shared output are the fact's: their first word in the set, or not in it)
SHARED_READS: dict[str, tuple[str, str, frozenset[str], bool]] = {
    "ss.listen": (SS_LISTEN_COMMAND, SS_SOCKETS_179, SS_LISTEN_STATES, True),
    "ss.bgp": (SS_BGP_COMMAND, SS_SOCKETS_179, SS_NOT_CONNECTED_STATES, False),
}

# the BGP flow's conntrack entries (engine/conntrack_flows.py): the kernel's table read directly
# when it can be (the lines `conntrack -L -p tcp --dport 179` prints: IPv4 and IPv6 TCP entries
# whose original destination port is 179, in /proc's form; its netlink dump cost a lab host ~10 ms
# of CPU, the file ~1.5 ms), else conntrack(8), else any line of the table naming port 179; no
# conntrack module loaded means no entry (empty), a table that cannot be read is missing
CONNTRACK_BGP_AWK = (
    '($1 == "ipv4" || $1 == "ipv6") && $3 == "tcp" { for (i = 4; i <= NF; i++) if ($i ~ /^dport=/) '
    '{ if ($i == "dport=179") print; break } }'
)
CONNTRACK_BGP_COMMAND = (
    "if [ -r /proc/net/nf_conntrack ] && command -v awk >/dev/null 2>&1; then "
    f"awk '{CONNTRACK_BGP_AWK}' /proc/net/nf_conntrack; "
    "elif command -v conntrack >/dev/null 2>&1; then conntrack -L -p tcp --dport 179; "
    "elif [ -r /proc/net/nf_conntrack ]; then grep -F 'dport=179 ' /proc/net/nf_conntrack; [ $? -le 1 ]; "
    "elif [ ! -e /proc/sys/net/netfilter/nf_conntrack_count ]; then true; "
    "else echo 'conntrack: command not found and no /proc/net/nf_conntrack' >&2; exit 127; fi"
)
# Is the kernel built with TCP MD5 signatures? Read-only, a few lines; `source none` when no
# configuration is readable (parsers/kernelconf.py).
KERNEL_MD5_COMMAND = (
    # the release as `uname -r` prints it, read by the shell itself where /proc has it
    'read -r r </proc/sys/kernel/osrelease 2>/dev/null || r="$(uname -r)"; '
    'echo "release $r"; c="/boot/config-$r"; o="^(# )?CONFIG_TCP_MD5SIG[= ]"; '
    # gzip itself: Debian's zcat is a shell script that starts it
    "if [ -r /proc/config.gz ] && "
    'k="$(gzip -dc /proc/config.gz 2>/dev/null || zcat /proc/config.gz 2>/dev/null)"; then '
    'echo "source /proc/config.gz"; printf "%s\\n" "$k" | grep -E "$o"; '
    'elif [ -r "$c" ]; then echo "source $c"; grep -E "$o" "$c"; else echo "source none"; fi; true'
)
# What the speaker logged about TCP MD5, unbindable source addresses, RFC 8212 denials, AS_PATHs it
# found malformed and neighbor settings removed (FRR `log commands`: `(config-router)# no neighbor`),
# from its journal, OpenWrt's logread, common log files, those BIRD's configuration names, and the
# container logs of MetalLB, Cilium and Calico: the last 20 matching lines of the last 5000 of each.
SPEAKER_LOG_COMMAND = (
    # journalctl reads only the files under these two directories: none there, nothing to start it for
    # (it costs ~5 ms of CPU to start)
    'j=; for d in /run/log/journal/* /var/log/journal/*; do [ -e "$d" ] && j=1; done; '
    '{ if [ -n "$j" ]; then journalctl -q --no-pager -n 5000 2>/dev/null; fi; '
    "if command -v logread >/dev/null 2>&1; then logread 2>/dev/null | tail -n 5000; fi; "
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
        "ss.listen": SS_LISTEN_COMMAND,
        "ss.bgp": SS_BGP_COMMAND,
        # TCP info of the BGP connections: a session Established on a dead connection (engine/liveness.py)
        "ss.bgp_tcp": SS_TCP_INFO_COMMAND,
        "netstat": NETSTAT_COMMAND,
    }
    commands.update(speaker_commands(host))
    if driver_for(host.speaker) is not None:  # a host with a BGP daemon
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
        commands[f"route.get.{peer.address}"] = ipv6.route_get_command(peer.intent())
    commands.update(ipv6.commands(host))
    return commands


# Shell builtins and keywords: a command starting with one is never handed to `timeout` (an
# executable) and never run without a subshell (`exit` would end the batch).
_SHELL_WORDS = frozenset(
    {
        "!",
        "{",
        "}",
        "[",
        "[[",
        ".",
        ":",
        "alias",
        "break",
        "case",
        "cd",
        "command",
        "continue",
        "do",
        "done",
        "elif",
        "else",
        "esac",
        "eval",
        "exec",
        "exit",
        "export",
        "fi",
        "for",
        "getopts",
        "hash",
        "if",
        "local",
        "read",
        "readonly",
        "return",
        "set",
        "shift",
        "source",
        "test",
        "then",
        "times",
        "trap",
        "type",
        "ulimit",
        "umask",
        "unalias",
        "unset",
        "until",
        "wait",
        "while",
    }
)
# `ip` objects and `nft` verbs that only read the kernel's tables (never `monitor`, which waits)
_IP_READS = frozenset({"addr", "address", "route", "rule", "neigh", "neighbor", "neighbour", "link"})
_KERNEL_FILES = ("/proc/net/", "/proc/sys/net/")
# compound commands known to read only the kernel (ip, ss, sed, sort, grep over /proc/sys; the BGP
# flow's conntrack entries: awk or grep over /proc/net/nf_conntrack, else conntrack's netlink dump)
_KERNEL_READ_COMMANDS = frozenset(
    {RULE_TABLES_COMMAND, SYSCTL_COMMAND, SS_TCP_INFO_COMMAND, CONNTRACK_BGP_COMMAND, *SS_VIEWS_COMMANDS}
)
_GUARDED = re.compile(r"command -v (?P<tool>[\w.+-]+) >/dev/null 2>&1 \|\| exit 0; (?P<rest>.+)", re.DOTALL)


def simple_argv(command: str) -> list[str] | None:
    """The words of a command that is one program with its arguments and nothing else for the
    shell to do (no operator, variable, glob or builtin), else None.

    Example: simple_argv("vtysh -c 'show bgp summary json'") -> ["vtysh", "-c", "show bgp summary json"];
    simple_argv("ip rule show | sort") -> None
    """
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if not words or shlex.join(words) != command or words[0] in _SHELL_WORDS or "=" in words[0]:
        return None
    return words


def reads_kernel_only(command: str) -> bool:
    """True for a command that only reads the kernel's own tables (netlink, /proc/net,
    /proc/sys/net): it cannot wait on a daemon, a lock it can be killed out of or a peer, so the
    batch runs it without `timeout` (a process stuck in the kernel ignores SIGKILL anyway).

    Example: reads_kernel_only("ip -j route get 10.0.0.1") -> True; reads_kernel_only("birdc show
    status") -> False; reads_kernel_only("ip monitor") -> False
    """
    if command in _KERNEL_READ_COMMANDS:
        return True
    words = simple_argv(command)
    if words is None:
        return False
    program, args = words[0], words[1:]
    if program == "ip":
        objects = [a for a in args if not a.startswith("-")]
        return bool(objects) and objects[0] in _IP_READS and "monitor" not in args and "netns" not in args
    if program == "ss":
        return not {"-K", "--kill", "-E", "--events", "-D", "--diag", "-F", "--filter"} & set(args)
    if program == "nft":
        return args[-2:] == ["list", "ruleset"] and all(a.startswith("-") for a in args[:-2])
    if program in ("cat", "grep"):
        files = [a for a in args if a.startswith("/")]
        return bool(files) and all(f.startswith(_KERNEL_FILES) for f in files)
    return False


def _fact_lines(fact: str, command: str) -> str:
    """The batch lines of one fact: its command between the BEGIN line (on stdout and stderr) and
    the END line with its exit status."""
    name = shlex.quote(fact)
    guard = _GUARDED.fullmatch(command)
    if guard is not None:
        # the tool's absence is told by the batch's own shell, not by a `timeout` and a `sh` started for it
        run = _run_line(guard.group("rest"))
        run = f"if command -v {shlex.quote(guard.group('tool'))} >/dev/null 2>&1; then {run}; else :; fi"
    else:
        run = _run_line(command)
    return f"bd_b {name}; {run}; bd_e {name} $?"


def _run_line(command: str) -> str:
    words = simple_argv(command)
    if reads_kernel_only(command):
        return command if words is not None else f"( eval {shlex.quote(command)} )"
    if words is not None:
        return f"$T {command}"
    return f"$T sh -c {shlex.quote(command)}"


def _frame_size(marker: str, commands: dict[str, str]) -> int:
    """Bytes of framing on one stream: a BEGIN and an END line per fact, and DONE."""
    return sum(2 * len(marker) + 2 * len(fact) + 32 for fact in commands) + len(marker) + 16


def batch_bound(marker: str, commands: dict[str, str], max_output: int = DEFAULT_MAX_OUTPUT) -> int:
    """What the batch of `commands` may send on each stream: max_output+1 bytes of the facts' output
    plus the framing. A fact is then either whole, or longer than max_output (truncated), or cut by
    the facts before it, which collect_host() runs again."""
    return max_output + 1 + _frame_size(marker, commands)


def batch_script(
    commands: dict[str, str],
    marker: str,
    timeout: float,
    max_output: int = DEFAULT_MAX_OUTPUT,
    bound_on_host: bool = True,
) -> str:
    """One POSIX sh script that runs every fact command and frames its output.

    One SSH session per host instead of one per command: sshd forks a session per exec, which
    costs more than the commands themselves on small routers. Works with dash and busybox ash.
    On stdout, each fact's raw output stands between `<marker> BEGIN <fact>` and
    `<marker> END <fact> <exit status>`; on stderr, its stderr follows its own `<marker> BEGIN
    <fact>` line, and `<marker> DONE` ends the stream. No command reads stdin.

    The host does as little as it can per fact: a command that reads only the kernel's tables
    (reads_kernel_only) runs as it is, every other under `timeout -k 2 N` when the host has it
    (SIGKILL 2 s after SIGTERM, so a command that ignores SIGTERM cannot hold the host), directly
    when it is one program with its arguments, else through `sh -c`; `timeout` is looked for when
    the first such command runs, not at all when there is none.

    Each stream may carry batch_bound() bytes. A transport that stops reading and stops the
    command at its max_output (SSH, local, netns: `stops_at_max_output`) is given that bound, and
    the script starts nothing for it (`bound_on_host=False`). For one that reads the whole output
    first (the Kubernetes exec API), the host bounds it: all facts share one `head -c` per stream
    (when the host has it), so the host never sends more. Two more processes and their pipes per
    batch: under load they cost a host as much CPU as a fifth of its facts.
    """
    seconds = max(1, int(timeout))
    limit = batch_bound(marker, commands, max_output)
    mark = shlex.quote(marker)
    lines = [
        # `timeout` is looked for when the first command needs it (a host whose facts all read the
        # kernel starts no `timeout` at all): $T is bd_t until then, which sets T and runs the command
        "T=bd_t",
        "bd_t() {",
        *timeout_lookup(seconds),
        '$T "$@"; }',
        f"bd_b() {{ printf '%s BEGIN %s\\n' {mark} \"$1\"; printf '\\n%s BEGIN %s\\n' {mark} \"$1\" >&2; }}",
        f'bd_e() {{ printf \'\\n%s END %s %s\\n\' {mark} "$1" "$2"; }}',
    ]
    facts = [
        *(_fact_lines(fact, command) for fact, command in commands.items()),
        f"printf '\\n%s DONE\\n' {mark} >&2",
    ]
    if not bound_on_host:
        return "\n".join([*lines, "{", *facts, "} </dev/null"]) + "\n"
    lines += [
        f"if head -c 1 </dev/null >/dev/null 2>&1; then H='head -c {limit}'; else H=cat; fi",
        # the facts' stdout -> fd 3 -> one head -> stdout; their stderr -> the other head -> stderr
        "{ {",
        *facts,
        "} 2>&1 >&3 3>&- </dev/null | $H >&2 3>&-; } 3>&1 | $H",
    ]
    return "\n".join(lines) + "\n"


_IN_SH = "exec sh -c "
_IN_SH_MAX = 96 * 1024


def in_login_shell(script: str) -> str:
    """What a login shell is sent to run the POSIX sh `script` in `sh`: sshd hands a command to the
    user's login shell, often bash, whose forks cost more than sh's (dash, busybox ash), and the
    batch's facts run no differently in either. The transports without a login shell (local,
    netns, pod) run it through `sh -c` already, so there the `exec` costs one more exec of sh.
    A script whose quoted form would be longer than _IN_SH_MAX goes as it is: Linux takes at most
    128 KiB in one argument, and quoting makes the command longer than the script.

    Example: in_login_shell("echo hi") -> "exec sh -c 'echo hi'"
    """
    command = _IN_SH + shlex.quote(script)
    return command if len(command.encode()) <= _IN_SH_MAX else script


def in_login_shell_inverse(command: str) -> str:
    """The script of an in_login_shell() command (a command that is not one, as it is).

    Example: in_login_shell_inverse("exec sh -c 'echo hi'") -> "echo hi"
    """
    if command.startswith(_IN_SH):
        words = shlex.split(command[len(_IN_SH) :])
        if len(words) == 1:
            return words[0]
    return command


_GUARD_LINE = re.compile(
    r"if command -v (?P<tool>\S+) >/dev/null 2>&1; then (?P<run>.+); else \(exit 0\); fi", re.DOTALL
)


def batch_facts(script: str) -> dict[str, str]:
    """The facts and their commands in a script of batch_script(), for a host that is a fake
    (tests, replays): the inverse of its fact lines.

    Example: batch_facts(batch_script({"a": "echo hi"}, "@@M", 5)) -> {"a": "echo hi"}
    """
    facts: dict[str, str] = {}
    for line in in_login_shell_inverse(script).splitlines():
        if not line.startswith("bd_b "):
            continue
        head, _, rest = line.partition("; ")
        run = rest.rsplit("; bd_e ", 1)[0]
        guard = _GUARD_LINE.fullmatch(run)
        command = _command_of(guard.group("run") if guard else run)
        if guard:
            command = f"command -v {shlex.split(guard.group('tool'))[0]} >/dev/null 2>&1 || exit 0; {command}"
        facts[shlex.split(head)[1]] = command
    return facts


def _command_of(run: str) -> str:
    if run.startswith("( eval ") and run.endswith(" )"):
        return shlex.split(run[7:-2])[0]
    if run.startswith("$T sh -c "):
        return shlex.split(run[9:])[0]
    return run.removeprefix("$T ")


def frame_batch(script: str, answer: Callable[[str, str], CommandResult | None]) -> CommandResult:
    """What a host sends for a script of batch_script(), when each fact's command gives
    answer(fact, command): a fake host (tests, replays of recordings). The facts one shared command
    reads (SHARED_READS) are each answered with their own command, their outputs joined as the
    shared command prints them; a fact answered None is left out (collect_host runs it alone).
    """
    script = in_login_shell_inverse(script)
    marker = shlex.split(script.split("bd_e() { printf '\\n%s END %s %s\\n' ", 1)[1])[0]
    out, err = bytearray(), []
    for fact, command in batch_facts(script).items():
        views = [(f, own) for f, (own, shared, _s, _k) in SHARED_READS.items() if shared == command]
        views = views or next((v for r in joined_reads() if (v := r.views(command))), [])
        answers = [answer(f, own) for f, own in views] if views else [answer(fact, command)]
        if not answers or any(r is None for r in answers):
            continue
        results = [r for r in answers if r is not None]
        status = results[0].exit_status if results[0].exit_status is not None else 1
        out += f"{marker} BEGIN {fact}\n".encode() + b"".join(r.stdout_bytes for r in results)
        out += f"\n{marker} END {fact} {status}\n".encode()
        err.append(f"\n{marker} BEGIN {fact}\n" + "".join(r.stderr for r in results))
    return CommandResult(script, 0, bytes(out), "".join(err) + f"\n{marker} DONE\n")


# what `timeout` reports: 124 after SIGTERM, 137 (128+SIGKILL) when -k had to kill
_TIMEOUT_STATUSES = (124, 137)


def _stdout_blocks(output: bytes, mark: bytes, keep: int) -> dict[str, tuple[bytes, str | None]]:
    """fact -> (its stdout, up to `keep` bytes; its END status text, or None when the stream ends
    inside it)."""
    blocks: dict[str, tuple[bytes, str | None]] = {}
    current: str | None = None
    out = bytearray()
    for line in io.BytesIO(output):  # lines end at b"\n" only (splitlines also cuts at b"\r")
        if line.startswith(mark + b" BEGIN "):
            if current is not None:
                blocks[current] = (bytes(out), None)
            current, out = line[len(mark) + 7 :].decode("utf-8", "replace").strip(), bytearray()
        elif line.startswith(mark + b" END ") and current is not None:
            body = bytes(out[:-1] if out.endswith(b"\n") else out)  # drop the newline END added
            blocks[current] = (body, line.decode("utf-8", "replace").split()[-1])
            current = None
        elif current is not None and len(out) <= keep:
            out += line
    if current is not None:
        blocks[current] = (bytes(out), None)
    return blocks


def _stderr_blocks(stderr: str, mark: str, keep: int) -> dict[str, tuple[str, bool]]:
    """fact -> (its stderr, up to about `keep` characters; whether the next marker followed it,
    i.e. it is whole)."""
    blocks: dict[str, tuple[str, bool]] = {}
    current: str | None = None
    parts: list[str] = []
    size = 0
    for line in io.StringIO(stderr):  # newline="\n": lines end at "\n" only
        if line.startswith((mark + " BEGIN ", mark + " DONE")):
            if current is not None:
                text = "".join(parts)
                blocks[current] = (text[:-1] if text.endswith("\n") else text, True)
            current = line[len(mark) + 7 :].strip() if line.startswith(mark + " BEGIN ") else None
            parts, size = [], 0
        elif current is not None and size <= keep:
            parts.append(line)
            size += len(line)
    if current is not None:
        blocks[current] = ("".join(parts), False)
    return blocks


def split_batch(
    output: bytes,
    marker: str,
    commands: dict[str, str],
    max_output: int = DEFAULT_MAX_OUTPUT,
    stderr: str | None = None,
) -> dict[str, CommandResult]:
    """Cut the framed output of batch_script() back into one CommandResult per fact.

    `output` and `stderr` are the batch's two streams. A fact is in the result when both its
    streams are whole, or when one of them is longer than `max_output` (then cut there and marked
    truncated); a fact whose streams the bound cut short is left out, to be run again. Without
    `stderr` (None) the facts' stderr is not known and each counts as empty.
    Example: b"M BEGIN a\\nhello\\n\\nM END a 0\\n", "\\nM BEGIN a\\nwarn\\n\\nM DONE\\n"
    -> {"a": CommandResult("...", 0, b"hello\\n", "warn\\n")}
    """
    results: dict[str, CommandResult] = {}
    outs = _stdout_blocks(output, marker.encode(), max_output + 1)
    errs = _stderr_blocks(stderr, marker, max_output + 1) if stderr is not None else {}
    for fact, (body, status_text) in outs.items():
        if fact not in commands:
            continue
        err, err_whole = errs.get(fact, ("", stderr is None))
        truncated = len(body) > max_output or len(err) > max_output
        if not truncated and (status_text is None or not err_whole):
            continue
        status = int(status_text) if status_text and status_text.lstrip("-").isdigit() else None
        command = commands[fact]
        under_timeout = not reads_kernel_only(command) and "timeout" not in command
        timed_out = status in _TIMEOUT_STATUSES and under_timeout and not truncated
        results[fact] = CommandResult(
            command,
            None if timed_out or truncated else status,
            body[:max_output],
            err[:max_output],
            timed_out=timed_out,
            truncated=truncated,
        )
    return results


def shared_reads(commands: dict[str, str]) -> list[tuple[str, list[str], JoinedRead | None]]:
    """The reads that serve several facts with one command: (the command, its facts in order, the
    driver's JoinedRead that cuts its output; None for the shared `ss`).

    `ss -p` (walks every process's file descriptors) once for ss.listen and ss.bgp, each fact the
    lines its own `ss` would print (SHARED_READS); and the facts a driver reads with one run of its
    client (drivers.JoinedRead: FRR's `show ... json` facts with one vtysh).
    Example: {"ss.listen": SS_LISTEN_COMMAND, "ss.bgp": SS_BGP_COMMAND}
    -> [("ss -Htanp 'sport = :179 or dport = :179'", ["ss.listen", "ss.bgp"], None)]
    """
    groups: dict[str, tuple[list[str], JoinedRead | None]] = {}
    joined: dict[tuple[JoinedRead, str], list[str]] = {}
    for fact, command in commands.items():
        shared = SHARED_READS.get(fact)
        if shared is not None and shared[0] == command:
            groups.setdefault(shared[1], ([], None))[0].append(fact)
            continue
        for reader in joined_reads():
            if (client := reader.client(fact, command)) is not None:
                joined.setdefault((reader, client), []).append(fact)
                break
    for (reader, client), facts in joined.items():
        if len(facts) > 1:
            groups[reader.join(client, [commands[f] for f in facts])] = (facts, reader)
    return [(command, facts, reader) for command, (facts, reader) in groups.items()]


def batch_commands(commands: dict[str, str]) -> dict[str, str]:
    """The commands a batch runs for these facts: the facts of a shared read (shared_reads) with
    its one command, under the name of the first.

    Example: {"ss.listen": SS_LISTEN_COMMAND, "ss.bgp": SS_BGP_COMMAND}
    -> {"ss.listen": "ss -Htanp 'sport = :179 or dport = :179'"}
    """
    reads = shared_reads(commands)
    first = {facts[0]: shared for shared, facts, _reader in reads}
    served = {f for _, facts, _reader in reads for f in facts}
    return {
        fact: first.get(fact, command)
        for fact, command in commands.items()
        if fact in first or fact not in served
    }


def _shared_facts(
    commands: dict[str, str], results: dict[str, CommandResult]
) -> tuple[dict[str, CommandResult], dict[str, str]]:
    """`results` of batch_commands(commands) as the facts of `commands`, and the facts to read again
    by their own commands (a joined read that could not be cut). Each fact of a shared `ss` gets its
    lines of the shared output, with the shared exit status and stderr; each fact of a joined read
    its part of the output (JoinedRead.cut), with its own command."""
    found = dict(results)
    again: dict[str, str] = {}
    for shared, facts, reader in shared_reads(commands):
        raw = found.get(facts[0])
        if raw is None or raw.command != shared:
            continue  # not read in this batch (or read by its own command)
        del found[facts[0]]
        if reader is None:  # the one `ss`
            for fact in facts:
                _own, _shared, states, keep = SHARED_READS[fact]
                lines = raw.stdout_bytes.splitlines(keepends=True)
                mine = b"".join(x for x in lines if (_first_word(x) in states) == keep)
                found[fact] = dataclasses.replace(raw, command=commands[fact], stdout_bytes=mine)
            continue
        cuts = reader.cut(raw, len(facts))
        if cuts is None:
            again.update({fact: commands[fact] for fact in facts})
            continue
        for fact, out in zip(facts, cuts, strict=True):
            found[fact] = dataclasses.replace(raw, command=commands[fact], stdout_bytes=out)
    return found, again


def _first_word(line: bytes) -> str:
    words = line.split(maxsplit=1)
    return words[0].decode("ascii", "replace") if words else ""


def _run_batches(
    facts: HostFacts, commands: dict[str, str], marker: str, timeout: float, limit: int
) -> CommandResult | None:
    """Run the facts' commands as framed batches and keep what comes back whole in facts.outputs;
    the facts a batch's shared bound cut short go in the next batch, as long as each brings some.

    Returns the last batch's own result (None when the host could not be used).
    """
    pending = batch_commands(commands)
    got: dict[str, CommandResult] = {}
    batch = None
    # the transport stops the batch at the bound itself, or the host's `head` does (batch_script)
    on_host = not getattr(facts.connection, "stops_at_max_output", False)
    while pending:
        # each command may run for timeout + KILL_AFTER_S; the raw batch is never stored, only the
        # facts split_batch() cuts out of it, each cleaned (bounded, redacted) on its own
        bound = batch_bound(marker, pending, limit)
        batch = facts.run_raw(
            in_login_shell(batch_script(pending, marker, timeout, limit, bound_on_host=on_host)),
            (timeout + KILL_AFTER_S) * len(pending) + 5,
            (limit + 4096) * 2 * len(pending) + 65536 if on_host else bound,
        )
        if batch is None:
            break
        new = split_batch(batch.stdout_bytes, marker, pending, limit, batch.stderr)
        pending = {f: c for f, c in pending.items() if f not in new}
        cut, again = _shared_facts(commands, new)
        got.update(cut)
        pending.update(again)  # a shared read that could not be cut: its facts' own commands, next
        # a batch the transport cut at the bound is what the host's head would have sent: go on
        if not new or batch.timed_out or (batch.truncated and on_host):
            break
    for fact, result in got.items():
        facts.outputs[fact] = clean_result(result, limit)
    return batch


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
    appliance = is_appliance(facts.host.speaker)
    batch = None
    if not appliance:  # a vendor CLI would only choke on a sh script
        batch = _run_batches(facts, commands, marker, timeout, limit)
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
