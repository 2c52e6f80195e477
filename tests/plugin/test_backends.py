"""pytester tests of backend and watchdog selection, and of runs that can
never finish: a deadlock and a harness that never yields, on both backends."""

from __future__ import annotations

# Imported once here; pytester's inline runs drop modules they import.
import hypothesis  # noqa: F401
import pytest

import simulator._strategies  # noqa: F401

# pytest-benchmark warns when the outer run uses xdist; it has no part here.
ARGS = (
    "-p",
    "no:randomly",
    "-p",
    "no:benchmark",
    "-p",
    "no:cacheprovider",
    "--strict-markers",
    "-W",
    "error",
)

BACKEND_TEST = """
def test_b(streampar_backend):
    pass
"""


def ids(result: pytest.RunResult) -> list[str]:
    return sorted(
        line.split("::")[1].split(" ")[0]
        for line in result.outlines
        if "::test_b[" in line and ("PASSED" in line or "SKIPPED" in line)
    )


def test_default_is_both_backends(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(BACKEND_TEST)
    result = pytester.runpytest(*ARGS, "-v")
    assert ids(result) == ["test_b[asyncio]", "test_b[trio]"]


@pytest.mark.parametrize(
    ("option", "env", "ini", "expected", "where"),
    [
        ("trio", None, None, ["test_b[trio]"], "command-line option"),
        (None, "asyncio", None, ["test_b[asyncio]"], "environment variable"),
        (None, None, "trio", ["test_b[trio]"], "ini key streampar_backend"),
        ("asyncio", "trio", "trio", ["test_b[asyncio]"], "command-line option"),
        (None, "asyncio", "trio", ["test_b[asyncio]"], "environment variable"),
        ("all", None, "trio", ["test_b[asyncio]", "test_b[trio]"], "command-line"),
    ],
)
def test_backend_sources_and_precedence(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    option: str | None,
    env: str | None,
    ini: str | None,
    expected: list[str],
    where: str,
) -> None:
    pytester.makepyfile(BACKEND_TEST)
    if ini:
        pytester.makeini(f"[pytest]\nstreampar_backend = {ini}\n")
    if env:
        monkeypatch.setenv("STREAMPAR_BACKEND", env)
    else:
        monkeypatch.delenv("STREAMPAR_BACKEND", raising=False)
    extra = [f"--streampar-backend={option}"] if option else []
    result = pytester.runpytest(*ARGS, "-v", *extra)
    assert ids(result) == expected
    result.stdout.fnmatch_lines([f"streampar: backends * ({where}*"])


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            ("option", "curio"),
            "*streampar: backend 'curio' from command-line option "
            "--streampar-backend is not a backend; use 'asyncio', 'trio' or 'all'",
        ),
        (
            ("env", "uvloop"),
            "*streampar: backend 'uvloop' from environment variable "
            "STREAMPAR_BACKEND is not a backend; use 'asyncio', 'trio' or 'all'",
        ),
        (
            ("ini", "twisted"),
            "*streampar: backend 'twisted' from ini key streampar_backend is not "
            "a backend; use 'asyncio', 'trio' or 'all'",
        ),
        (
            ("watchdog", "-1"),
            "*streampar: watchdog '-1' from command-line option "
            "--streampar-watchdog is not a number of seconds > 0; give e.g. 10, "
            "or 'off' to disable the watchdog",
        ),
        (
            ("watchdog-ini", "soon"),
            "*streampar: watchdog 'soon' from ini key streampar_watchdog is not a "
            "number of seconds > 0; give e.g. 10, or 'off' to disable the watchdog",
        ),
    ],
)
def test_bad_settings_say_where_they_came_from(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    setup: tuple[str, str],
    message: str,
) -> None:
    pytester.makepyfile(BACKEND_TEST)
    monkeypatch.delenv("STREAMPAR_BACKEND", raising=False)
    kind, value = setup
    extra: list[str] = []
    if kind == "option":
        extra = [f"--streampar-backend={value}"]
    elif kind == "env":
        monkeypatch.setenv("STREAMPAR_BACKEND", value)
    elif kind == "ini":
        pytester.makeini(f"[pytest]\nstreampar_backend = {value}\n")
    elif kind == "watchdog":
        extra = [f"--streampar-watchdog={value}"]
    else:
        pytester.makeini(f"[pytest]\nstreampar_watchdog = {value}\n")
    result = pytester.runpytest(*ARGS, *extra)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_marker_narrows_and_session_excludes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.streampar(backends=["trio"])
        def test_b(streampar_backend):
            assert streampar_backend == "trio"
        """
    )
    result = pytester.runpytest(*ARGS, "-v", "-rs")
    assert ids(result) == ["test_b[trio]"]
    result = pytester.runpytest(*ARGS, "-v", "-rs", "--streampar-backend=asyncio")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED * streampar: the test runs on trio only and the session "
            "selects asyncio (command-line option --streampar-backend)"
        ]
    )


def test_watchdog_sources(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nstreampar_watchdog = off\n")
    pytester.makepyfile(
        """
        import pytest

        def test_from_ini(streampar_run):
            assert streampar_run.watchdog is None

        @pytest.mark.streampar(watchdog=2.5)
        def test_from_marker(streampar_run):
            assert streampar_run.watchdog == 2.5
        """
    )
    result = pytester.runpytest(*ARGS, "--streampar-backend=trio")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["streampar: backends trio (*); watchdog off (ini key streampar_watchdog)*"]
    )
    result = pytester.runpytest(*ARGS, "--streampar-watchdog=7", "-k", "marker")
    result.assert_outcomes(passed=2)


STUCK = """
import anyio
import pytest


