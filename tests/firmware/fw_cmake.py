"""Running target/esp-idf/main/CMakeLists.txt the way ESP-IDF v5.3.1 runs it, without ESP-IDF.

ESP-IDF reads a component's CMakeLists.txt twice:
  1. early expansion: tools/cmake/scripts/component_get_requirements.cmake, a `cmake -P` process that sets
     CMAKE_BUILD_EARLY_EXPANSION, defines idf_component_register as a *macro* that records the requirements
     and calls return(), and includes the file from inside a function. No -D variable of idf.py reaches it.
  2. the build: the file is read in the project, with the cache (-DBENCHD_MLF=...) visible, and
     idf_component_register (a function) creates the component library.
`register()` reproduces either pass in `cmake -P`, with idf_component_register and the non-scriptable
commands the file uses defined to record their arguments, and returns what was registered.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

MAIN = Path(__file__).resolve().parents[2] / "target" / "esp-idf" / "main"
MULTI = ("SRCS SRC_DIRS EXCLUDE_SRCS INCLUDE_DIRS PRIV_INCLUDE_DIRS LDFRAGMENTS REQUIRES PRIV_REQUIRES "
         "REQUIRED_IDF_TARGETS EMBED_FILES EMBED_TXTFILES")

DRIVER = """cmake_policy(SET CMP0057 NEW)
set(_benchd_out "@OUT@")
set(_benchd_early @EARLY@)
file(WRITE "${_benchd_out}" "")
function(_benchd_record kind)
    foreach(value IN LISTS ARGN)
        file(APPEND "${_benchd_out}" "${kind}\\t${value}\\n")
    endforeach()
endfunction()
macro(_benchd_parse)
    cmake_parse_arguments(_r "WHOLE_ARCHIVE" "KCONFIG;KCONFIG_PROJBUILD" "@MULTI@" ${ARGN})
    foreach(_k @MULTI@)
        _benchd_record(${_k} ${_r_${_k}})
    endforeach()
    file(APPEND "${_benchd_out}" "REGISTERED\\t1\\n")
endmacro()
if(_benchd_early)
    # As component_get_requirements.cmake: a macro whose return() leaves the including function.
    macro(idf_component_register)
        _benchd_parse(${ARGN})
        return()
    endmacro()
else()
    function(idf_component_register)
        _benchd_parse(${ARGN})
        set(COMPONENT_LIB __idf_main PARENT_SCOPE)
    endfunction()
endif()
function(set_source_files_properties)
    cmake_parse_arguments(_p "" "" "PROPERTIES" ${ARGN})
    list(JOIN _p_PROPERTIES "|" props)
    foreach(src IN LISTS _p_UNPARSED_ARGUMENTS)
        file(APPEND "${_benchd_out}" "SOURCE_PROPERTIES\\t${src}|${props}\\n")
    endforeach()
endfunction()
function(target_compile_options)
    _benchd_record(TARGET_COMPILE_OPTIONS ${ARGN})
endfunction()
function(_benchd_include)
    set(COMPONENT_NAME main)
    set(COMPONENT_DIR "@MAIN@")
    include("@MAIN@/CMakeLists.txt")
endfunction()
if(_benchd_early)
    set(CMAKE_BUILD_EARLY_EXPANSION 1)
endif()
_benchd_include()
"""


@dataclass
class Registration:
    args: dict[str, list[str]] = field(default_factory=dict)
    source_options: dict[str, list[str]] = field(default_factory=dict)  # source -> COMPILE_OPTIONS
    output: str = ""

    @property
    def registered(self) -> bool:
        return bool(self.args.get("REGISTERED"))

    def paths(self, key: str) -> list[Path]:
        """SRCS or INCLUDE_DIRS as absolute paths (relative ones are the component folder's, as in ESP-IDF)."""
        return [p if p.is_absolute() else MAIN / p for p in map(Path, self.args.get(key, []))]


def cmake() -> str:
    """The cmake binary; its absence skips locally and fails under CI=true."""
    found = shutil.which("cmake")
    if found:
        return found
    reason = "needs cmake (>= 3.16, as ESP-IDF): apt-get install cmake"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true: " + reason)
    pytest.skip(reason)


def register(work: Path, early: bool, defines: dict[str, str] | None = None) -> tuple[int, Registration]:
    """Runs one pass; returns cmake's exit status and what the file registered."""
    work.mkdir(parents=True, exist_ok=True)
    out = work / "registered.tsv"
    script = work / ("early.cmake" if early else "build.cmake")
    script.write_text(DRIVER.replace("@OUT@", str(out)).replace("@MAIN@", str(MAIN))
                      .replace("@MULTI@", MULTI.replace(" ", ";")).replace("@EARLY@", "1" if early else "0"))
    argv = [cmake(), *(f"-D{k}={v}" for k, v in (defines or {}).items()), "-P", str(script)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    reg = Registration(output=proc.stdout + proc.stderr)
    for line in out.read_text().splitlines() if out.exists() else []:
        kind, _, value = line.partition("\t")
        if kind == "SOURCE_PROPERTIES":
            src, *props = value.split("|")
            if props[:1] == ["COMPILE_OPTIONS"]:
                reg.source_options.setdefault(src, []).extend(props[1:])
        else:
            reg.args.setdefault(kind, []).append(value)
    return proc.returncode, reg
