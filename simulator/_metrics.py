"""Metrics of a strategy run, read from its timeline.

A strategy run writes the timeline conventions of the project (a ``turn`` span
per turn, ``request`` and ``stream`` spans on the ``model`` lane,
``call_complete`` instants, a ``tool`` span per call and a ``hand_back``
instant). From those records and the scenario this module derives, per turn:
iteration time, the time in each phase, how long each tool waited after its
call was complete, how much tool time overlapped the stream, and the distance
from the analytic critical-path bound; per session: the totals and the
speed-up against a sequential run.

All times are integer nanoseconds of virtual time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._bound import critical_path_ns, session_bound_ns
from ._errors import ScenarioError, SimulatorError
from ._scenario import Scenario, to_ns
from ._timeline import Instant, Span, Timeline

__all__ = [
    "SessionMetrics",
    "TimelineError",
    "TurnMetrics",
    "session_metrics",
    "speedup",
    "turn_metrics",
]

NS = 1_000_000_000


class TimelineError(SimulatorError, ValueError):
    """A timeline lacks records that the metrics need (it was not written by a
    strategy run, or by one that broke the timeline conventions)."""


@dataclass(frozen=True)
class TurnMetrics:
    """What one turn of a run cost, and where the time went.

    Attributes:
        turn: the turn's index, from 0.
        start_ns: S_k, when the turn started.
        send_ns: when the request was sent (end of the request phase).
        stream_end_ns: when the stream ended.
        hand_back_ns: H_k, when the results were handed back.
        request_ns: the request phase: overhead plus prefill wait.
        stream_ns: the stream, from send to its last token.
        tools_tail_ns: hand-back minus stream end: time spent on tools (and
            result processing) after the model stopped; 0 when none.
        tool_wait_ns: per call id, from its call complete to its tool's start.
        tool_busy_ns: sum of the tools' run times.
        overlap_ns: tool run time that fell while the stream was still going.
        bound_ns: the critical-path lower bound on ``hand_back - send``, or None
            when a tool hangs without a timeout.
        handed_back: the turn streamed and handed its results back; False
            when an abort ended it before (then ``hand_back_ns`` is the end of
            its ``turn`` span, and a missing request or stream counts as zero
            long).
    """

    turn: int
    start_ns: int
    send_ns: int
    stream_end_ns: int
    hand_back_ns: int
    request_ns: int
    stream_ns: int
    tools_tail_ns: int
    tool_wait_ns: Mapping[str, int]
    tool_busy_ns: int
    overlap_ns: int
    bound_ns: int | None
    handed_back: bool = True

    @property
    def iteration_ns(self) -> int:
        """H_k - S_k: the turn's time, human think time kept out."""
        return self.hand_back_ns - self.start_ns

    @property
    def respond_ns(self) -> int:
        """Hand-back minus send: what the critical-path bound limits."""
        return self.hand_back_ns - self.send_ns

    @property
    def distance_from_bound_ns(self) -> int | None:
        """How far ``respond_ns`` is above the bound (0 = optimal); None when
        there is no bound or the turn was aborted."""
        if self.bound_ns is None or not self.handed_back:
            return None
        return self.respond_ns - self.bound_ns

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers (nanoseconds), including the derived ones."""
        return {
            "turn": self.turn,
            "start_ns": self.start_ns,
            "send_ns": self.send_ns,
            "stream_end_ns": self.stream_end_ns,
            "hand_back_ns": self.hand_back_ns,
            "iteration_ns": self.iteration_ns,
            "request_ns": self.request_ns,
            "stream_ns": self.stream_ns,
            "tools_tail_ns": self.tools_tail_ns,
            "tool_wait_ns": dict(self.tool_wait_ns),
            "tool_busy_ns": self.tool_busy_ns,
            "overlap_ns": self.overlap_ns,
            "bound_ns": self.bound_ns,
            "distance_from_bound_ns": self.distance_from_bound_ns,
            "handed_back": self.handed_back,
        }


@dataclass(frozen=True)
class SessionMetrics:
    """A whole run: totals, the bound, and the speed-up against a baseline.

    Attributes:
        scenario: the scenario's name.
        strategy: the strategy from the timeline's meta, when recorded.
        session_ns: last hand-back minus first turn start.
        iteration_sum_ns: sum of the turns' iteration times (equal to
            ``session_ns`` when turns follow each other without gaps).
        think_ns: human think time of the scenario, kept out of both.
        turns: per-turn metrics, in order.
        bound_ns: the session's lower bound (same prefill model as the run),
            or None when a tool hangs without a timeout.
        speedup: ``baseline.session_ns / session_ns`` when a baseline (usually
            the sequential run) was given, else None.
        feed_forward: the prefill model the bound assumed.
        complete: every turn of the scenario ran and handed back, and the run
            was not aborted; the distance from the bound is only given when
            True.
    """

    scenario: str
    strategy: str | None
    session_ns: int
    iteration_sum_ns: int
    think_ns: int
    turns: tuple[TurnMetrics, ...]
    bound_ns: int | None
    speedup: float | None = None
    feed_forward: bool = False
    complete: bool = True

    @property
    def distance_from_bound_ns(self) -> int | None:
        """Session time above the bound (0 = optimal); None when there is no
        bound or the run is not complete."""
        if self.bound_ns is None or not self.complete:
            return None
        return self.session_ns - self.bound_ns

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers (nanoseconds) for reports and baselines."""
        return {
            "scenario": self.scenario,
            "strategy": self.strategy,
            "feed_forward": self.feed_forward,
            "complete": self.complete,
            "session_ns": self.session_ns,
            "iteration_sum_ns": self.iteration_sum_ns,
            "think_ns": self.think_ns,
            "bound_ns": self.bound_ns,
            "distance_from_bound_ns": self.distance_from_bound_ns,
            "speedup": self.speedup,
            "turns": [t.to_dict() for t in self.turns],
        }


