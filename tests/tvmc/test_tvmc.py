"""The tvmc front end on real TVM 0.27, always through the command line in a subprocess."""

from __future__ import annotations

import json
import re
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from model_tools import tvm_available, tvmc

pytestmark = [pytest.mark.tvm, tvm_available]

MLF_FLAGS = ["--target", "c", "--runtime", "crt", "--executor", "aot", "--executor-aot-unpacked-api=1",
             "--output-format", "mlf", "--pass-config", "tir.usmp.enable=1",
             "--pass-config", "tir.usmp.algorithm=hill_climb"]


def test_compile_writes_library_and_metadata(compiled_xs: Path, samples: dict[str, Path]) -> None:
    with tarfile.open(compiled_xs) as tar:
        assert sorted(tar.getnames()) == ["metadata.json", "mod.so"]
        meta = json.loads(tar.extractfile("metadata.json").read())  # type: ignore[union-attr]
    assert meta["tvm_version"].startswith("0.27")
    assert meta["model"]["name"] == "kws_xs.tflite"
    assert meta["inputs"][0]["shape"] == [1, 1960] and meta["inputs"][0]["dtype"] == "int8"
    assert meta["outputs"][0]["zero_point"] == -128
    assert meta["compile_s"] < 60


def test_run_prints_top_results_like_tvmc(compiled_xs: Path, tmp_path: Path) -> None:
    x = np.random.default_rng(5).integers(-128, 128, (1, 1960)).astype(np.int8)
    np.savez(tmp_path / "in.npz", input=x)
    proc = tvmc("run", str(compiled_xs), "--inputs", str(tmp_path / "in.npz"), "--print-top", "4",
                "--outputs", str(tmp_path / "out.npz"))
    assert proc.returncode == 0, proc.stderr
    out = np.load(tmp_path / "out.npz")["output_0"]
    assert out.shape == (1, 12) and out.dtype == np.int8
    rows = re.findall(r"\[([-\d\s]+)\]", proc.stdout)
    assert len(rows) == 2 and proc.stdout.startswith("[[")
    indices, values = (list(map(int, r.split())) for r in rows)
    assert values == sorted(out[0].tolist(), reverse=True)[:4]
    assert [int(out[0][i]) for i in indices] == values


def test_run_print_time_table(compiled_xs: Path) -> None:
    proc = tvmc("run", str(compiled_xs), "--fill-mode", "ones", "--print-time", "--repeat", "5", "--number", "3")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "Execution time summary:"
    assert lines[1].split() == ["mean", "(ms)", "median", "(ms)", "max", "(ms)", "min", "(ms)", "std", "(ms)"]
    mean, median, high, low, std = map(float, lines[2].split())
    assert 0 < low <= median <= high and low <= mean <= high and std >= 0


def test_mlf_command_line_names_the_legacy_image(samples: dict[str, Path], tmp_path: Path) -> None:
    started = time.monotonic()
    proc = tvmc("compile", str(samples["kws_xs.tflite"]), *MLF_FLAGS, "--output", str(tmp_path / "mlf.tar"))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert "benchd/tvm-legacy" in proc.stderr and "v0.18.0" in proc.stderr
    assert "--executor aot" in proc.stderr and "tir.usmp.algorithm=hill_climb" in proc.stderr
    assert not (tmp_path / "mlf.tar").exists()
    assert time.monotonic() - started < 20  # refused before TVM is even imported


def test_unsupported_operator_is_named(samples: dict[str, Path], tmp_path: Path) -> None:
    proc = tvmc("compile", str(samples["unsupported_op.tflite"]), "--output", str(tmp_path / "m.tar"))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert "cannot import the quantized operator(s) PAD" in proc.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("name", "expected"), [("truncated.tflite", "truncated or corrupt"),
                                                ("random.tflite", "not a TFLite flatbuffer")])
def test_broken_model_is_a_one_line_error(samples: dict[str, Path], name: str, expected: str) -> None:
    proc = tvmc("compile", str(samples[name]))
    assert proc.returncode == 2 and expected in proc.stderr and "Traceback" not in proc.stderr


def test_tuning_records_are_accepted_with_a_warning(samples: dict[str, Path], tmp_path: Path) -> None:
    records = tmp_path / "records.json"
    records.write_text("{}\n")
    proc = tvmc("compile", str(samples["kws_float.tflite"]), "--tuning-records", str(records), "-O", "2",
                "--output", str(tmp_path / "f.tar"))
    assert proc.returncode == 0, proc.stderr
    assert "warning: --tuning-records" in proc.stderr and "cannot apply" in proc.stderr
    run = tvmc("run", str(tmp_path / "f.tar"), "--fill-mode", "random", "--outputs", str(tmp_path / "o.npz"))
    assert run.returncode == 0, run.stderr
    assert np.load(tmp_path / "o.npz")["output_0"].sum() == pytest.approx(1.0, abs=1e-4)  # softmax


def test_run_errors_are_one_line(compiled_xs: Path, tmp_path: Path) -> None:
    proc = tvmc("run", str(tmp_path / "nothing.tar"))
    assert proc.returncode == 2 and "tvmc compile" in proc.stderr
    np.savez(tmp_path / "bad.npz", wrong_name=np.zeros((1, 1960), np.int8))
    proc = tvmc("run", str(compiled_xs), "--inputs", str(tmp_path / "bad.npz"))
    assert proc.returncode == 2 and "wrong_name" in proc.stderr and "Traceback" not in proc.stderr
