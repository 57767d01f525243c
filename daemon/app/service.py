"""The daemon process, top to bottom as the data flows: a drop is decided by intake, a worker claims the
run, daemon.app.runs runs it down the floors (runner → journal → reporters → store → filing).

start() locks the state folder, completes what a crash cut short, starts the workers, intake, the cancel
watch and (for `benchd watch`) the webhook delivery and the dashboard; stop() stops them in reverse, letting
running runs finish (bounded): a run cut short so is queued again, a run a user cancelled ends `cancelled`.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import structlog

from daemon.app import compose
from daemon.app.cancels import CancelWatch
from daemon.app.pipelines import Pipelines
from daemon.app.recovery import recover
from daemon.app.retention import prune
from daemon.app.runs import Runs
from daemon.errors import BenchdError
from daemon.intake.drops import DropQueue
from daemon.intake.intake import Changing, Decision, Duplicate, Intake, Queued, Rejected
from daemon.intake.watcher import InboxWatcher
from daemon.pipeline.runner import Runner
from daemon.record import RunRecord, Subscriber
from daemon.settings import Settings
from daemon.store import Store
from daemon.store.changes import StoreChanges
from daemon.store.lock import StateLock
from daemon.store.rows import RunRow

_log = structlog.get_logger("daemon")
# Workers and the cancel watch wake when the store changes (daemon.store.changes: any process's commit);
# this timeout is only the safety net where file events are not delivered (a network file system).
QUEUE_POLL_S = 30.0


class Daemon:
    def __init__(self, settings: Settings, store: Store | None = None, progress: Subscriber | None = None,
                 background: bool = False) -> None:
        """`background`: also deliver webhooks and serve the dashboard (`benchd watch`), not only run runs."""
        self.settings = settings
        self.store = store or Store(settings.db_path)
        self.pipelines = Pipelines(settings)
        self.intake = Intake(settings, self.store, self.pipelines.current, compose.image_digest(settings))
        self.runner = Runner(settings, actions=compose.actions_launcher(), boards=compose.boards(settings))
        self.runs = Runs(settings, self.store, self.intake, self.runner, self.pipelines,
                         compose.reporters(settings, self.store), progress)
        self.drops = DropQueue(lambda path: None if self.drop(path) else None)
        self.watcher = InboxWatcher(settings.inbox, self.drops.put, self.pipelines.patterns(), settings.stable_s)
        self.cancels = CancelWatch(self.store, self.cancel)
        self.changes = StoreChanges(self.store.path, self._store_changed)
        self.lock = StateLock(settings.state)
        self.background = background
        # With [queue] url, `benchd watch` forwards its inbox's runs to the shared queue and is a worker too.
        self.forwarder: Any = None
        self.worker: Any = None
        self._wake, self._stopping, self._watching = threading.Condition(), False, False
        self._workers: list[threading.Thread] = []
        self._extras: list[Any] = []

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self, watch: bool = True) -> None:
        self.lock.acquire()  # one daemon per state folder: a second one stops here
        compose.sweep_containers(self.settings)
        compose.sweep_processes(self.settings)
        recover(self.settings, self.store, self.intake)
        prune(self.settings, self.store)
        if self.background:
            self._extras = compose.background(self.settings, self.store)
            if self.settings.queue.url:
                self.forwarder, self.worker = compose.shared_queue(self.settings, self.store, self.intake)
                self.forwarder.start()
                self.worker.start()
        self._workers = [threading.Thread(target=self._work, name=f"benchd-worker-{i}", daemon=True)
                         for i in range(self.settings.parallel_runs)]
        for worker in self._workers:
            worker.start()
        self.drops.start()
        self.start_controls()
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
        self.stop_controls()
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
        self.runner.spares.clear()
        if self.worker is not None:
            self.worker.stop()
            self.forwarder.stop()
            self.worker.queue.engine.close()
        for extra in reversed(self._extras):
            extra.stop()
        self._extras = []
        self.lock.release()
        _log.info("stopped")

    def start_controls(self) -> None:
        """Re-runs and cancels asked by other processes reach this one (`benchd run` starts them too)."""
        self.changes.start()
        self.cancels.start()

    def stop_controls(self) -> None:
        self.changes.stop()
        self.cancels.stop()

    def _store_changed(self) -> None:
        self.cancels.poke()
        with self._wake:  # never rate-limited: a claim that finds nothing writes nothing, so no echo
            self._wake.notify_all()

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

    def execute(self, row: RunRow) -> RunRecord | None:
        if self.forwarder is not None and self.runs.runs_steps(row):
            try:
                self.forwarder.forward(row)  # its result comes back through Forwarder.settle
            except BenchdError as exc:
                _log.warning("cannot forward the run: queued here again", run=row.id, error=str(exc))
                self.store.requeue(row.id)
                time.sleep(1.0)  # the queue is down: try again soon, not in a tight loop
            return None
        return self.runs.execute(row)

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


def bound_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own malloc arena; in a daemon whose threads come and go
    (workers, intake, matrix jobs, deliveries) the arenas' free pages made RSS climb ~4 MB per 1,000 runs
    (measured; Python's own heap stayed flat). Two arenas keep it flat (+0.3 MB). No-op off glibc."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def freeze_start_up_heap() -> None:
    """Once the daemon has started: what start-up made (modules, settings, the daemon's parts) lives as long
    as the process, so the cyclic collector stops scanning it. Its full collections then walk a third of
    the objects: a drop that met one waited 30-60 ms for it on its way to the first step (1 drop in 25,
    measured)."""
    import gc

    gc.collect()
    gc.freeze()
