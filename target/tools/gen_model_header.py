#!/usr/bin/env python3
"""Write benchd_model.h for the firmware: the model's hash, its I/O binding and types, and test vectors.

    gen_model_header.py --mlf MLF_DIR --sha256 HEX [--model MODEL.tflite] [--input-size N] [--output-size N]
                        [--input-dtype T] [--output-dtype T] [--vectors 3] [--seed 0] [--inputs FILE.bin]
                        --out build/benchd_model.h

The input and output are int8, int16 or float32 (T; metadata.json's "dtype" unless given, int8 if it has
none). The vectors are seeded random values of the input's type (a float32 input: uniform over the range its
QUANTIZE covers, from metadata.json's "quantization", else -1..1), or the raw bytes of --inputs (vectors back to
back, so its size is a multiple of the input size). Sizes are in bytes. Both platforms in target/ (esp-idf,
virt) include the same header.

Names: the fields of `struct tvmgen_default_inputs/outputs` in codegen/host/include/tvmgen_default.h, the
one thing every archive has. Sizes, first found wins: --input-size/--output-size; the archive's per-tensor
sizes (benchd compile-c's metadata, TVM >= 0.10's `modules.default.memory.functions.main[0].inputs`, or the
`TVMGEN_DEFAULT_<NAME>_SIZE` macros of its header); the model itself (--model). TVM 0.9's metadata
(version 6: a top-level `memory`; version 7 before TVM 0.10) holds only the total `io_size_bytes`, so an
archive from it needs --model or the sizes; that total, where present, is checked against the model's.
Standard library only: it runs inside the ESP-IDF image, which has no numpy.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import struct
import sys
from pathlib import Path
from typing import Any

from tflite_io import ModelError, io_sizes


def struct_fields(header: str, name: str) -> list[str]:
    match = re.search(r"struct\s+" + name + r"\s*\{(.*?)\}", header, re.S)
    if not match:
        raise SystemExit(f"tvmgen_default.h declares no struct {name}: build the archive with TVM's "
                         "`--executor-aot-interface-api c` (or with benchd compile-c)")
    body = re.sub(r"/\*.*?\*/|//[^\n]*", "", match.group(1), flags=re.S)
    return re.findall(r"void\s*\*\s*(\w+)\s*;", body)


C_TYPES = {"int8": "int8_t", "int16": "int16_t", "float32": "float"}
PACK = {"int8": "<b", "int16": "<h", "float32": "<f"}
WIDTH = {"int8": 1, "int16": 2, "float32": 4}


def io_entries(mlf: Path) -> tuple[dict, dict]:
    """metadata.json's first input and first output ({} where it cannot be read)."""
    try:
        meta = json.loads((mlf / "metadata.json").read_text())
        module = meta.get("modules", {}).get("default", meta)
        first = lambda d: next(iter(d.values()))  # noqa: E731
        entry_in, entry_out = first(module["inputs"]), first(module["outputs"])
        return (entry_in if isinstance(entry_in, dict) else {}), (entry_out if isinstance(entry_out, dict) else {})
    except (OSError, ValueError, KeyError, StopIteration, TypeError, AttributeError):
        return {}, {}


def main_function(meta: dict[str, Any]) -> dict[str, Any]:
    """metadata.json's entry for the model's main function, in any MLF version (5-7, TVM's or benchd's)."""
    module = (meta.get("modules") or {}).get("default") or {}
    for memory in (module.get("memory"), meta.get("memory")):
        try:
            main = memory["functions"]["main"][0]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(main, dict):
            return {**main, **{k: module[k] for k in ("inputs", "outputs") if k in module and k not in main}}
    return {k: module[k] for k in ("inputs", "outputs") if k in module}


def metadata_sizes(mlf: Path) -> tuple[int | None, int | None, int | None]:
    """(first input size, first output size, total io_size_bytes) as far as metadata.json records them."""
    try:
        main = main_function(json.loads((mlf / "metadata.json").read_text()))
    except (OSError, ValueError):
        return None, None, None

    def first(key: str) -> int | None:
        try:
            return int(next(iter(main[key].values()))["size"])
        except (KeyError, StopIteration, TypeError, ValueError, AttributeError):
            return None

    total = main.get("io_size_bytes")
    return first("inputs"), first("outputs"), int(total) if isinstance(total, int) else None


