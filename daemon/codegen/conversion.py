"""Lowerings of QUANTIZE and DEQUANTIZE: float32 model edges and changes of scale or integer type.

QUANTIZE float32 -> int8/int16 is TFLite's AffineQuantize (float math, done by the kernel); between integer types
it is a requantization by input scale / output scale, folded here into a fixed-point multiplier exactly as
TFLite's Prepare computes it (in double). DEQUANTIZE int8/int16 -> float32 is (x - zero point) * scale.
The types TFLite's QUANTIZE takes: float32 -> int8/int16, int8 -> int8/int16, int16 -> int8/int16.
"""

from __future__ import annotations

from daemon.codegen.quant import quantize_multiplier
from daemon.codegen.reader import Graph, OperatorInfo, TensorInfo
from daemon.codegen.step import Step, where
from daemon.errors import CodegenError

SHORT = {"int8": "s8", "int16": "s16", "float32": "f32"}


def _operands(g: Graph, op: OperatorInfo) -> tuple[TensorInfo, TensorInfo]:
    if len(op.inputs) != 1 or len(op.outputs) != 1 or op.inputs[0] < 0:
        raise CodegenError(f"{where(op)}: expected one input and one output")
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    if x.data is not None:
        raise CodegenError(f"{where(op)}: the input {x.name!r} is a constant; fold it in the converter")
    if x.size != out.size:
        raise CodegenError(f"{where(op)}: input {list(x.shape)} and output {list(out.shape)} differ in size")
    return x, out


def _per_tensor(op: OperatorInfo, t: TensorInfo) -> None:
    if len(t.scales) != 1:
        raise CodegenError(f"{where(op)}: tensor {t.name!r} has {len(t.scales)} scales; per-channel quantization "
                           "of activations is not supported (TFLite's QUANTIZE takes one scale)")


def lower_quantize(g: Graph, op: OperatorInfo) -> Step:
    x, out = _operands(g, op)
    if out.dtype not in ("int8", "int16") or x.dtype not in ("float32", "int8", "int16"):
        raise CodegenError(f"{where(op)}: {x.dtype} -> {out.dtype} is not supported (float32, int8 or int16 to "
                           "int8 or int16)")
    _per_tensor(op, out)
    if x.dtype == "float32":
        fields = {"size": out.size, "scale": out.scale, "zero_point": out.zero_point}
        return Step(op.index, op.opcode, f"bd_quantize_f32_{SHORT[out.dtype]}", "bd_quantize_params", fields, {},
                    [x.index], [out.index])
    _per_tensor(op, x)
    # TFLite's Prepare: double(input scale) / double(output scale), then QuantizeMultiplier.
    mult, shift = quantize_multiplier(x.scale / out.scale)
    fields = {"size": out.size, "in_zp": x.zero_point, "out_zp": out.zero_point, "mult": mult, "shift": shift}
    return Step(op.index, op.opcode, f"bd_requantize_{SHORT[x.dtype]}_{SHORT[out.dtype]}", "bd_requantize_params",
                fields, {}, [x.index], [out.index])


def lower_dequantize(g: Graph, op: OperatorInfo) -> Step:
    x, out = _operands(g, op)
    if x.dtype not in ("int8", "int16") or out.dtype != "float32":
        raise CodegenError(f"{where(op)}: {x.dtype} -> {out.dtype} is not supported (int8 or int16 to float32)")
    _per_tensor(op, x)
    fields = {"size": x.size, "zero_point": x.zero_point, "scale": x.scale}
    return Step(op.index, op.opcode, f"bd_dequantize_{SHORT[x.dtype]}_f32", "bd_dequantize_params", fields, {},
                [x.index], [out.index])
