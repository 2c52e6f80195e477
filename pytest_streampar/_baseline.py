"""Latency baselines: the file format, loading with clear errors, atomic saving.

A baseline is a JSON file committed next to a test suite. It holds, per test
node id, the metrics that test recorded on virtual time. Because virtual-time
figures are deterministic, the same code gives the same numbers on every
machine, so a pull request can be gated on them exactly.

Schema (``"schema": "pytest-streampar-baseline"``, ``"version": 1``)::

    {
      "schema": "pytest-streampar-baseline",
      "version": 1,
      "package_version": "0.1.0",     # pytest-streampar that wrote it
      "commit": "4f1c...",            # `git rev-parse HEAD` when saved, or null
      "tests": {
        "<node id>": {
          "scenario": "two-call",     # or null
          "backend": "asyncio",       # or null
          "metrics": {
            "<metric>": {"value": 4.3, "better": "lower", "unit": "s"}
          }
        }
      }
    }

Metric names are those the plugin records: ``session_time``,
``iteration_time[<k>]``, ``speedup`` and ``bound_gap``; ``better`` is
``"lower"`` or ``"higher"``; ``unit`` is ``"s"``, ``"x"`` or ``"fraction"``.
Tests and metrics are written sorted, with a fixed indent, so a refreshed
baseline diffs cleanly in review.

Saving takes an exclusive lock on the file's folder (``fcntl.flock``) for the
whole read-merge-write, writes a temporary file in the same folder and renames
it over the target, so two processes saving at once never leave a broken file
and neither loses the other's tests. Where ``fcntl`` does not exist (Windows)
the rename is still atomic but concurrent merges are not serialised.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from simulator._errors import SimulatorError

__all__ = [
    "BASELINE_SCHEMA",
    "BASELINE_VERSION",
    "Baseline",
    "BaselineError",
    "BaselineSchemaError",
    "Metric",
    "SaveResult",
    "TestEntry",
    "baseline_from_dict",
    "baseline_to_dict",
    "current_commit",
    "entry_from_payload",
    "load_baseline",
    "package_version",
    "save_baseline",
]

BASELINE_SCHEMA = "pytest-streampar-baseline"
BASELINE_VERSION = 1
BETTER = ("lower", "higher")
UNITS = ("s", "x", "fraction")
_FIX = "re-create it with `pytest --streampar-baseline=FILE --streampar-save-baseline`"


class BaselineError(SimulatorError):
    """A baseline (or metrics) file cannot be read: missing, not JSON, truncated.

    Attributes:
        path: the file, when the data came from one.
    """

    def __init__(self, message: str, path: Path | str | None = None) -> None:
        self.path = None if path is None else str(path)
        super().__init__(message)


class BaselineSchemaError(BaselineError):
    """The file is JSON but not a baseline this version understands (another
    schema, another version, or fields of the wrong shape)."""


@dataclass(frozen=True)
class Metric:
    """One measured figure.

    Attributes:
        value: the figure, in ``unit``.
        better: ``"lower"`` (times, distance from the bound) or ``"higher"``
            (speed-up).
        unit: ``"s"`` (seconds of virtual time), ``"x"`` (a ratio) or
            ``"fraction"``.
    """

    value: float
    better: str = "lower"
    unit: str = "s"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"value": self.value, "better": self.better, "unit": self.unit}


@dataclass(frozen=True)
class TestEntry:
    """What one test recorded.

    Attributes:
        metrics: metric name to figure.
        scenario: the scenario's name, when the test played one.
        backend: the event loop the test ran on.
    """

    __test__ = False  # not a pytest test class, despite the name

    metrics: dict[str, Metric]
    scenario: str | None = None
    backend: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, metrics sorted by name."""
        return {
            "scenario": self.scenario,
            "backend": self.backend,
            "metrics": {k: self.metrics[k].to_dict() for k in sorted(self.metrics)},
        }


