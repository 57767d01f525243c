"""Containment (issue 12, item 1) with host steps: whatever links a step plants in its workspace, the daemon
neither reads a host file into the results nor writes one through them. The same attacks from inside a
container are in tests/executors/test_docker_containment.py."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest
from workspace_attacks import PLANT_FILES, SWAP_FOLDERS, Host, assert_contained, run, warnings, workflow

from daemon.executors import safefs
from daemon.pipeline.workspace import CONTROL_LIMIT, Workspace


def test_links_planted_by_a_host_step_are_never_followed(tmp_path):
    host = Host.make(tmp_path)
    before = host.snapshot()
    result, out = run(tmp_path, workflow(host, "plant", PLANT_FILES))
    assert_contained(host, before, result, out)
    notes = warnings(result)
    for variable in ("BENCHD_SUMMARY", "BENCHD_OUTPUT", "BENCHD_METRICS"):
        assert f"${variable} not read" in notes
    steps = result["jobs"][0]["steps"]
    assert [s["status"] for s in steps] == ["success", "success"]  # step b got new files, not the planted ones
    art = out / "artifacts"
    assert (art / "ok.txt").read_text() == "fine\n"
    assert os.readlink(art / "leak") == str(host.secret)  # kept as a link, recorded, never followed
    assert os.readlink(art / "sub" / "dir") == str(host.secret_dir)
    assert not (art / "pipe").exists() and not (art / "pipe").is_symlink()
    assert f"artifacts/leak -> {host.secret}: a symbolic link, kept as a link" in notes
    assert "artifacts/pipe: a special file" in notes


def test_control_folder_and_artifacts_swapped_for_links(tmp_path):
    host = Host.make(tmp_path)
    before = host.snapshot()
    result, out = run(tmp_path, workflow(host, "swap", SWAP_FOLDERS))
    assert_contained(host, before, result, out)
    assert not (out / "artifacts").exists()
    assert "artifacts not copied" in warnings(result) and "symbolic link" in warnings(result)


def test_working_directory_through_a_link_is_refused(tmp_path):
    host = Host.make(tmp_path)
    before = host.snapshot()
    steps = """
      - run: ln -s "$SECRET_DIR" linked
      - working-directory: linked/made-by-benchd
        run: echo never
      - working-directory: ../outside
        run: echo never
