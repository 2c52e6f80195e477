"""The trio backend: a clock that jumps to the next deadline in integer ns.

trio asks its clock how long to sleep only when no task is runnable. This clock
answers by moving virtual time exactly to the deadline and answering zero, the
way trio's own ``MockClock`` autojumps at threshold 0, but keeping time as
integer nanoseconds so that long runs add up exactly. A fresh clock starts at 0.

While outside work is in flight (a thread from ``anyio.to_thread`` or
``trio.to_thread``, a task waiting on a socket or a process), the clock waits in
real time instead, in short slices, and advances by the real time that passed.
"""

from __future__ import annotations

import heapq
import math
import time

import trio

from ._asyncio_loop import last_float_of, pop_due
from ._clockcore import REAL_SLICE_S, SENTINEL_NS, ClockCore

__all__ = ["HeartbeatInstrument", "VirtualTrioClock", "io_waiters"]


_SUCCEEDED = trio.lowlevel.Abort.SUCCEEDED
_reschedule = trio.lowlevel.reschedule

# sweep cancelled sleeps out of the queue once they are most of a queue this long
_MIN_SWEEP_SLEEPS = 100


class _Sleep:
    """A task parked in :meth:`VirtualTrioClock.sleep_entry` (see simulator._sleep)."""

    __slots__ = ("_clock", "cancelled", "task")

    def __init__(self, task: trio.lowlevel.Task, clock: VirtualTrioClock) -> None:
        self.task = task
        self._clock = clock
        self.cancelled = False

    def abort(self, raise_cancel: object) -> trio.lowlevel.Abort:
        """trio's abort callback: the sleep is cancelled, leave the queue."""
        self.cancelled = True
        clock = self._clock
        clock._cancelled_sleeps += 1
        if clock._cancelled_sleeps > _MIN_SWEEP_SLEEPS:
            clock.sweep_if_mostly_cancelled()
        return _SUCCEEDED


class VirtualTrioClock(trio.abc.Clock):
    """A trio clock on virtual time; pass it as ``trio.run(clock=...)``."""

    def __init__(self) -> None:
        self.virtual_core = ClockCore()
        self.virtual_core.real_io = self._io_in_flight
        self.io_baseline = 0
        self._io_registered: dict[object, object] | None = None
        self._io_fds_baseline = 0
        # After a jump trio asks the time once to expire deadlines: it is then
        # shown the float it jumped to, so that deadlines expire in the order
        # of their floats even within one nanosecond (as asyncio fires them).
        self._expire_at: float | None = None
        # Once that float is past, time shows at least it for the rest of the
        # nanosecond (see current_time): (nanosecond, float).
        self._floor: tuple[int, float] = (-1, 0.0)
        # whether the pending jump is to one of trio's deadlines (which raises
        # the floor) rather than to a sleep parked here (which does not)
        self._jump_to_deadline = False
        self._real_cap: int | None = None
        self._real_since: int | None = None
        # anyio.sleep parks tasks here (simulator._sleep): (deadline, seq, sleep)
        self.fast_sleep = True
        self._sleeps: list[tuple[float, int, _Sleep]] = []
        self._sleep_seq = 0
        self._cancelled_sleeps = 0

    def sleep_entry(self, delay: float, task: trio.lowlevel.Task) -> _Sleep:
        """Park ``task`` until ``delay`` virtual seconds from now (the deadline
        ``trio.sleep`` would set); the task must then wait to be rescheduled."""
        sleep = _Sleep(task, self)
        self._sleep_seq = seq = self._sleep_seq + 1
        heapq.heappush(self._sleeps, (self.current_time() + delay, seq, sleep))
        return sleep

    def _next_sleep(self) -> float | None:
        """The earliest live sleep's deadline, dropping cancelled ones."""
        sleeps = self._sleeps
        if self._cancelled_sleeps:
            self.sweep_if_mostly_cancelled()
            while sleeps and sleeps[0][2].cancelled:
                heapq.heappop(sleeps)
                self._cancelled_sleeps -= 1
        return sleeps[0][0] if sleeps else None

    def sweep_if_mostly_cancelled(self) -> None:
        """Drop the cancelled sleeps once they are most of a long queue (also
        while the loop never idles, so that memory stays flat)."""
        sleeps = self._sleeps
        if len(sleeps) > _MIN_SWEEP_SLEEPS and self._cancelled_sleeps * 2 > len(sleeps):
            sleeps[:] = [entry for entry in sleeps if not entry[2].cancelled]
            heapq.heapify(sleeps)
            self._cancelled_sleeps = 0

    def _wake_due(self) -> None:
        """Reschedule every parked task whose sleep ends at or before the
        current nanosecond."""
        for _, _, sleep in pop_due(self._sleeps, self.virtual_core.ns):
            if sleep.cancelled:
                self._cancelled_sleeps -= 1
            else:
                _reschedule(sleep.task)

    def _io_in_flight(self) -> bool:
        registered = self._io_registered
        if registered is not None and len(registered) <= self._io_fds_baseline:
            # no file descriptor has a waiter beyond trio's own wake-up socket
            return False
        return io_waiters() > self.io_baseline

    def set_io_baseline(self) -> None:
        """Take the I/O waiters present now (trio's own) as the baseline; call
        from inside the run once trio's system tasks are waiting."""
        self.io_baseline = io_waiters()
        # On epoll, the I/O manager's table of file descriptors with a waiter
        # answers "any I/O in flight?" with one len() instead of trio's
        # statistics (which cost about a fifth of a jump). It is private to
        # trio: if it is not where expected, the statistics are used.
        runner = getattr(getattr(trio, "_core", None), "_run", None)
        context = getattr(runner, "GLOBAL_RUN_CONTEXT", None)
        manager = getattr(getattr(context, "runner", None), "io_manager", None)
        registered = getattr(manager, "_registered", None)
        if isinstance(registered, dict):
            self._io_registered = registered
            self._io_fds_baseline = len(registered)

    def start_clock(self) -> None:
        """Nothing to start: virtual time begins at 0."""

    def current_time(self) -> float:
        """The virtual time in seconds."""
        core = self.virtual_core
        if self._real_since is not None:
            real_now = time.perf_counter_ns()
            core.advance_real(real_now - self._real_since, self._real_cap)
            self._real_since = real_now
        ns = core.ns
        floor_ns, floor = self._floor
        expire_at = self._expire_at
        if expire_at is None:
            now = ns / 1e9
            return floor if floor_ns == ns and floor > now else now
        # the read right after a jump, by trio, to expire its deadlines
        self._expire_at = None
        now = expire_at if floor_ns != ns or expire_at > floor else floor
        if not self._jump_to_deadline:
            return now
        # Every trio deadline on this nanosecond expires in this one pass
        # (nested scopes due together then unwind to the outermost, as the
        # asyncio loop and the analytic schedule have it); the time then
        # shows the latest of their floats for the rest of the nanosecond.
        last = last_float_of(ns)
        self._raise_floor(_latest_deadline_upto(last, now))
        return max(now, last)

    def _raise_floor(self, fired: float) -> None:
        """From now until the clock moves on, the time is at least ``fired``.

        A deadline's float may lie a hair above its nanosecond (1.1 + 0.1 is
        1.2000000000000002). Once it has expired, a re-check against the time
        must agree that it has passed (anyio's ``fail_after`` raises
        ``TimeoutError`` only if ``current_time() >= deadline``), as on a float
        clock; so for the rest of the nanosecond the time shows that float.
        Sleeps parked here do not raise it, so a chain of ``anyio.sleep`` calls
        starts every step from the exact nanosecond. (``trio.sleep`` called
        directly sleeps on a trio deadline, which does raise it: such chains
        gather float error as on trio's own ``MockClock``: measured +42 ns
        after 100,000 sleeps of 0.1 s, +1779 ns after 20,000 sleeps of 1 ms
        starting at 1e6 s.)
        """
        ns = self.virtual_core.ns
        floor_ns, floor = self._floor
        if fired > ns / 1e9 and (floor_ns != ns or fired > floor):
            self._floor = (ns, fired)

    def deadline_to_sleep_time(self, deadline: float) -> float:
        """Jump to the earliest deadline or parked sleep and answer 0 (waking the
        sleeps now due), or wait in real time for outside work."""
        self._jump_to_deadline = True
        if self._sleeps:
            first = self._next_sleep()
            if first is not None and _earlier_ns(first, deadline):
                # Within one nanosecond, trio's deadlines go first: sleeps
                # parked here end only once none is left at or before it.
                self._jump_to_deadline = False
                wait = self._to_sleep_time(first)
                if wait == 0.0:
                    self._wake_due()
                return wait
        return self._to_sleep_time(deadline)

    def _to_sleep_time(self, deadline: float) -> float:
        core = self.virtual_core
        now = self.current_time()
        if deadline <= now:
            return 0.0
        target = None if math.isinf(deadline) else round(deadline * 1e9)
        if core.active and core.outside_in_flight():
            self._real_cap = target
            if self._real_since is None:
                self._real_since = time.perf_counter_ns()
            if target is None:
                return REAL_SLICE_S
            if core.ns >= target:
                self._expire_at = deadline
                return 0.0
            return min(REAL_SLICE_S, deadline - now)
        self._real_since = None
        if target is None:
            return REAL_SLICE_S
        if target >= SENTINEL_NS and core.active and core.deadlock_ns is None:
            core.deadlock_ns = core.ns
        core.ns = max(core.ns, target)
        self._expire_at = deadline
        return 0.0


