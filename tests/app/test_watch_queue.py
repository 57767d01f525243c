"""`benchd watch` with `[queue] url`: the inbox's runs go through the shared queue (any host's worker runs
them), a bad drop is rejected here at once, and every drop still ends in exactly one result on this host."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fleetkit import HEARTBEAT_S, REAPER_S, TTL_S, Fleet

pytestmark = [pytest.mark.pg, pytest.mark.timeout(240)]
PIPELINE = """\
name: host-only
on: {model_dropped: {paths: ["*.tflite"]}}
jobs:
  inspect: {runs-on: host, steps: [{uses: benchd/inspect}]}
  count:
    needs: inspect
    runs-on: host
    steps: [{run: 'test -s "$BENCHD_MODEL" && echo "bytes=$(stat -c %s "$BENCHD_MODEL")"'}]
"""


def test_watch_forwards_its_drops_and_files_each_with_one_result(pg_url: str, tmp_path: Path,
                                                                 samples: dict[str, Path]) -> None:
    sample = samples["kws_xs.tflite"]
    fleet = Fleet.make(pg_url, tmp_path / "fleet")
    fleet.start("worker-2")  # the other host: jobs may land on either
    bench = tmp_path / "bench"
    inbox = bench / "data" / "inbox"
    inbox.mkdir(parents=True)
    (bench / "host-only.yml").write_text(PIPELINE)
    (bench / "benchd.toml").write_text(
        f'pipeline = "{bench / "host-only.yml"}"\nexecutor = "local"\nstable_s = 0.2\n'
        f'[queue]\nurl = "{pg_url}"\nlease_ttl_s = {TTL_S}\nheartbeat_s = {HEARTBEAT_S}\nreaper_s = {REAPER_S}\n'
        f'poll_s = 1.0\n[host]\nname = "bench-1"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCHD_")}
    with (bench / "watch.log").open("wb") as log:
        watch = subprocess.Popen([sys.executable, "-m", "daemon", "watch"], cwd=bench, stdout=log,
                                 stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        for n in range(3):
            (inbox / f"m{n}.tflite").write_bytes(sample.read_bytes() + bytes([n]))
        (inbox / "broken.tflite").write_bytes(b"not a model")
        deadline = time.monotonic() + 120
        results = bench / "data" / "results"
        while time.monotonic() < deadline:
            found = list(results.glob("*/*/result.json"))
            if len(found) == 4 and not list(inbox.glob("*.tflite")):
                break
            time.sleep(0.3)
    finally:
        os.killpg(watch.pid, signal.SIGTERM)
        code = watch.wait(timeout=60)
        fleet.stop()
    text = (bench / "watch.log").read_text()
    assert code == 0, text
    records = {json.loads(p.read_text())["model"]["name"]: json.loads(p.read_text())
               for p in (bench / "data" / "results").glob("*/*/result.json")}
    assert sorted(records) == ["broken.tflite", "m0.tflite", "m1.tflite", "m2.tflite"], text
    assert records["broken.tflite"]["status"] == "error"
    assert records["broken.tflite"]["errors"][0]["kind"] == "model"
    queue = fleet.queue()
    try:
        for name in ("m0.tflite", "m1.tflite", "m2.tflite"):
            record = records[name]
            assert record["status"] == "success", record
            queued = queue.run(record["run_id"])  # the same run id in the queue, done there
            assert queued is not None and queued["state"] == "done" and queued["submitted_by"] == "inbox@bench-1"
            assert {j["host"] for j in record["jobs"]} <= {"bench-1", "worker-2"}
        assert queue.run(records["broken.tflite"]["run_id"]) is None  # rejected here, never queued
    finally:
        queue.engine.close()
    assert len(list((bench / "data" / "processed").iterdir())) == 3
    assert len(list((bench / "data" / "rejected").iterdir())) == 1
