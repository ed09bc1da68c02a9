"""The transport contract shared by SSH, netns and local connections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class CommandResult:
    """What one command printed, kept verbatim as evidence.

    Example: CommandResult(command="sysctl -n net.ipv4.ip_forward", exit_status=0,
    stdout_bytes=b"1\\n", stderr="", duration_s=0.01)
    """

    command: str
    exit_status: int | None
    stdout_bytes: bytes
    stderr: str = ""
    duration_s: float = 0.0
    timed_out: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", errors="replace")

    @property
    def ok(self) -> bool:
        return self.exit_status == 0 and not self.timed_out

    @property
    def command_missing(self) -> bool:
        return self.exit_status == 127


class Connection(Protocol):
    """An open connection to one host."""

    host: str

    def run(self, command: str, timeout: float = 10.0) -> CommandResult:
        """Run a shell command on the host; never raises for a failing command."""
        ...

    def close(self) -> None: ...
