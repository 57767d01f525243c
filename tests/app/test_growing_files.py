"""Issue 12 item 4: a file still being written never becomes an error result."""

from __future__ import annotations

import os
import time

from daemon_kit import make_settings, results, wait_for

from daemon.app.service import Daemon


def run_daemon(settings, write) -> list[dict]:  # type: ignore[no-untyped-def]
    daemon = Daemon(settings)
    daemon.start()
    try:
        write()
        assert wait_for(lambda: results(settings), 20)
        time.sleep(1.0)  # a second result (of a partial file) would show up by now
        assert daemon.wait_idle(20)
    finally:
        daemon.stop()
    return results(settings)


def test_a_writer_appending_in_pieces_gives_one_result(tmp_path, samples):
    settings = make_settings(tmp_path)
    data = samples["kws_xs.tflite"].read_bytes()
    path = settings.inbox / "pieces.tflite"

    def write() -> None:
        step = len(data) // 10 + 1
        for i in range(0, len(data), step):  # open, append, close: a close event each time
            with path.open("ab") as f:
                f.write(data[i:i + step])
            time.sleep(0.1)

    done = run_daemon(settings, write)
    assert [r["status"] for r in done] == ["success"], [r["errors"] for r in done]


def test_a_writer_pausing_longer_than_stable_s_gives_one_result(tmp_path, samples):
    settings = make_settings(tmp_path)
    data = samples["kws_xs.tflite"].read_bytes()

    def write() -> None:
        with (settings.inbox / "paused.tflite").open("wb") as f:
            f.write(data[: len(data) // 3])
            f.flush()
            time.sleep(4 * settings.stable_s)  # open all along: no close event
            f.write(data[len(data) // 3:])

    done = run_daemon(settings, write)
    assert [r["status"] for r in done] == ["success"], [r["errors"] for r in done]


def test_temporary_and_hidden_names_wait_until_renamed(tmp_path, samples):
    settings = make_settings(tmp_path)
    data = samples["kws_xs.tflite"].read_bytes()
    daemon = Daemon(settings)
    daemon.start()
    try:
        for name in ("a.tflite.part", "b.tflite.tmp", "c.tflite~", ".d.tflite"):
            (settings.inbox / name).write_bytes(data)
        time.sleep(1.0)
        assert results(settings) == []
        os.rename(settings.inbox / "a.tflite.part", settings.inbox / "a.tflite")
        os.rename(settings.inbox / ".d.tflite", settings.inbox / "d.tflite")
        assert wait_for(lambda: len(results(settings)) == 2 and daemon.wait_idle(0), 20)
    finally:
        daemon.stop()
    done = results(settings)
    assert sorted(r["model"]["name"] for r in done) == ["a.tflite", "d.tflite"]
    assert {r["status"] for r in done} == {"success"}  # d is a duplicate of a: same bytes
