"""The latency gate: compare a run's metrics with a baseline, save baselines,
write a test-run report; works under pytest-xdist.

Options (group ``streampar``; an ini key where one is named):

- ``--streampar-baseline=FILE`` (ini ``streampar_baseline``, relative to the
  rootdir): compare every streampar test's metrics with FILE; a metric worse
  than its baseline by more than the tolerance fails the run (exit code 1)
  with one line per regressed metric in the terminal summary.
- ``--streampar-save-baseline``: write this run's metrics to FILE instead of
  comparing (entries of tests that did not run are kept).
- ``--streampar-prune-baseline``: with ``--streampar-save-baseline``, drop
  entries of tests that did not record metrics this time.
- ``--streampar-tolerance=TOL`` (ini ``streampar_tolerance``): ``5%``,
  ``2.5%``, ``0.05`` or per metric ``speedup=1%,session_time=3%``; default 0.
- ``--streampar-fail-on-new`` / ``--streampar-fail-on-missing`` (ini
  ``streampar_fail_on_new`` / ``streampar_fail_on_missing``): tests not in the
  baseline, and baseline entries with no result, fail the gate (by default
  they are only reported).
- ``--streampar-report=DIR``: write a report of the whole run (see
  :mod:`pytest_streampar._run_report`).

How metrics travel: after each streampar test the plugin appends one
``("streampar", payload)`` entry to ``item.user_properties``; pytest copies
user properties into every test report, and pytest-xdist sends reports from
its workers to the controller, so this module collects payloads in
``pytest_runtest_logreport`` wherever the reports end up: the call report
gives the test's outcome, the teardown report its last payload (it carries
properties appended while fixtures tear down, too). Only tests that passed
count; a failed one is reported as not saved. At setup, the gate
marks every streampar test (one carrying the ``streampar`` marker or using a
``streampar_*`` fixture, the tests the plugin core records) with
``("streampar_expected", True)``. A test so marked that passed but whose report
carries no payload means metrics were lost on the way (a worker that did not
send them); the gate then fails loudly rather than pass on partial data, and a
save refuses to write a partial baseline.

This module is imported when pytest starts (for its options), so it imports
only pytest and the standard library at module level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._baseline import Baseline, SaveResult, TestEntry
    from ._compare import Comparison, Tolerances

__all__ = ["EXPECTED_KEY", "PAYLOAD_KEY", "GatePlugin", "add_options", "register"]

PAYLOAD_KEY = "streampar"
EXPECTED_KEY = "streampar_expected"
PLUGIN_NAME = "streampar-gate"


def add_options(parser: pytest.Parser) -> None:
    """Declare the gate's command-line options and ini keys."""
    group = parser.getgroup("streampar", "streampar: streaming-parallelism checks")
    group.addoption(
        "--streampar-baseline",
        metavar="FILE",
        default=None,
        help="compare every streampar test's metrics with this baseline JSON "
        "file and fail on regressions (ini: streampar_baseline)",
    )
    group.addoption(
        "--streampar-save-baseline",
        action="store_true",
        default=False,
        help="write this run's metrics to the --streampar-baseline file instead "
        "of comparing (entries of tests that did not run are kept)",
    )
    group.addoption(
        "--streampar-prune-baseline",
        action="store_true",
        default=False,
        help="with --streampar-save-baseline: drop entries of tests that did not "
        "record metrics in this run",
    )
    group.addoption(
        "--streampar-tolerance",
        metavar="TOL",
        default=None,
        help="how much worse a metric may get: 5%%, 2.5%%, 0.05, or per metric "
        "speedup=1%%,session_time=3%% (default 0; ini: streampar_tolerance)",
    )
    group.addoption(
        "--streampar-fail-on-new",
        action="store_true",
        default=None,
        help="tests or metrics not in the baseline fail the gate "
        "(ini: streampar_fail_on_new)",
    )
    group.addoption(
        "--streampar-fail-on-missing",
        action="store_true",
        default=None,
        help="baseline entries with no result in this run fail the gate "
        "(ini: streampar_fail_on_missing)",
    )
    group.addoption(
        "--streampar-report",
        metavar="DIR",
        default=None,
        help="write a report of the whole run to DIR: report.md, summary.json, "
        "trace.json and timeline plots",
    )
    parser.addini(
        "streampar_baseline",
        "baseline JSON file for the latency gate, relative to the rootdir",
        default=None,
    )
    parser.addini(
        "streampar_tolerance",
        "how much worse a metric may get before the gate fails (5%, speedup=1%)",
        default=None,
    )
    parser.addini(
        "streampar_fail_on_new",
        "tests not in the baseline fail the gate",
        type="bool",
        default=False,
    )
    parser.addini(
        "streampar_fail_on_missing",
        "baseline entries with no result fail the gate",
        type="bool",
        default=False,
    )


