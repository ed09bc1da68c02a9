"""Make host-supplied text safe for a terminal and for Markdown.

Everything a host prints (command output, error messages, names it reports) can carry terminal
control sequences: `\\x1b[2J` clears the screen, `\\x1b]0;...\\x07` sets the window title, a bare
`\\r` or a newline can overwrite or forge a line. Every renderer passes such text through
`printable` (or `one_line` for lines that must stay one line); Markdown puts it in `md_fence` or
`md_code`, whose backtick runs are longer than any inside the text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # the CLI imports this module before any command runs: keep it light
    from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound="BaseModel")

# ESC-introduced sequences first (CSI; OSC/DCS/SOS/PM/APC strings up to their terminator or the end
# of the line; two- and three-character escapes), then their 8-bit C1 forms, then every other C0/C1
# control but \n and \t.
_CONTROL = re.compile(
    r"""
    \x1b\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?         # CSI ... final byte
  | \x1b[\]PX^_].*?(?:\x07|\x1b\\|\x9c|$)              # OSC, DCS, SOS, PM, APC ... BEL or ST
  | \x1b[\x20-\x2f]*[\x30-\x7e]?                       # other escapes (ESC c, ESC ( B, ESC 7, ...)
  | \x9b[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?           # 8-bit CSI
  | [\x90\x98\x9d\x9e\x9f].*?(?:\x07|\x1b\\|\x9c|$)    # 8-bit OSC, DCS, SOS, PM, APC
  | [\x00-\x08\x0b-\x1f\x7f-\x9f]                      # any other C0 or C1 control, DEL
    """,
    re.VERBOSE | re.MULTILINE,
)


def printable(text: str) -> str:
    """Remove terminal control sequences and control characters; keep newlines and tabs.

    Example: printable("\\x1b[2J\\x1b[32mALL OK\\x1b[0m\\r\\n") -> "ALL OK\\n"
    """
    if text.isprintable():
        return text
    return _CONTROL.sub("", text.replace("\r\n", "\n"))


def one_line(text: str) -> str:
    """`printable`, with newlines shown as `\\n`: a line that cannot be split into forged lines.

    Example: one_line("r1\\n[bgpdoctor] all good") -> "r1\\\\n[bgpdoctor] all good"
    """
    return printable(text).replace("\n", "\\n").replace("\t", " ")


def printable_tree(value: Any) -> Any:
    """`printable` applied to every string inside nested dicts and lists (a dumped report)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_tree(k): printable_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [printable_tree(v) for v in value]
    return value


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def md_fence(text: str, lang: str = "") -> str:
    """A fenced Markdown code block that nothing in `text` can close.

    Example: md_fence("a ``` b") -> "````\\na ``` b\\n````"
    """
    body = printable(text)
    fence = "`" * max(3, _longest_backtick_run(body) + 1)
    return f"{fence}{lang}\n{body}\n{fence}"


def md_code(text: str) -> str:
    """An inline Markdown code span that nothing in `text` can close; one line.

    Example: md_code("a`b") -> "``a`b``"
    """
    body = one_line(text)
    ticks = "`" * (_longest_backtick_run(body) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{ticks}{pad}{body}{pad}{ticks}"


def md_cell(text: str) -> str:
    """Text for one Markdown table cell: one line, `|` escaped."""
    return one_line(text).replace("|", "\\|")


def printable_model(model: ModelT) -> ModelT:
    """A copy of a pydantic model (a report) with `printable` applied to every string in it."""
    return model.model_validate(printable_tree(model.model_dump()))
