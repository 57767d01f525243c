"""`benchd/compile-c`: the dropped model through the reference C backend (daemon.codegen), no TVM.

Writes the MLF-layout archive to $BENCHD_WORKSPACE/artifacts/reference-c/mlf.tar (kept with the result) and
a copy at $BENCHD_WORKSPACE/reference-c.tar, where benchd/virtual-core looks by default. Step outputs:
archive, arena_bytes, arena_lower_bound_bytes, constants_bytes, operators, macs; metrics.reference_c =
{arena_bytes, arena_lower_bound_bytes, constants_bytes, operators}. A model the backend refuses (an
unsupported operator, float, uint8, a dynamic shape, several subgraphs) is a fact about the model, not a
failure of the run: the step exits with SKIP_EXIT and the reason as its last line, so the job and the jobs
that need it (the microcontroller half) end `skipped` with that reason.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from daemon.actions.context import ActionContext
from daemon.codegen import CompileReport, compile_c
from daemon.errors import CodegenError
from daemon.record import SKIP_EXIT

ARCHIVE = Path("artifacts") / "reference-c" / "mlf.tar"
VIRTUAL_CORE_ARCHIVE = "reference-c.tar"  # benchd/virtual-core's default input


def _summary(name: str, report: CompileReport) -> str:
    rows = [
        "| figure | value |", "|---|---|",
        f"| arena (planned) | {report.arena_bytes:,} B |",
        f"| arena lower bound (bytes live at once) | {report.arena_lower_bound_bytes:,} B |",
        f"| constants (.rodata) | {report.constants_bytes:,} B |",
        f"| inputs + outputs | {report.io_bytes:,} B |",
        f"| operators / kernel calls | {report.operators} / {report.kernels} |",
        f"| MACs per inference | {report.macs:,} |",
    ]
    return f"### Reference C backend: `{name}`\n\n" + "\n".join(rows) + "\n"


def run(ctx: ActionContext) -> None:
    archive = ctx.workspace / (ctx.get("output") or ARCHIVE)
    try:
        report = compile_c(ctx.model, archive)
    except CodegenError as exc:
        reason = " ".join(str(exc).split())
        ctx.summary(f"### Reference C backend: not run\n\nThe model is outside what the backend compiles: {reason}\n")
        print(reason, flush=True)  # the last line: the job's skip reason
        raise SystemExit(SKIP_EXIT) from exc
    shutil.copyfile(archive, ctx.workspace / VIRTUAL_CORE_ARCHIVE)
    ctx.set_output("archive", str(archive))
    for key, value in {**report.metrics(), "macs": report.macs}.items():
        ctx.set_output(key, str(value))
    ctx.add_metrics("reference_c", report.metrics())
    ctx.summary(_summary(ctx.model.name, report))
    print(f"{ctx.model.name}: {archive} (arena {report.arena_bytes} B, lower bound {report.arena_lower_bound_bytes} B,"
          f" constants {report.constants_bytes} B, {report.operators} operators, {report.macs} MACs, "
          f"{report.seconds * 1000:.0f} ms)")
