"""``streampar simulate SCENARIO``: run a scenario under each strategy.

Prints a table (strategy, session time, critical-path bound, speed-up against
sequential) and writes, under ``--out`` (default
``reports/simulate/<scenario name>``): ``trace.json`` (Chrome/Perfetto trace,
one process per strategy), ``timeline.png`` and ``timeline.svg`` (the
strategies one above another on one time axis, with the bound and the
overlapped strategy's critical path), for sessions of several turns also
``turn-<k>.png``/``.svg`` for the turn where overlap saves most, and
``summary.json`` (the table's numbers in nanoseconds).

SCENARIO is a ``.json``/``.toml`` file or the name of a bundled scenario
(``fan-out``, ``two-call``, ...). Exit code 0 on success, 2 when the scenario
cannot be read or run (one line on stderr says why).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from ._errors import SimulatorError
from ._scenario import Scenario
from ._strategies import STRATEGIES, StrategyRun, run_strategy

__all__ = ["add_arguments", "bundled_scenarios", "find_scenario", "run"]

EXIT_OK = 0
EXIT_ERROR = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the simulate command's arguments."""
    parser.add_argument(
        "scenario",
        metavar="SCENARIO",
        help="a scenario file (.json or .toml) or a bundled scenario's name "
        f"({', '.join(bundled_scenarios()) or 'none bundled'})",
    )
    parser.add_argument(
        "--strategy",
        choices=(*STRATEGIES, "all"),
        default="all",
        help="which strategy to run (default: %(default)s)",
    )
    parser.add_argument(
        "--backend",
        choices=("asyncio", "trio"),
        default="asyncio",
        help="event loop to run the harnesses on (default: %(default)s)",
    )
    parser.add_argument(
        "--feed-forward",
        action="store_true",
        help="prefill each result as soon as it is ready, not at the hand-back",
    )
    parser.add_argument(
        "--tool-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop a tool after this long (needed for scenarios with a hang fault)",
    )
    parser.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="output folder (default: reports/simulate/<scenario name>)",
    )


def _scenario_dir() -> Any:
    return resources.files("simulator") / "data" / "scenarios"


def bundled_scenarios() -> list[str]:
    """Names of the scenarios shipped in ``simulator/data/scenarios``."""
    folder = _scenario_dir()
    if not folder.is_dir():
        return []
    return sorted(
        Path(entry.name).stem
        for entry in folder.iterdir()
        if entry.name.endswith((".json", ".toml"))
    )


def find_scenario(name_or_path: str) -> Scenario:
    """Load a scenario from a file path or a bundled scenario's name.

    Raises:
        SimulatorError: no such file or bundled scenario, or it is not valid.
    """
    from ._scenario_io import load_scenario

    path = Path(name_or_path)
    if path.is_file():
        return load_scenario(path)
    folder = _scenario_dir()
    for suffix in (".json", ".toml"):
        entry = folder / f"{name_or_path}{suffix}"
        if entry.is_file():
            with resources.as_file(entry) as real:
                return load_scenario(real)
    names = ", ".join(bundled_scenarios()) or "none"
    raise SimulatorError(
        f"scenario {name_or_path!r}: no such file and no bundled scenario of that "
        f"name; pass a path to a .json/.toml file or one of: {names}"
    )


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code."""
    try:
        return _simulate(args)
    except (SimulatorError, OSError) as exc:
        print(f"streampar simulate: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR


def _one_line(exc: BaseException) -> str:
    """The error's text with each line's runs of spaces closed up; a message
    listing several problems keeps one problem per line."""
    text = str(exc).strip() or type(exc).__name__
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n  ".join(line for line in lines if line)


def _simulate(args: argparse.Namespace) -> int:
    from ._bound import schedule_session, session_bound_ns

    if args.tool_timeout is not None and not args.tool_timeout > 0:
        raise SimulatorError(
            f"--tool-timeout = {args.tool_timeout!r}: must be a number of seconds "
            f"> 0; leave it out for no timeout"
        )
    scenario = find_scenario(args.scenario)
    feed, timeout = args.feed_forward, args.tool_timeout
    hangs = [c.id for c in scenario.calls if c.fault and c.fault.kind == "hang"]
    if hangs and timeout is None:
        raise SimulatorError(
            f"calls {', '.join(hangs)} of scenario {scenario.name!r} hang and no "
            f"timeout is set, so they would never end; pass --tool-timeout SECONDS"
        )
    plan = schedule_session(
        scenario, "overlapped", feed_forward=feed, tool_timeout=timeout
    )
    bound = session_bound_ns(scenario, feed_forward=feed, tool_timeout=timeout)
    names = list(STRATEGIES) if args.strategy == "all" else [args.strategy]
    runs = {
        name: run_strategy(
            scenario,
            name,
            backend=args.backend,
            feed_forward=feed,
            tool_timeout=timeout,
        )
        for name in names
    }
    print(format_table(scenario, runs, bound))
    out = Path(args.out) if args.out else Path("reports", "simulate", scenario.name)
    written = _write_outputs(out, scenario, runs, bound, plan, timeout)
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK


def format_table(scenario: Scenario, runs: dict[str, StrategyRun], bound: int) -> str:
    """The command's table: one row per strategy."""
    seq = runs.get("sequential")
    lines = [
        f"scenario {scenario.name}: {_count(len(scenario.turns), 'turn')}, "
        f"{_count(len(scenario.calls), 'tool call')}",
        f"{'strategy':<12} {'session s':>10} {'bound s':>9} {'speed-up':>9}",
    ]
    for name, outcome in runs.items():
        speed = (
            f"{seq.session_ns / outcome.session_ns:.2f}x"
            if seq and outcome.session_ns
            else "-"
        )
        session = outcome.session_ns / 1e9
        lines.append(f"{name:<12} {session:>10.3f} {bound / 1e9:>9.3f} {speed:>9}")
    return "\n".join(lines)


