"""The operator table: TFLite operator -> its lowering (a `Step`, a kernel call with folded constants).

`LOWERINGS` is the seam: adding an operator is one function in the module of its kind, one kernel in
kernels/, one entry here. Each lowering checks what its kernel can do and raises CodegenError naming the
operator otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from daemon.codegen import elementwise, layers, movement, reduction
from daemon.codegen.reader import Graph, OperatorInfo
from daemon.codegen.step import Const, Step

__all__ = ["ALIASES", "LOWERINGS", "SUPPORTED", "Const", "Step"]

LOWERINGS: dict[str, Callable[[Graph, OperatorInfo], Step]] = {
    "CONV_2D": layers.lower_conv,
    "DEPTHWISE_CONV_2D": layers.lower_depthwise,
    "FULLY_CONNECTED": layers.lower_fully_connected,
    "AVERAGE_POOL_2D": layers.lower_pool,
    "MAX_POOL_2D": layers.lower_pool,
    "SOFTMAX": layers.lower_softmax,
    "ADD": elementwise.lower_binary,
    "MUL": elementwise.lower_binary,
    "CONCATENATION": movement.lower_concat,
    "SPLIT": movement.lower_split,
    "SPLIT_V": movement.lower_split,
    "PACK": movement.lower_pack,
    "UNPACK": movement.lower_unpack,
    "SLICE": movement.lower_slice,
    "STRIDED_SLICE": movement.lower_strided_slice,
    "PAD": movement.lower_pad,
    "PADV2": movement.lower_pad,
    "TRANSPOSE": movement.lower_transpose,
    "RESIZE_NEAREST_NEIGHBOR": movement.lower_resize_nearest,
    "MEAN": reduction.lower_reduce,
    "SUM": reduction.lower_reduce,
    "BATCH_MATMUL": reduction.lower_batch_matmul,
}
ALIASES = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")  # not steps: the output aliases the input (lowering.py)
SUPPORTED = (*LOWERINGS, *ALIASES)
