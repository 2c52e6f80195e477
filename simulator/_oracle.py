"""The analytic schedule written as a timeline, in the project's conventions.

:func:`schedule_timeline` turns a :class:`~simulator._bound.SessionSchedule`
into the spans and instants a strategy run records, so the oracle can be
plotted, measured with the same metrics, and compared record by record with an
engine run. Nothing here runs code or touches a clock.
"""

from __future__ import annotations

from ._bound import SessionSchedule, SessionTurn, Strategy, schedule_session
from ._scenario import Scenario, Turn
from ._timeline import Timeline

__all__ = ["oracle_timeline", "schedule_timeline"]


def schedule_timeline(scenario: Scenario, schedule: SessionSchedule) -> Timeline:
    """Write a session schedule as a timeline.

    Args:
        scenario: the scenario that was scheduled.
        schedule: its schedule from :func:`~simulator._bound.schedule_session`.

    Returns:
        A timeline with the ``turn``, ``request``, ``stream``, ``tool`` and
        ``result`` spans and the ``first_token``, ``call_complete``, ``feed``
        and ``hand_back`` instants; ``meta["backend"]`` is ``"analytic"``.
    """
    timeline = Timeline()
    timeline.meta = {
        "scenario": scenario.name,
        "strategy": schedule.strategy,
        "backend": "analytic",
        "feed_forward": schedule.feed_forward,
    }
    for placed, turn in zip(schedule.turns, scenario.turns, strict=True):
        _write_turn(timeline, placed, turn)
        if schedule.feed_forward:
            _write_feeds(timeline, placed, turn)
    return timeline


def oracle_timeline(
    scenario: Scenario,
    strategy: Strategy,
    *,
    feed_forward: bool = False,
    tool_timeout: float | None = None,
) -> Timeline:
    """Schedule a scenario analytically and write it as a timeline."""
    schedule = schedule_session(
        scenario, strategy, feed_forward=feed_forward, tool_timeout=tool_timeout
    )
    return schedule_timeline(scenario, schedule)


def _write_turn(timeline: Timeline, placed: SessionTurn, turn: Turn) -> None:
    k, send, sched = placed.turn, placed.send_ns, placed.schedule
    timeline.add_span("turn", "turn", placed.start_ns, placed.hand_back_ns, turn=k)
    timeline.add_span("request", "model", placed.start_ns, send, turn=k)
    timeline.add_span("stream", "model", send, send + sched.stream_end_ns, turn=k)
    timeline.add_instant("first_token", "model", send + sched.first_token_ns, turn=k)
    for call, at in zip(turn.calls, turn.call_complete_ns(), strict=True):
        timeline.add_instant(
            "call_complete", "model", send + at, turn=k, call_id=call.id, name=call.name
        )
    for call, run in zip(turn.calls, sched.calls, strict=True):
        lane = f"tool {call.id}"
        timeline.add_span(
            "tool",
            lane,
            send + run.start_ns,
            send + run.end_ns,
            turn=k,
            call_id=call.id,
            name=call.name,
            outcome=run.outcome,
            safety=call.safety,
            resource=call.resource,
        )
        if run.ready_ns > run.end_ns:
            timeline.add_span(
                "result",
                lane,
                send + run.end_ns,
                send + run.ready_ns,
                turn=k,
                call_id=call.id,
            )
    timeline.add_instant(
        "hand_back",
        "harness",
        placed.hand_back_ns,
        turn=k,
        call_ids=[c.id for c in turn.calls],
    )


def _write_feeds(timeline: Timeline, placed: SessionTurn, turn: Turn) -> None:
    """A ``feed`` instant per result at the moment it is ready to prefill."""
    for call, ready in zip(turn.calls, placed.ready_ns(), strict=True):
        timeline.add_instant(
            "feed", "harness", ready, turn=placed.turn, call_id=call.id
        )
