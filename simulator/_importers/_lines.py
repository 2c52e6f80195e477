"""Reading a JSON Lines log: decompression, bad lines, timestamps.

Every line that cannot be used becomes a :class:`Problem`; the good lines are
returned. A ``.gz`` file is recognised by its magic bytes, not its name.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._problems import ProblemLog

__all__ = ["Line", "TimeCheck", "epoch_ms_ns", "iso_ns", "read_lines", "read_text"]

_GZIP_MAGIC = b"\x1f\x8b"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SHOWN = 60


@dataclass(frozen=True)
class Line:
    """One JSON object from the log and its 1-based line number."""

    number: int
    data: dict[str, Any]


def read_text(path: Path, log: ProblemLog) -> str:
    """The file's text, decompressed when it is gzip data.

    A compressed file that ends early yields what could be read, and a problem.
    """
    raw = path.read_bytes()
    if not raw.startswith(_GZIP_MAGIC):
        return raw.decode("utf-8", errors="replace")
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(raw)
    except zlib.error as exc:
        log.add(0, f"gzip data is damaged ({exc}); the file was skipped")
        return ""
    if not inflater.eof:
        log.add(
            0,
            "gzip data ends early (the file was cut short); the lines that could be "
            "read were imported. Copy the file again once the agent has finished.",
        )
    return data.decode("utf-8", errors="replace")


def read_lines(text: str, log: ProblemLog) -> list[Line]:
    """Parse each non-blank line as a JSON object; report and skip the rest."""
    parts = text.split("\n")
    last = len(parts)
    lines = []
    for number, part in enumerate(parts, start=1):
        if not part.strip():
            continue
        try:
            data = json.loads(part)
        except json.JSONDecodeError as exc:
            log.add(number, _bad_line(part, exc, cut=number == last))
            continue
        if not isinstance(data, dict):
            log.add(number, f"a {type(data).__name__} is not a log entry; skipped")
            continue
        lines.append(Line(number, data))
    return lines


def _bad_line(part: str, exc: json.JSONDecodeError, *, cut: bool) -> str:
    """The message for a line that is not JSON."""
    shown = part[:_SHOWN] + ("..." if len(part) > _SHOWN else "")
    if cut:
        return (
            f"the last line is cut short ({len(part)} characters, no newline, not "
            f"valid JSON: {exc.msg}, column {exc.colno}); it was skipped. The log "
            f"was probably copied while the agent was still writing it."
        )
    return f"not JSON ({exc.msg}, column {exc.colno}): {shown!r}; line skipped"


def iso_ns(value: object) -> int | None:
    """An ISO-8601 timestamp as integer nanoseconds since the epoch, or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    seconds = delta.days * 86_400 + delta.seconds
    return seconds * 1_000_000_000 + delta.microseconds * 1_000


def epoch_ms_ns(value: object) -> int | None:
    """Epoch milliseconds (an int) as integer nanoseconds, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(value * 1_000_000)


class TimeCheck:
    """Keeps the times an importer uses in order.

    A time earlier than the last one accepted is reported as a problem and
    replaced by the last one, so that every later computation sees time move
    forward.
    """

    def __init__(self, log: ProblemLog) -> None:
        self._log = log
        self._last: int | None = None
        self._last_line = 0

    def check(self, ns: int, line: int, what: str) -> int:
        """``ns`` if it does not go back in time, else the last accepted time."""
        if self._last is not None and ns < self._last:
            back = (self._last - ns) / 1e9
            self._log.add(
                line,
                f"timestamp goes backwards: the {what} is {back:.3f} s earlier than "
                f"line {self._last_line}; its own time was skipped and line "
                f"{self._last_line}'s time used instead. Check that the lines are "
                f"in the order they were written.",
            )
            return self._last
        self._last = ns
        self._last_line = line
        return ns
