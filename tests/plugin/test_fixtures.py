"""pytester tests of the streampar fixtures, on both backends.

Every inner test asserts hand-worked virtual times; the outer test asserts the
outcome counts and, where it matters, the recorded payload.
"""

from __future__ import annotations

from typing import Any

# Imported here once: pytester's inline runs drop the modules they import, so
# without this every inline run would import the engine and Hypothesis again.
import hypothesis  # noqa: F401
import pytest
import sniffio  # noqa: F401

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

HARNESS = """
import anyio
from simulator._model import CallComplete


async def one_at_a_time(model, tools):
    # Reads the stream and runs each tool as soon as its call is complete, but
    # waits for it before reading on: tools never overlap one another.
    while model.has_next_turn:
        results = []
        async for event in model.stream():
            if isinstance(event, CallComplete):
                call = event.call
                results.append(await tools.call(call.id, call.name, call.arguments))
        model.hand_back(results)
"""


def call_payloads(reprec: Any) -> dict[str, dict[str, Any]]:
    """The ``streampar`` user property of each call report, by node id."""
    out: dict[str, dict[str, Any]] = {}
    for report in reprec.getreports("pytest_runtest_logreport"):
        if report.when != "call":
            continue
        entries = [v for k, v in report.user_properties if k == "streampar"]
        assert len(entries) <= 1, report.user_properties
        if entries:
            out[report.nodeid] = entries[0]
    return out


def test_run_gives_virtual_time_on_both_backends(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import anyio
        from simulator import now_ns

        async def harness(a, b):
            await anyio.sleep(a)
            await anyio.sleep(b)
            return now_ns()

        def test_sleeps(streampar_run, streampar_backend):
            result = streampar_run(harness, 0.5, 1.25)
            assert result.value == 1_750_000_000
            assert result.virtual_ns == 1_750_000_000
            assert result.backend == streampar_backend
            assert streampar_run.backend == streampar_backend
        """
    )
    result = pytester.runpytest(*ARGS, "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*test_sleeps[[]asyncio[]] PASSED*", "*test_sleeps[[]trio[]] PASSED*"]
    )


def test_each_run_and_each_example_gets_a_fresh_clock(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import anyio
        from hypothesis import given, settings, strategies as st
        from simulator import now_ns

        async def started_at_zero(ms):
            assert now_ns() == 0
            await anyio.sleep(ms / 1000)

        def test_two_runs(streampar_run):
            assert streampar_run(started_at_zero, 300).virtual_ns == 300_000_000
            assert streampar_run(started_at_zero, 20).virtual_ns == 20_000_000

        @settings(max_examples=15, deadline=None)
        @given(ms=st.integers(0, 5000))
        def test_examples(streampar_run, ms):
            assert streampar_run(started_at_zero, ms).virtual_ns == ms * 1_000_000
        """
    )
    pytester.runpytest(*ARGS).assert_outcomes(passed=4)


