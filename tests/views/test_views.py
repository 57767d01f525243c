"""The read model shared by `benchd status` and the dashboard."""

from __future__ import annotations

import json
from pathlib import Path

from report_fixtures import make_run, sample_result

from daemon.reporters.files import write_json
from daemon.store.db import Store
from daemon.store.outbox import Outbox
from daemon.views import runs as views


def test_recent_runs_summarise_status_jobs_and_time(store: Store, tmp_path: Path) -> None:
    done, _ = make_run(store, tmp_path / "results", "failure")
    running, _ = make_run(store, tmp_path / "results", finished=False)
    rows = views.recent_runs(store, 10)
    assert [r["id"] for r in rows] == [running, done]
    assert rows[1]["status"] == "failure" and rows[1]["pipeline"] == "microkws"
    assert rows[1]["jobs"] == {"total": 2, "success": 1, "failed": 1, "running": 0}
    assert rows[0]["jobs"]["running"] == 1 and rows[0]["finished_at"] is None
    assert 40 < rows[1]["duration_s"] < 60
    json.dumps(rows)  # `benchd status --json` prints exactly this


def test_status_table_lines_up_and_says_what_to_do_when_empty(store: Store, tmp_path: Path) -> None:
    assert "drop a .tflite" in views.format_status_table([])
    make_run(store, tmp_path / "results", "failure")
    lines = views.format_status_table(views.recent_runs(store)).splitlines()
    assert lines[0].split() == ["RUN", "STATUS", "MODEL", "PIPELINE", "JOBS", "TIME", "ERROR"]
    assert "failure" in lines[1] and "1/2 (1 failed)" in lines[1] and "compile-host: validate failed" in lines[1]
    assert lines[0].index("STATUS") == lines[1].index("failure")


def test_run_detail_has_jobs_steps_metrics_and_deliveries(store: Store, tmp_path: Path) -> None:
    run_id, _ = make_run(store, tmp_path / "results")
    Outbox(store).enqueue("https://chat.example/hooks/T0/SECRET", run_id, b"{}")
    detail = views.run_detail(store, run_id)
    assert detail is not None and detail["done"]
    assert [j["id"] for j in detail["jobs"]] == ["inspect", "compile-host"]
    assert [s["id"] for s in detail["jobs"][1]["steps"]] == ["compile"]
    assert detail["jobs"][1]["steps"][0]["duration_s"] == 20.0
    assert detail["metrics"]["host"]["latency_ms"] == 1.25
    assert detail["deliveries"] == [{"endpoint": "https://chat.example/…", "state": "pending", "attempts": 0,
                                     "last_status": None, "last_error": None, "done_at": None}]
    assert views.run_detail(store, "nope") is None


def test_running_run_reads_progress_json_from_the_results_folder(store: Store, tmp_path: Path) -> None:
    run_id, folder = make_run(store, tmp_path / "results", finished=False)
    progress = sample_result(run_id, "running", metrics={"host": {"latency_ms": 2.5}, "boards": []})
    write_json(folder / "progress.json", progress)
    detail = views.run_detail(store, run_id, tmp_path / "results")
    assert detail is not None and not detail["done"] and detail["metrics"]["host"] == {"latency_ms": 2.5}


def test_log_tail_follows_a_growing_log(store: Store, tmp_path: Path) -> None:
    run_id, folder = make_run(store, tmp_path / "results", finished=False)
    first = views.log_tail(store, run_id, "compile-host", 0)
    assert first is not None and first["text"] == "compiling kws.tflite\n" and first["status"] == "running"
    log = folder / "logs" / "compile-host" / "1-compile.log"
    with log.open("ab") as f:
        f.write("µ done\n".encode()[:1])  # half of a two-byte character: held back until complete
    half = views.log_tail(store, run_id, "compile-host", 0, first["offset"])
    assert half is not None and half["text"] == "" and half["offset"] == first["offset"]
    with log.open("ab") as f:
        f.write("µ done\n".encode()[1:])
    rest = views.log_tail(store, run_id, "compile-host", 0, first["offset"])
    assert rest is not None and rest["text"] == "µ done\n"
    assert views.log_tail(store, run_id, "compile-host", 7) is None


def test_boards_show_their_latest_result(store: Store, tmp_path: Path) -> None:
    make_run(store, tmp_path / "results", "failure")
    latest, _ = make_run(store, tmp_path / "results", "success")
    (board,) = views.boards(store)
    assert board["id"] == "A0B1C2" and board["run_id"] == latest and board["run_status"] == "success"
