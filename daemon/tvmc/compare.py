"""Compiled module vs the TFLite reference interpreter on the same seeded inputs.

Shared by `benchd/validate` and the tests. The reference uses TFLite's reference kernels
(OpResolverType.BUILTIN_REF), not XNNPACK or the optimized kernels, so it is the behaviour the int8
spec defines. TVM 0.27 imports int8 graphs as dequantize -> float op -> quantize, so a few LSB of
difference (tens on deep graphs) are expected; what matters is how many and whether the top-1 class holds.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from daemon.errors import ModelError
from daemon.tvmc.module import generate_tensor


class ReferenceModel:
    """The .tflite file in ai-edge-litert's interpreter with reference kernels."""

    def __init__(self, model_path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        try:
            self.interpreter = Interpreter(
                model_path=str(model_path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF
            )
            self.interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"{model_path.name}: the TFLite reference interpreter cannot load it: {exc}") from exc
        self.inputs = self.interpreter.get_input_details()
        self.outputs = self.interpreter.get_output_details()

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        for detail, value in zip(self.inputs, inputs, strict=True):
            self.interpreter.set_tensor(detail["index"], np.asarray(value, dtype=detail["dtype"]))
        self.interpreter.invoke()
        return [self.interpreter.get_tensor(d["index"]).copy() for d in self.outputs]


def random_inputs(specs: Sequence[Mapping[str, Any]], samples: int, seed: int) -> list[list[np.ndarray]]:
    """`samples` input sets, full-range random for integer inputs, uniform -1..1 for float ones."""
    rng = np.random.default_rng(seed)
    return [[generate_tensor(s["shape"], s["dtype"], "random", rng) for s in specs] for _ in range(samples)]


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """In output LSB for integer outputs (int64 arithmetic: no int8 wrap-around), plain units for float."""
    if np.issubdtype(a.dtype, np.integer):
        return float(np.abs(a.astype(np.int64) - b.astype(np.int64)).max())
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def top1_agrees(compiled: np.ndarray, reference: np.ndarray) -> bool:
    """The class the compiled module ranks first is ranked first by the reference too (ties count as
    agreement: int8 softmax outputs often tie, and argmax would pick between equals arbitrarily)."""
    flat = reference.reshape(-1)
    return bool(flat[int(np.argmax(compiled.reshape(-1)))] == flat.max())


@dataclass(frozen=True)
class Comparison:
    samples: int
    max_abs_diff: float
    top1_agreement: float
    latency_ms: float  # median per inference, compiled module
    reference_latency_ms: float  # median per inference, reference interpreter
    latency_p95_ms: float | None = None  # 95th percentile per inference, compiled module (nearest rank)

    def as_metrics(self) -> dict[str, Any]:
        spread = {} if self.latency_p95_ms is None else {"latency_p95_ms": round(self.latency_p95_ms, 4)}
        return {"latency_ms": round(self.latency_ms, 4), **spread,
                "reference_latency_ms": round(self.reference_latency_ms, 4),
                "max_abs_diff": self.max_abs_diff, "top1_agreement": self.top1_agreement,
                "samples": self.samples}


def _timed(run: Any, inputs: Sequence[np.ndarray]) -> tuple[list[np.ndarray], float]:
    started = time.perf_counter()
    outputs = run(inputs)
    return outputs, (time.perf_counter() - started) * 1000


def compare(compiled: Any, reference: ReferenceModel, input_sets: Sequence[Sequence[np.ndarray]]) -> Comparison:
    """Run both on every input set; output 0 decides top-1, every output counts for the difference."""
    if not input_sets:
        raise ModelError("compare needs at least one input set (samples >= 1)")
    compiled.run(input_sets[0])  # warm-up: first calls allocate
    reference.run(input_sets[0])
    diffs, agree, times, ref_times = [], 0, [], []
    for inputs in input_sets:
        got, t = _timed(compiled.run, inputs)
        want, rt = _timed(reference.run, inputs)
        times.append(t)
        ref_times.append(rt)
        diffs.append(max(max_abs_diff(g, w) for g, w in zip(got, want, strict=True)))
        agree += top1_agrees(got[0], want[0])
    return Comparison(samples=len(input_sets), max_abs_diff=max(diffs), top1_agreement=agree / len(input_sets),
                      latency_ms=statistics.median(times), reference_latency_ms=statistics.median(ref_times),
                      latency_p95_ms=p95(times))


def p95(values: Sequence[float]) -> float:
    """The nearest-rank 95th percentile: a value that was measured, never an interpolation."""
    ordered = sorted(values)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]
