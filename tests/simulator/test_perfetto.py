"""Several runs as one Chrome/Perfetto trace, written atomically and reproducibly."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from simulator import SimulatorError, Timeline
from simulator._perfetto import perfetto_trace, write_trace
from simulator._timeline import Instant, Span

S = 1_000_000_000


def ns(seconds: float) -> int:
    return round(seconds * S)


def hand_worked(strategy: str, tools: dict[str, tuple[float, float]]) -> Timeline:
    """The hand-worked turn's spans for one strategy."""
    end = max(stop for _, stop in tools.values())
    tl = Timeline()
    tl.meta = {"scenario": "hand-worked", "strategy": strategy, "backend": "trio"}
    tl.add_span("turn", "turn", 0, ns(end), turn=0)
    tl.add_span("stream", "model", 0, ns(3.1), turn=0)
    tl.add_instant("first_token", "model", ns(0.5), turn=0)
    for call_id, name, done in (("A", "read", 1.9), ("B", "write", 2.3)):
        attrs = {"turn": 0, "call_id": call_id, "name": name}
        tl.instants.append(Instant("call_complete", "model", ns(done), attrs))
        start, stop = tools[call_id]
        tool_attrs = {**attrs, "outcome": "ok", "safety": "shared", "resource": None}
        tl.spans.append(
            Span("tool", f"tool {call_id}", ns(start), ns(stop), tool_attrs)
        )
    tl.add_instant("hand_back", "harness", ns(end), turn=0, call_ids=["A", "B"])
    return tl


def runs() -> dict[str, Timeline]:
    return {
        "hand-worked / sequential": hand_worked(
            "sequential", {"A": (3.1, 4.1), "B": (4.1, 6.1)}
        ),
        "hand-worked / parallel": hand_worked(
            "parallel", {"A": (3.1, 4.1), "B": (3.1, 5.1)}
        ),
        "hand-worked / overlapped": hand_worked(
            "overlapped", {"A": (1.9, 2.9), "B": (2.3, 4.3)}
        ),
    }


def events_of(trace: dict[str, Any], ph: str) -> list[dict[str, Any]]:
    return [e for e in trace["traceEvents"] if e["ph"] == ph]


def test_one_named_process_per_run_in_order() -> None:
    trace = perfetto_trace(runs())
    names = {
        e["pid"]: e["args"]["name"]
        for e in events_of(trace, "M")
        if e["name"] == "process_name"
    }
    assert names == {
        1: "hand-worked / sequential",
        2: "hand-worked / parallel",
        3: "hand-worked / overlapped",
    }
    order = {
        e["pid"]: e["args"]["sort_index"]
        for e in events_of(trace, "M")
        if e["name"] == "process_sort_index"
    }
    assert order == {1: 1, 2: 2, 3: 3}


def test_one_named_thread_per_lane() -> None:
    trace = perfetto_trace(runs())
    threads = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in events_of(trace, "M")
        if e["name"] == "thread_name"
    }
    lanes = ["turn", "model", "tool A", "tool B", "harness"]
    for pid in (1, 2, 3):
        assert sorted(name for (p, _), name in threads.items() if p == pid) == sorted(
            lanes
        )
    # every span and instant sits on a named thread of its own process
    for event in events_of(trace, "X") + events_of(trace, "i"):
        assert (event["pid"], event["tid"]) in threads


def test_complete_events_have_the_chrome_fields_in_microseconds() -> None:
    trace = perfetto_trace(runs())
    spans = events_of(trace, "X")
    assert len(spans) == 3 * 4  # turn, stream, two tools per run
    for event in spans:
        assert {"ph", "ts", "dur", "pid", "tid", "name"} <= event.keys()
        assert isinstance(event["ts"], (int, float)) and event["dur"] >= 0
    # overlapped tool B: 2.3 s to 4.3 s is ts 2_300_000 us, dur 2_000_000 us
    b = next(
        e
        for e in spans
        if e["pid"] == 3 and e["name"] == "tool" and e["args"]["call_id"] == "B"
    )
    assert math.isclose(b["ts"], 2_300_000.0) and math.isclose(b["dur"], 2_000_000.0)
    assert b["args"] == {
        "turn": 0,
        "call_id": "B",
        "name": "write",
        "outcome": "ok",
        "safety": "shared",
        "resource": None,
    }
    # sequential turn: 0 to 6.1 s
    turn = next(e for e in spans if e["pid"] == 1 and e["name"] == "turn")
    assert (turn["ts"], turn["dur"]) == (0.0, 6_100_000.0)


def test_instants_are_thread_scoped_with_microsecond_times() -> None:
    trace = perfetto_trace(runs())
    instants = events_of(trace, "i")
    assert all(
        e["s"] == "t" and {"ts", "pid", "tid", "name"} <= e.keys() for e in instants
    )
    hand_backs = sorted(e["ts"] for e in instants if e["name"] == "hand_back")
    assert hand_backs == [4_300_000.0, 5_100_000.0, 6_100_000.0]


def test_run_meta_is_kept_in_other_data() -> None:
    trace = perfetto_trace(runs())
    meta = trace["otherData"]["runs"]["hand-worked / overlapped"]
    assert meta == {
        "pid": 3,
        "purely_virtual": True,
        "scenario": "hand-worked",
        "strategy": "overlapped",
        "backend": "trio",
    }
    assert trace["displayTimeUnit"] == "ms"


def test_no_runs_is_a_clear_error() -> None:
    with pytest.raises(SimulatorError, match=r"runs=\{\}"):
        perfetto_trace({})


def test_write_trace_is_deterministic_and_valid_json(tmp_path: Path) -> None:
    first = write_trace(tmp_path / "a" / "trace.json", perfetto_trace(runs()))
    second = write_trace(tmp_path / "b.json", perfetto_trace(runs()))
    assert first.read_bytes() == second.read_bytes()
    text = first.read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.count("\n") == 1
    assert json.loads(text) == json.loads(json.dumps(perfetto_trace(runs())))
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["trace.json"]


def test_write_trace_replaces_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "trace.json"
    target.write_text("old", encoding="utf-8")
    write_trace(target, {"traceEvents": []})
    assert json.loads(target.read_text(encoding="utf-8")) == {"traceEvents": []}
    assert [p.name for p in tmp_path.iterdir()] == ["trace.json"]


def test_unwritable_value_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "trace.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(SimulatorError, match="cannot be written as JSON"):
        write_trace(target, {"traceEvents": [{"ts": float("nan")}]})
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["trace.json"]


def test_packed_tools_share_threads_where_they_never_overlap() -> None:
    trace = perfetto_trace(runs(), pack_tools=True)
    threads = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in events_of(trace, "M")
        if e["name"] == "thread_name"
    }
    # sequential: A 3.1-4.1 then B 4.1-6.1 fit one thread; overlapped: A 1.9-2.9
    # and B 2.3-4.3 overlap, so two
    tool_threads = {
        pid: sorted(n for (p, _), n in threads.items() if p == pid and "tool" in n)
        for pid in (1, 3)
    }
    assert tool_threads == {1: ["tools 1"], 3: ["tools 1", "tools 2"]}
    b = next(
        e
        for e in events_of(trace, "X")
        if e["pid"] == 3 and e["name"] == "tool" and e["args"]["call_id"] == "B"
    )
    assert threads[(3, b["tid"])] == "tools 2"
    # the timelines passed in are left as they were
    assert perfetto_trace(runs()) != trace
