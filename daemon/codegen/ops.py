"""The operator table: TFLite operator -> its lowering (a `Step`, a kernel call with folded constants).

`LOWERINGS` is the seam: adding an operator is one function in the module of its kind, one kernel in
kernels/, one entry here. Each lowering checks what its kernel can do and raises CodegenError naming the
operator otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from daemon.codegen import elementwise, layers
from daemon.codegen.depthwise import lower_depthwise
from daemon.codegen.reader import Graph, OperatorInfo
from daemon.codegen.step import Const, Step

__all__ = ["LOWERINGS", "SUPPORTED", "Const", "Step"]

LOWERINGS: dict[str, Callable[[Graph, OperatorInfo], Step]] = {
    "CONV_2D": layers.lower_conv,
    "DEPTHWISE_CONV_2D": lower_depthwise,
    "FULLY_CONNECTED": layers.lower_fully_connected,
    "AVERAGE_POOL_2D": layers.lower_pool,
    "MAX_POOL_2D": layers.lower_pool,
    "SOFTMAX": layers.lower_softmax,
    "ADD": elementwise.lower_binary,
    "MUL": elementwise.lower_binary,
}
SUPPORTED = (*LOWERINGS, "RESHAPE")
