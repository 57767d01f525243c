"""Fixtures for the docker-tier tests, whatever package they test: a real engine, the bootstrapped base image,
and a throwaway second engine.

A docker test skips (with the reason and what to run) when its engine or image is missing; the root
conftest turns such a skip into a failure when CI=true.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from dockerkit import Bench, SpareEngine

from daemon.errors import ExecutorError
from daemon.executors.container import DockerExecutor, connect
from daemon.executors.images import BASE_REF
from daemon.settings import DockerSettings

TVM_REF = "benchd/tvm:latest"


@pytest.fixture(scope="session")
def engine():  # type: ignore[no-untyped-def]
    try:
        client = connect(timeout=10)
    except ExecutorError as exc:
        pytest.skip(f"{exc} (CI starts one with .ci/engine.sh)")
    yield client
    client.close()


def _need_image(client, ref: str, how: str):  # type: ignore[no-untyped-def]
    from docker.errors import ImageNotFound

    try:
        return client.images.get(ref)
    except ImageNotFound:
        pytest.skip(f"{ref} is not on this engine: {how}")


@pytest.fixture(scope="session")
def base_image(engine):  # type: ignore[no-untyped-def]
    return _need_image(engine, BASE_REF, "run `benchd images bootstrap`")


@pytest.fixture(scope="session")
def tvm_image(engine):  # type: ignore[no-untyped-def]
    return _need_image(engine, TVM_REF, "run `benchd images bootstrap && benchd images build tvm`")


@pytest.fixture(scope="session")
def riscv_image(engine):  # type: ignore[no-untyped-def]
    return _need_image(engine, "benchd/riscv", "run `benchd images bootstrap && benchd images build riscv`")


@pytest.fixture
def executor(base_image) -> Iterator[DockerExecutor]:  # type: ignore[no-untyped-def]
    ex = DockerExecutor(DockerSettings(memory="1g", cpus=1.0))
    yield ex
    ex.close()


@pytest.fixture
def bench(tmp_path: Path) -> Bench:
    workspace = tmp_path / "work space"
    (workspace / ".benchd").mkdir(parents=True)
    model = tmp_path / "model.tflite"
    model.write_bytes(b"TFL3-not-really-a-model")
    return Bench(workspace, model)


@pytest.fixture
def spare_engine(engine, base_image) -> Iterator[SpareEngine]:  # type: ignore[no-untyped-def]
    if os.geteuid() != 0 or shutil.which("dockerd") is None or shutil.which("ip") is None:
        pytest.skip("stopping an engine mid-job needs root, dockerd and ip for a private second engine")
    root = Path(tempfile.mkdtemp(prefix="bd-", dir="/tmp"))  # short: a unix socket path has 108 bytes
    spare = SpareEngine(root)
    try:
        spare.make_bridge()
        spare.start()
        client = connect(spare.url)
        client.images.load(b"".join(base_image.save(named=True)))  # the base image, copied over from the main engine
        client.close()
        yield spare
    finally:
        spare.stop()
        spare.remove_bridge()
        shutil.rmtree(root, ignore_errors=True)

