"""``--streampar-report=DIR``: report.md, summary.json, trace.json and plots of a
whole test run, with the hand-worked figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from gate_support import REAL_CONFTEST, read_json

from pytest_streampar._baseline import Metric, TestEntry
from pytest_streampar._run_report import (
    MAX_PLOTS,
    RUN_REPORT_SCHEMA,
    write_run_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

TESTS = """
import pytest


@pytest.mark.parametrize("name", ["hand-worked", "fan-out"])
def test_scenario(streampar_run, name):
    streampar_run(name)


def test_other(streampar_run):
    streampar_run("hand-worked", "trio")
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run of a small suite with --streampar-report, shared by the tests."""
    folder = tmp_path_factory.mktemp("suite")
    (folder / "conftest.py").write_text(REAL_CONFTEST)
    (folder / "test_real.py").write_text(TESTS)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "--streampar-report=out",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "streampar report written to out/report.md" in done.stdout
    return folder / "out"


def test_the_folder_holds_every_file(report: Path) -> None:
    names = sorted(str(p.relative_to(report)) for p in report.rglob("*"))
    plots = [n for n in names if n.startswith("plots/") and n.endswith(".png")]
    assert {"report.md", "summary.json", "trace.json", "plots"} <= set(names)
    assert len(plots) == 3  # one per test
    for plot in plots:
        assert (report / plot).read_bytes()[:8] == PNG_MAGIC
        assert (report / plot).with_suffix(".svg").is_file()


def test_the_tables_hold_the_hand_worked_figures(report: Path) -> None:
    text = (report / "report.md").read_text()
    # hand-worked: sequential 6.1 s, overlapped 4.3 s, speed-up 6.1 / 4.3
    assert f"{6.1 / 4.3:.3f}" == "1.419"
    assert (
        "| hand-worked | 2 | asyncio, trio | 6.100 s | 4.300 s | 4.300 s | 1.419 x "
        "| 0.0 % |" in text
    )
    assert (
        "| `test_real.py::test_scenario[hand-worked]` | hand-worked | asyncio | "
        "sequential 6.100 s; overlapped 4.300 s | 4.300 s | 1.419 x | 0.0 % |" in text
    )
    for line in text.splitlines():
        if line.startswith("!["):
            target = line.split("](", 1)[1].rstrip(")")
            assert (report / target).is_file()


def test_the_summary_uses_the_baseline_shape_and_counts_records(report: Path) -> None:
    summary = read_json(report / "summary.json")
    assert summary["schema"] == RUN_REPORT_SCHEMA
    assert summary["gate"] is None
    hand = summary["tests"]["test_real.py::test_scenario[hand-worked]"]
    assert hand["scenario"] == "hand-worked" and hand["backend"] == "asyncio"
    assert hand["metrics"]["session_time"] == {
        "value": pytest.approx(4.3, abs=1e-9),
        "better": "lower",
        "unit": "s",
    }
    runs = summary["runs"]["test_real.py::test_scenario[hand-worked]"]
    assert runs["timelines"]["sequential"]["session_ns"] == 6_100_000_000
    assert runs["timelines"]["overlapped"]["session_ns"] == 4_300_000_000
    assert (report / runs["plot"]).is_file()


def test_the_trace_has_a_process_per_test_and_run(report: Path) -> None:
    trace = json.loads((report / "trace.json").read_text())
    runs = trace["otherData"]["runs"]
    assert len(runs) == 6  # 3 tests x (sequential, overlapped)
    key = "test_real.py::test_scenario[hand-worked] / overlapped"
    pid = runs[key]["pid"]
    tools = [
        e
        for e in trace["traceEvents"]
        if e.get("pid") == pid and e.get("ph") == "X" and e.get("name") == "tool"
    ]
    # A runs [1.9, 2.9] s, B [2.3, 4.3] s: microseconds in the trace
    spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in tools)
    assert spans == [(1_900_000, 2_900_000), (2_300_000, 4_300_000)]


def test_plots_are_capped_and_the_rest_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_streampar import _run_report
    from simulator import Timeline

    timeline = Timeline()
    timeline.add_span("stream", "model", 0, 2_000_000_000, turn=0)
    timeline.add_instant("hand_back", "harness", 2_500_000_000, turn=0, call_ids=[])
    entries = {
        f"t.py::test[{i}]": TestEntry({"session_time": Metric(2.5)}) for i in range(3)
    }
    timelines = {nodeid: {"run": timeline.to_dict()} for nodeid in entries}
    monkeypatch.setattr(_run_report, "MAX_PLOTS", 2)
    written = write_run_report(tmp_path, entries, timelines)
    pngs = [p.name for p in written if p.suffix == ".png"]
    assert len(pngs) == 2
    text = (tmp_path / "report.md").read_text()
    assert text.count("| `t.py::test[") == 3
    assert "| run 2.500 s | 2.500 s |" in text  # the run ends at its hand-back
    assert "Timelines of 1 more test(s) are in trace.json only" in text
    assert MAX_PLOTS == 40


def test_a_report_that_cannot_be_written_fails_the_run_without_a_traceback(
    pytester: pytest.Pytester,
) -> None:
    from gate_support import FIXED_CONFTEST, FIXED_TESTS, default_values, write_values

    pytester.makeconftest(FIXED_CONFTEST)
    pytester.makepyfile(test_suite=FIXED_TESTS)
    write_values(pytester.path, default_values())
    (pytester.path / "out").write_text("a file where the folder should go")
    result = pytester.runpytest("--streampar-report=out")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*= streampar report =*",
            "streampar report NOT written to out: *File exists*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    # a run without timelines still gets its tables
    ok = pytester.runpytest("--streampar-report=fine")
    assert ok.ret == 0
    text = (pytester.path / "fine" / "report.md").read_text()
    assert (
        "| `test_suite.py::test_turn[c]` | c | asyncio |  | 6.000 s | 1.700 x | 0.0 % |"
        in text
    )
