"""The three reference harnesses on hand-worked turns, to the nanosecond."""

from __future__ import annotations

from typing import Any

import pytest

from simulator._errors import SimulatorError
from simulator._scenario import Block, Fault, Scenario, ToolCall, Turn
from simulator._strategies import StrategyRun, harness_for, run_strategy

MS = 1_000_000
S = 1_000_000_000
BACKENDS = ["asyncio", "trio"]


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


def tool_spans(run: StrategyRun) -> dict[str, tuple[int, int, str]]:
    return {
        s.attrs["call_id"]: (s.start_ns, s.end_ns, s.attrs["outcome"])
        for s in run.timeline.spans
        if s.name == "tool"
    }


# Hand-worked: A complete at 0.5 + 50/50 + 20/50 = 1.9 s, B at 2.3 s, stream end
# at 2.3 + 40/50 = 3.1 s.
#   sequential: A 3.1-4.1, B 4.1-6.1            -> 6.1 s
#   parallel:   A 3.1-4.1, B 3.1-5.1            -> 5.1 s
#   overlapped: A 1.9-2.9, B 2.3-4.3, end 3.1   -> 4.3 s
HAND_WORKED = {
    "sequential": (
        6100 * MS,
        {"A": (3100 * MS, 4100 * MS), "B": (4100 * MS, 6100 * MS)},
    ),
    "parallel": (5100 * MS, {"A": (3100 * MS, 4100 * MS), "B": (3100 * MS, 5100 * MS)}),
    "overlapped": (
        4300 * MS,
        {"A": (1900 * MS, 2900 * MS), "B": (2300 * MS, 4300 * MS)},
    ),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", list(HAND_WORKED))
def test_hand_worked_turn(strategy: str, backend: Any) -> None:
    run = run_strategy(Scenario("hw", (hand_worked(),)), strategy, backend=backend)
    session, tools = HAND_WORKED[strategy]
    assert run.session_ns == session
    assert {k: v[:2] for k, v in tool_spans(run).items()} == tools
    assert [[r.call_id for r in turn] for turn in run.results] == [["A", "B"]]
    assert all(r.status == "ok" for r in run.results[0])
    [times] = run.turns
    assert (times.start_ns, times.send_ns, times.hand_back_ns) == (0, 0, session)


@pytest.mark.parametrize("backend", BACKENDS)
def test_timeline_conventions_of_the_overlapped_hand_worked_turn(backend: Any) -> None:
    run = run_strategy(Scenario("hw", (hand_worked(),)), "overlapped", backend=backend)
    spans = {(s.name, s.lane): (s.start_ns, s.end_ns) for s in run.timeline.spans}
    assert spans[("turn", "turn")] == (0, 4300 * MS)
    assert spans[("request", "model")] == (0, 0)
    assert spans[("stream", "model")] == (0, 3100 * MS)
    instants = [(i.name, i.at_ns, dict(i.attrs)) for i in run.timeline.instants]
    assert instants == [
        ("first_token", 500 * MS, {"turn": 0}),
        ("call_complete", 1900 * MS, {"turn": 0, "call_id": "A", "name": "A"}),
        ("call_complete", 2300 * MS, {"turn": 0, "call_id": "B", "name": "B"}),
        ("hand_back", 4300 * MS, {"turn": 0, "call_ids": ["A", "B"]}),
    ]
    assert run.timeline.meta["strategy"] == "overlapped"


@pytest.mark.parametrize("backend", BACKENDS)
def test_cap_of_one_makes_overlapped_wait_for_the_running_tool(backend: Any) -> None:
    # cap 1: A 1.9-2.9; B released 2.3 but waits for A: 2.9-4.9 -> 4.9 s.
    scenario = Scenario("cap", (hand_worked(),), max_concurrency=1)
    run = run_strategy(scenario, "overlapped", backend=backend)
    assert tool_spans(run)["B"][:2] == (2900 * MS, 4900 * MS)
    assert run.session_ns == 4900 * MS


@pytest.mark.parametrize("backend", BACKENDS)
def test_exclusive_call_waits_and_blocks_later_calls(backend: Any) -> None:
    # ttft 0.5 s, 50 tok/s, 10 tokens per call: R1 (2 s, no resource)
    # complete 0.7; W (0.5 s, exclusive on f) complete 0.9; R2 (0.1 s, reads f)
    # complete 1.1 = stream end. W does not conflict with R1 (other resource):
    # R1 0.7-2.7, W 0.9-1.4; R2 conflicts with W: 1.4-1.5. End 2.7.
    blocks = (
        call_block("R1", 10, 2.0),
        call_block("W", 10, 0.5, safety="exclusive", resource="f"),
        call_block("R2", 10, 0.1, resource="f"),
    )
    turn = Turn(blocks=blocks, ttft=0.5, tokens_per_second=50.0)
    run = run_strategy(Scenario("excl", (turn,)), "overlapped", backend=backend)
    spans = tool_spans(run)
    assert spans["R1"][:2] == (700 * MS, 2700 * MS)
    assert spans["W"][:2] == (900 * MS, 1400 * MS)
    assert spans["R2"][:2] == (1400 * MS, 1500 * MS)
    assert run.session_ns == 2700 * MS


@pytest.mark.parametrize("backend", BACKENDS)
def test_exclusive_without_resource_runs_alone_and_holds_back_later(
    backend: Any,
) -> None:
    # W (exclusive, no resource) complete 0.9 while R1 runs 0.7-2.7: W waits to
    # 2.7 and runs to 3.2; R2 (complete 1.1) may not pass W: 3.2-3.3.
    blocks = (
        call_block("R1", 10, 2.0),
        call_block("W", 10, 0.5, safety="exclusive"),
        call_block("R2", 10, 0.1),
    )
    turn = Turn(blocks=blocks, ttft=0.5, tokens_per_second=50.0)
    run = run_strategy(Scenario("excl", (turn,)), "overlapped", backend=backend)
    spans = tool_spans(run)
    assert spans["W"][:2] == (2700 * MS, 3200 * MS)
    assert spans["R2"][:2] == (3200 * MS, 3300 * MS)


@pytest.mark.parametrize("backend", BACKENDS)
def test_result_overhead_and_barrier_prefill(backend: Any) -> None:
    # Turn 0 as hand-worked with result_overhead 0.1 s and prefill 100 tok/s of
    # 100 + 100 result tokens; turn 1: request_overhead 0.2, ttft 0.5, 10 text.
    # overlapped: A ready 2.9 + 0.1 = 3.0, B ready 4.3 + 0.1 = 4.4 = H0.
    # send1 = 4.4 + 0.2 + 200/100 = 6.6; H1 = 6.6 + 0.5 + 0.2 = 7.3.
    first = hand_worked(result_overhead=0.1, prefill_tokens_per_second=100.0)
    second = Turn(blocks=(Block("text", 10),), request_overhead=0.2)
    run = run_strategy(Scenario("pf", (first, second)), "overlapped", backend=backend)
    assert [(t.start_ns, t.send_ns, t.hand_back_ns) for t in run.turns] == [
        (0, 0, 4400 * MS),
        (4400 * MS, 6600 * MS, 7300 * MS),
    ]
    result_spans = [
        (s.lane, s.start_ns, s.end_ns) for s in run.timeline.spans if s.name == "result"
    ]
    assert result_spans == [
        ("tool A", 2900 * MS, 3000 * MS),
        ("tool B", 4300 * MS, 4400 * MS),
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_feed_forward_prefills_results_as_they_are_ready(backend: Any) -> None:
    # Same as above with feed_forward: A fed at 3.0 -> F = 4.0; B fed at 4.4 ->
    # F = max(4.0, 4.4) + 1.0 = 5.4. send1 = max(4.4 + 0.2, 5.4) = 5.4; H1 = 6.1.
    first = hand_worked(result_overhead=0.1, prefill_tokens_per_second=100.0)
    second = Turn(blocks=(Block("text", 10),), request_overhead=0.2)
    scenario = Scenario("pf", (first, second))
    run = run_strategy(scenario, "overlapped", backend=backend, feed_forward=True)
    assert run.turns[1].send_ns == 5400 * MS
    assert run.session_ns == 6100 * MS
    feeds = [
        (i.attrs["call_id"], i.at_ns) for i in run.timeline.instants if i.name == "feed"
    ]
    assert feeds == [("A", 3000 * MS), ("B", 4400 * MS)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["sequential", "parallel", "overlapped"])
def test_error_result_does_not_cancel_siblings(strategy: str, backend: Any) -> None:
    blocks = (
        call_block("A", 20, 1.0, fault=Fault("error", at=0.25, message="boom")),
        call_block("B", 20, 2.0),
    )
    turn = Turn(blocks=blocks, ttft=0.5, tokens_per_second=50.0)
    run = run_strategy(Scenario("err", (turn,)), strategy, backend=backend)
    a, b = run.results[0]
    assert (a.status, a.content, b.status) == ("error", "boom", "ok")
    spans = tool_spans(run)
    assert spans["A"][1] - spans["A"][0] == 250 * MS
    assert spans["A"][2] == "error"


@pytest.mark.parametrize("backend", BACKENDS)
def test_cancel_siblings_marks_the_siblings(backend: Any) -> None:
    # overlapped, ttft 0.5 s, 50 tok/s, 20 tokens per call: B (5 s) complete
    # 0.9 runs from 0.9; A complete 1.3 fails 0.2 s later at 1.5, which
    # cancels B at 1.5; C, complete 1.7 (the stream end), is cancelled at once
    # without running.
    blocks = (
        call_block("B", 20, 5.0),
        call_block("A", 20, 1.0, fault=Fault("error", at=0.2)),
        call_block("C", 20, 1.0),
    )
    turn = Turn(blocks=blocks, ttft=0.5, tokens_per_second=50.0)
    run = run_strategy(
        Scenario("sib", (turn,)), "overlapped", backend=backend, cancel_siblings=True
    )
    by_id = {r.call_id: r for r in run.results[0]}
    assert [r.call_id for r in run.results[0]] == ["B", "A", "C"]
    assert (by_id["A"].status, by_id["A"].cancelled_by) == ("error", None)
    assert (by_id["B"].status, by_id["B"].cancelled_by) == ("cancelled", "sibling")
    assert (by_id["C"].status, by_id["C"].cancelled_by) == ("cancelled", "sibling")
    spans = tool_spans(run)
    assert spans["B"] == (900 * MS, 1500 * MS, "cancelled")
    assert "C" not in spans
    # hand-back waits for the stream end at 1.7 s
    assert run.session_ns == 1700 * MS


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["sequential", "parallel", "overlapped"])
def test_hang_is_stopped_by_the_tool_timeout(strategy: str, backend: Any) -> None:
    blocks = (call_block("H", 20, 1.0, fault=Fault("hang")), call_block("B", 20, 0.5))
    turn = Turn(blocks=blocks, ttft=0.5, tokens_per_second=50.0)
    run = run_strategy(
        Scenario("hang", (turn,)), strategy, backend=backend, tool_timeout=3.0
    )
    h, b = run.results[0]
    assert (h.status, b.status) == ("timeout", "ok")
    start, end, outcome = tool_spans(run)["H"]
    assert (end - start, outcome) == (3 * S, "timeout")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["sequential", "parallel", "overlapped"])
