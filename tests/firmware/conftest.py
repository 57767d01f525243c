"""Archives of both shapes for the firmware tests, made once per session, and benchd_model.h for them."""

from __future__ import annotations

from pathlib import Path

import pytest
from fw_archives import IN_SIZE, OUT_SIZE, compile_c_tree, tvm_tree

# name -> (shape, TVM metadata flavour, USMP)
ARCHIVES = {
    "reference-c": ("compile-c", None, True),
    "tvm-0.18": ("tvm", "0.18", True),
    "tvm-0.18-no-usmp": ("tvm", "0.18", False),
    "tvm-0.9": ("tvm", "0.9", True),
    "tvm-v6": ("tvm", "v6", True),
}


@pytest.fixture(scope="session")
def archives(samples: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> extracted archive folder."""
    root = tmp_path_factory.mktemp("archives")
    found = {}
    for name, (shape, flavour, usmp) in ARCHIVES.items():
        if shape == "compile-c":
            found[name] = compile_c_tree(samples["kws_xs.tflite"], root / name)
        else:
            found[name] = tvm_tree(root / name, IN_SIZE, OUT_SIZE, flavour=flavour or "0.18", usmp=usmp)
    return found
