"""Containment and no orphans with real containers (issue 12, items 1 and 7): links a container step plants
never make the daemon read or write a host file; container steps run unprivileged; after `kill -9` of the
daemon its containers do not survive the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from workspace_attacks import PLANT_FILES, SWAP_FOLDERS, Host, assert_contained, run, warnings, workflow

from daemon.errors import ConfigError
from daemon.executors.container import LABEL, DockerExecutor
from daemon.executors.images import BASE_REF
from daemon.settings import DockerSettings

pytestmark = pytest.mark.docker


def test_links_planted_by_a_container_step_are_never_followed(base_image, tmp_path):
    host = Host.make(tmp_path)
    before = host.snapshot()
    result, out = run(tmp_path, workflow(host, "plant", PLANT_FILES, container=BASE_REF), executor="docker")
    assert_contained(host, before, result, out)
    job = result["jobs"][0]
    assert job["executor"] == "docker" and [s["status"] for s in job["steps"]] == ["success", "success"]
    art = out / "artifacts"
    assert (art / "ok.txt").read_text() == "fine\n"
    assert os.readlink(art / "leak") == str(host.secret)  # a link, recorded, never followed
    assert not (art / "pipe").exists()
    assert f"artifacts/leak -> {host.secret}: a symbolic link" in warnings(result)


def test_folders_swapped_for_links_by_a_container_step(base_image, tmp_path):
    host = Host.make(tmp_path)
    before = host.snapshot()
    result, out = run(tmp_path, workflow(host, "swap", SWAP_FOLDERS, container=BASE_REF), executor="docker")
    assert_contained(host, before, result, out)
    assert not (out / "artifacts").exists() and "artifacts not copied" in warnings(result)


@pytest.mark.skipif(os.geteuid() != 0, reason="the step user applies when benchd runs as root")
def test_container_steps_run_unprivileged_and_cannot_touch_the_daemons_files(base_image, engine, tmp_path):
    host = Host.make(tmp_path)
    steps = """
      - id: who
        run: |
          echo "ids=$(id -u):$(id -g)" >> "$BENCHD_OUTPUT"
          grep -E '^(CapEff|NoNewPrivs)' /proc/self/status
          touch made-by-step
          if rm -f "$BENCHD_SUMMARY" || ln -sf /etc/passwd "$BENCHD_SUMMARY"; then echo REPLACED-IT; fi
          if echo x > .benchd/planted; then echo PLANTED-IT; fi
          echo "summary-ok" >> "$BENCHD_SUMMARY"
"""
    keys = '    outputs: { ids: "${{ steps.who.outputs.ids }}" }\n'
    result, out = run(tmp_path, workflow(host, "who", steps, container=BASE_REF, keys=keys), executor="docker")
    job = result["jobs"][0]
    assert job["status"] == "success", result
    assert job["outputs"]["ids"] == "1000:1000"
    log = (out / job["steps"][0]["log"]).read_text()
    assert "CapEff:\t0000000000000000" in log and "NoNewPrivs:\t1" in log
    assert "REPLACED-IT" not in log and "PLANTED-IT" not in log
    assert "summary-ok" in (out / "summary.md").read_text()


def test_step_user_must_be_numeric():
    if os.geteuid() != 0:
        pytest.skip("an unprivileged daemon runs container steps as itself")
    with pytest.raises(ConfigError, match="step_user"):
        DockerExecutor(DockerSettings(step_user="nobody"))


def test_container_limits(executor, engine, bench):
    session = executor.open_job(bench.spec())
    try:
        host = engine.api.inspect_container(session.id)["HostConfig"]
        assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
        assert host["PidsLimit"] == 4096 and host["Memory"] == 1024**3
        assert DockerSettings().memory == "4g"  # 4 GiB unless configured
    finally:
        session.close()


def _containers(engine, daemon_pid: int) -> list[str]:
    return [c.id for c in engine.containers.list(all=True, filters={"label": [f"{LABEL}=1",
                                                                               f"benchd.pid={daemon_pid}"]})]


def _watch(tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BENCHD_PIPELINE": str(tmp_path / "hang.yml")}
    env.pop("BENCHD_CONFIG", None)
    with (tmp_path / "watch.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "daemon", "watch", "--inbox", str(tmp_path / "inbox"), "--results",
             str(tmp_path / "results"), "--state", str(tmp_path / "state"), "--executor", "docker"],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=log)


def _wait(check, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.timeout(240)
def test_kill_9_mid_container_step_leaves_no_container_after_restart(base_image, engine, samples, tmp_path):
    (tmp_path / "hang.yml").write_text(f"jobs:\n  hang:\n    container: {BASE_REF}\n    steps:\n"
                                       "      - run: touch \"$BENCHD_WORKSPACE/started\" && sleep 300\n")
    (tmp_path / "inbox").mkdir()
    first = _watch(tmp_path)
    second = None
    try:
        (tmp_path / "inbox" / "kws.tflite").write_bytes(samples["kws_xs.tflite"].read_bytes())
        assert _wait(lambda: list((tmp_path / "state" / "runs").glob("*/workspace/started")), 120), \
            (tmp_path / "watch.log").read_text()
        left = _containers(engine, first.pid)
        assert len(left) == 1
        first.send_signal(signal.SIGKILL)
        first.wait()
        (started,) = list((tmp_path / "state" / "runs").glob("*/workspace/started"))
        started.unlink()
        second = _watch(tmp_path)
        assert _wait(lambda: not _containers(engine, first.pid), 60), "the dead daemon's container survived"
        assert _wait(started.exists, 120)  # the interrupted run runs again, in a container of its own
        assert len(_containers(engine, second.pid)) == 1
        second.send_signal(signal.SIGKILL)  # the re-run's container is the next start's to remove
        second.wait()
        third = _watch(tmp_path)
        try:
            assert _wait(lambda: not _containers(engine, second.pid), 60)
        finally:
            third.kill()
            third.wait()
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        for c in engine.containers.list(all=True, filters={"label": f"{LABEL}=1"}):
            if c.labels.get("benchd.run") and str(tmp_path) in str(c.attrs.get("Mounts")):
                c.remove(force=True)
