"""benchd/validate run as a step process, checked against an independent calculation."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from model_tools import run_py, tvm_available

pytestmark = [pytest.mark.tvm, tvm_available]

# Plain TVM, none of benchd's runner: load mod.so, run every input of in.npz, save out.npz.
INDEPENDENT_RUN = """
import sys, numpy as np, tvm
from tvm import relax

vm = relax.VirtualMachine(tvm.runtime.load_module(sys.argv[1]), tvm.cpu())
xs = np.load(sys.argv[2])["x"]
np.savez(sys.argv[3], y=np.stack([vm["main"](tvm.runtime.tensor(x)).numpy() for x in xs]))
"""


def _validate(models: dict[str, Path], module: Path, tmp_path: Path, **inputs: str):  # type: ignore[no-untyped-def]
    env = {"BENCHD_MODEL": str(models["kws_xs.tflite"]), "BENCHD_WORKSPACE": str(module.parent),
           "BENCHD_OUTPUT": str(tmp_path / "output"), "BENCHD_METRICS": str(tmp_path / "metrics"),
           "BENCHD_SUMMARY": str(tmp_path / "summary.md")}
    # Inputs as the runner passes them: BENCHD_INPUT_<NAME>, e.g. BENCHD_INPUT_SAMPLES.
    env.update({"BENCHD_INPUT_" + k.upper(): v for k, v in inputs.items()})
    return run_py(["-m", "daemon.actions", "validate"], env=env)


def test_metrics_agree_with_an_independent_calculation(samples: dict[str, Path], compiled_xs: Path,
                                                       tmp_path: Path) -> None:
    proc = _validate(samples, compiled_xs, tmp_path, samples="12", seed="3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    host = json.loads((tmp_path / "metrics").read_text())["host"]
    assert host["samples"] == 12
    assert host["thresholds"] == {"max_abs_diff": 128.0, "min_top1": 0.8}
    assert host["latency_ms"] > 0 and host["reference_latency_ms"] > 0

    # The same seeded inputs the action documents: full-range int8 from default_rng(seed).
    rng = np.random.default_rng(3)
    xs = np.stack([rng.integers(-128, 128, size=(1, 1960)).astype(np.int8) for _ in range(12)])
    np.savez(tmp_path / "in.npz", x=xs)
    with tarfile.open(compiled_xs) as tar:
        tar.extract("mod.so", tmp_path, filter="data")
    proc = run_py(["-c", INDEPENDENT_RUN, str(tmp_path / "mod.so"), str(tmp_path / "in.npz"),
                   str(tmp_path / "out.npz")])
    assert proc.returncode == 0, proc.stderr
    tvm_out = np.load(tmp_path / "out.npz")["y"].astype(np.int64)

    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    ref = Interpreter(model_path=str(samples["kws_xs.tflite"]),
                      experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    ref.allocate_tensors()
    ref_out = []
    for x in xs:
        ref.set_tensor(ref.get_input_details()[0]["index"], x)
        ref.invoke()
        ref_out.append(ref.get_tensor(ref.get_output_details()[0]["index"]).astype(np.int64))
    ref_arr = np.stack(ref_out)
    assert host["max_abs_diff"] == float(np.abs(tvm_out - ref_arr).max())
    agree = [r[0][np.argmax(t[0])] == r[0].max() for t, r in zip(tvm_out, ref_arr, strict=True)]
    assert host["top1_agreement"] == pytest.approx(sum(agree) / 12)
    assert host["top1_agreement"] >= 0.5  # sanity: most classes agree on this model

    outputs = dict(line.split("=", 1) for line in (tmp_path / "output").read_text().splitlines())
    assert outputs["passed"] == "true" and float(outputs["max_abs_diff"]) == host["max_abs_diff"]
    assert "top-1 agreement" in (tmp_path / "summary.md").read_text()


def test_threshold_failure_names_value_and_threshold(samples: dict[str, Path], compiled_xs: Path,
                                                    tmp_path: Path) -> None:
    proc = _validate(samples, compiled_xs, tmp_path, samples="5", max_abs_diff="0", min_top1="1.0")
    host = json.loads((tmp_path / "metrics").read_text())["host"]
    assert proc.returncode == 1
    error = [line for line in proc.stdout.splitlines() if line.startswith("::error::")]
    assert len(error) == 1
    assert f"max abs diff {host['max_abs_diff']:g} LSB exceeds max-abs-diff 0" in error[0]
    if host["top1_agreement"] < 1.0:
        assert "below min-top1 1" in error[0]


def test_missing_module_says_how_to_compile(samples: dict[str, Path], tmp_path: Path) -> None:
    proc = _validate(samples, tmp_path / "module.tar", tmp_path)
    assert proc.returncode == 1
    assert "no compiled module" in proc.stdout and "tvmc compile" in proc.stdout
