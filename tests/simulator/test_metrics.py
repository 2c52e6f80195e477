"""Metrics read from timelines whose numbers are worked out by hand."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator._bound import schedule_session
from simulator._metrics import (
    TimelineError,
    session_metrics,
    speedup,
    turn_metrics,
)
from simulator._oracle import oracle_timeline
from simulator._scenario import Block, Fault, Scenario, ToolCall, Turn
from simulator._scenario_io import bundled_scenarios, load_scenario
from simulator._timeline import Timeline

MS = 1_000_000


def hand_worked_scenario(*, think: float = 0.0) -> Scenario:
    """The hand-worked turn: A complete 1.9 s, B 2.3 s, stream end 3.1 s."""
    blocks = (
        Block("text", 50),
        Block("tool_call", 20, ToolCall("A", "read", 20, 1.0)),
        Block("tool_call", 20, ToolCall("B", "grep", 20, 2.0)),
        Block("text", 40),
    )
    return Scenario("hand-worked", (Turn(blocks=blocks, think_time=think),))


def hand_timeline(
    strategy: str, tools: dict[str, tuple[int, int]], end: int
) -> Timeline:
    """A one-turn run written by hand, times in milliseconds."""
    tl = Timeline()
    tl.meta = {"scenario": "hand-worked", "strategy": strategy, "backend": "trio"}
    tl.add_span("turn", "turn", 0, end * MS, turn=0)
    tl.add_span("request", "model", 0, 0, turn=0)
    tl.add_span("stream", "model", 0, 3100 * MS, turn=0)
    tl.add_instant("first_token", "model", 500 * MS, turn=0)
    tl.add_instant("call_complete", "model", 1900 * MS, turn=0, call_id="A")
    tl.add_instant("call_complete", "model", 2300 * MS, turn=0, call_id="B")
    for call_id, (start, stop) in tools.items():
        tl.add_span(
            "tool", f"tool {call_id}", start * MS, stop * MS, turn=0, call_id=call_id
        )
    tl.add_instant("hand_back", "harness", end * MS, turn=0, call_ids=["A", "B"])
    return tl


SEQUENTIAL = hand_timeline("sequential", {"A": (3100, 4100), "B": (4100, 6100)}, 6100)
PARALLEL = hand_timeline("parallel", {"A": (3100, 4100), "B": (3100, 5100)}, 5100)
OVERLAPPED = hand_timeline("overlapped", {"A": (1900, 2900), "B": (2300, 4300)}, 4300)


def test_hand_worked_turn_metrics() -> None:
    scenario = hand_worked_scenario()
    (seq,) = turn_metrics(SEQUENTIAL, scenario)
    (ovl,) = turn_metrics(OVERLAPPED, scenario)
    assert (seq.iteration_ns, ovl.iteration_ns) == (6100 * MS, 4300 * MS)
    assert (seq.request_ns, seq.stream_ns) == (0, 3100 * MS)
    # tail: hand-back minus stream end
    assert (seq.tools_tail_ns, ovl.tools_tail_ns) == (3000 * MS, 1200 * MS)
    # sequential: A waits 3.1 - 1.9, B waits 4.1 - 2.3; overlapped: no waits
    assert seq.tool_wait_ns == {"A": 1200 * MS, "B": 1800 * MS}
    assert ovl.tool_wait_ns == {"A": 0, "B": 0}
    # overlap with the stream [0, 3.1]: A 1.9-2.9 whole, B 2.3-3.1 = 0.8 s
    assert (seq.overlap_ns, ovl.overlap_ns) == (0, 1800 * MS)
    assert seq.tool_busy_ns == ovl.tool_busy_ns == 3000 * MS
    # bound 4.3 s: overlapped is on it, sequential 1.8 s above
    assert ovl.bound_ns == 4300 * MS
    assert (seq.distance_from_bound_ns, ovl.distance_from_bound_ns) == (1800 * MS, 0)


def test_speedups_of_the_hand_worked_turn() -> None:
    scenario = hand_worked_scenario(think=7.0)
    seq = session_metrics(SEQUENTIAL, scenario)
    par = session_metrics(PARALLEL, scenario, baseline=seq)
    ovl = session_metrics(OVERLAPPED, scenario, baseline=seq)
    assert seq.speedup is None
    assert par.speedup == pytest.approx(6.1 / 5.1)
    assert ovl.speedup == pytest.approx(6.1 / 4.3)  # 1.4186...
    assert speedup(seq, ovl) == ovl.speedup
    assert (ovl.session_ns, ovl.iteration_sum_ns) == (4300 * MS, 4300 * MS)
    assert ovl.think_ns == 7000 * MS  # reported apart, not in the session time
    assert ovl.bound_ns == 4300 * MS and ovl.distance_from_bound_ns == 0
    assert (ovl.strategy, ovl.feed_forward) == ("overlapped", False)
    assert ovl.to_dict()["turns"][0]["overlap_ns"] == 1800 * MS


def two_turn_scenario() -> Scenario:
    """Turn 0: hand-worked, request overhead 0.1 s, results of 500 and 1000
    tokens prefilled at 1000 tok/s; turn 1: overhead 0.1 s, 25 text tokens,
    12 s of think time before it."""
    blocks = (
        Block("text", 50),
        Block("tool_call", 20, ToolCall("A", "read", 20, 1.0, result_tokens=500)),
        Block("tool_call", 20, ToolCall("B", "grep", 20, 2.0, result_tokens=1000)),
        Block("text", 40),
    )
    first = Turn(blocks=blocks, request_overhead=0.1, prefill_tokens_per_second=1000.0)
    second = Turn(blocks=(Block("text", 25),), request_overhead=0.1, think_time=12.0)
    return Scenario("two-turn", (first, second))


def two_turn_timeline() -> Timeline:
    """Overlapped, barrier prefill: send0 0.1, A 2.0-3.0, B 2.4-4.4, H0 4.4;
    request 1 4.4-6.0 (0.1 overhead + 1.5 prefill), stream 6.0-7.0."""
    tl = Timeline()
    tl.meta = {"scenario": "two-turn", "strategy": "overlapped"}
    tl.add_span("turn", "turn", 0, 4400 * MS, turn=0)
    tl.add_span("request", "model", 0, 100 * MS, turn=0)
    tl.add_span("stream", "model", 100 * MS, 3200 * MS, turn=0)
    tl.add_instant("call_complete", "model", 2000 * MS, turn=0, call_id="A")
    tl.add_instant("call_complete", "model", 2400 * MS, turn=0, call_id="B")
    tl.add_span("tool", "tool A", 2000 * MS, 3000 * MS, turn=0, call_id="A")
    tl.add_span("tool", "tool B", 2400 * MS, 4400 * MS, turn=0, call_id="B")
    tl.add_instant("hand_back", "harness", 4400 * MS, turn=0, call_ids=["A", "B"])
    tl.add_span("turn", "turn", 4400 * MS, 7000 * MS, turn=1)
    tl.add_span("request", "model", 4400 * MS, 6000 * MS, turn=1)
    tl.add_span("stream", "model", 6000 * MS, 7000 * MS, turn=1)
    tl.add_instant("hand_back", "harness", 7000 * MS, turn=1, call_ids=[])
    return tl


def test_two_turn_session_with_prefill() -> None:
    metrics = session_metrics(two_turn_timeline(), two_turn_scenario())
    first, second = metrics.turns
    assert (first.iteration_ns, second.iteration_ns) == (4400 * MS, 2600 * MS)
    assert (first.request_ns, second.request_ns) == (100 * MS, 1600 * MS)
    assert (second.stream_ns, second.tools_tail_ns) == (1000 * MS, 0)
    assert first.overlap_ns == 1000 * MS + 800 * MS  # stream ends at 3.2
    assert (metrics.session_ns, metrics.iteration_sum_ns) == (7000 * MS, 7000 * MS)
    assert metrics.think_ns == 12_000 * MS
    # barrier bound: 0.1 + 4.3, then 0.1 + 1.5 + 1.0 = 7.0: the run is optimal
    assert metrics.bound_ns == 7000 * MS and metrics.distance_from_bound_ns == 0
    assert metrics.feed_forward is False
    # under the feed-forward model the bound is 6.4 s, so 0.6 s above it
    ff = session_metrics(two_turn_timeline(), two_turn_scenario(), feed_forward=True)
    assert ff.distance_from_bound_ns == 600 * MS


def test_feed_instants_switch_the_bound_to_feed_forward() -> None:
    tl = two_turn_timeline()
    tl.add_instant("feed", "harness", 3000 * MS, turn=0, call_id="A")
    assert session_metrics(tl, two_turn_scenario()).bound_ns == 6400 * MS


def test_strategy_filter_on_a_merged_timeline() -> None:
    merged = Timeline()
    merged.extend(SEQUENTIAL, strategy="sequential")
    merged.extend(OVERLAPPED, strategy="overlapped")
    scenario = hand_worked_scenario()
    with pytest.raises(TimelineError, match="has 2 'turn' spans, expected exactly 1"):
        turn_metrics(merged, scenario)
    (ovl,) = turn_metrics(merged, scenario, strategy="overlapped")
    assert ovl.iteration_ns == 4300 * MS
    assert session_metrics(merged, scenario, strategy="sequential").session_ns == (
        6100 * MS
    )


def test_hang_without_timeout_has_no_bound_and_timeout_gives_one() -> None:
    call = ToolCall("H", "wait", 0, 1.0, fault=Fault("hang"))
    turn = Turn(blocks=(Block("tool_call", 0, call),), ttft=0.0)
    scenario = Scenario("hang", (turn,))
    tl = Timeline()
    tl.add_span("turn", "turn", 0, 2000 * MS, turn=0)
    tl.add_span("request", "model", 0, 0, turn=0)
    tl.add_span("stream", "model", 0, 0, turn=0)
    tl.add_span("tool", "tool H", 0, 2000 * MS, turn=0, call_id="H", outcome="timeout")
    metrics = session_metrics(tl, scenario)
    assert metrics.bound_ns is None and metrics.distance_from_bound_ns is None
    assert metrics.turns[0].bound_ns is None
    tl.meta["tool_timeout"] = 2.0
    assert session_metrics(tl, scenario).bound_ns == 2000 * MS


def test_errors_for_foreign_timelines() -> None:
    with pytest.raises(TimelineError, match="records no turn"):
        turn_metrics(Timeline(), hand_worked_scenario())
    tl = Timeline()
    tl.add_span("turn", "turn", 0, 1, turn=3)
    tl.add_span("request", "model", 0, 0, turn=3)
    tl.add_span("stream", "model", 0, 1, turn=3)
    with pytest.raises(TimelineError, match="has turn 3 but scenario 'hand-worked'"):
        turn_metrics(tl, hand_worked_scenario())
    tl = Timeline()
    tl.add_span("request", "model", 0, 1, turn=0)
    with pytest.raises(TimelineError, match="0 'turn' spans"):
        turn_metrics(tl, hand_worked_scenario())


def test_aborted_runs_have_metrics_but_no_distance() -> None:
    # aborted at 0.3 s, while the request of turn 1 was being built
    scenario = two_turn_scenario()
    tl = two_turn_timeline()
    tl.spans = [s for s in tl.spans if s.attrs["turn"] == 0]
    tl.instants = [i for i in tl.instants if i.attrs["turn"] == 0]
    tl.add_span("turn", "turn", 4400 * MS, 4700 * MS, turn=1)
    tl.add_span("request", "model", 4400 * MS, 4700 * MS, turn=1)
    tl.add_instant("hand_back", "harness", 4700 * MS, turn=1, call_ids=[])
    metrics = session_metrics(tl, scenario)
    first, second = metrics.turns
    assert first.handed_back and first.distance_from_bound_ns == 0
    assert not second.handed_back and second.distance_from_bound_ns is None
    assert (second.request_ns, second.stream_ns, second.iteration_ns) == (
        300 * MS,
        0,
        300 * MS,
    )
    assert metrics.session_ns == 4700 * MS
    assert not metrics.complete and metrics.distance_from_bound_ns is None
    # a whole run marked aborted in its meta (or by the caller) is not complete
    whole = two_turn_timeline()
    assert session_metrics(whole, scenario).complete
    assert not session_metrics(whole, scenario, aborted=True).complete
    whole.meta["aborted"] = True
    assert session_metrics(whole, scenario).distance_from_bound_ns is None


def test_speedup_edge_cases() -> None:
    zero = session_metrics(hand_timeline("x", {}, 0), Scenario("z", (Turn(ttft=0.0),)))
    assert speedup(zero, zero) == 1.0
    seq = session_metrics(SEQUENTIAL, hand_worked_scenario())
    with pytest.raises(ValueError, match="session_ns = 0"):
        speedup(seq, zero)


# --------------------------------------------------------------------------
# the analytic oracle, measured


def test_oracle_timeline_of_the_hand_worked_turn() -> None:
    tl = oracle_timeline(hand_worked_scenario(), "overlapped")
    tools = {s.attrs["call_id"]: (s.start_ns, s.end_ns) for s in tl.spans_named("tool")}
    assert tools == {"A": (1900 * MS, 2900 * MS), "B": (2300 * MS, 4300 * MS)}
    assert tl.meta["backend"] == "analytic"
    (m,) = turn_metrics(tl, hand_worked_scenario())
    assert (m.iteration_ns, m.overlap_ns, m.distance_from_bound_ns) == (
        4300 * MS,
        1800 * MS,
        0,
    )


@pytest.mark.parametrize("name", ["fan-out", "two-call", "hand-worked"])
def test_bundled_speedups(name: str) -> None:
    scenario = load_scenario(bundled_scenarios()[name])
    seq = session_metrics(oracle_timeline(scenario, "sequential"), scenario)
    ovl = session_metrics(
        oracle_timeline(scenario, "overlapped"), scenario, baseline=seq
    )
    expected = {
        # fan-out: planner stream 5.5 s + 8 x 1 s sequential = 13.5 s, overlapped
        # the last search (complete 5.3) ends 6.3 s; answer turn 0.5 + 0.8 s
        "fan-out": (14_800 * MS, 7_600 * MS),
        "hand-worked": (6_100 * MS, 4_300 * MS),
    }
    if name in expected:
        assert (seq.session_ns, ovl.session_ns) == expected[name]
    assert ovl.speedup is not None and ovl.speedup >= 1.0
    assert ovl.distance_from_bound_ns == 0  # uncapped, all shared


@settings(max_examples=30, deadline=None)
@given(
    durations=st.lists(st.integers(0, 3000), min_size=1, max_size=5),
    text=st.integers(0, 60),
    cap=st.none() | st.integers(1, 3),
)
def test_metrics_of_the_oracle_agree_with_the_schedule(
    durations: list[int], text: int, cap: int | None
) -> None:
    calls = [ToolCall(f"c{i}", "t", 10, d / 1000) for i, d in enumerate(durations)]
    blocks = (Block("text", text), *(Block("tool_call", 10, c) for c in calls))
    scenario = Scenario("gen", (Turn(blocks=blocks),), cap)
    for strategy in ("sequential", "parallel", "overlapped"):
        sched = schedule_session(scenario, strategy)  # type: ignore[arg-type]
        (m,) = turn_metrics(oracle_timeline(scenario, strategy), scenario)  # type: ignore[arg-type]
        assert m.iteration_ns == sched.session_ns
        assert sum(m.tool_wait_ns.values()) == sum(
            c.start_ns - p
            for c, p in zip(
                sched.turns[0].schedule.calls,
                scenario.turns[0].call_complete_ns(),
                strict=True,
            )
        )
        assert m.tools_tail_ns == sched.session_ns - scenario.turns[0].stream_end_ns()
        assert m.bound_ns is not None and m.bound_ns <= m.respond_ns


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("name", sorted(bundled_scenarios()))
def test_engine_runs_measure_like_the_oracle(name: str, backend: str) -> None:
    # the reference harnesses on the engine and the analytic schedule give the
    # same metrics, to the nanosecond, for every bundled scenario and strategy
    from simulator._strategies import run_strategy

    scenario = load_scenario(bundled_scenarios()[name])
    for strategy in ("sequential", "parallel", "overlapped"):
        for feed_forward in (False, True):
            run = run_strategy(
                scenario, strategy, backend=backend, feed_forward=feed_forward
            )
            oracle = oracle_timeline(scenario, strategy, feed_forward=feed_forward)  # type: ignore[arg-type]
            got = session_metrics(run.timeline, scenario).to_dict()
            want = session_metrics(oracle, scenario).to_dict()
            assert {**got, "strategy": None} == {**want, "strategy": None}
