"""Issue 12 item 6: `cancelled` end to end — Ctrl-C on `benchd run`, `benchd cancel RUN` for a daemon's run,
no cache hit for a cancelled run, never resumed after a crash; two crashes end a run `error` with the reason."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

import pytest
from daemon_kit import benchd, env_of, kill_orphans, make_settings, results, start_watch, starts, stop, wait_for

from daemon.store import Store
from daemon.store.db import new_run_id


def start_run(settings, model, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "daemon", "run", str(model), "--json", *extra],
                            env=env_of(settings), cwd=settings.results.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_started(settings, timeout: float = 30) -> None:
    marks = settings.results.parent / "marks"
    assert wait_for(lambda: any(p.name != "pass" and not p.name.startswith("pass-") for p in marks.iterdir()),
                    timeout), "the step never started"


def test_ctrl_c_on_benchd_run_cancels_it_within_6_s_and_a_rerun_runs(tmp_path, samples):
    settings = make_settings(tmp_path, sleep=587)
    model = samples["kws_xs.tflite"]
    proc = start_run(settings, model)
    try:
        wait_started(settings)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "cancelling… (Ctrl-C again to force)" in err
    assert took <= 6.0, took
    result = json.loads(out)
    assert result["status"] == "cancelled" and proc.returncode == 2
    assert any("Ctrl-C" in e["message"] and e["kind"] == "cancelled" for e in result["errors"]), result["errors"]
    assert kill_orphans(tmp_path) == 0  # the step's process group is gone
    run = Store(settings.db_path).recent_runs()[0]
    assert run.status == "cancelled"
    # A cancelled run is no cache hit: the same model runs again, without --force.
    (tmp_path / "marks" / f"pass-{result['model']['sha256']}").write_text("")
    again = benchd("run", str(model), "--json", settings=settings)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "success" and "duplicate_of" not in json.loads(again.stdout)



def start_stubborn_run(tmp_path, samples):  # type: ignore[no-untyped-def]
    """`benchd run` of a step that ignores SIGTERM (only SIGKILL ends it); returns (settings, process)."""
    settings = make_settings(tmp_path)
    wf = tmp_path / "stubborn.yml"
    wf.write_text("jobs:\n  a:\n    steps:\n      - run: |\n          trap '' TERM\n"
                  f"          echo started >> {tmp_path / 'marks' / 'x'}\n          sleep 587\n")
    return settings, start_run(settings, samples["kws_xs.tflite"], "--pipeline", str(wf))

def test_a_step_that_ignores_sigterm_is_killed_after_the_grace_period_and_a_second_ctrl_c_forces(tmp_path, samples):
    settings, proc = start_stubborn_run(tmp_path, samples)
    try:
        wait_started(settings)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)  # force: SIGKILL now, not after 5 s
        out, err = proc.communicate(timeout=15)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "forcing" in err and took < 4.0, (took, err)
    assert json.loads(out)["status"] == "cancelled"
    assert kill_orphans(tmp_path) == 0


def test_sigterm_on_benchd_run_ends_the_run_cancelled_after_at_most_the_grace_period(tmp_path, samples):
    settings, proc = start_stubborn_run(tmp_path, samples)
    try:
        wait_started(settings)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert 4.5 <= took <= 7.0, took  # SIGTERM ignored: SIGKILL 5 s later
    result = json.loads(out)
    assert result["status"] == "cancelled" and "SIGTERM" in result["errors"][-1]["message"]
    assert kill_orphans(tmp_path) == 0


def test_benchd_cancel_stops_a_daemons_run_and_the_next_drop_runs(tmp_path, samples):
    settings = make_settings(tmp_path, sleep=587)
    daemon = start_watch(settings)
    try:
        shutil.copy(samples["kws_xs.tflite"], settings.inbox / "m.tflite")
        wait_started(settings)
        run_id = Store(settings.db_path).recent_runs()[0].id
        out = benchd("cancel", run_id[:-2], settings=settings)  # its first characters are enough
        assert out.returncode == 0, out.stderr + out.stdout
        assert f"cancelled: run {run_id}" in out.stdout
        result = results(settings)[0]
        assert result["status"] == "cancelled" and "benchd cancel" in result["errors"][-1]["message"]
        assert not (settings.inbox / "m.tflite").exists()
        # not a cache hit: the same bytes dropped again run again
        sha = result["model"]["sha256"]
        (tmp_path / "marks" / f"pass-{sha}").write_text("")
        shutil.copy(samples["kws_xs.tflite"], settings.inbox / "again.tflite")
        assert wait_for(lambda: len(results(settings)) == 2)
        second = next(r for r in results(settings) if r["model"]["name"] == "again.tflite")
        assert second["status"] == "success" and "duplicate_of" not in second
        assert starts(settings, sha) == 2
        nothing = benchd("cancel", run_id, settings=settings)
        assert nothing.returncode == 2 and "already ended (cancelled)" in nothing.stderr
    finally:
        stop(daemon)
        kill_orphans(tmp_path)


def test_benchd_cancel_from_another_terminal_reaches_a_foreground_benchd_run(tmp_path, samples):
    """The foreground run has no poll loop: the cancel request's commit wakes it (daemon.store.changes)."""
    settings = make_settings(tmp_path, sleep=587)
    proc = start_run(settings, samples["kws_xs.tflite"])
    try:
        wait_started(settings)
        run_id = Store(settings.db_path).recent_runs()[0].id
        out = benchd("cancel", run_id, settings=settings)
        assert out.returncode == 0, out.stderr + out.stdout
        stdout, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    result = json.loads(stdout)
    assert result["status"] == "cancelled" and "benchd cancel" in result["errors"][-1]["message"]
    assert kill_orphans(tmp_path) == 0


