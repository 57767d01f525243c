"""The shared queue's named queries: hosts, boards and their health, runs planned into jobs, claims,
fenced leases, the reaper, blobs and log chunks. Every time is the database's `now()`.

A lease is (job, attempt, host). Renew and finish change a row only when all three still match: a worker
whose lease expired (and whose job was leased again, attempt + 1) changes 0 rows and must write nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from daemon.store.postgres import Cursor, Engine, QueueConflict

CHUNK = 1 << 20  # blobs are stored in 1 MiB chunks
NOTIFY_CHANNEL = "benchd_jobs"
HEALTH_STATES = ("good", "unknown", "bad", "maintenance", "retired")


@dataclass(frozen=True)
class BoardSighting:
    id: str
    port: str
    labels: tuple[str, ...]
    simulated: bool


@dataclass(frozen=True)
class NewJob:
    name: str
    seq: int
    needs: tuple[str, ...]
    labels: tuple[str, ...]

    @property
    def needs_board(self) -> bool:
        return any(label.startswith("board:") for label in self.labels)


@dataclass(frozen=True)
class NewRun:
    id: str
    model_name: str
    model_sha256: str
    model_size: int
    pipeline_file: str
    pipeline_sha256: str
    jobs: tuple[NewJob, ...]
    priority: int = 0
    submitted_by: str = ""
    max_attempts: int = 2


@dataclass(frozen=True)
class Claim:
    """A leased job: run it, renew it, finish it with exactly these three."""

    job_id: int
    attempt: int
    host: str
    name: str
    run_id: str | None
    board_id: str | None
    health_check_of: str | None
    labels: tuple[str, ...] = ()
    max_attempts: int = 2


@dataclass(frozen=True)
class Reaped:
    job_id: int
    attempt: int
    host: str | None
    board_id: str | None
    run_id: str | None
    requeued: bool  # False: out of attempts, ended `error` (infra)


@dataclass
class JobState:
    id: int
    name: str
    seq: int
    needs: list[str]
    state: str
    status: str | None
    attempt: int
    host: str | None
    board_id: str | None
    result: dict[str, Any] = field(default_factory=dict)
    workspace: str | None = None


class Queue:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- hosts and boards ----------------------------------------------------------------------------
    def register_host(self, name: str, labels: Sequence[str], pid: int, executor: str) -> None:
        with self.engine.transaction() as cur:
            cur.execute("""INSERT INTO hosts (name, labels, pid, executor) VALUES (%s, %s, %s, %s)
                           ON CONFLICT (name) DO UPDATE SET labels = EXCLUDED.labels, pid = EXCLUDED.pid,
                               executor = EXCLUDED.executor, started_at = now(), last_seen = now()""",
                        (name, list(labels), pid, executor))

    def seen_host(self, name: str) -> None:
        with self.engine.transaction() as cur:
            cur.execute("UPDATE hosts SET last_seen = now() WHERE name = %s", (name,))

    def sync_boards(self, host: str, boards: Iterable[BoardSighting]) -> None:
        """The boards this host sees now; a new one is `unknown` (health check first), one gone is absent."""
        boards = list(boards)
        with self.engine.transaction() as cur:
            for b in boards:
                cur.execute("""INSERT INTO boards (id, host, port, labels, simulated) VALUES (%s, %s, %s, %s, %s)
                               ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, port = EXCLUDED.port,
                                   labels = EXCLUDED.labels, simulated = EXCLUDED.simulated, present = true,
                                   last_seen = now()""",
                            (b.id, host, b.port, list(b.labels), b.simulated))
            cur.execute("UPDATE boards SET present = false WHERE host = %s AND NOT (id = ANY(%s))",
                        (host, [b.id for b in boards]))

    def set_health(self, board_id: str, health: str, reason: str, cur: Cursor | None = None) -> bool:
        if health not in HEALTH_STATES:
            raise ValueError(f"health must be one of {', '.join(HEALTH_STATES)}, not {health!r}")
        if cur is None:
            with self.engine.transaction() as own:
                return self.set_health(board_id, health, reason, own)
        cur.execute("""UPDATE boards SET health = %s, health_reason = %s,
                           last_check = CASE WHEN %s IN ('good', 'bad') THEN now() ELSE last_check END
                       WHERE id = %s""", (health, reason, health, board_id))
        if cur.rowcount == 0:
            return False
        cur.execute("INSERT INTO board_health_log (board_id, health, reason) VALUES (%s, %s, %s)",
                    (board_id, health, reason))
        return True

    def hosts(self) -> list[dict[str, Any]]:
        with self.engine.transaction() as cur:
            cur.execute("""SELECT h.name, h.labels, h.pid, h.executor, h.started_at, h.last_seen,
                                  now() - h.last_seen AS silent_for,
                                  (SELECT count(*) FROM jobs j WHERE j.state = 'leased' AND j.host = h.name) AS running
                           FROM hosts h ORDER BY h.name""")
            return list(cur.fetchall())

    def boards(self) -> list[dict[str, Any]]:
        with self.engine.transaction() as cur:
            cur.execute("""SELECT b.*, l.job_id AS leased_to, l.host AS leased_by
                           FROM boards b LEFT JOIN board_leases l
                             ON l.board_id = b.id AND upper_inf(l.during)
                           ORDER BY b.host, b.id""")
            return list(cur.fetchall())

    def health_log(self, board_id: str, limit: int = 20) -> list[dict[str, Any]]:
        with self.engine.transaction() as cur:
            cur.execute("SELECT at, health, reason FROM board_health_log WHERE board_id = %s ORDER BY id DESC "
                        "LIMIT %s", (board_id, limit))
            return list(cur.fetchall())

    # -- runs and jobs ---------------------------------------------------------------------------------
    def submit(self, run: NewRun) -> bool:
        """A run and its jobs; jobs without needs are ready at once. Wakes idle workers. False: a run with
        this id is in the queue already (nothing changed)."""
        with self.engine.transaction() as cur:
            cur.execute("""INSERT INTO runs (id, model_name, model_sha256, model_size, pipeline_file,
                               pipeline_sha256, priority, submitted_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                           ON CONFLICT (id) DO NOTHING""",
                        (run.id, run.model_name, run.model_sha256, run.model_size, run.pipeline_file,
                         run.pipeline_sha256, run.priority, run.submitted_by))
            if cur.rowcount == 0:
                return False
            for job in run.jobs:
                ready = not job.needs
                cur.execute("""INSERT INTO jobs (run_id, name, seq, needs, labels, needs_board, model_key, priority,
                                   state, max_attempts, ready_at)
                               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, CASE WHEN %s THEN now() END)""",
                            (run.id, job.name, job.seq, list(job.needs), list(job.labels), job.needs_board,
                             run.model_sha256, run.priority, "ready" if ready else "waiting", run.max_attempts,
                             ready))
            cur.execute(f"NOTIFY {NOTIFY_CHANNEL}")
            return True

    def claim(self, host: str, host_labels: Sequence[str], ttl_s: float) -> Claim | None:
        """Lease the best job this host can run: on one of its free boards (an unknown board gets its
        health check first), else a host job. One transaction; concurrent claimers skip each other's rows.
        None also when another claimer took the board this one chose in the same instant (ask again)."""
        try:
            return self._claim(host, host_labels, ttl_s)
        except QueueConflict:  # the schema refused a second lease of one board: nothing was written
            return None

    def _claim(self, host: str, host_labels: Sequence[str], ttl_s: float) -> Claim | None:
        with self.engine.transaction() as cur:
            cur.execute("""SELECT b.id, b.labels, b.health FROM boards b
                           WHERE b.host = %s AND b.present AND b.health IN ('good', 'unknown')
                             AND NOT EXISTS (SELECT 1 FROM board_leases l WHERE l.board_id = b.id
                                                                          AND upper_inf(l.during))
                           ORDER BY b.health = 'unknown' DESC, b.id
                           FOR UPDATE OF b SKIP LOCKED""", (host,))
            for board in cur.fetchall():
                # Read again now that the board row is locked: the first statement's snapshot may predate a
                # lease another claimer committed since (READ COMMITTED: a new statement sees it).
                cur.execute("SELECT 1 FROM board_leases WHERE board_id = %s AND upper_inf(during)", (board["id"],))
                if cur.fetchone() is not None:
                    continue
                if board["health"] == "unknown":
                    return self._health_check(cur, host, board["id"], board["labels"], ttl_s)
                claim = self._take(cur, host, ttl_s, "j.needs_board AND j.labels <@ %s", board["labels"],
                                   board["id"])
                if claim is not None:
                    return claim
            return self._take(cur, host, ttl_s, "NOT j.needs_board AND j.labels <@ %s", list(host_labels), None)

    def _take(self, cur: Cursor, host: str, ttl_s: float, where: str, labels: list[str],
              board_id: str | None) -> Claim | None:
        # Priority first, then the model served least recently (one model's flood does not starve another's
        # one run), then the oldest job.
        cur.execute(f"""SELECT j.id FROM jobs j LEFT JOIN model_turns t ON t.model_key = j.model_key
                        WHERE j.state = 'ready' AND {where}
                        ORDER BY j.priority DESC, COALESCE(t.last_served, '-infinity') ASC, j.id ASC
                        LIMIT 1 FOR UPDATE OF j SKIP LOCKED""", (labels,))
        row = cur.fetchone()
        if row is None:
            return None
        return self._lease(cur, row["id"], host, board_id, ttl_s)

    def _lease(self, cur: Cursor, job_id: int, host: str, board_id: str | None, ttl_s: float) -> Claim:
        cur.execute("""UPDATE jobs SET state = 'leased', attempt = attempt + 1, host = %s, board_id = %s,
                           lease_expires = now() + make_interval(secs => %s)
                       WHERE id = %s
                       RETURNING id, attempt, name, run_id, board_id, health_check_of, labels, model_key,
                                 max_attempts""",
                    (host, board_id, ttl_s, job_id))
        job = cur.fetchone()
        cur.execute("INSERT INTO attempts (job_id, attempt, host, board_id) VALUES (%s, %s, %s, %s)",
                    (job["id"], job["attempt"], host, board_id))
        if board_id is not None:
            cur.execute("""INSERT INTO board_leases (board_id, job_id, attempt, host, during)
                           VALUES (%s, %s, %s, %s, tstzrange(clock_timestamp(), NULL))""",
                        (board_id, job["id"], job["attempt"], host))
        if job["model_key"]:
            cur.execute("""INSERT INTO model_turns VALUES (%s, clock_timestamp())
                           ON CONFLICT (model_key) DO UPDATE SET last_served = EXCLUDED.last_served""",
                        (job["model_key"],))
        if job["run_id"] is not None:
            cur.execute("UPDATE runs SET state = 'running' WHERE id = %s AND state = 'queued'", (job["run_id"],))
        return Claim(job["id"], job["attempt"], host, job["name"], job["run_id"], job["board_id"],
                     job["health_check_of"], tuple(job["labels"]), job["max_attempts"])

    def _health_check(self, cur: Cursor, host: str, board_id: str, labels: list[str], ttl_s: float) -> Claim:
        cur.execute("""INSERT INTO jobs (name, labels, needs_board, health_check_of, state, max_attempts)
                       VALUES ('health-check', %s, true, %s, 'ready', 1) RETURNING id""", (labels, board_id))
        return self._lease(cur, cur.fetchone()["id"], host, board_id, ttl_s)

    def renew(self, claim: Claim, ttl_s: float) -> bool:
        """Extend the lease; False: it was lost (expired and reaped, or the job leased again)."""
        with self.engine.transaction() as cur:
            cur.execute("""UPDATE jobs SET lease_expires = now() + make_interval(secs => %s)
                           WHERE id = %s AND attempt = %s AND host = %s AND state = 'leased'
                             AND lease_expires > now()""",
                        (ttl_s, claim.job_id, claim.attempt, claim.host))
            return cur.rowcount == 1

    def finish(self, claim: Claim, status: str, result: dict[str, Any], workspace: str | None,
               kind: str | None = None, message: str = "", health: str | None = None) -> bool:
        """End the leased job with its outcome; False (and nothing written): the lease was lost. `health`: a
        health check's verdict for its board, set in the same transaction (never a moment free and unknown)."""
        with self.engine.transaction() as cur:
            cur.execute("""UPDATE jobs SET state = 'done', status = %s, result = %s, workspace = %s,
                               finished_at = now(), lease_expires = NULL
                           WHERE id = %s AND attempt = %s AND host = %s AND state = 'leased'
                             AND lease_expires > now()""",
                        (status, json.dumps(result), workspace, claim.job_id, claim.attempt, claim.host))
            if cur.rowcount != 1:
                return False
            self._end_attempt(cur, claim.job_id, claim.attempt, status, kind, message)
            if health is not None and claim.health_check_of is not None:
                self.set_health(claim.health_check_of, health, message, cur)
            self._free_board(cur, claim.job_id, claim.attempt)
            cur.execute(f"NOTIFY {NOTIFY_CHANNEL}")
            return True

    def give_back(self, claim: Claim, kind: str, message: str, counted: bool = True) -> bool:
        """The worker could not run the job for a reason of its own (board unplugged, engine gone, stopping):
        queue it again while attempts remain (else it ends `error`), the board `unknown` when it had one.
        `counted=False` (a host stopping in order): the attempt is not held against the job."""
        with self.engine.transaction() as cur:
            cur.execute("""SELECT id FROM jobs WHERE id = %s AND attempt = %s AND host = %s AND state = 'leased'
                           FOR UPDATE""", (claim.job_id, claim.attempt, claim.host))
            if cur.fetchone() is None:
                return False
            if not counted:
                cur.execute("UPDATE jobs SET max_attempts = max_attempts + 1 WHERE id = %s", (claim.job_id,))
            self._release(cur, claim.job_id, claim.attempt, claim.board_id, kind, message, "given back")
            return True

    def _release(self, cur: Cursor, job_id: int, attempt: int, board_id: str | None, kind: str, message: str,
                 outcome: str) -> bool:
        """Requeue (True) or end `error` with an infra error (False, out of attempts)."""
        cur.execute("SELECT attempt, max_attempts, health_check_of FROM jobs WHERE id = %s", (job_id,))
        job = cur.fetchone()
        again = job["attempt"] < job["max_attempts"] and job["health_check_of"] is None
        if again:
            cur.execute("""UPDATE jobs SET state = 'ready', host = NULL, board_id = NULL, lease_expires = NULL,
                               ready_at = now() WHERE id = %s""", (job_id,))
        else:
            result = {"errors": [{"kind": kind, "message": message}]}
            cur.execute("""UPDATE jobs SET state = 'done', status = 'error', result = %s, finished_at = now(),
                               lease_expires = NULL WHERE id = %s""", (json.dumps(result), job_id))
        self._end_attempt(cur, job_id, attempt, outcome, kind, message)
        self._free_board(cur, job_id, attempt)
        if board_id is not None and kind == "infra":
            cur.execute("SELECT health FROM boards WHERE id = %s", (board_id,))
            board = cur.fetchone()
            if board is not None and board["health"] == "good":  # checked again before its next job
                self.set_health(board_id, "unknown", f"infra failure: {message}", cur)
        cur.execute(f"NOTIFY {NOTIFY_CHANNEL}")
        return again

    def reap(self) -> list[Reaped]:
        """Leases past their expiry: the job queued again (attempt + 1 at its next claim) or, out of attempts,
        ended `error` with kind infra; its board goes `unknown` (health check before its next job)."""
        reaped = []
        with self.engine.transaction() as cur:
            cur.execute("""SELECT id, attempt, host, board_id, run_id FROM jobs
                           WHERE state = 'leased' AND lease_expires <= now() FOR UPDATE SKIP LOCKED""")
            for job in cur.fetchall():
                message = (f"the lease of host {job['host']} expired (attempt {job['attempt']}): "
                           "the host died, hung or lost the queue")
                again = self._release(cur, job["id"], job["attempt"], job["board_id"], "infra", message, "expired")
                reaped.append(Reaped(job["id"], job["attempt"], job["host"], job["board_id"], job["run_id"], again))
        return reaped

    def _end_attempt(self, cur: Cursor, job_id: int, attempt: int, outcome: str, kind: str | None,
                     message: str) -> None:
        cur.execute("""UPDATE attempts SET ended_at = now(), outcome = %s, kind = %s, message = %s
                       WHERE job_id = %s AND attempt = %s""", (outcome, kind, message, job_id, attempt))

    def _free_board(self, cur: Cursor, job_id: int, attempt: int) -> None:
        # clock_timestamp, not now(): a lease taken right after this commits starts after this end
        cur.execute("""UPDATE board_leases SET during = tstzrange(lower(during), clock_timestamp())
                       WHERE job_id = %s AND attempt = %s AND upper_inf(during)""", (job_id, attempt))

    def finish_health_check(self, claim: Claim, ok: bool, reason: str) -> bool:
        """The check's verdict: good or bad; False when the lease was lost (the verdict is dropped)."""
        status = "success" if ok else "failure"
        return self.finish(claim, status, {"reason": reason}, None, None if ok else "test", reason,
                           health="good" if ok else "bad")

    # -- a run's jobs ----------------------------------------------------------------------------------
    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.engine.transaction() as cur:
            cur.execute("SELECT * FROM runs WHERE id = %s", (run_id,))
            row = cur.fetchone()
            return dict(row) if row else None

    def jobs(self, run_id: str) -> list[JobState]:
        with self.engine.transaction() as cur:
            cur.execute("""SELECT id, name, seq, needs, state, status, attempt, host, board_id, result, workspace
                           FROM jobs WHERE run_id = %s ORDER BY seq""", (run_id,))
            return [JobState(r["id"], r["name"], r["seq"], list(r["needs"]), r["state"], r["status"], r["attempt"],
                             r["host"], r["board_id"], r["result"] or {}, r["workspace"]) for r in cur.fetchall()]

    def attempts(self, run_id: str) -> list[dict[str, Any]]:
        with self.engine.transaction() as cur:
            cur.execute("""SELECT j.name, a.* FROM attempts a JOIN jobs j ON j.id = a.job_id
                           WHERE j.run_id = %s ORDER BY j.seq, a.attempt""", (run_id,))
            return list(cur.fetchall())

    def decide(self, run_id: str, ready: Sequence[str], skipped: dict[str, dict[str, Any]]) -> int:
        """Waiting jobs whose needs are done: ready to claim, or done at once (skipped: their result).
        Only a job still waiting changes, so two hosts deciding the same run agree. Returns rows changed."""
        changed = 0
        with self.engine.transaction() as cur:
            for name in ready:
                cur.execute("""UPDATE jobs SET state = 'ready', ready_at = now()
                               WHERE run_id = %s AND name = %s AND state = 'waiting'""", (run_id, name))
                changed += cur.rowcount
            for name, result in skipped.items():
                cur.execute("""UPDATE jobs SET state = 'done', status = %s, result = %s, finished_at = now()
                               WHERE run_id = %s AND name = %s AND state = 'waiting'""",
                            (result.get("status", "skipped"), json.dumps(result), run_id, name))
                changed += cur.rowcount
            if ready:
                cur.execute(f"NOTIFY {NOTIFY_CHANNEL}")
        return changed

    def runs_to_advance(self) -> list[str]:
        """Runs with a waiting job whose needs are all done (the host that finished the last need died
        before deciding), or with every job done and no result yet."""
        with self.engine.transaction() as cur:
            cur.execute("""SELECT DISTINCT w.run_id FROM jobs w
                           WHERE w.state = 'waiting' AND NOT EXISTS (
                               SELECT 1 FROM jobs n WHERE n.run_id = w.run_id AND n.name = ANY(w.needs)
                                                      AND n.state <> 'done')
                           UNION
                           SELECT r.id FROM runs r WHERE r.state IN ('queued', 'running')
                             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = r.id AND j.state <> 'done')
                           UNION
                           SELECT r.id FROM runs r WHERE r.state = 'assembling'
                             AND r.assembling_since < now() - interval '60 seconds'""")
            return [r["run_id"] for r in cur.fetchall()]

    def start_assembly(self, run_id: str) -> bool:
        """Every job is done: one host (the first to ask) writes the run's result."""
        with self.engine.transaction() as cur:
            cur.execute("""UPDATE runs SET state = 'assembling', assembling_since = now()
                           WHERE id = %s AND (state IN ('queued', 'running')
                                              OR (state = 'assembling'
                                                  AND assembling_since < now() - interval '60 seconds'))
                             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = %s AND j.state <> 'done')""",
                        (run_id, run_id))
            return cur.rowcount == 1

    def finish_run(self, run_id: str, status: str, result: dict[str, Any]) -> None:
        with self.engine.transaction() as cur:
            cur.execute("""UPDATE runs SET state = 'done', status = %s, result = %s, finished_at = now()
                           WHERE id = %s""", (status, json.dumps(result), run_id))

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.transaction() as cur:
            cur.execute("""SELECT id, model_name, model_sha256, pipeline_file, state, status, submitted_by,
                                  submitted_at, finished_at FROM runs ORDER BY submitted_at DESC, id DESC LIMIT %s""",
                        (limit,))
            return list(cur.fetchall())

    # -- blobs -----------------------------------------------------------------------------------------
    def put_blob(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        with self.engine.transaction(deadline_s=60) as cur:
            cur.execute("INSERT INTO blobs (sha256, size) VALUES (%s, %s) ON CONFLICT DO NOTHING", (sha, len(data)))
            if cur.rowcount == 1:
                for n, start in enumerate(range(0, max(len(data), 1), CHUNK)):
                    cur.execute("INSERT INTO blob_chunks VALUES (%s, %s, %s)", (sha, n, data[start:start + CHUNK]))
        return sha

    def get_blob(self, sha: str) -> bytes:
        with self.engine.transaction(deadline_s=60) as cur:
            cur.execute("SELECT data FROM blob_chunks WHERE sha256 = %s ORDER BY n", (sha,))
            data = b"".join(bytes(r["data"]) for r in cur.fetchall())
        if hashlib.sha256(data).hexdigest() != sha:
            raise KeyError(f"blob {sha} is missing or damaged in the queue")
        return data

    def prune_blobs(self) -> int:
        """Blobs no run, job or pending work refers to."""
        with self.engine.transaction(deadline_s=60) as cur:
            cur.execute("""DELETE FROM blobs b WHERE b.created_at < now() - interval '1 hour'
                             AND NOT EXISTS (SELECT 1 FROM runs r WHERE b.sha256 IN (r.model_sha256,
                                                                                     r.pipeline_sha256))
                             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.workspace = b.sha256)
                             AND NOT EXISTS (SELECT 1 FROM jobs j, jsonb_each_text(COALESCE(j.result -> 'logs',
                                                                                            '{}'::jsonb)) AS l
                                             WHERE l.value = b.sha256)""")
            return int(cur.rowcount)

    # -- log chunks ------------------------------------------------------------------------------------
    def append_log(self, claim: Claim, seq: int, path: str, data: str) -> bool:
        with self.engine.transaction() as cur:
            cur.execute("""INSERT INTO log_chunks (job_id, attempt, seq, path, data)
                           SELECT %s, %s, %s, %s, %s WHERE EXISTS (
                               SELECT 1 FROM jobs WHERE id = %s AND attempt = %s AND host = %s AND state = 'leased')""",
                        (claim.job_id, claim.attempt, seq, path, data, claim.job_id, claim.attempt, claim.host))
            return cur.rowcount == 1

    def log_chunks(self, run_id: str, after: int = 0) -> list[dict[str, Any]]:
        """Chunks of every job of a run, in arrival order, each with a cursor (`n`) to read on from."""
        with self.engine.transaction() as cur:
            cur.execute("""SELECT c.n, j.name, c.attempt, c.path, c.data
                           FROM log_chunks c JOIN jobs j ON j.id = c.job_id WHERE j.run_id = %s AND c.n > %s
                           ORDER BY c.n""", (run_id, after))
            return [dict(r) for r in cur.fetchall()]

    # -- checks ----------------------------------------------------------------------------------------
    def double_bookings(self) -> int:
        """Overlapping leases of one board (the exclusion constraint makes this 0; tests check it anyway)."""
        with self.engine.transaction() as cur:
            cur.execute("""SELECT count(*) AS n FROM board_leases a JOIN board_leases b
                             ON a.board_id = b.board_id AND a.ctid < b.ctid AND a.during && b.during""")
            return int(cur.fetchone()["n"])
