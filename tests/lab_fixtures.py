"""A lab's dashboard data: several models with several runs each, built on a real result.json.

data/kws_s.result.json is what `benchd` wrote for data/samples/kws_s.tflite with the local executor (host
compile and validate, the reference C backend; the container jobs skipped). The later runs add what a bench
with Docker and boards records: the virtual core's figures (the benchd/riscv image's real toolchain record),
a simulated board (instructions) and a real one (cycles), and compile-mlf's skip reason when the legacy
image's build
failed (eight lines on the page).
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

from report_fixtures import make_run

from daemon.store.db import Store

REAL_RESULT = Path(__file__).parent / "report_data" / "kws_s.result.json"
TOOLCHAIN = {"gcc-riscv64-unknown-elf": "12.2.0-14+deb12u1+11+b2", "picolibc-riscv64-unknown-elf": "1.8-1",
             "qemu-system-misc": "1:7.2+dfsg-7+deb12u18+b3"}  # /opt/benchd/riscv-versions.json in benchd/riscv
MLF_SKIP = ("image benchd/tvm-legacy is not on this machine, could not be pulled (pull access denied for "
            "benchd/tvm-legacy, repository does not exist or may require 'docker login'), and building "
            "docker/tvm-legacy failed: a RUN step returned a non-zero code: 100 (last output: E: Unable to locate "
            "package llvm-15-dev | E: Couldn't find any package by glob 'llvm-15-dev' | E: Couldn't find any "
            "package by regex 'llvm-15-dev'); run `benchd images bootstrap` (an offline Debian base) and set "
            "docker.extra_ca when a proxy intercepts TLS, then `benchd images build tvm-legacy` to see the whole "
            "log")  # images.py's words, one line that wraps to eight on the run page


def real_result() -> dict[str, Any]:
    return json.loads(REAL_RESULT.read_text(encoding="utf-8"))


def bench_result(run_id: str, instructions: int, max_diff: float, sim_ok: bool = True) -> dict[str, Any]:
    """The real result with what Docker and two boards add (a simulated ESP32-C3, a real one)."""
    result = copy.deepcopy(real_result())
    result["run_id"] = run_id
    m = result["metrics"]
    m["host"]["max_abs_diff"] = max_diff
    m["virtual"] = {"backend": "reference-c", "instructions": instructions, "rom_bytes": 61_312, "ram_bytes": 27_096,
                    "arena_bytes": 24_000, "vectors": 3, "bit_exact": 3, "outputs": [[-128] * 11 + [127]] * 3,
                    "output_dtype": "int8", "toolchain": TOOLCHAIN}
    m["boards"] = [
        {"id": "sim-c3-0", "port": "socket://127.0.0.1:40311", "chip": "ESP32-C3", "mac": "60:55:f9:00:00:01",
         "backend": "reference-c", "flash_s": 1.9, "status": "ok" if sim_ok else "error",
         "cycles_per_inference": None, "instructions": instructions + 1_204, "bit_exact": 3 if sim_ok else None,
         "vectors": 3, "rom_bytes": 61_312, "ram_bytes": 27_096, "error": None if sim_ok else
         "no BENCHD_RESULT line within 30 s (the firmware printed its banner, then nothing)"},
        {"id": "7C:DF:A1:0E:22:40", "port": "/dev/ttyACM0", "chip": "ESP32-C3", "mac": "7c:df:a1:0e:22:40",
         "backend": "reference-c", "flash_s": 6.4, "status": "ok", "cycles_per_inference": 2_871_204,
         "instructions": None, "bit_exact": 3, "vectors": 3, "rom_bytes": 198_432, "ram_bytes": 41_880},
    ]
    for job in result["jobs"]:
        if job["id"] == "compile-mlf":
            job["skip_reason"] = MLF_SKIP
        if job["id"] in ("virtual-core", "flash-virtual"):
            job.pop("skip_reason", None)
            job["status"] = "success"
    return result


def lab(store: Store, results: Path) -> dict[str, list[str]]:
    """Four models as a bench sees them: kws_s (five runs, the instructions trending down), kws_xs (three),
    unsupported_op (one failed run), a long-named model (one run). Run ids by model, oldest first."""
    runs: dict[str, list[str]] = {}
    for n, (instr, diff) in enumerate(((1_402_118, 11.0), (1_388_004, 9.0), (1_350_870, 9.0), (1_351_002, 8.0),
                                       (1_297_431, 9.0))):
        run_id, folder = make_run(store, results, model="kws_s.tflite")
        (folder / "result.json").write_text(json.dumps(bench_result(run_id, instr, diff, sim_ok=n != 3)))
        runs.setdefault("kws_s.tflite", []).append(run_id)
        time.sleep(0.002)
    for instr in (402_660, 398_120, 398_120):
        run_id, folder = make_run(store, results, model="kws_xs.tflite")
        (folder / "result.json").write_text(json.dumps(bench_result(run_id, instr, 4.0)))
        runs.setdefault("kws_xs.tflite", []).append(run_id)
        time.sleep(0.002)
    run_id, folder = make_run(store, results, "error", model="unsupported_op.tflite")
    failed = real_result()
    failed.update(run_id=run_id, status="error", metrics={"host": {}, "boards": []},
                  errors=[{"where": "compile-host/compile", "message": "exited with code 2: tvmc: error: "
                           "unsupported_op.tflite: TVM 0.27.0.post1's TFLite frontend cannot import the quantized "
                           "operator(s) PAD."}])
    (folder / "result.json").write_text(json.dumps(failed))
    runs["unsupported_op.tflite"] = [run_id]
    name = "person_detection_mobilenet_v1_025_int8_quantized_with_a_long_name.tflite"
    run_id, folder = make_run(store, results, model=name)
    (folder / "result.json").write_text(json.dumps(bench_result(run_id, 25_114_902, 3.0)))
    runs[name] = [run_id]
    return runs
