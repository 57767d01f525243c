"""Reference C backend benchmarks (issue 10): the seven real models of ../shared/models, then the two
MicroKWS-shaped samples (kws_dw1, kws_cnn3).

- RV32IMC instructions per inference (rdinstret around tvmgen_default_run, qemu-system-riscv32 -M virt
  -icount shift=0; riscv64-unknown-elf-gcc -march=rv32imc -mabi=ilp32 -O2, picolibc), and per MAC,
  beside published figures for the same models and the goals
- arena planned vs its lifetime lower bound (bytes live at once); ROM and RAM of the virtual core's firmware
- compile time of compile_c (median of 5) and of `benchd compile-c` as a command (samples)
- outputs bit-exact with TFLite's reference kernels on the core (when ai-edge-litert is installed)
"""

from __future__ import annotations

import hashlib
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "codegen")]

import harness  # noqa: E402
from model_tools import load_make_samples  # noqa: E402

from daemon.codegen import compile_c  # noqa: E402

MODELS = ROOT.parent / "shared" / "models"
# model -> (published instructions per inference for comparison, goal); RV32 figures from the issue
REAL = {
    "mlperf_kws_dscnn": ("TVM AOT 25.05 M, TFLM+muRISCV-NN scalar 15.66 M", 12e6),
    "mlperf_ic_resnet8": ("TVM AOT 98.47 M, TFLM+muRISCV-NN scalar 54.87 M", 45e6),
    "mlperf_vww96": ("TVM AOT 72.38 M", 36e6),
    "mlperf_ad01": ("TVM AOT 2.39 M (0.96 M at -O3)", 0.95e6),
    "micro_kws_m_yesnoupdownleftrightonoff_quantized": ("-", 20e6),
    "micro_kws_xs_yesno_quantized": ("seed's TVM 0.9 archive 0.616 M", 0.38e6),
    "mlperf_str_ww": ("-", None),
}
# The same firmware's ROM when issue 16 began (commit f27df6d: the original kernels, batch-1 signatures taken).
ROM_AT_START = {"mlperf_kws_dscnn": 49184, "mlperf_ic_resnet8": 105280, "mlperf_vww96": 283884, "mlperf_ad01": 296740,
                "micro_kws_m_yesnoupdownleftrightonoff_quantized": 49764, "micro_kws_xs_yesno_quantized": 29124,
                "mlperf_str_ww": 75576}
GOALS = {"kws_dw1": {"arena": 3960, "instructions": 500_000},
         "kws_cnn3": {"arena": 33320, "instructions": 30_000_000}}
TVM = {"kws_dw1": "TVM (issue 10's m-model figures): arena 8,384 B, 6.1 M instructions",
       "kws_cnn3": "TVM: arena 46,560 B, 75.1 M untuned / 38.6 M tuned instructions"}


