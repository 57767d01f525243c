"""Session fixtures: sample models generated once by data/make_samples.py (no downloads), and kws_xs
compiled once through the tvmc CLI. A test module loads them with `pytest_plugins = ["models_fixture"]`
(or the root conftest.py does, for every module).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from model_tools import load_make_samples, tvmc


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return load_make_samples().write_samples(tmp_path_factory.mktemp("samples"))


@pytest.fixture(scope="session")
def compiled_xs(samples: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kws_xs compiled once through the CLI, shared by the tvmc and validate tests."""
    output = tmp_path_factory.mktemp("compiled") / "module.tar"
    proc = tvmc("compile", str(samples["kws_xs.tflite"]), "--target", "llvm", "--output", str(output))
    assert proc.returncode == 0, proc.stderr
    return output
