"""``anyio.sleep`` through the virtual clock's own queue (``simulator._sleep``).

Every sleep must end at the nanosecond it is due and be cancelled exactly when
the rules say: within one nanosecond a deadline goes before a sleep ending,
whatever their floats, and a ``fail_after`` whose float lies a hair above its
nanosecond still raises ``TimeoutError``. Random programs of sleeps, timeouts
and shields are run on both backends, fast and stock path, and each log is
checked against one worked out without an event loop (``_Oracle``, trio's
cancellation rules on integer nanoseconds). The hand-worked cases pin exact
times, including ties where a sleep and a deadline fall on the same nanosecond
but lie a hair apart as floats.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
import sniffio
import trio
from anyio._backends import _asyncio as anyio_asyncio
from anyio._backends import _trio as anyio_trio
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator
from simulator import _sleep, now_ns, run
from simulator._asyncio_loop import STOCK_ASYNCIO_SLEEP, VirtualEventLoop
from simulator._clockcore import SENTINEL_S
from simulator._run import BACKENDS
from simulator._trio_clock import VirtualTrioClock

S = 1_000_000_000

backends = pytest.mark.parametrize("backend", BACKENDS)
both_paths = pytest.mark.parametrize("fast", [True, False], ids=["fast", "stock"])


# -- random programs: each task runs a tree of sleeps and scopes, and logs ----


@dataclass(frozen=True)
class Sleep:
    """``await anyio.sleep(seconds)``."""

    seconds: float


@dataclass(frozen=True)
class SleepUntil:
    """``await anyio.sleep_until(at)``, an absolute virtual time."""

    at: float


@dataclass(frozen=True)
class MoveOn:
    """``with anyio.move_on_after(seconds):`` around ``body``."""

    seconds: float
    body: tuple[Op, ...]


@dataclass(frozen=True)
class FailAfter:
    """``with anyio.fail_after(seconds):`` around ``body``, TimeoutError caught."""

    seconds: float
    body: tuple[Op, ...]


@dataclass(frozen=True)
class Shielded:
    """``with anyio.CancelScope(shield=True):`` around ``body``."""

    body: tuple[Op, ...]


Op = Sleep | SleepUntil | MoveOn | FailAfter | Shielded
Program = tuple[tuple[Op, ...], ...]
# (where in the program, virtual ns when the op ended, how it ended)
Entry = tuple[str, int, str]

# Small grids, so that sleeps and deadlines often end on the same nanosecond.
# Multiples of 0.25 s are exact binary fractions: such ties are exact as
# floats too. Multiples of 0.1 s are not: a sleep and a deadline due on the
# same nanosecond can then lie a hair apart as floats (0.7 + 0.1 is
# 0.7999999999999999, 1.1 + 0.1 is 1.2000000000000002).
QUARTERS = [step * 0.25 for step in range(9)]
TENTHS = [step / 10 for step in range(21)]


def _programs(grid: list[float]) -> st.SearchStrategy[Program]:
    """2-5 tasks, each 1-4 ops; blocks nest up to 6 leaves deep; durations from
    ``grid``, absolute times up to twice its largest. Shrinks towards fewer
    tasks, fewer ops and earlier entries of the grid."""
    seconds = st.sampled_from(grid)
    moments = st.sampled_from(sorted({a + b for a in grid for b in grid[::4]}))
    leaves: st.SearchStrategy[Op] = st.one_of(
        st.builds(Sleep, seconds), st.builds(SleepUntil, moments)
    )

    def blocks(inner: st.SearchStrategy[Op]) -> st.SearchStrategy[Op]:
        body = st.lists(inner, min_size=1, max_size=3).map(tuple)
        return st.one_of(
            st.builds(MoveOn, seconds, body),
            st.builds(FailAfter, seconds, body),
            st.builds(Shielded, body),
        )

    ops = st.recursive(leaves, blocks, max_leaves=6)
    tasks = st.lists(ops, min_size=1, max_size=4).map(tuple)
    return st.lists(tasks, min_size=2, max_size=5).map(tuple)


async def _perform(ops: tuple[Op, ...], path: str, log: list[Entry]) -> None:
    """Run ``ops`` in order; an op a cancellation passes through is logged too."""
    for index, op in enumerate(ops):
        where = f"{path}.{index}"
        try:
            await _perform_one(op, where, log)
        except anyio.get_cancelled_exc_class():
            log.append((where, now_ns(), "cancelled"))
            raise


async def _perform_one(op: Op, where: str, log: list[Entry]) -> None:
    match op:
        case Sleep(seconds):
            await anyio.sleep(seconds)
            outcome = "slept"
        case SleepUntil(at):
            await anyio.sleep_until(at)
            outcome = "slept"
        case MoveOn(seconds, body):
            with anyio.move_on_after(seconds) as scope:
                await _perform(body, where, log)
            outcome = f"moved on, caught={scope.cancelled_caught}"
        case FailAfter(seconds, body):
            try:
                with anyio.fail_after(seconds):
                    await _perform(body, where, log)
                outcome = "in time"
            except TimeoutError:
                outcome = "timed out"
        case Shielded(body):
            with anyio.CancelScope(shield=True):
                await _perform(body, where, log)
            outcome = "shield left"
    log.append((where, now_ns(), outcome))


async def _program(tasks: Program) -> list[list[Entry]]:
    logs: list[list[Entry]] = [[] for _ in tasks]
    async with anyio.create_task_group() as tg:
        for index, ops in enumerate(tasks):
            tg.start_soon(_perform, ops, f"task{index}", logs[index])
    return logs


def _outcome(tasks: Program, backend: str, fast: bool) -> tuple[int, list[Any]]:
    result = run(_program, tasks, backend=backend, fast_sleep=fast)
    return result.virtual_ns, result.value


# -- the same programs worked out without any event loop (trio's rules) ----


class _Unwind(Exception):
    """A cancellation on its way out to ``scope``, the scope that catches it."""

    def __init__(self, scope: _Scope) -> None:
        super().__init__()
        self.scope = scope


@dataclass(eq=False)
class _Scope:
    deadline: float  # integer ns; math.inf for a shield
    shield: bool = False


class _Oracle:
    """One task's log, worked out by hand from trio's cancellation rules.

    Time is integer ns; a duration d counts as round(d * 1e9) ns. A sleep of
    d at time t ends at t + d, unless the earliest deadline D among the scopes
    it can see (those inside the innermost shield) is at or before t + d: it
    then ends at max(t, D), cancelled (a tie to the nanosecond goes to the
    deadline). The outermost visible scope whose deadline has passed catches
    the cancellation; every op it passes through on the way is logged as
    cancelled.
    """

    def __init__(self) -> None:
        self.now = 0
        self.scopes: list[_Scope] = []
        self.log: list[Entry] = []

    def perform(self, ops: tuple[Op, ...], path: str) -> None:
        for index, op in enumerate(ops):
            where = f"{path}.{index}"
            try:
                outcome = self._perform_one(op, where)
            except _Unwind:
                self._note(where, "cancelled")
                raise
            self._note(where, outcome)

    def _note(self, where: str, outcome: str) -> None:
        self.log.append((where, self.now, outcome))

    def _perform_one(self, op: Op, where: str) -> str:
        match op:
            case Sleep(seconds):
                self._sleep(round(seconds * S))
                return "slept"
            case SleepUntil(at):
                self._sleep(max(round(at * S) - self.now, 0))
                return "slept"
            case MoveOn(seconds, body):
                caught = self._block(self._after(seconds), body, where)
                return f"moved on, caught={caught}"
            case FailAfter(seconds, body):
                caught = self._block(self._after(seconds), body, where)
                return "timed out" if caught else "in time"
            case Shielded(body):
                self._block(_Scope(math.inf, shield=True), body, where)
                return "shield left"
        raise AssertionError(op)

    def _after(self, seconds: float) -> _Scope:
        return _Scope(self.now + round(seconds * S))

    def _visible(self) -> list[_Scope]:
        for index in range(len(self.scopes) - 1, -1, -1):
            if self.scopes[index].shield:
                return self.scopes[index + 1 :]
        return self.scopes

    def _sleep(self, ns: int) -> None:
        visible = self._visible()
        deadline = min((scope.deadline for scope in visible), default=math.inf)
        if deadline > self.now + ns:
            self.now += ns
            return
        self.now = max(self.now, int(deadline))
        raise _Unwind(next(s for s in visible if s.deadline <= self.now))

    def _block(self, scope: _Scope, body: tuple[Op, ...], where: str) -> bool:
        """Run ``body`` inside ``scope``; whether the scope caught a cancel."""
        self.scopes.append(scope)
        try:
            self.perform(body, where)
        except _Unwind as unwind:
            if unwind.scope is not scope:
                raise
            return True
        finally:
            self.scopes.pop()
        return False


def _expected(tasks: Program) -> tuple[int, list[list[Entry]]]:
    """The run's end (the last task's end) and every task's log, by hand."""
    oracles = []
    for index, ops in enumerate(tasks):
        oracle = _Oracle()
        oracle.perform(ops, f"task{index}")
        oracles.append(oracle)
    return max(o.now for o in oracles), [o.log for o in oracles]


