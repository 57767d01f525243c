"""Every table of the daemon's SQLite file, its version, and the migrations that bring an older file up to it.

The version is `PRAGMA user_version`. A file at version 0 is either new or was made by benchd before
versions existed (tables created on first use by several modules, some of them perhaps missing); migration 1
is written for both: it creates what is missing and completes what an older benchd left out, keeping rows.
Each later migration starts from the tables the one before it left.

`ensure` runs the migrations a file lacks in one write transaction (BEGIN IMMEDIATE), reading the version
again once it holds the lock: of two processes opening a new file at once, one migrates and the other finds
the work done. A file already at the newest version costs one read.

To change a table: append a migration (never edit one that has shipped), and the store's queries with it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from daemon.errors import BenchdError


class SchemaError(BenchdError):
    """The file cannot be brought to this benchd's schema."""


# -- version 1: the tables as benchd made them before schema versions --------------------------------------
RUNS = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    model_name TEXT NOT NULL,
    model_path TEXT NOT NULL,          -- the snapshot the run works on
    drop_path TEXT NOT NULL,           -- where the file was dropped
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    pipeline TEXT NOT NULL,
    pipeline_sha256 TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    force INTEGER NOT NULL DEFAULT 0,
    duplicate_of TEXT,
    sidecar TEXT,                      -- MODEL.tflite.json beside the drop, as JSON text
    error TEXT,
    result_dir TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    filed_at REAL                      -- the drop left the inbox (or there was nothing to move)
)"""
RUN_INDEXES = (
    "CREATE INDEX IF NOT EXISTS runs_status ON runs(status, created_at)",
    "CREATE INDEX IF NOT EXISTS runs_sha ON runs(sha256)",
    "CREATE INDEX IF NOT EXISTS runs_created ON runs(created_at)",
)
JOBS = """
CREATE TABLE IF NOT EXISTS jobs (
    run_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    status TEXT NOT NULL,
    executor TEXT,
    image_ref TEXT,
    image_digest TEXT,
    started_at REAL,
    finished_at REAL,
    PRIMARY KEY (run_id, job_id)
)"""
STEPS = """
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    step_id TEXT NOT NULL,
    status TEXT NOT NULL,
    exit_code INTEGER,
    error TEXT,
    log_path TEXT,
    started_at REAL,
    finished_at REAL,
    PRIMARY KEY (run_id, job_id, idx)
)"""
OUTBOX_V1 = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint TEXT NOT NULL,
    run_id TEXT NOT NULL,
    body BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_at REAL NOT NULL,
    lease_until REAL NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error TEXT,
    done_at REAL,
    UNIQUE (endpoint, run_id)
)"""
OUTBOX_INDEX = "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(state, endpoint, id)"
RUN_CANCELS = """
CREATE TABLE IF NOT EXISTS run_cancels (
    run_id TEXT PRIMARY KEY,
    requested_at REAL NOT NULL,
    source TEXT NOT NULL,              -- who asked: 'dashboard', 'cli', 'signal'
    handled_at REAL
)"""
BOARD_HEALTH = """
CREATE TABLE IF NOT EXISTS board_health (
    board_id TEXT PRIMARY KEY,
    runs INTEGER NOT NULL DEFAULT 0,
    flash_failures INTEGER NOT NULL DEFAULT 0,
    run_failures INTEGER NOT NULL DEFAULT 0,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    released_at REAL,
    updated_at REAL
)"""
BOARD_EVENTS = """
CREATE TABLE IF NOT EXISTS board_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    board_id TEXT NOT NULL, run_id TEXT, kind TEXT NOT NULL, ok INTEGER NOT NULL, message TEXT, at REAL NOT NULL
)"""
BOARD_SEEN = """
CREATE TABLE IF NOT EXISTS board_seen (
    board_id TEXT PRIMARY KEY, port TEXT, chip TEXT, mac TEXT, present INTEGER NOT NULL,
    first_seen REAL, last_seen REAL
)"""


