"""Timeline plots: strategies one above another on one time axis, and the spread
of per-iteration savings across sessions.

matplotlib is imported inside the drawing functions only, so importing this
module (or anything the pytest plugin loads) stays cheap. Figures are built on
the Agg canvas without pyplot: no global figure state, safe in worker threads.

The plots read the timeline conventions every strategy run writes: spans
``request`` and ``stream`` on lane ``model``; spans ``tool`` and ``result`` on a
lane per call; instants ``first_token``, ``call_complete``, ``feed`` and
``hand_back``; span ``turn`` from the turn's start to its hand-back.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import SimulatorError
from ._timeline import NS, Instant, Span, Timeline

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "BrokenRule",
    "CriticalSegment",
    "busiest_window",
    "pack_rows",
    "plot_savings_distribution",
    "plot_strategies",
    "savings_figure",
    "strategies_figure",
    "turn_window",
]

CriticalSegment = tuple[str, int, int]
"""One piece of the critical path: a label, its start and its end in ns."""

_STYLE: dict[str, dict[str, Any]] = {
    "request": {"color": "#9e9e9e", "label": "request (assembly, prefill)"},
    "ttft": {"color": "#bfe3f7", "label": "stream before first token"},
    "stream": {"color": "#56b4e9", "label": "stream"},
    "ok": {"color": "#009e73", "label": "tool ok"},
    "error": {"color": "#d55e00", "label": "tool error"},
    "timeout": {"color": "#f0e442", "hatch": "....", "label": "tool timeout"},
    "cancelled": {
        "color": "#d9d9d9",
        "hatch": "////",
        "label": "tool cancelled",
    },
    "result": {"color": "#a8dcc9", "label": "result processing"},
    "exclusive": {
        "color": "none",
        "edge": "#000000",
        "width": 1.8,
        "label": "exclusive tool (bold outline)",
    },
    "critical": {"color": "#cc79a7", "label": "critical path"},
}
_OUTCOMES = ("ok", "error", "timeout", "cancelled")
_BOUND_COLOR = "#cc79a7"
_BROKEN_COLOR = "#d7191c"
_BAR_HEIGHT = 0.72
_SVG_SALT = "pytest-streampar"
_RC: dict[str, Any] = {
    "svg.hashsalt": _SVG_SALT,
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "path.simplify": True,
}
_MAX_TICKS = 150
_MAX_OUTLINES = 100
_MIN_OUTLINED = 0.004
"""Exclusive tools narrower than this share of the axis get no bold outline."""
"""Beyond this many exclusive tools in view, bold outlines would hide the fill."""
"""Beyond this many call completes in view, ticks would only blacken the lane."""


@dataclass
class _Layer:
    """Rectangles of one style: left edges, widths and row indexes."""

    xs: list[float] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)

    def add(self, start_s: float, end_s: float, row: int) -> None:
        self.xs.append(start_s)
        self.widths.append(end_s - start_s)
        self.rows.append(row)


@dataclass
class _Panel:
    """Everything one strategy's panel shows, in seconds on the plot's axis."""

    name: str
    labels: list[str]
    layers: dict[str, _Layer] = field(default_factory=dict)
    ticks: list[float] = field(default_factory=list)
    feeds: list[float] = field(default_factory=list)
    hand_backs: list[float] = field(default_factory=list)
    end_s: float = 0.0
    stream_row: int = 1
    marked: list[tuple[float, float, int, str]] = field(default_factory=list)

    def layer(self, style: str) -> _Layer:
        return self.layers.setdefault(style, _Layer())


@dataclass(frozen=True)
class _View:
    """Which records to keep and how to move them onto the plot's axis."""

    lo_ns: int | None = None
    hi_ns: int | None = None
    turn: int | None = None
    shift_ns: int = 0

    def keeps_span(self, span: Span) -> bool:
        if self.turn is not None and "turn" in span.attrs:
            return bool(span.attrs["turn"] == self.turn)
        lo = self.lo_ns if self.lo_ns is not None else span.end_ns
        hi = self.hi_ns if self.hi_ns is not None else span.start_ns
        return span.end_ns >= lo and span.start_ns <= hi

    def keeps_instant(self, instant: Instant) -> bool:
        if self.turn is not None and "turn" in instant.attrs:
            return bool(instant.attrs["turn"] == self.turn)
        lo = self.lo_ns if self.lo_ns is not None else instant.at_ns
        hi = self.hi_ns if self.hi_ns is not None else instant.at_ns
        return lo <= instant.at_ns <= hi

    def seconds(self, ns: int) -> float:
        return (ns - self.shift_ns) / NS


