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
               BENCHD_MODEL=str(tmp_path / "kws.tflite"), BENCHD_WORKSPACE=str(tmp_path),
               BENCHD_OUTPUT=str(tmp_path / "outputs"))
    subprocess.run(["bash", "-e", str(tmp_path / "step.sh")], env=env, check=True, timeout=30)
    assert steps.parse_outputs((tmp_path / "outputs").read_text()) == {"archive": str(tmp_path / "mlf.tar")}
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


# -- the firmware job: a backend matrix over both archives -------------------------------------------------------
FAKE_BUILD = """#!/bin/bash
# benchd-build-firmware as the firmware job calls it: argv kept, a flasher_args.json made (no ESP-IDF here)
out="${@: -1}"
mkdir -p "$out" {calls}
printf '%s\\n' "$@" > "{calls}/$(basename "$out")"
echo "$BENCHD_WORKSPACE" > {calls}/workspace
case "$out" in */reference-c) sleep 0.5 ;; esac   # the reference ends last: it must not blank TVM's output
echo '{"flash_files": {"0x0": "b.bin"}}' > "$out/flasher_args.json"
"""
UPSTREAM = """\
name: firmware-only
env: { PATH: "{bin}:/usr/bin:/bin" }
jobs:
  compile-c:
    steps:
      - id: compile
        run: |
          {compile_c}
          echo "archive=$BENCHD_WORKSPACE/artifacts/reference-c/mlf.tar" >> "$BENCHD_OUTPUT"
    outputs: { archive: "${{ steps.compile.outputs.archive }}" }
  compile-mlf:
    steps:
      - id: mlf
        run: |
          {compile_mlf}
          echo "archive=$BENCHD_WORKSPACE/mlf.tar" >> "$BENCHD_OUTPUT"
    outputs: { archive: "${{ steps.mlf.outputs.archive }}" }
  vectors:
    steps:
      - id: make
        run: printf 'file=%s/v.bin\\ninput_size=1960\\noutput_size=2\\n' "$BENCHD_WORKSPACE" >> "$BENCHD_OUTPUT"
    outputs: { file: "${{ steps.make.outputs.file }}", input_size: "${{ steps.make.outputs.input_size }}",
               output_size: "${{ steps.make.outputs.output_size }}" }
"""
PROBE = """\
  probe:                             # what a job after firmware sees of its outputs
    needs: firmware
    if: always()
    steps:
      - run: echo "${{ needs.firmware.outputs.reference-c }}|${{ needs.firmware.outputs.tvm }}" > {calls}/seen
"""
SKIP_MLF = 'echo "image benchd/tvm-legacy is not on this machine"; exit 78'
SKIP_C = 'echo "kws.tflite: operator 0 (ABS) is not supported"; exit 78'


def firmware_workflow(tmp_path: Path, compile_c: str = ":", compile_mlf: str = ":") -> str:
    """The default pipeline's own firmware and flash jobs (verbatim but for `container:`: no engine in this tier,
    the local executor runs the step) after stand-ins for the jobs they need."""
    text = (ROOT / "pipelines" / "microkws.yml").read_text()
    firmware = text[text.index("\n  firmware:") + 1:text.index("\n  flash:") + 1]
    flash = text[text.index("\n  flash:") + 1:]
    assert "    container: benchd/espidf" in firmware
    firmware = "\n".join(line for line in firmware.splitlines() if not line.startswith("    container:")) + "\n"
    fake = tmp_path / "bin" / "benchd-build-firmware"
    fake.parent.mkdir()
    (tmp_path / "calls").mkdir()
    fake.write_text(FAKE_BUILD.replace("{calls}", str(tmp_path / "calls")))
    fake.chmod(0o755)
    upstream = (UPSTREAM.replace("{bin}", str(fake.parent)).replace("{compile_c}", compile_c)
                .replace("{compile_mlf}", compile_mlf))
    return upstream + firmware + flash + PROBE.replace("{calls}", str(tmp_path / "calls"))


