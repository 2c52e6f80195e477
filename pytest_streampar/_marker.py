"""The ``streampar(...)`` marker: backends, watchdog and a latency budget.

Markers on the module (``pytestmark``), the class and the function are merged;
the closest one wins for each argument. Invalid arguments fail the test at
setup with an error naming the argument, its value and the marker it is on.

The budget is checked after the test passed, against what the test measured
(see :mod:`pytest_streampar._recorder` for what counts as measured):

- ``iteration_time``: max seconds of any iteration (hand-back minus start);
- ``session_time``: max seconds of a session (last hand-back minus the first
  turn's start, or the run's virtual end time when no turn was recorded);
- ``speedup``: minimum factor the session must be faster than the analytic
  sequential schedule of the same scenario;
- ``bound_margin``: maximum fraction above the critical-path lower bound.

``speedup`` and ``bound_margin`` need a scenario: the test must have played it
through ``streampar_model(scenario)`` or ``streampar_run.strategy(...)``;
otherwise the check fails and says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from ._options import BACKENDS

if TYPE_CHECKING:
    from ._recorder import Worst

__all__ = ["MARKER_LINE", "Budget", "MarkerError", "check_budget", "read_budget"]

MARKER_LINE = (
    "streampar(*, backends=None, iteration_time=None, session_time=None, "
    "speedup=None, bound_margin=None, watchdog=None): run the test on virtual "
    "time on the given backends and fail it when its measured latency breaks "
    "the budget (seconds, speed-up factor, fraction above the bound)."
)

_NUMBERS = ("iteration_time", "session_time", "speedup", "bound_margin", "watchdog")
_ARGUMENTS = ("backends", *_NUMBERS)


class MarkerError(Exception):
    """A ``streampar`` marker argument is invalid."""


@dataclass(frozen=True)
class Budget:
    """The merged ``streampar`` marker arguments of one test.

    Attributes:
        backends: backends the test supports; None means the session's.
        iteration_time: max seconds per iteration, or None.
        session_time: max seconds per session, or None.
        speedup: min speed-up versus sequential, or None.
        bound_margin: max fraction above the critical-path bound, or None.
        watchdog: real-time seconds per loop iteration; None means the session's.
        where: which marker set the budget, e.g. ``"marker on test_x"``.
    """

    backends: tuple[str, ...] | None = None
    iteration_time: float | None = None
    session_time: float | None = None
    speedup: float | None = None
    bound_margin: float | None = None
    watchdog: float | None = None
    where: str = "no marker"

    @property
    def has_checks(self) -> bool:
        """Whether any latency budget is set."""
        limits = (self.iteration_time, self.session_time, self.speedup)
        return any(v is not None for v in (*limits, self.bound_margin))


def _place(node: Any) -> str:
    if isinstance(node, pytest.Module):
        return f"marker on module {node.name}"
    if isinstance(node, pytest.Class):
        return f"marker on class {node.name}"
    return f"marker on {getattr(node, 'originalname', node.name)}"


def _number(name: str, value: Any, where: str) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "bound_margin":
        # 0 is a real budget: "at the bound", as the overlapped strategy is
        if not ok or not math.isfinite(value) or value < 0:
            raise MarkerError(
                f"streampar marker argument {name}={value!r} ({where}) must be a "
                f"number >= 0 (a fraction above the bound), e.g. {name}=0.05"
            )
        return float(value)
    if not ok or not math.isfinite(value) or value <= 0:
        raise MarkerError(
            f"streampar marker argument {name}={value!r} ({where}) must be a "
            f"number > 0, e.g. {name}=2.0"
        )
    return float(value)


def _backends(value: Any, where: str) -> tuple[str, ...]:
    items: Sequence[Any] = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise MarkerError(
            f"streampar marker argument backends={value!r} ({where}) must be a "
            f"non-empty list of backends, e.g. backends=['trio']"
        )
    bad = [b for b in items if b not in BACKENDS]
    if bad:
        raise MarkerError(
            f"streampar marker argument backends={value!r} ({where}): {bad[0]!r} "
            f"is not a backend; use 'asyncio' and/or 'trio'"
        )
    return tuple(dict.fromkeys(items))


def _check_mark(mark: pytest.Mark, where: str) -> None:
    if mark.args:
        raise MarkerError(
            f"streampar marker ({where}) takes keyword arguments only, got "
            f"positional {mark.args!r}; write e.g. streampar(iteration_time=4.0)"
        )
    unknown = sorted(set(mark.kwargs) - set(_ARGUMENTS))
    if unknown:
        raise MarkerError(
            f"streampar marker argument {unknown[0]!r} ({where}) is unknown; "
            f"the arguments are {', '.join(_ARGUMENTS)}"
        )


def read_budget(item: pytest.Item) -> Budget:
    """Merge and validate every ``streampar`` marker that applies to ``item``.

    Raises:
        MarkerError: an argument is unknown, of the wrong type or not > 0.
    """
    values: dict[str, Any] = {}
    where: dict[str, str] = {}
    for node, mark in item.iter_markers_with_node("streampar"):
        here = _place(node)
        _check_mark(mark, here)
        for name, value in mark.kwargs.items():
            if name not in values:
                values[name], where[name] = value, here
    fields: dict[str, Any] = {}
    for name, value in values.items():
        if name == "backends":
            fields[name] = _backends(value, where[name])
        elif value is not None:
            fields[name] = _number(name, value, where[name])
    budget_places = [where[n] for n in _NUMBERS[:4] if n in where]
    return Budget(**fields, where=budget_places[0] if budget_places else "no marker")


def _s(ns: float) -> str:
    return f"{ns / 1e9:.6g} s"


def _check_times(budget: Budget, worst: Worst, fails: list[str]) -> None:
    if budget.iteration_time is not None and worst.iteration is not None:
        ns, turn, label = worst.iteration
        if ns > budget.iteration_time * 1e9:
            fails.append(
                f"streampar budget iteration_time={budget.iteration_time:g} s "
                f"exceeded: turn {turn} took {_s(ns)} ({label}; {budget.where})"
            )
    if budget.session_time is not None and worst.session is not None:
        ns, label = worst.session
        if ns > budget.session_time * 1e9:
            fails.append(
                f"streampar budget session_time={budget.session_time:g} s "
                f"exceeded: the session took {_s(ns)} ({label}; {budget.where})"
            )


def _unmeasured(name: str, value: float) -> str:
    return (
        f"streampar budget {name}={value:g} cannot be checked: the test played "
        f"no complete scenario the plugin could compare; give the scenario to "
        f"streampar_model(scenario) or use streampar_run.strategy(scenario, ...)"
    )


def _check_scenario(budget: Budget, worst: Worst, fails: list[str]) -> None:
    if budget.speedup is not None:
        if worst.speedup is None:
            fails.append(_unmeasured("speedup", budget.speedup))
        elif worst.speedup[0] < budget.speedup:
            factor, seq, ns, label = worst.speedup
            fails.append(
                f"streampar budget speedup={budget.speedup:g}x not met: "
                f"{factor:.4g}x faster than sequential (sequential {_s(seq)}, "
                f"this run {_s(ns)}; {label}; {budget.where})"
            )
    if budget.bound_margin is not None:
        if worst.bound_gap is None:
            fails.append(_unmeasured("bound_margin", budget.bound_margin))
        elif worst.bound_gap[0] > budget.bound_margin:
            gap, bound, ns, label = worst.bound_gap
            fails.append(
                f"streampar budget bound_margin={budget.bound_margin:g} exceeded: "
                f"{gap:.2%} above the critical-path bound (bound {_s(bound)}, "
                f"this run {_s(ns)}; {label}; {budget.where})"
            )


def check_budget(budget: Budget, worst: Worst, runs: int) -> list[str]:
    """Every budget the measured figures break, one message each.

    Args:
        budget: the test's merged marker.
        worst: the worst figures over the test's runs.
        runs: how many runs the test recorded.
    """
    if not budget.has_checks:
        return []
    if runs == 0:
        return [
            f"streampar budget ({budget.where}) cannot be checked: the test "
            f"recorded no run; call streampar_run(...) or make the test an "
            f"async def marked @pytest.mark.streampar"
        ]
    fails: list[str] = []
    _check_times(budget, worst, fails)
    _check_scenario(budget, worst, fails)
    return fails
