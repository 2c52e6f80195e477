"""pytest-streampar's simulator: real anyio code on a virtual clock."""

from __future__ import annotations

from ._errors import (
    DeadlockError,
    EngineBug,
    OutsideWorkError,
    ScenarioError,
    SimulatorError,
    TraceImportError,
    WatchdogTimeout,
)
from ._run import RunResult, current_timeline, now_ns, recording, run
from ._scenario import Block, Fault, Scenario, ToolCall, Turn
from ._timeline import Instant, Span, Timeline

__all__ = [
    "Block",
    "DeadlockError",
    "EngineBug",
    "Fault",
    "Instant",
    "OutsideWorkError",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "SimulatorError",
    "Span",
    "Timeline",
    "ToolCall",
    "TraceImportError",
    "Turn",
    "WatchdogTimeout",
    "current_timeline",
    "now_ns",
    "recording",
    "run",
]