def test_abort_mid_tool_leaves_one_result_per_seen_call(
    strategy: str, backend: Any
) -> None:
    # abort at 2.5 s, while the stream (to 3.1 s) still runs: A and B were
    # seen (complete 1.9 and 2.3). Overlapped is running both (A 1.9-2.9, B
    # 2.3-4.3) and cuts them; the others have not started a tool. Every seen
    # call gets a user-cancelled result; the second turn never starts.
    second = Turn(blocks=(Block("text", 10),))
    run = run_strategy(
        Scenario("abort", (hand_worked(), second)),
        strategy,
        backend=backend,
        abort_at=2.5,
    )
    assert run.aborted
    assert len(run.results) == 1
    assert [(r.call_id, r.status, r.cancelled_by) for r in run.results[0]] == [
        ("A", "cancelled", "user"),
        ("B", "cancelled", "user"),
    ]
    assert run.session_ns == 2500 * MS
    ends = [s.end_ns for s in run.timeline.spans]
    assert max(ends) == 2500 * MS
    stream = [s for s in run.timeline.spans if s.name == "stream"]
    assert [(s.start_ns, s.end_ns, s.attrs.get("cut")) for s in stream] == [
        (0, 2500 * MS, True)
    ]
    if strategy == "overlapped":
        assert tool_spans(run) == {
            "A": (1900 * MS, 2500 * MS, "cancelled"),
            "B": (2300 * MS, 2500 * MS, "cancelled"),
        }
    else:
        assert tool_spans(run) == {}


