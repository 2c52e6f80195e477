"""Edge cases of the engine found by trying to break it, each pinned by hand.

Long runs near the float limit of a nanosecond, a cancelled timer at a tie,
clean-up that sleeps after the body, the loop used straight as anyio's
``loop_factory``, deadlocks behind a shield, cancelled sleeps that never meet
an idle loop, and the errors ``run()`` gives for common mistakes.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import pytest

from simulator import DeadlockError, SimulatorError, WatchdogTimeout, now_ns, run
from simulator._asyncio_loop import VirtualEventLoop
from simulator._run import BACKENDS

backends = pytest.mark.parametrize("backend", BACKENDS)


@backends
def test_a_nanosecond_sleep_48_days_in_still_ends(backend: str) -> None:
    # At 4194315.975128216 s the float for "one nanosecond later" rounds back
    # to the same nanosecond (216.5 -> 216, half to even): the sleep is due at
    # once. It used to be neither due nor a jump, and the loop spun for ever.
    async def main() -> tuple[int, int]:
        await anyio.sleep(4194315.975128216)
        before = now_ns()
        await anyio.sleep(1e-9)
        return before, now_ns()

    before, after = run(main, backend=backend, watchdog=5.0).value
    assert before == 4_194_315_975_128_216
    assert after - before in (0, 1)


@backends
def test_a_cancelled_deadline_does_not_move_the_time(backend: str) -> None:
    # B's second scope (deadline 0.1 + 0.2 = 0.30000000000000004) exits at
    # once: its timer is cancelled. When A's live deadline 0.3 fires, the time
    # must read 0.3 (no live deadline lies above it), on both backends.
    async def main() -> str:
        seen = ""

        async def a() -> None:
            nonlocal seen
            with anyio.move_on_after(0.3):
                await anyio.sleep(1)
            seen = repr(anyio.current_time())

        async def b() -> None:
            await anyio.sleep(0.1)
            with anyio.move_on_after(0.2):
                pass

        async with anyio.create_task_group() as tg:
            tg.start_soon(a)
            tg.start_soon(b)
        return seen

    assert run(main, backend=backend).value == "0.3"


async def _gen() -> AsyncIterator[int]:
    try:
        yield 1
        yield 2
    finally:
        await anyio.sleep(1)


@backends
def test_clean_up_that_sleeps_after_the_body_ends(backend: str) -> None:
    # An async generator left open is closed when the loop shuts down; its
    # clean-up sleeps 1 s. That used to hang asyncio (the clock stopped jumping
    # once the body had ended). The run's time is the body's end on both.
    kept = []

    async def main() -> str:
        gen = _gen()
        await gen.__anext__()
        kept.append(gen)
        return "done"

    result = run(main, backend=backend, watchdog=5.0)
    assert (result.value, result.virtual_ns) == ("done", 0)


def test_the_loop_works_as_anyio_loop_factory_on_its_own() -> None:
    async def main() -> float:
        await anyio.sleep(1.5)
        return anyio.current_time()

    options = {"loop_factory": VirtualEventLoop}
    assert anyio.run(main, backend="asyncio", backend_options=options) == 1.5


def test_a_deadlock_behind_a_shield_is_raised_on_asyncio() -> None:
    # The deadlock guard's cancellation cannot reach a shielded wait; the loop
    # then cancels every task outright and the run ends with the deadlock.
    # (On trio such a run still hangs: see the closing notes.)
    async def main() -> None:
        await anyio.sleep(1)
        with anyio.CancelScope(shield=True):
            await anyio.Event().wait()

    with pytest.raises(DeadlockError) as info:
        run(main, backend="asyncio", watchdog=5.0)
    assert info.value.virtual_time == 1.0
    assert any("in main" in line for line in info.value.blocked)


def test_cancelled_sleeps_do_not_pile_up_while_the_loop_stays_busy() -> None:
    # Each sleep is cancelled before the loop ever goes idle, so only the
    # sweep at cancel time keeps trio's queue short.
    async def main() -> int:
        longest = 0
        for _ in range(3000):
            with anyio.CancelScope() as scope:
                scope.cancel()
                await anyio.sleep(10)
            clock = __import__("trio").lowlevel.current_clock()
            longest = max(longest, len(clock._sleeps))
        return longest

    assert run(main, backend="trio").value <= 202


@backends
def test_run_names_the_mistake_in_its_argument(backend: str) -> None:
    async def main() -> int:
        return 1

    def not_async() -> int:
        return 5

    with pytest.raises(SimulatorError, match=r"run\(main, arg1, arg2\), not"):
        run(main(), backend=backend)  # type: ignore[arg-type]
    with pytest.raises(SimulatorError, match=r"run\(\) got 42, which is not callable"):
        run(42, backend=backend)  # type: ignore[arg-type]
    with pytest.raises(
        SimulatorError, match=r"not_async\(\.\.\.\) returned int 5, not something to"
    ):
        run(not_async, backend=backend)  # type: ignore[arg-type]


@backends
def test_a_run_inside_a_run_is_refused(backend: str) -> None:
    async def inner() -> None:
        await anyio.sleep(1)

    async def main() -> str:
        try:
            run(inner, backend=backend)
        except SimulatorError as exc:
            return str(exc)
        return "no error"

    message = run(main, backend=backend).value
    assert message.startswith(
        f"simulator.run() was called from code already running on {backend}"
    )


def _wake_order_program() -> object:
    async def main() -> tuple[tuple[int, ...], bool]:
        log: list[int] = []
        scope = anyio.CancelScope()
        caught = False

        async def waker(i: int) -> None:
            await anyio.sleep(1)
            log.append(i)

        async def a() -> None:
            nonlocal caught
            with scope:
                await anyio.sleep(1)
                log.append(99)
            caught = scope.cancelled_caught

        async def b() -> None:
            await anyio.sleep(1)
            scope.cancel()

        async with anyio.create_task_group() as tg:
            for i in range(4):
                tg.start_soon(waker, i)
            tg.start_soon(a)
            tg.start_soon(b)
        return tuple(log), caught

    return main


def test_tasks_woken_together_run_in_wake_order_on_both_backends() -> None:
    # Six tasks wake at 1 s, in the order they went to sleep. asyncio runs
    # them first in, first out; trio would pick a random order each run (on
    # purpose), so b might cancel a's scope before a ran. Under the engine
    # both backends run them in wake order, every time: a finishes its sleep
    # before b cancels the (already left) scope.
    main = _wake_order_program()
    outcomes: dict[str, set[object]] = {
        backend: {run(main, backend=backend).value for _ in range(20)}  # type: ignore[arg-type]
        for backend in BACKENDS
    }
    expected = {((0, 1, 2, 3, 99), False)}
    assert outcomes == {"asyncio": expected, "trio": expected}


@backends
def test_a_busy_wait_that_freezes_the_clock_is_stopped(backend: str) -> None:
    # The poller is always runnable, so time never reaches the setter's 1 s:
    # on a real clock this ends after 1 s, on virtual time it would spin for
    # ever. The watchdog sees the loop turning with the clock still and stops
    # the run in the poller's next sleep.
    async def main() -> None:
        done = []

        async def setter() -> None:
            await anyio.sleep(1)
            done.append(1)

        async with anyio.create_task_group() as tg:
            tg.start_soon(setter)
            while not done:
                await anyio.sleep(0)

    start = time.monotonic()
    with pytest.raises(WatchdogTimeout) as info:
        run(main, backend=backend, watchdog=0.3)
    assert info.value.frozen
    assert info.value.virtual_time == 0
    assert str(info.value).startswith(
        "watchdog: virtual time stood still at 0 s for more than 0.3 s of real time"
    )
    assert time.monotonic() - start < 5


@backends
def test_sleeps_under_half_a_nanosecond_take_no_time(backend: str) -> None:
    # 1e-10 s rounds to 0 ns: a loop of them never reaches a 1 ns deadline,
    # and the watchdog says so instead of spinning.
    async def main() -> None:
        with anyio.move_on_after(1e-9):
            while True:
                await anyio.sleep(1e-10)

    with pytest.raises(WatchdogTimeout) as info:
        run(main, backend=backend, watchdog=0.3)
    assert info.value.frozen
