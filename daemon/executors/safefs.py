"""The daemon's file access under a workspace that steps write: never through a link a step made.

A step (a container step as much as a host one) can replace any file or folder of its workspace with a
symbolic link. benchd often runs as root on a bench, so every host-side open below a workspace starts from
an open directory descriptor and walks one component at a time with O_NOFOLLOW: a link in place of a file,
of a folder, or of any folder above it is refused, never followed. Reads take regular files only and are
bounded (a FIFO cannot stall the daemon, a 10 GB file cannot fill its memory); files the daemon creates are
new (O_EXCL), so a name a step planted is an error, never a target.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from daemon.errors import BenchdError

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
CHUNK = 1024 * 1024


class UnsafePath(BenchdError):
    """A path under a workspace that benchd refused: a link, a special file, `..`, or one it did not expect."""


def parts(rel: str | Path) -> list[str]:
    """The components of a path relative to a workspace; absolute paths and `..` are refused."""
    text = os.fspath(rel)
    if text.startswith("/"):
        raise UnsafePath(f"{text}: an absolute path where a path inside the workspace was expected")
    names = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in names:
        raise UnsafePath(f"{text}: `..` leads out of the workspace")
    return names


def _refusal(rel: str, name: str, dir_fd: int, exc: OSError) -> UnsafePath | OSError:
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except OSError:
        return exc
    where = name if rel == name else f"{rel}: {name}"
    if stat.S_ISLNK(mode):
        return UnsafePath(f"{where} is a symbolic link; benchd never follows links made in a workspace")
    if exc.errno in (errno.ENOTDIR, errno.ELOOP):
        return UnsafePath(f"{where} is not a folder")
    return exc


def open_dir(base_fd: int, rel: str | Path = "") -> int:
    """A descriptor of the folder `rel` below `base_fd`; no component may be a link. The caller closes it."""
    return _descend(base_fd, rel, create=False)


def make_dirs(base_fd: int, rel: str | Path, owner: tuple[int, int] | None = None) -> int:
    """mkdir -p below `base_fd` without following links; new folders get `owner`. Returns the last one's fd."""
    return _descend(base_fd, rel, create=True, owner=owner)


