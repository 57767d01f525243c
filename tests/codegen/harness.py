"""Build and run generated archives: a host executable (gcc, sanitizers) and an RV32IMC image for QEMU.

One executable per model reads many input vectors (stdin, raw bytes of each input's dtype, inputs back to
back) and writes the outputs (stdout, raw bytes), so 100 vectors cost one compile. The RV32 image has its
vectors compiled in, prints outputs and the `rdinstret` count of each inference over the virt UART, and exits via the
test device.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from daemon.codegen.archive import extract_archive

CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-O1"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
RV_GCC = "riscv64-unknown-elf-gcc"
QEMU = "qemu-system-riscv32"
HAVE_RV32 = shutil.which(RV_GCC) is not None and shutil.which(QEMU) is not None
VECTORS = 200  # >= 100 random inputs per model; one compiled executable runs them all


C_TYPES = {"int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "float32": "float"}


@dataclass(frozen=True)
class Io:
    inputs: list[tuple[str, int]]  # (struct member, bytes), model order
    outputs: list[tuple[str, int]]
    input_dtypes: tuple[str, ...] = ()  # numpy names, model order (int8 where empty)
    output_dtypes: tuple[str, ...] = ()
    input_quantization: tuple[dict[str, Any], ...] = ()  # metadata.json's: the integer side of each input

    def dtype(self, kind: str, i: int) -> np.dtype:
        dtypes = self.input_dtypes if kind == "input" else self.output_dtypes
        return np.dtype(dtypes[i] if i < len(dtypes) else "int8")


def unpack(archive: Path, dest: Path) -> Io:
    extract_archive(archive, dest)
    main = json.loads((dest / "metadata.json").read_text())["modules"]["default"]
    ins, outs = list(main["inputs"].values()), list(main["outputs"].values())
    return Io([(t["member"], t["size"]) for t in ins], [(t["member"], t["size"]) for t in outs],
              tuple(t.get("dtype", "int8") for t in ins), tuple(t.get("dtype", "int8") for t in outs),
              tuple(t.get("quantization", {}) for t in ins))


def _buffers(io: Io) -> list[str]:
    # Typed buffers: the generated code reads int16/float through pointers of that type (aligned).
    def decl(kind: str, name: str, i: int, size: int) -> str:
        dtype = io.dtype(kind, i)
        return f"static {C_TYPES[dtype.name]} {name}{i}[{size // dtype.itemsize}];"

    lines = [decl("input", "in", i, size) for i, (_, size) in enumerate(io.inputs)]
    lines += [decl("output", "out", i, size) for i, (_, size) in enumerate(io.outputs)]
    lines += ["static void bind(struct tvmgen_default_inputs *in, struct tvmgen_default_outputs *out) {"]
    lines += [f"    in->{name} = in{i};" for i, (name, _) in enumerate(io.inputs)]
    lines += [f"    out->{name} = out{i};" for i, (name, _) in enumerate(io.outputs)]
    return [*lines, "}"]


def host_harness(io: Io) -> str:
    reads = " && ".join(f"fread(in{i}, 1, {s}, stdin) == {s}" for i, (_, s) in enumerate(io.inputs))
    writes = "\n".join(f"        fwrite(out{i}, 1, {s}, stdout);" for i, (_, s) in enumerate(io.outputs))
    return "\n".join([
        "#include <stdio.h>", '#include "tvmgen_default.h"', *_buffers(io),
        "int main(void) {", "    struct tvmgen_default_inputs inputs;", "    struct tvmgen_default_outputs outputs;",
        "    bind(&inputs, &outputs);", f"    while ({reads}) {{",
        "        if (tvmgen_default_run(&inputs, &outputs) != 0) return 1;", writes, "    }", "    return 0;", "}", ""])


_OBJECTS: dict[str, Path] = {}
_CACHE = Path(tempfile.gettempdir()) / f"benchd-test-objects-{os.getpid()}"
atexit.register(shutil.rmtree, _CACHE, True)


def _compiled(root: Path, compile_cmd: list[str]) -> list[str]:
    """The archive's sources as objects (`compile_cmd` + `-c`), each kernel file compiled once per test session.

    Every archive ships the same kernel files, so a kernel object is reused when its source, the headers beside
    it and the flags are byte for byte the same (the key hashes all three); the model's default_lib0.c is
    compiled each time. It keeps the suite's ~400 model builds from compiling ~15 kernel files each.
    """
    src = root / "codegen/host/src"
    headers = b"".join(h.read_bytes() for h in sorted(src.glob("*.h")))
    objects = []
    for source in sorted(src.glob("*.c")):
        if source.name == "default_lib0.c":
            objects.append(str(source))
            continue
        key = hashlib.sha256(repr(compile_cmd).encode() + headers + source.read_bytes()).hexdigest()
        if key not in _OBJECTS:
            _CACHE.mkdir(exist_ok=True)
            obj = _CACHE / f"{key}.o"
            proc = subprocess.run([*compile_cmd, "-I", str(root / "codegen/host/include"), "-c", str(source),
                                   "-o", str(obj)], capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, proc.stderr
            _OBJECTS[key] = obj
        objects.append(str(_OBJECTS[key]))
    return objects


def build_host(archive: Path, work: Path, sanitize: bool = True) -> tuple[Path, Io]:
    root = work / "mlf"
    io = unpack(archive, root)
    (work / "harness.c").write_text(host_harness(io))
    exe = work / "model"
    flags = ["gcc", *CFLAGS, *(SANITIZE if sanitize else [])]
    cmd = [*flags, "-I", str(root / "codegen/host/include"), *_compiled(root, flags), str(work / "harness.c"),
           "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return exe, io


def run_host(exe: Path, io: Io, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """inputs: one (N, values) array per model input (its dtype); returns one (N, values) array per output."""
    n = len(inputs[0])
    stream = b"".join(b"".join(x[k].tobytes() for x in inputs) for k in range(n))
    proc = subprocess.run([str(exe)], input=stream, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    per = sum(s for _, s in io.outputs)
    raw = np.frombuffer(proc.stdout, np.uint8).reshape(n, per)
    outs, at = [], 0
    for i, (_, size) in enumerate(io.outputs):
        outs.append(raw[:, at:at + size].copy().view(io.dtype("output", i)))
        at += size
    return outs


def reference(model: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """TFLite's reference kernels (ai-edge-litert, BUILTIN_REF) on every vector."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_path=str(model), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    ins, outs = interp.get_input_details(), interp.get_output_details()
    results: list[list[np.ndarray]] = [[] for _ in outs]
    for k in range(len(inputs[0])):
        for detail, x in zip(ins, inputs, strict=True):
            interp.set_tensor(detail["index"], x[k].reshape(detail["shape"]))
        interp.invoke()
        for j, detail in enumerate(outs):
            results[j].append(interp.get_tensor(detail["index"]).reshape(-1).copy())
    return [np.stack(r) for r in results]


