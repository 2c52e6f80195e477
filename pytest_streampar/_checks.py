"""The rules behind the assertions, as functions that return violations.

Each ``check_*`` function reads a run's :class:`~simulator.Timeline` (the
records a simulated model and simulated tools write: ``call_complete``,
``tool``, ``feed``, ``hand_back`` and ``turn``) and returns the violations it
finds, in time order; an empty list means the rule holds. The public
assertions in :mod:`pytest_streampar.assertions` raise
:class:`StreamparCheckFailed` for the first one; the plugin's marker reuses
the same functions.

Nothing here imports Hypothesis or matplotlib; the engine's modules it needs
load with it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from simulator._bound import critical_path_ns, session_bound_ns
from simulator._errors import ScenarioError, SimulatorError
from simulator._scenario import Safety, Scenario, ToolCall, conflicts
from simulator._textline import format_ns, render_text_timeline
from simulator._timeline import Instant, Span, Timeline

__all__ = [
    "StreamparCheckFailed",
    "Violation",
    "check_every_call_answered",
    "check_near_bound",
    "check_no_early_start",
    "check_no_exclusive_overlap",
    "check_results_in_call_order",
    "check_same_results",
    "check_speedup",
    "describe",
    "session_ns",
    "timeline_of",
]

RULE_ANSWERED = "every call gets exactly one result"
RULE_EARLY = "no tool may start before its call is complete"
RULE_OVERLAP = "an exclusive tool may not overlap a conflicting tool"
RULE_ORDER = "results go back in call order"
RULE_PAIRED = "results go back paired with their calls by id"
RULE_SAME = "the harness's results equal the reference's"
RULE_BOUND = "the run stays within its margin of the critical-path bound"


@dataclass(frozen=True)
class Violation:
    """One broken rule: what broke it, where, and which calls to mark.

    Attributes:
        rule: the rule, stated in a few words.
        detail: the offending turn and call with their times.
        turn: the turn to draw, or None when no single turn is to blame.
        notes: call ids to highlight in the picture, with a short note each.
    """

    rule: str
    detail: str
    turn: int | None = None
    notes: Mapping[str, str] = field(default_factory=dict)

    @property
    def headline(self) -> str:
        """The rule and the offence on one line."""
        return f"{self.rule}: {self.detail}"


class StreamparCheckFailed(AssertionError):
    """A streampar check failed; the message shows the turn that broke it.

    Attributes:
        violations: every violation of the rule found, the first one drawn.
        timeline: the timeline checked, when there was one.
    """

    def __init__(
        self, violations: Sequence[Violation], timeline: Timeline | None = None
    ) -> None:
        self.violations = tuple(violations)
        self.timeline = timeline
        super().__init__(describe(self.violations, timeline))


# shown to users as the public name
StreamparCheckFailed.__module__ = "pytest_streampar.assertions"


def describe(violations: Sequence[Violation], timeline: Timeline | None) -> str:
    """The message for ``violations``: the first one's headline, a count of
    the others, and a text timeline of the first one's turn."""
    first = violations[0]
    lines = [first.headline]
    rest = violations[1:]
    if rest:
        shown = "; ".join(v.detail for v in rest[:3])
        more = f"; and {len(rest) - 3} more" if len(rest) > 3 else ""
        lines.append(f"also ({len(rest)} more): {shown}{more}")
    if timeline is not None and (timeline.spans or timeline.instants):
        lines.append("")
        turn = _drawable(timeline, first.turn)
        picture = _with_cut_stream(timeline, turn)
        drawn = {
            str(s.attrs.get("call_id"))
            for s in timeline.spans
            if s.name in ("tool", "result")
        }
        notes = {k: v for k, v in first.notes.items() if k in drawn}
        lines.append(render_text_timeline(picture, turn=turn, highlight=notes))
    return "\n".join(lines)


def _with_cut_stream(timeline: Timeline, turn: int | None) -> Timeline:
    """A turn that was never handed back has no ``stream`` span; draw one from
    the send to the turn's last record, so the picture shows how far it got."""
    if turn is None:
        return timeline
    mine = [s for s in timeline.spans if s.attrs.get("turn") == turn]
    if any(s.name == "stream" for s in mine):
        return timeline
    times = [i.at_ns for i in timeline.instants if i.attrs.get("turn") == turn]
    times += [s.end_ns for s in mine]
    sends = [s.end_ns for s in mine if s.name == "request"]
    start = min(sends or times or [0])
    shown = Timeline()
    shown.meta = dict(timeline.meta)
    shown.extend(timeline)
    shown.add_span("stream", "model", start, max(times, default=start), turn=turn)
    return shown


