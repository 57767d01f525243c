"""`tvmc compile` on TVM 0.27: TFLite -> Relax (tvm.relax.frontend.tflite) -> llvm -> module.tar.

What TVM 0.27 cannot do (microTVM, AOT, USMP, Model Library Format, AutoTVM records) is refused or warned
about here with a message naming the image that can (benchd/tvm-legacy, TVM v0.18.0).
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from daemon.errors import ConfigError, ModelError
from daemon.modelfile import describe_model
from daemon.tvmc.package import write_package

LEGACY = "benchd/tvm-legacy"
LEGACY_HINT = (f"TVM 0.27 has no microTVM, AOT executor, USMP or Model Library Format; run this step in the "
               f"{LEGACY} image (TVM v0.18.0): set `container: {LEGACY}` on the job")


def legacy_flags(target: str, runtime: str | None, executor: str | None, output_format: str | None,
                 pass_config: Sequence[str], extra: Sequence[str]) -> list[str]:
    """The flags of a microTVM/MLF command line that only a legacy TVM can honour."""
    found = []
    kinds = [part.split()[0] for part in target.split(",") if part.strip()]
    if any(kind in ("c", "cmsis-nn", "ethos-u", "uma") for kind in kinds):  # C/BYOC for microcontrollers
        found.append(f"--target {target}")
    if runtime and runtime != "cpp":
        found.append(f"--runtime {runtime}")
    if executor and executor != "vm":
        found.append(f"--executor {executor}")
    if output_format and output_format != "so":
        found.append(f"--output-format {output_format}")
    found += [f"--pass-config {p}" for p in pass_config if p.startswith("tir.usmp") or "aot" in p]
    found += [f for f in extra if f.startswith(("--executor-", "--runtime-"))]
    return found


def _unsupported_operators(message: str) -> list[str]:
    return sorted(set(re.findall(r"'([A-Z][A-Z0-9_]*)'", message)))


def import_model(model_path: Path, info: dict[str, Any]) -> Any:
    """The Relax IRModule of a .tflite file; ModelError naming the operator when TVM cannot import it."""
    import tflite
    import tvm
    from tvm.relax.frontend.tflite import from_tflite

    shapes = {t["name"]: tuple(t["shape"]) for t in info["inputs"]}
    dtypes = {t["name"]: t["dtype"] for t in info["inputs"]}  # the frontend assumes float32 otherwise
    tfl = tflite.Model.GetRootAsModel(model_path.read_bytes(), 0)
    # Keep only the class and text of a failure: the traceback holds the half-built BlockBuilder, whose
    # C++ destructor prints a warning; collecting it while stderr is muted keeps the error on one line.
    failure: tuple[type[Exception], str] | None = None
    with _quiet_stderr():
        try:
            return from_tflite(tfl, shape_dict=shapes, dtype_dict=dtypes)
        except Exception as exc:  # the frontend also asserts on graphs it does not understand
            failure = (type(exc), " ".join(str(exc).split()))
        gc.collect()
    assert failure is not None
    kind, message = failure
    if issubclass(kind, tvm.error.OpNotImplemented):
        ops = _unsupported_operators(message) or ["(see below)"]
        quantized = "quantized " if "quantized" in message else ""
        raise ModelError(
            f"{model_path.name}: TVM {tvm.__version__}'s TFLite frontend cannot import the {quantized}"
            f"operator(s) {', '.join(ops)}. Re-export the model without them, or compile it in the "
            f"{LEGACY} image (TVM v0.18.0, Relay frontend). TVM said: {message}"
        )
    raise ModelError(f"{model_path.name}: TVM {tvm.__version__} could not import the model: "
                     f"{message[:300] or kind.__name__}")


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send fd 2 to /dev/null: TVM's C++ logs there directly, past Python's sys.stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def compile_model(model_path: Path, output: Path, target: str = "llvm", opt_level: int = 3) -> dict[str, Any]:
    """Import, build and archive; returns the metadata written into module.tar."""
    info = describe_model(model_path)
    started = time.perf_counter()
    mod = import_model(model_path, info)
    import tvm
    from tvm import relax

    try:
        tvm_target = tvm.target.Target(target)
    except Exception as exc:
        raise ConfigError(f"--target {target!r} is not a target TVM {tvm.__version__} knows: {exc}") from exc
    if tvm_target.kind.name != "llvm":
        raise ConfigError(f"--target {target!r}: benchd's tvmc builds host modules for llvm only; {LEGACY_HINT}")
    try:
        with tvm.transform.PassContext(opt_level=opt_level):
            executable = relax.build(mod, target=tvm_target)
    except Exception as exc:
        first = " ".join(str(exc).split())[:300]
        raise ModelError(f"{model_path.name}: TVM {tvm.__version__} failed to build for {target}: {first}") from exc
    compile_s = time.perf_counter() - started
    metadata = {
        "tvm_version": tvm.__version__,
        "target": target,
        "opt_level": opt_level,
        "compile_s": round(compile_s, 3),
        "model": {k: info[k] for k in ("name", "sha256", "size", "quantized", "operators")},
        "inputs": info["inputs"],
        "outputs": info["outputs"],
    }
    with tempfile.TemporaryDirectory(prefix="benchd-tvmc-") as tmp:
        library = Path(tmp) / "mod.so"
        executable.export_library(str(library))
        write_package(output, library, metadata)
    return metadata


def warn_tuning_records(path: str) -> None:
    print(f"tvmc: warning: --tuning-records {path} ignored: TVM 0.27 cannot apply AutoTVM/auto-scheduler "
          f"records (Relax uses MetaSchedule databases); the module is built untuned. Records apply only "
          f"in the {LEGACY} image.", file=sys.stderr, flush=True)