def _check_program(tasks: Program) -> None:
    """Both backends, on the fast and on the stock path, match the log worked
    out by hand: within one nanosecond a deadline goes before a sleep ending,
    whatever their floats (the oracle's rule)."""
    expected = _expected(tasks)
    for backend in BACKENDS:
        for fast in (True, False):
            assert _outcome(tasks, backend, fast) == expected, (backend, fast)


@settings(max_examples=60, deadline=None)
@given(tasks=_programs(QUARTERS))
def test_programs_on_a_grid_of_quarter_seconds(tasks: Program) -> None:
    _check_program(tasks)


@settings(max_examples=60, deadline=None)
@given(tasks=_programs(TENTHS))
def test_programs_on_a_grid_of_tenths(tasks: Program) -> None:
    _check_program(tasks)


# -- hand-worked cases, both backends --------------------------------------


def _value(fn: Callable[[], Awaitable[Any]], backend: str, fast: bool = True) -> Any:
    return run(fn, backend=backend, fast_sleep=fast).value


@backends
@both_paths
def test_sleep_ending_at_the_deadline_is_cancelled(backend: str, fast: bool) -> None:
    async def main() -> tuple[bool, int]:
        with anyio.move_on_after(1) as scope:
            await anyio.sleep(1)
        return scope.cancelled_caught, now_ns()

    # a tie between the sleep and the deadline: the deadline wins, as in trio
    assert _value(main, backend, fast) == (True, 1 * S)


