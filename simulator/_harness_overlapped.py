"""The ``overlapped`` reference harness: tools start while the stream goes on.

Turn by turn: the reader parses the stream and, the moment a call is
complete, submits it to the admission gate (call order, cap, safety classes)
and starts a task for it in the turn's task group, then reads on. The stream
and the tools overlap; the results are handed back in call order once the
stream has ended and every result is ready. With ``feed_forward=True`` each
result is fed to the model as soon as it and every earlier one are ready, so
the next request's prefill starts early: the results then flow through a
memory object stream to a feeder task that feeds them in call order.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

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
    if not work.options.feed_forward:
        await _read_and_dispatch(work, stream)
        return
    # feed-forward: finished results flow through a memory object stream to a
    # feeder task that hands them to the model in call order
    send, receive = anyio.create_memory_object_stream[ToolResult](math.inf)
    work.result_stream = send
    async with anyio.create_task_group() as feeders:
        feeders.start_soon(_feed, work, receive)
        async with send:
            await _read_and_dispatch(work, stream)


async def _read_and_dispatch(work: TurnWork, stream: AsyncIterator[Any]) -> None:
    decoder = decoder_for(work.model.wire)
    async with anyio.create_task_group() as tasks:
        async for event in stream:
            for info in decoder.feed(event):
                call = work.see(info)
                ticket = work.submit(call)
                if ticket is not None:
                    tasks.start_soon(work.run_call, call, ticket)


async def _feed(work: TurnWork, receive: MemoryObjectReceiveStream[ToolResult]) -> None:
    async with receive:
        async for _ in receive:
            work.feed_ready()
