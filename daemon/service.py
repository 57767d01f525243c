"""The daemon, top to bottom as the data flows: a drop is decided by intake, a worker claims the run,
the runner runs it into a journal, the reporters report it, the store finishes it, the drop is filed away.

start() locks the state folder, completes what a crash cut short, then watches; stop() stops intake, lets
running runs finish (bounded): a run cut short so is queued again, a run a user cancelled ends `cancelled`.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import structlog

from daemon import housekeeping, wiring
from daemon.intake.drops import DropQueue
from daemon.intake.intake import Changing, Decision, Duplicate, Intake, Queued, Rejected
from daemon.intake.watcher import InboxWatcher
from daemon.pipeline.runner import STOPPED, Runner
from daemon.record import Journal, Log, RunFinished, RunRecord, Subscriber
from daemon.reporters.files import result_dir
from daemon.settings import Settings
from daemon.store import Store
from daemon.store.lock import StateLock
from daemon.store.rows import RunRow

_log = structlog.get_logger("daemon")
QUEUE_POLL_S = 1.0  # a run queued by another process (the dashboard's re-run) is claimed within this


class Daemon:
    def __init__(self, settings: Settings, store: Store | None = None, progress: Subscriber | None = None) -> None:
        self.settings = settings
        self.store = store or Store(settings.db_path)
        self.intake = Intake(settings, self.store, wiring.pipeline_ref(settings), wiring.image_digest(settings))
        self.runner = Runner(settings, actions=wiring.actions_launcher(), boards=wiring.boards(settings))
        self.reporters = wiring.reporters(settings, self.store)
        self.progress = progress  # `benchd run` draws its live display from the journal too
        self.drops = DropQueue(lambda path: None if self.drop(path) else None)
        self.watcher = InboxWatcher(settings.inbox, self.drops.put, wiring.patterns(settings), settings.stable_s)
        self.cancels = housekeeping.CancelWatch(self.store, self.cancel)
        self.lock = StateLock(settings.state)
        self._wake, self._stopping, self._watching = threading.Condition(), False, False
        self._workers: list[threading.Thread] = []

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self, watch: bool = True) -> None:
        self.lock.acquire()  # one daemon per state folder: a second one stops here
        wiring.sweep_containers(self.settings)
        wiring.sweep_processes(self.settings)
        housekeeping.recover(self.settings, self.store, self.intake)
        housekeeping.prune(self.settings, self.store)
        self._workers = [threading.Thread(target=self._work, name=f"benchd-worker-{i}", daemon=True)
                         for i in range(self.settings.parallel_runs)]
        for worker in self._workers:
            worker.start()
        self.drops.start()
        self.cancels.start()
        if watch:
            self.watcher.start()
        self._watching = watch
        for path in self.watcher.scan():
            self.drops.put(path)
        _log.info("watching", inbox=str(self.settings.inbox), results=str(self.settings.results),
                  executor=self.settings.executor, parallel_runs=self.settings.parallel_runs)

    def stop(self, grace: float = 10.0) -> None:
        """Stop taking drops; running steps get `grace` seconds, then are stopped (their runs are queued)."""
        if self._watching:
            self.watcher.stop()
        self.drops.stop()
        self.cancels.stop()
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        deadline = time.monotonic() + grace
        for t in self._workers:
            t.join(timeout=max(deadline - time.monotonic(), 0))
        if any(t.is_alive() for t in self._workers):
            _log.warning("stopping running steps", grace_s=grace)
            self.runner.stop()
            for t in self._workers:
                t.join(timeout=30)
        self.lock.release()
        _log.info("stopped")

    def wait_idle(self, timeout: float) -> bool:
        """For tests and benchmarks: True once nothing is queued or running."""
        deadline = time.monotonic() + timeout
        while (busy := self.store.busy() or self.drops.busy()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return not busy

    # -- drop → decision → claim ------------------------------------------------------------------
    def drop(self, path: Path, force: bool = False, move: bool = True) -> Decision | None:
        decision = self.intake.decide(path, force=force, move=move)
        if isinstance(decision, Rejected | Duplicate) and (row := self.store.claim_run(decision.run_id)):
            self.execute(row)  # nothing to run: its result is written now, not after the queue
        elif isinstance(decision, Queued):
            with self._wake:
                self._wake.notify_all()
        elif isinstance(decision, Changing) and self._watching:
            self.watcher.retry(decision.path)  # a writer is still at it: decided once it stays the same
        return decision

    def cancel(self, run_id: str, reason: str) -> None:
        """A user's cancel: a run running here is stopped; a queued one ends `cancelled` without running."""
        if not self.runner.cancel_run(run_id, reason) and self._watching and (row := self.store.claim_run(run_id)):
            self.execute(row)

    def _work(self) -> None:
        while (row := self._claim()) is not None:
            try:
                self.execute(row)
            except Exception:
                _log.exception("worker failed", run=row.id)

    def _claim(self) -> RunRow | None:
        with self._wake:
            while not self._stopping:
                if (row := self.store.claim_next_run()) is not None:
                    return row
                self._wake.wait(QUEUE_POLL_S)
        return None

    # -- run → report → finish → file away --------------------------------------------------------
    def execute(self, row: RunRow) -> RunRecord:
        started, out = time.time(), result_dir(self.settings.results, row.model_name, row.id)
        journal, sidecar_error = wiring.journal(self.store, self.reporters, row, out, self.progress)
        status = self._run(row, out, journal)
        if status == STOPPED:  # cut short by a stop: it runs again at the next start
            housekeeping.requeue(self.store, row.id, out)
            return journal.record
        if sidecar_error:
            journal.emit(Log("error", "sidecar", sidecar_error))
        earlier = self.store.get_run(row.duplicate_of) if row.duplicate_of else None
        record = journal.emit(RunFinished(status, time.time(), time.time() - started, row.duplicate_of,
                                          earlier.result_dir if earlier else None))  # result.json written
        self.store.finish_run(row.id, record.status, record.errors[0].message if record.errors else None, out)
        housekeeping.file_away(self.settings, self.intake, self.store, row, record.status)  # then [retention]
        return record

    def _run(self, row: RunRow, out: Path, journal: Journal) -> str:
        cancelled = housekeeping.cancel_reason(self.store, row.id)
        if row.error or row.duplicate_of or cancelled:  # decided by intake, recovery or a user: nothing to run
            return wiring.tell_decided(self.store, row, journal, cancelled)
        req = wiring.run_request(row, out, journal)  # None: the pipeline or the snapshot is unusable (told why)
        return self.runner.execute(req, journal) if req is not None else "error"
