"""The operator table: TFLite operator -> its lowering (a `Step`, a kernel call with folded constants).

`LOWERINGS` is the seam: adding an operator is one function in the module of its kind, one kernel in
kernels/, one entry here. Each lowering checks what its kernel can do and raises CodegenError naming the
operator otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from daemon.codegen import conversion, elementwise, int16, layers, recurrent
from daemon.codegen.reader import Graph, OperatorInfo
from daemon.codegen.step import Const, Step

__all__ = ["ACTIVATION_TYPES", "LOWERINGS", "SUPPORTED", "Const", "Step", "activation_types"]

LOWERINGS: dict[str, Callable[[Graph, OperatorInfo], Step]] = {
    "CONV_2D": layers.lower_conv,
    "DEPTHWISE_CONV_2D": layers.lower_depthwise,
    "FULLY_CONNECTED": int16.by_input_type(layers.lower_fully_connected, int16.lower_fully_connected16),
    "AVERAGE_POOL_2D": layers.lower_pool,
    "MAX_POOL_2D": layers.lower_pool,
    "SOFTMAX": int16.by_input_type(layers.lower_softmax, int16.lower_softmax16),
    "ADD": elementwise.lower_binary,
    "MUL": elementwise.lower_binary,
    "QUANTIZE": conversion.lower_quantize,
    "DEQUANTIZE": conversion.lower_dequantize,
}
LOWERINGS.update({"SVDF": recurrent.lower_svdf, "UNIDIRECTIONAL_SEQUENCE_LSTM": recurrent.lower_lstm})
SUPPORTED = (*LOWERINGS, "RESHAPE")

# The activation dtypes an operator's lowering takes (int8 where not listed): checked before it is called, so an
# int8-only kernel never sees int16 or float32 bytes. A lowering listed here checks its own combinations.
ACTIVATION_TYPES: dict[str, frozenset[str]] = {
    "RESHAPE": frozenset({"int8", "int16"}),
    "QUANTIZE": frozenset({"int8", "int16", "float32"}),
    "DEQUANTIZE": frozenset({"int8", "int16", "float32"}),
}
ACTIVATION_TYPES.update({op: frozenset({"int8", "int16"}) for op in ("FULLY_CONNECTED", "SOFTMAX", "SVDF",
                                                                       "UNIDIRECTIONAL_SEQUENCE_LSTM")})


def activation_types(opcode: str) -> frozenset[str]:
    return ACTIVATION_TYPES.get(opcode, frozenset({"int8"}))
