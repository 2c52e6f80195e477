"""Scenario files: the format, round trips, and the validation messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator._errors import ScenarioError
from simulator._scenario import Block, Fault, Scenario, ToolCall, Turn
from simulator._scenario_io import (
    bundled_scenarios,
    load_scenario,
    save_scenario,
    scenario_from_dict,
    scenario_to_dict,
)


def hand_worked_dict() -> dict[str, Any]:
    return {
        "name": "hand-worked",
        "turns": [
            {
                "ttft": 0.5,
                "tokens_per_second": 50,
                "blocks": [
                    {"text": 50},
                    {"tool_call": {"id": "A", "name": "a", "duration": 1}},
                    {"kind": "tool_call", "call": {"name": "b", "duration": 2.0}},
                    {"kind": "text", "tokens": 40},
                ],
            }
        ],
    }


def error_of(data: dict[str, Any]) -> str:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source="s.json")
    return str(info.value)


def with_call(**fields: Any) -> dict[str, Any]:
    call = {"name": "read", **fields}
    return {"name": "x", "turns": [{"blocks": [{"text": 5}, {"tool_call": call}]}]}


# --------------------------------------------------------------------------
# reading


def test_short_and_long_forms_give_the_same_blocks() -> None:
    scenario = scenario_from_dict(hand_worked_dict())
    turn = scenario.turns[0]
    assert [b.kind for b in turn.blocks] == ["text", "tool_call", "tool_call", "text"]
    assert [b.tokens for b in turn.blocks] == [50, 20, 20, 40]
    assert [c.id for c in turn.calls] == ["A", "call_0_1"]
    assert turn.calls[0].duration == 1.0
    assert isinstance(turn.calls[0].duration, float)
    # the hand-worked numbers follow from the loaded data
    assert turn.call_complete_ns() == (1_900_000_000, 2_300_000_000)
    assert turn.stream_end_ns() == 3_100_000_000


def test_default_ids_count_turns_and_calls_from_zero() -> None:
    call = {"tool_call": {"name": "t"}}
    data = {"name": "x", "turns": [{"blocks": [call]}, {"blocks": [call, call]}]}
    assert [c.id for c in scenario_from_dict(data).calls] == [
        "call_0_0",
        "call_1_0",
        "call_1_1",
    ]


def test_all_fields_are_read() -> None:
    data = {
        "name": "full",
        "description": "d",
        "max_concurrency": 3,
        "turns": [
            {
                "ttft": 1,
                "tokens_per_second": 10,
                "stream_end": 9,
                "request_overhead": 0.1,
                "result_overhead": 0.2,
                "prefill_tokens_per_second": 1000,
                "think_time": 4,
                "blocks": [
                    {"thinking": 7, "complete_at": 2},
                    {
                        "tool_call": {
                            "id": "w",
                            "name": "write",
                            "arg_tokens": 3,
                            "duration": 0.5,
                            "safety": "exclusive",
                            "resource": "f.py",
                            "fault": {"kind": "error", "at": 0.25, "message": "m"},
                            "result_tokens": 9,
                        },
                        "complete_at": 3,
                    },
                ],
            }
        ],
    }
    call = ToolCall(
        "w", "write", 3, 0.5, "exclusive", "f.py", Fault("error", 0.25, "m"), 9
    )
    expected = Scenario(
        name="full",
        description="d",
        max_concurrency=3,
        turns=(
            Turn(
                blocks=(
                    Block("thinking", 7, None, 2.0),
                    Block("tool_call", 3, call, 3.0),
                ),
                ttft=1.0,
                tokens_per_second=10.0,
                stream_end=9.0,
                request_overhead=0.1,
                result_overhead=0.2,
                prefill_tokens_per_second=1000.0,
                think_time=4.0,
            ),
        ),
    )
    assert scenario_from_dict(data) == expected
    assert scenario_from_dict(data, source="here").source == "here"


# --------------------------------------------------------------------------
# round trips


def test_dict_round_trip_and_compact_form() -> None:
    scenario = scenario_from_dict(hand_worked_dict())
    data = scenario_to_dict(scenario)
    assert data == {
        "name": "hand-worked",
        "turns": [
            {
                "blocks": [
                    {"text": 50},
                    {"tool_call": {"id": "A", "name": "a", "duration": 1.0}},
                    {"tool_call": {"id": "call_0_1", "name": "b", "duration": 2.0}},
                    {"text": 40},
                ]
            }
        ],
    }
    assert scenario_from_dict(data) == scenario


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_file_round_trip_of_every_bundled_scenario(tmp_path: Path, suffix: str) -> None:
    for name, path in bundled_scenarios().items():
        scenario = load_scenario(path)
        out = tmp_path / f"{name}{suffix}"
        save_scenario(scenario, out)
        assert load_scenario(out) == scenario
        assert load_scenario(out).source == str(out)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


safe_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8)
durations = st.floats(0, 100, allow_nan=False)
calls = st.builds(
    ToolCall,
    id=st.just(""),
    name=safe_text.filter(bool),
    arg_tokens=st.integers(0, 500),
    duration=durations,
    safety=st.sampled_from(["shared", "exclusive"]),
    resource=st.none() | safe_text.filter(bool),
    fault=st.none() | st.builds(Fault, st.sampled_from(["error", "hang"]), durations),
    result_tokens=st.integers(0, 10_000),
)


@st.composite
def scenarios(draw: st.DrawFn, *, max_turns: int = 3) -> Scenario:
    """Scenarios with unique call ids; shrink towards fewer turns and blocks."""
    turns = []
    for k in range(draw(st.integers(1, max_turns))):
        blocks = []
        for n in range(draw(st.integers(0, 4))):
            if draw(st.booleans()):
                call = draw(calls)
                fault = call.fault
                if fault is not None and fault.kind == "error":
                    # an error fires while the tool runs
                    fault = Fault("error", min(fault.at, call.duration), fault.message)
                call = ToolCall(**{**call.__dict__, "id": f"c{k}_{n}", "fault": fault})
                blocks.append(Block("tool_call", call.arg_tokens, call))
            else:
                kind = draw(st.sampled_from(["text", "thinking"]))
                blocks.append(Block(kind, draw(st.integers(0, 300))))
        turns.append(
            Turn(
                blocks=tuple(blocks),
                ttft=draw(durations),
                tokens_per_second=draw(st.floats(0.5, 500)),
                request_overhead=draw(durations),
                prefill_tokens_per_second=draw(st.none() | st.floats(1, 1e5)),
            )
        )
    cap = draw(st.none() | st.integers(1, 8))
    return Scenario(draw(safe_text), tuple(turns), cap, draw(safe_text))


@settings(max_examples=40, deadline=None)
@given(scenario=scenarios())
def test_round_trip_property(tmp_path_factory: Any, scenario: Scenario) -> None:
    assert scenario_from_dict(scenario_to_dict(scenario)) == scenario
    folder = tmp_path_factory.mktemp("rt")
    for suffix in (".json", ".toml"):
        save_scenario(scenario, folder / f"s{suffix}")
        assert load_scenario(folder / f"s{suffix}") == scenario


def test_save_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("old")
    save_scenario(scenario_from_dict(hand_worked_dict()), path)
    assert json.loads(path.read_text())["name"] == "hand-worked"


# --------------------------------------------------------------------------
# validation messages


def test_negative_duration_names_path_value_rule_and_fix() -> None:
    data = hand_worked_dict()
    data["turns"][0]["blocks"][1]["tool_call"]["duration"] = -1.0
    assert error_of(data) == (
        "s.json: turns[0].blocks[1].tool_call.duration = -1.0: must be a number "
        ">= 0; use the tool's run time in seconds"
    )


def test_long_form_path_says_call() -> None:
    data = hand_worked_dict()
    data["turns"][0]["blocks"][2]["call"]["duration"] = "2s"
    assert "turns[0].blocks[2].call.duration = '2s': must be a number >= 0" in (
        error_of(data)
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"arg_tokens": 2.5}, "tool_call.arg_tokens = 2.5: must be an integer >= 0"),
        ({"result_tokens": -1}, "tool_call.result_tokens = -1: must be an integer"),
        ({"arg_tokens": True}, "tool_call.arg_tokens = True: must be an integer"),
        ({"safety": "exlusive"}, "safety = 'exlusive': must be one of shared, "),
        ({"safety": "exlusive"}, "did you mean 'exclusive'?"),
        ({"duration": float("nan")}, "duration = nan: must be a number >= 0"),
        ({"resource": ""}, "resource = '': must be a non-empty string"),
        ({"fault": {"kind": "crash"}}, "fault.kind = 'crash': must be one of error"),
        ({"fault": {"at": 1}}, "fault.kind = None: is required"),
        ({"fault": {"kind": "error", "at": -2}}, "fault.at = -2: must be a number"),
        ({"fault": "boom"}, "tool_call.fault = 'boom': must be an object"),
        ({"durations": 1}, "unknown key 'durations'; did you mean 'duration'?"),
        ({"name": 3}, "tool_call.name = 3: must be a non-empty string"),
    ],
)
def test_call_field_errors(fields: dict[str, Any], expected: str) -> None:
    message = error_of(with_call(**fields))
    assert message.startswith("s.json: turns[0].blocks[1]")
    assert expected in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"tokens_per_second": 0},
            "turns[0].tokens_per_second = 0: must be a number > 0",
        ),
        ({"ttft": -0.1}, "turns[0].ttft = -0.1: must be a number >= 0"),
        ({"prefill_tokens_per_second": 0}, "must be a number > 0 or null"),
        ({"think_time": "1"}, "turns[0].think_time = '1'"),
        ({"ttf": 1}, "turns[0]: unknown key 'ttf'; did you mean 'ttft'?"),
        ({"blocks": {"text": 1}}, "turns[0].blocks = {'text': 1}: must be a list"),
    ],
)
def test_turn_field_errors(change: dict[str, Any], expected: str) -> None:
    data = hand_worked_dict()
    data["turns"][0].update(change)
    assert expected in error_of(data)


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        (
            {"max_concurrency": 0},
            "max_concurrency = 0: must be an integer >= 1 or null",
        ),
        ({"max_concurrency": 2.0}, "max_concurrency = 2.0: must be an integer"),
        ({"turns": []}, "turns = []: must be a non-empty list of turns"),
        ({"name": None}, "scenario.name = None: must be a string"),
        ({"turn": []}, "unknown key 'turn'; did you mean 'turns'?"),
    ],
)
def test_top_level_errors(top: dict[str, Any], expected: str) -> None:
    data = hand_worked_dict()
    data.update(top)
    assert expected in error_of(data)


def test_missing_name_is_required() -> None:
    assert "scenario.name = None: is required; add " in error_of({"turns": []})


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"txt": 5}, "a block needs one of the keys text, thinking, tool_call or kind"),
        ({"text": 5, "thinking": 2}, "holds more than one block kind"),
        ({"text": 5, "tokens": 2}, "unknown key 'tokens'"),
        ({"text": -5}, "blocks[0].text = -5: must be an integer >= 0"),
        ({"kind": "txt"}, "kind = 'txt': must be one of text, thinking, tool_call"),
        ({"kind": "tool_call"}, "call = None: a tool_call block needs a call"),
        ({"kind": "text", "call": {"name": "a"}}, "only tool_call blocks have a call"),
        (
            {"kind": "tool_call", "tokens": 3, "call": {"name": "a"}},
            "tokens = 3: must equal the call's arg_tokens (20)",
        ),
        ([1], "blocks[0] = [1]: must be an object"),
    ],
)
def test_block_errors(block: Any, expected: str) -> None:
    data = {"name": "x", "turns": [{"blocks": [block]}]}
    message = error_of(data)
    assert message.startswith("s.json: turns[0].blocks[0]")
    assert expected in message


def test_duplicate_ids_name_both_places() -> None:
    data = {
        "name": "x",
        "turns": [
            {"blocks": [{"tool_call": {"name": "a"}}]},
            {"blocks": [{"tool_call": {"id": "call_0_0", "name": "b"}}]},
        ],
    }
    assert error_of(data) == (
        "s.json: turns[1].blocks[0].tool_call.id = 'call_0_0': call ids must be "
        "unique, turns[0].blocks[0].tool_call.id has it already; rename one of "
        "them (or drop the id to get call_<turn>_<n>)"
    )


def test_explicit_completion_times_must_not_go_back() -> None:
    blocks = [
        {"text": 1, "complete_at": 2.0},
        {"text": 1},
        {"text": 1, "complete_at": 1.5},
    ]
    message = error_of({"name": "x", "turns": [{"blocks": blocks}]})
    assert message.startswith(
        "s.json: turns[0].blocks[2].complete_at = 1.5: must be >= 2.0 "
        "(turns[0].blocks[0].complete_at)"
    )
    turn = {"stream_end": 1.0, "blocks": [{"text": 1, "complete_at": 2.0}]}
    message = error_of({"name": "x", "turns": [turn]})
    assert "turns[0].stream_end = 1.0: must be >= 2.0" in message


def test_json_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "name": "x",\n  "turns": [,]\n}\n')
    with pytest.raises(ScenarioError, match=r"bad\.json:3:13: not valid JSON"):
        load_scenario(path)


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\nturns = [,]\n')
    with pytest.raises(
        ScenarioError, match=r"bad\.toml:2:10: not valid TOML: .*line 2"
    ):
        load_scenario(path)


def test_validation_error_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('name = "x"\n[[turns]]\nttft = -1\n')
    with pytest.raises(ScenarioError, match=r"s\.toml: turns\[0\]\.ttft = -1"):
        load_scenario(path)


def test_json_validation_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    data = hand_worked_dict()
    data["turns"][0]["blocks"][2]["call"]["duration"] = -2
    data["turns"][0]["blocks"][3]["colour"] = "red"
    path.write_text(json.dumps(data, indent=2))
    lines = path.read_text().splitlines()
    duration_line = 1 + next(n for n, t in enumerate(lines) if '"duration": -2' in t)
    colour_line = 1 + next(n for n, t in enumerate(lines) if '"colour"' in t)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    # both problems in one message, each with its own line
    message = str(info.value).splitlines()
    assert message[0] == (
        f"{path}: 2 problems in the scenario (fix them all, then load it again):"
    )
    assert message[1].startswith(
        f"  {path}:{duration_line}: turns[0].blocks[2].call.duration = -2: must be"
    )
    assert message[2].startswith(
        f"  {path}:{colour_line}: turns[0].blocks[3]: unknown key 'colour'"
    )
    assert len(message) == 3
    data["turns"][0]["blocks"][2]["call"]["duration"] = 2
    path.write_text(json.dumps(data, indent=2))
    with pytest.raises(ScenarioError, match=rf"s\.json:{colour_line}: turns\[0\]"):
        load_scenario(path)
    # a missing key points at its parent; a top-level problem at the key
    del data["name"]
    data["max_concurrency"] = 0
    path.write_text(json.dumps(data, indent=2))
    with pytest.raises(ScenarioError, match=r"s\.json: scenario\.name = None"):
        load_scenario(path)
    data["name"] = "x"
    path.write_text(json.dumps(data, indent=2))
    with pytest.raises(ScenarioError, match=r"s\.json:\d+: max_concurrency = 0"):
        load_scenario(path)


def test_every_problem_of_a_scenario_is_reported_at_once() -> None:
    data = hand_worked_dict()
    data["name"] = 7
    data["colour"] = "red"
    data["max_concurrency"] = 0
    turn = data["turns"][0]
    turn["ttft"] = -1
    turn["blocks"][1]["tool_call"]["duration"] = -2
    turn["blocks"][2]["call"]["nmae"] = "b"
    data["turns"].append({"blocks": [{"txet": 5}, {"text": -3}]})
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source="mine.json")
    lines = str(info.value).splitlines()
    assert lines[0] == (
        "mine.json: 8 problems in the scenario (fix them all, then load it again):"
    )
    problems = [line.strip().removeprefix("mine.json: ") for line in lines[1:]]
    assert [p.split(":")[0].split(" ")[0] for p in problems] == [
        "scenario",  # unknown key colour
        "scenario.name",
        "max_concurrency",
        "turns[0].ttft",
        "turns[0].blocks[1].tool_call.duration",
        "turns[0].blocks[2].call",  # unknown key nmae
        "turns[1].blocks[0]",  # no block kind
        "turns[1].blocks[1].text",
    ]
    assert "unknown key 'colour'" in problems[0]
    assert "did you mean 'name'?" in problems[5]


def test_fixing_a_bad_call_block_keeps_later_default_ids() -> None:
    # The first call's block is broken, but it keeps its default id call_0_0
    # and its place in the count: the explicit ids that collide with the
    # default ids the fixed file will have are reported now, not after a fix.
    data = {
        "name": "ids",
        "turns": [
            {
                "blocks": [
                    {"tool_call": {"name": "a", "duration": -1}},
                    {"tool_call": {"name": "b", "duration": 1, "id": "call_0_0"}},
                    {"tool_call": {"name": "c", "duration": 1}},
                    {"tool_call": {"name": "d", "duration": 1, "id": "call_0_2"}},
                ]
            }
        ],
    }
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source="ids.json")
    message = str(info.value)
    assert "3 problems" in message
    assert "turns[0].blocks[0].tool_call.duration = -1" in message
    assert (
        "turns[0].blocks[1].tool_call.id = 'call_0_0': call ids must be unique, "
        "turns[0].blocks[0].tool_call.id has it already" in message
    )
    assert (
        "turns[0].blocks[3].tool_call.id = 'call_0_2': call ids must be unique, "
        "turns[0].blocks[2].tool_call.id has it already" in message
    )


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"name the file \*\.json or \*\.toml"):
        load_scenario(tmp_path / "s.yaml")
    with pytest.raises(ScenarioError, match="cannot read the scenario file"):
        load_scenario(tmp_path / "missing.json")
    scenario = scenario_from_dict(hand_worked_dict())
    with pytest.raises(ScenarioError, match=r"\*\.json or \*\.toml"):
        save_scenario(scenario, tmp_path / "s.yaml")


# --------------------------------------------------------------------------
# bundled scenarios


def test_bundled_scenarios_load() -> None:
    bundled = bundled_scenarios()
    assert {"hand-worked", "two-call", "fan-out", "mixed-safety", "logged-turn"} <= set(
        bundled
    )
    assert any(p.suffix == ".toml" for p in bundled.values())
    for path in bundled.values():
        assert load_scenario(path).turns


def test_fan_out_shape() -> None:
    fan = load_scenario(bundled_scenarios()["fan-out"])
    planner = fan.turns[0]
    assert len(planner.calls) == 8
    assert {c.duration for c in planner.calls} == {1.0}
    assert {c.arg_tokens for c in planner.calls} == {25}
    # 0.5 s + 40 tokens / 50 tok/s = 1.3 s, then one call every 0.5 s
    assert planner.call_complete_ns()[0] == 1_800_000_000
    # 8 calls end at 5.3 s, the 10-token join at 5.5 s
    assert planner.stream_end_ns() == 5_500_000_000
    assert len(fan.turns) == 2 and not fan.turns[1].calls