def _latest_deadline_upto(limit: float, known: float) -> float:
    """The latest of trio's pending deadlines at or before ``limit`` (``known``
    if trio's private deadline table is not where expected).

    The table is a heap: only the entries at or before ``limit`` and their
    children are looked at, so this costs the number of deadlines due now.
    """
    context = getattr(getattr(trio, "_core", None), "_run", None)
    runner = getattr(getattr(context, "GLOBAL_RUN_CONTEXT", None), "runner", None)
    heap = getattr(getattr(runner, "deadlines", None), "_heap", None)
    if not isinstance(heap, list):
        return known
    latest = known
    pending = [0]
    size = len(heap)
    while pending:
        i = pending.pop()
        if i >= size:
            continue
        deadline, _, scope = heap[i]
        if deadline > limit:
            continue
        if getattr(scope, "_registered_deadline", deadline) == deadline:
            latest = max(latest, deadline)  # not a stale entry of a moved scope
        pending += (2 * i + 1, 2 * i + 2)
    return latest


def _earlier_ns(a: float, b: float) -> bool:
    """Whether float time ``a`` falls on an earlier nanosecond than ``b``."""
    if a >= b:
        return False
    if b - a > 4e-6 or not math.isfinite(b):
        return True
    return round(a * 1e9) < round(b * 1e9)


def io_waiters() -> int:
    """Tasks waiting on a socket, pipe or process right now."""
    stats = trio.lowlevel.current_statistics().io_statistics
    return getattr(stats, "tasks_waiting_read", 0) + getattr(
        stats, "tasks_waiting_write", 0
    )


class HeartbeatInstrument(trio.abc.Instrument):
    """Tells the watchdog that the trio loop is still turning."""

    def __init__(self, core: ClockCore) -> None:
        self._core = core

    def before_io_wait(self, timeout: float) -> None:
        """Called by trio once per loop iteration."""
        self._core.heartbeat = time.monotonic()
