"""The two archive shapes the firmware builds from, as extracted folders.

compile-c's comes from the real backend (daemon.codegen.compile_c on a sample of data/make_samples.py).
TVM's is built here, without TVM, in the layout TVM v0.18's python/tvm/micro/model_library_format.py writes
(`_make_tar`, `_export_graph_model_library_format`, `generate_c_interface_header`): metadata.json,
codegen/host/{include/tvmgen_default.h, src/default_lib0.c, src/default_lib1.c}, runtime/ (the standalone
CRT; a stand-in from tvm_crt_stub/), templates/, parameters/, src/. Its model is a known int8 transform
(the one tests/virtcore/mlf_fixture.py uses), so a run's outputs can be checked exactly.

Metadata flavours: "0.18" (version 7, per-tensor sizes in modules.default.memory.functions.main[0], size
macros in the header), "0.9" (version 7, main[0] with io_size_bytes only), "v6" (TVM 0.9.dev, a
top-level `memory` with io_size_bytes only).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from daemon.codegen.compiler import compile_c
from daemon.virtcore.extract import extract_archive

STUB_CRT = Path(__file__).resolve().parent / "tvm_crt_stub"
GEN = Path(__file__).resolve().parents[2] / "target" / "tools" / "gen_model_header.py"
SHA = "5" * 64
# kws_xs: 1960 int8 inputs, 12 outputs; the TVM-shaped archives take the same sizes so it is their model too.
IN_SIZE, OUT_SIZE = 1960, 12
INPUT, OUTPUT = "serving_default_input:0", "StatefulPartitionedCall:0"
INPUT_C, OUTPUT_C = "serving_default_input_0", "StatefulPartitionedCall_0"
WORKSPACE = 64


def compile_c_tree(model: Path, dest: Path) -> Path:
    """benchd compile-c's archive of `model`, extracted into dest."""
    archive = dest.with_suffix(".tar")
    compile_c(model, archive)
    return extract_archive(archive, dest).root


def _header(in_size: int, out_size: int, flavour: str) -> str:
    sizes = ""
    if flavour == "0.18":  # TVM >= 0.10 writes a size macro per tensor
        sizes = (f"/*!\n * \\brief Input tensor {INPUT_C} size (in bytes) for TVM module \"default\" \n */\n"
                 f"#define TVMGEN_DEFAULT_{INPUT_C.upper()}_SIZE {in_size}\n"
                 f"/*!\n * \\brief Output tensor {OUTPUT_C} size (in bytes) for TVM module \"default\" \n */\n"
                 f"#define TVMGEN_DEFAULT_{OUTPUT_C.upper()}_SIZE {out_size}\n")
    return f"""#ifndef TVMGEN_DEFAULT_H_
#define TVMGEN_DEFAULT_H_
#include <stdint.h>

#ifdef __cplusplus
extern "C" {{
#endif

{sizes}/*!
 * \\brief Input tensor pointers for TVM module "default"
 */
struct tvmgen_default_inputs {{
  void* {INPUT_C};
}};

/*!
 * \\brief Output tensor pointers for TVM module "default"
 */
struct tvmgen_default_outputs {{
  void* {OUTPUT_C};
}};

/*!
 * \\brief entrypoint function for TVM module "default"
 * \\param inputs Input tensors for the module
 * \\param outputs Output tensors for the module
 */
int32_t tvmgen_default_run(
  struct tvmgen_default_inputs* inputs,
  struct tvmgen_default_outputs* outputs
);
/*!
 * \\brief Workspace size for TVM module "default"
 */
#define TVMGEN_DEFAULT_WORKSPACE_SIZE {WORKSPACE}

#ifdef __cplusplus
}}
#endif

#endif // TVMGEN_DEFAULT_H_
"""


def _lib0(usmp: bool, flavour: str) -> str:
    """The C interface entry point, as TVM's AOT source module writes it (workspace pool inside, with USMP).
    TVM 0.9 passes the pool as `&global_workspace`, a uint8_t (*)[N] where uint8_t* is wanted (an error from
    GCC 14 on); later versions cast it."""
    pool = (f'__attribute__((section(".bss.noinit.tvm"), aligned(16)))\nstatic uint8_t global_workspace[{WORKSPACE}];\n'
            if usmp else "")
    pointer = "((uint8_t*)&global_workspace)" if flavour == "0.18" else "&global_workspace"
    pool_param, pool_arg = (",uint8_t* global_workspace", f",{pointer}") if usmp else ("", "")
    return f"""#include "tvm/runtime/c_runtime_api.h"
#include <tvmgen_default.h>
{pool}TVM_DLL int32_t tvmgen_default___tvm_main__(int8_t* {INPUT_C},void* output0{pool_param});
int32_t tvmgen_default_run(struct tvmgen_default_inputs* inputs,struct tvmgen_default_outputs* outputs) {{\
return tvmgen_default___tvm_main__(inputs->{INPUT_C},outputs->{OUTPUT_C}{pool_arg});
}}
"""


