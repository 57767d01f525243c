"""The daemon: intake feeds the store, workers take queued runs from it, reporters post results.

Lifecycle: start() recovers interrupted runs, sweeps leftovers, picks up files already in the inbox,
then watches; stop() stops intake, lets running runs finish (bounded), and returns.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from daemon.errors import BenchdError
from daemon.executors import ExecutorSelector
from daemon.intake.intake import Intake
from daemon.intake.watcher import InboxWatcher
from daemon.pipeline.loader import load_workflow
from daemon.pipeline.runner import Runner, RunRequest
from daemon.reporters.base import RunInfo
from daemon.reporters.result import result_dir, write_json
from daemon.settings import Settings
from daemon.store import Store

_log = structlog.get_logger("daemon")


def discover_boards(settings: Settings) -> Any:
    """boards.<kind> for expressions; the discovery itself lives in daemon.boards."""

    def provide(workspace: Path) -> dict[str, list[str]]:
        from daemon.boards.discovery import discover

        boards = discover(settings.boards, state=settings.state)
        (workspace / ".benchd" / "boards.json").write_text(json.dumps([b.to_dict() for b in boards]))
        kinds: dict[str, list[str]] = {}
        for board in boards:
            if not board.quarantined:
                kinds.setdefault(board.chip.lower().replace("-", ""), []).append(board.id)
        return kinds

    return provide


class Reporting:
    """Calls every configured reporter; a failing reporter is logged and noted, never fatal."""

    def __init__(self, settings: Settings, store: Store) -> None:
        from daemon.reporters.registry import build_reporters

        self.reporters = build_reporters(settings, store)

    def on_start(self, info: RunInfo) -> None:
        for reporter in self.reporters:
            try:
                reporter.on_start(info)
            except Exception as exc:
                _log.error("reporter failed", reporter=reporter.name, error=str(exc))

    def report(self, info: RunInfo, result: dict[str, Any]) -> list[dict[str, str]]:
        errors = []
        for reporter in self.reporters:
            try:
                reporter.report(info, result)
            except Exception as exc:
                _log.error("reporter failed", reporter=reporter.name, error=str(exc))
                errors.append({"where": f"report/{reporter.name}", "message": str(exc)})
        return errors


class Daemon:
    def __init__(self, settings: Settings, store: Store | None = None,
                 progress: Callable[..., None] | None = None) -> None:
        self.settings = settings
        self.store = store or Store(settings.db_path)
        self.intake = Intake(settings, self.store, image_digest=_image_digest if settings.executor != "local" else None)
        self.reporting = Reporting(settings, self.store)
        self.runner = Runner(settings, self.store, ExecutorSelector(settings), boards=discover_boards(settings),
                             progress=progress)
        self.watcher: InboxWatcher | None = None
        self._wake = threading.Condition()
        self._stopping = False
        self._workers: list[threading.Thread] = []
        self._idle = threading.Event()

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self, watch: bool = True) -> None:
        self._sweep_containers()
        requeued, failed = self.store.recover_interrupted()
        if requeued or failed:
            _log.warning("recovered interrupted runs", requeued=requeued, failed=failed)
        for i in range(self.settings.parallel_runs):
            t = threading.Thread(target=self._work, name=f"benchd-worker-{i}", daemon=True)
            t.start()
            self._workers.append(t)
        patterns = self._patterns()
        self.watcher = InboxWatcher(self.settings.inbox, self.drop, patterns, self.settings.stable_s)
        if watch:
            self.watcher.start()
        else:
            self.watcher = None  # scan only (tests, one-shot use): nothing to stop later
            for path in InboxWatcher(self.settings.inbox, self.drop, patterns).scan():
                self.drop(path)
        if self.watcher is not None:
            for path in self.watcher.scan():
                self.drop(path)
        self.notify()
        _log.info("watching", inbox=str(self.settings.inbox), results=str(self.settings.results),
                  executor=self.settings.executor, parallel_runs=self.settings.parallel_runs)

    def _sweep_containers(self) -> None:
        """Containers left by a daemon that died (kill -9, power loss) are removed before anything runs."""
        if self.settings.executor == "local":
            return
        try:
            from daemon.executors.container import connect, remove_orphans

            client = connect(timeout=5)
        except (ImportError, BenchdError):
            return  # no engine: none of our containers can be running in it
        try:
            remove_orphans(client)
        finally:
            client.close()

    def stop(self, grace: float = 10.0) -> None:
        """Stop taking drops; let running steps finish for `grace` seconds, then stop them. A run cut
        short this way goes back to the queue and runs again at the next start."""
        if self.watcher is not None:
            self.watcher.stop()
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

    def _patterns(self) -> tuple[str, ...]:
        try:
            return self.intake.workflow().paths
        except BenchdError:
            return ("*.tflite",)  # a broken pipeline still gets every drop an error result

    # -- intake -> queue --------------------------------------------------------------------------
    def drop(self, path: Path) -> None:
        accepted = self.intake.accept(path)
        if accepted is not None and accepted.status == "queued":
            self.notify()

    def notify(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """For tests and benchmarks: True once nothing is queued or running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = self.store.query("SELECT COUNT(*) FROM runs WHERE status IN ('queued', 'running')")[0][0]
            if not busy:
                return True
            self._idle.wait(0.2)
            self._idle.clear()
        return False

    # -- workers ----------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._wake:
                while True:
                    if self._stopping:
                        return
                    row = self.store.claim_next_run()
                    if row is not None:
                        break
                    self._wake.wait()
            try:
                self.execute(row)
            except Exception:
                _log.exception("worker failed", run=row["id"])
            finally:
                self._idle.set()

    def execute(self, row: Any) -> dict[str, Any]:
        sidecar = json.loads(row["sidecar"] or "{}")
        try:
            workflow = load_workflow(Path(row["pipeline"]))
        except BenchdError as exc:
            workflow = None
            error = str(exc)
        if workflow is None or not Path(row["model_path"]).is_file():
            reason = error if workflow is None else "the model snapshot is gone from the state folder"
            model = {"name": row["model_name"], "sha256": row["sha256"], "size": row["size"]}
            self.intake.error_result(row["id"], model, reason, where="pipeline")
            self._file_away(row, "error")
            return {"status": "error"}
        req = RunRequest(row["id"], Path(row["model_path"]), row["model_name"], row["sha256"], row["size"], workflow)
        info = RunInfo(row["id"], row["model_name"], row["sha256"],
                       result_dir(self.settings.results, row["model_name"], row["id"]), sidecar)
        self.reporting.on_start(info)
        result = self.runner.execute(req)
        if self.runner.cancel.is_set() and result["status"] == "cancelled":
            self.store.requeue(row["id"])
            return result
        late = [{"where": "sidecar", "message": sidecar["_error"]}] if sidecar.get("_error") else []
        late += self.reporting.report(info, result)
        if late:  # the runner already wrote result.json; only what the reporting added makes it change
            result["errors"] += late
            write_json(info.result_dir / "result.json", result)
        self.store.finish_run(row["id"], result["status"], _first_error(result), info.result_dir)
        self._file_away(row, result["status"])
        return result

    def _file_away(self, row: Any, status: str) -> None:
        drop = Path(row["drop_path"])
        if drop.parent.resolve() == self.settings.inbox.resolve():
            self.intake.file_away(drop, row["id"], "rejected" if status == "error" else "processed")


def _image_digest(ref: str) -> str | None:
    from daemon.executors.container import local_digest  # the SDK loads only where Docker may be used

    return local_digest(ref)


def _first_error(result: dict[str, Any]) -> str | None:
    return result["errors"][0]["message"] if result["errors"] else None
