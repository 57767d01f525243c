"""Issue 3's done-when: a dropped model runs compile-host and validate inside benchd/tvm, and result.json
records the image digest and the same host metrics as the local executor gives."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.app.service import Daemon
from daemon.settings import Settings

pytestmark = [pytest.mark.docker, pytest.mark.tvm, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[2]
DETERMINISTIC = ("max_abs_diff", "top1_agreement", "samples", "thresholds")


def test_dropped_model_compiles_and_validates_in_the_pinned_image(tvm_image, riscv_image, samples, tmp_path):
    settings = Settings(inbox=tmp_path / "inbox", results=tmp_path / "results", state=tmp_path / "state",
                        pipelines_dir=ROOT / "pipelines", executor="docker")
    settings.inbox.mkdir()
    shutil.copy(samples["kws_xs.tflite"], settings.inbox / "kws xs 'dropped'.tflite")
    daemon = Daemon(settings)
    daemon.start()
    try:
        assert daemon.wait_idle(400)
    finally:
        daemon.stop()
        daemon.store.close()
    (result_file,) = (tmp_path / "results").glob("*/*/result.json")
    in_docker = json.loads(result_file.read_text())
    assert in_docker["status"] == "success", in_docker["errors"]
    job = next(j for j in in_docker["jobs"] if j["id"] == "compile-host")
    assert job["executor"] == "docker"
    assert job["image"]["ref"] == "benchd/tvm"
    assert job["image"]["digest"] == tvm_image.id  # exactly the image that ran, recorded
    assert [s["status"] for s in job["steps"]] == ["success"] * 3
    mlf = next(j for j in in_docker["jobs"] if j["id"] == "compile-mlf")
    assert mlf["status"] == "skipped" and "benchd/tvm-legacy" in mlf["skip_reason"]
    # Issue 11's goal: with an engine and no boards, every job runs but the legacy TVM, ESP-IDF and board ones.
    ran = {j["id"] for j in in_docker["jobs"] if j["status"] == "success"}
    assert ran == {"inspect", "compile-c", "virtual-core", "vectors", "compile-host"}, in_docker["jobs"]
    virtual_job = next(j for j in in_docker["jobs"] if j["id"] == "virtual-core")
    assert virtual_job["image"] == {"ref": "benchd/riscv", "digest": riscv_image.id}
    virtual = in_docker["metrics"]["virtual"]
    assert virtual["backend"] == "reference-c" and virtual["bit_exact"] == virtual["vectors"] == 3
    assert virtual["instructions"] > 0 and virtual["rom_bytes"] > virtual["arena_bytes"] > 0
    assert in_docker["metrics"]["reference_c"]["arena_bytes"] == virtual["arena_bytes"]

    local = subprocess.run(
        [sys.executable, "-m", "daemon", "run", str(samples["kws_xs.tflite"]), "--executor", "local", "--json",
         "--state", str(tmp_path / "s2"), "--results", str(tmp_path / "r2")],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    on_host = json.loads(local.stdout)
    assert on_host["status"] == "success"
    same = {k: in_docker["metrics"]["host"][k] for k in DETERMINISTIC}
    assert same == {k: on_host["metrics"]["host"][k] for k in DETERMINISTIC}
    assert in_docker["metrics"]["host"]["latency_ms"] > 0
