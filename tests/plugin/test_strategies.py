"""The public Hypothesis strategies: bounds, shrinking, printing, abort times."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import find as hypothesis_find
from hypothesis.errors import NoSuchExample
from hypothesis.vendor.pretty import pretty

from pytest_streampar import strategies as sps
from simulator._errors import SimulatorError
from simulator._scenario import Block, Fault, Scenario, ToolCall, Turn, to_ns

MS = 1_000_000
QUICK = settings(max_examples=40, deadline=None, database=None)
# no explain phase: it traces every line of each shrink step, which gets slow
FIND = settings(
    max_examples=500,
    database=None,
    derandomize=True,
    phases=[Phase.generate, Phase.shrink],
)


def find(strategy: Any, condition: Any) -> Any:
    return hypothesis_find(strategy, condition, settings=FIND)


@QUICK
@given(
    sps.scenarios(
        min_turns=2,
        max_turns=4,
        min_calls=1,
        max_calls=3,
        max_concurrency=(2, 5),
        min_duration=0.5,
        max_duration=1.25,
    )
)
def test_scenarios_respect_their_bounds(scenario: Scenario) -> None:
    assert 2 <= len(scenario.turns) <= 4
    assert scenario.max_concurrency in (2, 5)
    ids = [c.id for c in scenario.calls]
    assert len(ids) == len(set(ids))
    for k, turn in enumerate(scenario.turns):
        assert 1 <= len(turn.calls) <= 3
        assert [c.id for c in turn.calls] == [
            f"c{k}_{n}" for n in range(len(turn.calls))
        ]
        for call in turn.calls:
            assert 0.5 <= call.duration <= 1.25
            assert to_ns(call.duration) % MS == 0
            assert call.fault is None
            names = (
                sps.EXCLUSIVE_NAMES if call.safety == "exclusive" else sps.SHARED_NAMES
            )
            assert call.name in names


@QUICK
@given(sps.scenarios(max_calls=4))
def test_every_stream_time_is_a_whole_millisecond(scenario: Scenario) -> None:
    for turn in scenario.turns:
        times = [turn.first_token_ns(), turn.stream_end_ns(), *turn.block_complete_ns()]
        assert all(t % MS == 0 for t in times)
        assert turn.tokens_per_second in (20.0, 50.0, 100.0)


@QUICK
@given(sps.scenarios(exclusive=False, overheads=False, prefill=False, faults=False))
def test_switches_turn_features_off(scenario: Scenario) -> None:
    for turn in scenario.turns:
        assert turn.request_overhead == 0.0 == turn.result_overhead
        assert turn.prefill_tokens_per_second is None
    assert all(c.safety == "shared" and c.fault is None for c in scenario.calls)


@QUICK
@given(sps.tool_calls(call_id="X", faults=True, hang=True, max_duration=2.0))
def test_faults_fire_within_the_duration_range(call: ToolCall) -> None:
    assert call.id == "X"
    if call.fault is not None and call.fault.kind == "error":
        assert 0.0 <= call.fault.at <= 2.0


def test_scenarios_shrink_to_one_turn_one_short_shared_call() -> None:
    found = find(sps.scenarios(), lambda s: len(s.calls) >= 1)
    call = ToolCall("c0_0", "read", arg_tokens=1, duration=0.0, result_tokens=0)
    assert found == Scenario(
        "generated", (Turn(blocks=(Block("tool_call", 1, call),), ttft=0.0),)
    )


def test_two_calls_shrink_into_the_first_turn() -> None:
    found = find(sps.scenarios(), lambda s: len(s.calls) >= 2)
    assert len(found.turns) == 1
    assert [c.id for c in found.calls] == ["c0_0", "c0_1"]


def test_a_needed_fault_shrinks_to_an_error_at_zero() -> None:
    found = find(
        sps.scenarios(max_turns=2, faults=True, hang=True),
        lambda s: any(c.fault for c in s.calls),
    )
    assert [c.fault for c in found.calls] == [Fault("error", 0.0)]


def test_long_durations_shrink_to_the_threshold() -> None:
    found = find(sps.scenarios(), lambda s: any(c.duration >= 1.5 for c in s.calls))
    assert [c.duration for c in found.calls] == [1.5]


def test_a_needed_cap_shrinks_to_the_first_cap_listed() -> None:
    found = find(sps.scenarios(), lambda s: s.max_concurrency is not None)
    assert found.max_concurrency == 1
    assert found.turns == (Turn(ttft=0.0),)


def test_a_needed_exclusive_call_is_a_write_without_resource() -> None:
    found = find(
        sps.tool_calls(), lambda c: c.safety == "exclusive" and c.resource is not None
    )
    assert found == ToolCall(
        "call_0", "write", 1, 0.0, "exclusive", "a.txt", None, result_tokens=0
    )


def test_a_failing_example_prints_a_pasteable_scenario() -> None:
    call = ToolCall("c0_0", "write", 3, 1.25, "exclusive", "a.txt", Fault("error", 0.5))
    scenario = Scenario(
        "pasted",
        (
            Turn(
                (Block("text", 5), Block("tool_call", 3, call)),
            ),
        ),
        2,
    )
    text = pretty(scenario)
    assert text.startswith(
        "scenario_from_dict({'name': 'pasted',\n 'max_concurrency': 2,\n"
    )
    rebuilt = eval(text, {"scenario_from_dict": sps.scenario_from_dict})
    assert rebuilt == scenario


def test_the_falsifying_example_shows_scenario_from_dict(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        from hypothesis import given
        from pytest_streampar.strategies import engine_settings, scenarios

        @engine_settings(max_examples=50, database=None)
        @given(scenario=scenarios())
        def test_no_calls(scenario):
            assert not scenario.calls
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*: test_no_calls(",
            "*scenario=scenario_from_dict({'name': 'generated',",
            "*'turns': [{'ttft': 0.0,",
            "*'blocks': [{'tool_call': {'id': 'c0_0',",
        ]
    )


def test_engine_settings_turn_the_deadline_off() -> None:
    chosen = sps.engine_settings(max_examples=7)
    assert chosen.deadline is None
    assert chosen.max_examples == 7
    assert settings.get_profile("streampar").deadline is None


def hand_worked() -> Scenario:
    """A at 1.9 s, B at 2.3 s, stream end 3.1 s; sequential ends at 6.1 s."""
    a = ToolCall("A", "read", 20, 1.0)
    b = ToolCall("B", "read", 20, 2.0)
    blocks = (Block("text", 50), Block("tool_call", 20, a), Block("tool_call", 20, b))
    return Scenario("hw", (Turn(blocks + (Block("text", 40),), 0.5, 50.0),))


def test_abort_times_cover_the_sequential_session() -> None:
    scenario = hand_worked()
    assert find(sps.abort_times(scenario), lambda t: True) == 0.0
    assert find(sps.abort_times(scenario), lambda t: t >= 6.1) == 6.1
    with pytest.raises(NoSuchExample):
        find(sps.abort_times(scenario), lambda t: t > 6.1)


def test_abort_times_need_a_timeout_for_a_hang() -> None:
    call = ToolCall("H", "read", 10, 1.0, fault=Fault("hang"))
    scenario = Scenario("hang", (Turn((Block("tool_call", 10, call),), 0.5, 50.0),))
    with pytest.raises(SimulatorError, match="tool_timeout="):
        sps.abort_times(scenario)
    # TTFT 0.5 + 10/50 = 0.7 s; the tool is stopped 2 s later.
    assert find(sps.abort_times(scenario, tool_timeout=2.0), lambda t: t >= 2.7) == 2.7


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sps.scenarios(min_turns=0), "min_turns = 0: a scenario needs"),
        (
            lambda: sps.scenarios(min_turns=3, max_turns=2),
            "min_turns = 3, max_turns = 2",
        ),
        (
            lambda: sps.scenarios(min_calls=5, max_calls=1),
            "min_calls = 5, max_calls = 1",
        ),
        (lambda: sps.scenarios(max_concurrency=0), "max_concurrency = 0: each cap"),
        (
            lambda: sps.tool_calls(min_duration=-1),
            "min_duration = -1, max_duration = 3.0",
        ),
        (lambda: sps.faults(max_at=-0.5), "min_at = 0.0, max_at = -0.5"),
    ],
)
def test_bad_bounds_name_the_argument(call: Any, message: str) -> None:
    with pytest.raises(SimulatorError) as info:
        call()
    assert str(info.value).startswith(message)