def test_async_hypothesis_examples_each_start_at_zero(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import anyio
        import pytest
        from hypothesis import given, settings, strategies as st
        from simulator import now_ns

        SEEN = []

        @pytest.mark.streampar
        @settings(max_examples=10, deadline=None)
        @given(ms=st.integers(1, 900))
        async def test_example(ms):
            assert now_ns() == 0
            await anyio.sleep(ms / 1000)
            assert now_ns() == ms * 1_000_000
            SEEN.append(ms)

        def test_examples_ran():
            assert len(SEEN) >= 2 * 1  # both backends ran examples
        """
    )
    pytester.runpytest(*ARGS, "-p", "no:asyncio").assert_outcomes(passed=3)


@pytest.mark.parametrize(
    ("wire", "first"),
    [
        ("canonical", "RequestStart(turn=0)"),
        ("anthropic", "message_start"),
        ("openai-chat", "chat.completion.chunk"),
        ("openai-responses", "response.created"),
    ],
)
def test_model_speaks_each_wire(
    pytester: pytest.Pytester, wire: str, first: str
) -> None:
    pytester.makepyfile(
        f"""
        async def read(model):
            events = [event async for event in model.stream()]
            return events

        def test_wire(streampar_run, streampar_model):
            model = streampar_model("hand-worked", wire={wire!r})
            result = streampar_run(read, model)
            head = result.value[0]
            shown = repr(head) if {wire!r} == "canonical" else (
                head.get("type") or head.get("object"))
            assert shown == {first!r}
            # the stream ends at 3.1 s (TTFT 0.5 s + 130 tokens at 50 tok/s)
            assert result.virtual_ns == 3_100_000_000
        """
    )
    pytester.runpytest(*ARGS).assert_outcomes(passed=2)


def test_tools_record_their_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HARNESS
        + """
def test_tools(streampar_run, streampar_model, streampar_tools):
    model = streampar_model("hand-worked")
    tools = streampar_tools("hand-worked")
    streampar_run(one_at_a_time, model, tools)
    # A completes at 1.9 s and runs 1 s; B completed at 2.3 s, waits for A,
    # then runs 2 s: 2.9 to 4.9 s.
    runs = [(r.call_id, r.start_ns, r.end_ns, r.outcome) for r in tools.records]
    assert runs == [
        ("A", 1_900_000_000, 2_900_000_000, "ok"),
        ("B", 2_900_000_000, 4_900_000_000, "ok"),
    ]
    assert tools.running == set()
    assert [t.iteration_ns for t in model.turn_times] == [4_900_000_000]
"""
    )
    pytester.runpytest(*ARGS).assert_outcomes(passed=2)


def test_timeline_shows_the_last_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_timeline(streampar_run, streampar_timeline):
            assert streampar_timeline.spans == []
            streampar_run.strategy("hand-worked", "sequential")
            turn = streampar_timeline.spans_named("turn")
            assert [(s.start_ns, s.end_ns) for s in turn] == [(0, 6_100_000_000)]
            streampar_run.strategy("hand-worked", "overlapped")
            turn = streampar_timeline.spans_named("turn")
            assert [(s.start_ns, s.end_ns) for s in turn] == [(0, 4_300_000_000)]

        def test_next_test_starts_empty(streampar_run, streampar_timeline):
            assert streampar_timeline.spans == []
        """
    )
    pytester.runpytest(*ARGS).assert_outcomes(passed=4)


def test_async_test_sees_its_own_timeline_live(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import asyncio
        import anyio
        import sniffio
        from simulator import current_timeline, now_ns

        async def test_live(streampar_timeline, streampar_backend):
            assert sniffio.current_async_library() == streampar_backend
            await anyio.sleep(1.5)
            current_timeline().add_span("work", "lane", 0, now_ns())
            assert [(s.name, s.end_ns) for s in streampar_timeline.spans] == [
                ("work", 1_500_000_000)
            ]
            assert anyio.current_time() == 1.5
        """
    )
    pytester.runpytest(*ARGS, "-p", "no:asyncio").assert_outcomes(passed=2)


def test_beside_anyio_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import time
        import anyio
        import pytest
        from simulator._asyncio_loop import VirtualEventLoop

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.mark.anyio
        async def test_anyio_own_plugin():
            import asyncio
            loop = asyncio.get_running_loop()
            assert not isinstance(loop, VirtualEventLoop)
            start = time.monotonic()
            await anyio.sleep(0.05)
            assert time.monotonic() - start >= 0.04  # real time passed

        @pytest.mark.streampar(backends=["asyncio"])
        async def test_streampar_virtual():
            import asyncio
            assert isinstance(asyncio.get_running_loop(), VirtualEventLoop)
            start = time.monotonic()
            await anyio.sleep(3600)
            assert time.monotonic() - start < 5
            assert anyio.current_time() == 3600
        """
    )
    result = pytester.runpytest(*ARGS, "-p", "no:asyncio", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_anyio_own_plugin PASSED*",
            "*test_streampar_virtual[[]asyncio[]] PASSED*",
        ]
    )


def test_async_test_asking_for_model_or_tools_runs_on_virtual_time(
    pytester: pytest.Pytester,
) -> None:
    # No streampar marker and no streampar_timeline: the simulated model's
    # sleeps would take real time (4.9 s for this harness on the hand-worked
    # turn) under another runner; streampar takes such tests itself, and one
    # that another async plugin's mark claims fails at once, saying so.
    pytester.makepyfile(
        HARNESS
        + """
import time
import anyio
import pytest

@pytest.fixture
def anyio_backend():
    return "asyncio"

async def test_plain(streampar_model, streampar_tools):
    start = time.monotonic()
    await one_at_a_time(streampar_model("hand-worked"), streampar_tools("hand-worked"))
    assert anyio.current_time() == 4.9
    assert time.monotonic() - start < 3

@pytest.mark.anyio
async def test_marked_anyio(streampar_model):
    raise AssertionError("never runs: it would sleep in real time")
"""
    )
    result = pytester.runpytest(*ARGS, "-p", "no:asyncio", "-v")
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*test_plain[[]asyncio[]] PASSED*",
            "*test_plain[[]trio[]] PASSED*",
            "*test_marked_anyio[[]*[]] ERROR*",
            "*test_marked_anyio* asks for the simulated model or tools (their sleeps"
            " need virtual time) but also carries @pytest.mark.anyio, whose plugin "
            "would run it in real time. Drop that mark*",
        ]
    )
    assert "never runs" not in result.stdout.str()


