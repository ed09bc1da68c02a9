"""What a run shows on stderr while it works, and whether the terminal gets colour.

On a terminal, one line that updates in place (rich): the phase, hosts done/total, the probe
running and for how long; a host that fails is printed above it and stays. Not on a terminal (a
pipe, CI, a log file), plain `[bgpdoctor] ...` lines, one per message. `--quiet` shows nothing.
Colour follows https://no-color.org: none when NO_COLOR is set (to anything but ""), when
TERM=dumb or when the stream is not a terminal.

Example of the live line::

    [bgpdoctor] probing 5/5 hosts (1 failed) 6s: router-mine: capturing BGP SYNs for 12s
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from bgpdoctor.report.safe_text import one_line

if TYPE_CHECKING:
    from rich.live import Live
    from rich.text import Text

    from bgpdoctor.engine.progress import HostEvent

LINE_LIMIT = 160  # of one message in the live line; the terminal width cuts it further


def colour_wanted(stream: TextIO) -> bool:
    """True when `stream` is a terminal and neither NO_COLOR nor TERM=dumb asks for plain text."""
    if os.environ.get("NO_COLOR", "") != "" or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class ConsoleProgress:
    """The progress display: pass `message` as the engine's `progress` callback and `event` as its
    `on_event`; use as a context manager (the live line is removed on exit).

    Example: with ConsoleProgress(sys.stderr) as shown:
                 run_diagnosis(..., shown.message, ..., on_event=shown.event)
    """

    def __init__(self, stream: TextIO | None = None, quiet: bool = False, live: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        isatty = getattr(self.stream, "isatty", None)
        self.live_wanted = (
            (bool(isatty and isatty()) and os.environ.get("TERM") != "dumb") if live is None else live
        )
        self._lock = threading.Lock()
        self._states: dict[str, str] = {}
        self._phase = "starting"
        self._phase_started = time.monotonic()
        self._last = ""
        self._live: Live | None = None

    def __enter__(self) -> ConsoleProgress:
        if self.live_wanted and not self.quiet:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream, no_color=not colour_wanted(self.stream), highlight=False)
            self._live = Live(
                console=console,
                transient=True,
                refresh_per_second=4,
                redirect_stdout=False,
                redirect_stderr=False,
                get_renderable=self._line,
            )
            self._live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Remove the live line; later messages are plain lines."""
        live, self._live = self._live, None
        if live is not None:
            live.stop()

    def _print(self, text: str, style: str = "") -> None:
        if self._live is not None:
            from rich.text import Text

            self._live.console.print(Text(text, style=style), soft_wrap=True)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        """The engine's free-text progress: the live line's detail, or one plain line."""
        if self.quiet:
            return
        text = one_line(text)
        with self._lock:
            self._last = text
            if "running active probes" in text:
                self._phase, self._phase_started = "probing", time.monotonic()
            elif text.startswith("collecting facts from"):
                self._phase, self._phase_started = "collecting", time.monotonic()
        if self._live is None:
            self._print(f"[bgpdoctor] {text}")
        elif self._lasting(text):
            self._print(f"[bgpdoctor] {text}", "yellow")

    @staticmethod
    def _lasting(text: str) -> bool:
        """Messages that stay above the live line: what went wrong and what was written."""
        return " failed" in text or "written to" in text or "lost the connection" in text

    def event(self, event: HostEvent) -> None:
        """A host changed state (connecting, collecting, collected, probing, done, failed)."""
        if self.quiet:
            return
        with self._lock:
            self._states[event.host] = event.state
        if event.state == "failed" and self._live is not None:
            self._print(f"[bgpdoctor] {event.host} failed: {one_line(event.detail)}", "red")

    def _line(self) -> Text:
        from rich.text import Text

        with self._lock:
            states = list(self._states.values())
            phase, last = self._phase, self._last
            elapsed = time.monotonic() - self._phase_started
        total = len(states)
        failed = states.count("failed")
        if phase == "probing":
            done = sum(s in ("done", "failed") for s in states)
        else:
            done = sum(s in ("collected", "probing", "done", "failed") for s in states)
        line = Text("[bgpdoctor] ", style="bold")
        if total:
            line.append(f"{phase} {done}/{total} hosts")
            if failed:
                line.append(f" ({failed} failed)", style="red")
            line.append(f" {elapsed:.0f}s: ")
        detail = last if len(last) <= LINE_LIMIT else last[: LINE_LIMIT - 3] + "..."
        line.append(detail, style="dim")
        line.no_wrap, line.overflow = True, "ellipsis"
        return line
