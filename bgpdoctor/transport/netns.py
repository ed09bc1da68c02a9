"""Run commands inside a network namespace on this machine (``ip netns exec NS sh -c CMD``)."""

from __future__ import annotations

from pathlib import Path

from bgpdoctor.errors import HostError
from bgpdoctor.transport.base import DEFAULT_MAX_OUTPUT, CommandResult
from bgpdoctor.transport.local import run_argv

NETNS_DIR = Path("/run/netns")


class NetnsConnection:
    """A host that is a network namespace here, e.g. a lab namespace ``bdlab-router-mine``.

    Raises HostError(kind "unreachable") when the namespace does not exist.
    Example: ``NetnsConnection("router-mine", "bdlab-router-mine").run("ip -j -br addr").exit_status`` -> 0
    """

    stops_at_max_output = True  # kills the command at max_output (run_argv)

    def __init__(self, name: str, netns: str) -> None:
        self.host = name
        self.netns = netns
        if "/" in netns or netns in ("", ".", "..") or not (NETNS_DIR / netns).exists():
            raise HostError(name, "unreachable", f"network namespace '{netns}' does not exist")

    def run(self, command: str, timeout: float = 10.0, max_output: int = DEFAULT_MAX_OUTPUT) -> CommandResult:
        """Run command inside the namespace; a timeout gives exit_status None and timed_out True."""
        return run_argv(
            ["ip", "netns", "exec", self.netns, "sh", "-c", command], command, timeout, max_output
        )

    def close(self) -> None:
        """Nothing to close."""