def register(config: pytest.Config) -> GatePlugin | None:
    """Register the gate plugin when one of its options is used.

    Called from the plugin's ``pytest_configure``. On the controller (or in a
    run without xdist) it reads and checks the settings and the baseline
    first, so a bad setting or an unreadable baseline stops the run before any
    test with a :class:`pytest.UsageError` naming what is wrong.
    """
    settings = _settings(config)
    if settings is None:
        return None
    plugin = GatePlugin(config, settings)
    config.pluginmanager.register(plugin, PLUGIN_NAME)
    return plugin


@dataclass
class _Settings:
    baseline: Path | None
    baseline_from: str
    save: bool
    prune: bool
    tolerances: Tolerances | None
    fail_on_new: bool
    fail_on_missing: bool
    report: Path | None


def _settings(config: pytest.Config) -> _Settings | None:
    """The gate's settings, or None when no gate option is in use."""
    option = config.getoption("streampar_baseline")
    ini = config.getini("streampar_baseline")
    baseline = Path(option) if option else (config.rootpath / str(ini) if ini else None)
    baseline_from = (
        "command-line option --streampar-baseline"
        if option
        else f"ini key streampar_baseline in {config.inipath}"
    )
    report = config.getoption("streampar_report")
    save = bool(config.getoption("streampar_save_baseline"))
    if baseline is None and report is None and not save:
        return None
    if save and baseline is None:
        raise pytest.UsageError(
            "--streampar-save-baseline needs the file to write: add "
            "--streampar-baseline=FILE (or the ini key streampar_baseline)"
        )
    return _Settings(
        baseline=baseline,
        baseline_from=baseline_from,
        save=save,
        prune=bool(config.getoption("streampar_prune_baseline")),
        tolerances=_tolerances(config) if baseline is not None else None,
        fail_on_new=_flag(config, "streampar_fail_on_new"),
        fail_on_missing=_flag(config, "streampar_fail_on_missing"),
        report=Path(report) if report else None,
    )


def _flag(config: pytest.Config, name: str) -> bool:
    value = config.getoption(name)
    return bool(config.getini(name)) if value is None else bool(value)


def _tolerances(config: pytest.Config) -> Tolerances:
    from ._compare import ToleranceError, Tolerances, parse_tolerances

    option = config.getoption("streampar_tolerance")
    ini = config.getini("streampar_tolerance")
    if option is not None:
        text, source = str(option), "command-line option --streampar-tolerance"
    elif ini:
        text, source = str(ini), f"ini key streampar_tolerance in {config.inipath}"
    else:
        return Tolerances()
    try:
        return parse_tolerances(text, source=source)
    except ToleranceError as exc:
        raise pytest.UsageError(str(exc)) from None


@dataclass
class _Collected:
    """What the run's reports carried."""

    entries: dict[str, TestEntry] = field(default_factory=dict)
    timelines: dict[str, dict[str, Any]] = field(default_factory=dict)
    lost: dict[str, str | None] = field(default_factory=dict)
    bad: dict[str, str] = field(default_factory=dict)
    not_saved: list[str] = field(default_factory=list)


