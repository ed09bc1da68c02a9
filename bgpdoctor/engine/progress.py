"""Typed per-host progress of a run, for front ends that show each host live (the TUI).

The engine still reports free text through its `progress(str)` callback; a caller that also passes
an `on_event` callback gets one `HostEvent` each time a host changes state. Example sequence for
one host: connecting -> collecting -> collected -> probing -> done, or connecting -> failed
("timeout: connection timed out").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

HostState = Literal["waiting", "connecting", "collecting", "collected", "probing", "done", "failed"]
HOST_STATES: tuple[HostState, ...] = (
    "waiting",
    "connecting",
    "collecting",
    "collected",
    "probing",
    "done",
    "failed",
)


@dataclass(frozen=True)
class HostEvent:
    """One host entered `state`; `detail` says why it failed, or what it is doing."""

    host: str
    state: HostState
    detail: str = ""


OnEvent = Callable[[HostEvent], None]


def ignore_event(_event: HostEvent) -> None:
    """The default `on_event`: nobody is listening."""
