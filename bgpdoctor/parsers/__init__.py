"""Pure parsers: command output text in, dataclasses out.

One module per tool (``bird``, ``gobgp``, ``ping``, ``ss``, ``sysctl``, ``iproute``, ``nft``,
``pcap``). Every parser raises :class:`ParseError` on input it cannot make sense of, never a bare
``KeyError`` or ``ValueError``, so a probe can turn it into a finding with the raw text as evidence.

Example::

    >>> from bgpdoctor.parsers.sysctl import parse_sysctl
    >>> parse_sysctl("net.ipv4.ip_forward = 1\\n")
    {'net.ipv4.ip_forward': '1'}
"""

from __future__ import annotations

from bgpdoctor.errors import BgpDoctorError


class ParseError(BgpDoctorError):
    """Output a parser could not understand.

    Example: ParseError("bird", "no 'Name Proto Table State Since Info' header") whose str() is
    "bird: no 'Name Proto Table State Since Info' header".
    """

    def __init__(self, parser: str, message: str) -> None:
        self.parser = parser
        self.message = message
        super().__init__(f"{parser}: {message}")


__all__ = ["ParseError"]
