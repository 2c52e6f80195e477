"""Several runs as one Chrome/Perfetto trace: a process per run, a thread per lane.

Open the written file in https://ui.perfetto.dev or chrome://tracing. Times in
the trace are microseconds of virtual time (the format's unit); each run keeps
its own time base, so runs of different strategies start together at 0.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ._errors import SimulatorError
from ._timeline import Timeline, perfetto_events

__all__ = ["perfetto_trace", "write_trace"]


def perfetto_trace(
    runs: Mapping[str, Timeline], *, pack_tools: bool = False
) -> dict[str, Any]:
    """Merge several timelines into one trace, one named process per run.

    Process ids are 1, 2, ... in the order of ``runs``, and Perfetto shows the
    processes in that order. Within a process, each lane is a thread named
    after it, in the order the lanes first appear. Spans become complete
    events (``"ph": "X"``), instants thread-scoped instant events; their
    attributes go to ``args``. Each run's ``meta`` is kept under
    ``otherData.runs``.

    Args:
        runs: process name (e.g. ``"pi-session / overlapped"``) to timeline.
        pack_tools: put tool lanes (``tool <call id>``) on as few threads as
            never overlap, named ``tools 1`` to ``tools n``, instead of a
            thread per call; keeps long sessions (hundreds of calls) compact.
            The call id stays in each event's ``args``.

    Returns:
        A JSON-ready dict with ``traceEvents``, ``displayTimeUnit`` and
        ``otherData``.

    Raises:
        SimulatorError: ``runs`` is empty.
    """
    if not runs:
        raise SimulatorError(
            "runs={}: a trace needs at least one timeline; pass "
            "{'sequential': timeline, ...}"
        )
    events: list[dict[str, Any]] = []
    meta: dict[str, Any] = {}
    for pid, (name, timeline) in enumerate(runs.items(), start=1):
        shown = _packed(timeline) if pack_tools else timeline
        events.extend(perfetto_events(shown, name, pid))
        events.append(
            {
                "ph": "M",
                "name": "process_sort_index",
                "pid": pid,
                "tid": 0,
                "args": {"sort_index": pid},
            }
        )
        meta[name] = {
            "pid": pid,
            "purely_virtual": timeline.purely_virtual,
            **{str(k): _jsonable(v) for k, v in timeline.meta.items()},
        }
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {"producer": "pytest-streampar", "runs": meta},
    }


def write_trace(path: Path | str, trace: Mapping[str, Any]) -> Path:
    """Write a trace as JSON, atomically and deterministically.

    The same trace always gives the same bytes (sorted keys, fixed separators,
    a final newline). The file is written next to its target and renamed over
    it, so a reader never sees half a file, and a crash leaves the old file.

    Args:
        path: where to write; parent folders are created.
        trace: what :func:`perfetto_trace` returned (or any JSON-ready dict).

    Returns:
        The path written.

    Raises:
        SimulatorError: the trace holds a value JSON cannot represent.
    """
    target = Path(path)
    try:
        text = json.dumps(trace, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SimulatorError(
            f"trace for {str(target)!r} cannot be written as JSON: {exc}; keep "
            f"span attributes to str, int, finite float, bool or None"
        ) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _packed(timeline: Timeline) -> Timeline:
    """A copy whose tool lanes share ``tools n`` lanes where they never overlap."""
    from ._plot import pack_rows

    extents: dict[str, tuple[int, int]] = {}
    for s in timeline.spans:
        if s.lane.startswith("tool "):
            lo, hi = extents.get(s.lane, (s.start_ns, s.end_ns))
            extents[s.lane] = (min(lo, s.start_ns), max(hi, s.end_ns))
    for i in timeline.instants:
        if i.lane.startswith("tool "):
            lo, hi = extents.get(i.lane, (i.at_ns, i.at_ns))
            extents[i.lane] = (min(lo, i.at_ns), max(hi, i.at_ns))
    lanes = list(extents)
    rows = pack_rows([extents[lane] for lane in lanes])
    rename = {lane: f"tools {row + 1}" for lane, row in zip(lanes, rows, strict=True)}
    packed = Timeline()
    packed.meta = dict(timeline.meta)
    packed.purely_virtual = timeline.purely_virtual
    packed.spans = [replace(s, lane=rename.get(s.lane, s.lane)) for s in timeline.spans]
    packed.instants = [
        replace(i, lane=rename.get(i.lane, i.lane)) for i in timeline.instants
    ]
    return packed


def _jsonable(value: Any) -> Any:
    """``value`` if JSON can hold it as is, else its text."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
