"""Session fixtures: sample models generated once by data/make_samples.py (no downloads), and kws_xs
compiled once through the tvmc CLI. A test module loads them with `pytest_plugins = ["models_fixture"]`
(or the root conftest.py does, for every module).
"""

from __future__ import annotations

import os
import shutil
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


# The real models (../shared/models beside the checkout): what users drop. A user's fresh clone has no such
# folder, so tests on them skip there; with CI=true a missing folder fails, as every tier does.
REAL_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
REAL_MODEL_NAMES = ("micro_kws_xs_yesno_quantized", "micro_kws_m_yesnoupdownleftrightonoff_quantized",
                    "mlperf_kws_dscnn", "mlperf_ic_resnet8", "mlperf_vww96", "mlperf_ad01", "mlperf_str_ww")
SEED_MODELS = REAL_MODEL_NAMES[:2]


@pytest.fixture(scope="session")
def real_models() -> dict[str, Path]:
    """name (file stem) -> path of each real model; skips (fails under CI=true) when the folder is absent."""
    found = {name: REAL_MODELS / f"{name}.tflite" for name in REAL_MODEL_NAMES}
    missing = [name for name, path in found.items() if not path.is_file()]
    if missing:
        reason = f"the real models are not beside the checkout ({REAL_MODELS}): missing {', '.join(missing)}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true: " + reason)
        pytest.skip(reason)
    return found


RISCV_TOOLS = ("riscv64-unknown-elf-gcc", "qemu-system-riscv32")


@pytest.fixture
def riscv_tools() -> None:
    """Debian's RISC-V toolchain and QEMU, for tests on the C3's ISA; with CI=true their absence fails."""
    missing = [tool for tool in RISCV_TOOLS if shutil.which(tool) is None]
    if not missing:
        return
    reason = (f"needs {', '.join(missing)}: apt-get install gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf "
              "qemu-system-misc")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true: " + reason)
    pytest.skip(reason)