# Queries on a timeline -----------------------------------------------------


def turn_window(timeline: Timeline, turn: int) -> tuple[int, int]:
    """The start and hand-back of one turn, in nanoseconds.

    Args:
        timeline: a run's timeline, with ``turn`` spans.
        turn: the turn's index (``attrs["turn"]``).

    Returns:
        ``(S_k, H_k)`` from the turn's ``turn`` span.

    Raises:
        SimulatorError: the timeline has no ``turn`` span for that index.
    """
    for span in timeline.spans:
        if span.name == "turn" and span.attrs.get("turn") == turn:
            return span.start_ns, span.end_ns
    known = [s.attrs.get("turn") for s in timeline.spans if s.name == "turn"]
    listed = ", ".join(str(k) for k in known[:20]) + (", ..." if known[20:] else "")
    raise SimulatorError(
        f"turn={turn!r}: the timeline has no 'turn' span with that index (turns "
        f"recorded: {listed or 'none'}); pass one of those, or use window= for a "
        f"timeline without turn spans"
    )


def busiest_window(timeline: Timeline, width_ns: int) -> tuple[int, int]:
    """The window of a given width in which tools run for the longest in total.

    Useful to plot the busy part of a long session legibly. Candidate windows
    start at each tool's start; ties go to the earliest.

    Args:
        timeline: a run's timeline.
        width_ns: the window's width in nanoseconds, more than zero.

    Returns:
        ``(start_ns, end_ns)``; ``(0, width_ns)`` when the timeline ran no tool.

    Raises:
        SimulatorError: ``width_ns`` is not positive.
    """
    if width_ns <= 0:
        raise SimulatorError(
            f"width_ns={width_ns!r}: a window must be wider than zero; pass a "
            f"width in nanoseconds, e.g. 30_000_000_000 for 30 s"
        )
    tools = sorted((s.start_ns, s.end_ns) for s in timeline.spans if s.name == "tool")
    best, best_start = -1, 0
    for start, _ in tools:
        end = start + width_ns
        busy = sum(max(0, min(e, end) - max(s, start)) for s, e in tools)
        if busy > best:
            best, best_start = busy, start
    return best_start, best_start + width_ns


def pack_rows(intervals: Sequence[tuple[int, int]]) -> list[int]:
    """Give each interval a row so that intervals on one row never overlap.

    Intervals are half-open and placed in order of their start; each takes the
    lowest row whose last interval has ended (touching ends may share a row).
    An empty interval counts as one unit long, so it never hides in another's
    bar. This uses the fewest rows possible: as many as intervals overlap at
    the busiest moment.

    Args:
        intervals: ``(start, end)`` pairs.

    Returns:
        The row of each interval, in the order given.
    """
    order = sorted(range(len(intervals)), key=lambda i: (intervals[i][0], i))
    row_ends: list[int] = []
    rows = [0] * len(intervals)
    for i in order:
        start, end = intervals[i][0], max(intervals[i][1], intervals[i][0] + 1)
        row = next((r for r, e in enumerate(row_ends) if e <= start), None)
        if row is None:
            row = len(row_ends)
            row_ends.append(end)
        row_ends[row] = end
        rows[i] = row
    return rows


# From a timeline to a panel -------------------------------------------------


def _tool_label(span: Span) -> str:
    call_id = str(span.attrs.get("call_id", span.lane.removeprefix("tool ")))
    name = str(span.attrs.get("name", ""))
    if len(call_id) > 8:
        return f"{name} …{call_id[-4:]}".strip()
    if name in ("", call_id):
        return call_id
    return f"{call_id} {name}"


