"""Codex rollout JSONL: ``{timestamp, type, payload}`` lines.

What the format records and what is inferred (see the traces README):

- Each ``turn_context`` line opens one sampling request (its send time).
- ``response_item`` lines for output items are written when the item is done:
  a ``function_call`` line is its call complete. Text is redacted but its
  length (``len=N``) survives and stands in for size.
- The ``token_count`` event with new usage totals marks the stream end.
- ``function_call_output`` lines are written after the stream ends and in call
  order, so a tool's end is recorded only when its output line comes after the
  stream end and after the previous output; otherwise it is an upper bound.
- Codex dispatches a call as soon as its item is done (overlapped) and runs its
  function tools in parallel, so a tool starts at its call complete.
"""

from __future__ import annotations

import re
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
from ._lines import Line, TimeCheck, iso_ns
from ._problems import ProblemLog
from ._recorded import RecordedSession
from ._safety import codex_safety

__all__ = ["parse_codex"]

_LENGTH = re.compile(r"len=(\d+)")
_CALLS = ("function_call", "custom_tool_call", "local_shell_call")
_OUTPUTS = ("function_call_output", "custom_tool_call_output")
_KINDS: dict[str, BlockKind] = {
    "reasoning": "thinking",
    "message": "text",
    "web_search_call": "text",
    **{name: "tool_call" for name in _CALLS},
}


@dataclass
class _State:
    """What the parser carries from line to line."""

    log: ProblemLog
    clock: TimeCheck
    segments: list[Segment] = field(default_factory=list)
    open: DraftTurn | None = None
    ended: bool = False
    reasoning_tokens: int = 0
    totals: object = None
    calls: dict[str, DraftCall] = field(default_factory=dict)
    call_lines: dict[str, int] = field(default_factory=dict)
    last_output: int = 0


def parse_codex(
    lines: list[Line], log: ProblemLog, source: str
) -> RecordedSession | None:
    """A Codex rollout as a recorded session (None if no requests)."""
    state = _State(log, TimeCheck(log))
    for line in lines:
        _read(state, line)
    _close(state)
    if not any(isinstance(s, DraftTurn) for s in state.segments):
        return None
    report_unanswered(
        state.calls, state.call_lines, state.log, subject="call", missing="output line"
    )
    version = _version(lines)
    info = SessionInfo(
        name=f"codex-{version}",
        agent="codex",
        version=version,
        source=source,
        strategy="overlapped",
        notes=(
            "ttft.first_block",
            "codex.start",
            "codex.end",
            "codex.tokens",
            "safety.codex",
            "results.chars",
        ),
    )
    return assemble(state.segments, info, safety=codex_safety)


def _read(state: _State, line: Line) -> None:
    """Dispatch one line by its type and payload type."""
    kind = line.data.get("type")
    payload = line.data.get("payload")
    if kind not in ("turn_context", "response_item", "event_msg"):
        return
    if not isinstance(payload, dict):
        state.log.add(line.number, f"{kind} line without a payload object; skipped")
        return
    ns = iso_ns(line.data.get("timestamp"))
    if ns is None:
        state.log.add(line.number, f"{kind} line without a readable timestamp; skipped")
        return
    ns = state.clock.check(ns, line.number, f"{kind} line")
    if kind == "turn_context":
        _close(state)
        state.open = DraftTurn(line.number, ns, "codex.t_req")
        state.ended = False
    elif kind == "event_msg":
        _read_event(state, payload, ns)
    else:
        _read_item(state, line, payload, ns)


def _read_event(state: _State, payload: dict[str, Any], ns: int) -> None:
    """Prompts, the stream end (new usage) and aborted turns."""
    kind = payload.get("type")
    if kind == "user_message":
        _close(state)
        state.segments.append(Prompt(ns))
    elif kind == "turn_aborted" and state.open is not None:
        state.segments.append(Excluded(state.open.t_req, ns))
        state.open = None
    elif kind == "token_count":
        _read_usage(state, payload.get("info"), ns)


