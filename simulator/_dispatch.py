"""What the three reference harnesses share: FIFO admission, one turn's
book-keeping, and the session loop with its abort.

- :class:`AdmissionGate` starts tools in the order they were submitted: a call
  starts when it is at the head of the queue, fewer than ``max_concurrency``
  tools run (an :class:`anyio.CapacityLimiter` counts them) and no running tool
  conflicts with it (:func:`simulator._scenario.conflicts`). A call blocked at
  the head holds back every later call, so no call starts before an earlier one.
- :class:`TurnWork` runs single calls under the per-tool timeout, processes
  results (the turn's ``result_overhead``), feeds them forward in call order,
  cancels siblings on a failure when asked, and hands back exactly one result
  per call in call order, also after an abort.
- :func:`session_loop` plays turns until the scenario or an abort ends them.

None of this takes virtual time by itself; tools, result processing and the
model's stream do.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from ._model import CallInfo, SimulatedModel, wait_until_ns
from ._run import now_ns
from ._scenario import ToolCall, conflicts
from ._tools import SimulatedTools, ToolResult

__all__ = [
    "AdmissionGate",
    "HarnessOptions",
    "Ticket",
    "TurnWork",
    "session_loop",
]


@dataclass(frozen=True, slots=True)
class HarnessOptions:
    """The knobs every reference harness takes.

    Attributes:
        max_concurrency: cap on tools running at once; None means no cap.
        tool_timeout: seconds after which a running tool is stopped with a
            ``"timeout"`` result; None waits forever.
        cancel_siblings: a failing (error or timed-out) tool cancels the
            turn's other calls, which get ``cancelled_by="sibling"`` results.
        feed_forward: feed each result to the model as soon as it and every
            earlier one are ready (``model.feed``), in call order.
    """

    max_concurrency: int | None = None
    tool_timeout: float | None = None
    cancel_siblings: bool = False
    feed_forward: bool = False


class Ticket:
    """A call's place in the admission queue."""

    __slots__ = ("call", "admitted", "event")

    def __init__(self, call: ToolCall) -> None:
        self.call = call
        self.admitted = False
        self.event: anyio.Event | None = None


class AdmissionGate:
    """Starts calls in submission order under a cap and the conflict rule.

    Args:
        max_concurrency: most tools running at once; None means no cap.
    """

    def __init__(self, max_concurrency: int | None = None) -> None:
        self._limiter = (
            anyio.CapacityLimiter(max_concurrency) if max_concurrency else None
        )
        self._queue: deque[Ticket] = deque()
        self._running: list[Ticket] = []

    def submit(self, call: ToolCall) -> Ticket:
        """Queue ``call`` behind every call submitted before it."""
        ticket = Ticket(call)
        self._queue.append(ticket)
        self._pump()
        return ticket

    async def wait(self, ticket: Ticket) -> None:
        """Wait until ``ticket`` may start. Pair every submit with :meth:`done`."""
        if ticket.admitted:
            return
        ticket.event = anyio.Event()
        await ticket.event.wait()

    def done(self, ticket: Ticket) -> None:
        """The call ended, or gave up its place; let the next ones in."""
        if ticket.admitted:
            self._running.remove(ticket)
            if self._limiter is not None:
                self._limiter.release_on_behalf_of(ticket)
        elif ticket in self._queue:
            self._queue.remove(ticket)
        self._pump()

    def _pump(self) -> None:
        queue = self._queue
        while queue:
            head = queue[0]
            if any(conflicts(head.call, r.call) for r in self._running):
                return
            if self._limiter is not None:
                try:
                    self._limiter.acquire_on_behalf_of_nowait(head)
                except anyio.WouldBlock:
                    return
            queue.popleft()
            self._running.append(head)
            head.admitted = True
            if head.event is not None:
                head.event.set()


