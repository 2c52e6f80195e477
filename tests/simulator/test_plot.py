"""Timeline plots: files, lanes, the shared time axis, windows and long sessions."""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import SimulatorError, Timeline
from simulator._plot import (
    _build_panel,
    _View,
    busiest_window,
    pack_rows,
    plot_savings_distribution,
    plot_strategies,
    savings_figure,
    strategies_figure,
    turn_window,
)
from simulator._timeline import Instant, Span

S = 1_000_000_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG_NS = "{http://www.w3.org/2000/svg}"

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def ns(seconds: float) -> int:
    return round(seconds * S)


def add_turn(
    tl: Timeline,
    turn: int,
    start: float,
    tools: dict[str, tuple[float, float]],
    outcomes: dict[str, str] | None = None,
) -> float:
    """The hand-worked turn from ``start``: stream to 3.1 s, A and B calls.

    Tool times are relative to ``start``; returns the hand-back time.
    """
    outcomes = outcomes or {}
    end = max([3.1] + [stop for _, stop in tools.values()])
    tl.add_span("turn", "turn", ns(start), ns(start + end), turn=turn)
    tl.add_span("request", "model", ns(start), ns(start), turn=turn)
    tl.add_span("stream", "model", ns(start), ns(start + 3.1), turn=turn)
    tl.add_instant("first_token", "model", ns(start + 0.5), turn=turn)
    for call_id, name, done in (("A", "read", 1.9), ("B", "write", 2.3)):
        call = f"{call_id}{turn}" if turn else call_id
        attrs = {"turn": turn, "call_id": call, "name": name}
        tl.instants.append(Instant("call_complete", "model", ns(start + done), attrs))
        first, last = tools[call_id]
        tool_attrs = {**attrs, "outcome": outcomes.get(call_id, "ok")}
        tl.spans.append(
            Span(
                "tool", f"tool {call}", ns(start + first), ns(start + last), tool_attrs
            )
        )
    tl.add_instant("hand_back", "harness", ns(start + end), turn=turn)
    return start + end


TOOLS = {
    "sequential": {"A": (3.1, 4.1), "B": (4.1, 6.1)},
    "parallel": {"A": (3.1, 4.1), "B": (3.1, 5.1)},
    "overlapped": {"A": (1.9, 2.9), "B": (2.3, 4.3)},
}


def hand_worked(turns: int = 1) -> dict[str, Timeline]:
    runs = {}
    for strategy, tools in TOOLS.items():
        tl = Timeline()
        tl.meta = {"scenario": "hand-worked", "strategy": strategy}
        start = 0.0
        for turn in range(turns):
            start = add_turn(tl, turn, start, tools)
        runs[strategy] = tl
    return runs


def svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return ["".join(el.itertext()) for el in root.iter(f"{SVG_NS}text")]


def panel_axes(fig: Figure) -> list[Axes]:
    return [ax for ax in fig.axes if ax.get_title(loc="left")]


# The hand-worked turn ----------------------------------------------------------


def test_hand_worked_plot_files_labels_and_ends(tmp_path: Path) -> None:
    paths = plot_strategies(
        hand_worked(),
        tmp_path / "out" / "hand",
        title="hand-worked turn",
        bound_ns=ns(4.3),
        critical_path=[("stream to B", 0, ns(2.3)), ("B write", ns(2.3), ns(4.3))],
    )
    png, svg = paths
    assert (png.name, svg.name) == ("hand.png", "hand.svg")
    assert png.read_bytes()[:8] == PNG_MAGIC
    texts = svg_texts(svg)
    for label in ("stream", "A read", "B write", "critical path", "time (s)"):
        assert label in texts
    for name in ("sequential", "parallel", "overlapped", "hand-worked turn"):
        assert name in texts
    # end times and the change against sequential: 5.1/6.1 - 1, 4.3/6.1 - 1
    assert "ends 6.100 s" in texts
    assert "ends 5.100 s\n-16.4 % vs sequential" in texts or (
        "ends 5.100 s" in texts and "-16.4 % vs sequential" in texts
    )
    assert "-29.5 % vs sequential" in " ".join(texts)
    assert "critical-path bound 4.300 s" in texts


