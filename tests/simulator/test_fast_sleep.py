"""``anyio.sleep`` through the virtual clock's own queue (``simulator._sleep``).

The fast path must give every sleep the outcome the stock path gives it: the
same wake-up time to the nanosecond, and the same cancellation, also where a
sleep ends at the very moment an enclosing deadline expires. Random programs
of sleeps, timeouts and shields are run both ways on both backends; the
hand-worked cases below pin the exact times.
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
from simulator._asyncio_loop import VirtualEventLoop
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

# multiples of 0.25 s are exact binary fractions: sleeps and deadlines tie often
_SECONDS = [step * 0.25 for step in range(9)]
_MOMENTS = [step * 0.25 for step in range(17)]


def _programs() -> st.SearchStrategy[Program]:
    """2-5 tasks, each 1-4 ops; blocks nest up to 6 leaves deep. Shrinks
    towards fewer tasks, fewer ops and shorter times."""
    seconds = st.sampled_from(_SECONDS)
    leaves: st.SearchStrategy[Op] = st.one_of(
        st.builds(Sleep, seconds), st.builds(SleepUntil, st.sampled_from(_MOMENTS))
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


@settings(max_examples=60, deadline=None)
@given(tasks=_programs())
def test_fast_and_stock_sleeps_log_the_same_on_both_backends(tasks: Program) -> None:
    outcomes = {
        (backend, fast): _outcome(tasks, backend, fast)
        for backend in BACKENDS
        for fast in (True, False)
    }

    for backend in BACKENDS:
        assert outcomes[backend, True] == outcomes[backend, False], backend
    assert outcomes["asyncio", True] == outcomes["trio", True]


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
        (anyio_asyncio.AsyncIOBackend, _sleep._STOCK_ASYNCIO),
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
