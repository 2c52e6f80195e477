"""pytest-timeout's real-time limit, enforced by streampar for its own tests.

pytest-timeout's two methods do not suit code on virtual time: ``signal``
raises from a signal handler into whatever frame runs, which can leave trio's
run loop hung, and ``thread`` dumps the stacks and ends the whole session. So
for a test that uses streampar (a ``streampar_*`` fixture or the ``streampar``
marker) the plugin implements pytest-timeout's ``pytest_timeout_set_timer``
and ``pytest_timeout_cancel_timer`` hooks and keeps the same limit itself,
whatever the method; other tests keep pytest-timeout's own mechanism.

How the limit is kept: while a limit applies, each virtual-time run executes in
a worker thread and the test's thread waits for it. When the limit passes:

1. the run's code is cancelled from inside its event loop (an anyio cancel
   scope around the test's coroutine), which ends a run that waits on
   anything cancellable;
2. if the loop does not even take that request within a moment, a task holds
   it without yielding: an exception is raised inside the worker thread at the
   next Python bytecode, which stops a CPU-bound loop where it is;
3. if the run has still not ended a moment later (it waits in real time on a
   thread that ignores cancellation), its worker thread is left behind, idle,
   and the test fails at once.

Either way the test fails with a message saying which case it was, and the
session goes on. Outside any run, the failure is raised in the test's own
thread, the way pytest-timeout's signal method would.

What it cannot do: stop a thread blocked inside C code (``time.sleep``, a
blocking read); such a thread, and the run waiting on it, stay behind until the
process ends.
"""

from __future__ import annotations

import contextvars
import ctypes
import os
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import pytest

__all__ = ["RealTimeLimit", "describe_source"]

T = TypeVar("T")
GRACE_S = 1.0
TAKE_S = 0.25
_POLL_S = 0.05
_CAUGHT: dict[int, _OutOfTime] = {}


def _task_name() -> str | None:
    """The name of the task running in this thread, if any (no heavy import)."""
    import sys

    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            return str(trio.lowlevel.current_task().name)
        except RuntimeError:
            pass
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            return None
        return task.get_name() if task is not None else None
    return None


def _virtual_ns() -> int | None:
    try:
        from simulator._run import now_ns

        return now_ns()
    except Exception:
        return None


class _OutOfTime(BaseException):
    """Raised inside a run's worker thread when the limit passes.

    A ``BaseException`` so that ``except Exception`` in harness code does not
    swallow it. On creation it notes the task it landed in and the virtual time.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.task = _task_name()
        self.virtual_ns = _virtual_ns()
        _CAUGHT[threading.get_ident()] = self


class _Stopped(BaseException):
    """Ends a run whose cancel scope the limit cancelled."""


class _Stopper:
    """A way into one run's event loop from another thread."""

    def __init__(self, schedule: Callable[[Callable[[], None]], Any]) -> None:
        self.schedule = schedule
        self.context = contextvars.copy_context()
        self.cancel: Callable[[], None] = lambda: None
        self.taken = threading.Event()
        self.virtual_ns: int | None = None

    @classmethod
    def here(cls) -> _Stopper:
        """The stopper of the event loop this coroutine runs in."""
        import sniffio

        if sniffio.current_async_library() == "trio":
            import trio

            return cls(trio.lowlevel.current_trio_token().run_sync_soon)
        import asyncio

        return cls(asyncio.get_running_loop().call_soon_threadsafe)

    def request(self) -> bool:
        """Ask the loop to cancel the run; False if the loop is gone."""

        def stop() -> None:
            self.virtual_ns = self.context.run(_virtual_ns)
            self.cancel()
            self.taken.set()

        try:
            self.schedule(stop)
        except Exception:
            return False
        return True


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc else ctypes.c_void_p(0)
    )


def describe_source(item: pytest.Item) -> str:
    """Where pytest-timeout's limit for ``item`` was set, for messages."""
    if item.get_closest_marker("timeout") is not None:
        return "the @pytest.mark.timeout marker"
    if item.config.getoption("timeout", None) is not None:
        return "the --timeout option"
    if os.environ.get("PYTEST_TIMEOUT"):
        return "the PYTEST_TIMEOUT environment variable"
    return "the timeout ini key"


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


