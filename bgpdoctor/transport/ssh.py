"""SSH transport (paramiko): one connection per host, reused for every command.

What paramiko does not do and this module adds: ``Include`` in ssh_config, known_hosts loading
that tolerates ``@cert-authority``/``@revoked`` lines, an accept-new host key mode, and ProxyJump
chains (each hop opens a ``direct-tcpip`` channel to the next). Errors become
``HostError(host, kind, message)`` with kind unreachable, timeout, auth, hostkey,
refused-by-guard or error; a password never appears in a message.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import getpass
import glob
import hashlib
import ipaddress
import logging
import os
import re
import select
import shlex
import socket
import sys
import threading
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from bgpdoctor.errors import HostError
from bgpdoctor.inventory_model import SshTarget
from bgpdoctor.transport.base import DEFAULT_MAX_OUTPUT, CommandResult
from bgpdoctor.transport.guard import ensure_routed_via_lab

if TYPE_CHECKING:
    from collections.abc import Mapping

    import paramiko

DEFAULT_CONNECT_TIMEOUT = 5.0
_EOF_GRACE_S = 1.0
SYSTEM_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"
_INCLUDE = re.compile(r"^\s*include(?:\s*=\s*|\s+)(.+)$", re.IGNORECASE)
# `Match exec "cmd %h"` in an ssh_config runs cmd through a shell on this machine while the config is
# looked up; bgpdoctor (often root) evaluates it only when this variable is 1 (docs/inventory.md).
MATCH_EXEC_ENV = "BGPDOCTOR_SSH_MATCH_EXEC"
_MATCH = re.compile(r"^(?P<indent>\s*)match(?:\s*=\s*|\s+)(?P<criteria>.+)$", re.IGNORECASE)
_NEVER_MATCHES = 'Match host "!*"'  # paramiko: a negated pattern that matches every name
# a DNS name, an ssh_config alias or an IPv4 address: letters, digits, '.', '-', '_'
_HOST_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,252})")


def check_host_name(value: str, host: str) -> str:
    """`value` if it is a plain host name, alias or IP address; else HostError(kind "error").

    Host names reach ssh_config matching, where ``%h`` may be expanded into a shell command
    (``Match exec``), so shell metacharacters, blanks and control characters are refused.
    Example: check_host_name("172.31.254.11", "r1") -> "172.31.254.11";
    check_host_name("m$(touch /tmp/x)", "r1") -> HostError("r1", "error", "refusing SSH host name ...").
    """
    try:
        ipaddress.ip_address(value)
        plain = "%" not in value  # an IPv6 zone (fe80::1%eth0): '%' starts ssh_config tokens
    except ValueError:
        plain = _HOST_NAME.fullmatch(value) is not None
    if not plain:
        raise HostError(
            host,
            "error",
            f"refusing SSH host name {value!r}: a host name, alias or address holds only letters, "
            "digits, '.', '-' and '_' (or is an IP address without a zone)",
        )
    return value


def match_exec_allowed() -> bool:
    """Whether ssh_config ``Match exec`` may run (the user set BGPDOCTOR_SSH_MATCH_EXEC=1)."""
    return os.environ.get(MATCH_EXEC_ENV, "").strip().lower() in ("1", "yes", "true")


def without_match_exec(text: str) -> tuple[str, int]:
    """ssh_config text whose ``Match exec`` blocks never apply, and how many there were.

    A block whose command is not run is treated as not matching (as if the command failed; for
    ``!exec`` as if it succeeded), so its settings are ignored. Example:
    'Match exec "test %h = r1"\n  User admin\n' -> ('Match host "!*"\n  User admin\n', 1)
    """
    out: list[str] = []
    found = 0
    for line in text.split("\n"):
        m = _MATCH.match(line)
        if m:
            try:
                words = shlex.split(m.group("criteria"))
            except ValueError:
                words = m.group("criteria").split()
            if any(w.lower().lstrip("!") == "exec" for w in words):
                line = m.group("indent") + _NEVER_MATCHES
                found += 1
        out.append(line)
    return "\n".join(out), found


class _ParamikoToDebug(logging.Handler):
    """paramiko's transport thread logs a traceback for every failed handshake; those failures are
    already HostErrors, so its records go to bgpdoctor's SSH log at debug level, one line each."""

    def emit(self, record: logging.LogRecord) -> None:
        first = record.getMessage().splitlines()[0] if record.getMessage() else ""
        logging.getLogger("bgpdoctor.ssh").debug("paramiko: %s", first)


