"""Properties of the reference strategies over generated scenarios, on both
backends, checked against the independent analytic schedule in ``_bound``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator._bound import critical_path_ns, schedule_session, session_bound_ns
from simulator._scenario import Block, Fault, Scenario, ToolCall, Turn, conflicts
from simulator._strategies import STRATEGIES, StrategyRun, run_strategy

BACKENDS = ["asyncio", "trio"]
MS = 1_000_000
PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Timeouts sit half a millisecond off the millisecond grid of durations, so a
# tool never ends exactly at its timeout (a tie the two backends may break
# differently).
TIMEOUT = 2.5005


@st.composite
def calls(draw: Any, call_id: str, faults: bool) -> ToolCall:
    exclusive = draw(st.booleans()) and draw(st.booleans())
    fault = None
    if faults and draw(st.integers(0, 3)) == 0:
        if draw(st.booleans()):
            fault = Fault("error", at=draw(st.integers(0, 3000)) / 1000)
        else:
            fault = Fault("hang")
    return ToolCall(
        id=call_id,
        name=draw(st.sampled_from(["read", "grep", "write"])),
        arg_tokens=draw(st.integers(0, 60)),
        duration=draw(st.integers(0, 3000)) / 1000,
        safety="exclusive" if exclusive else "shared",
        resource=draw(st.sampled_from([None, "a", "b"])),
        fault=fault,
        result_tokens=draw(st.integers(0, 500)),
    )


@st.composite
def turns(draw: Any, k: int, faults: bool) -> Turn:
    blocks: list[Block] = []
    if draw(st.booleans()):
        blocks.append(
            Block(draw(st.sampled_from(["text", "thinking"])), draw(st.integers(0, 80)))
        )
    for n in range(draw(st.integers(0, 4))):
        call = draw(calls(f"c{k}_{n}", faults))
        blocks.append(Block("tool_call", call.arg_tokens, call))
        if draw(st.integers(0, 3)) == 0:
            blocks.append(Block("text", draw(st.integers(0, 40))))
    return Turn(
        blocks=tuple(blocks),
        ttft=draw(st.integers(0, 1500)) / 1000,
        tokens_per_second=draw(st.sampled_from([20.0, 50.0, 100.0])),
        request_overhead=draw(st.sampled_from([0.0, 0.05])),
        result_overhead=draw(st.sampled_from([0.0, 0.01])),
        prefill_tokens_per_second=draw(st.sampled_from([None, 1000.0])),
    )


@st.composite
def scenarios(
    draw: Any, *, faults: bool = False, max_turns: int = 3, caps: bool = True
) -> Scenario:
    """Sessions of 1..max_turns turns with 0..4 calls each; shrink toward fewer
    turns, fewer calls, shorter durations, no faults, no cap."""
    n = draw(st.integers(1, max_turns))
    cap = draw(st.sampled_from([None, None, 1, 2, 3])) if caps else None
    return Scenario("generated", tuple(draw(turns(k, faults)) for k in range(n)), cap)


def unconstrained(scenario: Scenario) -> bool:
    few = scenario.max_concurrency is None or all(
        len(t.calls) <= scenario.max_concurrency for t in scenario.turns
    )
    return few and all(c.safety == "shared" for c in scenario.calls)


def check_invariants(run: StrategyRun) -> None:
    """Exactly one result per seen call, in call order; no tool before its call
    complete; conflicting tools never overlap; nothing after the last hand-back."""
    timeline = run.timeline
    complete = {
        i.attrs["call_id"]: i.at_ns
        for i in timeline.instants
        if i.name == "call_complete"
    }
    hand_backs = [i for i in timeline.instants if i.name == "hand_back"]
    specs = {c.id: c for c in run.scenario.calls}
    for k, (results, hb) in enumerate(zip(run.results, hand_backs, strict=True)):
        ids = [r.call_id for r in results]
        order = [c.id for c in run.scenario.turns[k].calls]
        seen = [c for c in order if c in complete and complete[c] <= hb.at_ns]
        assert ids == seen
        assert hb.attrs["call_ids"] == ids
        for r in results:
            assert (r.status == "cancelled") == (r.cancelled_by is not None)
    tools = [s for s in timeline.spans if s.name == "tool"]
    for span in tools:
        assert span.start_ns >= complete[span.attrs["call_id"]]
    for n, a in enumerate(tools):
        for b in tools[n + 1 :]:
            if conflicts(specs[a.attrs["call_id"]], specs[b.attrs["call_id"]]):
                assert a.end_ns <= b.start_ns or b.end_ns <= a.start_ns
    last = hand_backs[-1].at_ns if hand_backs else 0
    assert all(s.end_ns <= last for s in timeline.spans)
    assert run.session_ns == last


@pytest.mark.parametrize("backend", BACKENDS)
@PROPERTY_SETTINGS
@given(scenario=scenarios())
def test_strategies_match_the_analytic_schedule(
    scenario: Scenario, backend: Any
) -> None:
    runs = {s: run_strategy(scenario, s, backend=backend) for s in STRATEGIES}
    for strategy, run in runs.items():
        check_invariants(run)
        plan = schedule_session(scenario, strategy)  # type: ignore[arg-type]
        assert [(t.start_ns, t.send_ns, t.hand_back_ns) for t in run.turns] == [
            (t.start_ns, t.send_ns, t.hand_back_ns) for t in plan.turns
        ]
        starts = {
            s.attrs["call_id"]: s.start_ns
            for s in run.timeline.spans
            if s.name == "tool"
        }
        planned = {
            c.call_id: t.send_ns + c.start_ns
            for t in plan.turns
            for c in t.schedule.calls
        }
        assert starts == planned
        assert all(r.status == "ok" for turn in run.results for r in turn)
    seq, par, ovl = (runs[s].session_ns for s in STRATEGIES)
    assert ovl <= par <= seq
    bound = session_bound_ns(scenario)
    assert ovl >= bound
    if unconstrained(scenario):
        assert ovl == bound
        for turn, times in zip(scenario.turns, runs["overlapped"].turns, strict=True):
            assert times.hand_back_ns - times.send_ns == critical_path_ns(turn)


@pytest.mark.parametrize("backend", BACKENDS)
@PROPERTY_SETTINGS
@given(scenario=scenarios(), feed_forward=st.booleans())
def test_same_scenario_gives_the_same_timeline(
    scenario: Scenario, feed_forward: bool, backend: Any
) -> None:
    for strategy in STRATEGIES:
        one = run_strategy(
            scenario, strategy, backend=backend, feed_forward=feed_forward
        )
        two = run_strategy(
            scenario, strategy, backend=backend, feed_forward=feed_forward
        )
        assert one.timeline.to_json() == two.timeline.to_json()


@pytest.mark.parametrize("backend", BACKENDS)
@PROPERTY_SETTINGS
@given(scenario=scenarios())
def test_feed_forward_matches_the_schedule_and_never_costs(
    scenario: Scenario, backend: Any
) -> None:
    for strategy in STRATEGIES:
        run = run_strategy(scenario, strategy, backend=backend, feed_forward=True)
        check_invariants(run)
        plan = schedule_session(scenario, strategy, feed_forward=True)  # type: ignore[arg-type]
        assert [t.send_ns for t in run.turns] == [t.send_ns for t in plan.turns]
        assert run.session_ns == plan.session_ns
        barrier = schedule_session(scenario, strategy)  # type: ignore[arg-type]
        assert run.session_ns <= barrier.session_ns


@pytest.mark.parametrize("backend", BACKENDS)
@PROPERTY_SETTINGS
@given(scenario=scenarios(faults=True))
def test_faults_match_the_schedule(scenario: Scenario, backend: Any) -> None:
    handed = []
    for strategy in STRATEGIES:
        run = run_strategy(scenario, strategy, backend=backend, tool_timeout=TIMEOUT)
        check_invariants(run)
        plan = schedule_session(scenario, strategy, tool_timeout=TIMEOUT)  # type: ignore[arg-type]
        assert run.session_ns == plan.session_ns
        outcomes = {c.call_id: c.outcome for t in plan.turns for c in t.schedule.calls}
        assert {r.call_id: r.status for turn in run.results for r in turn} == outcomes
        handed.append(run.results)
    # the strategies differ in time only: the same results reach the model
    assert handed[0] == handed[1] == handed[2]


@pytest.mark.parametrize("backend", BACKENDS)
@PROPERTY_SETTINGS
@given(
    scenario=scenarios(faults=True),
    strategy=st.sampled_from(STRATEGIES),
    abort_fraction=st.one_of(st.none(), st.floats(0.0, 1.0)),
    cancel_siblings=st.booleans(),
    feed_forward=st.booleans(),
)
def test_nothing_lost_nothing_left_running(
    scenario: Scenario,
    strategy: str,
    abort_fraction: float | None,
    cancel_siblings: bool,
    feed_forward: bool,
    backend: Any,
) -> None:
    full = schedule_session(scenario, "sequential", tool_timeout=TIMEOUT).session_ns
    abort_at = None if abort_fraction is None else round(abort_fraction * full) / 1e9
    run = run_strategy(
        scenario,
        strategy,
        backend=backend,
        tool_timeout=TIMEOUT,
        cancel_siblings=cancel_siblings,
        feed_forward=feed_forward,
        abort_at=abort_at,
    )
    check_invariants(run)
    statuses = {r.status for turn in run.results for r in turn}
    if abort_at is None or not run.aborted:
        assert len(run.results) == len(scenario.turns)
        assert "cancelled" not in statuses or cancel_siblings
    else:
        assert run.session_ns == round(abort_at * 1e9)
    for turn in run.results:
        kinds = {r.cancelled_by for r in turn}
        if not cancel_siblings:
            assert "sibling" not in kinds
    assert not any(s.end_ns > run.session_ns for s in run.timeline.spans)


def chat_dispatch_ns(turn: Turn) -> list[int]:
    """When a Chat Completions consumer learns each call is complete: at the
    start of the next call's block, or at the stream end for the last call."""
    done = turn.block_complete_ns()
    call_blocks = [j for j, b in enumerate(turn.blocks) if b.call is not None]
    later: list[int | None] = [*call_blocks[1:], None] if call_blocks else []
    return [turn.stream_end_ns() if j is None else done[j - 1] for j in later]


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=30, deadline=None)
@given(scenario=scenarios(caps=False))
def test_wire_formats_move_the_dispatch_point_only_for_chat(
    scenario: Scenario, backend: Any
) -> None:
    canonical = run_strategy(scenario, "overlapped", backend=backend)
    for wire in ("anthropic", "openai-responses"):
        other = run_strategy(scenario, "overlapped", backend=backend, wire=wire)
        assert other.turns == canonical.turns
        check_invariants(other)
    chat = run_strategy(scenario, "overlapped", backend=backend, wire="openai-chat")
    check_invariants(chat)
    assert chat.session_ns >= canonical.session_ns
    if all(c.safety == "shared" for c in scenario.calls):
        # no cap, no conflicts: each call runs from its chat dispatch point
        for turn, times in zip(scenario.turns, chat.turns, strict=True):
            overhead = round(turn.result_overhead * 1e9)
            ends = [
                p + round(c.duration * 1e9) + overhead
                for p, c in zip(chat_dispatch_ns(turn), turn.calls, strict=True)
            ]
            expected = max([turn.stream_end_ns(), *ends])
            assert times.hand_back_ns - times.send_ns == expected


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=30, deadline=None)
@given(
    scenario=scenarios(faults=True),
    strategy=st.sampled_from(STRATEGIES),
    wire=st.sampled_from(["anthropic", "openai-chat", "openai-responses"]),
    abort_fraction=st.floats(0.0, 1.0),
)
def test_aborts_on_every_wire_hand_back_a_prefix_of_the_calls(
    scenario: Scenario, strategy: str, wire: Any, abort_fraction: float, backend: Any
) -> None:
    full = schedule_session(scenario, "sequential", tool_timeout=TIMEOUT).session_ns
    abort_at = round(abort_fraction * full) / 1e9
    run = run_strategy(
        scenario,
        strategy,
        backend=backend,
        wire=wire,
        tool_timeout=TIMEOUT,
        abort_at=abort_at,
    )
    # the model itself refuses a hand-back that misses a call the stream
    # completed (per the wire's own rule), so reaching here means none was lost
    for k, results in enumerate(run.results):
        order = [c.id for c in scenario.turns[k].calls]
        ids = [r.call_id for r in results]
        assert ids == order[: len(ids)]
        if k < len(run.results) - 1 or not run.aborted:
            assert ids == order
    assert all(s.end_ns <= run.session_ns for s in run.timeline.spans)


@settings(max_examples=30, deadline=None)
@given(scenario=scenarios(faults=True), feed_forward=st.booleans())
def test_both_backends_record_the_same_timeline(
    scenario: Scenario, feed_forward: bool
) -> None:
    for strategy in STRATEGIES:
        records = []
        for backend in BACKENDS:
            run = run_strategy(
                scenario,
                strategy,
                backend=backend,  # type: ignore[arg-type]
                feed_forward=feed_forward,
                tool_timeout=TIMEOUT,
            )
            data = run.timeline.to_dict()
            assert data.pop("meta")["backend"] == backend
            records.append(data)
        assert records[0] == records[1]