class GatePlugin:
    """Collects metrics from test reports and runs the gate at session end.

    Registered by :func:`register` on the controller and on xdist workers; on
    a worker it only marks streampar tests, everything else happens where the
    reports arrive.
    """

    def __init__(self, config: pytest.Config, settings: _Settings) -> None:
        self._config = config
        self._settings = settings
        self._worker = hasattr(config, "workerinput")
        self._collected = _Collected()
        self._baseline: Baseline | None = None
        self._comparison: Comparison | None = None
        self._saved: SaveResult | None = None
        self._report_files: list[Path] = []
        self._notes: list[str] = []
        self._outcome: dict[str, str] = {}
        if not self._worker and settings.baseline is not None and not settings.save:
            self._baseline = _load(settings.baseline, settings.baseline_from)

    # On the worker (or the only process) --------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Mark a streampar test so that a missing payload can be noticed."""
        if is_streampar_test(item):
            item.user_properties.append((EXPECTED_KEY, True))

    # Where the reports arrive -------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Note each test's outcome; take its payload from the teardown report.

        The teardown report carries every user property the test appended,
        also those appended by fixtures while they tear down.
        """
        if self._worker:
            return
        nodeid = report.nodeid
        if report.when == "call":
            self._outcome[nodeid] = report.outcome
            return
        if report.when != "teardown":
            return
        outcome = self._outcome.pop(nodeid, "not run")
        payload, expected = _properties(report.user_properties)
        if payload is None:
            if expected and outcome == "passed":
                self._collected.lost[nodeid] = _worker_id(report)
        elif outcome == "failed":
            self._collected.not_saved.append(nodeid)
        elif outcome == "passed":
            self._take(nodeid, payload)

    def _take(self, nodeid: str, payload: Any) -> None:
        from ._baseline import BaselineError, entry_from_payload

        try:
            entry = entry_from_payload(payload, nodeid=nodeid)
        except BaselineError as exc:
            self._collected.bad[nodeid] = str(exc)
            return
        if not entry.metrics:
            return  # a streampar test that measured nothing (no run): no entry
        self._collected.entries[nodeid] = entry
        if self._settings.report is not None:
            timelines = payload.get("timelines")
            self._collected.timelines[nodeid] = {
                "payload": payload,
                "timelines": timelines if isinstance(timelines, dict) else {},
            }

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Compare or save, write the report, and fail the run on a regression."""
        if self._worker:
            return
        if exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR):
            self._notes.append("run interrupted: no comparison, no baseline saved")
            return
        failed = bool(self._collected.lost or self._collected.bad)
        if self._settings.save:
            failed = self._save() or failed
        elif self._baseline is not None:
            failed = self._compare() or failed
        if self._settings.report is not None:
            failed = self._write_report() or failed
        if failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _compare(self) -> bool:
        from ._compare import compare_tests

        assert self._baseline is not None and self._settings.tolerances is not None
        self._comparison = compare_tests(
            self._baseline.tests, self._collected.entries, self._settings.tolerances
        )
        return self._comparison.failed(
            fail_on_new=self._settings.fail_on_new,
            fail_on_missing=self._settings.fail_on_missing,
        )

    def _save(self) -> bool:
        """Save the baseline unless data is missing; True when that fails."""
        from ._baseline import save_baseline

        assert self._settings.baseline is not None
        if self._collected.lost or self._collected.bad:
            self._notes.append(
                f"baseline NOT saved to {self._settings.baseline}: metrics of some "
                f"tests are missing (see above), a partial baseline would hide them"
            )
            return True
        self._saved = save_baseline(
            self._settings.baseline,
            self._collected.entries,
            prune=self._settings.prune,
        )
        return False

    def _write_report(self) -> bool:
        """Write the run report; True when that fails."""
        from simulator._errors import SimulatorError

        from ._run_report import write_run_report

        assert self._settings.report is not None
        try:
            self._report_files = write_run_report(
                self._settings.report,
                self._collected.entries,
                {k: v["timelines"] for k, v in self._collected.timelines.items()},
                comparison=self._comparison,
            )
        except (OSError, SimulatorError) as exc:
            self._notes.append(
                f"streampar report NOT written to {self._settings.report}: {exc}"
            )
            return True
        return False

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Print the gate's lines: regressions, new and missing tests, verdict."""
        if self._worker:
            return
        lines = self.summary_lines()
        if not lines:
            return
        gate = self._settings.baseline is not None
        terminalreporter.write_sep(
            "=", "streampar latency gate" if gate else "streampar report"
        )
        for line in lines:
            bad = line.startswith(("REGRESSED", "INCOMPARABLE", "FAILED", "LOST"))
            bad = bad or "(fails)" in line or "NOT" in line or line.startswith("BAD")
            good = line.startswith("PASSED")
            terminalreporter.write_line(line, red=bad, green=good and not bad)

    def summary_lines(self) -> list[str]:
        """The lines :meth:`pytest_terminal_summary` prints."""
        lines = [
            f"LOST         {nodeid}: passed but its report carried no streampar "
            f"metrics{f' (xdist worker {worker})' if worker else ''}; the gate "
            f"cannot judge partial data"
            for nodeid, worker in sorted(self._collected.lost.items())
        ]
        lines += [
            f"BAD          {nodeid}: {why}"
            for nodeid, why in sorted(self._collected.bad.items())
        ]
        if self._comparison is not None:
            lines += self._comparison_lines(self._comparison)
        if self._saved is not None:
            lines += _saved_lines(self._saved, self._collected.not_saved)
        lines += self._notes
        if self._report_files:
            lines.append(f"streampar report written to {self._report_files[0]}")
        return lines

    def _comparison_lines(self, comparison: Comparison) -> list[str]:
        from ._compare import render_comparison

        base = self._baseline
        assert base is not None
        head = (
            f"baseline {self._settings.baseline}: {len(base.tests)} tests, "
            f"commit {(base.commit or 'unknown')[:12]}, "
            f"pytest-streampar {base.package_version or 'unknown'}"
        )
        lines = render_comparison(
            comparison,
            fail_on_new=self._settings.fail_on_new,
            fail_on_missing=self._settings.fail_on_missing,
            failed_tests=frozenset(self._collected.not_saved),
        )
        broken = len(self._collected.lost) + len(self._collected.bad)
        if broken:
            verdict = lines[-1].split(": ", 1)[1]
            lines[-1] = (
                f"FAILED: metrics of {broken} test{'' if broken == 1 else 's'} "
                f"lost or unreadable (see above); {verdict}"
            )
        return [head, *lines]


