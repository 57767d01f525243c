"""Hand-written MLF-layout archives for the virtual core's tests: a known int8 transform, a model that never
returns, one that does not link, one too big for the C3's SRAM. Written as files, the way an MLF compiler
writes them (codegen/host/include/tvmgen_default.h, codegen/host/src/*.c, metadata.json)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np

HEADER = """#ifndef TVMGEN_DEFAULT_H_
#define TVMGEN_DEFAULT_H_
#include <stdint.h>
struct tvmgen_default_inputs { void* serving_default_input_0; };
struct tvmgen_default_outputs { void* StatefulPartitionedCall_0; };
int32_t tvmgen_default_run(struct tvmgen_default_inputs* inputs, struct tvmgen_default_outputs* outputs);
#endif
"""

# out[i] = saturate(3 * in[i % IN] + 7 - i): every output depends on the input, the index and saturation.
TRANSFORM = """#include <stdint.h>
#include "tvmgen_default.h"
#define IN {inputs}
#define OUT {outputs}
{extra}
int32_t tvmgen_default_run(struct tvmgen_default_inputs* inputs, struct tvmgen_default_outputs* outputs) {{
  const int8_t* in = (const int8_t*)inputs->serving_default_input_0;
  int8_t* out = (int8_t*)outputs->StatefulPartitionedCall_0;
  {body}
  for (int i = 0; i < OUT; i++) {{
    int32_t acc = 3 * in[i % IN] + 7 - i;
    out[i] = (int8_t)(acc > 127 ? 127 : acc < -128 ? -128 : acc);
  }}
  return 0;
}}
"""


def expected_transform(vector: np.ndarray, outputs: int) -> list[int]:
    flat = vector.reshape(-1).astype(np.int32)
    return [int(np.clip(3 * flat[i % flat.size] + 7 - i, -128, 127)) for i in range(outputs)]


def write_archive(path: Path, inputs: int, outputs: int, body: str = "", extra: str = "",
                  members: dict[str, bytes] | None = None) -> Path:
    files = {
        "metadata.json": json.dumps({"modules": {"default": {
            "inputs": {"serving_default_input:0": {"size": inputs, "dtype": "int8"}},
            "outputs": {"output0": {"size": outputs, "dtype": "int8"}}}}}).encode(),
        "codegen/host/include/tvmgen_default.h": HEADER.encode(),
        "codegen/host/src/default_lib0.c": TRANSFORM.format(inputs=inputs, outputs=outputs, body=body,
                                                            extra=extra).encode(),
        **(members or {}),
    }
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path
