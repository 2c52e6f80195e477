"""Lists of blocked tasks for deadlock and watchdog messages, on both backends."""

from __future__ import annotations

import asyncio
import os
import types
from collections.abc import Iterator
from typing import Any

import trio

__all__ = ["blocked_tasks"]

_LIBRARY_DIRS = tuple(
    os.path.dirname(module.__file__ or "") + os.sep
    for module in (asyncio, trio, __import__("anyio"))
)
_SELF_DIR = os.path.dirname(__file__) + os.sep
# anyio.sleep's fast paths count as part of anyio
_SLEEP_FILE = os.path.join(os.path.dirname(__file__), "_sleep.py")
_LOOP_FILE = os.path.join(os.path.dirname(__file__), "_asyncio_loop.py")


def _is_fast_sleep(frame: types.FrameType) -> bool:
    """Whether ``frame`` is the engine's ``anyio.sleep`` (simulator._sleep)."""
    filename = frame.f_code.co_filename
    return filename == _SLEEP_FILE or (
        filename == _LOOP_FILE and frame.f_code.co_name == "anyio_sleep"
    )


def blocked_tasks(backend: str, exclude: set[str]) -> list[str]:
    """One line per live task: its name and the user-code line it waits at."""
    if backend == "trio":
        tasks = [(t.name, _trio_frames(t)) for t in _trio_tasks()]
    else:
        tasks = [
            (t.get_name(), _coro_frames(t.get_coro()))
            for t in asyncio.all_tasks()
            if not t.done()
        ]
    lines = []
    for name, frames in tasks:
        if name in exclude or name.startswith("<"):
            continue
        where = _user_frame(frames)
        if where is None:
            continue
        lines.append(f"task {name!r} waiting at {where}")
    return sorted(lines)


def _trio_tasks() -> Iterator[trio.lowlevel.Task]:
    pending = [trio.lowlevel.current_root_task()]
    while pending:
        task = pending.pop()
        if task is None:
            continue
        yield task
        for nursery in task.child_nurseries:
            pending.extend(nursery.child_tasks)


def _trio_frames(task: trio.lowlevel.Task) -> list[types.FrameType]:
    return [frame for frame, _ in task.iter_await_frames()]


def _coro_frames(coro: Any) -> list[types.FrameType]:
    frames = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        frames.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return frames


def _user_frame(frames: list[types.FrameType]) -> str | None:
    """Where a task waits: its innermost frame outside asyncio, trio, anyio and
    the engine, with the library call it waits in; None for the engine's tasks."""
    library = None
    for frame in reversed(frames):
        filename = frame.f_code.co_filename
        if filename.startswith(_SELF_DIR) and os.path.basename(filename) in _ENGINE:
            return None
        if filename.startswith(_LIBRARY_DIRS) or _is_fast_sleep(frame):
            library = frame.f_code.co_qualname
            continue
        where = f"{filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        return f"{where} ({library})" if library else where
    for frame in frames:
        if frame.f_code.co_name not in _RUNNERS:
            return frame.f_code.co_qualname
    return library


_RUNNERS = {"_run_coro", "wrapper", "_task_runner", "run_sync_soon"}
_ENGINE = {"_run.py", "_tasks.py", "_watchdog.py"}
