"""MLF archives come from untrusted models: unsafe members are refused before anything is written."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from mlf_fixture import write_archive

from daemon.virtcore import VirtCoreError, extract_archive


def _with_member(path: Path, info: tarfile.TarInfo, data: bytes = b"") -> Path:
    write_archive(path, 4, 4)
    with tarfile.open(path, "a") as tar:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data) if data else None)
    return path


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def test_a_good_archive_is_extracted_and_described(tmp_path: Path) -> None:
    tree = extract_archive(write_archive(tmp_path / "mlf.tar", 4, 4), tmp_path / "out")
    assert [p.name for p in tree.sources] == ["default_lib0.c"] and not tree.has_runtime
    assert tree.header.is_file() and tree.include_dirs == (tmp_path / "out/codegen/host/include",)


@pytest.mark.parametrize("info", [
    tarfile.TarInfo("/tmp/evil.c"),
    tarfile.TarInfo("../evil.c"),
    tarfile.TarInfo("codegen/../../evil.c"),
    _link("codegen/host/src/link.c", "/etc/passwd", tarfile.SYMTYPE),
    _link("codegen/host/src/hard.c", "metadata.json", tarfile.LNKTYPE),
    _link("codegen/host/src/fifo", "", tarfile.FIFOTYPE),
], ids=["absolute", "dotdot", "inner-dotdot", "symlink", "hardlink", "fifo"])
def test_unsafe_members_are_refused_and_nothing_is_written(tmp_path: Path, info: tarfile.TarInfo) -> None:
    data = b"int x;\n" if info.isfile() else b""
    archive = _with_member(tmp_path / "mlf.tar", info, data)
    dest = tmp_path / "out"
    with pytest.raises(VirtCoreError, match="unsafe member|unexpected member type") as err:
        extract_archive(archive, dest)
    assert info.name in str(err.value)
    assert not any(dest.rglob("*")) and not (tmp_path / "evil.c").exists()


def test_an_archive_without_the_mlf_header_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "not-mlf.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("README")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(VirtCoreError, match="tvmgen_default.h"):
        extract_archive(archive, tmp_path / "out")


def test_a_file_that_is_no_archive_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "mlf.tar"
    bogus.write_bytes(b"not a tar file at all" * 100)
    with pytest.raises(VirtCoreError, match="cannot read the MLF archive"):
        extract_archive(bogus, tmp_path / "out")