def _saved_lines(saved: SaveResult, not_saved: Sequence[str]) -> list[str]:
    lines = []
    if saved.replaced_unreadable:
        lines.append(f"replaced an unreadable baseline: {saved.replaced_unreadable}")
    lines.append(
        f"baseline saved to {saved.path}: {len(saved.updated)} tests written, "
        f"{len(saved.kept)} kept from the old file, {len(saved.pruned)} pruned"
    )
    lines += [f"not saved (test failed): {nodeid}" for nodeid in sorted(not_saved)]
    return lines


def is_streampar_test(item: pytest.Item) -> bool:
    """Whether ``item`` records a payload: it uses a ``streampar_*`` fixture or
    carries the ``streampar`` marker (the plugin core's own rule)."""
    if item.get_closest_marker("streampar") is not None:
        return True
    names = getattr(item, "fixturenames", ())
    return any(name.startswith("streampar_") for name in names)


def _properties(props: Sequence[Any]) -> tuple[Any, bool]:
    """The last streampar payload in ``props`` and whether one was expected."""
    payload: Any = None
    expected = False
    for prop in props:
        if not isinstance(prop, (tuple, list)) or len(prop) != 2:
            continue
        name, value = prop
        if name == PAYLOAD_KEY:
            payload = value
        elif name == EXPECTED_KEY:
            expected = bool(value)
    return payload, expected


def _worker_id(report: pytest.TestReport) -> str | None:
    """The xdist worker that ran the test, when the report says."""
    node = getattr(report, "node", None)
    gateway = getattr(node, "gateway", None)
    worker = getattr(gateway, "id", None)
    return worker if isinstance(worker, str) else None


def _load(path: Path, source: str) -> Baseline:
    from ._baseline import BaselineError, load_baseline

    try:
        return load_baseline(path)
    except BaselineError as exc:
        raise pytest.UsageError(
            f"streampar gate: {exc} (file named by {source})"
        ) from None
