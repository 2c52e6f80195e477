"""Engine speed: many tasks sleeping on the virtual clock, against SimPy.

The work: ``TASKS`` tasks each sleep ``STEPS`` times, in two shapes:

- ``together``: every task sleeps 1 s each step, so all tasks wake at the same
  instants (few distinct timer times, 100 wake-up rounds);
- ``distinct``: task ``i`` sleeps its own duration, a distinct prime number of
  nanoseconds just above one second, so every wake-up is its own timer and no
  two wake-ups share an instant.

The same work runs on our asyncio backend and our trio backend (anyio task
group, ``anyio.sleep``, through :func:`simulator.run`), and in SimPy as
processes yielding ``env.timeout``. One event is one wake-up of one task, so a
run is ``TASKS * STEPS`` events. Each run's final virtual time is checked
against the analytic value (``STEPS`` times the longest sleep), so a run that
skipped work would fail.

Targets: our asyncio backend within 3x of SimPy's time, trio within 15x, each
ratio taken from the same repetition and the best (lowest) ratio kept (so a
noisy neighbour slowing one repetition does not decide the result). Times are
CPU seconds of this process (``time.process_time``), so other programs on a
shared machine do not count; events per second are events per CPU second.

Usage::

    python benchmarks/bench_engine.py [--tasks N] [--steps N] [--repeat N]

Exits 1 when a target is missed or a final time is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version

import anyio
import simpy
import trio
import trio.testing

from simulator._run import run

TARGETS = {"asyncio": 3.0, "trio": 15.0}
REFERENCES = {
    "asyncio-plain": "our loop without anyio, for reference",
    "trio-mock": "trio's own MockClock, for reference",
}
SECOND_NS = 1_000_000_000


def is_prime(n: int) -> bool:
    """Trial division; fine for the thousand numbers near 1e9 used here."""
    if n < 2 or n % 2 == 0:
        return n == 2
    f = 3
    while f * f <= n:
        if n % f == 0:
            return False
        f += 2
    return True


def distinct_durations(count: int) -> list[int]:
    """``count`` distinct primes just above one second, in nanoseconds.

    With prime durations larger than the step count, ``k * p_i == m * p_j``
    has no solution for ``k, m <= steps``, so no two wake-ups coincide.
    """
    found: list[int] = []
    n = SECOND_NS + 1
    while len(found) < count:
        if is_prime(n):
            found.append(n)
        n += 2
    return found


@dataclass(frozen=True)
class Shape:
    """One workload: each task's sleep, in nanoseconds."""

    name: str
    durations_ns: tuple[int, ...]
    steps: int

    @property
    def events(self) -> int:
        """Wake-ups in one run."""
        return len(self.durations_ns) * self.steps

    @property
    def expected_ns(self) -> int:
        """The analytic final time: the slowest task's total sleep."""
        return self.steps * max(self.durations_ns)


async def _anyio_work(shape: Shape) -> None:
    async def sleeper(delay_s: float) -> None:
        for _ in range(shape.steps):
            await anyio.sleep(delay_s)

    async with anyio.create_task_group() as tg:
        for d in shape.durations_ns:
            tg.start_soon(sleeper, d / 1e9)


def run_engine(backend: str, shape: Shape) -> tuple[float, int]:
    """CPU seconds and final virtual ns of one run on our engine."""
    start = time.process_time()
    result = run(_anyio_work, shape, backend=backend, watchdog=60.0)
    return time.process_time() - start, result.virtual_ns


def run_simpy(shape: Shape) -> tuple[float, int]:
    """CPU seconds and final simulated ns of the same work in SimPy."""

    def sleeper(env: simpy.Environment, delay: int) -> simpy.events.ProcessGenerator:
        for _ in range(shape.steps):
            yield env.timeout(delay)

    start = time.process_time()
    env = simpy.Environment()
    for d in shape.durations_ns:
        env.process(sleeper(env, d))
    env.run()
    return time.process_time() - start, int(env.now)


def run_trio_mock(shape: Shape) -> tuple[float, int]:
    """The same anyio code on plain trio with trio's own ``MockClock``.

    Not a contender: it shows what trio itself costs, a floor no trio clock
    can go below. Its float clock drifts over many distinct sleeps, so its
    final time is rounded to the microsecond before the check.
    """

    async def main() -> float:
        await _anyio_work(shape)
        return trio.current_time()

    clock = trio.testing.MockClock(autojump_threshold=0)
    start = time.process_time()
    end = anyio.run(main, backend="trio", backend_options={"clock": clock})
    seconds = time.process_time() - start
    return seconds, round(end * 1e6) * 1000


