"""The store owns the schema: every table at the newest version, older files migrated with their rows kept,
two processes opening one new file at once, board tables there before any board step runs."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from legacy_db import BOARD_TABLES, OUTBOX, RUN_CANCELS, RUN_TABLES, RUN_TABLES_BEFORE_FILING, make_legacy_db

from daemon.boards.health import BoardHealth
from daemon.store import Store, schema
from daemon.store.outbox import Outbox

ROOT = Path(__file__).resolve().parents[2]
RUN = ("INSERT INTO runs (id, model_name, model_path, drop_path, sha256, size, pipeline, pipeline_sha256, status, "
       "attempts, created_at, started_at, finished_at) VALUES (?, 'kws.tflite', '/s/kws', '/in/kws.tflite', ?, 10, "
       "'/wf.yml', 'p', ?, 1, ?, ?, ?)")


def tables(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        db.close()


def user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def test_a_new_file_gets_every_table_at_the_newest_version(tmp_path: Path) -> None:
    path = tmp_path / "state" / "benchd.sqlite3"
    Store(path).close()
    assert set(schema.TABLES) <= tables(path)
    assert user_version(path) == schema.LATEST >= 1


def test_a_file_made_before_versions_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "benchd.sqlite3"
    make_legacy_db(path, RUN_TABLES, OUTBOX, RUN_CANCELS, BOARD_TABLES)
    old = sqlite3.connect(path, isolation_level=None)
    old.execute(RUN, ("r-done", "aa", "success", 1.0, 2.0, 3.0))
    old.execute(RUN, ("r-running", "bb", "running", 4.0, 5.0, None))
    old.execute("INSERT INTO jobs (run_id, job_id, status) VALUES ('r-done', 'build', 'success')")
    old.execute("INSERT INTO outbox (endpoint, run_id, body, created_at, next_at) "
                "VALUES ('http://hook/x', 'r-done', x'7b7d', 3.0, 3.0)")
    old.execute("INSERT INTO run_cancels (run_id, requested_at, source) VALUES ('r-running', 6.0, 'cli')")
    old.execute("INSERT INTO board_health (board_id, consecutive_failures, last_error) VALUES ('b1', 3, 'panic')")
    old.close()
    assert user_version(path) == 0

    store = Store(path)
    try:
        assert user_version(path) == schema.LATEST
        done = store.get_run("r-done")
        assert done is not None and done.status == "success" and done.sha256 == "aa"
        assert [r.id for r in store.running_runs()] == ["r-running"]
        assert [j.job_id for j in store.jobs_of("r-done")] == ["build"]
        (delivery,) = Outbox(store).all()
        assert (delivery.endpoint, delivery.run_id, delivery.body, delivery.state) == (
            "http://hook/x", "r-done", b"{}", "pending")
        # migration 2: a webhook row posts its body to its endpoint, as before
        assert (delivery.event, delivery.method, delivery.url, delivery.stored_headers()) == (
            "run.finished", "POST", "http://hook/x", {})
        assert Outbox(store).enqueue("http://hook/x", "r-done", b"{}", event="status.final"), "one row per event"
        assert not Outbox(store).enqueue("http://hook/x", "r-done", b"{}"), "the same event is queued once"
        assert Outbox(store).enqueue("http://hook/x", "r-next", b"{}") and Outbox(store).all()[-1].id > delivery.id
        assert store.cancel_requests() == [("r-running", "cli")]
    finally:
        store.close()
    health = BoardHealth(path, quarantine_after=3)
    assert health.is_quarantined("b1") and health.status("b1")["last_error"] == "panic"


def test_a_file_with_only_the_run_tables_gets_the_others(tmp_path: Path) -> None:
    """The old code made run_cancels on the first cancel and the board tables on the first board step."""
    path = tmp_path / "benchd.sqlite3"
    make_legacy_db(path, RUN_TABLES)
    assert "run_cancels" not in tables(path)
    store = Store(path)
    try:
        assert set(schema.TABLES) <= tables(path)
        assert store.cancel_requests() == []  # a plain read: no table made on the way, no error swallowed
        store.request_cancel("r-1", "dashboard")
        assert store.cancel_requests() == [("r-1", "dashboard")]
        store.cancel_handled("r-1")
        assert store.cancel_requests() == []
    finally:
        store.close()


def test_a_store_from_before_filing_counts_its_finished_runs_as_filed(tmp_path: Path) -> None:
    path = tmp_path / "benchd.sqlite3"
    make_legacy_db(path, RUN_TABLES_BEFORE_FILING)
    old = sqlite3.connect(path, isolation_level=None)
    old.execute(RUN, ("r-done", "aa", "failure", 1.0, 2.0, 3.0))
    old.execute(RUN, ("r-queued", "bb", "queued", 4.0, None, None))
    old.close()
    store = Store(path)
    try:
        assert store.unfiled_runs() == []
        done, queued = store.get_run("r-done"), store.get_run("r-queued")
        assert done is not None and done.filed_at == 3.0
        assert queued is not None and queued.filed_at is None
    finally:
        store.close()


def test_a_failed_migration_changes_nothing(tmp_path: Path) -> None:
    """A `runs` table no benchd made (no status column): the index on it fails, the whole migration rolls
    back: no table created, the version still 0."""
    path = tmp_path / "benchd.sqlite3"
    make_legacy_db(path, "CREATE TABLE runs (id TEXT PRIMARY KEY, created_at REAL);")
    with pytest.raises(sqlite3.OperationalError, match="status"):
        Store(path)
    assert tables(path) == {"runs"} and user_version(path) == 0


def test_a_file_from_a_newer_benchd_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "benchd.sqlite3"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {schema.LATEST + 1}")
    db.close()
    with pytest.raises(schema.SchemaError, match="newer benchd"):
        Store(path)


OPENER = """
import sys, time
from pathlib import Path
path, start, kind = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
while time.time() < start:
    pass
