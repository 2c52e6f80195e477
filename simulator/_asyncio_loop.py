"""The asyncio backend: an event loop whose ``time()`` is virtual.

The loop is a ``SelectorEventLoop`` with its own ``_run_once``: when no
callback is ready, it moves the virtual clock exactly to the earliest timer's
nanosecond instead of waiting on the selector. Ready callbacks run without
moving the clock, so code between two awaits takes no virtual time.

What it cannot model: work the loop cannot see. Threads started through
``anyio.to_thread``, ``loop.run_in_executor``, subprocesses and sockets are
tracked: while any is in flight the loop waits in real time and counts that
time. Threads started any other way are invisible; declare them with
:func:`simulator.outside_work`.
"""

from __future__ import annotations

import asyncio
import bisect
import contextvars
import heapq
import math
import selectors
import time
from collections.abc import Callable
from typing import Any, TypeVar

from anyio._backends import _asyncio as _anyio_asyncio

from ._clockcore import REAL_SLICE_S, SENTINEL_NS, ClockCore
from ._watchdog import raise_clock_frozen

__all__ = ["VirtualEventLoop"]

_T = TypeVar("_T")
# a heap entry: (when, sequence, TimerHandle) or, for sleeps, (when, sequence, Future)
_Entry = tuple[float, int, Any]
_Woken = list[tuple[Callable[..., object], tuple[Any, ...], Any]]


