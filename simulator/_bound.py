"""The analytic schedule of each strategy and the critical-path lower bound.

Everything here is computed from the scenario alone, in plain Python on integer
nanoseconds: no engine, no event loop. It is the independent oracle the
engine's reference harnesses are checked against, so it follows the iteration
semantics to the letter:

- a call is *released* at stream end (``parallel``), at its call complete
  (``overlapped``), or when the previous result is ready (``sequential``);
- in ``parallel`` and ``overlapped``, calls start in call order (FIFO
  admission): a call starts when it is released, no earlier call is still
  waiting, fewer than ``max_concurrency`` tools run, and no running tool
  conflicts with it (:func:`~simulator._scenario.conflicts`);
- a tool runs for its duration; an ``"error"`` fault ends it at ``fault.at``;
  a ``"hang"`` fault never ends; a per-tool timeout ends any tool that would
  run as long or longer (outcome ``"timeout"``; a tie goes to the timeout);
- its result is ready ``result_overhead`` after it ends; a tool's concurrency
  slot is free as soon as the tool ends;
- the turn hands back at the later of stream end and the last result ready.

All per-turn times are relative to the moment the request is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ._errors import ScenarioError
from ._scenario import Scenario, ToolCall, Turn, conflicts, to_ns

__all__ = [
    "CallSchedule",
    "Outcome",
    "SessionSchedule",
    "SessionTurn",
    "Strategy",
    "TurnSchedule",
    "critical_path_ns",
    "prefill_ns",
    "schedule_session",
    "schedule_turn",
    "session_bound_ns",
    "tool_run_ns",
    "turn_tool_release_ns",
]

Strategy = Literal["sequential", "parallel", "overlapped"]
Outcome = Literal["ok", "error", "timeout"]
STRATEGIES: tuple[Strategy, ...] = ("sequential", "parallel", "overlapped")


@dataclass(frozen=True)
class CallSchedule:
    """When one tool call ran, in nanoseconds after the request was sent.

    Attributes:
        call_id: the call's id.
        release_ns: earliest moment the strategy lets it start.
        start_ns: when the tool started.
        end_ns: when the tool ended (normally, by its fault, or by timeout).
        ready_ns: when its result was ready (``end_ns + result_overhead``).
        outcome: ``"ok"``, ``"error"`` or ``"timeout"``.
    """

    call_id: str
    release_ns: int
    start_ns: int
    end_ns: int
    ready_ns: int
    outcome: Outcome

    @property
    def wait_ns(self) -> int:
        """Time from release to start: queueing for the cap or a conflict."""
        return self.start_ns - self.release_ns


@dataclass(frozen=True)
class TurnSchedule:
    """One turn under one strategy, relative to the moment the request is sent.

    Attributes:
        strategy: the strategy scheduled.
        calls: per call, in call order.
        first_token_ns: first token.
        stream_end_ns: end of stream.
        hand_back_ns: when the results are handed back: the later of stream end
            and the last result ready.
    """

    strategy: Strategy
    calls: tuple[CallSchedule, ...]
    first_token_ns: int
    stream_end_ns: int
    hand_back_ns: int


@dataclass(frozen=True)
class SessionTurn:
    """One turn placed in the session, in absolute nanoseconds.

    Attributes:
        turn: the turn's index, from 0.
        start_ns: S_k, when the turn starts (the previous hand-back).
        send_ns: when the request is sent (after overhead and prefill).
        hand_back_ns: H_k.
        schedule: the turn's schedule relative to ``send_ns``.
    """

    turn: int
    start_ns: int
    send_ns: int
    hand_back_ns: int
    schedule: TurnSchedule

    @property
    def iteration_ns(self) -> int:
        """H_k - S_k."""
        return self.hand_back_ns - self.start_ns

    def ready_ns(self) -> tuple[int, ...]:
        """Each result's ready time c_i, absolute, in call order."""
        return tuple(self.send_ns + c.ready_ns for c in self.schedule.calls)


@dataclass(frozen=True)
class SessionSchedule:
    """A whole session under one strategy.

    Attributes:
        strategy: the strategy scheduled.
        feed_forward: whether prefill of a result starts when it is ready.
        turns: the turns in order.
    """

    strategy: Strategy
    feed_forward: bool
    turns: tuple[SessionTurn, ...]

    @property
    def session_ns(self) -> int:
        """H of the last turn (0 for a session without turns)."""
        return self.turns[-1].hand_back_ns if self.turns else 0