"""
    result, out = run(tmp_path, workflow(host, "wd", steps))
    assert_contained(host, before, result, out)
    errors = [s["error"] for s in result["jobs"][0]["steps"][1:]]
    assert "linked is a symbolic link" in errors[0]
    assert result["jobs"][0]["steps"][2]["status"] == "skipped"
    assert not (tmp_path / "outside").exists()


# -- the primitives ------------------------------------------------------------------------------------
@pytest.fixture
def ws(tmp_path):
    w = Workspace(tmp_path / "ws")
    yield w
    w.close()


def test_reads_are_bounded_and_take_regular_files_only(ws, tmp_path):
    control = ws.path / ".benchd"
    with (control / "huge.output").open("wb") as f:
        f.truncate(10 * 1024**3)  # 10 GB (sparse): the daemon reads 1 MiB of it
    text, note = ws.read_step_file(control / "huge.output", "BENCHD_OUTPUT")
    assert len(text) == CONTROL_LIMIT and note and "first" in note
    os.mkfifo(control / "pipe.summary")  # a FIFO nobody writes: must not stall the daemon
    started = time.monotonic()
    text, note = ws.read_step_file(control / "pipe.summary", "BENCHD_SUMMARY")
    assert text == "" and "not a regular file" in note and time.monotonic() - started < 1
    (tmp_path / "host.txt").write_text("host")
    os.link(tmp_path / "host.txt", control / "hard.metrics")
    text, note = ws.read_step_file(control / "hard.metrics", "BENCHD_METRICS")
    assert text == "" and "hard links" in note
    assert ws.read_step_file(control / "missing.output", "BENCHD_OUTPUT") == ("", None)


def test_control_files_are_new_and_owned(ws, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    files = ws.new_step_files("job-1-a", owner=None)
    assert {p.read_text() for p in files.values()} == {""}
    for path in files.values():  # a planted name is an error, never a target
        path.unlink()
        path.symlink_to(victim)
        with pytest.raises(FileExistsError):
            safefs.create_file(ws.control_fd, path.name, b"daemon text")
    assert victim.read_text() == "untouched"
    script = ws.new_script("job-1-a", "echo hi\n")
    assert script.read_text() == "echo hi\n" and script.name.startswith("job-1-a-") and script.suffix == ".sh"
    if os.geteuid() == 0:
        owned = ws.new_step_files("job-2-b", owner=(4321, 8765))
        assert {(p.stat().st_uid, p.stat().st_gid) for p in owned.values()} == {(4321, 8765)}


def test_paths_leaving_the_workspace_are_refused(ws):
    for bad in ("/etc", "a/../../x", ".."):
        with pytest.raises(safefs.UnsafePath):
            ws.make_dir(bad)
    (ws.path / "real").mkdir()
    (ws.path / "real" / "link").symlink_to("/tmp")
    with pytest.raises(safefs.UnsafePath, match="link is a symbolic link"):
        ws.make_dir("real/link/deeper")
    assert ws.make_dir("real/new/deeper") == ws.path / "real" / "new" / "deeper"


def test_artifacts_copy_replaces_an_earlier_copy_and_keeps_to_its_limits(ws, tmp_path):
    out = tmp_path / "out"
    (out / "artifacts").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "artifacts" / "sub").symlink_to(elsewhere)  # an earlier attempt's copy kept a link
    art = ws.path / "artifacts"
    (art / "sub").mkdir(parents=True)
    (art / "sub" / "f.bin").write_bytes(b"x" * 100)
    (art / "run.sh").write_text("#!/bin/sh\n")
    (art / "run.sh").chmod(0o755)
    assert ws.copy_artifacts(out) == []
    assert (out / "artifacts" / "sub" / "f.bin").read_bytes() == b"x" * 100
    assert list(elsewhere.iterdir()) == []  # not written through the old link
    assert stat.S_IMODE((out / "artifacts" / "run.sh").stat().st_mode) == 0o755
    src, dst = os.open(art, safefs.DIR_FLAGS), os.open(tmp_path, safefs.DIR_FLAGS)
    try:
        os.mkdir("small", dir_fd=dst)
        small = os.open("small", safefs.DIR_FLAGS, dir_fd=dst)
        report = safefs.copy_tree(src, small, safefs.CopyLimits(max_bytes=50))
        os.close(small)
    finally:
        os.close(src)
        os.close(dst)
    assert report.refused == ["sub/f.bin: 100 bytes would pass the 50-byte limit on artifacts"]


def test_a_fifo_in_artifacts_does_not_stall_the_copy(ws, tmp_path):
    art = ws.path / "artifacts"
    art.mkdir()
    os.mkfifo(art / "pipe")
    done = threading.Event()

    def copy() -> None:
        ws.copy_artifacts(tmp_path / "out")
        done.set()

    t = threading.Thread(target=copy)
    t.start()
    t.join(5)
    assert done.is_set()
    assert not (tmp_path / "out" / "artifacts" / "pipe").exists()


def test_hand_over_never_follows_links(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("giving files to another uid needs root")
    victim = tmp_path / "victim"
    victim.write_text("host")
    ws = tmp_path / "ws"
    (ws / ".benchd").mkdir(parents=True)
    (ws / "d").mkdir()
    (ws / "d" / "f").write_text("x")
    (ws / "d" / "link").symlink_to(victim)
    safefs.hand_over(ws, (4321, 8765), keep=(".benchd",))
    assert (victim.stat().st_uid, victim.stat().st_gid) == (0, 0)
    assert (ws / "d" / "link").lstat().st_uid == 4321 and (ws / "d" / "f").stat().st_uid == 4321
    assert ws.stat().st_uid == 4321 and (ws / ".benchd").stat().st_uid == 0


def test_paths_are_relative(tmp_path: Path):
    assert safefs.parts("a/./b//c") == ["a", "b", "c"]
    assert safefs.parts("") == []