@pytest.mark.parametrize("backend", BACKENDS)
def test_abort_keeps_finished_results(backend: Any) -> None:
    # overlapped, abort at 3.5 s: A finished at 2.9 (ok), B runs 2.3-4.3: cut.
    run = run_strategy(
        Scenario("abort", (hand_worked(),)), "overlapped", backend=backend, abort_at=3.5
    )
    assert [(r.call_id, r.status, r.cancelled_by) for r in run.results[0]] == [
        ("A", "ok", None),
        ("B", "cancelled", "user"),
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_abort_before_the_first_call_hands_back_nothing(backend: Any) -> None:
    run = run_strategy(
        Scenario("abort", (hand_worked(),)), "parallel", backend=backend, abort_at=0.2
    )
    assert run.results == [[]]
    hand_backs = [i for i in run.timeline.instants if i.name == "hand_back"]
    assert [(i.at_ns, i.attrs["call_ids"]) for i in hand_backs] == [(200 * MS, [])]


def test_unknown_strategy_is_named() -> None:
    with pytest.raises(SimulatorError, match="strategy = 'fast'.*sequential"):
        harness_for("fast")


def test_negative_abort_at_is_refused() -> None:
    with pytest.raises(SimulatorError, match="abort_at = -1"):
        run_strategy(Scenario("x", (hand_worked(),)), "parallel", abort_at=-1)


# B (5 s) complete 0.9 s, A (fails 0.2 s after start) 1.3 s, C (1 s) 1.7 s =
# stream end.
#   sequential: B 1.7-6.7 ok, A 6.7-6.9 error, C never runs      -> 6.9 s
#   parallel:   all start at 1.7; A fails at 1.9, B and C cut     -> 1.9 s
CANCEL_SIBLINGS = {
    "sequential": (
        6900,
        {"B": (1700, 6700, "ok"), "A": (6700, 6900, "error")},
        {"B": ("ok", None), "A": ("error", None), "C": ("cancelled", "sibling")},
    ),
    "parallel": (
        1900,
        {
            "B": (1700, 1900, "cancelled"),
            "A": (1700, 1900, "error"),
            "C": (1700, 1900, "cancelled"),
        },
        {
            "B": ("cancelled", "sibling"),
            "A": ("error", None),
            "C": ("cancelled", "sibling"),
        },
    ),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", list(CANCEL_SIBLINGS))
def test_cancel_siblings_after_the_stream(strategy: str, backend: Any) -> None:
    blocks = (
        call_block("B", 20, 5.0),
        call_block("A", 20, 1.0, fault=Fault("error", at=0.2)),
        call_block("C", 20, 1.0),
    )
    turn = Turn(blocks=blocks, ttft=0.5, tokens_per_second=50.0)
    run = run_strategy(
        Scenario("sib", (turn,)), strategy, backend=backend, cancel_siblings=True
    )
    session, spans, results = CANCEL_SIBLINGS[strategy]
    assert run.session_ns == session * MS
    assert tool_spans(run) == {
        k: (a * MS, b * MS, outcome) for k, (a, b, outcome) in spans.items()
    }
    assert {r.call_id: (r.status, r.cancelled_by) for r in run.results[0]} == results
    assert [r.call_id for r in run.results[0]] == ["B", "A", "C"]