def _tool_rows(spans: list[Span], max_named: int) -> tuple[dict[str, int], list[str]]:
    """A row per tool lane when few, else lanes packed into shared rows."""
    lanes: dict[str, list[Span]] = {}
    for span in spans:
        lanes.setdefault(span.lane, []).append(span)
    ordered = sorted(lanes, key=lambda lane: min(s.start_ns for s in lanes[lane]))
    if len(ordered) <= max_named:
        labels = [_tool_label(lanes[lane][0]) for lane in ordered]
        return {lane: n for n, lane in enumerate(ordered)}, labels
    extents = [
        (min(s.start_ns for s in lanes[k]), max(s.end_ns for s in lanes[k]))
        for k in ordered
    ]
    rows = pack_rows(extents)
    labels = [f"tools {n + 1}" for n in range(max(rows, default=-1) + 1)]
    return dict(zip(ordered, rows, strict=True)), labels


def _add_stream(
    panel: _Panel, view: _View, span: Span, first_tokens: Mapping[Any, int]
) -> None:
    row = panel.stream_row
    start, end = view.seconds(span.start_ns), view.seconds(span.end_ns)
    first = first_tokens.get(span.attrs.get("turn"))
    if first is not None and span.start_ns < first < span.end_ns:
        panel.layer("ttft").add(start, view.seconds(first), row)
        panel.layer("stream").add(view.seconds(first), end, row)
    else:
        panel.layer("stream").add(start, end, row)


def _build_panel(
    name: str,
    timeline: Timeline,
    view: _View,
    max_named: int,
    marks: Mapping[str, str] | None = None,
) -> _Panel:
    spans = [s for s in timeline.spans if view.keeps_span(s)]
    instants = [i for i in timeline.instants if view.keeps_instant(i)]
    tool_spans = [s for s in spans if s.name in ("tool", "result")]
    rows, tool_labels = _tool_rows(tool_spans, max_named)
    shows_request = any(
        s.name == "request" and s.end_ns > s.start_ns for s in spans
    ) or any(i.name == "feed" for i in instants)
    model = ["request", "stream"] if shows_request else ["stream"]
    panel = _Panel(name, [*model, *tool_labels], stream_row=len(model) - 1)
    first_tokens = {
        i.attrs.get("turn"): i.at_ns for i in instants if i.name == "first_token"
    }
    for span in spans:
        start, end = view.seconds(span.start_ns), view.seconds(span.end_ns)
        if span.name == "request" and shows_request:
            panel.layer("request").add(start, end, 0)
        elif span.name == "stream":
            _add_stream(panel, view, span, first_tokens)
        elif span.name in ("tool", "result"):
            style = "result" if span.name == "result" else _outcome(span)
            row = len(model) + rows[span.lane]
            panel.layer(style).add(start, end, row)
            if span.name == "tool" and span.attrs.get("safety") == "exclusive":
                panel.layer("exclusive").add(start, end, row)
            call_id = str(span.attrs.get("call_id", span.lane.removeprefix("tool ")))
            if span.name == "tool" and marks and call_id in marks:
                panel.marked.append((start, end, row, marks[call_id]))
    for instant in instants:
        at = view.seconds(instant.at_ns)
        if instant.name == "call_complete":
            panel.ticks.append(at)
        elif instant.name == "feed":
            panel.feeds.append(at)
        elif instant.name == "hand_back":
            panel.hand_backs.append(at)
    panel.end_s = _run_end(timeline, view)
    return panel


def _outcome(span: Span) -> str:
    outcome = str(span.attrs.get("outcome", "ok"))
    return outcome if outcome in _OUTCOMES else "ok"


def _run_end(timeline: Timeline, view: _View) -> float:
    """When the run (or, for one turn, that turn) handed back its last results."""
    if view.turn is not None:
        return view.seconds(turn_window(timeline, view.turn)[1])
    hand_backs = [i.at_ns for i in timeline.instants if i.name == "hand_back"]
    return view.seconds(max(hand_backs, default=timeline.end_ns()))


