"""The runner with the local executor: real processes, real files, real timeouts."""

import json
import time
from pathlib import Path

from daemon.errors import ImageError
from daemon.executors import Choice, ExecutorSelector
from daemon.executors.base import JobSession, JobSpec, StepCommand
from daemon.executors.local import LocalExecutor
from daemon.pipeline.loader import load_workflow
from daemon.pipeline.request import RunRequest
from daemon.pipeline.runner import Runner
from daemon.record import Journal, RunFinished
from daemon.reporters.files import FilesReporter
from daemon.settings import Settings


def run_workflow(tmp_path: Path, text: str, model_name: str = "kws.tflite",
                 selector: ExecutorSelector | None = None) -> dict:
    wf_file = tmp_path / "wf.yml"
    wf_file.write_text(text)
    settings = Settings(state=tmp_path / "state", results=tmp_path / "results")
    model = tmp_path / "models" / model_name
    model.parent.mkdir(exist_ok=True)
    model.write_bytes(b"model bytes")
    out = tmp_path / "results" / "run-1"
    req = RunRequest("run-1", model, model_name, "ab" * 32, 11, load_workflow(wf_file), out)
    journal = Journal([FilesReporter(out)])
    status = Runner(settings, selector).execute(req, journal)
    journal.emit(RunFinished(status, time.time(), 0.0))
    return json.loads((out / "result.json").read_text())  # what the one writer wrote


def job(result: dict, job_id: str) -> dict:
    return next(j for j in result["jobs"] if j["id"] == job_id)


def test_outputs_flow_between_steps_and_jobs(tmp_path):
    result = run_workflow(tmp_path, """
jobs:
  a:
    steps:
      - id: s
        run: |
          echo "answer=42" >> "$BENCHD_OUTPUT"
          printf 'multi<<EOF\\nline 1\\nline 2\\nEOF\\n' >> "$BENCHD_OUTPUT"
    outputs: { answer: "${{ steps.s.outputs.answer }}", multi: "${{ steps.s.outputs.multi }}" }
  b:
    needs: a
    steps:
      - run: test "${{ needs.a.outputs.answer }}" = 42 && test "${{ needs.a.result }}" = success
""")
    assert result["status"] == "success", result["errors"]
    assert job(result, "a")["outputs"] == {"answer": "42", "multi": "line 1\nline 2"}
    assert job(result, "b")["status"] == "success"


def test_file_names_are_never_shell_text(tmp_path):
    name = "a b 'q' \"dq\" $(touch pwned) `touch pwned2` ${IFS}\nnewline é.tflite"
    result = run_workflow(tmp_path, """
jobs:
  a:
    steps:
      - run: |
          echo "${{ model.name }}"
          echo ${{ model.name }}
          cat "$BENCHD_MODEL" > /dev/null
          test -f "$BENCHD_MODEL"
""", model_name=name)
    assert result["status"] == "success", result["errors"]
    assert not list(tmp_path.rglob("pwned*"))
    log = (tmp_path / "results").rglob("1-step-1.log").__next__().read_text()
    assert "$(touch" in log and "newline é.tflite" in log


def test_exit_code_two_is_an_error_and_error_lines_are_recorded(tmp_path):
    result = run_workflow(tmp_path, """
jobs:
  a:
    steps:
      - run: |
          echo "::error::the model uses SPLIT_V, which TVM cannot import"
          exit 2
""")
    assert result["status"] == "error"
    assert result["errors"] == [
        {"where": "a/step-1", "message": "the model uses SPLIT_V, which TVM cannot import", "kind": "test"}
    ]  # a step that failed, even on bad input, is a test failure: only intake and the pipeline say `model`


class EngineGone(ExecutorSelector):
    """Container jobs go to an engine that cannot get their image."""

    name = "docker"

    def select(self, container: str | None) -> Choice:
        return Choice(self, "docker") if container else super().select(container)

    def open_job(self, spec: JobSpec) -> JobSession:
        raise ImageError(f"{spec.image}: not here, the pull failed (registry unreachable)")


def test_a_job_the_executor_cannot_open_is_an_infra_error(tmp_path):
    result = run_workflow(tmp_path, """
jobs:
  a:
    container: benchd/tvm
    steps:
      - run: echo never
""", selector=EngineGone(Settings(state=tmp_path / "state")))
    assert result["status"] == "error"
    assert [(e["where"], e["kind"]) for e in result["errors"]] == [("a", "infra")]  # the bench, not the model


def test_failure_if_and_continue_on_error(tmp_path):
    result = run_workflow(tmp_path, """
jobs:
  a:
    steps:
      - id: flaky
        continue-on-error: true
        run: exit 1
      - id: next
        run: echo still running
      - id: broken
        run: exit 3
      - id: cleanup
        if: always()
        run: echo cleanup
      - id: not-after-failure
        run: echo never
  report:
    needs: a
    if: failure()
    steps:
      - run: echo reporting
  optional:
    continue-on-error: true
    steps:
      - run: exit 1
""")
    steps = {s["id"]: s["status"] for s in job(result, "a")["steps"]}
    assert steps == {"flaky": "failure", "next": "success", "broken": "failure", "cleanup": "success",
                     "not-after-failure": "skipped"}
    assert job(result, "report")["status"] == "success"
    assert job(result, "optional")["status"] == "failure"
    assert result["status"] == "failure"


