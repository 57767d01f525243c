"""`strategy.fail-fast` (issue 18): when one matrix instance fails, the job's other instances are stopped
and end `cancelled` with the reason; with `fail-fast: false` they run on. Real processes, local executor."""

import time
from pathlib import Path

from test_runner import job, run_workflow


def matrix_workflow(marks: Path, fail_fast: bool, n: int = 3, sleep_s: int = 30) -> str:
    """Instance 1 fails half a second in; the others each mark their start, then sleep."""
    values = ", ".join(str(i) for i in range(1, n + 1))
    return f"""
jobs:
  m:
    strategy: {{ matrix: {{ n: [{values}] }}, fail-fast: {str(fail_fast).lower()} }}
    steps:
      - id: work
        run: |
          touch {marks}/${{{{ matrix.n }}}}.started
          if [ "${{{{ matrix.n }}}}" = 1 ]; then sleep 0.5; exit 1; fi
          sleep {sleep_s}
      - id: after
        run: touch {marks}/${{{{ matrix.n }}}}.after
"""


def test_fail_fast_cancels_the_other_running_instances_within_5_s(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    started = time.monotonic()
    result = run_workflow(tmp_path, matrix_workflow(marks, fail_fast=True))
    took = time.monotonic() - started
    assert took < 5.5, took  # the failure comes at 0.5 s; the sleeps (30 s) were stopped, not waited for
    assert job(result, "m (1)")["status"] == "failure"
    for key in ("m (2)", "m (3)"):
        cancelled = job(result, key)
        assert (marks / f"{key[3]}.started").exists()  # they were running when instance 1 failed
        assert cancelled["status"] == "cancelled", cancelled
        assert "matrix instance m (1) failed (fail-fast)" in cancelled["skip_reason"]
        work, after = cancelled["steps"]
        assert work["status"] == "cancelled" and "fail-fast" in work["error"] and work["duration_s"] < 5
        assert after["status"] == "cancelled"
        assert not (marks / f"{key[3]}.after").exists()
    assert result["status"] == "failure"  # the run failed; the cancelled instances say why they stopped
    assert any("fail-fast" in e["message"] and e["where"].startswith("m (2)") for e in result["errors"])


def test_fail_fast_keeps_queued_instances_from_starting(tmp_path):
    # Ten instances, eight at a time: the two still queued when instance 1 fails never start.
    marks = tmp_path / "marks"
    marks.mkdir()
    started = time.monotonic()
    result = run_workflow(tmp_path, matrix_workflow(marks, fail_fast=True, n=10))
    assert time.monotonic() - started < 5.5
    statuses = {j["id"]: j["status"] for j in result["jobs"]}
    assert statuses.pop("m (1)") == "failure"
    assert set(statuses.values()) == {"cancelled"}, statuses
    assert not (marks / "9.started").exists() and not (marks / "10.started").exists()
    queued = job(result, "m (10)")
    assert "matrix instance m (1) failed (fail-fast)" in queued["skip_reason"]


def test_without_fail_fast_the_other_instances_finish(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    result = run_workflow(tmp_path, matrix_workflow(marks, fail_fast=False, sleep_s=2))
    assert job(result, "m (1)")["status"] == "failure"
    for key in ("m (2)", "m (3)"):
        assert job(result, key)["status"] == "success"
        assert (marks / f"{key[3]}.after").exists()
    assert result["status"] == "failure"
