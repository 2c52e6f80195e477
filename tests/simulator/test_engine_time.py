"""Exact virtual times for real anyio code on both backends."""

from __future__ import annotations

import math

import anyio
import pytest

import simulator
from simulator import now_ns, run

S = 1_000_000_000

pytestmark = pytest.mark.parametrize("backend", ["asyncio", "trio"])


def test_hundred_thousand_sleeps_end_exactly_at_10000_s(backend: str) -> None:
    async def many() -> tuple[int, float]:
        for _ in range(100_000):
            await anyio.sleep(0.1)
        return now_ns(), anyio.current_time()

    result = run(many, backend=backend)

    assert result.value == (10_000 * S, 10_000.0)
    assert result.virtual_ns == 10_000 * S
    assert result.purely_virtual


def test_two_runs_are_independent_and_both_start_at_zero(backend: str) -> None:
    async def sleep_then_report(seconds: float) -> tuple[int, int]:
        start = now_ns()
        await anyio.sleep(seconds)
        return start, now_ns()

    first = run(sleep_then_report, 7.25, backend=backend)
    second = run(sleep_then_report, 0.5, backend=backend)

    assert first.value == (0, 7_250_000_000)
    assert second.value == (0, 500_000_000)


def test_nested_task_groups_end_at_the_longest_branch(backend: str) -> None:
    ends: dict[str, int] = {}

    async def leaf(name: str, seconds: float) -> None:
        await anyio.sleep(seconds)
        ends[name] = now_ns()

    async def branch(name: str, first: float, second: float) -> None:
        await anyio.sleep(0.5)
        async with anyio.create_task_group() as tg:
            tg.start_soon(leaf, f"{name}.a", first)
            tg.start_soon(leaf, f"{name}.b", second)
        ends[name] = now_ns()

    async def main() -> int:
        async with anyio.create_task_group() as tg:
            tg.start_soon(branch, "x", 1.0, 2.0)
            tg.start_soon(branch, "y", 3.0, 0.25)
        return now_ns()

    result = run(main, backend=backend)

    # x: 0.5 + max(1.0, 2.0) = 2.5; y: 0.5 + max(3.0, 0.25) = 3.5
    assert ends == {
        "x.a": 1_500_000_000,
        "x.b": 2_500_000_000,
        "x": 2_500_000_000,
        "y.a": 3_500_000_000,
        "y.b": 750_000_000,
        "y": 3_500_000_000,
    }
    assert result.value == 3_500_000_000


def test_cancel_scope_cancels_siblings_at_the_exact_moment(backend: str) -> None:
    async def main() -> tuple[int, bool]:
        cancelled = False
        async with anyio.create_task_group() as tg:

            async def long() -> None:
                nonlocal cancelled
                try:
                    await anyio.sleep(100)
                except anyio.get_cancelled_exc_class():
                    cancelled = True
                    raise

            tg.start_soon(long)
            await anyio.sleep(1.25)
            tg.cancel_scope.cancel()
        return now_ns(), cancelled

    assert run(main, backend=backend).value == (1_250_000_000, True)


def test_move_on_after_and_fail_after(backend: str) -> None:
    async def main() -> list[tuple[str, int]]:
        seen = []
        with anyio.move_on_after(2.5) as scope:
            await anyio.sleep(10)
        seen.append(("move_on_after", now_ns()))
        assert scope.cancelled_caught
        with anyio.move_on_after(5):
            await anyio.sleep(1)
        seen.append(("finished inside", now_ns()))
        try:
            with anyio.fail_after(0.75):
                await anyio.Event().wait()
        except TimeoutError:
            seen.append(("fail_after", now_ns()))
        return seen

    assert run(main, backend=backend).value == [
        ("move_on_after", 2_500_000_000),
        ("finished inside", 3_500_000_000),
        ("fail_after", 4_250_000_000),
    ]


def test_deadline_a_hair_above_its_nanosecond_still_fires(backend: str) -> None:
    # 0.1 + 0.2 is 0.30000000000000004 as a float, above 300000000 ns.
    async def main() -> int:
        await anyio.sleep(0.1)
        with anyio.move_on_after(0.2):
            await anyio.sleep(1)
        return now_ns()

    assert run(main, backend=backend).value == 300_000_000