def _turn_segments(turn: Any, shift: int = 0) -> list[tuple[str, int, int]]:
    """Critical-path segments of one turn of the overlapped schedule."""
    start, send = turn.start_ns - shift, turn.send_ns - shift
    segments = [("request", start, send)] if send > start else []
    sched = turn.schedule
    last = max(sched.calls, key=lambda c: c.ready_ns, default=None)
    if last is None or last.ready_ns <= sched.stream_end_ns:
        return [*segments, ("stream", send, send + sched.stream_end_ns)]
    segments.append((f"stream to {last.call_id}", send, send + last.release_ns))
    if last.start_ns > last.release_ns:
        segments.append(("wait", send + last.release_ns, send + last.start_ns))
    segments.append((last.call_id, send + last.start_ns, send + last.end_ns))
    if last.ready_ns > last.end_ns:
        segments.append(("result", send + last.end_ns, send + last.ready_ns))
    return segments


def _write_outputs(
    out: Path,
    scenario: Scenario,
    runs: dict[str, StrategyRun],
    bound: int,
    plan: Any,
    tool_timeout: float | None,
) -> list[Path]:
    from ._perfetto import perfetto_trace, write_trace

    out.mkdir(parents=True, exist_ok=True)
    timelines = {name: r.timeline for name, r in runs.items()}
    named = {f"{scenario.name} / {name}": t for name, t in timelines.items()}
    written = [write_trace(out / "trace.json", perfetto_trace(named))]
    written.append(_write_json(out / "summary.json", _summary(scenario, runs, bound)))
    if "overlapped" not in runs:
        return written + _plot(out / "timeline", scenario.name, timelines, bound)
    critical = [seg for turn in plan.turns for seg in _turn_segments(turn)]
    written += _plot(out / "timeline", scenario.name, timelines, bound, critical)
    return written + _plot_best_turn(out, scenario, runs, plan, tool_timeout)


def _plot_best_turn(
    out: Path,
    scenario: Scenario,
    runs: dict[str, StrategyRun],
    plan: Any,
    tool_timeout: float | None,
) -> list[Path]:
    """For sessions of several turns, also plot the turn overlap saves most on."""
    from ._bound import critical_path_ns

    seq, ovl = runs.get("sequential"), runs["overlapped"]
    if seq is None or len(ovl.turns) < 2 or len(seq.turns) != len(ovl.turns):
        return []
    savings = [a - b for a, b in zip(seq.iteration_ns, ovl.iteration_ns, strict=True)]
    k = max(range(len(savings)), key=savings.__getitem__)
    turn = plan.turns[k]
    bound = (turn.send_ns - turn.start_ns) + critical_path_ns(
        scenario.turns[k],
        max_concurrency=scenario.max_concurrency,
        tool_timeout=tool_timeout,
    )
    timelines = {name: r.timeline for name, r in runs.items()}
    critical = _turn_segments(turn, shift=turn.start_ns)
    title = f"{scenario.name}, turn {k} (largest saving)"
    return _plot(out / f"turn-{k}", title, timelines, bound, critical, turn=k)


def _plot(
    stem: Path,
    title: str,
    timelines: dict[str, Any],
    bound: int,
    critical: Sequence[tuple[str, int, int]] | None = None,
    turn: int | None = None,
) -> list[Path]:
    from ._plot import plot_strategies

    return list(
        plot_strategies(
            timelines,
            stem,
            title=f"{title}: strategies on one time axis",
            turn=turn,
            bound_ns=bound,
            critical_path=critical,
        )
    )


def _summary(
    scenario: Scenario, runs: dict[str, StrategyRun], bound: int
) -> dict[str, Any]:
    seq = runs.get("sequential")
    return {
        "scenario": scenario.name,
        "bound_ns": bound,
        "strategies": {
            name: {
                "session_ns": r.session_ns,
                "iteration_ns": r.iteration_ns,
                "speedup_vs_sequential": (
                    seq.session_ns / r.session_ns if seq and r.session_ns else None
                ),
            }
            for name, r in runs.items()
        },
    }


def _write_json(path: Path, data: dict[str, Any]) -> Path:
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
    return path


def _count(n: int, noun: str) -> str:
    """``"1 turn"``, ``"3 turns"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
