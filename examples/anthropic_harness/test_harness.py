"""Tests of the example harness with pytest-streampar.

The simulated model streams Anthropic events on virtual time and the simulated
tools take their scenario durations, so each test runs in milliseconds and
gives the same timeline every time.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from harness import Agent
from hypothesis import given
from hypothesis import strategies as st

from pytest_streampar.assertions import (
    assert_every_call_answered,
    assert_same_results,
    assert_speedup,
    assert_streampar_rules,
)
from pytest_streampar.strategies import (
    abort_times,
    engine_settings,
    scenario_from_dict,
    scenarios,
)

# TTFT 0.5 s at 50 tokens/s: 50 text tokens, then A (20 tokens) complete at
# 1.9 s and B at 2.3 s, 40 more tokens, stream end 3.1 s. Run after the stream,
# one by one: 3.1 + 1 + 2 = 6.1 s. Started at their blocks' stop: A ends at
# 2.9 s, B at 4.3 s, which is the critical path.
TWO_READS = scenario_from_dict(
    {
        "name": "two-reads",
        "turns": [
            {
                "blocks": [
                    {"text": 50},
                    {"tool_call": {"id": "A", "name": "read", "duration": 1.0}},
                    {"tool_call": {"id": "B", "name": "grep", "duration": 2.0}},
                    {"text": 40},
                ]
            }
        ],
    }
)


@pytest.mark.streampar(iteration_time=4.3, speedup=1.4, bound_margin=0.01)
async def test_tools_start_while_the_model_streams(
    streampar_model: Any, streampar_tools: Any, streampar_timeline: Any
) -> None:
    model = streampar_model(TWO_READS, wire="anthropic")
    tools = streampar_tools(TWO_READS)

    handed = await Agent(model, tools).run()

    assert [[r.call_id for r in turn] for turn in handed] == [["A", "B"]]
    assert model.turn_times[0].hand_back_ns == 4_300_000_000
    assert_streampar_rules(streampar_timeline)


async def play(model: Any, tools: Any, cap: int | None, abort_at: float | None) -> Any:
    agent = Agent(model, tools, max_concurrency=cap)
    async with anyio.create_task_group() as tg:
        if abort_at is not None:

            async def abort() -> None:
                await anyio.sleep(abort_at)
                agent.abort()

            tg.start_soon(abort)
        handed = await agent.run()
        tg.cancel_scope.cancel()
    return handed


@engine_settings(max_examples=30)
@given(scenario=scenarios(max_turns=2, faults=True))
def test_rules_results_and_speed_on_any_scenario(
    streampar_run: Any, streampar_model: Any, streampar_tools: Any, scenario: Any
) -> None:
    model = streampar_model(scenario, wire="anthropic")
    tools = streampar_tools(scenario)

    run = streampar_run(play, model, tools, scenario.max_concurrency, None)

    assert_streampar_rules(run)
    sequential = streampar_run.strategy(scenario, "sequential")
    assert_same_results(run.value, sequential, timeline=run.timeline)
    assert_speedup(run, sequential, at_least=1.0)


@engine_settings(max_examples=30)
@given(scenario=scenarios(max_turns=2, min_calls=1), data=st.data())
def test_an_abort_still_answers_every_call(
    streampar_run: Any,
    streampar_model: Any,
    streampar_tools: Any,
    scenario: Any,
    data: Any,
) -> None:
    abort_at = data.draw(abort_times(scenario), label="abort_at")
    model = streampar_model(scenario, wire="anthropic")
    tools = streampar_tools(scenario)

    run = streampar_run(play, model, tools, scenario.max_concurrency, abort_at)

    assert_every_call_answered(run)
    assert_streampar_rules(run)
    assert not tools.running