def _lib1(in_size: int, out_size: int, usmp: bool) -> str:
    """The operators: out[i] = saturate(3 * in[i % IN] + 7 - i), through an int32 scratch buffer."""
    if usmp:
        params, scratch, free = ", uint8_t* global_workspace_1_var", "(int32_t*)(&(global_workspace_1_var[0]))", ""
        main_param, main_arg = ", uint8_t* global_workspace_0_var", ", global_workspace_0_var"
    else:
        params, main_param, main_arg = "", "", ""
        scratch = f"(int32_t*)TVMBackendAllocWorkspace(1, 0, (uint64_t){WORKSPACE}, 0, 32)"
        free = "  if (TVMBackendFreeWorkspace(1, 0, acc) != 0) {\n    return -1;\n  }\n"
    return f"""// tvm target: c -keys=cpu
#define TVM_EXPORTS
#include "tvm/runtime/c_runtime_api.h"
#include "tvm/runtime/c_backend_api.h"
#include <math.h>
#include <stdbool.h>
#ifdef __cplusplus
extern "C"
#endif
TVM_DLL int32_t tvmgen_default_fused_transform(int8_t* p0, int8_t* T_out{params}) {{
  void* unused_handle = (void*)0;
  int32_t* acc = {scratch};
  if (acc == NULL) {{
    return -1;
  }}
  for (int32_t i = 0; i < {out_size}; ++i) {{
    acc[i % {WORKSPACE // 4}] = ((int32_t)p0[i % {in_size}]) * 3 + 7 - i;
    int32_t v = acc[i % {WORKSPACE // 4}];
    T_out[i] = (int8_t)(v > 127 ? 127 : (v < -128 ? -128 : v));
  }}
{free}  return 0;
}}

#ifdef __cplusplus
extern "C"
#endif
TVM_DLL int32_t tvmgen_default___tvm_main__(int8_t* {INPUT_C}_buffer_var, int8_t* output_buffer_var{main_param}) {{
  if (tvmgen_default_fused_transform({INPUT_C}_buffer_var, output_buffer_var{main_arg}) != 0 ) return -1;
  return 0;
}}
"""


def _metadata(in_size: int, out_size: int, flavour: str) -> dict[str, object]:
    main: dict[str, object] = {"device": 1, "workspace_size_bytes": WORKSPACE, "constants_size_bytes": 0,
                               "io_size_bytes": in_size + out_size}
    if flavour == "0.18":
        main["inputs"] = {INPUT: {"size": in_size, "dtype": "int8"}}
        main["outputs"] = {OUTPUT: {"size": out_size, "dtype": "int8"}}
    memory = {"functions": {"main": [main], "operator_functions": [
        {"function_name": "tvmgen_default_fused_transform", "workspace": [{"device": 1, "workspace_size_bytes": 0}]}]}}
    crt = [{"short_name": "tvm_standalone_crt", "url": "./runtime", "url_type": "mlf_path",
            "version_spec": "0.18.0" if flavour == "0.18" else "0.9.0"}]
    module = {"model_name": "default", "export_datetime": "2024-01-01 00:00:00Z", "memory": memory,
              "target": ["c -keys=cpu "], "executors": ["aot"], "style": "full-model", "external_dependencies": crt}
    if flavour == "v6":
        return {"version": 6, **module}
    return {"version": 7, "modules": {"default": module}}


def tvm_tree(dest: Path, in_size: int, out_size: int, flavour: str = "0.18", usmp: bool = True) -> Path:
    """A TVM-shaped MLF folder at dest; `usmp=False` is a model whose operators ask the runtime for memory."""
    if flavour not in ("0.18", "0.9", "v6"):
        raise ValueError(f"unknown flavour {flavour!r}")
    files = {
        "metadata.json": json.dumps(_metadata(in_size, out_size, flavour), indent=2, sort_keys=True),
        "codegen/host/include/tvmgen_default.h": _header(in_size, out_size, flavour),
        "codegen/host/src/default_lib0.c": _lib0(usmp, flavour),
        "codegen/host/src/default_lib1.c": _lib1(in_size, out_size, usmp),
        "src/default.relay": f"def @main(%{INPUT.replace(':', '_')}: Tensor[(1, {in_size}), int8]) {{ }}\n",
        "parameters/default.params": "",
        "templates/crt_config.h.template": "/* crt_config.h for a microTVM project: the application fills it in */\n",
        "templates/platform.c.template": "/* platform hooks for a microTVM project */\n",
    }
    for name, text in files.items():
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    shutil.copytree(STUB_CRT / "include", dest / "runtime" / "include")
    shutil.copytree(STUB_CRT / "src", dest / "runtime" / "src")
    return dest


def gen_header(mlf: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Runs target/tools/gen_model_header.py as the build scripts do (a separate Python, standard library)."""
    return subprocess.run([sys.executable, str(GEN), "--mlf", str(mlf), "--sha256", SHA, "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=60, check=False)
