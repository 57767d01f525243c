"""`benchd/inspect`: what a dropped .tflite file is (daemon.modelfile reads it), as step outputs, metrics
and a summary table; float models warn or fail as the `float-models` input says."""

from __future__ import annotations

from typing import Any

from daemon import modelfile
from daemon.actions.context import ActionContext, ActionError


def _cell(value: Any) -> str:
    """A table cell: `—` where a float tensor has no quantization, never `None`."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return " × ".join(str(v) for v in value)
    return str(value)


def _summary(info: dict[str, Any]) -> str:
    rows = ["| tensor | name | shape | dtype | scale | zero point |", "|---|---|---|---|---|---|"]
    for kind in ("inputs", "outputs"):
        for t in info[kind]:
            rows.append(f"| {kind[:-1]} | `{t['name']}` | {_cell(t['shape'])} | {t['dtype']} | {_cell(t['scale'])} | "
                        f"{_cell(t['zero_point'])} |")
    ops = ", ".join(info["operators"])
    return (f"### Model `{info['name']}`\n\n{info['size']} bytes, sha256 `{info['sha256'][:16]}…`, "
            f"{'int8 quantized' if info['quantized'] else '**float (not quantized)**'}\n\n"
            + "\n".join(rows) + f"\n\nOperators ({len(info['operators'])}): {ops}\n")


def run(ctx: ActionContext) -> None:
    policy = (ctx.get("float-models", "warn") or "warn").lower()
    if policy not in ("warn", "reject"):
        raise ActionError(f"benchd/inspect: input 'float-models' must be warn or reject, not {policy!r}")
    max_mb = ctx.get_float("max-model-mb", 50.0)
    info = modelfile.describe_model(ctx.model, max_bytes=int(max_mb * 1e6))
    ctx.add_metrics("model", info)
    first_in, first_out = info["inputs"][0], info["outputs"][0]
    for key, value in {
        "quantized": "true" if info["quantized"] else "false",
        "operators": info["operators"],
        "input_shape": first_in["shape"],
        "input_dtype": first_in["dtype"],
        "output_shape": first_out["shape"],
        "output_dtype": first_out["dtype"],
        "sha256": info["sha256"],
    }.items():
        ctx.set_output(key, value)
    ctx.summary(_summary(info))
    print(f"{info['name']}: {len(info['operators'])} operators, input {first_in['shape']} {first_in['dtype']}, "
          f"output {first_out['shape']} {first_out['dtype']}, quantized={info['quantized']}")
    if not info["quantized"]:
        message = (f"{info['name']} is a float model (no int8 tensors): the boards need a full-integer int8 "
                   "model; quantize it with the TFLite converter (post-training integer quantization)")
        if policy == "reject":
            raise ActionError(message + " (rejected because float-models: reject)")
        print(f"::warning::{message}", flush=True)