def _quiet_paramiko() -> None:
    logger = logging.getLogger("paramiko")
    if not any(isinstance(h, _ParamikoToDebug) for h in logger.handlers):
        logger.addHandler(_ParamikoToDebug())
    logger.propagate = False


def read_ssh_config(path: Path, log: logging.Logger | None = None, who: str = "") -> str:
    """The ssh_config text bgpdoctor may hand to paramiko: Includes expanded, and ``Match exec``
    blocks disabled unless $BGPDOCTOR_SSH_MATCH_EXEC is 1 (a warning says so when there are any).

    Example: read_ssh_config(Path("~/.ssh/config").expanduser()) -> "Host r1\n  HostName 10.0.0.1\n"
    """
    text = expand_ssh_config(path) if path.exists() else ""
    if match_exec_allowed():
        return text
    text, skipped = without_match_exec(text)
    if skipped and log is not None:
        log.warning(
            "%s%s has %d `Match exec` block(s); not running their commands, so those blocks do not apply "
            "(set %s=1 to run them)",
            f"{who}: " if who else "",
            path,
            skipped,
            MATCH_EXEC_ENV,
        )
    return text


def expand_ssh_config(path: Path, base: Path | None = None, _depth: int = 0) -> str:
    """The text of an ssh_config file with every ``Include`` replaced by the files it names.

    Relative Include paths are taken relative to ``base`` (default ``~/.ssh``, as OpenSSH does for
    user files); globs are sorted. Missing files are skipped. Example: a config containing
    ``Include conf.d/*`` returns its own lines with those files' lines in place of the Include.
    """
    if _depth > 16:
        return ""
    base = base or Path("~/.ssh").expanduser()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    out: list[str] = []
    for line in text.splitlines():
        m = _INCLUDE.match(line)
        if not m:
            out.append(line)
            continue
        for pattern in m.group(1).split():
            pattern = os.path.expanduser(pattern.strip('"'))
            if not os.path.isabs(pattern):
                pattern = str(base / pattern)
            for inc in sorted(glob.glob(pattern)):
                out.append(expand_ssh_config(Path(inc), base, _depth + 1))
    return "\n".join(out) + "\n"


def load_known_hosts(
    files: list[str], log: logging.Logger, into: paramiko.HostKeys | None = None
) -> paramiko.HostKeys:
    """Load known_hosts files line by line, skipping lines paramiko cannot read, with a warning.

    One ``@cert-authority`` line makes ``paramiko.HostKeys(file)`` fail for the whole file, so each
    line is parsed on its own. Hashed ``|1|`` names work. Example: ``load_known_hosts(
    ["~/.ssh/known_hosts"], log).lookup("172.31.254.11")`` -> ``{"ssh-ed25519": <Ed25519Key>}``.
    """
    import paramiko

    keys = into if into is not None else paramiko.HostKeys()
    for name in files:
        path = Path(name).expanduser()
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for lineno, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("@"):
                log.warning("%s:%d: skipping %s line (not supported)", path, lineno, line.split()[0])
                continue
            try:
                entry = paramiko.hostkeys.HostKeyEntry.from_line(line, lineno)
            except Exception as exc:
                log.warning(
                    "%s:%d: skipping unreadable known_hosts line (%s)", path, lineno, type(exc).__name__
                )
                continue
            if entry is None or entry.key is None:
                continue
            for hostname in entry.hostnames:
                keys.add(hostname, entry.key.get_name(), entry.key)
    return keys


