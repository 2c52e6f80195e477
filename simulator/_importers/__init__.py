"""Importers for real agent session logs: Claude Code, pi and Codex.

``import_path`` reads a file (plain or gzip), or every file in a directory, and
returns the sessions it found with the problems it met. Bad input never raises
a traceback: each skipped piece becomes a :class:`Problem`; only when nothing at
all can be imported does it raise :class:`simulator.TraceImportError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import TraceImportError
from ._claude_code import parse_claude_code
from ._codex import parse_codex
from ._detect import Format, detect_format
from ._fidelity import Fidelity, fidelity
from ._lines import Line, read_lines, read_text
from ._pi import parse_pi
from ._problems import Problem, ProblemLog
from ._recorded import (
    HOW,
    NOTES,
    AgentStrategy,
    RecordedBlock,
    RecordedCall,
    RecordedSession,
    RecordedTurn,
    Stamp,
)

__all__ = [
    "HOW",
    "NOTES",
    "AgentStrategy",
    "Fidelity",
    "ImportResult",
    "Problem",
    "RecordedBlock",
    "RecordedCall",
    "RecordedSession",
    "RecordedTurn",
    "Stamp",
    "fidelity",
    "import_path",
    "import_paths",
]

_Parser = Callable[[list[Line], ProblemLog, str], RecordedSession | None]
_PARSERS: dict[Format, _Parser] = {
    "claude-code": parse_claude_code,
    "codex": parse_codex,
    "pi": parse_pi,
}


@dataclass(frozen=True)
class ImportResult:
    """What an import produced.

    Attributes:
        sessions: the sessions read, in file order.
        problems: everything skipped or repaired, each naming file and line.
        ignored: files in a directory that are not JSON Lines (a README, say),
            left out without counting as a problem.
    """

    sessions: list[RecordedSession]
    problems: list[Problem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> bool:
        """True when anything in the input was skipped or repaired."""
        return bool(self.problems)


def import_path(path: str | os.PathLike[str]) -> ImportResult:
    """Import one log file, or every log in a directory (sorted).

    Raises:
        TraceImportError: nothing at all could be imported; the message lists
            each problem with its file and line.
    """
    return import_paths([path])


def import_paths(paths: Sequence[str | os.PathLike[str]]) -> ImportResult:
    """Import several files or directories; see :func:`import_path`."""
    sessions: list[RecordedSession] = []
    problems: list[Problem] = []
    ignored: list[str] = []
    for given in paths:
        for file, in_directory in _files(Path(given), problems):
            session = _import_file(file, problems, ignored, in_directory=in_directory)
            if session is not None:
                sessions.append(session)
    if not sessions:
        raise TraceImportError(_nothing_message(paths, problems))
    return ImportResult(sessions, problems, ignored)


def _files(path: Path, problems: list[Problem]) -> list[tuple[Path, bool]]:
    """The files to read for one given path, each flagged if it came from a
    directory."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        files = [p for p in files if not any(part.startswith(".") for part in p.parts)]
        if not files:
            problems.append(
                Problem(str(path), 0, "the directory holds no files; nothing to import")
            )
        return [(p, True) for p in files]
    if not path.exists():
        problems.append(
            Problem(
                str(path),
                0,
                "no such file or directory; check the path (it is read relative to "
                f"{Path.cwd()})",
            )
        )
        return []
    return [(path, False)]


def _import_file(
    path: Path, problems: list[Problem], ignored: list[str], *, in_directory: bool
) -> RecordedSession | None:
    """One file: read, detect, parse; problems go into ``problems``."""
    log = ProblemLog(str(path))
    try:
        text = read_text(path, log)
    except OSError as exc:
        log.add(0, f"cannot be read ({exc.strerror or exc}); skipped")
        problems.extend(log.problems)
        return None
    if in_directory and not text.strip() and path.suffix in (".jsonl", ".json"):
        # a log file with nothing in it: say so rather than pass it over
        log.add(0, "the file is empty; nothing to import")
        problems.extend(log.problems)
        return None
    if in_directory and not text.lstrip().startswith("{"):
        ignored.append(str(path))
        return None
    lines = read_lines(text, log)
    session = _parse(path, lines, log)
    problems.extend(log.problems)
    return session


def _parse(path: Path, lines: list[Line], log: ProblemLog) -> RecordedSession | None:
    """Detect the format and run its parser."""
    if not lines:
        log.add(0, "no JSON entries in this file; nothing to import")
        return None
    fmt = detect_format(lines)
    if fmt is None:
        log.add(
            0,
            "format not recognised: expected a Claude Code session (entries with "
            "type user/assistant and a sessionId), a pi session (type session or "
            "message entries) or a Codex rollout ({timestamp, type, payload} "
            "lines); the file was skipped",
        )
        return None
    session = _PARSERS[fmt](lines, log, path.name)
    if session is None:
        log.add(
            0,
            f"no model requests found in this {fmt} log ({len(lines)} entries read); "
            f"the file was skipped",
        )
    return session


def _nothing_message(
    paths: Sequence[str | os.PathLike[str]], problems: list[Problem]
) -> str:
    """The error text when no session could be imported at all."""
    given = ", ".join(str(p) for p in paths) or "(no paths given)"
    lines = "\n".join(f"  - {p}" for p in problems) or "  - no log files found"
    return f"nothing could be imported from {given}:\n{lines}"
