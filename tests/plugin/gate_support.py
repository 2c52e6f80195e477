"""Shared pieces of the gate, baseline, xdist and run-report tests.

The suites run by ``pytester`` record their metrics through a conftest
``streampar_run`` fixture that appends the plugin's ``("streampar", payload)``
user property itself, so these tests do not depend on how the plugin core
records a real run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

UNITS = {"session_time": "s", "speedup": "x", "bound_gap": "fraction"}

# A suite whose figures come from values.json beside it: a test can change a
# figure between two runs to simulate a regression. STREAMPAR_DROP_ON names an
# xdist worker (or "main" for a run without xdist) that loses every payload.
FIXED_CONFTEST = """
import json
import os
from pathlib import Path

import pytest

VALUES = Path(__file__).with_name("values.json")


def _metric(name, value):
    unit = {"speedup": "x", "bound_gap": "fraction"}.get(name, "s")
    better = "higher" if name == "speedup" else "lower"
    return {"value": value, "better": better, "unit": unit}


@pytest.fixture
def streampar_run(request):
    recorded = []

    def record(key):
        figures = json.loads(VALUES.read_text())[key]
        recorded.append(
            {
                "metrics": {k: _metric(k, v) for k, v in figures.items()},
                "timelines": {},
                "backend": "asyncio",
                "scenario": key,
            }
        )

    yield record
    # appended at teardown, after anything the plugin core appended, so that
    # these figures are the test's last payload
    props = request.node.user_properties
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if worker == os.environ.get("STREAMPAR_DROP_ON"):
        props[:] = [p for p in props if p[0] != "streampar"]
        return
    props.extend(("streampar", payload) for payload in recorded[-1:])
"""

FIXED_TESTS = """
import pytest


@pytest.mark.parametrize("key", ["a", "b", "c", "d", "e", "f", "g", "h"])
def test_turn(streampar_run, key):
    streampar_run(key)


def test_plain():
    assert True
"""

# A suite that plays bundled scenarios on the simulator under the sequential
# and overlapped strategies and records what the plugin core records.
REAL_CONFTEST = """
import pytest

from simulator._metrics import session_metrics
from simulator._scenario_io import bundled_scenarios, load_scenario
from simulator._strategies import run_strategy


@pytest.fixture
def streampar_run(request):
    recorded = []

    def play(name, backend="asyncio"):
        scenario = load_scenario(bundled_scenarios()[name])
        runs = {
            s: run_strategy(scenario, s, backend=backend)
            for s in ("sequential", "overlapped")
        }
        seq = session_metrics(runs["sequential"].timeline, scenario)
        ovl = session_metrics(
            runs["overlapped"].timeline, scenario, baseline=seq
        )
        metrics = {
            "session_time": {
                "value": ovl.session_ns / 1e9, "better": "lower", "unit": "s"
            },
            "speedup": {"value": ovl.speedup, "better": "higher", "unit": "x"},
            "bound_gap": {
                "value": ovl.distance_from_bound_ns / ovl.bound_ns,
                "better": "lower",
                "unit": "fraction",
            },
        }
        for t in ovl.turns:
            metrics[f"iteration_time[{t.turn}]"] = {
                "value": t.iteration_ns / 1e9, "better": "lower", "unit": "s"
            }
        payload = {
            "metrics": metrics,
            "timelines": {s: r.timeline.to_dict() for s, r in runs.items()},
            "backend": backend,
            "scenario": name,
        }
        recorded.append(payload)
        return runs

    yield play
    request.node.user_properties.extend(("streampar", p) for p in recorded[-1:])
"""

REAL_TESTS = """
import pytest


@pytest.mark.parametrize(
    "name", ["hand-worked", "two-call", "fan-out", "mixed-safety"]
)
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_scenario(streampar_run, name, backend):
    streampar_run(name, backend)
"""


def figures(
    session_time: float, speedup: float, bound_gap: float = 0.0
) -> dict[str, float]:
    """The figures one fixed-suite test records."""
    return {"session_time": session_time, "speedup": speedup, "bound_gap": bound_gap}


def write_values(folder: Path, values: dict[str, dict[str, float]]) -> None:
    """Write the fixed suite's values.json."""
    (folder / "values.json").write_text(json.dumps(values), encoding="utf-8")


def default_values() -> dict[str, dict[str, float]]:
    """Figures for the eight fixed-suite tests a..h."""
    return {
        key: figures(4.0 + i, 1.5 + i / 10, 0.0) for i, key in enumerate("abcdefgh")
    }


def metric(value: float, name: str = "session_time") -> dict[str, Any]:
    """One metric in the baseline's JSON form."""
    better = "higher" if name == "speedup" else "lower"
    return {"value": value, "better": better, "unit": UNITS.get(name, "s")}


def read_json(path: Path) -> Any:
    """A JSON file's content."""
    return json.loads(path.read_text(encoding="utf-8"))