def _drawable(timeline: Timeline, turn: int | None) -> int | None:
    if turn is None:
        return None
    has = any(r.attrs.get("turn") == turn for r in timeline.spans) or any(
        r.attrs.get("turn") == turn for r in timeline.instants
    )
    return turn if has else None


# --------------------------------------------------------------------------
# reading a timeline


def timeline_of(run: Any) -> Timeline:
    """The timeline of ``run``: a Timeline, or anything with a ``.timeline``
    (a ``StrategyRun``, a ``RunResult``, a ``SimulatedModel``).

    Raises:
        SimulatorError: ``run`` is neither.
    """
    if _is_timeline(run):
        return cast(Timeline, run)
    inner = getattr(run, "timeline", None)
    if _is_timeline(inner):
        return cast(Timeline, inner)
    raise SimulatorError(
        f"run = {type(run).__name__} object: expected a Timeline or an object with "
        f"a .timeline (StrategyRun, RunResult, SimulatedModel); pass the run's "
        f"timeline"
    )


def _is_timeline(obj: Any) -> bool:
    """Duck-typed, so a Timeline from a re-imported module (pytester runs in
    the same process) still counts."""
    return hasattr(obj, "spans") and hasattr(obj, "instants") and hasattr(obj, "meta")


@dataclass(frozen=True)
class _Call:
    call_id: str
    name: str
    turn: int
    complete_ns: int


def _by_time(instants: list[Instant]) -> list[Instant]:
    return sorted(instants, key=lambda i: i.at_ns)  # stable: ties keep call order


def _completed(timeline: Timeline) -> dict[str, _Call]:
    """Calls the stream completed, in call order, by id."""
    found = [i for i in timeline.instants if i.name == "call_complete"]
    calls: dict[str, _Call] = {}
    for i in _by_time(found):
        call_id = str(i.attrs.get("call_id"))
        turn = int(i.attrs.get("turn", -1))
        calls.setdefault(
            call_id, _Call(call_id, str(i.attrs.get("name", "")), turn, i.at_ns)
        )
    return calls


def _hand_backs(timeline: Timeline) -> dict[int, list[Instant]]:
    out: dict[int, list[Instant]] = {}
    for i in _by_time([i for i in timeline.instants if i.name == "hand_back"]):
        out.setdefault(int(i.attrs.get("turn", -1)), []).append(i)
    return out


def _tools(timeline: Timeline) -> list[Span]:
    spans = [s for s in timeline.spans if s.name == "tool"]
    return sorted(spans, key=lambda s: (s.start_ns, s.end_ns))


def _label(call_id: str, name: str) -> str:
    return f"{call_id} ({name})" if name and name != call_id else call_id


def _ids(ids: Sequence[str]) -> str:
    return "[" + ", ".join(ids) + "]"


# --------------------------------------------------------------------------
# exactly one result per call


def check_every_call_answered(timeline: Timeline) -> list[Violation]:
    """Every call the stream completed is handed back exactly once, in its own
    turn, and nothing else is (also after errors and aborts)."""
    calls = _completed(timeline)
    backs = _hand_backs(timeline)
    turns = sorted({c.turn for c in calls.values()} | set(backs))
    found: list[Violation] = []
    for k in turns:
        mine = [c for c in calls.values() if c.turn == k]
        found += _answered_in_turn(k, mine, backs.get(k, []))
    return found


def _answered_in_turn(
    k: int, mine: list[_Call], backs: list[Instant]
) -> list[Violation]:
    if not backs:
        if not mine:
            return []
        first = mine[0]
        return [
            Violation(
                RULE_ANSWERED,
                f"call {_label(first.call_id, first.name)} of turn {k}, complete at "
                f"{format_ns(first.complete_ns)} s, got no result: turn {k} was "
                f"never handed back (calls without a result: "
                f"{_ids([c.call_id for c in mine])})",
                k,
                {c.call_id: "no result" for c in mine},
            )
        ]
    if len(backs) > 1:
        times = ", ".join(format_ns(b.at_ns) for b in backs)
        return [
            Violation(
                RULE_ANSWERED,
                f"turn {k} was handed back {len(backs)} times (at {times} s); "
                f"hand back once, after the last result",
                k,
            )
        ]
    return _one_hand_back(k, mine, backs[0])


