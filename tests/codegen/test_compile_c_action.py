"""The benchd/compile-c action and its job in the default pipeline."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest
from model_tools import ROOT, run_py

from daemon.actions import ACTIONS
from daemon.actions.compile_c import run
from daemon.actions.context import ActionContext


def _context(tmp_path: Path, model: Path) -> ActionContext:
    return ActionContext(name="compile-c", inputs={}, model=model, workspace=tmp_path,
                         output_file=tmp_path / "output", metrics_file=tmp_path / "metrics",
                         summary_file=tmp_path / "summary.md")


def test_action_writes_archive_outputs_and_metrics(tmp_path: Path, samples: dict[str, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    run(_context(tmp_path, samples["kws_cnn3.tflite"]))
    outputs = dict(line.split("=", 1) for line in (tmp_path / "output").read_text().splitlines())
    archive = Path(outputs["archive"])
    assert archive == tmp_path / "artifacts" / "reference-c" / "mlf.tar"
    with tarfile.open(archive) as tar:
        assert "codegen/host/include/tvmgen_default.h" in tar.getnames()
    assert (tmp_path / "reference-c.tar").read_bytes() == archive.read_bytes()  # where virtual-core looks
    metrics = json.loads((tmp_path / "metrics").read_text())["reference_c"]
    assert set(metrics) == {"arena_bytes", "arena_lower_bound_bytes", "constants_bytes", "operators"}
    assert metrics["arena_bytes"] == metrics["arena_lower_bound_bytes"] == int(outputs["arena_bytes"])
    assert metrics["operators"] == 12 and int(outputs["macs"]) > 5_000_000
    assert "arena lower bound" in (tmp_path / "summary.md").read_text()
    assert "kws_cnn3.tflite" in capsys.readouterr().out


@pytest.mark.parametrize(("name", "reason"), [("truncated.tflite", "truncated or corrupt"),
                                              ("kws_float.tflite", "float model")])
def test_refused_model_exits_2_with_the_reason(name: str, reason: str, tmp_path: Path,
                                               samples: dict[str, Path]) -> None:
    proc = run_py(["-m", "daemon.actions", "compile-c"],
                  env={"BENCHD_MODEL": str(samples[name]), "BENCHD_WORKSPACE": str(tmp_path)})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert re.search(r"::error::benchd/compile-c: .*" + reason, proc.stdout), proc.stdout
    assert not (tmp_path / "artifacts" / "reference-c" / "mlf.tar").exists()


def test_default_pipeline_runs_compile_c_beside_compile_host() -> None:
    from daemon.pipeline.loader import load_workflow

    workflow = load_workflow(ROOT / "pipelines" / "microkws.yml", actions=tuple(ACTIONS))
    jobs = {job.id: job for job in workflow.jobs} if isinstance(workflow.jobs, (list, tuple)) else workflow.jobs
    compile_c, compile_host = jobs["compile-c"], jobs["compile-host"]
    assert tuple(compile_c.needs) == ("inspect",)
    assert "compile-c" not in tuple(compile_host.needs)
    assert not compile_c.continue_on_error and compile_c.container is None
    assert [s.uses for s in compile_c.steps] == ["benchd/compile-c"]
