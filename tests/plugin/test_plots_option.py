"""pytester tests of the failure plots, ``--streampar-plots`` and the report
header."""

from __future__ import annotations

from pathlib import Path

# Imported once here; pytester's inline runs drop modules they import.
import hypothesis  # noqa: F401
import matplotlib.backends.backend_agg  # noqa: F401
import matplotlib.collections  # noqa: F401
import matplotlib.figure  # noqa: F401
import matplotlib.lines  # noqa: F401
import matplotlib.patches  # noqa: F401
import pytest

import simulator._plot  # noqa: F401
import simulator._strategies  # noqa: F401

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

TESTS = """
import anyio
import pytest

@pytest.mark.streampar(iteration_time=5.0)
def test_slow(streampar_run):
    streampar_run.strategy("hand-worked", "sequential")

def test_fast(streampar_run):
    streampar_run.strategy("hand-worked", "overlapped")

def test_assert_after_run(streampar_run):
    async def nap():
        await anyio.sleep(1)
    streampar_run(nap)
    assert 1 == 2

def test_fails_before_any_run(streampar_run):
    assert 1 == 2
"""


def plot_lines(result: pytest.RunResult) -> dict[str, Path]:
    """The summary's ``node id: path`` lines, by node id."""
    lines = result.outlines
    start = next(
        i for i, line in enumerate(lines) if "streampar timeline plots" in line
    )
    out: dict[str, Path] = {}
    for line in lines[start + 1 :]:
        if "::" not in line or ": /" not in line:
            break
        nodeid, path = line.split(": ", 1)
        out[nodeid] = Path(path)
    return out


def test_failed_tests_are_plotted_into_the_cache(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_p=TESTS)
    result = pytester.runpytest("-p", "no:randomly", "--streampar-backend=trio")
    result.assert_outcomes(passed=1, failed=3)
    folder = pytester.path / ".pytest_cache" / "d" / "streampar-plots"
    plots = plot_lines(result)
    # A test that failed before any run has no timeline, hence no plot.
    assert plots == {
        "test_p.py::test_slow[trio]": folder / "test_p.py_test_slow_trio_.png",
        "test_p.py::test_assert_after_run[trio]": folder
        / "test_p.py_test_assert_after_run_trio_.png",
    }
    for path in plots.values():
        assert path.read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in folder.glob("*.png")) == [
        "test_p.py_test_assert_after_run_trio_.png",
        "test_p.py_test_slow_trio_.png",
    ]


def test_a_new_session_drops_the_old_plots(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_p=TESTS)
    pytester.runpytest("-p", "no:randomly", "--streampar-backend=trio")
    folder = pytester.path / ".pytest_cache" / "d" / "streampar-plots"
    assert len(list(folder.glob("*.png"))) == 2
    keep = folder / "notes.txt"
    keep.write_text("not a plot")
    pytester.makepyfile(
        test_p="""
        def test_assert_after_run(streampar_run):
            streampar_run.strategy("hand-worked", "overlapped")
            assert 1 == 2
        """
    )
    result = pytester.runpytest("-p", "no:randomly", "--streampar-backend=trio")
    result.assert_outcomes(failed=1)
    assert sorted(p.name for p in folder.iterdir()) == [
        "notes.txt",
        "test_p.py_test_assert_after_run_trio_.png",
        "test_p.py_test_assert_after_run_trio_.svg",
    ]


BROKEN = """
import anyio
from pytest_streampar.assertions import assert_results_in_call_order
from pytest_streampar.strategies import scenario_from_dict
from simulator._model import CallComplete

SCENARIO = scenario_from_dict({"name": "two", "turns": [{"blocks": [
    {"text": 50},
    {"tool_call": {"id": "A", "name": "read", "duration": 3.0}},
    {"tool_call": {"id": "B", "name": "grep", "duration": 1.0}},
]}]})

async def harness(model, tools):
    while model.has_next_turn:
        finished = []
        async def run(call):
            finished.append(await tools.call(call.id, call.name, call.arguments))
        async with anyio.create_task_group() as tg:
            async for event in model.stream():
                if isinstance(event, CallComplete):
                    tg.start_soon(run, event.call)
        model.hand_back(finished)  # in completion order: B before A

async def test_async(streampar_model, streampar_tools, streampar_timeline):
    await harness(streampar_model(SCENARIO), streampar_tools(SCENARIO))
    assert_results_in_call_order(streampar_timeline)

def test_with_reference(streampar_run, streampar_model, streampar_tools):
    streampar_run.strategy(SCENARIO, "sequential")
    run = streampar_run(harness, streampar_model(SCENARIO), streampar_tools(SCENARIO))
    assert_results_in_call_order(run.timeline)
"""


