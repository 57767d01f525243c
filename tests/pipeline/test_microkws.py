"""The default pipeline's microcontroller half: compile-mlf is the seed's command, and the firmware job builds
from the compile-c archive on every drop and from TVM's when compile-mlf succeeded (issue 17, items 4 and 11)."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from daemon.actions import ACTIONS
from daemon.pipeline import expr, steps
from daemon.pipeline.loader import find_workflow, load_workflow
from daemon.pipeline.model import Workflow

ROOT = Path(__file__).resolve().parents[2]
# The seed's MLF command, verbatim from tum-ei-eda/micro-kws tvm/tutorial_tvmc.md ("For execution on embedded
# device", then "Bonus: Using autotuned operators"): what benchd's compile-mlf must keep, option for option.
SEED_MLF = """tvmc compile data/micro_kws_m_yesnoupdownleftrightonoff_quantized.tflite --output gen/mlf_tuned.tar \
    --target c --runtime crt --executor-aot-interface-api c \
    --executor=aot --executor-aot-unpacked-api=1 --desired-layout NCHW \
    --output-format mlf --pass-config tir.disable_vectorize=1 \
    --pass-config tir.usmp.enable=1 --pass-config tir.usmp.algorithm=hill_climb \
    --tuning-records data/micro_kws_m_tuning_log_nchw_best.txt"""
PATH_VALUED = ("--output", "--tuning-records")  # options whose value is a file of the run, not a setting


def microkws() -> Workflow:
    return load_workflow(find_workflow("microkws", ROOT / "pipelines"), ACTIONS)


def options(argv: list[str]) -> list[tuple[str, str]]:
    """(--option, value) pairs, `--opt=value` and `--opt value` alike; path values become `<path>`."""
    pairs, i = [], 0
    while i < len(argv):
        word = argv[i]
        if word.startswith("--"):
            name, eq, value = word.partition("=")
            if not eq:
                i += 1
                value = argv[i]
            pairs.append((name, "<path>" if name in PATH_VALUED else value))
        i += 1
    return pairs


def run_mlf_step(tmp_path: Path, records: str) -> list[str]:
    """The compile-mlf step's script as the runner renders it, run by bash with a `tvmc` that records argv."""
    step = microkws().jobs["compile-mlf"].steps[0]
    ctx = expr.Context({"needs": {"tuning": {"result": "success" if records else "skipped",
                                             "outputs": {"records": records}}}})
    script, env = steps.script_for(step, ctx)
    fake = tmp_path / "bin" / "tvmc"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$ARGV_FILE"\n')
    fake.chmod(0o755)
    (tmp_path / "step.sh").write_text(script)
    argv_file = tmp_path / "argv"
    env.update(PATH=f"{fake.parent}:{os.environ['PATH']}", ARGV_FILE=str(argv_file),
               BENCHD_MODEL=str(tmp_path / "kws.tflite"), BENCHD_WORKSPACE=str(tmp_path))
    subprocess.run(["bash", "-e", str(tmp_path / "step.sh")], env=env, check=True, timeout=30)
    return argv_file.read_text().splitlines()


@pytest.mark.parametrize("tuned", [False, True])
def test_compile_mlf_runs_every_option_of_the_seeds_command(tmp_path: Path, tuned: bool) -> None:
    records = "/lab/logs/micro_kws_m_tuning_log_nchw_best.txt" if tuned else ""
    argv = run_mlf_step(tmp_path, records)
    seed = options(shlex.split(SEED_MLF)[2:])
    ours = options(argv[1:])
    assert argv[0] == "compile" and argv[1] == str(tmp_path / "kws.tflite")
    missing = [pair for pair in seed if pair not in ours and (tuned or pair[0] != "--tuning-records")]
    assert not missing, f"compile-mlf drops the seed's {missing}"
    assert ("--output", "<path>") in ours and argv[argv.index("--output") + 1] == str(tmp_path / "mlf.tar")
    if tuned:  # the log given is the one applied
        assert argv[argv.index("--tuning-records") + 1] == records
    else:
        assert "--tuning-records" not in argv