def run_asyncio_plain(shape: Shape) -> tuple[float, int]:
    """The same work written in plain asyncio (no anyio) on our virtual loop.

    Not a contender: it shows how much of the asyncio figure is anyio's own
    layer (task group, ``anyio.sleep``) rather than the loop.
    """

    async def sleeper(delay_s: float) -> None:
        for _ in range(shape.steps):
            await asyncio.sleep(delay_s)

    async def main() -> None:
        await asyncio.gather(*(sleeper(d / 1e9) for d in shape.durations_ns))

    start = time.process_time()
    result = run(main, backend="asyncio", watchdog=60.0)
    return time.process_time() - start, result.virtual_ns


Runner = Callable[[Shape], tuple[float, int]]


def runners() -> dict[str, Runner]:
    """Each contender by name: SimPy, our two backends, and plain trio."""
    return {
        "simpy": run_simpy,
        "asyncio": lambda shape: run_engine("asyncio", shape),
        "trio": lambda shape: run_engine("trio", shape),
        "trio-mock": run_trio_mock,
        "asyncio-plain": run_asyncio_plain,
    }


def measure(shape: Shape, repeat: int) -> tuple[dict[str, float], dict[str, float]]:
    """Best real time per contender and best same-repetition ratio to SimPy.

    Raises:
        SystemExit: a run's final virtual time differs from the analytic one.
    """
    best: dict[str, float] = {}
    ratios: dict[str, float] = {}
    for _ in range(repeat):
        times: dict[str, float] = {}
        for name, runner in runners().items():
            seconds, final_ns = runner(shape)
            expected = shape.expected_ns
            if name == "trio-mock":
                expected = round(expected / 1000) * 1000
            if final_ns != expected:
                raise SystemExit(
                    f"{name} on shape {shape.name!r} ended at {final_ns} ns; the "
                    f"analytic end is {shape.expected_ns} ns: the work was not done"
                )
            times[name] = seconds
            best[name] = min(best.get(name, seconds), seconds)
        for name in (*TARGETS, *REFERENCES):
            ratio = times[name] / times["simpy"]
            ratios[name] = min(ratios.get(name, ratio), ratio)
    return best, ratios


def machine_facts() -> str:
    """Python, platform and CPU count, for the printed header."""
    return (
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}, cpus {os.cpu_count()}, "
        f"anyio {version('anyio')}, trio {version('trio')}, simpy {version('simpy')}"
    )


def report(shape: Shape, best: dict[str, float], ratios: dict[str, float]) -> bool:
    """Print one shape's figures; True when every target holds."""
    print(
        f"shape {shape.name}: {len(shape.durations_ns)} tasks x {shape.steps} "
        f"sleeps = {shape.events} events, final virtual time "
        f"{shape.expected_ns / 1e9:.9f} s (checked on every run)"
    )
    ok = True
    for name in ("simpy", *TARGETS, *REFERENCES):
        seconds = best[name]
        rate = shape.events / seconds
        line = f"  {name:<13} {seconds * 1e3:8.1f} ms cpu {rate:>10,.0f} events/s"
        if name in REFERENCES:
            line += f"  {ratios[name]:5.2f}x SimPy's time ({REFERENCES[name]})"
        elif name in TARGETS:
            ratio, limit = ratios[name], TARGETS[name]
            verdict = "ok" if ratio <= limit else "MISSED"
            ok = ok and ratio <= limit
            line += f"  {ratio:5.2f}x SimPy's time (target <= {limit:g}x: {verdict})"
        print(line)
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    """Run both shapes on the three contenders; 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print(machine_facts())
    print(
        f"best of {args.repeat} repetitions; ratio = our time / SimPy's time, "
        "same repetition"
    )
    shapes = [
        Shape("together", (SECOND_NS,) * args.tasks, args.steps),
        Shape("distinct", tuple(distinct_durations(args.tasks)), args.steps),
    ]
    ok = True
    for shape in shapes:
        best, ratios = measure(shape, args.repeat)
        ok = report(shape, best, ratios) and ok
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
