"""Issue 16's done-when in real containers: every model of ../shared/models runs the default pipeline to
`success`, with metrics.virtual (instructions, ROM, RAM) bit-exact with TFLite on the virtual core."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from daemon_once import run_inbox

from daemon.settings import Settings

pytestmark = [pytest.mark.docker, pytest.mark.tvm, pytest.mark.timeout(1500)]
ROOT = Path(__file__).resolve().parents[2]


def test_every_real_model_passes_the_default_pipeline(tvm_image, riscv_image, real_models, tmp_path):
    settings = Settings(inbox=tmp_path / "inbox", results=tmp_path / "results", state=tmp_path / "state",
                        pipelines_dir=ROOT / "pipelines", executor="docker")
    settings.inbox.mkdir()
    for path in real_models.values():
        shutil.copy(path, settings.inbox / path.name)
    results = {result["model"]["name"]: result for result in run_inbox(settings, timeout=1400)}
    assert sorted(results) == sorted(p.name for p in real_models.values())
    for name, result in results.items():
        jobs = {j["id"]: j for j in result["jobs"]}
        assert result["status"] == "success", (name, result["errors"])
        assert jobs["compile-c"]["status"] == jobs["virtual-core"]["status"] == "success", (name, jobs)
        virtual = result["metrics"]["virtual"]
        assert virtual["backend"] == "reference-c", name
        assert virtual["bit_exact"] == virtual["vectors"] == 3, (name, virtual)
        assert virtual["instructions"] > 0 and virtual["rom_bytes"] > 0 and virtual["ram_bytes"] > 0, name
        assert result["metrics"]["reference_c"]["arena_bytes"] == virtual["arena_bytes"], name
