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
