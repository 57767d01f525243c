"""The virtual core builds a TVM-shaped archive the way the ESP-IDF firmware does: runtime/include only, none of
the CRT's .c files (they need a crt_config.h no archive ships), crt_workspace.c only for a model that asks the
runtime for memory; its outputs are the known transform's."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
from fw_archives import IN_SIZE, OUT_SIZE, SHA, tvm_tree

from daemon.virtcore import build_firmware, run_firmware
from daemon.virtcore.extract import extract_archive

pytestmark = pytest.mark.usefixtures("riscv_tools")


def _tar(folder: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w") as tar:
        tar.add(folder, arcname=".")
    return archive


@pytest.mark.parametrize("usmp", [True, False], ids=["usmp", "no-usmp"])
def test_tvm_archive_runs_on_the_virtual_core(usmp: bool, tmp_path: Path) -> None:
    archive = _tar(tvm_tree(tmp_path / "tree", IN_SIZE, OUT_SIZE, flavour="0.18", usmp=usmp), tmp_path / "mlf.tar")
    tree = extract_archive(archive, tmp_path / "peek")
    assert tree.has_runtime and all("runtime" not in p.relative_to(tree.root).parts for p in tree.sources)
    assert tree.include_dirs == (tree.root / "codegen/host/include", tree.root / "runtime/include")
    vectors = np.random.default_rng(3).integers(-128, 128, size=(2, IN_SIZE), dtype=np.int8)
    firmware = build_firmware(archive, vectors, tmp_path / "build", SHA)
    run = run_firmware(firmware.elf, timeout_s=60)
    assert run.passed, run.console[-2000:]
    for vector, result in zip(vectors, run.results, strict=True):
        flat = vector.astype(np.int32)
        assert list(result.out or ()) == [int(np.clip(3 * flat[i % IN_SIZE] + 7 - i, -128, 127))
                                          for i in range(OUT_SIZE)]