# --------------------------------------------------------------------------
# reading the timeline


@dataclass
class _TurnRecords:
    spans: dict[str, list[Span]] = field(default_factory=dict)
    instants: dict[str, list[Instant]] = field(default_factory=dict)


def _select(timeline: Timeline, strategy: str | None) -> dict[int, _TurnRecords]:
    """Records grouped by their ``turn`` attribute (and strategy, if given)."""
    by_turn: dict[int, _TurnRecords] = {}
    records: list[Span | Instant] = [*timeline.spans, *timeline.instants]
    for record in records:
        if strategy is not None and record.attrs.get("strategy", strategy) != strategy:
            continue
        turn = record.attrs.get("turn")
        if not isinstance(turn, int):
            continue
        group = by_turn.setdefault(turn, _TurnRecords())
        if isinstance(record, Span):
            group.spans.setdefault(record.name, []).append(record)
        else:
            group.instants.setdefault(record.name, []).append(record)
    return by_turn


def _one_span(
    records: _TurnRecords, name: str, turn: int, *, optional: bool = False
) -> Span | None:
    """The turn's only span called ``name``; None if absent and ``optional``
    (an abort can end a turn before its request is sent or its stream starts)."""
    spans = records.spans.get(name, [])
    if len(spans) == 1 or (optional and not spans):
        return spans[0] if spans else None
    raise TimelineError(
        f"turn {turn}: the timeline has {len(spans)} {name!r} spans, expected "
        f"exactly 1; metrics read timelines written by a strategy run (pass "
        f"strategy= when the timeline holds several runs)"
    )


def _overlap(a_start: int, a_end: int, b_start: int, b_end: int) -> int:
    return max(0, min(a_end, b_end) - max(a_start, b_start))


def _turn(
    turn: int, records: _TurnRecords, scenario: Scenario, tool_timeout: float | None
) -> TurnMetrics:
    whole = _one_span(records, "turn", turn)
    assert whole is not None  # not optional, so present
    request = _one_span(records, "request", turn, optional=True)
    send = request.end_ns if request is not None else whole.start_ns
    stream = _one_span(records, "stream", turn, optional=True)
    stream_start, stream_end = (
        (stream.start_ns, stream.end_ns) if stream is not None else (send, send)
    )
    tools = records.spans.get("tool", [])
    hand_backs = records.instants.get("hand_back", [])
    hand_back = hand_backs[-1].at_ns if hand_backs else whole.end_ns
    return TurnMetrics(
        turn=turn,
        start_ns=whole.start_ns,
        send_ns=send,
        stream_end_ns=stream_end,
        hand_back_ns=hand_back,
        request_ns=send - request.start_ns if request is not None else 0,
        stream_ns=stream_end - stream_start,
        tools_tail_ns=max(0, hand_back - stream_end),
        tool_wait_ns=_waits(records, tools),
        tool_busy_ns=sum(s.end_ns - s.start_ns for s in tools),
        overlap_ns=sum(
            _overlap(s.start_ns, s.end_ns, stream_start, stream_end) for s in tools
        ),
        bound_ns=_turn_bound(scenario, turn, tool_timeout),
        handed_back=bool(hand_backs) and stream is not None,
    )


def _waits(records: _TurnRecords, tools: list[Span]) -> dict[str, int]:
    """Per call id: its tool's start minus its call complete."""
    complete = {
        i.attrs.get("call_id"): i.at_ns
        for i in records.instants.get("call_complete", [])
    }
    return {
        str(s.attrs["call_id"]): s.start_ns - complete[s.attrs["call_id"]]
        for s in tools
        if s.attrs.get("call_id") in complete
    }


