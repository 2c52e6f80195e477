"""Claude Code session JSONL: one line per streamed block, results as user lines.

What the format records and what is inferred (see the traces README):

- Lines of ``type == "assistant"`` sharing a ``requestId`` are the blocks of one
  request; each line's timestamp is when that block finished streaming.
- A ``user`` line with a ``tool_result`` gives the tool's end; the request's
  send time is not written and is taken as the latest user line before it (a
  tool result, a prompt or a hook message), or the previous stream end.
- Tool start is not written. 2.1.14 and other versions without overlap start
  tools after the last block (read-only tools together, others one after
  another); versions that overlap (2.1.38, or any log where a result arrives
  before its request's stream ends) start a tool at its block, or at its
  PreToolUse hook's progress line when there is one. ``durationMs`` /
  ``totalDurationMs`` give a start outright when present.
- ``isSidechain`` lines are skipped in a main session; a sub-agent's own log
  holds only sidechain lines and is read whole.
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
from ._lines import Line, TimeCheck, iso_ns
from ._problems import ProblemLog
from ._recorded import AgentStrategy, RecordedSession
from ._safety import guess_safety, path_argument

__all__ = ["parse_claude_code"]

_KINDS: dict[str, BlockKind] = {
    "text": "text",
    "thinking": "thinking",
    "redacted_thinking": "thinking",
    "tool_use": "tool_call",
    "server_tool_use": "tool_call",
}
_HOOK_FEEDBACK = ("Stop hook feedback", "SubagentStop hook feedback")
_OVERLAP_FROM = (2, 1, 38)


@dataclass
class _State:
    """What the parser carries from line to line."""

    log: ProblemLog
    clock: TimeCheck
    segments: list[Segment] = field(default_factory=list)
    open: DraftTurn | None = None
    request_id: str | None = None
    calls: dict[str, DraftCall] = field(default_factory=dict)
    call_lines: dict[str, int] = field(default_factory=dict)
    hooks: dict[str, int] = field(default_factory=dict)
    last_user: int | None = None
    last_end: int | None = None
    hook_messages: int = 0
    result_before_end: bool = False


def parse_claude_code(
    lines: list[Line], log: ProblemLog, source: str
) -> RecordedSession | None:
    """A Claude Code session log as a recorded session (None if no requests)."""
    state = _State(log, TimeCheck(log))
    main = any(_is_entry(line) and not line.data.get("isSidechain") for line in lines)
    for line in lines:
        if main and line.data.get("isSidechain"):
            continue
        _read(state, line)
    _close(state)
    turns = [s for s in state.segments if isinstance(s, DraftTurn)]
    if not turns:
        return None
    report_unanswered(
        state.calls,
        state.call_lines,
        state.log,
        subject="tool call",
        missing="tool_result",
    )
    version = _version(lines)
    overlapped = state.result_before_end or _version_tuple(version) >= _OVERLAP_FROM
    for turn in turns:
        _infer_starts(turn, state.hooks, overlapped=overlapped)
    strategy = _strategy(turns, overlapped=overlapped)
    info = SessionInfo(
        name=f"claude-code-{version}",
        agent="claude-code",
        version=version,
        source=source,
        strategy=strategy,
        notes=_notes(state, strategy, overlapped=overlapped),
    )
    return assemble(state.segments, info)


def _is_entry(line: Line) -> bool:
    """True for the user and assistant lines that make up a conversation."""
    return line.data.get("type") in ("user", "assistant")


def _read(state: _State, line: Line) -> None:
    """Dispatch one line by its type."""
    kind = line.data.get("type")
    if kind == "progress":
        _read_progress(state, line)
        return
    if kind not in ("user", "assistant"):
        return
    ns = iso_ns(line.data.get("timestamp"))
    if ns is None:
        state.log.add(line.number, "no readable 'timestamp' on this entry; skipped")
        return
    ns = state.clock.check(ns, line.number, f"{kind} entry")
    if kind == "assistant":
        _read_assistant(state, line, ns)
    else:
        _read_user(state, line, ns)


def _read_progress(state: _State, line: Line) -> None:
    """Remember when each tool's PreToolUse hook ran (the tool starts then)."""
    data = line.data.get("data")
    if not isinstance(data, dict) or data.get("hookEvent") != "PreToolUse":
        return
    key = line.data.get("toolUseID")
    ns = iso_ns(line.data.get("timestamp"))
    if isinstance(key, str) and ns is not None and key not in state.hooks:
        state.hooks[key] = ns