def test_a_run_cancelled_while_the_daemon_was_down_is_never_resumed(tmp_path, samples):
    settings = make_settings(tmp_path, sleep=587)
    daemon = start_watch(settings)
    try:
        shutil.copy(samples["kws_xs.tflite"], settings.inbox / "m.tflite")
        wait_started(settings)
    finally:
        stop(daemon, signal.SIGKILL)
        kill_orphans(tmp_path)
    run = Store(settings.db_path).recent_runs()[0]
    asked = benchd("cancel", run.id, "--wait", "1", settings=settings)
    assert asked.returncode == 2 and "has not stopped" in asked.stderr  # nobody is running it
    daemon = start_watch(settings)
    try:
        assert wait_for(lambda: results(settings))
        time.sleep(0.5)
    finally:
        stop(daemon)
    result = results(settings)[0]
    assert result["status"] == "cancelled" and "benchd cancel" in result["errors"][-1]["message"]
    assert starts(settings, run.sha256) == 1  # not run again after the crash


def test_two_crashed_attempts_end_the_run_error_with_the_reason(tmp_path, samples):
    settings = make_settings(tmp_path, sleep=587)
    shutil.copy(samples["kws_xs.tflite"], settings.inbox / "m.tflite")
    for attempt in (1, 2):
        daemon = start_watch(settings)
        try:
            assert wait_for(lambda attempt=attempt: (rows := Store(settings.db_path).recent_runs())
                            and starts(settings, rows[0].sha256) == attempt)
        finally:
            stop(daemon, signal.SIGKILL)
            kill_orphans(tmp_path)
    daemon = start_watch(settings)
    try:
        assert wait_for(lambda: results(settings))
    finally:
        stop(daemon)
    result = results(settings)[0]
    assert result["status"] == "error" and "interrupted 2 times" in result["errors"][0]["message"]
    assert result["errors"][0]["kind"] == "infra"
    assert not (settings.inbox / "m.tflite").exists()


def test_a_cancelled_run_is_no_cache_hit(tmp_path):
    store = Store(tmp_path / "s.sqlite3")
    run_id = store.add_run(id=new_run_id(), model_name="m.tflite", model_path="/s/m", drop_path="/i/m",
                           sha256="abc", size=1, pipeline="p", pipeline_sha256="p1")
    store.finish_run(run_id, "cancelled", "cancelled by the user", None)
    assert store.find_finished("abc", "p1") is None
    store.finish_run(run_id, "failure", None, None)
    assert store.find_finished("abc", "p1") is not None


@pytest.mark.docker
def test_ctrl_c_on_a_container_step_leaves_no_container_behind(tmp_path, samples):
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.images.get("benchd/tvm:latest")
    except Exception as exc:  # no engine, no image: the docker tier skips (CI=true fails it)
        pytest.skip(f"needs a Docker engine and benchd/tvm: {exc}")
    settings = make_settings(tmp_path)
    wf = tmp_path / "boxed.yml"
    wf.write_text("jobs:\n  a:\n    container: benchd/tvm\n    steps:\n      - run: |\n"
                  "          echo started > $BENCHD_WORKSPACE/started\n          sleep 587\n")
    env = {**env_of(settings), "BENCHD_EXECUTOR": "docker"}
    proc = subprocess.Popen([sys.executable, "-m", "daemon", "run", str(samples["kws_xs.tflite"]), "--json",
                             "--pipeline", str(wf)], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: list(settings.state.glob("runs/*/workspace/started")), 120), "never started"
        run_id = Store(settings.db_path).recent_runs()[0].id
        assert client.containers.list(filters={"label": f"benchd.run={run_id}"})
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert took <= 6.0, (took, err)
    assert json.loads(out)["status"] == "cancelled"
    assert client.containers.list(all=True, filters={"label": f"benchd.run={run_id}"}) == []
    client.close()


def test_a_run_whose_benchd_run_died_while_cancelling_is_not_resumed_by_the_daemon(tmp_path, samples):
    settings, proc = start_stubborn_run(tmp_path, samples)
    try:
        wait_started(settings)
        proc.send_signal(signal.SIGINT)  # the step ignores SIGTERM: the run is in its 5 s grace period
        time.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        kill_orphans(tmp_path)
    assert Store(settings.db_path).recent_runs()[0].status == "running"
    daemon = subprocess.Popen([sys.executable, "-m", "daemon", "watch"], env={**env_of(settings),
                              "BENCHD_PIPELINE": str(tmp_path / "stubborn.yml")}, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: results(settings))
    finally:
        stop(daemon)
        kill_orphans(tmp_path)
    result = results(settings)[0]
    assert result["status"] == "cancelled" and "Ctrl-C" in result["errors"][-1]["message"]
    assert (tmp_path / "marks" / "x").read_text().count("started") == 1  # not run again
