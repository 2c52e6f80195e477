"""The timeline: spans and instants of a run, in integer nanoseconds of virtual
time, with exports to JSON and to Chrome/Perfetto trace events."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Instant", "Span", "Timeline"]

NS = 1_000_000_000


@dataclass(frozen=True)
class Span:
    """Something that took time: a phase of a turn, a tool run.

    Attributes:
        name: what ran (``"stream"``, ``"tool:read_file"``, ...).
        lane: the row it is drawn on (``"model"``, ``"tool call_1"``, ...).
        start_ns: virtual start, integer nanoseconds.
        end_ns: virtual end, integer nanoseconds; never before ``start_ns``.
        attrs: extra facts (``call_id``, ``turn``, ``strategy``, ``outcome``).
    """

    name: str
    lane: str
    start_ns: int
    end_ns: int
    attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def start(self) -> float:
        """Start in seconds."""
        return self.start_ns / NS

    @property
    def end(self) -> float:
        """End in seconds."""
        return self.end_ns / NS

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return (self.end_ns - self.start_ns) / NS


@dataclass(frozen=True)
class Instant:
    """Something that happened at one moment (a call complete, a hand-back)."""

    name: str
    lane: str
    at_ns: int
    attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def at(self) -> float:
        """The moment in seconds."""
        return self.at_ns / NS


class Timeline:
    """An append-only record of spans and instants in virtual time.

    Simulated parts append to it and so may user code, through :meth:`add_span`
    and :meth:`add_instant`. Exports are deterministic: the same records in the
    same order give byte-identical JSON.

    Attributes:
        purely_virtual: False when outside work (threads, sockets, subprocesses)
            took real time during the run, so the times are not reproducible.
        meta: free-form facts about the run (backend, strategy, scenario).
    """

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.instants: list[Instant] = []
        self.purely_virtual = True
        self.meta: dict[str, Any] = {}

    def add_span(
        self, name: str, lane: str, start_ns: int, end_ns: int, /, **attrs: Any
    ) -> Span:
        """Record a span. Raises ValueError if it ends before it starts."""
        if end_ns < start_ns:
            raise ValueError(
                f"span {name!r} on lane {lane!r} ends at {end_ns} ns, before its "
                f"start at {start_ns} ns; pass the start first"
            )
        span = Span(name, lane, int(start_ns), int(end_ns), attrs)
        self.spans.append(span)
        return span

    def add_instant(self, name: str, lane: str, at_ns: int, /, **attrs: Any) -> Instant:
        """Record an instant."""
        instant = Instant(name, lane, int(at_ns), attrs)
        self.instants.append(instant)
        return instant

    def extend(self, other: Timeline, **attrs: Any) -> None:
        """Append every record of ``other``, adding ``attrs`` to each."""
        for s in other.spans:
            self.spans.append(
                Span(s.name, s.lane, s.start_ns, s.end_ns, {**s.attrs, **attrs})
            )
        for i in other.instants:
            self.instants.append(Instant(i.name, i.lane, i.at_ns, {**i.attrs, **attrs}))
        self.purely_virtual = self.purely_virtual and other.purely_virtual

    def lanes(self) -> list[str]:
        """Lanes in order of first appearance."""
        seen: dict[str, None] = {}
        for record in self._records():
            seen.setdefault(record.lane, None)
        return list(seen)

    def spans_named(self, prefix: str) -> list[Span]:
        """Spans whose name starts with ``prefix``."""
        return [s for s in self.spans if s.name.startswith(prefix)]

    def end_ns(self) -> int:
        """The latest moment recorded, or 0 for an empty timeline."""
        ends = [s.end_ns for s in self.spans] + [i.at_ns for i in self.instants]
        return max(ends, default=0)

    def _records(self) -> Iterator[Span | Instant]:
        yield from self.spans
        yield from self.instants

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: spans and instants with times in nanoseconds."""
        return {
            "purely_virtual": self.purely_virtual,
            "meta": self.meta,
            "spans": [
                {
                    "name": s.name,
                    "lane": s.lane,
                    "start_ns": s.start_ns,
                    "end_ns": s.end_ns,
                    "attrs": dict(s.attrs),
                }
                for s in self.spans
            ],
            "instants": [
                {
                    "name": i.name,
                    "lane": i.lane,
                    "at_ns": i.at_ns,
                    "attrs": dict(i.attrs),
                }
                for i in self.instants
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Timeline:
        """Rebuild a timeline written by :meth:`to_dict`."""
        timeline = cls()
        timeline.purely_virtual = bool(data.get("purely_virtual", True))
        timeline.meta = dict(data.get("meta", {}))
        for s in data.get("spans", []):
            timeline.add_span(
                s["name"], s["lane"], s["start_ns"], s["end_ns"], **s.get("attrs", {})
            )
        for i in data.get("instants", []):
            timeline.add_instant(i["name"], i["lane"], i["at_ns"], **i.get("attrs", {}))
        return timeline

    def to_json(self) -> str:
        """Deterministic JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=1, default=str)

    def to_perfetto(
        self, process_name: str = "streampar", pid: int = 1
    ) -> dict[str, Any]:
        """Chrome/Perfetto trace events: one thread id per lane, times in µs."""
        return {
            "traceEvents": perfetto_events(self, process_name, pid),
            "displayTimeUnit": "ms",
        }


def perfetto_events(
    timeline: Timeline, process_name: str, pid: int
) -> list[dict[str, Any]]:
    """Trace events for one timeline as one process with a thread per lane."""
    tids = {lane: n + 1 for n, lane in enumerate(timeline.lanes())}
    events: list[dict[str, Any]] = [
        {
            "ph": "M",
            "name": "process_name",
            "pid": pid,
            "tid": 0,
            "args": {"name": process_name},
        }
    ]
    for lane, tid in tids.items():
        events.append(
            {
                "ph": "M",
                "name": "thread_name",
                "pid": pid,
                "tid": tid,
                "args": {"name": lane},
            }
        )
        events.append(
            {
                "ph": "M",
                "name": "thread_sort_index",
                "pid": pid,
                "tid": tid,
                "args": {"sort_index": tid},
            }
        )
    for s in timeline.spans:
        events.append(
            {
                "ph": "X",
                "name": s.name,
                "pid": pid,
                "tid": tids[s.lane],
                "ts": s.start_ns / 1000,
                "dur": (s.end_ns - s.start_ns) / 1000,
                "args": {k: _plain(v) for k, v in s.attrs.items()},
            }
        )
    for i in timeline.instants:
        events.append(
            {
                "ph": "i",
                "s": "t",
                "name": i.name,
                "pid": pid,
                "tid": tids[i.lane],
                "ts": i.at_ns / 1000,
                "args": {k: _plain(v) for k, v in i.attrs.items()},
            }
        )
    return events


def _plain(value: Any) -> Any:
    """A JSON-ready copy: lists and dicts kept, anything else as its string."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)
