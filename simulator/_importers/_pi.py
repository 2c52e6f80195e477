"""pi session JSONL: one entry per message.

What the format records and what is inferred (see the traces README):

- An assistant message's own ``timestamp`` (epoch ms) is the request's send
  time; the entry's ISO ``timestamp`` is the stream end. Messages whose
  ``stopReason`` is ``aborted`` or ``error`` are kept out, with a count.
- Each ``toolResult`` message's own timestamp is its tool's end. pi ran tools
  one after another after the stream: the first starts at the stream end, each
  next one at the previous result.
- Time to first token and block completion are not recorded. The time to first
  token is estimated once per session as the intercept of a least-squares fit
  of request duration against output tokens; blocks are then placed by their
  character offset between that point and the stream end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .._scenario import BlockKind
from ._assemble import (
    DraftBlock,
    DraftCall,
    DraftTurn,
    Excluded,
    Prompt,
    Segment,
    SessionInfo,
    assemble,
    report_unanswered,
)
from ._lines import Line, TimeCheck, epoch_ms_ns, iso_ns
from ._problems import ProblemLog
from ._recorded import RecordedSession
from ._safety import guess_safety, path_argument

__all__ = ["fit_first_token", "parse_pi"]

_KINDS: dict[str, BlockKind] = {
    "text": "text",
    "thinking": "thinking",
    "toolCall": "tool_call",
}
_LEFT_OUT = ("aborted", "error")


@dataclass
class _Pending:
    """A kept request whose blocks are placed once the session is read."""

    turn: DraftTurn
    chars: list[tuple[BlockKind, int, DraftCall | None]]


@dataclass
class _State:
    """What the parser carries from line to line."""

    log: ProblemLog
    clock: TimeCheck
    segments: list[Segment] = field(default_factory=list)
    pending: list[_Pending] = field(default_factory=list)
    calls: dict[str, DraftCall] = field(default_factory=dict)
    call_lines: dict[str, int] = field(default_factory=dict)
    left_out: set[str] = field(default_factory=set)
    floor: int = 0


def parse_pi(lines: list[Line], log: ProblemLog, source: str) -> RecordedSession | None:
    """A pi session log as a recorded session (None if no requests)."""
    state = _State(log, TimeCheck(log))
    for line in lines:
        if line.data.get("type") == "message":
            _read_message(state, line)
    if not state.pending:
        return None
    report_unanswered(
        state.calls,
        state.call_lines,
        state.log,
        subject="tool call",
        missing="toolResult",
    )
    ttft = fit_first_token(
        [
            (p.turn.t_end - p.turn.t_req, p.turn.output_tokens or 0)
            for p in state.pending
        ]
    )
    for pending in state.pending:
        _place_blocks(pending, ttft)
        _infer_starts(pending.turn)
    info = SessionInfo(
        name="pi",
        agent="pi",
        version=_version(lines),
        source=source,
        strategy="sequential",
        notes=(
            "ttft.fit",
            "pi.blocks",
            "pi.start",
            "pi.tokens",
            "safety.names",
            "results.chars",
        ),
    )
    return assemble(state.segments, info)


def _read_message(state: _State, line: Line) -> None:
    """Dispatch one message entry by role."""
    message = line.data.get("message")
    if not isinstance(message, dict):
        state.log.add(line.number, "message entry without a 'message' object; skipped")
        return
    role = message.get("role")
    outer = iso_ns(line.data.get("timestamp"))
    if outer is None:
        state.log.add(
            line.number, f"{role} entry without a readable timestamp; skipped"
        )
        return
    outer = state.clock.check(outer, line.number, f"{role} entry's timestamp")
    inner = epoch_ms_ns(message.get("timestamp"))
    inner = outer if inner is None else inner
    if role == "user":
        state.segments.append(Prompt(inner))
    elif role == "assistant":
        _read_assistant(state, line, message, inner, outer)
    elif role == "toolResult":
        _read_result(state, line, message, inner)
        state.floor = max(state.floor, inner)


def _read_assistant(
    state: _State, line: Line, message: dict[str, Any], t_req: int, t_end: int
) -> None:
    """A request: kept, or left out when it was aborted or failed."""
    how = "pi.t_req"
    if t_req < state.floor:
        t_req, how = state.floor, "queued"
    t_end = max(t_end, t_req)
    state.floor = t_end
    content = message.get("content")
    items = (
        [c for c in content if isinstance(c, dict)] if isinstance(content, list) else []
    )
    if message.get("stopReason") in _LEFT_OUT:
        state.left_out.update(
            str(c.get("id")) for c in items if c.get("type") == "toolCall"
        )
        state.segments.append(Excluded(t_req, t_end))
        return
    turn = DraftTurn(line.number, t_req, how, t_end=t_end, end_how="pi.t_end")
    usage = message.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("output"), int):
        turn.output_tokens = usage["output"]
    chars = [_block(state, item, t_req, line.number) for item in items]
    state.pending.append(_Pending(turn, [c for c in chars if c is not None]))
    state.segments.append(turn)


def _block(
    state: _State, item: dict[str, Any], t_req: int, number: int
) -> tuple[BlockKind, int, DraftCall | None] | None:
    """A block's kind, length and call (placed in time later)."""
    kind = _KINDS.get(str(item.get("type")))
    if kind is None:
        return None
    if kind != "tool_call":
        return kind, len(str(item.get(item["type"], ""))), None
    key = str(item.get("id", f"line{number}"))
    name = str(item.get("name", "unknown"))
    args = item.get("arguments")
    chars = len(json.dumps(args, ensure_ascii=False))
    call = DraftCall(key, name, t_req, "pi.block", path_argument(args))
    call.safety = guess_safety(name)
    state.calls[key] = call
    state.call_lines[key] = number
    return kind, chars, call