def _turn_bound(
    scenario: Scenario, turn: int, tool_timeout: float | None
) -> int | None:
    if not 0 <= turn < len(scenario.turns):
        raise TimelineError(
            f"the timeline has turn {turn} but scenario {scenario.name!r} has "
            f"{len(scenario.turns)} turns; pass the scenario the run played"
        )
    try:
        return critical_path_ns(
            scenario.turns[turn],
            max_concurrency=scenario.max_concurrency,
            tool_timeout=tool_timeout,
        )
    except ScenarioError:
        return None  # a tool hangs and nothing stops it: no finite bound


# --------------------------------------------------------------------------
# public functions


def turn_metrics(
    timeline: Timeline,
    scenario: Scenario,
    *,
    tool_timeout: float | None = None,
    strategy: str | None = None,
) -> tuple[TurnMetrics, ...]:
    """Per-turn metrics of a strategy run, for every turn the timeline holds.

    Args:
        timeline: written by a strategy run (the project's conventions).
        scenario: the scenario the run played (for the bound).
        tool_timeout: the run's per-tool timeout in seconds, for the bound;
            defaults to ``timeline.meta["tool_timeout"]`` when recorded.
        strategy: keep only records whose ``strategy`` attribute matches, for
            timelines that hold several runs; None keeps all.

    Raises:
        TimelineError: no turn is recorded, a turn lacks its ``turn``,
            ``request`` or ``stream`` span, or a turn index is not in the scenario.
    """
    if tool_timeout is None:
        tool_timeout = timeline.meta.get("tool_timeout")
    by_turn = _select(timeline, strategy)
    if not by_turn:
        raise TimelineError(
            "the timeline records no turn (no record has a 'turn' attribute); "
            "metrics read timelines written by a strategy run"
        )
    return tuple(_turn(k, by_turn[k], scenario, tool_timeout) for k in sorted(by_turn))


def session_metrics(
    timeline: Timeline,
    scenario: Scenario,
    *,
    baseline: SessionMetrics | None = None,
    feed_forward: bool | None = None,
    tool_timeout: float | None = None,
    strategy: str | None = None,
    aborted: bool | None = None,
) -> SessionMetrics:
    """Session metrics of a strategy run.

    Args:
        timeline: written by a strategy run.
        scenario: the scenario the run played.
        baseline: metrics of the run to compare with (usually sequential);
            sets ``speedup``.
        feed_forward: the prefill model for the bound; None reads it from the
            timeline (``feed`` instants or ``meta["feed_forward"]``).
        tool_timeout: as in :func:`turn_metrics`.
        strategy: as in :func:`turn_metrics`.
        aborted: whether the run was aborted (then it is not ``complete``);
            None reads ``timeline.meta["aborted"]`` (False when absent).
    """
    if tool_timeout is None:
        tool_timeout = timeline.meta.get("tool_timeout")
    turns = turn_metrics(
        timeline, scenario, tool_timeout=tool_timeout, strategy=strategy
    )
    if feed_forward is None:
        feed_forward = bool(timeline.meta.get("feed_forward")) or any(
            i.name == "feed" for i in timeline.instants
        )
    try:
        bound: int | None = session_bound_ns(
            scenario, feed_forward=feed_forward, tool_timeout=tool_timeout
        )
    except ScenarioError:
        bound = None  # a tool hangs and nothing stops it: no finite bound
    result = SessionMetrics(
        scenario=scenario.name,
        strategy=strategy or timeline.meta.get("strategy"),
        session_ns=turns[-1].hand_back_ns - turns[0].start_ns,
        iteration_sum_ns=sum(t.iteration_ns for t in turns),
        think_ns=sum(to_ns(t.think_time) for t in scenario.turns),
        turns=turns,
        bound_ns=bound,
        feed_forward=feed_forward,
        complete=not (aborted if aborted is not None else timeline.meta.get("aborted"))
        and len(turns) == len(scenario.turns)
        and all(t.handed_back for t in turns),
    )
    if baseline is None:
        return result
    return SessionMetrics(**{**result.__dict__, "speedup": speedup(baseline, result)})


def speedup(seq: SessionMetrics, other: SessionMetrics) -> float:
    """How many times faster ``other`` is than ``seq`` (session time ratio).

    Raises:
        ValueError: ``other`` took no time while ``seq`` did.
    """
    if other.session_ns == 0:
        if seq.session_ns == 0:
            return 1.0
        raise ValueError(
            "speedup: the compared run has session_ns = 0 but the baseline "
            f"{seq.session_ns}; a run of a non-empty scenario takes time, check "
            "that the right timeline was passed"
        )
    return seq.session_ns / other.session_ns
