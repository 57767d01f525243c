"""A state database as benchd made it before schema versions (commit 63ad21b on main): the CREATE TABLE
statements copied from store/db.py, store/outbox.py, store/controls.py and boards/health.py of that commit,
each module creating its own tables on first use, with no `user_version`."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

RUN_TABLES = """
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
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status, created_at);
CREATE INDEX IF NOT EXISTS runs_sha ON runs(sha256);
CREATE INDEX IF NOT EXISTS runs_created ON runs(created_at);
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
);
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
);
"""

OUTBOX = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- enqueue order = delivery order per endpoint
    endpoint TEXT NOT NULL,                -- the URL (secrets stay in the environment)
    run_id TEXT NOT NULL,                  -- also the receiver's idempotency key
    body BLOB NOT NULL,                    -- exactly the bytes that are signed and posted
    state TEXT NOT NULL DEFAULT 'pending', -- pending | delivered | gave_up
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_at REAL NOT NULL,                 -- not before this time (backoff)
    lease_until REAL NOT NULL DEFAULT 0,   -- a worker is posting it until then
    last_status INTEGER,                   -- HTTP status of the last attempt, if any
    last_error TEXT,
    done_at REAL,
    UNIQUE (endpoint, run_id)
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(state, endpoint, id);
"""

RUN_CANCELS = """
CREATE TABLE IF NOT EXISTS run_cancels (
    run_id TEXT PRIMARY KEY,
    requested_at REAL NOT NULL,
    source TEXT NOT NULL,              -- who asked: 'dashboard', 'cli'
    handled_at REAL
);
"""

BOARD_TABLES = """
CREATE TABLE IF NOT EXISTS board_health (
    board_id TEXT PRIMARY KEY,
    runs INTEGER NOT NULL DEFAULT 0,
    flash_failures INTEGER NOT NULL DEFAULT 0,
    run_failures INTEGER NOT NULL DEFAULT 0,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    released_at REAL,
    updated_at REAL
);
CREATE TABLE IF NOT EXISTS board_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    board_id TEXT NOT NULL, run_id TEXT, kind TEXT NOT NULL, ok INTEGER NOT NULL, message TEXT, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS board_seen (
    board_id TEXT PRIMARY KEY, port TEXT, chip TEXT, mac TEXT, present INTEGER NOT NULL,
    first_seen REAL, last_seen REAL
);
"""


def make_legacy_db(path: Path, *scripts: str) -> None:
    """Create the given tables as the old modules did (executescript, WAL, no version)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        for script in scripts:
            db.executescript(script)
    finally:
        db.close()


# the runs table of a store from before filing was recorded (runs.filed_at came later, added by an ALTER)
RUN_TABLES_BEFORE_FILING = re.sub(r"finished_at REAL,\n\s*filed_at REAL[^\n]*\n", "finished_at REAL\n", RUN_TABLES)
assert RUN_TABLES_BEFORE_FILING != RUN_TABLES
