"""The gate under pytest-xdist: metrics of every worker merged on the controller,
equal to a run without xdist; a worker that loses its payloads fails the gate."""

from __future__ import annotations

import pytest
from gate_support import (
    FIXED_CONFTEST,
    FIXED_TESTS,
    REAL_CONFTEST,
    REAL_TESTS,
    default_values,
    read_json,
    write_values,
)

pytest.importorskip("xdist")


def test_two_workers_merge_to_the_same_metrics_as_one_process(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(REAL_CONFTEST)
    pytester.makepyfile(test_real=REAL_TESTS)
    single = pytester.runpytest_subprocess(
        "--streampar-baseline=single.json",
        "--streampar-save-baseline",
        "--streampar-report=single",
        "-p",
        "no:randomly",
    )
    assert single.ret == 0, single.stdout.str()
    double = pytester.runpytest_subprocess(
        "--streampar-baseline=double.json",
        "--streampar-save-baseline",
        "--streampar-report=double",
        "-n",
        "2",
        "-v",
        "-p",
        "no:randomly",
    )
    assert double.ret == 0, double.stdout.str()
    one, two = (
        read_json(pytester.path / "single.json"),
        read_json(pytester.path / "double.json"),
    )
    assert len(one["tests"]) == 8  # 4 scenarios x 2 backends
    assert one == two  # every figure, bit for bit (floats survive JSON exactly)
    # the run reports agree too, timelines included
    for name in ("summary.json", "trace.json", "report.md"):
        single_file = pytester.path / "single" / name
        assert (
            single_file.read_bytes() == (pytester.path / "double" / name).read_bytes()
        )
    # the reports really came from two workers
    double.stdout.fnmatch_lines(["*gw0*PASSED*", "*gw1*PASSED*"], consecutive=False)
    hand = one["tests"]["test_real.py::test_scenario[asyncio-hand-worked]"]["metrics"]
    # hand-worked turn: sequential 6.1 s, overlapped 4.3 s (reference numbers)
    assert hand["session_time"]["value"] == pytest.approx(4.3, abs=1e-9)
    assert hand["speedup"]["value"] == pytest.approx(6.1 / 4.3, rel=1e-9)
    assert hand["iteration_time[0]"]["value"] == hand["session_time"]["value"]
    assert hand["bound_gap"]["value"] == 0.0  # overlapped reaches the bound here


def test_a_worker_that_loses_its_payloads_fails_the_gate_loudly(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(FIXED_CONFTEST)
    pytester.makepyfile(test_suite=FIXED_TESTS)
    write_values(pytester.path, default_values())
    saved = pytester.runpytest(
        "--streampar-baseline=base.json", "--streampar-save-baseline"
    )
    assert saved.ret == 0
    monkeypatch.setenv("STREAMPAR_DROP_ON", "gw1")
    # a huge tolerance: only the lost payloads can fail this run
    result = pytester.runpytest_subprocess(
        "--streampar-baseline=base.json",
        "--streampar-tolerance=100%",
        "-n",
        "2",
        "-v",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    on_gw1 = sorted(
        line.split()[-1]
        for line in out.splitlines()
        if line.startswith("[gw1]") and "PASSED" in line
    )
    lost = sorted(
        line.split()[1].rstrip(":")
        for line in out.splitlines()
        if line.startswith("LOST")
    )
    streampar_on_gw1 = [n for n in on_gw1 if "test_turn" in n]
    assert streampar_on_gw1 and lost == streampar_on_gw1
    result.stdout.fnmatch_lines(
        [
            "LOST         test_suite.py::test_turn*: passed but its report carried no "
            "streampar metrics (xdist worker gw1); the gate cannot judge partial data",
            f"FAILED: metrics of {len(lost)} test* lost or unreadable (see above); *",
        ]
    )
    # the tests gw0 ran were compared, and passed
    result.stdout.fnmatch_lines(
        [f"*; {3 * (8 - len(lost))} metrics of {8 - len(lost)} tests compared*"]
    )
