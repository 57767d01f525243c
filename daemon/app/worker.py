"""`benchd worker`: this host in the shared queue. It registers itself and its boards (with their labels),
claims jobs it can run, renews their leases, runs them, and finishes them fenced by (job, attempt, host).

Threads: `parallel_runs` slots that claim and run; one heartbeat (leases every `heartbeat_s`, the host's
last-seen); one reaper (lapsed leases of any host, runs whose waiting jobs can be decided or whose result
can be assembled); one listener (NOTIFY wakes idle slots; `poll_s` is the fallback).

A lease this worker can no longer renew for `lease_ttl_s` (refused, or the engine unreachable) is lost:
the job's steps are stopped and nothing of it is written. Another host runs it again (attempt + 1).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from daemon.app.logship import LogShipper
from daemon.app.pipelines import Pipelines
from daemon.app.queued import Produced, assemble, decide, execute_job, job_logs, load_run
from daemon.errors import BenchdError
from daemon.pipeline.request import ActionLauncher, BoardInfo, BoardSource
from daemon.pipeline.runner import Runner, RunScope
from daemon.reporters.reporter import Reporter
from daemon.settings import Settings, host_name
from daemon.store.postgres import QueueUnavailable
from daemon.store.queue import NOTIFY_CHANNEL, BoardSighting, Claim, Queue

_log = structlog.get_logger("worker")
DISCOVERY_S = 30.0  # boards are looked for again this often (and after an infra failure on one)
PRUNE_S = 600.0  # unreferenced blobs are deleted this often (by every host; it is one DELETE)
LOG_SHIP_S = 1.0  # a running job's new log lines reach the queue this often
HealthCheck = Callable[[Any], tuple[bool | None, str]]  # board -> (passed; None: no verdict, the host's fault)


@dataclass
class Active:
    """A job this worker holds: its lease's last renewal (local clock) and the run scope to stop."""

    claim: Claim
    renewed: float = field(default_factory=time.monotonic)
    lost: str | None = None
    scope: RunScope | None = None
    logs: LogShipper | None = None

    def lose(self, why: str) -> None:
        if self.lost is None:
            self.lost = why
            if self.scope is not None:
                self.scope.stop(f"lease lost: {why}", force=True)

    def attach(self, scope: RunScope) -> None:
        self.scope = scope
        if self.lost is not None:
            scope.stop(f"lease lost: {self.lost}", force=True)


def board_labels(board: BoardInfo, extra: Sequence[str]) -> tuple[str, ...]:
    """What `runs-on` can ask of a board: its kind, chip, revision, flash size and MAC, and the host's own."""
    info = board.to_dict()
    labels = [f"board:{board.chip.lower().replace('-', '')}", f"chip={board.chip}"]
    for key, name in (("revision", "revision"), ("flash_size", "flash"), ("mac", "mac")):
        if info.get(key):
            labels.append(f"{name}={info[key]}")
    return tuple(dict.fromkeys([*labels, *extra]))


