"""The real-time watchdog: stops harness code that holds the loop too long.

A thread watches the loop's heartbeat (one per loop iteration). When a single
iteration lasts longer than the limit, it raises :class:`LoopHeld` inside the
loop's thread, at the next Python bytecode the stuck code runs. That stops a
CPU-bound Python loop on either backend without ending the process. It cannot
interrupt a blocking call inside C code (``time.sleep``, a blocking read): the
exception lands when that call returns.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
import time

import trio

from ._clockcore import ClockCore

__all__ = ["LoopHeld", "Watchdog"]


class LoopHeld(BaseException):
    """Raised inside the stuck loop thread; turned into ``WatchdogTimeout``.

    A ``BaseException`` so that ``except Exception`` in harness code does not
    swallow it. On creation (in the loop thread) it notes which task held the
    loop and the virtual time.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.task = _current_task_name()
        self.core = _ARMED.core if _ARMED is not None else None
        self.virtual_ns = self.core.ns if self.core is not None else 0


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


_ARMED: Watchdog | None = None


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
        global _ARMED
        _ARMED = self
        self.core.heartbeat = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        global _ARMED
        with self._lock:
            self._stop.set()
            if self.fired:
                # Withdraw an exception that was fired but not yet delivered.
                _set_async_exc(self._target, None)
        self._thread.join()
        _ARMED = None

    def _watch(self) -> None:
        poll = min(0.05, self.limit / 4)
        while not self._stop.wait(poll):
            if time.monotonic() - self.core.heartbeat < self.limit:
                continue
            with self._lock:
                if self._stop.is_set():
                    return
                self.fired += 1
                self.core.heartbeat = time.monotonic()
                _set_async_exc(self._target, LoopHeld)


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc else ctypes.c_void_p(0)
    )
