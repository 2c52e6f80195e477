"""The simulated model: plays a scenario's turns as a stream on virtual time.

:class:`SimulatedModel` streams one turn per call of :meth:`SimulatedModel.stream`
as canonical events (or, on request, as Anthropic Messages, OpenAI Chat
Completions or OpenAI Responses wire events, see ``_wire``). Every wait is a
sleep on the virtual clock computed from the scenario's ``Turn.*_ns()`` times,
so the stream's events fall on exactly the nanoseconds the analytic model says.

What advances time: the request phase (request overhead plus the prefill of the
previous turn's results) and the gaps between stream events. Nothing else the
model does takes virtual time. What it cannot model: network jitter, retries,
and a stream whose pace depends on the consumer (the model never waits for a
slow reader; a reader that falls behind just sees events late).
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

import anyio

from ._errors import SimulatorError
from ._faults import WireFaults, cut_ns
from ._run import current_timeline, now_ns
from ._scenario import BlockKind, Safety, Scenario, ToolCall, Turn, to_ns
from ._timeline import Timeline

__all__ = [
    "BlockDelta",
    "BlockEnd",
    "BlockStart",
    "CallComplete",
    "CallInfo",
    "FirstToken",
    "ModelEvent",
    "RequestStart",
    "SimulatedModel",
    "Stop",
    "StreamError",
    "TurnTimes",
    "Wire",
    "arguments_for",
    "canonical_events",
]

Wire = Literal["canonical", "anthropic", "openai-chat", "openai-responses"]
WIRES: tuple[str, ...] = ("canonical", "anthropic", "openai-chat", "openai-responses")

# how faults end a turn's stream: ("truncate" | "error", block index), or None
Ending = tuple[str, int] | None


@dataclass(frozen=True, slots=True)
class CallInfo:
    """A tool call as the stream states it once its arguments are complete.

    Attributes:
        id: the call's id.
        name: the tool's name.
        arguments: the parsed arguments (read-only for events the simulated
            model shares between runs).
        safety: ``"shared"`` or ``"exclusive"`` (from the scenario).
        resource: the resource key, or None.
    """

    id: str
    name: str
    arguments: Mapping[str, Any]
    safety: Safety = "shared"
    resource: str | None = None


@dataclass(frozen=True, slots=True)
class RequestStart:
    """The request for turn ``turn`` was sent (request overhead and prefill done)."""

    turn: int


@dataclass(frozen=True, slots=True)
class FirstToken:
    """The stream's first token arrived."""

    turn: int


@dataclass(frozen=True, slots=True)
class BlockStart:
    """A block of kind ``kind`` opened at position ``index`` of the stream.

    ``call_id`` and ``name`` are set for tool-call blocks.
    """

    index: int
    kind: BlockKind
    call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class BlockDelta:
    """``tokens`` more tokens of block ``index``."""

    index: int
    kind: BlockKind
    tokens: int


@dataclass(frozen=True, slots=True)
class BlockEnd:
    """Block ``index`` is complete."""

    index: int
    kind: BlockKind
    tokens: int


@dataclass(frozen=True, slots=True)
class CallComplete:
    """A tool call's arguments are complete: the streaming dispatch point."""

    index: int
    call: CallInfo


@dataclass(frozen=True, slots=True)
class Stop:
    """The stream ended; ``stop_reason`` is ``"tool_use"`` or ``"end_turn"``
    (``"max_tokens"`` or another one under :class:`WireFaults`)."""

    stop_reason: str


@dataclass(frozen=True, slots=True)
class StreamError:
    """The stream failed mid-way (a ``WireFaults.error_after_calls`` fault).

    Nothing follows it; the calls completed before it are the turn's calls.
    """

    error_type: str
    message: str


ModelEvent = (
    RequestStart
    | FirstToken
    | BlockStart
    | BlockDelta
    | BlockEnd
    | CallComplete
    | Stop
    | StreamError
)

# what a failed stream reports (Anthropic's overload error, the common one)
OVERLOADED = StreamError("overloaded_error", "Overloaded (simulated fault)")


@dataclass(frozen=True, slots=True)
class TurnTimes:
    """When a turn started, sent its request, and handed its results back (ns)."""

    start_ns: int
    send_ns: int
    hand_back_ns: int

    @property
    def iteration_ns(self) -> int:
        """Hand-back minus start: the turn's iteration time."""
        return self.hand_back_ns - self.start_ns