def test_panels_share_one_time_axis() -> None:
    fig = strategies_figure(hand_worked(), title="t", bound_ns=ns(4.3))
    axes = panel_axes(fig)
    assert [ax.get_title(loc="left") for ax in axes] == [
        "sequential",
        "parallel",
        "overlapped",
    ]
    limits = {ax.get_xlim() for ax in axes}
    assert len(limits) == 1
    # 0 to the latest end (6.1 s) plus 14 % room for the end annotation
    (lo, hi) = limits.pop()
    assert lo == 0.0 and hi == pytest.approx(6.1 * 1.14)
    first = axes[0]
    assert all(first.get_shared_x_axes().joined(first, ax) for ax in axes)


def test_overlapped_bars_sit_at_the_hand_worked_times() -> None:
    fig = strategies_figure(hand_worked(), title="t")
    overlapped = panel_axes(fig)[2]
    extents = set()
    for coll in overlapped.collections:
        for path in coll.get_paths():
            xs = [round(float(x), 9) for x in path.vertices[:, 0]]
            extents.add((min(xs), max(xs)))
    # before first token, stream, tool A, tool B
    assert {(0.0, 0.5), (0.5, 3.1), (1.9, 2.9), (2.3, 4.3)} <= extents


def test_panel_rows_ticks_and_end_for_one_run() -> None:
    panel = _build_panel("overlapped", hand_worked()["overlapped"], _View(), 10)
    # the request took no time, so there is no request lane
    assert panel.labels == ["stream", "A read", "B write"]
    ok = panel.layers["ok"]
    assert list(zip(ok.xs, ok.widths, ok.rows, strict=True)) == [
        pytest.approx((1.9, 1.0, 1)),
        pytest.approx((2.3, 2.0, 2)),
    ]
    assert panel.ticks == pytest.approx([1.9, 2.3])
    assert panel.hand_backs == pytest.approx([4.3])
    assert panel.end_s == pytest.approx(4.3)


def test_outcomes_get_their_own_colours_and_legend(tmp_path: Path) -> None:
    tl = Timeline()
    add_turn(tl, 0, 0.0, TOOLS["overlapped"], {"A": "error", "B": "timeout"})
    tl.spans.append(
        Span(
            "tool", "tool C", ns(2.5), ns(3.0), {"call_id": "C", "outcome": "cancelled"}
        )
    )
    panel = _build_panel("x", tl, _View(), 10)
    assert sorted(panel.layers) == ["cancelled", "error", "stream", "timeout", "ttft"]
    _, svg = plot_strategies({"faults": tl}, tmp_path / "f", title="faults")
    texts = svg_texts(svg)
    assert {"tool error", "tool timeout", "tool cancelled"} <= set(texts)
    assert "tool ok" not in texts


def test_exclusive_tools_get_a_bold_outline(tmp_path: Path) -> None:
    tl = Timeline()
    add_turn(tl, 0, 0.0, TOOLS["sequential"])
    write = tl.spans[-1]
    tl.spans[-1] = Span(
        write.name,
        write.lane,
        write.start_ns,
        write.end_ns,
        {**write.attrs, "safety": "exclusive"},
    )
    panel = _build_panel("sequential", tl, _View(), 10)
    outline = panel.layers["exclusive"]
    assert (outline.xs, outline.widths, outline.rows) == (
        pytest.approx([4.1]),
        pytest.approx([2.0]),
        [2],
    )
    _, svg = plot_strategies({"sequential": tl}, tmp_path / "x", title="t")
    assert "exclusive tool (bold outline)" in svg_texts(svg)


def test_tool_lane_label_skips_a_name_equal_to_the_id() -> None:
    tl = Timeline()
    tl.add_span("tool", "tool A", 0, S, call_id="A")
    tl.spans.append(Span("tool", "tool B", 0, S, {"call_id": "B", "name": "B"}))
    long_id = {"call_id": "toolu_01XyZabc9f3e", "name": "Read"}
    tl.spans.append(Span("tool", "tool toolu_01XyZabc9f3e", 0, S, long_id))
    panel = _build_panel("x", tl, _View(), 10)
    assert panel.labels == ["stream", "A", "B", "Read …9f3e"]


# Windows, turns and long sessions ---------------------------------------------


