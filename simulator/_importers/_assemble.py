"""From what a parser read to a :class:`RecordedSession`.

Each format's parser turns its lines into a list of segments in time order:
human prompts, model requests (:class:`DraftTurn`, absolute epoch nanoseconds,
with the log's own ids) and requests kept out (aborted or failed). This module
does the part every format shares: it splits time into iteration time, human
think time and excluded time, renames ids, replaces paths by stand-ins, guesses
safety classes and makes every time relative to the session's first event.

How time is split: walking the segments in order with a cursor at the end of the
last activity, a prompt's gap from the cursor is think time; an excluded
request's gap and its own duration are excluded time; a kept request starts its
iteration at the cursor (S_k), and its iteration ends at its hand-back (H_k).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .._scenario import BlockKind, Safety
from ._problems import ProblemLog
from ._recorded import (
    AgentStrategy,
    Outcome,
    RecordedBlock,
    RecordedCall,
    RecordedSession,
    RecordedTurn,
    Stamp,
)
from ._safety import Resources

__all__ = [
    "report_unanswered",
    "DraftBlock",
    "DraftCall",
    "DraftTurn",
    "Excluded",
    "Prompt",
    "Segment",
    "SessionInfo",
    "assemble",
    "tokens_of",
]

_CHARS_PER_TOKEN = 4


def tokens_of(chars: int) -> int:
    """Tokens estimated from characters (chars/4, at least 1 for non-empty)."""
    if chars <= 0:
        return 0
    return max(1, round(chars / _CHARS_PER_TOKEN))


@dataclass
class DraftCall:
    """A tool call while its file is being read (absolute epoch ns)."""

    key: str
    name: str
    t_arg: int
    arg_how: str
    path: str | None = None
    safety: Safety = "exclusive"
    t_start: int | None = None
    start_how: str = ""
    t_done: int | None = None
    done_how: str = ""
    result_chars: int = 0
    outcome: Outcome = "ok"


@dataclass
class DraftBlock:
    """A streamed block while its file is being read."""

    kind: BlockKind
    t_done: int
    how: str
    chars: int
    call: DraftCall | None = None
    tokens: int | None = None


@dataclass
class DraftTurn:
    """A kept model request while its file is being read."""

    line: int
    t_req: int
    req_how: str
    blocks: list[DraftBlock] = field(default_factory=list)
    t_end: int = 0
    end_how: str = ""
    output_tokens: int | None = None
    ttft: int | None = None

    @property
    def calls(self) -> list[DraftCall]:
        """The request's calls, in order."""
        return [b.call for b in self.blocks if b.call is not None]


@dataclass(frozen=True)
class Prompt:
    """A human prompt at ``ns``: the wait before it is think time."""

    ns: int


@dataclass(frozen=True)
class Excluded:
    """An aborted or failed request, kept out of agent time."""

    t_req: int
    t_end: int


Segment = DraftTurn | Prompt | Excluded


@dataclass(frozen=True)
class SessionInfo:
    """What the parser knows about the session as a whole."""

    name: str
    agent: str
    version: str
    source: str
    strategy: AgentStrategy
    notes: tuple[str, ...]


def assemble(
    segments: Sequence[Segment],
    info: SessionInfo,
    *,
    safety: Callable[[str], Safety] | None = None,
) -> RecordedSession:
    """Build the session; ``safety`` overrides each draft call's safety class."""
    origin = min(_first_ns(s) for s in segments) if segments else 0
    walker = _Walker(origin, Resources(), safety)
    for segment in segments:
        walker.step(segment)
    return RecordedSession(
        name=info.name,
        agent=info.agent,
        version=info.version,
        source=info.source,
        turns=tuple(walker.turns),
        agent_strategy=info.strategy,
        notes=info.notes,
        excluded_requests=walker.excluded_requests,
        excluded_ns=walker.excluded_ns,
    )


def _first_ns(segment: Segment) -> int:
    """The earliest time a segment mentions."""
    if isinstance(segment, Prompt):
        return segment.ns
    return segment.t_req


