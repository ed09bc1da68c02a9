"""The transport contract shared by SSH, netns and local connections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

# What one command may print before bgpdoctor stops reading it (a full BGP table is a few MiB;
# 100 MB from one birdc would otherwise cost gigabytes in memory, the report and the recording).
DEFAULT_MAX_OUTPUT = 8 * 1024 * 1024


def size_text(size: int) -> str:
    """Example: size_text(8388608) -> "8 MiB"; size_text(1536) -> "1.5 KiB"; size_text(100) -> "100 bytes"."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.4g} {unit}"
    return f"{size} bytes"


@dataclass
class CommandResult:
    """What one command printed, kept verbatim as evidence.

    Example: CommandResult(command="sysctl -n net.ipv4.ip_forward", exit_status=0,
    stdout_bytes=b"1\\n", stderr="", duration_s=0.01). ``truncated`` is True when the command printed
    more than the bound: stdout or stderr was cut there and the command stopped (exit_status None).
    """

    command: str
    exit_status: int | None
    stdout_bytes: bytes
    stderr: str = ""
    duration_s: float = 0.0
    timed_out: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    truncated: bool = False

    @property
    def stdout(self) -> str:
        # decoded once: a router's output is read by every session and path that cites it
        cached: tuple[bytes, str] | None = self.__dict__.get("_stdout")
        if cached is None or cached[0] is not self.stdout_bytes:
            cached = self.__dict__["_stdout"] = (
                self.stdout_bytes,
                self.stdout_bytes.decode("utf-8", errors="replace"),
            )
        return cached[1]

    @property
    def ok(self) -> bool:
        return self.exit_status == 0 and not self.timed_out and not self.truncated

    @property
    def command_missing(self) -> bool:
        return self.exit_status == 127

    @property
    def truncation_note(self) -> str:
        """For evidence: "[output truncated at 8 MiB]" when truncated, else ""."""
        if not self.truncated:
            return ""
        cut_at = max(len(self.stdout_bytes), len(self.stderr.encode("utf-8", "replace")))
        return f"[output truncated at {size_text(cut_at)}]"


class Connection(Protocol):
    """An open connection to one host. One whose run() really stops the command at max_output (not
    only cuts what it read) says so with a class attribute `stops_at_max_output = True`: the
    collection batch then leaves the bound to it and starts no `head` on the host."""

    host: str

    def run(self, command: str, timeout: float = 10.0, max_output: int = DEFAULT_MAX_OUTPUT) -> CommandResult:
        """Run a shell command on the host; never raises for a failing command.

        Stops reading (and stops the command) once stdout or stderr exceeds `max_output` bytes:
        the result then holds the first `max_output` bytes and ``truncated=True``.
        """
        ...

    def close(self) -> None: ...
