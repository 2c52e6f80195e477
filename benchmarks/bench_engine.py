"""Engine speed: many tasks sleeping on the virtual clock, against SimPy.

The work: ``TASKS`` tasks each sleep ``STEPS`` times, in two shapes:

- ``together``: every task sleeps 1 s each step, so all tasks wake at the same
  instants (few distinct timer times, 100 wake-up rounds);
- ``distinct``: task ``i`` sleeps its own duration, a distinct prime number of
  nanoseconds just above one second, so every wake-up is its own timer and no
  two wake-ups share an instant.

The same work runs on our asyncio backend and our trio backend (anyio task
group, ``anyio.sleep``, through :func:`simulator.run`, as harness code runs),
and in SimPy as processes yielding ``env.timeout``. One event is one wake-up of
one task, so a run is ``TASKS * STEPS`` events. Each run's final virtual time is
checked against the analytic value (``STEPS`` times the longest sleep), so a
run that skipped work would fail.

References, printed without a target:

- ``*-stock``: our backends with ``fast_sleep=False``: ``anyio.sleep`` through
  the backend's own ``asyncio.sleep`` / ``trio.sleep`` (what the fast path buys);
- ``trio-mock``: the anyio code on trio's own ``MockClock`` (autojump 0);
- ``asyncio-plain``: plain asyncio tasks and ``asyncio.sleep`` on our loop;
- ``*-floor``: the same number of wake-ups with no timer at all:
  ``anyio.sleep(0)`` on our backend, by as many tasks as wake together in the
  shape (1000 in ``together``, 1 in ``distinct``, where each wake-up is its own
  loop iteration). It is what anyio and the backend's task switching cost
  before any clock work; no clock can go below it.

Targets: our asyncio backend within 3x of SimPy's time, trio within 15x. Each
contender runs ``--repeat`` times, interleaved; the ratio is our fastest run
over SimPy's fastest run (noise only ever adds time, so the fastest run is the
best estimate of the cost), and the median of the per-repetition ratios is
printed beside it. Times are CPU seconds of this process
(``time.process_time``), so other programs on a shared machine do not count;
events per second are events per CPU second.

Usage::

    python benchmarks/bench_engine.py [--tasks N] [--steps N] [--repeat N]

Exits 1 when a target is missed or a final time is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
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
    "asyncio-stock": "our loop, fast_sleep=False (asyncio.sleep)",
    "asyncio-plain": "plain asyncio tasks and asyncio.sleep on our loop",
    "asyncio-floor": "anyio.sleep(0), no timer: the floor",
    "trio-stock": "our clock, fast_sleep=False (trio.sleep)",
    "trio-mock": "trio's own MockClock",
    "trio-floor": "anyio.sleep(0), no timer: the floor",
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


def run_engine(
    backend: str, shape: Shape, fast_sleep: bool = True
) -> tuple[float, int]:
    """CPU seconds and final virtual ns of one run on our engine."""
    start = time.process_time()
    result = run(
        _anyio_work, shape, backend=backend, watchdog=60.0, fast_sleep=fast_sleep
    )
    return time.process_time() - start, result.virtual_ns


def run_floor(backend: str, shape: Shape) -> tuple[float, int]:
    """The shape's wake-ups with no timer: ``anyio.sleep(0)`` on our backend.

    As many tasks as wake together in the shape each check in ``STEPS`` times
    per task of the shape, so the run has the same number of task wake-ups and
    of loop iterations, and no clock work. Its final time is 0, reported as the
    shape's analytic end so that the check passes only if the work was done.
    """
    together = len(set(shape.durations_ns)) == 1
    tasks = len(shape.durations_ns) if together else 1
    steps = shape.steps if together else shape.events
    done = 0

    async def work() -> None:
        async def sleeper() -> None:
            nonlocal done
            for _ in range(steps):
                await anyio.sleep(0)
                done += 1

        async with anyio.create_task_group() as tg:
            for _ in range(tasks):
                tg.start_soon(sleeper)

    start = time.process_time()
    result = run(work, backend=backend, watchdog=60.0)
    seconds = time.process_time() - start
    ok = result.virtual_ns == 0 and done == shape.events
    return seconds, shape.expected_ns if ok else -1


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
    """Each contender and reference by name."""
    return {
        "simpy": run_simpy,
        "asyncio": lambda shape: run_engine("asyncio", shape),
        "trio": lambda shape: run_engine("trio", shape),
        "asyncio-stock": lambda shape: run_engine("asyncio", shape, False),
        "asyncio-plain": run_asyncio_plain,
        "asyncio-floor": lambda shape: run_floor("asyncio", shape),
        "trio-stock": lambda shape: run_engine("trio", shape, False),
        "trio-mock": run_trio_mock,
        "trio-floor": lambda shape: run_floor("trio", shape),
    }


@dataclass
class Figures:
    """One shape's measurements: each name's CPU times over the repetitions."""

    times: dict[str, list[float]]

    def best(self, name: str) -> float:
        """The fastest run."""
        return min(self.times[name])

    def ratio(self, name: str) -> float:
        """Fastest run over SimPy's fastest run."""
        return self.best(name) / self.best("simpy")

    def median_ratio(self, name: str) -> float:
        """Median of the per-repetition ratios to SimPy."""
        pairs = zip(self.times[name], self.times["simpy"], strict=True)
        return statistics.median(ours / theirs for ours, theirs in pairs)


def measure(shape: Shape, repeat: int) -> Figures:
    """Run every contender ``repeat`` times, interleaved.

    Raises:
        SystemExit: a run's final virtual time differs from the analytic one.
    """
    figures = Figures({name: [] for name in runners()})
    for _ in range(repeat):
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
            figures.times[name].append(seconds)
    return figures


def machine_facts() -> str:
    """Python, platform and CPU count, for the printed header."""
    return (
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}, cpus {os.cpu_count()}, "
        f"anyio {version('anyio')}, trio {version('trio')}, simpy {version('simpy')}"
    )


def report(shape: Shape, figures: Figures) -> bool:
    """Print one shape's figures; True when every target holds."""
    print(
        f"shape {shape.name}: {len(shape.durations_ns)} tasks x {shape.steps} "
        f"sleeps = {shape.events} events, final virtual time "
        f"{shape.expected_ns / 1e9:.9f} s (checked on every run)"
    )
    ok = True
    for name in figures.times:
        seconds = figures.best(name)
        rate = shape.events / seconds
        line = f"  {name:<13} {seconds * 1e3:8.1f} ms cpu {rate:>10,.0f} events/s"
        if name != "simpy":
            line += (
                f"  {figures.ratio(name):5.2f}x SimPy"
                f" (median {figures.median_ratio(name):5.2f}x)"
            )
        if name in TARGETS:
            ratio, limit = figures.ratio(name), TARGETS[name]
            verdict = "ok" if ratio <= limit else "MISSED"
            ok = ok and ratio <= limit
            line += f"  target <= {limit:g}x: {verdict}"
        elif name in REFERENCES:
            line += f"  {REFERENCES[name]}"
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
        f"{args.repeat} repetitions, interleaved; ratio = our fastest run / "
        "SimPy's fastest run (median of per-repetition ratios in brackets)"
    )
    shapes = [
        Shape("together", (SECOND_NS,) * args.tasks, args.steps),
        Shape("distinct", tuple(distinct_durations(args.tasks)), args.steps),
    ]
    ok = True
    for shape in shapes:
        ok = report(shape, measure(shape, args.repeat)) and ok
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
