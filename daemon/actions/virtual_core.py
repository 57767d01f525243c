"""`benchd/virtual-core`: an MLF archive built for the virtual ESP32-C3 (QEMU `virt`, RV32IMC) and run on test
vectors; every output is checked against the TFLite reference kernels.

Inputs (`with:`): archive (default $BENCHD_WORKSPACE/artifacts/reference-c/mlf.tar, where benchd/compile-c
writes it), backend (reference-c | tvm, a label), vectors (3), seed (0), timeout-seconds (60). The step fails
when an output of the reference backend is not bit-exact (TVM's are only counted: it does not claim to be).
The model's one input and one output are int8, int16 or float32 (a float-I/O model: QUANTIZE after the input,
DEQUANTIZE before the output). The vectors are seeded random values of the input's type (float32: over the
range the input's QUANTIZE covers), or MODEL.inputs.npy beside the model; they are kept as
artifacts/vectors/inputs.npy. Outputs are compared byte for byte. Writes metrics.virtual = {backend,
instructions (median per inference), rom_bytes, ram_bytes, arena_bytes, vectors, bit_exact, outputs (values of
the output's type, or the sha256 of a larger output's bytes), output_dtype} for the reference backend, and every
backend's figures under metrics.virtual_matrix[backend], side by side.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import numpy as np

from daemon.actions.context import ActionContext, ActionError
from daemon.firmware.resultline import InferenceResult
from daemon.modelfile import describe_model
from daemon.virtcore import VirtCoreError, build_firmware, elf_size, run_firmware, vectors_for
from daemon.virtcore.reference import decode_output, exact_flags, reference_outputs
from daemon.virtcore.toolchain import toolchain_versions

DEFAULT_ARCHIVE = "artifacts/reference-c/mlf.tar"  # where benchd/compile-c writes it
BACKENDS = ("reference-c", "tvm")
IO_DTYPES = ("int8", "int16", "float32")  # what the firmware binds (target/tools/gen_model_header.py)


def run(ctx: ActionContext) -> None:
    archive = Path(ctx.get("archive") or ctx.workspace / DEFAULT_ARCHIVE)
    backend = ctx.get("backend", "reference-c") or "reference-c"
    count, seed = ctx.get_int("vectors", 3), ctx.get_int("seed", 0)
    timeout_s = ctx.get_float("timeout-seconds", 60.0)
    if backend not in BACKENDS:
        raise ActionError(f"benchd/virtual-core: backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if count < 1:
        raise ActionError(f"benchd/virtual-core: vectors must be at least 1, not {count}")
    if not archive.is_file():
        raise ActionError(f"benchd/virtual-core: no MLF archive at {archive}; run the compile job first "
                          "(`benchd compile-c \"$BENCHD_MODEL\" --output ...`), or set `archive:` under `with:`")
    info = describe_model(ctx.model)
    model_input, model_output = _single_io(info)
    out_dtype = np.dtype(model_output["dtype"])
    floats = "float32" in (model_input["dtype"], model_output["dtype"])
    span = _float_span(ctx.model) if floats else (-1.0, 1.0)
    try:
        vectors, origin = vectors_for(ctx.model, tuple(model_input["shape"]), count, seed, model_input["dtype"], span)
    except VirtCoreError as exc:
        raise ActionError(f"benchd/virtual-core: {exc}") from exc
    _keep_vectors(ctx.workspace, vectors)
    try:
        firmware = build_firmware(archive, vectors, ctx.workspace / "virtcore" / backend, info["sha256"],
                                  output_size=int(np.prod(model_output["shape"])) * out_dtype.itemsize,
                                  output_dtype=out_dtype.name)
        outcome = run_firmware(firmware.elf, timeout_s)
        usage = elf_size(firmware.elf)
    except VirtCoreError as exc:
        raise ActionError(f"benchd/virtual-core: {exc}") from exc
    exact = exact_flags(outcome.results, reference_outputs(ctx.model, vectors))
    instructions = [r.instructions for r in outcome.results if r.instructions is not None]
    metrics: dict[str, Any] = {
        "backend": backend,
        "instructions": int(statistics.median(instructions)) if instructions else None,
        "rom_bytes": usage.rom_bytes, "ram_bytes": usage.ram_bytes, "arena_bytes": firmware.mlf.workspace_bytes(),
        "vectors": len(vectors), "bit_exact": sum(exact),
        "outputs": [decode_output(r.out, out_dtype.name) if r.out is not None else r.out_sha256
                    for r in outcome.results],
        "output_dtype": out_dtype.name,
        "toolchain": toolchain_versions(),  # beside the image digest: which compiler and QEMU made the figures
    }
    # metrics.virtual is the reference backend's (the yardstick); every backend also lands in the matrix.
    if backend == "reference-c":
        ctx.add_metrics("virtual", metrics)
    side = ("instructions", "rom_bytes", "ram_bytes", "arena_bytes", "vectors", "bit_exact", "outputs")
    ctx.add_metrics("virtual_matrix", {backend: {k: metrics[k] for k in side}})
    for key in ("instructions", "rom_bytes", "ram_bytes", "bit_exact"):
        ctx.set_output(key, metrics[key] if metrics[key] is not None else "")
    ctx.summary(_summary(ctx.model.name, metrics, origin, outcome.seconds))
    print(f"virtual-core ({backend}): {metrics['instructions']} instructions/inference, ROM {usage.rom_bytes} B, "
          f"RAM {usage.ram_bytes} B, {sum(exact)}/{len(vectors)} bit-exact, vectors from {origin}", flush=True)
    # Only the reference backend promises bit-exact outputs; TVM's are counted, not failed (issue 10).
    _judge(outcome.exit_code, outcome.results, outcome.bad_lines, exact if backend == "reference-c" else [],
           len(vectors), outcome.console)


def _single_io(info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    if len(info["inputs"]) != 1 or len(info["outputs"]) != 1:
        raise ActionError(f"benchd/virtual-core: {info['name']} has {len(info['inputs'])} inputs and "
                          f"{len(info['outputs'])} outputs; the firmware binds exactly one of each")
    model_input, model_output = info["inputs"][0], info["outputs"][0]
    if model_input["dtype"] not in IO_DTYPES or model_output["dtype"] not in IO_DTYPES:
        raise ActionError(f"benchd/virtual-core: {info['name']} is {model_input['dtype']} → {model_output['dtype']}; "
                          "the virtual core binds int8, int16 or float32 inputs and outputs")
    return model_input, model_output


def _float_span(model: Path) -> tuple[float, float]:
    """For float32 I/O: the model must quantize right after its input and dequantize right before its output
    (float activations inside are a float model, refused as before); returns the floats the input's QUANTIZE
    maps onto its integer range (-1..1 when the input is not float32)."""
    from daemon.codegen.reader import read_model
    from daemon.errors import CodegenError

    try:
        graph = read_model(model.read_bytes())
    except (OSError, CodegenError) as exc:
        raise ActionError(f"benchd/virtual-core: {model.name}: {exc}; the virtual core runs quantized models, "
                          "float32 only at the edges (QUANTIZE after the input, DEQUANTIZE before the output)"
                          ) from exc
    for op in graph.operators:
        if op.opcode == "QUANTIZE" and op.inputs[:1] == graph.inputs[:1]:
            q = graph.tensors[op.outputs[0]]
            info = np.iinfo(np.dtype(q.dtype))
            return q.scale * (info.min - q.zero_point), q.scale * (info.max - q.zero_point)
    return -1.0, 1.0


def _keep_vectors(workspace: Path, vectors: np.ndarray) -> None:
    folder = workspace / "artifacts" / "vectors"
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "inputs.npy", vectors)


def _summary(model: str, m: dict[str, Any], origin: str, seconds: float) -> str:
    return (f"### Virtual ESP32-C3 core: `{model}` ({m['backend']})\n\n"
            f"QEMU `virt`, RV32IMC, {m['vectors']} vector(s) from {origin}, {seconds:.1f} s\n\n"
            "| instructions / inference | ROM | RAM | arena | bit-exact vs TFLite reference |\n|---|---|---|---|---|\n"
            f"| {m['instructions']:,} | {m['rom_bytes']:,} B | {m['ram_bytes']:,} B | "
            f"{m['arena_bytes'] if m['arena_bytes'] is not None else '-'} B | {m['bit_exact']}/{m['vectors']} |\n"
            if m["instructions"] is not None else f"### Virtual ESP32-C3 core: `{model}`: no inference finished\n")


def _judge(exit_code: int, results: tuple[InferenceResult, ...], bad_lines: tuple[str, ...], exact: list[bool],
           vectors: int, console: str) -> None:
    tail = " | ".join(line for line in console.strip().splitlines()[-3:])
    if exit_code == 3:
        raise ActionError(f"benchd/virtual-core: the firmware trapped on the RV32IMC core: {tail}")
    if bad_lines:
        raise ActionError(f"benchd/virtual-core: {len(bad_lines)} broken BENCHD_RESULT line(s), e.g. {bad_lines[0]}")
    if len(results) != vectors:
        raise ActionError(f"benchd/virtual-core: {len(results)} result line(s) for {vectors} vector(s); "
                          f"last console lines: {tail}")
    failed = [r.vector for r in results if not r.ok]
    if failed:
        raise ActionError(f"benchd/virtual-core: tvmgen_default_run returned an error on vector(s) {failed}")
    wrong = [i for i, ok in enumerate(exact) if not ok]
    if wrong:
        raise ActionError(f"benchd/virtual-core: the output on the RV32IMC core differs from the TFLite reference "
                          f"kernels on vector(s) {wrong} of {vectors}; see metrics.virtual.outputs and "
                          "artifacts/vectors/inputs.npy to reproduce")
