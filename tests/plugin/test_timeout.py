"""pytest-timeout's real-time limit on streampar tests, both methods, both
backends: a stuck test fails with a message saying where it was stuck, and the
session goes on (pytest-timeout's thread method alone would end it)."""

from __future__ import annotations

import pytest

STUCK = """
import threading
import time

import anyio
import pytest
import simulator._run  # imported at collection, so no test pays for it
import trio

pytestmark = pytest.mark.timeout(0.5)


async def spin():
    await anyio.sleep(3)
    while True:
        pass


async def wait_on_a_thread():
    await anyio.sleep(2)
    await anyio.to_thread.run_sync(threading.Event().wait)


@pytest.mark.streampar(watchdog=60)
def test_cpu_loop(streampar_run):
    streampar_run(spin)


def test_thread_never_returns(streampar_run):
    streampar_run(wait_on_a_thread)


def test_stuck_outside_a_run(streampar_run):
    while True:
        pass


@pytest.mark.streampar(watchdog=60)
async def test_async_cpu_loop():
    await anyio.sleep(1)
    while True:
        pass


def test_session_goes_on(streampar_run):
    async def nap():
        await anyio.sleep(9)
    assert streampar_run(nap).virtual_ns == 9_000_000_000
"""

HEAD = (
    "Timeout (streampar): the test ran longer than 0.5 s of real time, the limit "
    "pytest-timeout takes from the @pytest.mark.timeout marker; "
)
CPU = (
    "its virtual-time run was stopped at virtual time 3 s in task 'main', which "
    "kept running without yielding; a CPU-bound loop never lets the clock move, "
    "add `await anyio.lowlevel.checkpoint()` inside it."
)
THREAD = (
    "its virtual-time run was cancelled at virtual time 2.* s while waiting in "
    "real time on outside work (a thread, subprocess or socket) that ignores "
    "cancellation and never finished; the run's thread was left behind and the "
    "session goes on. Give that work its own timeout."
)
OUTSIDE = "it was stopped in the test's own code, outside any virtual-time run."


def run_stuck(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, method: str
) -> pytest.RunResult:
    # Plugins named explicitly, as a project that turns autoloading off does.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_stuck=STUCK)
    return pytester.runpytest_subprocess(
        "-p",
        "pytest_timeout",
        "-p",
        "pytest_streampar.plugin",
        "-p",
        "no:cacheprovider",
        f"--timeout-method={method}",
        "-W",
        "error",
        "-v",
    )


@pytest.mark.parametrize("method", ["signal", "thread"])
def test_stuck_tests_fail_and_the_session_goes_on(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    result = run_stuck(pytester, monkeypatch, method)
    result.assert_outcomes(passed=2, failed=8)
    for backend in ("asyncio", "trio"):
        result.stdout.fnmatch_lines(
            [
                f"*test_cpu_loop[[]{backend}[]] FAILED*",
                f"*test_thread_never_returns[[]{backend}[]] FAILED*",
                f"*test_stuck_outside_a_run[[]{backend}[]] FAILED*",
                f"*test_async_cpu_loop[[]{backend}[]] FAILED*",
                f"*test_session_goes_on[[]{backend}[]] PASSED*",
            ]
        )
        result.stdout.fnmatch_lines(
            [
                f"*_ test_cpu_loop[[]{backend}[]] _*",
                HEAD + CPU,
                f"*_ test_thread_never_returns[[]{backend}[]] _*",
                HEAD + THREAD,
                f"*_ test_stuck_outside_a_run[[]{backend}[]] _*",
                HEAD + OUTSIDE,
                f"*_ test_async_cpu_loop[[]{backend}[]] _*",
                HEAD + CPU.replace("virtual time 3 s", "virtual time 1 s"),
            ]
        )


def test_other_tests_keep_pytest_timeout_own_mechanism(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import time
        import pytest

        @pytest.mark.timeout(0.3)
        def test_plain_sleep():
            time.sleep(5)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Failed: Timeout (>0.3s) from pytest-timeout.*"])


def test_timeout_source_from_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_stuck(streampar_run):
            while True:
                pass
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--timeout=0.4", "--streampar-backend=trio"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "Timeout (streampar): the test ran longer than 0.4 s of real time, the "
            "limit pytest-timeout takes from the --timeout option; " + OUTSIDE
        ]
    )
