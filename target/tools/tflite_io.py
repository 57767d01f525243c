"""The byte sizes of a .tflite model's inputs and outputs, read with the standard library alone.

gen_model_header.py runs inside the ESP-IDF image, which has neither numpy nor the tflite package, and
TVM's older MLF metadata (version 6, and version 7 before TVM 0.10) records only the total I/O size: the
model is where the per-tensor sizes are. This reads just enough of TFLite's flatbuffer schema for that:
Model.subgraphs[0].{tensors, inputs, outputs} and Tensor.{shape, type}.
"""

from __future__ import annotations

import struct
from pathlib import Path

# tflite/schema.fbs TensorType -> bytes per element (STRING, RESOURCE, VARIANT and INT4 are refused).
ELEMENT_BYTES = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 8: 8, 9: 1, 10: 8, 11: 16, 12: 8, 15: 4, 16: 2}
# Field slots (declaration order in schema.fbs).
MODEL_SUBGRAPHS, SUBGRAPH_TENSORS, SUBGRAPH_INPUTS, SUBGRAPH_OUTPUTS = 2, 0, 1, 2
TENSOR_SHAPE, TENSOR_TYPE = 0, 1


class ModelError(ValueError):
    """The file is not a TFLite model this reader understands; the message says why."""


class _Buffer:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def _unpack(self, fmt: str, pos: int) -> int:
        if pos < 0 or pos + struct.calcsize(fmt) > len(self.data):
            raise ModelError(f"offset {pos} is outside the {len(self.data)}-byte file: truncated or malformed")
        return int(struct.unpack_from(fmt, self.data, pos)[0])

    def u32(self, pos: int) -> int:
        return self._unpack("<I", pos)

    def i32(self, pos: int) -> int:
        return self._unpack("<i", pos)

    def field(self, table: int, slot: int) -> int | None:
        """Position of a table's field, or None when it is absent (its default applies)."""
        vtable = table - self.i32(table)
        entry = vtable + 4 + 2 * slot
        if entry + 2 > vtable + self._unpack("<H", vtable):
            return None
        offset = self._unpack("<H", entry)
        return table + offset if offset else None

    def vector(self, table: int, slot: int) -> tuple[int, int]:
        """(position of the first element, length) of a vector field; (0, 0) when absent."""
        pos = self.field(table, slot)
        if pos is None:
            return 0, 0
        start = pos + self.u32(pos)
        return start + 4, self.u32(start)

    def table_at(self, pos: int) -> int:
        return pos + self.u32(pos)


def io_sizes(path: Path) -> tuple[list[int], list[int]]:
    """Byte sizes of subgraph 0's inputs and outputs, in the model's order."""
    data = Path(path).read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(f"{path} is not a TFLite flatbuffer (no 'TFL3' identifier)")
    buf = _Buffer(data)
    try:
        model = buf.table_at(0)
        subgraphs, count = buf.vector(model, MODEL_SUBGRAPHS)
        if count == 0:
            raise ModelError(f"{path} has no subgraph")
        graph = buf.table_at(subgraphs)
        tensors, n_tensors = buf.vector(graph, SUBGRAPH_TENSORS)

        def size(index: int) -> int:
            if not 0 <= index < n_tensors:
                raise ModelError(f"{path}: tensor index {index} is outside its {n_tensors} tensors")
            tensor = buf.table_at(tensors + 4 * index)
            type_pos = buf.field(tensor, TENSOR_TYPE)
            dtype = buf._unpack("<b", type_pos) if type_pos is not None else 0
            if dtype not in ELEMENT_BYTES:
                raise ModelError(f"{path}: tensor {index} has TensorType {dtype}, which has no fixed element size")
            shape, rank = buf.vector(tensor, TENSOR_SHAPE)
            elements = 1
            for i in range(rank):
                elements *= max(buf.i32(shape + 4 * i), 1)  # batch -1 (a dynamic batch) runs as 1
            return elements * ELEMENT_BYTES[dtype]

        def indices(slot: int) -> list[int]:
            start, n = buf.vector(graph, slot)
            return [buf.i32(start + 4 * i) for i in range(n)]

        return [size(i) for i in indices(SUBGRAPH_INPUTS)], [size(i) for i in indices(SUBGRAPH_OUTPUTS)]
    except struct.error as exc:
        raise ModelError(f"{path} is truncated or malformed: {exc}") from exc
