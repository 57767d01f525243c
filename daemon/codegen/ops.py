"""The operator table: TFLite operator -> its lowering (a `Step`, a kernel call with folded constants).

`LOWERINGS` is the seam: adding an operator is one function in the module of its kind, one kernel in
kernels/, one entry here. Each lowering checks what its kernel can do and raises CodegenError naming the
operator otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from daemon.codegen import activation, conversion, elementwise, int16, layers, movement, recurrent, reduction
from daemon.codegen.depthwise import lower_depthwise
from daemon.codegen.reader import Graph, OperatorInfo
from daemon.codegen.step import Const, Step

__all__ = ["ACTIVATION_TYPES", "ALIASES", "LOWERINGS", "SUPPORTED", "Const", "Step", "activation_types"]

LOWERINGS: dict[str, Callable[[Graph, OperatorInfo], Step]] = {
    "CONV_2D": layers.lower_conv,
    "DEPTHWISE_CONV_2D": lower_depthwise,
    "FULLY_CONNECTED": int16.by_input_type(layers.lower_fully_connected, int16.lower_fully_connected16),
    "AVERAGE_POOL_2D": layers.lower_pool,
    "MAX_POOL_2D": layers.lower_pool,
    "SOFTMAX": int16.by_input_type(layers.lower_softmax, int16.lower_softmax16),
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
    "SUB": elementwise.lower_binary,
    "SQUARED_DIFFERENCE": elementwise.lower_binary,
    "MAXIMUM": elementwise.lower_binary,
    "MINIMUM": elementwise.lower_binary,
    "PRELU": elementwise.lower_binary,
    "QUANTIZE": conversion.lower_quantize,
    "DEQUANTIZE": conversion.lower_dequantize,
    "RESIZE_NEAREST_NEIGHBOR": movement.lower_resize_nearest,
    "MEAN": reduction.lower_reduce,
    "SUM": reduction.lower_reduce,
    "BATCH_MATMUL": reduction.lower_batch_matmul,
    "LOGISTIC": activation.lower_unary,
    "TANH": activation.lower_unary,
    "HARD_SWISH": activation.lower_unary,
    "RELU": activation.lower_unary,
    "RELU6": activation.lower_unary,
    "RELU_N1_TO_1": activation.lower_unary,
    "RELU_0_TO_1": activation.lower_unary,
    "LEAKY_RELU": activation.lower_unary,
}
LOWERINGS.update({"SVDF": recurrent.lower_svdf, "UNIDIRECTIONAL_SEQUENCE_LSTM": recurrent.lower_lstm})
ALIASES = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")  # not steps: the output aliases the input (lowering.py)
SUPPORTED = (*LOWERINGS, *ALIASES)

# The activation dtypes an operator's lowering takes (int8 where not listed): checked before it is called, so an
# int8-only kernel never sees int16 or float32 bytes. A lowering listed here checks its own combinations.
ACTIVATION_TYPES: dict[str, frozenset[str]] = {
    **{alias: frozenset({"int8", "int16"}) for alias in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")},
    "QUANTIZE": frozenset({"int8", "int16", "float32"}),
    "DEQUANTIZE": frozenset({"int8", "int16", "float32"}),
}
ACTIVATION_TYPES.update({op: frozenset({"int8", "int16"}) for op in ("FULLY_CONNECTED", "SOFTMAX", "SVDF",
                                                                       "UNIDIRECTIONAL_SEQUENCE_LSTM")})


def activation_types(opcode: str) -> frozenset[str]:
    return ACTIVATION_TYPES.get(opcode, frozenset({"int8"}))