def _read_usage(state: _State, info: object, ns: int) -> None:
    """A token_count with new totals ends the open request's stream."""
    if not isinstance(info, dict):
        return
    totals = info.get("total_token_usage")
    if totals == state.totals:
        return
    state.totals = totals
    turn = state.open
    if turn is None or state.ended:
        return
    last = info.get("last_token_usage")
    if isinstance(last, dict):
        out = last.get("output_tokens")
        turn.output_tokens = out if isinstance(out, int) else None
        reasoning = last.get("reasoning_output_tokens")
        state.reasoning_tokens = reasoning if isinstance(reasoning, int) else 0
    turn.t_end, turn.end_how = ns, "codex.t_end"
    state.ended = True


def _read_item(state: _State, line: Line, payload: dict[str, Any], ns: int) -> None:
    """Output items become blocks; outputs end their calls."""
    kind = str(payload.get("type"))
    if kind in _OUTPUTS:
        _read_output(state, line, payload, ns)
        return
    turn = state.open
    if kind not in _KINDS or turn is None or state.ended:
        return
    if kind == "message" and payload.get("role") != "assistant":
        return
    chars = _chars(payload)
    call = None
    if _KINDS[kind] == "tool_call":
        key = str(payload.get("call_id", f"line{line.number}"))
        name = str(payload.get("name", kind))
        call = DraftCall(key, name, ns, "codex.item")
        call.t_start, call.start_how = ns, "codex.at_item"
        state.calls[key] = call
        state.call_lines[key] = line.number
    turn.blocks.append(DraftBlock(_KINDS[kind], ns, "codex.item", chars, call))


def _chars(payload: dict[str, Any]) -> int:
    """The item's size: the redacted ``len=N`` values, else its text length."""
    text = str(
        payload.get("arguments")
        or payload.get("input")
        or payload.get("content")
        or payload.get("summary")
        or ""
    )
    lengths = [int(n) for n in _LENGTH.findall(text)]
    return sum(lengths) if lengths else len(text)


def _read_output(state: _State, line: Line, payload: dict[str, Any], ns: int) -> None:
    """Pair an output with its call: a recorded end or an upper bound."""
    key = str(payload.get("call_id", ""))
    call = state.calls.get(key)
    if call is None:
        state.log.add(
            line.number,
            f"{payload.get('type')} for call id {key!r} has no matching call earlier "
            f"in this file; the output was skipped.",
        )
        return
    if call.t_done is not None:
        return
    turn_end = _turn_end_of(state, call)
    exact = ns > turn_end and ns > state.last_output
    call.t_done = ns
    call.done_how = "codex.output" if exact else "codex.output_bound"
    call.result_chars = _chars({"content": payload.get("output")})
    state.last_output = ns


def _turn_end_of(state: _State, call: DraftCall) -> int:
    """The stream end of the request the call belongs to (its t_arg if open)."""
    turn = state.open
    if turn is not None and call in turn.calls and state.ended:
        return turn.t_end
    return call.t_arg


def _close(state: _State) -> None:
    """Finish the open request: kept if it streamed anything, else left out."""
    turn = state.open
    if turn is None:
        return
    state.open = None
    if not turn.blocks:
        end = turn.t_end if state.ended else turn.t_req
        state.segments.append(Excluded(turn.t_req, end))
        return
    if not state.ended:
        turn.t_end, turn.end_how = turn.blocks[-1].t_done, "codex.item"
    _split_reasoning(turn, state.reasoning_tokens if state.ended else 0)
    state.segments.append(turn)


def _split_reasoning(turn: DraftTurn, reasoning: int) -> None:
    """Reasoning blocks share the request's reasoning tokens evenly."""
    thinking = [b for b in turn.blocks if b.kind == "thinking"]
    for block in thinking:
        block.tokens = reasoning // len(thinking)


def _version(lines: list[Line]) -> str:
    """``session_meta.payload.cli_version``, or ``"unknown"``."""
    for line in lines:
        payload = line.data.get("payload")
        if line.data.get("type") == "session_meta" and isinstance(payload, dict):
            return str(payload.get("cli_version", "unknown"))
    return "unknown"
