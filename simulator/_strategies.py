"""Run a scenario under one of the three reference strategies on virtual time.

:func:`run_strategy` builds a :class:`~simulator._model.SimulatedModel` and
:class:`~simulator._tools.SimulatedTools` for the scenario and plays the whole
session with the chosen reference harness in one :func:`simulator.run`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from . import _harness_overlapped, _harness_parallel, _harness_sequential
from ._errors import SimulatorError
from ._model import SimulatedModel, TurnTimes, Wire, wait_until_ns
from ._run import Backend, run
from ._scenario import Scenario, to_ns
from ._timeline import Instant, Span, Timeline
from ._tools import SimulatedTools, ToolResult

__all__ = ["STRATEGIES", "Strategy", "StrategyRun", "harness_for", "run_strategy"]

Strategy = Literal["sequential", "parallel", "overlapped"]
STRATEGIES: tuple[Strategy, ...] = ("sequential", "parallel", "overlapped")

Harness = Callable[..., Awaitable[list[list[ToolResult]]]]
_HARNESSES: dict[str, Harness] = {
    "sequential": _harness_sequential.run_session,
    "parallel": _harness_parallel.run_session,
    "overlapped": _harness_overlapped.run_session,
}


@dataclass
class StrategyRun:
    """One session played under one strategy.

    Attributes:
        scenario: the scenario played.
        strategy: ``"sequential"``, ``"parallel"`` or ``"overlapped"``.
        backend: ``"asyncio"`` or ``"trio"``.
        timeline: every span and instant, in a deterministic order.
        results: the results handed back, per turn, in hand-back order.
        turns: start, send and hand-back time of each turn played.
        session_ns: the last hand-back (the session's time).
        aborted: an abort stopped the session.
    """

    scenario: Scenario
    strategy: str
    backend: str
    timeline: Timeline
    results: list[list[ToolResult]]
    turns: list[TurnTimes]
    session_ns: int
    aborted: bool = False

    @property
    def session_time(self) -> float:
        """The session's time in seconds."""
        return self.session_ns / 1e9

    @property
    def iteration_ns(self) -> list[int]:
        """Each turn's iteration time (hand-back minus start), in ns."""
        return [t.iteration_ns for t in self.turns]


def harness_for(strategy: str) -> Harness:
    """The reference harness's ``run_session`` for ``strategy``.

    Raises:
        SimulatorError: not one of the three strategies.
    """
    try:
        return _HARNESSES[strategy]
    except KeyError:
        raise SimulatorError(
            f"strategy = {strategy!r} is not a reference strategy; use one of "
            f"{', '.join(STRATEGIES)}"
        ) from None


def run_strategy(
    scenario: Scenario,
    strategy: str,
    *,
    backend: Backend = "asyncio",
    feed_forward: bool = False,
    tool_timeout: float | None = None,
    cancel_siblings: bool = False,
    abort_at: float | None = None,
    wire: Wire = "canonical",
) -> StrategyRun:
    """Play ``scenario`` under ``strategy`` in one virtual-time run.

    The concurrency cap is the scenario's ``max_concurrency``.

    Args:
        scenario: the session.
        strategy: ``"sequential"``, ``"parallel"`` or ``"overlapped"``.
        backend: ``"asyncio"`` or ``"trio"``.
        feed_forward: the model prefills each result as it is fed.
        tool_timeout: seconds after which a running tool is stopped.
        cancel_siblings: a failing tool cancels its turn's other calls.
        abort_at: virtual seconds from the session's start at which the user
            aborts; None never aborts.
        wire: the stream format the model emits and the harness parses.

    Returns:
        The run's timeline, results and per-turn times.
    """
    harness = harness_for(strategy)
    if abort_at is not None and not abort_at >= 0:
        raise SimulatorError(
            f"abort_at = {abort_at!r}: must be a number of seconds >= 0, or None "
            f"to never abort"
        )

    async def session() -> tuple[SimulatedModel, list[list[ToolResult]], bool]:
        model = SimulatedModel(scenario, wire=wire, feed_forward=feed_forward)
        tools = SimulatedTools(scenario)
        abort = anyio.Event() if abort_at is not None else None
        async with anyio.create_task_group() as tg:
            if abort is not None:
                tg.start_soon(_abort_at, abort, to_ns(abort_at or 0.0))
            results = await harness(
                model,
                tools,
                max_concurrency=scenario.max_concurrency,
                tool_timeout=tool_timeout,
                cancel_siblings=cancel_siblings,
                feed_forward=feed_forward,
                abort=abort,
            )
            tg.cancel_scope.cancel()
        if tools.running:  # pragma: no cover - structured concurrency forbids it
            raise SimulatorError(
                f"tools still running after the session: {tools.running}"
            )
        return model, results, abort is not None and abort.is_set()

    outcome = run(session, backend=backend)
    model, results, aborted = outcome.value
    timeline = _ordered(outcome.timeline)
    timeline.meta.update(
        scenario=scenario.name,
        strategy=strategy,
        backend=backend,
        wire=wire,
        feed_forward=feed_forward,
    )
    turns = list(model.turn_times)
    session_ns = turns[-1].hand_back_ns if turns else 0
    return StrategyRun(
        scenario, strategy, backend, timeline, results, turns, session_ns, aborted
    )


async def _abort_at(abort: anyio.Event, when: int) -> None:
    await wait_until_ns(when)
    abort.set()


def _span_key(s: Span) -> tuple[Any, ...]:
    return (s.start_ns, s.end_ns, s.lane, s.name)


def _instant_key(i: Instant) -> tuple[Any, ...]:
    return (i.at_ns, i.lane, i.name)


def _ordered(timeline: Timeline) -> Timeline:
    """The same records sorted by time, so that the order in which tasks ran
    within one virtual instant (trio shuffles it) does not show."""
    timeline.spans.sort(key=_span_key)
    timeline.instants.sort(key=_instant_key)
    return timeline
