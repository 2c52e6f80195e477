"""The ``parallel`` reference harness: whole stream, then the tools side by side.

Turn by turn: read the whole stream; then release every call at once to an
admission gate that starts them in call order under the concurrency cap and
the safety classes, each in its own task of a task group; hand the results
back in call order when all are done.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio

from ._dispatch import HarnessOptions, TurnWork, session_loop
from ._model import SimulatedModel
from ._tools import SimulatedTools, ToolResult
from ._wire import decoder_for

__all__ = ["run_session"]


async def run_session(
    model: SimulatedModel,
    tools: SimulatedTools,
    *,
    max_concurrency: int | None = None,
    tool_timeout: float | None = None,
    cancel_siblings: bool = False,
    feed_forward: bool = False,
    abort: anyio.Event | None = None,
) -> list[list[ToolResult]]:
    """Play every turn of ``model``'s scenario, tools concurrent after the stream.

    Args:
        model: the simulated model (any wire format).
        tools: the simulated tools.
        max_concurrency: most tools running at once; None means no cap.
        tool_timeout: seconds after which a tool is stopped (``"timeout"``).
        cancel_siblings: a failed call cancels the turn's other calls.
        feed_forward: feed results to the model as they are ready, in call
            order.
        abort: when set, stop at once; every call seen gets one result.

    Returns:
        The results handed back, per turn, in call order.
    """
    options = HarnessOptions(
        max_concurrency, tool_timeout, cancel_siblings, feed_forward
    )
    return await session_loop(model, tools, options, _play_turn, abort)


async def _play_turn(work: TurnWork, stream: AsyncIterator[Any]) -> None:
    decoder = decoder_for(work.model.wire)
    async for event in stream:
        for info in decoder.feed(event):
            work.see(info)
    if len(work.seen) == 1:  # nothing to run beside it: no task needed
        await work.run_call(work.seen[0])
        return
    async with anyio.create_task_group() as tasks:
        for call in list(work.seen):
            ticket = work.submit(call)
            if ticket is not None:
                tasks.start_soon(work.run_call, call, ticket)
