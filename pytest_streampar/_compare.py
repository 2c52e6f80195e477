"""Comparing recorded metrics with a baseline: tolerances, verdicts, report lines.

Shared by the pytest gate (``--streampar-baseline``) and ``streampar compare``,
so both print the same lines and reach the same verdict.

A metric *regresses* when it is worse than its baseline by more than its
tolerance. Worse means higher for ``better == "lower"`` metrics (times, the
distance from the bound) and lower for ``better == "higher"`` ones (speed-up).
The change is relative to the baseline: with a 5 % tolerance a 4.0 s session
may grow to 4.2 s. When the baseline value is 0 (a run that reached the bound
has ``bound_gap`` 0) no relative change exists, so the tolerance is read as an
absolute amount in the metric's unit (5 % allows 0.05). The default tolerance
is 0: virtual time is deterministic, so any slow-down is real.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from simulator._errors import SimulatorError

from ._baseline import Metric, TestEntry

__all__ = [
    "METRIC_FAMILIES",
    "Change",
    "Comparison",
    "ToleranceError",
    "Tolerances",
    "compare_tests",
    "format_value",
    "parse_tolerances",
    "render_comparison",
]

METRIC_FAMILIES = ("session_time", "iteration_time", "speedup", "bound_gap")
_EPS = 1e-9
"""Slack for float rounding: 4.0 s to 4.2 s is a 5 % change, not 5.0000001 %."""
_NAME = re.compile(r"^(?P<family>[a-z_]+)(\[(?P<index>\d+)\])?$")


class ToleranceError(SimulatorError, ValueError):
    """A tolerance setting cannot be read; the message says where it came from
    (command-line option, ini key) and how to write it."""


@dataclass(frozen=True)
class Tolerances:
    """How much worse each metric may get before the gate fails.

    Attributes:
        default: the fraction every metric may worsen by (0.05 = 5 %).
        per_metric: overrides by metric family (``iteration_time``) or by full
            name (``iteration_time[2]``); the full name wins.
        source: where the setting came from, for messages.
    """

    default: float = 0.0
    per_metric: dict[str, float] = field(default_factory=dict)
    source: str = "default"

    def for_metric(self, name: str) -> float:
        """The tolerance of metric ``name`` (e.g. ``iteration_time[3]``)."""
        if name in self.per_metric:
            return self.per_metric[name]
        family = name.split("[", 1)[0]
        return self.per_metric.get(family, self.default)

    def describe(self) -> str:
        """Human text, e.g. ``5 % (speedup 1 %)``."""
        text = _percent(self.default)
        if self.per_metric:
            overrides = ", ".join(
                f"{k} {_percent(v)}" for k, v in sorted(self.per_metric.items())
            )
            text += f" ({overrides})"
        return text


def _percent(fraction: float) -> str:
    return f"{fraction * 100:g} %"


def parse_tolerances(text: str, *, source: str) -> Tolerances:
    """Read a tolerance setting.

    Accepted: ``5%``, ``2.5%``, ``0.05`` (a fraction), per-metric items such
    as ``speedup=1%,session_time=3%``, and both mixed: ``5%,speedup=1%``
    (the bare item is the default for the other metrics).

    Args:
        text: the setting.
        source: where it came from, e.g. ``"--streampar-tolerance"`` or
            ``"ini key streampar_tolerance"``; named in errors.

    Raises:
        ToleranceError: an item cannot be read; the message names the item,
            the source and the accepted forms.
    """
    default = 0.0
    per_metric: dict[str, float] = {}
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ToleranceError(_bad(text, source, "it is empty"))
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            default = _fraction(item, text, source)
            continue
        name = name.strip()
        _check_name(name, text, source)
        per_metric[name] = _fraction(value.strip(), text, source)
    return Tolerances(default, per_metric, source)


def _bad(text: str, source: str, why: str) -> str:
    return (
        f"{source}={text!r}: {why}; write a percentage (5%, 2.5%), a fraction "
        f"(0.05), or per metric: speedup=1%,session_time=3% (a bare item sets the "
        f"default for the others)"
    )


def _fraction(item: str, text: str, source: str) -> float:
    percent = item.endswith("%")
    number = item[:-1].strip() if percent else item
    try:
        value = float(number)
    except ValueError:
        raise ToleranceError(_bad(text, source, f"{item!r} is not a number")) from None
    if not value >= 0 or value == float("inf"):
        raise ToleranceError(
            _bad(text, source, f"{item!r} must be a finite number >= 0")
        )
    if percent:
        return value / 100
    if value > 1:
        raise ToleranceError(
            _bad(
                text,
                source,
                f"{item!r} without % is a fraction ({value * 100:g} %); "
                f"did you mean {item}%?",
            )
        )
    return value


def _check_name(name: str, text: str, source: str) -> None:
    match = _NAME.match(name)
    if match is None or match["family"] not in METRIC_FAMILIES:
        raise ToleranceError(
            _bad(
                text,
                source,
                f"{name!r} is not a metric; known: {', '.join(METRIC_FAMILIES)} "
                f"(iteration_time[2] names one iteration)",
            )
        )


@dataclass(frozen=True)
class Change:
    """A metric that moved: worse beyond tolerance, better, or incomparable.

    Attributes:
        kind: ``"regressed"``, ``"improved"`` or ``"incomparable"`` (the
            baseline and this run disagree on the unit or direction).
        nodeid: the test.
        metric: the metric's name.
        baseline: the baseline figure.
        current: this run's figure.
        change: relative change (0.05 = +5 %), or the absolute difference when
            ``relative`` is False (baseline 0).
        relative: whether ``change`` is relative.
        tolerance: the tolerance applied.
    """

    kind: str
    nodeid: str
    metric: str
    baseline: Metric
    current: Metric
    change: float
    relative: bool
    tolerance: float


@dataclass(frozen=True)
class Comparison:
    """Everything the comparison found.

    Attributes:
        changes: regressed, improved and incomparable metrics, in node id and
            metric order.
        new_tests: tests that recorded metrics but are not in the baseline.
        missing_tests: baseline entries no test recorded this time.
        new_metrics: ``(nodeid, metric)`` recorded now but not in the baseline.
        missing_metrics: ``(nodeid, metric)`` in the baseline, not recorded now.
        metrics_compared: how many metrics were in both.
        tests_compared: how many tests were in both.
        tolerances: the tolerances applied.
    """

    changes: list[Change]
    new_tests: list[str]
    missing_tests: list[str]
    new_metrics: list[tuple[str, str]]
    missing_metrics: list[tuple[str, str]]
    metrics_compared: int
    tests_compared: int
    tolerances: Tolerances

    @property
    def regressions(self) -> list[Change]:
        """Metrics worse than the baseline beyond tolerance, or incomparable."""
        return [c for c in self.changes if c.kind != "improved"]

    @property
    def nothing_compared(self) -> bool:
        """Every baseline test is missing: the gate has nothing to vouch for
        (all failed, were deselected or renamed; or it is the wrong file)."""
        return self.tests_compared == 0 and bool(self.missing_tests)

    @property
    def improvements(self) -> list[Change]:
        """Metrics better than the baseline."""
        return [c for c in self.changes if c.kind == "improved"]

    def failed(
        self, *, fail_on_new: bool = False, fail_on_missing: bool = False
    ) -> bool:
        """Whether the gate fails, given whether new / missing entries count."""
        if self.regressions or self.nothing_compared:
            return True
        if fail_on_new and (self.new_tests or self.new_metrics):
            return True
        return fail_on_missing and bool(self.missing_tests or self.missing_metrics)


def compare_tests(
    baseline: Mapping[str, TestEntry],
    current: Mapping[str, TestEntry],
    tolerances: Tolerances,
) -> Comparison:
    """Compare this run's metrics with the baseline's, test by test.

    Args:
        baseline: node id to entry, from the baseline file.
        current: node id to entry, from this run.
        tolerances: how much worse each metric may get.
    """
    changes: list[Change] = []
    new_metrics: list[tuple[str, str]] = []
    missing_metrics: list[tuple[str, str]] = []
    compared = 0
    both = sorted(set(baseline) & set(current))
    for nodeid in both:
        old, now = baseline[nodeid].metrics, current[nodeid].metrics
        new_metrics += [(nodeid, m) for m in sorted(set(now) - set(old))]
        missing_metrics += [(nodeid, m) for m in sorted(set(old) - set(now))]
        for name in sorted(set(old) & set(now)):
            compared += 1
            change = _judge(nodeid, name, old[name], now[name], tolerances)
            if change is not None:
                changes.append(change)
    return Comparison(
        changes=changes,
        new_tests=sorted(set(current) - set(baseline)),
        missing_tests=sorted(set(baseline) - set(current)),
        new_metrics=new_metrics,
        missing_metrics=missing_metrics,
        metrics_compared=compared,
        tests_compared=len(both),
        tolerances=tolerances,
    )


def _judge(
    nodeid: str, name: str, old: Metric, now: Metric, tolerances: Tolerances
) -> Change | None:
    tolerance = tolerances.for_metric(name)
    if (old.better, old.unit) != (now.better, now.unit):
        return Change("incomparable", nodeid, name, old, now, 0.0, False, tolerance)
    worse = now.value - old.value if old.better == "lower" else old.value - now.value
    relative = old.value != 0
    scale = abs(old.value) if relative else 1.0
    change = (now.value - old.value) / scale
    if worse / scale > tolerance + _EPS:
        kind = "regressed"
    elif worse < 0 and now.value != old.value:
        kind = "improved"
    else:
        return None
    return Change(kind, nodeid, name, old, now, change, relative, tolerance)


# Output -------------------------------------------------------------------


def format_value(metric: Metric) -> str:
    """A figure with its unit: ``4.3 s``, ``1.4 x``, ``0.02``."""
    number = f"{metric.value:.6g}"
    return number if metric.unit == "fraction" else f"{number} {metric.unit}"


def _format_change(change: Change) -> str:
    if change.relative:
        return f"{change.change * 100:+.2f} %"
    unit = "" if change.current.unit == "fraction" else f" {change.current.unit}"
    return f"{change.change:+.6g}{unit} from 0"


def _change_line(change: Change) -> str:
    head = f"{change.kind.upper():<12} {change.nodeid} {change.metric}"
    if change.kind == "incomparable":
        return (
            f"{head}: baseline is {change.baseline.unit}, {change.baseline.better} "
            f"is better; now {change.current.unit}, {change.current.better} is "
            f"better; refresh the baseline"
        )
    tail = (
        f"(tolerance {_percent(change.tolerance)})"
        if change.kind == "regressed"
        else ""
    )
    return (
        f"{head}: baseline {format_value(change.baseline)}, now "
        f"{format_value(change.current)}, change {_format_change(change)} {tail}"
    ).rstrip()


def render_comparison(
    comparison: Comparison,
    *,
    fail_on_new: bool = False,
    fail_on_missing: bool = False,
    show_improved: bool = True,
    failed_tests: frozenset[str] = frozenset(),
) -> list[str]:
    """The report lines: one per regressed (or improved) metric, one per new
    or missing test or metric, then a verdict line starting ``PASSED`` or
    ``FAILED``.

    Args:
        comparison: what :func:`compare_tests` returned.
        fail_on_new: new tests and metrics fail the gate.
        fail_on_missing: baseline entries with no result fail the gate.
        show_improved: list improved metrics too.
        failed_tests: node ids of tests that ran and failed in this run: a
            baseline entry of theirs is said to be not compared because the
            test failed, rather than missing.
    """
    lines = [_change_line(c) for c in comparison.regressions]
    if show_improved:
        lines += [_change_line(c) for c in comparison.improvements]
    new_word = "NEW (fails)" if fail_on_new else "NEW"
    gone_word = "MISSING (fails)" if fail_on_missing else "MISSING"
    lines += [f"{new_word:<12} {n}: not in the baseline" for n in comparison.new_tests]
    lines += [
        f"{new_word:<12} {n} {m}: metric not in the baseline"
        for n, m in comparison.new_metrics
    ]
    lines += [
        f"{gone_word:<12} {n}: in the baseline; the test failed in this run, so "
        f"its figures were not compared"
        if n in failed_tests
        else f"{gone_word:<12} {n}: in the baseline, no result in this run"
        for n in comparison.missing_tests
    ]
    lines += [
        f"{gone_word:<12} {n} {m}: in the baseline, not recorded in this run"
        for n, m in comparison.missing_metrics
    ]
    lines.append(_verdict(comparison, fail_on_new, fail_on_missing))
    return lines


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _verdict(comparison: Comparison, fail_on_new: bool, fail_on_missing: bool) -> str:
    failed = comparison.failed(fail_on_new=fail_on_new, fail_on_missing=fail_on_missing)
    new = len(comparison.new_tests) + len(comparison.new_metrics)
    gone = len(comparison.missing_tests) + len(comparison.missing_metrics)
    parts = [
        _count(len(comparison.regressions), "regression"),
        _count(len(comparison.improvements), "improvement"),
        f"{new} new{'' if fail_on_new else ' (allowed)'}",
        f"{gone} missing{'' if fail_on_missing else ' (allowed)'}",
    ]
    if comparison.nothing_compared:
        missing = _count(len(comparison.missing_tests), "baseline test")
        return (
            f"FAILED: nothing compared: all {missing} are "
            "missing from this run (failed, deselected or renamed?); fix the "
            "failures, or save a new baseline on purpose"
        )
    return (
        f"{'FAILED' if failed else 'PASSED'}: {', '.join(parts)}; "
        f"{_count(comparison.metrics_compared, 'metric')} of "
        f"{_count(comparison.tests_compared, 'test')} compared, tolerance "
        f"{comparison.tolerances.describe()}"
    )