class _Result(Protocol):
    """What :meth:`SimulatedModel.feed` and ``hand_back`` need of a result."""

    @property
    def call_id(self) -> str: ...


def arguments_for(call: ToolCall) -> dict[str, Any]:
    """The arguments the simulated model streams for ``call`` (deterministic)."""
    if call.resource is not None:
        return {"call": call.id, "resource": call.resource}
    return {"call": call.id}


def call_info(call: ToolCall) -> CallInfo:
    """The :class:`CallInfo` the stream states for a scenario call."""
    arguments = MappingProxyType(arguments_for(call))
    return CallInfo(call.id, call.name, arguments, call.safety, call.resource)


def canonical_events(turn: Turn, index: int, send_ns: int) -> list[tuple[int, Any]]:
    """A turn's canonical stream as ``(absolute ns, event)`` pairs, in order.

    Each block gives a start (at the previous block's completion, the first one
    at the first token), one delta and an end at its completion; a tool-call
    block adds a :class:`CallComplete` at the same moment.
    """
    first = send_ns + turn.first_token_ns()
    events: list[tuple[int, Any]] = [(send_ns, RequestStart(index))]
    events.append((first, FirstToken(index)))
    begin = first
    for i, (done, block) in enumerate(
        zip(turn.block_complete_ns(), turn.blocks, strict=True)
    ):
        done += send_ns
        call = block.call
        cid, name = (call.id, call.name) if call is not None else (None, None)
        events.append((begin, BlockStart(i, block.kind, cid, name)))
        events.append((done, BlockDelta(i, block.kind, block.tokens)))
        events.append((done, BlockEnd(i, block.kind, block.tokens)))
        if call is not None:
            events.append((done, CallComplete(i, call_info(call))))
        begin = done
    reason = "tool_use" if turn.calls else "end_turn"
    events.append((send_ns + turn.stream_end_ns(), Stop(reason)))
    return events


def ending_of(turn: Turn, faults: WireFaults | None, index: int) -> Ending:
    """How the faults end turn ``index``'s stream: ``("truncate", block)``,
    ``("error", block or -1 for the first token)`` or ``None`` (as scripted).

    A truncation needs a call in the turn; an error after k calls needs k calls.
    """
    if faults is None or not faults.applies_to(index):
        return None
    calls = [i for i, b in enumerate(turn.blocks) if b.call is not None]
    if faults.truncate and calls:
        return ("truncate", calls[-1])
    k = faults.error_after_calls
    if k is not None and k <= len(calls):
        return ("error", calls[k - 1] if k else -1)
    return None


def faulted_events(
    events: list[tuple[int, Any]], ending: Ending, stop_reason: str | None
) -> list[tuple[int, Any]]:
    """Canonical events as the faults end them; no remaining event moves.

    A truncated stream keeps the cut block's start and ends with
    ``Stop("max_tokens")`` at :func:`cut_ns`; a failed one keeps everything up
    to the k-th ``CallComplete`` (or the first token) and ends with a
    :class:`StreamError` at that moment.
    """
    if ending is None:
        if stop_reason is None:
            return events
        return [(t, Stop(stop_reason) if type(e) is Stop else e) for t, e in events]
    what, block = ending
    out: list[tuple[int, Any]] = []
    for when, event in events:
        kind = type(event)
        if what == "truncate" and kind is BlockStart and event.index == block:
            out.append((when, event))
            done = next(
                t for t, e in events if type(e) is BlockEnd and e.index == block
            )
            out.append((cut_ns(when, done), Stop("max_tokens")))
            return out
        out.append((when, event))
        if what == "error" and (
            (kind is FirstToken and block < 0)
            or (kind is CallComplete and event.index == block)
        ):
            out.append((when, OVERLOADED))
            return out
    raise SimulatorError(  # pragma: no cover - ending_of picks a block that exists
        f"fault ending {ending!r} names no block of the stream"
    )


async def wait_until_ns(when: int) -> None:
    """Sleep on the virtual clock until ``when`` (ns); return at once if past."""
    delay = when - now_ns()
    if delay > 0:
        await anyio.sleep(delay / 1e9)


# an entry of a played stream: (time ns, object yielded, canonical event it stands
# for or None, call ids the consumer now knows complete)
Entry = tuple[int, Any, Any, tuple[str, ...]]

