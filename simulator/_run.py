"""Running async code on virtual time: :func:`run`, :func:`recording`, :func:`now_ns`.

Time advances only when every task waits: the clock then jumps straight to the
earliest pending timer. Code between two awaits takes no virtual time. When no
task can run, no timer is pending and no outside work is in flight, the run can
never finish and :class:`~simulator.DeadlockError` is raised at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import anyio
import anyio.to_thread
import sniffio
import trio
import trio.testing

from ._asyncio_loop import VirtualEventLoop
from ._clockcore import SENTINEL_S, ClockCore
from ._errors import DeadlockError, SimulatorError, WatchdogTimeout
from ._sleep import install as _install_fast_sleep
from ._tasks import blocked_tasks
from ._timeline import Timeline
from ._trio_clock import HeartbeatInstrument, VirtualTrioClock
from ._watchdog import LoopHeld, Watchdog

__all__ = [
    "BACKENDS",
    "Recording",
    "RunResult",
    "current_timeline",
    "now_ns",
    "outside_work",
    "recording",
    "run",
]

T = TypeVar("T")
Backend = Literal["asyncio", "trio"]
BACKENDS: tuple[Backend, ...] = ("asyncio", "trio")
_GUARD_NAME = "streampar-deadlock-guard"


@dataclass
class _RunState:
    backend: str
    core: ClockCore
    timeline: Timeline
    clock: VirtualTrioClock | None

    def now_ns(self) -> int:
        if self.clock is not None:
            self.clock.current_time()
        return self.core.ns


_STATE: contextvars.ContextVar[_RunState] = contextvars.ContextVar("streampar_run")


@dataclass
class RunResult(Generic[T]):
    """What :func:`run` returns.

    Attributes:
        value: what the async callable returned.
        timeline: the spans and instants recorded during the run.
        virtual_ns: virtual time at the end of the run, in nanoseconds.
        backend: ``"asyncio"`` or ``"trio"``.
        purely_virtual: False when outside work made the clock wait in real time.
    """

    value: T
    timeline: Timeline
    virtual_ns: int
    backend: str
    purely_virtual: bool = True

    @property
    def virtual_time(self) -> float:
        """Virtual time at the end of the run, in seconds."""
        return self.virtual_ns / 1e9


def _state() -> _RunState:
    try:
        return _STATE.get()
    except LookupError:
        raise SimulatorError(
            "no virtual-time run is active here: call this from code started by "
            "simulator.run() or by a streampar fixture"
        ) from None


def now_ns() -> int:
    """The current virtual time in integer nanoseconds.

    Raises:
        SimulatorError: when called outside a virtual-time run.
    """
    return _state().now_ns()


def current_timeline() -> Timeline:
    """The timeline the current run (or the innermost :func:`recording`) appends to."""
    return _state().timeline


@contextmanager
def outside_work() -> Iterator[None]:
    """Declare work the clock cannot see (a thread started by hand, say).

    While the block is open the clock waits in real time instead of jumping,
    and the run is marked as not purely virtual. Threads from
    ``anyio.to_thread`` with the default limiter, executor jobs and subprocesses
    are tracked without it.
    """
    core = _state().core
    core.explicit += 1
    try:
        yield
    finally:
        core.explicit -= 1


def run(
    fn: Callable[..., Awaitable[T]],
    *args: Any,
    backend: str = "asyncio",
    watchdog: float | None = 10.0,
    use_uvloop: bool = False,
    fast_sleep: bool = True,
) -> RunResult[T]:
    """Run ``fn(*args)`` on a fresh virtual clock that starts at 0.

    Args:
        fn: an async callable; its code runs unchanged under anyio.
        backend: ``"asyncio"`` (a virtual event loop) or ``"trio"`` (a virtual
            trio clock); the same code gives the same timeline on both.
        watchdog: seconds of real time one loop iteration may take before the
            run is stopped with :class:`WatchdogTimeout`; None turns it off.
        use_uvloop: refused: uvloop's loop cannot run on virtual time.
        fast_sleep: let ``anyio.sleep`` wait in the virtual clock's own queue
            (same outcome, several times faster; see ``simulator._sleep``);
            False takes the backend's stock ``sleep``.

    Returns:
        The value, the timeline and the virtual end time.

    Raises:
        DeadlockError: the run could never finish.
        WatchdogTimeout: harness code stopped yielding.
        SimulatorError: a bad argument.
    """
    _check_callable(fn)
    if backend not in BACKENDS:
        raise SimulatorError(
            f"backend={backend!r} is not a backend; use 'asyncio' or 'trio'"
        )
    running = _running_async_library()
    if running is not None:
        raise SimulatorError(
            f"simulator.run() was called from code already running on {running}; "
            "a run cannot start inside another event loop. Inside a run, await "
            "the code directly (use `async with simulator.recording()` for a "
            "timeline of its own)"
        )
    if use_uvloop:
        raise SimulatorError(
            "use_uvloop=True: uvloop runs its own event loop in C whose clock "
            "cannot be made virtual; run on backend='asyncio' without uvloop"
        )
    if watchdog is not None and not watchdog > 0:
        raise SimulatorError(
            f"watchdog={watchdog!r}: must be a number of seconds > 0, or None to "
            "turn the watchdog off"
        )
    timeline = Timeline()
    timeline.meta["backend"] = backend
    fast_sleep = fast_sleep and _install_fast_sleep()
    clock: VirtualTrioClock | None = None
    if backend == "trio":
        clock = VirtualTrioClock()
        clock.fast_sleep = fast_sleep
        core = clock.virtual_core
        options: dict[str, Any] = {
            "clock": clock,
            "instruments": [HeartbeatInstrument(core)],
        }
    else:
        loop = VirtualEventLoop()
        loop.fast_sleep = fast_sleep
        core = loop.virtual_core
        options = {"loop_factory": lambda: loop}
    state = _RunState(backend, core, timeline, clock)

    async def main() -> T:
        _check_clock(state)
        _STATE.set(state)
        _name_main_task(backend)
        core.thread_limiter = anyio.to_thread.current_default_thread_limiter()
        if clock is not None:
            # trio's own wake-up task waits on a socket; count it out.
            await trio.testing.wait_all_tasks_blocked()
            clock.set_io_baseline()
        return await _guarded(fn, args, state)

    guard = Watchdog(core, watchdog) if watchdog is not None else nullcontext()
    order = _trio_in_wake_order() if backend == "trio" else nullcontext()
    try:
        with guard, order:
            value = anyio.run(main, backend=backend, backend_options=options)
    except BaseException as exc:
        _reraise(exc, state, watchdog)
    timeline.purely_virtual = core.purely_virtual
    # the body's end: clean-up after it (an async generator closed at loop
    # shutdown, say) may sleep on, differently per backend
    end_ns = core.end_ns if core.end_ns is not None else core.ns
    return RunResult(value, timeline, end_ns, backend, core.purely_virtual)


def _check_callable(fn: object) -> None:
    if inspect.iscoroutine(fn):
        fn.close()  # never awaited: closed so Python does not warn about it
        raise SimulatorError(
            f"run() got a coroutine object ({fn.__qualname__}(...) was already "
            "called); pass the async function itself and its arguments: "
            "run(main, arg1, arg2), not run(main(arg1, arg2))"
        )
    if not callable(fn):
        raise SimulatorError(
            f"run() got {fn!r}, which is not callable; pass an async function: "
            "run(main, *args)"
        )


def _running_async_library() -> str | None:
    try:
        return sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return None


class _InWakeOrder(random.Random):
    """Stands in for trio's scheduler randomness during a run: its coin says
    "reverse" every time, so each batch of runnable tasks runs in the order
    the tasks became runnable, as asyncio runs its ready queue."""

    def random(self) -> float:
        return 0.0

    def shuffle(self, x: Any, random: Any = None) -> None:
        """Leave the batch as it is."""


@contextmanager
def _trio_in_wake_order() -> Iterator[None]:
    """Run trio's tasks in the order they became runnable, not at random.

    trio picks the order of each batch of runnable tasks at random (with
    Hypothesis loaded, by a shuffle of its own), on purpose, so that code
    does not come to rely on it. Under the virtual clock the run should be
    repeatable, and agree with asyncio, which runs ready tasks first in,
    first out; so for the run trio's coin is swapped for one that always
    lands the same way. This reaches into trio's private scheduler module;
    if it is not there, the run goes on with trio's own order.
    """
    module = getattr(getattr(trio, "_core", None), "_run", None)
    if module is None or not isinstance(getattr(module, "_r", None), random.Random):
        yield
        return
    saved = module._r, module._ALLOW_DETERMINISTIC_SCHEDULING
    module._r = _InWakeOrder()
    module._ALLOW_DETERMINISTIC_SCHEDULING = False
    try:
        yield
    finally:
        module._r, module._ALLOW_DETERMINISTIC_SCHEDULING = saved


def _name_main_task(backend: str) -> None:
    """Call the task running the user's callable "main" in deadlock dumps."""
    if backend == "trio":
        trio.lowlevel.current_task().name = "main"
        return
    task = asyncio.current_task()
    if task is not None:
        task.set_name("main")