@backends
@both_paths
def test_fail_after_tied_with_the_sleep_raises_timeout(
    backend: str, fast: bool
) -> None:
    async def main() -> tuple[str, int]:
        try:
            with anyio.fail_after(1):
                await anyio.sleep(1)
        except TimeoutError:
            return "timed out", now_ns()
        return "in time", now_ns()

    assert _value(main, backend, fast) == ("timed out", 1 * S)


@backends
@both_paths
def test_fail_after_a_hair_above_its_nanosecond_raises_timeout(
    backend: str, fast: bool
) -> None:
    # the deadline 1.1 + 0.1 is the float 1.2000000000000002: it expires on
    # the nanosecond 1_200_000_000, and the cancelled body must surface as
    # TimeoutError, not as a body that finished in time
    async def main() -> tuple[str, int]:
        await anyio.sleep(1.1)
        try:
            with anyio.fail_after(0.1):
                await anyio.sleep(10)
        except TimeoutError:
            return "timed out", now_ns()
        return "in time", now_ns()

    assert _value(main, backend, fast) == ("timed out", 1_200_000_000)


@backends
@both_paths
def test_deadline_a_hair_after_a_sleep_on_its_nanosecond_wins(
    backend: str, fast: bool
) -> None:
    # 0.7 + 0.1 is the float 0.7999999999999999 and the deadline 0.6 + 0.2 is
    # 0.8: both are due on the nanosecond 800_000_000; the deadline wins (on
    # trio's stock path the sleep is a trio deadline too: every trio deadline
    # of a nanosecond expires in one pass, and the Cancelled goes to the
    # outermost scope cancelled)
    async def main() -> tuple[bool, int]:
        await anyio.sleep(0.6)
        with anyio.move_on_after(0.2) as scope:
            await anyio.sleep(0.1)
            await anyio.sleep(0.1)
        return scope.cancelled_caught, now_ns()

    assert _value(main, backend, fast) == (True, 800_000_000)


@backends
@both_paths
def test_deadline_a_hair_above_its_nanosecond_beats_a_sleep_on_it(
    backend: str, fast: bool
) -> None:
    # the deadline 2.2 + 0.2 is the float 2.4000000000000004; the second
    # sleep starts at 2.3 s and is due at the float 2.4: both on the
    # nanosecond 2_400_000_000, so the deadline wins
    async def main() -> tuple[bool, int]:
        await anyio.sleep(2.2)
        with anyio.move_on_after(0.2) as scope:
            await anyio.sleep(0.1)
            await anyio.sleep(0.1)
        return scope.cancelled_caught, now_ns()

    assert _value(main, backend, fast) == (True, 2_400_000_000)


