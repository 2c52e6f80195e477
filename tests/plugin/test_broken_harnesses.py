"""Deliberately broken harnesses, each caught with its exact message.

Every harness is real anyio code against the simulated model (canonical
events) and simulated tools, run by pytester as a user's test file would be,
on both backends; the failure text is compared line by line with what the
user sees.

All scenarios stream at 50 tokens/s after a 0.5 s time to first token: 50
text tokens, call A (20 tokens) complete at 1.9 s, call B (20 tokens) at
2.3 s, 40 text tokens, stream end 3.1 s.
"""

# ruff: noqa: E501
# (the expected failure texts are compared line by line, whole)
from __future__ import annotations

import textwrap

import pytest

PRELUDE = """
from __future__ import annotations

import anyio
import pytest

from pytest_streampar.assertions import (
    assert_every_call_answered,
    assert_no_early_start,
    assert_no_exclusive_overlap,
    assert_results_in_call_order,
    assert_speedup,
)
from pytest_streampar.strategies import scenario_from_dict
from simulator._model import BlockStart, CallComplete


def two_calls(a: dict, b: dict) -> object:
    return scenario_from_dict(
        {
            "name": "two-calls",
            "turns": [
                {
                    "blocks": [
                        {"text": 50},
                        {"tool_call": {"id": "A", **a}},
                        {"tool_call": {"id": "B", **b}},
                        {"text": 40},
                    ]
                }
            ],
        }
    )


async def run_tool(tools, call_id, name, results):
    results[call_id] = await tools.call(call_id, name, {"call": call_id})
"""


def write(pytester: pytest.Pytester, body: str, extra: str = "") -> None:
    pytester.makepyfile(test_harness=PRELUDE + extra + textwrap.dedent(body))


def error_lines(result: pytest.RunResult, test: str) -> list[str]:
    """The ``E`` lines of one test's failure, without the ``E`` gutter."""
    lines = result.stdout.lines
    head = next(
        n for n, line in enumerate(lines) if line.startswith("_") and test in line
    )
    block = []
    for line in lines[head + 1 :]:
        if line.startswith("_") and "[" in line:
            break
        if line.startswith("E "):
            block.append(line)
    width = min(len(b) - len(b[1:].lstrip()) for b in block if b[1:].strip())
    return [b[width:] if b[1:].strip() else "" for b in block]


def line_of(pytester: pytest.Pytester, code: str) -> int:
    """The line number of ``code`` in the test file written."""
    text = (pytester.path / "test_harness.py").read_text().splitlines()
    return next(n for n, line in enumerate(text, 1) if code in line)


def check(pytester: pytest.Pytester, expected: str, *, chained: bool = False) -> None:
    """The ``E`` lines of both backends' failures are ``expected``. With
    ``chained``, each line is compared without its indentation: pytest indents
    the lines of a chained exception by where each was raised."""
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(failed=2)
    for backend in ("asyncio", "trio"):
        text = textwrap.dedent(expected).strip("\n").replace("{backend}", backend)
        text = text.replace("{path}", str(pytester.path))
        lines = error_lines(result, f"[{backend}]")
        wanted = text.splitlines()
        if chained:
            lines = [line.strip() for line in lines]
            wanted = [line.strip() for line in wanted]
        assert lines == wanted, backend


def test_a_tool_started_before_its_call_is_complete(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        """
        SCENARIO = two_calls({"name": "read"}, {"name": "read", "duration": 2.0})

        async def harness(model, tools):
            while model.has_next_turn:
                order, results = [], {}
                async with anyio.create_task_group() as tg:
                    async for event in model.stream():
                        # the bug: a tool_use block has only started here
                        if isinstance(event, BlockStart) and event.call_id:
                            order.append(event.call_id)
                            tg.start_soon(run_tool, tools, event.call_id, event.name, results)
                model.hand_back([results[c] for c in order])

        async def test_harness(streampar_model, streampar_tools, streampar_timeline):
            await harness(streampar_model(SCENARIO), streampar_tools(SCENARIO))
            assert_no_early_start(streampar_timeline)
        """,
    )
    # A's block starts at 0.5 + 50/50 = 1.5 s, 0.4 s before A is complete;
    # B's starts at 1.9 s, 0.4 s before 2.3 s.
    check(
        pytester,
        """
        pytest_streampar.assertions.StreamparCheckFailed: no tool may start before its call is complete: tool A (read) of turn 0 started at 1.500 s, 0.400 s before its call was complete at 1.900 s
        also (1 more): tool B (read) of turn 0 started at 1.900 s, 0.400 s before its call was complete at 2.300 s

        timeline, turn 0: 0.000 s to 3.900 s, one column = 0.0672 s
          time (s)  |0             1              2              3             |
          stream    |[------=======================================]           |  send 0.000 first 0.500 end 3.100
        * A read    |                      [=====>========]                    |  call 1.900 start 1.500 end 2.500  <- started 0.400 s early
          B read    |                            [=====>======================]|  call 2.300 start 1.900 end 3.900
          hand back |                                                         v|  at 3.900: A, B
          key: [==] running, - before first token, > call complete, v hand-back, * highlighted
        [streampar] raised at virtual time 3.9 s on the {backend} backend
        """,
    )


