"""The ``overlapped`` reference harness: tools start while the stream goes on.

Turn by turn: the reader parses the stream and, the moment a call is
complete, submits it to the admission gate (call order, cap, safety classes)
and starts a task for it in the turn's task group, then reads on. The stream
and the tools overlap; the results are handed back in call order once the
stream has ended and every result is ready. With ``feed_forward=True`` each
result is fed to the model as soon as it and every earlier one are ready, so
the next request's prefill starts early.
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
    """Play every turn of ``model``'s scenario, dispatching at call complete.

    Args:
        model: the simulated model (any wire format; with ``openai-chat`` a
            call is known complete only when the next one starts or the
            stream finishes).
        tools: the simulated tools.
        max_concurrency: most tools running at once; None means no cap.
        tool_timeout: seconds after which a tool is stopped (``"timeout"``).
        cancel_siblings: a failed call cancels the turn's other calls,
            including those the stream has not completed yet.
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
    async with anyio.create_task_group() as tasks:
        async for event in stream:
            for info in decoder.feed(event):
                call = work.see(info)
                ticket = work.submit(call)
                if ticket is not None:
                    tasks.start_soon(work.run_call, call, ticket)
