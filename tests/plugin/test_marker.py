"""pytester tests of the ``streampar`` marker: budgets and invalid arguments.

Figures come from the hand-worked turn (sequential 6.1 s, parallel 5.1 s,
overlapped 4.3 s = the critical-path bound).
"""

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


def run_inner(pytester: pytest.Pytester, source: str, *extra: str) -> pytest.RunResult:
    pytester.makepyfile(test_budget=source)
    return pytester.runpytest(*ARGS, "--streampar-backend=asyncio", *extra)


def test_marker_is_registered_with_its_signature(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.streampar(*, backends=None, iteration_time=None, "
            "session_time=None, speedup=None, bound_margin=None, watchdog=None): "
            "run the test on virtual time*"
        ]
    )


def test_iteration_time_exceeded(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        import pytest

        @pytest.mark.streampar(iteration_time=5.0)
        def test_x(streampar_run):
            streampar_run.strategy("hand-worked", "sequential")

        @pytest.mark.streampar(iteration_time=6.1)
        def test_just_within(streampar_run):
            streampar_run.strategy("hand-worked", "sequential")
        """,
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "streampar budget iteration_time=5 s exceeded: turn 0 took 6.1 s "
            "(sequential run 1; marker on test_x)"
        ]
    )


def test_session_time_of_a_plain_run(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        import anyio
        import pytest

        async def nap(seconds):
            await anyio.sleep(seconds)

        @pytest.mark.streampar(session_time=2.5)
        def test_x(streampar_run):
            streampar_run(nap, 1.0)
            streampar_run(nap, 3.0)
            streampar_run(nap, 2.0)
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "streampar budget session_time=2.5 s exceeded: the session took 3 s "
            "(run 2; marker on test_x)"
        ]
    )


def test_speedup_and_bound_from_strategy_runs(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        import pytest

        @pytest.mark.streampar(speedup=1.5, bound_margin=0.1)
        def test_parallel(streampar_run):
            streampar_run.strategy("hand-worked", "parallel")

        @pytest.mark.streampar(speedup=1.4, bound_margin=0)
        def test_overlapped(streampar_run):
            streampar_run.strategy("hand-worked", "overlapped")
        """,
    )
    result.assert_outcomes(passed=1, failed=1)
    # 6.1 / 5.1 = 1.196x; (5.1 - 4.3) / 4.3 = 18.60 %
    result.stdout.fnmatch_lines(
        [
            "streampar budget speedup=1.5x not met: 1.196x faster than sequential "
            "(sequential 6.1 s, this run 5.1 s; parallel run 1; marker on "
            "test_parallel)",
            "streampar budget bound_margin=0.1 exceeded: 18.60% above the "
            "critical-path bound (bound 4.3 s, this run 5.1 s; parallel run 1; "
            "marker on test_parallel)",
        ]
    )


def test_speedup_from_the_model_fixture(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        import pytest
        from simulator._model import CallComplete

        async def one_at_a_time(model, tools):
            while model.has_next_turn:
                results = []
                async for event in model.stream():
                    if isinstance(event, CallComplete):
                        c = event.call
                        results.append(await tools.call(c.id, c.name, c.arguments))
                model.hand_back(results)

        @pytest.mark.streampar(speedup=1.3)
        def test_harness(streampar_run, streampar_model, streampar_tools):
            streampar_run(
                one_at_a_time,
                streampar_model("hand-worked"),
                streampar_tools("hand-worked"),
            )
        """,
    )
    result.assert_outcomes(failed=1)
    # tools one after another from each call complete: 1.9 + 1 + 2 = 4.9 s
    result.stdout.fnmatch_lines(
        [
            "streampar budget speedup=1.3x not met: 1.245x faster than sequential "
            "(sequential 6.1 s, this run 4.9 s; run 1; marker on test_harness)"
        ]
    )


def test_scenario_budgets_need_a_scenario(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        import anyio
        import pytest

        async def nap():
            await anyio.sleep(1)

        @pytest.mark.streampar(speedup=2.0)
        def test_no_scenario(streampar_run):
            streampar_run(nap)

        @pytest.mark.streampar(session_time=1.0)
        def test_no_run(streampar_run):
            pass
        """,
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "streampar budget speedup=2 cannot be checked: the test played no "
            "complete scenario the plugin could compare; give the scenario to "
            "streampar_model(scenario) or use streampar_run.strategy(scenario, ...)",
            "streampar budget (marker on test_no_run) cannot be checked: the test "
            "recorded no run; call streampar_run(...) or make the test an async "
            "def marked @pytest.mark.streampar",
        ]
    )


