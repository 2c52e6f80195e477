"""Which agent wrote a log, judged from its content (never its file name)."""

from __future__ import annotations

from typing import Literal

from ._lines import Line

__all__ = ["Format", "detect_format"]

Format = Literal["claude-code", "pi", "codex"]

_LOOK_AT = 50
_CLAUDE_TYPES = ("user", "assistant", "progress", "system", "summary")
_CODEX_TYPES = ("session_meta", "response_item", "turn_context", "event_msg")


def detect_format(lines: list[Line]) -> Format | None:
    """The format of the first recognisable line among the first 50, or None.

    - Codex: ``{timestamp, type, payload}`` with a Codex line type.
    - pi: a ``session`` header, or ``message`` entries holding a role.
    - Claude Code: ``user``/``assistant``/... entries with ``sessionId`` or
      ``uuid``.
    """
    for line in lines[:_LOOK_AT]:
        found = _format_of(line.data)
        if found is not None:
            return found
    return None


def _format_of(data: dict[str, object]) -> Format | None:
    """The format one entry belongs to, if it is telling."""
    kind = data.get("type")
    if kind in _CODEX_TYPES and "payload" in data:
        return "codex"
    message = data.get("message")
    if kind == "session" and "id" in data and "payload" not in data:
        return "pi"
    if kind == "message" and isinstance(message, dict) and "role" in message:
        return "pi"
    if kind in _CLAUDE_TYPES and ("sessionId" in data or "uuid" in data):
        return "claude-code"
    return None