def run_firmware(tmp_path: Path, **jobs: str) -> tuple[dict, Path]:
    """The jobs of the run by id, and the run's workspace (gone by now: only its paths are compared)."""
    from tests.pipeline.test_runner import run_workflow

    result = run_workflow(tmp_path, firmware_workflow(tmp_path, **jobs))
    workspace = tmp_path / "calls" / "workspace"  # written by the fake build: a run without one never needs it
    return {j["id"]: j for j in result["jobs"]}, Path(workspace.read_text().strip() if workspace.is_file() else "")


def calls(tmp_path: Path, name: str) -> list[str]:
    """The argv a backend's build was called with, or the `seen` line of the probe job."""
    return (tmp_path / "calls" / name).read_text().splitlines()


def test_firmware_builds_from_the_compile_c_archive_when_compile_mlf_did_not_run(tmp_path: Path) -> None:
    jobs, ws = run_firmware(tmp_path, compile_mlf=SKIP_MLF)
    assert jobs["firmware (reference-c)"]["status"] == "success"
    assert calls(tmp_path, "reference-c") == [
        "--model", str(tmp_path / "models" / "kws.tflite"), "--inputs", str(ws / "v.bin"), "--input-size", "1960",
        "--output-size", "2", str(ws / "artifacts" / "reference-c" / "mlf.tar"), str(ws / "firmware" / "reference-c")]
    tvm = jobs["firmware (tvm)"]
    assert tvm["status"] == "skipped" and not (tmp_path / "calls" / "tvm").exists()
    assert tvm["skip_reason"] == "needed job compile-mlf was skipped: image benchd/tvm-legacy is not on this machine"
    assert calls(tmp_path, "seen") == [f"{ws / 'firmware' / 'reference-c'}|"]
    # flash's `if:` held (a firmware exists); it stops only for want of a board
    assert jobs["flash"]["status"] == "skipped" and jobs["flash"]["skip_reason"].startswith("matrix `board` is empty")


def test_firmware_builds_both_backends_side_by_side_when_compile_mlf_succeeded(tmp_path: Path) -> None:
    jobs, ws = run_firmware(tmp_path)
    assert jobs["firmware (reference-c)"]["status"] == jobs["firmware (tvm)"]["status"] == "success"
    assert calls(tmp_path, "tvm")[-2:] == [str(ws / "mlf.tar"), str(ws / "firmware" / "tvm")]
    assert calls(tmp_path, "reference-c")[-2] == str(ws / "artifacts" / "reference-c" / "mlf.tar")
    # both outputs reach the jobs after, although the reference instance (tvm="") finished last
    assert calls(tmp_path, "seen") == [f"{ws / 'firmware' / 'reference-c'}|{ws / 'firmware' / 'tvm'}"]


def test_without_any_firmware_flash_says_so(tmp_path: Path) -> None:
    jobs, _ = run_firmware(tmp_path, compile_c=SKIP_C, compile_mlf=SKIP_MLF)
    assert jobs["firmware (reference-c)"]["status"] == jobs["firmware (tvm)"]["status"] == "skipped"
    assert jobs["flash"]["status"] == "skipped" and jobs["flash"]["skip_reason"].startswith("if: ")


def test_a_model_outside_the_reference_backend_still_gets_tvms_firmware(tmp_path: Path) -> None:
    jobs, ws = run_firmware(tmp_path, compile_c=SKIP_C)
    assert jobs["firmware (tvm)"]["status"] == "success"
    ref = jobs["firmware (reference-c)"]
    assert ref["status"] == "skipped" and ref["skip_reason"] == ("needed job compile-c was skipped: kws.tflite: "
                                                                 "operator 0 (ABS) is not supported")


def test_the_firmware_matrix_is_planned_from_the_pipeline() -> None:
    job = microkws().jobs["firmware"]
    assert job.matrix == {"backend": ["reference-c", "tvm"]} and job.fail_fast is False
    assert set(job.needs) == {"compile-c", "compile-mlf", "vectors"}  # not compile-mlf alone
    assert job.container == "benchd/espidf" and job.continue_on_error
    flash = microkws().jobs["flash"]
    assert [s.with_.get("backend") for s in flash.steps] == ["reference-c", "reference-c", "tvm", "tvm"]