def test_memory_object_stream_delivers_at_sender_times(backend: str) -> None:
    async def main() -> list[tuple[int, int]]:
        send, receive = anyio.create_memory_object_stream[int](0)
        got: list[tuple[int, int]] = []

        async def producer() -> None:
            async with send:
                for i in range(4):
                    await anyio.sleep(0.5)
                    await send.send(i)

        async def consumer() -> None:
            async with receive:
                async for item in receive:
                    got.append((item, now_ns()))
                    await anyio.sleep(0.75)

        async with anyio.create_task_group() as tg:
            tg.start_soon(producer)
            tg.start_soon(consumer)
        return got

    # unbuffered: item i is sent at max(producer ready, consumer ready)
    # producer ready: 0.5, then 0.5 after each handover; consumer busy 0.75
    assert run(main, backend=backend).value == [
        (0, 500_000_000),
        (1, 1_250_000_000),
        (2, 2_000_000_000),
        (3, 2_750_000_000),
    ]


def test_capacity_limiter_runs_jobs_in_waves(backend: str) -> None:
    async def main() -> list[int]:
        limiter = anyio.CapacityLimiter(2)
        done: list[int] = []

        async def job() -> None:
            async with limiter:
                await anyio.sleep(1.5)
                done.append(now_ns())

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(job)
        return done

    # five 1.5 s jobs two at a time: waves end at 1.5, 3.0, 4.5
    assert run(main, backend=backend).value == [1_500_000_000] * 2 + [
        3_000_000_000
    ] * 2 + [4_500_000_000]


def test_many_distinct_timers_keep_integer_time(backend: str) -> None:
    async def main() -> int:
        async with anyio.create_task_group() as tg:
            for i in range(1, 200):
                tg.start_soon(anyio.sleep, i * 0.001 + i * 1e-9)
        return now_ns()

    assert run(main, backend=backend).value == 199 * 1_000_000 + 199


def test_current_time_matches_now_ns(backend: str) -> None:
    async def main() -> tuple[float, int]:
        await anyio.sleep(123.456789)
        return anyio.current_time(), now_ns()

    current, ns = run(main, backend=backend).value
    assert ns == 123_456_789_000
    assert math.isclose(current, 123.456789, abs_tol=1e-12)


def test_user_error_keeps_traceback_and_gains_virtual_time(backend: str) -> None:
    async def main() -> None:
        await anyio.sleep(2)
        raise KeyError("missing tool")

    with pytest.raises(KeyError) as info:
        run(main, backend=backend)

    assert any("virtual time 2 s" in note for note in info.value.__notes__)
    assert info.traceback[-1].name == "main"


def test_recording_keeps_a_timeline_of_its_own(backend: str) -> None:
    async def main() -> tuple[float, int, int]:
        await anyio.sleep(1)
        async with simulator.recording() as rec:
            simulator.current_timeline().add_span("x", "lane", now_ns(), now_ns())
            await anyio.sleep(2)
        simulator.current_timeline().add_instant("outer", "lane", now_ns())
        return rec.elapsed, len(rec.timeline.spans), rec.start_ns

    result = run(main, backend=backend)

    assert result.value == (2.0, 1, 1_000_000_000)
    assert [i.name for i in result.timeline.instants] == ["outer"]
    assert result.timeline.spans == []


def test_timeout_due_with_the_work_it_guards_wins_on_both_backends(
    backend: str,
) -> None:
    # 2.528 + 2.5 lands on the same nanosecond for the sleep and the deadline;
    # as floats the deadline is a hair later. The timeout must still win, as
    # it does on trio and in the analytic schedule.
    async def main() -> tuple[bool, int]:
        await anyio.sleep(2.528)
        with anyio.move_on_after(2.5) as scope:
            await anyio.sleep(2.5)
        return scope.cancelled_caught, now_ns()

    assert run(main, backend=backend).value == (True, 5_028_000_000)