def _content(line: Line) -> Any:
    """The entry's ``message.content``."""
    message = line.data.get("message")
    return message.get("content") if isinstance(message, dict) else None


def _read_assistant(state: _State, line: Line, ns: int) -> None:
    """A block line: open a new request when the request id changes."""
    message = line.data.get("message")
    message = message if isinstance(message, dict) else {}
    request_id = line.data.get("requestId") or message.get("id") or f"line{line.number}"
    if line.data.get("isApiErrorMessage"):
        _close(state)
        start = state.last_user if state.last_user is not None else ns
        state.segments.append(Excluded(start, ns))
        state.last_end = ns
        return
    if state.open is None or request_id != state.request_id:
        _close(state)
        state.open = DraftTurn(line.number, _send_time(state, ns), "cc.t_req")
        state.request_id = request_id
    content = _content(line)
    for item in content if isinstance(content, list) else []:
        _add_block(state, state.open, item, ns, line.number)
    state.open.t_end, state.open.end_how = ns, "cc.end"


def _send_time(state: _State, first_block: int) -> int:
    """t_req: the latest user line or stream end before the first block."""
    known = [t for t in (state.last_user, state.last_end) if t is not None]
    return min(max(known), first_block) if known else first_block


def _add_block(
    state: _State, turn: DraftTurn, item: object, ns: int, number: int
) -> None:
    """Append one content block (tool calls are also indexed by id)."""
    if not isinstance(item, dict) or item.get("type") not in _KINDS:
        return
    kind = _KINDS[str(item["type"])]
    chars = _block_chars(item)
    call = None
    if kind == "tool_call":
        key = str(item.get("id", f"line{number}"))
        if key in state.calls:
            return
        name = str(item.get("name", "unknown"))
        args = item.get("input")
        call = DraftCall(key, name, ns, "cc.block", path_argument(args))
        call.safety = guess_safety(name)
        state.calls[key] = call
        state.call_lines[key] = number
    if any(c.t_done is not None for c in turn.calls):
        state.result_before_end = True
    turn.blocks.append(DraftBlock(kind, ns, "cc.block", chars, call))


def _block_chars(item: dict[str, Any]) -> int:
    """The block's length in characters: its text, thinking or arguments."""
    for key in ("text", "thinking", "data"):
        if isinstance(item.get(key), str):
            return len(item[key])
    return len(json.dumps(item.get("input", {}), ensure_ascii=False))


def _read_user(state: _State, line: Line, ns: int) -> None:
    """Tool results, human prompts and harness (hook) messages."""
    content = _content(line)
    results = [
        item
        for item in (content if isinstance(content, list) else [])
        if isinstance(item, dict) and item.get("type") == "tool_result"
    ]
    if results:
        for item in results:
            _read_result(state, line, item, ns)
    elif _is_harness_message(line, content):
        state.hook_messages += 1
    else:
        _close(state)
        state.segments.append(Prompt(ns))
    state.last_user = ns


def _is_harness_message(line: Line, content: object) -> bool:
    """Hook feedback and meta lines are written by the harness, not a human."""
    if line.data.get("isMeta"):
        return True
    text = content if isinstance(content, str) else ""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        text = str(content[0].get("text", ""))
    return text.startswith(_HOOK_FEEDBACK)


