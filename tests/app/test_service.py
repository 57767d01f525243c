"""The daemon end to end on the host: drops in, one result each out, survives kill -9."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon.app.service import Daemon
from daemon.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
QUICK = """\
name: quick
on:
  model_dropped: { paths: ["*.tflite"] }
env: { MARKS: "{marks}", SLEEP: "{sleep}" }
jobs:
  inspect:
    steps:
      - uses: benchd/inspect
  work:
    needs: inspect
    steps:
      - run: |
          echo started >> "$MARKS/${{ model.sha256 }}"
          sleep "${SLEEP:-0}"
          echo "name=${{ model.name }}" >> "$BENCHD_OUTPUT"
"""


def make_settings(tmp_path: Path, sleep: float = 0, **extra) -> Settings:
    wf = tmp_path / "quick.yml"
    wf.write_text(QUICK.replace("{marks}", str(tmp_path / "marks")).replace("{sleep}", str(sleep)))
    (tmp_path / "inbox").mkdir(exist_ok=True)
    return Settings(inbox=tmp_path / "inbox", results=tmp_path / "results", state=tmp_path / "state",
                    pipeline=str(wf), stable_s=0.2, **extra)


def results(tmp_path: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "results").glob("*/*/result.json"))]


@pytest.fixture
def marks(tmp_path):
    path = tmp_path / "marks"
    path.mkdir()
    return path


def test_every_drop_ends_in_exactly_one_result_and_the_daemon_keeps_going(tmp_path, samples, marks):
    settings = make_settings(tmp_path)
    shutil.copy(samples["kws_xs.tflite"], settings.inbox / "early.tflite")  # waiting before start
    daemon = Daemon(settings)
    daemon.start()
    try:
        names = ["kws $(id) 'q'.tflite", "empty.tflite", "random.tflite", "kws_float.tflite", "dup.tflite"]
        shutil.copy(samples["kws_xs.tflite"], settings.inbox / names[0])
        for name in names[1:4]:
            shutil.copy(samples[name], settings.inbox / name)
        assert daemon.wait_idle(30)
        shutil.copy(samples["kws_xs.tflite"], settings.inbox / names[4])  # same bytes as early.tflite
        time.sleep(0.5)
        assert daemon.wait_idle(30)
    finally:
        daemon.stop()
        daemon.store.close()
    by_name = {r["model"]["name"]: r for r in results(tmp_path)}
    assert sorted(by_name) == sorted(["early.tflite", *names])
    assert by_name["early.tflite"]["status"] == "success"
    assert by_name["kws_float.tflite"]["status"] == "success"
    assert by_name["empty.tflite"]["status"] == "error"
    assert "not a TFLite flatbuffer" in by_name["random.tflite"]["errors"][0]["message"]
    assert by_name["random.tflite"]["errors"][0]["kind"] == "model"
    same_bytes = {by_name["early.tflite"]["run_id"], by_name[names[0]]["run_id"]}
    assert by_name["dup.tflite"]["duplicate_of"] in same_bytes
    ran = next(by_name[n] for n in ("early.tflite", names[0]) if not by_name[n].get("duplicate_of"))
    assert ran["jobs"][1]["outputs"] == {}  # job outputs are declared, not leaked
    assert by_name["early.tflite"]["model"]["operators"]  # inspect filled result.model
    assert list(settings.inbox.iterdir()) == []  # nothing pending
    assert len(list(settings.processed.iterdir())) == 4 and len(list(settings.rejected.iterdir())) == 2


def drop_and_wait_for_the_step(samples: dict[str, Path], settings: Settings, marks: Path) -> None:
    shutil.copy(samples["kws_xs.tflite"], settings.inbox / "m.tflite")
    deadline = time.monotonic() + 30
    while not list(marks.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(marks.iterdir()), "the run never started"


def test_kill_9_mid_run_loses_nothing_and_duplicates_nothing(tmp_path, samples, marks):
    settings = make_settings(tmp_path, sleep=3)
    env = {**os.environ, "BENCHD_INBOX": str(settings.inbox), "BENCHD_RESULTS": str(settings.results),
           "BENCHD_STATE": str(settings.state), "BENCHD_PIPELINE": settings.pipeline, "BENCHD_STABLE_S": "0.2"}
    cmd = [sys.executable, "-m", "daemon", "watch"]

    def start() -> subprocess.Popen:
        return subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    daemon = start()
    try:
        drop_and_wait_for_the_step(samples, settings, marks)
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=10)
        assert (settings.inbox / "m.tflite").exists()  # not lost: still pending
        daemon = start()
        deadline = time.monotonic() + 60
        while not results(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # any duplicate run would show up by now
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    done = results(tmp_path)
    assert len(done) == 1 and done[0]["status"] == "success"
    mark = next(marks.iterdir()).read_text().splitlines()
    assert mark == ["started", "started"]  # interrupted once, re-run once
    out = subprocess.run([sys.executable, "-m", "daemon", "status", "--json"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    runs = json.loads(out.stdout)
    assert len(runs) == 1 and runs[0]["status"] == "success"


@pytest.mark.parametrize(
    ("step", "code", "status"),
    [("exit 0", 0, "success"), ("exit 1", 1, "failure"), ("sleep 30", 2, "error")],
)
def test_benchd_run_exit_codes(tmp_path, samples, step, code, status):
    wf = tmp_path / "wf.yml"
    wf.write_text(f"jobs:\n  a:\n    steps:\n      - timeout-minutes: 0.02\n        run: {step}\n")
    out = subprocess.run(
        [sys.executable, "-m", "daemon", "run", str(samples["kws_xs.tflite"]), "--pipeline", str(wf), "--json",
         "--state", str(tmp_path / "s"), "--results", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert out.returncode == code, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == status
    assert f"{status}: kws_xs.tflite" in out.stderr  # the live display's last line


def test_benchd_run_rejects_a_broken_model_with_exit_2(tmp_path, samples):
    out = subprocess.run(
        [sys.executable, "-m", "daemon", "run", str(samples["truncated.tflite"]), "--state", str(tmp_path / "s"),
         "--results", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert out.returncode == 2
    assert "intake:" in out.stderr and "truncated" in out.stderr.lower()


def test_sigterm_stops_a_long_step_and_the_run_runs_again_at_the_next_start(tmp_path, samples, marks):
    settings = make_settings(tmp_path, sleep=600)
    env = {**os.environ, "BENCHD_INBOX": str(settings.inbox), "BENCHD_RESULTS": str(settings.results),
           "BENCHD_STATE": str(settings.state), "BENCHD_PIPELINE": settings.pipeline}
    daemon = subprocess.Popen([sys.executable, "-m", "daemon", "watch"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        drop_and_wait_for_the_step(samples, settings, marks)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=40) == 0  # the grace period, then the step is stopped
    finally:
        if daemon.poll() is None:
            daemon.kill()
    from daemon.store import Store

    store = Store(settings.db_path)
    rows = store.recent_runs()
    store.close()
    assert [r.status for r in rows] == ["queued"]  # back in the queue, not lost, not failed
    assert (settings.inbox / "m.tflite").exists()
    out = subprocess.run(["pgrep", "-f", "sleep 600"], capture_output=True, text=True)
    assert out.stdout.strip() == ""  # no step process outlives the daemon


def test_relative_folders_work_from_any_working_directory(tmp_path, samples):
    (tmp_path / "wf.yml").write_text("jobs:\n  a:\n    steps:\n      - uses: benchd/inspect\n"
                                     "      - run: test -f \"$BENCHD_MODEL\"\n")
    shutil.copy(samples["kws_xs.tflite"], tmp_path / "m.tflite")
    out = subprocess.run(
        [sys.executable, "-m", "daemon", "run", "m.tflite", "--pipeline", "wf.yml", "--json",
         "--state", "data/state", "--results", "data/results"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == "success" and result["model"]["operators"]
    assert (tmp_path / "data" / "results" / "m" / result["run_id"] / "result.json").is_file()


def test_the_start_up_heap_is_frozen_so_full_collections_skip_it():
    import gc

    from daemon.app.service import freeze_start_up_heap

    made_at_start_up = [[] for _ in range(1000)]
    try:
        freeze_start_up_heap()
        assert gc.get_freeze_count() >= len(made_at_start_up)
        scanned = {id(o) for generation in range(3) for o in gc.get_objects(generation=generation)}
        assert not any(id(x) in scanned for x in made_at_start_up)  # no collection walks them any more
    finally:
        gc.unfreeze()  # the test process as it was
