"""The latency gate through pytester: pass, fail beyond tolerance, pass within it,
update the baseline, report added and removed tests, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import hypothesis  # noqa: F401  (imported once: inline runs would re-import it)
import pytest
from gate_support import (
    FIXED_CONFTEST,
    FIXED_TESTS,
    default_values,
    metric,
    read_json,
    write_values,
)

import simulator._strategies  # noqa: F401  (as above: the engine)
from pytest_streampar._baseline import (
    TestEntry,
    entry_from_payload,
    load_baseline,
    save_baseline,
)

BASE = "--streampar-baseline=base.json"


def _entries() -> dict[str, TestEntry]:
    """What the suite records with default_values(), as baseline entries."""
    return {
        f"test_suite.py::test_turn[{key}]": entry_from_payload(
            {
                "metrics": {name: metric(v, name) for name, v in figs.items()},
                "scenario": key,
                "backend": "asyncio",
            },
            nodeid=key,
        )
        for key, figs in default_values().items()
    }


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """Eight tests a..h with figures from values.json, and their baseline
    (written directly; test_saving_writes_every_figure saves it through pytest)."""
    pytester.makeconftest(FIXED_CONFTEST)
    pytester.makepyfile(test_suite=FIXED_TESTS)
    write_values(pytester.path, default_values())
    save_baseline(pytester.path / "base.json", _entries())
    return pytester


def _set(pytester: pytest.Pytester, key: str, **changes: float) -> None:
    values = default_values()
    values[key].update(changes)
    write_values(pytester.path, values)


def test_saving_writes_every_figure(suite: pytest.Pytester) -> None:
    (suite.path / "base.json").unlink()
    result = suite.runpytest(BASE, "--streampar-save-baseline")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "baseline saved to base.json: 8 tests written, 0 kept from the old "
            "file, 0 pruned"
        ]
    )
    data = read_json(suite.path / "base.json")
    tests = data["tests"]
    assert sorted(tests) == [f"test_suite.py::test_turn[{k}]" for k in "abcdefgh"]
    # default_values(): test i records session 4.0 + i s and speed-up 1.5 + i/10
    assert tests["test_suite.py::test_turn[c]"] == {
        "scenario": "c",
        "backend": "asyncio",
        "metrics": {
            "bound_gap": {"value": 0.0, "better": "lower", "unit": "fraction"},
            "session_time": {"value": 6.0, "better": "lower", "unit": "s"},
            "speedup": {"value": 1.7, "better": "higher", "unit": "x"},
        },
    }
    assert "test_suite.py::test_plain" not in tests  # not a streampar test
    assert load_baseline(suite.path / "base.json").tests == _entries()


def test_an_unchanged_run_passes(suite: pytest.Pytester) -> None:
    result = suite.runpytest(BASE)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*streampar latency gate*",
            "baseline base.json: 8 tests, commit unknown, pytest-streampar 0.1.0",
            "PASSED: 0 regressions, 0 improvements, 0 new (allowed), 0 missing "
            "(allowed); 24 metrics of 8 tests compared, tolerance 0 %",
        ]
    )


def test_a_regression_beyond_tolerance_fails_with_one_line_per_metric(
    suite: pytest.Pytester,
) -> None:
    # c: 6.0 s -> 6.5 s is +8.33 %; speed-up 1.7 -> 1.6 is -5.88 %
    _set(suite, "c", session_time=6.5, speedup=1.6)
    result = suite.runpytest(BASE, "--streampar-tolerance=5%")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=9)  # every test passed: the gate failed the run
    result.stdout.fnmatch_lines(
        [
            "REGRESSED    test_suite.py::test_turn[[]c[]] session_time: baseline 6 s, "
            "now 6.5 s, change +8.33 % (tolerance 5 %)",
            "REGRESSED    test_suite.py::test_turn[[]c[]] speedup: baseline 1.7 x, "
            "now 1.6 x, change -5.88 % (tolerance 5 %)",
            "FAILED: 2 regressions, 0 improvements, *",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_within_tolerance_passes_and_improvements_are_listed(
    suite: pytest.Pytester,
) -> None:
    # a: 4.0 s -> 4.1 s is +2.5 %, exactly the tolerance; b: 5.0 s -> 4.0 s
    values = default_values()
    values["a"]["session_time"] = 4.1
    values["b"]["session_time"] = 4.0
    write_values(suite.path, values)
    result = suite.runpytest(BASE, "--streampar-tolerance=2.5%")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "IMPROVED     test_suite.py::test_turn[[]b[]] session_time: baseline 5 s, "
            "now 4 s, change -20.00 %",
            "PASSED: 0 regressions, 1 improvement, *tolerance 2.5 %",
        ]
    )
    # a hair beyond 2.5 % fails
    values["a"]["session_time"] = 4.1001
    write_values(suite.path, values)
    assert suite.runpytest(BASE, "--streampar-tolerance=0.025").ret == 1


def test_per_metric_tolerances_from_the_ini_key(suite: pytest.Pytester) -> None:
    # d: session 7.0 -> 7.3 (+4.29 %), speed-up 1.8 -> 1.77 (-1.67 %)
    _set(suite, "d", session_time=7.3, speedup=1.77)
    suite.makeini("[pytest]\nstreampar_tolerance = 5%, speedup=1%\n")
    result = suite.runpytest(BASE)
    assert result.ret == 1
    out = result.stdout.str()
    assert "session_time: baseline" not in out
    result.stdout.fnmatch_lines(
        [
            "REGRESSED    *test_turn[[]d[]] speedup: baseline 1.8 x, now 1.77 x, "
            "change -1.67 % (tolerance 1 %)",
            "FAILED: 1 regression, *tolerance 5 % (speedup 1 %)",
        ]
    )
    # the option wins over the ini key
    assert suite.runpytest(BASE, "--streampar-tolerance=speedup=2%,5%").ret == 0


def test_save_updates_the_baseline_and_keeps_tests_that_did_not_run(
    suite: pytest.Pytester,
) -> None:
    _set(suite, "e", session_time=9.5)
    assert suite.runpytest(BASE).ret == 1
    result = suite.runpytest(
        BASE, "--streampar-save-baseline", "-k", "test_turn[e] or test_turn[f]"
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "baseline saved to base.json: 2 tests written, 6 kept from the old "
            "file, 0 pruned"
        ]
    )
    tests = read_json(suite.path / "base.json")["tests"]
    assert (
        tests["test_suite.py::test_turn[e]"]["metrics"]["session_time"]["value"] == 9.5
    )
    assert len(tests) == 8
    assert suite.runpytest(BASE).ret == 0
    pruned = suite.runpytest(
        BASE,
        "--streampar-save-baseline",
        "--streampar-prune-baseline",
        "-k",
        "test_turn[e]",
    )
    pruned.stdout.fnmatch_lines(
        ["*1 tests written, 0 kept from the old file, 7 pruned"]
    )
    assert list(read_json(suite.path / "base.json")["tests"]) == [
        "test_suite.py::test_turn[e]"
    ]


def test_added_and_removed_tests_are_reported_and_fail_only_when_asked(
    suite: pytest.Pytester,
) -> None:
    data = read_json(suite.path / "base.json")
    data["tests"]["test_gone.py::test_old"] = data["tests"].pop(
        "test_suite.py::test_turn[h]"
    )
    (suite.path / "base.json").write_text(json.dumps(data))
    result = suite.runpytest(BASE)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "NEW          test_suite.py::test_turn[[]h[]]: not in the baseline",
            "MISSING      test_gone.py::test_old: in the baseline, no result in "
            "this run",
            "PASSED: 0 regressions, 0 improvements, 1 new (allowed), 1 missing "
            "(allowed)*",
        ]
    )
    new = suite.runpytest(BASE, "--streampar-fail-on-new")
    assert new.ret == 1
    new.stdout.fnmatch_lines(
        [
            "NEW (fails)  test_suite.py::test_turn[[]h[]]: not in the baseline",
            "FAILED: *",
        ]
    )
    suite.makeini("[pytest]\nstreampar_fail_on_missing = true\n")
    missing = suite.runpytest(BASE)
    assert missing.ret == 1
    missing.stdout.fnmatch_lines(["MISSING (fails) test_gone.py::test_old: *"])


def test_a_truncated_baseline_stops_the_run_with_a_clear_error(
    suite: pytest.Pytester,
) -> None:
    path = suite.path / "base.json"
    text = path.read_text()
    path.write_text(text[:200])
    result = suite.runpytest(BASE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: streampar gate: baseline file 'base.json' is not valid JSON: it "
            "ends early (truncated?) at line * column *; restore it from version "
            "control or re-create it with `pytest --streampar-baseline=FILE "
            "--streampar-save-baseline` (file named by command-line option "
            "--streampar-baseline)"
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert "passed" not in result.stdout.str()  # no test ran


def test_a_baseline_of_another_version_is_refused(suite: pytest.Pytester) -> None:
    path = suite.path / "base.json"
    data = read_json(path)
    data["version"] = 7
    path.write_text(json.dumps(data))
    result = suite.runpytest(BASE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: streampar gate: base.json: version = 7 must be 1*"]
    )


def test_saving_over_a_corrupt_baseline_repairs_it(suite: pytest.Pytester) -> None:
    (suite.path / "base.json").write_text("{not json")
    result = suite.runpytest(BASE, "--streampar-save-baseline")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["replaced an unreadable baseline: *is not valid JSON*"]
    )
    assert len(read_json(suite.path / "base.json")["tests"]) == 8


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [BASE, "--streampar-tolerance=5"],
            "ERROR: command-line option --streampar-tolerance='5': '5' without % is "
            "a fraction (500 %); did you mean 5%?*",
        ),
        (
            [BASE, "--streampar-tolerance=speed=1%"],
            "ERROR: command-line option --streampar-tolerance='speed=1%': 'speed' is "
            "not a metric; known: session_time, iteration_time, speedup, bound_gap*",
        ),
        (
            ["--streampar-save-baseline"],
            "ERROR: --streampar-save-baseline needs the file to write: add "
            "--streampar-baseline=FILE (or the ini key streampar_baseline)",
        ),
        (
            ["--streampar-baseline=nowhere.json"],
            "ERROR: streampar gate: baseline file 'nowhere.json' does not exist; "
            "create it with `pytest --streampar-baseline=nowhere.json "
            "--streampar-save-baseline` (file named by command-line option "
            "--streampar-baseline)",
        ),
    ],
)
def test_bad_settings_name_where_they_came_from(
    suite: pytest.Pytester, args: list[str], message: str
) -> None:
    result = suite.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_the_ini_baseline_path_is_relative_to_the_rootdir(
    suite: pytest.Pytester,
) -> None:
    suite.makeini("[pytest]\nstreampar_baseline = base.json\n")
    sub = suite.mkdir("elsewhere")
    _set(suite, "a", session_time=4.5)
    result = suite.runpytest(
        "--rootdir", str(suite.path), str(suite.path), "-p", "no:cacheprovider"
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines([f"baseline {suite.path / 'base.json'}: 8 tests*"])
    assert sub.is_dir()


def test_a_missing_baseline_named_in_the_ini_says_so(
    suite: pytest.Pytester,
) -> None:
    ini = suite.makeini("[pytest]\nstreampar_baseline = gone/base.json\n")
    result = suite.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: streampar gate: baseline file '{suite.path / 'gone/base.json'}' "
            f"does not exist; * (file named by ini key streampar_baseline in {ini})"
        ]
    )


def test_a_failing_test_is_neither_compared_nor_saved(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_broken="""
        import pytest

        def test_broken(streampar_run):
            streampar_run("a")
            raise AssertionError("harness broke")

        def test_skipped(streampar_run):
            streampar_run("a")
            pytest.skip("not today")
        """
    )
    result = suite.runpytest(BASE, "--streampar-save-baseline")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["not saved (test failed): test_broken.py::test_broken"]
    )
    saved = read_json(suite.path / "base.json")["tests"]
    assert "test_broken.py::test_broken" not in saved
    assert "test_broken.py::test_skipped" not in saved
    assert "test_skipped" not in result.stdout.str().split("streampar latency gate")[1]


def test_a_run_where_every_baseline_test_failed_does_not_pass_the_gate(
    suite: pytest.Pytester,
) -> None:
    # Every test of the baseline fails (here: a fixture they all use
    # breaks), so the gate compares nothing: it must not say PASSED.
    suite.makeconftest(
        FIXED_CONFTEST
        + """