def _views(
    runs: Mapping[str, Timeline],
    window: tuple[int, int] | None,
    turn: int | None,
) -> tuple[dict[str, _View], tuple[float, float]]:
    """Each run's view and the shared x limits in seconds."""
    if turn is not None and window is not None:
        raise SimulatorError(
            f"turn={turn!r} and window={window!r} were both given; a plot shows "
            f"either one turn (each run aligned at its start) or one time window"
        )
    if turn is not None:
        views = {}
        for name, tl in runs.items():
            start, _ = turn_window(tl, turn)
            views[name] = _View(turn=turn, shift_ns=start)
        longest = max(
            turn_window(tl, turn)[1] - views[n].shift_ns for n, tl in runs.items()
        )
        return views, (0.0, longest / NS)
    if window is not None:
        lo, hi = window
        if hi <= lo:
            raise SimulatorError(
                f"window={window!r}: the end must come after the start; pass "
                f"(start_ns, end_ns) with start_ns < end_ns"
            )
        return {n: _View(lo_ns=lo, hi_ns=hi) for n in runs}, (lo / NS, hi / NS)
    longest = max(
        max([tl.end_ns()] + [i.at_ns for i in tl.instants if i.name == "hand_back"])
        for tl in runs.values()
    )
    return {n: _View() for n in runs}, (0.0, max(longest, 1) / NS)


# Drawing --------------------------------------------------------------------


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.3f} s" if abs(seconds) < 1000 else f"{seconds:.1f} s"


def _draw_layers(ax: Axes, panel: _Panel, span_s: float) -> set[str]:
    from matplotlib.collections import PolyCollection

    drawn: set[str] = set()
    half = _BAR_HEIGHT / 2
    for style in _STYLE:
        layer = panel.layers.get(style)
        if layer is None or not layer.xs:
            continue
        bars = list(zip(layer.xs, layer.widths, layer.rows, strict=True))
        if style == "exclusive":
            # an outline thicker than its bar would only paint it black
            bars = [b for b in bars if b[1] >= span_s * _MIN_OUTLINED]
            if not bars or len(bars) > _MAX_OUTLINES:
                continue
        verts = [
            [(x, -r - half), (x + w, -r - half), (x + w, -r + half), (x, -r + half)]
            for x, w, r in bars
        ]
        spec = _STYLE[style]
        thin = "#333333" if len(verts) < 100 else spec["color"]
        ax.add_collection(
            PolyCollection(
                verts,
                facecolors=spec["color"],
                edgecolors=spec.get("edge", thin),
                linewidths=spec.get("width", 0.4),
                hatch=spec.get("hatch"),
                zorder=2.5 if style == "exclusive" else 2,
            )
        )
        drawn.add(style)
    return drawn


def _draw_marks(ax: Axes, panel: _Panel, n_rows: int) -> set[str]:
    drawn: set[str] = set()
    if panel.ticks and len(panel.ticks) <= _MAX_TICKS:
        dense = len(panel.ticks) > 80
        ax.plot(
            panel.ticks,
            [-float(panel.stream_row)] * len(panel.ticks),
            linestyle="none",
            marker="|",
            markersize=6 if dense else 11,
            markeredgewidth=0.5 if dense else 1.4,
            color="#333333" if dense else "black",
            zorder=4,
        )
        drawn.add("ticks")
    if panel.feeds:
        ax.plot(
            panel.feeds,
            [0.0] * len(panel.feeds),
            linestyle="none",
            marker="v",
            markersize=5,
            color="#0072b2",
            zorder=4,
        )
        drawn.add("feeds")
    if panel.hand_backs:
        dense = len(panel.hand_backs) > 40
        ax.vlines(
            panel.hand_backs,
            -n_rows + 0.5,
            0.5,
            colors="#aaaaaa" if dense else "#222222",
            linewidth=0.4 if dense else 1.0,
            zorder=3 if not dense else 1,
        )
        drawn.add("hand_backs")
    return drawn


