"""The ``sequential`` reference harness: whole stream, then each tool in turn.

Turn by turn: read the whole stream, collecting the calls it completes; then
run the calls one after another in call order (call i+1 starts when call i's
result is processed); then hand the results back. This is how most harnesses
schedule an iteration, and the baseline the other strategies are measured
against.
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
    """Play every turn of ``model``'s scenario sequentially.

    Args:
        model: the simulated model (any wire format).
        tools: the simulated tools.
        max_concurrency: accepted for a uniform signature; one tool runs at a
            time anyway.
        tool_timeout: seconds after which a tool is stopped (``"timeout"``).
        cancel_siblings: a failed call cancels the turn's later calls.
        feed_forward: feed each result to the model as it is ready.
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
    for call in list(work.seen):
        await work.run_call(call)