# --------------------------------------------------------------------------
# tool run times and releases


def tool_run_ns(
    call: ToolCall, tool_timeout: float | None = None
) -> tuple[int, Outcome]:
    """How long a tool runs once started, and how it ends.

    Args:
        call: the tool call.
        tool_timeout: per-tool timeout in seconds, or None for none.

    Returns:
        ``(nanoseconds, outcome)``: the duration (``fault.at`` for an error
        fault), cut to the timeout when it would run as long or longer (a tool
        that would end exactly at its timeout counts as timed out).

    Raises:
        ScenarioError: the tool hangs and there is no timeout, so it never ends.
    """
    timeout = None if tool_timeout is None else to_ns(tool_timeout)
    if call.fault is not None and call.fault.kind == "hang":
        if timeout is None:
            raise ScenarioError(
                f"call {call.id!r} ({call.name}) has a hang fault and no tool "
                f"timeout is set, so its turn never hands back; pass "
                f"tool_timeout= (seconds) or drop the fault"
            )
        return timeout, "timeout"
    errs = call.fault is not None and call.fault.kind == "error"
    run = (
        to_ns(call.fault.at)
        if call.fault is not None and errs
        else to_ns(call.duration)
    )
    if timeout is not None and run >= timeout:
        return timeout, "timeout"  # a tie goes to the timeout, as in the engine
    return run, "error" if errs else "ok"


def turn_tool_release_ns(turn: Turn, strategy: Strategy) -> tuple[int, ...]:
    """When each call may start at the earliest, relative to send.

    ``parallel``: stream end for all. ``overlapped``: each call's complete.
    ``sequential``: stream end for the first call; a later call's release
    depends on the previous result, so it is given as stream end too and
    :func:`schedule_turn` chains them.
    """
    _check_strategy(strategy)
    if strategy == "overlapped":
        return turn.call_complete_ns()
    return (turn.stream_end_ns(),) * len(turn.calls)


def _check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise ScenarioError(
            f"strategy = {strategy!r}: must be one of {', '.join(STRATEGIES)}; "
            f"pick one of those"
        )


# --------------------------------------------------------------------------
# one turn


def schedule_turn(
    turn: Turn,
    strategy: Strategy,
    *,
    max_concurrency: int | None = None,
    tool_timeout: float | None = None,
) -> TurnSchedule:
    """Schedule one turn's tools under a strategy (times relative to send).

    Args:
        turn: the turn.
        strategy: ``"sequential"``, ``"parallel"`` or ``"overlapped"``.
        max_concurrency: cap on tools running at once; None for no cap.
            Sequential runs one tool at a time anyway.
        tool_timeout: per-tool timeout in seconds; None for none.

    Raises:
        ScenarioError: unknown strategy, a bad cap, or a hang without timeout.
    """
    _check_strategy(strategy)
    if max_concurrency is not None and max_concurrency < 1:
        raise ScenarioError(
            f"max_concurrency = {max_concurrency!r}: must be an integer >= 1 or "
            f"None; use None for no cap"
        )
    calls = turn.calls
    runs = [tool_run_ns(c, tool_timeout) for c in calls]
    overhead = to_ns(turn.result_overhead)
    releases = turn_tool_release_ns(turn, strategy)
    if strategy == "sequential":
        starts = _chain(turn.stream_end_ns(), [r for r, _ in runs], overhead)
        releases = tuple(starts)
    else:
        cap = max_concurrency if max_concurrency is not None else len(calls) or 1
        starts = _fifo_starts(calls, releases, [r for r, _ in runs], cap)
    scheduled = tuple(
        CallSchedule(c.id, rel, s, s + r, s + r + overhead, out)
        for c, rel, s, (r, out) in zip(calls, releases, starts, runs, strict=True)
    )
    end = turn.stream_end_ns()
    return TurnSchedule(
        strategy=strategy,
        calls=scheduled,
        first_token_ns=turn.first_token_ns(),
        stream_end_ns=end,
        hand_back_ns=max([end, *(c.ready_ns for c in scheduled)]),
    )


def _chain(stream_end: int, runs: Sequence[int], overhead: int) -> list[int]:
    """Sequential starts: the first at stream end, each next at the last ready."""
    starts = []
    t = stream_end
    for run in runs:
        starts.append(t)
        t += run + overhead
    return starts


