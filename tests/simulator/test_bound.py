"""The analytic schedules and the critical-path bound, against hand-worked numbers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator._bound import (
    critical_path_ns,
    prefill_ns,
    schedule_session,
    schedule_turn,
    session_bound_ns,
    tool_run_ns,
    turn_tool_release_ns,
)
from simulator._errors import ScenarioError
from simulator._scenario import Block, Fault, Scenario, ToolCall, Turn

MS = 1_000_000  # nanoseconds per millisecond


def call_block(call_id: str, tokens: int, duration: float, **kw: Any) -> Block:
    return Block(
        "tool_call", tokens, ToolCall(call_id, call_id, tokens, duration, **kw)
    )


def hand_worked(**turn_fields: Any) -> Turn:
    """TTFT 0.5 s; 50 text; A (20 tok, 1 s); B (20 tok, 2 s); 40 text; 50 tok/s."""
    blocks = (
        Block("text", 50),
        call_block("A", 20, 1.0),
        call_block("B", 20, 2.0),
        Block("text", 40),
    )
    return Turn(blocks=blocks, ttft=0.5, tokens_per_second=50.0, **turn_fields)


def starts_ms(turn: Turn, strategy: Any, **kw: Any) -> list[tuple[int, int, int]]:
    sched = schedule_turn(turn, strategy, **kw)
    return [(c.start_ns // MS, c.end_ns // MS, c.ready_ns // MS) for c in sched.calls]


# --------------------------------------------------------------------------
# the hand-worked turn


def test_hand_worked_turn() -> None:
    turn = hand_worked()
    # A completes at 0.5 + 70/50 = 1.9 s, B at 0.5 + 90/50 = 2.3 s, end 3.1 s
    assert turn_tool_release_ns(turn, "overlapped") == (1900 * MS, 2300 * MS)
    assert turn_tool_release_ns(turn, "parallel") == (3100 * MS, 3100 * MS)
    hand_backs = {
        s: schedule_turn(turn, s).hand_back_ns
        for s in ("sequential", "parallel", "overlapped")
    }
    assert hand_backs == {
        "sequential": 6100 * MS,  # 3.1 + 1 + 2
        "parallel": 5100 * MS,  # 3.1 + max(1, 2)
        "overlapped": 4300 * MS,  # B runs 2.3 .. 4.3
    }
    assert starts_ms(turn, "overlapped") == [(1900, 2900, 2900), (2300, 4300, 4300)]
    assert starts_ms(turn, "sequential") == [(3100, 4100, 4100), (4100, 6100, 6100)]
    assert critical_path_ns(turn) == 4300 * MS


def test_result_overhead_delays_ready_and_the_next_sequential_tool() -> None:
    turn = hand_worked(result_overhead=0.1)
    assert starts_ms(turn, "sequential") == [(3100, 4100, 4200), (4200, 6200, 6300)]
    assert starts_ms(turn, "overlapped") == [(1900, 2900, 3000), (2300, 4300, 4400)]
    assert critical_path_ns(turn) == 4400 * MS


# --------------------------------------------------------------------------
# the cap, worked by hand


def capped_turn() -> Turn:
    """TTFT 0.5 s, 10 tok/s: A, B, C (5 tokens, 2 s each) complete at 1.0, 1.5,
    2.0 s; 5 text tokens end the stream at 2.5 s."""
    blocks = (*(call_block(n, 5, 2.0) for n in "ABC"), Block("text", 5))
    return Turn(blocks=blocks, ttft=0.5, tokens_per_second=10.0)


def test_cap_of_two_by_hand() -> None:
    turn = capped_turn()
    # overlapped: A 1.0-3.0, B 1.5-3.5; C (released 2.0) waits for A's slot
    assert starts_ms(turn, "overlapped", max_concurrency=2) == [
        (1000, 3000, 3000),
        (1500, 3500, 3500),
        (3000, 5000, 5000),
    ]
    sched = schedule_turn(turn, "overlapped", max_concurrency=2)
    assert [c.wait_ns // MS for c in sched.calls] == [0, 0, 1000]
    # parallel: A, B at 2.5 to 4.5; C 4.5-6.5. sequential: 2.5 + 3 * 2
    assert schedule_turn(turn, "parallel", max_concurrency=2).hand_back_ns == 6500 * MS
    assert schedule_turn(turn, "sequential").hand_back_ns == 8500 * MS
    # bound: E 2.5; max p+d = 4.0; cap: r=1.0 -> 1.0 + 6/2 = 4.0 (r=1.5 -> 3.5)
    assert critical_path_ns(turn, max_concurrency=2) == 4000 * MS
    # cap 1: r=1.0 -> 1.0 + 6 = 7.0, and FIFO meets it
    assert critical_path_ns(turn, max_concurrency=1) == 7000 * MS
    assert (
        schedule_turn(turn, "overlapped", max_concurrency=1).hand_back_ns == 7000 * MS
    )


def test_cap_bound_rounds_up() -> None:
    # three 1 ns tools all complete at 1 s, cap 2: work 3 ns on 2 slots needs
    # 2 ns (ceil), floor division would claim 1 ns.
    blocks = tuple(call_block(n, 0, 1e-9) for n in "ABC")
    turn = Turn(blocks=blocks, ttft=1.0)
    assert critical_path_ns(turn, max_concurrency=2) == 1_000_000_002
    assert schedule_turn(turn, "overlapped", max_concurrency=2).hand_back_ns == (
        1_000_000_002
    )


# --------------------------------------------------------------------------
# an exclusive write, worked by hand


def exclusive_turn() -> Turn:
    """TTFT 0.5 s, 50 tok/s, 50 text tokens, then (20 tokens each):
    R1 read f (1.0 s) at 1.9; W write f (exclusive, 1.0 s) at 2.3; R2 read g
    (0.5 s) at 2.7; R3 read f (0.5 s) at 3.1; 20 text tokens: end 3.5 s."""
    blocks = (
        Block("text", 50),
        call_block("R1", 20, 1.0, resource="f"),
        call_block("W", 20, 1.0, safety="exclusive", resource="f"),
        call_block("R2", 20, 0.5, resource="g"),
        call_block("R3", 20, 0.5, resource="f"),
        Block("text", 20),
    )
    return Turn(blocks=blocks, ttft=0.5, tokens_per_second=50.0)


def test_exclusive_write_by_hand() -> None:
    turn = exclusive_turn()
    # W waits for R1 (2.9); R2 may run beside W but not before it starts (FIFO);
    # R3 reads f, so it waits for W to end (3.9)
    assert starts_ms(turn, "overlapped") == [
        (1900, 2900, 2900),
        (2900, 3900, 3900),
        (2900, 3400, 3400),
        (3900, 4400, 4400),
    ]
    # parallel from 3.5: R1 to 4.5, W 4.5-5.5 with R2 4.5-5.0, R3 5.5-6.0
    assert starts_ms(turn, "parallel")[-1] == (5500, 6000, 6000)
    assert schedule_turn(turn, "sequential").hand_back_ns == 6500 * MS
    # bound: group {R1, W} on f in release order: 1.9 + 1 = 2.9, then + 1 = 3.9
    assert critical_path_ns(turn) == 3900 * MS


def test_global_exclusive_serialises_everything() -> None:
    # a test run with no resource conflicts with all: the bound counts the
    # exclusive run plus one other tool, both after their releases
    blocks = (
        call_block("T", 0, 2.0, safety="exclusive"),
        call_block("R", 0, 1.0, resource="x"),
    )
    turn = Turn(blocks=blocks, ttft=1.0)
    assert critical_path_ns(turn) == 4000 * MS  # 1.0 + 2.0 + 1.0
    assert schedule_turn(turn, "overlapped").hand_back_ns == 4000 * MS


# --------------------------------------------------------------------------
# faults and timeouts


def test_error_fault_and_timeouts() -> None:
    fault = Fault("error", at=0.25)
    assert tool_run_ns(ToolCall("a", "a", duration=2.0, fault=fault)) == (
        250 * MS,
        "error",
    )
    assert tool_run_ns(ToolCall("a", "a", duration=2.0), tool_timeout=1.5) == (
        1500 * MS,
        "timeout",
    )
    # a tool that would end exactly at its timeout counts as timed out
    assert tool_run_ns(ToolCall("a", "a", duration=1.5), tool_timeout=1.5) == (
        1500 * MS,
        "timeout",
    )
    hang = ToolCall("h", "h", fault=Fault("hang"))
    assert tool_run_ns(hang, tool_timeout=3.0) == (3000 * MS, "timeout")
    with pytest.raises(ScenarioError, match="call 'h' .* hang fault and no tool"):
        tool_run_ns(hang)


def test_bad_strategy_and_cap() -> None:
    with pytest.raises(ScenarioError, match="strategy = 'eager': must be one of"):
        schedule_turn(hand_worked(), "eager")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="max_concurrency = 0"):
        schedule_turn(hand_worked(), "parallel", max_concurrency=0)


# --------------------------------------------------------------------------
# sessions: request overhead and prefill, barrier and feed-forward


def prefill_session() -> Scenario:
    """Turn 0: the hand-worked turn, request overhead 0.1 s, results of 500
    (A) and 1000 (B) tokens prefilled at 1000 tok/s. Turn 1: overhead 0.1 s,
    TTFT 0.5 s, 25 text tokens (stream 1.0 s)."""
    first = hand_worked(request_overhead=0.1, prefill_tokens_per_second=1000.0)
    a, b = (blk.call for blk in first.blocks[1:3])
    assert a is not None and b is not None
    blocks = (
        first.blocks[0],
        Block("tool_call", 20, ToolCall("A", "A", 20, 1.0, result_tokens=500)),
        Block("tool_call", 20, ToolCall("B", "B", 20, 2.0, result_tokens=1000)),
        first.blocks[3],
    )
    first = Turn(**{**first.__dict__, "blocks": blocks})
    second = Turn(blocks=(Block("text", 25),), request_overhead=0.1)
    return Scenario("prefill", (first, second))


def session_ms(scenario: Scenario, strategy: Any, **kw: Any) -> list[tuple[int, ...]]:
    sched = schedule_session(scenario, strategy, **kw)
    return [
        (t.start_ns // MS, t.send_ns // MS, t.hand_back_ns // MS) for t in sched.turns
    ]


def test_prefill_barrier_by_hand() -> None:
    s = prefill_session()
    # send0 0.1, H0 0.1 + 4.3 = 4.4; prefill 1500/1000 = 1.5: send1 6.0; H1 7.0
    assert session_ms(s, "overlapped") == [(0, 100, 4400), (4400, 6000, 7000)]
    # sequential: H0 0.1 + 6.1 = 6.2; send1 6.2 + 0.1 + 1.5 = 7.8; H1 8.8
    assert session_ms(s, "sequential") == [(0, 100, 6200), (6200, 7800, 8800)]
    assert session_bound_ns(s) == 7000 * MS


def test_prefill_feed_forward_by_hand() -> None:
    s = prefill_session()
    # A ready 3.0, prefilled to 3.5; B ready 4.4, prefilled to 5.4;
    # send1 = max(4.4 + 0.1, 5.4) = 5.4; H1 6.4
    assert session_ms(s, "overlapped", feed_forward=True) == [
        (0, 100, 4400),
        (4400, 5400, 6400),
    ]
    # sequential: A ready 4.2 -> 4.7; B ready 6.2 -> 7.2 = send1; H1 8.2
    assert session_ms(s, "sequential", feed_forward=True)[1] == (6200, 7200, 8200)
    assert session_bound_ns(s, feed_forward=True) == 6400 * MS
    sched = schedule_session(s, "overlapped", feed_forward=True)
    assert sched.session_ns == 6400 * MS
    assert [t.iteration_ns // MS for t in sched.turns] == [4400, 2000]


def test_prefill_rounding_and_think_time_kept_out() -> None:
    assert prefill_ns(1, 3.0) == 333_333_333
    assert prefill_ns(10_000, None) == 0
    turn = Turn(blocks=(Block("text", 10),), think_time=30.0)
    s = Scenario("think", (turn, turn))
    # each turn: 0.5 + 0.2 = 0.7 s; think time adds nothing
    assert schedule_session(s, "sequential").session_ns == 1400 * MS
    assert session_bound_ns(s) == 1400 * MS


# --------------------------------------------------------------------------
# properties over generated scenarios


@st.composite
def turns(draw: st.DrawFn, *, allow_exclusive: bool = True, max_calls: int = 5) -> Turn:
    """Turns of text and calls; shrink towards fewer blocks, shorter tools,
    shared calls, no faults and no overheads."""
    blocks = []
    for _ in range(draw(st.integers(0, max_calls + 2))):
        if draw(st.booleans()):
            exclusive = allow_exclusive and draw(st.booleans())
            call = ToolCall(
                id=f"c{len(blocks)}",
                name="t",
                arg_tokens=draw(st.integers(0, 60)),
                duration=draw(st.integers(0, 4000)) / 1000,
                safety="exclusive" if exclusive else "shared",
                resource=draw(st.none() | st.sampled_from(["f", "g"])),
                fault=draw(
                    st.none() | st.builds(Fault, st.just("error"), st.floats(0, 3))
                ),
                result_tokens=draw(st.integers(0, 3000)),
            )
            blocks.append(Block("tool_call", call.arg_tokens, call))
        else:
            blocks.append(Block("text", draw(st.integers(0, 80))))
    return Turn(
        blocks=tuple(blocks),
        ttft=draw(st.integers(0, 2000)) / 1000,
        tokens_per_second=draw(st.sampled_from([7.0, 30.0, 50.0, 120.0])),
        request_overhead=draw(st.sampled_from([0.0, 0.05])),
        result_overhead=draw(st.sampled_from([0.0, 0.013])),
        prefill_tokens_per_second=draw(st.none() | st.sampled_from([900.0, 3000.0])),
    )


@st.composite
def sessions(draw: st.DrawFn, *, allow_exclusive: bool = True) -> Scenario:
    """Sessions of 1-3 turns; shrink towards one turn and no cap."""
    items = draw(
        st.lists(turns(allow_exclusive=allow_exclusive), min_size=1, max_size=3)
    )
    cap = draw(st.none() | st.integers(1, 4))
    return Scenario(
        "generated", tuple(_unique_ids(k, t) for k, t in enumerate(items)), cap
    )


def _unique_ids(k: int, turn: Turn) -> Turn:
    """Call ids unique across the session: ``t<turn>_<id>``."""
    blocks = tuple(
        replace(b, call=replace(b.call, id=f"t{k}_{b.call.id}")) if b.call else b
        for b in turn.blocks
    )
    return replace(turn, blocks=blocks)


@settings(max_examples=60, deadline=None)
@given(turn=turns(), cap=st.none() | st.integers(1, 4))
def test_bound_le_overlapped_le_parallel_le_sequential(
    turn: Turn, cap: int | None
) -> None:
    bound = critical_path_ns(turn, max_concurrency=cap)
    hb = {
        s: schedule_turn(turn, s, max_concurrency=cap).hand_back_ns
        for s in ("sequential", "parallel", "overlapped")
    }
    assert bound <= hb["overlapped"] <= hb["parallel"] <= hb["sequential"]


@settings(max_examples=60, deadline=None)
@given(turn=turns())
def test_schedules_respect_release_cap_conflicts_and_fifo(turn: Turn) -> None:
    for cap in (None, 1, 2):
        for strategy in ("parallel", "overlapped"):
            sched = schedule_turn(turn, strategy, max_concurrency=cap)  # type: ignore[arg-type]
            calls = {c.id: c for c in turn.calls}
            starts = [c.start_ns for c in sched.calls]
            assert starts == sorted(starts)  # FIFO admission
            for c in sched.calls:
                assert c.start_ns >= c.release_ns
                running = [
                    o for o in sched.calls if o.start_ns <= c.start_ns < o.end_ns
                ]
                assert cap is None or len(running) <= cap
                for o in sched.calls:
                    overlap = max(o.start_ns, c.start_ns) < min(o.end_ns, c.end_ns)
                    if o is not c and overlap:
                        assert not _conflicts(calls[o.call_id], calls[c.call_id])


def _conflicts(a: ToolCall, b: ToolCall) -> bool:
    # written out again so the test does not trust the module's rule
    exclusive = [x for x in (a, b) if x.safety == "exclusive"]
    return any(x.resource is None or a.resource == b.resource for x in exclusive)


@settings(max_examples=60, deadline=None)
@given(scenario=sessions(allow_exclusive=False), feed_forward=st.booleans())
def test_bound_is_exact_without_cap_or_exclusive(
    scenario: Scenario, feed_forward: bool
) -> None:
    uncapped = Scenario(scenario.name, scenario.turns, None)
    sched = schedule_session(uncapped, "overlapped", feed_forward=feed_forward)
    assert sched.session_ns == session_bound_ns(uncapped, feed_forward=feed_forward)
    for placed, turn in zip(sched.turns, uncapped.turns, strict=True):
        assert placed.schedule.hand_back_ns == critical_path_ns(turn)


@settings(max_examples=60, deadline=None)
@given(scenario=sessions(), feed_forward=st.booleans())
def test_session_order_and_bound(scenario: Scenario, feed_forward: bool) -> None:
    times = [
        schedule_session(scenario, s, feed_forward=feed_forward).session_ns
        for s in ("overlapped", "parallel", "sequential")
    ]
    assert session_bound_ns(scenario, feed_forward=feed_forward) <= times[0]
    assert times == sorted(times)
    barrier = schedule_session(scenario, "overlapped").session_ns
    assert times[0] <= barrier  # feeding forward never costs time


@settings(max_examples=40, deadline=None)
@given(turn=turns(max_calls=4), cap=st.none() | st.integers(1, 3))
def test_bound_le_every_feasible_greedy_order(turn: Turn, cap: int | None) -> None:
    # any priority order of the calls, admitted greedily at the earliest feasible
    # moment, is a valid schedule: the bound must not exceed any of them
    from itertools import permutations

    bound = critical_path_ns(turn, max_concurrency=cap)
    calls = turn.calls
    releases = turn.call_complete_ns()
    runs = [tool_run_ns(c)[0] for c in calls]
    overhead = round(turn.result_overhead * 1e9)
    for order in permutations(range(len(calls))):
        placed: list[tuple[int, int, int]] = []  # (start, end, index)
        for i in order:
            t = releases[i]
            while not _fits(t, runs[i], i, placed, calls, cap):
                t = min(e for _, e, _ in placed if e > t)
            placed.append((t, t + runs[i], i))
        hand_back = max([turn.stream_end_ns()] + [e + overhead for _, e, _ in placed])
        assert bound <= hand_back


def _fits(
    t: int,
    run: int,
    i: int,
    placed: list[tuple[int, int, int]],
    calls: tuple[ToolCall, ...],
    cap: int | None,
) -> bool:
    """Whether call i can run over [t, t + run) beside the placed calls (a tool
    of zero length occupies no time)."""
    if run == 0:
        return True
    moments = {t} | {s for s, e, _ in placed if t <= s < t + run and s < e}
    for m in moments:
        active = [j for s, e, j in placed if s <= m < e]
        if cap is not None and len(active) >= cap:
            return False
        if any(_conflicts(calls[j], calls[i]) for j in active):
            return False
    return True