def _one_hand_back(k: int, mine: list[_Call], back: Instant) -> list[Violation]:
    ids = [str(x) for x in back.attrs.get("call_ids") or []]
    counts = Counter(ids)
    known = {c.call_id for c in mine}
    at = format_ns(back.at_ns)
    found = []
    for c in mine:
        if c.call_id not in counts:
            found.append(
                Violation(
                    RULE_ANSWERED,
                    f"call {_label(c.call_id, c.name)} of turn {k}, complete at "
                    f"{format_ns(c.complete_ns)} s, got no result in the hand-back "
                    f"at {at} s (handed back: {_ids(ids)})",
                    k,
                    {c.call_id: "no result"},
                )
            )
    for call_id, n in counts.items():
        if n > 1:
            found.append(
                Violation(
                    RULE_ANSWERED,
                    f"call {call_id} of turn {k} got {n} results in the hand-back "
                    f"at {at} s (handed back: {_ids(ids)})",
                    k,
                    {call_id: f"{n} results"},
                )
            )
        elif call_id not in known:
            found.append(
                Violation(
                    RULE_ANSWERED,
                    f"the hand-back of turn {k} at {at} s has a result for "
                    f"{call_id}, which the stream of turn {k} never completed "
                    f"(handed back: {_ids(ids)})",
                    k,
                    {call_id: "not a call of this turn"},
                )
            )
    return found


# --------------------------------------------------------------------------
# no tool before its call complete


def check_no_early_start(timeline: Timeline) -> list[Violation]:
    """No tool starts before the stream completed its call."""
    calls = _completed(timeline)
    found = []
    for span in _tools(timeline):
        call_id = str(span.attrs.get("call_id"))
        name = str(span.attrs.get("name", ""))
        turn = span.attrs.get("turn")
        start = format_ns(span.start_ns)
        call = calls.get(call_id)
        if call is None:
            found.append(
                Violation(
                    RULE_EARLY,
                    f"tool {_label(call_id, name)} started at {start} s but the "
                    f"stream never completed call {call_id}",
                    turn,
                    {call_id: "never completed"},
                )
            )
        elif span.start_ns < call.complete_ns:
            early = format_ns(call.complete_ns - span.start_ns)
            found.append(
                Violation(
                    RULE_EARLY,
                    f"tool {_label(call_id, name)} of turn {call.turn} started at "
                    f"{start} s, {early} s before its call was complete at "
                    f"{format_ns(call.complete_ns)} s",
                    call.turn,
                    {call_id: f"started {early} s early"},
                )
            )
    return found


# --------------------------------------------------------------------------
# exclusive tools alone on their resource


def _as_call(span: Span) -> ToolCall:
    safety: Safety = (
        "exclusive" if span.attrs.get("safety") == "exclusive" else "shared"
    )
    resource = span.attrs.get("resource")
    return ToolCall(
        id=str(span.attrs.get("call_id")),
        name=str(span.attrs.get("name", "")),
        safety=safety,
        resource=None if resource is None else str(resource),
    )


def _what(call: ToolCall) -> str:
    where = f" on {call.resource!r}" if call.resource is not None else ""
    return f"{call.safety} {_label(call.id, call.name)}{where}"


def check_no_exclusive_overlap(timeline: Timeline) -> list[Violation]:
    """No two conflicting tools run at the same time: an exclusive tool with a
    resource runs alone on that resource, one without runs alone."""
    tools = _tools(timeline)
    found = []
    for n, a in enumerate(tools):
        for b in tools[n + 1 :]:
            if b.start_ns >= a.end_ns:
                break
            ca, cb = _as_call(a), _as_call(b)
            if not conflicts(ca, cb):
                continue
            first, second = (ca, cb) if ca.safety == "exclusive" else (cb, ca)
            span_a, span_b = (a, b) if first is ca else (b, a)
            found.append(
                Violation(
                    RULE_OVERLAP,
                    f"tool {_what(first)} ran {format_ns(span_a.start_ns)}-"
                    f"{format_ns(span_a.end_ns)} s while tool {_what(second)} ran "
                    f"{format_ns(span_b.start_ns)}-{format_ns(span_b.end_ns)} s",
                    b.attrs.get("turn"),
                    {first.id: "exclusive", second.id: "overlaps it"},
                )
            )
    return found


# --------------------------------------------------------------------------
# call order


def check_results_in_call_order(
    timeline: Timeline, *, paired_by_id: bool = False
) -> list[Violation]:
    """Each turn's results reach the model (hand-back, and feed-forward feeds)
    in the order the stream completed the calls; with ``paired_by_id`` any
    order will do, as long as every result names a call of its turn."""
    calls = _completed(timeline)
    if paired_by_id:
        return [
            Violation(RULE_PAIRED, v.detail, v.turn, v.notes)
            for v in check_every_call_answered(timeline)
            if "never completed" in v.detail
        ]
    found = []
    for k, backs in sorted(_hand_backs(timeline).items()):
        for back in backs:
            ids = [str(x) for x in back.attrs.get("call_ids") or []]
            found += _ordered(
                k, ids, calls, f"the hand-back at {format_ns(back.at_ns)} s"
            )
    feeds: dict[int, list[str]] = {}
    for i in _by_time([i for i in timeline.instants if i.name == "feed"]):
        feeds.setdefault(int(i.attrs.get("turn", -1)), []).append(
            str(i.attrs.get("call_id"))
        )
    for k, ids in sorted(feeds.items()):
        found += _ordered(k, ids, calls, "the results fed forward")
    return found