@dataclass(frozen=True)
class Baseline:
    """A whole baseline file.

    Attributes:
        tests: node id to what that test recorded.
        package_version: the pytest-streampar version that wrote it.
        commit: the git commit checked out when it was written, or None.
        version: the schema version.
    """

    tests: dict[str, TestEntry] = field(default_factory=dict)
    package_version: str | None = None
    commit: str | None = None
    version: int = BASELINE_VERSION


@dataclass(frozen=True)
class SaveResult:
    """What :func:`save_baseline` wrote.

    Attributes:
        path: the file written.
        baseline: its content.
        updated: node ids written from this run.
        kept: node ids kept from the old file (not run this time).
        pruned: node ids dropped from the old file.
        replaced_unreadable: the old file could not be read and was replaced.
    """

    path: Path
    baseline: Baseline
    updated: list[str]
    kept: list[str]
    pruned: list[str]
    replaced_unreadable: str | None = None


# Reading ------------------------------------------------------------------


def load_baseline(path: Path | str) -> Baseline:
    """Read and check a baseline file.

    Raises:
        BaselineError: the file is missing, unreadable, empty or not JSON
            (e.g. truncated); the message names the file, the line and column
            where parsing stopped, and how to re-create it.
        BaselineSchemaError: the JSON is not a baseline of this schema version.
    """
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(
            f"baseline file {str(target)!r} does not exist; create it with "
            f"`pytest --streampar-baseline={target} --streampar-save-baseline`",
            target,
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(
            f"baseline file {str(target)!r} cannot be read ({exc}); {_FIX}", target
        ) from None
    return baseline_from_dict(_parse_json(text, target), source=str(target))


def _parse_json(text: str, target: Path) -> Any:
    if not text.strip():
        raise BaselineError(
            f"baseline file {str(target)!r} is empty (a write was interrupted?); "
            f"{_FIX}",
            target,
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        stripped = text.rstrip()
        cut = exc.pos >= len(stripped) or not stripped.endswith("}")
        end = "ends early (truncated?)" if cut else "breaks"
        raise BaselineError(
            f"baseline file {str(target)!r} is not valid JSON: it {end} at line "
            f"{exc.lineno} column {exc.colno} ({exc.msg}); restore it from version "
            f"control or {_FIX}",
            target,
        ) from None


def baseline_from_dict(data: Any, *, source: str = "<data>") -> Baseline:
    """Check parsed JSON against the schema and build a :class:`Baseline`.

    Args:
        data: the parsed JSON.
        source: the file name, for error messages.

    Raises:
        BaselineSchemaError: a field is missing or has the wrong shape; the
            message names the field path and value.
    """
    if not isinstance(data, dict):
        _schema(source, "the top level", data, "must be a JSON object")
    if data.get("schema") != BASELINE_SCHEMA:
        _schema(source, "schema", data.get("schema"), f"must be {BASELINE_SCHEMA!r}")
    version = data.get("version")
    if version != BASELINE_VERSION:
        _schema(
            source,
            "version",
            version,
            f"must be {BASELINE_VERSION} (this pytest-streampar reads version "
            f"{BASELINE_VERSION} only)",
        )
    tests = data.get("tests")
    if not isinstance(tests, dict):
        _schema(source, "tests", tests, "must be an object of node id to entry")
    return Baseline(
        tests={
            str(nodeid): _entry(entry, f"tests[{nodeid!r}]", source)
            for nodeid, entry in tests.items()
        },
        package_version=_optional_str(data, "package_version", source),
        commit=_optional_str(data, "commit", source),
        version=BASELINE_VERSION,
    )


def _schema(source: str, where: str, value: Any, rule: str) -> NoReturn:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise BaselineSchemaError(
        f"{source}: {where} = {shown} {rule}; the file was not written by this "
        f"version of pytest-streampar: {_FIX}",
        source,
    )


def _optional_str(data: Mapping[str, Any], key: str, source: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        _schema(source, key, value, "must be a string or null")
    return value


def _entry(entry: Any, where: str, source: str) -> TestEntry:
    if not isinstance(entry, dict):
        _schema(source, where, entry, "must be an object with 'metrics'")
    metrics = entry.get("metrics")
    if not isinstance(metrics, dict):
        _schema(source, f"{where}.metrics", metrics, "must be an object")
    for key in ("scenario", "backend"):
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            _schema(source, f"{where}.{key}", value, "must be a string or null")
    return TestEntry(
        metrics={
            str(name): _metric(m, f"{where}.metrics[{name!r}]", source)
            for name, m in metrics.items()
        },
        scenario=entry.get("scenario"),
        backend=entry.get("backend"),
    )


def _metric(data: Any, where: str, source: str) -> Metric:
    if not isinstance(data, dict):
        _schema(source, where, data, "must be {value, better, unit}")
    value = data.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _schema(source, f"{where}.value", value, "must be a number")
    if not math.isfinite(value):
        _schema(source, f"{where}.value", value, "must be finite")
    better = data.get("better", "lower")
    if better not in BETTER:
        _schema(source, f"{where}.better", better, "must be 'lower' or 'higher'")
    unit = data.get("unit", "s")
    if unit not in UNITS:
        _schema(source, f"{where}.unit", unit, f"must be one of {', '.join(UNITS)}")
    return Metric(float(value), better, unit)


def entry_from_payload(payload: Any, *, nodeid: str) -> TestEntry:
    """Build a :class:`TestEntry` from the plugin's ``("streampar", payload)``.

    Raises:
        BaselineSchemaError: the payload does not have the documented shape.
    """
    source = f"metrics recorded by {nodeid}"
    if not isinstance(payload, dict):
        _schema(source, "payload", payload, "must be a dict with 'metrics'")
    return _entry(payload, "payload", source)


# Writing ------------------------------------------------------------------


def baseline_to_dict(baseline: Baseline) -> dict[str, Any]:
    """The JSON form of a baseline, tests sorted by node id."""
    return {
        "schema": BASELINE_SCHEMA,
        "version": baseline.version,
        "package_version": baseline.package_version,
        "commit": baseline.commit,
        "tests": {k: baseline.tests[k].to_dict() for k in sorted(baseline.tests)},
    }


def package_version() -> str | None:
    """The installed pytest-streampar version, or None when not installed."""
    from importlib import metadata

    try:
        return metadata.version("pytest-streampar")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a copy
        return None


def current_commit(cwd: Path | str | None = None) -> str | None:
    """``git rev-parse HEAD`` in ``cwd``, or None outside a git checkout."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def save_baseline(
    path: Path | str,
    tests: Mapping[str, TestEntry],
    *,
    prune: bool = False,
    commit: str | None = None,
) -> SaveResult:
    """Write ``tests`` into the baseline at ``path``, atomically, under a lock.

    Entries of the old file for tests not in ``tests`` are kept (a run of part
    of the suite refreshes only that part) unless ``prune`` is set. An old file
    that cannot be read is replaced, and the result says so.

    Args:
        path: the baseline file; its folder is created.
        tests: node id to what the test recorded in this run.
        prune: drop old entries of tests that did not record this time.
        commit: the commit to record; None asks git in the file's folder.

    Returns:
        What was written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _folder_lock(target.parent):
        old, unreadable = _old_tests(target)
        kept = {} if prune else {k: v for k, v in old.items() if k not in tests}
        merged = {**kept, **tests}
        baseline = Baseline(
            tests=merged,
            package_version=package_version(),
            commit=commit if commit is not None else current_commit(target.parent),
        )
        text = json.dumps(baseline_to_dict(baseline), indent=2, allow_nan=False)
        _replace(target, text + "\n")
    return SaveResult(
        path=target,
        baseline=baseline,
        updated=sorted(tests),
        kept=sorted(kept),
        pruned=sorted(k for k in old if k not in tests) if prune else [],
        replaced_unreadable=unreadable,
    )


def _old_tests(target: Path) -> tuple[dict[str, TestEntry], str | None]:
    if not target.exists():
        return {}, None
    try:
        return load_baseline(target).tests, None
    except BaselineError as exc:
        return {}, str(exc)


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder`` (no lock file is left behind)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: rename stays atomic
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _replace(target: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``target``, then rename it."""
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
