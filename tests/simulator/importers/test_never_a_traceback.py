"""Arbitrary entries shaped like the three formats never raise anything but
TraceImportError, and every problem names its file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import TraceImportError
from simulator._importers import import_path

_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**15), 10**15)
    | st.sampled_from(
        ["2026-01-01T00:00:01Z", "2026-01-01T00:00:00.5Z", "x", "", "len=12"]
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["type", "id", "name", "text", "role", "content"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)
_TYPES = st.sampled_from(
    [
        "user",
        "assistant",
        "progress",
        "message",
        "session",
        "turn_context",
        "response_item",
        "event_msg",
        "tool_use",
        "tool_result",
        "toolCall",
        "toolResult",
        "function_call",
        "function_call_output",
        "token_count",
    ]
)
_KEYS = st.sampled_from(
    [
        "timestamp",
        "requestId",
        "message",
        "payload",
        "sessionId",
        "uuid",
        "isSidechain",
        "toolUseResult",
        "role",
        "content",
        "stopReason",
        "toolCallId",
        "call_id",
        "info",
        "version",
    ]
)


@st.composite
def entries(draw: st.DrawFn) -> dict[str, Any]:
    """A log entry with a format's type and random fields; shrinks to fewer keys."""
    entry: dict[str, Any] = {"type": draw(_TYPES)}
    for key in draw(st.lists(_KEYS, max_size=6, unique=True)):
        entry[key] = draw(_VALUES | entries_inner)
    return entry


entries_inner = st.dictionaries(
    st.sampled_from(["type", "role", "content", "id", "timestamp", "usage"]),
    st.none()
    | st.integers(0, 10**13)
    | _TYPES
    | st.lists(
        st.dictionaries(
            st.sampled_from(["type", "id", "name", "tool_use_id", "text", "input"]),
            _TYPES | st.integers(0, 5),
            max_size=4,
        ),
        max_size=3,
    ),
    max_size=4,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(logs=st.lists(entries(), max_size=12), cut=st.booleans())
def test_random_entries_never_raise_a_traceback(
    tmp_path: Path, logs: list[dict[str, Any]], cut: bool
) -> None:
    path = tmp_path / "random.jsonl"
    text = "".join(json.dumps(e) + "\n" for e in logs)
    path.write_text(text[:-7] if cut and len(text) > 7 else text, encoding="utf-8")
    try:
        result = import_path(path)
    except TraceImportError as exc:
        assert str(path) in str(exc)
        return
    assert result.sessions
    assert all(p.file == str(path) for p in result.problems)
    for session in result.sessions:
        assert session.recorded_agent_ns >= 0
        session.to_scenario()


def _codex_session() -> list[dict[str, Any]]:
    def line(ts: str, kind: str, **payload: object) -> dict[str, Any]:
        return {
            "timestamp": f"2026-01-01T00:00:{ts}Z",
            "type": kind,
            "payload": payload,
        }

    usage = {"total_token_usage": {"output_tokens": 9}, "last_token_usage": {}}
    usage2 = {"total_token_usage": {"output_tokens": 19}, "last_token_usage": {}}
    return [
        line("00.000", "event_msg", type="user_message", message="len=3"),
        line("00.100", "turn_context"),
        line("01.000", "response_item", type="reasoning", summary=[]),
        line(
            "02.000",
            "response_item",
            type="function_call",
            name="exec_command",
            call_id="a",
            arguments="len=40",
        ),
        line(
            "02.500",
            "response_item",
            type="function_call",
            name="apply_patch",
            call_id="b",
            arguments="len=80",
        ),
        line("03.000", "event_msg", type="token_count", info=usage),
        line(
            "03.500",
            "response_item",
            type="function_call_output",
            call_id="a",
            output="len=9",
        ),
        line(
            "04.000",
            "response_item",
            type="function_call_output",
            call_id="b",
            output="len=9",
        ),
        line("04.100", "turn_context"),
        line(
            "06.000",
            "response_item",
            type="message",
            role="assistant",
            content="len=50",
        ),
        line("06.100", "event_msg", type="token_count", info=usage2),
    ]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), which=st.sampled_from(["claude", "codex"]))
def test_damaged_sessions_still_give_valid_scenarios(
    tmp_path: Path, data: st.DataObject, which: str
) -> None:
    from trace_helpers import cc_session

    from simulator._scenario_io import scenario_from_dict, scenario_to_dict

    base = cc_session() if which == "claude" else _codex_session()
    # drop, repeat and reorder entries: shrinks towards the clean session
    picks = data.draw(st.lists(st.sampled_from(range(len(base))), max_size=14))
    logs = [base[i] for i in picks]
    path = tmp_path / "damaged.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in logs), encoding="utf-8")
    try:
        result = import_path(path)
    except TraceImportError:
        return
    for session in result.sessions:
        scenario = session.to_scenario()
        assert scenario_from_dict(scenario_to_dict(scenario)) == scenario
        for turn in session.turns:
            assert turn.iteration_ns >= 0 and turn.request_overhead_ns >= 0
            for call in turn.calls:
                assert call.t_done.ns >= call.t_start.ns
