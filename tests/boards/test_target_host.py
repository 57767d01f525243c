"""target/runner/model_runner.c is plain C: it compiles with the host gcc against a stub MLF and prints
BENCHD_RESULT lines (version 2) the monitor parses; optionally it also cross-compiles for the C3's rv32imc."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.boards.console import ConsoleJudge

pytestmark = [pytest.mark.board, pytest.mark.timeout(60)]
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
MLF = FIXTURES / "mlf_stub"
SHA = "ab" * 32


def model_header(tmp_path: Path) -> Path:
    out = tmp_path / "gen" / "benchd_model.h"
    subprocess.run([sys.executable, str(ROOT / "target/tools/gen_model_header.py"), "--mlf", str(MLF), "--sha256", SHA,
                    "--vectors", "4", "--seed", "7", "--out", str(out)], check=True, timeout=30)
    return out


def compile_args(header: Path) -> list[str]:
    return ["-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", f"-I{ROOT / 'target/runner'}", f"-I{header.parent}",
            f"-I{MLF / 'codegen/host/include'}", str(ROOT / "target/runner/model_runner.c"),
            str(ROOT / "target/runner/sha256.c"),
            str(MLF / "codegen/host/src/default_lib0.c")]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a host gcc")
def test_runner_compiles_and_runs_on_the_host(tmp_path: Path) -> None:
    header = model_header(tmp_path)
    text = header.read_text()
    assert "(s).serving_default_input_1_0 = (buf)" in text and "#define BENCHD_INPUT_SIZE 16" in text
    exe = tmp_path / "runner"
    subprocess.run(["gcc", *compile_args(header), str(FIXTURES / "host_main.c"), "-o", str(exe)], check=True,
                   timeout=60)
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=10)
    assert run.returncode == 0, run.stderr
    judge = ConsoleJudge(count=4)
    for line in run.stdout.splitlines():
        judge.feed(line)
    assert judge.satisfied and not judge.bad_results and len(judge.results) == 4
    vectors = _vectors(text)
    for result, vector in zip(judge.results, vectors, strict=True):
        assert result["v"] == 2 and result["model_sha256"] == SHA and result["ok"] is True
        assert isinstance(result["cycles"], int)
        expected = [max(-128, min(127, int(sum(vector[j::4][:4]) / 8))) for j in range(4)]  # the stub model
        order = sorted(range(4), key=lambda j: (-expected[j], j))[:3]
        assert result["top"] == [[j, expected[j]] for j in order]
        assert result["out"] == expected


def _vectors(header: str) -> list[list[int]]:
    body = header.split("= {", 1)[1].split("};", 1)[0]
    return [[int(v) for v in row.strip(" {},\n").split(",")] for row in body.split("},") if row.strip(" {},\n")]


@pytest.mark.skipif(shutil.which("riscv64-unknown-elf-gcc") is None, reason="needs riscv64 gcc + picolibc")
def test_runner_cross_compiles_for_rv32imc(tmp_path: Path) -> None:
    header = model_header(tmp_path)
    obj = tmp_path / "runner.o"
    args = [a for a in compile_args(header) if not a.endswith(("default_lib0.c", "sha256.c"))]
    subprocess.run(["riscv64-unknown-elf-gcc", "--specs=picolibc.specs", "-march=rv32imc", "-mabi=ilp32", "-c", *args,
                    "-o", str(obj)], check=True, timeout=60)
    info = subprocess.run(["riscv64-unknown-elf-objdump", "-f", str(obj)], capture_output=True, text=True, timeout=10)
    assert "elf32-littleriscv" in info.stdout
