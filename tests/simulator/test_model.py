"""The simulated model: canonical events at exact times, timeline records, and
the hand-back and feed contracts."""

from __future__ import annotations

from typing import Any

import pytest

from simulator import SimulatorError, now_ns, run
from simulator._model import (
    BlockDelta,
    BlockEnd,
    BlockStart,
    CallComplete,
    CallInfo,
    FirstToken,
    RequestStart,
    SimulatedModel,
    Stop,
    canonical_events,
)
from simulator._scenario import Block, Scenario, ToolCall, Turn
from simulator._tools import ToolResult

MS = 1_000_000


def call_block(call_id: str, tokens: int, duration: float, **kw: Any) -> Block:
    return Block(
        "tool_call", tokens, ToolCall(call_id, call_id, tokens, duration, **kw)
    )


def hand_worked(**fields: Any) -> Turn:
    blocks = (
        Block("text", 50),
        call_block("A", 20, 1.0, resource="f"),
        call_block("B", 20, 2.0, safety="exclusive"),
        Block("text", 40),
    )
    return Turn(blocks=blocks, ttft=0.5, tokens_per_second=50.0, **fields)


def ok(call_id: str) -> ToolResult:
    return ToolResult(call_id, call_id, "ok", "fine")


def test_canonical_events_of_the_hand_worked_turn() -> None:
    # blocks complete at 0.5 + 1.0 = 1.5, +0.4 = 1.9, +0.4 = 2.3, +0.8 = 3.1;
    # everything is shifted by the send time (here 10 s).
    base = 10_000 * MS
    got = [(t - base, e) for t, e in canonical_events(hand_worked(), 3, base)]
    a = CallInfo("A", "A", {"call": "A", "resource": "f"}, "shared", "f")
    b = CallInfo("B", "B", {"call": "B"}, "exclusive", None)
    assert got == [
        (0, RequestStart(3)),
        (500 * MS, FirstToken(3)),
        (500 * MS, BlockStart(0, "text")),
        (1500 * MS, BlockDelta(0, "text", 50)),
        (1500 * MS, BlockEnd(0, "text", 50)),
        (1500 * MS, BlockStart(1, "tool_call", "A", "A")),
        (1900 * MS, BlockDelta(1, "tool_call", 20)),
        (1900 * MS, BlockEnd(1, "tool_call", 20)),
        (1900 * MS, CallComplete(1, a)),
        (1900 * MS, BlockStart(2, "tool_call", "B", "B")),
        (2300 * MS, BlockDelta(2, "tool_call", 20)),
        (2300 * MS, BlockEnd(2, "tool_call", 20)),
        (2300 * MS, CallComplete(2, b)),
        (2300 * MS, BlockStart(3, "text")),
        (3100 * MS, BlockDelta(3, "text", 40)),
        (3100 * MS, BlockEnd(3, "text", 40)),
        (3100 * MS, Stop("tool_use")),
    ]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_stream_plays_each_event_at_its_time(backend: Any) -> None:
    scenario = Scenario("m", (hand_worked(request_overhead=0.25),))

    async def play() -> list[tuple[int, Any]]:
        model = SimulatedModel(scenario)
        seen = [(now_ns(), e) async for e in model.stream()]
        model.hand_back([ok("A"), ok("B")])
        return seen

    result = run(play, backend=backend)
    expected = canonical_events(scenario.turns[0], 0, 250 * MS)
    assert result.value == expected
    spans = [(s.name, s.start_ns, s.end_ns) for s in result.timeline.spans]
    assert spans == [
        ("request", 0, 250 * MS),
        ("stream", 250 * MS, 3350 * MS),
        ("turn", 0, 3350 * MS),
    ]


def test_barrier_prefill_delays_the_next_send() -> None:
    # turn 0: one call (1000 result tokens) at 500 tok/s prefill -> 2 s; the
    # harness hands back at 4 s, so turn 1 sends at 4 + 0.1 + 2 = 6.1 s.
    first = Turn(
        blocks=(call_block("A", 10, 1.0, result_tokens=1000),),
        prefill_tokens_per_second=500.0,
    )
    second = Turn(blocks=(Block("text", 5),), request_overhead=0.1)

    async def play() -> tuple[int, bool]:
        import anyio

        model = SimulatedModel(Scenario("p", (first, second)))
        async for _ in model.stream():
            pass
        await anyio.sleep(4 - now_ns() / 1e9)
        model.hand_back([ok("A")])
        async for event in model.stream():
            if isinstance(event, RequestStart):
                sent = now_ns()
        model.hand_back([])
        return sent, model.has_next_turn

    assert run(play).value == (6100 * MS, False)


def test_feed_forward_starts_prefill_at_each_feed() -> None:
    # A fed at 2 s (100 tokens at 100/s -> ready 3 s), B fed at 2.5 s ->
    # max(3, 2.5) + 1 = 4 s; hand-back at 2.5 s; turn 1 sends at 4 s.
    first = Turn(
        blocks=(call_block("A", 10, 1.0), call_block("B", 10, 1.0)),
        prefill_tokens_per_second=100.0,
    )
    second = Turn(blocks=(Block("text", 5),))

    async def play() -> int:
        import anyio

        model = SimulatedModel(Scenario("p", (first, second)), feed_forward=True)
        async for _ in model.stream():
            pass
        await anyio.sleep(2 - now_ns() / 1e9)
        model.feed(ok("A"))
        await anyio.sleep(0.5)
        model.feed(ok("B"))
        model.hand_back([ok("A"), ok("B")])
        async for event in model.stream():
            if isinstance(event, RequestStart):
                sent = now_ns()
        model.hand_back([])
        return sent

    assert run(play).value == 4000 * MS


def _contract_error(body: Any, scenario: Scenario | None = None) -> str:
    scenario = scenario or Scenario("c", (hand_worked(),))

    async def play() -> None:
        model = SimulatedModel(scenario)
        await body(model)

    with pytest.raises(SimulatorError) as info:
        run(play)
    return str(info.value)


async def _drain(model: SimulatedModel) -> None:
    async for _ in model.stream():
        pass


def test_hand_back_must_answer_every_completed_call_once() -> None:
    async def missing(model: SimulatedModel) -> None:
        await _drain(model)
        model.hand_back([ok("A"), ok("A")])

    message = _contract_error(missing)
    assert "duplicated ['A'], missing ['B']" in message


def test_hand_back_refuses_results_for_calls_not_yet_complete() -> None:
    async def early(model: SimulatedModel) -> None:
        stream = model.stream()
        await stream.__anext__()  # RequestStart only
        model.hand_back([ok("A")])

    assert "not (yet) completed in the stream ['A']" in _contract_error(early)


def test_stream_before_hand_back_is_refused() -> None:
    async def twice(model: SimulatedModel) -> None:
        await _drain(model)
        model.stream()

    assert "never handed back" in _contract_error(twice)


def test_no_turn_left() -> None:
    async def again(model: SimulatedModel) -> None:
        await _drain(model)
        model.hand_back([ok("A"), ok("B")])
        model.stream()

    assert "all were streamed; check model.has_next_turn" in _contract_error(again)


def test_feed_needs_feed_forward() -> None:
    async def feed(model: SimulatedModel) -> None:
        await _drain(model)
        model.feed(ok("A"))

    assert "feed_forward=True" in _contract_error(feed)


def test_unknown_wire_is_named() -> None:
    with pytest.raises(SimulatorError, match="wire = 'sse'"):
        SimulatedModel(Scenario("w"), wire="sse")  # type: ignore[arg-type]