@backends
@both_paths
def test_tie_with_a_deadline_after_sleeps_woken_together(
    backend: str, fast: bool
) -> None:
    # At 2.3 s two sleeps wake: 2.3 and 2.2 + 0.1 = 2.3000000000000003. The
    # next sleep (0.1) and the deadline 2.2 + 0.2 = 2.4000000000000004 are both
    # due on the nanosecond 2_400_000_000; the deadline wins
    async def main() -> tuple[bool, int]:
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.sleep, 2.3)
            await anyio.sleep(2.2)
            with anyio.move_on_after(0.2) as scope:
                await anyio.sleep(0.1)
                await anyio.sleep(0.1)
        return scope.cancelled_caught, now_ns()

    assert _value(main, backend, fast) == (True, 2_400_000_000)


@backends
def test_cancelling_a_sleepers_scope_wakes_it_at_once(backend: str) -> None:
    async def main() -> tuple[bool, int, int]:
        scope = anyio.CancelScope()
        woke: list[int] = []

        async def sleeper() -> None:
            with scope:
                await anyio.sleep(100)
            woke.append(now_ns())

        async def canceller() -> None:
            await anyio.sleep(1)
            scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(sleeper)
            tg.start_soon(canceller)
        return scope.cancelled_caught, woke[0], now_ns()

    result = run(main, backend=backend)

    assert result.value == (True, 1 * S, 1 * S)
    assert result.virtual_ns == 1 * S


@backends
def test_sleep_in_an_already_cancelled_scope_returns_at_once(backend: str) -> None:
    async def main() -> tuple[bool, int]:
        with anyio.CancelScope() as scope:
            scope.cancel()
            await anyio.sleep(5)
        return scope.cancelled_caught, now_ns()

    result = run(main, backend=backend)

    assert result.value == (True, 0)
    assert result.virtual_ns == 0


@backends
def test_shielded_sleep_completes_inside_a_cancelled_scope(backend: str) -> None:
    async def main() -> tuple[int, int, bool]:
        with anyio.CancelScope() as cancelled:
            cancelled.cancel()
            with anyio.CancelScope(shield=True):
                await anyio.sleep(2)
            shielded_end = now_ns()
            await anyio.sleep(1)
        with anyio.move_on_after(0.5) as expired:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(2)
            await anyio.sleep(1)
        return shielded_end, now_ns(), expired.cancelled_caught

    # 2 s shielded; the next sleep is cancelled at once; then 0.5 s deadline
    # passes under the shield, which still sleeps its 2 s: ends at 4 s
    assert _value(main, backend) == (2 * S, 4 * S, True)


@backends
def test_zero_sleep_and_sleep_forever_still_checkpoint(backend: str) -> None:
    async def main() -> tuple[int, bool, int, bool, int]:
        for _ in range(1000):
            await anyio.sleep(0)
        after_zeros = now_ns()
        with anyio.CancelScope() as zero_scope:
            zero_scope.cancel()
            await anyio.sleep(0)
        with anyio.move_on_after(3) as forever_scope:
            await anyio.sleep_forever()
        at_three = now_ns()
        with anyio.move_on_after(1.5) as inf_scope:
            await anyio.sleep(math.inf)
        return (
            after_zeros,
            zero_scope.cancelled_caught,
            at_three,
            forever_scope.cancelled_caught and inf_scope.cancelled_caught,
            now_ns(),
        )

    assert _value(main, backend) == (0, True, 3 * S, True, 4_500_000_000)


@backends
def test_thousand_tasks_of_distinct_sleeps_end_exactly(backend: str) -> None:
    # task i sleeps (10 i + j + 1) * 1_000_003 ns for j = 0..9: every duration
    # differs, and task i ends at 1_000_003 * (100 i + 55) ns
    unit = 1_000_003

    async def task(index: int, ends: dict[int, int]) -> None:
        for step in range(10):
            await anyio.sleep((10 * index + step + 1) * unit / S)
        ends[index] = now_ns()

    async def main() -> dict[int, int]:
        ends: dict[int, int] = {}
        async with anyio.create_task_group() as tg:
            for index in range(1000):
                tg.start_soon(task, index, ends)
        return ends

    result = run(main, backend=backend)

    assert result.value == {index: unit * (100 * index + 55) for index in range(1000)}
    assert result.virtual_ns == unit * (100 * 999 + 55)


def _current_clock() -> VirtualEventLoop | VirtualTrioClock:
    """The run's virtual clock: its asyncio loop or its trio clock."""
    if sniffio.current_async_library() == "trio":
        clock = trio.lowlevel.current_clock()
        assert isinstance(clock, VirtualTrioClock)
        return clock
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualEventLoop)
    return loop


