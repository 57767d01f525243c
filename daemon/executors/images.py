"""Pinned images: find one locally, else pull it, else build it from docker/<name>; bootstrap a base offline.

Only this module and container.py import the docker SDK. Build contexts are made here, in memory, from
docker/<name>/ plus benchd's own source under src/ (so benchd/tvm can install benchd's tvmc front end),
plus extra-ca.pem: a small, exact context, instead of the whole checkout with its .venv and data.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
import structlog
from docker.client import DockerClient
from docker.errors import APIError, DockerException, ImageNotFound

from daemon.errors import ImageError
from daemon.settings import DockerSettings

BASE_REF = "benchd/base:bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates", "bash")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SOURCE_FILES = ("pyproject.toml", "README.md")
SOURCE_DIRS = ("daemon", "target")  # benchd's package (benchd/tvm) and the firmware project (benchd/espidf)
_log = structlog.get_logger("images")
_build_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()

Say = Callable[[str], None]


@dataclass(frozen=True)
class ResolvedImage:
    ref: str
    digest: str  # the repo digest when the image came from a registry, else the image id (sha256:…)
    source: str  # local | pulled | built


def default_docker_dir() -> Path:
    """docker/ beside the daemon package: present in a checkout (the only place images are built)."""
    return Path(__file__).resolve().parents[2] / "docker"


def image_name(ref: str) -> str | None:
    """benchd/tvm or benchd/tvm:latest -> tvm; None for images benchd does not build itself."""
    repo, _, tag = ref.partition(":")
    if not repo.startswith("benchd/") or tag not in ("", "latest") or "@" in ref:
        return None
    return repo.removeprefix("benchd/")


def check_pinned(base: str) -> None:
    """A BASE to build on must name one image for good: a digest (`name@sha256:<64 hex>`), or an image benchd
    makes on this machine (benchd/base:bookworm). A tag (`espressif/idf:v5.3.1`) can move under the same name."""
    if base.startswith("benchd/") or _DIGEST_REF.fullmatch(base):
        return
    repo = base.split("@")[0].rsplit(":", 1)[0] if "/" in base or ":" in base else base
    raise ImageError(f"BASE={base} is not pinned: give it by digest ({repo}@sha256:<64 hex digits>); "
                     f"`docker pull {base} && docker inspect --format '{{{{index .RepoDigests 0}}}}' {base}` "
                     "prints it where the registry is reachable")


def dockerfile_args(dockerfile: Path) -> dict[str, str]:
    """The `ARG NAME=default` lines of a Dockerfile: its pins (BASE, IDF_VERSION, IDF_COMMIT, …)."""
    return dict(_ARG_LINE.findall(dockerfile.read_text(encoding="utf-8")))


def buildable(docker_dir: Path) -> list[str]:
    return sorted(p.parent.name for p in docker_dir.glob("*/Dockerfile"))


def digest_of(image: Any) -> str:
    repo_digests = image.attrs.get("RepoDigests") or []
    return str(repo_digests[0]) if repo_digests else str(image.id)


def resolve(ref: str, client: DockerClient, docker_dir: Path, settings: DockerSettings,
            say: Say | None = None) -> ResolvedImage:
    """The image a job runs in: local first, then a pull, then a build from docker/<name>."""
    with _lock_for(ref):  # two jobs needing the same missing image build it once
        try:
            return ResolvedImage(ref, digest_of(client.images.get(ref)), "local")
        except ImageNotFound:
            pass
        try:
            return ResolvedImage(ref, digest_of(_pull(client, ref, getattr(settings, "registry", ""))), "pulled")
        except (APIError, DockerException, ImageError) as exc:
            pull_error = _short(exc)
        name = image_name(ref)
        if name is None or not (docker_dir / name / "Dockerfile").is_file():
            known = ", ".join(f"benchd/{n}" for n in buildable(docker_dir)) or "none found"
            raise ImageError(
                f"image {ref} is not on this machine and could not be pulled ({pull_error}); benchd has no "
                f"docker/{name or '<name>'}/Dockerfile to build it from. Load it with `docker load`, or use "
                f"one benchd builds ({known})"
            )
        fingerprint = folder_fingerprint(docker_dir / name)
        if (earlier := BuildMemo().failed(name, fingerprint)) is not None:
            raise ImageError(f"image {ref} is not on this machine, could not be pulled ({pull_error}), and "
                             f"{earlier} (remembered: docker/{name} has not changed since; not built again until "
                             f"it does, or `benchd images build {name}`)")
        _log.info("building image", ref=ref, reason=pull_error)
        try:
            image = build(name, client, docker_dir, settings, say)
        except ImageError as exc:
            BuildMemo().remember(name, fingerprint, str(exc))
            raise ImageError(f"image {ref} is not on this machine, could not be pulled ({pull_error}), "
                             f"and {exc}") from exc
        return ResolvedImage(ref, digest_of(image), "built")


def folder_fingerprint(folder: Path) -> str:
    """What a build of docker/<name> depends on that benchd can see: its files' names and contents."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class BuildMemo:
    """A failed build of docker/<name>, remembered (in the user's cache) until that folder changes or
    `benchd images build NAME` is run, so a drop does not retry a build that cannot succeed."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or Path(platformdirs.user_cache_dir("benchd")) / "failed-image-builds.json"

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def failed(self, name: str, fingerprint: str) -> str | None:
        entry = self._load().get(name)
        if isinstance(entry, dict) and entry.get("fingerprint") == fingerprint:
            return str(entry.get("error") or "its build failed")
        return None

    def remember(self, name: str, fingerprint: str, error: str) -> None:
        self._save({**self._load(), name: {"fingerprint": fingerprint, "error": error}})

    def forget(self, name: str) -> None:
        data = self._load()
        if data.pop(name, None) is not None:
            self._save(data)

    def _save(self, data: dict[str, Any]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:  # a read-only home: builds are then retried, as before
            _log.warning("cannot remember the failed image build", path=str(self.path), error=str(exc))


def _pull(client: DockerClient, ref: str, registry: str) -> Any:
    """benchd/* names are this project's: pulled from the lab's registry (docker.registry), never from
    Docker Hub, where anyone may publish a `benchd/tvm` that would then run with the workspace mounted."""
    if not ref.startswith("benchd/"):
        return client.images.pull(ref)
    if not registry:
        raise ImageError("benchd images are not pulled from Docker Hub; set docker.registry to use the lab's")
    image = client.images.pull(f"{registry.rstrip('/')}/{ref}")
    image.tag(ref)
    return image


def build(name: str, client: DockerClient, docker_dir: Path, settings: DockerSettings,
          say: Say | None = None, buildargs: dict[str, str] | None = None) -> Any:
    """Build benchd/<name> from docker/<name>; BASE is the bootstrapped base when this machine has it."""
    if not (docker_dir / name / "Dockerfile").is_file():
        raise ImageError(f"no docker/{name}/Dockerfile under {docker_dir} (images: {', '.join(buildable(docker_dir))})")
    ref = f"benchd/{name}:latest"
    # A Dockerfile that builds on the offline base says so (`# benchd-base: REF`); it is used when present.
    marker = _BASE_MARKER.search((docker_dir / name / "Dockerfile").read_text(encoding="utf-8"))
    if buildargs and "BASE" in buildargs:
        check_pinned(buildargs["BASE"])  # before the engine is asked anything
    args = {"BASE": marker.group(1)} if marker and _present(client, marker.group(1)) else {}
    args.update(buildargs or {})
    tail: list[str] = []
    with build_context(name, docker_dir, settings.extra_ca) as context:
        try:
            for chunk in client.api.build(fileobj=context, custom_context=True, tag=ref, buildargs=args,
                                          rm=True, forcerm=True, pull=False, decode=True,
                                          labels={"benchd.image": name}):
                text = str(chunk.get("stream") or chunk.get("status") or "").rstrip()
                if text:
                    tail = (tail + text.splitlines())[-15:]
                    (say or _log.debug)(text)
                if "error" in chunk:
                    raise ImageError(_build_failed(name, str(chunk["error"]).strip(), tail))
        except (APIError, DockerException) as exc:
            raise ImageError(_build_failed(name, _short(exc), tail)) from exc
    return client.images.get(ref)


def _build_failed(name: str, reason: str, tail: list[str]) -> str:
    # The engine quotes the whole RUN line back; what it printed before failing says more.
    reason = re.sub(r"^The command '.*' returned", "a RUN step returned", reason, flags=re.DOTALL)
    said = [line for line in (_ANSI.sub("", t).strip() for t in tail) if line and not _NOISE.match(line)]
    last = " | ".join(line[:200] for line in said[-3:])
    hint = ("run `benchd images bootstrap` (an offline Debian base) and set docker.extra_ca when a proxy "
            f"intercepts TLS, then `benchd images build {name}` to see the whole log")
    return f"building docker/{name} failed: {reason} (last output: {last}); {hint}"


_BASE_MARKER = re.compile(r"^# benchd-base: (\S+)$", re.MULTILINE)
_DIGEST_REF = re.compile(r"[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}")  # host[:port]/name@sha256:…
_ARG_LINE = re.compile(r"^ARG ([A-Za-z_][A-Za-z0-9_]*)=(\S*)\s*$", re.MULTILINE)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_NOISE = re.compile(r"^(Step \d+/\d+ :|--->|Running in |Removing intermediate container )")


def build_context(name: str, docker_dir: Path, extra_ca: str) -> tempfile.SpooledTemporaryFile[bytes]:
    """docker/<name>/* at the top, benchd's source under src/, the extra CA bundle as extra-ca.pem."""
    out = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)
    root = docker_dir.parent
    with tarfile.open(fileobj=out, mode="w") as tar:
        for path in sorted((docker_dir / name).rglob("*")):
            tar.add(path, arcname=str(path.relative_to(docker_dir / name)), recursive=False)
        for file_name in SOURCE_FILES:
            _add_bytes(tar, f"src/{file_name}", (root / file_name).read_bytes() if (root / file_name).is_file()
                       else b"")
        for folder in SOURCE_DIRS:  # an empty folder still exists, so `COPY src/target` always works
            info = tarfile.TarInfo(f"src/{folder}")
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
            for path in sorted((root / folder).rglob("*")):
                if "__pycache__" not in path.parts and path.suffix != ".pyc":
                    tar.add(path, arcname=f"src/{path.relative_to(root)}", recursive=False)
        ca = b""
        if extra_ca:
            try:
                ca = Path(extra_ca).read_bytes()
            except OSError as exc:
                raise ImageError(f"docker.extra_ca = {extra_ca!r} cannot be read: {exc}") from exc
        _add_bytes(tar, "extra-ca.pem", ca)
    out.seek(0)
    return out


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def bootstrap(client: DockerClient, mirror: str = DEFAULT_MIRROR, suite: str = "bookworm",
              force: bool = False, say: Say = print) -> ResolvedImage:
    """A Debian base image for machines without a registry: debootstrap + `docker import`."""
    ref = f"benchd/base:{suite}"
    if not force and _present(client, ref):
        say(f"{ref} is already here (use --force to make it again)")
        return ResolvedImage(ref, digest_of(client.images.get(ref)), "local")
    if os.geteuid() != 0:
        raise ImageError("debootstrap needs root: run `sudo benchd images bootstrap`")
    if shutil.which("debootstrap") is None:
        raise ImageError("debootstrap is not installed: `apt-get install debootstrap`, then run this again")
    with tempfile.TemporaryDirectory(prefix="benchd-rootfs-") as tmp:
        rootfs, archive = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
        say(f"debootstrap {suite} from {mirror} (minbase + {', '.join(BASE_PACKAGES)})")
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", suite, str(rootfs),
              mirror], say)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):  # package caches: 100 MB of nothing
            for path in (rootfs / junk).glob("*"):
                if path.is_file():
                    path.unlink()
        _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(archive), "."], say)
        say(f"importing as {ref}")
        try:
            client.api.import_image(src=str(archive), repository="benchd/base", tag=suite,
                                    changes=[f"ENV PATH={SYSTEM_PATH}", "ENV LANG=C.UTF-8", 'CMD ["bash"]',
                                             f"LABEL benchd.base={suite}"])
        except (APIError, DockerException) as exc:
            raise ImageError(f"docker could not import the {suite} root file system: {_short(exc)}") from exc
    return ResolvedImage(ref, digest_of(client.images.get(ref)), "built")


def _run(argv: list[str], say: Say) -> None:
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)  # noqa: S603
    if proc.returncode:
        tail = proc.stdout.decode(errors="replace").strip().splitlines()[-10:]
        for line in tail:
            say(line)
        raise ImageError(f"{argv[0]} failed with code {proc.returncode}: {' | '.join(tail[-3:])}; check the "
                         "mirror (--mirror URL, the one in /etc/apt/sources.list) and the disk space")


def list_images(client: DockerClient, docker_dir: Path) -> list[dict[str, Any]]:
    rows = []
    for name in ["base", *buildable(docker_dir)]:
        ref = BASE_REF if name == "base" else f"benchd/{name}:latest"
        row: dict[str, Any] = {"name": name, "ref": ref, "present": False, "digest": None, "size_mb": None}
        try:
            image = client.images.get(ref)
            row.update(present=True, digest=digest_of(image), size_mb=round(image.attrs.get("Size", 0) / 1e6))
        except ImageNotFound:
            pass
        rows.append(row)
    return rows


def _present(client: DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
        return True
    except ImageNotFound:
        return False


def _lock_for(ref: str) -> threading.Lock:
    with _locks_guard:
        return _build_locks.setdefault(ref, threading.Lock())


def _short(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "explanation", None) or exc).split())[:300]
