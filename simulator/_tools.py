"""Simulated tools: run for the scenario's durations on the virtual clock.

:class:`SimulatedTools` answers ``await tools.call(call_id, name, arguments)``
after the call's ``duration`` of virtual time and records a ``"tool"`` span.
What advances time: only the tool's own sleep. What it cannot model: a tool
whose duration depends on its arguments or on other tools (durations come from
the scenario, one per call).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import anyio

from ._errors import SimulatorError
from ._model import wait_until_ns
from ._run import current_timeline, now_ns
from ._scenario import Scenario, ToolCall, to_ns
from ._timeline import Timeline

__all__ = ["CancelledBy", "SimulatedTools", "Status", "ToolRecord", "ToolResult"]

Status = Literal["ok", "error", "timeout", "cancelled"]
CancelledBy = Literal["user", "sibling"]


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The one result a tool call gets, whatever happened to it.

    Attributes:
        call_id: the call it answers.
        name: the tool's name.
        status: ``"ok"``, ``"error"`` (the tool failed), ``"timeout"`` (stopped
            by the harness's per-tool timeout) or ``"cancelled"``.
        content: the text handed back to the model.
        cancelled_by: for cancelled results, ``"user"`` (an abort) or
            ``"sibling"`` (another call of the turn failed); None otherwise.
    """

    call_id: str
    name: str
    status: Status
    content: str
    cancelled_by: CancelledBy | None = None

    @property
    def is_error(self) -> bool:
        """True unless the tool ran to a normal end."""
        return self.status != "ok"


@dataclass(frozen=True, slots=True)
class ToolRecord:
    """One run of a tool: when it started and ended, and how it ended."""

    call_id: str
    name: str
    start_ns: int
    end_ns: int
    outcome: Status


class SimulatedTools:
    """The scenario's tools, each answering after its duration of virtual time.

    Faults: an ``"error"`` fault ends the tool ``fault.at`` seconds after its
    start with an error result; a ``"hang"`` fault never ends: only the
    harness's cancel scope (a timeout, an abort, a sibling's failure) stops it.

    Args:
        scenario: the session whose calls these tools answer.
        timeline: where to record; default :func:`simulator.current_timeline`
            at the first use.

    Attributes:
        records: every finished or interrupted run, in the order they ended.
        running: ids of the calls whose tool is running now.
    """

    def __init__(self, scenario: Scenario, *, timeline: Timeline | None = None) -> None:
        self.scenario = scenario
        self.records: list[ToolRecord] = []
        self.running: set[str] = set()
        self._timeline = timeline
        self._specs: dict[str, tuple[int, ToolCall]] = {}
        for k, turn in enumerate(scenario.turns):
            for call in turn.calls:
                self._specs[call.id] = (k, call)
        self._stopped: dict[str, tuple[int, int]] = {}

    @property
    def timeline(self) -> Timeline:
        """The timeline the tools record into."""
        if self._timeline is None:
            self._timeline = current_timeline()
        return self._timeline

    def spec(self, call_id: str) -> ToolCall:
        """The scenario's call ``call_id``: its safety class, resource, duration.

        Raises:
            SimulatorError: the scenario has no such call.
        """
        try:
            return self._specs[call_id][1]
        except KeyError:
            raise SimulatorError(
                f"call_id = {call_id!r} is not a call of scenario "
                f"{self.scenario.name!r}; pass an id the model streamed"
            ) from None

    def turn_of(self, call_id: str) -> int:
        """Index of the turn that streams call ``call_id``."""
        self.spec(call_id)
        return self._specs[call_id][0]

    def result_overhead_ns(self, call_id: str) -> int:
        """The harness's processing time per result for this call's turn."""
        return to_ns(self.scenario.turns[self.turn_of(call_id)].result_overhead)

    async def call(
        self, call_id: str, name: str, arguments: dict[str, Any] | None = None
    ) -> ToolResult:
        """Run the tool for call ``call_id``; return its result when it ends.

        Sleeps the call's duration (or until its error fault fires) from now.
        If cancelled, the run is remembered as interrupted and the
        cancellation goes on; the harness then calls :meth:`interrupted`.

        Raises:
            SimulatorError: unknown call id, or ``name`` differs from the
                scenario's tool name for that call.
        """
        spec = self.spec(call_id)
        if name != spec.name:
            raise SimulatorError(
                f"call {call_id!r} was run as tool {name!r} but the scenario "
                f"names it {spec.name!r}; pass the name the model streamed"
            )
        start = now_ns()
        self.running.add(call_id)
        fault = spec.fault
        failed = fault is not None and fault.kind == "error"
        ended = False
        try:
            if fault is not None and fault.kind == "hang":
                await anyio.sleep_forever()
            length = fault.at if fault is not None and failed else spec.duration
            await wait_until_ns(start + to_ns(length))
            ended = True
        finally:
            self.running.discard(call_id)
            if not ended:
                self._stopped[call_id] = (start, now_ns())
        outcome: Status = "error" if failed else "ok"
        self._record(spec, start, now_ns(), outcome)
        if failed:
            assert fault is not None
            return ToolResult(call_id, name, "error", fault.message)
        return ToolResult(call_id, name, "ok", f"{spec.result_tokens} tokens")

    def interrupted(
        self,
        call_id: str,
        status: Status,
        *,
        cancelled_by: CancelledBy | None = None,
        detail: str = "",
    ) -> ToolResult:
        """The result of a call the harness stopped (or never started).

        Records the interrupted run's ``"tool"`` span with ``status`` as its
        outcome, if the tool had started.

        Args:
            call_id: the call.
            status: ``"timeout"`` or ``"cancelled"``.
            cancelled_by: ``"user"`` or ``"sibling"`` for cancelled results.
            detail: extra text for the result's content.
        """
        spec = self.spec(call_id)
        if call_id in self._stopped:
            start, end = self._stopped.pop(call_id)
            self._record(spec, start, end, status)
        if status == "timeout":
            content = f"tool timed out{detail}"
        elif cancelled_by == "sibling":
            content = f"cancelled: another call of this turn failed{detail}"
        else:
            content = f"aborted by user{detail}"
        return ToolResult(call_id, spec.name, status, content, cancelled_by)

    def _record(self, spec: ToolCall, start: int, end: int, outcome: Status) -> None:
        self.records.append(ToolRecord(spec.id, spec.name, start, end, outcome))
        self.timeline.add_span(
            "tool",
            f"tool {spec.id}",
            start,
            end,
            turn=self._specs[spec.id][0],
            call_id=spec.id,
            name=spec.name,
            outcome=outcome,
            safety=spec.safety,
            resource=spec.resource,
        )
