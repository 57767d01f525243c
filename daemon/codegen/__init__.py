"""The reference C backend: an int8 .tflite model -> C99 sources in TVM's Model Library Format layout.

    read (reader.py) -> lower (lowering.py, ops.py, quant.py) -> plan the arena (planner.py)
    -> emit C (emitter.py, kernels/*.c) -> write the tar (archive.py); compiler.py ties them together.

Bit-exact with TFLite's reference kernels; imports nothing of benchd but daemon.errors.
"""

from daemon.codegen.compiler import CompileReport, compile_c, main

__all__ = ["CompileReport", "compile_c", "main"]
