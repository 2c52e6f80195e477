"""``streampar replay``: the files it writes, the figures in them, and the exit
codes for clean, partly skipped and unusable input."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from simulator._cli import main
from simulator._cmd_replay import EXIT_NOTHING, EXIT_OK, EXIT_SKIPPED, _Progress

_CC_LOG = [
    {
        "type": "user",
        "sessionId": "s",
        "uuid": "u1",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "message": {"role": "user", "content": "go"},
    },
    {
        "type": "assistant",
        "sessionId": "s",
        "uuid": "a1",
        "requestId": "A",
        "version": "2.1.14",
        "timestamp": "2026-01-01T00:00:02.000Z",
        "message": {
            "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]
        },
    },
    {
        "type": "user",
        "sessionId": "s",
        "uuid": "r1",
        "timestamp": "2026-01-01T00:00:03.000Z",
        "message": {
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x"}]
        },
    },
    {
        "type": "assistant",
        "sessionId": "s",
        "uuid": "a2",
        "requestId": "B",
        "timestamp": "2026-01-01T00:00:05.000Z",
        "message": {"content": [{"type": "text", "text": "done"}]},
    },
]


@pytest.fixture(scope="module")
def bundled_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert main(["replay", "--out", str(out), "--quiet"]) == EXIT_OK
    return out


def _summary(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return data


def test_default_replay_writes_every_file(bundled_report: Path) -> None:
    for name in ("report.md", "summary.json", "trace.json"):
        assert (bundled_report / name).stat().st_size > 0
    plots = sorted(p.name for p in (bundled_report / "plots").glob("*.png"))
    assert len(plots) == 4 * 2 + 1
    assert "savings-distribution.png" in plots


def test_summary_figures(bundled_report: Path) -> None:
    summary = _summary(bundled_report)
    assert summary["schema"] == "streampar-replay-summary/1"
    assert summary["skipped_input"] is False
    by_name = {s["name"]: s for s in summary["sessions"]}
    cc = by_name["claude-code-2.1.14"]
    # recorded: 06:20:46.065 (prompt) to 06:24:31.843 (last block)
    assert cc["recorded_agent_ns"] == 225_778_000_000
    assert (cc["requests"], cc["tool_calls"]) == (39, 39)
    assert cc["requests_with_parallel_calls"] == 2
    assert cc["reproduced"]["strategy"] == "sequential"
    for name, bound in [("claude-code-2.1.14", 0.02), ("pi", 0.02)]:
        assert abs(by_name[name]["reproduced"]["error_fraction"]) < bound
    assert abs(by_name["claude-code-2.1.38"]["reproduced"]["error_fraction"]) < 0.05
    for session in summary["sessions"]:
        sim = session["simulated_ns"]
        # no schedule beats the bound; overlapped is never slower than sequential
        assert session["bound_ns"] <= sim["overlapped"] <= sim["sequential"]
        assert session["savings_ns"]["overlapped_vs_sequential"] == (
            sim["sequential"] - sim["overlapped"]
        )
        assert len(session["iterations"]) == session["requests"]
        assert (
            sum(i["recorded_ns"] for i in session["iterations"])
            == session["recorded_agent_ns"]
        )
        assert session["inferred"]


def test_report_and_trace_contents(bundled_report: Path) -> None:
    report = (bundled_report / "report.md").read_text()
    for heading in ("## Overview", "## claude-code-2.1.14", "## pi", "## How to read"):
        assert heading in report
    assert "Inferred rather than recorded" in report
    assert "225.778 s" in report
    trace = json.loads((bundled_report / "trace.json").read_text())
    processes = {
        e["args"]["name"]
        for e in trace["traceEvents"]
        if e.get("name") == "process_name"
    }
    assert "pi / overlapped" in processes and len(processes) == 12


def test_skipped_input_gives_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "s.jsonl"
    body = "".join(json.dumps(e) + "\n" for e in _CC_LOG)
    log.write_text(body + '{"type": "assist', encoding="utf-8")
    out = tmp_path / "out"
    code = main(["replay", str(log), "--out", str(out), "--quiet", "--no-plots"])
    assert code == EXIT_SKIPPED
    err = capsys.readouterr().err
    assert f"{log}:5" in err and "cut short" in err
    summary = _summary(out)
    assert summary["skipped_input"] is True
    assert summary["problems"][0]["line"] == 5
    (session,) = summary["sessions"]
    # prompt 0 s, Read done 2 s, result 3 s, last block 5 s
    assert session["recorded_agent_ns"] == 5_000_000_000
    assert "## Skipped input" in (out / "report.md").read_text()


def test_nothing_to_replay_gives_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.jsonl"
    code = main(["replay", str(missing), "--out", str(tmp_path / "o"), "--quiet"])
    assert code == EXIT_NOTHING
    err = capsys.readouterr().err
    assert "no such file or directory" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_progress_bar_only_when_enabled() -> None:
    shown = io.StringIO()
    bar = _Progress(shown, enabled=True)
    bar.step(1, 4, "pi")
    bar.finish()
    assert "replaying [######..................] 1/4 pi" in shown.getvalue()
    assert shown.getvalue().endswith("\n")
    quiet = io.StringIO()
    off = _Progress(quiet, enabled=False)
    off.step(1, 4, "pi")
    off.finish()
    assert quiet.getvalue() == ""


def test_both_backends_give_the_same_figures(
    bundled_report: Path, tmp_path: Path
) -> None:
    out = tmp_path / "trio"
    code = main(
        ["replay", "--backend", "trio", "--no-plots", "--out", str(out), "--quiet"]
    )
    assert code == EXIT_OK
    trio, asyncio = _summary(out), _summary(bundled_report)
    assert (trio["backend"], asyncio["backend"]) == ("trio", "asyncio")
    for a, b in zip(trio["sessions"], asyncio["sessions"], strict=True):
        assert a["simulated_ns"] == b["simulated_ns"]
        assert a["iterations"] == b["iterations"]
