"""Test tiers and hygiene.

Tiers are markers (tvm, docker, pg, board, browser). A tier whose real component is missing skips
locally, but with CI=true such a skip is a failure: CI must never go green on tests that did not run.
"""

from __future__ import annotations

import os
import threading

import pytest

TIER_MARKERS = ("tvm", "docker", "pg", "board", "browser")
# Tools .ci/run installs: a test that skips for want of one (its skip reason names it) fails with CI=true too.
CI_TOOLS = ("riscv64-unknown-elf-gcc", "qemu-system-riscv32", "cmake")


def pytest_configure(config: pytest.Config) -> None:
    """A run without a benchd.toml keeps its folders in the user data directory: never the real one in tests
    (subprocesses inherit the variable too)."""
    import tempfile

    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="benchd-test-data-")
    os.environ.pop("BENCHD_CONFIG", None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--board", action="store_true", help="run the tests that need real ESP32-C3 boards")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--board"):
        return
    skip = pytest.mark.skip(reason="needs real boards: run with --board")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    in_ci = os.environ.get("CI", "").lower() == "true"
    # Markers only: item.keywords also holds folder names (tests/boards), which are not tiers.
    tier = [m for m in TIER_MARKERS if item.get_closest_marker(m) is not None]
    tier += [tool for tool in CI_TOOLS if report.skipped and tool in str(report.longrepr)]
    if in_ci and tier and report.skipped and item.get_closest_marker("hardware") is None:
        report.outcome = "failed"
        report.longrepr = f"CI=true: a {'/'.join(tier)} test skipped instead of running: {report.longrepr}"


@pytest.fixture(autouse=True)
def logging_as_found():
    """A test that runs a command (cli.main configures structlog: level, renderer) leaves logging as it found
    it, so a later test's capture_logs sees every level."""
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture(autouse=True)
def no_leaked_threads():
    before = set(threading.enumerate())
    yield
    leaked = [
        t for t in threading.enumerate()
        if t not in before and t.is_alive() and not t.daemon and not t.name.startswith("asyncio")
    ]
    for t in leaked:
        t.join(timeout=5)
    still = [t.name for t in leaked if t.is_alive()]
    assert not still, f"test leaked threads: {still}"


# -- shared fixtures -------------------------------------------------------------------------------
# `samples` (the project's own sample models), `compiled_xs` (kws_xs through tvmc), `real_models`
# (../shared/models), `riscv_tools`, and `pg_server`/`pg_url` (a real PostgreSQL), for every module.
pytest_plugins = ["models_fixture", "docker_fixtures", "pg_fixtures", "report_fixtures"]


@pytest.fixture(scope="session", autouse=True)
def every_result_json_round_trips():
    """Every result.json the suite's runs write (through the one writer, in this process) loads into a
    RunRecord, dumps back byte for byte, and holds to the shipped JSON Schema; its summary.md reads as a
    report (no `None`, no dict repr)."""
    import json
    from importlib import resources

    import jsonschema

    from daemon.record import RunRecord
    from daemon.reporters.files import FilesReporter

    written = []
    original = FilesReporter.write

    def spy(self, record):  # type: ignore[no-untyped-def]
        path = original(self, record)
        written.append(path)
        return path

    FilesReporter.write = spy  # type: ignore[method-assign]
    yield
    FilesReporter.write = original  # type: ignore[method-assign]
    schema = json.loads(resources.files("daemon.record").joinpath("result.schema.json").read_text(encoding="utf-8"))
    checked = 0
    for path in written:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue  # a test's tmp folder already gone
        assert RunRecord.from_json(text).to_json() == text, f"{path} does not round-trip"
        jsonschema.validate(json.loads(text), schema)
        summary = path.with_name("summary.md").read_text(encoding="utf-8")  # written with it, by the same writer
        assert "None" not in summary and "{'" not in summary, f"{path.parent}/summary.md shows a None or a repr"
        checked += 1
    assert checked or not written
