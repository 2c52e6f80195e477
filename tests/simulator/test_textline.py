"""The text timeline: exact pictures of the hand-worked turn and of faults."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import SimulatorError, Timeline
from simulator._textline import format_ns, render_text_timeline
from simulator._timeline import Instant, Span

S = 1_000_000_000
MS = 1_000_000


def ns(seconds: float) -> int:
    return round(seconds * S)


def hand_worked(
    strategy: str,
    tools: dict[str, tuple[float, float]],
    end: float,
    *,
    outcomes: dict[str, str] | None = None,
) -> Timeline:
    """The hand-worked turn: TTFT 0.5 s, A complete 1.9 s, B 2.3 s, end 3.1 s."""
    outcomes = outcomes or {}
    tl = Timeline()
    tl.meta = {"scenario": "hand-worked", "strategy": strategy}
    tl.add_span("turn", "turn", 0, ns(end), turn=0)
    tl.add_span("request", "model", 0, 0, turn=0)
    tl.add_span("stream", "model", 0, ns(3.1), turn=0)
    tl.add_instant("first_token", "model", ns(0.5), turn=0)
    for call_id, name, done in (("A", "read", 1.9), ("B", "write", 2.3)):
        attrs = {"turn": 0, "call_id": call_id, "name": name}
        tl.instants.append(Instant("call_complete", "model", ns(done), attrs))
    for call_id, (start, stop) in tools.items():
        attrs = {
            "turn": 0,
            "call_id": call_id,
            "name": {"A": "read", "B": "write"}[call_id],
            "outcome": outcomes.get(call_id, "ok"),
        }
        tl.spans.append(Span("tool", f"tool {call_id}", ns(start), ns(stop), attrs))
    tl.add_instant("hand_back", "harness", ns(end), turn=0, call_ids=["A", "B"])
    return tl


OVERLAPPED = {"A": (1.9, 2.9), "B": (2.3, 4.3)}
SEQUENTIAL = {"A": (3.1, 4.1), "B": (4.1, 6.1)}


def test_format_ns_prints_milliseconds_or_every_needed_digit() -> None:
    assert format_ns(1_900_000_000) == "1.900"
    assert format_ns(0) == "0.000"
    assert format_ns(1_900_000_100) == "1.9000001"
    assert format_ns(1_000_000_001) == "1.000000001"
    assert format_ns(-5 * MS) == "-0.005"
    assert format_ns(123_456_700_000_000) == "123456.700"


def test_overlapped_hand_worked_turn_exact_picture() -> None:
    # width 57, widest label "hand back" (9): 57 - 9 - 5 = 43 columns over
    # 4.3 s, so one column is 0.1 s: A runs in columns 19..28, B in 23..42.
    text = render_text_timeline(
        hand_worked("overlapped", OVERLAPPED, 4.3), turn=0, width=57, highlight="B"
    )
    assert text == "\n".join(
        [
            "overlapped, turn 0: 0.000 s to 4.300 s, one column = 0.1 s",
            "  time (s)  |0         1         2         3         4  |",
            "  stream    |[----=========================]            |"
            "  send 0.000 first 0.500 end 3.100",
            "  A read    |                   [========]              |"
            "  call 1.900 start 1.900 end 2.900",
            "* B write   |                       [==================]|"
            "  call 2.300 start 2.300 end 4.300",
            "  hand back |                                          v|  at 4.300: A, B",
            "  key: [==] running, - before first token, v hand-back, * highlighted",
        ]
    )


def test_sequential_hand_worked_turn_shows_the_wait_after_call_complete() -> None:
    # 61 columns over 6.1 s: A completes at column 19 and waits until 31 (3.1 s);
    # B completes at 23 and waits until A ends at column 41 (4.1 s).
    text = render_text_timeline(
        hand_worked("sequential", SEQUENTIAL, 6.1),
        turn=0,
        width=75,
        highlight={"B": "starts after A ends"},
    )
    lines = text.splitlines()
    assert lines[0] == "sequential, turn 0: 0.000 s to 6.100 s, one column = 0.1 s"
    assert lines[1] == "  time (s)  |" + "".join(f"{n:<10}" for n in range(6)) + "6|"
    assert lines[3] == (
        "  A read    |"
        + " " * 19
        + ">"
        + "." * 11
        + "["
        + "=" * 8
        + "]"
        + " " * 20
        + "|  call 1.900 start 3.100 end 4.100"
    )
    assert lines[4] == (
        "* B write   |"
        + " " * 23
        + ">"
        + "." * 17
        + "["
        + "=" * 18
        + "]"
        + "|  call 2.300 start 4.100 end 6.100  <- starts after A ends"
    )
    assert "> call complete, . waiting to start" in lines[-1]


@pytest.mark.parametrize("width", [40, 72, 120])
def test_every_chart_line_is_exactly_width_characters(width: int) -> None:
    text = render_text_timeline(
        hand_worked("parallel", {"A": (3.1, 4.1), "B": (3.1, 5.1)}, 5.1),
        turn=0,
        width=width,
    )
    chart = [line for line in text.splitlines()[1:] if "|" in line]
    assert len(chart) == 5
    assert [len(line[: line.rindex("|") + 1]) for line in chart] == [width] * 5


def test_tool_started_before_its_call_complete_is_visible() -> None:
    # B starts at 2.0 s but its call completes at 2.3 s: the '>' lands inside
    # the bar, three columns after its start, and the times say so.
    tl = hand_worked("broken", {"A": (1.9, 2.9), "B": (2.0, 4.0)}, 4.3)
    text = render_text_timeline(tl, turn=0, width=57, highlight={"B": "too early"})
    row = next(line for line in text.splitlines() if "B write" in line)
    cells = row.split("|")[1]
    assert cells[20] == "[" and cells[23] == ">"
    assert row.endswith("call 2.300 start 2.000 end 4.000  <- too early")


def test_outcomes_use_their_own_fill_and_appear_in_the_key() -> None:
    tl = hand_worked(
        "overlapped",
        {"A": (1.9, 2.9), "B": (2.3, 4.3)},
        4.3,
        outcomes={"A": "error", "B": "timeout"},
    )
    text = render_text_timeline(tl, turn=0, width=57)
    a_row = next(line for line in text.splitlines() if "A read" in line)
    b_row = next(line for line in text.splitlines() if "B write" in line)
    assert "[xxxxxxxx]" in a_row and a_row.endswith("end 2.900 error")
    assert "[" + "!" * 18 + "]" in b_row and b_row.endswith("timeout")
    assert "x error" in text and "! timeout" in text


def test_cancelled_tool_and_result_processing() -> None:
    tl = hand_worked("overlapped", {"A": (1.9, 2.4)}, 4.3, outcomes={"A": "cancelled"})
    tl.spans.append(
        Span("result", "tool A", ns(2.4), ns(2.9), {"turn": 0, "call_id": "A"})
    )
    text = render_text_timeline(tl, turn=0, width=57)
    row = next(line for line in text.splitlines() if "A read" in line)
    # tool in columns 19..23, result processing 24..28
    assert row.split("|")[1][19:29] == "[///]~~~~~"
    assert row.endswith("start 1.900 end 2.400 cancelled ready 2.900")
    assert "/ cancelled" in text and "~ result processing" in text


def test_request_row_when_request_takes_time_and_whole_timeline_view() -> None:
    tl = Timeline()
    for turn, start in ((0, 0.0), (1, 2.0)):
        tl.add_span("turn", "turn", ns(start), ns(start + 2.0), turn=turn)
        tl.add_span("request", "model", ns(start), ns(start + 0.5), turn=turn)
        tl.add_span("stream", "model", ns(start + 0.5), ns(start + 2.0), turn=turn)
        tl.add_instant("hand_back", "harness", ns(start + 2.0), turn=turn)
    text = render_text_timeline(tl, width=54)
    lines = text.splitlines()
    # 54 - 9 - 5 = 40 columns over 4 s: 0.1 s each
    assert lines[0] == "timeline: 0.000 s to 4.000 s, one column = 0.1 s"
    assert lines[2] == "  request   |[===]               [===]               |"
    assert lines[3] == "  stream    |     [=============]     [=============]|"
    assert lines[4] == "  hand back |                   v                   v|"
    one = render_text_timeline(tl, turn=1, width=54).splitlines()
    assert one[2].endswith("start 2.000 send 2.500")


def test_unknown_turn_names_the_turns_that_exist() -> None:
    tl = hand_worked("overlapped", OVERLAPPED, 4.3)
    with pytest.raises(SimulatorError, match=r"turn=5.*turns recorded: 0"):
        render_text_timeline(tl, turn=5)


def test_highlight_of_a_call_not_in_view_is_reported() -> None:
    tl = hand_worked("overlapped", OVERLAPPED, 4.3)
    text = render_text_timeline(tl, turn=0, highlight=["A", "Z"])
    assert text.splitlines()[-1] == "  highlighted but not in this view: Z"
    assert any(line.startswith("* A read") for line in text.splitlines())


def test_timelines_one_nanosecond_apart_print_differently() -> None:
    early = hand_worked("overlapped", OVERLAPPED, 4.3)
    late = hand_worked("overlapped", {"A": (1.9, 2.9), "B": (2.3, 4.3)}, 4.3)
    late.spans[-1] = Span(
        "tool", "tool B", ns(2.3) + 1, ns(4.3), dict(late.spans[-1].attrs)
    )
    assert "start 2.300 " in render_text_timeline(early, turn=0)
    assert "start 2.300000001 " in render_text_timeline(late, turn=0)


def test_import_does_not_load_matplotlib() -> None:
    code = "import sys, simulator._textline; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def many_calls(n: int) -> Timeline:
    """One turn with n one-second calls, call i completing and starting at i s."""
    tl = Timeline()
    tl.add_span("turn", "turn", 0, ns(n + 1.0), turn=0)
    for i in range(n):
        attrs = {"turn": 0, "call_id": f"c{i}", "name": "t"}
        tl.instants.append(Instant("call_complete", "model", ns(i), attrs))
        tl.spans.append(Span("tool", f"tool c{i}", ns(i), ns(i + 1.0), attrs))
    return tl


def test_long_turns_show_the_highlighted_and_earliest_calls() -> None:
    text = render_text_timeline(many_calls(50), turn=0, max_tools=5, highlight="c42")
    rows = [line[2:].split(" ")[0] for line in text.splitlines() if " t " in line]
    assert rows == ["c0", "c1", "c2", "c3", "c42"]
    assert text.splitlines()[-1] == (
        "  ... 45 more tool calls not shown; pass turn= to narrow the view or "
        "max_tools= to show more"
    )


timelines = st.lists(
    st.tuples(
        st.integers(0, 10_000),
        st.integers(0, 10_000),
        st.sampled_from(["ok", "error", "timeout", "cancelled"]),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=50, deadline=None)
@given(tools=timelines, width=st.integers(10, 140))
def test_any_turn_draws_a_grid_of_the_given_width(
    tools: list[tuple[int, int, str]], width: int
) -> None:
    """Random tool spans (in ms): every chart line is exactly ``width`` wide and
    each tool's bar covers the column of its start and of its end."""
    tl = Timeline()
    end = max(max(a, b) for a, b, _ in tools) + 1
    tl.add_span("turn", "turn", 0, end * MS, turn=0)
    for i, (a, b, outcome) in enumerate(tools):
        start, stop = sorted((a, b))
        attrs = {"turn": 0, "call_id": f"c{i}", "outcome": outcome}
        tl.spans.append(Span("tool", f"tool c{i}", start * MS, stop * MS, attrs))
    text = render_text_timeline(tl, turn=0, width=width)
    chart = [line for line in text.splitlines()[1:] if "|" in line]
    assert len(chart) == 1 + len(tools)
    # rows go in order of start (no call completes here), ties in given order
    in_order = sorted(tools, key=lambda t: min(t[0], t[1]))
    for line, (a, b, _) in zip(chart[1:], in_order, strict=True):
        chart_part = line[: line.rindex("|") + 1]
        # labels are at most 9 wide ("hand back"), and there are >= 10 columns
        assert len(chart_part) == max(width, 9 + 5 + 10)
        cells = chart_part[chart_part.index("|") + 1 : -1]
        columns = len(cells)
        start, stop = sorted((a, b))
        first = min(start * columns // end, columns - 1)
        assert cells[first] != " "
        assert cells.strip(" ")[0] in "[=x!/"
