"""The Docker executor against a real engine: parity with the local executor, mounts, user, limits."""

from __future__ import annotations

import os
import stat

import pytest
from dockerkit import Bench, run_steps

from daemon.executors.base import JobSpec
from daemon.executors.container import LABEL, DockerExecutor
from daemon.executors.local import LocalExecutor
from daemon.settings import DockerSettings

pytestmark = pytest.mark.docker

PARITY = r"""
echo "cwd=$(pwd)"
echo "model=$(cksum < "$BENCHD_MODEL")"
env | grep -E '^(BENCHD_|CUSTOM)' | grep -v '^BENCHD_STEP_TAG=' | sort
printf 'answer=%s\n' "$CUSTOM" >> "$BENCHD_OUTPUT"
mkdir -p sub && echo made > sub/file.txt
echo "::error::said on purpose"
"""


def test_same_workflow_gives_the_same_outputs_on_both_executors(executor, tmp_path):
    results = {}
    for name, ex, image in (("local", LocalExecutor(), None), ("docker", executor, "benchd/base:bookworm")):
        b = Bench(tmp_path / name / "work space", tmp_path / "model's \"m\".tflite")
        (b.workspace / ".benchd").mkdir(parents=True)
        b.model.write_bytes(b"the same model")
        command = b.script("s1", PARITY, env={"CUSTOM": "x y 'z'"})
        [outcome] = run_steps(ex, JobSpec("run1", "job1", b.workspace, b.model, image=image), command)
        log = b.log("s1").replace(str(b.workspace), "<ws>")
        results[name] = (outcome.exit_code, outcome.errors, b.output("s1"), log,
                         (b.workspace / "sub" / "file.txt").read_text())
    assert results["docker"] == results["local"]
    assert results["docker"][2] == "answer=x y 'z'\n"
    assert "cwd=<ws>" in results["docker"][3]


def test_steps_share_the_container_and_keep_the_image_path(executor, bench):
    first = bench.script("a", 'echo "$$" > .benchd/pid; echo "path=$PATH home=$HOME"; touch "$HOME/x"',
                         env={"PATH": "/host/venv/bin", "HOME": "/root"})
    second = bench.script("b", "test -f \"$HOME/x\" && echo still-there")
    outcomes = run_steps(executor, bench.spec(), first, second)
    assert [o.exit_code for o in outcomes] == [0, 0]
    assert "path=/usr/local/sbin:" in bench.log("a") and "/host/venv" not in bench.log("a")
    assert "still-there" in bench.log("b")


def test_steps_run_as_the_step_user_and_files_belong_to_it(base_image, bench):
    own = f"{os.getuid()}:{os.getgid()}"
    # A root daemon runs container steps as docker.step_user; an unprivileged one as itself.
    assert DockerExecutor(DockerSettings()).user == ("1000:1000" if os.geteuid() == 0 else own)
    assert DockerExecutor(DockerSettings(step_user="2000:3000")).user == ("2000:3000" if os.geteuid() == 0 else own)
    if os.geteuid() != 0:  # it cannot hand the workspace over: make it writable for the other uid
        bench.workspace.chmod(0o777)
        (bench.workspace / ".benchd").chmod(0o777)
    ex = DockerExecutor(DockerSettings(), user="4321:8765")  # not root, whoever runs the tests
    [outcome] = run_steps(ex, bench.spec(), bench.script("w", "id -u; id -g; mkdir out; echo x > out/f"))
    ex.close()
    assert outcome.exit_code == 0, bench.log("w")
    for path in (bench.workspace / "out", bench.workspace / "out" / "f"):
        st = path.stat()
        assert (st.st_uid, st.st_gid) == (4321, 8765)


def test_network_none_cannot_connect(executor, bench):
    probe = bench.command(("python3", "-c", "import socket; socket.create_connection(('1.1.1.1', 53), timeout=3)"),
                          "net")
    [outcome] = run_steps(executor, bench.spec(), probe)
    assert outcome.exit_code != 0
    assert "Network is unreachable" in bench.log("net") or "OSError" in bench.log("net")


def test_container_is_locked_down_and_labelled(executor, engine, bench):
    session = executor.open_job(bench.spec(network="none"))
    try:
        attrs = engine.api.inspect_container(session.id)
        host = attrs["HostConfig"]
        assert attrs["Config"]["Labels"][LABEL] == "1" and attrs["Config"]["Labels"]["benchd.job"] == "job1"
        assert host["Privileged"] is False and host["NetworkMode"] == "none"
        assert host["Memory"] == 1024**3 and host["NanoCpus"] == 1_000_000_000
        assert not any("docker.sock" in m["Source"] for m in attrs["Mounts"])
        assert {m["Destination"]: m["RW"] for m in attrs["Mounts"]} == {
            str(bench.workspace): True, str(bench.model): False}
    finally:
        session.close()


def test_model_path_with_spaces_and_quotes_is_mounted_read_only(executor, tmp_path):
    model = tmp_path / "dir with space" / "it's a \"model\" $(x).tflite"
    model.parent.mkdir()
    model.write_bytes(b"model bytes")
    b = Bench(tmp_path / "ws", model)
    (b.workspace / ".benchd").mkdir(parents=True)
    read = b.script("read", 'cat "$BENCHD_MODEL" > copy.bin; ls -l "$BENCHD_MODEL"')
    write = b.script("write", 'echo overwritten > "$BENCHD_MODEL"')
    outcomes = run_steps(executor, b.spec(), read, write)
    assert outcomes[0].exit_code == 0, b.log("read")
    assert (b.workspace / "copy.bin").read_bytes() == b"model bytes"
    assert outcomes[1].exit_code != 0 and "Read-only file system" in b.log("write")
    assert model.read_bytes() == b"model bytes"
    assert stat.S_ISREG(model.stat().st_mode)


def test_action_steps_run_inside_the_tvm_image(tvm_image, bench):
    records = bench.workspace / "old.log"
    records.write_text('{"input": ["llvm -keys=cpu -link-params=0", "dense.x86", [], {}], "result": [[1], 0]}\n')
    cmd = bench.command(("python", "-m", "daemon.actions", "migrate-tuning"), "migrate",
                        env={"BENCHD_INPUT_RECORDS": str(records)})
    ex = DockerExecutor(DockerSettings())
    [outcome] = run_steps(ex, bench.spec(image="benchd/tvm"), cmd)
    ex.close()
    assert outcome.exit_code == 0, bench.log("migrate")
    assert "migrated=1" in bench.output("migrate")
    assert outcome.warnings and "migrated 1 of 1" in outcome.warnings[0]