def _cli_seconds(model: Path, out: Path) -> float | None:
    """`benchd compile-c` as a user runs it (process start included); None if the command has no such verb."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "daemon", "compile-c", str(model), "--output", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    return time.perf_counter() - t0 if proc.returncode == 0 else None


def bench(name: str, model: Path, work: Path) -> bool:
    times = []
    for k in range(5):
        t0 = time.perf_counter()
        report = compile_c(model, work / f"mlf{k}.tar")
        times.append(time.perf_counter() - t0)
    archive = work / "mlf0.tar"
    cli = _cli_seconds(model, work / "cli.tar")
    print(f"\n{name}: {report.operators} operators, {report.macs:,} MACs, constants {report.constants_bytes:,} B")
    goal = GOALS[name]
    print(f"  arena            {report.arena_bytes:>12,} B   lower bound {report.arena_lower_bound_bytes:,} B   "
          f"planned/bound {report.arena_bytes / max(report.arena_lower_bound_bytes, 1):.3f}   "
          f"(goal <= {goal['arena']:,} B: {'met' if report.arena_bytes <= goal['arena'] else 'NOT met'})")
    print(f"  compile_c        {statistics.median(times) * 1000:>12.1f} ms (median of 5)"
          + (f"   `benchd compile-c`: {cli * 1000:.0f} ms with process start" if cli is not None else ""))
    if not harness.HAVE_RV32:
        print("  RV32IMC          skipped: needs riscv64-unknown-elf-gcc, picolibc and qemu-system-riscv32")
        return True
    x = np.random.default_rng(0).integers(-128, 128, (3, 1960)).astype(np.int8)
    (work / "rv32").mkdir()
    elf, io = harness.build_rv32(archive, work / "rv32", [[row] for row in x])
    outs, counts = harness.run_rv32(elf, io)
    per_inference = statistics.median(counts)
    met = "met" if per_inference <= goal["instructions"] else "NOT met"
    print(f"  RV32IMC          {per_inference:>12,.0f} instructions / inference   "
          f"{per_inference / report.macs:.2f} per MAC   (goal <= {goal['instructions'] / 1e6:g} M: {met})")
    print(f"  for comparison   {TVM[name]}")
    if importlib.util.find_spec("ai_edge_litert") is not None:
        want = harness.reference(model, [x])[0]
        exact = sum(bool((o[0] == want[k]).all()) for k, o in enumerate(outs))
        print(f"  bit-exact on the core vs TFLite BUILTIN_REF: {exact}/{len(outs)}")
        return exact == len(outs)
    return True


def firmware_memory(model: Path, archive: Path, work: Path) -> tuple[int, int]:
    """ROM and RAM of the firmware benchd builds for the virtual core (daemon/virtcore: -O2, gc-sections, the
    runner and one vector included), by MLonMCU's section rules: what a board's flash and SRAM must hold."""
    from daemon.modelfile import describe_model
    from daemon.virtcore.build import build_firmware
    from daemon.virtcore.elfsize import elf_size

    shape = tuple(describe_model(model)["inputs"][0]["shape"])
    firmware = build_firmware(archive, np.zeros((1, *shape), np.int8), work / "fw",
                              hashlib.sha256(model.read_bytes()).hexdigest())
    usage = elf_size(firmware.elf)
    return usage.rom_bytes, usage.ram_bytes


def bench_real(model: Path, work: Path) -> bool:
    """One row of the real-model table; False if the core's outputs differ from TFLite's."""
    anchor, goal = REAL[model.stem]
    report = compile_c(model, work / "mlf.tar")
    arena = f"{report.arena_bytes}/{report.arena_lower_bound_bytes}"
    head = f"{model.stem[:28]:28s}"
    if not harness.HAVE_RV32:
        print(f"{head} {'-':>8s} {'-':>6s} {arena:>13s} {'-':>8s} {'-':>8s} {'-':>7s} {'-':>9s}  {anchor}")
        return True
    io = harness.unpack(work / "mlf.tar", work / "io")
    ins = harness.random_inputs(io, 2, seed=3)
    elf, io = harness.build_rv32(work / "mlf.tar", work / "rv", [[x[k] for x in ins] for k in range(2)])
    outs, counts = harness.run_rv32(elf, io, timeout=600)
    n = statistics.median(counts)
    exact: bool | None = None
    if importlib.util.find_spec("ai_edge_litert") is not None:
        ref = harness.reference(model, ins)
        exact = all((outs[k][j] == ref[j][k]).all() for k in range(2) for j in range(len(ref)))
    rom, ram = firmware_memory(model, work / "mlf.tar", work)
    growth = f"{(rom / ROM_AT_START[model.stem] - 1) * 100:+.1f} %"
    met = "-" if goal is None else f"{goal / 1e6:g} M {'met' if n <= goal else 'NOT met'}"
    print(f"{head} {n / 1e6:8.3f} {n / report.macs:6.2f} {arena:>13s} {rom:>8,} {growth:>8s} {ram:>7,} "
          f"{'-' if exact is None else 'yes' if exact else 'NO':>9s}  {met:14s}  {anchor}")
    return exact is not False


def real_models(tmp: Path) -> bool:
    print("\nreal models (../shared/models): RV32IMC -O2 instructions per inference (median of 2 random inputs)")
    print("ROM, RAM: the virtual core's firmware (gc-sections); ROM vs issue 16's start (goal: at most +15 %)")
    print(f"{'model':28s} {'M instr':>8s} {'/MAC':>6s} {'arena/bound':>13s} {'ROM B':>8s} {'vs start':>8s} "
          f"{'RAM B':>7s} {'bit-exact':>9s}  {'goal':14s}  published, same models")
    ok = True
    for name in REAL:
        model = MODELS / f"{name}.tflite"
        if not model.exists():
            print(f"{name[:28]:28s} skipped: {model} is absent")
            continue
        work = tmp / name
        work.mkdir()
        ok &= bench_real(model, work)
    return ok


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        ok = real_models(Path(tmp))
        samples = load_make_samples().write_samples(Path(tmp) / "samples")
        for name in GOALS:
            work = Path(tmp) / name
            work.mkdir()
            ok &= bench(name, samples[f"{name}.tflite"], work)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