def _fifo_starts(
    calls: Sequence[ToolCall], releases: Sequence[int], runs: Sequence[int], cap: int
) -> list[int]:
    """Event-driven list scheduling with FIFO admission.

    At each event time (a release or a tool end) the tools ending then are
    removed first; then calls are admitted in call order while the next one is
    released, a slot is free and no running tool conflicts with it. The first
    call that cannot start blocks every later one.
    """
    starts: list[int] = []
    running: list[tuple[int, int]] = []  # (end, index)
    t = 0
    while len(starts) < len(calls):
        running = [(e, i) for e, i in running if e > t]
        n = len(starts)
        if (
            releases[n] <= t
            and len(running) < cap
            and not any(conflicts(calls[i], calls[n]) for _, i in running)
        ):
            starts.append(t)
            running.append((t + runs[n], n))
            continue
        t = min([e for e, _ in running] + ([releases[n]] if releases[n] > t else []))
    return starts


# --------------------------------------------------------------------------
# the lower bound


def critical_path_ns(
    turn: Turn, *, max_concurrency: int | None = None, tool_timeout: float | None = None
) -> int:
    """A lower bound on hand-back (relative to send) for ANY schedule.

    Valid for every schedule in which call i starts no earlier than its call
    complete p_i, at most ``max_concurrency`` tools run at once, and
    conflicting tools never overlap; so it bounds all three strategies.
    Its terms, each a lower bound on its own (write d_i for the run time from
    :func:`tool_run_ns`, o for ``result_overhead``):

    1. Stream end E: the hand-back waits for the stream.
    2. ``max_i(p_i + d_i + o)``: tool i starts at p_i at the earliest, runs
       d_i, and its result is ready o later.
    3. For every set C of calls that conflict pairwise (built around the
       exclusive calls: global exclusives, the exclusives of one resource, and
       at most one further call conflicting with all of them), the calls of C
       run one at a time, none before its release, so the last one ends no
       earlier than the optimal one-machine makespan with release dates, which
       the earliest-release-first serial order attains; add o.
    4. Cap K: for each threshold r among the releases, the calls with
       ``p_i >= r`` do all their work after r on at most K slots, so the last
       ends at ``r + W_r / K`` or later; virtual time moves in whole
       nanoseconds, so ``r + ceil(W_r / K)`` still bounds it (floor would not);
       add o.

    With no cap and no exclusive call, terms 3 and 4 are dominated, and the
    overlapped strategy meets ``max(E, max_i(p_i + d_i + o))`` exactly, since
    every call starts at its release.
    """
    calls = turn.calls
    releases = turn.call_complete_ns()
    runs = [tool_run_ns(c, tool_timeout)[0] for c in calls]
    overhead = to_ns(turn.result_overhead)
    bound = turn.stream_end_ns()
    if not calls:
        return bound
    bound = max(
        bound, max(p + d for p, d in zip(releases, runs, strict=True)) + overhead
    )
    for group in _conflict_cliques(calls):
        bound = max(bound, _one_machine(group, releases, runs) + overhead)
    if max_concurrency is not None and max_concurrency < len(calls):
        bound = max(bound, _cap_bound(releases, runs, max_concurrency) + overhead)
    return bound


def _conflict_cliques(calls: Sequence[ToolCall]) -> Iterable[list[int]]:
    """Sets of call indices that conflict pairwise, around exclusive calls."""
    exclusive = [i for i, c in enumerate(calls) if c.safety == "exclusive"]
    if not exclusive:
        return
    global_ = [i for i in exclusive if calls[i].resource is None]
    keys = {r for i in exclusive if (r := calls[i].resource) is not None}
    bases = [global_] if global_ else []
    bases += [
        global_ + [i for i in exclusive if calls[i].resource == key]
        for key in sorted(keys)
    ]
    for base in bases:
        yield base
        for extra in range(len(calls)):
            if extra not in base and all(
                conflicts(calls[extra], calls[j]) for j in base
            ):
                yield [*base, extra]


def _one_machine(
    group: Sequence[int], releases: Sequence[int], runs: Sequence[int]
) -> int:
    """Makespan of the group run one at a time, earliest release first."""
    t = 0
    for i in sorted(group, key=lambda i: releases[i]):
        t = max(t, releases[i]) + runs[i]
    return t


