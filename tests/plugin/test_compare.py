"""Tolerance parsing and the comparison rule, by hand and as properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_streampar._baseline import Metric, TestEntry
from pytest_streampar._compare import (
    ToleranceError,
    Tolerances,
    compare_tests,
    parse_tolerances,
    render_comparison,
)
from simulator import SimulatorError


@pytest.mark.parametrize(
    ("text", "default", "per_metric"),
    [
        ("5%", 0.05, {}),
        ("2.5%", 0.025, {}),
        ("0.05", 0.05, {}),
        (" 0 % ", 0.0, {}),
        ("speedup=1%,session_time=3%", 0.0, {"speedup": 0.01, "session_time": 0.03}),
        ("5%, iteration_time=10%", 0.05, {"iteration_time": 0.1}),
        ("iteration_time[2]=0.5%", 0.0, {"iteration_time[2]": 0.005}),
    ],
)
def test_tolerances_are_read(
    text: str, default: float, per_metric: dict[str, float]
) -> None:
    parsed = parse_tolerances(text, source="--streampar-tolerance")
    assert parsed.default == pytest.approx(default)
    assert parsed.per_metric == pytest.approx(per_metric)


def test_the_most_specific_tolerance_wins() -> None:
    t = parse_tolerances(
        "1%,iteration_time=10%,iteration_time[2]=20%", source="ini key x"
    )
    assert t.for_metric("session_time") == pytest.approx(0.01)
    assert t.for_metric("iteration_time[0]") == pytest.approx(0.10)
    assert t.for_metric("iteration_time[2]") == pytest.approx(0.20)
    assert t.describe() == "1 % (iteration_time 10 %, iteration_time[2] 20 %)"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "it is empty"),
        ("five", "'five' is not a number"),
        ("-1%", "'-1%' must be a finite number >= 0"),
        ("nan", "'nan' must be a finite number >= 0"),
        ("3", "'3' without % is a fraction (300 %); did you mean 3%?"),
        ("latency=1%", "'latency' is not a metric"),
    ],
)
def test_bad_tolerances_name_source_item_and_forms(text: str, why: str) -> None:
    with pytest.raises(ToleranceError) as info:
        parse_tolerances(text, source="ini key streampar_tolerance")
    message = str(info.value)
    assert message.startswith(f"ini key streampar_tolerance={text!r}: {why}")
    assert "write a percentage (5%, 2.5%), a fraction (0.05)" in message
    assert isinstance(info.value, SimulatorError)


def _one(metric: Metric) -> dict[str, TestEntry]:
    return {"t.py::x": TestEntry({"m": metric})}


def _judge(old: Metric, new: Metric, tolerance: float) -> str:
    comparison = compare_tests(_one(old), _one(new), Tolerances(tolerance))
    kinds = [c.kind for c in comparison.changes]
    return kinds[0] if kinds else "same"


def test_hand_worked_verdicts() -> None:
    lower = Metric(4.0, "lower", "s")
    assert _judge(lower, Metric(4.2, "lower", "s"), 0.05) == "same"  # exactly 5 %
    assert _judge(lower, Metric(4.2001, "lower", "s"), 0.05) == "regressed"
    assert _judge(lower, Metric(3.9, "lower", "s"), 0.0) == "improved"
    higher = Metric(2.0, "higher", "x")
    assert _judge(higher, Metric(1.9, "higher", "x"), 0.05) == "same"  # -5 %
    assert _judge(higher, Metric(1.89, "higher", "x"), 0.05) == "regressed"
    assert _judge(higher, Metric(2.5, "higher", "x"), 0.0) == "improved"
    zero = Metric(0.0, "lower", "fraction")
    assert _judge(zero, Metric(0.05, "lower", "fraction"), 0.05) == "same"
    assert _judge(zero, Metric(0.06, "lower", "fraction"), 0.05) == "regressed"
    assert _judge(lower, Metric(4.0, "higher", "s"), 1.0) == "incomparable"


values = st.floats(min_value=0.001, max_value=1e4, allow_nan=False)
tolerances = st.floats(min_value=0.0, max_value=0.5, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    old=values,
    new=values,
    tolerance=tolerances,
    better=st.sampled_from(["lower", "higher"]),
)
def test_a_metric_regresses_exactly_when_worse_beyond_tolerance(
    old: float, new: float, tolerance: float, better: str
) -> None:
    verdict = _judge(Metric(old, better, "s"), Metric(new, better, "s"), tolerance)
    worse = (new - old) / old if better == "lower" else (old - new) / old
    if worse > tolerance + 1e-9:
        assert verdict == "regressed"
    elif new != old and worse < 0:
        assert verdict == "improved"
    else:
        assert verdict == "same"


@settings(max_examples=30, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["t.py::a", "t.py::b", "t.py::c"]),
        st.dictionaries(
            st.sampled_from(["session_time", "speedup"]), values, min_size=1
        ),
    )
)
def test_a_run_compared_with_itself_passes_with_nothing_to_report(
    tests: dict[str, dict[str, float]],
) -> None:
    entries = {
        nodeid: TestEntry({m: Metric(v) for m, v in metrics.items()})
        for nodeid, metrics in tests.items()
    }
    comparison = compare_tests(entries, entries, Tolerances())
    assert comparison.changes == [] and not comparison.failed(
        fail_on_new=True, fail_on_missing=True
    )
    assert comparison.metrics_compared == sum(len(m) for m in tests.values())
    assert render_comparison(comparison)[-1].startswith("PASSED: 0 regressions")


def test_a_test_that_failed_is_not_called_missing() -> None:
    baseline = {
        "t.py::broke": TestEntry({"m": Metric(4.3, "lower", "s")}),
        "t.py::gone": TestEntry({"m": Metric(4.3, "lower", "s")}),
    }
    comparison = compare_tests(baseline, {}, Tolerances())

    lines = render_comparison(comparison, failed_tests=frozenset({"t.py::broke"}))

    assert lines[:2] == [
        "MISSING      t.py::broke: in the baseline; the test failed in this run, "
        "so its figures were not compared",
        "MISSING      t.py::gone: in the baseline, no result in this run",
    ]
