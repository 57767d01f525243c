"""The known-good firmware of the health check (healthcheck.py) for simulated boards, built once per content.

What it is: the reference C backend's build of a tiny built-in int8 model (FC 64 -> 16 with ReLU, FC 16 -> 10,
softmax; written here with the `tflite` package's flatbuffer builders, deterministic, no file in the repo), for
the virtual core (QEMU `virt`), on three fixed input vectors, packed as a `virt` bundle. Beside it, the exact
`BENCHD_RESULT` lines it prints: the same ELF is run once under QEMU at build time with the virtual core's own
argv, which is what a simulated board runs after its reset, and `-icount` makes even the instruction counts
exact. A build that does not pass there (three ok lines, exit 0) is refused: the host is at fault, not a board.

The cache: `<cache>/<key>/` where the key is the SHA-256 of benchd's version, the model, the vectors and every
source the build reads (target/virt, target/runner, target/tools, the codegen package). Built under a lock in a
scratch folder renamed into place, so concurrent workers build it once and a crash leaves no half entry.
"""

from __future__ import annotations

import hashlib
import importlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog

import daemon
from daemon.boards.lease import exclusive
from daemon.errors import VirtCoreError
from daemon.firmware.resultline import RESULT_PREFIX
from daemon.firmware.virtimage import write_virt_bundle
from daemon.virtcore.build import CC, default_target_dir
from daemon.virtcore.qemu import QEMU

VECTORS = 3
INPUT, HIDDEN, CLASSES = 64, 16, 10
FIRMWARE_DIR, EXPECTED_FILE = "firmware", "expected.txt"  # inside a cache entry
SOURCE_SUFFIXES = (".c", ".h", ".S", ".ld", ".py")
TOOL_HINT = "apt-get install gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc"
_log = structlog.get_logger("benchd.boards.healthcheck")


class HostToolsMissing(VirtCoreError):
    """The host cannot build or run the health firmware: a tool is missing (the message names it)."""


@dataclass(frozen=True)
class HealthFirmware:
    folder: Path  # a virt bundle: flasher_args.json, benchd-virt.bin, inputs.npy, virt.json
    expected: tuple[str, ...]  # the exact BENCHD_RESULT lines, in order, without line ends
    key: str  # the cache entry's content hash
    built: bool  # built by this call (False: found in the cache)


def missing_tools() -> list[str]:
    """What the host lacks to build and run a virt firmware (Debian package names in the message)."""
    missing = [tool for tool in (CC, QEMU) if shutil.which(tool) is None]
    if CC not in missing:
        found = subprocess.run([CC, "-print-file-name=picolibc.specs"], capture_output=True, text=True,  # noqa: S603
                               timeout=30, check=False).stdout.strip()
        if not Path(found).is_absolute():  # gcc echoes the bare name when it finds no such file
            missing.append("picolibc (picolibc.specs)")
    return missing


def health_model() -> tuple[bytes, np.ndarray]:
    """The model (.tflite bytes) and its input vectors (VECTORS x 1 x INPUT, int8); the same bytes every call."""
    rng = np.random.default_rng(19)
    vectors = rng.integers(-128, 128, size=(VECTORS, 1, INPUT), dtype=np.int8)
    w1 = rng.integers(-127, 128, size=(HIDDEN, INPUT), dtype=np.int8)
    w2 = rng.integers(-127, 128, size=(CLASSES, HIDDEN), dtype=np.int8)
    in_scale, w_scale = 1 / 32, 1 / 64
    # Scales from the integer accumulators of the vectors themselves, so that every layer's outputs spread over
    # int8 instead of saturating: hidden over 0..255 steps, logits within +-4 (softmax neither flat nor one-hot).
    hidden = np.maximum(vectors[:, 0].astype(np.int64) @ w1.T.astype(np.int64), 0) * (in_scale * w_scale)
    h_scale = float(hidden.max()) / 255 or 1.0
    h_int = np.clip(np.round(hidden / h_scale) - 128, -128, 127).astype(np.int64)
    w2_scale = 4.0 / (float(np.abs((h_int + 128) @ w2.T.astype(np.int64)).max()) * h_scale or 1.0)
    g = _Graph()
    x = g.tensor("input", (1, INPUT), _INT8, in_scale, 0)
    h = g.tensor("hidden", (1, HIDDEN), _INT8, h_scale, -128)
    out = g.tensor("logits", (1, CLASSES), _INT8, 4.0 / 127, 0)
    probs = g.tensor("probabilities", (1, CLASSES), _INT8, 1 / 256, -128)
    g.op("FULLY_CONNECTED", [x, g.const("w1", w1, _INT8, w_scale),
                             g.const("b1", np.zeros(HIDDEN, np.int32), _INT32, in_scale * w_scale)], [h], relu=True)
    g.op("FULLY_CONNECTED", [h, g.const("w2", w2, _INT8, w2_scale),
                             g.const("b2", np.zeros(CLASSES, np.int32), _INT32, h_scale * w2_scale)], [out])
    g.op("SOFTMAX", [out], [probs])
    return g.serialize(x, probs), vectors