@pytest.fixture(autouse=True)
def _broken_harness():
    raise AssertionError("the harness broke")
"""
    )
    result = suite.runpytest(BASE)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "FAILED: nothing compared: all 8 baseline tests are missing from this "
            "run (failed, deselected or renamed?); fix the failures, or save a new "
            "baseline on purpose"
        ]
    )
    assert "PASSED:" not in result.stdout.str()


def test_lost_payloads_block_a_save(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (suite.path / "base.json").read_bytes()
    monkeypatch.setenv("STREAMPAR_DROP_ON", "main")  # every payload is lost
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # when run by xdist
    result = suite.runpytest(BASE, "--streampar-save-baseline")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "LOST         test_suite.py::test_turn[[]a[]]: passed but its report "
            "carried no streampar metrics; the gate cannot judge partial data",
            "baseline NOT saved to base.json: metrics of some tests are missing "
            "(see above), a partial baseline would hide them",
        ]
    )
    assert (suite.path / "base.json").read_bytes() == before


def test_without_gate_options_no_gate_plugin_is_registered(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(FIXED_CONFTEST)
    pytester.makepyfile(test_suite=FIXED_TESTS)
    write_values(pytester.path, default_values())
    result = pytester.runpytest()
    assert result.ret == 0
    assert "streampar latency gate" not in result.stdout.str()
    assert not Path(pytester.path / "base.json").exists()
