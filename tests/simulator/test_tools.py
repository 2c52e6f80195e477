"""Simulated tools: durations, faults, interrupted runs and their spans."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from simulator import SimulatorError, now_ns, run
from simulator._scenario import Block, Fault, Scenario, ToolCall, Turn
from simulator._tools import SimulatedTools, ToolResult

MS = 1_000_000


def scenario(*calls: ToolCall, result_overhead: float = 0.0) -> Scenario:
    blocks = tuple(Block("tool_call", c.arg_tokens, c) for c in calls)
    return Scenario("t", (Turn(blocks=blocks, result_overhead=result_overhead),))


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_ok_and_error_results_at_their_times(backend: Any) -> None:
    sc = scenario(
        ToolCall("A", "read", duration=1.25, result_tokens=42),
        ToolCall(
            "E",
            "write",
            duration=5.0,
            fault=Fault("error", at=0.5, message="disk full"),
        ),
    )

    async def body() -> list[tuple[int, ToolResult]]:
        tools = SimulatedTools(sc)
        out = []
        for call_id, name in (("A", "read"), ("E", "write")):
            result = await tools.call(call_id, name, {})
            out.append((now_ns(), result))
        return out

    result = run(body, backend=backend)
    assert result.value == [
        (1250 * MS, ToolResult("A", "read", "ok", "42 tokens")),
        (1750 * MS, ToolResult("E", "write", "error", "disk full")),
    ]
    spans = [
        (s.lane, s.start_ns, s.end_ns, dict(s.attrs)) for s in result.timeline.spans
    ]
    assert spans == [
        (
            "tool A",
            0,
            1250 * MS,
            {
                "turn": 0,
                "call_id": "A",
                "name": "read",
                "outcome": "ok",
                "safety": "shared",
                "resource": None,
            },
        ),
        (
            "tool E",
            1250 * MS,
            1750 * MS,
            {
                "turn": 0,
                "call_id": "E",
                "name": "write",
                "outcome": "error",
                "safety": "shared",
                "resource": None,
            },
        ),
    ]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_hang_waits_until_cancelled_and_records_the_reason(backend: Any) -> None:
    sc = scenario(ToolCall("H", "bash", fault=Fault("hang")))

    async def body() -> tuple[ToolResult, set[str]]:
        tools = SimulatedTools(sc)
        with anyio.move_on_after(2.5):
            await tools.call("H", "bash")
        running = set(tools.running)
        return tools.interrupted("H", "timeout", detail=" after 2.5 s"), running

    result = run(body, backend=backend)
    outcome, running = result.value
    assert outcome == ToolResult("H", "bash", "timeout", "tool timed out after 2.5 s")
    assert running == set()
    [span] = result.timeline.spans
    assert (span.start_ns, span.end_ns, span.attrs["outcome"]) == (
        0,
        2500 * MS,
        "timeout",
    )


def test_interrupted_before_start_records_no_span() -> None:
    sc = scenario(ToolCall("A", "read"))

    async def body() -> ToolResult:
        return SimulatedTools(sc).interrupted("A", "cancelled", cancelled_by="sibling")

    result = run(body)
    assert result.value.cancelled_by == "sibling"
    assert result.value.content.startswith("cancelled: another call")
    assert result.timeline.spans == []


def test_spec_turn_and_overhead() -> None:
    sc = scenario(
        ToolCall("A", "read", safety="exclusive", resource="f"), result_overhead=0.02
    )
    tools = SimulatedTools(sc)
    assert (tools.spec("A").safety, tools.spec("A").resource) == ("exclusive", "f")
    assert tools.turn_of("A") == 0
    assert tools.result_overhead_ns("A") == 20 * MS
    with pytest.raises(SimulatorError, match="call_id = 'Z' is not a call"):
        tools.spec("Z")


def test_wrong_tool_name_is_refused() -> None:
    sc = scenario(ToolCall("A", "read"))

    async def body() -> None:
        await SimulatedTools(sc).call("A", "write")

    with pytest.raises(
        SimulatorError, match="run as tool 'write' but the scenario names it 'read'"
    ):
        run(body)
