"""``streampar replay [PATH ...] [--out DIR]``: replay agent session logs.

With no paths it replays the bundled default sessions (timing-only data from
four real logs). It writes ``report.md``, ``summary.json`` (schema in
:mod:`simulator._replay_report`), ``trace.json`` (Chrome/Perfetto trace events of
every simulated run) and, under ``plots/``, per session the iteration with the
largest saving and the busiest window (sequential above overlapped on one time
axis), and the spread of per-iteration savings across sessions.

Exit codes: 0 when everything was read; 3 when the report was written but some
input was skipped (each skipped piece is printed with its file and line); 2 when
nothing could be replayed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ._errors import SimulatorError, TraceImportError
from ._importers import Problem, RecordedSession

if TYPE_CHECKING:
    from ._replay import SessionReplay

__all__ = ["EXIT_NOTHING", "EXIT_OK", "EXIT_SKIPPED", "add_arguments", "run"]

EXIT_OK = 0
EXIT_NOTHING = 2
EXIT_SKIPPED = 3
_BUSY_WINDOW_NS = 60_000_000_000
_BAR = 24


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the replay command's arguments."""
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="session logs (Claude Code, pi, Codex; .gz accepted) or folders of "
        "them; default: the bundled sessions",
    )
    parser.add_argument(
        "--out",
        default="reports/latest",
        metavar="DIR",
        help="folder for report.md, summary.json, trace.json and plots/ "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--backend",
        choices=("asyncio", "trio"),
        default="asyncio",
        help="event loop the simulator runs on (default: %(default)s)",
    )
    parser.add_argument(
        "--no-plots", action="store_true", help="skip the plots (faster)"
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar on standard error"
    )
    parser.epilog = (
        "exit codes: 0 all input read; 3 report written but some input skipped; "
        "2 nothing could be replayed"
    )


def run(args: argparse.Namespace) -> int:
    """Replay, write the report files, and return the exit code."""
    try:
        sessions, problems, source = _load(list(args.paths))
    except TraceImportError as exc:
        print(f"streampar replay: {exc}", file=sys.stderr)
        return EXIT_NOTHING
    for problem in problems:
        print(f"streampar replay: skipped: {problem}", file=sys.stderr)
    progress = _Progress(sys.stderr, enabled=not args.quiet and sys.stderr.isatty())
    try:
        written = _replay_and_write(
            sessions, problems, source, Path(args.out), args, progress
        )
    except SimulatorError as exc:
        progress.finish()
        print(f"streampar replay: {exc}", file=sys.stderr)
        return EXIT_NOTHING
    progress.finish()
    for path in written:
        print(f"wrote {path}")
    return EXIT_SKIPPED if problems else EXIT_OK


def _load(paths: list[str]) -> tuple[list[RecordedSession], list[Problem], str]:
    """The sessions to replay, the problems met, and a label for the report."""
    if not paths:
        from ._bundle import load_bundled_sessions

        return load_bundled_sessions(), [], "the bundled default sessions"
    from ._importers import import_paths

    result = import_paths(paths)
    return result.sessions, result.problems, ", ".join(f"`{p}`" for p in paths)


def _replay_and_write(
    sessions: list[RecordedSession],
    problems: list[Problem],
    source: str,
    out: Path,
    args: argparse.Namespace,
    progress: _Progress,
) -> list[Path]:
    """Replay every session and write the report's files."""
    from ._perfetto import perfetto_trace, write_trace
    from ._replay import replay_sessions
    from ._replay_report import render_markdown, summary_dict

    replays = replay_sessions(sessions, backend=args.backend, progress=progress.step)
    plots: dict[str, dict[str, str]] = {}
    if not args.no_plots:
        progress.note("drawing plots")
        plots = _write_plots(replays, out)
    trace = perfetto_trace(
        {
            f"{r.session.name} / {name}": run.timeline
            for r in replays
            for name, run in r.runs.items()
        }
    )
    trace_path = write_trace(out / "trace.json", trace)
    summary = summary_dict(replays, problems, plots, backend=args.backend)
    summary_path = _write_text(
        out / "summary.json", json.dumps(summary, indent=1, sort_keys=False) + "\n"
    )
    report = render_markdown(
        replays, problems, plots, source=source, backend=args.backend
    )
    report_path = _write_text(out / "report.md", report)
    return [report_path, summary_path, trace_path]


def _write_plots(
    replays: Sequence[SessionReplay], out: Path
) -> dict[str, dict[str, str]]:
    """Per session the largest-saving iteration and the busiest window; then
    the savings distribution. Returns paths relative to ``out``."""
    from ._plot import busiest_window, plot_savings_distribution, plot_strategies

    plots: dict[str, dict[str, str]] = {}
    for replay in replays:
        name = replay.session.name
        pair = {
            "sequential": replay.runs["sequential"].timeline,
            "overlapped": replay.runs["overlapped"].timeline,
        }
        best = max(replay.turns, key=lambda t: (t.overlap_saving_ns, -t.turn))
        stem = out / "plots" / f"{name}-largest-saving"
        plot_strategies(
            pair,
            stem,
            title=f"{name}: turn {best.turn}, the largest saving from overlap",
            turn=best.turn,
            bound_ns=best.bound_ns,
        )
        width = min(_BUSY_WINDOW_NS, replay.simulated_ns["sequential"])
        window = busiest_window(pair["sequential"], max(width, 1))
        busy = out / "plots" / f"{name}-busy-window"
        plot_strategies(pair, busy, title=f"{name}: busiest window", window=window)
        plots[name] = {
            "largest_saving": f"plots/{stem.name}.png",
            "busy_window": f"plots/{busy.name}.png",
        }
    savings = {
        r.session.name: [t.overlap_saving_ns / 1e9 for t in r.turns] for r in replays
    }
    stem = out / "plots" / "savings-distribution"
    plot_savings_distribution(
        savings, stem, title="Per-iteration saving, overlapped against sequential"
    )
    plots[""] = {"savings_distribution": f"plots/{stem.name}.png"}
    return plots


def _write_text(path: Path, text: str) -> Path:
    """Write a file atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class _Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, stream: TextIO, *, enabled: bool) -> None:
        self._stream = stream
        self._enabled = enabled
        self._shown = False

    def step(self, done: int, total: int, name: str) -> None:
        """Show that ``done`` of ``total`` sessions are replayed."""
        filled = _BAR * done // max(total, 1)
        bar = "#" * filled + "." * (_BAR - filled)
        self._show(f"replaying [{bar}] {done}/{total} {name}")

    def note(self, text: str) -> None:
        """Show a stage (plots, files)."""
        self._show(text)

    def finish(self) -> None:
        """End the bar's line."""
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()
            self._shown = False

    def _show(self, text: str) -> None:
        if not self._enabled:
            return
        self._stream.write("\r\x1b[2K" + text)
        self._stream.flush()
        self._shown = True
