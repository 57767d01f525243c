"""`Step`, what every lowering returns (a kernel call with folded constants), and the checks they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from daemon.codegen.quant import activation_range
from daemon.codegen.reader import Graph, OperatorInfo, TensorInfo
from daemon.errors import CodegenError


@dataclass(frozen=True)
class Const:
    """A reference, in a parameter struct, to one of the step's constant arrays."""

    key: str


@dataclass
class Step:
    op_index: int
    opcode: str
    kernel: str  # the C function
    struct: str | None  # its parameter struct type (None: bd_copy)
    fields: dict[str, Any]  # int | float | list[int] | Const | nested dict
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    inputs: list[int] = field(default_factory=list)  # activation tensors, in call order
    outputs: list[int] = field(default_factory=list)
    scratch_bytes: int = 0
    takes_scratch: bool = False  # the kernel has a scratch argument (a null pointer when it needs none)
    arrays: bool = False  # variable arity (CONCATENATION, SPLIT, ...): inputs and outputs passed as pointer arrays
    scratch_align: int = 1  # 2 or 4 when the kernel keeps int16/int32 values there (misaligned loads trap)
    macs: int = 0
    state: dict[str, np.ndarray] = field(default_factory=dict)  # mutable static arrays kept between runs


def where(op: OperatorInfo) -> str:
    return op.where()


def fused_range(g: Graph, op: OperatorInfo) -> tuple[int, int]:
    out = g.tensors[op.outputs[0]]
    return activation_range(op.options.get("FusedActivationFunction", "NONE"), out.scale, out.zero_point,
                            where(op))


def need_rank(op: OperatorInfo, t: TensorInfo, rank: int) -> tuple[int, ...]:
    if len(t.shape) != rank:
        raise CodegenError(f"{where(op)}: tensor {t.name!r} has shape {list(t.shape)}, expected {rank}-D")
    return t.shape


def check_out(op: OperatorInfo, out: TensorInfo, shape: tuple[int, ...]) -> None:
    if tuple(out.shape) != tuple(shape):
        raise CodegenError(f"{where(op)}: output {out.name!r} has shape {list(out.shape)} but the operator "
                           f"computes {list(shape)}")
