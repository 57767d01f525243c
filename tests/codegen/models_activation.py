"""Generated int8 models for the binary operators beyond ADD/MUL and the unary activations, one operator each.

Opcodes and option tables are the tflite package's BuiltinOperator / BuiltinOptions numbers. Operators
without options (LOGISTIC, TANH, RELU*, PRELU) are written with no options table. This module loads its
own copy of data/make_samples.py, so its registrations do not touch `models.MS`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from model_tools import load_make_samples

MS = load_make_samples()
INT8 = MS.INT8
ACT = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3, "TANH": 4}
MS.OPS.update({"ADD": (0, 11), "MUL": (18, 21), "SUB": (41, 28), "SQUARED_DIFFERENCE": (99, 76),
               "MAXIMUM": (55, 39), "MINIMUM": (57, 39), "PRELU": (54, 0), "LOGISTIC": (14, 0), "TANH": (28, 0),
               "RELU": (19, 0), "RELU6": (21, 0), "RELU_N1_TO_1": (20, 0), "RELU_0_TO_1": (152, 0),
               "HARD_SWISH": (117, 91),
               "LEAKY_RELU": (98, 75)})
MS.OPTION_TABLES.update({0: "NONE", 11: "AddOptions", 21: "MulOptions", 28: "SubOptions",
                         76: "SquaredDifferenceOptions", 39: "MaximumMinimumOptions", 91: "HardSwishOptions",
                         75: "LeakyReluOptions"})
_table = MS._table


def _no_options_table(b: Any, kind: str, **fields: Any) -> int:
    # offset 0 equals the flatbuffer default: the Operator is written without builtin options
    if kind == "NONE":
        return 0
    if kind == "OperatorCode" and fields["DeprecatedBuiltinCode"] > 127:  # an int8 field: the converter's 127
        fields["DeprecatedBuiltinCode"] = 127  # PLACEHOLDER_FOR_GREATER_OP_CODES; BuiltinCode holds the code
    return int(_table(b, kind, **fields))


MS._table = _no_options_table
BINARY = ("ADD", "SUB", "MUL", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM", "PRELU")


def _q(rng: np.random.Generator, scale: float | None = None) -> dict[str, Any]:
    return {"scale": [scale if scale is not None else float(rng.uniform(0.01, 0.1))],
            "zero_point": [int(rng.integers(-20, 21))]}


def _out_scale(kind: str, sa: float, sb: float) -> float:
    """An output scale over which the operator's results spread across most of the int8 range."""
    if kind in ("ADD", "SUB"):
        return (sa + sb) * 1.1
    if kind == "MUL":
        return sa * sb * 60
    if kind == "SQUARED_DIFFERENCE":
        return (sa + sb) ** 2 * 40
    if kind == "PRELU":
        return sa * 1.3
    return sa


def binary(kind: str, a_shape: tuple[int, ...], b_shape: tuple[int, ...], act: str = "NONE",
           const: str | None = None, scales: tuple[float, float] | None = None, out_scale: float | None = None,
           same_q: bool = False, seed: int = 0) -> bytes:
    """`const`: "a" or "b" makes that operand a constant (random int8 values); `scales` fixes both input
    scales, `out_scale` the output's (else one the results spread over); `same_q`: b quantized as a."""
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    qa, qb = (_q(rng, scales[0]), _q(rng, scales[1])) if scales else (_q(rng), _q(rng))
    qb = qa if same_q else qb
    ins: list[int] = []
    tensors = []
    for name, shape, q in (("input_a", a_shape, qa), ("input_b", b_shape, qb)):
        if const == name[-1]:
            data = rng.integers(-128, 128, shape).astype(np.int8)
            tensors.append(g.tensor(f"const_{name[-1]}", shape, INT8, q, data))
        else:
            tensors.append(g.tensor(name, shape, INT8, q))
            ins.append(tensors[-1])
    out_shape = tuple(np.broadcast_shapes(a_shape, b_shape))
    out_q = qa if kind in ("MAXIMUM", "MINIMUM") else _q(rng, out_scale or _out_scale(kind, qa["scale"][0],
                                                                                    qb["scale"][0]))
    y = g.tensor("output", out_shape, INT8, out_q)
    options = {"FusedActivationFunction": ACT[act]} if kind in ("ADD", "SUB", "MUL") else {}
    g.op(kind, tensors, [y], **options)
    return bytes(g.serialize(ins, [y], "codegen test"))


def unary(kind: str, shape: tuple[int, ...], in_scale: float | None = None, out_q: dict[str, Any] | None = None,
          in_zp: int | None = None, seed: int = 0, **options: Any) -> bytes:
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    q = _q(rng, in_scale)
    if in_zp is not None:
        q["zero_point"] = [in_zp]
    x = g.tensor("input", shape, INT8, q)
    y = g.tensor("output", shape, INT8, out_q or _q(rng))
    g.op(kind, [x], [y], **options)
    return bytes(g.serialize([x], [y], "codegen test"))