class _VirtualSelector(selectors.BaseSelector):
    """Wraps a real selector; used only for real-time waits and real I/O.

    The loop's own :meth:`VirtualEventLoop._run_once` decides when to jump the
    clock; this selector just waits in real time while outside work is in
    flight, in short slices, and advances virtual time by what passed.
    """

    def __init__(self, core: ClockCore) -> None:
        self._inner = selectors.DefaultSelector()
        self._core = core
        self._base_fds = 0
        self._count = 0
        # The raw poll object, for a cheap "anything ready?" check per jump.
        raw_poll = getattr(getattr(self._inner, "_selector", None), "poll", None)
        self._poll_now: Callable[[], Any] = (
            (lambda: raw_poll(0)) if raw_poll is not None else lambda: True
        )

    def register(
        self, fileobj: Any, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        key = self._inner.register(fileobj, events, data)
        self._count += 1
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        key = self._inner.unregister(fileobj)
        self._count -= 1
        return key

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
        return self._count > self._base_fds

    def select(
        self, timeout: float | None = None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        return self._inner.select(timeout)

    def poll_ready(self) -> list[tuple[selectors.SelectorKey, int]]:
        """Events ready right now, without waiting (one cheap syscall if none)."""
        if not self._poll_now():
            return []
        return self._inner.select(0)

    def wait_real(
        self, timeout: float | None, next_ns: int | None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        """Wait in real time: for ``timeout`` before the run's body starts or
        after it ends, else one short slice, advancing virtual time by the real
        time that passed (never past ``next_ns``, the earliest timer)."""
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


class _Handle(asyncio.Handle):
    """A ``Handle`` built without the debug-mode checks (used outside debug)."""

    __slots__ = ()

    def __init__(
        self,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context | None,
    ) -> None:
        self._context = context if context is not None else contextvars.copy_context()
        self._loop = loop
        self._callback = callback
        self._args = args
        self._cancelled = False
        self._repr = None
        self._source_traceback = None


class _Timer(asyncio.TimerHandle):
    """A ``TimerHandle`` built and cancelled without the debug-mode checks."""

    __slots__ = ()

    def __init__(
        self,
        when: float,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        loop: VirtualEventLoop,
        context: contextvars.Context | None,
    ) -> None:
        self._context = context if context is not None else contextvars.copy_context()
        self._loop = loop
        self._callback = callback
        self._args = args
        self._cancelled = False
        self._repr = None
        self._source_traceback = None
        self._when = when
        self._scheduled = True

    def cancel(self) -> None:
        """Cancel; a timer still in the heap is counted for the next sweep."""
        if not self._cancelled:
            if self._scheduled:
                self._loop._timer_cancelled_count += 1
            self._cancelled = True
            self._callback = None  # type: ignore[assignment]
            self._args = None  # type: ignore[assignment]


_monotonic = time.monotonic
_heappush = heapq.heappush
_INF = math.inf
_Future = asyncio.Future

# how often (real seconds) the wake-up pipe is polled while the clock jumps
_POLL_EVERY_S = 0.001

# asyncio's own thresholds for sweeping cancelled timers out of the heap
_MIN_SWEEP_TIMERS = 100
_MIN_SWEEP_FRACTION = 0.5
_MAX_REAL_WAIT_S = 24 * 3600.0
# due entries popped one by one before the rest of a heap is sorted instead
_POP_ONE_BY_ONE = 8


def pop_due(heap: list[_Entry], ns: int) -> list[_Entry]:
    """Pop the entries due by nanosecond ``ns`` (``round(when * 1e9) <= ns``,
    the rule that picks the nanosecond the clock jumps to), in (when,
    sequence) order.

    Many tasks often wake at the same moment; past a few entries, sorting the
    heap (a sorted list is a heap too) and cutting it is much cheaper than
    popping them one at a time.
    """
    due = []
    grid = ns / 1e9
    while heap:
        when = heap[0][0]
        if when > grid and (when - grid > _CLEARLY_LATER or round(when * 1e9) > ns):
            break
        due.append(heapq.heappop(heap))
        if len(due) == _POP_ONE_BY_ONE and heap and is_due(heap[0][0], ns):
            heap.sort()
            cut = bisect.bisect_right(heap, (last_float_of(ns), math.inf))
            due.extend(heap[:cut])
            del heap[:cut]
            break
    return due


def is_due(when: float, ns: int) -> bool:
    """Whether a timer at float ``when`` is due by nanosecond ``ns``: the same
    rule, ``round(when * 1e9) <= ns``, that picks the nanosecond the clock
    jumps to, so a timer the clock has reached is always due."""
    grid = ns / 1e9
    if when <= grid:
        return True
    return when - grid <= _CLEARLY_LATER and round(when * 1e9) <= ns


# A float this far past a nanosecond's float is past it whatever the rounding:
# float spacing stays below it up to the deadlock sentinel (146 years).
_CLEARLY_LATER = 4e-6


def last_float_of(ns: int) -> float:
    """The largest float ``f`` (seconds) with ``round(f * 1e9) <= ns``: the
    last moment, as a float, that still counts as nanosecond ``ns``."""
    f = (ns + 0.5) / 1e9
    while round(f * 1e9) > ns:
        f = math.nextafter(f, -math.inf)
    while round(math.nextafter(f, math.inf) * 1e9) <= ns:
        f = math.nextafter(f, math.inf)
    return f


def _set_unless_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# timer callbacks that end a sleep (ours, and asyncio.sleep's own)
_SLEEP_CALLBACKS = frozenset(
    {_set_unless_done, asyncio.futures._set_result_unless_cancelled}  # type: ignore[attr-defined]
)


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop on virtual time; a fresh one starts at 0.

    Use it through :func:`simulator.run`, or pass the class as anyio's
    ``loop_factory`` backend option.

    One loop iteration runs as asyncio's own does (ready callbacks first, then
    I/O, then due timers, callbacks added meanwhile wait for the next
    iteration), with these differences:

    - when no callback is ready and no outside work is in flight, the clock
      jumps to the earliest timer's nanosecond instead of sleeping;
    - timers sit in a heap of ``(when, sequence, handle)`` tuples, so timers
      due at the same moment fire in the order they were set; ``anyio.sleep``
      waits on a future in a second heap numbered in the same sequence
      (:func:`anyio_sleep`);
    - everything due at a nanosecond fires together, deadlines (timers that
      are not sleeps) first, then sleeps (:meth:`_due`); an iteration whose due
      entries are all sleeps runs the woken tasks straight away (:meth:`_fire`);
    - after a deadline fires, ``time()`` shows its float for the rest of the
      nanosecond (:meth:`_raise_floor`).
    """

    def __init__(self) -> None:
        self.virtual_core = ClockCore()
        self._floor: tuple[int, float] = (-1, 0.0)
        self._timer_seq = 0
        self._polled_at = 0.0
        # anyio.sleep waits on a future in a heap of its own (simulator._sleep),
        # numbered in one sequence with the timers
        self.fast_sleep = True
        self._sleeps: list[_Entry] = []
        self._cancelled_sleeps = 0
        # while due sleeps fire: the wake-ups their futures schedule
        self._woken: _Woken | None = None
        self._deadlock_cancelled = False
        selector = _VirtualSelector(self.virtual_core)
        self._vselector = selector
        super().__init__(selector)
        selector._base_fds = len(selector.get_map())
        # Timers fire when due to the nanosecond: time() shows a due timer its
        # own float, so no resolution slack is needed (1 ns of slack would
        # fire a timer due 1 ns later too early).
        self._clock_resolution = 0.0
        self.virtual_core.real_io = selector.fds_in_use

    def time(self) -> float:
        """The virtual time in seconds: the nanosecond as a float, or, once a
        deadline whose float lies a hair above it has fired, that float for
        the rest of the nanosecond (see :meth:`_raise_floor`)."""
        ns = self.virtual_core.ns
        now = ns / 1e9
        floor_ns, floor = self._floor
        if floor_ns == ns and floor > now:
            return floor
        return now

    def call_soon(  # type: ignore[override]
        self, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.Handle:
        """As ``loop.call_soon``, without the per-call checks outside debug mode."""
        woken = self._woken
        if woken is not None:
            # a due sleep's future is being set: its task wakes right after
            if context is None:
                context = contextvars.copy_context()
            woken.append((callback, args, context))
            return None  # type: ignore[return-value]
        if self._debug or self._closed:  # type: ignore[attr-defined]
            return super().call_soon(callback, *args, context=context)
        handle = _Handle(callback, args, self, context)
        self._ready.append(handle)  # type: ignore[attr-defined]
        return handle

    def call_later(  # type: ignore[override]
        self,
        delay: float,
        callback: Callable[..., object],
        *args: Any,
        context: Any = None,
    ) -> asyncio.TimerHandle:
        """As ``loop.call_later``: ``delay`` seconds of virtual time from now."""
        if delay is None:
            raise TypeError("delay must not be None")
        if self._debug or self._closed:  # type: ignore[attr-defined]
            return self.call_at(self.time() + delay, callback, *args, context=context)
        when = self.time() + delay
        return self._push(when, _Timer(when, callback, args, self, context))

    def call_at(  # type: ignore[override]
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: Any = None,
    ) -> asyncio.TimerHandle:
        """As ``loop.call_at``, at virtual time ``when`` (seconds)."""
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()  # type: ignore[attr-defined]
        if not self._debug:  # type: ignore[attr-defined]
            return self._push(when, _Timer(when, callback, args, self, context))
        self._check_thread()  # type: ignore[attr-defined]
        self._check_callback(callback, "call_at")  # type: ignore[attr-defined]
        timer = asyncio.TimerHandle(when, callback, args, self, context)
        timer._scheduled = True  # type: ignore[attr-defined]
        return self._push(when, timer)

    def _push(self, when: float, timer: asyncio.TimerHandle) -> asyncio.TimerHandle:
        """Put a timer on the heap, after those already set for the same moment."""
        self._timer_seq += 1
        heapq.heappush(self._scheduled, (when, self._timer_seq, timer))
        return timer

    def _run_once(self) -> None:
        """One loop iteration; see the class docstring for what differs."""
        real_now = _monotonic()
        core = self.virtual_core
        core.heartbeat = real_now
        heap: list[_Entry] = self._scheduled
        if heap and (heap[0][2]._cancelled or self._timer_cancelled_count):
            heap = self._sweep_cancelled(heap)
        sleeps = self._sleeps
        if sleeps and (self._cancelled_sleeps or sleeps[0][2].done()):
            self._sweep_sleeps(sleeps)
        ready = self._ready  # type: ignore[attr-defined]
        if ready or self._stopping:  # type: ignore[attr-defined]
            self._run_due(self._due(heap, sleeps), ready)
            return
        when = heap[0][0] if heap else None
        if sleeps and (when is None or sleeps[0][0] < when):
            when = sleeps[0][0]
        if (
            when is not None
            and real_now - self._polled_at < _POLL_EVERY_S
            and not core.outside_in_flight()
        ):
            # The common case: jump to the earliest timer or sleep.
            next_ns = round(when * 1e9)
            ns = core.ns
            if next_ns > ns and next_ns < SENTINEL_NS:
                core.ns = next_ns
                self._fire(heap, sleeps, ready)
                return
        events = self._wait(when, real_now)
        if events:
            self._process_events(events)  # type: ignore[attr-defined]
            self._run_due(self._due(heap, sleeps), ready)
        elif when is not None and not ready:
            self._fire(heap, sleeps, ready)

    def _fire(self, heap: list[_Entry], sleeps: list[_Entry], ready: Any) -> None:
        """The clock has just moved to a new nanosecond and nothing else is
        ready: fire what is now due, then run what that made ready.

        When only sleeps are due, firing one only makes its task ready, and
        asyncio would run those tasks first thing in the next iteration, with
        no I/O and no timer in between (time stays put and everything due now
        has fired). Run them in this iteration instead: the same order, one
        loop iteration per wake-up instead of two.
        """
        ns = self.virtual_core.ns
        if (heap and is_due(heap[0][0], ns)) or self._debug:  # type: ignore[attr-defined]
            self._run_due(self._due(heap, sleeps), ready)
            return
        due = pop_due(sleeps, ns)
        if not due:
            return
        woken: _Woken = []
        self._woken = woken
        try:
            for _, _, future in due:
                try:
                    future.set_result(None)
                except asyncio.InvalidStateError:  # cancelled while asleep
                    self._cancelled_sleeps -= 1
        finally:
            self._woken = None
        for callback, args, context in woken:
            try:
                context.run(callback, *args)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self.call_exception_handler(
                    {
                        "message": f"Exception in callback {callback!r}",
                        "exception": exc,
                    }
                )

    def _due(self, heap: list[_Entry], sleeps: list[_Entry]) -> list[_Entry]:
        """What is due at the current nanosecond, in firing order: first the
        timers that are not sleeps (deadlines), then the sleeps (ours, as
        handles that set their futures, and ``asyncio.sleep``'s timers), each
        group in (when, sequence) order.

        So within one nanosecond a deadline always wins over a sleep ending,
        whatever their floats (2.2 + 0.2 is a hair above 2.3 + 0.1 ... + 0.1),
        as trio's cancellation does and as the analytic schedule counts.
        """
        ns = self.virtual_core.ns
        timers: list[_Entry] = []
        ended: list[_Entry] = []
        if heap and is_due(heap[0][0], ns):
            for entry in pop_due(heap, ns):
                handle = entry[2]
                handle._scheduled = False
                if handle._cancelled:
                    # counted as cancelled while in the heap; it leaves it now
                    self._timer_cancelled_count = max(
                        0,
                        self._timer_cancelled_count - 1,  # type: ignore[has-type]
                    )
                    continue
                if handle._callback in _SLEEP_CALLBACKS:
                    ended.append(entry)
                else:
                    timers.append(entry)
        if sleeps and is_due(sleeps[0][0], ns):
            for when, seq, future in pop_due(sleeps, ns):
                if future.done():
                    self._cancelled_sleeps -= 1
                    continue
                handle = _Handle(_set_unless_done, (future,), self, None)
                ended.append((when, seq, handle))
            ended.sort()
        if timers:
            self._raise_floor(timers[-1][0])
        return timers + ended

    def _run_due(self, due: list[_Entry], ready: Any) -> None:
        """Run what was ready, then what is due."""
        if due:
            ready.extend([entry[2] for entry in due])
        if ready:
            self._run_ready(ready)

    def _raise_floor(self, fired: float) -> None:
        """From now until the clock moves on, ``time()`` is at least ``fired``.

        A timer that is not a sleep (a cancel scope's deadline, say) fired at
        this nanosecond; its float may lie a hair above the nanosecond (1.1 +
        0.1 is 1.2000000000000002). A deadline re-checked against ``time()``
        must then agree that it has passed (anyio's ``fail_after`` raises
        ``TimeoutError`` only if ``current_time() >= deadline``), as on a float
        clock; so, for the rest of the nanosecond, time() shows the latest such
        float. Sleeps do not raise it: a chain of sleeps then starts every step
        from the exact nanosecond, and float error never accumulates.
        """
        ns = self.virtual_core.ns
        floor_ns, floor = self._floor
        if fired > ns / 1e9 and (floor_ns != ns or fired > floor):
            self._floor = (ns, fired)

    def _run_ready(self, ready: Any) -> None:
        """Run the callbacks ready now; those they add wait for the next turn."""
        popleft = ready.popleft
        if self._debug:  # type: ignore[attr-defined]
            for _ in range(len(ready)):
                handle = popleft()
                if not handle._cancelled:
                    self._current_handle = handle
                    try:
                        handle._run()
                    finally:
                        self._current_handle = None
            return
        for _ in range(len(ready)):
            handle = popleft()
            if not handle._cancelled:
                handle._run()

    def _sweep_cancelled(self, heap: list[_Entry]) -> list[_Entry]:
        """Drop cancelled timers: all of them when they are most of the heap
        (as asyncio does), else those at its head."""
        count = len(heap)
        cancelled = self._timer_cancelled_count
        if count > _MIN_SWEEP_TIMERS and cancelled / count > _MIN_SWEEP_FRACTION:
            kept = []
            for entry in heap:
                if entry[2]._cancelled:
                    entry[2]._scheduled = False
                else:
                    kept.append(entry)
            heapq.heapify(kept)
            self._scheduled = kept
            self._timer_cancelled_count = 0
            return kept
        while heap and heap[0][2]._cancelled:
            self._timer_cancelled_count -= 1
            heapq.heappop(heap)[2]._scheduled = False
        return heap

    def _sweep_sleeps(self, sleeps: list[_Entry]) -> None:
        """Drop cancelled sleeps: all of them when they are most of the heap,
        else those at its head (the count is a hint: a sleep's cancel is
        counted when its task resumes)."""
        count = len(sleeps)
        if (
            count > _MIN_SWEEP_TIMERS
            and self._cancelled_sleeps / count > _MIN_SWEEP_FRACTION
        ):
            sleeps[:] = [entry for entry in sleeps if not entry[2].done()]
            heapq.heapify(sleeps)
            self._cancelled_sleeps = 0
            return
        while sleeps and sleeps[0][2].done():
            heapq.heappop(sleeps)
            self._cancelled_sleeps -= 1
        if not sleeps or self._cancelled_sleeps < 0:
            self._cancelled_sleeps = 0

    def _wait(
        self, when: float | None, real_now: float
    ) -> list[tuple[selectors.SelectorKey, int]]:
        """Nothing is ready: take ready I/O, wait in real time for outside
        work, or jump the clock to ``when``, the earliest timer or sleep.

        The clock jumps outside a run's body too (an async generator's
        clean-up that sleeps at shutdown, or the loop used directly as
        anyio's ``loop_factory``). With no timer at all it waits in real time
        (the shutdown of the default executor signals through the wake-up
        pipe), except after a deadlock was found: a task the deadlock guard's
        cancellation cannot reach (a shielded wait) would then hang the run,
        so the deadlock is raised from here.
        """
        core = self.virtual_core
        selector = self._vselector
        next_ns = round(when * 1e9) if when is not None else None
        if when is None and core.deadlock_error is not None and core.active:
            if not core.outside_in_flight():
                return self._end_deadlock(core.deadlock_error)
        if core.outside_in_flight():
            timeout = None
            if when is not None:
                timeout = min(max(0.0, when - self.time()), _MAX_REAL_WAIT_S)
            return selector.wait_real(timeout, next_ns)
        if real_now - self._polled_at >= _POLL_EVERY_S:
            # Only the loop's own wake-up pipe is open (thread-safe calls and
            # signal handlers write to it); look at it about once a
            # millisecond of real time rather than at every jump.
            self._polled_at = real_now
            events = selector.poll_ready()
            if events:
                return events
        if when is None or next_ns is None:
            return selector.wait_real(None, None)
        ns = core.ns
        if next_ns >= SENTINEL_NS and core.deadlock_ns is None:
            core.deadlock_ns = ns
        if next_ns > ns:
            core.ns = next_ns
        return []

    def _end_deadlock(
        self, error: BaseException
    ) -> list[tuple[selectors.SelectorKey, int]]:
        """Still stuck after the deadlock guard raised: cancel every task
        outright (asyncio's own cancellation reaches into shielded scopes);
        if that does not end them either, raise the deadlock from the loop."""
        if self._deadlock_cancelled:
            raise error
        self._deadlock_cancelled = True
        for task in asyncio.all_tasks(self):
            task.cancel()
        return []

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


async def anyio_sleep(cls: Any, delay: float) -> None:
    """``anyio``'s asyncio backend ``sleep``; see :mod:`simulator._sleep`.

    On a :class:`VirtualEventLoop` the task waits on a future in the loop's
    heap of sleeps, which fires exactly where a ``call_later`` timer would
    (same time, same turn); anywhere else, anyio's own ``sleep`` runs.
    """
    loop = _get_running_loop()
    if loop.__class__ is VirtualEventLoop and loop.virtual_core.frozen:
        raise_clock_frozen(loop.virtual_core)
    if loop.__class__ is VirtualEventLoop and loop.fast_sleep and 0 < delay < _INF:
        future: asyncio.Future[None] = _Future(loop=loop)
        loop._timer_seq = seq = loop._timer_seq + 1
        # what time() answers (no jump is pending while a task runs)
        ns = loop.virtual_core.ns
        now = ns / 1e9
        floor_ns, floor = loop._floor
        if floor_ns == ns and floor > now:
            now = floor
        _heappush(loop._sleeps, (now + delay, seq, future))
        try:
            await future
        except BaseException:
            if future.cancelled():
                loop._cancelled_sleeps += 1
            raise
        return
    assert STOCK_ASYNCIO_SLEEP is not None  # install() checked it
    await STOCK_ASYNCIO_SLEEP(cls, delay)


def stock_sleep(backend: type) -> Callable[[Any, float], Any] | None:
    """An anyio backend class's own ``sleep`` function, or None if anyio no
    longer has it as a class method (simulator._sleep then installs nothing)."""
    stock = backend.__dict__.get("sleep")
    return stock.__func__ if isinstance(stock, classmethod) else None


_get_running_loop = asyncio.get_running_loop
# anyio's own AsyncIOBackend.sleep, taken before simulator._sleep replaces it
STOCK_ASYNCIO_SLEEP = stock_sleep(_anyio_asyncio.AsyncIOBackend)
