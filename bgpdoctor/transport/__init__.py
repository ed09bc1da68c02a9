"""How bgpdoctor reaches a host: SSH (paramiko), a local network namespace, or this machine.

Every transport offers the same small interface, `Connection.run(command, timeout)`, returning a
`CommandResult`. Transports never raise for a command that fails; they raise `HostError` only when
the host itself cannot be used (unreachable, authentication refused, host key mismatch).
"""

from bgpdoctor.transport.base import CommandResult, Connection

__all__ = ["CommandResult", "Connection"]
