"""`tvmc run`: load module.tar into the Relax VM, fill inputs, run, time, and print as real tvmc does."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from daemon.errors import ModelError
from daemon.tvmc.package import read_package


class CompiledModel:
    """A module.tar loaded into a Relax VirtualMachine on the host CPU."""

    def __init__(self, path: Path) -> None:
        import tvm
        from tvm import relax

        with tempfile.TemporaryDirectory(prefix="benchd-tvmc-") as tmp:
            library, self.metadata = read_package(path, Path(tmp))
            # dlopen keeps the mapping after the file is deleted, so the temp dir can go.
            lib = tvm.runtime.load_module(str(library))
        self._tvm = tvm
        self.device = tvm.cpu()
        self.vm = relax.VirtualMachine(lib, self.device)
        self.inputs: list[dict[str, Any]] = self.metadata["inputs"]
        self.outputs: list[dict[str, Any]] = self.metadata["outputs"]

    def _args(self, inputs: Sequence[np.ndarray]) -> list[Any]:
        if len(inputs) != len(self.inputs):
            raise ModelError(f"the module takes {len(self.inputs)} input(s), got {len(inputs)}")
        args = []
        for spec, value in zip(self.inputs, inputs, strict=True):
            array = np.ascontiguousarray(value, dtype=spec["dtype"]).reshape(spec["shape"])
            args.append(self._tvm.runtime.tensor(array, self.device))
        return args

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        result = self.vm["main"](*self._args(inputs))
        if hasattr(result, "numpy"):
            return [result.numpy()]
        return [item.numpy() for item in result]  # several outputs come back as a tuple

    def benchmark(self, inputs: Sequence[np.ndarray], repeat: int, number: int) -> list[float]:
        """Seconds per run, one figure per repeat (each the mean of `number` runs), as tvmc reports them."""
        self.vm.set_input("main", *self._args(inputs))
        timer = self.vm.time_evaluator("invoke_stateful", self.device, number=number, repeat=repeat)
        return [float(t) for t in timer("main").results]


def generate_tensor(shape: Sequence[int], dtype: str, fill_mode: str, rng: np.random.Generator) -> np.ndarray:
    """tvmc's fill modes; random int8 covers the whole range (tvmc used 0..127), float is uniform -1..1."""
    if fill_mode == "zeros":
        return np.zeros(shape, dtype)
    if fill_mode == "ones":
        return np.ones(shape, dtype)
    if np.issubdtype(np.dtype(dtype), np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max + 1, size=shape).astype(dtype)
    return rng.uniform(-1, 1, size=shape).astype(dtype)


def make_inputs(specs: Sequence[Mapping[str, Any]], given: Mapping[str, np.ndarray], fill_mode: str,
                rng: np.random.Generator) -> list[np.ndarray]:
    """Inputs in graph order: from the .npz where named there, generated otherwise (as tvmc does)."""
    names = [s["name"] for s in specs]
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ModelError(f"the inputs file names {unknown}, which the model does not have; its inputs: {names}")
    return [np.asarray(given[s["name"]]) if s["name"] in given
            else generate_tensor(s["shape"], s["dtype"], fill_mode, rng) for s in specs]


def get_top_results(output: np.ndarray, max_results: int) -> np.ndarray:
    """tvmc's result_utils.get_top_results: a (2, n) array, indices row over values row, best first."""
    output = np.copy(output).reshape(1, -1)
    sorted_labels = output.argsort()[0][-max_results:][::-1]
    output.sort()
    sorted_values = output[0][-max_results:][::-1]
    return np.array([sorted_labels, sorted_values])


def format_times(times_s: Sequence[float]) -> str:
    """The table of tvm.runtime.module.BenchmarkResult.__str__, which real tvmc prints for --print-time."""
    ms = np.asarray(times_s, dtype=np.float64) * 1000
    return (
        "Execution time summary:\n"
        f"{'mean (ms)':^12} {'median (ms)':^12} {'max (ms)':^12} {'min (ms)':^12} {'std (ms)':^12}\n"
        f"{ms.mean():^12.4f} {np.median(ms):^12.4f} {ms.max():^12.4f} {ms.min():^12.4f} {ms.std():^12.4f}"
    )


def load_inputs_file(path: str | None) -> dict[str, np.ndarray]:
    if not path:
        return {}
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the inputs file {path} ({exc}): give an .npz keyed by input name") from exc