def _file_version(path: Path) -> tuple[str, int, int] | None:
    """What identifies a file's content for the caches below: a changed file is read again."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path), st.st_mtime_ns, st.st_size)


@dataclass
class _ParsedSshConfig:
    config: paramiko.SSHConfig
    skipped_match_exec: int
    lookups: dict[str, dict[str, Any]] = field(default_factory=dict)


_cache_lock = threading.Lock()
_ssh_configs: dict[tuple[Any, ...], _ParsedSshConfig] = {}
_known_hosts: dict[tuple[Any, ...], paramiko.HostKeys] = {}


@functools.cache
def _user_once() -> str:
    return getpass.getuser()


_import_lock = threading.Lock()


def _import_paramiko() -> None:
    """Import paramiko without invoke unless `Match exec` may run.

    paramiko.config imports invoke (~75 ms of CPU, a fifth of a run's start-up) only to run
    `Match exec` commands, which bgpdoctor disables unless $BGPDOCTOR_SSH_MATCH_EXEC is 1. When it
    is 1, invoke is imported (now, or later for a paramiko imported without it).
    """
    if "paramiko.config" in sys.modules:
        config = sys.modules["paramiko.config"]
        if match_exec_allowed() and getattr(config, "invoke", None) is None:
            with contextlib.suppress(ImportError):
                import invoke

                vars(config)["invoke"] = invoke
        return
    with _import_lock:
        blocked = not match_exec_allowed() and "invoke" not in sys.modules
        if blocked:
            sys.modules["invoke"] = None  # type: ignore[assignment]  # `import invoke` raises ImportError
        try:
            import paramiko  # noqa: F401
        finally:
            if blocked and sys.modules.get("invoke", False) is None:
                del sys.modules["invoke"]


def _paramiko_getuser_once() -> None:
    """paramiko's ssh_config lookup calls getpass.getuser (a passwd lookup) for every Host block of
    every lookup: 80,000 calls for 200 hosts. The user does not change during a run."""
    import paramiko.config

    module = vars(paramiko.config)
    if getattr(module.get("getpass"), "getuser", None) is not _user_once:
        module["getpass"] = types.SimpleNamespace(getuser=_user_once)


def _parsed_ssh_config(path: Path) -> _ParsedSshConfig:
    """`path` read, expanded and parsed once per run (per version of the file), not once per host:
    with 100 hosts the per-connection parse cost grew with the square of the fleet.
    Raises paramiko.ConfigParseError."""
    _import_paramiko()
    import paramiko

    _paramiko_getuser_once()

    exec_allowed = match_exec_allowed()
    key = (_file_version(path) or str(path), exec_allowed)
    with _cache_lock:
        cached = _ssh_configs.get(key)
    if cached is not None:
        return cached
    text = expand_ssh_config(path) if path.exists() else ""
    skipped = 0
    if not exec_allowed:
        text, skipped = without_match_exec(text)
    parsed = _ParsedSshConfig(paramiko.SSHConfig.from_text(text), skipped)
    with _cache_lock:
        return _ssh_configs.setdefault(key, parsed)


def _shared_known_hosts(files: list[str], log: logging.Logger) -> paramiko.HostKeys:
    """The known_hosts files parsed once per run (per version of each file); callers copy it."""
    paths = [Path(name).expanduser() for name in files]
    key = tuple(_file_version(p) or str(p) for p in paths)
    with _cache_lock:
        cached = _known_hosts.get(key)
    if cached is None:
        cached = load_known_hosts(files, log)
        with _cache_lock:
            cached = _known_hosts.setdefault(key, cached)
    return cached


def _copy_host_keys(shared: paramiko.HostKeys, into: paramiko.HostKeys) -> None:
    # HostKeys.add scans every entry (quadratic in the file); the parsed entries are immutable, so a
    # client gets its own list of the shared entries (a key it accepts is added to its copy only)
    vars(into)["_entries"] = list(vars(shared)["_entries"])


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style fingerprint, e.g. ``ssh-ed25519 SHA256:4cV1...``."""
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"{key.get_name()} SHA256:{digest}"


@dataclass
class SshParams:
    """The resolved settings for one SSH hop (after inventory, ssh_config and defaults)."""

    alias: str
    hostname: str
    port: int = 22
    user: str | None = None
    identity_files: list[str] = field(default_factory=list)
    password_env: str | None = None
    user_known_hosts: str = "~/.ssh/known_hosts"
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    accept_new: bool = False
    proxy_jump: str | None = None


def _parse_hop(hop: str) -> tuple[str | None, str, int | None]:
    """'admin@r1:2222' -> ('admin', 'r1', 2222); 'ssh://r1' -> (None, 'r1', None)."""
    hop = hop.strip().removeprefix("ssh://")
    user: str | None = None
    if "@" in hop:
        user, hop = hop.rsplit("@", 1)
    port: int | None = None
    if hop.startswith("["):
        host, _, rest = hop[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
    elif hop.count(":") == 1:
        host, _, p = hop.partition(":")
        port = int(p) if p.isdigit() else None
    else:
        host = hop
    return user, host, port


class _Refused(Exception):
    """Raised by the host key policy for an unknown key when accept-new is off."""

    def __init__(self, name: str, key: paramiko.PKey) -> None:
        super().__init__(name)
        self.name = name
        self.key = key


class SshConnection:
    """An SSH connection to one inventory host; run() reuses it for every command.

    Settings come from the host's ssh fields first, then ~/.ssh/config (or target.ssh_config)
    for the alias ``target.host or name``, then the inventory defaults. Host keys are checked
    against known_hosts (RejectPolicy); ``accept_new_host_keys`` trusts and saves unknown keys but a
    changed key is always refused. ``jump_hosts`` maps inventory host names to their SshTarget so a
    ProxyJump hop may name an inventory host; ``lab_prefix`` turns on the lab guard for every hop.

    Example: ``SshConnection("router-mine", SshTarget(host="172.31.254.11", user="root"), SshTarget(),
    False).run("birdc show status").exit_status`` -> 0
    """

    stops_at_max_output = True  # closes the channel at max_output (see run)

    def __init__(
        self,
        name: str,
        target: SshTarget,
        defaults: SshTarget | None = None,
        accept_new_host_keys: bool = False,
        log: logging.Logger | None = None,
        *,
        jump_hosts: Mapping[str, SshTarget] | None = None,
        lab_prefix: str | None = None,
    ) -> None:
        self.host = name
        self.target = target
        self.defaults = defaults or SshTarget()
        self.accept_new_host_keys = accept_new_host_keys
        self.log = log or logging.getLogger("bgpdoctor.ssh")
        self.jump_hosts = dict(jump_hosts or {})
        self.lab_prefix = lab_prefix
        self._lock = threading.RLock()
        self._clients: list[paramiko.SSHClient] = []
        self._secrets: list[str] = []
        self._warned_match_exec = False

    # --- settings -------------------------------------------------------------------------
    def _ssh_config(self, target: SshTarget) -> _ParsedSshConfig:
        import paramiko

        name = target.ssh_config or self.defaults.ssh_config or "~/.ssh/config"
        path = Path(name).expanduser()
        try:
            parsed = _parsed_ssh_config(path)
        except paramiko.ConfigParseError as exc:
            raise self._err("error", f"cannot read ssh_config {path}: {exc}") from None
        if parsed.skipped_match_exec and not self._warned_match_exec:
            self.log.warning(
                "%s: %s has %d `Match exec` block(s); not running their commands, so those blocks do not "
                "apply (set %s=1 to run them)",
                self.host,
                path,
                parsed.skipped_match_exec,
                MATCH_EXEC_ENV,
            )
        self._warned_match_exec = True
        return parsed

    def _ssh_config_lookup(self, target: SshTarget, name: str) -> dict[str, Any]:
        """ssh_config's settings for one host name, looked up once per run (paramiko's lookup calls
        getpass.getuser for every token of every line)."""
        parsed = self._ssh_config(target)
        found = parsed.lookups.get(name)
        if found is None:
            found = parsed.lookups[name] = dict(parsed.config.lookup(name))
        return dict(found)

    def resolve(self, alias: str, target: SshTarget) -> SshParams:
        """Merge target > ssh_config (Host alias) > inventory defaults into SshParams.

        Example: ``resolve("router-mine", SshTarget(host="172.31.254.11"))`` ->
        ``SshParams(alias="172.31.254.11", hostname="172.31.254.11", port=22, user="root", ...)``.
        """
        d = self.defaults
        lookup = check_host_name(target.host or alias, self.host)
        cfg: dict[str, Any] = self._ssh_config_lookup(target, lookup)

        def pick(mine: Any, key: str, default: Any) -> Any:
            if mine is not None:
                return mine
            if key in cfg:
                return cfg[key]
            return default

        hostname = check_host_name(str(cfg.get("hostname") or lookup), self.host)
        port = int(pick(target.port, "port", d.port or 22))
        user = pick(target.user, "user", d.user)
        if target.identity_file is not None:
            identities = [target.identity_file]
        elif cfg.get("identityfile"):
            identities = list(cfg["identityfile"])
        else:
            identities = [d.identity_file] if d.identity_file else []
        known = target.known_hosts
        if known is None and cfg.get("userknownhostsfile"):
            known = str(cfg["userknownhostsfile"]).split()[0]
        known = known or d.known_hosts or "~/.ssh/known_hosts"
        timeout = pick(target.connect_timeout, "connecttimeout", d.connect_timeout or DEFAULT_CONNECT_TIMEOUT)
        strict = str(cfg.get("stricthostkeychecking", "")).lower()
        accept_new = self.accept_new_host_keys
        if strict in ("no", "off", "accept-new") and not accept_new:
            self.log.warning(
                "%s: ssh_config sets StrictHostKeyChecking %s; treating it as accept-new (a changed key is "
                "still refused)",
                self.host,
                strict,
            )
            accept_new = True
        jump = pick(target.proxy_jump, "proxyjump", d.proxy_jump)
        if jump is not None and str(jump).lower() == "none":
            jump = None
        return SshParams(
            alias=lookup,
            hostname=hostname,
            port=port,
            user=str(user) if user else None,
            identity_files=[os.path.expanduser(str(i)) for i in identities],
            password_env=target.password_env or d.password_env,
            user_known_hosts=os.path.expanduser(known),
            connect_timeout=float(timeout),
            accept_new=accept_new,
            proxy_jump=str(jump) if jump else None,
        )

    def chain(self) -> list[SshParams]:
        """The hops to connect through, first hop first, the target last."""
        final = self.resolve(self.host, self.target)
        hops: list[SshParams] = []
        for hop in (final.proxy_jump or "").split(","):
            if not hop.strip():
                continue
            user, host, port = _parse_hop(hop)
            base = self.jump_hosts.get(host)
            if base is not None:
                t = base.model_copy(update={"proxy_jump": "none"})
                params = self.resolve(host, t)
            else:
                params = self.resolve(host, SshTarget(proxy_jump="none"))
            if user:
                params.user = user
            if port:
                params.port = port
            hops.append(params)
        return [*hops, final]

    # --- connecting -----------------------------------------------------------------------
    def _err(self, kind: str, message: str) -> HostError:
        for secret in self._secrets:
            if secret:
                message = message.replace(secret, "***")
        return HostError(self.host, kind, message)

    def connect(self) -> None:
        """Open the connection (and its ProxyJump hops) unless it is already open."""
        _import_paramiko()
        with self._lock:
            if self._clients and self._active():
                return
            self.close()
            hops = self.chain()
            sock: Any = None
            try:
                for i, hop in enumerate(hops):
                    where = f"{hop.hostname}:{hop.port}"
                    if self.lab_prefix is not None:
                        ensure_routed_via_lab(hop.hostname, self.lab_prefix, host=self.host)
                    sock = self._tcp(hop) if i == 0 else self._jump_channel(hops[i - 1], hop)
                    self._clients.append(self._ssh(hop, sock, where))
            except BaseException:
                if sock is not None and not self._clients:
                    with contextlib.suppress(Exception):
                        sock.close()
                self.close()
                raise

    def _active(self) -> bool:
        transport = self._clients[-1].get_transport() if self._clients else None
        return transport is not None and transport.is_active()

    def _tcp(self, hop: SshParams) -> socket.socket:
        where = f"{hop.hostname}:{hop.port}"
        try:
            return socket.create_connection((hop.hostname, hop.port), timeout=hop.connect_timeout)
        except socket.gaierror as exc:
            raise self._err("unreachable", f"cannot resolve {hop.hostname}: {exc.strerror}") from None
        except TimeoutError:
            raise self._err("timeout", f"no answer from {where} within {hop.connect_timeout:g} s") from None
        except ConnectionRefusedError:
            raise self._err("unreachable", f"connection to {where} refused (is sshd running?)") from None
        except OSError as exc:
            raise self._err("unreachable", f"cannot connect to {where}: {exc.strerror or exc}") from None

    def _jump_channel(self, via: SshParams, hop: SshParams) -> Any:
        import paramiko

        transport = self._clients[-1].get_transport()
        where = f"{hop.hostname}:{hop.port}"
        if transport is None:
            raise self._err("unreachable", f"jump host {via.alias} disconnected")
        try:
            return transport.open_channel(
                "direct-tcpip", (hop.hostname, hop.port), ("", 0), timeout=hop.connect_timeout
            )
        except paramiko.ChannelException as exc:
            raise self._err(
                "unreachable", f"jump host {via.alias} cannot open a connection to {where}: {exc.text}"
            ) from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            kind = "timeout" if "Timeout" in str(exc) else "unreachable"
            raise self._err(kind, f"jump host {via.alias} cannot reach {where}: {exc}") from None

    def _ssh(self, hop: SshParams, sock: Any, where: str) -> paramiko.SSHClient:
        import paramiko

        password: str | None = None
        if hop.password_env:
            password = os.environ.get(hop.password_env)
            if password is None:
                raise self._err("auth", f"environment variable {hop.password_env} (password_env) is not set")
            self._secrets.append(password)
        for ident in hop.identity_files:
            if not Path(ident).is_file():
                raise self._err("auth", f"identity file {ident} does not exist")

        known_files = [SYSTEM_KNOWN_HOSTS, hop.user_known_hosts]
        client = paramiko.SSHClient()
        _copy_host_keys(_shared_known_hosts(known_files, self.log), client.get_host_keys())
        client.set_missing_host_key_policy(_host_key_policy(hop.accept_new, hop.user_known_hosts, self.log))
        explicit = bool(hop.identity_files) or password is not None
        _quiet_paramiko()
        started = time.monotonic()
        try:
            client.connect(
                hop.hostname,
                port=hop.port,
                username=hop.user,
                password=password,
                key_filename=cast(Any, hop.identity_files or None),  # paramiko takes a list too
                timeout=hop.connect_timeout,
                banner_timeout=hop.connect_timeout,
                auth_timeout=hop.connect_timeout,
                channel_timeout=hop.connect_timeout,
                allow_agent=not explicit,
                look_for_keys=not explicit,
                sock=sock,
            )
        except _Refused as exc:
            client.close()
            raise self._err(
                "hostkey",
                f"host key for {exc.name} not in known_hosts ({fingerprint(exc.key)}) "
                "(use --accept-new-host-keys to trust it)",
            ) from None
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise self._err(
                "hostkey",
                f"host key MISMATCH for {where}: the server offers {fingerprint(exc.key)} but "
                f"{hop.user_known_hosts} has {fingerprint(exc.expected_key)}; if the host was reinstalled, "
                f"remove the old entry with: ssh-keygen -f {hop.user_known_hosts} -R {_known_name(hop)}",
            ) from None
        except paramiko.AuthenticationException as exc:
            client.close()
            tried = ", ".join(
                [f"key {i}" for i in hop.identity_files]
                + ([f"password from ${hop.password_env}"] if password is not None else [])
                + (["agent and default keys"] if not explicit else [])
            )
            raise self._err(
                "auth",
                f"authentication failed for user {hop.user or 'current user'} at {where} "
                f"(tried {tried}): {exc}",
            ) from None
        except TimeoutError:
            client.close()
            raise self._err("timeout", f"SSH handshake with {where} timed out") from None
        except paramiko.SSHException as exc:
            client.close()
            text = str(exc)
            # paramiko gives up on a silent server in several ways ("Error reading SSH protocol
            # banner", or, when its own wait ends first, "No existing session"): time tells them apart
            if time.monotonic() - started >= hop.connect_timeout * 0.9 or "timeout" in text.lower():
                raise self._err(
                    "timeout",
                    f"no SSH handshake from {where} within {hop.connect_timeout:g} s (the port accepts "
                    "connections but sends no SSH banner, or the key exchange stalled)",
                ) from None
            if "banner" in text.lower():
                raise self._err(
                    "unreachable", f"{where} closed the connection without an SSH banner (is it sshd?)"
                ) from None
            raise self._err("error", f"SSH handshake with {where} failed: {text}") from None
        except (EOFError, OSError) as exc:
            client.close()
            raise self._err(
                "unreachable", f"connection to {where} lost during the handshake: {exc}"
            ) from None
        return client

    # --- commands -------------------------------------------------------------------------
    def run(self, command: str, timeout: float = 10.0, max_output: int = DEFAULT_MAX_OUTPUT) -> CommandResult:
        """Run a command; stdout is kept as bytes (binary safe), a timeout closes the channel.

        Example: ``run("printf 'a\\\\000b'")`` -> ``CommandResult(command=..., exit_status=0,
        stdout_bytes=b"a\\x00b", stderr="")``; ``run("sleep 5", timeout=1)`` -> ``exit_status=None,
        timed_out=True``. More than `max_output` bytes on stdout or stderr closes the channel too:
        ``truncated=True``, exit_status None. Raises HostError only when the host itself cannot be used.
        """
        import paramiko

        # The lock covers connecting and opening the channel only: commands on one host may run
        # side by side (a packet capture while pings run), each on its own channel.
        with self._lock:
            self.connect()
            transport = self._clients[-1].get_transport()
            start = time.monotonic()
            try:
                if transport is None:
                    raise EOFError("no transport")
                chan = transport.open_session(timeout=timeout)
                chan.exec_command(command)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                self.close()
                raise self._err("unreachable", f"SSH connection lost: {exc}") from None
        try:
            return self._collect(chan, command, start, timeout, max_output)
        finally:
            chan.close()

    def _collect(
        self, chan: paramiko.Channel, command: str, start: float, timeout: float, max_output: int
    ) -> CommandResult:
        out, err = bytearray(), bytearray()
        deadline = start + timeout
        last_data = time.monotonic()
        exit_seen = 0.0
        while True:
            while chan.recv_ready() and len(out) <= max_output:
                out += chan.recv(65536)
                last_data = time.monotonic()
            while chan.recv_stderr_ready() and len(err) <= max_output:
                err += chan.recv_stderr(65536)
                last_data = time.monotonic()
            if len(out) > max_output or len(err) > max_output:
                # stop reading: closing the channel (run() does) ends the command with SIGPIPE
                return CommandResult(
                    command,
                    None,
                    bytes(out[:max_output]),
                    bytes(err[:max_output]).decode("utf-8", "replace"),
                    time.monotonic() - start,
                    truncated=True,
                )
            # exit-status is not flow-controlled and can overtake output still held back by the
            # window, so finish on EOF; a background process keeping stdout open gets a grace period
            if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                exit_seen = exit_seen or time.monotonic()
                quiet = time.monotonic() - max(last_data, exit_seen)
                if chan.eof_received or chan.closed or quiet > _EOF_GRACE_S:
                    break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return CommandResult(
                    command,
                    None,
                    bytes(out),
                    err.decode("utf-8", "replace"),
                    time.monotonic() - start,
                    timed_out=True,
                )
            if chan.eof_received:
                chan.status_event.wait(min(remaining, 0.2))  # after EOF the pipe stays set: select would spin
            else:
                select.select([chan], [], [], min(remaining, 0.05 if exit_seen else 0.2))
        status = chan.recv_exit_status()
        return CommandResult(
            command,
            status if status >= 0 else None,
            bytes(out),
            err.decode("utf-8", "replace"),
            time.monotonic() - start,
        )

    def close(self) -> None:
        """Close the connection and every jump hop (safe to call twice)."""
        with self._lock:
            for client in reversed(self._clients):
                with contextlib.suppress(Exception):
                    client.close()
            self._clients = []


def _known_name(hop: SshParams) -> str:
    return hop.hostname if hop.port == 22 else f"[{hop.hostname}]:{hop.port}"


def _host_key_policy(accept_new: bool, save_to: str, log: logging.Logger) -> paramiko.MissingHostKeyPolicy:
    """Reject unknown keys, or (accept-new) trust them and append them to the known_hosts file."""
    import paramiko

    class Policy(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
            if not accept_new:
                raise _Refused(hostname, key)
            path = Path(save_to).expanduser()
            try:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as fh:
                    fh.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
            except OSError as exc:
                log.warning("cannot save the host key of %s to %s: %s", hostname, path, exc)
            client.get_host_keys().add(hostname, key.get_name(), key)
            log.warning("trusting new host key for %s (%s), saved to %s", hostname, fingerprint(key), path)

    return Policy()