def header_size(header: str, field: str) -> int | None:
    """TVM >= 0.10 writes `#define TVMGEN_DEFAULT_<FIELD>_SIZE n` for every input and output."""
    match = re.search(rf"#define\s+TVMGEN_DEFAULT_{re.escape(field.upper())}_SIZE\s+(\d+)", header)
    return int(match.group(1)) if match else None


def resolve_sizes(a: argparse.Namespace, header: str, inputs: list[str], outputs: list[str]) -> tuple[int, int]:
    meta_in, meta_out, total = metadata_sizes(a.mlf)
    model_in = model_out = None
    if a.model:
        try:
            ins, outs = io_sizes(a.model)
        except (OSError, ModelError) as exc:
            raise SystemExit(f"cannot read the sizes of {a.model}'s inputs and outputs: {exc}") from exc
        if len(ins) != len(inputs) or len(outs) != len(outputs):
            raise SystemExit(f"{a.model} has {len(ins)} input(s) and {len(outs)} output(s), the archive's "
                             f"tvmgen_default.h {len(inputs)} and {len(outputs)}: is it the model of this archive?")
        model_in, model_out = ins[0], outs[0]
        if total is not None and sum(ins) + sum(outs) != total:
            raise SystemExit(f"{a.model}'s inputs and outputs take {sum(ins) + sum(outs)} bytes, the archive's "
                             f"metadata.json says io_size_bytes {total}: is it the model of this archive?")
    in_size = a.input_size or meta_in or header_size(header, inputs[0]) or model_in
    out_size = a.output_size or meta_out or header_size(header, outputs[0]) or model_out
    if not in_size or not out_size:
        raise SystemExit("the archive does not record its input/output sizes (TVM 0.9's metadata has only "
                         "io_size_bytes): pass --model MODEL.tflite, or --input-size and --output-size")
    return in_size, out_size


def float_range(entry: dict) -> tuple[float, float]:
    """What a float32 input's QUANTIZE maps onto its integer range; -1..1 when the metadata does not say."""
    q = entry.get("quantization") or {}
    bits = {"int8": 8, "int16": 16}.get(q.get("dtype"))
    try:
        scale, zero = float(q["scale"]), int(q["zero_point"])
    except (KeyError, TypeError, ValueError):
        return -1.0, 1.0
    if not bits or not scale > 0:
        return -1.0, 1.0
    return scale * (-(1 << (bits - 1)) - zero), scale * ((1 << (bits - 1)) - 1 - zero)


def signed_bytes(raw: bytes) -> list[int]:
    return [b - 256 if b > 127 else b for b in raw]


def seeded_vectors(in_size: int, count: int, seed: int, dtype: str = "int8",
                   span: tuple[float, float] = (-1.0, 1.0)) -> list[list[int]]:
    """`count` vectors of `in_size` bytes, as signed bytes (an int8 input's values)."""
    rng = random.Random(seed)
    if dtype == "int8":
        return [[rng.randint(-128, 127) for _ in range(in_size)] for _ in range(count)]
    n = in_size // WIDTH[dtype]
    if dtype == "int16":
        draw = lambda: rng.randint(-32768, 32767)  # noqa: E731
    else:
        draw = lambda: rng.uniform(*span)  # noqa: E731
    return [signed_bytes(b"".join(struct.pack(PACK[dtype], draw()) for _ in range(n))) for _ in range(count)]


def file_vectors(path: Path, in_size: int) -> list[list[int]]:
    data = path.read_bytes()
    if not data or len(data) % in_size:
        raise SystemExit(f"{path}: {len(data)} bytes is not a whole number of {in_size}-byte input vectors")
    signed = signed_bytes(data)
    return [signed[i : i + in_size] for i in range(0, len(signed), in_size)]


