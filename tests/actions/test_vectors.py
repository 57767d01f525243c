"""benchd/vectors: the raw int8 inputs the board firmware runs are the virtual core's vectors, byte for byte;
a model the firmware cannot check (not one int8 input and output) ends the job skipped with the reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from daemon.actions.context import ActionContext
from daemon.actions.vectors import FILE, run
from daemon.record import SKIP_EXIT
from daemon.virtcore import vectors_for


def _context(tmp_path: Path, model: Path, **inputs: str) -> ActionContext:
    return ActionContext(name="vectors", inputs=inputs, model=model, workspace=tmp_path,
                         output_file=tmp_path / "output", metrics_file=None, summary_file=None)


def test_the_firmware_runs_the_virtual_cores_vectors(tmp_path: Path, samples: dict[str, Path]) -> None:
    run(_context(tmp_path, samples["kws_xs.tflite"], count="2", seed="5"))
    outputs = dict(line.split("=", 1) for line in (tmp_path / "output").read_text().splitlines())
    assert outputs == {"file": str(tmp_path / FILE), "count": "2", "input_size": "1960", "output_size": "12"}
    expected, _ = vectors_for(samples["kws_xs.tflite"], (1, 1960), 2, 5)  # what benchd/virtual-core feeds QEMU
    assert (tmp_path / FILE).read_bytes() == expected.astype(np.int8).tobytes()


def test_a_float_model_is_skipped_with_the_reason(tmp_path: Path, samples: dict[str, Path],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        run(_context(tmp_path, samples["kws_float.tflite"]))
    assert stop.value.code == SKIP_EXIT and not (tmp_path / FILE).exists()
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        "the firmware checks one int8 input and one int8 output, and kws_float.tflite is float32[1, 1960] -> "
        "float32[1, 12]")
