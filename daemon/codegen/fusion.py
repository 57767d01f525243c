"""Fusing CONV_2D into the AVERAGE/MAX_POOL_2D that follows it, when the pool's windows do not overlap.

The fused kernel computes the convolution's output pixels one pooling window at a time and never stores
the full feature map: that map is usually the largest tensor of a small CNN (kws_cnn3: 31,360 of its
39,040 arena bytes), and conv pixels no window covers are not computed at all. Bit-exact, because the
pool reduces exactly the int8 values the convolution would have stored.
"""

from __future__ import annotations

from collections import Counter

from daemon.codegen.ops import Step
from daemon.codegen.reader import Graph

POOLS = {"bd_average_pool": 1, "bd_max_pool": 0}


def _fusable(graph: Graph, conv: Step, pool: Step, readers: Counter[int], aliased: set[int]) -> bool:
    if conv.kernel != "bd_conv2d" or pool.kernel not in POOLS or pool.inputs != conv.outputs:
        return False
    t = conv.outputs[0]
    f = pool.fields
    return (readers[t] == 1 and t not in graph.outputs and t not in aliased
            and f["stride_h"] >= f["f_h"] and f["stride_w"] >= f["f_w"])


def _fuse(conv: Step, pool: Step) -> Step:
    f = pool.fields
    # Requantization is monotonic when no multiplier is negative and none shifts left (a left shift may wrap):
    # then the max pool can take the largest accumulator and requantize once per window.
    # (requant.py's fast form is only chosen under both conditions)
    monotonic = "rq" in conv.consts or bool((conv.consts["mult"] >= 0).all() and (conv.consts["shift"] <= 0).all())
    max_first = int(not POOLS[pool.kernel] and monotonic)
    fields = {"conv": conv.fields, "average": POOLS[pool.kernel], "max_first": max_first,
              **{k: f[k] for k in ("out_h", "out_w", "f_h", "f_w", "stride_h", "stride_w", "pad_top", "pad_left",
                                   "act_min", "act_max")}}
    out_c = conv.fields["mv"]["units"]
    return Step(conv.op_index, f"{conv.opcode}+{pool.opcode}", "bd_conv2d_pool", "bd_conv_pool_params", fields,
                conv.consts, list(conv.inputs), list(pool.outputs),
                scratch_bytes=f["f_h"] * f["f_w"] * out_c + conv.scratch_bytes, takes_scratch=True,
                macs=conv.macs)  # the model's MACs; conv pixels no window reads are skipped on top


def fuse_conv_pool(graph: Graph, steps: list[Step], aliased: set[int]) -> list[Step]:
    """`aliased`: tensors joined to others by RESHAPE (their bytes are read under another name too)."""
    readers = Counter(t for s in steps for t in s.inputs)
    out: list[Step] = []
    k = 0
    while k < len(steps):
        if k + 1 < len(steps) and _fusable(graph, steps[k], steps[k + 1], readers, aliased):
            out.append(_fuse(steps[k], steps[k + 1]))
            k += 2
        else:
            out.append(steps[k])
            k += 1
    return out