def _descend(base_fd: int, rel: str | Path, create: bool, owner: tuple[int, int] | None = None) -> int:
    """One component at a time from `base_fd` (creating each when asked), never through a link."""
    fd = os.dup(base_fd)
    for name in parts(rel):
        try:
            if create:
                try:
                    os.mkdir(name, 0o755, dir_fd=fd)  # mkdirat never follows: a planted link is EEXIST
                    if owner is not None:
                        os.chown(name, *owner, dir_fd=fd, follow_symlinks=False)
                except FileExistsError:
                    pass
            sub = os.open(name, DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            err = _refusal(os.fspath(rel), name, fd, exc)
            os.close(fd)
            raise err from exc
        os.close(fd)
        fd = sub
    return fd


def read_file(dir_fd: int, name: str, limit: int, single_link: bool = False) -> tuple[bytes, bool] | None:
    """At most `limit` bytes of the regular file `name` in `dir_fd`, and whether there was more; None when
    it does not exist. With `single_link`, a file with other hard links is refused (the daemon's own files
    have one)."""
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _refusal(name, name, dir_fd, exc) from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePath(f"{name} is not a regular file (a FIFO, a device or a socket); not read")
        if single_link and st.st_nlink > 1:
            raise UnsafePath(f"{name} has {st.st_nlink} hard links; benchd reads only the file it created")
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while size <= limit:
            data = os.read(fd, min(CHUNK, limit + 1 - size))
            if not data:
                break
            chunks.append(data)
            size += len(data)
        blob = b"".join(chunks)
        return blob[:limit], len(blob) > limit
    finally:
        os.close(fd)


def create_file(dir_fd: int, name: str, data: bytes = b"", mode: int = 0o644,
                owner: tuple[int, int] | None = None) -> None:
    """A new file `name` in `dir_fd` (FileExistsError if anything, a link included, has that name)."""
    fd = os.open(name, CREATE_FLAGS, mode, dir_fd=dir_fd)
    try:
        if owner is not None:
            os.fchown(fd, *owner)
        _write_all(fd, data)
    finally:
        os.close(fd)


def hand_over(path: Path, owner: tuple[int, int], keep: tuple[str, ...] = ()) -> None:
    """chown -R without following links: the workspace (except the top-level names in `keep`) to `owner`."""
    root = os.open(path, DIR_FLAGS)
    try:
        os.fchown(root, *owner)
        for top, dirs, files, fd in os.fwalk(".", dir_fd=root, follow_symlinks=False):
            if top == ".":
                dirs[:] = [d for d in dirs if d not in keep]
                files = [f for f in files if f not in keep]
            for name in (*dirs, *files):
                try:
                    os.chown(name, *owner, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:  # a running step removed it meanwhile
                    continue
    finally:
        os.close(root)


@dataclass
class CopyReport:
    files: int = 0
    bytes: int = 0
    links: list[str] = field(default_factory=list)  # "path -> target", copied as links, never followed
    refused: list[str] = field(default_factory=list)  # what was not copied, and why


@dataclass
class CopyLimits:
    max_bytes: int = 4 * 1024**3
    max_entries: int = 100_000
    max_depth: int = 64


def copy_tree(src_fd: int, dst_fd: int, limits: CopyLimits | None = None) -> CopyReport:
    """Copy the folder `src_fd` into the empty folder `dst_fd`: regular files by content, folders, links as
    links (recorded); special files refused; stops at the limits."""
    report = CopyReport()
    _copy_dir(src_fd, dst_fd, "", limits or CopyLimits(), report, 0)
    return report


def _copy_dir(src: int, dst: int, prefix: str, limits: CopyLimits, report: CopyReport, depth: int) -> None:
    with os.scandir(src) as it:
        names = sorted(entry.name for entry in it)
    for name in names:
        rel = prefix + name
        if report.files + len(report.links) >= limits.max_entries:
            report.refused.append(f"{rel} and what follows: more than {limits.max_entries} entries")
            return
        try:
            st = os.stat(name, dir_fd=src, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(name, dir_fd=src)
            os.symlink(target, name, dir_fd=dst)
            report.links.append(f"{rel} -> {target}")
        elif stat.S_ISDIR(st.st_mode):
            if depth >= limits.max_depth:
                report.refused.append(f"{rel}: nested more than {limits.max_depth} folders deep")
                continue
            _copy_subdir(src, dst, name, rel, limits, report, depth)
        elif stat.S_ISREG(st.st_mode):
            _copy_file(src, dst, name, rel, st, limits, report)
        else:
            report.refused.append(f"{rel}: a special file (FIFO, device or socket)")


def _copy_subdir(src: int, dst: int, name: str, rel: str, limits: CopyLimits, report: CopyReport,
                 depth: int) -> None:
    try:
        sub_src = open_dir(src, name)
    except (UnsafePath, OSError) as exc:  # replaced by a link since the stat: refused, never followed
        report.refused.append(f"{rel}: {exc}")
        return
    try:
        os.mkdir(name, 0o755, dir_fd=dst)
        sub_dst = os.open(name, DIR_FLAGS, dir_fd=dst)
        try:
            _copy_dir(sub_src, sub_dst, rel + "/", limits, report, depth + 1)
        finally:
            os.close(sub_dst)
    finally:
        os.close(sub_src)


def _copy_file(src: int, dst: int, name: str, rel: str, st: os.stat_result, limits: CopyLimits,
               report: CopyReport) -> None:
    room = limits.max_bytes - report.bytes
    if st.st_size > room:
        report.refused.append(f"{rel}: {st.st_size} bytes would pass the {limits.max_bytes}-byte limit on artifacts")
        return
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=src)
    except OSError as exc:
        report.refused.append(f"{rel}: {_refusal(rel, name, src, exc)}")
        return
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            report.refused.append(f"{rel}: not a regular file any more")
            return
        os.set_blocking(fd, True)
        mode = 0o755 if st.st_mode & 0o111 else 0o644
        out = os.open(name, CREATE_FLAGS, mode, dir_fd=dst)
        try:
            copied = 0
            while copied <= room:
                data = os.read(fd, min(CHUNK, room + 1 - copied))
                if not data:
                    break
                _write_all(out, data[: room - copied])  # a file that grew past the limit is cut there
                copied += len(data)
        finally:
            os.close(out)
        if copied > room:  # it grew while being copied
            report.refused.append(f"{rel}: cut at the {limits.max_bytes}-byte limit on artifacts")
            copied = room
        report.files += 1
        report.bytes += copied
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
