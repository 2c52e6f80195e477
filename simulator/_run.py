"""Running async code on virtual time: :func:`run`, :func:`recording`, :func:`now_ns`.

PLACEHOLDER INTERNALS: the engine proper (asyncio virtual loop, deadlock
detection, watchdog) replaces this file's internals; the public signatures stay.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import anyio
import trio
import trio.testing

from ._errors import SimulatorError
from ._timeline import Timeline

T = TypeVar("T")
Backend = Literal["asyncio", "trio"]

_TIMELINE: contextvars.ContextVar[Timeline] = contextvars.ContextVar(
    "streampar_timeline"
)


@dataclass
class RunResult(Generic[T]):
    """What :func:`run` returns: the callable's value, the timeline, the end time."""

    value: T
    timeline: Timeline
    virtual_ns: int
    backend: str

    @property
    def virtual_time(self) -> float:
        return self.virtual_ns / 1e9


def now_ns() -> int:
    """The current virtual time in integer nanoseconds."""
    return round(trio.current_time() * 1e9)


def current_timeline() -> Timeline:
    """The timeline that the current run (or :func:`recording`) appends to."""
    try:
        return _TIMELINE.get()
    except LookupError:
        raise SimulatorError("no virtual-time run is active") from None


def run(
    fn: Callable[..., Awaitable[T]],
    *args: Any,
    backend: Backend = "asyncio",
    watchdog: float | None = 10.0,
) -> RunResult[T]:
    """Run ``fn(*args)`` on virtual time and return its value and timeline."""
    timeline = Timeline()

    async def main() -> tuple[T, int]:
        _TIMELINE.set(timeline)
        value = await fn(*args)
        return value, now_ns()

    clock = trio.testing.MockClock(autojump_threshold=0)
    value, end = anyio.run(main, backend="trio", backend_options={"clock": clock})
    return RunResult(value, timeline, end, backend)


@dataclass
class Recording:
    timeline: Timeline
    start_ns: int
    end_ns: int | None = None


@asynccontextmanager
async def recording() -> AsyncIterator[Recording]:
    """Record a fresh timeline for code already running on virtual time."""
    rec = Recording(Timeline(), now_ns())
    token = _TIMELINE.set(rec.timeline)
    try:
        yield rec
    finally:
        _TIMELINE.reset(token)
        rec.end_ns = now_ns()
