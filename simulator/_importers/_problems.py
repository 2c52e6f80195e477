"""Skipped input, reported to people instead of raised.

An importer never stops at the first bad line. Each thing it has to leave out
becomes a :class:`Problem` naming the file, the line and what was skipped; the
rest of the file is still imported. Only when nothing at all can be imported does
the caller raise :class:`simulator.TraceImportError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Problem", "ProblemLog"]


@dataclass(frozen=True)
class Problem:
    """One piece of input that was skipped or repaired.

    Attributes:
        file: the file (or directory) the problem is in, as given.
        line: 1-based line number; 0 when the problem concerns the whole file.
        message: what is wrong, what was skipped, and what to do about it.
    """

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass
class ProblemLog:
    """Collects the problems of one file while it is imported.

    Attributes:
        file: the file being read, used in every problem it records.
        problems: the problems recorded so far, in the order found.
    """

    file: str
    problems: list[Problem] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        """Record that something at ``line`` (0: the whole file) was skipped."""
        self.problems.append(Problem(self.file, line, message))
