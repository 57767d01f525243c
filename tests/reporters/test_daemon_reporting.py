"""Issue 5's done-when through the real daemon (`benchd watch` in a subprocess): the webhook receiver is
down during the run, the daemon is killed, and after the restart the result is delivered exactly once,
signed; junit.xml parses; the dashboard served by `benchd watch` lists the run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import junitparser
import pytest
from report_fixtures import SECRET, Receiver, free_port, wait_for

pytestmark = pytest.mark.timeout(180)

WORKFLOW = """\
jobs:
  inspect:
    steps:
      - uses: benchd/inspect
"""


def test_watch_posts_once_after_downtime_and_restart_and_shows_the_run(samples, tmp_path):
    hook_port, dash_port = free_port(), free_port()
    (tmp_path / "wf.yml").write_text(WORKFLOW)
    (tmp_path / "benchd.toml").write_text(f"""
inbox = "{tmp_path / 'inbox'}"
results = "{tmp_path / 'results'}"
state = "{tmp_path / 'state'}"
pipeline = "{tmp_path / 'wf.yml'}"
[[report.webhook]]
url = "http://127.0.0.1:{hook_port}/hook"
secret_env = "BENCHD_WEBHOOK_SECRET"
timeout_s = 2
[dashboard]
enabled = true
port = {dash_port}
""")
    env = {**os.environ, "BENCHD_CONFIG": str(tmp_path / "benchd.toml"), "BENCHD_WEBHOOK_SECRET": SECRET}

    def watch() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "daemon", "watch"], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    daemon = watch()
    receiver = None
    try:
        (tmp_path / "inbox").mkdir(exist_ok=True)
        shutil.copy(samples["kws_xs.tflite"], tmp_path / "inbox" / "kws.tflite")
        result_file = wait_for(lambda: next((tmp_path / "results").glob("kws/*/result.json"), None), 60,
                               "the run's result")
        time.sleep(0.5)
        result = json.loads(result_file.read_text())
        assert result["status"] == "success"
        suites = junitparser.JUnitXml.fromfile(str(result_file.parent / "junit.xml"))
        assert sum(suite.tests for suite in suites) >= 1

        with urllib.request.urlopen(f"http://127.0.0.1:{dash_port}/api/runs", timeout=10) as answer:
            listed = json.loads(answer.read())
        runs = listed["runs"] if isinstance(listed, dict) else listed
        assert any(r.get("id", r.get("run_id")) == result["run_id"] for r in runs)

        daemon.send_signal(signal.SIGKILL)  # the receiver was down the whole run: delivery pending
        daemon.wait(timeout=10)
        receiver = Receiver().start(port=hook_port)
        daemon = watch()
        wait_for(lambda: receiver.accepted(), 60, "the delivery after the restart")
        time.sleep(3)  # a second delivery would arrive by now
        assert receiver.accepted() == [result["run_id"]]
        assert all(r["signed"] and r["key"] == result["run_id"] for r in receiver.received)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
        if receiver is not None:
            receiver.stop()
