"""What a real agent session recorded, in timing-only form, and its scenario.

A :class:`RecordedSession` holds, per model request (turn), the times the log
wrote down and the times that had to be inferred from what that agent version is
known to do. Every time is a :class:`Stamp`: integer nanoseconds after the
session's first event, plus a short code saying where the value came from
(:data:`HOW`). Nothing here holds text, arguments, paths or ids from the log:
call ids are renamed ``call_<turn>_<n>`` and file paths become ``file#<n>``.

:meth:`RecordedSession.to_scenario` turns the recording into a
:class:`simulator.Scenario` whose stream times are the recorded ones, so that
replaying it under the strategy the agent used gives back the recorded time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .._scenario import Block, BlockKind, Fault, Safety, Scenario, ToolCall, Turn

__all__ = [
    "HOW",
    "NOTES",
    "AgentStrategy",
    "Outcome",
    "RecordedBlock",
    "RecordedCall",
    "RecordedSession",
    "RecordedTurn",
    "Stamp",
]

AgentStrategy = Literal["sequential", "parallel", "overlapped"]
Outcome = Literal["ok", "error", "cancelled"]

_NS = 1_000_000_000
_DEFAULT_RATE = 50.0

# code -> (recorded?, where the value comes from)
HOW: dict[str, tuple[bool, str]] = {
    "prompt": (True, "the prompt line's timestamp"),
    "cc.t_req": (
        False,
        "not written: the latest tool result, prompt or hook message before the "
        "request",
    ),
    "cc.block": (True, "the block's line, written when the block finished streaming"),
    "cc.end": (False, "the request's last block line (the stream ends at or after it)"),
    "cc.result": (True, "the tool_result line"),
    "cc.hook": (True, "the PreToolUse hook progress line, written as the tool starts"),
    "cc.after_stream": (
        False,
        "not written: Claude Code 2.1.14 starts tools after the last block, "
        "read-only tools together, others one after another",
    ),
    "cc.at_block": (
        False,
        "not written: Claude Code 2.1.38 starts each tool as its block completes "
        "(after any running tool it may not run beside)",
    ),
    "pi.t_req": (True, "the assistant message's own timestamp"),
    "pi.t_end": (True, "the assistant entry's timestamp, written at stream end"),
    "pi.block": (
        False,
        "estimate: placed by the block's character offset in the message, after an "
        "estimated time to first token",
    ),
    "pi.result": (True, "the toolResult message's timestamp"),
    "pi.after_previous": (
        False,
        "not written: pi ran tools one after another after the stream, so a tool "
        "starts at the stream end or at the previous tool's result",
    ),
    "codex.t_req": (True, "the turn_context line that opens the sampling request"),
    "codex.item": (True, "the response_item line, written when the item is done"),
    "codex.t_end": (True, "the token_count event carrying the request's new usage"),
    "codex.at_item": (
        False,
        "not written: Codex dispatches a call as soon as its output item is done",
    ),
    "codex.output": (True, "the function_call_output line"),
    "codex.output_bound": (
        False,
        "upper bound: outputs are written after the stream ends and in call order, "
        "so the tool ended at or before this line",
    ),
    "queued": (
        False,
        "the request's own time precedes the previous hand-back (a message queued "
        "while the agent worked): taken as that hand-back",
    ),
    "missing": (False, "no result was written: taken as the tool's start"),
}

# code -> what was inferred for the whole session
NOTES: dict[str, str] = {
    "ttft.first_block": (
        "Time to first token is not written: the first block's completion is used, "
        "an upper bound."
    ),
    "ttft.fit": (
        "Time to first token is not written: estimated per session as the intercept "
        "of request duration fitted against output tokens."
    ),
    "cc.t_req": (
        "Request send time is not written: taken as the latest tool result, prompt "
        "or hook message before the request."
    ),
    "cc.end": "Stream end is taken as the request's last block line.",
    "cc.tokens": (
        "Output tokens are estimated from content length (chars/4): usage in 2.1.x "
        "lines is the count at message start."
    ),
    "cc.start_2114": (
        "Tool start is not written: Claude Code 2.1.14 starts tools after the "
        "stream (read-only tools together, others one after another)."
    ),
    "cc.start_2138": (
        "Tool start is not written: taken from the PreToolUse hook line where there "
        "is one, otherwise at the call's block (Claude Code 2.1.38 overlaps)."
    ),
    "cc.strategy_2114": (
        "No request in this log has two read-only calls side by side, so "
        "'sequential' describes it exactly ('parallel' gives the same schedule)."
    ),
    "cc.hook_feedback": (
        "Hook feedback messages count as harness time (request overhead), not as "
        "human think time."
    ),
    "pi.blocks": (
        "Block and call completion are not recorded: placed by character offset in "
        "the message (an estimate)."
    ),
    "pi.start": (
        "Tool start is not recorded: pi ran tools one after another after the "
        "stream, so each starts at the stream end or the previous result."
    ),
    "pi.tokens": (
        "Output tokens per request come from usage; per-block tokens are split by "
        "character share (an estimate)."
    ),
    "codex.start": (
        "Tool start is not written: Codex dispatches a call when its output item is "
        "done."
    ),
    "codex.end": (
        "Tool end is an upper bound where the output line was written at stream end "
        "or behind an earlier call."
    ),
    "codex.tokens": (
        "Block tokens are estimated from the redacted lengths (chars/4); request "
        "output tokens come from token_count."
    ),
    "safety.names": (
        "Safety classes are guessed from tool names (read-like tools shared; write, "
        "edit, shell and unknown tools exclusive); file paths became file#n."
    ),
    "safety.codex": (
        "Codex ran its function tools in parallel: they are shared here, apply_patch "
        "exclusive."
    ),
    "results.chars": "Result tokens are estimated from result length (chars/4).",
}


@dataclass(frozen=True)
class Stamp:
    """A time and where it came from.

    Attributes:
        ns: nanoseconds after the session's first event.
        how: a key of :data:`HOW`: whether the log wrote this time down or it was
            inferred, and how.
    """

    ns: int
    how: str

    @property
    def recorded(self) -> bool:
        """True when the log wrote this time down; False when it was inferred."""
        return HOW[self.how][0]

    @property
    def reason(self) -> str:
        """Where the value comes from, in words."""
        return HOW[self.how][1]


@dataclass(frozen=True)
class RecordedCall:
    """One tool call as it happened.

    Attributes:
        id: ``call_<turn>_<n>`` (turn from 0, n from 1 within the turn), never
            the log's own id.
        name: the tool's name.
        t_arg: when its arguments were complete in the stream (call complete).
        t_start: when the tool started.
        t_done: when its result was ready.
        arg_tokens: size of the arguments, in tokens (estimated).
        result_tokens: size of the result, in tokens (estimated).
        safety: guessed safety class.
        resource: ``file#<n>`` stand-in for the file the call names, if any.
        outcome: ``"ok"``, ``"error"`` (the tool reported an error) or
            ``"cancelled"`` (no result was written).
    """

    id: str
    name: str
    t_arg: Stamp
    t_start: Stamp
    t_done: Stamp
    arg_tokens: int
    result_tokens: int
    safety: Safety
    resource: str | None
    outcome: Outcome = "ok"

    @property
    def duration_ns(self) -> int:
        """How long the tool ran: ``t_done - t_start``."""
        return self.t_done.ns - self.t_start.ns


@dataclass(frozen=True)
class RecordedBlock:
    """One streamed block: text, thinking or a tool call.

    Attributes:
        kind: ``"text"``, ``"thinking"`` or ``"tool_call"``.
        t_done: when the block finished streaming.
        tokens: its size in tokens (estimated from its length).
        call: the call, for a tool-call block.
    """

    kind: BlockKind
    t_done: Stamp
    tokens: int
    call: RecordedCall | None = None


@dataclass(frozen=True)
class RecordedTurn:
    """One model request, its stream, its tools and the hand-back.

    Attributes:
        index: position among the session's kept requests, from 0 (as in the
            scenario and the timelines).
        start_ns: S_k, when the harness began this iteration (the previous
            hand-back, or the prompt that opened it).
        t_req: when the request was sent.
        t_first: the first chunk, when the log records it (None otherwise).
        ttft_ns: time to first token used for the scenario (see the session's
            notes for how it was obtained when ``t_first`` is None).
        blocks: the streamed blocks in order.
        t_end: end of the stream.
        think_ns: human think time before this turn, kept out of its time.
        output_tokens: the request's output tokens.
        line: the log line that opens the request.
    """

    index: int
    start_ns: int
    t_req: Stamp
    t_first: Stamp | None
    ttft_ns: int
    blocks: tuple[RecordedBlock, ...]
    t_end: Stamp
    think_ns: int
    output_tokens: int
    line: int

    @property
    def calls(self) -> tuple[RecordedCall, ...]:
        """The turn's tool calls, in call order."""
        return tuple(b.call for b in self.blocks if b.call is not None)

    @property
    def hand_back_ns(self) -> int:
        """H_k: the stream has ended and every result is ready."""
        return max([self.t_end.ns, *(c.t_done.ns for c in self.calls)])

    @property
    def request_overhead_ns(self) -> int:
        """Harness time from the iteration's start to sending the request."""
        return self.t_req.ns - self.start_ns

    @property
    def iteration_ns(self) -> int:
        """Recorded iteration time ``H_k - S_k`` (think time excluded)."""
        return self.hand_back_ns - self.start_ns

    def to_turn(self) -> Turn:
        """The scenario turn: recorded stream times relative to ``t_req``."""
        base = self.t_req.ns
        blocks = tuple(_block(b, base) for b in self.blocks)
        stream_ns = self.t_end.ns - base
        return Turn(
            blocks=blocks,
            ttft=self.ttft_ns / _NS,
            tokens_per_second=_rate(self.output_tokens, stream_ns - self.ttft_ns),
            stream_end=stream_ns / _NS,
            request_overhead=self.request_overhead_ns / _NS,
            think_time=self.think_ns / _NS,
        )


