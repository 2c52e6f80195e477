"""A small text picture of a turn, for assertion messages and terminals.

Pure string work on a :class:`~simulator.Timeline`: no matplotlib, cheap to
import from the pytest plugin. One row per phase and per tool call::

    overlapped, turn 0: 0.000 s to 4.300 s, one column = 0.100 s
      time (s)  |0         1         2         3         4  |
      stream    |[----=========================]            |  send 0.000 ...
    * B write   |                       [==================]|  call 2.300 ...

Times are those recorded, in seconds, printed to the millisecond, or to the
nanosecond when they are not whole milliseconds (so two times that differ by
one nanosecond never print alike).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from ._errors import SimulatorError
from ._timeline import NS, Instant, Span, Timeline

__all__ = ["format_ns", "render_text_timeline"]

_FILL = {"ok": "=", "error": "x", "timeout": "!", "cancelled": "/"}
_KEY = (
    ("=", "[==] running"),
    ("-", "- before first token"),
    (">", "> call complete"),
    (".", ". waiting to start"),
    ("~", "~ result processing"),
    ("x", "x error"),
    ("!", "! timeout"),
    ("/", "/ cancelled"),
    ("v", "v hand-back"),
)
_SCALE_LABEL = "time (s)"
_MAX_LABEL = 20
_MIN_TICK_GAP = 8


def format_ns(ns: int) -> str:
    """Seconds with three decimals, or as many as needed down to the nanosecond.

    Args:
        ns: a time in integer nanoseconds.

    Returns:
        ``"1.900"`` for 1_900_000_000; ``"1.9000001"`` for 1_900_000_100.
    """
    sign = "-" if ns < 0 else ""
    whole, frac = divmod(abs(int(ns)), NS)
    digits = f"{frac:09d}".rstrip("0").ljust(3, "0")
    return f"{sign}{whole}.{digits}"


@dataclass
class _Row:
    """One line of the picture: its label, its cells and a note after it."""

    label: str
    cells: list[str]
    note: str = ""
    marked: bool = False


@dataclass(frozen=True)
class _Scale:
    """Maps times to columns: ``columns`` cells cover ``[t0, t1]``."""

    t0: int
    t1: int
    columns: int

    def col(self, ns: int) -> int:
        c = (ns - self.t0) * self.columns // (self.t1 - self.t0)
        return min(max(c, 0), self.columns - 1)

    def end_col(self, ns: int) -> int:
        """The column in which something ending at ``ns`` ends."""
        c = -(-(ns - self.t0) * self.columns // (self.t1 - self.t0)) - 1
        return min(max(c, 0), self.columns - 1)

    def cols(self, start: int, end: int) -> tuple[int, int]:
        first = self.col(start)
        return first, max(self.end_col(end), first)


def render_text_timeline(
    timeline: Timeline,
    *,
    turn: int | None = None,
    width: int = 72,
    highlight: str | Collection[str] | Mapping[str, str] | None = None,
    max_tools: int = 40,
) -> str:
    """Draw a turn (or a whole timeline) as text, one row per phase and call.

    Rows: ``request`` (when it took time), ``stream`` (``-`` before the first
    token, ``=`` after), one row per tool call in call order (``>`` where its
    call completed, ``.`` while it waited, ``[==]`` while it ran, filled with
    ``x``/``!``/``/`` for an error, timeout or cancel, ``~`` for result
    processing) and ``hand back`` (``v``, in the column where what it waited
    for ended). Column ``c`` covers ``[t0 + c*dt, t0 + (c+1)*dt)``. Each row
    ends with the exact times. A key lists the symbols used.

    Args:
        timeline: a run's timeline in the usual conventions.
        turn: draw only this turn, from its start to its hand-back; None draws
            everything recorded.
        width: characters of each chart line, gutter and label included (at
            least enough for 10 columns); the times follow to the right.
        highlight: call ids whose rows are marked with ``*``; a mapping from
            call id to a note also prints the note on that row.
        max_tools: at most this many tool rows: the highlighted calls, then
            the earliest others; a last line counts the calls left out.

    Returns:
        The picture, lines joined by newlines, no trailing newline.

    Raises:
        SimulatorError: ``turn`` is not in the timeline.
    """
    notes = _notes(highlight)
    spans, instants, t0, t1 = _select(timeline, turn)
    labels = [_SCALE_LABEL, "request", "stream", "hand back"]
    all_lanes = _tool_lanes(spans, instants)
    in_view = {_call_id(lane, spans) for lane in all_lanes}
    tool_lanes = _shown(all_lanes, spans, notes, max_tools)
    labels += [_tool_label(lane, spans) for lane in tool_lanes]
    label_width = min(max(len(x) for x in labels), _MAX_LABEL)
    scale = _Scale(t0, max(t1, t0 + 1), max(10, width - label_width - 5))
    rows = _model_rows(spans, instants, scale)
    for lane in tool_lanes:
        rows.append(_tool_row(lane, spans, instants, scale, notes))
    rows += _hand_back_rows(instants, scale)
    lines = [_title(timeline, turn, scale), _scale_line(scale, label_width)]
    lines += [_line(row, label_width) for row in rows]
    lines.append(_key(rows))
    hidden = len(all_lanes) - len(tool_lanes)
    if hidden:
        lines.append(
            f"  ... {hidden} more tool calls not shown; pass turn= to narrow the "
            f"view or max_tools= to show more"
        )
    missing = sorted(set(notes) - in_view)
    if missing:
        lines.append(f"  highlighted but not in this view: {', '.join(missing)}")
    return "\n".join(lines)


# Choosing what to draw ------------------------------------------------------


def _notes(
    highlight: str | Collection[str] | Mapping[str, str] | None,
) -> dict[str, str]:
    if highlight is None:
        return {}
    if isinstance(highlight, str):
        return {highlight: ""}
    if isinstance(highlight, Mapping):
        return {str(k): str(v) for k, v in highlight.items()}
    return {str(k): "" for k in highlight}


def _select(
    timeline: Timeline, turn: int | None
) -> tuple[list[Span], list[Instant], int, int]:
    """The records to draw and the time range they are drawn over."""
    if turn is None:
        spans, instants = list(timeline.spans), list(timeline.instants)
        times = [s.start_ns for s in spans] + [i.at_ns for i in instants]
        return spans, instants, min(times, default=0), timeline.end_ns()
    spans = [s for s in timeline.spans if s.attrs.get("turn") == turn]
    instants = [i for i in timeline.instants if i.attrs.get("turn") == turn]
    window = next((s for s in spans if s.name == "turn"), None)
    if window is not None:
        return spans, instants, window.start_ns, window.end_ns
    if not spans and not instants:
        known = list(
            dict.fromkeys(
                str(s.attrs["turn"]) for s in timeline.spans if "turn" in s.attrs
            )
        )
        listed = ", ".join(known[:20]) + (", ..." if known[20:] else "")
        raise SimulatorError(
            f"turn={turn!r}: no span or instant of the timeline has attrs "
            f"turn={turn!r} (turns recorded: {listed or 'none'}); pass "
            f"one of those, or turn=None to draw the whole timeline"
        )
    times = [s.start_ns for s in spans] + [i.at_ns for i in instants]
    ends = [s.end_ns for s in spans] + [i.at_ns for i in instants]
    return spans, instants, min(times), max(ends)


def _tool_lanes(spans: list[Span], instants: list[Instant]) -> list[str]:
    """Tool lanes in call order: by call complete, else by first start."""
    complete = {
        str(i.attrs.get("call_id")): i.at_ns
        for i in instants
        if i.name == "call_complete"
    }
    first: dict[str, int] = {}
    for s in spans:
        if s.name in ("tool", "result"):
            first.setdefault(s.lane, s.start_ns)
    order = list(first)
    return sorted(
        order,
        key=lambda lane: (
            complete.get(_call_id(lane, spans), first[lane]),
            order.index(lane),
        ),
    )


def _shown(
    lanes: list[str], spans: list[Span], notes: Mapping[str, str], limit: int
) -> list[str]:
    """The lanes to draw: all when few, else highlighted ones and the earliest."""
    if len(lanes) <= limit:
        return lanes
    keep = {lane for lane in lanes if _call_id(lane, spans) in notes}
    for lane in lanes:
        if len(keep) >= limit:
            break
        keep.add(lane)
    return [lane for lane in lanes if lane in keep]


def _call_id(lane: str, spans: list[Span]) -> str:
    for s in spans:
        if s.lane == lane and "call_id" in s.attrs:
            return str(s.attrs["call_id"])
    return lane.removeprefix("tool ")


def _tool_label(lane: str, spans: list[Span]) -> str:
    name = next(
        (str(s.attrs["name"]) for s in spans if s.lane == lane and "name" in s.attrs),
        "",
    )
    call_id = _call_id(lane, spans)
    return call_id if name in ("", call_id) else f"{call_id} {name}"


# Rows -------------------------------------------------------------------------


def _bar(cells: list[str], first: int, last: int, fill: str) -> None:
    for c in range(first, last + 1):
        cells[c] = fill
    if last - first >= 1:
        cells[first], cells[last] = "[", "]"


def _model_rows(
    spans: list[Span], instants: list[Instant], scale: _Scale
) -> list[_Row]:
    requests = [s for s in spans if s.name == "request" and s.end_ns > s.start_ns]
    streams = [s for s in spans if s.name == "stream"]
    firsts = {i.attrs.get("turn"): i.at_ns for i in instants if i.name == "first_token"}
    rows = []
    if requests:
        row = _Row("request", [" "] * scale.columns)
        for s in requests:
            _bar(row.cells, *scale.cols(s.start_ns, s.end_ns), "=")
        if len(requests) == 1:
            r = requests[0]
            row.note = f"start {format_ns(r.start_ns)} send {format_ns(r.end_ns)}"
        rows.append(row)
    if streams:
        row = _Row("stream", [" "] * scale.columns)
        for s in streams:
            _stream_cells(row.cells, s, firsts.get(s.attrs.get("turn")), scale)
        if len(streams) == 1:
            row.note = _stream_note(
                streams[0], firsts.get(streams[0].attrs.get("turn"))
            )
        rows.append(row)
    return rows


def _stream_cells(
    cells: list[str], span: Span, first_token: int | None, scale: _Scale
) -> None:
    first, last = scale.cols(span.start_ns, span.end_ns)
    _bar(cells, first, last, "=")
    if first_token is not None and span.start_ns < first_token:
        for c in range(first + 1, min(scale.col(first_token), last)):
            cells[c] = "-"


def _stream_note(span: Span, first_token: int | None) -> str:
    note = f"send {format_ns(span.start_ns)}"
    if first_token is not None:
        note += f" first {format_ns(first_token)}"
    return note + f" end {format_ns(span.end_ns)}"


def _tool_row(
    lane: str,
    spans: list[Span],
    instants: list[Instant],
    scale: _Scale,
    notes: Mapping[str, str],
) -> _Row:
    call_id = _call_id(lane, spans)
    row = _Row(_tool_label(lane, spans), [" "] * scale.columns)
    tools = [s for s in spans if s.lane == lane and s.name == "tool"]
    results = [s for s in spans if s.lane == lane and s.name == "result"]
    complete = next(
        (
            i.at_ns
            for i in instants
            if i.name == "call_complete" and str(i.attrs.get("call_id")) == call_id
        ),
        None,
    )
    if complete is not None and tools:
        _waiting_cells(row.cells, scale, complete, tools[0].start_ns)
    for s in tools:
        fill = _FILL.get(str(s.attrs.get("outcome", "ok")), "=")
        _bar(row.cells, *scale.cols(s.start_ns, s.end_ns), fill)
    if complete is not None and tools and complete > tools[0].start_ns:
        row.cells[scale.col(complete)] = ">"
    for s in results:
        first, last = scale.cols(s.start_ns, s.end_ns)
        for c in range(first, last + 1):
            if row.cells[c] == " ":
                row.cells[c] = "~"
    row.note = _tool_note(tools, results, complete)
    if call_id in notes:
        row.marked = True
        if notes[call_id]:
            row.note += f"  <- {notes[call_id]}"
    return row


def _waiting_cells(cells: list[str], scale: _Scale, complete: int, start: int) -> None:
    """``>`` at the call complete, then ``.`` until the tool starts."""
    if complete > start:
        return
    first, begin = scale.col(complete), scale.col(start)
    if first == begin:
        return
    cells[first] = ">"
    for c in range(first + 1, begin):
        cells[c] = "."


def _tool_note(tools: list[Span], results: list[Span], complete: int | None) -> str:
    parts = [] if complete is None else [f"call {format_ns(complete)}"]
    if len(tools) == 1:
        tool = tools[0]
        parts.append(f"start {format_ns(tool.start_ns)} end {format_ns(tool.end_ns)}")
        outcome = str(tool.attrs.get("outcome", "ok"))
        if outcome != "ok":
            parts.append(outcome)
    elif tools:
        parts.append(f"{len(tools)} runs")
    if len(results) == 1:
        parts.append(f"ready {format_ns(results[0].end_ns)}")
    return " ".join(parts)


def _hand_back_rows(instants: list[Instant], scale: _Scale) -> list[_Row]:
    backs = [i for i in instants if i.name == "hand_back"]
    if not backs:
        return []
    row = _Row("hand back", [" "] * scale.columns)
    for i in backs:
        row.cells[scale.end_col(i.at_ns)] = "v"
    if len(backs) == 1:
        ids = backs[0].attrs.get("call_ids") or []
        order = ", ".join(str(x) for x in ids) if ids else "no results"
        row.note = f"at {format_ns(backs[0].at_ns)}: {order}"
    return [row]


# Lines ------------------------------------------------------------------------


def _title(timeline: Timeline, turn: int | None, scale: _Scale) -> str:
    head = str(timeline.meta.get("strategy", "timeline"))
    if turn is not None:
        head += f", turn {turn}"
    step = (scale.t1 - scale.t0) / scale.columns / NS
    return (
        f"{head}: {format_ns(scale.t0)} s to {format_ns(scale.t1)} s, "
        f"one column = {step:.3g} s"
    )


def _tick_step(scale: _Scale) -> int:
    """The smallest 1-2-5 step in ns whose ticks are far enough apart."""
    span = scale.t1 - scale.t0
    for exponent in range(0, 16):
        for mantissa in (1, 2, 5):
            step = mantissa * int(10**exponent)
            if step * scale.columns >= _MIN_TICK_GAP * span:
                return step
    return 10**16


def _tick_text(tick: int, step: int) -> str:
    decimals = 0
    while step * 10**decimals < NS:
        decimals += 1
    whole, frac = divmod(abs(tick), NS)
    sign = "-" if tick < 0 else ""
    if decimals == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{f'{frac:09d}'[:decimals]}"


def _scale_line(scale: _Scale, label_width: int) -> str:
    step = _tick_step(scale)
    cells = [" "] * scale.columns
    tick = -(-scale.t0 // step) * step
    free_from = 0
    while tick <= scale.t1:
        col = (tick - scale.t0) * scale.columns // (scale.t1 - scale.t0)
        text = _tick_text(tick, step)
        if col >= free_from and col + len(text) <= scale.columns:
            cells[col : col + len(text)] = list(text)
            free_from = col + len(text) + 1
        tick += step
    return f"  {_SCALE_LABEL:<{label_width}} |{''.join(cells)}|"


def _line(row: _Row, label_width: int) -> str:
    gutter = "* " if row.marked else "  "
    label = row.label[:label_width].ljust(label_width)
    text = f"{gutter}{label} |{''.join(row.cells)}|"
    return f"{text}  {row.note}" if row.note else text


def _key(rows: list[_Row]) -> str:
    used = set()
    for row in rows:
        used.update(row.cells)
    if "[" in used:
        used.add("=")
    entries = [text for symbol, text in _KEY if symbol in used]
    if any(row.marked for row in rows):
        entries.append("* highlighted")
    return "  key: " + ", ".join(entries)
