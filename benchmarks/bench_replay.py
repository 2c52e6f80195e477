"""Replay speed and memory: the bundled sessions, repeated, under all three strategies.

What is measured:

- **requests per second**: model requests replayed through *all three*
  strategies (sequential, parallel, overlapped) per second of wall time. One
  request counts once when it has been played under the three strategies, so
  a rate of 2,000 means 6,000 turns played on the engine each second. The
  bundled sessions are repeated until about ``--requests`` requests (default
  50,000). Sessions are independent, so they are shared among ``--workers``
  processes (default: one per CPU); the wall time runs from the pool's
  creation to the last result, start-up included. Each replay is the one the
  ``streampar replay`` command does per session
  (:func:`simulator._replay.replay_session`): the three engine runs, the
  per-iteration figures and the critical-path bound.
- **honesty check**: every replay's session time under each strategy must
  equal the analytic schedule (:func:`simulator._bound.schedule_session`) to
  the nanosecond, so a replay that skipped work fails the benchmark.
- **peer**: the analytic schedule itself, timed on the same sessions in the
  same run (one process), and the engine in one process; the ratios are
  printed.
- **memory**: peak resident memory (``ru_maxrss``) of a fresh process that
  replays the bundled sessions 1, 2, 4 and 8 times over, each replay dropped
  once its figures are taken (results are streamed, not kept). Flat means the
  8x peak is within 5 % (or 4 MiB) of the 1x peak.

Usage::

    python benchmarks/bench_replay.py [--requests N] [--workers N]

Exits 1 when a target is missed or a replay disagrees with the analytic
schedule.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from collections.abc import Iterator, Sequence
from importlib.metadata import version

from simulator._bound import STRATEGIES, schedule_session
from simulator._bundle import load_bundled_sessions
from simulator._importers import RecordedSession
from simulator._replay import replay_session

TARGET_REQUESTS_PER_S = 2000.0
MEMORY_SCALES = (1, 2, 4, 8)
FLAT_FRACTION = 0.05
FLAT_SLACK_KIB = 4 * 1024

Totals = tuple[int, ...]

_SESSIONS: list[RecordedSession] = []


def _load() -> None:
    """Pool initializer: each worker loads the bundle once."""
    _SESSIONS[:] = load_bundled_sessions()


def replay_one(index: int) -> tuple[int, int, Totals, float]:
    """Replay bundled session ``index``; keep only its request count, totals
    and the CPU seconds the replay took."""
    cpu = time.process_time()
    replay = replay_session(_SESSIONS[index])
    totals = tuple(replay.simulated_ns[s] for s in STRATEGIES)
    return index, len(replay.turns), totals, time.process_time() - cpu


def analytic_totals(sessions: Sequence[RecordedSession]) -> list[Totals]:
    """Each session's analytic session time under each strategy."""
    return [
        tuple(schedule_session(s.to_scenario(), st).session_ns for st in STRATEGIES)
        for s in sessions
    ]


def work_order(count: int, copies: int) -> Iterator[int]:
    """Session indexes, ``copies`` rounds of all ``count`` sessions."""
    for _ in range(copies):
        yield from range(count)


def measure_pool(
    copies: int, workers: int, expected: list[Totals]
) -> tuple[int, float, float, int]:
    """Replay ``copies`` rounds in a pool.

    Returns:
        Requests, wall seconds, CPU seconds summed over the replays, and the
        largest worker peak memory in KiB.

    Raises:
        SystemExit: a replay disagreed with the analytic schedule.
    """
    start = time.perf_counter()
    requests = 0
    cpu = 0.0
    with mp.get_context("fork").Pool(workers, initializer=_load) as pool:
        order = work_order(len(expected), copies)
        for index, count, totals, spent in pool.imap_unordered(replay_one, order):
            _check(index, totals, expected)
            requests += count
            cpu += spent
        wall = time.perf_counter() - start
        peaks = pool.map(_peak_kib, range(workers * 4))
    return requests, wall, cpu, max(peaks)


def _check(index: int, totals: Totals, expected: list[Totals]) -> None:
    if totals != expected[index]:
        raise SystemExit(
            f"session {index} replayed to {totals} ns under {STRATEGIES}, but the "
            f"analytic schedule gives {expected[index]} ns: the engine is wrong"
        )