class Worker:
    def __init__(self, settings: Settings, queue: Queue, actions: ActionLauncher, boards: BoardSource | None,
                 health_check: HealthCheck | None = None, reporters: Sequence[Reporter] = ()) -> None:
        self.settings, self.queue = settings, queue
        self.name = host_name(settings)
        self.labels = tuple(dict.fromkeys(["host", *settings.host.labels]))
        self.runner = Runner(settings, actions=actions, boards=None)
        self.pipelines = Pipelines(settings)
        self.board_source = boards
        self.health_check = health_check
        self.reporters = reporters
        self.ttl = settings.queue.lease_ttl_s
        self._boards: dict[str, Any] = {}
        self._discovered = 0.0
        self._active: dict[int, Active] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener = queue.engine.listener(NOTIFY_CHANNEL)

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        self.queue.register_host(self.name, self.labels, os.getpid(), self.settings.executor)
        self._discover()
        loops: list[tuple[str, Callable[[], None]]] = [("heartbeat", self._heartbeat_loop),
                                                       ("reaper", self._reaper_loop), ("listen", self._listen_loop),
                                                       ("logs", self._logs_loop)]
        loops += [(f"slot-{i}", self._slot_loop) for i in range(self.settings.parallel_runs)]
        self._threads = [threading.Thread(target=fn, name=f"benchd-{name}", daemon=True) for name, fn in loops]
        for t in self._threads:
            t.start()
        _log.info("worker started", host=self.name, labels=list(self.labels), boards=sorted(self._boards))

    def stop(self, grace: float = 10.0) -> None:
        """Claim nothing more; running jobs are stopped and given back (they run again, the stop not
        counted as an attempt)."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        with self._lock:
            active = list(self._active.values())
        for job in active:
            job.lose("this host is stopping")
        for t in self._threads:
            t.join(timeout=grace if t.name.startswith("benchd-slot") else 2)
        for job in active:
            with contextlib.suppress(BenchdError):
                self.queue.give_back(job.claim, "infra", f"host {self.name} stopped", counted=False)
        self._listener.close()
        _log.info("worker stopped", host=self.name)

    # -- boards ----------------------------------------------------------------------------------------
    def _discover(self) -> None:
        if self.board_source is None:
            return
        try:
            found = [b for b in self.board_source() if not getattr(b, "error", None)]
        except BenchdError as exc:
            _log.warning("board discovery failed", error=str(exc))
            return
        with self._lock:
            leased = {a.claim.board_id for a in self._active.values()}
            self._boards = {b.id: b for b in found} | {i: self._boards[i] for i in leased if i in self._boards}
        sightings = [BoardSighting(b.id, str(b.to_dict().get("port", "")),
                                   board_labels(b, self.settings.boards.labels), bool(b.simulated))
                     for b in self._boards.values()]
        self.queue.sync_boards(self.name, sightings)
        self._discovered = time.monotonic()

    # -- the loops -------------------------------------------------------------------------------------
    def _slot_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                if time.monotonic() - self._discovered > DISCOVERY_S:
                    self._discover()
                claim = self.queue.claim(self.name, self.labels, self.ttl)
            except Exception as exc:  # a slot never dies: it says why and tries again
                _log.warning("cannot claim", error=str(exc))
                self._stopping.wait(1.0)
                continue
            if claim is None:
                with self._wake:
                    self._wake.wait(self.settings.queue.poll_s)
                continue
            self._execute(claim)

    def _listen_loop(self) -> None:
        while not self._stopping.is_set():
            if self._listener.wait(timeout_s=1.0):
                with self._wake:
                    self._wake.notify_all()

    def _heartbeat_loop(self) -> None:
        while not self._stopping.wait(self.settings.queue.heartbeat_s):
            with self._lock:
                active = list(self._active.values())
            for job in active:
                self._renew(job)
            with contextlib.suppress(BenchdError):
                self.queue.seen_host(self.name)

    def _logs_loop(self) -> None:
        while not self._stopping.wait(LOG_SHIP_S):
            with self._lock:
                shippers = [a.logs for a in self._active.values() if a.logs is not None and a.lost is None]
            for logs in shippers:
                with contextlib.suppress(BenchdError, OSError):
                    logs.ship()

    def _renew(self, job: Active) -> None:
        if job.lost is not None:
            return
        try:
            if self.queue.renew(job.claim, self.ttl):
                job.renewed = time.monotonic()
                return
            job.lose("the queue refused the renewal (expired, or leased again)")
        except QueueUnavailable as exc:
            if time.monotonic() - job.renewed >= self.ttl:
                job.lose(f"not renewed for {self.ttl:.0f} s: {exc}")

    def _reaper_loop(self) -> None:
        pruned = time.monotonic()
        while not self._stopping.wait(self.settings.queue.reaper_s):
            try:
                if time.monotonic() - pruned > PRUNE_S:  # blobs no run, job or log refers to any more
                    pruned = time.monotonic()
                    self.queue.prune_blobs()
                for reaped in self.queue.reap():
                    _log.warning("lease expired", job=reaped.job_id, attempt=reaped.attempt, host=reaped.host,
                                 requeued=reaped.requeued)
                for run_id in self.queue.runs_to_advance():
                    self.advance(run_id)
            except BenchdError as exc:
                _log.warning("reaper pass failed", error=str(exc))

    # -- one job ---------------------------------------------------------------------------------------
    def _execute(self, claim: Claim) -> None:
        active = Active(claim, logs=LogShipper(self.queue, claim, job_logs(self.settings, claim)))
        with self._lock:
            self._active[claim.job_id] = active
        log = _log.bind(job=claim.job_id, name=claim.name, run=claim.run_id, attempt=claim.attempt,
                        board=claim.board_id)
        log.info("job claimed")
        try:
            if claim.health_check_of is not None:
                self._check_health(claim, active)
                return
            assert claim.run_id is not None
            run = load_run(self.settings, self.queue, self.pipelines, claim.run_id)
            board = self._boards.get(claim.board_id or "")
            if claim.board_id and board is None:
                self.queue.give_back(claim, "infra", f"board {claim.board_id} is no longer attached to {self.name}")
                self._discover()
                return
            produced = execute_job(self.settings, self.queue, self.runner, run, claim, [board] if board else [],
                                   active.attach, lambda: self._last_logs(active))
            if self._finish(active, produced):
                log.info("job finished", status=produced.status)
                self.advance(claim.run_id)
            else:
                log.warning("lease lost: the job's outcome is dropped", why=active.lost)
        except QueueUnavailable as exc:  # its lease lapses; the reaper gives it to another host
            log.warning("queue unavailable during the job", error=str(exc))
        except Exception as exc:
            log.exception("job failed on this host")
            with contextlib.suppress(BenchdError):
                self.queue.give_back(claim, "infra", f"{self.name}: {exc}")
        finally:
            with self._lock:
                self._active.pop(claim.job_id, None)

    def _last_logs(self, active: Active) -> None:
        if active.logs is not None and active.lost is None:
            with contextlib.suppress(BenchdError, OSError):
                active.logs.ship()

    def _finish(self, active: Active, produced: Produced) -> bool:
        """The fenced finish, retried while the lease may still hold (the engine may be back in time)."""
        kind = "test" if produced.status in ("failure", "error") else None
        while active.lost is None:
            try:
                return self.queue.finish(active.claim, produced.status, produced.result, produced.workspace, kind)
            except QueueUnavailable as exc:
                if time.monotonic() - active.renewed >= self.ttl:
                    active.lose(f"could not finish within the lease: {exc}")
                    break
                time.sleep(1.0)
        return False

    def _check_health(self, claim: Claim, active: Active) -> None:
        board = self._boards.get(claim.health_check_of or "")
        ok: bool | None
        if board is None:
            ok, why = None, f"board {claim.health_check_of} is no longer attached to {self.name}"
        elif self.health_check is None:
            ok, why = False, "this host has no health check for its boards"
        else:
            try:
                ok, why = self.health_check(board)
            except Exception as exc:  # a check that crashes is a failed check, said so
                ok, why = False, f"the health check crashed: {exc}"
        if active.lost is not None:
            return
        if ok is None:  # the host could not check (a tool missing, the board busy): not the board's fault
            _log.warning("board not checked", board=claim.health_check_of, reason=why)
            self.queue.give_back(claim, "infra", why)
            self._stopping.wait(self.settings.queue.poll_s)  # not at once again
        elif self.queue.finish_health_check(claim, ok, why):
            _log.info("board health checked", board=claim.health_check_of, ok=ok, reason=why)

    def advance(self, run_id: str) -> None:
        """Decide what can be decided of the run, and assemble its result once every job is done."""
        run = load_run(self.settings, self.queue, self.pipelines, run_id)
        while decide(self.settings, self.queue, run):
            run = load_run(self.settings, self.queue, self.pipelines, run_id)
        if all(j.state == "done" for j in run.jobs) and self.queue.start_assembly(run_id):
            run = load_run(self.settings, self.queue, self.pipelines, run_id)
            record = assemble(self.settings, self.queue, run, self.reporters)
            _log.info("run done", run=run_id, status=record.status)
