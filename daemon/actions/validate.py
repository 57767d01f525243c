"""`benchd/validate`: the compiled module against the TFLite reference interpreter on seeded inputs.

Inputs (`with:`): module (default $BENCHD_WORKSPACE/module.tar), samples (20), seed (0),
max-abs-diff (128, in output LSB), min-top1 (0.8). Fails naming the measured value and the threshold.
"""

from __future__ import annotations

from pathlib import Path

from daemon.actions.context import ActionContext, ActionError
from daemon.modelfile import describe_model


def run(ctx: ActionContext) -> None:
    # Local imports: TVM and the interpreter load only in this step process.
    from daemon.tvmc.compare import ReferenceModel, compare, random_inputs
    from daemon.tvmc.module import CompiledModel

    module = Path(ctx.get("module") or ctx.workspace / "module.tar")
    samples = ctx.get_int("samples", 20)
    seed = ctx.get_int("seed", 0)
    max_diff = ctx.get_float("max-abs-diff", 128.0)
    min_top1 = ctx.get_float("min-top1", 0.8)
    if samples < 1:
        raise ActionError(f"benchd/validate: samples must be at least 1, not {samples}")
    if not 0.0 <= min_top1 <= 1.0:
        raise ActionError(f"benchd/validate: min-top1 is a fraction between 0 and 1, not {min_top1}")
    if not module.is_file():
        raise ActionError(
            f"benchd/validate: no compiled module at {module}; compile first in the same job, e.g. "
            '`tvmc compile "$BENCHD_MODEL" --target llvm --output "$BENCHD_WORKSPACE/module.tar"`, '
            "or set `module:` under `with:`"
        )
    info = describe_model(ctx.model)
    compiled = CompiledModel(module)
    built_from = compiled.metadata["model"]["sha256"]
    if built_from != info["sha256"]:
        raise ActionError(
            f"benchd/validate: {module} was compiled from another model (sha256 {built_from[:12]}…, "
            f"{ctx.model.name} is {info['sha256'][:12]}…); compile {ctx.model.name} again"
        )
    reference = ReferenceModel(ctx.model)
    result = compare(compiled, reference, random_inputs(info["inputs"], samples, seed))

    thresholds = {"max_abs_diff": max_diff, "min_top1": min_top1}
    ctx.add_metrics("host", {**result.as_metrics(), "thresholds": thresholds})
    for key, value in result.as_metrics().items():
        ctx.set_output(key, value)
    unit = "LSB" if info["outputs"][0]["dtype"].startswith(("int", "uint")) else "(float)"
    ok_diff = result.max_abs_diff <= max_diff
    ok_top1 = result.top1_agreement >= min_top1
    ctx.set_output("passed", "true" if ok_diff and ok_top1 else "false")
    ctx.summary(
        f"### Host validation: `{ctx.model.name}` (TVM {compiled.metadata['tvm_version']}, llvm) vs TFLite "
        f"reference kernels\n\n{samples} seeded random inputs (seed {seed})\n\n"
        "| measure | value | threshold | |\n|---|---|---|---|\n"
        f"| max abs diff | {result.max_abs_diff:g} {unit} | <= {max_diff:g} | {'ok' if ok_diff else 'FAIL'} |\n"
        f"| top-1 agreement | {result.top1_agreement:.0%} | >= {min_top1:.0%} | {'ok' if ok_top1 else 'FAIL'} |\n"
        f"| median latency, TVM | {result.latency_ms:.3f} ms | | |\n"
        f"| median latency, TFLite reference | {result.reference_latency_ms:.3f} ms | | |\n"
    )
    print(f"validate: {samples} samples, max abs diff {result.max_abs_diff:g} {unit}, top-1 agreement "
          f"{result.top1_agreement:.2f}, latency {result.latency_ms:.3f} ms "
          f"(reference {result.reference_latency_ms:.3f} ms)", flush=True)
    problems = []
    if not ok_diff:
        problems.append(f"max abs diff {result.max_abs_diff:g} {unit} exceeds max-abs-diff {max_diff:g}")
    if not ok_top1:
        problems.append(f"top-1 agreement {result.top1_agreement:.2f} is below min-top1 {min_top1:g}")
    if problems:
        raise ActionError(
            f"benchd/validate: {'; '.join(problems)} over {samples} samples: the compiled module does not "
            "match the TFLite reference; check the model's quantization, or relax the thresholds under `with:`"
        )
