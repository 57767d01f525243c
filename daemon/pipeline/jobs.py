"""One run's jobs: conditions, matrix instances, and each step in the job's executor session.

Every change is told to the run's journal as an event; this module never writes a result itself.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from daemon.errors import BenchdError, ExecutorError, ImageError
from daemon.executors.base import JobSession, JobSpec, StepCommand
from daemon.executors.safefs import UnsafePath
from daemon.pipeline import environment, expr, planner, steps
from daemon.pipeline.failfast import MatrixGroup
from daemon.pipeline.model import Job, Step, Workflow
from daemon.pipeline.request import BoardSource, RunEnv, RunRequest
from daemon.pipeline.workspace import CONTROL, Workspace
from daemon.record import (
    ImageRef,
    JobFinished,
    JobRecord,
    JobStarted,
    Journal,
    Log,
    MetricsRecorded,
    StepFinished,
    StepRecord,
    StepStarted,
    layout,
)
from daemon.record.status import worst

JOB_TIMEOUT_MINUTES = 120.0


class RunContext:
    """The state of one run while its jobs execute: job results and outputs, for expressions."""

    def __init__(self, env: RunEnv, req: RunRequest, workspace: Workspace, out_dir: Path, journal: Journal,
                 log: Any) -> None:
        self.env = env
        self.req = req
        self.ws = workspace  # every host-side read and write in it goes through this (links refused)
        self.workspace = workspace.path
        self.out_dir = out_dir
        self.journal = journal
        self.log = log
        self.job_results: dict[str, str] = {}
        # job -> (the job where the skip began, why): handed on to the jobs that need it
        self.skip_origins: dict[str, tuple[str, str]] = {}
        self.job_outputs: dict[str, dict[str, str]] = {}
        self.base_values: dict[str, Any] = {
            "model": {"path": str(req.model_path), "name": req.model_name, "stem": Path(req.model_name).stem,
                      "sha256": req.sha256, "size": req.size},
            "run": {"id": req.run_id},
            "env": {},
            "boards": {},
        }
        self.base_values["env"] = steps.render_env(req.workflow.env, self.context())
        if env.boards is not None and _uses_boards(req.workflow):
            self.base_values["boards"] = self._find_boards(env.boards)

    def _find_boards(self, source: BoardSource) -> dict[str, list[str]]:
        """boards.<kind> for expressions; the list for board steps; quarantined boards noted as skipped."""
        boards = list(source())
        self.ws.write_control("boards.json", environment.boards_document(self.env.settings.boards, boards))
        kinds: dict[str, list[str]] = {}
        for board in boards:
            if board.quarantined:
                keep = {k: v for k, v in board.to_dict().items() if k in ("id", "port", "chip", "mac")}
                self.journal.emit(MetricsRecorded(({"boards": [{**keep, "status": "quarantined"}]},)))
            else:
                kind = board.chip.lower().replace("-", "")
                kinds.setdefault(kind, []).append(board.id)
                if board.simulated:  # boards.esp32c3_sim: where a `virt` image may go
                    kinds.setdefault(f"{kind}_sim", []).append(board.id)
        return kinds

    def context(self, extra: dict[str, Any] | None = None, status: Callable[[str], bool] | None = None) -> expr.Context:
        values = dict(self.base_values)
        values["needs"] = {j: {"result": self.job_results.get(j), "outputs": o} for j, o in self.job_outputs.items()}
        values.update(extra or {})
        return expr.Context(values, status or (lambda name: name in ("success", "always")))

    # -- jobs -------------------------------------------------------------------------------------
    def execute_jobs(self) -> str:
        wf = self.req.workflow
        for job_id in planner.job_order(wf):
            self.job_results[job_id] = self.execute_job(wf.jobs[job_id])
            self.job_outputs.setdefault(job_id, {})
        counted = [s for j, s in self.job_results.items() if not wf.jobs[j].continue_on_error]
        status = worst(counted)
        return "success" if status in ("success", "skipped") else status

    def _ancestors(self, job: Job) -> set[str]:
        seen: set[str] = set()
        todo = list(job.needs)
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(self.req.workflow.jobs[name].needs)
        return seen

    def _skip_origin(self, unmet: list[str]) -> tuple[str, str] | None:
        """Where the skip began, when the one unmet need was skipped (not failed)."""
        if len(unmet) == 1 and self.job_results.get(unmet[0]) == "skipped":
            return self.skip_origins.get(unmet[0])
        return None

    def skip(self, job_id: str, reason: str, status: str = "skipped", executor: str | None = None) -> str:
        self.log.info("job skipped", job=job_id, reason=reason)
        self.skip_origins.setdefault(job_id, (job_id, reason))
        self.journal.emit(JobStarted(JobRecord(job_id, status, executor=executor, skip_reason=reason)))
        self.journal.emit(JobFinished(job_id, status, {}, skip_reason=reason))
        return status

    def _status_of(self, job: Job) -> Callable[[str], bool]:
        needs = [self.job_results.get(n, "skipped") for n in job.needs]
        # As in Actions, failure() looks at every ancestor: a failure two jobs up still counts.
        failed = any(self.job_results.get(n) in ("failure", "error") for n in self._ancestors(job))

        def status_of(name: str) -> bool:
            return {"success": not failed and all(s == "success" for s in needs), "failure": failed,
                    "always": True, "cancelled": self.env.cancel.is_set()}[name]

        return status_of

    def will_run(self, job: Job) -> bool:
        """Whether the job has steps to run given its needs' results so far (False: execute_job only tells
        its skip). A job whose `if:` names the matrix is weighed per instance, so it counts as running."""
        if self.env.cancel.is_set():
            return False
        if _names_matrix(job.if_):
            return True
        condition = _as_expression(job.if_ or "success()")
        return expr.truthy(expr.render(condition, self.context(status=self._status_of(job))))

    def execute_job(self, job: Job) -> str:
        needs = [self.job_results.get(n, "skipped") for n in job.needs]
        status_of = self._status_of(job)
        if self.env.cancel.is_set():
            why = self.env.reason or "cancelled: benchd is stopping"  # a user's cancel says who
            return self.skip(job.id, why, status="cancelled")
        condition = job.if_ or "success()"
        if _names_matrix(job.if_):  # weighed per matrix instance (beyond Actions, where `matrix` is not in a job's if)
            return self._execute_instances(job, condition, status_of)
        if not expr.truthy(expr.render(_as_expression(condition), self.context(status=status_of))):
            unmet = [n for n, s in zip(job.needs, needs, strict=True) if s != "success"]
            reason = f"if: {condition}"
            if unmet and not job.if_:
                origin = self._skip_origin(unmet)
                if origin is not None:
                    self.skip_origins[job.id] = origin
                    return self.skip(job.id, f"needed job {origin[0]} was skipped: {origin[1]}")
                reason = f"needed job(s) {', '.join(unmet)} did not succeed"
            return self.skip(job.id, reason)
        return self._execute_instances(job)

    def _execute_instances(self, job: Job, condition: str | None = None,
                           status_of: Callable[[str], bool] | None = None) -> str:
        """The job's matrix instances; with `condition`, each is weighed with its own `matrix` and one that
        does not hold is skipped with the needed job that stopped it (e.g. `firmware (tvm)`: compile-mlf)."""
        instances, empty = planner.expand(job, self.context())
        if empty:
            return self.skip(job.id, empty)
        statuses: list[str] = []
        if condition is not None:
            kept = []
            for inst in instances:
                if self._holds(condition, inst.matrix, status_of):
                    kept.append(inst)
                else:
                    statuses.append(self.skip(inst.key, self._why_not(job, condition, inst.matrix, status_of)))
            instances = kept
        group = MatrixGroup(job.fail_fast and not job.continue_on_error)

        def execute(inst: planner.JobInstance) -> str:
            status = self.execute_instance(inst, group)
            group.finished(inst.key, status)
            return status

        if len(instances) == 1:
            statuses.append(execute(instances[0]))
        elif instances:
            with ThreadPoolExecutor(max_workers=min(len(instances), 8)) as pool:
                statuses += list(pool.map(execute, instances))
        if not self.env.cancel.is_set():  # a run stopped whole ends cancelled whatever fail-fast did
            statuses = group.counted(statuses)
        status = worst(statuses)
        if status == "skipped" and any(s != "skipped" for s in statuses):
            status = "success"
        return status

    def _holds(self, condition: str, matrix: dict[str, Any], status_of: Callable[[str], bool] | None,
               results: dict[str, str] | None = None) -> bool:
        extra: dict[str, Any] = {"matrix": matrix}
        if results:  # what if these jobs had ended so
            extra["needs"] = {j: {**v, "result": results.get(j, v["result"])}
                              for j, v in self.context().values["needs"].items()}
        return expr.truthy(expr.render(_as_expression(condition), self.context(extra, status=status_of)))

    def _why_not(self, job: Job, condition: str, matrix: dict[str, Any],
                 status_of: Callable[[str], bool] | None) -> str:
        """The needed job whose success alone would have let this instance run, with why it did not succeed."""
        for need in job.needs:
            result = self.job_results.get(need)
            if result == "success" or not self._holds(condition, matrix, status_of, {need: "success"}):
                continue
            origin = self.skip_origins.get(need) if result == "skipped" else None
            if origin is not None:
                return f"needed job {origin[0]} was skipped: {origin[1]}"
            return f"needed job {need} did not succeed ({result})"
        return f"if: {' '.join(condition.split())}"

    def execute_instance(self, inst: planner.JobInstance, group: MatrixGroup) -> str:
        job = inst.job
        if group.reason is not None:  # still queued when another instance failed
            return self.skip(inst.key, group.reason, status="cancelled")
        choice = self.env.select(job.container)
        if choice.warning and job.continue_on_error:
            # An optional job is not worth running outside its pinned image (no engine here).
            reason = choice.warning.split(":")[0] + f": {job.container} is needed and not available here"
            return self.skip(inst.key, reason, executor=choice.name)
        timeout_s = (job.timeout_minutes or JOB_TIMEOUT_MINUTES) * 60
        spec = JobSpec(self.req.run_id, inst.key, self.workspace, self.req.model_path,
                       image=job.container if choice.name == "docker" else None,
                       network=job.network, timeout_s=timeout_s, private=(CONTROL,))
        self.journal.emit(JobStarted(JobRecord(inst.key, "running", executor=choice.name,
                                               image=ImageRef(spec.image) if spec.image else None,
                                               matrix=inst.matrix or None, warning=choice.warning or None)))
        if choice.warning:
            self.journal.emit(Log("warning", inst.key, choice.warning))
            self.log.warning("executor fallback", job=inst.key, message=choice.warning)
        try:
            session = choice.executor.open_job(spec)
        except (ImageError, ExecutorError, BenchdError) as exc:
            return self._job_unavailable(inst, exc)
        image = ImageRef(spec.image, session.image_digest) if spec.image else None
        sequence = StepSequence(self, inst, session, group)
        group.opened(session)
        try:
            status, outputs = sequence.execute()
        finally:
            group.closed(session)
            session.close()
        if sequence.skip_reason is not None:
            self.skip_origins[job.id] = (job.id, sequence.skip_reason)
            self.log.info("job skipped", job=inst.key, reason=sequence.skip_reason)
        why = sequence.skip_reason or (group.reason if status == "cancelled" else None)
        self.journal.emit(JobFinished(inst.key, status, outputs, image=image, skip_reason=why))
        return status

    def _job_unavailable(self, inst: planner.JobInstance, exc: Exception) -> str:
        # An image that cannot be had is a skip for an optional (continue-on-error) job, an error otherwise.
        status = "skipped" if isinstance(exc, ImageError) and inst.job.continue_on_error else "error"
        if status == "error":
            self.journal.emit(Log("error", inst.key, str(exc), kind="infra"))  # no engine, image or session here
        self.journal.emit(JobFinished(inst.key, status, {}, skip_reason=str(exc) if status == "skipped" else None))
        self.log.warning("job could not start", job=inst.key, status=status, error=str(exc))
        return status


class StepSequence:
    """The steps of one job instance, in order, in one executor session."""

    def __init__(self, run: RunContext, inst: planner.JobInstance, session: JobSession, group: MatrixGroup) -> None:
        self.run = run
        self.inst = inst
        self.session = session
        self.group = group  # the job's other instances: a failure among them may stop this one (fail-fast)
        self.log = run.log.bind(job=inst.key)
        self.outputs: dict[str, dict[str, str]] = {}
        self.skip_reason: str | None = None  # set when a step ends the job as not applying (SKIP_EXIT)

    def stopped(self) -> bool:
        """No new step starts: the run is cancelled, the daemon stops, or another instance failed (fail-fast)."""
        return self.run.env.cancel.is_set() or self.group.reason is not None

    def context(self, failed: bool = False) -> expr.Context:
        cancelled = self.stopped()
        values = {"steps": {k: {"outputs": v} for k, v in self.outputs.items()}, "matrix": self.inst.matrix}
        return self.run.context(values, status=lambda name: {"success": not failed, "failure": failed,
                                                             "always": True, "cancelled": cancelled}[name])

    def execute(self) -> tuple[str, dict[str, str]]:
        job, key = self.inst.job, self.inst.key
        failed = False
        job_status = "success"
        for step in job.steps:
            ctx = self.context(failed)
            skipped = StepRecord(step.id, step.name, "skipped")
            if self.stopped():
                job_status = "cancelled"
                self.run.journal.emit(StepFinished(key, step.index, StepRecord(step.id, step.name, "cancelled")))
                continue
            if self.skip_reason is not None:
                self.run.journal.emit(StepFinished(key, step.index, skipped))
                continue
            if not expr.truthy(expr.render(_as_expression(step.if_ or "success()"), ctx)):
                self.run.journal.emit(StepFinished(key, step.index, skipped))
                continue
            status = self.execute_step(step, ctx)
            if status == "skipped":  # the step said the job does not apply: the rest is skipped, not failed
                job_status = worst([job_status, status])
                continue
            if status != "success" and not step.continue_on_error:
                failed = True
                job_status = worst([job_status, status])
        outputs = steps.render_env(job.outputs, self.context())
        shared = self.run.job_outputs.setdefault(job.id, {})
        for key, value in outputs.items():  # matrix instances share the job's outputs: an empty one blanks no other's
            if value != "" or key not in shared:
                shared[key] = value
        return job_status, outputs

    def execute_step(self, step: Step, ctx: expr.Context) -> str:
        run, key, job = self.run, self.inst.key, self.inst.job
        slug = f"{layout.slug(key)}-{step.index + 1}-{layout.slug(step.id)}"
        log_path = layout.step_log(run.out_dir, key, step.index + 1, step.id)
        log_rel = str(log_path.relative_to(run.out_dir))
        script: str | None = None
        if step.uses:
            try:
                argv = run.env.actions(step.action or "")
            except KeyError:
                return self._finish(step, StepRecord(step.id, step.name, "error", error=f"unknown action {step.uses}"))
            extra = steps.action_inputs(step, ctx)
        else:
            script, extra = steps.script_for(step, ctx)
        owner = self.session.owner  # a container's step user, when it is not the daemon's
        try:
            # New files under new names: nothing an earlier step planted can stand in for them.
            files = run.ws.new_step_files(slug, owner)
            if script is not None:
                argv = ("bash", "-e", str(run.ws.new_script(slug, script)))
            cwd = run.ws.make_dir(step.working_directory or "", owner)
        except (UnsafePath, OSError) as exc:
            where = "working-directory " if step.working_directory else ""
            return self._finish(step, StepRecord(step.id, step.name, "error", error=f"{where}{exc}"))
        env = environment.step_environment(run.env.settings, run.req.run_id, run.req.model_path, run.workspace,
                                           key, step.id, files)
        env.update({**run.base_values["env"], **steps.render_env(job.env, ctx), **steps.render_env(step.env, ctx)})
        env.update(extra)
        timeout_s = (step.timeout_minutes or run.env.settings.step_timeout_minutes) * 60
        run.journal.emit(StepStarted(key, step.index, StepRecord(step.id, step.name, "running", log=log_rel)))
        self.log.info("step started", step=step.id)
        outcome = self.session.run_step(StepCommand(argv, env, cwd, log_path, timeout_s))
        status = steps.status_of(outcome, self.stopped())
        if status == "cancelled" and not run.env.cancel.is_set():
            outcome.error = self.group.reason  # the local session says "benchd is stopping": it was fail-fast
        error = outcome.error or ("; ".join(outcome.errors) if outcome.errors else None)
        if status == "skipped":
            self.skip_reason = outcome.last_line or f"{step.id} found nothing to do for this input"
            error = None
        elif status != "success" and error is None:
            said = f": {outcome.last_line}" if outcome.last_line else ""
            error = f"exited with code {outcome.exit_code}{said} (log: {log_rel})"
        record = StepRecord(step.id, step.name, status, round(outcome.duration_s, 3), outcome.exit_code, error,
                            log=log_rel, log_truncated=True if outcome.log_truncated else None)
        # Read back through the daemon's own descriptors: a link a step put there is refused, never followed.
        texts, notes = {}, list(outcome.warnings)
        for kind, variable in (("summary", "BENCHD_SUMMARY"), ("output", "BENCHD_OUTPUT"),
                               ("metrics", "BENCHD_METRICS")):
            texts[kind], note = run.ws.read_step_file(files[kind], variable)
            if note:
                notes.append(note)
                self.log.warning("step file refused", step=step.id, message=note)
        self.outputs[step.id] = steps.parse_outputs(texts["output"])
        return self._finish(step, record, tuple(steps.parse_metrics(texts["metrics"])), texts["summary"],
                            tuple(notes))

    def _finish(self, step: Step, record: StepRecord, metrics: tuple[dict[str, Any], ...] = (), summary: str = "",
                warnings: tuple[str, ...] = ()) -> str:
        key = self.inst.key
        self.log.info("step finished", step=step.id, status=record.status, duration_s=record.duration_s,
                      error=record.error)
        self.run.journal.emit(StepFinished(key, step.index, record, metrics, summary, warnings))
        if record.error is not None and record.status != "success":
            self.run.journal.emit(Log("error", f"{key}/{step.id}", record.error))
        return record.status


def _as_expression(condition: str) -> str:
    return condition if "${{" in condition else "${{ " + condition + " }}"


def _names_matrix(condition: str | None) -> bool:
    if not condition:
        return False
    bodies = expr.embedded(condition) or [condition]
    return any(ref[0] == "matrix" for body in bodies for ref in expr.references(expr.parse(body)))


def _uses_boards(workflow: Workflow) -> bool:
    return any(j.runs_on.startswith("board:") or "boards." in str(j.matrix) for j in workflow.jobs.values())