def test_turn_view_aligns_each_run_at_its_turn_start() -> None:
    runs = hand_worked(turns=2)
    assert turn_window(runs["sequential"], 1) == (ns(6.1), ns(12.2))
    assert turn_window(runs["overlapped"], 1) == (ns(4.3), ns(8.6))
    fig = strategies_figure(runs, title="turn 1", turn=1)
    (lo, hi) = panel_axes(fig)[0].get_xlim()
    assert lo == 0.0 and hi == pytest.approx(6.1 * 1.14)
    panel = _build_panel(
        "overlapped", runs["overlapped"], _View(turn=1, shift_ns=ns(4.3)), 10
    )
    assert panel.labels == ["stream", "A1 read", "B1 write"]
    assert panel.layers["ok"].xs == pytest.approx([1.9, 2.3])
    assert panel.end_s == pytest.approx(4.3)


def test_window_keeps_only_records_that_overlap_it() -> None:
    runs = hand_worked(turns=3)
    # the overlapped run's second turn is 4.3 s to 8.6 s
    view = _View(lo_ns=ns(5.0), hi_ns=ns(8.0))
    panel = _build_panel("overlapped", runs["overlapped"], view, 10)
    assert panel.labels == ["stream", "A1 read", "B1 write"]
    assert panel.hand_backs == []
    assert panel.end_s == pytest.approx(12.9)
    fig = strategies_figure(runs, title="w", window=(ns(5.0), ns(8.0)))
    assert panel_axes(fig)[0].get_xlim() == (5.0, 8.0)
    right = [ax.get_title(loc="right") for ax in panel_axes(fig)]
    assert right[0] == "ends 18.300 s (outside this window)"


def test_pack_rows_reuses_a_row_once_its_span_has_ended() -> None:
    assert pack_rows([(0, 2), (1, 3), (2, 4), (3, 5)]) == [0, 1, 0, 1]
    assert pack_rows([(5, 6), (0, 10), (1, 2)]) == [1, 0, 1]
    assert pack_rows([]) == []


def long_session(turns: int) -> Timeline:
    """Turns of 5 s; four 2.5 s tools start 0.25 s apart, so at most 4 overlap."""
    tl = Timeline()
    for k in range(turns):
        base = 5.0 * k
        tl.add_span("turn", "turn", ns(base), ns(base + 5.0), turn=k)
        tl.add_span("stream", "model", ns(base), ns(base + 2.0), turn=k)
        for i in range(4):
            call = f"call_{k}_{i}"
            start = base + 1.0 + 0.25 * i
            attrs = {"turn": k, "call_id": call, "outcome": "ok"}
            tl.instants.append(Instant("call_complete", "model", ns(start), attrs))
            tl.spans.append(
                Span("tool", f"tool {call}", ns(start), ns(start + 2.5), attrs)
            )
        tl.add_instant("hand_back", "harness", ns(base + 5.0), turn=k)
    return tl


def max_overlap(timeline: Timeline) -> int:
    """Most tools running at once, by a sweep over starts and ends."""
    events = sorted(
        [(s.start_ns, 1) for s in timeline.spans if s.name == "tool"]
        + [(s.end_ns, -1) for s in timeline.spans if s.name == "tool"]
    )
    running = best = 0
    for _, step in events:
        running += step
        best = max(best, running)
    return best


def test_many_tools_are_packed_into_numbered_rows() -> None:
    tl = long_session(100)
    assert max_overlap(tl) == 4
    panel = _build_panel("overlapped", tl, _View(), 10)
    assert panel.labels == ["stream", "tools 1", "tools 2", "tools 3", "tools 4"]
    assert len(panel.layers["ok"].xs) == 400


def test_long_session_plots_quickly(tmp_path: Path) -> None:
    runs = {"overlapped": long_session(100), "again": long_session(100)}
    began = time.perf_counter()
    png, svg = plot_strategies(runs, tmp_path / "long", title="400 tools")
    elapsed = time.perf_counter() - began
    assert elapsed < 20.0, f"plotting 2 x 400 tools took {elapsed:.1f} s"
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert "tools 4" in svg_texts(svg) and "tools 5" not in svg_texts(svg)


