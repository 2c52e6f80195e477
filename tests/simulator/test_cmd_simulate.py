"""``streampar simulate``: the table, the files, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator._cli import main
from simulator._cmd_simulate import bundled_scenarios, find_scenario

MS = 1_000_000


def test_hand_worked_table_and_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "hw"
    assert main(["simulate", "hand-worked", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:5]}
    # 6.1 / 5.1 = 1.196..., 6.1 / 4.3 = 1.418...; the bound is 4.3 s
    assert rows == {
        "sequential": ["6.100", "4.300", "1.00x"],
        "parallel": ["5.100", "4.300", "1.20x"],
        "overlapped": ["4.300", "4.300", "1.42x"],
    }
    summary = json.loads((out / "summary.json").read_text())
    assert summary["bound_ns"] == 4300 * MS
    sessions = {k: v["session_ns"] for k, v in summary["strategies"].items()}
    assert sessions == {
        "sequential": 6100 * MS,
        "parallel": 5100 * MS,
        "overlapped": 4300 * MS,
    }
    trace = json.loads((out / "trace.json").read_text())
    names = {
        e["args"]["name"]
        for e in trace["traceEvents"]
        if e["ph"] == "M" and e["name"] == "process_name"
    }
    assert names == {f"hand-worked / {s}" for s in sessions}
    assert (out / "timeline.png").stat().st_size > 0
    assert (out / "timeline.svg").read_text().lstrip().startswith("<?xml")


def test_one_strategy_from_a_file_with_feed_forward(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = {
        "name": "one",
        "turns": [
            {
                "ttft": 0.5,
                "tokens_per_second": 50.0,
                "prefill_tokens_per_second": 100.0,
                "blocks": [
                    {
                        "tool_call": {
                            "id": "A",
                            "name": "a",
                            "arg_tokens": 20,
                            "duration": 1.0,
                            "result_tokens": 100,
                        }
                    },
                    {"text": 50},
                ],
            },
            {"ttft": 0.5, "blocks": [{"text": 10}]},
        ],
    }
    path = tmp_path / "one.json"
    path.write_text(json.dumps(scenario))
    out = tmp_path / "out"
    argv = ["simulate", str(path), "--strategy", "overlapped", "--feed-forward"]
    assert main([*argv, "--out", str(out), "--backend", "trio"]) == 0
    # A complete 0.9, runs to 1.9; stream ends 1.9; fed at 1.9 -> prefill to 2.9;
    # turn 1: send 2.9, first token 3.4, 10 tokens at 50/s -> 3.6 s.
    rows = capsys.readouterr().out.splitlines()[2:]
    assert rows[0].split()[:2] == ["overlapped", "3.600"]
    assert rows[0].split()[3] == "-"


def test_missing_scenario_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "no-such-scenario"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "'no-such-scenario': no such file and no bundled scenario" in err
    assert "fan-out" in err
    assert "Traceback" not in err


def test_bad_scenario_names_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"name": "x", "turns": [{"blocks": [{"text": -1}]}]}')
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "turns[0].blocks[0].text = -1" in err


def test_several_problems_are_listed_one_per_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"name": 5, "turns": [{"ttft": -1, "blocks": [{"txet": 5}]}]}')
    assert main(["simulate", str(path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == (
        f"streampar simulate: {path}: 3 problems in the scenario (fix them all, "
        "then load it again):"
    )
    assert [line.split(" = ")[0] for line in lines[1:]] == [
        f"  {path}:1: scenario.name",
        f"  {path}:1: turns[0].ttft",
        f"  {path}:1: turns[0].blocks[0]",
    ]


def test_hang_without_timeout_asks_for_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "hang.json"
    call = {"id": "H", "name": "t", "fault": {"kind": "hang"}}
    path.write_text(
        json.dumps({"name": "h", "turns": [{"blocks": [{"tool_call": call}]}]})
    )
    assert main(["simulate", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "calls H of scenario 'h' hang" in err and "--tool-timeout" in err


def test_bundled_names_load() -> None:
    names = bundled_scenarios()
    assert {"fan-out", "two-call", "hand-worked"} <= set(names)
    assert find_scenario("fan-out").name == "fan-out"


def test_bundled_fan_out_on_trio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # fan-out: TTFT 0.5 s, 40 text tokens at 50 tok/s -> 1.3 s; eight 25-token
    # calls complete at 1.8, 2.3, ..., 5.3 s; a 10-token join ends the stream at
    # 5.5 s. Turn 0: sequential 5.5 + 8 x 1 = 13.5 s, parallel 5.5 + 1 = 6.5 s,
    # overlapped max(5.5, 5.3 + 1) = 6.3 s. Turn 1: 0.5 + 40/50 = 1.3 s.
    out = tmp_path / "fan"
    assert main(["simulate", "fan-out", "--backend", "trio", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:5]}
    assert rows == {
        "sequential": ["14.800", "7.600", "1.00x"],
        "parallel": ["7.800", "7.600", "1.90x"],
        "overlapped": ["7.600", "7.600", "1.95x"],
    }
    # the turn where overlap saves most gets its own plot
    assert (out / "turn-0.png").is_file() and (out / "turn-0.svg").is_file()