def _read_result(state: _State, line: Line, message: dict[str, Any], ns: int) -> None:
    """Pair a result with its call and record the call's end."""
    key = str(message.get("toolCallId", ""))
    call = state.calls.get(key)
    if call is None:
        if key not in state.left_out:
            state.log.add(
                line.number,
                f"toolResult for call id {key!r} has no matching toolCall earlier in "
                f"this file; the result was skipped.",
            )
        return
    if call.t_done is not None:
        return
    call.t_done, call.done_how = ns, "pi.result"
    content = message.get("content")
    if isinstance(content, list):
        call.result_chars = sum(
            len(str(c.get("text", ""))) for c in content if isinstance(c, dict)
        )
    if message.get("isError"):
        call.outcome = "error"


def fit_first_token(samples: list[tuple[int, int]]) -> int:
    """Time to first token (ns): the intercept of duration ~ a + tokens / rate.

    Args:
        samples: (request duration in ns, output tokens) per request.

    Returns:
        The least-squares intercept, at least 0 (each request then uses at most
        its own duration); 0 when there are fewer than three samples or the
        token counts do not vary.
    """
    if len(samples) < 3:
        return 0
    n = len(samples)
    mean_d = sum(d for d, _ in samples) / n
    mean_t = sum(t for _, t in samples) / n
    var_t = sum((t - mean_t) ** 2 for _, t in samples)
    if var_t == 0:
        return 0
    slope = sum((t - mean_t) * (d - mean_d) for d, t in samples) / var_t
    return max(0, round(mean_d - slope * mean_t))


def _place_blocks(pending: _Pending, ttft: int) -> None:
    """Place each block by character offset after the estimated first token."""
    turn = pending.turn
    span = turn.t_end - turn.t_req
    first = min(ttft, span)
    total = sum(chars for _, chars, _ in pending.chars) or 1
    tokens = turn.output_tokens
    done = 0
    for kind, chars, call in pending.chars:
        done += chars
        at = turn.t_req + first + (span - first) * done // total
        share = None if tokens is None else round(tokens * chars / total)
        turn.blocks.append(DraftBlock(kind, at, "pi.block", chars, call, share))
        if call is not None:
            call.t_arg = at
    turn.ttft = first


def _infer_starts(turn: DraftTurn) -> None:
    """pi ran tools one after another after the stream."""
    ready = turn.t_end
    for call in turn.calls:
        call.t_start, call.start_how = ready, "pi.after_previous"
        if call.t_done is not None:
            ready = max(ready, call.t_done)


def _version(lines: list[Line]) -> str:
    """The session header's ``version``, if it has one."""
    for line in lines:
        if line.data.get("type") == "session":
            value = line.data.get("version")
            return str(value) if value is not None else "unknown"
    return "unknown"
