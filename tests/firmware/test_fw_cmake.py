"""target/esp-idf/main/CMakeLists.txt through both of ESP-IDF v5.3.1's passes, for both archive shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fw_archives import gen_header
from fw_cmake import MAIN, register

RUNNER = MAIN.parents[1] / "runner"


def test_early_expansion_registers_the_component_without_the_model(tmp_path: Path) -> None:
    """ESP-IDF's first read (`cmake -P`, CMAKE_BUILD_EARLY_EXPANSION set, no -D variables) must not stop."""
    rc, reg = register(tmp_path, early=True)
    assert rc == 0, reg.output
    assert reg.registered
    assert "Error" not in reg.output


def test_build_pass_without_the_archive_says_what_to_set(tmp_path: Path) -> None:
    rc, reg = register(tmp_path, early=False)
    assert rc != 0
    assert "-DBENCHD_MLF=" in reg.output
    assert not reg.registered


def test_build_pass_refuses_a_folder_that_is_no_archive(tmp_path: Path) -> None:
    header = tmp_path / "gen" / "benchd_model.h"
    header.parent.mkdir()
    header.write_text("/* */\n")
    rc, reg = register(tmp_path / "cmake", early=False, defines={"BENCHD_MLF": str(tmp_path),
                                                                 "BENCHD_MODEL_HEADER": str(header)})
    assert rc != 0
    assert "tvmgen_default.h" in reg.output


@pytest.mark.parametrize("name", ["reference-c", "tvm-0.18", "tvm-0.18-no-usmp", "tvm-v6"])
def test_every_registered_folder_and_source_exists(name: str, archives: dict[str, Path], tmp_path: Path) -> None:
    """idf_component_register stops on a missing include folder or source: each entry exists, per shape."""
    mlf = archives[name]
    header = tmp_path / "gen" / "benchd_model.h"
    assert gen_header(mlf, header, "--input-size", "1960", "--output-size", "12").returncode == 0
    rc, reg = register(tmp_path / "cmake", early=False, defines={"BENCHD_MLF": str(mlf),
                                                                 "BENCHD_MODEL_HEADER": str(header)})
    assert rc == 0, reg.output
    includes, sources = reg.paths("INCLUDE_DIRS"), reg.paths("SRCS")
    missing = [str(p) for p in includes if not p.is_dir()] + [str(p) for p in sources if not p.is_file()]
    assert not missing, f"registered but absent for {name}: {missing}"
    model_sources = sorted((mlf / "codegen/host/src").glob("*.c"))
    assert set(model_sources) <= set(sources)
    assert {MAIN / "main.c", RUNNER / "model_runner.c", RUNNER / "sha256.c"} <= set(sources)
    # No CRT source: they need a crt_config.h no archive ships, and AOT + USMP calls none of them.
    assert not [p for p in sources if "runtime" in p.relative_to(p.anchor).parts and p.is_relative_to(mlf)]
    is_tvm = name.startswith("tvm")
    assert ((mlf / "runtime/include") in includes) == is_tvm
    assert (RUNNER / "crt_platform.c" in sources) == is_tvm
    assert (RUNNER / "crt_workspace.c" in sources) == (name == "tvm-0.18-no-usmp")


def test_only_generated_code_gets_its_warnings_relaxed(archives: dict[str, Path], tmp_path: Path) -> None:
    mlf = archives["tvm-0.18"]
    header = tmp_path / "gen" / "benchd_model.h"
    assert gen_header(mlf, header).returncode == 0
    rc, reg = register(tmp_path / "cmake", early=False, defines={"BENCHD_MLF": str(mlf),
                                                                 "BENCHD_MODEL_HEADER": str(header)})
    assert rc == 0, reg.output
    relaxed = {Path(src) for src in reg.source_options}
    assert relaxed == set((mlf / "codegen/host/src").glob("*.c"))
    assert "TARGET_COMPILE_OPTIONS" not in reg.args  # nothing component-wide: benchd's files keep every -Werror