@dataclass(frozen=True)
class RecordedSession:
    """A whole recorded session, timing only.

    Attributes:
        name: short label (``"claude-code-2.1.14"``), used as the scenario name.
        agent: ``"claude-code"``, ``"pi"`` or ``"codex"``.
        version: the agent's version as the log states it (``"unknown"`` if not).
        source: the log's file name (no directory).
        turns: the kept model requests, in order.
        agent_strategy: which strategy best describes what the agent did.
        notes: keys of :data:`NOTES`: what was inferred rather than recorded.
        excluded_requests: aborted or failed requests kept out of the turns.
        excluded_ns: time spent in those requests, kept out of agent time.
    """

    name: str
    agent: str
    version: str
    source: str
    turns: tuple[RecordedTurn, ...]
    agent_strategy: AgentStrategy
    notes: tuple[str, ...] = ()
    excluded_requests: int = 0
    excluded_ns: int = 0

    @property
    def inferred(self) -> list[str]:
        """What was inferred rather than recorded, one sentence each."""
        return [NOTES[code] for code in self.notes]

    @property
    def calls(self) -> tuple[RecordedCall, ...]:
        """Every tool call of the session, in order."""
        return tuple(c for t in self.turns for c in t.calls)

    @property
    def recorded_agent_ns(self) -> int:
        """Sum of the iteration times: the agent's own time, think time excluded."""
        return sum(t.iteration_ns for t in self.turns)

    @property
    def think_ns(self) -> int:
        """Human think time between prompts, reported apart."""
        return sum(t.think_ns for t in self.turns)

    def to_scenario(self) -> Scenario:
        """The session as a timing-only scenario (see the module docstring)."""
        return Scenario(
            name=self.name,
            turns=tuple(t.to_turn() for t in self.turns),
            description=f"imported from {self.agent} {self.version}",
            source=self.source,
        )


def _block(block: RecordedBlock, base: int) -> Block:
    """A scenario block with its recorded completion time."""
    call = block.call
    return Block(
        kind=block.kind,
        tokens=block.tokens,
        call=None if call is None else _tool_call(call),
        complete_at=(block.t_done.ns - base) / _NS,
    )


def _tool_call(call: RecordedCall) -> ToolCall:
    """A scenario tool call that runs as long as the recorded one."""
    duration = call.duration_ns / _NS
    fault = None
    if call.outcome == "error":
        fault = Fault(kind="error", at=duration, message="recorded tool error")
    return ToolCall(
        id=call.id,
        name=call.name,
        arg_tokens=call.arg_tokens,
        duration=duration,
        safety=call.safety,
        resource=call.resource,
        fault=fault,
        result_tokens=call.result_tokens,
    )


def _rate(tokens: int, stream_ns: int) -> float:
    """Output tokens per second over the streaming part, or a default."""
    if tokens <= 0 or stream_ns <= 0:
        return _DEFAULT_RATE
    return min(10_000.0, max(1.0, tokens * _NS / stream_ns))