def _ordered(
    k: int, ids: list[str], calls: Mapping[str, _Call], where: str
) -> list[Violation]:
    rank = {c: n for n, c in enumerate(calls)}
    expected = sorted(ids, key=lambda c: rank.get(c, len(rank)))
    if ids == expected:
        return []
    n = next(n for n, (a, b) in enumerate(zip(ids, expected, strict=True)) if a != b)
    early, owed = ids[n], expected[n]
    times = {c: format_ns(calls[c].complete_ns) for c in (early, owed) if c in calls}
    return [
        Violation(
            RULE_ORDER,
            f"turn {k}: {where} gives {_ids(ids)} but the calls completed in the "
            f"order {_ids(expected)}; {early} (complete at "
            f"{times.get(early, '?')} s) went before {owed} (complete at "
            f"{times.get(owed, '?')} s)",
            k,
            {early: "too early", owed: "owed first"},
        )
    ]


# --------------------------------------------------------------------------
# same results as a reference


class _ResultLike(Protocol):
    @property
    def call_id(self) -> str: ...


def _results_of(run: Any) -> list[list[Any]]:
    results = getattr(run, "results", run)
    if isinstance(results, Sequence) and not isinstance(results, (str, bytes)):
        return [list(turn) for turn in results]
    raise SimulatorError(
        f"results = {type(run).__name__} object: expected per-turn result lists "
        f"(list[list[ToolResult]]) or a StrategyRun; pass what the harness "
        f"handed back"
    )


def _key(result: Any, content: bool) -> tuple[Any, ...]:
    base = (str(result.call_id), getattr(result, "status", None))
    return (*base, getattr(result, "content", None)) if content else base


def _show(key: tuple[Any, ...]) -> str:
    return " ".join(repr(x) if n else str(x) for n, x in enumerate(key))


def check_same_results(
    harness: Any,
    reference: Any,
    *,
    paired_by_id: bool = False,
    compare_content: bool = True,
) -> list[Violation]:
    """The harness handed back the same results as the reference, turn by
    turn: same calls, same status (and content), in the same order unless
    ``paired_by_id``."""
    mine, theirs = _results_of(harness), _results_of(reference)
    found = []
    if len(mine) != len(theirs):
        found.append(
            Violation(
                RULE_SAME,
                f"the harness handed back {len(mine)} turns, the reference "
                f"{len(theirs)}",
                min(len(mine), len(theirs)) - 1 if mine and theirs else None,
            )
        )
    for k, (a, b) in enumerate(zip(mine, theirs, strict=False)):
        keys_a = [_key(r, compare_content) for r in a]
        keys_b = [_key(r, compare_content) for r in b]
        if paired_by_id:
            keys_a, keys_b = sorted(keys_a, key=str), sorted(keys_b, key=str)
        if keys_a != keys_b:
            found.append(_first_difference(k, keys_a, keys_b))
    return found


def _first_difference(
    k: int, mine: list[tuple[Any, ...]], theirs: list[tuple[Any, ...]]
) -> Violation:
    for n, (a, b) in enumerate(zip(mine, theirs, strict=False)):
        if a != b:
            return Violation(
                RULE_SAME,
                f"turn {k}, result {n}: the harness gave {_show(a)}, the reference "
                f"{_show(b)}",
                k,
                {str(a[0]): "differs"},
            )
    longer, who = (
        (mine, "harness") if len(mine) > len(theirs) else (theirs, "reference")
    )
    extra = longer[min(len(mine), len(theirs))]
    return Violation(
        RULE_SAME,
        f"turn {k}: the harness gave {len(mine)} results, the reference "
        f"{len(theirs)}; only the {who} has {_show(extra)}",
        k,
        {str(extra[0]): f"only the {who}"},
    )


# --------------------------------------------------------------------------
# speed