# canonical entries relative to send, per (turn object, position): a session
# replayed under several strategies builds each turn's events once. Events are
# frozen, so sharing them is safe. An entry lives as long as its turn: when the
# turn is freed its entry goes too (before its id can be reused), so replaying
# many sessions one after another keeps memory flat.
_CANONICAL_CACHE: dict[tuple[int, int], list[Entry]] = {}


def _canonical_entries(turn: Turn, index: int) -> list[Entry]:
    key = (id(turn), index)
    hit = _CANONICAL_CACHE.get(key)
    if hit is not None:
        return hit
    entries: list[Entry] = [
        (t, e, e, (e.call.id,) if type(e) is CallComplete else ())
        for t, e in canonical_events(turn, index, 0)
    ]
    _CANONICAL_CACHE[key] = entries
    weakref.finalize(turn, _CANONICAL_CACHE.pop, key, None)
    return entries


class _TurnStream:
    """Async iterator over one turn's entries; records the timeline as it goes.

    A plain class, not an async generator, so that a consumer that stops early
    (an abort) leaves nothing to finalize.
    """

    __slots__ = ("_model", "_entries", "_next", "_base")

    def __init__(self, model: SimulatedModel, entries: list[Entry], base: int) -> None:
        self._model = model
        self._entries = entries
        self._next = 0
        self._base = base

    def __aiter__(self) -> _TurnStream:
        return self

    async def __anext__(self) -> Any:
        entries = self._entries
        while self._next < len(entries):
            when, obj, event, known = entries[self._next]
            self._next += 1
            when += self._base
            await wait_until_ns(when)
            self._model._account(when, event, known)
            if obj is not None:  # None marks a moment the format does not show
                return obj
        raise StopAsyncIteration


@dataclass
class _Play:
    """Book-keeping of the turn being played."""

    index: int
    start_ns: int
    send_ns: int
    calls: tuple[ToolCall, ...]
    sent: bool = False
    stream_done: bool = False
    announced: list[str] = field(default_factory=list)
    fed: list[str] = field(default_factory=list)
    cut: str | None = None  # the call a max_tokens truncation cut
    failed: bool = False  # the stream ended with a StreamError


