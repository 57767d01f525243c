"""Graph -> `Program`: kernel steps in execution order, and where every activation tensor lives.

RESHAPE (like SQUEEZE and EXPAND_DIMS) is not a step: its output is an alias of its input (same bytes, new
shape), so tensors joined by reshapes form one storage group. A group lives in the caller's input buffer if
it holds a model input, in the caller's output buffer if it holds a model output, else in the arena (placed
by the planner).
Only a reshape that would join a model input to a model output becomes a copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from daemon.codegen.fusion import fuse_conv_pool
from daemon.codegen.ops import ALIASES, LOWERINGS, SUPPORTED, Step, activation_types
from daemon.codegen.reader import Graph, OperatorInfo
from daemon.errors import CodegenError


@dataclass
class Storage:
    """One group of aliased tensors: where its bytes are and when they are live."""

    id: int
    size: int
    tensors: list[int]
    place: str  # "arena" | "input" | "output" | "scratch"
    io_index: int = -1
    first: int = -1  # step indices of the first write and the last read
    last: int = -1
    offset: int = 0  # in the arena, set by the planner
    align: int = 1  # bytes: the element size of its dtype (int16 at 2, float/int32 at 4)


@dataclass
class Program:
    graph: Graph
    steps: list[Step]
    storages: list[Storage]
    tensor_storage: dict[int, int] = field(default_factory=dict)  # tensor index -> storage id
    step_scratch: dict[int, int] = field(default_factory=dict)  # step position -> scratch storage id

    @property
    def macs(self) -> int:
        return sum(s.macs for s in self.steps)


def _union(parent: dict[int, int], a: int, b: int) -> None:
    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    parent[find(b)] = find(a)


def lower(graph: Graph) -> Program:
    steps: list[Step] = []
    parent: dict[int, int] = {}
    for op in graph.operators:
        if op.opcode not in SUPPORTED:
            raise CodegenError(
                f"operator {op.index} ({op.opcode}) is not supported by the reference C backend "
                "(README.md, \"What a run does\", lists the operators it takes)")
        _check_dtypes(graph, op)
        if op.opcode in ALIASES:  # RESHAPE, SQUEEZE, EXPAND_DIMS: the same bytes under a new shape
            src, dst = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
            if src.data is not None:
                raise CodegenError(f"{op.where()} reshapes a constant; fold it in the converter")
            if src.size != dst.size:
                raise CodegenError(f"{op.where()}: {list(src.shape)} -> {list(dst.shape)} "
                                   "changes the number of values")
            if src.index in graph.inputs and dst.index in graph.outputs:
                steps.append(Step(op.index, op.opcode, "bd_copy", None, {"size": src.nbytes}, {},
                                  [src.index], [dst.index]))
                continue
            for t in (src.index, dst.index):
                parent.setdefault(t, t)
            _union(parent, src.index, dst.index)
            continue
        steps.append(LOWERINGS[op.opcode](graph, op))
    return _place(graph, fuse_conv_pool(graph, steps, set(parent)), parent)


def _check_dtypes(graph: Graph, op: OperatorInfo) -> None:
    takes = activation_types(op.opcode)
    for i in (*op.inputs, *op.outputs):
        t = graph.tensors[i] if i >= 0 else None
        if t is not None and t.data is None and t.dtype not in takes:
            raise CodegenError(f"{op.where()}: tensor {t.name!r} is {t.dtype}; the reference C backend's "
                               f"{op.opcode} takes {' or '.join(sorted(takes))} activations")


def _place(graph: Graph, steps: list[Step], parent: dict[int, int]) -> Program:
    def root(t: int) -> int:
        while parent.get(t, t) != t:
            t = parent[t]
        return t

    groups: dict[int, list[int]] = {}
    used = {t for s in steps for t in (*s.inputs, *s.outputs)} | set(graph.inputs) | set(graph.outputs)
    for t in sorted(used | set(parent)):
        groups.setdefault(root(t), []).append(t)
    program = Program(graph, steps, [])
    for members in groups.values():
        ins = [graph.inputs.index(t) for t in members if t in graph.inputs]
        outs = [graph.outputs.index(t) for t in members if t in graph.outputs]
        if ins and outs:  # only reachable through chains of reshapes: keep it explicit
            raise CodegenError("a model input is also a model output through reshapes only; nothing to compute")
        if len(ins) + len(outs) > 1:
            raise CodegenError("two model inputs/outputs share storage through reshapes; not supported")
        place, io = ("input", ins[0]) if ins else ("output", outs[0]) if outs else ("arena", -1)
        first = graph.tensors[members[0]]
        storage = Storage(len(program.storages), first.nbytes, members, place, io, align=first.itemsize)
        program.storages.append(storage)
        for t in members:
            program.tensor_storage[t] = storage.id
    for position, step in enumerate(steps):
        for t in step.outputs:
            s = program.storages[program.tensor_storage[t]]
            s.first = position if s.first < 0 else min(s.first, position)
            s.last = max(s.last, position)
        for t in step.inputs:
            s = program.storages[program.tensor_storage[t]]
            s.last = max(s.last, position)
            if s.first < 0:
                s.first = 0 if s.place == "input" else position
        if step.scratch_bytes:
            scratch = Storage(len(program.storages), step.scratch_bytes, [], "scratch", -1, position, position,
                              align=step.scratch_align)
            program.storages.append(scratch)
            program.step_scratch[position] = scratch.id
    for s in program.storages:
        if s.place == "arena" and s.first < 0:
            s.first = s.last = 0
    return program
