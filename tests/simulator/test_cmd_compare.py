"""``streampar compare BASELINE CURRENT``: lines, verdict and exit codes 0/1/2/3."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_streampar._baseline import Metric, TestEntry, save_baseline
from simulator._cli import main
from simulator._cmd_compare import (
    EXIT_PASS,
    EXIT_REGRESSION,
    EXIT_SCHEMA,
    EXIT_UNREADABLE,
)


def _entry(session: float, speedup: float) -> TestEntry:
    return TestEntry(
        {
            "session_time": Metric(session, "lower", "s"),
            "speedup": Metric(speedup, "higher", "x"),
            "bound_gap": Metric(0.0, "lower", "fraction"),
        }
    )


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A baseline of two tests and a current file equal to it."""
    tests = {"t.py::a": _entry(4.3, 6.1 / 4.3), "t.py::b": _entry(8.0, 1.25)}
    base, current = tmp_path / "base.json", tmp_path / "current.json"
    save_baseline(base, tests, commit="c")
    save_baseline(current, tests, commit="d")
    return base, current


def _rewrite(path: Path, nodeid: str, metric: str, value: float) -> None:
    data = json.loads(path.read_text())
    data["tests"][nodeid]["metrics"][metric]["value"] = value
    path.write_text(json.dumps(data))


def test_equal_files_pass(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, current = files
    assert main(["compare", str(base), str(current)]) == EXIT_PASS == 0
    assert capsys.readouterr().out == (
        "PASSED: 0 regressions, 0 improvements, 0 new (allowed), 0 missing "
        "(allowed); 6 metrics of 2 tests compared, tolerance 0 %\n"
    )


def test_a_regression_exits_1_with_the_gate_lines(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, current = files
    # bound gap 0 -> 0.02: a zero baseline is judged in absolute terms
    _rewrite(current, "t.py::a", "bound_gap", 0.02)
    _rewrite(current, "t.py::b", "session_time", 8.6)  # +7.5 %
    assert main(["compare", str(base), str(current), "--tolerance", "5%"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "REGRESSED    t.py::b session_time: baseline 8 s, now 8.6 s, change "
        "+7.50 % (tolerance 5 %)",
        "FAILED: 1 regression, 0 improvements, 0 new (allowed), 0 missing "
        "(allowed); 6 metrics of 2 tests compared, tolerance 5 %",
    ]
    assert main(
        ["compare", str(base), str(current), "--tolerance", "5%,bound_gap=1%"]
    ) == (EXIT_REGRESSION)
    assert (
        "REGRESSED    t.py::a bound_gap: baseline 0, now 0.02, change +0.02 from 0 "
        "(tolerance 1 %)"
    ) in capsys.readouterr().out


def test_new_and_missing_fail_only_when_asked(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, current = files
    data = json.loads(current.read_text())
    data["tests"]["t.py::c"] = data["tests"].pop("t.py::b")
    current.write_text(json.dumps(data))
    assert main(["compare", str(base), str(current)]) == EXIT_PASS
    out = capsys.readouterr().out
    assert "NEW          t.py::c: not in the baseline" in out
    assert "MISSING      t.py::b: in the baseline, no result in this run" in out
    assert main(["compare", str(base), str(current), "--fail-on-new"]) == 1
    assert main(["compare", str(base), str(current), "--fail-on-missing"]) == 1
    capsys.readouterr()
    args = ["compare", str(base), str(current), "--fail-on-new", "--quiet"]
    assert main(args) == 1
    quiet = capsys.readouterr().out.splitlines()
    assert quiet[0] == "NEW (fails)  t.py::c: not in the baseline"
    assert len(quiet) == 2 and quiet[1].startswith("FAILED: 0 regressions")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda p: p.unlink(), "does not exist"),
        (lambda p: p.write_text(p.read_text()[:100]), "ends early (truncated?)"),
        (lambda p: p.write_text(""), "is empty"),
    ],
)
def test_unreadable_input_exits_2(
    files: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    damage: object,
    expected: str,
) -> None:
    base, current = files
    damage(current)  # type: ignore[operator]
    assert main(["compare", str(base), str(current)]) == EXIT_UNREADABLE == 2
    err = capsys.readouterr().err
    assert err.startswith(f"streampar compare: CURRENT file {str(current)!r}")
    assert expected in err


def test_a_bad_tolerance_exits_2(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, current = files
    assert main(["compare", str(base), str(current), "--tolerance", "lots"]) == 2
    assert "--tolerance='lots': 'lots' is not a number" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"version": 2}, "version = 2 must be 1"),
        ({"schema": "something-else"}, "schema = 'something-else'"),
        ({"tests": [1]}, "tests = [1] must be an object"),
    ],
)
def test_a_schema_mismatch_exits_3(
    files: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    edit: dict[str, object],
    expected: str,
) -> None:
    base, current = files
    data = json.loads(base.read_text())
    data.update(edit)
    base.write_text(json.dumps(data))
    assert main(["compare", str(base), str(current)]) == EXIT_SCHEMA == 3
    err = capsys.readouterr().err
    assert err.startswith(f"streampar compare: schema mismatch: {base}: ")
    assert expected in err


def test_a_unit_change_is_incomparable_and_fails(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, current = files
    data = json.loads(current.read_text())
    data["tests"]["t.py::a"]["metrics"]["speedup"]["better"] = "lower"
    current.write_text(json.dumps(data))
    assert main(["compare", str(base), str(current)]) == 1
    assert (
        "INCOMPARABLE t.py::a speedup: baseline is x, higher is better; now x, "
        "lower is better; refresh the baseline"
    ) in capsys.readouterr().out


def test_a_run_report_summary_is_accepted_as_current(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_streampar._run_report import write_run_report

    base, _ = files
    write_run_report(
        tmp_path / "report",
        {"t.py::a": _entry(4.3, 6.1 / 4.3), "t.py::b": _entry(7.0, 1.5)},
        {},
    )
    assert main(["compare", str(base), str(tmp_path / "report")]) == EXIT_PASS
    assert capsys.readouterr().out.splitlines()[:2] == [
        "IMPROVED     t.py::b session_time: baseline 8 s, now 7 s, change -12.50 %",
        "IMPROVED     t.py::b speedup: baseline 1.25 x, now 1.5 x, change +20.00 %",
    ]


def test_the_console_script_exits_with_the_same_codes(files: tuple[Path, Path]) -> None:
    base, current = files
    _rewrite(current, "t.py::a", "session_time", 5.0)
    done = subprocess.run(
        [sys.executable, "-m", "simulator._cli", "compare", str(base), str(current)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == EXIT_REGRESSION
    assert done.stdout.startswith(
        "REGRESSED    t.py::a session_time: baseline 4.3 s, now 5 s, change +16.28 %"
    )
    usage = subprocess.run(
        [sys.executable, "-m", "simulator._cli", "compare", str(base)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert usage.returncode == 2  # argparse: a missing argument
    assert "CURRENT" in usage.stderr
