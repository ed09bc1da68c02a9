"""One root error type; the CLI turns it into a one-line message and an exit code."""

from __future__ import annotations


class BgpDoctorError(Exception):
    """Base class of every error bgpdoctor raises on purpose."""

    exit_code = 3


class UsageError(BgpDoctorError):
    exit_code = 2


class InventoryError(UsageError):
    """A problem in an inventory file; the message names the file and the line."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


class HostError(BgpDoctorError):
    """A host could not be reached or used; it becomes a result in the report, never a crash.

    kind is one of: unreachable, auth, hostkey, timeout, command-missing, error.
    """

    def __init__(self, host: str, kind: str, message: str) -> None:
        self.host = host
        self.kind = kind
        self.message = message
        super().__init__(f"{host}: {kind}: {message}")


class LabError(BgpDoctorError):
    exit_code = 3
