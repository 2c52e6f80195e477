"""Wire formats: render a canonical stream as provider events, and decode them.

Renderers turn the simulated model's canonical events into plain dicts shaped
like the events of three public streaming APIs (field names are the
providers'); decoders are the small parsers a harness runs over those dicts to
learn when a tool call is complete. Content is filler; timing is exact.

Where each format lets a consumer know that call i is complete (its dispatch
point):

- ``anthropic`` (Messages SSE): ``content_block_stop`` of the ``tool_use``
  block, at the call's completion ``p_i``.
- ``openai-responses``: ``response.output_item.done`` of the
  ``function_call`` item, at ``p_i``.
- ``openai-chat`` (Chat Completions chunks): there is no per-call end. Call i is
  known complete only when the first fragment of a call with another index
  arrives (at the start of call i+1's block) or at the chunk carrying
  ``finish_reason`` (the stream end). With text between two calls, or for the
  last call, the dispatch point moves later than ``p_i``. The model still
  records ``call_complete`` at ``p_i``, so the delay shows as tool wait.

Not rendered: SSE framing (``event:``/``data:`` lines), Chat Completions'
``data: [DONE]`` sentinel (the end of iteration stands for it) and usage-only
chunks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ._errors import SimulatorError
from ._faults import WireFaults, chat_finish
from ._model import (
    OVERLOADED,
    BlockDelta,
    BlockStart,
    CallComplete,
    CallInfo,
    Ending,
    Entry,
    FirstToken,
    RequestStart,
    Stop,
    StreamError,
)

__all__ = ["StreamDecoder", "decoder_for", "render"]

# number of delta events a block is split into on the wire
_PIECES = 3


@dataclass(frozen=True, slots=True)
class _Block:
    begin: int
    done: int
    index: int
    kind: str
    tokens: int
    complete: CallComplete | None


@dataclass(frozen=True, slots=True)
class _Plan:
    turn: int
    send: int
    first: int
    blocks: list[_Block]
    stop_at: int
    stop: Stop


def _plan(events: list[tuple[int, Any]]) -> _Plan:
    """Group a canonical stream into blocks with their start and end times."""
    send = first = stop_at = 0
    turn = 0
    stop = Stop("end_turn")
    starts: dict[int, tuple[int, BlockStart]] = {}
    ends: dict[int, tuple[int, int]] = {}
    completes: dict[int, CallComplete] = {}
    for when, event in events:
        kind = type(event)
        if kind is RequestStart:
            send, turn = when, event.turn
        elif kind is FirstToken:
            first = when
        elif kind is BlockStart:
            starts[event.index] = (when, event)
        elif kind is BlockDelta:
            ends[event.index] = (when, event.tokens)
        elif kind is CallComplete:
            completes[event.index] = event
        elif kind is Stop:
            stop_at, stop = when, event
    blocks = [
        _Block(begin, ends[i][0], i, start.kind, ends[i][1], completes.get(i))
        for i, (begin, start) in sorted(starts.items())
    ]
    return _Plan(turn, send, first, blocks, stop_at, stop)


def _split(text: str, begin: int, done: int) -> list[tuple[int, str]]:
    """Cut ``text`` into a few pieces spread evenly over ``(begin, done]``."""
    n = max(1, min(_PIECES, len(text)))
    size = -(-len(text) // n) if text else 0
    pieces = [text[k * size : (k + 1) * size] for k in range(n)]
    return [(begin + (done - begin) * (k + 1) // n, p) for k, p in enumerate(pieces)]


def _filler(tokens: int) -> str:
    return "w " * tokens


def _arguments(call: CallInfo) -> str:
    return json.dumps(dict(call.arguments), separators=(",", ":"))


def render(
    wire: str,
    events: list[tuple[int, Any]],
    label: str,
    faults: WireFaults | None = None,
    ending: Ending = None,
) -> list[Entry]:
    """Render a canonical stream in wire format ``wire`` as model entries.

    The whole stream is rendered first; a fault ``ending`` then keeps the
    entries before the cut or the error and appends the wire's own closing
    events at that moment, so no remaining event moves.

    Args:
        wire: ``"anthropic"``, ``"openai-chat"`` or ``"openai-responses"``.
        events: ``(ns, event)`` pairs from ``canonical_events``.
        label: a short name used in the generated ids.
        faults: fault knobs, already validated for ``wire``.
        ending: how the faults end this turn (see ``_model.ending_of``).

    Returns:
        ``(ns, dict or None, canonical event or None, call ids now known
        complete)`` entries; a ``None`` dict is not yielded, only accounted.
    """
    plan = _plan(events)
    if faults is not None and not faults.applies_to(plan.turn):
        faults = None
    renderer: _Anthropic | _Chat | _Responses
    if wire == "anthropic":
        renderer = _Anthropic(plan, label)
    elif wire == "openai-chat":
        renderer = _Chat(plan, label, faults)
    elif wire == "openai-responses":
        renderer = _Responses(plan, label)
    else:  # pragma: no cover - SimulatedModel checks the name
        raise SimulatorError(
            f"wire = {wire!r} has no renderer; use anthropic, openai-chat or "
            f"openai-responses"
        )
    out = renderer.entries()
    if ending is not None:
        out = renderer.end(*ending)
    if faults is not None and faults.ping is not None:
        out = _with_pings(out, faults.ping)
    return out


_PING = {"type": "ping"}


def _with_pings(out: list[Entry], every: int) -> list[Entry]:
    """Anthropic pings after ``message_start`` and every ``every``-th delta,
    each at the timestamp of the event it follows."""
    pinged: list[Entry] = []
    deltas = 0
    for entry in out:
        pinged.append(entry)
        kind = entry[1]["type"] if entry[1] is not None else None
        if kind == "content_block_delta":
            deltas += 1
        if kind == "message_start" or (
            kind == "content_block_delta" and deltas % every == 0
        ):
            pinged.append((entry[0], dict(_PING), None, ()))
    return pinged


class _Marks:
    """Where in a rendered stream each block's first piece and completion sit
    (entry counts), so that a fault can end the stream there."""

    def __init__(self) -> None:
        self.first_token = 0
        self.first_piece: dict[int, int] = {}
        self.complete: dict[int, int] = {}

    def keep(self, what: str, block: int) -> int:
        """How many entries a ``what`` ending at ``block`` keeps."""
        if what == "truncate":
            return self.first_piece[block]
        return self.complete[block] if block >= 0 else self.first_token


class _Anthropic:
    """Anthropic Messages streaming events."""

    def __init__(self, plan: _Plan, label: str) -> None:
        self.plan = plan
        self.msg_id = f"msg_{label}_{plan.turn}"
        self.out: list[Entry] = []
        self.marks = _Marks()

    def end(self, what: str, block: int) -> list[Entry]:
        """The stream cut (``max_tokens``) or failed at ``block``."""
        out = self.out[: self.marks.keep(what, block)]
        when = out[-1][0]
        if what == "error":
            error = {
                "type": "error",
                "error": {"type": OVERLOADED.error_type, "message": OVERLOADED.message},
            }
            return [*out, (when, error, OVERLOADED, ())]
        stop = {"type": "content_block_stop", "index": block}
        tokens = sum(b.tokens for b in self.plan.blocks if b.index < block)
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
            "usage": {"output_tokens": tokens},
        }
        closing = {"type": "message_stop"}
        return [
            *out,
            (when, stop, None, ()),
            (when, delta, None, ()),
            (when, closing, Stop("max_tokens"), ()),
        ]

    def entries(self) -> list[Entry]:
        plan = self.plan
        message: dict[str, Any] = {
            "id": self.msg_id,
            "type": "message",
            "role": "assistant",
            "model": "simulated",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 1},
        }
        start = {"type": "message_start", "message": message}
        self.out.append((plan.send, start, RequestStart(plan.turn), ()))
        self.out.append((plan.first, {"type": "ping"}, FirstToken(plan.turn), ()))
        self.marks.first_token = len(self.out)
        for block in plan.blocks:
            self._block(block)
        tokens = sum(b.tokens for b in plan.blocks)
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": plan.stop.stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": tokens},
        }
        self.out.append((plan.stop_at, delta, None, ()))
        self.out.append((plan.stop_at, {"type": "message_stop"}, plan.stop, ()))
        return self.out

    def _block(self, block: _Block) -> None:
        i = block.index
        call = block.complete.call if block.complete else None
        if call is not None:
            head: dict[str, Any] = {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": {},
            }
            text, field, delta_type = (
                _arguments(call),
                "partial_json",
                "input_json_delta",
            )
        elif block.kind == "thinking":
            head = {"type": "thinking", "thinking": ""}
            text, field, delta_type = (
                _filler(block.tokens),
                "thinking",
                "thinking_delta",
            )
        else:
            head = {"type": "text", "text": ""}
            text, field, delta_type = _filler(block.tokens), "text", "text_delta"
        begin = {"type": "content_block_start", "index": i, "content_block": head}
        self.out.append((block.begin, begin, None, ()))
        for when, piece in _split(text, block.begin, block.done):
            delta = {"type": delta_type, field: piece}
            event = {"type": "content_block_delta", "index": i, "delta": delta}
            self.out.append((when, event, None, ()))
            self.marks.first_piece.setdefault(i, len(self.out))
        if block.kind == "thinking":
            sig = {"type": "signature_delta", "signature": f"sig_{i}"}
            event = {"type": "content_block_delta", "index": i, "delta": sig}
            self.out.append((block.done, event, None, ()))
        stop = {"type": "content_block_stop", "index": i}
        known = (call.id,) if call is not None else ()
        self.out.append((block.done, stop, block.complete, known))
        self.marks.complete[i] = len(self.out)


class _Chat:
    """OpenAI Chat Completions chunks (``choices[0].delta`` carries the news)."""

    def __init__(
        self, plan: _Plan, label: str, faults: WireFaults | None = None
    ) -> None:
        self.plan = plan
        self.chunk_id = f"chatcmpl-{label}-{plan.turn}"
        self.out: list[Entry] = []
        self.open_call: str | None = None
        self.call_index = 0
        self.reuse = faults is not None and faults.index_reuse
        # index reuse without missing ids: every fragment names its call
        self.ids_once = not self.reuse or bool(faults and faults.missing_ids)
        self.marks = _Marks()
        self.block_call: dict[int, str] = {}

    def end(self, what: str, block: int) -> list[Entry]:
        """The stream cut (``finish_reason "length"``) or failed at ``block``."""
        out = self.out[: self.marks.keep(what, block)]
        when = out[-1][0]
        if what == "truncate":
            return [*out, (when, self._chunk({}, "length"), Stop("max_tokens"), ())]
        error = {
            "error": {
                "message": OVERLOADED.message,
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
        known = (self.block_call[block],) if block >= 0 else ()
        return [*out, (when, error, OVERLOADED, known)]

    def _chunk(
        self, delta: dict[str, Any], finish: str | None = None
    ) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {
            "id": self.chunk_id,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "simulated",
            "choices": [choice],
        }

    def entries(self) -> list[Entry]:
        plan = self.plan
        self.out.append((plan.send, None, RequestStart(plan.turn), ()))
        hello = self._chunk({"role": "assistant", "content": ""})
        self.out.append((plan.first, hello, FirstToken(plan.turn), ()))
        self.marks.first_token = len(self.out)
        for block in plan.blocks:
            self._block(block)
        finish = chat_finish(plan.stop.stop_reason)
        last = self._close()
        self.out.append((plan.stop_at, self._chunk({}, finish), plan.stop, last))
        return self.out

    def _close(self) -> tuple[str, ...]:
        closed = (self.open_call,) if self.open_call is not None else ()
        self.open_call = None
        return closed

    def _block(self, block: _Block) -> None:
        call = block.complete.call if block.complete else None
        if call is None:
            key = "reasoning_content" if block.kind == "thinking" else "content"
            for when, piece in _split(_filler(block.tokens), block.begin, block.done):
                self.out.append((when, self._chunk({key: piece}), None, ()))
            return
        k = 0 if self.reuse else self.call_index
        self.call_index += 1
        self.block_call[block.index] = call.id
        head = {
            "index": k,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        closed = self._close()
        self.out.append(
            (block.begin, self._chunk({"tool_calls": [head]}), None, closed)
        )
        pieces = _split(_arguments(call), block.begin, block.done)
        for n, (when, piece) in enumerate(pieces):
            frag: dict[str, Any] = {"index": k, "function": {"arguments": piece}}
            if not self.ids_once:
                frag["id"] = call.id
            record = block.complete if n == len(pieces) - 1 else None
            self.out.append((when, self._chunk({"tool_calls": [frag]}), record, ()))
            self.marks.first_piece.setdefault(block.index, len(self.out))
        self.marks.complete[block.index] = len(self.out)
        self.open_call = call.id


class _Responses:
    """OpenAI Responses API streaming events, numbered by ``sequence_number``."""

    def __init__(self, plan: _Plan, label: str) -> None:
        self.plan = plan
        self.resp_id = f"resp_{label}_{plan.turn}"
        self.out: list[Entry] = []
        self.items: list[dict[str, Any]] = []
        self.seq = 0
        self.marks = _Marks()
        self.added: dict[int, dict[str, Any]] = {}

    def end(self, what: str, block: int) -> list[Entry]:
        """The stream cut (``response.incomplete``) or failed at ``block``."""
        out = self.out[: self.marks.keep(what, block)]
        when = out[-1][0]
        shown = [e for _, e, _, _ in out if e is not None]
        items = [e["item"] for e in shown if e["type"] == "response.output_item.done"]
        response: dict[str, Any] = {"id": self.resp_id, "output": items}
        record: Stop | StreamError
        if what == "truncate":
            cut = dict(self.added[block])
            cut.update(arguments=shown[-1]["delta"], status="incomplete")
            response.update(
                status="incomplete",
                incomplete_details={"reason": "max_output_tokens"},
                output=[*items, cut],
            )
            kind, record = "response.incomplete", Stop("max_tokens")
        else:
            error = {"code": "server_error", "message": OVERLOADED.message}
            response.update(status="failed", error=error)
            kind, record = "response.failed", OVERLOADED
        event = {"type": kind, "response": response, "sequence_number": len(shown)}
        return [*out, (when, event, record, ())]

    def _add(self, when: int, event: dict[str, Any], record: Any = None) -> None:
        event["sequence_number"] = self.seq
        self.seq += 1
        call = record.call.id if type(record) is CallComplete else None
        self.out.append((when, event, record, (call,) if call else ()))

    def _response(self, status: str) -> dict[str, Any]:
        return {"id": self.resp_id, "status": status, "output": list(self.items)}

    def entries(self) -> list[Entry]:
        plan = self.plan
        created = {
            "type": "response.created",
            "response": self._response("in_progress"),
        }
        self._add(plan.send, created, RequestStart(plan.turn))
        progress = {
            "type": "response.in_progress",
            "response": self._response("in_progress"),
        }
        self._add(plan.send, progress)
        self.out.append((plan.first, None, FirstToken(plan.turn), ()))
        self.marks.first_token = len(self.out)
        for block in plan.blocks:
            self._block(block)
        if plan.stop.stop_reason == "max_tokens":
            response = self._response("incomplete")
            response["incomplete_details"] = {"reason": "max_output_tokens"}
            kind = "response.incomplete"
        else:
            response = self._response("completed")
            kind = "response.completed"
        response["usage"] = {"output_tokens": sum(b.tokens for b in plan.blocks)}
        done = {"type": kind, "response": response}
        self._add(plan.stop_at, done, plan.stop)
        return self.out

    def _block(self, block: _Block) -> None:
        call = block.complete.call if block.complete else None
        if call is not None:
            self._call(block, call)
        elif block.kind == "thinking":
            self._reasoning(block)
        else:
            self._message(block)

    def _message(self, block: _Block) -> None:
        o, item_id = block.index, f"msg_{self.resp_id}_{block.index}"
        item: dict[str, Any] = {
            "type": "message",
            "id": item_id,
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        where = {"item_id": item_id, "output_index": o, "content_index": 0}
        self._add(
            block.begin,
            {
                "type": "response.output_item.added",
                "output_index": o,
                "item": dict(item),
            },
        )
        part = {"type": "output_text", "text": ""}
        self._add(
            block.begin, {"type": "response.content_part.added", **where, "part": part}
        )
        text = _filler(block.tokens)
        for when, piece in _split(text, block.begin, block.done):
            self._add(
                when, {"type": "response.output_text.delta", **where, "delta": piece}
            )
        self._add(
            block.done, {"type": "response.output_text.done", **where, "text": text}
        )
        part = {"type": "output_text", "text": text}
        self._add(
            block.done, {"type": "response.content_part.done", **where, "part": part}
        )
        item.update(status="completed", content=[part])
        self._done(block, item)

    def _reasoning(self, block: _Block) -> None:
        o, item_id = block.index, f"rs_{self.resp_id}_{block.index}"
        item: dict[str, Any] = {"type": "reasoning", "id": item_id, "summary": []}
        self._add(
            block.begin,
            {
                "type": "response.output_item.added",
                "output_index": o,
                "item": dict(item),
            },
        )
        where = {"item_id": item_id, "output_index": o, "summary_index": 0}
        for when, piece in _split(_filler(block.tokens), block.begin, block.done):
            event = {
                "type": "response.reasoning_summary_text.delta",
                **where,
                "delta": piece,
            }
            self._add(when, event)
        self._done(block, item)

    def _call(self, block: _Block, call: CallInfo) -> None:
        o, item_id = block.index, f"fc_{call.id}"
        item: dict[str, Any] = {
            "type": "function_call",
            "id": item_id,
            "call_id": call.id,
            "name": call.name,
            "arguments": "",
            "status": "in_progress",
        }
        self.added[block.index] = dict(item)
        self._add(
            block.begin,
            {
                "type": "response.output_item.added",
                "output_index": o,
                "item": dict(item),
            },
        )
        text = _arguments(call)
        where = {"item_id": item_id, "output_index": o}
        for when, piece in _split(text, block.begin, block.done):
            self._add(
                when,
                {
                    "type": "response.function_call_arguments.delta",
                    **where,
                    "delta": piece,
                },
            )
            self.marks.first_piece.setdefault(block.index, len(self.out))
        self._add(
            block.done,
            {
                "type": "response.function_call_arguments.done",
                **where,
                "arguments": text,
            },
        )
        item.update(arguments=text, status="completed")
        self._done(block, item)

    def _done(self, block: _Block, item: dict[str, Any]) -> None:
        self.items.append(item)
        event = {
            "type": "response.output_item.done",
            "output_index": block.index,
            "item": item,
        }
        self._add(block.done, event, block.complete)
        self.marks.complete[block.index] = len(self.out)


class StreamDecoder:
    """Parses one turn's stream events and says which tool calls are complete.

    Call :meth:`feed` with each event as it arrives; it returns the calls that
    the event completes, in call order. :attr:`done` turns True at the event
    that ends the stream. Calls are complete by their content, never by the
    stop reason: a call whose arguments were cut (``max_tokens``) is listed in
    :attr:`cut`, never returned.

    Attributes:
        done: the stream has ended (normally, cut, or by an error).
        stop_reason: the stop reason in the wire's own words (``"tool_use"``,
            ``"tool_calls"``, ``"length"``, ``"incomplete"``, ...), or None.
        error: the error type of a mid-stream error, or None.
        cut: ids of calls whose arguments a truncation cut off.
    """

    def __init__(self) -> None:
        self.done = False
        self.stop_reason: str | None = None
        self.error: str | None = None
        self.cut: list[str] = []

    def feed(self, event: Any) -> list[CallInfo]:
        """Take one event; return the calls it completes (usually none)."""
        raise NotImplementedError  # pragma: no cover - every subclass overrides it

    def _fail(self, error: str) -> list[CallInfo]:
        self.error = error
        self.done = True
        return []


class _CanonicalDecoder(StreamDecoder):
    def __init__(self) -> None:
        super().__init__()
        self._open: dict[int, str] = {}

    def feed(self, event: Any) -> list[CallInfo]:
        kind = type(event)
        if kind is BlockStart and event.call_id is not None:
            self._open[event.index] = event.call_id
        elif kind is CallComplete:
            self._open.pop(event.index, None)
            return [event.call]
        elif kind is Stop:
            self.stop_reason = event.stop_reason
            self.cut.extend(self._open.values())
            self.done = True
        elif kind is StreamError:
            return self._fail(event.error_type)
        return []


def _parse_arguments(call_id: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError as exc:
        raise SimulatorError(
            f"arguments of call {call_id!r} are not valid JSON ({exc.msg} at "
            f"character {exc.pos}): {text!r}; the stream was cut or malformed"
        ) from None
    if not isinstance(value, dict):
        raise SimulatorError(
            f"arguments of call {call_id!r} = {text!r}: must be a JSON object"
        )
    return value


def _is_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False


class _AnthropicDecoder(StreamDecoder):
    """A ``tool_use`` block whose JSON does not parse at its stop is held: a
    ``max_tokens`` stop reason marks it cut; anything else raises."""

    def __init__(self) -> None:
        super().__init__()
        self._open: dict[int, tuple[str, str, list[str]]] = {}
        self._held: tuple[str, str] | None = None

    def feed(self, event: Any) -> list[CallInfo]:
        kind = event.get("type")
        if kind == "content_block_start":
            self._release()
            block = event["content_block"]
            if block.get("type") == "tool_use":
                self._open[event["index"]] = (block["id"], block["name"], [])
        elif kind == "content_block_delta":
            delta = event["delta"]
            if delta.get("type") == "input_json_delta" and event["index"] in self._open:
                self._open[event["index"]][2].append(delta["partial_json"])
        elif kind == "content_block_stop" and event["index"] in self._open:
            return self._stop(event["index"])
        elif kind == "message_delta":
            self.stop_reason = event["delta"].get("stop_reason")
            if self.stop_reason != "max_tokens":
                self._release()
        elif kind == "message_stop":
            self._finish()
        elif kind == "error":
            return self._fail(event["error"].get("type", "error"))
        return []

    def _stop(self, index: int) -> list[CallInfo]:
        call_id, name, parts = self._open.pop(index)
        text = "".join(parts)
        if text and not _is_object(text):
            self._held = (call_id, text)
            return []
        return [CallInfo(call_id, name, _parse_arguments(call_id, text))]

    def _release(self) -> None:
        """A held block was not cut by max_tokens: its JSON is malformed."""
        if self._held is not None:
            _parse_arguments(*self._held)

    def _finish(self) -> None:
        self.done = True
        if self.stop_reason == "max_tokens":
            held = [self._held[0]] if self._held is not None else []
            self.cut.extend(held + [c for c, _, _ in self._open.values()])
            self._held = None
        self._release()


class _ChatDecoder(StreamDecoder):
    """Calls are told apart by index and by id (an index may be reused); at
    ``finish_reason "length"`` or an error chunk, an open call whose arguments
    are not a whole JSON object is cut, not complete."""

    def __init__(self) -> None:
        super().__init__()
        self._index: int | None = None
        self._call: tuple[str, str, list[str]] | None = None

    def _close(self, cut_ok: bool = False) -> list[CallInfo]:
        if self._call is None:
            return []
        call_id, name, parts = self._call
        self._call = self._index = None
        text = "".join(parts)
        if cut_ok and text and not _is_object(text):
            self.cut.append(call_id)
            return []
        return [CallInfo(call_id, name, _parse_arguments(call_id, text))]

    def feed(self, event: Any) -> list[CallInfo]:
        if event.get("error") is not None:
            last = self._close(cut_ok=True)
            self._fail(event["error"].get("type") or "error")
            return last
        choices = event.get("choices") or []
        if not choices:
            return []
        choice = choices[0]
        done: list[CallInfo] = []
        for frag in choice.get("delta", {}).get("tool_calls") or []:
            index = frag.get("index")
            call_id = frag.get("id")
            if self._call is not None and (
                index != self._index or (call_id and call_id != self._call[0])
            ):
                done += self._close()
            if self._call is None:
                name = frag.get("function", {}).get("name", "")
                self._call = (call_id or f"index_{index}", name, [])
                self._index = index
            self._call[2].append(frag.get("function", {}).get("arguments") or "")
        finish = choice.get("finish_reason")
        if finish is not None:
            self.stop_reason = finish
            done += self._close(cut_ok=finish == "length")
            self.done = True
        return done


class _ResponsesDecoder(StreamDecoder):
    def __init__(self) -> None:
        super().__init__()
        self._open: dict[str, str] = {}

    def feed(self, event: Any) -> list[CallInfo]:
        kind = event.get("type")
        if kind == "response.output_item.added":
            item = event["item"]
            if item.get("type") == "function_call":
                self._open[item["id"]] = item["call_id"]
        elif kind == "response.output_item.done":
            item = event["item"]
            if item.get("type") == "function_call":
                self._open.pop(item["id"], None)
                args = _parse_arguments(item["call_id"], item.get("arguments", ""))
                return [CallInfo(item["call_id"], item["name"], args)]
        elif kind in ("response.completed", "response.incomplete"):
            self.stop_reason = kind.rpartition(".")[2]
            self.cut.extend(self._open.values())
            self.done = True
        elif kind == "response.failed":
            return self._fail(event["response"]["error"].get("code", "error"))
        return []


_DECODERS: dict[str, type[StreamDecoder]] = {
    "canonical": _CanonicalDecoder,
    "anthropic": _AnthropicDecoder,
    "openai-chat": _ChatDecoder,
    "openai-responses": _ResponsesDecoder,
}


def decoder_for(wire: str) -> StreamDecoder:
    """A fresh decoder for one turn's stream in format ``wire``.

    Raises:
        SimulatorError: ``wire`` is not a known format.
    """
    try:
        return _DECODERS[wire]()
    except KeyError:
        raise SimulatorError(
            f"wire = {wire!r} is not a stream format; use one of {', '.join(_DECODERS)}"
        ) from None