OVERLAPPED_TURN = """
async def overlapped_turn(model, tools, order, results):
    async with anyio.create_task_group() as tg:
        async for event in model.stream():
            if isinstance(event, CallComplete):
                order.append(event.call.id)
                tg.start_soon(run_tool, tools, event.call.id, event.call.name, results)
"""


def test_a_result_lost_on_abort(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        extra=OVERLAPPED_TURN,
        body="""
        SCENARIO = two_calls({"name": "read"}, {"name": "read", "duration": 2.0})

        async def harness(model, tools, abort):
            async with anyio.create_task_group() as watch:
                async def stop():
                    await abort.wait()
                    watch.cancel_scope.cancel()
                watch.start_soon(stop)
                while model.has_next_turn:
                    order, results = [], {}
                    await overlapped_turn(model, tools, order, results)
                    model.hand_back([results[c] for c in order])
                watch.cancel_scope.cancel()
            # the bug: the turn the abort cut short is never handed back

        async def test_harness(streampar_model, streampar_tools, streampar_timeline):
            abort = anyio.Event()
            async with anyio.create_task_group() as tg:
                async def user():
                    await anyio.sleep(2.0)
                    abort.set()
                tg.start_soon(user)
                await harness(streampar_model(SCENARIO), streampar_tools(SCENARIO), abort)
            assert_every_call_answered(streampar_timeline)
        """,
    )
    check(
        pytester,
        """
        pytest_streampar.assertions.StreamparCheckFailed: every call gets exactly one result: call A (read) of turn 0, complete at 1.900 s, got no result: turn 0 was never handed back (calls without a result: [A])

        timeline, turn 0: 0.000 s to 1.900 s, one column = 0.0328 s
          time (s)  |0.0            0.5            1.0            1.5          |
          stream    |[--------------==========================================]|  send 0.000 first 0.500 end 1.900
          key: [==] running, - before first token
        [streampar] raised at virtual time 2 s on the {backend} backend
        """,
    )


def test_two_exclusive_tools_overlap_on_one_file(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        extra=OVERLAPPED_TURN,
        body="""
        SCENARIO = two_calls(
            {"name": "write", "safety": "exclusive", "resource": "notes.md"},
            {"name": "edit", "safety": "exclusive", "resource": "notes.md", "duration": 2.0},
        )

        async def harness(model, tools):
            # the bug: every call is dispatched at once, whatever its class
            while model.has_next_turn:
                order, results = [], {}
                await overlapped_turn(model, tools, order, results)
                model.hand_back([results[c] for c in order])

        async def test_harness(streampar_model, streampar_tools, streampar_timeline):
            await harness(streampar_model(SCENARIO), streampar_tools(SCENARIO))
            assert_no_exclusive_overlap(streampar_timeline)
        """,
    )
    check(
        pytester,
        """
        pytest_streampar.assertions.StreamparCheckFailed: an exclusive tool may not overlap a conflicting tool: tool exclusive A (write) on 'notes.md' ran 1.900-2.900 s while tool exclusive B (edit) on 'notes.md' ran 2.300-4.300 s

        timeline, turn 0: 0.000 s to 4.300 s, one column = 0.0741 s
          time (s)  |0            1            2             3            4    |
          stream    |[-----===================================]                |  send 0.000 first 0.500 end 3.100
        * A write   |                         [=============]                  |  call 1.900 start 1.900 end 2.900  <- exclusive
        * B edit    |                               [=========================]|  call 2.300 start 2.300 end 4.300  <- overlaps it
          hand back |                                                         v|  at 4.300: A, B
          key: [==] running, - before first token, v hand-back, * highlighted
        [streampar] raised at virtual time 4.3 s on the {backend} backend
        """,
    )


def test_results_handed_back_in_completion_order(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        """
        SCENARIO = two_calls({"name": "read", "duration": 3.0}, {"name": "grep"})

        async def harness(model, tools):
            while model.has_next_turn:
                finished = []
                async def run(call):
                    finished.append(await tools.call(call.id, call.name, call.arguments))
                async with anyio.create_task_group() as tg:
                    async for event in model.stream():
                        if isinstance(event, CallComplete):
                            tg.start_soon(run, event.call)
                model.hand_back(finished)  # the bug: in the order they finished

        async def test_harness(streampar_model, streampar_tools, streampar_timeline):
            await harness(streampar_model(SCENARIO), streampar_tools(SCENARIO))
            assert_results_in_call_order(streampar_timeline)
        """,
    )
    check(
        pytester,
        """
        pytest_streampar.assertions.StreamparCheckFailed: results go back in call order: turn 0: the hand-back at 4.900 s gives [B, A] but the calls completed in the order [A, B]; B (complete at 2.300 s) went before A (complete at 1.900 s)

        timeline, turn 0: 0.000 s to 4.900 s, one column = 0.0845 s
          time (s)  |0          1           2           3           4          |
          stream    |[----===============================]                     |  send 0.000 first 0.500 end 3.100
        * A read    |                      [==================================]|  call 1.900 start 1.900 end 4.900  <- owed first
        * B grep    |                           [===========]                  |  call 2.300 start 2.300 end 3.300  <- too early
          hand back |                                                         v|  at 4.900: B, A
          key: [==] running, - before first token, v hand-back, * highlighted
        [streampar] raised at virtual time 4.9 s on the {backend} backend
        """,
    )


