"""The report of a whole test run (``--streampar-report=DIR``).

Written at the end of the session, on the xdist controller when there is one,
from the metrics and timelines every streampar test recorded:

- ``report.md``: a table of the tests with scenario, backend, session time of
  each recorded run (e.g. sequential and overlapped), speed-up and distance
  from the critical-path bound, then one timeline plot per test;
- ``summary.json`` (``"schema": "pytest-streampar-run-report/1"``):
  ``tests`` maps node id to ``{scenario, backend, metrics}`` in the baseline
  file's shape (so ``streampar compare BASELINE DIR/summary.json`` works), and
  ``runs`` maps node id to ``{label: {session_ns, spans, instants}}`` and its
  ``plot`` path; ``gate`` holds the comparison lines when a baseline was used;
- ``trace.json``: Chrome/Perfetto trace events, a process per test and run;
- ``plots/<test>.png`` and ``.svg``: the runs of a test one above another on
  one time axis (:func:`simulator._plot.plot_strategies`), for up to
  :data:`MAX_PLOTS` tests (the rest are listed without a plot).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._baseline import Metric, TestEntry, _replace

if TYPE_CHECKING:
    from simulator._timeline import Timeline

    from ._compare import Comparison

__all__ = ["MAX_PLOTS", "RUN_REPORT_SCHEMA", "write_run_report"]

RUN_REPORT_SCHEMA = "pytest-streampar-run-report/1"
MAX_PLOTS = 40
_STRATEGIES = ("sequential", "parallel", "overlapped")
_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")


def write_run_report(
    out: Path | str,
    entries: Mapping[str, TestEntry],
    timelines: Mapping[str, Mapping[str, Any]],
    *,
    comparison: Comparison | None = None,
    plots: bool = True,
) -> list[Path]:
    """Write ``report.md``, ``summary.json``, ``trace.json`` and plots.

    Args:
        out: the report folder; created.
        entries: node id to the metrics the test recorded.
        timelines: node id to ``{label: Timeline.to_dict()}``; timelines
            without records are left out of the plots, tables and trace.
        comparison: the gate's comparison, when a baseline was used.
        plots: draw the timeline plots.

    Returns:
        The files written, ``report.md`` first.
    """
    from simulator._timeline import Timeline

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    recorded = {
        nodeid: {label: d for label, d in by_label.items() if _has_records(d)}
        for nodeid, by_label in sorted(timelines.items())
    }
    runs = {
        nodeid: {label: Timeline.from_dict(d) for label, d in by_label.items()}
        for nodeid, by_label in recorded.items()
        if by_label
    }
    plot_paths = _plots(folder, runs) if plots else {}
    written = [
        _text(folder / "report.md", _markdown(entries, runs, plot_paths, comparison)),
        _text(
            folder / "summary.json",
            json.dumps(
                _summary(entries, runs, plot_paths, comparison),
                indent=1,
                allow_nan=False,
            )
            + "\n",
        ),
    ]
    trace = _trace(folder, runs)
    return (
        written + ([trace] if trace else []) + [folder / p for p in plot_paths.values()]
    )


def _has_records(data: Mapping[str, Any]) -> bool:
    """Whether a timeline's JSON form holds a span or an instant (a run of
    plain code records none: there is nothing to draw)."""
    return bool(data.get("spans") or data.get("instants"))


def run_ns(timeline: Timeline) -> int:
    """A run's session time: its last hand-back, else its last record."""
    backs = [i.at_ns for i in timeline.instants if i.name == "hand_back"]
    return max(backs) if backs else timeline.end_ns()


def _text(path: Path, text: str) -> Path:
    _replace(path, text)
    return path


def _slug(nodeid: str) -> str:
    digest = hashlib.sha1(nodeid.encode()).hexdigest()[:8]
    name = _SLUG.sub("-", nodeid.split("/")[-1]).strip("-")[:60]
    return f"{name}-{digest}"


def _plots(folder: Path, runs: Mapping[str, Mapping[str, Timeline]]) -> dict[str, str]:
    from simulator._plot import plot_strategies

    paths: dict[str, str] = {}
    for nodeid in list(runs)[:MAX_PLOTS]:
        stem = folder / "plots" / _slug(nodeid)
        plot_strategies(dict(runs[nodeid]), stem, title=nodeid)
        paths[nodeid] = f"plots/{stem.name}.png"
    return paths


def _trace(folder: Path, runs: Mapping[str, Mapping[str, Timeline]]) -> Path | None:
    from simulator._perfetto import perfetto_trace, write_trace

    merged = {
        f"{nodeid} / {label}": tl
        for nodeid, by_label in runs.items()
        for label, tl in by_label.items()
    }
    if not merged:
        return None
    return write_trace(folder / "trace.json", perfetto_trace(merged, pack_tools=True))


def _summary(
    entries: Mapping[str, TestEntry],
    runs: Mapping[str, Mapping[str, Timeline]],
    plot_paths: Mapping[str, str],
    comparison: Comparison | None,
) -> dict[str, Any]:
    from ._compare import render_comparison

    return {
        "schema": RUN_REPORT_SCHEMA,
        "tests": {k: entries[k].to_dict() for k in sorted(entries)},
        "runs": {
            nodeid: {
                "plot": plot_paths.get(nodeid),
                "timelines": {
                    label: {
                        "session_ns": run_ns(tl),
                        "spans": len(tl.spans),
                        "instants": len(tl.instants),
                    }
                    for label, tl in by_label.items()
                },
            }
            for nodeid, by_label in runs.items()
        },
        "gate": None if comparison is None else render_comparison(comparison),
    }