def test_scenario_by_name_path_and_bad_name(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".json",
        one='{"name": "one", "turns": [{"blocks": [{"text": 50}]}]}',
    )
    pytester.makepyfile(
        """
        import pytest
        from simulator import ScenarioError

        def test_bundled(streampar_scenario):
            scenario = streampar_scenario("two-call")
            assert (scenario.name, len(scenario.turns)) == ("two-call", 2)

        def test_path(streampar_scenario):
            assert streampar_scenario("one.json").name == "one"

        def test_unknown(streampar_scenario):
            with pytest.raises(ScenarioError) as info:
                streampar_scenario("no-such")
            assert str(info.value) == (
                "scenario 'no-such' is neither a scenario file (*.json, *.toml) "
                "nor a bundled scenario; bundled: fan-out, hand-worked, "
                "logged-turn, mixed-safety, two-call"
            )
        """
    )
    pytester.runpytest(*ARGS).assert_outcomes(passed=3)


def test_payload_for_the_gate(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_overlapped(streampar_run):
            streampar_run.strategy("hand-worked", "overlapped")

        def test_not_streampar():
            pass
        """
    )
    reprec = pytester.inline_run(*ARGS, "--streampar-backend=trio")
    reprec.assertoutcome(passed=2)
    payloads = call_payloads(reprec)
    assert list(payloads) == ["test_payload_for_the_gate.py::test_overlapped[trio]"]
    payload = payloads["test_payload_for_the_gate.py::test_overlapped[trio]"]
    assert payload["metrics"] == {
        "session_time": {"value": 4.3, "better": "lower", "unit": "s"},
        "iteration_time[0]": {"value": 4.3, "better": "lower", "unit": "s"},
        "speedup": {
            "value": 6_100_000_000 / 4_300_000_000,
            "better": "higher",
            "unit": "x",
        },
        "bound_gap": {"value": 0.0, "better": "lower", "unit": "fraction"},
    }
    assert (payload["backend"], payload["scenario"]) == ("trio", "hand-worked")
    assert payload["plots"] == []
    assert list(payload["timelines"]) == ["overlapped"]
    turns = [
        s for s in payload["timelines"]["overlapped"]["spans"] if s["name"] == "turn"
    ]
    assert [(s["start_ns"], s["end_ns"]) for s in turns] == [(0, 4_300_000_000)]


def test_payload_from_model_and_plain_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HARNESS
        + """
async def nap():
    await anyio.sleep(7)

def test_model(streampar_run, streampar_model, streampar_tools):
    streampar_run(one_at_a_time, streampar_model("hand-worked"),
                  streampar_tools("hand-worked"))

def test_plain(streampar_run):
    streampar_run(nap)
"""
    )
    reprec = pytester.inline_run(*ARGS, "--streampar-backend=asyncio")
    reprec.assertoutcome(passed=2)
    payloads = call_payloads(reprec)
    model = payloads["test_payload_from_model_and_plain_runs.py::test_model[asyncio]"]
    assert {k: v["value"] for k, v in model["metrics"].items()} == {
        "session_time": 4.9,
        "iteration_time[0]": 4.9,
        # sequential 6.1 s, bound 4.3 s (ratios of integer nanoseconds)
        "speedup": 6_100_000_000 / 4_900_000_000,
        "bound_gap": (4_900_000_000 - 4_300_000_000) / 4_300_000_000,
    }
    plain = payloads["test_payload_from_model_and_plain_runs.py::test_plain[asyncio]"]
    assert plain["metrics"] == {
        "session_time": {"value": 7.0, "better": "lower", "unit": "s"}
    }
    assert plain["scenario"] is None


def test_runner_outside_a_test_says_so(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import anyio
        import pytest
        from simulator import SimulatorError

        KEPT = []

        def test_keep(streampar_run):
            KEPT.append(streampar_run)

        def test_later():
            async def nap():
                await anyio.sleep(1)
            with pytest.raises(SimulatorError) as info:
                KEPT[0](nap)
            assert str(info.value) == (
                "streampar_run was used outside a running test (in a session "
                "fixture or at import?); call it from inside the test function"
            )
        """
    )
    pytester.runpytest(*ARGS, "--streampar-backend=asyncio").assert_outcomes(passed=2)