def test_matrix_instances_run_in_parallel(tmp_path):
    spans = tmp_path / "spans"
    spans.mkdir()
    result = run_workflow(tmp_path, f"""
jobs:
  m:
    strategy: {{ matrix: {{ n: [1, 2, 3] }}, fail-fast: false }}
    steps:
      - run: |
          date +%s.%N > {spans}/${{{{ matrix.n }}}}.start
          sleep 2
          date +%s.%N > {spans}/${{{{ matrix.n }}}}.end
""")
    assert result["status"] == "success"
    assert sorted(j["id"] for j in result["jobs"]) == ["m (1)", "m (2)", "m (3)"]
    starts = [float((spans / f"{n}.start").read_text()) for n in (1, 2, 3)]
    ends = [float((spans / f"{n}.end").read_text()) for n in (1, 2, 3)]
    assert max(starts) < min(ends)  # every instance started before any finished: they overlapped


def test_hanging_step_is_killed_with_its_children_at_the_timeout(tmp_path):
    pidfile = tmp_path / "child.pid"
    result = run_workflow(tmp_path, f"""
jobs:
  a:
    steps:
      - timeout-minutes: 0.03
        run: |
          bash -c 'trap "" TERM; echo $$ > {pidfile}; sleep 600' &
          sleep 600
""")
    assert result["status"] == "error"
    step = job(result, "a")["steps"][0]
    assert step["status"] == "error" and "timeout" in step["error"]
    assert step["duration_s"] < 10
    child = int(pidfile.read_text())
    assert not _alive(child)  # the grandchild that ignored SIGTERM is gone too


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting for init to reap it."""
    for _ in range(50):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        if state == "Z":
            return False
        time.sleep(0.1)
    return True


def test_step_log_is_bounded(tmp_path):
    spec = JobSpec("r", "j", tmp_path, tmp_path / "m")
    session = LocalExecutor().open_job(spec)
    log = tmp_path / "big.log"
    from daemon.executors import logsink

    limit = logsink.DEFAULT_LIMIT
    outcome = session.run_step(StepCommand(
        ("python", "-c", f"import sys; sys.stdout.write('x' * {limit + 5_000_000}); print(); print('::error::late')"),
        {}, tmp_path, log, 60))
    assert outcome.exit_code == 0 and outcome.log_truncated
    assert log.stat().st_size < limit + 200
    assert log.read_text().endswith("the step kept running]\n")
    assert outcome.errors == ["late"]  # error lines are still seen after the cut


def test_a_program_that_is_not_there_is_an_error_not_an_exit_code(tmp_path):
    """The step is spawned through setpriv, which would exit 127 for a missing program: the executor says so
    itself, as a spawn that failed."""
    session = LocalExecutor().open_job(JobSpec("r", "j", tmp_path, tmp_path / "m"))
    for program in ("benchd-no-such-program", "./no-such-script.sh"):
        outcome = session.run_step(StepCommand((program,), {}, tmp_path, tmp_path / "log", 60))
        assert outcome.exit_code is None
        assert outcome.error is not None and outcome.error.startswith(f"cannot start {program}")
    (tmp_path / "here.sh").write_text("#!/bin/sh\necho from here\n")
    (tmp_path / "here.sh").chmod(0o755)
    outcome = session.run_step(StepCommand(("./here.sh",), {}, tmp_path, tmp_path / "log", 60))
    assert outcome.exit_code == 0 and (tmp_path / "log").read_text() == "from here\n"


def test_a_run_starts_in_a_spare_run_folder_made_after_the_last_one_and_fresh(tmp_path):
    """Run folders are made ahead (a rename at the start instead of three mkdirs); what a run left never
    reaches the next one, and a stopping process leaves no spare behind."""
    wf_file = tmp_path / "wf.yml"
    wf_file.write_text("jobs:\n  a:\n    steps:\n      - run: test -z \"$(ls -A | grep -v '^.benchd$')\"; "
                       "ln -s / planted; mkdir -p left/over; pwd > \"$BENCHD_OUTPUT\"\n")
    settings = Settings(state=tmp_path / "state", results=tmp_path / "results")
    model = tmp_path / "m.tflite"
    model.write_bytes(b"model bytes")
    runner = Runner(settings)
    runs = settings.state / "runs"
    for n in range(3):
        before = sorted(p.name for p in runs.glob(".spare-*")) if runs.exists() else []
        out = tmp_path / "results" / f"run-{n}"
        req = RunRequest(f"run-{n}", model, "m.tflite", "ab" * 32, 11, load_workflow(wf_file), out)
        journal = Journal([FilesReporter(out)])
        assert runner.execute(req, journal) == "success", journal.record.errors
        after = sorted(p.name for p in runs.glob(".spare-*"))
        assert len(after) == 1 and after != before  # the spare was taken, and another one made
        assert not (runs / f"run-{n}").exists()
    runner.spares.clear()
    assert list(runs.iterdir()) == []
