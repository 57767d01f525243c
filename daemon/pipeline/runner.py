"""Run one workflow for one model: jobs in order, each in its executor; the run's story told as events.

The runner emits events into the run's journal (daemon.record) and knows nothing else of reporting;
the service emits RunFinished once the run's outcome is settled. Everything the run creates lives in
state/runs/<run-id>/ and is removed in `finally`; what is kept (logs, artifacts) goes to the result folder.

Two ways a run stops early: the daemon stops (`stop()`: every run returns STOPPED, and the service
queues it again), or someone cancels one run (`cancel_run()`: that run's steps are stopped and it ends
`cancelled`, the reason in its errors). Each run sees the runner through a RunScope, so a cancel
reaches only its own sessions.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time

import structlog

from daemon.executors import Choice, ExecutorSelector
from daemon.executors.base import Executor, JobSession, JobSpec, StepCommand, StepOutcome
from daemon.pipeline.jobs import RunContext
from daemon.pipeline.request import ActionLauncher, BoardSource, RunEnv, RunRequest
from daemon.pipeline.workspace import WORKSPACE, SpareRoots, Workspace
from daemon.record import Journal, Log, ModelInfo, PipelineInfo, RunStarted
from daemon.record.status import STOPPED
from daemon.settings import Settings

_log = structlog.get_logger("runner")


class Runner:
    def __init__(self, settings: Settings, selector: ExecutorSelector | None = None,
                 actions: ActionLauncher | None = None, boards: BoardSource | None = None) -> None:
        self.settings = settings
        self.selector = selector or ExecutorSelector(settings)
        self.actions = actions or _no_actions
        self.boards = boards
        self.cancel = threading.Event()  # set when the daemon stops: no new step starts
        self._scopes: dict[str, RunScope] = {}
        self.spares = SpareRoots(settings.state / "runs")
        self._lock = threading.Lock()

    def stop(self) -> None:
        """The daemon is stopping: no new step starts, running steps are stopped (their runs end
        `cancelled` and the service queues them again)."""
        self.cancel.set()
        with self._lock:
            for scope in self._scopes.values():
                scope.cancel.set()
        self.selector.kill_all()

    def cancel_run(self, run_id: str, reason: str, force: bool = False) -> bool:
        """Stop one run: its steps' process groups get SIGTERM, then SIGKILL after a grace period (at once
        with force), its containers are stopped (and with force removed). False: not running here."""
        with self._lock:
            scope = self._scopes.get(run_id)
        if scope is None:
            return False
        scope.stop(reason, force)
        return True

    def cancel_reason(self, run_id: str) -> str | None:
        """Why a user cancelled this run (while it is running here), else None."""
        with self._lock:
            scope = self._scopes.get(run_id)
        return scope.reason if scope is not None else None

    def running(self) -> list[str]:
        with self._lock:
            return list(self._scopes)

    def execute(self, req: RunRequest, journal: Journal) -> str:
        """Run every job; returns the run's status (or STOPPED). Emits RunStarted … JobFinished, never
        RunFinished."""
        scope = RunScope(self, req.run_id)
        with self._lock:
            self._scopes[req.run_id] = scope
        try:
            return self._execute(req, journal, scope)
        finally:
            with self._lock:
                self._scopes.pop(req.run_id, None)

    def _execute(self, req: RunRequest, journal: Journal, scope: RunScope) -> str:
        out_dir = req.result_dir.resolve()
        run_root = (self.settings.state / "runs" / req.run_id).resolve()
        # Fresh: a re-run after a crash starts clean.
        workspace = Workspace(run_root / WORKSPACE, made=self.spares.take(run_root))
        wf = req.workflow
        log = _log.bind(run=req.run_id, model=req.model_name)
        journal.emit(RunStarted(req.run_id, ModelInfo(req.model_name, req.sha256, req.size),
                                PipelineInfo(wf.name, str(wf.file), wf.sha256), time.time()))
        log.info("run started", pipeline=wf.name)
        try:
            status = RunContext(scope, req, workspace, out_dir, journal, log).execute_jobs()
            for note in workspace.copy_artifacts(out_dir):  # links kept as links, never followed
                journal.emit(Log("warning", "runner/artifacts", note))
        except Exception as exc:  # the run must end in a result whatever broke
            log.exception("run crashed")
            journal.emit(Log("error", "runner", f"internal error: {exc}"))
            status = "error"
        finally:
            workspace.close()
            shutil.rmtree(run_root, ignore_errors=True)
            self.spares.make(self.settings.parallel_runs)  # for the next run, before this one's result
        if scope.reason is not None:
            status = "cancelled"  # whatever the stopped steps made of it
            journal.emit(Log("error", "runner", scope.reason))
        elif status == "cancelled":
            status = STOPPED
        log.info("run done", status=status)
        return status


class RunScope(RunEnv):
    """The runner as one run's jobs see it (a RunEnv): the same settings, actions and boards, but a cancel
    flag of the run's own and an executor choice whose sessions the run can stop."""

    def __init__(self, runner: Runner, run_id: str) -> None:
        self.settings, self.actions, self.boards = runner.settings, runner.actions, runner.boards
        self.run_id = run_id
        self.cancel = threading.Event()
        self.reason: str | None = None  # set when a user cancelled the run (not when the daemon stops)
        self._select = runner.selector.select
        self._sessions: set[_ScopedSession] = set()
        self._lock = threading.Lock()
        if runner.cancel.is_set():
            self.cancel.set()

    def select(self, container: str | None) -> Choice:
        choice = self._select(container)
        return dataclasses.replace(choice, executor=_ScopedExecutor(choice.executor, self))

    def stop(self, reason: str, force: bool = False) -> None:
        if self.reason is not None and not force:
            return  # already being cancelled (asked twice: a signal and the request it recorded)
        self.reason = self.reason or reason
        self.halt(force)

    def halt(self, force: bool = False) -> None:
        """Stop the run's running steps; no new step starts."""
        self.cancel.set()
        with self._lock:
            sessions = list(self._sessions)
        # Each session's process group gets its grace period at the same time, not one after another.
        threads = [threading.Thread(target=s.cancel, args=(force,), name="benchd-cancel", daemon=True)
                   for s in sessions]
        for t in threads:
            t.start()

    def opened(self, session: _ScopedSession) -> None:
        with self._lock:
            self._sessions.add(session)
        if self.reason is not None:  # cancelled while the job was opening
            session.cancel()

    def closed(self, session: _ScopedSession) -> None:
        with self._lock:
            self._sessions.discard(session)


class _ScopedExecutor:
    def __init__(self, inner: Executor, scope: RunScope) -> None:
        self.inner, self.scope, self.name = inner, scope, inner.name

    def open_job(self, spec: JobSpec) -> JobSession:
        session = _ScopedSession(self.inner.open_job(spec), self.scope)
        self.scope.opened(session)
        return session

    def kill_all(self) -> None:  # as the daemon stopping does, for this run only
        self.scope.halt()


class _ScopedSession:
    """A job session that the run's cancel can stop, and whose cancelled steps say why."""

    def __init__(self, inner: JobSession, scope: RunScope) -> None:
        self.inner, self.scope = inner, scope
        self.image_digest: str | None = inner.image_digest
        self.owner: tuple[int, int] | None = inner.owner

    def run_step(self, command: StepCommand) -> StepOutcome:
        outcome = self.inner.run_step(command)
        if self.scope.reason is not None and outcome.exit_code is None and not outcome.timed_out:
            outcome.error = self.scope.reason
        return outcome

    def cancel(self, force: bool = False) -> None:
        self.inner.cancel(force)

    def close(self) -> None:
        self.scope.closed(self)
        self.inner.close()


def _no_actions(name: str) -> tuple[str, ...]:
    raise KeyError(name)
