"""`benchd/vectors`: the int8 inputs the board firmware runs, written where the firmware job and the monitor find
them, so a board's outputs can be checked against the TFLite reference kernels as the virtual core's are.

Inputs (`with:`): count (3), seed (0). The vectors are benchd/virtual-core's (MODEL.inputs.npy beside the model,
else seeded random int8), so the virtual core and the boards run the same inputs. Writes
artifacts/vectors/firmware.bin (raw int8, vectors back to back: what target/tools/gen_model_header.py --inputs
takes); outputs: file, count, input_size, output_size. A model that is not one int8 input and one int8 output
ends the job skipped (SKIP_EXIT) with the reason: the firmware then runs the header tool's own vectors, unchecked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from daemon.actions.context import ActionContext, ActionError
from daemon.modelfile import describe_model
from daemon.record import SKIP_EXIT
from daemon.virtcore import vectors_for

FILE = Path("artifacts") / "vectors" / "firmware.bin"


def run(ctx: ActionContext) -> None:
    count, seed = ctx.get_int("count", 3), ctx.get_int("seed", 0)
    if count < 1:
        raise ActionError(f"benchd/vectors: count must be at least 1, not {count}")
    info = describe_model(ctx.model)
    ins, outs = info["inputs"], info["outputs"]
    if len(ins) != 1 or len(outs) != 1 or ins[0]["dtype"] != "int8" or outs[0]["dtype"] != "int8":
        kinds = " ".join(f"{t['dtype']}{list(t['shape'])}" for t in ins) + " -> " + \
            " ".join(f"{t['dtype']}{list(t['shape'])}" for t in outs)
        print(f"the firmware checks one int8 input and one int8 output, and {info['name']} is {kinds}", flush=True)
        raise SystemExit(SKIP_EXIT)
    vectors, origin = vectors_for(ctx.model, tuple(ins[0]["shape"]), count, seed)
    path = ctx.workspace / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.ascontiguousarray(vectors, dtype=np.int8).tobytes())
    ctx.set_output("file", str(path))
    ctx.set_output("count", str(len(vectors)))
    ctx.set_output("input_size", str(int(np.prod(ins[0]["shape"]))))
    ctx.set_output("output_size", str(int(np.prod(outs[0]["shape"]))))
    print(f"{len(vectors)} vector(s) of {int(np.prod(ins[0]['shape']))} bytes from {origin} -> {path}", flush=True)
