"""Issue 12 item 2: every drop ends in exactly one result, whatever its name, whenever benchd is killed."""

from __future__ import annotations

import os
import random
import shutil
import signal
import time
from pathlib import Path

from daemon_kit import kill_orphans, make_settings, results, start_watch, starts, stop, wait_for

from daemon.app.recovery import recover
from daemon.app.service import Daemon
from daemon.store import Store


def drop_bytes(settings, name: bytes, data: bytes) -> Path:
    """Write under a name given as bytes (any the file system allows), closed at once."""
    path = os.path.join(os.fsencode(settings.inbox), name)
    with open(path, "wb") as f:
        f.write(data)
    return Path(os.fsdecode(path))


def inbox_names(settings) -> list[bytes]:
    return os.listdir(os.fsencode(settings.inbox))


def variants(samples, count: int) -> list[bytes]:
    """`count` different model files: kws_xs with bytes appended (still a valid flatbuffer)."""
    base = samples["kws_xs.tflite"].read_bytes()
    return [base + bytes([i]) * 8 for i in range(count)]


HOSTILE_NAMES = [
    b"a" * 233 + b".tflite",  # 240 bytes: `<run-id>_<name>` in processed/ was too long
    b"b" * 246 + b".tflite",  # 253 bytes: the sidecar name (+ .json) is past NAME_MAX
    b"c" * 248 + b".tflite",  # 255 bytes: the longest name there is
    b"bad-\xff\xfe-latin1-\xe9.tflite",  # not UTF-8: the store refused it
    b"new\nline\t.tflite",  # control characters
]


def test_any_file_name_gets_exactly_one_result_and_leaves_the_inbox(tmp_path, samples):
    settings = make_settings(tmp_path)
    models = variants(samples, len(HOSTILE_NAMES) + 1)
    daemon = Daemon(settings)
    daemon.start()
    try:
        for name, data in zip(HOSTILE_NAMES, models, strict=False):
            drop_bytes(settings, name, data)
        drop_bytes(settings, b"empty-\xff.tflite", b"")  # rejected, and not UTF-8 either
        assert wait_for(lambda: len(results(settings)) >= len(HOSTILE_NAMES) + 1 and daemon.wait_idle(0), 30)
    finally:
        daemon.stop()
    done = results(settings)
    assert len(done) == len(HOSTILE_NAMES) + 1
    shown = sorted(r["model"]["name"] for r in done)
    assert "bad-\\xff\\xfe-latin1-\\xe9.tflite" in shown and "new\\x0aline\\x09.tflite" in shown
    assert "b" * 246 + ".tflite" in shown
    assert sorted(r["status"] for r in done) == ["error"] + ["success"] * len(HOSTILE_NAMES)
    assert inbox_names(settings) == []
    assert len(os.listdir(settings.processed)) == len(HOSTILE_NAMES)
    assert all(len(n) < 64 for n in os.listdir(settings.processed))  # run id + hash, not the name
    # A restart finds nothing to do: no second result for any of them.
    again = Daemon(settings)
    again.start()
    try:
        assert again.wait_idle(10)
    finally:
        again.stop()
    assert len(results(settings)) == len(HOSTILE_NAMES) + 1


def test_a_crash_between_finishing_and_moving_the_drop_gives_one_result(tmp_path, samples, monkeypatch):
    settings = make_settings(tmp_path)
    daemon = Daemon(settings)
    monkeypatch.setattr(daemon.intake, "file_away", lambda *a, **k: False)  # "killed" before the move
    daemon.start()
    try:
        shutil.copy(samples["kws_xs.tflite"], settings.inbox / "m.tflite")
        assert wait_for(lambda: len(results(settings)) == 1 and daemon.wait_idle(0))
    finally:
        daemon.stop()
    assert (settings.inbox / "m.tflite").exists()
    again = Daemon(settings)  # the drop is still in the inbox: the restart files it, never runs it again
    again.start()
    try:
        assert again.wait_idle(10)
        time.sleep(0.5)
    finally:
        again.stop()
    assert len(results(settings)) == 1
    assert not (settings.inbox / "m.tflite").exists() and len(list(settings.processed.iterdir())) == 1
    assert starts(settings, results(settings)[0]["model"]["sha256"]) == 1


def test_a_crash_after_the_result_was_written_finishes_the_run_without_running_it_again(tmp_path, samples,
                                                                                          monkeypatch):
    settings = make_settings(tmp_path)
    daemon = Daemon(settings)

    def killed(*args, **kwargs):
        raise RuntimeError("killed between result.json and the store")

    monkeypatch.setattr(daemon.store, "finish_run", killed)
    daemon.start()
    try:
        shutil.copy(samples["kws_xs.tflite"], settings.inbox / "m.tflite")
        assert wait_for(lambda: len(results(settings)) == 1)
    finally:
        daemon.stop(grace=2)
    assert Store(settings.db_path).recent_runs()[0].status == "running"
    again = Daemon(settings)
    again.start()
    try:
        assert again.wait_idle(10)
    finally:
        again.stop()
    runs = Store(settings.db_path).recent_runs()
    assert [r.status for r in runs] == ["success"] and runs[0].filed_at is not None
    assert len(results(settings)) == 1 and starts(settings, runs[0].sha256) == 1
    assert list(settings.inbox.iterdir()) == []


def test_kill_9_at_random_instants_gives_exactly_one_result_per_drop_and_no_orphans(tmp_path, samples):
    settings = make_settings(tmp_path, sleep=0.4)
    models = variants(samples, 8)
    rng = random.Random(12)
    daemon = start_watch(settings)
    try:
        for i, data in enumerate(models):
            (settings.inbox / f"m{i}.tflite").write_bytes(data)
        for _ in range(20):  # kill -9 at random instants: deciding, running, reporting, filing
            time.sleep(rng.uniform(0.1, 0.8))
            daemon.send_signal(signal.SIGKILL)
            daemon.wait(timeout=10)
            daemon = start_watch(settings)
        assert wait_for(lambda: not list(settings.inbox.iterdir()), 90)
        time.sleep(1)  # any second result would show up by now
    finally:
        stop(daemon)
    by_name: dict[str, int] = {}
    for result in results(settings):
        by_name[result["model"]["name"]] = by_name.get(result["model"]["name"], 0) + 1
    assert by_name == {f"m{i}.tflite": 1 for i in range(len(models))}
    kill_orphans(tmp_path)
    store = Store(settings.db_path)
    assert all(r.status != "running" and r.filed_at is not None for r in store.recent_runs(100))


def test_progress_json_of_an_interrupted_run_is_cleared_at_start_up(tmp_path, samples):
    settings = make_settings(tmp_path, sleep=587)
    daemon = start_watch(settings)
    try:
        shutil.copy(samples["kws_xs.tflite"], settings.inbox / "m.tflite")
        assert wait_for(lambda: list(settings.results.glob("*/*/progress.json")))
    finally:
        stop(daemon, signal.SIGKILL)
    progress = next(settings.results.glob("*/*/progress.json"))
    assert '"running"' in progress.read_text()
    store = Store(settings.db_path)
    daemon_now = Daemon(settings, store=store)
    recover(settings, store, daemon_now.intake)
    assert not progress.exists()  # it said `running`; the run is queued again
    assert [r.status for r in store.recent_runs()] == ["queued"]
    kill_orphans(tmp_path)  # a step a kill -9 left behind (issue 12 item 7, the reaper's job)