if kind == "store":
    from daemon.store import Store
    store = Store(path)
    store.add_run(model_name="m", model_path="", drop_path="/d", sha256="s", size=1, pipeline="p")
    store.close()
else:
    from daemon.boards.health import BoardHealth
    BoardHealth(path).record("b-" + sys.argv[4], "run", True)
"""


def test_processes_opening_a_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    """The daemon, `benchd run` and board steps may all be first: each opener migrates or finds it done."""
    for attempt in range(3):
        path = tmp_path / f"try{attempt}" / "benchd.sqlite3"
        path.parent.mkdir()
        kinds = ["store", "store", "board", "board"]
        start = time.time() + 1.5  # every interpreter is up and spinning before the first opens the file
        procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(path), str(start), kind, str(n)], cwd=ROOT,
                                  stderr=subprocess.PIPE, text=True) for n, kind in enumerate(kinds)]
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * len(kinds), errors
        assert user_version(path) == schema.LATEST
        db = sqlite3.connect(path)
        try:
            assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2
            assert db.execute("SELECT COUNT(*) FROM board_health").fetchone()[0] == 2
        finally:
            db.close()


def test_board_tables_exist_before_any_board_step_runs(tmp_path: Path) -> None:
    """The daemon opens the store before any step; the board steps find their tables and write at once."""
    path = tmp_path / "benchd.sqlite3"
    Store(path).close()
    assert {"board_health", "board_events", "board_seen"} <= tables(path)
    version_before = user_version(path)
    health = BoardHealth(path, quarantine_after=1)
    health.record("b1", "flash", False, "MD5 mismatch", "r-1")
    assert health.is_quarantined("b1") and user_version(path) == version_before
    assert health.release("b1") and not health.is_quarantined("b1")


def test_a_board_step_on_a_new_file_makes_the_whole_schema(tmp_path: Path) -> None:
    """A step process may be the file's first opener (`benchd boards` before any run): the same schema."""
    path = tmp_path / "benchd.sqlite3"
    BoardHealth(path).seen([{"id": "b1", "port": "/dev/ttyACM0", "chip": "ESP32-C3", "mac": "m"}])
    assert set(schema.TABLES) <= tables(path) and user_version(path) == schema.LATEST