def _queued() -> int:
    """Entries held by the virtual clock: the asyncio loop's timer heap and
    heap of sleeps, or the trio clock's parked sleeps."""
    clock = _current_clock()
    timers = getattr(clock, "_scheduled", [])
    return len(timers) + len(clock._sleeps)


def _parked() -> list[float]:
    """Deadlines of the fast-path sleeps parked in the clock now, earliest first."""
    clock = _current_clock()
    if isinstance(clock, VirtualEventLoop):
        return sorted(when for when, _, future in clock._sleeps if not future.done())
    return sorted(when for when, _, entry in clock._sleeps if not entry.cancelled)


def _timers() -> list[float]:
    """Times of the asyncio loop's live timer handles (none on trio)."""
    clock = _current_clock()
    if isinstance(clock, VirtualTrioClock):
        return []
    heap = clock._scheduled
    return sorted(when for when, _, timer in heap if not timer.cancelled())


@backends
def test_timed_out_sleeps_do_not_pile_up_in_the_queue(backend: str) -> None:
    async def main() -> tuple[int, int, int]:
        caught = 0
        async with anyio.create_task_group() as tg:
            # a live sleep ahead of the cancelled ones in the queue: they
            # never reach its head, so they must be swept out from behind
            tg.start_soon(anyio.sleep, 100)
            for _ in range(2000):
                with anyio.move_on_after(0.001) as scope:
                    await anyio.sleep(1e6)
                caught += scope.cancelled_caught
            queued = _queued()
            tg.cancel_scope.cancel()
        return caught, queued, now_ns()

    caught, queued, end = _value(main, backend)

    assert caught == 2000
    assert queued < 300
    assert end == 2000 * 1_000_000


@backends
@both_paths
def test_the_fast_path_parks_sleepers_in_the_clock(backend: str, fast: bool) -> None:
    async def main() -> tuple[list[float], list[float]]:
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.sleep, 5)
            await anyio.sleep(1)
            seen = _parked(), _timers()
        return seen

    parked, timers = _value(main, backend, fast)

    if fast:
        # the sleeper (due at 5 s) and the deadlock guard (due at the sentinel)
        # wait in the clock itself, not behind asyncio timer handles
        assert parked == [5.0, SENTINEL_S]
        assert timers == []
    else:
        assert parked == []
        assert timers == ([5.0, SENTINEL_S] if backend == "asyncio" else [])


@pytest.mark.parametrize("plain_backend", BACKENDS)
def test_plain_anyio_run_sleeps_in_real_time_after_install(
    plain_backend: str,
) -> None:
    run(anyio.sleep, 1)
    # the fast path is installed, so this goes through its fall-back branch
    for backend, stock in (
        (anyio_asyncio.AsyncIOBackend, STOCK_ASYNCIO_SLEEP),
        (anyio_trio.TrioBackend, _sleep._STOCK_TRIO),
    ):
        assert backend.__dict__["sleep"].__func__ is not stock

    async def main() -> str:
        await anyio.sleep(0.01)
        return "slept"

    started = time.monotonic()
    value = anyio.run(main, backend=plain_backend)
    elapsed = time.monotonic() - started

    assert value == "slept"
    assert elapsed >= 0.01


def _next_line() -> int:
    """The line after the caller's current line."""
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno + 1


@backends
def test_deadlock_beside_fast_sleepers_names_the_user_lines(backend: str) -> None:
    lines: dict[str, int] = {}

    async def ticker() -> None:
        for _ in range(4):
            await anyio.sleep(1)

    async def sleeper() -> None:
        await anyio.sleep(1)
        lines["sleeper"] = _next_line()
        await anyio.sleep(1e10)  # past the sentinel: it never fires

    async def waiter() -> None:
        lines["waiter"] = _next_line()
        await anyio.Event().wait()

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker, name="ticker")
            tg.start_soon(sleeper, name="sleeper")
            tg.start_soon(waiter, name="waiter")

    with pytest.raises(simulator.DeadlockError) as info:
        run(main, backend=backend)

    error = info.value
    assert error.virtual_time == 4.0
    here = __file__
    assert error.blocked[1:] == [
        f"task 'sleeper' waiting at {here}:{lines['sleeper']} in sleeper (sleep)",
        f"task 'waiter' waiting at {here}:{lines['waiter']} in waiter (Event.wait)",
    ]
    assert error.blocked[0].startswith("task 'main' waiting at ")
    assert os.path.dirname(simulator.__file__) not in str(error)
