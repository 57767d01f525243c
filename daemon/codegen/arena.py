"""One static arena, offsets planned from buffer lifetimes (greedy by size, lowest fitting offset).

Buffers are the arena-resident storage groups and the per-step scratch. A buffer is live from the step
that first writes it to the step that last reads it, both included (a kernel never works in place), so
two buffers may share bytes only if their live ranges are disjoint. The lower bound is the largest sum of
sizes of buffers live at one step: no placement can use less.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from daemon.codegen.lowering import Program, Storage

PLANNER = "greedy-by-size"
SHUFFLES = 64  # further first-fit orders tried while the plan is above the lower bound
# Each buffer starts at a multiple of its element size (int8 1, int16 2, float/int32 4): the ESP32-C3 traps on
# misaligned loads. The arena itself is 4-aligned (emitter.py). Bytewise int8 buffers add no padding.


@dataclass(frozen=True)
class ArenaPlan:
    size: int
    lower_bound: int
    offsets: dict[int, int]  # storage id -> byte offset


def _arena_buffers(program: Program) -> list[Storage]:
    return [s for s in program.storages if s.place in ("arena", "scratch")]


def lower_bound(buffers: list[Storage], steps: int) -> int:
    return max((sum(b.size for b in buffers if b.first <= t <= b.last) for t in range(max(steps, 1))),
               default=0)


def _align(n: int, align: int) -> int:
    return (n + align - 1) // align * align


def _place(order: list[Storage]) -> dict[int, int]:
    """First fit in the given order: each buffer at the lowest aligned offset clear of every placed buffer
    whose live range overlaps its own."""
    placed: list[tuple[int, int, Storage]] = []  # (offset, end, buffer)
    offsets: dict[int, int] = {}
    for buf in order:
        conflicts = sorted((o, e) for o, e, other in placed if not (other.last < buf.first or buf.last < other.first))
        offset = 0
        for start, end in conflicts:
            if offset + buf.size <= start:
                break
            offset = max(offset, _align(end, buf.align))
        offsets[buf.id] = offset
        placed.append((offset, offset + buf.size, buf))
    return offsets


def plan(program: Program) -> ArenaPlan:
    buffers = _arena_buffers(program)
    bound = lower_bound(buffers, len(program.steps))

    def size_of(offsets: dict[int, int]) -> int:
        return max((offsets[b.id] + b.size for b in buffers), default=0)

    # Largest first; among equals the earlier one first, so the plan is deterministic. Two more orders, kept
    # when smaller: widest alignment first (no padding between mixed types) and first use first (a chain of
    # conversions, where largest-first strands a small buffer above two large ones).
    orders = [sorted(buffers, key=lambda b: (-b.size, b.first, b.id)),
              sorted(buffers, key=lambda b: (b.first, -b.size, b.id))]
    if len({b.align for b in buffers}) > 1:
        orders.append(sorted(buffers, key=lambda b: (-b.align, -b.size, b.first, b.id)))
    # Still above the bound (mlperf_ad01: a small buffer between two chains of equal ones, 264 vs 256): other
    # orders, shuffled from a fixed seed, so the plan stays deterministic; cheap beside the rest of the generation.
    rng = random.Random(0)
    offsets = _place(orders[0])
    for k in range(1, len(orders) + SHUFFLES):
        if size_of(offsets) <= bound:
            break
        if k < len(orders):
            order = orders[k]
        else:
            order = list(buffers)
            rng.shuffle(order)
        candidate = _place(order)
        offsets = candidate if size_of(candidate) < size_of(offsets) else offsets
    for buf in buffers:
        buf.offset = offsets[buf.id]
    return ArenaPlan(size=size_of(offsets), lower_bound=bound, offsets=offsets)
