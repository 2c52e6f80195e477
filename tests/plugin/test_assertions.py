"""The assertions: each rule on hand-made timelines, with the exact message,
and the reference strategies passing all of them on generated scenarios."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from pytest_streampar.assertions import (
    StreamparCheckFailed,
    assert_every_call_answered,
    assert_near_bound,
    assert_no_early_start,
    assert_no_exclusive_overlap,
    assert_results_in_call_order,
    assert_same_results,
    assert_speedup,
    assert_streampar_rules,
)
from pytest_streampar.strategies import engine_settings, scenarios
from simulator._errors import SimulatorError
from simulator._scenario import Block, Scenario, ToolCall, Turn
from simulator._strategies import run_strategy
from simulator._timeline import Timeline
from simulator._tools import ToolResult

MS = 1_000_000


def turn_timeline(
    tools: dict[str, tuple[int, int, int]],
    hand_back: list[str] | None,
    *,
    end: int = 4300,
    safety: dict[str, tuple[str, str | None]] | None = None,
) -> Timeline:
    """One turn of the hand-worked shape: stream 0-3.1 s, first token 0.5 s;
    ``tools`` maps a call id to (call complete, tool start, tool end) in ms."""
    safety = safety or {}
    t = Timeline()
    t.add_span("turn", "turn", 0, end * MS, turn=0)
    t.add_span("request", "model", 0, 0, turn=0)
    t.add_instant("first_token", "model", 500 * MS, turn=0)
    for call_id, (complete, _, _) in tools.items():
        t.add_instant(
            "call_complete",
            "model",
            complete * MS,
            turn=0,
            call_id=call_id,
            name="read",
        )
    t.add_span("stream", "model", 0, 3100 * MS, turn=0)
    for call_id, (_, start, stop) in tools.items():
        kind, resource = safety.get(call_id, ("shared", None))
        t.add_span(
            "tool",
            f"tool {call_id}",
            start * MS,
            stop * MS,
            turn=0,
            call_id=call_id,
            name="write" if kind == "exclusive" else "read",
            outcome="ok",
            safety=kind,
            resource=resource,
        )
    if hand_back is not None:
        t.add_instant("hand_back", "harness", end * MS, turn=0, call_ids=hand_back)
    return t


GOOD = {"A": (1900, 1900, 2900), "B": (2300, 2300, 4300)}


def failure(check: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(StreamparCheckFailed) as info:
        check(*args, **kw)
    assert isinstance(info.value, AssertionError)
    return str(info.value)


def test_a_good_turn_passes_every_rule() -> None:
    assert_streampar_rules(turn_timeline(GOOD, ["A", "B"]))


def test_a_turn_never_handed_back_loses_every_result() -> None:
    text = failure(assert_every_call_answered, turn_timeline(GOOD, None))
    assert text.splitlines()[0] == (
        "every call gets exactly one result: call A (read) of turn 0, complete at "
        "1.900 s, got no result: turn 0 was never handed back (calls without a "
        "result: [A, B])"
    )
    lines = text.splitlines()
    assert lines[1] == ""
    assert lines[2] == "timeline, turn 0: 0.000 s to 4.300 s, one column = 0.0741 s"
    assert [line[:4] for line in lines if line.startswith("*")] == ["* A ", "* B "]
    assert lines[-2].endswith("<- no result")


def test_a_missing_a_doubled_and_a_foreign_result() -> None:
    text = failure(assert_every_call_answered, turn_timeline(GOOD, ["B", "B", "Z"]))
    assert text.splitlines()[:2] == [
        "every call gets exactly one result: call A (read) of turn 0, complete at "
        "1.900 s, got no result in the hand-back at 4.300 s (handed back: [B, B, Z])",
        "also (2 more): call B of turn 0 got 2 results in the hand-back at 4.300 s "
        "(handed back: [B, B, Z]); the hand-back of turn 0 at 4.300 s has a result "
        "for Z, which the stream of turn 0 never completed (handed back: [B, B, Z])",
    ]


def test_a_turn_handed_back_twice() -> None:
    t = turn_timeline(GOOD, ["A", "B"])
    t.add_instant("hand_back", "harness", 4400 * MS, turn=0, call_ids=[])
    assert failure(assert_every_call_answered, t).splitlines()[0] == (
        "every call gets exactly one result: turn 0 was handed back 2 times (at "
        "4.300, 4.400 s); hand back once, after the last result"
    )


def test_a_tool_started_before_its_call_was_complete() -> None:
    early = {"A": (1900, 1000, 2000), "B": (2300, 2300, 4300)}
    text = failure(assert_no_early_start, turn_timeline(early, ["A", "B"]))
    assert text.splitlines()[0] == (
        "no tool may start before its call is complete: tool A (read) of turn 0 "
        "started at 1.000 s, 0.900 s before its call was complete at 1.900 s"
    )
    assert "<- started 0.900 s early" in text


def test_a_tool_for_a_call_the_stream_never_completed() -> None:
    t = turn_timeline(GOOD, ["A", "B"])
    t.add_span("tool", "tool Q", 0, MS, turn=0, call_id="Q", name="read")
    assert failure(assert_no_early_start, t).splitlines()[0] == (
        "no tool may start before its call is complete: tool Q (read) started at "
        "0.000 s but the stream never completed call Q"
    )


def test_exclusive_tools_on_one_file_may_not_overlap() -> None:
    same_file = {"A": ("exclusive", "a.txt"), "B": ("shared", "a.txt")}
    t = turn_timeline(GOOD, ["A", "B"], safety=same_file)
    assert failure(assert_no_exclusive_overlap, t).splitlines()[0] == (
        "an exclusive tool may not overlap a conflicting tool: tool exclusive A "
        "(write) on 'a.txt' ran 1.900-2.900 s while tool shared B (read) on "
        "'a.txt' ran 2.300-4.300 s"
    )


@pytest.mark.parametrize(
    "safety",
    [
        {"A": ("exclusive", "a.txt"), "B": ("exclusive", "b.txt")},
        {"A": ("shared", None), "B": ("shared", None)},
    ],
)
def test_other_files_and_shared_tools_may_overlap(
    safety: dict[str, tuple[str, str | None]],
) -> None:
    assert_no_exclusive_overlap(turn_timeline(GOOD, ["A", "B"], safety=safety))


def test_an_exclusive_tool_without_resource_runs_alone_but_may_touch() -> None:
    alone = {"A": ("exclusive", None), "B": ("shared", "b.txt")}
    touching = {"A": (1900, 1900, 2300), "B": (2300, 2300, 4300)}
    assert_no_exclusive_overlap(turn_timeline(touching, ["A", "B"], safety=alone))
    text = failure(
        assert_no_exclusive_overlap, turn_timeline(GOOD, ["A", "B"], safety=alone)
    )
    assert text.splitlines()[0].startswith(
        "an exclusive tool may not overlap a conflicting tool: tool exclusive A "
        "(write) ran 1.900-2.900 s while tool shared B (read) on 'b.txt'"
    )


def test_results_in_completion_order_break_call_order() -> None:
    swapped = {"A": (1900, 1900, 4300), "B": (2300, 2300, 2900)}
    t = turn_timeline(swapped, ["B", "A"])
    text = failure(assert_results_in_call_order, t)
    assert text.splitlines()[0] == (
        "results go back in call order: turn 0: the hand-back at 4.300 s gives "
        "[B, A] but the calls completed in the order [A, B]; B (complete at "
        "2.300 s) went before A (complete at 1.900 s)"
    )
    assert_results_in_call_order(t, paired_by_id=True)


def test_results_fed_forward_out_of_order() -> None:
    t = turn_timeline(GOOD, ["A", "B"])
    t.add_instant("feed", "harness", 2900 * MS, turn=0, call_id="B")
    t.add_instant("feed", "harness", 4300 * MS, turn=0, call_id="A")
    assert failure(assert_results_in_call_order, t).splitlines()[0] == (
        "results go back in call order: turn 0: the results fed forward gives "
        "[B, A] but the calls completed in the order [A, B]; B (complete at "
        "2.300 s) went before A (complete at 1.900 s)"
    )


def test_paired_by_id_still_refuses_a_result_for_no_call() -> None:
    text = failure(
        assert_results_in_call_order,
        turn_timeline(GOOD, ["A", "B", "Z"]),
        paired_by_id=True,
    )
    assert text.splitlines()[0].startswith(
        "results go back paired with their calls by id: the hand-back of turn 0"
    )


def ok(call_id: str, content: str = "100 tokens") -> ToolResult:
    return ToolResult(call_id, "read", "ok", content)


def test_same_results_compare_id_status_and_content_in_order() -> None:
    reference = [[ok("A"), ok("B")]]
    assert_same_results([[ok("A"), ok("B")]], reference)
    assert_same_results([[ok("B"), ok("A")]], reference, paired_by_id=True)
    text = failure(assert_same_results, [[ok("A"), ok("B", "other")]], reference)
    assert text == (
        "the harness's results equal the reference's: turn 0, result 1: the harness "
        "gave B 'ok' 'other', the reference B 'ok' '100 tokens'"
    )
    assert_same_results([[ok("A"), ok("B", "x")]], reference, compare_content=False)
    text = failure(assert_same_results, [[ok("A")]], reference)
    assert text == (
        "the harness's results equal the reference's: turn 0: the harness gave 1 "
        "results, the reference 2; only the reference has B 'ok' '100 tokens'"
    )


def hand_worked() -> Scenario:
    a = ToolCall("A", "read", 20, 1.0)
    b = ToolCall("B", "read", 20, 2.0)
    blocks = (Block("text", 50), Block("tool_call", 20, a), Block("tool_call", 20, b))
    return Scenario("hw", (Turn(blocks + (Block("text", 40),), 0.5, 50.0),))


@pytest.fixture(scope="module")
def runs() -> dict[str, Any]:
    scenario = hand_worked()
    return {
        s: run_strategy(scenario, s) for s in ("sequential", "parallel", "overlapped")
    }


def test_speedup_against_sequential(runs: dict[str, Any]) -> None:
    # 6.1 / 4.3 = 1.419, 6.1 / 5.1 = 1.196
    assert_speedup(runs["overlapped"], runs["sequential"], at_least=1.41)
    text = failure(
        assert_speedup, runs["overlapped"], runs["sequential"], at_least=1.42
    )
    assert text.splitlines()[0] == (
        "the run must be at least 1.42x as fast as sequential: speed-up over "
        "sequential is 1.42x: this run took 4.300 s, sequential 6.100 s; turn 0 "
        "gains least (4.300 s against 6.100 s sequential)"
    )
    text = failure(
        assert_speedup, runs["parallel"].timeline, runs["sequential"], at_least=1.5
    )
    assert "speed-up over sequential is 1.2x: this run took 5.100 s" in text
    assert text.splitlines()[2].startswith("parallel, turn 0: 0.000 s to 5.100 s")


def test_near_bound(runs: dict[str, Any]) -> None:
    scenario = hand_worked()
    assert_near_bound(runs["overlapped"], scenario, margin=0.0)
    # parallel: 5.1 s against the bound 4.3 s is 18.6 % above it
    assert_near_bound(runs["parallel"], scenario, margin=0.19)
    text = failure(assert_near_bound, runs["parallel"], scenario, margin=0.18)
    assert text.splitlines()[0] == (
        "the run stays within its margin of the critical-path bound: the session "
        "took 5.100 s, 18.6% above the critical-path bound 4.300 s (margin 18%); "
        "turn 0 hands back 0.800 s after its bound"
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda r: assert_speedup(r, r, at_least=0),
            "at_least = 0: must be a number > 0",
        ),
        (lambda r: assert_near_bound(r, hand_worked(), margin=-1), "margin = -1: must"),
        (lambda r: assert_no_early_start(42), "run = int object: expected a Timeline"),
    ],
)
def test_bad_arguments_are_named(runs: dict[str, Any], call: Any, message: str) -> None:
    with pytest.raises(SimulatorError) as info:
        call(runs["overlapped"])
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@engine_settings(max_examples=25, database=None)
@given(scenario=scenarios(max_turns=2, faults=True, hang=True))
def test_reference_strategies_pass_every_assertion(
    scenario: Scenario, backend: Any
) -> None:
    runs = {
        s: run_strategy(scenario, s, backend=backend, tool_timeout=2.5005)
        for s in ("sequential", "parallel", "overlapped")
    }
    for run in runs.values():
        assert_streampar_rules(run)
        assert_same_results(run, runs["sequential"])
        assert_speedup(run, runs["sequential"], at_least=1.0)
    if scenario.max_concurrency is None and all(
        c.safety == "shared" for c in scenario.calls
    ):
        assert_near_bound(runs["overlapped"], scenario, margin=0.0, tool_timeout=2.5005)


def test_near_bound_takes_a_bundled_scenario_by_name() -> None:
    from simulator import load_scenario, run_strategy

    run = run_strategy(load_scenario("hand-worked"), "overlapped")

    assert_near_bound(run, "hand-worked", margin=0.0)
