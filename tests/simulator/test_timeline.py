"""Timeline records and their exports."""

from __future__ import annotations

import json

import anyio
import pytest

from simulator import Timeline, current_timeline, now_ns, run


async def _two_workers() -> None:
    async def work(lane: str, seconds: float) -> None:
        start = now_ns()
        await anyio.sleep(seconds)
        current_timeline().add_span("work", lane, start, now_ns(), call_ids=["a"])

    async with anyio.create_task_group() as tg:
        tg.start_soon(work, "tool b", 2.0)
        tg.start_soon(work, "tool a", 1.0)
    current_timeline().add_instant("hand_back", "harness", now_ns(), turn=0)


def test_same_code_gives_byte_identical_exports_on_both_backends() -> None:
    exports = set()
    for backend in ("asyncio", "trio", "asyncio"):
        timeline = run(_two_workers, backend=backend).timeline
        timeline.meta.pop("backend")
        exports.add((timeline.to_json(), json.dumps(timeline.to_perfetto())))

    assert len(exports) == 1


def test_perfetto_has_one_thread_per_lane_and_microseconds() -> None:
    trace = run(_two_workers).timeline.to_perfetto()
    events = trace["traceEvents"]

    names = {e["args"]["name"]: e["tid"] for e in events if e["name"] == "thread_name"}
    assert names == {"tool a": 1, "tool b": 2, "harness": 3}
    spans = {e["tid"]: (e["ts"], e["dur"]) for e in events if e["ph"] == "X"}
    assert spans == {1: (0.0, 1_000_000.0), 2: (0.0, 2_000_000.0)}
    instant = next(e for e in events if e["ph"] == "i")
    assert (instant["ts"], instant["tid"], instant["args"]) == (
        2_000_000.0,
        3,
        {"turn": 0},
    )
    span_args = next(e["args"] for e in events if e["ph"] == "X")
    assert span_args == {"call_ids": ["a"]}


def test_round_trip_through_dict() -> None:
    timeline = run(_two_workers).timeline

    again = Timeline.from_dict(json.loads(timeline.to_json()))

    assert again.to_json() == timeline.to_json()


def test_span_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends at 5 ns, before its start at 9 ns"):
        Timeline().add_span("tool", "lane", 9, 5)
