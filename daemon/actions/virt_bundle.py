"""`benchd/virt-bundle`: the virtual core's firmware packaged as a flashable `virt` bundle for simulated boards.

Runs after `benchd/virtual-core` (same job, or a job that needs it). Inputs (`with:`): backend (reference-c;
picks $BENCHD_WORKSPACE/virtcore/<backend>/firmware.elf, where benchd/virtual-core builds it), elf (that file,
explicitly), vectors (default $BENCHD_WORKSPACE/artifacts/vectors/inputs.npy: the vectors compiled into the
ELF), output (default $BENCHD_WORKSPACE/virt-firmware). Step output: firmware (the bundle folder), for
`benchd/flash` (`firmware:` under `with:`); then `benchd/monitor` checks the boards' outputs against the
TFLite reference on those vectors. Format and routing: daemon/firmware/virtimage.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from daemon.actions.context import ActionContext, ActionError
from daemon.errors import FlashError
from daemon.firmware.virtimage import IMAGE_NAME, write_virt_bundle

DEFAULT_OUTPUT = "virt-firmware"
VECTORS = Path("artifacts") / "vectors" / "inputs.npy"  # benchd/virtual-core keeps them there


def run(ctx: ActionContext) -> None:
    backend = ctx.get("backend", "reference-c") or "reference-c"
    elf = Path(ctx.get("elf") or ctx.workspace / "virtcore" / backend / "firmware.elf")
    vectors_file = Path(ctx.get("vectors") or ctx.workspace / VECTORS)
    output = Path(ctx.get("output") or ctx.workspace / DEFAULT_OUTPUT)
    for path, what in ((elf, "firmware ELF"), (vectors_file, "test vectors")):
        if not path.is_file():
            raise ActionError(f"benchd/virt-bundle: no {what} at {path}; run benchd/virtual-core first (backend "
                              f"{backend!r}), or set `{'elf' if path == elf else 'vectors'}:` under `with:`")
    model_sha = hashlib.sha256(ctx.model.read_bytes()).hexdigest() if ctx.model.is_file() else ""
    try:
        bundle = write_virt_bundle(output, elf, np.load(vectors_file, allow_pickle=False), backend, model_sha)
    except FlashError as exc:
        raise ActionError(f"benchd/virt-bundle: {exc}") from exc
    size = (bundle / IMAGE_NAME).stat().st_size
    ctx.set_output("firmware", str(bundle))
    ctx.summary(f"- `virt` bundle for simulated boards: `{bundle.name}` ({size:,} bytes at 0x10000, {backend})")
    print(f"virt-bundle: {elf} -> {bundle} ({size} bytes)", flush=True)
