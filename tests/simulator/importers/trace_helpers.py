"""Shared helpers for the importer tests: where the real logs are, and small
builders for synthetic logs (written to tmp_path by the tests)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

TRACES = Path(__file__).resolve().parents[4] / "shared" / "traces"
if not TRACES.is_dir():
    TRACES = Path("/work/shared/traces")

CC_2114 = "claude-code-2.1.14-print.jsonl"
CC_2138 = "claude-code-2.1.38-subagent.jsonl"
PI = "pi-session.jsonl"
CODEX = "codex-0.104-rollout.jsonl"


def trace(name: str) -> Path:
    """The real log ``name``; skips the test when the traces folder is absent."""
    path = TRACES / name
    if not path.is_file():
        pytest.skip(f"the real session logs are not here ({path} is missing)")
    return path


def raw_lines(name: str) -> list[dict[str, Any]]:
    """The log's entries, parsed directly (independently of the importers)."""
    text = trace(name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def iso_s(stamp: str) -> float:
    """An ISO timestamp as epoch seconds (float; fine for millisecond checks)."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def ns(seconds: float) -> int:
    """Seconds to integer nanoseconds, rounded (for millisecond-exact logs)."""
    return round(seconds * 1000) * 1_000_000


def cc_user_prompt(ts: str, text: str = "please port the code") -> dict[str, Any]:
    """A Claude Code human prompt line."""
    return {
        "type": "user",
        "sessionId": "s",
        "uuid": f"u-{ts}",
        "isSidechain": False,
        "version": "2.1.14",
        "timestamp": ts,
        "message": {"role": "user", "content": text},
    }


def cc_block(ts: str, request: str, block: dict[str, Any]) -> dict[str, Any]:
    """A Claude Code assistant line holding one content block."""
    return {
        "type": "assistant",
        "sessionId": "s",
        "uuid": f"a-{ts}",
        "isSidechain": False,
        "version": "2.1.14",
        "requestId": request,
        "timestamp": ts,
        "message": {"id": f"m-{request}", "role": "assistant", "content": [block]},
    }


def cc_result(ts: str, call_id: str, text: str = "ok") -> dict[str, Any]:
    """A Claude Code tool_result line."""
    return {
        "type": "user",
        "sessionId": "s",
        "uuid": f"r-{ts}",
        "isSidechain": False,
        "version": "2.1.14",
        "timestamp": ts,
        "message": {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call_id, "content": text}
            ],
        },
    }


def cc_session() -> list[dict[str, Any]]:
    """A small clean Claude Code 2.1.14 session: 2 requests, 1 Bash call.

    prompt 0.0; request A: text done 2.0, Bash done 3.0; result 4.5;
    request B: text done 6.5 (stream end). Agent time 6.5 s.
    """
    return [
        cc_user_prompt("2026-01-01T00:00:00.000Z"),
        cc_block("2026-01-01T00:00:02.000Z", "A", {"type": "text", "text": "x" * 40}),
        cc_block(
            "2026-01-01T00:00:03.000Z",
            "A",
            {
                "type": "tool_use",
                "id": "t1",
                "name": "Bash",
                "input": {"command": "ls"},
            },
        ),
        cc_result("2026-01-01T00:00:04.500Z", "t1"),
        cc_block("2026-01-01T00:00:06.500Z", "B", {"type": "text", "text": "done"}),
    ]


def write_jsonl(path: Path, entries: list[dict[str, Any]], tail: str = "") -> Path:
    """Write entries one per line, then ``tail`` verbatim (for broken endings)."""
    body = "".join(json.dumps(e) + "\n" for e in entries)
    path.write_text(body + tail, encoding="utf-8")
    return path
