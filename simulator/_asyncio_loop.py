"""The asyncio backend: an event loop whose ``time()`` is virtual.

The loop is a ``SelectorEventLoop`` with a selector that never sleeps on virtual
timers: when no callback is ready, ``select()`` moves the virtual clock exactly
to the earliest timer and returns at once. Ready callbacks run without moving
the clock, so code between two awaits takes no virtual time.

What it cannot model: work the loop cannot see. Threads started through
``anyio.to_thread``, ``loop.run_in_executor``, subprocesses and sockets are
tracked: while any is in flight the loop waits in real time and counts that
time. Threads started any other way are invisible; declare them with
:func:`simulator.outside_work`.
"""

from __future__ import annotations

import asyncio
import math
import selectors
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ._clockcore import REAL_SLICE_S, SENTINEL_NS, ClockCore

__all__ = ["VirtualEventLoop"]

_T = TypeVar("_T")


class _VirtualSelector(selectors.BaseSelector):
    """Wraps a real selector; turns waits on timers into clock jumps."""

    def __init__(self, core: ClockCore) -> None:
        self._inner = selectors.DefaultSelector()
        self._core = core
        self._loop: VirtualEventLoop | None = None
        self._base_fds = 0

    def register(
        self, fileobj: Any, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(
        self, fileobj: Any, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def get_map(self) -> Any:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()

    def fds_in_use(self) -> bool:
        """Whether a socket or pipe besides the loop's own wake-up pipe is open."""
        return len(self._inner.get_map()) > self._base_fds

    def select(
        self, timeout: float | None = None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        core = self._core
        core.heartbeat = time.monotonic()
        loop = self._loop
        assert loop is not None
        if timeout == 0 and (loop._ready or loop._stopping):  # type: ignore[attr-defined]
            return []
        scheduled = loop._scheduled  # type: ignore[attr-defined]
        next_ns = round(scheduled[0]._when * 1e9) if scheduled else None
        if not core.active or core.outside_in_flight():
            return self._wait_real(timeout, next_ns)
        events = self._inner.select(0)
        if events:
            return events
        if next_ns is None:
            return self._wait_real(timeout, None)
        if next_ns >= SENTINEL_NS and core.deadlock_ns is None:
            core.deadlock_ns = core.ns
        when = scheduled[0]._when
        if next_ns <= core.ns and when > core.ns / 1e9:
            # A timer due by the nanosecond but a hair later as a float came
            # back (anyio re-checks its deadlines against time()): for the rest
            # of this nanosecond, time() shows the timer's float.
            loop._floor = (core.ns, when)
        core.ns = max(core.ns, next_ns)
        loop._expire_at = when
        return []

    def _wait_real(
        self, timeout: float | None, next_ns: int | None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        core = self._core
        if not core.active:
            return self._inner.select(timeout)
        slice_s = REAL_SLICE_S
        if next_ns is not None:
            slice_s = min(slice_s, max(0.0, (next_ns - core.ns) / 1e9))
        start = time.perf_counter_ns()
        events = self._inner.select(slice_s)
        core.advance_real(time.perf_counter_ns() - start, next_ns)
        return events


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop on virtual time; a fresh one starts at 0.

    Use it through :func:`simulator.run`, or pass the class as anyio's
    ``loop_factory`` backend option.
    """

    def __init__(self) -> None:
        self.virtual_core = ClockCore()
        self._expire_at: float | None = None
        self._floor: tuple[int, float] = (-1, 0.0)
        selector = _VirtualSelector(self.virtual_core)
        super().__init__(selector)
        selector._loop = self
        selector._base_fds = len(selector.get_map())
        self._clock_resolution = 1e-9
        self.virtual_core.real_io = selector.fds_in_use

    def time(self) -> float:
        """The virtual time in seconds."""
        ns = self.virtual_core.ns
        now = ns / 1e9
        floor_ns, floor = self._floor
        if floor_ns == ns:
            now = max(now, floor)
        expire_at = self._expire_at
        if expire_at is not None:
            # Asked once right after a jump, to pick the timers that are due:
            # show just past the timer's own float so that it fires even where
            # it lies a hair above the rounded nanosecond.
            self._expire_at = None
            return math.nextafter(max(expire_at, now), math.inf)
        return now

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., _T], *args: Any
    ) -> asyncio.Future[_T]:
        """As ``loop.run_in_executor``, with the job tracked as outside work."""
        future = super().run_in_executor(executor, func, *args)
        self._track(future)
        return future

    async def subprocess_exec(
        self, protocol_factory: Any, *args: Any, **kwargs: Any
    ) -> Any:
        """As ``loop.subprocess_exec``, with the process tracked until it exits."""
        return await self._tracked_subprocess(
            super().subprocess_exec, protocol_factory, *args, **kwargs
        )

    async def subprocess_shell(
        self, protocol_factory: Any, *args: Any, **kwargs: Any
    ) -> Any:
        """As ``loop.subprocess_shell``, with the process tracked until it exits."""
        return await self._tracked_subprocess(
            super().subprocess_shell, protocol_factory, *args, **kwargs
        )

    def _track(self, future: asyncio.Future[Any]) -> None:
        core = self.virtual_core
        core.explicit += 1

        def done(_: object) -> None:
            core.explicit -= 1

        future.add_done_callback(done)

    async def _tracked_subprocess(
        self, start: Any, protocol_factory: Any, *args: Any, **kwargs: Any
    ) -> Any:
        core = self.virtual_core
        core.explicit += 1
        ended = False

        def end() -> None:
            nonlocal ended
            if not ended:
                ended = True
                core.explicit -= 1

        def factory() -> Any:
            protocol = protocol_factory()
            exited = protocol.process_exited

            def process_exited() -> None:
                end()
                exited()

            protocol.process_exited = process_exited
            return protocol

        try:
            return await start(factory, *args, **kwargs)
        except BaseException:
            end()
            raise
