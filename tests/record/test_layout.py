"""The results folder's layout has one owner: the runner writes logs where the look-back reads them."""

from __future__ import annotations

from pathlib import Path

from daemon.record import layout
from daemon.record.values import RunRecord


def test_a_matrix_instance_log_lands_in_the_folder_the_look_back_lists() -> None:
    out = Path("/results/kws/r1")
    path = layout.step_log(out, "flash (board=sim-c3-0, 1)", 2, "flash/ref c")
    assert path == out / "logs" / "flash__board_sim-c3-0__1_" / "2-flash_ref_c.log"
    assert path.parent == layout.job_logs(out, "flash (board=sim-c3-0, 1)")


def test_the_recorded_folder_wins_over_the_layout() -> None:
    assert layout.run_folder(Path("/r"), "kws.tflite", "id1", None) == Path("/r/kws/id1")
    assert layout.run_folder(Path("/r"), "kws.tflite", "id1", "/elsewhere/id1") == Path("/elsewhere/id1")
    assert layout.result_dir(Path("/r"), "../../etc/passwd", "id1").parent.name == "_.._etc_passwd"


def test_the_record_is_result_json_once_finished_and_progress_json_before(tmp_path: Path) -> None:
    assert layout.read_record(tmp_path) is None
    running = RunRecord(run_id="r1", status="running")
    (tmp_path / layout.PROGRESS).write_text(running.to_json())
    assert layout.read_record(tmp_path) == running
    finished = RunRecord(run_id="r1", status="success")
    (tmp_path / layout.RESULT).write_text(finished.to_json())
    assert layout.read_record(tmp_path) == finished
    (tmp_path / layout.RESULT).write_text("{ half a file")
    assert layout.read_record(tmp_path) is None, "a file being replaced reads as nothing, not as an error"
