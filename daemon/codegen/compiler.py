"""`compile_c`: an int8 .tflite model -> an MLF-layout tar of C99 sources (read, lower, plan, emit, write)."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.codegen.archive import write_archive
from daemon.codegen.arena import PLANNER, ArenaPlan, plan
from daemon.codegen.emitter import ModelSource, emit
from daemon.codegen.lowering import Program, lower
from daemon.codegen.reader import Graph, read_model
from daemon.errors import CodegenError

GENERATOR = "benchd-codegen"
VERSION = "1.0.0"


@dataclass(frozen=True)
class CompileReport:
    archive: Path
    arena_bytes: int  # the planned static arena (TVM's workspace_size_bytes)
    arena_lower_bound_bytes: int  # max over steps of the bytes live at once: no plan can use less
    constants_bytes: int  # weights, biases, requantization and table constants (.rodata)
    io_bytes: int  # model inputs + outputs (caller's buffers)
    operators: int  # operators in the model (RESHAPE included: it costs nothing)
    kernels: int  # kernel calls in tvmgen_default_run
    macs: int  # multiply-accumulates per inference
    seconds: float  # generation time

    def metrics(self) -> dict[str, int]:
        """What result.json records as metrics.reference_c."""
        return {"arena_bytes": self.arena_bytes, "arena_lower_bound_bytes": self.arena_lower_bound_bytes,
                "constants_bytes": self.constants_bytes, "operators": self.operators}


def _quantization(graph: Graph, index: int) -> dict[str, Any]:
    """The integer side of a model input/output: its own scale and zero point, or for float32 I/O those of the
    tensor QUANTIZE writes from it (input) or DEQUANTIZE reads into it (output); test vectors come from it."""
    t = graph.tensors[index]
    if t.dtype == "float32":
        for op in graph.operators:
            if op.opcode == "QUANTIZE" and index in op.inputs:
                t = graph.tensors[op.outputs[0]]
            elif op.opcode == "DEQUANTIZE" and index in op.outputs:
                t = graph.tensors[op.inputs[0]]
    return {"dtype": t.dtype, "scale": t.scale, "zero_point": t.zero_point} if t.scales else {}


def _io(program: Program, names: list[str], indices: tuple[int, ...]) -> dict[str, Any]:
    g = program.graph
    return {g.tensors[i].name: {"size": g.tensors[i].nbytes, "dtype": g.tensors[i].dtype,
                                "shape": list(g.tensors[i].shape), "member": member,
                                "quantization": _quantization(g, i)}
            for i, member in zip(indices, names, strict=True)}


def _metadata(program: Program, arena: ArenaPlan, src: ModelSource, io_bytes: int) -> dict[str, Any]:
    g = program.graph
    inputs, outputs = _io(program, src.input_names, g.inputs), _io(program, src.output_names, g.outputs)
    main = {"device": 1, "workspace_size_bytes": arena.size, "constants_size_bytes": src.constants_bytes,
            "io_size_bytes": io_bytes, "inputs": inputs, "outputs": outputs}
    memory = {"functions": {"main": [main], "operator_functions": []}}
    tensors = []
    for s in program.storages:
        names = [g.tensors[t].name for t in s.tensors] or [f"scratch of step {s.first}"]
        tensors.append({"names": names, "place": s.place, "size": s.size, "first_step": s.first,
                        "last_step": s.last, **({"offset": s.offset} if s.place in ("arena", "scratch") else {})})
    benchd = {"generator": GENERATOR, "version": VERSION, "planner": PLANNER, "arena_bytes": arena.size,
              "arena_lower_bound_bytes": arena.lower_bound, "macs": program.macs,
              # variable tensors (SVDF/LSTM state): static RAM outside the arena, kept between runs
              "state_bytes": sum(v.nbytes for s in program.steps for v in s.state.values()), "tensors": tensors,
              "steps": [{"operator": s.op_index, "opcode": s.opcode, "kernel": s.kernel, "macs": s.macs}
                        for s in program.steps]}
    module = {"model_name": "default", "style": "full-model", "executors": ["aot"], "target": {"c": "c"},
              "memory": memory, "inputs": inputs, "outputs": outputs}
    # TVM <= 0.18 keeps memory under modules.default; the copy at the top level is the short path.
    return {"version": 7, "modules": {"default": module}, "memory": memory, "benchd": benchd}


def compile_c(model: Path, output: Path) -> CompileReport:
    """Compile an int8 .tflite file into an MLF-layout tar at `output`; CodegenError says why it cannot."""
    start = time.perf_counter()
    try:
        data = Path(model).read_bytes()
    except OSError as exc:
        raise CodegenError(f"cannot read {model}: {exc.strerror or exc}") from exc
    try:
        graph = read_model(data)
        program = lower(graph)
    except CodegenError as exc:
        raise CodegenError(f"{Path(model).name}: {exc}") from exc
    arena = plan(program)
    src = emit(program, arena)
    io_bytes = sum(graph.tensors[i].nbytes for i in (*graph.inputs, *graph.outputs))
    write_archive(Path(output), _metadata(program, arena, src, io_bytes), src.header, src.source)
    return CompileReport(archive=Path(output), arena_bytes=arena.size, arena_lower_bound_bytes=arena.lower_bound,
                         constants_bytes=src.constants_bytes, io_bytes=io_bytes, operators=len(graph.operators),
                         kernels=len(program.steps), macs=program.macs, seconds=time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    """`benchd compile-c MODEL --output FILE.tar`: 0 on success, 2 with the reason on bad input."""
    from daemon.codegen.ops import SUPPORTED

    parser = argparse.ArgumentParser(prog="benchd compile-c", description=__doc__,
                                     epilog=f"operators it takes: {', '.join(sorted(SUPPORTED))}")
    parser.add_argument("model", type=Path)
    parser.add_argument("--output", "-o", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        report = compile_c(args.model, args.output)
    except CodegenError as exc:
        print(f"benchd compile-c: {exc}", file=sys.stderr)
        return 2
    print(f"{report.archive}: arena {report.arena_bytes} B (lower bound {report.arena_lower_bound_bytes} B), "
          f"constants {report.constants_bytes} B, {report.operators} operators, {report.macs} MACs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
