"""The operator table: TFLite operator -> its lowering (a `Step`, a kernel call with folded constants).

`LOWERINGS` is the seam: adding an operator is one function in the module of its kind, one kernel in
kernels/, one entry here. Each lowering checks what its kernel can do and raises CodegenError naming the
operator otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from daemon.codegen import activation, elementwise, layers
from daemon.codegen.reader import Graph, OperatorInfo
from daemon.codegen.step import Const, Step

__all__ = ["LOWERINGS", "SUPPORTED", "Const", "Step"]

LOWERINGS: dict[str, Callable[[Graph, OperatorInfo], Step]] = {
    "CONV_2D": layers.lower_conv,
    "DEPTHWISE_CONV_2D": layers.lower_depthwise,
    "FULLY_CONNECTED": layers.lower_fully_connected,
    "AVERAGE_POOL_2D": layers.lower_pool,
    "MAX_POOL_2D": layers.lower_pool,
    "SOFTMAX": layers.lower_softmax,
    "ADD": elementwise.lower_binary,
    "MUL": elementwise.lower_binary,
    "SUB": elementwise.lower_binary,
    "SQUARED_DIFFERENCE": elementwise.lower_binary,
    "MAXIMUM": elementwise.lower_binary,
    "MINIMUM": elementwise.lower_binary,
    "PRELU": elementwise.lower_binary,
    "LOGISTIC": activation.lower_unary,
    "TANH": activation.lower_unary,
    "HARD_SWISH": activation.lower_unary,
    "RELU": activation.lower_unary,
    "RELU6": activation.lower_unary,
    "RELU_N1_TO_1": activation.lower_unary,
    "RELU_0_TO_1": activation.lower_unary,
    "LEAKY_RELU": activation.lower_unary,
}
SUPPORTED = (*LOWERINGS, "RESHAPE")