# -- RV32IMC under qemu-system-riscv32 -M virt --------------------------------------------------------
RV_START = r"""
    .section .text.start
    .globl _start
_start:
    la sp, __stack_top
    la t0, __bss_start
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sw zero, 0(t0)
    addi t0, t0, 4
    j 1b
2:  call main
    j bd_exit
"""

RV_LINK = """
ENTRY(_start)
MEMORY { RAM (rwx) : ORIGIN = 0x80000000, LENGTH = 16M }
SECTIONS {
  .text : { *(.text.start) *(.text*) } > RAM
  .rodata : { *(.rodata*) *(.srodata*) } > RAM
  .data : { *(.data*) *(.sdata*) } > RAM
  .bss (NOLOAD) : { . = ALIGN(4); __bss_start = .; *(.bss*) *(.sbss*) *(COMMON) . = ALIGN(4); __bss_end = .; } > RAM
  . = ALIGN(16);
  . = . + 0x10000;
  __stack_top = .;
}
"""


def rv_harness(io: Io, vectors: list[list[np.ndarray]]) -> str:
    """Vectors compiled in; prints `OUT <hex bytes>` and `INSTRET <n>` per vector, then exits with 0.
    Inputs and outputs travel as raw bytes of their dtype (little-endian on both sides)."""
    data = []
    for i, (_, size) in enumerate(io.inputs):
        rows = ",\n".join("{" + ",".join(str(int(b)) for b in np.ascontiguousarray(vec[i], io.dtype("input", i))
                                          .tobytes()) + "}" for vec in vectors)
        data.append(f"static const uint8_t vec{i}[{len(vectors)}][{size}] = {{{rows}}};")
    copy_in = "\n".join(f"        for (j = 0; j < {s}; j++) ((uint8_t *)in{i})[j] = vec{i}[v][j];"
                        for i, (_, s) in enumerate(io.inputs))
    dump = "\n".join(f"        put_str(\"OUT\"); for (j = 0; j < {s}; j++)"
                     f" put_hex8((int8_t)((const uint8_t *)out{i})[j]); put_str(\"\\n\");"
                     for i, (_, s) in enumerate(io.outputs))
    return "\n".join([
        "#include <stdint.h>", '#include "tvmgen_default.h"', *_buffers(io), *data,
        "#define UART ((volatile uint8_t *)0x10000000)",
        "static void put_char(char c) { *UART = (uint8_t)c; }",
        "static void put_str(const char *s) { while (*s) put_char(*s++); }",
        'static void put_hex8(int8_t v) { const char *d = "0123456789abcdef"; uint8_t u = (uint8_t)v;'
        " put_char(' '); put_char(d[u >> 4]); put_char(d[u & 15]); }",
        "static void put_dec(uint32_t v) { char b[12]; int n = 0; do { b[n++] = (char)('0' + v % 10); v /= 10; }"
        " while (v); while (n) put_char(b[--n]); }",
        "static uint32_t instret(void) { uint32_t v; __asm__ volatile(\"rdinstret %0\" : \"=r\"(v)); return v; }",
        "void bd_exit(int code) { *(volatile uint32_t *)0x100000 = code ? (((uint32_t)code << 16) | 0x3333u)"
        " : 0x5555u; for (;;) { } }",
        "int main(void) {", "    struct tvmgen_default_inputs inputs;", "    struct tvmgen_default_outputs outputs;",
        "    int v, j;", "    bind(&inputs, &outputs);",
        f"    for (v = 0; v < {len(vectors)}; v++) {{", copy_in,
        "        uint32_t t0 = instret();", "        int32_t rc = tvmgen_default_run(&inputs, &outputs);",
        "        uint32_t t1 = instret();", dump,
        '        put_str("INSTRET "); put_dec(t1 - t0); put_str(rc ? " FAIL\\n" : "\\n");', "    }",
        "    bd_exit(0);", "    return 0;", "}", ""])