def _shown(metric: Metric | None) -> str:
    """A figure for the tables: seconds to the ms, ratios, fractions as %."""
    if metric is None:
        return ""
    if metric.unit == "s":
        return f"{metric.value:.3f} s"
    if metric.unit == "x":
        return f"{metric.value:.3f} x"
    return f"{metric.value * 100:.1f} %"


def _spread(values: list[str]) -> str:
    """One value, or ``low – high`` when the tests disagree."""
    unique = sorted(set(values), key=values.index)
    return unique[0] if len(unique) == 1 else f"{unique[0]} – {unique[-1]}"


def _labels(runs: Mapping[str, Mapping[str, Timeline]]) -> list[str]:
    """Run labels: the strategies in their order, then any others."""
    seen = {label: None for by_label in runs.values() for label in by_label}
    known = [s for s in _STRATEGIES if s in seen]
    return known + sorted(label for label in seen if label not in _STRATEGIES)


def _scenario_table(
    entries: Mapping[str, TestEntry], runs: Mapping[str, Mapping[str, Timeline]]
) -> list[str]:
    """Per scenario: session time of each strategy, speed-up, bound gap."""
    by_scenario: dict[str, list[str]] = {}
    for nodeid in sorted(entries):
        by_scenario.setdefault(entries[nodeid].scenario or "(none)", []).append(nodeid)
    labels = _labels(runs)
    lines = [
        "## By scenario and strategy",
        "",
        "Session time of each strategy's run, then the figures the tests "
        "recorded (session time: the test's longest run); a range when the "
        "scenario's tests disagree.",
        "",
        "| scenario | tests | backends | "
        + "".join(f"{label} | " for label in labels)
        + "session time | speed-up | bound gap |",
        "|---|--:|---|" + "--:|" * (len(labels) + 3),
    ]
    for scenario, nodeids in sorted(by_scenario.items()):
        lines.append(_scenario_row(scenario, nodeids, entries, runs, labels))
    return [*lines, ""]


def _scenario_row(
    scenario: str,
    nodeids: list[str],
    entries: Mapping[str, TestEntry],
    runs: Mapping[str, Mapping[str, Timeline]],
    labels: list[str],
) -> str:
    cells = []
    for label in labels:
        times = [
            f"{run_ns(runs[n][label]) / 1e9:.3f} s"
            for n in nodeids
            if label in runs.get(n, {})
        ]
        cells.append(_spread(times) if times else "")
    for name in ("session_time", "speedup", "bound_gap"):
        cells.append(_spread([_shown(entries[n].metrics.get(name)) for n in nodeids]))
    backends = ", ".join(sorted({entries[n].backend or "?" for n in nodeids}))
    return f"| {scenario} | {len(nodeids)} | {backends} | " + " | ".join(cells) + " |"


def _markdown(
    entries: Mapping[str, TestEntry],
    runs: Mapping[str, Mapping[str, Timeline]],
    plot_paths: Mapping[str, str],
    comparison: Comparison | None,
) -> str:
    lines = [
        "# streampar test-run report",
        "",
        f"{len(entries)} tests recorded streampar metrics, on virtual time "
        f"(deterministic: the same code gives the same figures). Speed-up is "
        f"against the sequential strategy; bound gap is the session time above "
        f"the critical-path lower bound.",
        "",
        *_scenario_table(entries, runs),
        "## Tests",
        "",
        "| test | scenario | backend | runs (session time) | session time "
        "| speed-up | bound gap |",
        "|---|---|---|---|--:|--:|--:|",
    ]
    for nodeid in sorted(entries):
        entry = entries[nodeid]
        run_text = "; ".join(
            f"{label} {run_ns(tl) / 1e9:.3f} s"
            for label, tl in runs.get(nodeid, {}).items()
        )
        lines.append(
            f"| `{nodeid}` | {entry.scenario or ''} | {entry.backend or ''} | "
            f"{run_text} | {_shown(entry.metrics.get('session_time'))} | "
            f"{_shown(entry.metrics.get('speedup'))} | "
            f"{_shown(entry.metrics.get('bound_gap'))} |"
        )
    lines += ["", *_gate_section(comparison), *_plot_section(runs, plot_paths)]
    return "\n".join(lines).rstrip() + "\n"


def _gate_section(comparison: Comparison | None) -> list[str]:
    if comparison is None:
        return []
    from ._compare import render_comparison

    return [
        "## Against the baseline",
        "",
        "```",
        *render_comparison(comparison),
        "```",
        "",
    ]


def _plot_section(
    runs: Mapping[str, Mapping[str, Timeline]], plot_paths: Mapping[str, str]
) -> list[str]:
    if not runs:
        return []
    lines = ["## Timelines", ""]
    for nodeid in runs:
        path = plot_paths.get(nodeid)
        if path:
            lines += [f"### `{nodeid}`", "", f"![{nodeid}]({path})", ""]
    skipped = [n for n in runs if n not in plot_paths]
    if skipped:
        lines.append(
            f"Timelines of {len(skipped)} more test(s) are in trace.json only; "
            f"plots are drawn for the first {MAX_PLOTS} tests."
        )
    return lines
