"""`tvmc compile|run` (console script `tvmc`, also `benchd tvmc ...`): the flags of real tvmc that matter
on the bench. Errors are one line on stderr with exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from daemon.errors import BenchdError, ConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tvmc", description="TVM compiler driver (benchd front end, TVM 0.27)")
    commands = parser.add_subparsers(dest="command", required=True)

    comp = commands.add_parser("compile", help="compile a .tflite model into module.tar")
    comp.add_argument("FILE", help="the .tflite model")
    comp.add_argument("--target", default="llvm", help="compilation target; only llvm here (default: llvm)")
    comp.add_argument("-o", "--output", default="module.tar", help="output archive (default: module.tar)")
    comp.add_argument("-O", "--opt-level", type=int, default=3, choices=range(4), help="0-3 (default: 3)")
    comp.add_argument("--tuning-records", metavar="PATH", help="accepted; TVM 0.27 cannot apply them")
    comp.add_argument("--model-format", choices=["tflite"], help="only tflite")
    # Legacy microTVM flags: parsed so that they fail with a clear message instead of 'unrecognized'.
    comp.add_argument("--runtime", help="cpp here; crt needs benchd/tvm-legacy")
    comp.add_argument("--executor", help="vm here; aot/graph need benchd/tvm-legacy")
    comp.add_argument("-f", "--output-format", help="so here; mlf needs benchd/tvm-legacy")
    comp.add_argument("--pass-config", action="append", default=[], metavar="NAME=VALUE")

    run = commands.add_parser("run", help="run a compiled module.tar on the host")
    run.add_argument("FILE", help="module.tar from `tvmc compile`")
    run.add_argument("--device", choices=["cpu"], default="cpu")
    run.add_argument("--fill-mode", choices=["zeros", "ones", "random"], default="random")
    run.add_argument("-i", "--inputs", help="path to an .npz input file (keys: input names)")
    run.add_argument("-o", "--outputs", help="path to the .npz output file (keys: output_0, ...)")
    run.add_argument("--print-time", action="store_true", help="record and print the execution time(s)")
    run.add_argument("--print-top", metavar="N", type=int, help="print the top n values and indices")
    run.add_argument("--repeat", metavar="N", type=int, default=1, help="run the model n times (default 1)")
    run.add_argument("--number", metavar="N", type=int, default=1, help="repeat the run n times (default 1)")
    run.add_argument("--seed", type=int, default=None, help="seed of --fill-mode random (benchd addition)")
    return parser


def _compile(args: argparse.Namespace, extra: list[str]) -> int:
    from daemon.tvmc.builder import LEGACY_HINT, compile_model, legacy_flags, warn_tuning_records

    legacy = legacy_flags(args.target, args.runtime, args.executor, args.output_format, args.pass_config, extra)
    if legacy:
        raise ConfigError(f"{' '.join(legacy)}: {LEGACY_HINT}")
    if extra:
        raise ConfigError(f"unrecognized arguments: {' '.join(extra)} (see `tvmc compile --help`)")
    if args.pass_config:
        raise ConfigError(f"--pass-config {args.pass_config[0]}: no pass configs are supported on TVM 0.27 here")
    if args.tuning_records:
        warn_tuning_records(args.tuning_records)
    meta = compile_model(Path(args.FILE), Path(args.output), target=args.target, opt_level=args.opt_level)
    print(f"tvmc: compiled {meta['model']['name']} for {meta['target']} in {meta['compile_s']:.2f} s "
          f"-> {args.output} (TVM {meta['tvm_version']})", file=sys.stderr)
    return 0


def _run(args: argparse.Namespace) -> int:
    from daemon.tvmc.module import CompiledModel, format_times, get_top_results, load_inputs_file, make_inputs

    if args.repeat < 1 or args.number < 1:
        raise ConfigError("--repeat and --number must be at least 1")
    given = load_inputs_file(args.inputs)
    model = CompiledModel(Path(args.FILE))
    inputs = make_inputs(model.inputs, given, args.fill_mode, np.random.default_rng(args.seed))
    outputs = model.run(inputs)
    if args.print_time:
        print(format_times(model.benchmark(inputs, repeat=args.repeat, number=args.number)))
    if args.print_top:
        print(get_top_results(outputs[0], args.print_top))  # real tvmc prints output 0 only, as a raw array
    if args.outputs:
        arrays: dict[str, Any] = {f"output_{i}": out for i, out in enumerate(outputs)}
        np.savez(args.outputs, **arrays)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if extra and args.command != "compile":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return _compile(args, extra) if args.command == "compile" else _run(args)
    except BenchdError as exc:
        print("tvmc: error: " + " ".join(str(exc).split()), file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
