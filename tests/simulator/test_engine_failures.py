"""Deadlocks, the watchdog, outside work and bad arguments, on both backends."""

from __future__ import annotations

import socket
import sys
import threading
import time

import anyio
import anyio.to_thread
import pytest

from simulator import (
    DeadlockError,
    SimulatorError,
    WatchdogTimeout,
    now_ns,
    outside_work,
    run,
)

backends = pytest.mark.parametrize("backend", ["asyncio", "trio"])


def _run_deadlock(fn, backend: str) -> tuple[DeadlockError, float]:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    with pytest.raises(DeadlockError) as info:
        run(fn, backend=backend)
    return info.value, time.monotonic() - started


@backends
def test_event_nobody_sets_is_a_deadlock(backend: str) -> None:
    async def main() -> None:
        await anyio.sleep(3)
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.Event().wait, name="waits for approval")

    error, real = _run_deadlock(main, backend)

    assert real < 1.0
    assert error.virtual_time == 3.0
    assert "deadlock at virtual time 3 s" in str(error)
    assert "task 'waits for approval' waiting at Event.wait" in error.blocked


@backends
def test_two_tasks_waiting_on_each_other(backend: str) -> None:
    async def main() -> None:
        first, second = anyio.Event(), anyio.Event()

        async def reader() -> None:
            await first.wait()
            second.set()

        async def writer() -> None:
            await second.wait()
            first.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(reader, name="reader")
            tg.start_soon(writer, name="writer")

    error, real = _run_deadlock(main, backend)

    assert real < 1.0
    assert error.virtual_time == 0.0
    names = [line.split("'")[1] for line in error.blocked]
    assert names == ["main", "reader", "writer"]
    assert "in reader (" in error.blocked[1]
    assert "in writer (" in error.blocked[2]


@backends
def test_deadlock_behind_an_unrelated_long_timeout(backend: str) -> None:
    async def main() -> None:
        lock_a, lock_b = anyio.Lock(), anyio.Lock()

        async def take(first: anyio.Lock, second: anyio.Lock) -> None:
            async with first:
                await anyio.sleep(1)
                async with second:
                    pass

        async def unrelated() -> None:
            with anyio.move_on_after(86_400):
                await anyio.Event().wait()

        async with anyio.create_task_group() as tg:
            tg.start_soon(take, lock_a, lock_b, name="ab")
            tg.start_soon(take, lock_b, lock_a, name="ba")
            tg.start_soon(unrelated, name="unrelated")

    error, real = _run_deadlock(main, backend)

    # The day-long timeout fires and ends its own task; the lock cycle stays,
    # and is reported at once in real time, never as a timeout.
    assert real < 1.0
    assert error.virtual_time == 86_400.0
    assert [line.split("'")[1] for line in error.blocked] == ["ab", "ba", "main"]


@backends
def test_thread_is_tracked_and_its_real_time_recorded(backend: str) -> None:
    async def main() -> tuple[int, int]:
        await anyio.sleep(5)
        before = now_ns()
        await anyio.to_thread.run_sync(time.sleep, 0.2)
        return before, now_ns()

    result = run(main, backend=backend)
    before, after = result.value

    assert before == 5_000_000_000
    assert 0.19 <= (after - before) / 1e9 < 1.0
    assert not result.purely_virtual
    assert not result.timeline.purely_virtual


@backends
def test_timer_during_a_thread_fires_at_its_virtual_time(backend: str) -> None:
    async def main() -> tuple[int, int]:
        fired = 0

        async def ticker() -> None:
            nonlocal fired
            await anyio.sleep(0.05)
            fired = now_ns()

        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker)
            await anyio.to_thread.run_sync(time.sleep, 0.3)
        return fired, now_ns()

    fired, end = run(main, backend=backend).value

    assert fired == 50_000_000
    assert end >= 290_000_000


@backends
def test_subprocess_is_tracked_and_its_real_time_recorded(backend: str) -> None:
    async def main() -> tuple[int, bytes]:
        result = await anyio.run_process(
            [sys.executable, "-c", "import time; time.sleep(0.3); print('done')"]
        )
        return now_ns(), result.stdout.strip()

    result = run(main, backend=backend)
    elapsed, output = result.value

    assert output == b"done"
    assert 0.29 <= elapsed / 1e9 < 5.0
    assert not result.purely_virtual


@backends
def test_socket_wait_is_tracked_and_its_real_time_recorded(backend: str) -> None:
    # A task waits on a loopback socket that a thread (started by hand, so
    # invisible to the clock) writes to 0.2 s later: the wait itself is
    # outside work, so the clock waits in real time instead of jumping to the
    # deadlock guard's far timer.
    async def main() -> tuple[int, bytes]:
        await anyio.sleep(1)
        ours, theirs = socket.socketpair()
        with ours, theirs:
            ours.setblocking(False)
            timer = threading.Timer(0.2, theirs.send, args=(b"hi",))
            timer.start()
            await anyio.wait_readable(ours)
            timer.join()
            return now_ns(), ours.recv(2)

    result = run(main, backend=backend)
    end, data = result.value

    assert data == b"hi"
    assert 1.19 <= end / 1e9 < 2.0
    assert not result.purely_virtual


@backends
def test_declared_outside_work_makes_the_clock_wait(backend: str) -> None:
    async def main() -> int:
        finished = anyio.Event()
        token = anyio.lowlevel.current_token()

        def worker() -> None:
            time.sleep(0.2)
            anyio.from_thread.run_sync(finished.set, token=token)

        with outside_work():
            threading.Thread(target=worker).start()
            await finished.wait()
        return now_ns()

    result = run(main, backend=backend)

    assert result.value >= 190_000_000
    assert not result.purely_virtual


@backends
def test_watchdog_stops_a_loop_that_never_yields(backend: str) -> None:
    async def spin() -> None:
        total = 0
        while True:
            total += 1

    async def main() -> None:
        await anyio.sleep(4)
        async with anyio.create_task_group() as tg:
            tg.start_soon(spin, name="busy parser")

    started = time.monotonic()
    with pytest.raises(WatchdogTimeout) as info:
        run(main, backend=backend, watchdog=0.3)

    assert time.monotonic() - started < 5
    assert info.value.task == "busy parser"
    assert info.value.virtual_time == 4.0
    assert "task 'busy parser' held the event loop for more than 0.3 s" in str(
        info.value
    )


@backends
def test_run_goes_on_normally_after_a_watchdog_stop(backend: str) -> None:
    async def spin() -> None:
        while True:
            pass

    with pytest.raises(WatchdogTimeout):
        run(spin, backend=backend, watchdog=0.2)

    async def fine() -> int:
        await anyio.sleep(1)
        return now_ns()

    assert run(fine, backend=backend).value == 1_000_000_000


def test_unknown_backend_is_refused() -> None:
    async def main() -> None:
        pass

    with pytest.raises(SimulatorError, match=r"backend='curio' is not a backend"):
        run(main, backend="curio")


def test_uvloop_is_refused_clearly() -> None:
    async def main() -> None:
        pass

    with pytest.raises(SimulatorError, match="uvloop runs its own event loop"):
        run(main, use_uvloop=True)


def test_bad_watchdog_is_refused() -> None:
    async def main() -> None:
        pass

    with pytest.raises(SimulatorError, match=r"watchdog=-1: must be a number"):
        run(main, watchdog=-1)


def test_now_ns_outside_a_run_says_where_to_call_it() -> None:
    with pytest.raises(SimulatorError, match="no virtual-time run is active"):
        now_ns()