def _check_clock(state: _RunState) -> None:
    """Fail clearly if anyio did not hand our clock to the backend."""
    if state.backend == "trio":
        ok = trio.lowlevel.current_clock() is state.clock
    else:
        ok = isinstance(asyncio.get_running_loop(), VirtualEventLoop)
    if not ok:
        raise SimulatorError(
            f"the {state.backend} backend is not running on the virtual clock, so "
            "virtual time would not advance; anyio >= 4.14 is needed (older "
            "releases drop the backend options silently): pip install 'anyio>=4.14'"
        )


async def _guarded(
    fn: Callable[..., Awaitable[T]], args: tuple[Any, ...], state: _RunState
) -> T:
    core = state.core
    async with anyio.create_task_group() as tg:
        tg.start_soon(_deadlock_guard, state, name=_GUARD_NAME)
        core.active = True
        try:
            awaitable = fn(*args)
            if not inspect.isawaitable(awaitable):
                name = getattr(fn, "__qualname__", repr(fn))
                raise SimulatorError(
                    f"{name}(...) returned {type(awaitable).__name__} "
                    f"{_short(awaitable)}, not something to await: run() takes "
                    "an async function (async def), or one that returns an "
                    "awaitable"
                )
            value = await awaitable
        finally:
            core.active = False
            core.end_ns = core.ns
        tg.cancel_scope.cancel()
    return value