class RealTimeLimit:
    """pytest-timeout's limit for one test, kept by streampar.

    Args:
        seconds: the limit in real seconds, counted from creation.
        source: where it was set (see :func:`describe_source`).
        nodeid: the test, for thread names.
    """

    def __init__(self, seconds: float, source: str, nodeid: str) -> None:
        self.seconds = seconds
        self.source = source
        self.nodeid = nodeid
        self.expired = False
        self._deadline = time.monotonic() + seconds
        self._main = threading.get_ident()
        self._in_run = 0
        self._stopper: _Stopper | None = None
        self._stopper_seen: _Stopper | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._timer = threading.Thread(
            target=self._watch, name=f"streampar-timeout {nodeid}", daemon=True
        )
        self._timer.start()

    def _head(self) -> str:
        return (
            f"Timeout (streampar): the test ran longer than {self.seconds:g} s of "
            f"real time, the limit pytest-timeout takes from {self.source}"
        )

    def _watch(self) -> None:
        """Raise the failure in the test's thread if it expires outside a run."""
        if self._stop.wait(max(0.0, self._deadline - time.monotonic())):
            return
        while True:
            with self._lock:
                if self._stop.is_set() or self.expired:
                    return
                if self._in_run == 0:
                    self.expired = True
                    message = (
                        f"{self._head()}; it was stopped in the test's own code, "
                        f"outside any virtual-time run."
                    )
                    _set_async_exc(self._main, _failure_type(message))
                    return
            if self._stop.wait(_POLL_S):
                return

    def cancel(self) -> None:
        """Stop watching (the test ended); withdraw an undelivered failure."""
        with self._lock:
            self._stop.set()
            if self.expired:
                _set_async_exc(self._main, None)

    def guard(
        self, fn: Callable[..., Awaitable[T]], *args: Any
    ) -> Callable[[], Awaitable[T]]:
        """Wrap ``fn(*args)`` so that the limit can cancel it from its loop."""

        async def guarded() -> T:
            import anyio

            stopper = _Stopper.here()
            with anyio.CancelScope() as scope:
                stopper.cancel = scope.cancel
                self._stopper = stopper
                try:
                    return await fn(*args)
                finally:
                    self._stopper = None
            raise _Stopped

        return guarded

    def call(self, func: Callable[[], T]) -> T:
        """Run ``func`` (which starts a virtual-time run) within the limit.

        Raises:
            pytest.fail.Exception: the limit passed; the message says where
                the run was stuck.
        """
        box: list[tuple[bool, Any]] = []
        context = contextvars.copy_context()

        def target() -> None:
            try:
                box.append((True, context.run(func)))
            except BaseException as exc:
                box.append((False, exc))

        worker = threading.Thread(
            target=target, name=f"streampar-run {self.nodeid}", daemon=True
        )
        with self._lock:
            self._in_run += 1
        try:
            worker.start()
            finished = self._wait(worker)
        finally:
            with self._lock:
                self._in_run -= 1
        if not finished:
            self._stop_worker(worker, box)
        ok, value = box[0]
        if ok and not self.expired:
            return value  # type: ignore[no-any-return]
        if ok:
            self._fail(worker, left_behind=False)
        if self.expired or any(
            isinstance(leaf, (_OutOfTime, _Stopped)) for leaf in _leaves(value)
        ):
            self._fail(worker, left_behind=False)
        raise value

    def _wait(self, worker: threading.Thread) -> bool:
        while worker.is_alive():
            left = self._deadline - time.monotonic()
            if left <= 0:
                return False
            worker.join(min(left, _POLL_S))
        return True

    def _stop_worker(self, worker: threading.Thread, box: list[Any]) -> None:
        with self._lock:
            self.expired = True
        stopper = self._stopper_seen = self._stopper
        taken = stopper is not None and stopper.request() and stopper.taken.wait(TAKE_S)
        if not taken and worker.is_alive():
            assert worker.ident is not None
            _set_async_exc(worker.ident, _OutOfTime)
        worker.join(GRACE_S)
        if worker.is_alive() or not box:
            self._fail(worker, left_behind=True)

    def _fail(self, worker: threading.Thread, *, left_behind: bool) -> NoReturn:
        caught = _CAUGHT.pop(worker.ident or 0, None)
        stopper = self._stopper_seen
        vt = caught.virtual_ns if caught is not None else None
        if vt is None and stopper is not None:
            vt = stopper.virtual_ns
        at = f" at virtual time {vt / 1e9:.9g} s" if vt is not None else ""
        if caught is not None and caught.task:
            where = (
                f"its virtual-time run was stopped{at} in task {caught.task!r}, "
                f"which kept running without yielding; a CPU-bound loop never "
                f"lets the clock move, add `await anyio.lowlevel.checkpoint()` "
                f"inside it"
            )
        elif left_behind:
            where = (
                f"its virtual-time run was cancelled{at} while waiting in real "
                f"time on outside work (a thread, subprocess or socket) that "
                f"ignores cancellation and never finished; the run's thread was "
                f"left behind and the session goes on. Give that work its own "
                f"timeout"
            )
        else:
            where = (
                f"its virtual-time run was cancelled{at} while waiting in real "
                f"time on outside work (a thread, subprocess or socket)"
            )
        pytest.fail(f"{self._head()}; {where}.", pytrace=False)


def _failure_type(message: str) -> type[BaseException]:
    """A ``pytest.fail`` exception class that carries ``message`` when raised
    by type alone (an exception raised into another thread is a class)."""
    base: type[BaseException] = pytest.fail.Exception

    def init(self: BaseException, *args: object) -> None:
        base.__init__(self, message, pytrace=False)  # type: ignore[call-arg]

    attrs = {"__init__": init, "__module__": base.__module__}
    return type(base.__name__, (base,), attrs)
