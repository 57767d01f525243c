"""Issue 12 item 11: [retention] days and runs prune results, logs, filed drops and state/models; memory
stays flat over many runs."""

from __future__ import annotations

import dataclasses
import os
import time

from daemon_kit import make_settings, results, wait_for

from daemon.app import retention
from daemon.app.service import Daemon
from daemon.settings import RetentionSettings, load_settings
from daemon.store import Store


def variants(samples, count: int) -> list[bytes]:
    base = samples["kws_xs.tflite"].read_bytes()
    return [base + bytes([i]) * 8 for i in range(count)]


def run_all(settings, models: list[bytes]) -> None:
    daemon = Daemon(settings)
    daemon.start()
    try:
        for i, data in enumerate(models):
            (settings.inbox / f"m{i}.tflite").write_bytes(data)
            assert wait_for(lambda i=i: any(r.model_name == f"m{i}.tflite" and r.filed_at
                                            for r in daemon.store.recent_runs(10)), 20)
            time.sleep(0.05)  # distinct creation times
    finally:
        daemon.stop()


def test_runs_keeps_the_newest_and_prunes_the_rest_everywhere(tmp_path, samples):
    settings = dataclasses.replace(make_settings(tmp_path), retention=RetentionSettings(runs=2))
    run_all(settings, variants(samples, 4))
    store = Store(settings.db_path)
    retention.prune(settings, store, now=time.time() + 3600)  # snapshots are kept while new (intake may use them)
    kept = store.recent_runs(10)
    assert [r.model_name for r in kept] == ["m3.tflite", "m2.tflite"]
    assert sorted(r["model"]["name"] for r in results(settings)) == ["m2.tflite", "m3.tflite"]
    assert len(list(settings.processed.iterdir())) == 2
    assert sorted(p.name for p in (settings.state / "models").iterdir()) == sorted(r.sha256 for r in kept)


def test_days_prunes_runs_older_than_that(tmp_path, samples):
    settings = dataclasses.replace(make_settings(tmp_path), retention=RetentionSettings(days=7))
    run_all(settings, variants(samples, 2))
    store = Store(settings.db_path)
    old = store.recent_runs(10)[-1]
    with store.transaction() as db:
        db.execute("UPDATE runs SET created_at = ? WHERE id = ?", (time.time() - 8 * 86400, old.id))
    assert retention.prune(settings, store, now=time.time() + 3600) == [old.id]
    assert [r["model"]["name"] for r in results(settings)] == ["m1.tflite"]
    assert not (settings.state / "models" / old.sha256).exists()
    assert retention.prune(settings, store) == []  # nothing more is old


def test_retention_settings_from_the_file_and_the_environment(tmp_path):
    (tmp_path / "benchd.toml").write_text("[retention]\ndays = 30\nruns = 500\n")
    settings = load_settings(str(tmp_path / "benchd.toml"), env={"BENCHD_RETENTION_RUNS": "100"})
    assert settings.retention == RetentionSettings(days=30.0, runs=100)


def rss_kb() -> int:
    with open(f"/proc/{os.getpid()}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def test_rss_stays_flat_over_many_runs(tmp_path, samples):
    """Rejected drops are whole runs through intake, the journal, the files reporter, the store and filing;
    after a warm-up, 600 more may not grow the daemon by more than 3 MB (issue goal: ≤ 5 MB per 1,000)."""
    settings = dataclasses.replace(make_settings(tmp_path), retention=RetentionSettings(runs=50))
    daemon = Daemon(settings)
    daemon.start(watch=False)

    def runs(count: int, first: int) -> None:
        for i in range(first, first + count):
            path = settings.inbox / f"bad{i}.tflite"
            path.write_bytes(b"not a model %d" % i)
            daemon.drop(path)

    try:
        runs(200, 0)  # warm-up: caches, the first connections, imports
        before = rss_kb()
        runs(600, 200)
        grown = rss_kb() - before
    finally:
        daemon.stop()
    assert len(Store(settings.db_path).recent_runs(1000)) == 50
    print(f"RSS grew {grown} KB over 600 runs")
    assert grown < 3 * 1024, f"RSS grew {grown} KB over 600 runs"


def test_snapshots_no_run_refers_to_are_swept_at_start_up(tmp_path, samples):
    settings = make_settings(tmp_path)
    orphan = settings.state / "models" / ("0" * 64)
    orphan.mkdir(parents=True)
    (orphan / "gone.tflite").write_bytes(b"x")
    (settings.state / "models" / ".incoming-1-2").write_bytes(b"half")
    old = time.time() - 3600
    os.utime(orphan, (old, old))
    fresh = settings.state / "models" / ("1" * 64)  # intake may be deciding its drop right now
    fresh.mkdir()
    (fresh / "new.tflite").write_bytes(b"y")
    daemon = Daemon(settings)
    daemon.start()
    daemon.stop()
    assert sorted(p.name for p in (settings.state / "models").iterdir()) == ["1" * 64]
