"""The kernel's build option for TCP MD5 signatures (RFC 2385), as bgpdoctor's read prints it.

Input (engine/collect.py KERNEL_MD5_COMMAND; the grep line is the kernel config's own):
    release 6.18.44-fc-v1272
    source /proc/config.gz
    CONFIG_TCP_MD5SIG=y
A kernel built without it prints `# CONFIG_TCP_MD5SIG is not set` or nothing after `source`; a host
where neither /proc/config.gz nor /boot/config-RELEASE can be read prints `source none`.

Output: KernelMd5(release="6.18.44-fc-v1272", source="/proc/config.gz", enabled=True,
line="CONFIG_TCP_MD5SIG=y"); enabled is None when no configuration could be read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bgpdoctor.parsers import ParseError

P = "kernelconf"
_OPTION = re.compile(r"^(?:CONFIG_TCP_MD5SIG=(?P<value>\S+)|# CONFIG_TCP_MD5SIG is not set)$")


@dataclass
class KernelMd5:
    release: str | None
    source: str | None  # the file read, None when none could be
    enabled: bool | None  # None: no kernel configuration was readable
    line: str | None = None  # the option's own line, as the configuration spells it


def parse_kernel_md5(text: str) -> KernelMd5:
    release: str | None = None
    source: str | None = None
    found: tuple[bool, str] | None = None
    seen_source = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("release "):
            release = line.removeprefix("release ").strip() or None
        elif line.startswith("source "):
            seen_source = True
            name = line.removeprefix("source ").strip()
            source = None if name == "none" else name
        elif m := _OPTION.match(line):
            value = m.group("value")
            found = (value in ("y", "m"), line)
        else:
            raise ParseError(P, f"unexpected line {line[:80]!r}")
    if not seen_source:
        raise ParseError(P, "no `source` line: not the output of bgpdoctor's kernel configuration read")
    if source is None:
        return KernelMd5(release, None, None)
    if found is None:
        # an option missing from a kernel's configuration was not built in
        return KernelMd5(release, source, False)
    return KernelMd5(release, source, found[0], found[1])