def test_async_test_budget(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        import anyio
        import pytest

        @pytest.mark.streampar(session_time=1.0)
        async def test_slow():
            await anyio.sleep(1.5)

        @pytest.mark.streampar(session_time=2.0)
        async def test_fast():
            await anyio.sleep(1.5)
        """,
        "-p",
        "no:asyncio",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "streampar budget session_time=1 s exceeded: the session took 1.5 s "
            "(run 1; marker on test_slow)"
        ]
    )


def test_markers_merge_closest_first(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_merge="""
        import pytest

        pytestmark = pytest.mark.streampar(backends=["trio"], iteration_time=1.0)

        @pytest.mark.streampar(iteration_time=5.0)
        def test_own_budget(streampar_run, streampar_backend):
            assert streampar_backend == "trio"
            streampar_run.strategy("hand-worked", "overlapped")

        def test_module_budget(streampar_run):
            streampar_run.strategy("hand-worked", "overlapped")
        """
    )
    result = pytester.runpytest(*ARGS, "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_own_budget[[]trio[]] PASSED*",
            "*test_module_budget[[]trio[]] FAILED*",
            "streampar budget iteration_time=1 s exceeded: turn 0 took 4.3 s "
            "(overlapped run 1; marker on module test_merge.py)",
        ]
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            "iteration_time='4'",
            "streampar marker argument iteration_time='4' (marker on test_x) must "
            "be a number > 0, e.g. iteration_time=2.0",
        ),
        (
            "speedup=-1",
            "streampar marker argument speedup=-1 (marker on test_x) must be a "
            "number > 0, e.g. speedup=2.0",
        ),
        (
            "bound_margin=-0.1",
            "streampar marker argument bound_margin=-0.1 (marker on test_x) must be "
            "a number >= 0 (a fraction above the bound), e.g. bound_margin=0.05",
        ),
        (
            "watchdog=True",
            "streampar marker argument watchdog=True (marker on test_x) must be a "
            "number > 0, e.g. watchdog=2.0",
        ),
        (
            "iteration_tme=4.0",
            "streampar marker argument 'iteration_tme' (marker on test_x) is "
            "unknown; the arguments are backends, iteration_time, session_time, "
            "speedup, bound_margin, watchdog",
        ),
        (
            "4.0",
            "streampar marker (marker on test_x) takes keyword arguments only, got "
            "positional (4.0,); write e.g. streampar(iteration_time=4.0)",
        ),
        (
            "backends=['curio']",
            "streampar marker argument backends=['curio'] (marker on test_x): "
            "'curio' is not a backend; use 'asyncio' and/or 'trio'",
        ),
        (
            "backends=[]",
            "streampar marker argument backends=[] (marker on test_x) must be a "
            "non-empty list of backends, e.g. backends=['trio']",
        ),
    ],
)
def test_invalid_arguments_fail_at_setup(
    pytester: pytest.Pytester, arguments: str, message: str
) -> None:
    result = run_inner(
        pytester,
        f"""
        import pytest

        @pytest.mark.streampar({arguments})
        def test_x(streampar_run):
            raise AssertionError("must not run")

        def test_after(streampar_run):
            pass
        """,
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_x*", message])
    result.stdout.no_fnmatch_line("*must not run*")


def test_reference_strategy_runs_do_not_count_against_the_budget(
    pytester: pytest.Pytester,
) -> None:
    # The harness under test is the overlapped reference (4.3 s); the test
    # also plays sequential (6.1 s) as the speed reference. Only the
    # harness's own run is judged: 4.3 s is within iteration_time=4.3.
    result = run_inner(
        pytester,
        """
        import pytest
        from simulator._harness_overlapped import run_session

        @pytest.mark.streampar(iteration_time=4.3, speedup=1.4)
        def test_x(streampar_run, streampar_model, streampar_tools):
            model = streampar_model("hand-worked")
            run = streampar_run(run_session, model, streampar_tools("hand-worked"))
            sequential = streampar_run.strategy("hand-worked", "sequential")
            assert sequential.session_ns == 6_100_000_000
            assert run.virtual_ns == 4_300_000_000

        @pytest.mark.streampar(iteration_time=4.3)
        def test_only_reference(streampar_run):
            streampar_run.strategy("hand-worked", "sequential")
        """,
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*streampar budget iteration_time=4.3 s exceeded: turn 0 took 6.1 s "
            "(sequential run 1; marker on test_only_reference)*"
        ]
    )


def test_an_invalid_argument_is_reported_once(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        import pytest

        @pytest.mark.streampar(spedup=2)
        def test_x(streampar_run):
            pass
        """,
    )
    result.assert_outcomes(errors=1)
    errors = result.stdout.str().split("short test summary info")[0]
    assert errors.count("streampar marker argument 'spedup' (marker on test_x)") == 1
    assert "During handling of the above exception" not in errors
