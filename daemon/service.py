"""The daemon, top to bottom as the data flows: a drop is decided by intake, a worker claims the run,
the runner runs it into a journal, the reporters report it, the store finishes it, the drop is filed away.

start() recovers interrupted runs, sweeps leftovers, picks up files already in the inbox, then watches;
stop() stops intake, lets running runs finish (bounded), and returns.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import structlog

from daemon import wiring
from daemon.errors import BenchdError
from daemon.intake.drops import DropQueue
from daemon.intake.intake import Decision, Duplicate, Intake, Queued, Rejected
from daemon.intake.watcher import InboxWatcher
from daemon.pipeline.runner import Runner, RunRequest
from daemon.record import Journal, Log, ModelInfo, PipelineInfo, RunFinished, RunRecord, RunStarted, Subscriber
from daemon.reporters.files import result_dir
from daemon.settings import Settings
from daemon.store import Store
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
        self._wake = threading.Condition()
        self._stopping = False
        self._workers: list[threading.Thread] = []
        self._watching = False

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self, watch: bool = True) -> None:
        wiring.sweep_containers(self.settings)
        requeued, failed = self.store.recover_interrupted()
        if requeued or failed:
            _log.warning("recovered interrupted runs", requeued=requeued, failed=failed)
        wiring.sweep_processes(self.settings)
        self._workers = [threading.Thread(target=self._work, name=f"benchd-worker-{i}", daemon=True)
                         for i in range(self.settings.parallel_runs)]
        for worker in self._workers:
            worker.start()
        self.drops.start()
        if watch:
            self.watcher.start()
            self._watching = True
        for path in self.watcher.scan():
            self.drops.put(path)
        _log.info("watching", inbox=str(self.settings.inbox), results=str(self.settings.results),
                  executor=self.settings.executor, parallel_runs=self.settings.parallel_runs)

    def stop(self, grace: float = 10.0) -> None:
        """Stop taking drops; let running steps finish for `grace` seconds, then stop them. A run cut
        short this way goes back to the queue and runs again at the next start."""
        if self._watching:
            self.watcher.stop()
        self.drops.stop()
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        deadline = time.monotonic() + grace
        for t in self._workers:
            t.join(timeout=max(deadline - time.monotonic(), 0))
        if any(t.is_alive() for t in self._workers):
            _log.warning("stopping running steps", grace_s=grace)
            self.runner.cancel.set()
            self.runner.selector.kill_all()
            for t in self._workers:
                t.join(timeout=30)
        _log.info("stopped")

    def wait_idle(self, timeout: float) -> bool:
        """For tests and benchmarks: True once nothing is queued or running."""
        deadline = time.monotonic() + timeout
        while self.store.busy() or self.drops.busy():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    # -- drop → decision → claim ------------------------------------------------------------------
    def drop(self, path: Path, force: bool = False, move: bool = True) -> Decision | None:
        decision = self.intake.decide(path, force=force, move=move)
        if isinstance(decision, Rejected | Duplicate) and (row := self.store.claim_run(decision.run_id)):
            self.execute(row)  # nothing to run: its result is written now, not after the queue
        elif isinstance(decision, Queued):
            with self._wake:
                self._wake.notify_all()
        return decision

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
        out = result_dir(self.settings.results, row.model_name, row.id)
        sidecar, sidecar_error = wiring.sidecar(row.sidecar)
        extra = [self.progress] if self.progress is not None else []
        journal = Journal(wiring.subscribers(self.store, self.reporters, row, out, sidecar, extra))
        started = time.time()
        status = self._run(row, out, journal)
        if status == "cancelled" and self.runner.cancel.is_set():
            self.store.requeue(row.id)  # cut short by a stop: it runs again at the next start
            return journal.record
        if sidecar_error:
            journal.emit(Log("error", "sidecar", sidecar_error))
        earlier = self.store.get_run(row.duplicate_of) if row.duplicate_of else None
        record = journal.emit(RunFinished(status, time.time(), time.time() - started, row.duplicate_of,
                                          earlier.result_dir if earlier else None))
        self.store.finish_run(row.id, record.status, record.errors[0].message if record.errors else None, out)
        self._file_away(row, record.status)
        return record

    def _run(self, row: RunRow, out: Path, journal: Journal) -> str:
        model = ModelInfo(row.model_name, row.sha256 or None, row.size)
        if row.error or row.duplicate_of:  # decided by intake (or by recovery): nothing to run
            journal.emit(RunStarted(row.id, model, wiring.pipeline_info(row), time.time()))
            if row.duplicate_of:
                earlier = self.store.get_run(row.duplicate_of)
                return earlier.status if earlier else "error"
            journal.emit(Log("error", "runner" if row.model_path else "intake", row.error or ""))
            return "error"
        try:
            workflow = wiring.load(row.pipeline)
            if not Path(row.model_path).is_file():
                raise BenchdError("the model snapshot is gone from the state folder")
        except BenchdError as exc:
            journal.emit(RunStarted(row.id, model, PipelineInfo(file=row.pipeline), time.time()))
            journal.emit(Log("error", "pipeline", str(exc)))
            return "error"
        req = RunRequest(row.id, Path(row.model_path), row.model_name, row.sha256, row.size, workflow, out)
        return self.runner.execute(req, journal)

    def _file_away(self, row: RunRow, status: str) -> None:
        drop = Path(row.drop_path)
        if drop.parent.resolve() == self.settings.inbox.resolve():
            self.intake.file_away(drop, row.id, "rejected" if status == "error" else "processed")