async def _deadlock_guard(state: _RunState) -> None:
    """Sleeps until the sentinel: it wakes only when nothing else can happen."""
    await anyio.sleep(SENTINEL_S)
    core = state.core
    when = core.deadlock_ns if core.deadlock_ns is not None else core.ns
    blocked = blocked_tasks(state.backend, exclude={_GUARD_NAME})
    error = DeadlockError(when / 1e9, blocked)
    core.deadlock_error = error
    raise error


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def _loop_held(exc: BaseException) -> LoopHeld | None:
    """The watchdog's stop, also where it landed inside trio's own scheduler
    (trio then reports a TrioInternalError caused by it)."""
    for leaf in _leaves(exc):
        if isinstance(leaf, LoopHeld):
            return leaf
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        item = pending.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, LoopHeld):
            return item
        if isinstance(item, BaseExceptionGroup):
            pending.extend(item.exceptions)
        if isinstance(item, (trio.TrioInternalError, BaseExceptionGroup)):
            pending += [item.__cause__, item.__context__]
    return None


def _reraise(exc: BaseException, state: _RunState, limit: float | None) -> None:
    held = _loop_held(exc)
    if held is not None:
        raise WatchdogTimeout(
            held.virtual_ns / 1e9, held.task, limit or 0.0, frozen=held.frozen
        ) from held
    leaves = _leaves(exc)
    for leaf in leaves:
        if isinstance(leaf, DeadlockError):
            raise leaf.with_traceback(None) from None
    significant = [
        leaf
        for leaf in leaves
        if not isinstance(leaf, (trio.Cancelled, asyncio.CancelledError))
    ]
    chosen = significant[0] if len(significant) == 1 else exc
    if isinstance(chosen, SimulatorError) or not isinstance(chosen, Exception):
        raise chosen
    chosen.add_note(
        f"[streampar] raised at virtual time {state.core.ns / 1e9:.9g} s "
        f"on the {state.backend} backend"
    )
    raise chosen


@dataclass
class Recording:
    """A timeline recorded by :func:`recording`.

    Attributes:
        timeline: what was recorded inside the block.
        start_ns: virtual time when the block was entered.
        end_ns: virtual time when it was left (None while open).
    """

    timeline: Timeline
    start_ns: int
    end_ns: int | None = None

    @property
    def elapsed(self) -> float:
        """Virtual seconds spent inside the block (so far)."""
        end = self.end_ns if self.end_ns is not None else now_ns()
        return (end - self.start_ns) / 1e9


@asynccontextmanager
async def recording() -> AsyncIterator[Recording]:
    """Record a fresh timeline for code that already runs on virtual time.

    Simulated parts started inside the block append to its timeline instead of
    the run's. The clock is the run's: entering the block does not reset time.

    Raises:
        SimulatorError: when not inside a virtual-time run.
    """
    outer = _state()
    rec = Recording(Timeline(), outer.now_ns())
    rec.timeline.meta["backend"] = outer.backend
    inner = _RunState(outer.backend, outer.core, rec.timeline, outer.clock)
    token = _STATE.set(inner)
    try:
        yield rec
    finally:
        _STATE.reset(token)
        rec.end_ns = outer.now_ns()
        rec.timeline.purely_virtual = outer.core.purely_virtual
