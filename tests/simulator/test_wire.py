"""Wire formats: event sequences for a two-call turn, and the decoders'
dispatch points (Chat Completions completes a call one call late)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from simulator import SimulatorError, now_ns, run
from simulator._model import SimulatedModel
from simulator._scenario import Block, Scenario, ToolCall, Turn
from simulator._strategies import run_strategy
from simulator._tools import ToolResult
from simulator._wire import decoder_for

MS = 1_000_000


def hand_worked() -> Scenario:
    """TTFT 0.5 s; 50 text; A (20 tok, 1 s); B (20 tok, 2 s); 40 text; 50 tok/s:
    A complete 1.9 s, B 2.3 s, stream end 3.1 s."""
    a = ToolCall("A", "get_weather", 20, 1.0, resource="Paris")
    b = ToolCall("B", "get_time", 20, 2.0)
    blocks = (
        Block("text", 50),
        Block("tool_call", 20, a),
        Block("tool_call", 20, b),
        Block("text", 40),
    )
    return Scenario("wire", (Turn(blocks=blocks, ttft=0.5, tokens_per_second=50.0),))


def play(
    wire: str,
) -> tuple[list[tuple[int, Any]], list[tuple[int, str, dict[str, Any]]]]:
    """Stream the hand-worked turn; return (time, event) and the decoded calls."""

    async def body() -> Any:
        model = SimulatedModel(hand_worked(), wire=wire)  # type: ignore[arg-type]
        decoder = decoder_for(wire)
        events, calls = [], []
        async for event in model.stream():
            events.append((now_ns(), event))
            for info in decoder.feed(event):
                calls.append((now_ns(), info.id, info.arguments))
        assert decoder.done
        model.hand_back([ToolResult(c, c, "ok", "") for _, c, _ in calls])
        return events, calls

    return run(body).value  # type: ignore[no-any-return]


def kinds(events: list[tuple[int, Any]], key: str = "type") -> list[str]:
    return [e[key] for _, e in events]


def test_anthropic_messages_sequence() -> None:
    events, calls = play("anthropic")
    text3 = ["content_block_delta"] * 3
    assert kinds(events) == [
        "message_start",
        "ping",
        "content_block_start",
        *text3,
        "content_block_stop",
        "content_block_start",
        *text3,
        "content_block_stop",
        "content_block_start",
        *text3,
        "content_block_stop",
        "content_block_start",
        *text3,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    stops = [(t, e["index"]) for t, e in events if e["type"] == "content_block_stop"]
    assert stops == [(1500 * MS, 0), (1900 * MS, 1), (2300 * MS, 2), (3100 * MS, 3)]
    head = events[7][1]["content_block"]
    assert head == {"type": "tool_use", "id": "A", "name": "get_weather", "input": {}}
    parts = [
        e["delta"]["partial_json"]
        for _, e in events
        if e["type"] == "content_block_delta" and e["index"] == 1
    ]
    assert json.loads("".join(parts)) == {"call": "A", "resource": "Paris"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert calls == [
        (1900 * MS, "A", {"call": "A", "resource": "Paris"}),
        (2300 * MS, "B", {"call": "B"}),
    ]


def test_openai_chat_completions_sequence_and_late_dispatch() -> None:
    events, calls = play("openai-chat")
    deltas = [e["choices"][0]["delta"] for _, e in events]
    assert deltas[0] == {"role": "assistant", "content": ""}
    heads = [
        (t, d["tool_calls"][0])
        for (t, _), d in zip(events, deltas, strict=True)
        if "tool_calls" in d and "id" in d["tool_calls"][0]
    ]
    assert [(t, h["index"], h["id"], h["function"]["name"]) for t, h in heads] == [
        (1500 * MS, 0, "A", "get_weather"),
        (1900 * MS, 1, "B", "get_time"),
    ]
    last_time, last = events[-1]
    assert (last_time, last["choices"][0]["finish_reason"]) == (3100 * MS, "tool_calls")
    # A is known complete only when B's first fragment arrives (1.9 s, here no
    # later than its real completion), B only at finish_reason (3.1 s, not 2.3).
    assert [(t, c) for t, c, _ in calls] == [(1900 * MS, "A"), (3100 * MS, "B")]
    assert all(e["object"] == "chat.completion.chunk" for _, e in events)


def test_openai_responses_sequence() -> None:
    events, calls = play("openai-responses")
    seq = [e["sequence_number"] for _, e in events]
    assert seq == list(range(len(events)))
    done = [
        (t, e["output_index"], e["item"]["type"])
        for t, e in events
        if e["type"] == "response.output_item.done"
    ]
    assert done == [
        (1500 * MS, 0, "message"),
        (1900 * MS, 1, "function_call"),
        (2300 * MS, 2, "function_call"),
        (3100 * MS, 3, "message"),
    ]
    assert kinds(events)[:2] == ["response.created", "response.in_progress"]
    final = events[-1][1]
    assert final["type"] == "response.completed"
    assert [i["type"] for i in final["response"]["output"]] == [
        "message",
        "function_call",
        "function_call",
        "message",
    ]
    assert [(t, c) for t, c, _ in calls] == [(1900 * MS, "A"), (2300 * MS, "B")]


@pytest.mark.parametrize(
    ("wire", "b_start", "session"),
    [
        ("canonical", 2300, 4300),
        ("anthropic", 2300, 4300),
        ("openai-responses", 2300, 4300),
        # B is dispatched at finish_reason, 3.1 s: runs to 5.1 s
        ("openai-chat", 3100, 5100),
    ],
)
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_overlapped_dispatch_point_per_wire(
    wire: Any, b_start: int, session: int, backend: Any
) -> None:
    outcome = run_strategy(hand_worked(), "overlapped", wire=wire, backend=backend)
    starts = {
        s.attrs["call_id"]: s.start_ns
        for s in outcome.timeline.spans
        if s.name == "tool"
    }
    assert starts == {"A": 1900 * MS, "B": b_start * MS}
    assert outcome.session_ns == session * MS


def test_chat_decoder_pairs_fragments_without_ids() -> None:
    decoder = decoder_for("openai-chat")

    def chunk(calls: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
        return {"choices": [{"delta": {"tool_calls": calls}, "finish_reason": finish}]}

    first = {"index": 0, "id": "x", "function": {"name": "f", "arguments": '{"a"'}}
    assert decoder.feed(chunk([first])) == []
    assert decoder.feed(chunk([{"index": 0, "function": {"arguments": ": 1}"}}])) == []
    second = {"index": 1, "id": "y", "function": {"name": "g", "arguments": "{}"}}
    [done] = decoder.feed(chunk([second]))
    assert (done.id, done.name, done.arguments) == ("x", "f", {"a": 1})
    [last] = decoder.feed(chunk([], "tool_calls"))
    assert (last.id, last.arguments, decoder.done) == ("y", {}, True)


def test_broken_arguments_are_named() -> None:
    decoder = decoder_for("anthropic")
    start = {"type": "tool_use", "id": "t1", "name": "f", "input": {}}
    decoder.feed({"type": "content_block_start", "index": 0, "content_block": start})
    delta = {"type": "input_json_delta", "partial_json": '{"a": '}
    decoder.feed({"type": "content_block_delta", "index": 0, "delta": delta})
    # the stop alone may be a max_tokens cut (WireFaults.truncate): the decoder
    # holds the call and raises once the stop reason says it was not cut
    assert decoder.feed({"type": "content_block_stop", "index": 0}) == []
    end = {"type": "message_delta", "delta": {"stop_reason": "tool_use"}}
    with pytest.raises(
        SimulatorError, match="arguments of call 't1' are not valid JSON"
    ):
        decoder.feed(end)


def test_unknown_decoder() -> None:
    with pytest.raises(SimulatorError, match="wire = 'grpc'"):
        decoder_for("grpc")