class _Walker:
    """Walks the segments, keeping the cursor and the running totals."""

    def __init__(
        self,
        origin: int,
        resources: Resources,
        safety: Callable[[str], Safety] | None,
    ) -> None:
        self.origin = origin
        self.resources = resources
        self.safety = safety
        self.cursor: int | None = None
        self.think = 0
        self.prompts: list[int] = []
        self.turns: list[RecordedTurn] = []
        self.excluded_requests = 0
        self.excluded_ns = 0

    def step(self, segment: Segment) -> None:
        """Account for one segment."""
        if isinstance(segment, Prompt):
            self.prompts.append(segment.ns)
        elif isinstance(segment, Excluded):
            self._consume_prompts(segment.t_req)
            begin = segment.t_req if self.cursor is None else self.cursor
            self.excluded_requests += 1
            self.excluded_ns += max(0, segment.t_end - begin)
            self.cursor = max(begin, segment.t_end)
        else:
            self._consume_prompts(segment.t_req)
            turn = self._turn(segment)
            self.turns.append(turn)
            self.think = 0
            self.cursor = turn.hand_back_ns + self.origin

    def _consume_prompts(self, t_req: int) -> None:
        """Prompts written before ``t_req`` opened this request.

        The wait from the cursor to the latest of them is think time; a prompt
        queued while the agent was still busy adds none.
        """
        due = [p for p in self.prompts if p <= t_req]
        if not due:
            return
        self.prompts = [p for p in self.prompts if p > t_req]
        prompt = max(due)
        if self.cursor is None:
            self.cursor = prompt
        elif prompt > self.cursor:
            self.think += prompt - self.cursor
            self.cursor = prompt

    def _turn(self, draft: DraftTurn) -> RecordedTurn:
        """One recorded turn, relative to the origin."""
        index = len(self.turns)
        start = draft.t_req if self.cursor is None else self.cursor
        if draft.t_req < start:
            _delay(draft, start)
        blocks = tuple(self._block(item, index) for item in _numbered(draft))
        ttft = draft.ttft
        if ttft is None:
            ttft = (
                draft.blocks[0].t_done if draft.blocks else draft.t_end
            ) - draft.t_req
        tokens = draft.output_tokens
        if tokens is None:
            tokens = sum(b.tokens for b in blocks)
        return RecordedTurn(
            index=index,
            start_ns=start - self.origin,
            t_req=self._stamp(draft.t_req, draft.req_how),
            t_first=None,
            ttft_ns=max(0, ttft),
            blocks=blocks,
            t_end=self._stamp(draft.t_end, draft.end_how),
            think_ns=self.think,
            output_tokens=tokens,
            line=draft.line,
        )

    def _block(self, item: tuple[DraftBlock, int], turn: int) -> RecordedBlock:
        """One recorded block; calls get ``call_<turn>_<n>`` ids."""
        block, call_number = item
        tokens = block.tokens if block.tokens is not None else tokens_of(block.chars)
        call = None
        if block.call is not None:
            call = self._call(block.call, f"call_{turn}_{call_number}", tokens)
        return RecordedBlock(
            kind=block.kind,
            t_done=self._stamp(block.t_done, block.how),
            tokens=tokens,
            call=call,
        )

    def _call(self, draft: DraftCall, call_id: str, tokens: int) -> RecordedCall:
        """One recorded call (its arguments are its block's ``tokens``); a call
        without a result ends where it started."""
        start = draft.t_arg if draft.t_start is None else draft.t_start
        start_how = draft.start_how or draft.arg_how
        done, done_how, outcome = draft.t_done, draft.done_how, draft.outcome
        if done is None:
            done, done_how, outcome = start, "missing", "cancelled"
        return RecordedCall(
            id=call_id,
            name=draft.name,
            t_arg=self._stamp(draft.t_arg, draft.arg_how),
            t_start=self._stamp(start, start_how),
            t_done=self._stamp(max(done, start), done_how),
            arg_tokens=tokens,
            result_tokens=tokens_of(draft.result_chars),
            safety=self.safety(draft.name) if self.safety else draft.safety,
            resource=self.resources.stand_in(draft.path),
            outcome=outcome,
        )

    def _stamp(self, ns: int, how: str) -> Stamp:
        """A stamp relative to the session origin."""
        return Stamp(ns - self.origin, how)


def _delay(draft: DraftTurn, start: int) -> None:
    """A request stamped before the previous hand-back was sent at it.

    Requests of one session do not overlap; a request whose own time is earlier
    (a message queued while the agent worked) is moved to ``start``, and its
    blocks and calls with it where they would otherwise precede it.
    """
    draft.t_req, draft.req_how = start, "queued"
    draft.t_end = max(draft.t_end, start)
    for block in draft.blocks:
        block.t_done = max(block.t_done, start)
        call = block.call
        if call is not None:
            call.t_arg = max(call.t_arg, start)
            if call.t_start is not None:
                call.t_start = max(call.t_start, start)
            if call.t_done is not None:
                call.t_done = max(call.t_done, start)


def _numbered(draft: DraftTurn) -> list[tuple[DraftBlock, int]]:
    """Each block with its call's 1-based number within the turn (0: no call)."""
    out = []
    count = 0
    for block in draft.blocks:
        if block.call is not None:
            count += 1
            out.append((block, count))
        else:
            out.append((block, 0))
    return out


def report_unanswered(
    calls: Mapping[str, DraftCall],
    call_lines: Mapping[str, int],
    log: ProblemLog,
    *,
    subject: str,
    missing: str,
) -> None:
    """Report each call that got no result: it is kept as cancelled with zero
    duration.

    Args:
        calls: the session's calls by key; call_lines: the line of each.
        log: where problems go.
        subject: what the format calls a call (``"tool call"``).
        missing: what the format's result is called (``"tool_result"``).
    """
    for key, call in calls.items():
        if call.t_done is None:
            log.add(
                call_lines[key],
                f"{subject} {call.name!r} has no {missing} in this file; it is "
                f"kept as cancelled with zero duration.",
            )
