"""The pinned images: build contexts, the apt mirror, and the seed's commands verbatim inside the images."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest
from dockerkit import Bench, run_steps

from daemon.executors import images
from daemon.executors.container import DockerExecutor
from daemon.executors.image_commands import apt_mirror
from daemon.settings import DockerSettings

# The seed's command (tum-ei-eda/micro-kws tvm/tutorial_tvmc.md), every option: without the C interface API
# TVM writes no tvmgen_default.h, which the test below asserts.
MLF = ('tvmc compile "$BENCHD_MODEL" --output "$BENCHD_WORKSPACE/mlf.tar" --target c --runtime crt '
       "--executor-aot-interface-api c --executor=aot --executor-aot-unpacked-api=1 --desired-layout NCHW "
       "--output-format mlf --pass-config tir.disable_vectorize=1 --pass-config tir.usmp.enable=1 "
       "--pass-config tir.usmp.algorithm=hill_climb")


def test_build_context_holds_the_dockerfile_benchd_and_the_extra_ca(tmp_path):
    ca = tmp_path / "proxy.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n")
    with images.build_context("tvm", images.default_docker_dir(), str(ca)) as context:
        with tarfile.open(fileobj=context) as tar:
            names = tar.getnames()
            extra = tar.extractfile("extra-ca.pem").read()  # type: ignore[union-attr]
    assert "Dockerfile" in names and "src/pyproject.toml" in names
    assert "src/daemon/tvmc/frontend.py" in names and "src/daemon/actions/migrate_tuning.py" in names
    assert not any("__pycache__" in n or n.startswith("src/.venv") for n in names)
    assert extra == ca.read_bytes()


def test_every_dockerfile_takes_a_base_argument():
    for dockerfile in images.default_docker_dir().glob("*/Dockerfile"):
        assert dockerfile.read_text().splitlines()[0].startswith("#")
        assert "ARG BASE" in dockerfile.read_text() and "FROM ${BASE}" in dockerfile.read_text(), dockerfile


def test_every_dockerfile_pins_its_base_by_digest():
    for dockerfile in images.default_docker_dir().glob("*/Dockerfile"):
        base = images.dockerfile_args(dockerfile)["BASE"]
        images.check_pinned(base)  # raises for a tag
        assert "@sha256:" in base, f"{dockerfile}: BASE={base}"


def test_esp_idf_is_pinned_once_by_tag_and_commit_for_the_c3_alone():
    """v5.3.1 names c8fc5f6… (tag object 75d82bb…, read from github:espressif/esp-idf); the build checks the
    clone against it. The digest of espressif/idf:v5.3.1 could not be read here (no registry)."""
    dockerfile = images.default_docker_dir() / "espidf" / "Dockerfile"
    pins = images.dockerfile_args(dockerfile)
    assert pins["IDF_VERSION"] == "v5.3.1"
    assert pins["IDF_COMMIT"] == "c8fc5f643b7a7b0d3b182d3df610844e3dc9bd74"
    assert pins["IDF_INSTALL_TARGETS"] == "esp32c3"
    text = dockerfile.read_text()
    assert '--targets="$IDF_INSTALL_TARGETS"' in text and '!= "$IDF_COMMIT"' in text
    assert "espressif/idf:v5.3.1" not in text.split("\nFROM")[1]  # nothing after FROM names the tag


@pytest.mark.parametrize("base", ["espressif/idf:v5.3.1", "espressif/idf", "espressif/idf@sha256:abc",
                                  "python:3.11-slim-bookworm"])
def test_a_base_given_by_tag_is_refused_before_the_engine_is_asked(base):
    with pytest.raises(images.ImageError, match=r"not pinned: give it by digest \(.*@sha256:<64 hex digits>\)"):
        images.build("espidf", None, images.default_docker_dir(), DockerSettings(),  # type: ignore[arg-type]
                     buildargs={"BASE": base})


def test_a_base_given_by_digest_or_built_here_is_accepted():
    images.check_pinned("espressif/idf@sha256:" + "0" * 64)
    images.check_pinned("registry.lab:5000/espressif/idf@sha256:" + "a1" * 32)
    images.check_pinned("benchd/base:bookworm")


def test_image_names_benchd_builds():
    assert images.image_name("benchd/tvm") == "tvm" == images.image_name("benchd/tvm:latest")
    assert images.image_name("benchd/tvm:0.1") is None and images.image_name("debian:bookworm") is None


def test_apt_mirror_is_read_from_both_source_formats(tmp_path):
    deb822 = tmp_path / "debian.sources"
    deb822.write_text("Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
                      "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n")
    assert apt_mirror((deb822,)) == "http://mirror.example/debian"
    one_line = tmp_path / "sources.list"
    one_line.write_text("# comment\ndeb [signed-by=/k.gpg] https://lab.example/debian bookworm main\n")
    assert apt_mirror((one_line,)) == "https://lab.example/debian"
    assert apt_mirror((tmp_path / "missing",)) == images.DEFAULT_MIRROR


def _model_bench(tmp_path: Path, samples: dict[str, Path]) -> Bench:
    model = tmp_path / "models dir" / "kws 'xs'.tflite"
    model.parent.mkdir()
    shutil.copy(samples["kws_xs.tflite"], model)
    bench = Bench(tmp_path / "ws", model)
    (bench.workspace / ".benchd").mkdir(parents=True)
    return bench


@pytest.mark.docker
def test_seed_host_commands_run_verbatim_in_benchd_tvm(tvm_image, samples, tmp_path):
    bench = _model_bench(tmp_path, samples)
    compile_ = bench.script("compile", 'tvmc compile "$BENCHD_MODEL" --target llvm --output gen/module.tar',
                            timeout_s=600)
    run = bench.script("run", "tvmc run gen/module.tar --fill-mode random --print-time --print-top 10")
    ex = DockerExecutor(DockerSettings())
    outcomes = run_steps(ex, bench.spec(image="benchd/tvm"), compile_, run)
    ex.close()
    assert outcomes[0].exit_code == 0, bench.log("compile")
    assert (bench.workspace / "gen" / "module.tar").stat().st_size > 0
    assert outcomes[1].exit_code == 0, bench.log("run")
    assert "mean (ms)" in bench.log("run").lower() or "execution time" in bench.log("run").lower()


def test_seed_mlf_command_runs_verbatim_in_benchd_tvm_legacy(samples, tmp_path):
    """Runs where the legacy image exists (it cannot be built on a machine without the Apache release)."""
    from daemon.errors import ExecutorError
    from daemon.executors.container import connect

    try:
        client = connect(timeout=5)
    except ExecutorError as exc:
        pytest.skip(str(exc))
    have = bool(client.images.list(name="benchd/tvm-legacy"))
    client.close()
    if not have:
        pytest.skip("benchd/tvm-legacy is not on this engine: build it where archive.apache.org is reachable "
                    "(docker/tvm-legacy/Dockerfile says how) and `docker load` it here")
    bench = _model_bench(tmp_path, samples)
    ex = DockerExecutor(DockerSettings())
    [outcome] = run_steps(ex, bench.spec(image="benchd/tvm-legacy"), bench.script("mlf", MLF, timeout_s=900))
    ex.close()
    assert outcome.exit_code == 0, bench.log("mlf")
    with tarfile.open(bench.workspace / "mlf.tar") as tar:
        metadata = json.load(tar.extractfile("./metadata.json") or tar.extractfile("metadata.json"))  # type: ignore[arg-type]
        names = tar.getnames()
    assert metadata["version"] == 7
    assert any(n.endswith("codegen/host/include/tvmgen_default.h") for n in names)


def test_a_failed_build_is_not_retried_until_its_folder_changes(engine, base_image, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the memo lives in the user's cache
    docker_dir = tmp_path / "docker"
    (docker_dir / "broken").mkdir(parents=True)
    dockerfile = docker_dir / "broken" / "Dockerfile"
    dockerfile.write_text("ARG BASE=benchd/base:bookworm\nFROM ${BASE}\nRUN echo nope >&2; exit 3\n")
    builds: list[str] = []
    real_build = images.build

    def counted(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        builds.append(name)
        return real_build(name, *args, **kwargs)

    monkeypatch.setattr(images, "build", counted)
    settings = DockerSettings()
    with pytest.raises(images.ImageError, match="building docker/broken failed"):
        images.resolve("benchd/broken", engine, docker_dir, settings)
    with pytest.raises(images.ImageError, match=r"not built again until it does, or `benchd images build broken`"):
        images.resolve("benchd/broken", engine, docker_dir, settings)
    assert builds == ["broken"]  # the second drop did not build again
    dockerfile.write_text(dockerfile.read_text() + "# changed\n")
    with pytest.raises(images.ImageError, match="building docker/broken failed"):
        images.resolve("benchd/broken", engine, docker_dir, settings)
    assert builds == ["broken", "broken"]  # a changed folder is worth another try
    images.BuildMemo().forget("broken")  # what `benchd images build broken` does first
    assert images.BuildMemo().failed("broken", images.folder_fingerprint(docker_dir / "broken")) is None
