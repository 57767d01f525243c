"""The shared queue's tables in PostgreSQL, their version, and the migrations (`benchd db migrate`).

The version lives in `benchd_schema`; `migrate` applies what is missing in one transaction under an
advisory lock, so two hosts migrating at once do it once. Append a migration to change a table; never edit
one that has shipped. Times come from the database (`now()`) only: hosts' clocks never decide a lease.
"""

from __future__ import annotations

from daemon.errors import BenchdError
from daemon.store.postgres import Engine

MIGRATE_LOCK = 0x62656E6368  # "bench": the advisory lock two migrating hosts share

V1 = """
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE hosts (
    name text PRIMARY KEY,
    labels text[] NOT NULL DEFAULT '{}',
    pid integer,
    executor text NOT NULL DEFAULT '',
    started_at timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE boards (
    id text PRIMARY KEY,
    host text NOT NULL,
    port text NOT NULL DEFAULT '',
    labels text[] NOT NULL DEFAULT '{}',
    simulated boolean NOT NULL DEFAULT false,
    present boolean NOT NULL DEFAULT true,
    health text NOT NULL DEFAULT 'unknown'
        CHECK (health IN ('good', 'unknown', 'bad', 'maintenance', 'retired')),
    health_reason text NOT NULL DEFAULT 'new board',
    last_check timestamptz,
    last_seen timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE board_health_log (
    id bigserial PRIMARY KEY,
    board_id text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    health text NOT NULL,
    reason text NOT NULL DEFAULT ''
);

CREATE TABLE blobs (
    sha256 text PRIMARY KEY,
    size bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE blob_chunks (
    sha256 text NOT NULL REFERENCES blobs ON DELETE CASCADE,
    n integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (sha256, n)
);

CREATE TABLE runs (
    id text PRIMARY KEY,
    model_name text NOT NULL,
    model_sha256 text NOT NULL,
    model_size bigint NOT NULL,
    pipeline_file text NOT NULL,
    pipeline_sha256 text NOT NULL,
    priority integer NOT NULL DEFAULT 0,
    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'assembling', 'done')),
    status text,
    submitted_by text NOT NULL DEFAULT '',
    submitted_at timestamptz NOT NULL DEFAULT now(),
    assembling_since timestamptz,
    finished_at timestamptz,
    result jsonb
);
CREATE INDEX runs_submitted ON runs (submitted_at);

CREATE TABLE jobs (
    id bigserial PRIMARY KEY,
    run_id text REFERENCES runs ON DELETE CASCADE,      -- NULL: a board's health check
    name text NOT NULL,
    seq integer NOT NULL DEFAULT 0,                      -- the workflow's job order
    needs text[] NOT NULL DEFAULT '{}',
    labels text[] NOT NULL,
    needs_board boolean NOT NULL,
    health_check_of text,                                -- the board a health check is for
    model_key text NOT NULL DEFAULT '',                  -- round-robin across models
    priority integer NOT NULL DEFAULT 0,
    state text NOT NULL CHECK (state IN ('waiting', 'ready', 'leased', 'done')),
    status text,
    attempt integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 2,
    host text,
    board_id text,
    lease_expires timestamptz,
    ready_at timestamptz,
    finished_at timestamptz,
    result jsonb,                                        -- events, outputs, logs
    workspace text,                                      -- blob: the workspace after this job
    UNIQUE (run_id, name)
);
CREATE INDEX jobs_ready ON jobs (priority DESC, id) WHERE state = 'ready';
CREATE INDEX jobs_leased ON jobs (lease_expires) WHERE state = 'leased';

CREATE TABLE attempts (
    job_id bigint NOT NULL REFERENCES jobs ON DELETE CASCADE,
    attempt integer NOT NULL,
    host text NOT NULL,
    board_id text,
    started_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    outcome text,                                        -- a status, or lost / expired
    kind text,                                           -- infra | test | model | cancelled
    message text NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, attempt)
);

-- No board is ever leased to two jobs at once: the schema refuses overlapping lease intervals.
CREATE TABLE board_leases (
    board_id text NOT NULL,
    job_id bigint NOT NULL,
    attempt integer NOT NULL,
    host text NOT NULL,
    during tstzrange NOT NULL,
    EXCLUDE USING gist (board_id WITH =, during WITH &&)
);

CREATE TABLE model_turns (
    model_key text PRIMARY KEY,
    last_served timestamptz NOT NULL
);

CREATE TABLE log_chunks (
    n bigserial UNIQUE,                                  -- a reader's cursor: `logs -f` reads on from it
    job_id bigint NOT NULL REFERENCES jobs ON DELETE CASCADE,
    attempt integer NOT NULL,
    seq integer NOT NULL,
    path text NOT NULL,
    data text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, attempt, seq)
);
"""

MIGRATIONS: tuple[str, ...] = (V1,)
LATEST = len(MIGRATIONS)


class QueueSchemaError(BenchdError):
    """The queue's database is at a schema this benchd does not know."""


def version(engine: Engine) -> int:
    with engine.transaction() as cur:
        cur.execute("SELECT to_regclass('benchd_schema') IS NOT NULL AS made")
        if not cur.fetchone()["made"]:
            return 0
        cur.execute("SELECT version FROM benchd_schema")
        row = cur.fetchone()
        return int(row["version"]) if row else 0


def migrate(engine: Engine) -> tuple[int, int]:
    """Bring the database to LATEST; returns (before, after). Refuses a newer schema."""
    with engine.transaction(deadline_s=120) as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
        cur.execute("CREATE TABLE IF NOT EXISTS benchd_schema (version integer NOT NULL)")
        cur.execute("SELECT version FROM benchd_schema")
        row = cur.fetchone()
        before = int(row["version"]) if row else 0
        if row is None:
            cur.execute("INSERT INTO benchd_schema VALUES (0)")
        if before > LATEST:
            raise QueueSchemaError(f"the queue's schema is version {before}, made by a newer benchd "
                                   f"(this one knows up to {LATEST}): upgrade benchd on this host")
        for sql in MIGRATIONS[before:]:
            cur.execute(sql)
        cur.execute("UPDATE benchd_schema SET version = %s", (LATEST,))
    return before, LATEST


def require_latest(engine: Engine) -> None:
    found = version(engine)
    if found != LATEST:
        raise QueueSchemaError(f"the queue's schema is version {found}, this benchd needs {LATEST}: "
                               "run `benchd db migrate`")