def _cap_bound(releases: Sequence[int], runs: Sequence[int], cap: int) -> int:
    """``max_r (r + ceil(W_r / K))`` over thresholds r among the releases."""
    best = 0
    for r in set(releases):
        work = sum(d for p, d in zip(releases, runs, strict=True) if p >= r)
        best = max(best, r + -(-work // cap))
    return best


# --------------------------------------------------------------------------
# sessions


def prefill_ns(tokens: int, rate: float | None) -> int:
    """Nanoseconds to prefill ``tokens`` at ``rate`` tokens/s (0 when None)."""
    return 0 if rate is None else to_ns(tokens / rate)


def schedule_session(
    scenario: Scenario,
    strategy: Strategy,
    *,
    feed_forward: bool = False,
    tool_timeout: float | None = None,
) -> SessionSchedule:
    """Place every turn of the session under a strategy, in absolute time.

    Turn k starts at S_k (S_0 = 0, S_{k+1} = H_k; think time is kept out). It
    sends after its request overhead and the prefill of turn k-1's results:

    - barrier (default): ``send_k = S_k + overhead_k + P``, with
      ``P = prefill_ns(sum of result tokens, rate of turn k-1)``;
    - feed-forward: results prefill one by one in call order as they become
      ready, ``F = max(F, c_i) + prefill_ns(tokens_i, rate)``, and
      ``send_k = max(S_k + overhead_k, F)``.
    """
    placed: list[SessionTurn] = []
    start = 0
    for k, turn in enumerate(scenario.turns):
        send = _send_ns(
            start, turn, placed[-1] if placed else None, scenario, feed_forward
        )
        sched = schedule_turn(
            turn,
            strategy,
            max_concurrency=scenario.max_concurrency,
            tool_timeout=tool_timeout,
        )
        hand_back = send + sched.hand_back_ns
        placed.append(SessionTurn(k, start, send, hand_back, sched))
        start = hand_back
    return SessionSchedule(strategy, feed_forward, tuple(placed))


def _send_ns(
    start: int,
    turn: Turn,
    previous: SessionTurn | None,
    scenario: Scenario,
    feed_forward: bool,
) -> int:
    ready = start + to_ns(turn.request_overhead)
    if previous is None:
        return ready
    before = scenario.turns[previous.turn]
    return _after_prefill(ready, before, previous.ready_ns(), feed_forward)


def _after_prefill(
    ready: int, before: Turn, results_ready: Sequence[int], feed_forward: bool
) -> int:
    """Send time given the previous turn's results and the prefill model."""
    rate = before.prefill_tokens_per_second
    calls = before.calls
    if not feed_forward:
        return ready + prefill_ns(sum(c.result_tokens for c in calls), rate)
    fed: int | None = None
    for call, c in zip(calls, results_ready, strict=True):
        fed = max(c, fed if fed is not None else c) + prefill_ns(
            call.result_tokens, rate
        )
    return ready if fed is None else max(ready, fed)


def session_bound_ns(
    scenario: Scenario, *, feed_forward: bool = False, tool_timeout: float | None = None
) -> int:
    """A lower bound on session time for any schedule of the session.

    Each turn sends no earlier than its start plus request overhead and the
    prefill (same model as :func:`schedule_session`), and hands back no earlier
    than :func:`critical_path_ns` after sending. With the barrier model the
    prefill does not depend on the schedule, so the bound is the sum over
    turns of overhead, prefill and critical path. With feed-forward the
    recursion runs on lower bounds: result i of turn k is ready no earlier than
    ``send_k + p_i + d_i + o``, and the prefill finish F is monotone in those
    times, so feeding it lower bounds gives a lower bound.
    """
    start = 0
    previous: tuple[Turn, list[int]] | None = None
    for turn in scenario.turns:
        send = start + to_ns(turn.request_overhead)
        if previous is not None:
            send = _after_prefill(send, previous[0], previous[1], feed_forward)
        start = send + critical_path_ns(
            turn, max_concurrency=scenario.max_concurrency, tool_timeout=tool_timeout
        )
        overhead = to_ns(turn.result_overhead)
        runs = [tool_run_ns(c, tool_timeout)[0] for c in turn.calls]
        earliest = [
            send + p + d + overhead
            for p, d in zip(turn.call_complete_ns(), runs, strict=True)
        ]
        previous = (turn, earliest)
    return start
