"""A small agent harness that runs tools while the model is still streaming.

This is how a harness team might write their loop; nothing in it knows about
pytest-streampar. It reads Anthropic Messages stream events (plain dicts:
``content_block_start``, ``content_block_delta`` with ``input_json_delta``,
``content_block_stop``, ``message_stop``), puts each tool call's argument
chunks together, parses the JSON when the block stops, and starts the tool at
that moment in an anyio task group. At most ``max_concurrency`` tools run at
once; ``write`` and ``edit`` are exclusive (alone on the file named by their
``resource`` argument, or alone altogether without one). When the stream has
ended and every tool is done, the results go back in call order. ``abort()``
stops the turn in progress; every call seen still gets exactly one result.

What it needs from the model: ``has_next_turn``, ``stream()`` (an async
iterator of event dicts) and ``hand_back(results)``. From the tools:
``await call(id, name, input)`` returning a result with ``call_id``, and
``interrupted(id, "cancelled", cancelled_by="user")`` for a call stopped by
an abort. In tests those are the simulated model and tools; in production,
the API client and the tool registry.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

EXCLUSIVE_TOOLS = frozenset({"write", "edit"})


class Result(Protocol):
    """A tool result: the harness needs its call id only."""

    @property
    def call_id(self) -> str: ...


class Model(Protocol):
    """The model client the harness drives."""

    @property
    def has_next_turn(self) -> bool: ...

    def stream(self) -> AsyncIterator[Any]: ...

    def hand_back(self, results: Sequence[Result]) -> None: ...


class Tools(Protocol):
    """The tool registry the harness calls."""

    async def call(self, call_id: str, name: str, arguments: dict[str, Any]) -> Any: ...

    def interrupted(self, call_id: str, status: Any, *, cancelled_by: Any) -> Any: ...


@dataclass
class ToolUse:
    """A tool call as its ``tool_use`` block streams in."""

    id: str
    name: str
    chunks: list[str] = field(default_factory=list)

    def arguments(self) -> dict[str, Any]:
        """The call's input, parsed once the block has stopped."""
        text = "".join(self.chunks)
        value = json.loads(text) if text else {}
        if not isinstance(value, dict):
            raise ValueError(f"tool_use {self.id}: input is not an object: {text!r}")
        return value


class FileLocks:
    """Shared tools run together; an exclusive one runs alone on its file
    (alone altogether when it names no file)."""

    def __init__(self) -> None:
        self._held: list[tuple[str | None, bool]] = []
        self._changed = anyio.Event()

    def _clashes(self, path: str | None, exclusive: bool) -> bool:
        for other, other_exclusive in self._held:
            if exclusive and (path is None or path == other):
                return True
            if other_exclusive and (other is None or other == path):
                return True
        return False

    @asynccontextmanager
    async def hold(self, path: str | None, exclusive: bool) -> AsyncIterator[None]:
        """Wait until no held lock clashes, then hold one until the block ends."""
        while self._clashes(path, exclusive):
            await self._changed.wait()
        entry = (path, exclusive)
        self._held.append(entry)
        try:
            yield
        finally:
            self._held.remove(entry)
            self._changed.set()
            self._changed = anyio.Event()


@dataclass
class Turn:
    """What one turn has seen so far: calls in stream order and results."""

    order: list[ToolUse] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)

    def in_call_order(self, tools: Tools) -> list[Any]:
        """One result per call, in call order; aborted calls say so."""
        return [self._result(use, tools) for use in self.order]

    def _result(self, use: ToolUse, tools: Tools) -> Any:
        if use.id in self.results:
            return self.results[use.id]
        return tools.interrupted(use.id, "cancelled", cancelled_by="user")


class Agent:
    """The agent loop: stream a turn, dispatch its tools, hand back, repeat.

    Args:
        model: the model client.
        tools: the tool registry.
        max_concurrency: most tools running at once; None means no cap.
    """

    def __init__(
        self, model: Model, tools: Tools, *, max_concurrency: int | None = 4
    ) -> None:
        self.model = model
        self.tools = tools
        self._limiter = anyio.CapacityLimiter(max_concurrency or math.inf)
        self._locks = FileLocks()
        self._scope: anyio.CancelScope | None = None

    async def run(self) -> list[list[Any]]:
        """Play every turn; return the results handed back, per turn."""
        handed: list[list[Any]] = []
        turn: Turn | None = None
        with anyio.CancelScope() as self._scope:
            while self.model.has_next_turn:
                turn = Turn()
                await self._play(turn)
                handed.append(self._hand_back(turn))
                turn = None
        if turn is not None:  # aborted in the middle of a turn
            handed.append(self._hand_back(turn))
        return handed

    def abort(self) -> None:
        """Stop at once, like a user pressing Escape."""
        if self._scope is not None:
            self._scope.cancel()

    def _hand_back(self, turn: Turn) -> list[Any]:
        results = turn.in_call_order(self.tools)
        self.model.hand_back(results)
        return results

    async def _play(self, turn: Turn) -> None:
        open_blocks: dict[int, ToolUse] = {}
        async with anyio.create_task_group() as running:
            async for event in self.model.stream():
                for use in _finished_calls(event, open_blocks):
                    turn.order.append(use)
                    running.start_soon(self._run_tool, use, turn)

    async def _run_tool(self, use: ToolUse, turn: Turn) -> None:
        arguments = use.arguments()
        path = arguments.get("resource")
        async with self._locks.hold(path, use.name in EXCLUSIVE_TOOLS):
            async with self._limiter:
                result = await self.tools.call(use.id, use.name, arguments)
        turn.results[use.id] = result


def _finished_calls(
    event: dict[str, Any], open_blocks: dict[int, ToolUse]
) -> Iterator[ToolUse]:
    """Track tool_use blocks; yield each one when its block stops."""
    kind = event.get("type")
    if kind == "content_block_start":
        block = event["content_block"]
        if block.get("type") == "tool_use":
            open_blocks[event["index"]] = ToolUse(block["id"], block["name"])
    elif kind == "content_block_delta":
        delta = event["delta"]
        use = open_blocks.get(event["index"])
        if use is not None and delta.get("type") == "input_json_delta":
            use.chunks.append(delta["partial_json"])
    elif kind == "content_block_stop" and event["index"] in open_blocks:
        yield open_blocks.pop(event["index"])