def session_ns(run: Any) -> int:
    """Session time of a run: ``session_ns`` of a StrategyRun, else from its
    timeline the last hand-back minus the first turn's start (0 when no turn
    span is recorded)."""
    value = getattr(run, "session_ns", None)
    if isinstance(value, int):
        return value
    timeline = timeline_of(run)
    backs = [i.at_ns for i in timeline.instants if i.name == "hand_back"]
    if not backs:
        raise SimulatorError(
            "the timeline has no hand_back instant, so it holds no finished turn; "
            "check that the harness handed its results back to the model"
        )
    starts = [s.start_ns for s in timeline.spans if s.name == "turn"]
    return max(backs) - min(starts, default=0)


def _iterations(timeline: Timeline) -> dict[int, Span]:
    return {
        int(s.attrs["turn"]): s
        for s in timeline.spans
        if s.name == "turn" and "turn" in s.attrs
    }


def check_speedup(run: Any, sequential: Any, *, at_least: float) -> list[Violation]:
    """The run's session time is at most the sequential run's divided by
    ``at_least``."""
    if (
        isinstance(at_least, bool)
        or not isinstance(at_least, (int, float))
        or not (at_least > 0)
    ):
        raise SimulatorError(
            f"at_least = {at_least!r}: must be a number > 0 (a speed-up factor, "
            f"e.g. 1.2)"
        )
    mine, base = session_ns(run), session_ns(sequential)
    if mine * at_least <= base:
        return []
    ratio = base / mine if mine else float("inf")
    worst = _worst_turn(timeline_of(run), timeline_of(sequential))
    detail = (
        f"speed-up over sequential is {ratio:.3g}x: this run took "
        f"{format_ns(mine)} s, sequential {format_ns(base)} s"
    )
    if worst is not None:
        k, a, b = worst
        detail += (
            f"; turn {k} gains least ({format_ns(a)} s against {format_ns(b)} s "
            f"sequential)"
        )
    rule = f"the run must be at least {at_least:g}x as fast as sequential"
    return [Violation(rule, detail, worst[0] if worst else None)]


def _worst_turn(run: Timeline, seq: Timeline) -> tuple[int, int, int] | None:
    mine, base = _iterations(run), _iterations(seq)
    pairs = [
        (k, mine[k].end_ns - mine[k].start_ns, base[k].end_ns - base[k].start_ns)
        for k in sorted(mine)
        if k in base
    ]
    if not pairs:
        return None
    return min(pairs, key=lambda p: p[2] / p[1] if p[1] else float("inf"))


def check_near_bound(
    run: Any,
    scenario: Scenario,
    *,
    margin: float = 0.05,
    feed_forward: bool | None = None,
    tool_timeout: float | None = None,
) -> list[Violation]:
    """The run's session time is within ``margin`` (a fraction) above the
    critical-path lower bound of the scenario."""
    if (
        isinstance(margin, bool)
        or not isinstance(margin, (int, float))
        or not (margin >= 0)
    ):
        raise SimulatorError(
            f"margin = {margin!r}: must be a fraction >= 0 (0.05 allows 5% above "
            f"the bound)"
        )
    timeline = timeline_of(run)
    if feed_forward is None:
        feed_forward = bool(timeline.meta.get("feed_forward")) or any(
            i.name == "feed" for i in timeline.instants
        )
    try:
        bound = session_bound_ns(
            scenario, feed_forward=feed_forward, tool_timeout=tool_timeout
        )
    except ScenarioError as exc:
        raise SimulatorError(f"no finite bound: {exc}") from None
    took = session_ns(run)
    if took - bound <= margin * bound:
        return []
    above = (took - bound) / bound * 100 if bound else float("inf")
    detail = (
        f"the session took {format_ns(took)} s, {above:.3g}% above the "
        f"critical-path bound {format_ns(bound)} s (margin {margin * 100:g}%)"
    )
    worst = _furthest_turn(timeline, scenario, tool_timeout)
    if worst is not None:
        k, gap = worst
        detail += f"; turn {k} hands back {format_ns(gap)} s after its bound"
    return [Violation(RULE_BOUND, detail, worst[0] if worst else None)]


def _furthest_turn(
    timeline: Timeline, scenario: Scenario, tool_timeout: float | None
) -> tuple[int, int] | None:
    sends = {
        int(s.attrs["turn"]): s.end_ns
        for s in timeline.spans
        if s.name == "request" and "turn" in s.attrs
    }
    gaps = []
    for k, span in sorted(_iterations(timeline).items()):
        if k in sends and 0 <= k < len(scenario.turns):
            path = critical_path_ns(
                scenario.turns[k],
                max_concurrency=scenario.max_concurrency,
                tool_timeout=tool_timeout,
            )
            gaps.append((k, span.end_ns - sends[k] - path))
    return max(gaps, key=lambda g: g[1]) if gaps else None
