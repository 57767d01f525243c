"""target/tools/gen_model_header.py on every metadata shape: benchd compile-c's, TVM 0.18's (version 7 with
per-tensor sizes), TVM 0.9's (version 7, and the 0.9.dev version 6 with a top-level `memory`), which hold only
io_size_bytes; and its standard-library reader of .tflite I/O sizes, against the tflite package."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from fw_archives import IN_SIZE, INPUT_C, OUT_SIZE, OUTPUT_C, gen_header

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "target" / "tools"))
import tflite_io  # target/tools is a script folder, not a package


def _defines(header: Path) -> dict[str, str]:
    return dict(re.findall(r"#define (BENCHD_\w+) (.+)", header.read_text()))


def test_compile_c_archive_needs_nothing_but_itself(archives: dict[str, Path], tmp_path: Path) -> None:
    mlf = archives["reference-c"]
    made = gen_header(mlf, tmp_path / "h.h")
    assert made.returncode == 0, made.stderr
    meta = json.loads((mlf / "metadata.json").read_text())["modules"]["default"]
    member = next(iter(meta["inputs"].values()))["member"]
    out_member = next(iter(meta["outputs"].values()))["member"]
    text = (tmp_path / "h.h").read_text()
    assert f"#define BENCHD_INPUT_SIZE {IN_SIZE}\n#define BENCHD_OUTPUT_SIZE {OUT_SIZE}" in text
    assert f"(s).{member} = (buf)" in text and f"(s).{out_member} = (buf)" in text


def test_tvm_018_sizes_come_from_its_metadata(archives: dict[str, Path], tmp_path: Path) -> None:
    made = gen_header(archives["tvm-0.18"], tmp_path / "h.h")
    assert made.returncode == 0, made.stderr
    text = (tmp_path / "h.h").read_text()
    assert f"#define BENCHD_INPUT_SIZE {IN_SIZE}\n#define BENCHD_OUTPUT_SIZE {OUT_SIZE}" in text
    assert f"(s).{INPUT_C} = (buf)" in text and f"(s).{OUTPUT_C} = (buf)" in text


def test_tvm_018_header_macros_serve_without_metadata(archives: dict[str, Path], tmp_path: Path) -> None:
    mlf = tmp_path / "mlf"
    (mlf / "codegen/host/include").mkdir(parents=True)
    header = (archives["tvm-0.18"] / "codegen/host/include/tvmgen_default.h").read_text()
    (mlf / "codegen/host/include/tvmgen_default.h").write_text(header)
    made = gen_header(mlf, tmp_path / "h.h")
    assert made.returncode == 0, made.stderr
    assert _defines(tmp_path / "h.h")["BENCHD_OUTPUT_SIZE"] == str(OUT_SIZE)


@pytest.mark.parametrize("name", ["tvm-0.9", "tvm-v6"])
def test_tvm_09_sizes_come_from_the_model(name: str, archives: dict[str, Path], samples: dict[str, Path],
                                          tmp_path: Path) -> None:
    mlf = archives[name]
    alone = gen_header(mlf, tmp_path / "none.h")
    assert alone.returncode != 0
    assert "--model" in alone.stderr and "io_size_bytes" in alone.stderr
    made = gen_header(mlf, tmp_path / "h.h", "--model", str(samples["kws_xs.tflite"]))
    assert made.returncode == 0, made.stderr
    d = _defines(tmp_path / "h.h")
    assert (d["BENCHD_INPUT_SIZE"], d["BENCHD_OUTPUT_SIZE"]) == (str(IN_SIZE), str(OUT_SIZE))
    assert d["BENCHD_VECTOR_COUNT"] == "3"
    # Explicit sizes serve too (the virtual core's build passes them).
    given = gen_header(mlf, tmp_path / "g.h", "--input-size", str(IN_SIZE), "--output-size", str(OUT_SIZE))
    assert given.returncode == 0, given.stderr


@pytest.mark.parametrize("name", ["tvm-0.9", "tvm-v6", "tvm-0.18"])
def test_a_model_that_is_not_the_archives_is_refused(name: str, archives: dict[str, Path], samples: dict[str, Path],
                                                     tmp_path: Path) -> None:
    """kws_dw1 has kws_xs's input but 4 outputs: io_size_bytes (1972) tells them apart."""
    made = gen_header(archives[name], tmp_path / "h.h", "--model", str(samples["kws_dw1.tflite"]))
    assert made.returncode != 0
    assert "io_size_bytes 1972" in made.stderr
    assert not (tmp_path / "h.h").exists()


@pytest.mark.parametrize("bad", ["empty.tflite", "truncated.tflite", "random.tflite"])
def test_a_broken_model_is_named(bad: str, archives: dict[str, Path], samples: dict[str, Path], tmp_path: Path) -> None:
    made = gen_header(archives["tvm-v6"], tmp_path / "h.h", "--model", str(samples[bad]))
    assert made.returncode != 0
    assert f"cannot read the sizes of {samples[bad]}" in made.stderr and "Traceback" not in made.stderr


def test_tflite_reader_agrees_with_the_tflite_package(samples: dict[str, Path]) -> None:
    import tflite

    sizes = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 9: 1, 10: 8}
    checked = 0
    for name, path in samples.items():
        if name in ("empty.tflite", "truncated.tflite", "random.tflite"):  # refused: tested above
            continue
        graph = tflite.Model.GetRootAsModel(path.read_bytes(), 0).Subgraphs(0)

        def nbytes(index: int, graph=graph) -> int:  # type: ignore[no-untyped-def]
            t = graph.Tensors(index)
            count = 1
            for dim in t.ShapeAsNumpy().tolist() if t.ShapeLength() else []:
                count *= max(int(dim), 1)
            return count * sizes[t.Type()]

        expected = ([nbytes(graph.Inputs(i)) for i in range(graph.InputsLength())],
                    [nbytes(graph.Outputs(i)) for i in range(graph.OutputsLength())])
        assert tflite_io.io_sizes(path) == expected, name
        checked += 1
    assert checked >= 6


def test_tflite_reader_agrees_with_benchd_on_the_real_models(real_models: dict[str, Path]) -> None:
    from daemon.codegen.reader import read_model

    for name, path in real_models.items():
        graph = read_model(path.read_bytes())
        expected = ([graph.tensors[i].nbytes for i in graph.inputs], [graph.tensors[i].nbytes for i in graph.outputs])
        assert tflite_io.io_sizes(path) == expected, name