def test_the_plot_of_a_failed_check_marks_what_it_blames(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyfile(test_b=BROKEN)
    out = tmp_path / "plots"
    result = pytester.runpytest(
        "-p", "no:randomly", "--streampar-backend=asyncio", f"--streampar-plots={out}"
    )
    result.assert_outcomes(failed=2)
    # The SVG keeps its text as text: the rule under the title, the notes
    # beside the blamed calls, the legend entry.
    for name in (
        "test_b.py_test_async_asyncio_",
        "test_b.py_test_with_reference_asyncio_",
    ):
        assert (out / f"{name}.png").read_bytes()[:8] == PNG_MAGIC
        svg = (out / f"{name}.svg").read_text()
        assert "broken: results go back in call order: turn 0" in svg
        assert svg.count(">owed first<") == 1
        assert svg.count(">too early<") == 1
        assert "blamed by the failed check" in svg
    # With a reference run beside it, only the checked run's panel is marked:
    # both panels are there, the notes appear once.
    svg = (out / "test_b.py_test_with_reference_asyncio_.svg").read_text()
    assert ">sequential<" in svg and ">run<" in svg


def test_a_failed_hypothesis_example_is_plotted_with_its_own_runs_only(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    # Early examples run a sequential reference; the failing one (n >= 5,
    # shrunk to 5) runs only its own run. Its plot must not show a reference
    # left over from an earlier example.
    pytester.makepyfile(
        test_h="""
        import anyio
        from hypothesis import given, settings, strategies as st

        async def nap(n):
            await anyio.sleep(n)

        @settings(max_examples=30, derandomize=True, database=None)
        @given(n=st.integers(0, 10))
        def test_sync(streampar_run, n):
            if n < 5:
                streampar_run.strategy("hand-worked", "sequential")
                return
            streampar_run(nap, n)
            assert n < 5

        @settings(max_examples=30, derandomize=True, database=None)
        @given(n=st.integers(0, 10))
        async def test_async(streampar_timeline, n):
            await nap(n)
            assert n < 5
        """
    )
    out = tmp_path / "plots"
    result = pytester.runpytest(
        "-p", "no:randomly", "--streampar-backend=trio", f"--streampar-plots={out}"
    )
    result.assert_outcomes(failed=2)
    sync = (out / "test_h.py_test_sync_trio_.svg").read_text()
    assert ">run<" in sync
    assert ">sequential<" not in sync
    # the failing async example's own run is drawn (it records no spans here,
    # so the panel is empty, but the plot is there)
    png = out / "test_h.py_test_async_trio_.png"
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_a_passing_test_plot_marks_nothing(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyfile(TESTS)
    out = tmp_path / "plots"
    pytester.runpytest(
        "-p", "no:randomly", "--streampar-backend=asyncio", f"--streampar-plots={out}"
    )
    svg = out / "test_plots_option.py_test_fast_asyncio_.svg"
    if not svg.exists():
        svg = next(out.glob("*test_fast_asyncio_.svg"))
    text = svg.read_text()
    assert "broken:" not in text and "blamed by the failed check" not in text


def test_plots_option_plots_every_streampar_test(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyfile(test_p=TESTS)
    out = tmp_path / "plots"
    result = pytester.runpytest(
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        "--streampar-backend=asyncio",
        f"--streampar-plots={out}",
    )
    result.assert_outcomes(passed=1, failed=3)
    plots = plot_lines(result)
    assert sorted(plots) == [
        "test_p.py::test_assert_after_run[asyncio]",
        "test_p.py::test_fast[asyncio]",
        "test_p.py::test_slow[asyncio]",
    ]
    assert all(path.parent == out for path in plots.values())
    assert (out / "test_p.py_test_fast_asyncio_.png").read_bytes()[:8] == PNG_MAGIC
    result.stdout.fnmatch_lines(
        [
            "streampar: backends asyncio (command-line option --streampar-backend);"
            f" watchdog 10 s (default); plots: every test into {out}"
        ]
    )


def test_no_plot_section_when_nothing_failed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_fast(streampar_run):
            streampar_run.strategy("hand-worked", "overlapped")
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("*streampar timeline plots*")
    assert not (pytester.path / ".pytest_cache" / "d" / "streampar-plots").exists()


def test_report_header_gives_reproducing_flags(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--hypothesis-seed=1234", "--streampar-watchdog=2.5")
    result.stdout.fnmatch_lines(
        [
            "streampar: backends asyncio, trio (default); watchdog 2.5 s "
            "(command-line option --streampar-watchdog); plots: failed tests",
            "streampar: reproduce with --streampar-backend=all "
            "--streampar-watchdog=2.5 --hypothesis-seed=1234",
        ]
    )
