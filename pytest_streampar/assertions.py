"""Assertions on a harness run, with messages a person can act on.

Each assertion reads what a harness team has after a test: the
:class:`~simulator.Timeline` that the simulated model and simulated tools
recorded (the ``streampar_timeline`` fixture, ``RunResult.timeline``, or a
``StrategyRun``), or the results the harness handed back. On failure it raises
:class:`StreamparCheckFailed` (an ``AssertionError``) whose first line states
the rule and the offending call or turn with its times, followed by a small
text timeline of that turn, the offending calls marked ``*``::

    results go back in call order: turn 0: the hand-back at 4.300 s gives
    [c0_1, c0_0] but the calls completed in the order [c0_0, c0_1]; ...

    timeline, turn 0: 0.000 s to 4.300 s, one column = 0.0662 s
      ...
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from simulator._scenario import Scenario

from . import _checks
from ._checks import StreamparCheckFailed, Violation, timeline_of

__all__ = [
    "StreamparCheckFailed",
    "assert_every_call_answered",
    "assert_near_bound",
    "assert_no_early_start",
    "assert_no_exclusive_overlap",
    "assert_results_in_call_order",
    "assert_same_results",
    "assert_speedup",
    "assert_streampar_rules",
]


def _raise(found: Sequence[Violation], run: Any) -> None:
    if found:
        try:
            timeline = timeline_of(run)
        except Exception:
            timeline = None
        raise StreamparCheckFailed(found, timeline)


def _on_timeline(run: Any, check: Callable[..., list[Violation]], **kw: Any) -> None:
    _raise(check(timeline_of(run), **kw), run)


def assert_every_call_answered(run: Any) -> None:
    """Every call the stream completed got exactly one result, handed back in
    its own turn; also after tool errors, timeouts and aborts.

    Args:
        run: a Timeline, or a run with one (``StrategyRun``, ``RunResult``,
            ``SimulatedModel``).

    Raises:
        StreamparCheckFailed: a call got no result (its turn was never handed
            back, or the hand-back left it out), two results, or a result
            names a call its turn never completed.
    """
    _on_timeline(run, _checks.check_every_call_answered)


def assert_no_early_start(run: Any) -> None:
    """No tool started before its call was complete in the stream.

    Args:
        run: a Timeline or a run with one.

    Raises:
        StreamparCheckFailed: a ``tool`` span starts before the call's
            ``call_complete`` instant, or runs a call the stream never completed.
    """
    _on_timeline(run, _checks.check_no_early_start)


def assert_no_exclusive_overlap(run: Any) -> None:
    """No exclusive tool overlapped a tool it conflicts with: another tool on
    the same resource, or any tool when it has no resource.

    Args:
        run: a Timeline or a run with one.

    Raises:
        StreamparCheckFailed: two conflicting ``tool`` spans overlap in time
            (touching ends do not count).
    """
    _on_timeline(run, _checks.check_no_exclusive_overlap)


def assert_results_in_call_order(run: Any, *, paired_by_id: bool = False) -> None:
    """Each turn's results reached the model in call order: the hand-back,
    and with feed-forward the results fed one by one.

    Args:
        run: a Timeline or a run with one.
        paired_by_id: the harness's wire format pairs results with calls by id
            (order is free); then only check that every result names a call of
            its turn.

    Raises:
        StreamparCheckFailed: a result went before one of an earlier call.
    """
    _on_timeline(run, _checks.check_results_in_call_order, paired_by_id=paired_by_id)


def assert_same_results(
    harness_run: Any,
    reference_run: Any,
    *,
    paired_by_id: bool = False,
    compare_content: bool = True,
    timeline: Any = None,
) -> None:
    """The harness handed back the same results as a reference strategy.

    Results compare by call id, status and (unless ``compare_content`` is
    False) content, turn by turn and in order (any order with
    ``paired_by_id``).

    Args:
        harness_run: per-turn lists of results (objects with ``call_id``,
            ``status``, ``content``, such as ``ToolResult``), or a run with
            ``.results``.
        reference_run: the same, usually a ``StrategyRun`` from
            ``simulator._strategies.run_strategy``.
        paired_by_id: compare each turn's results as a set.
        compare_content: also compare the result text.
        timeline: the harness's timeline for the picture; defaults to
            ``harness_run.timeline`` when it has one.

    Raises:
        StreamparCheckFailed: a turn's results differ.
    """
    found = _checks.check_same_results(
        harness_run,
        reference_run,
        paired_by_id=paired_by_id,
        compare_content=compare_content,
    )
    _raise(found, timeline if timeline is not None else harness_run)


def assert_speedup(run: Any, sequential_run: Any, *, at_least: float) -> None:
    """The run is at least ``at_least`` times faster than the sequential one.

    Session times compare: ``session_ns`` of a ``StrategyRun``, else the last
    hand-back minus the first turn's start in the timeline.

    Args:
        run: the harness's run (a Timeline or a run with one).
        sequential_run: the same scenario under the sequential strategy.
        at_least: the factor required, > 0 (1.0: never slower).

    Raises:
        StreamparCheckFailed: the speed-up is below ``at_least``; the picture
            shows the turn that gains least.
    """
    _raise(_checks.check_speedup(run, sequential_run, at_least=at_least), run)


def assert_near_bound(
    run: Any,
    scenario: Scenario | str | os.PathLike[str],
    *,
    margin: float = 0.05,
    feed_forward: bool | None = None,
    tool_timeout: float | None = None,
) -> None:
    """The run's session time is within ``margin`` of the critical-path bound.

    The bound (``simulator._bound.session_bound_ns``) is a lower bound for any
    schedule that starts no tool before its call is complete and respects the
    cap and the safety classes.

    Args:
        run: the harness's run (a Timeline or a run with one).
        scenario: the scenario it played: a Scenario, a file path or the name
            of a bundled scenario.
        margin: the fraction above the bound allowed (0.05 is 5%).
        feed_forward: the prefill model of the bound; None reads it from the
            timeline (``feed`` instants).
        tool_timeout: the harness's per-tool timeout, when a call hangs.

    Raises:
        StreamparCheckFailed: the run is further above the bound; the picture
            shows the turn furthest from its own bound.
    """
    if not isinstance(scenario, Scenario):
        from simulator._scenario_io import load_scenario

        scenario = load_scenario(scenario)
    found = _checks.check_near_bound(
        run,
        scenario,
        margin=margin,
        feed_forward=feed_forward,
        tool_timeout=tool_timeout,
    )
    _raise(found, run)


def assert_streampar_rules(run: Any, *, paired_by_id: bool = False) -> None:
    """The four safety rules at once, in this order: every call answered, no
    early start, no exclusive overlap, results in call order.

    Args:
        run: a Timeline or a run with one.
        paired_by_id: as in :func:`assert_results_in_call_order`.

    Raises:
        StreamparCheckFailed: the first rule broken.
    """
    assert_every_call_answered(run)
    assert_no_early_start(run)
    assert_no_exclusive_overlap(run)
    assert_results_in_call_order(run, paired_by_id=paired_by_id)
