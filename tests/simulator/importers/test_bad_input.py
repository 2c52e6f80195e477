"""Each kind of bad input: a clear problem naming file and line, the rest still
imported, the skipped flag set; TraceImportError only when nothing imports."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from trace_helpers import (
    cc_result,
    cc_session,
    cc_user_prompt,
    ns,
    write_jsonl,
)

from simulator import SimulatorError, TraceImportError
from simulator._importers import import_path, import_paths


def test_clean_synthetic_session_imports_without_problems(tmp_path: Path) -> None:
    result = import_path(write_jsonl(tmp_path / "s.jsonl", cc_session()))
    assert not result.skipped
    (session,) = result.sessions
    assert len(session.turns) == 2
    # prompt 0.0 -> B's last block 6.5 (hand-back of A at 4.5, B sent then)
    assert session.recorded_agent_ns == ns(6.5)
    (call,) = session.calls
    assert (call.t_start.ns, call.t_done.ns) == (ns(3.0), ns(4.5))


def test_truncated_last_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "cut.jsonl", cc_session(), tail='{"type": "assi')
    result = import_path(path)
    assert result.skipped
    (problem,) = result.problems
    assert (problem.file, problem.line) == (str(path), 6)
    assert "last line is cut short" in problem.message
    assert len(result.sessions[0].turns) == 2


def test_line_that_is_not_json(tmp_path: Path) -> None:
    entries = cc_session()
    body = [json.dumps(e) for e in entries]
    body.insert(2, "this is not json")
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    result = import_path(path)
    (problem,) = result.problems
    assert problem.line == 3
    assert problem.message.startswith("not JSON")
    assert "line skipped" in problem.message
    assert len(result.sessions[0].turns) == 2
    assert str(problem).startswith(f"{path}:3: ")


def test_unknown_format(tmp_path: Path) -> None:
    odd = write_jsonl(tmp_path / "odd.jsonl", [{"hello": 1}, {"world": 2}])
    with pytest.raises(TraceImportError) as info:
        import_path(odd)
    assert str(odd) in str(info.value)
    assert "format not recognised" in str(info.value)
    # beside a good file: a problem, and the good file still imports
    good = write_jsonl(tmp_path / "good.jsonl", cc_session())
    result = import_paths([odd, good])
    assert len(result.sessions) == 1
    (problem,) = result.problems
    assert (problem.file, problem.line) == (str(odd), 0)


def test_file_with_no_model_requests(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "quiet.jsonl", [cc_user_prompt("2026-01-01T00:00:00Z")]
    )
    with pytest.raises(TraceImportError, match="no model requests found"):
        import_path(path)
    result = import_paths([path, write_jsonl(tmp_path / "g.jsonl", cc_session())])
    assert [p.file for p in result.problems] == [str(path)]


def test_tool_result_without_its_call(tmp_path: Path) -> None:
    entries = cc_session()
    entries.insert(4, cc_result("2026-01-01T00:00:04.600Z", "nobody"))
    result = import_path(write_jsonl(tmp_path / "orphan.jsonl", entries))
    (problem,) = result.problems
    assert problem.line == 5
    assert "'nobody' has no matching tool_use" in problem.message
    assert "skipped" in problem.message
    assert len(result.sessions[0].calls) == 1


def test_timestamps_going_backwards(tmp_path: Path) -> None:
    entries = cc_session()
    # the result claims 00:00:01, before the Bash block at 00:00:03
    entries[3] = cc_result("2026-01-01T00:00:01.000Z", "t1")
    result = import_path(write_jsonl(tmp_path / "back.jsonl", entries))
    (problem,) = result.problems
    assert problem.line == 4
    assert "goes backwards" in problem.message and "2.000 s" in problem.message
    (call,) = result.sessions[0].calls
    # the previous line's time is used instead: the tool ends where it started
    assert call.t_done.ns == ns(3.0)


def test_empty_directory(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TraceImportError, match="holds no files"):
        import_path(empty)
    result = import_paths([empty, write_jsonl(tmp_path / "g.jsonl", cc_session())])
    assert [(p.file, p.line) for p in result.problems] == [(str(empty), 0)]


def test_an_empty_log_in_a_directory_is_reported_not_passed_over(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "empty.jsonl").write_text("")
    (logs / "notes.txt").write_text("not a log")
    write_jsonl(logs / "good.jsonl", cc_session())
    result = import_path(logs)
    assert len(result.sessions) == 1
    assert [(p.file, p.line, p.message) for p in result.problems] == [
        (str(logs / "empty.jsonl"), 0, "the file is empty; nothing to import")
    ]
    assert result.ignored == [str(logs / "notes.txt")]


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(TraceImportError) as info:
        import_path(missing)
    assert f"{missing}: no such file or directory" in str(info.value)
    assert isinstance(info.value, SimulatorError)


def test_gzip_and_directory_are_read_by_content(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    body = "".join(json.dumps(e) + "\n" for e in cc_session())
    (folder / "b.data").write_bytes(gzip.compress(body.encode()))
    (folder / "a.jsonl").write_text(body, encoding="utf-8")
    (folder / "README.md").write_text("# notes\n", encoding="utf-8")
    result = import_path(folder)
    assert not result.skipped
    assert len(result.sessions) == 2
    assert [s.source for s in result.sessions] == ["a.jsonl", "b.data"]
    assert result.ignored == [str(folder / "README.md")]


def test_cut_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    body = "".join(json.dumps(e) + "\n" for e in cc_session())
    data = gzip.compress(body.encode())
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) - 12])
    result = import_path(path)
    assert any("gzip data ends early" in p.message for p in result.problems)
    assert result.sessions[0].turns


BASE = 1_735_689_600_000  # 2025-01-01T00:00:00Z in epoch ms


def test_pi_result_without_call_and_aborted_request(tmp_path: Path) -> None:
    def message(outer: str, **inner: object) -> dict[str, object]:
        return {"type": "message", "timestamp": outer, "message": inner}

    entries = [
        {"type": "session", "id": "x", "timestamp": "2025-01-01T00:00:00.000Z"},
        message("2025-01-01T00:00:00.000Z", role="user", content=[], timestamp=BASE),
        message(
            "2025-01-01T00:00:01.000Z",
            role="assistant",
            content=[],
            stopReason="aborted",
            timestamp=BASE + 100,
        ),
        message(
            "2025-01-01T00:00:10.000Z", role="user", content=[], timestamp=BASE + 10_000
        ),
        message(
            "2025-01-01T00:00:13.000Z",
            role="assistant",
            stopReason="toolUse",
            timestamp=BASE + 10_000,
            usage={"output": 30},
            content=[{"type": "toolCall", "id": "c1", "name": "read", "arguments": {}}],
        ),
        message(
            "2025-01-01T00:00:14.000Z",
            role="toolResult",
            toolCallId="c1",
            content=[],
            timestamp=BASE + 14_000,
        ),
        message(
            "2025-01-01T00:00:14.500Z",
            role="toolResult",
            toolCallId="ghost",
            content=[],
            timestamp=BASE + 14_500,
        ),
    ]
    result = import_path(write_jsonl(tmp_path / "pi.jsonl", entries))
    (problem,) = result.problems
    assert problem.line == 7 and "'ghost' has no matching toolCall" in problem.message
    (session,) = result.sessions
    assert session.excluded_requests == 1
    assert session.excluded_ns == ns(1.0)
    assert session.think_ns == ns(9.0)
    assert session.recorded_agent_ns == ns(4.0)


def test_codex_backwards_timestamp(tmp_path: Path) -> None:
    def line(ts: str, kind: str, **payload: object) -> dict[str, object]:
        return {"timestamp": ts, "type": kind, "payload": payload}

    usage = {"total_token_usage": {"output_tokens": 9}, "last_token_usage": {}}
    entries = [
        line("2026-01-01T00:00:00.000Z", "session_meta", cli_version="9.9"),
        line("2026-01-01T00:00:00.000Z", "turn_context"),
        line(
            "2026-01-01T00:00:02.000Z",
            "response_item",
            type="function_call",
            name="exec_command",
            call_id="k",
            arguments="[REDACTED len=40]",
        ),
        line("2026-01-01T00:00:03.000Z", "event_msg", type="token_count", info=usage),
        line(
            "2026-01-01T00:00:02.500Z",
            "response_item",
            type="function_call_output",
            call_id="k",
            output="x",
        ),
    ]
    result = import_path(write_jsonl(tmp_path / "codex.jsonl", entries))
    (problem,) = result.problems
    assert problem.line == 5 and "0.500 s earlier than line 4" in problem.message
    (call,) = result.sessions[0].calls
    assert call.t_done.ns == ns(3.0)
    assert call.arg_tokens == 10


def test_no_traceback_for_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(TraceImportError) as info:
        import_path(path)
    assert str(path) in str(info.value)