def render(sha: str, inputs: list[str], outputs: list[str], in_size: int, out_size: int,
           vectors: list[list[int]], in_dtype: str = "int8", out_dtype: str = "int8") -> str:
    count = len(vectors)
    rows = ["    {" + ", ".join(map(str, values)) + "}" for values in vectors]
    return "\n".join([
        "/* Generated by target/tools/gen_model_header.py: do not edit. */",
        "#ifndef BENCHD_MODEL_H", "#define BENCHD_MODEL_H", "#include <stdint.h>",
        f'#define BENCHD_MODEL_SHA256 "{sha}"',
        f"#define BENCHD_INPUT_SIZE {in_size}", f"#define BENCHD_OUTPUT_SIZE {out_size}",
        "/* The element types (sizes above are in bytes; the vectors are the input's bytes) */",
        f"#define BENCHD_INPUT_TYPE {C_TYPES[in_dtype]}", f"#define BENCHD_OUTPUT_TYPE {C_TYPES[out_dtype]}",
        f"#define BENCHD_OUTPUT_FLOAT {int(out_dtype == 'float32')}",
        f"#define BENCHD_VECTOR_COUNT {count}",
        f"#define BENCHD_SET_INPUTS(s, buf) do {{ (s).{inputs[0]} = (buf); }} while (0)",
        f"#define BENCHD_SET_OUTPUTS(s, buf) do {{ (s).{outputs[0]} = (buf); }} while (0)",
        f"static const int8_t benchd_vectors[{count}][{in_size}] = {{", ",\n".join(rows), "};", "#endif", "",
    ])


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mlf", type=Path, required=True)
    p.add_argument("--sha256", required=True)
    p.add_argument("--vectors", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--inputs", type=Path, help="raw input vectors, back to back (instead of --vectors/--seed)")
    p.add_argument("--model", type=Path, help="the .tflite model: the I/O sizes where the archive lacks them")
    p.add_argument("--input-size", type=int, help="bytes")
    p.add_argument("--output-size", type=int, help="bytes")
    p.add_argument("--input-dtype", choices=sorted(C_TYPES))
    p.add_argument("--output-dtype", choices=sorted(C_TYPES))
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    if not re.fullmatch(r"[0-9a-f]{64}", a.sha256):
        raise SystemExit("--sha256 must be 64 lower-case hex digits (the model's sha256)")
    header_path = a.mlf / "codegen" / "host" / "include" / "tvmgen_default.h"
    try:
        header = header_path.read_text()
    except OSError as exc:
        raise SystemExit(f"cannot read {header_path} ({exc.strerror}): is --mlf an extracted MLF archive?") from exc
    inputs, outputs = struct_fields(header, "tvmgen_default_inputs"), struct_fields(header, "tvmgen_default_outputs")
    if not inputs or not outputs:
        raise SystemExit(f"{header_path} names no input or no output field")
    in_size, out_size = resolve_sizes(a, header, inputs, outputs)
    entry_in, entry_out = io_entries(a.mlf)
    in_dtype = a.input_dtype or entry_in.get("dtype") or "int8"
    out_dtype = a.output_dtype or entry_out.get("dtype") or "int8"
    if in_dtype not in C_TYPES or out_dtype not in C_TYPES:  # e.g. uint8: random bytes, as before types were known
        print(f"gen_model_header.py: {in_dtype} -> {out_dtype} I/O is handled as raw bytes", file=sys.stderr)
        in_dtype = in_dtype if in_dtype in C_TYPES else "int8"
        out_dtype = out_dtype if out_dtype in C_TYPES else "int8"
    for what, dtype, size in (("input", in_dtype, in_size), ("output", out_dtype, out_size)):
        if size % WIDTH[dtype]:
            raise SystemExit(f"the {what} size {size} is not a whole number of {dtype} values")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    vectors = (file_vectors(a.inputs, in_size) if a.inputs
               else seeded_vectors(in_size, a.vectors, a.seed, in_dtype, float_range(entry_in)))
    a.out.write_text(render(a.sha256, inputs, outputs, in_size, out_size, vectors, in_dtype, out_dtype))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