def _v1_tables(db: sqlite3.Connection) -> None:
    for statement in (RUNS, *RUN_INDEXES, JOBS, STEPS, OUTBOX_V1, OUTBOX_INDEX, RUN_CANCELS, BOARD_HEALTH,
                      BOARD_EVENTS, BOARD_SEEN):
        db.execute(statement)
    if "filed_at" not in columns(db, "runs"):  # a store from before filing was recorded: its runs count as filed
        db.execute("ALTER TABLE runs ADD COLUMN filed_at REAL")
        db.execute("UPDATE runs SET filed_at = finished_at "
                   "WHERE status IN ('success', 'failure', 'error', 'cancelled')")


# -- version 2: the outbox carries any HTTP delivery (webhooks, GitHub statuses) ------------------------------
OUTBOX_V2 = """
CREATE TABLE outbox_v2 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- enqueue order = delivery order per endpoint
    endpoint TEXT NOT NULL,                -- the lane: a webhook's URL, or 'github:' and the API's URL
    run_id TEXT NOT NULL,                  -- also a webhook receiver's idempotency key
    event TEXT NOT NULL,                   -- what it says: 'run.finished', 'status.pending', 'status.final'
    method TEXT NOT NULL DEFAULT 'POST',
    url TEXT NOT NULL,                     -- where it goes
    headers TEXT NOT NULL DEFAULT '{}',    -- JSON; never a secret: those come from the environment when sent
    body BLOB NOT NULL,                    -- exactly the bytes that are signed and sent
    state TEXT NOT NULL DEFAULT 'pending', -- pending | delivered | gave_up
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_at REAL NOT NULL,                 -- not before this time (backoff)
    lease_until REAL NOT NULL DEFAULT 0,   -- a worker is sending it until then
    last_status INTEGER,                   -- HTTP status of the last attempt, if any
    last_error TEXT,
    done_at REAL,
    UNIQUE (endpoint, run_id, event)
)"""


def _v2_outbox(db: sqlite3.Connection) -> None:
    """SQLite cannot change a UNIQUE constraint in place: a new table, the rows copied (a webhook row posts
    its body to its endpoint), the old one dropped."""
    db.execute(OUTBOX_V2)
    db.execute("INSERT INTO outbox_v2 (id, endpoint, run_id, event, method, url, headers, body, state, attempts, "
               "created_at, next_at, lease_until, last_status, last_error, done_at) "
               "SELECT id, endpoint, run_id, 'run.finished', 'POST', endpoint, '{}', body, state, attempts, "
               "created_at, next_at, lease_until, last_status, last_error, done_at FROM outbox")
    db.execute("DROP TABLE outbox")
    db.execute("ALTER TABLE outbox_v2 RENAME TO outbox")
    db.execute(OUTBOX_INDEX)


@dataclass(frozen=True)
class Migration:
    version: int  # the file's version once applied
    what: str
    apply: Callable[[sqlite3.Connection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs, jobs, steps, outbox, run_cancels and the board tables (as benchd made them unversioned)",
              _v1_tables),
    Migration(2, "the outbox carries method, URL, headers and an event per run", _v2_outbox),
)
LATEST = MIGRATIONS[-1].version
TABLES = ("runs", "jobs", "steps", "outbox", "run_cancels", "board_health", "board_events", "board_seen")


def version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def ensure(db: sqlite3.Connection) -> int:
    """Bring the file to LATEST (db in autocommit mode); returns the version it was at."""
    found = version(db)
    if found == LATEST:
        return found
    _refuse_newer(found)
    db.execute("BEGIN IMMEDIATE")
    try:
        found = version(db)  # another process may have migrated while this one waited for the lock
        _refuse_newer(found)
        for migration in MIGRATIONS:
            if migration.version > found:
                migration.apply(db)
        db.execute(f"PRAGMA user_version = {LATEST}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return found


def _refuse_newer(found: int) -> None:
    if found > LATEST:
        raise SchemaError(f"the state database has schema version {found}, newer than this benchd knows "
                          f"({LATEST}): it was written by a newer benchd; run that one, or give this one "
                          "another --state")