async def deadlock():
    # Two tasks each wait for the other's event: nothing can ever happen.
    first, second = anyio.Event(), anyio.Event()

    async def wait_then_set(mine, other):
        await mine.wait()
        other.set()

    await anyio.sleep(1)
    async with anyio.create_task_group() as tg:
        tg.start_soon(wait_then_set, first, second, name="left")
        tg.start_soon(wait_then_set, second, first, name="right")


async def spin():
    await anyio.sleep(2)
    while True:
        pass


def test_deadlock(streampar_run):
    streampar_run(deadlock)


def test_never_yields(streampar_run):
    streampar_run(spin)


def test_session_goes_on(streampar_run):
    async def nap():
        await anyio.sleep(4)
    assert streampar_run(nap).virtual_ns == 4_000_000_000
"""


def test_deadlock_and_never_yielding_are_caught(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(STUCK)
    result = pytester.runpytest_subprocess(*ARGS, "--streampar-watchdog=0.3", "-v")
    result.assert_outcomes(passed=2, failed=4)
    for backend in ("asyncio", "trio"):
        result.stdout.fnmatch_lines(
            [
                f"*test_deadlock[[]{backend}[]] FAILED*",
                f"*test_never_yields[[]{backend}[]] FAILED*",
                f"*test_session_goes_on[[]{backend}[]] PASSED*",
            ]
        )
    result.stdout.fnmatch_lines(
        [
            "E *simulator._errors.DeadlockError: deadlock at virtual time 1 s: no "
            "task is runnable, no timer is pending and no outside work is in "
            "flight, so the run can never finish. Blocked tasks:",
            "E *  - task 'left' waiting at *.py:10 in wait_then_set (Event.wait)",
        ],
        consecutive=True,
    )
    result.stdout.fnmatch_lines(
        ["E *  - task 'right' waiting at *.py:10 in wait_then_set (Event.wait)"]
    )
    result.stdout.fnmatch_lines(
        [
            "E *simulator._errors.WatchdogTimeout: watchdog: task 'main' held the "
            "event loop for more than 0.3 s of real time without yielding, at "
            "virtual time 2 s. A CPU-bound loop in harness code never lets the "
            "clock move; add an `await anyio.lowlevel.checkpoint()` inside it, or "
            "raise the limit with `watchdog=`."
        ]
    )


def test_watchdog_from_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMPAR_WATCHDOG", "3")
    pytester.makepyfile(
        """
        def test_w(streampar_run):
            assert streampar_run.watchdog == 3.0
        """
    )
    result = pytester.runpytest(*ARGS, "--streampar-backend=asyncio")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "streampar: backends asyncio (*); watchdog 3 s (environment variable "
            "STREAMPAR_WATCHDOG)*"
        ]
    )


def test_marker_watchdog_stops_a_loop_that_never_yields(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import anyio
        import pytest

        @pytest.mark.streampar(watchdog=0.2)
        async def test_spin():
            await anyio.sleep(5)
            while True:
                pass
        """
    )
    result = pytester.runpytest_subprocess(
        *ARGS, "--streampar-watchdog=60", "--tb=short"
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "E *WatchdogTimeout: watchdog: task 'main' held the event loop for more "
            "than 0.2 s of real time without yielding, at virtual time 5 s.*"
        ]
    )
