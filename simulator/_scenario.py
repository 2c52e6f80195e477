"""The scenario model: what a session is made of, as plain frozen data.

A scenario is a session of turns. Each turn streams an ordered list of blocks
(text, thinking, tool call) and then hands the tools' results back. Times are
seconds (floats) in the file format and in these classes; the engine turns them
into integer nanoseconds with :func:`to_ns`.

Loading, saving and validation live in ``_scenario_io``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Block",
    "BlockKind",
    "Fault",
    "Safety",
    "Scenario",
    "ToolCall",
    "Turn",
    "conflicts",
    "to_ns",
]

Safety = Literal["shared", "exclusive"]
BlockKind = Literal["text", "thinking", "tool_call"]


def to_ns(seconds: float) -> int:
    """Seconds to integer nanoseconds, rounded to the nearest nanosecond."""
    return round(seconds * 1_000_000_000)


@dataclass(frozen=True)
class Fault:
    """A tool's failure.

    Attributes:
        kind: ``"error"``: the tool fails ``at`` seconds after it starts;
            ``"hang"``: the tool never returns (only a timeout or cancel ends it).
        at: seconds after the tool's start at which an ``"error"`` fault fires.
        message: the error text in the tool's result.
    """

    kind: Literal["error", "hang"]
    at: float = 0.0
    message: str = "simulated tool failure"


@dataclass(frozen=True)
class ToolCall:
    """One tool call as the model streams it.

    Attributes:
        id: unique within the scenario (``"call_1"``).
        name: the tool's name (``"read_file"``).
        arg_tokens: tokens of the call's arguments in the stream.
        duration: seconds the tool runs once started.
        safety: ``"shared"`` may run beside others; ``"exclusive"`` must run
            alone (alone on its resource, when it has one).
        resource: optional key (a file path): calls on the same key conflict when
            either is exclusive. An exclusive call without one conflicts with all.
        fault: optional failure.
        result_tokens: size of the result handed back, in tokens.
    """

    id: str
    name: str
    arg_tokens: int = 20
    duration: float = 1.0
    safety: Safety = "shared"
    resource: str | None = None
    fault: Fault | None = None
    result_tokens: int = 100


@dataclass(frozen=True)
class Block:
    """One part of a streamed answer.

    Attributes:
        kind: ``"text"``, ``"thinking"`` or ``"tool_call"``.
        tokens: tokens in the block; for a tool call, its ``arg_tokens``.
        call: the tool call, for ``kind == "tool_call"``; None otherwise.
        complete_at: explicit completion time in seconds after the request was
            sent (as read from real logs); when None it follows from the turn's
            time to first token and token rate.
    """

    kind: BlockKind
    tokens: int = 0
    call: ToolCall | None = None
    complete_at: float | None = None


@dataclass(frozen=True)
class Turn:
    """One model request, its streamed answer, and the hand-back of results.

    Attributes:
        blocks: the stream's blocks in order.
        ttft: seconds from request sent to first token.
        tokens_per_second: output rate of the stream.
        stream_end: explicit end of stream in seconds after the request was sent
            (from real logs); None derives it from the blocks.
        request_overhead: seconds the harness spends assembling the request
            before sending it.
        result_overhead: seconds of harness processing per result after its
            tool ends.
        prefill_tokens_per_second: rate at which the next request prefills this
            turn's results; None means prefill takes no time.
        think_time: human think time before this turn's request; kept out of
            iteration time and reported apart.
    """

    blocks: tuple[Block, ...] = ()
    ttft: float = 0.5
    tokens_per_second: float = 50.0
    stream_end: float | None = None
    request_overhead: float = 0.0
    result_overhead: float = 0.0
    prefill_tokens_per_second: float | None = None
    think_time: float = 0.0

    @property
    def calls(self) -> tuple[ToolCall, ...]:
        """The turn's tool calls, in stream order."""
        return tuple(b.call for b in self.blocks if b.call is not None)

    def first_token_ns(self) -> int:
        """First token, in nanoseconds after the request was sent."""
        return to_ns(self.ttft)

    def block_complete_ns(self) -> tuple[int, ...]:
        """Each block's completion, in nanoseconds after the request was sent.

        The first block starts at the first token; each block then takes
        ``tokens / tokens_per_second``, unless it has an explicit ``complete_at``
        (a block never completes before the one before it).
        """
        done = self.first_token_ns()
        times = []
        for block in self.blocks:
            if block.complete_at is not None:
                done = max(done, to_ns(block.complete_at))
            else:
                done += to_ns(block.tokens / self.tokens_per_second)
            times.append(done)
        return tuple(times)

    def call_complete_ns(self) -> tuple[int, ...]:
        """Each tool call's completion (its dispatch point), in call order."""
        return tuple(
            t
            for t, b in zip(self.block_complete_ns(), self.blocks, strict=True)
            if b.call is not None
        )

    def stream_end_ns(self) -> int:
        """End of stream, in nanoseconds after the request was sent."""
        times = self.block_complete_ns()
        last = times[-1] if times else self.first_token_ns()
        if self.stream_end is not None:
            return max(last, to_ns(self.stream_end))
        return last


@dataclass(frozen=True)
class Scenario:
    """A session: turns run one after another.

    Attributes:
        name: a short label used in reports.
        turns: the turns, in order.
        max_concurrency: cap on tools running at once; None means no cap.
        description: free text for reports.
        source: where it came from (a file path, an importer), for messages.
    """

    name: str
    turns: tuple[Turn, ...] = ()
    max_concurrency: int | None = None
    description: str = ""
    source: str = field(default="", compare=False)

    @property
    def calls(self) -> tuple[ToolCall, ...]:
        """Every tool call of the session, in order."""
        return tuple(c for t in self.turns for c in t.calls)


def conflicts(a: ToolCall, b: ToolCall) -> bool:
    """Whether two calls may not run at the same time.

    They conflict when one of them is exclusive and either has no resource key
    (it must run alone) or shares its key with the other call.
    """
    for mine, other in ((a, b), (b, a)):
        if mine.safety == "exclusive" and (
            mine.resource is None or mine.resource == other.resource
        ):
            return True
    return False
