"""Wire fault knobs: what each knob puts on each wire, what the decoders make of
it, that no remaining event moves, and the hand-back rules of a cut or failed
turn.

Hand-worked turn (as in test_wire): TTFT 0.5 s; 50 text tokens; A (20 tok,
1.0 s); B (20 tok, 2.0 s); 40 text tokens; 50 tok/s. Blocks end at 1.5, 1.9
(A complete), 2.3 (B complete) and 3.1 s (stream end). B's block spans
[1.9, 2.3]; a truncation keeps its first third: it ends at
1.9 s + 400 ms // 3 = 2_033_333_333 ns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import anyio
import pytest

from simulator import SimulatorError, now_ns, run
from simulator._faults import WireFaults
from simulator._model import BlockStart, SimulatedModel, Stop, StreamError
from simulator._scenario import Block, Scenario, ToolCall, Turn
from simulator._timeline import Timeline
from simulator._tools import SimulatedTools, ToolResult
from simulator._wire import StreamDecoder, decoder_for

MS = 1_000_000
CUT_NS = 1_900 * MS + 400 * MS // 3
WIRES = ("canonical", "anthropic", "openai-chat", "openai-responses")

Played = tuple[list[tuple[int, Any]], list[tuple[int, str]], StreamDecoder]


def hand_worked(turns: int = 1) -> Scenario:
    """The hand-worked turn, ``turns`` times (call ids get the turn number)."""

    def turn(k: int) -> Turn:
        a = ToolCall(f"A{k}", "get_weather", 20, 1.0, resource="Paris")
        b = ToolCall(f"B{k}", "get_time", 20, 2.0)
        blocks = (
            Block("text", 50),
            Block("tool_call", 20, a),
            Block("tool_call", 20, b),
            Block("text", 40),
        )
        return Turn(blocks=blocks, ttft=0.5, tokens_per_second=50.0)

    return Scenario("faults", tuple(turn(k) for k in range(turns)))


def ok(ids: Sequence[str]) -> list[ToolResult]:
    return [ToolResult(c, "f", "ok", "") for c in ids]


def play(wire: str, faults: WireFaults | None = None) -> Played:
    """Stream turn 0; return (time, event), the decoded (time, call id) and the
    decoder; hand back results for exactly the decoded calls."""

    async def body() -> Played:
        model = SimulatedModel(hand_worked(), wire=wire, faults=faults)  # type: ignore[arg-type]
        decoder = decoder_for(wire)
        events: list[tuple[int, Any]] = []
        calls: list[tuple[int, str]] = []
        async for event in model.stream():
            events.append((now_ns(), event))
            calls += [(now_ns(), info.id) for info in decoder.feed(event)]
        model.hand_back(ok([c for _, c in calls]))
        return events, calls, decoder

    return run(body).value


def kind(event: Any) -> str:
    if not isinstance(event, dict):
        return type(event).__name__
    return str(event.get("type", "chunk"))


# ---------------------------------------------------------------- no knob set


@pytest.mark.parametrize("wire", WIRES)
def test_all_knobs_off_streams_exactly_as_without_faults(wire: str) -> None:
    plain, plain_calls, _ = play(wire)
    off, off_calls, _ = play(wire, WireFaults(turns=(0,)))
    assert off == plain
    assert off_calls == plain_calls


# ---------------------------------------------------------------- ping


def test_ping_every_two_deltas_on_anthropic() -> None:
    plain, plain_calls, _ = play("anthropic")
    pinged, calls, decoder = play("anthropic", WireFaults(ping=2))
    # 4 blocks x 3 deltas = 12 deltas -> 6 pings, plus 1 after message_start,
    # plus the first-token ping (0.5 s) every Anthropic stream has. Deltas fall
    # at thirds of each block: every second one is at 1.1667, 1.6333, 1.9,
    # 2.1667, 2.5667 and 3.1 s.
    pings = [t for t, e in pinged if kind(e) == "ping"]
    assert pings == [
        0,
        500 * MS,
        1_166_666_666,
        1_633_333_333,
        1_900_000_000,
        2_166_666_666,
        2_566_666_666,
        3_100_000_000,
    ]
    assert kind(pinged[1][1]) == "ping" and kind(pinged[0][1]) == "message_start"
    # each added ping directly follows a delta at that delta's timestamp
    for n, (when, event) in enumerate(pinged):
        if kind(event) == "ping" and n > 2:
            assert kind(pinged[n - 1][1]) == "content_block_delta"
            assert pinged[n - 1][0] == when
    # everything but pings is the plain stream, at the same nanoseconds
    assert [x for x in pinged if kind(x[1]) != "ping"] == [
        x for x in plain if kind(x[1]) != "ping"
    ]
    assert len(pinged) == len(plain) + 7
    assert calls == plain_calls == [(1900 * MS, "A0"), (2300 * MS, "B0")]
    assert decoder.done and decoder.error is None


@pytest.mark.parametrize("wire", ["canonical", "openai-chat", "openai-responses"])
def test_ping_on_other_wires_is_refused(wire: str) -> None:
    with pytest.raises(SimulatorError) as info:
        SimulatedModel(hand_worked(), wire=wire, faults=WireFaults(ping=1))  # type: ignore[arg-type]
    message = str(info.value)
    assert "WireFaults.ping = 1" in message
    assert f"wire={wire!r}" in message and "anthropic" in message


# ---------------------------------------------------------------- chat knobs


def _fragments(events: list[tuple[int, Any]]) -> list[tuple[int, dict[str, Any]]]:
    return [
        (when, frag)
        for when, e in events
        if e.get("choices")
        for frag in e["choices"][0]["delta"].get("tool_calls") or []
    ]


def test_chat_without_faults_already_names_a_call_on_its_first_fragment_only() -> None:
    events, _, _ = play("openai-chat")
    frags = _fragments(events)
    # per call: one head fragment + 3 argument fragments
    assert [f["index"] for _, f in frags] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert [f.get("id") for _, f in frags] == ["A0", None, None, None] + [
        "B0",
        None,
        None,
        None,
    ]


def test_chat_index_reuse_repeats_ids_on_every_fragment() -> None:
    plain, plain_calls, _ = play("openai-chat")
    events, calls, _ = play("openai-chat", WireFaults(index_reuse=True))
    frags = _fragments(events)
    assert [f["index"] for _, f in frags] == [0] * 8
    assert [f["id"] for _, f in frags] == ["A0"] * 4 + ["B0"] * 4
    assert [t for t, _ in events] == [t for t, _ in plain]
    # A is known complete when B's first fragment arrives (1.9 s), B at finish
    assert calls == plain_calls == [(1900 * MS, "A0"), (3100 * MS, "B0")]


def test_chat_index_reuse_with_missing_ids() -> None:
    plain, plain_calls, _ = play("openai-chat")
    faults = WireFaults(index_reuse=True, missing_ids=True)
    events, calls, decoder = play("openai-chat", faults)
    frags = _fragments(events)
    assert [f["index"] for _, f in frags] == [0] * 8
    assert [f.get("id") for _, f in frags] == ["A0", None, None, None] + [
        "B0",
        None,
        None,
        None,
    ]
    assert [f["function"].get("name") for _, f in frags if "id" in f] == [
        "get_weather",
        "get_time",
    ]
    # a decoder keyed on index alone would glue both calls' arguments together
    glued = "".join(f["function"]["arguments"] for _, f in frags)
    assert glued == '{"call":"A0","resource":"Paris"}{"call":"B0"}'
    assert [t for t, _ in events] == [t for t, _ in plain]
    assert calls == plain_calls
    assert decoder.stop_reason == "tool_calls"


def test_missing_ids_alone_is_refused_because_it_changes_nothing() -> None:
    with pytest.raises(SimulatorError, match=r"missing_ids = True.*index_reuse=True"):
        SimulatedModel(
            hand_worked(), wire="openai-chat", faults=WireFaults(missing_ids=True)
        )


@pytest.mark.parametrize("knob", ["index_reuse", "missing_ids"])
def test_chat_knobs_on_anthropic_are_refused(knob: str) -> None:
    faults = WireFaults(index_reuse=True, missing_ids=knob == "missing_ids")
    with pytest.raises(SimulatorError, match=r"index_reuse = True: applies to wire "):
        SimulatedModel(hand_worked(), wire="anthropic", faults=faults)


# ---------------------------------------------------------------- truncate

# closing events a truncation appends after the kept prefix, per wire
TRUNCATE_TAIL = {
    "canonical": ["Stop"],
    "anthropic": ["content_block_stop", "message_delta", "message_stop"],
    "openai-chat": ["chunk"],
    "openai-responses": ["response.incomplete"],
}
STOP_WORDS = {
    "canonical": "max_tokens",
    "anthropic": "max_tokens",
    "openai-chat": "length",
    "openai-responses": "incomplete",
}


@pytest.mark.parametrize("wire", WIRES)
def test_truncate_cuts_the_last_call_and_keeps_every_other_time(wire: str) -> None:
    plain, _, _ = play(wire)
    events, calls, decoder = play(wire, WireFaults(truncate=True))
    tail = TRUNCATE_TAIL[wire]
    kept = events[: -len(tail)]
    assert kept == plain[: len(kept)]
    assert [kind(e) for _, e in events[-len(tail) :]] == tail
    assert {t for t, _ in events[-len(tail) :]} == {CUT_NS}
    if wire == "canonical":  # the cut block's start; no partial delta
        assert kept[-1] == (1900 * MS, BlockStart(2, "tool_call", "B0", "get_time"))
    else:  # the first third of B's arguments
        assert kept[-1][0] == CUT_NS
    assert calls == [(1900 * MS, "A0")]
    assert decoder.cut == ["B0"]
    assert decoder.done and decoder.stop_reason == STOP_WORDS[wire]


def test_truncate_on_the_wire_shows_the_first_third_of_the_arguments() -> None:
    anthropic, _, _ = play("anthropic", WireFaults(truncate=True))
    partial = [
        e["delta"]["partial_json"]
        for _, e in anthropic
        if kind(e) == "content_block_delta" and e["index"] == 2
    ]
    assert partial == ['{"cal']  # '{"call":"B0"}' is 13 chars: pieces of 5
    assert anthropic[-2][1]["delta"]["stop_reason"] == "max_tokens"
    chat, _, _ = play("openai-chat", WireFaults(truncate=True))
    assert chat[-1][1]["choices"][0]["finish_reason"] == "length"
    responses, _, _ = play("openai-responses", WireFaults(truncate=True))
    final = responses[-1][1]
    assert final["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    cut = final["response"]["output"][-1]
    assert (cut["call_id"], cut["status"], cut["arguments"]) == (
        "B0",
        "incomplete",
        '{"cal',
    )
    assert final["sequence_number"] == responses[-2][1]["sequence_number"] + 1


def _model_turn(
    wire: str, faults: WireFaults, results: list[str]
) -> tuple[SimulatedModel, Timeline]:
    async def body() -> SimulatedModel:
        model = SimulatedModel(hand_worked(), wire=wire, faults=faults)  # type: ignore[arg-type]
        async for _ in model.stream():
            pass
        model.hand_back(ok(results))
        return model

    result = run(body)
    return result.value, result.timeline


def test_hand_back_of_a_truncated_turn_wants_the_complete_calls_only() -> None:
    model, timeline = _model_turn("anthropic", WireFaults(truncate=True), ["A0"])
    assert model.handed_back == [["A0"]]
    stream = [s for s in timeline.spans if s.name == "stream"]
    assert [(s.start_ns, s.end_ns, s.attrs.get("ended")) for s in stream] == [
        (0, CUT_NS, "max_tokens")
    ]
    cut = [i for i in timeline.instants if i.name == "call_cut"]
    assert [(i.at_ns, i.attrs["call_id"]) for i in cut] == [(CUT_NS, "B0")]
    # H = max(stream end 2.033 s, now): hand-back right at the cut
    assert model.turn_times[0].hand_back_ns == CUT_NS


@pytest.mark.parametrize("wire", WIRES)
def test_a_result_for_the_truncated_call_is_refused(wire: str) -> None:
    with pytest.raises(SimulatorError, match=r"call 'B0' was cut by max_tokens"):
        _model_turn(wire, WireFaults(truncate=True), ["A0", "B0"])


def test_truncate_acts_on_the_chosen_turns_only() -> None:
    async def body() -> list[list[str]]:
        model = SimulatedModel(
            hand_worked(2),
            wire="anthropic",
            faults=WireFaults(truncate=True, turns=(1,)),
        )
        seen = []
        while model.has_next_turn:
            decoder = decoder_for("anthropic")
            ids = [c.id async for e in model.stream() for c in decoder.feed(e)]
            model.hand_back(ok(ids))
            seen.append(ids)
        return seen

    assert run(body).value == [["A0", "B0"], ["A1"]]


# ---------------------------------------------------------------- error


ERROR_TYPES = {
    "canonical": "overloaded_error",
    "anthropic": "overloaded_error",
    "openai-chat": "server_error",
    "openai-responses": "server_error",
}


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize(
    ("k", "at_ms", "expected"),
    [
        (0, 500, []),
        (1, 1900, [(1900 * MS, "A0")]),
        (2, 2300, [(1900 * MS, "A0"), (2300 * MS, "B0")]),
    ],
)
def test_error_after_k_calls_reports_k_calls_then_the_error(
    wire: str, k: int, at_ms: int, expected: list[tuple[int, str]]
) -> None:
    plain, _, _ = play(wire)
    events, calls, decoder = play(wire, WireFaults(error_after_calls=k))
    kept = events[:-1]
    assert kept == plain[: len(kept)]
    assert events[-1][0] == at_ms * MS
    if wire == "openai-chat" and k:
        # Chat has no per-call end: the error chunk is what closes call k
        expected = [*expected[:-1], (at_ms * MS, expected[-1][1])]
    assert calls == expected
    assert decoder.done and decoder.error == ERROR_TYPES[wire]
    assert decoder.stop_reason is None and decoder.cut == []


def test_error_event_shapes() -> None:
    anthropic, _, _ = play("anthropic", WireFaults(error_after_calls=1))
    assert anthropic[-1][1] == {
        "type": "error",
        "error": {
            "type": "overloaded_error",
            "message": "Overloaded (simulated fault)",
        },
    }
    assert [kind(e) for _, e in anthropic[-2:]] == ["content_block_stop", "error"]
    chat, _, _ = play("openai-chat", WireFaults(error_after_calls=1))
    assert chat[-1][1]["error"]["type"] == "server_error"
    responses, _, _ = play("openai-responses", WireFaults(error_after_calls=1))
    failed = responses[-1][1]
    assert failed["type"] == "response.failed"
    assert failed["response"]["status"] == "failed"
    assert [i["call_id"] for i in failed["response"]["output"] if "call_id" in i] == [
        "A0"
    ]
    canonical, _, _ = play("canonical", WireFaults(error_after_calls=1))
    assert canonical[-1] == (
        1900 * MS,
        StreamError("overloaded_error", "Overloaded (simulated fault)"),
    )


@pytest.mark.parametrize("wire", WIRES)
def test_error_after_more_calls_than_the_turn_has_changes_nothing(wire: str) -> None:
    assert play(wire, WireFaults(error_after_calls=3))[:2] == play(wire)[:2]


def test_hand_back_after_an_error_wants_the_complete_calls() -> None:
    model, timeline = _model_turn(
        "openai-responses", WireFaults(error_after_calls=1), ["A0"]
    )
    assert model.handed_back == [["A0"]]
    stream = [s for s in timeline.spans if s.name == "stream"]
    assert [(s.start_ns, s.end_ns, s.attrs.get("ended")) for s in stream] == [
        (0, 1900 * MS, "error")
    ]
    errors = [
        (i.at_ns, i.attrs["error"])
        for i in timeline.instants
        if i.name == "stream_error"
    ]
    assert errors == [(1900 * MS, "overloaded_error")]


def test_hand_back_after_an_error_refuses_calls_that_never_completed() -> None:
    with pytest.raises(
        SimulatorError,
        match=r"calls \['B0'\] never completed: the stream failed after 1",
    ):
        _model_turn("anthropic", WireFaults(error_after_calls=1), ["A0", "B0"])
    with pytest.raises(SimulatorError, match=r"missing \['A0'\]"):
        _model_turn("anthropic", WireFaults(error_after_calls=1), [])


# ---------------------------------------------------------------- stop reason


@pytest.mark.parametrize(
    ("wire", "reason", "word"),
    [
        ("canonical", "end_turn", "end_turn"),
        ("anthropic", "end_turn", "end_turn"),
        ("openai-chat", "end_turn", "stop"),
        ("openai-responses", "max_tokens", "incomplete"),
    ],
)
def test_an_inconsistent_stop_reason_does_not_hide_complete_calls(
    wire: str, reason: str, word: str
) -> None:
    plain, plain_calls, _ = play(wire)
    events, calls, decoder = play(wire, WireFaults(stop_reason=reason))
    assert [t for t, _ in events] == [t for t, _ in plain]
    assert calls == plain_calls
    assert decoder.stop_reason == word and decoder.cut == []
    if wire == "canonical":
        assert events[-1][1] == Stop("end_turn")


def test_responses_has_no_end_turn_stop_reason() -> None:
    with pytest.raises(SimulatorError, match=r"stop_reason = 'end_turn'.*Responses"):
        SimulatedModel(
            hand_worked(),
            wire="openai-responses",
            faults=WireFaults(stop_reason="end_turn"),
        )


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("faults", "pattern"),
    [
        (WireFaults(ping=0), r"WireFaults.ping = 0: must be a whole number >= 1"),
        (WireFaults(ping=True), r"WireFaults.ping = True"),
        (
            WireFaults(truncate="yes"),  # type: ignore[arg-type]
            r"WireFaults.truncate = 'yes': must be True or False",
        ),
        (WireFaults(error_after_calls=-1), r"error_after_calls = -1: .*>= 0"),
        (
            WireFaults(stop_reason="banana"),
            r"stop_reason = 'banana': must be one of end_turn",
        ),
        (WireFaults(turns=[0]), r"turns = \[0\]: must be a tuple"),  # type: ignore[arg-type]
        (
            WireFaults(turns=(0, 3)),
            r"turns = \(0, 3\): turn 3 does not exist: the "
            r"scenario has 1 turns \(0 to 0\); name existing turns",
        ),
        (
            WireFaults(truncate=True, error_after_calls=1),
            r"error_after_calls = 1: a stream ends one way",
        ),
        (
            WireFaults(truncate=True, stop_reason="end_turn"),
            r"stop_reason = 'end_turn': truncate already decides",
        ),
    ],
)
def test_bad_knobs_are_named_with_their_value_and_a_fix(
    faults: WireFaults, pattern: str
) -> None:
    with pytest.raises(SimulatorError, match=pattern) as info:
        SimulatedModel(hand_worked(), wire="anthropic", faults=faults)
    assert "; " in str(info.value)  # the rule, then the fix


def test_faults_must_be_a_wire_faults() -> None:
    with pytest.raises(
        SimulatorError, match=r"faults = \{'truncate': True\}: must be a WireFaults"
    ):
        SimulatedModel(hand_worked(), faults={"truncate": True})  # type: ignore[arg-type]


def test_the_fixture_passes_faults_on(streampar_model: Any) -> None:
    faults = WireFaults(truncate=True)
    model = streampar_model(hand_worked(), wire="openai-chat", faults=faults)
    assert model.faults is faults and model.wire == "openai-chat"
    with pytest.raises(SimulatorError, match="WireFaults.ping"):
        streampar_model(hand_worked(), wire="openai-chat", faults=WireFaults(ping=3))


# ---------------------------------------------------------------- a harness


async def anthropic_loop(model: SimulatedModel, tools: SimulatedTools) -> list[str]:
    """A small streaming harness: runs a tool at its ``content_block_stop``;
    on an ``error`` event it stops reading, lets the started tools finish and
    hands back their results (a retry would be a new request). Returns one
    line per turn saying how it ended."""
    log: list[str] = []
    while model.has_next_turn:
        results: dict[str, ToolResult] = {}
        order: list[str] = []
        blocks: dict[int, tuple[str, str, list[str]]] = {}
        ended = "end"
        async with anyio.create_task_group() as group:
            async for event in model.stream():
                kind_ = event["type"]
                if (
                    kind_ == "content_block_start"
                    and event["content_block"]["type"] == "tool_use"
                ):
                    head = event["content_block"]
                    blocks[event["index"]] = (head["id"], head["name"], [])
                elif kind_ == "content_block_delta" and event["index"] in blocks:
                    blocks[event["index"]][2].append(event["delta"]["partial_json"])
                elif kind_ == "content_block_stop" and event["index"] in blocks:
                    call_id, name, parts = blocks.pop(event["index"])
                    order.append(call_id)
                    group.start_soon(_run_tool, tools, call_id, name, parts, results)
                elif kind_ == "error":
                    ended = f"error {event['error']['type']} at {now_ns()}"
                    break
        model.hand_back([results[c] for c in order])
        log.append(f"{ended}: {order}")
    return log


async def _run_tool(
    tools: SimulatedTools,
    call_id: str,
    name: str,
    parts: list[str],
    results: dict[str, ToolResult],
) -> None:
    results[call_id] = await tools.call(call_id, name, json.loads("".join(parts)))


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_harness_survives_a_mid_stream_error(backend: str) -> None:
    """Turn 0 fails at 1.9 s after A; A runs 1.9 -> 2.9 s; H_0 = 2.9 s.
    Turn 1 streams in full: B1 complete at 2.9 + 2.3 = 5.2 s runs 2 s to 7.2 s;
    its stream ends at 2.9 + 3.1 = 6.0 s; session = 7.2 s."""
    scenario = hand_worked(2)

    async def body() -> list[str]:
        model = SimulatedModel(
            scenario,
            wire="anthropic",
            faults=WireFaults(error_after_calls=1, turns=(0,)),
        )
        return await anthropic_loop(model, SimulatedTools(scenario))

    result = run(body, backend=backend)
    assert result.value == [
        f"error overloaded_error at {1900 * MS}: ['A0']",
        "end: ['A1', 'B1']",
    ]
    assert result.virtual_ns == 7_200 * MS
    hand_backs = [i.at_ns for i in result.timeline.instants if i.name == "hand_back"]
    assert hand_backs == [2_900 * MS, 7_200 * MS]


async def decoder_loop(model: SimulatedModel, tools: SimulatedTools) -> list[str]:
    """The same harness for any wire: the decoder says which calls are complete;
    a tool starts at once; the turn's results go back when the stream is over
    (however it ended) and the started tools are done."""
    log: list[str] = []
    while model.has_next_turn:
        decoder = decoder_for(model.wire)
        results: dict[str, ToolResult] = {}
        order: list[str] = []
        async with anyio.create_task_group() as group:
            async for event in model.stream():
                for call in decoder.feed(event):
                    order.append(call.id)
                    group.start_soon(_run_call, tools, call.id, call.name, results)
        model.hand_back([results[c] for c in order])
        log.append(f"{order} cut={decoder.cut} error={decoder.error is not None}")
    return log


async def _run_call(
    tools: SimulatedTools, call_id: str, name: str, results: dict[str, ToolResult]
) -> None:
    results[call_id] = await tools.call(call_id, name)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize(
    ("faults", "first"),
    [
        (WireFaults(error_after_calls=1, turns=(0,)), "['A0'] cut=[] error=True"),
        (WireFaults(truncate=True, turns=(0,)), "['A0'] cut=['B0'] error=False"),
    ],
)
def test_a_wire_agnostic_harness_times_a_faulted_turn(
    backend: str, wire: str, faults: WireFaults, first: str
) -> None:
    """Either fault leaves A0 as turn 0's only call: complete at 1.9 s (Chat
    learns it at B0's first fragment or at the error chunk, also 1.9 s), it
    runs to 2.9 s, after the stream ended (cut at 2.033 s or failed at 1.9 s):
    H_0 = 2.9 s. Turn 1 as in the harness test above: session 7.2 s; on Chat,
    B1 (the last call) is known complete only at the finish chunk, 2.9 + 3.1 =
    6.0 s, and runs to 8.0 s."""
    scenario = hand_worked(2)

    async def body() -> list[str]:
        model = SimulatedModel(scenario, wire=wire, faults=faults)  # type: ignore[arg-type]
        return await decoder_loop(model, SimulatedTools(scenario))

    result = run(body, backend=backend)
    assert result.value == [first, "['A1', 'B1'] cut=[] error=False"]
    end = 8_000 * MS if wire == "openai-chat" else 7_200 * MS
    assert result.virtual_ns == end
    turns = [(s.start_ns, s.end_ns) for s in result.timeline.spans if s.name == "turn"]
    assert turns == [(0, 2_900 * MS), (2_900 * MS, end)]