def cache_key(model: bytes, vectors: np.ndarray, target: Path) -> str:
    """The content hash naming a cache entry: benchd's version, the model, the vectors, and every source file the
    build reads (the firmware's C, the header generator, the reference C backend and its kernels)."""
    digest = hashlib.sha256(daemon.__version__.encode() + b"\0" + model + vectors.tobytes())
    folders = [target / "virt", target / "runner", target / "tools", Path(__file__).resolve().parents[1] / "codegen"]
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.suffix in SOURCE_SUFFIXES):
            digest.update(f"{folder.name}/{path.relative_to(folder)}".encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:24]


def health_firmware(cache: Path) -> HealthFirmware:
    """The health firmware from `cache`, built first if it is not there; HostToolsMissing or VirtCoreError when
    the host cannot build it."""
    model, vectors = health_model()
    target = default_target_dir()
    key = cache_key(model, vectors, target)
    entry = cache / key
    if _complete(entry):
        return _load(entry, key, built=False)
    if missing := missing_tools():
        raise HostToolsMissing(f"{', '.join(missing)} missing on this host: `{TOOL_HINT}`")
    with exclusive(cache / "build.lock"):
        if _complete(entry):  # another worker built it while this one waited
            return _load(entry, key, built=False)
        scratch = cache / f".{key}.building"
        for leftover in (scratch, entry):  # what a crashed build left, or an entry someone emptied by hand
            shutil.rmtree(leftover, ignore_errors=True)
        _build(scratch, model, vectors, target)
        scratch.rename(entry)
    _log.info("healthcheck.firmware_built", key=key, folder=str(entry))
    return _load(entry, key, built=True)


def _build(folder: Path, model: bytes, vectors: np.ndarray, target: Path) -> None:
    from daemon.codegen import compile_c
    from daemon.virtcore import build_firmware, run_firmware

    folder.mkdir(parents=True)
    (folder / "health.tflite").write_bytes(model)
    compile_c(folder / "health.tflite", folder / "mlf.tar")
    sha = hashlib.sha256(model).hexdigest()
    built = build_firmware(folder / "mlf.tar", vectors, folder / "build", sha, target_dir=target)
    run = run_firmware(built.elf, timeout_s=60)
    expected = [line.rstrip("\r") for line in run.console.splitlines() if RESULT_PREFIX in line]
    if not run.passed or len(run.results) != VECTORS or not all(r.ok for r in run.results):
        raise VirtCoreError(f"the health firmware does not pass on the virtual core itself (exit {run.exit_code}, "
                          f"{len(run.results)} of {VECTORS} result lines): the host's toolchain or QEMU is broken, "
                          f"not a board; console: {run.console.strip()[-400:]}")
    write_virt_bundle(folder / FIRMWARE_DIR, built.elf, vectors, "reference-c", sha)
    (folder / EXPECTED_FILE).write_text("\n".join(expected) + "\n", encoding="utf-8")
    shutil.rmtree(folder / "build" / "mlf", ignore_errors=True)  # sources of the ELF: not needed any more


def _complete(entry: Path) -> bool:
    return (entry / EXPECTED_FILE).is_file() and (entry / FIRMWARE_DIR / "flasher_args.json").is_file()


def _load(entry: Path, key: str, built: bool) -> HealthFirmware:
    lines = (entry / EXPECTED_FILE).read_text(encoding="utf-8").splitlines()
    return HealthFirmware(entry / FIRMWARE_DIR, tuple(line for line in lines if line), key, built)


