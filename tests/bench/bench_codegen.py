"""Reference C backend benchmarks (issue 10), for the two MicroKWS-shaped samples (kws_dw1, kws_cnn3).

- RV32IMC instructions per inference (rdinstret around tvmgen_default_run, qemu-system-riscv32 -M virt
  -icount shift=0; riscv64-unknown-elf-gcc -march=rv32imc -mabi=ilp32 -O2, picolibc), and per MAC
- arena planned vs its lifetime lower bound (bytes live at once), beside the issue's goals
- compile time of compile_c (median of 5) and of `benchd compile-c` as a command
- outputs bit-exact with TFLite's reference kernels on the core (when ai-edge-litert is installed)
"""

from __future__ import annotations

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


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        samples = load_make_samples().write_samples(Path(tmp) / "samples")
        ok = True
        for name in GOALS:
            work = Path(tmp) / name
            work.mkdir()
            ok &= bench(name, samples[f"{name}.tflite"], work)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