def _draw_broken(ax: Axes, panel: _Panel, span_s: float) -> bool:
    """Outline in red the tool runs a failed check blames, with its note."""
    from matplotlib.patches import Rectangle

    half = _BAR_HEIGHT / 2 + 0.12
    for start, end, row, note in panel.marked:
        width = max(end - start, span_s * 0.004)
        ax.add_patch(
            Rectangle(
                (start, -row - half),
                width,
                2 * half,
                fill=False,
                edgecolor=_BROKEN_COLOR,
                linewidth=2.2,
                zorder=6,
            )
        )
        ax.annotate(
            note,
            (start + width, -row),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color=_BROKEN_COLOR,
            zorder=7,
        )
    return bool(panel.marked)


def _annotate_end(
    ax: Axes, panel: _Panel, first: _Panel | None, xlim: tuple[float, float]
) -> None:
    text = f"ends {_fmt_s(panel.end_s)}"
    if first is not None and first.end_s > 0:
        change = round((panel.end_s - first.end_s) / first.end_s * 100, 1)
        text += (
            f"\n{change:+.1f} % vs {first.name}"
            if change
            else f"\nwithin 0.05 % of {first.name}"
        )
    if not xlim[0] <= panel.end_s <= xlim[1]:
        ax.set_title(
            text.replace("\n", ", ") + " (outside this window)",
            loc="right",
            fontsize=9,
        )
        return
    ax.annotate(
        text,
        xy=(panel.end_s, 0.5),
        xytext=(4, -2),
        textcoords="offset points",
        ha="left",
        va="top",
        fontsize=8.5,
        fontweight="bold",
    )