def test_busiest_window_finds_the_most_tool_time() -> None:
    tl = Timeline()
    for i, (a, b) in enumerate([(0, 1), (10, 12), (11, 13), (30, 31)]):
        tl.add_span("tool", f"tool {i}", ns(a), ns(b))
    # window [10, 15] holds 2 + 2 s of tools; [0, 5] 1 s; [11, 16] 3 s
    assert busiest_window(tl, ns(5)) == (ns(10), ns(15))
    assert busiest_window(Timeline(), ns(5)) == (0, ns(5))
    with pytest.raises(SimulatorError, match="width_ns=0"):
        busiest_window(tl, 0)


def test_svg_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    kwargs: dict[str, Any] = {"title": "same", "bound_ns": ns(4.3)}
    _, first = plot_strategies(hand_worked(), tmp_path / "a", **kwargs)
    _, second = plot_strategies(hand_worked(), tmp_path / "b", **kwargs)
    assert first.read_bytes() == second.read_bytes()
    assert b"<dc:date>" not in first.read_bytes()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"turn": 0, "window": (0, 1)}, "both given"),
        ({"window": (5, 5)}, r"window=\(5, 5\)"),
        ({"turn": 9}, r"turn=9.*turns recorded: 0"),
    ],
)
def test_bad_views_are_clear_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(SimulatorError, match=message):
        strategies_figure(hand_worked(), title="t", **kwargs)


def test_an_empty_run_still_plots(tmp_path: Path) -> None:
    png, _ = plot_strategies({"nothing": Timeline()}, tmp_path / "e", title="t")
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_no_runs_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SimulatorError, match=r"runs=\{\}"):
        plot_strategies({}, tmp_path / "x", title="t")


# Savings ----------------------------------------------------------------------


def test_savings_distribution_with_few_and_many_points(tmp_path: Path) -> None:
    few = [0.1 * i for i in range(20)]
    many = [(i % 40) * 0.05 for i in range(400)]
    png, svg = plot_savings_distribution(
        {"short session": few, "long session": many, "no tools": []},
        tmp_path / "savings",
        title="saving per iteration",
    )
    assert png.read_bytes()[:8] == PNG_MAGIC
    texts = svg_texts(svg)
    assert {"short session", "long session", "no tools"} <= set(texts)
    # medians: few is 0.0..1.9 -> (0.9 + 1.0) / 2; many has each of 0..1.95
    # ten times -> (0.95 + 1.0) / 2. Savings above 0: 19 of few; many is 0 for
    # every i divisible by 40, ten of them
    assert "n=20, 19 saved, median 0.95 s" in texts
    assert "n=400, 390 saved, median 0.975 s" in texts
    assert "no iterations" in texts
    assert "saving per iteration (s)" in texts


def test_savings_as_fractions_are_shown_in_percent() -> None:
    fig = savings_figure({"s": [0.1, 0.2, 0.3]}, title="t", unit="fraction")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "saving per iteration (%)"
    texts = [t.get_text() for t in ax.texts]
    assert "n=3, 3 saved, median 20 %" in texts


def test_savings_bad_unit(tmp_path: Path) -> None:
    with pytest.raises(SimulatorError, match="unit='ms'"):
        plot_savings_distribution({"s": [1.0]}, tmp_path / "x", title="t", unit="ms")


def test_import_does_not_load_matplotlib() -> None:
    code = "import sys, simulator._plot; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 100), st.integers(0, 30)), min_size=0, max_size=40
    )
)
def test_pack_rows_never_overlaps_and_uses_the_fewest_rows(
    pairs: list[tuple[int, int]],
) -> None:
    """Rows never hold two overlapping intervals, and there are exactly as many
    rows as intervals overlap at the busiest moment (the least possible). An
    empty interval counts as one unit long."""
    intervals = [(start, start + length) for start, length in pairs]
    rows = pack_rows(intervals)
    held = [(s, max(e, s + 1)) for s, e in intervals]
    for i, (a0, a1) in enumerate(held):
        for j, (b0, b1) in enumerate(held[:i]):
            if rows[i] == rows[j]:
                assert a1 <= b0 or b1 <= a0
    busiest = max((sum(1 for s, e in held if s <= t < e) for t, _ in held), default=0)
    assert len(set(rows)) == busiest
