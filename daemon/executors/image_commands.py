"""`benchd images list|build NAME|bootstrap`: the pinned images, from the command line.

cli.py adds these with `add_arguments(subparsers)` and calls `main(args, settings)`; errors are raised as
BenchdError subclasses for cli.py to turn into exit codes.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

from daemon.settings import Settings


def add_arguments(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "images", help="list, build or bootstrap the pinned container images",
        description="Pinned images: local image, else pull, else build from docker/<name>. On a machine "
        "without a registry: `benchd images bootstrap`, then `benchd images build tvm`.")
    verbs = parser.add_subparsers(dest="images_command", required=True)
    listing = verbs.add_parser("list", help="the images benchd knows, and whether this engine has them")
    listing.add_argument("--json", action="store_true", help="one JSON document on stdout")
    build = verbs.add_parser("build", help="build benchd/NAME from docker/NAME")
    build.add_argument("name", metavar="NAME", help="a folder of docker/ (tvm, tvm-legacy, espidf)")
    build.add_argument("--extra-ca", metavar="PEM", help="CA bundle for builds behind a TLS-intercepting proxy")
    build.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE",
                       help="a Dockerfile ARG, e.g. TVM_SRC_SHA512=… for tvm-legacy (repeatable)")
    boot = verbs.add_parser("bootstrap", help="make benchd/base:bookworm with debootstrap (no registry needed)")
    boot.add_argument("--mirror", help="Debian mirror (default: the first one in /etc/apt/sources.list*)")
    boot.add_argument("--suite", default="bookworm", help="Debian suite (default: bookworm)")
    boot.add_argument("--force", action="store_true", help="make it again even when it is already here")
    for sub in (listing, build, boot):
        sub.add_argument("--docker-dir", type=Path, help="folder of Dockerfiles (default: the checkout's docker/)")
    return parser


def main(args: argparse.Namespace, settings: Settings) -> int:
    import dataclasses

    from daemon.executors import container, images

    client = container.connect()
    docker_dir = args.docker_dir or images.default_docker_dir()
    try:
        if args.images_command == "list":
            rows = images.list_images(client, docker_dir)
            if args.json:
                print(json.dumps(rows, indent=2))
            else:
                for row in rows:
                    state = f"{row['digest'][:19]}  {row['size_mb']} MB" if row["present"] else "missing"
                    print(f"{row['ref']:<28} {state}")
            return 0
        if args.images_command == "build":
            docker_settings = settings.docker
            if args.extra_ca:
                docker_settings = dataclasses.replace(docker_settings, extra_ca=args.extra_ca)
            started = time.monotonic()
            extra = dict(arg.partition("=")[::2] for arg in args.build_arg)
            images.BuildMemo().forget(args.name)  # asked for by name: try again whatever failed before
            image = images.build(args.name, client, docker_dir, docker_settings, say=_say, buildargs=extra)
            print(f"benchd/{args.name}:latest {images.digest_of(image)} ({time.monotonic() - started:.0f} s)")
            return 0
        mirror = args.mirror or apt_mirror()
        started = time.monotonic()
        resolved = images.bootstrap(client, mirror=mirror, suite=args.suite, force=args.force, say=_say)
        print(f"{resolved.ref} {resolved.digest} ({time.monotonic() - started:.0f} s)")
        return 0
    finally:
        client.close()


def apt_mirror(roots: tuple[Path, ...] = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))) -> str:
    """The Debian mirror apt already uses here (it is the one known to be reachable)."""
    from daemon.executors.images import DEFAULT_MIRROR

    files: list[Path] = []
    for root in roots:
        files += sorted(root.glob("*")) if root.is_dir() else [root] if root.is_file() else []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        # one-line style `deb [opts] URL bookworm main`, or deb822 `URIs: URL`
        for url in _MIRROR_LINE.findall(text):
            if str(url).rstrip("/").endswith("/debian"):
                return str(url).rstrip("/")
    return DEFAULT_MIRROR


_MIRROR_LINE = re.compile(r"^(?:deb(?:\s+\[[^\]]*\])?|URIs:)\s+(\S+)", re.MULTILINE)


def _say(line: str) -> None:
    print(line, flush=True)