def _style_axes(ax: Axes, panel: _Panel) -> None:
    n = len(panel.labels)
    ax.set_yticks([-r for r in range(n)], panel.labels, fontsize=8.5)
    ax.set_ylim(-n + 0.4, 0.6)
    ax.set_title(panel.name, loc="left", fontsize=10, fontweight="bold")
    ax.grid(axis="x", color="#e6e6e6", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _draw_critical(
    ax: Axes, segments: Sequence[CriticalSegment], span_s: float
) -> None:
    from matplotlib.collections import PolyCollection

    half = _BAR_HEIGHT / 2
    verts = []
    for label, start, end in segments:
        x0, x1 = start / NS, end / NS
        verts.append([(x0, -half), (x1, -half), (x1, half), (x0, half)])
        if x1 - x0 > span_s * 0.06:
            ax.text((x0 + x1) / 2, 0, label, ha="center", va="center", fontsize=8)
    ax.add_collection(
        PolyCollection(
            verts,
            facecolors=_STYLE["critical"]["color"],
            edgecolors="#333333",
            linewidths=0.4,
            alpha=0.55,
        )
    )
    ax.set_yticks([0], ["critical path"], fontsize=8.5)
    ax.set_ylim(-0.6, 0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _legend_handles(drawn: set[str], bound_s: float | None) -> list[Any]:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = []
    for style, spec in _STYLE.items():
        if style in drawn:
            handles.append(
                Patch(
                    facecolor=spec["color"],
                    edgecolor=spec.get("edge", "#333333"),
                    linewidth=spec.get("width", 0.6),
                    hatch=spec.get("hatch"),
                    label=spec["label"],
                )
            )
    marks = {
        "ticks": Line2D(
            [],
            [],
            linestyle="none",
            marker="|",
            markersize=10,
            markeredgewidth=1.4,
            color="black",
            label="call complete",
        ),
        "feeds": Line2D(
            [],
            [],
            linestyle="none",
            marker="v",
            color="#0072b2",
            label="result fed forward",
        ),
        "hand_backs": Line2D([], [], color="#222222", label="hand-back"),
        "broken": Patch(
            fill=False,
            edgecolor=_BROKEN_COLOR,
            linewidth=2.2,
            label="blamed by the failed check",
        ),
    }
    handles += [h for key, h in marks.items() if key in drawn]
    if bound_s is not None:
        handles.append(
            Line2D(
                [],
                [],
                color=_BOUND_COLOR,
                linestyle="--",
                linewidth=1.6,
                label=f"critical-path bound {_fmt_s(bound_s)}",
            )
        )
    return handles


def _save(fig: Figure, path_stem: Path) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.svg``, each atomically."""
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for ext, metadata in (("png", {"Software": None}), ("svg", {"Date": None})):
        target = path_stem.with_name(path_stem.name + f".{ext}")
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
        try:
            with os.fdopen(fd, "wb") as out:
                fig.savefig(out, format=ext, dpi=130, metadata=metadata)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written


def _render(draw: Callable[[], Figure], path_stem: Path) -> list[Path]:
    import matplotlib

    with matplotlib.rc_context(_RC):  # type: ignore[arg-type]
        return _save(draw(), Path(path_stem))


# Public plots ---------------------------------------------------------------


def plot_strategies(
    runs: Mapping[str, Timeline],
    path_stem: Path,
    *,
    title: str,
    window: tuple[int, int] | None = None,
    turn: int | None = None,
    bound_ns: int | None = None,
    critical_path: Sequence[CriticalSegment] | None = None,
    max_named_tools: int = 10,
    broken: BrokenRule | None = None,
) -> list[Path]:
    """Draw several runs one above another on one shared time axis, to files.

    Writes what :func:`strategies_figure` draws as ``<stem>.png`` and
    ``<stem>.svg``. The SVG is byte-for-byte the same for the same input (fixed
    hash salt, no date), so it can be committed and diffed.

    Args:
        runs: panel title to timeline, drawn top to bottom in this order.
        path_stem: output path without suffix; ``.png`` and ``.svg`` are added.
            Parent folders are created; files are replaced atomically.
        title: the figure's title.
        window: see :func:`strategies_figure`.
        turn: see :func:`strategies_figure`.
        bound_ns: see :func:`strategies_figure`.
        critical_path: see :func:`strategies_figure`.
        max_named_tools: see :func:`strategies_figure`.
        broken: see :func:`strategies_figure`.

    Returns:
        The PNG path and the SVG path.

    Raises:
        SimulatorError: as :func:`strategies_figure`.
    """

    def draw() -> Figure:
        return strategies_figure(
            runs,
            title=title,
            window=window,
            turn=turn,
            bound_ns=bound_ns,
            critical_path=critical_path,
            max_named_tools=max_named_tools,
            broken=broken,
        )

    return _render(draw, path_stem)


def strategies_figure(
    runs: Mapping[str, Timeline],
    *,
    title: str,
    window: tuple[int, int] | None = None,
    turn: int | None = None,
    bound_ns: int | None = None,
    critical_path: Sequence[CriticalSegment] | None = None,
    max_named_tools: int = 10,
    broken: BrokenRule | None = None,
) -> Figure:
    """A matplotlib figure of several runs, one panel each, sharing one x axis.

    Each run gets a panel with a lane for the request (shown when it took
    time), one for the stream (lighter before the first token, with a tick at
    each call complete) and one per tool; when more than ``max_named_tools``
    tools are in view, tools are packed into as few rows as never overlap,
    labelled ``tools 1`` to ``tools n``. Tool spans are coloured by outcome,
    hand-backs are vertical lines, each run's end is written next to it (with
    its change against the first run) and the critical-path bound is a dashed
    line in every panel. Built without pyplot; the caller owns the figure.

    Args:
        runs: panel title to timeline, drawn top to bottom in this order (put
            ``sequential`` first so the others are compared with it).
        title: the figure's title.
        window: ``(start_ns, end_ns)``: only records overlapping this window of
            virtual time, e.g. the busy part of a long session.
        turn: show only this turn of each run, each run shifted so that its turn
            starts at 0 (runs reach a turn at different times).
        bound_ns: the critical-path bound, drawn as a dashed line; relative to
            the turn's start when ``turn`` is given, else absolute.
        critical_path: labelled segments ``(label, start_ns, end_ns)`` of the
            critical path, drawn in an extra panel at the bottom; same time
            base as ``bound_ns``.
        max_named_tools: up to this many tools get a lane of their own.
        broken: a rule a check found broken: its words go under the title, and
            the tool runs it blames are outlined in red, with their notes, in
            the panel it names (every panel when it names none).

    Returns:
        The figure, on an Agg canvas.

    Raises:
        SimulatorError: no runs; both ``turn`` and ``window``; an empty window;
            a turn missing from a run.
    """
    import matplotlib

    if not runs:
        raise SimulatorError(
            "runs={}: a strategies plot needs at least one timeline; pass "
            "{'sequential': timeline, ...}"
        )
    views, xlim = _views(runs, window, turn)

    def marks(name: str) -> Mapping[str, str] | None:
        if broken is None or broken.panel not in (None, name):
            return None
        return broken.notes

    panels = [
        _build_panel(name, tl, views[name], max_named_tools, marks(name))
        for name, tl in runs.items()
    ]
    bound_s = None if bound_ns is None else bound_ns / NS
    with matplotlib.rc_context(_RC):  # type: ignore[arg-type]
        fig = _strategies_figure(
            panels, title, xlim, bound_s, critical_path, turn, window
        )
    if broken is not None:
        words = textwrap.wrap(f"broken: {broken.headline}", 120)
        if len(words) > 3:
            words = [*words[:2], _shorten(words[2], 116) + " …"]
        fig.suptitle("\n".join([title, *words]), fontsize=11, color=_BROKEN_COLOR)
    return fig


@dataclass(frozen=True)
class BrokenRule:
    """What a failed check blames, for :func:`strategies_figure` to mark.

    Attributes:
        headline: the rule and the offence, written under the title.
        notes: call id to a short note; those tool runs are outlined in red.
        panel: the run the check looked at (a key of ``runs``), or None to
            mark the calls in every panel.
    """

    headline: str
    notes: Mapping[str, str] = field(default_factory=dict)
    panel: str | None = None


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _strategies_figure(
    panels: list[_Panel],
    title: str,
    xlim: tuple[float, float],
    bound_s: float | None,
    critical_path: Sequence[CriticalSegment] | None,
    turn: int | None,
    window: tuple[int, int] | None,
) -> Figure:
    from matplotlib.figure import Figure

    heights = [len(p.labels) + 1.2 for p in panels]
    if critical_path:
        heights.append(1.6)
    fig = Figure(figsize=(11, 1.3 + 0.3 * sum(heights)), layout="constrained")
    axes = fig.subplots(
        len(heights), 1, sharex=True, gridspec_kw={"height_ratios": heights}
    )
    axes_list = list(axes) if len(heights) > 1 else [axes]
    span_s = xlim[1] - xlim[0]
    pad = 0.0 if window is not None else span_s * 0.14
    drawn: set[str] = set()
    for n, (ax, panel) in enumerate(zip(axes_list, panels, strict=False)):
        drawn |= _draw_layers(ax, panel, span_s + pad)
        drawn |= _draw_marks(ax, panel, len(panel.labels))
        if _draw_broken(ax, panel, span_s):
            drawn.add("broken")
        if bound_s is not None:
            ax.axvline(bound_s, color=_BOUND_COLOR, linestyle="--", linewidth=1.6)
        _style_axes(ax, panel)
        _annotate_end(ax, panel, panels[0] if n else None, (xlim[0], xlim[1] + pad))
    if critical_path:
        _draw_critical(axes_list[-1], critical_path, span_s)
        if bound_s is not None:
            axes_list[-1].axvline(
                bound_s, color=_BOUND_COLOR, linestyle="--", linewidth=1.6
            )
    axes_list[0].set_xlim(xlim[0], xlim[1] + pad)
    axes_list[-1].set_xlabel(
        f"time since turn {turn} started (s)" if turn is not None else "time (s)"
    )
    fig.suptitle(title, fontsize=12)
    handles = _legend_handles(drawn, bound_s)
    if handles:
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncol=min(len(handles), 5),
            fontsize=8.5,
            frameon=False,
        )
    return fig


def plot_savings_distribution(
    savings: Mapping[str, Sequence[float]],
    path_stem: Path,
    *,
    title: str,
    unit: str = "s",
) -> list[Path]:
    """Draw how per-iteration savings spread, one row per session, to files.

    Writes what :func:`savings_figure` draws as ``<stem>.png`` and
    ``<stem>.svg`` (deterministic SVG).

    Args:
        savings: session name to its iterations' savings.
        path_stem: output path without suffix; ``.png`` and ``.svg`` are added.
        title: the figure's title.
        unit: see :func:`savings_figure`.

    Returns:
        The PNG path and the SVG path.

    Raises:
        SimulatorError: as :func:`savings_figure`.
    """

    def draw() -> Figure:
        return savings_figure(savings, title=title, unit=unit)

    return _render(draw, path_stem)


def savings_figure(
    savings: Mapping[str, Sequence[float]], *, title: str, unit: str = "s"
) -> Figure:
    """A figure of per-iteration savings: a box over a strip of points per session.

    Each session gets a box (quartiles, median, whiskers at 1.5 IQR) over a strip
    of every iteration's point, spread vertically by a fixed pattern so the
    picture is the same every time; beside it are the count, how many
    iterations saved anything (a value above 0) and the median.
    Readable from a handful of points to several hundred.

    Args:
        savings: session name to its iterations' savings, e.g. sequential time
            minus overlapped time in seconds, or that as a fraction of the
            sequential time.
        title: the figure's title.
        unit: ``"s"`` for seconds, ``"fraction"`` to show percentages.

    Returns:
        The figure, on an Agg canvas.

    Raises:
        SimulatorError: no sessions, or a unit other than ``"s"``/``"fraction"``.
    """
    import matplotlib

    if not savings:
        raise SimulatorError(
            "savings={}: pass at least one session, e.g. {'pi-session': [0.4, 1.2]}"
        )
    if unit not in ("s", "fraction"):
        raise SimulatorError(
            f"unit={unit!r}: must be 's' (seconds) or 'fraction' (shown as %)"
        )
    scale = 100.0 if unit == "fraction" else 1.0
    rows = {name: [v * scale for v in values] for name, values in savings.items()}
    with matplotlib.rc_context(_RC):  # type: ignore[arg-type]
        return _savings_figure(rows, title, "%" if unit == "fraction" else "s")


def _jitter(n: int) -> list[float]:
    """Fixed vertical offsets in [-0.28, 0.28] (golden-ratio sequence)."""
    golden = 0.6180339887498949
    return [((k * golden) % 1.0 - 0.5) * 0.56 for k in range(n)]


def _median(values: Iterable[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def _savings_figure(rows: Mapping[str, list[float]], title: str, unit: str) -> Figure:
    from matplotlib.figure import Figure

    names = list(rows)
    fig = Figure(figsize=(10, 1.4 + 0.55 * len(names)), layout="constrained")
    ax = fig.subplots()
    filled = [n for n in names if rows[n]]
    if filled:
        ax.boxplot(
            [rows[n] for n in filled],
            positions=[-names.index(n) for n in filled],
            orientation="horizontal",
            widths=0.6,
            showfliers=False,
            medianprops={"color": "#d55e00", "linewidth": 1.6},
        )
    for r, name in enumerate(names):
        values = rows[name]
        size = 14 if len(values) < 100 else 6
        ax.scatter(
            values,
            [-r + j for j in _jitter(len(values))],
            s=size,
            color="#0072b2",
            alpha=0.55 if len(values) < 100 else 0.35,
            linewidths=0,
            zorder=3,
        )
        saved = sum(1 for v in values if v > 0)
        note = (
            f"n={len(values)}, {saved} saved, median {_median(values):.3g} {unit}"
            if values
            else "no iterations"
        )
        ax.annotate(
            note,
            xy=(1.0, -r),
            xycoords=("axes fraction", "data"),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8.5,
        )
    ax.axvline(0, color="#555555", linewidth=0.8)
    ax.set_yticks([-r for r in range(len(names))], names, fontsize=9)
    ax.set_ylim(-len(names) + 0.4, 0.6)
    label = "saving per iteration"
    ax.set_xlabel(f"{label} (%)" if unit == "%" else f"{label} (s)")
    ax.grid(axis="x", color="#e6e6e6", linewidth=0.6)
    ax.set_axisbelow(True)
    fig.suptitle(title, fontsize=12)
    return fig
