"""The baseline file: schema, clear errors for broken files, atomic locked saves."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_streampar._baseline import (
    BASELINE_SCHEMA,
    Baseline,
    BaselineError,
    BaselineSchemaError,
    Metric,
    TestEntry,
    baseline_from_dict,
    baseline_to_dict,
    entry_from_payload,
    load_baseline,
    save_baseline,
)
from simulator import SimulatorError


def _entry(session: float, speedup: float = 1.5) -> TestEntry:
    return TestEntry(
        metrics={
            "session_time": Metric(session, "lower", "s"),
            "speedup": Metric(speedup, "higher", "x"),
        },
        scenario="hand-worked",
        backend="trio",
    )


def test_save_then_load_round_trips_every_field(tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    saved = save_baseline(path, {"t.py::b": _entry(4.3), "t.py::a": _entry(6.1)})
    loaded = load_baseline(path)
    assert loaded.tests == {"t.py::a": _entry(6.1), "t.py::b": _entry(4.3)}
    assert loaded == saved.baseline
    data = json.loads(path.read_text())
    assert data["schema"] == BASELINE_SCHEMA and data["version"] == 1
    assert data["package_version"] == "0.1.0"
    assert list(data["tests"]) == ["t.py::a", "t.py::b"]  # sorted for clean diffs
    assert data["tests"]["t.py::b"]["metrics"]["session_time"] == {
        "value": 4.3,
        "better": "lower",
        "unit": "s",
    }


def test_the_same_content_gives_the_same_bytes(tmp_path: Path) -> None:
    tests = {"t.py::a": _entry(6.1), "t.py::b": _entry(4.3)}
    first, second = tmp_path / "1.json", tmp_path / "2.json"
    save_baseline(first, tests, commit="abc")
    save_baseline(second, dict(reversed(tests.items())), commit="abc")
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_commit_is_git_head_of_the_baseline_folder(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    git(
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )
    head = git("rev-parse", "HEAD")
    saved = save_baseline(tmp_path / "base.json", {"t.py::a": _entry(1.0)})
    assert saved.baseline.commit == head and len(head) == 40


def test_outside_git_the_commit_is_null(tmp_path: Path) -> None:
    saved = save_baseline(tmp_path / "base.json", {"t.py::a": _entry(1.0)})
    assert saved.baseline.commit is None
    assert json.loads((tmp_path / "base.json").read_text())["commit"] is None


def test_saving_merges_and_pruning_drops_tests_that_did_not_run(tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    save_baseline(path, {"t.py::a": _entry(1.0), "t.py::b": _entry(2.0)})
    merged = save_baseline(path, {"t.py::b": _entry(3.0), "t.py::c": _entry(4.0)})
    assert merged.updated == ["t.py::b", "t.py::c"] and merged.kept == ["t.py::a"]
    assert {
        k: v.metrics["session_time"].value for k, v in load_baseline(path).tests.items()
    } == {
        "t.py::a": 1.0,
        "t.py::b": 3.0,
        "t.py::c": 4.0,
    }
    pruned = save_baseline(path, {"t.py::c": _entry(5.0)}, prune=True)
    assert pruned.pruned == ["t.py::a", "t.py::b"] and pruned.kept == []
    assert list(load_baseline(path).tests) == ["t.py::c"]


def test_a_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(BaselineError) as info:
        load_baseline(path)
    assert str(path) in str(info.value)
    assert "does not exist" in str(info.value)
    assert "--streampar-save-baseline" in str(info.value)


def test_a_truncated_file_names_file_line_column_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    save_baseline(path, {"t.py::a": _entry(1.0)})
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    lines = text[: len(text) // 2].splitlines()
    with pytest.raises(BaselineError) as info:
        load_baseline(path)
    message = str(info.value)
    assert not isinstance(info.value, BaselineSchemaError)
    assert isinstance(info.value, SimulatorError)
    assert f"baseline file {str(path)!r} is not valid JSON" in message
    assert "ends early (truncated?)" in message
    assert f"line {len(lines)}" in message
    assert "--streampar-save-baseline" in message


def test_a_corrupt_byte_in_the_middle_is_located(tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    path.write_text(
        '{\n  "schema": "pytest-streampar-baseline",\n  "version": 1,,\n}\n'
    )
    with pytest.raises(BaselineError, match=r"it breaks at line 3 column 16"):
        load_baseline(path)


def test_an_empty_file_is_called_empty(tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    path.write_text("  \n")
    with pytest.raises(BaselineError, match="is empty"):
        load_baseline(path)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ([], "the top level = []"),
        ({"schema": "other"}, "schema = 'other'"),
        ({"schema": BASELINE_SCHEMA, "version": 2, "tests": {}}, "version = 2"),
        ({"schema": BASELINE_SCHEMA, "version": 1, "tests": []}, "tests = []"),
        (
            {
                "schema": BASELINE_SCHEMA,
                "version": 1,
                "tests": {"a": {"metrics": {"m": {"value": "4"}}}},
            },
            "tests['a'].metrics['m'].value = '4' must be a number",
        ),
        (
            {
                "schema": BASELINE_SCHEMA,
                "version": 1,
                "tests": {"a": {"metrics": {"m": {"value": 1, "better": "up"}}}},
            },
            "tests['a'].metrics['m'].better = 'up' must be 'lower' or 'higher'",
        ),
    ],
)
def test_schema_errors_name_the_field_and_value(data: object, where: str) -> None:
    with pytest.raises(BaselineSchemaError) as info:
        baseline_from_dict(data, source="b.json")
    assert str(info.value).startswith(f"b.json: {where}")


def test_a_payload_of_the_plugin_becomes_an_entry() -> None:
    payload = {
        "metrics": {"speedup": {"value": 1.25, "better": "higher", "unit": "x"}},
        "timelines": {},
        "backend": "asyncio",
        "scenario": "two-call",
        "plots": [],
    }
    assert entry_from_payload(payload, nodeid="t.py::x") == TestEntry(
        {"speedup": Metric(1.25, "higher", "x")}, "two-call", "asyncio"
    )
    with pytest.raises(BaselineSchemaError, match="metrics recorded by t.py::x"):
        entry_from_payload({"metrics": {"x": {"value": None}}}, nodeid="t.py::x")


def test_to_dict_and_from_dict_agree() -> None:
    baseline = Baseline({"a": _entry(2.5)}, "0.1.0", None)
    assert baseline_from_dict(baseline_to_dict(baseline)) == baseline


_WRITER = textwrap.dedent(
    """
    import sys
    from pytest_streampar._baseline import Metric, TestEntry, save_baseline

    path, name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for i in range(rounds):
        entry = TestEntry({"session_time": Metric(float(i), "lower", "s")})
        save_baseline(path, {f"t.py::{name}[{i}]": entry}, commit="c")
    """
)


def test_two_processes_saving_at_once_lose_nothing_and_never_break_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "base.json"
    rounds = 40
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), name, str(rounds)])
        for name in ("p", "q")
    ]
    seen_states = 0
    while any(w.poll() is None for w in writers):
        if path.exists():
            load_baseline(path)  # any state a reader sees is a whole file
            seen_states += 1
    assert [w.returncode for w in writers] == [0, 0]
    tests = load_baseline(path).tests
    # every save merged under the lock: no process overwrote the other's tests
    assert len(tests) == 2 * rounds
    assert tests["t.py::q[39]"].metrics["session_time"].value == 39.0
    assert [p.name for p in tmp_path.iterdir()] == ["base.json"]  # no temp files
    assert seen_states > 0