class SimulatedModel:
    """A model that streams a scenario's turns on the virtual clock.

    Use it from code running under :func:`simulator.run`: call :meth:`stream` for
    each turn and iterate it, then :meth:`hand_back` the turn's results, while
    :attr:`has_next_turn`.

    Time: ``stream()`` is called at the turn's start ``S``; the first event
    (``RequestStart``) arrives at ``send = S + request_overhead + prefill`` of
    the previous turn's results (barrier), or ``max(S + request_overhead, F)``
    with ``feed_forward=True`` where ``F`` is when the last fed result finished
    prefilling. Later events arrive at ``send + Turn.*_ns()``.

    Args:
        scenario: the session to play.
        timeline: where to record; default :func:`simulator.current_timeline`
            at the first use.
        wire: ``"canonical"`` yields :data:`ModelEvent` objects; the others
            yield plain dicts shaped like that provider's stream events.
        feed_forward: results are prefilled as :meth:`feed` hands them in,
            not all at once at the hand-back.
        faults: wire fault knobs (:class:`WireFaults`), off by default. A
            truncated call never counts as complete (a result for it at the
            hand-back is an error); after a mid-stream error the hand-back
            wants one result for each call completed before it.

    Raises:
        SimulatorError: ``wire`` is unknown, or a fault knob has a bad value
            or does not apply to ``wire``.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        timeline: Timeline | None = None,
        wire: Wire = "canonical",
        feed_forward: bool = False,
        faults: WireFaults | None = None,
    ) -> None:
        if wire not in WIRES:
            raise SimulatorError(
                f"wire = {wire!r} is not a stream format; use one of {', '.join(WIRES)}"
            )
        if faults is not None and not isinstance(faults, WireFaults):
            raise SimulatorError(
                f"faults = {faults!r}: must be a WireFaults or None; build "
                f"WireFaults(truncate=True) or similar"
            )
        if faults is not None:
            faults.validate(wire, len(scenario.turns))
        self.faults = faults
        self.scenario = scenario
        self.wire: Wire = wire
        self.feed_forward = feed_forward
        self.handed_back: list[list[str]] = []
        self.turn_times: list[TurnTimes] = []
        self._timeline = timeline
        self._turn = 0
        self._play: _Play | None = None
        self._prefill_ready_ns = 0  # F: end of the fed results' prefill
        self._prefill_wait_ns = 0  # P: barrier prefill owed by the next request

    @property
    def has_next_turn(self) -> bool:
        """Whether a turn is left to stream."""
        return self._turn < len(self.scenario.turns) and self._play is None

    @property
    def turn_index(self) -> int:
        """Index of the turn being played, or of the next one."""
        return self._play.index if self._play is not None else self._turn

    @property
    def timeline(self) -> Timeline:
        """The timeline the model records into."""
        if self._timeline is None:
            self._timeline = current_timeline()
        return self._timeline

    def stream(self) -> _TurnStream:
        """Play the next turn: an async iterator over its stream events.

        Raises:
            SimulatorError: the previous turn was not handed back, or no turn
                is left.
        """
        if self._play is not None:
            raise SimulatorError(
                f"turn {self._play.index} was streamed but its results were "
                f"never handed back; call model.hand_back(results) before "
                f"streaming the next turn"
            )
        if self._turn >= len(self.scenario.turns):
            raise SimulatorError(
                f"scenario {self.scenario.name!r} has {len(self.scenario.turns)} "
                f"turns and all were streamed; check model.has_next_turn first"
            )
        turn = self.scenario.turns[self._turn]
        start = now_ns()
        ready = start + to_ns(turn.request_overhead)
        if self.feed_forward:
            send = max(ready, self._prefill_ready_ns)
        else:
            send = ready + self._prefill_wait_ns
        play = self._play = _Play(self._turn, start, send, turn.calls)
        self._turn += 1
        faults = self.faults
        if self.wire == "canonical" and (
            faults is None or not faults.applies_to(play.index)
        ):
            return _TurnStream(self, _canonical_entries(turn, play.index), send)
        events = canonical_events(turn, play.index, send)
        ending = ending_of(turn, faults, play.index)
        if ending is not None and ending[0] == "truncate":
            cut = turn.blocks[ending[1]].call
            play.cut = cut.id if cut is not None else None
        return _TurnStream(self, self._entries(events, ending), 0)

    def _entries(self, events: list[tuple[int, Any]], ending: Ending) -> list[Entry]:
        faults = self.faults
        stop_reason = faults.stop_reason if faults is not None else None
        if self.wire == "canonical":
            return [
                (t, e, e, (e.call.id,) if type(e) is CallComplete else ())
                for t, e in faulted_events(events, ending, stop_reason)
            ]
        from ._wire import render

        events = faulted_events(events, None, stop_reason)
        return render(self.wire, events, self.scenario.name, faults, ending)

    def _account(self, when: int, event: Any, known: tuple[str, ...]) -> None:
        """Record what the event at ``when`` stands for in the timeline."""
        play = self._play
        if play is None:  # pragma: no cover - stream() always sets it
            return
        if known:
            play.announced.extend(known)
        kind = type(event)
        if kind is CallComplete:
            self.timeline.add_instant(
                "call_complete",
                "model",
                when,
                turn=play.index,
                call_id=event.call.id,
                name=event.call.name,
            )
        elif kind is RequestStart:
            play.sent = True
            self.timeline.add_span(
                "request", "model", play.start_ns, when, turn=play.index
            )
        elif kind is FirstToken:
            self.timeline.add_instant("first_token", "model", when, turn=play.index)
        elif kind is Stop or kind is StreamError:
            self._stream_end(play, when, event)

    def _stream_end(self, play: _Play, when: int, event: Any) -> None:
        """Record the stream span; a fault's end is marked where it happened."""
        play.stream_done = True
        turn = play.index
        if type(event) is StreamError:
            play.failed = True
            self.timeline.add_instant(
                "stream_error", "model", when, turn=turn, error=event.error_type
            )
            self.timeline.add_span(
                "stream", "model", play.send_ns, when, turn=turn, ended="error"
            )
        elif play.cut is not None:
            self.timeline.add_instant(
                "call_cut", "model", when, turn=turn, call_id=play.cut
            )
            self.timeline.add_span(
                "stream", "model", play.send_ns, when, turn=turn, ended="max_tokens"
            )
        else:
            self.timeline.add_span("stream", "model", play.send_ns, when, turn=turn)

    def feed(self, result: _Result) -> None:
        """Start prefilling one result now (feed-forward), in call order.

        Raises:
            SimulatorError: the model was not built with ``feed_forward=True``,
                no turn is being played, or the result was fed already.
        """
        play = self._require_play("feed")
        if not self.feed_forward:
            raise SimulatorError(
                "model.feed() was called but the model was built with "
                "feed_forward=False; build SimulatedModel(..., feed_forward=True)"
            )
        if result.call_id in play.fed:
            raise SimulatorError(
                f"result of call {result.call_id!r} was fed twice in turn "
                f"{play.index}; feed each result once"
            )
        self._feed_now(play, result.call_id)

    def _feed_now(self, play: _Play, call_id: str, *, record: bool = True) -> None:
        turn = self.scenario.turns[play.index]
        now = now_ns()
        play.fed.append(call_id)
        if record:
            self.timeline.add_instant(
                "feed", "harness", now, turn=play.index, call_id=call_id
            )
        rate = turn.prefill_tokens_per_second
        call = next((c for c in play.calls if c.id == call_id), None)
        tokens = call.result_tokens if call is not None else 0
        cost = to_ns(tokens / rate) if rate else 0
        self._prefill_ready_ns = max(self._prefill_ready_ns, now) + cost

    def hand_back(self, results: Sequence[_Result]) -> None:
        """Hand the turn's results back, in the order given; ends the turn.

        Every call the stream has announced as complete must have exactly one
        result, and no other call may have one.

        Raises:
            SimulatorError: no turn is being played, or the results do not
                match the announced calls one to one.
        """
        play = self._require_play("hand_back")
        ids = [r.call_id for r in results]
        self._check_results(play, ids)
        now = now_ns()
        if not play.sent:
            self.timeline.add_span(
                "request", "model", play.start_ns, now, turn=play.index, cut=True
            )
        elif not play.stream_done:
            self.timeline.add_span(
                "stream", "model", play.send_ns, now, turn=play.index, cut=True
            )
        if self.feed_forward:
            # results the harness did not feed prefill from the hand-back on;
            # they are not recorded as feeds
            for call_id in ids:
                if call_id not in play.fed:
                    self._feed_now(play, call_id, record=False)
        self._prefill_wait_ns = self._barrier_prefill(play, ids)
        self.timeline.add_instant(
            "hand_back", "harness", now, turn=play.index, call_ids=list(ids)
        )
        self.timeline.add_span("turn", "turn", play.start_ns, now, turn=play.index)
        self.handed_back.append(ids)
        self.turn_times.append(TurnTimes(play.start_ns, play.send_ns, now))
        self._play = None

    def _barrier_prefill(self, play: _Play, ids: list[str]) -> int:
        rate = self.scenario.turns[play.index].prefill_tokens_per_second
        if not rate:
            return 0
        wanted = set(ids)
        tokens = sum(c.result_tokens for c in play.calls if c.id in wanted)
        return to_ns(tokens / rate)

    def _check_results(self, play: _Play, ids: list[str]) -> None:
        counts = Counter(ids)
        twice = sorted(i for i, n in counts.items() if n > 1)
        seen = set(counts)
        announced = set(play.announced)
        missing = [i for i in play.announced if i not in seen]
        extra = sorted(seen - announced)
        if play.cut is not None and play.cut in seen:
            raise SimulatorError(
                f"hand_back of turn {play.index}: call {play.cut!r} was cut by "
                f"max_tokens truncation and never completed, so it has no result; "
                f"the harness must not run a truncated call. Drop its result"
            )
        if extra and play.failed:
            raise SimulatorError(
                f"hand_back of turn {play.index}: calls {extra} never completed: "
                f"the stream failed after {len(play.announced)} complete calls. "
                f"Hand back results for those calls only"
            )
        if twice or missing or extra:
            raise SimulatorError(
                f"hand_back of turn {play.index}: every call the stream completed "
                f"needs exactly one result; duplicated {twice}, missing {missing}, "
                f"not (yet) completed in the stream {extra}. Give one result per "
                f"completed call (an error or cancelled result counts)"
            )

    def _require_play(self, what: str) -> _Play:
        if self._play is None:
            raise SimulatorError(
                f"model.{what}() called while no turn is being played; call it "
                f"after model.stream() and before the turn's hand_back"
            )
        return self._play
