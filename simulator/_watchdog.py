"""The real-time watchdog: stops harness code that holds the loop too long.

A thread watches the loop's heartbeat (one per loop iteration). When a single
iteration lasts longer than the limit, it raises :class:`LoopHeld` inside the
loop's thread, at the next Python bytecode the stuck code runs. It also raises
:class:`ClockFrozen` when the loop keeps turning but virtual time has not moved
for longer than the limit, with nothing outside in flight: tasks busy-waiting
on each other (``sleep(0)`` in a loop) would otherwise spin for ever. That stops a
CPU-bound Python loop on either backend without ending the process. It cannot
interrupt a blocking call inside C code (``time.sleep``, a blocking read): the
exception lands when that call returns.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
import time
from typing import NoReturn

import trio

from ._clockcore import ClockCore

__all__ = ["ClockFrozen", "LoopHeld", "Watchdog"]


class LoopHeld(BaseException):
    """Raised inside the stuck loop thread; turned into ``WatchdogTimeout``.

    A ``BaseException`` so that ``except Exception`` in harness code does not
    swallow it. On creation (in the loop thread) it notes which task held the
    loop and the virtual time.
    """

    frozen = False

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.task = _current_task_name()
        armed = _ARMED.get(threading.get_ident())
        self.core = armed.core if armed is not None else None
        self.virtual_ns = self.core.ns if self.core is not None else 0


class ClockFrozen(LoopHeld):
    """Raised inside a loop that turns but never lets virtual time move."""

    frozen = True


def raise_clock_frozen(core: ClockCore) -> NoReturn:
    """Raise ClockFrozen in the task that asked to sleep (see Watchdog)."""
    core.frozen = 0
    raise ClockFrozen


def _current_task_name() -> str | None:
    try:
        return trio.lowlevel.current_task().name
    except RuntimeError:
        pass
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return None
    return task.get_name() if task is not None else None


# the watchdog of the run on each thread (runs may go on in several threads)
_ARMED: dict[int, Watchdog] = {}


class Watchdog:
    """Watches one run's heartbeat from a daemon thread.

    Args:
        core: the run's clock state (its ``heartbeat`` is read).
        limit: seconds of real time one loop iteration may last.
    """

    def __init__(self, core: ClockCore, limit: float) -> None:
        self.core = core
        self.limit = limit
        self.fired = 0
        self._target = threading.get_ident()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._watch, name="streampar-watchdog", daemon=True
        )

    def __enter__(self) -> Watchdog:
        _ARMED[self._target] = self
        self.core.heartbeat = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._stop.set()
            if self.fired:
                # Withdraw an exception that was fired but not yet delivered.
                _set_async_exc(self._target, None)
        self._thread.join()
        _ARMED.pop(self._target, None)

    def _watch(self) -> None:
        poll = min(0.05, self.limit / 4)
        core = self.core
        seen_ns, since = core.ns, time.monotonic()
        while not self._stop.wait(poll):
            now = time.monotonic()
            if core.ns != seen_ns or not core.active or core.outside_in_flight():
                seen_ns, since = core.ns, now
            if now - core.heartbeat >= self.limit:
                self._fire(LoopHeld)
            elif now - since >= self.limit:
                # First ask the engine to raise it in the next task that
                # sleeps (a clean place); if the spin never sleeps through
                # anyio, interrupt the loop thread one limit later.
                core.frozen += 1
                if core.frozen > 1:
                    self._fire(ClockFrozen)
                since = now

    def _fire(self, error: type[LoopHeld]) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self.fired += 1
            self.core.heartbeat = time.monotonic()
            _set_async_exc(self._target, error)


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc else ctypes.c_void_p(0)
    )
