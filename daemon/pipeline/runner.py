"""Run one workflow for one model: jobs in order, steps in their executor, a result at the end.

Everything the run creates lives in state/runs/<run-id>/ and is removed in `finally`; what is kept
(logs, artifacts, result.json) is in results/<stem>/<run-id>/.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from daemon.errors import BenchdError, ExecutorError, ImageError
from daemon.executors import ExecutorSelector
from daemon.executors.base import JobSpec, StepCommand
from daemon.pipeline import expr, planner, steps
from daemon.pipeline.model import Job, Step, Workflow
from daemon.reporters.result import iso, new_result, result_dir, write_json, write_result
from daemon.settings import Settings
from daemon.store import Store

JOB_TIMEOUT_MINUTES = 120.0
BAD_INPUT_EXIT = 2  # benchd, tvmc and actions exit 2 for input they cannot work with
_log = structlog.get_logger("runner")


@dataclass(frozen=True)
class RunRequest:
    run_id: str
    model_path: Path  # the snapshot this run works on
    model_name: str
    sha256: str
    size: int
    workflow: Workflow


def _rank(status: str) -> int:
    return ["success", "skipped", "failure", "error", "cancelled"].index(status)


class Runner:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        selector: ExecutorSelector | None = None,
        boards: Callable[[Path], dict[str, list[str]]] | None = None,
        on_start: Callable[[RunRequest, Path], None] | None = None,
        progress: Callable[..., None] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.selector = selector or ExecutorSelector(settings)
        self.boards = boards  # writes boards.json into the workspace, returns kind -> ids
        self.on_start = on_start
        self.progress = progress or (lambda *args, **kw: None)  # `benchd run` draws its live display
        self.cancel = threading.Event()  # set when the daemon stops: no new step starts

    def execute(self, req: RunRequest) -> dict[str, Any]:
        out_dir = result_dir(self.settings.results, req.model_name, req.run_id).resolve()
        run_root = (self.settings.state / "runs" / req.run_id).resolve()
        workspace = run_root / "workspace"
        shutil.rmtree(workspace, ignore_errors=True)  # a re-run after a crash starts clean
        (workspace / ".benchd").mkdir(parents=True)
        wf = req.workflow
        result = new_result(
            req.run_id,
            {"name": req.model_name, "sha256": req.sha256, "size": req.size},
            {"name": wf.name, "file": str(wf.file), "sha256": wf.sha256},
        )
        started = time.time()
        result["started_at"] = iso(started)
        log = _log.bind(run=req.run_id, model=req.model_name)
        log.info("run started", pipeline=wf.name)
        if self.on_start is not None:
            self.on_start(req, out_dir)
        summaries: list[str] = []
        try:
            run = _RunState(self, req, workspace, out_dir, result, summaries, log)
            run.execute_jobs()
            self._copy_artifacts(workspace, out_dir)
        except Exception as exc:  # the run must end in a result whatever broke
            log.exception("run crashed")
            result["errors"].append({"where": "runner", "message": f"internal error: {exc}"})
            result["status"] = "error"
        finally:
            shutil.rmtree(run_root, ignore_errors=True)
        finished = time.time()
        result["finished_at"] = iso(finished)
        result["duration_s"] = round(finished - started, 3)
        write_result(out_dir, result, "\n".join(summaries))
        log.info("run finished", status=result["status"], duration_s=result["duration_s"])
        return result

    @staticmethod
    def _copy_artifacts(workspace: Path, out_dir: Path) -> None:
        src = workspace / "artifacts"
        if src.is_dir():
            shutil.copytree(src, out_dir / "artifacts", dirs_exist_ok=True, symlinks=True)


class _RunState:
    """The mutable state of one run while its jobs execute."""

    def __init__(self, runner: Runner, req: RunRequest, workspace: Path, out_dir: Path,
                 result: dict[str, Any], summaries: list[str], log: Any) -> None:
        self.r = runner
        self.req = req
        self.workspace = workspace
        self.out_dir = out_dir
        self.result = result
        self.summaries = summaries
        self.log = log
        self.lock = threading.Lock()  # matrix instances run in threads and share the result
        self.job_results: dict[str, str] = {}
        self.job_outputs: dict[str, dict[str, str]] = {}
        model = req.model_path
        self.base_values: dict[str, Any] = {
            "model": {"path": str(model), "name": req.model_name, "stem": Path(req.model_name).stem,
                      "sha256": req.sha256, "size": req.size},
            "run": {"id": req.run_id},
            "env": {},
            "boards": {},
        }
        self.base_values["env"] = steps.render_env(req.workflow.env, self.context())
        if runner.boards is not None and _uses_boards(req.workflow):
            self.base_values["boards"] = runner.boards(workspace)
            self._note_quarantined(workspace / ".benchd" / "boards.json")

    def _note_quarantined(self, listing: Path) -> None:
        """Quarantined boards never reach a matrix; the result still says they were skipped."""
        if not listing.is_file():
            return
        for board in json.loads(listing.read_text(encoding="utf-8")):
            if board.get("quarantined"):
                keep = {k: board.get(k) for k in ("id", "port", "chip", "mac")}
                self.result["metrics"]["boards"].append({**keep, "status": "quarantined"})

    def board_env(self) -> dict[str, str]:
        """The [boards] settings, for board actions, which rebuild them with load_settings(env=...)."""
        b = self.r.settings.boards
        return {"BENCHD_BOARDS_ALLOW": ",".join(b.allow), "BENCHD_BOARDS_DENY": ",".join(b.deny),
                "BENCHD_BOARDS_PORTS": ",".join(b.ports), "BENCHD_BOARDS_QUARANTINE_AFTER": str(b.quarantine_after),
                "BENCHD_BOARDS_LEASE_S": str(b.lease_s)}

    def context(self, extra: dict[str, Any] | None = None, status: Callable[[str], bool] | None = None) -> expr.Context:
        values = dict(self.base_values)
        values["needs"] = {j: {"result": self.job_results.get(j), "outputs": o} for j, o in self.job_outputs.items()}
        values.update(extra or {})
        return expr.Context(values, status or (lambda name: name in ("success", "always")))

    # -- jobs -------------------------------------------------------------------------------------
    def execute_jobs(self) -> None:
        wf = self.req.workflow
        for job_id in planner.job_order(wf):
            job = wf.jobs[job_id]
            status = self.execute_job(job)
            self.job_results[job_id] = status
            self.job_outputs.setdefault(job_id, {})
        counted = [s for j, s in self.job_results.items() if not wf.jobs[j].continue_on_error]
        worst = max(counted, key=_rank, default="success")
        self.result["status"] = "success" if worst in ("success", "skipped") else worst

    def _ancestors(self, job: Job) -> set[str]:
        seen: set[str] = set()
        todo = list(job.needs)
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(self.req.workflow.jobs[name].needs)
        return seen

    def skip(self, job: Job, reason: str, status: str = "skipped") -> str:
        self.log.info("job skipped", job=job.id, reason=reason)
        self.result["jobs"].append({"id": job.id, "status": status, "skip_reason": reason, "executor": None,
                                    "image": None, "steps": [], "outputs": {}})
        self.r.store.set_job(self.req.run_id, job.id, status=status)
        self.r.progress("job_skipped", job=job.id, reason=reason)
        return status

    def execute_job(self, job: Job) -> str:
        needs = [self.job_results.get(n, "skipped") for n in job.needs]
        # As in Actions, failure() looks at every ancestor: a failure two jobs up still counts.
        failed = any(self.job_results.get(n) in ("failure", "error") for n in self._ancestors(job))

        def status_of(name: str) -> bool:
            return {"success": not failed and all(s == "success" for s in needs), "failure": failed,
                    "always": True, "cancelled": self.r.cancel.is_set()}[name]

        if self.r.cancel.is_set():
            return self.skip(job, "cancelled: benchd is stopping", status="cancelled")

        condition = job.if_ or "success()"
        if not expr.truthy(expr.render(_as_expression(condition), self.context(status=status_of))):
            unmet = [n for n, s in zip(job.needs, needs, strict=True) if s != "success"]
            reason = f"if: {condition}"
            if unmet and not job.if_:
                reason = f"needed job(s) {', '.join(unmet)} did not succeed"
            return self.skip(job, reason)
        instances, empty = planner.expand(job, self.context())
        if empty:
            return self.skip(job, empty)
        if len(instances) == 1:
            statuses = [self.execute_instance(instances[0])]
        else:
            with ThreadPoolExecutor(max_workers=min(len(instances), 8)) as pool:
                statuses = list(pool.map(self.execute_instance, instances))
        status = max(statuses, key=_rank)
        if status == "skipped" and any(s != "skipped" for s in statuses):
            status = "success"
        self.r.store.set_job(self.req.run_id, job.id, status=status)
        return status

    def execute_instance(self, inst: planner.JobInstance) -> str:
        job, run_id = inst.job, self.req.run_id
        log = self.log.bind(job=inst.key)
        entry: dict[str, Any] = {"id": inst.key, "status": "running", "executor": None, "image": None,
                                 "steps": [], "outputs": {}}
        if inst.matrix:
            entry["matrix"] = inst.matrix
        with self.lock:
            self.result["jobs"].append(entry)
        choice = self.r.selector.select(job.container)
        entry["executor"] = choice.name
        if choice.warning and job.continue_on_error:
            # An optional job is not worth running outside its pinned image (no engine here).
            entry.update(status="skipped", skip_reason=choice.warning.split(":")[0] + f": {job.container} "
                         "is needed and not available here")
            self.r.store.set_job(run_id, inst.key, status="skipped")
            self.r.progress("job_skipped", job=inst.key, reason=entry["skip_reason"])
            return "skipped"
        if choice.warning:
            entry["warning"] = choice.warning
            self.result["warnings"].append({"where": inst.key, "message": choice.warning})
            log.warning("executor fallback", message=choice.warning)
        timeout_s = (job.timeout_minutes or JOB_TIMEOUT_MINUTES) * 60
        spec = JobSpec(run_id, inst.key, self.workspace, self.req.model_path,
                       image=job.container if choice.name == "docker" else None,
                       network=job.network, timeout_s=timeout_s)
        self.r.store.set_job(run_id, inst.key, status="running", executor=choice.name,
                             image_ref=spec.image, started_at=time.time())
        try:
            session = choice.executor.open_job(spec)
        except (ImageError, ExecutorError, BenchdError) as exc:
            return self._job_unavailable(entry, inst, exc)
        try:
            if spec.image:
                entry["image"] = {"ref": spec.image, "digest": session.image_digest}
                self.r.store.set_job(run_id, inst.key, image_digest=session.image_digest)
            status = self.execute_steps(inst, session, entry, log)
        finally:
            session.close()
        entry["status"] = status
        self.r.store.set_job(run_id, inst.key, status=status, finished_at=time.time())
        return status

    def _job_unavailable(self, entry: dict[str, Any], inst: planner.JobInstance, exc: Exception) -> str:
        # An image that cannot be had is a skip for an optional (continue-on-error) job, an error otherwise.
        status = "skipped" if isinstance(exc, ImageError) and inst.job.continue_on_error else "error"
        entry["status"] = status
        if status == "skipped":
            entry["skip_reason"] = str(exc)
        else:
            self.result["errors"].append({"where": inst.key, "message": str(exc)})
        self.r.store.set_job(self.req.run_id, inst.key, status=status, finished_at=time.time())
        self.log.warning("job could not start", job=inst.key, status=status, error=str(exc))
        return status

    # -- steps ------------------------------------------------------------------------------------
    def execute_steps(self, inst: planner.JobInstance, session: Any, entry: dict[str, Any], log: Any) -> str:
        job = inst.job
        outputs: dict[str, dict[str, str]] = {}
        failed = False
        job_status = "success"
        for step in job.steps:
            values = {"steps": {k: {"outputs": v} for k, v in outputs.items()}, "matrix": inst.matrix}
            ctx = self.context(values, status=self._step_status(failed))
            record: dict[str, Any] = {"id": step.id, "name": step.name, "status": "skipped", "duration_s": 0.0,
                                      "exit_code": None, "error": None}
            entry["steps"].append(record)
            if self.r.cancel.is_set():
                record["status"] = job_status = "cancelled"
                continue
            if not expr.truthy(expr.render(_as_expression(step.if_ or "success()"), ctx)):
                self.r.store.set_step(self.req.run_id, inst.key, step.index, step_id=step.id, status="skipped")
                continue
            status, step_outputs = self.execute_step(inst, step, session, ctx, record, log)
            outputs[step.id] = step_outputs
            if status != "success" and not step.continue_on_error:
                failed = True
                job_status = max(job_status, status, key=_rank)
            if record["error"] is not None and status != "success":
                self.result["errors"].append({"where": f"{inst.key}/{step.id}", "message": record["error"]})
        ctx = self.context({"steps": {k: {"outputs": v} for k, v in outputs.items()}, "matrix": inst.matrix})
        entry["outputs"] = steps.render_env(job.outputs, ctx)
        self.job_outputs.setdefault(job.id, {}).update(entry["outputs"])
        return job_status

    def _step_status(self, failed: bool) -> Callable[[str], bool]:
        cancelled = self.r.cancel.is_set()
        return lambda name: {"success": not failed, "failure": failed, "always": True, "cancelled": cancelled}[name]

    def execute_step(self, inst: planner.JobInstance, step: Step, session: Any, ctx: expr.Context,
                     record: dict[str, Any], log: Any) -> tuple[str, dict[str, str]]:
        run_id, job = self.req.run_id, inst.job
        slug = f"{_slug(inst.key)}-{step.index + 1}-{_slug(step.id)}"
        io_dir = self.workspace / ".benchd"
        files = {k: io_dir / f"{slug}.{k}" for k in ("output", "metrics", "summary")}
        env = {
            "BENCHD_RUN_ID": run_id, "BENCHD_MODEL": str(self.req.model_path),
            "BENCHD_WORKSPACE": str(self.workspace), "BENCHD_STATE": str(self.r.settings.state.resolve()),
            "BENCHD_JOB": inst.key, "BENCHD_STEP": step.id, "BENCHD_OUTPUT": str(files["output"]),
            "BENCHD_METRICS": str(files["metrics"]), "BENCHD_SUMMARY": str(files["summary"]),
            **(self.board_env() if job.runs_on.startswith("board:") else {}),
            **self.base_values["env"], **steps.render_env(job.env, ctx), **steps.render_env(step.env, ctx),
        }
        if step.uses:
            argv: tuple[str, ...] = ("python", "-m", "daemon.actions", step.action or "")
            env.update(steps.action_inputs(step, ctx))
        else:
            script, expr_env = steps.script_for(step, ctx)
            script_file = io_dir / f"{slug}.sh"
            script_file.write_text(script, encoding="utf-8")
            argv = ("bash", "-e", str(script_file))
            env.update(expr_env)
        cwd = self.workspace / (step.working_directory or "")
        cwd.mkdir(parents=True, exist_ok=True)
        log_path = self.out_dir / "logs" / _slug(inst.key) / f"{step.index + 1}-{_slug(step.id)}.log"
        timeout_s = (step.timeout_minutes or self.r.settings.step_timeout_minutes) * 60
        self.r.store.set_step(run_id, inst.key, step.index, step_id=step.id, status="running",
                              log_path=str(log_path), started_at=time.time())
        log.info("step started", step=step.id)
        self.r.progress("step_started", job=inst.key, step=step.id, name=step.name)
        outcome = session.run_step(StepCommand(argv, env, cwd, log_path, timeout_s))
        if outcome.exit_code is None and not outcome.timed_out and self.r.cancel.is_set():
            status = "cancelled"
        elif outcome.timed_out or outcome.exit_code is None:
            status = "error"
        elif outcome.exit_code == 0:
            status = "success"
        else:
            status = "error" if outcome.exit_code == BAD_INPUT_EXIT else "failure"
        error = outcome.error or ("; ".join(outcome.errors) if outcome.errors else None)
        if status != "success" and error is None:
            said = f": {outcome.last_line}" if outcome.last_line else ""
            error = f"exited with code {outcome.exit_code}{said} (log: {log_path.relative_to(self.out_dir)})"
        with self.lock:
            record.update(status=status, duration_s=round(outcome.duration_s, 3), exit_code=outcome.exit_code,
                          error=error, log=str(log_path.relative_to(self.out_dir)))
            if outcome.log_truncated:
                record["log_truncated"] = True
            self.result["warnings"] += [{"where": f"{inst.key}/{step.id}", "message": w} for w in outcome.warnings]
        self.r.store.set_step(run_id, inst.key, step.index, status=status, exit_code=outcome.exit_code,
                              error=error, finished_at=time.time())
        log.info("step finished", step=step.id, status=status, duration_s=record["duration_s"], error=error)
        self.r.progress("step_finished", job=inst.key, step=step.id, status=status,
                        duration_s=record["duration_s"], error=error)
        with self.lock:
            steps.merge_metrics(self.result, steps.read_metrics(files["metrics"]))
            if files["summary"].is_file():
                self.summaries.append(files["summary"].read_text(encoding="utf-8", errors="replace"))
            try:  # what the dashboard shows mid-run; best effort while other instances run
                write_json(self.out_dir / "progress.json", self.result)
            except RuntimeError:
                pass
        return status, steps.read_outputs(files["output"])


def _as_expression(condition: str) -> str:
    return condition if "${{" in condition else "${{ " + condition + " }}"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:80]


def _uses_boards(workflow: Workflow) -> bool:
    return any(j.runs_on.startswith("board:") or "boards." in str(j.matrix) for j in workflow.jobs.values())