def build_rv32(archive: Path, work: Path, vectors: list[list[np.ndarray]]) -> tuple[Path, Io]:
    root = work / "mlf"
    io = unpack(archive, root)
    (work / "harness.c").write_text(rv_harness(io, vectors))
    (work / "start.S").write_text(RV_START)
    (work / "link.ld").write_text(RV_LINK)
    elf = work / "model.elf"
    flags = [RV_GCC, "-march=rv32imc", "-mabi=ilp32", "-O2", "--specs=picolibc.specs", "-std=c99", "-Wall",
             "-Wextra", "-Werror", "-ffreestanding"]
    cmd = [*flags, "-nostartfiles", "-T", str(work / "link.ld"), "-I", str(root / "codegen/host/include"),
           str(work / "start.S"), *_compiled(root, flags), str(work / "harness.c"), "-o", str(elf)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return elf, io


def run_rv32(elf: Path, io: Io, timeout: float = 120) -> tuple[list[list[np.ndarray]], list[int]]:
    """Per vector: its outputs, and the instructions retired by tvmgen_default_run."""
    # -icount shift=0: rdinstret counts retired instructions exactly (else it reads host ticks)
    cmd = [QEMU, "-M", "virt", "-bios", "none", "-nographic", "-icount", "shift=0", "-kernel", str(elf)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outs: list[list[np.ndarray]] = []
    counts: list[int] = []
    current: list[np.ndarray] = []
    for line in proc.stdout.splitlines():
        if line.startswith("OUT"):
            raw = np.array([int(h, 16) for h in line.split()[1:]], np.uint8)
            current.append(raw.view(io.dtype("output", len(current))))
        elif m := re.match(r"INSTRET (\d+)$", line.strip()):
            counts.append(int(m.group(1)))
            outs.append(current)
            current = []
        elif "FAIL" in line:
            raise AssertionError(f"tvmgen_default_run failed on the core: {line}")
    return outs, counts


def float_range(quantization: dict[str, Any]) -> tuple[float, float]:
    """The floats a float32 input's QUANTIZE maps onto its integer range (scale * (q - zero point))."""
    info = np.iinfo(np.dtype(quantization["dtype"]))
    scale, zp = quantization["scale"], quantization["zero_point"]
    return scale * (info.min - zp), scale * (info.max - zp)


def random_inputs(io: Io, count: int = VECTORS, seed: int = 1) -> list[np.ndarray]:
    """Uniform over each input's dtype; for float32 inputs, uniform floats over the range its QUANTIZE covers."""
    rng = np.random.default_rng(seed)
    out = []
    for i, (_, size) in enumerate(io.inputs):
        dtype = io.dtype("input", i)
        n = size // dtype.itemsize
        if dtype.kind == "f":
            lo, hi = float_range(io.input_quantization[i])
            out.append(rng.uniform(lo, hi, (count, n)).astype(dtype))
        else:
            info = np.iinfo(dtype)
            out.append(rng.integers(info.min, info.max + 1, (count, n)).astype(dtype))
    return out


def differing(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Per vector: whether any value differs; compared as raw bytes (a float must match to the bit)."""
    g, w = np.ascontiguousarray(got), np.ascontiguousarray(want, got.dtype)
    return (g.view(np.uint8).reshape(len(g), -1) != w.view(np.uint8).reshape(len(w), -1)).any(axis=1)


def assert_bit_exact(model: Path, exe: Path, io: Io, inputs: list[np.ndarray]) -> None:
    got = run_host(exe, io, inputs)
    want = reference(model, inputs)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype, f"the C output is {g.dtype}, TFLite's {w.dtype}"
        differ = int(differing(g, w).sum())
        worst = float(np.abs(g.astype(np.float64) - w).max())
        assert differ == 0, f"{differ} of {len(g)} vectors differ from TFLite, by up to {worst:g} (LSB for integers)"
        # A test that only ever sees saturated outputs would prove little.
        assert len(np.unique(w)) > 8, f"outputs barely vary ({np.unique(w)}): the test model is too degenerate"


@dataclass(frozen=True)
class CoreRun:
    got: list[np.ndarray]  # per model output: (vectors, values) as the core computed them
    want: list[np.ndarray]  # the same from TFLite's reference kernels
    instructions: list[int]  # retired by tvmgen_default_run, per vector


def assert_bit_exact_rv32(model: Path, work: Path, count: int = 3, seed: int = 5,
                          inputs: list[np.ndarray] | None = None) -> CoreRun:
    """Compiles `model`, runs `count` random vectors (or `inputs`) on RV32IMC under QEMU and asserts every
    output equals TFLite's to the bit; returns what ran, for further checks."""
    from daemon.codegen import compile_c

    compile_c(model, work / "mlf.tar")
    io = unpack(work / "mlf.tar", work / "io")
    inputs = inputs if inputs is not None else random_inputs(io, count, seed)
    count = len(inputs[0])
    elf, io = build_rv32(work / "mlf.tar", work / "rv", [[x[k] for x in inputs] for k in range(count)])
    outs, instructions = run_rv32(elf, io)
    assert len(outs) == count and len(instructions) == count and all(n > 0 for n in instructions)
    want = reference(model, inputs)
    got = [np.stack([out[j] for out in outs]) for j in range(len(want))]
    for j, (g, w) in enumerate(zip(got, want, strict=True)):
        bad = differing(g, w)
        assert not bad.any(), f"output {j}: vectors {np.flatnonzero(bad).tolist()} differ from TFLite on RV32IMC"
    return CoreRun(got, want, instructions)