def test_an_overlapped_harness_slower_than_sequential(
    pytester: pytest.Pytester,
) -> None:
    write(
        pytester,
        """
        SCENARIO = two_calls({"name": "read"}, {"name": "grep", "duration": 0.2})
        TICK = 1.5

        async def harness(model, tools):
            while model.has_next_turn:
                order, results = [], {}
                async with anyio.create_task_group() as tg:
                    async for event in model.stream():
                        if isinstance(event, CallComplete):
                            order.append(event.call.id)
                            tg.start_soon(run_tool, tools, event.call.id, event.call.name, results)
                # the bug: results are collected on a ticker's next tick
                await anyio.sleep_until((anyio.current_time() // TICK + 1) * TICK)
                model.hand_back([results[c] for c in order])

        def test_harness(streampar_run, streampar_model, streampar_tools):
            run = streampar_run(harness, streampar_model(SCENARIO), streampar_tools(SCENARIO))
            sequential = streampar_run.strategy(SCENARIO, "sequential")
            assert_speedup(run, sequential, at_least=1.0)
        """,
    )
    check(
        pytester,
        """
        pytest_streampar.assertions.StreamparCheckFailed: the run must be at least 1x as fast as sequential: speed-up over sequential is 0.956x: this run took 4.500 s, sequential 4.300 s; turn 0 gains least (4.500 s against 4.300 s sequential)

        timeline, turn 0: 0.000 s to 4.500 s, one column = 0.0776 s
          time (s)  |0           1            2            3            4      |
          stream    |[-----=================================]                  |  send 0.000 first 0.500 end 3.100
          A read    |                        [============]                    |  call 1.900 start 1.900 end 2.900
          B grep    |                             [==]                         |  call 2.300 start 2.300 end 2.500
          hand back |                                                         v|  at 4.500: A, B
          key: [==] running, - before first token, v hand-back
        """,
    )


def test_a_harness_that_deadlocks(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        """
        SCENARIO = two_calls({"name": "read"}, {"name": "grep"})

        async def harness(model, tools):
            while model.has_next_turn:
                send, receive = anyio.create_memory_object_stream(10)
                async def run(call):
                    await send.send(await tools.call(call.id, call.name, call.arguments))
                with send, receive:
                    async with anyio.create_task_group() as tg:
                        async for event in model.stream():
                            if isinstance(event, CallComplete):
                                tg.start_soon(run, event.call)
                        # the bug: `send` closes only after this loop, which
                        # waits for it to close
                        results = [r async for r in receive]
                model.hand_back(results)

        @pytest.mark.streampar
        async def test_harness(streampar_model, streampar_tools):
            await harness(streampar_model(SCENARIO), streampar_tools(SCENARIO))
        """,
    )
    line = line_of(pytester, "results = [r async for r in receive]")
    check(
        pytester,
        """
        simulator._errors.DeadlockError: deadlock at virtual time 3.3 s: no task is runnable, no timer is pending and no outside work is in flight, so the run can never finish. Blocked tasks:
          - task 'main' waiting at {path}/test_harness.py:{line} in <listcomp> (UnreliableObjectReceiveStream.__anext__)
        (If one of them waits for a thread the clock cannot see, one started by hand or through a CapacityLimiter of your own, wrap that wait in `with simulator.outside_work():`.)
        """.replace("{line}", str(line)),
    )


def test_a_harness_that_never_yields(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        """
        SCENARIO = two_calls({"name": "read"}, {"name": "grep"})

        async def harness(model, tools):
            while model.has_next_turn:
                results = {}
                pending = []
                async def run(call):
                    results[call.id] = await tools.call(call.id, call.name, call.arguments)
                async with anyio.create_task_group() as tg:
                    async for event in model.stream():
                        if isinstance(event, CallComplete):
                            pending.append(event.call.id)
                            tg.start_soon(run, event.call)
                    # the bug: a busy wait; the tools can never run
                    while len(results) < len(pending):
                        pass
                model.hand_back([results[c] for c in pending])

        @pytest.mark.streampar(watchdog=0.5)
        async def test_harness(streampar_model, streampar_tools):
            await harness(streampar_model(SCENARIO), streampar_tools(SCENARIO))
        """,
    )
    check(
        pytester,
        """
        simulator._watchdog.LoopHeld
        simulator._errors.WatchdogTimeout: watchdog: task 'main' held the event loop for more than 0.5 s of real time without yielding, at virtual time 3.1 s. A CPU-bound loop in harness code never lets the clock move; add an `await anyio.lowlevel.checkpoint()` inside it, or raise the limit with `watchdog=`.
        """,
        chained=True,
    )
