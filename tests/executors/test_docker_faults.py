"""Bad input and faults: timeouts, floods of output, a dead or missing engine, missing images, orphans."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import tracemalloc

import pytest
from docker.errors import NotFound
from dockerkit import run_steps

from daemon.errors import ExecutorError, ImageError
from daemon.executors import images
from daemon.executors.container import LABEL, DockerExecutor, engine_available, remove_orphans
from daemon.executors.images import BASE_REF
from daemon.executors.logsink import DEFAULT_LIMIT
from daemon.settings import DockerSettings

BOGUS = "unix:///tmp/benchd-no-such-engine/docker.sock"


def _gone(engine, container_id: str) -> bool:  # type: ignore[no-untyped-def]
    try:
        engine.api.inspect_container(container_id)
        return False
    except NotFound:
        return True


@pytest.mark.docker
def test_step_timeout_kills_the_container_and_ends_the_job(executor, engine, bench):
    session = executor.open_job(bench.spec())
    try:
        slow = session.run_step(bench.script("slow", "echo started; sleep 60", timeout_s=1.5))
        after = session.run_step(bench.script("after", "echo never"))
        assert not engine.api.inspect_container(session.id)["State"]["Running"]
    finally:
        session.close()
    assert slow.timed_out and slow.exit_code is None and slow.duration_s < 15
    assert "timeout" in (slow.error or "") and "started" in bench.log("slow")
    assert after.exit_code is None and "not run" in (after.error or "")
    assert _gone(engine, session.id)


@pytest.mark.docker
def test_job_timeout_is_enforced_across_steps(executor, engine, bench):
    [first, second] = run_steps(executor, bench.spec(timeout_s=2.0), bench.script("a", "sleep 0.2"),
                                bench.script("b", "sleep 60", timeout_s=600))
    assert first.exit_code == 0
    assert second.timed_out and "job timeout" in (second.error or "")


@pytest.mark.docker
def test_100_mb_of_output_is_bounded_and_truncated_with_a_note(executor, bench):
    flood = bench.script("flood", "yes 'benchd log line that goes on and on' | head -c 100000000; echo done >&2")
    tracemalloc.start()
    try:
        [outcome] = run_steps(executor, bench.spec(), flood)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.exit_code == 0 and outcome.log_truncated
    log_file = bench.workspace / "logs" / "flood.log"
    assert log_file.stat().st_size < DEFAULT_LIMIT + 1024
    assert "log truncated" in log_file.read_bytes()[-200:].decode()
    assert peak < 30 * 1024 * 1024, f"peak Python memory {peak / 1e6:.0f} MB while streaming 100 MB"


def test_unreachable_engine_is_a_clear_error():
    ex = DockerExecutor(DockerSettings(), base_url=BOGUS)
    with pytest.raises(ExecutorError) as err:
        ex.open_job(images_spec())
    assert BOGUS in str(err.value) and "start dockerd or set executor: local" in str(err.value)
    assert engine_available(timeout=1, base_url=BOGUS) is False


def images_spec():  # type: ignore[no-untyped-def]
    from pathlib import Path

    from daemon.executors.base import JobSpec

    return JobSpec("r", "j", Path("/tmp"), Path("/tmp/m.tflite"), image=BASE_REF)


@pytest.mark.docker
def test_engine_stopped_mid_job_is_a_job_error_and_the_next_run_works(spare_engine, bench):
    ex = DockerExecutor(DockerSettings(), base_url=spare_engine.url)
    session = ex.open_job(bench.spec())
    stopper = threading.Timer(1.5, spare_engine.stop)
    stopper.start()
    try:
        lost = session.run_step(bench.script("long", "echo working; sleep 120"))
    finally:
        stopper.join()
        session.close()  # must not raise with the engine gone
    assert lost.exit_code is None and spare_engine.url in (lost.error or "")
    assert "start dockerd or set executor: local" in (lost.error or "")
    with pytest.raises(ExecutorError, match="not reachable"):
        ex.open_job(bench.spec())
    spare_engine.start()  # the engine is back: the same executor (the daemon) carries on
    [ok] = run_steps(ex, bench.spec(), bench.script("again", "echo back"))
    ex.close()
    assert ok.exit_code == 0 and "back" in bench.log("again")


@pytest.mark.docker
def test_missing_image_without_a_dockerfile_names_the_image_and_the_fix(engine, tmp_path):
    with pytest.raises(ImageError) as err:
        images.resolve("benchd/no-such-image", engine, images.default_docker_dir(), DockerSettings())
    text = str(err.value)
    assert "benchd/no-such-image" in text and "could not be pulled" in text and "docker load" in text
    assert "not pulled from Docker Hub" in text  # a squatted benchd/* image there never runs here


@pytest.mark.docker
def test_image_that_fails_to_build_names_the_image_and_what_to_run(engine, base_image, tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "Dockerfile").write_text(f"ARG BASE={BASE_REF}\nFROM ${{BASE}}\nRUN echo nope; exit 3\n")
    with pytest.raises(ImageError) as err:
        images.resolve("benchd/broken", engine, tmp_path, DockerSettings())
    text = str(err.value)
    assert "benchd/broken" in text and "benchd images bootstrap" in text and "benchd images build broken" in text
    assert "nope" in text


@pytest.mark.docker
def test_resolution_prefers_the_local_image(engine, base_image):
    found = images.resolve(BASE_REF, engine, images.default_docker_dir(), DockerSettings())
    assert found.source == "local" and found.digest == base_image.id


@pytest.mark.docker
def test_orphans_of_a_dead_daemon_are_removed_and_live_ones_kept(engine, base_image):
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname()
    made = {}
    for who, labels in {"orphan": {"benchd.host": host, "benchd.pid": str(dead.pid)},
                        "alive": {"benchd.host": host, "benchd.pid": str(os.getpid())},
                        "elsewhere": {"benchd.host": "another-bench", "benchd.pid": "1"}}.items():
        made[who] = engine.containers.create(BASE_REF, ["sleep", "infinity"], labels={LABEL: "1", **labels})
    try:
        removed = remove_orphans(engine)
        assert made["orphan"].name in removed
        assert _gone(engine, made["orphan"].id)
        assert not _gone(engine, made["alive"].id) and not _gone(engine, made["elsewhere"].id)
    finally:
        for c in made.values():
            if not _gone(engine, c.id):
                c.remove(force=True)


@pytest.mark.docker
def test_a_bad_limit_is_a_clear_job_error(base_image, bench):
    ex = DockerExecutor(DockerSettings(memory="lots"))
    with pytest.raises(ExecutorError, match="check docker.memory"):
        ex.open_job(bench.spec())
    ex.close()


@pytest.mark.docker
def test_kill_all_cancels_a_running_step(executor, bench):
    session = executor.open_job(bench.spec())
    stopper = threading.Timer(1.0, executor.kill_all)
    stopper.start()
    try:
        outcome = session.run_step(bench.script("long", "sleep 120"))
    finally:
        stopper.join()
        session.close()
    assert outcome.exit_code is None and (outcome.error or "").startswith("cancelled")
    assert outcome.duration_s < 30