def _read_result(state: _State, line: Line, item: dict[str, Any], ns: int) -> None:
    """Pair a tool result with its call and record the call's end."""
    key = str(item.get("tool_use_id", ""))
    call = state.calls.get(key)
    if call is None:
        state.log.add(
            line.number,
            f"tool result for call id {key!r} has no matching tool_use block earlier "
            f"in this file; the result was skipped. The log may be cut at the start "
            f"or mix two sessions.",
        )
        return
    if call.t_done is not None:
        return
    call.t_done, call.done_how = ns, "cc.result"
    call.result_chars = _result_chars(item.get("content"))
    if item.get("is_error"):
        call.outcome = "error"
    duration = _duration_ms(line.data.get("toolUseResult"))
    if duration is not None:
        call.t_start, call.start_how = ns - duration * 1_000_000, "cc.result"


def _result_chars(content: object) -> int:
    """A result's length in characters."""
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(str(c.get("text", ""))) for c in content if isinstance(c, dict))
    return 0


def _duration_ms(result: object) -> int | None:
    """``durationMs`` (Glob, Grep) or ``totalDurationMs`` (Task), if given."""
    if not isinstance(result, dict):
        return None
    for key in ("durationMs", "totalDurationMs"):
        value = result.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def _close(state: _State) -> None:
    """Finish the open request, if any."""
    if state.open is None:
        return
    turn = state.open
    state.segments.append(turn)
    state.last_end = turn.t_end
    state.open = None
    state.request_id = None


def _infer_starts(turn: DraftTurn, hooks: dict[str, int], *, overlapped: bool) -> None:
    """Fill in each call's start as the agent version is known to schedule."""
    if overlapped:
        for call in turn.calls:
            _start_overlapped(call, hooks)
        return
    ready = turn.t_end
    batch: list[DraftCall] = []
    for call in turn.calls:
        if batch and (call.safety == "exclusive" or batch[0].safety == "exclusive"):
            ready = max([ready, *(_end(c) for c in batch)])
            batch = []
        _start_at(call, ready, "cc.after_stream")
        batch.append(call)


def _start_overlapped(call: DraftCall, hooks: dict[str, int]) -> None:
    """2.1.38: the hook line, else the call's own block."""
    hook = hooks.get(call.key)
    if hook is not None and hook >= call.t_arg and call.start_how != "cc.result":
        call.t_start, call.start_how = hook, "cc.hook"
        return
    _start_at(call, call.t_arg, "cc.at_block")


def _start_at(call: DraftCall, ready: int, how: str) -> None:
    """Start at ``ready`` unless a recorded duration places the start later."""
    if call.start_how == "cc.result" and call.t_start is not None:
        if call.t_start >= ready:
            return
    call.t_start, call.start_how = ready, how


def _end(call: DraftCall) -> int:
    """The call's end, or its start when it never returned."""
    if call.t_done is not None:
        return call.t_done
    return call.t_start if call.t_start is not None else call.t_arg


def _version(lines: list[Line]) -> str:
    """The ``version`` the entries carry, or ``"unknown"``."""
    for line in lines:
        value = line.data.get("version")
        if isinstance(value, str) and value:
            return value
    return "unknown"


def _version_tuple(version: str) -> tuple[int, ...]:
    """``"2.1.38"`` as ``(2, 1, 38)``; unreadable parts count as 0."""
    parts = []
    for part in version.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _strategy(turns: list[DraftTurn], *, overlapped: bool) -> AgentStrategy:
    """Overlapped; else parallel if read-only calls ever ran together."""
    if overlapped:
        return "overlapped"
    for turn in turns:
        calls = turn.calls
        for a, b in zip(calls, calls[1:], strict=False):
            if a.safety == b.safety == "shared":
                return "parallel"
    return "sequential"


def _notes(state: _State, strategy: str, *, overlapped: bool) -> tuple[str, ...]:
    """What this import inferred."""
    notes = ["cc.t_req", "ttft.first_block", "cc.end", "cc.tokens"]
    notes.append("cc.start_2138" if overlapped else "cc.start_2114")
    if strategy == "sequential":
        notes.append("cc.strategy_2114")
    if state.hook_messages:
        notes.append("cc.hook_feedback")
    notes += ["safety.names", "results.chars"]
    return tuple(notes)
