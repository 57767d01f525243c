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
ALIGN = 1  # every kernel reads and writes int8 bytewise; a coarser alignment could cost bytes over the bound


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


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _first_fit(order: list[Storage]) -> dict[int, int]:
    """Each buffer in turn at the lowest offset clear of every placed buffer whose live range overlaps its own."""
    placed: list[tuple[int, int, Storage]] = []  # (offset, end, buffer)
    offsets: dict[int, int] = {}
    for buf in order:
        conflicts = sorted((o, e) for o, e, other in placed if not (other.last < buf.first or buf.last < other.first))
        offset = 0
        for start, end in conflicts:
            if offset + buf.size <= start:
                break
            offset = max(offset, _align(end))
        offsets[buf.id] = offset
        placed.append((offset, offset + buf.size, buf))
    return offsets


def plan(program: Program) -> ArenaPlan:
    buffers = _arena_buffers(program)
    bound = lower_bound(buffers, len(program.steps))

    def size_of(offsets: dict[int, int]) -> int:
        return max((offsets[b.id] + b.size for b in buffers), default=0)

    # Largest first; among equals the earlier one first, so the plan is deterministic.
    offsets = _first_fit(sorted(buffers, key=lambda b: (-b.size, b.first, b.id)))
    # Above the bound (mlperf_ad01: a small buffer between two chains of equal ones, 264 vs 256), other orders,
    # shuffled from a fixed seed: still deterministic, and cheap beside the rest of the generation.
    rng = random.Random(0)
    for _ in range(SHUFFLES):
        if size_of(offsets) <= bound:
            break
        order = list(buffers)
        rng.shuffle(order)
        candidate = _first_fit(order)
        offsets = candidate if size_of(candidate) < size_of(offsets) else offsets
    for buf in buffers:
        buf.offset = offsets[buf.id]
    return ArenaPlan(size=size_of(offsets), lower_bound=bound, offsets=offsets)
