"""daemon.store.changes: a commit from another process wakes the daemon; a burst of commits wakes it once,
after the burst, not once per commit in the middle of it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from daemon.store import Store
from daemon.store.changes import StoreChanges


class Wakes:
    def __init__(self) -> None:
        self.times: list[float] = []
        self.event = threading.Event()

    def __call__(self) -> None:
        self.times.append(time.monotonic())
        self.event.set()


def _add(store: Store, n: int) -> None:
    for _ in range(n):
        store.add_run(model_name="m.tflite", model_path="", drop_path="/x/m.tflite", sha256="ab", size=1,
                      pipeline="p.yml", pipeline_sha256="cd")


def test_a_commit_from_another_process_wakes_the_watch(tmp_path: Path) -> None:
    store = Store(tmp_path / "benchd.sqlite3")
    wakes = Wakes()
    changes = StoreChanges(store.path, wakes)
    changes.start()
    try:
        time.sleep(0.2)
        assert wakes.times == []  # nothing changed: nothing to look at
        code = ("import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
                "db.execute(\"UPDATE runs SET status = 'queued' WHERE 0\"); db.execute('CREATE TABLE t (x)'); "
                "db.commit()")
        subprocess.run([sys.executable, "-c", code, str(store.path)], check=True)
        assert wakes.event.wait(5)
    finally:
        changes.stop()


def test_a_burst_of_commits_is_one_wake_up_after_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "benchd.sqlite3")
    wakes = Wakes()
    changes = StoreChanges(store.path, wakes, settle_s=0.3)
    changes.start()
    try:
        first = time.monotonic()
        _add(store, 4)  # a drop's commits on its way to its first step
        assert wakes.event.wait(5)
        time.sleep(0.5)
        assert len(wakes.times) == 1
        assert wakes.times[0] - first >= 0.29  # not in the middle of the burst
        _add(store, 1)  # the next change is seen too
        deadline = time.monotonic() + 5
        while len(wakes.times) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(wakes.times) == 2
    finally:
        started = time.monotonic()
        changes.stop()
        assert time.monotonic() - started < 1.0