def _peak_kib(_: int = 0) -> int:
    """This process's peak resident memory in KiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure_single(copies: int, expected: list[Totals]) -> tuple[int, float]:
    """Requests and wall seconds for ``copies`` rounds in this process."""
    _load()
    replay_one(0)  # warm-up: imports and first-run caches
    start = time.perf_counter()
    requests = 0
    for index in work_order(len(_SESSIONS), copies):
        _, count, totals, _ = replay_one(index)
        _check(index, totals, expected)
        requests += count
    return requests, time.perf_counter() - start


def measure_analytic(sessions: Sequence[RecordedSession], copies: int) -> float:
    """Wall seconds for the analytic schedules of ``copies`` rounds."""
    start = time.perf_counter()
    for _ in range(copies):
        analytic_totals(sessions)
    return time.perf_counter() - start


def _memory_child(scale: int) -> int:
    """In a fresh process: replay every session ``scale`` times; peak KiB."""
    _load()
    for index in work_order(len(_SESSIONS), scale):
        replay_one(index)
    return _peak_kib()


def measure_memory() -> dict[int, int]:
    """Peak KiB of a fresh process per scale (processes started by spawn)."""
    ctx = mp.get_context("spawn")
    peaks = {}
    for scale in MEMORY_SCALES:
        with ctx.Pool(1) as pool:
            peaks[scale] = pool.apply(_memory_child, (scale,))
    return peaks


def machine_facts() -> str:
    """Python, platform, CPU count and library versions."""
    return (
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}, cpus {os.cpu_count()}, "
        f"anyio {version('anyio')}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the throughput, peer and memory measurements; 1 on a missed target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--single-rounds", type=int, default=4)
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args(argv)

    sessions = load_bundled_sessions()
    per_round = sum(len(s.turns) for s in sessions)
    copies = max(1, math.ceil(args.requests / per_round))
    expected = analytic_totals(sessions)
    print(machine_facts())
    print(
        f"bundled sessions: {len(sessions)}, {per_round} requests per round; "
        f"{copies} rounds; requests/s = requests replayed through all three "
        f"strategies ({', '.join(STRATEGIES)}) per second of wall time"
    )

    requests, seconds, cpu, worker_kib = measure_pool(copies, args.workers, expected)
    rate = requests / seconds
    ok = rate >= TARGET_REQUESTS_PER_S
    print(
        f"engine, {args.workers} worker processes: {requests:,} requests in "
        f"{seconds:.2f} s wall = {rate:,.0f} requests/s (target >= "
        f"{TARGET_REQUESTS_PER_S:,.0f}: {'ok' if ok else 'MISSED'}); every "
        f"replay equal to the analytic schedule; worker peak memory "
        f"{worker_kib / 1024:.1f} MiB"
    )
    print(
        f"  CPU: the replays took {cpu:.2f} CPU s = {requests / cpu:,.0f} requests "
        f"per CPU second; {args.workers} cores all ours would give "
        f"{args.workers * requests / cpu:,.0f} requests/s (load average now "
        f"{os.getloadavg()[0]:.1f})"
    )

    single_requests, single_s = measure_single(args.single_rounds, expected)
    single_rate = single_requests / single_s
    analytic_s = measure_analytic(sessions, args.single_rounds)
    analytic_rate = single_requests / analytic_s
    print(
        f"engine, 1 process: {single_requests:,} requests in {single_s:.2f} s = "
        f"{single_rate:,.0f} requests/s; {args.workers} workers give "
        f"{rate / single_rate:.2f}x"
    )
    print(
        f"peer, analytic schedule (simulator._bound.schedule_session), 1 process: "
        f"{analytic_rate:,.0f} requests/s; the engine takes "
        f"{analytic_rate / single_rate:.1f}x its time"
    )

    if not args.no_memory:
        peaks = measure_memory()
        base = peaks[MEMORY_SCALES[0]]
        top = peaks[MEMORY_SCALES[-1]]
        flat = top - base <= max(FLAT_FRACTION * base, FLAT_SLACK_KIB)
        shown = ", ".join(
            f"{scale}x ({scale * per_round:,} requests) {kib / 1024:.1f} MiB"
            for scale, kib in peaks.items()
        )
        print(
            f"peak memory of a fresh process: {shown}; 8x vs 1x "
            f"{(top - base) / 1024:+.1f} MiB ({'flat' if flat else 'GROWS'})"
        )
        ok = ok and flat
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
