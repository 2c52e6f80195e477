"""Safety classes guessed from tool names, and stand-ins for file paths."""

from __future__ import annotations

from collections.abc import Mapping

from .._scenario import Safety

__all__ = ["Resources", "codex_safety", "guess_safety", "path_argument"]

_SHARED_WORDS = ("read", "grep", "glob", "search", "find", "list", "view", "fetch")
_SHARED_NAMES = frozenset({"ls", "cat", "get"})
_PATH_KEYS = ("file_path", "path", "notebook_path", "filePath", "filename", "file")
_CODEX_EXCLUSIVE_WORDS = ("patch",)


def guess_safety(name: str) -> Safety:
    """``"shared"`` for read-like tool names, ``"exclusive"`` for the rest.

    Read, Grep, Glob, LS, WebFetch and names containing read, grep, glob,
    search, find, list, view or fetch are shared. Write, Edit, Bash, Task,
    TodoWrite and unknown tools are exclusive, as a harness that does not know a
    tool must assume it changes something.
    """
    low = name.lower()
    if low in _SHARED_NAMES or any(word in low for word in _SHARED_WORDS):
        return "shared"
    return "exclusive"


def codex_safety(name: str) -> Safety:
    """Codex's classes: function tools (exec_command, write_stdin, ...) run in
    parallel, patches alone."""
    low = name.lower()
    if any(word in low for word in _CODEX_EXCLUSIVE_WORDS):
        return "exclusive"
    return "shared"


def path_argument(args: object) -> str | None:
    """The file path a call's arguments name, if any (used only for numbering)."""
    if not isinstance(args, Mapping):
        return None
    for key in _PATH_KEYS:
        value = args.get(key)
        if isinstance(value, str) and value:
            return value
    return None


class Resources:
    """Numbers the files a session touches: ``file#1``, ``file#2``, ...

    The real paths stay in memory during the import only; what is kept is the
    stand-in, so two calls on the same file still conflict.
    """

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def stand_in(self, path: str | None) -> str | None:
        """The stand-in for ``path`` (None stays None)."""
        if path is None:
            return None
        if path not in self._names:
            self._names[path] = f"file#{len(self._names) + 1}"
        return self._names[path]
