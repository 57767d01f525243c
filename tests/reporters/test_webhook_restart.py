"""A daemon killed (SIGKILL) with deliveries pending: the next process delivers them, exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from report_fixtures import SECRET, Receiver, free_port, wait_for

from daemon.reporters.delivery import DeliveryWorker
from daemon.reporters.webhook import webhook_lanes
from daemon.settings import WebhookSettings
from daemon.store.db import Store
from daemon.store.outbox import Outbox

ROOT = Path(__file__).resolve().parents[2]

# A stand-in for `benchd watch`: report two runs, keep retrying an endpoint that is down, until killed.
DAEMON = textwrap.dedent("""
    import sys, threading
    from pathlib import Path
    from daemon.record import RunRecord
    from daemon.reporters.reporter import RunInfo
    from daemon.reporters.delivery import DeliveryWorker
    from daemon.reporters.webhook import WebhookReporter, webhook_lanes
    from daemon.settings import WebhookSettings
    from daemon.store.db import Store
    db, url = Path(sys.argv[1]), sys.argv[2]
    env = {"BENCHD_WEBHOOK_SECRET": sys.argv[3]}
    store, settings = Store(db), WebhookSettings(url=url, timeout_s=1.0)
    DeliveryWorker(store, webhook_lanes([settings], env), backoff_s=0.05, max_backoff_s=0.2).start()
    reporter = WebhookReporter(settings, store, env)
    for run_id in ("run-1", "run-2"):
        info = RunInfo(run_id, "kws.tflite", "ab" * 32, db.parent / run_id)
        reporter.report(info, RunRecord(run_id=run_id, status="success"))
    print("queued", flush=True)
    threading.Event().wait()
""")


def test_killed_with_deliveries_pending_delivered_after_restart(tmp_path: Path) -> None:
    db = tmp_path / "benchd.sqlite3"
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", DAEMON, str(db), url, SECRET], stdout=subprocess.PIPE,
                            text=True, env=env, cwd=ROOT)
    try:
        assert proc.stdout is not None
        lines = iter(proc.stdout.readline, "")  # its log lines come first; "" when it died
        assert any(line.strip() == "queued" for line in lines), "the stand-in daemon died before queueing"
        store = Store(db)
        wait_for(lambda: Outbox(store).of_run("run-1")[0].attempts >= 2, what="failed attempts before the kill")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert [d.state for d in Outbox(store).all()] == ["pending", "pending"]

    receiver = Receiver().start(port)
    worker = DeliveryWorker(store, webhook_lanes([WebhookSettings(url=url)], {"BENCHD_WEBHOOK_SECRET": SECRET}),
                            backoff_s=0.05, max_backoff_s=0.2).start()  # the restarted daemon
    try:
        wait_for(lambda: len(receiver.accepted()) == 2, what="both delivered after the restart")
        wait_for(lambda: all(d.state == "delivered" for d in Outbox(store).all()), what="marked delivered")
        assert receiver.accepted() == ["run-1", "run-2"]
        assert all(r["signed"] for r in receiver.received) and len(receiver.received) == 2
    finally:
        worker.stop()
        receiver.stop()
        store.close()