# -- a tiny TFLite writer: just what the health model needs -------------------------------------------------
_INT32, _INT8 = 2, 9  # tflite.TensorType
_OPS = {"FULLY_CONNECTED": (9, 8, "FullyConnectedOptions"), "SOFTMAX": (25, 9, "SoftmaxOptions")}


def _table(b: Any, kind: str, **fields: Any) -> int:
    mod = importlib.import_module(f"tflite.{kind}")
    mod.Start(b)
    for name, value in fields.items():
        getattr(mod, "Add" + name)(b, value)
    return int(mod.End(b))


def _vector(b: Any, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        b.PrependUOffsetTRelative(offset)
    return int(b.EndVector())


class _Graph:
    def __init__(self) -> None:
        import flatbuffers

        self.b = flatbuffers.Builder(4096)
        self.buffers: list[bytes] = [b""]
        self.tensors: list[tuple[str, tuple[int, ...], int, float, int, int]] = []
        self.ops: list[tuple[str, list[int], list[int], bool]] = []

    def tensor(self, name: str, shape: tuple[int, ...], kind: int, scale: float, zero: int, buffer: int = 0) -> int:
        self.tensors.append((name, shape, kind, scale, zero, buffer))
        return len(self.tensors) - 1

    def const(self, name: str, data: np.ndarray, kind: int, scale: float) -> int:
        self.buffers.append(np.ascontiguousarray(data).tobytes())
        return self.tensor(name, data.shape, kind, scale, 0, len(self.buffers) - 1)

    def op(self, name: str, inputs: list[int], outputs: list[int], relu: bool = False) -> None:
        self.ops.append((name, inputs, outputs, relu))

    def serialize(self, graph_input: int, graph_output: int) -> bytes:
        b = self.b
        names = sorted({op[0] for op in self.ops}, key=lambda n: _OPS[n][0])
        codes = [_table(b, "OperatorCode", DeprecatedBuiltinCode=_OPS[n][0], BuiltinCode=_OPS[n][0], Version=1)
                 for n in names]
        tensors = []
        for name, shape, kind, scale, zero, buffer in self.tensors:
            quant = _table(b, "QuantizationParameters", Scale=b.CreateNumpyVector(np.array([scale], np.float32)),
                           ZeroPoint=b.CreateNumpyVector(np.array([zero], np.int64)))
            label, dims = b.CreateString(name), b.CreateNumpyVector(np.array(shape, np.int32))
            tensors.append(_table(b, "Tensor", Shape=dims, Type=kind, Buffer=buffer, Name=label, Quantization=quant))
        ops = []
        for name, ins, outs, relu in self.ops:
            fields = {"FusedActivationFunction": int(relu)} if name == "FULLY_CONNECTED" else {"Beta": 1.0}
            options = _table(b, _OPS[name][2], **fields)
            ops.append(_table(b, "Operator", OpcodeIndex=names.index(name),
                              Inputs=b.CreateNumpyVector(np.array(ins, np.int32)),
                              Outputs=b.CreateNumpyVector(np.array(outs, np.int32)),
                              BuiltinOptionsType=_OPS[name][1], BuiltinOptions=options))
        subgraph = _table(b, "SubGraph", Tensors=_vector(b, tensors),
                          Inputs=b.CreateNumpyVector(np.array([graph_input], np.int32)),
                          Outputs=b.CreateNumpyVector(np.array([graph_output], np.int32)),
                          Operators=_vector(b, ops), Name=b.CreateString("main"))
        buffers = []
        for raw in self.buffers:
            if raw:
                b.StartVector(1, len(raw), 16)  # 16-byte aligned, as TFLite's own writer does
                b.head -= len(raw)
                b.Bytes[b.head : b.head + len(raw)] = raw
                buffers.append(_table(b, "Buffer", Data=int(b.EndVector())))
            else:
                buffers.append(_table(b, "Buffer"))
        model = _table(b, "Model", Version=3, OperatorCodes=_vector(b, codes), Subgraphs=_vector(b, [subgraph]),
                       Description=b.CreateString("benchd health check: int8 FC 64-16-10 + softmax"),
                       Buffers=_vector(b, buffers))
        b.Finish(model, file_identifier=b"TFL3")
        return bytes(b.Output())