class TurnWork:
    """One turn's calls and results, shared by a harness's tasks.

    Args:
        model: the model; receives ``feed`` and ``hand_back`` calls.
        tools: the tools to run.
        options: the harness's knobs.
    """

    def __init__(
        self, model: SimulatedModel, tools: SimulatedTools, options: HarnessOptions
    ) -> None:
        self.model = model
        self.tools = tools
        self.options = options
        self._gate: AdmissionGate | None = None
        self.seen: list[ToolCall] = []
        self.results: dict[str, ToolResult] = {}
        self.failed = False
        self._ran: dict[str, ToolResult] = {}
        self._scopes: dict[str, anyio.CancelScope] = {}
        self._fed = 0
        # where finished results go, if a harness wants them as a stream
        self.result_stream: MemoryObjectSendStream[ToolResult] | None = None

    @property
    def gate(self) -> AdmissionGate:
        """The turn's admission gate (made at first use)."""
        if self._gate is None:
            self._gate = AdmissionGate(self.options.max_concurrency)
        return self._gate

    def see(self, info: CallInfo) -> ToolCall:
        """Note a call the stream completed; return its spec (class, resource)."""
        call = self.tools.spec(info.id)
        self.seen.append(call)
        return call

    def submit(self, call: ToolCall) -> Ticket | None:
        """Queue ``call`` for admission, or cancel it at once after a failure."""
        if self.failed and self.options.cancel_siblings:
            self._cancelled_by_sibling(call)
            return None
        return self.gate.submit(call)

    async def run_call(self, call: ToolCall, ticket: Ticket | None = None) -> None:
        """Wait for admission (if ``ticket``), run the tool, process its result.

        A sibling's failure cancels this call's own scope: the call then gets a
        ``cancelled_by="sibling"`` result. An abort cancels from outside and
        goes on; :meth:`hand_back` gives the result.
        """
        if not self.options.cancel_siblings:
            # nothing cancels this call alone: no scope of its own is needed
            await self._run_and_process(call, ticket)
            self._accept(self._ran[call.id])
            return
        if ticket is None and self.failed:
            self._cancelled_by_sibling(call)
            return
        with anyio.CancelScope() as scope:
            self._scopes[call.id] = scope
            await self._run_and_process(call, ticket)
        del self._scopes[call.id]
        if call.id in self._ran:
            self._accept(self._ran[call.id])
        else:
            self._cancelled_by_sibling(call)

    async def _run_and_process(self, call: ToolCall, ticket: Ticket | None) -> None:
        try:
            if ticket is not None:
                await self.gate.wait(ticket)
            result = await self._run_tool(call)
        finally:
            if ticket is not None:
                self.gate.done(ticket)
        self._ran[call.id] = result
        if result.is_error and self.options.cancel_siblings:
            self._fail(call.id)
        await self._process(result)

    async def _run_tool(self, call: ToolCall) -> ToolResult:
        timeout = self.options.tool_timeout
        args = {"call": call.id}
        if timeout is None:
            return await self.tools.call(call.id, call.name, args)
        with anyio.move_on_after(timeout):
            return await self.tools.call(call.id, call.name, args)
        return self.tools.interrupted(
            call.id, "timeout", detail=f" after {timeout:g} s"
        )

    async def _process(self, result: ToolResult) -> None:
        """The harness's per-result work: ``result_overhead`` of virtual time."""
        overhead = self.tools.result_overhead_ns(result.call_id)
        if overhead <= 0:
            return
        start = now_ns()
        await wait_until_ns(start + overhead)
        self.model.timeline.add_span(
            "result",
            f"tool {result.call_id}",
            start,
            now_ns(),
            turn=self.model.turn_index,
            call_id=result.call_id,
            name=result.name,
        )

    def _fail(self, failed_id: str) -> None:
        self.failed = True
        for call_id, scope in self._scopes.items():
            if call_id != failed_id:
                scope.cancel()

    def _cancelled_by_sibling(self, call: ToolCall) -> None:
        self._accept(
            self.tools.interrupted(call.id, "cancelled", cancelled_by="sibling")
        )

    def _accept(self, result: ToolResult) -> None:
        """Keep a finished result; pass it on to :attr:`result_stream` if one is
        set, else feed every ready result forward in call order (feed-forward)."""
        self.results[result.call_id] = result
        if self.result_stream is not None:
            self.result_stream.send_nowait(result)
        elif self.options.feed_forward:
            self.feed_ready()

    def feed_ready(self) -> None:
        """Feed the model every result not fed yet whose earlier ones all were."""
        while self._fed < len(self.seen) and self.seen[self._fed].id in self.results:
            self.model.feed(self.results[self.seen[self._fed].id])
            self._fed += 1

    def hand_back(self) -> list[ToolResult]:
        """Hand every seen call's result back in call order; calls without one
        (stopped by an abort) get ``cancelled_by="user"`` results."""
        ordered = []
        for call in self.seen:
            result = self.results.get(call.id) or self._ran.get(call.id)
            if result is None:
                result = self.tools.interrupted(
                    call.id, "cancelled", cancelled_by="user"
                )
            ordered.append(result)
        self.model.hand_back(ordered)
        return ordered


# a harness's way of playing one turn: given the turn's work and its stream
PlayTurn = Callable[[TurnWork, AsyncIterator[Any]], Awaitable[None]]


async def session_loop(
    model: SimulatedModel,
    tools: SimulatedTools,
    options: HarnessOptions,
    play: PlayTurn,
    abort: anyio.Event | None,
) -> list[list[ToolResult]]:
    """Play turns with ``play`` until none is left or ``abort`` is set.

    On an abort, the turn in progress is cancelled (tools included), its calls
    get their results and are handed back; no later turn starts.

    Returns:
        The results handed back, per turn, in call order.
    """
    handed: list[list[ToolResult]] = []
    current: TurnWork | None = None
    async with anyio.create_task_group() as watchers:
        with anyio.CancelScope() as scope:
            if abort is not None:
                watchers.start_soon(_cancel_on, abort, scope)
            while model.has_next_turn and not (abort is not None and abort.is_set()):
                current = TurnWork(model, tools, options)
                await play(current, model.stream())
                handed.append(current.hand_back())
                current = None
        if current is not None:
            handed.append(current.hand_back())
        watchers.cancel_scope.cancel()
    return handed


async def _cancel_on(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()
