"""A `virt` firmware image: a virtual-core ELF (daemon.virtcore) packaged so esptool can flash it onto a
simulated board, and so the simulator recognises it and boots it under QEMU instead of playing a canned boot.

Layout at the app partition's offset (0x10000, as ESP-IDF places its factory app): a 64-byte header
`"benchd virt elf\\0" | version u32 | ELF size u32 | ELF SHA-256 (32 bytes) | 8 zero bytes`, then the ELF.
The marker is in the bytes, not in a file name, so a renamed folder cannot smuggle it onto a real board:
`benchd/flash` refuses a bundle holding one for any board that does not identify as simulated
(daemon/boards/flasher.py). Beside the images, the bundle keeps the test vectors compiled into the ELF
(`inputs.npy`) and `virt.json` (backend, model), so the monitor can check outputs against the reference.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from daemon.errors import FlashError
from daemon.firmware.bundle import write_bundle

MAGIC = b"benchd virt elf\0"
VERSION = 1
HEADER = struct.Struct("<16sII32s8x")  # 64 bytes
APP_OFFSET = 0x10000
IMAGE_NAME = "benchd-virt.bin"
VECTORS_NAME = "inputs.npy"
INFO_NAME = "virt.json"
ELF_MAGIC = b"\x7fELF"
# How a board shows it is simulated: this text in eFuse BLOCK_USR_DATA (BLOCK3), which esptool can read on any
# C3 without side effects and which is all zeros on a real chip unless its owner burned it. Not the port (a
# real board can sit behind socket:// via ser2net) and not the MAC (the simulator uses Espressif's OUI).
EFUSE_USR_DATA0 = 0x6000887C
SIMULATOR_MARK = b"benchd-simulator"


@dataclass(frozen=True)
class VirtBundleInfo:
    """What the bundle folder says beside its image: where its vectors are and which backend built it."""

    vectors: Path | None
    backend: str
    model_sha256: str


def pack_image(elf: bytes) -> bytes:
    """The flashable image for a virt ELF: header (marker, size, SHA-256) + the ELF."""
    if not elf.startswith(ELF_MAGIC):
        raise FlashError("a virt image carries an ELF file (daemon.virtcore.build_firmware's firmware.elf); "
                         "this one does not start with \\x7fELF")
    return HEADER.pack(MAGIC, VERSION, len(elf), hashlib.sha256(elf).digest()) + elf


def is_virt_image(data: bytes | bytearray) -> bool:
    """Whether `data` starts with the virt marker (whatever its state: enough to refuse a real board)."""
    return bytes(data[: len(MAGIC)]) == MAGIC


def find_elf(flash: bytes | bytearray, offset: int = APP_OFFSET) -> bytes | None:
    """The ELF of an intact virt image at `offset` in a flash dump; None when there is none or it is damaged."""
    head = bytes(flash[offset : offset + HEADER.size])
    if len(head) < HEADER.size or not is_virt_image(head):
        return None
    _magic, version, size, digest = HEADER.unpack(head)
    start = offset + HEADER.size
    elf = bytes(flash[start : start + size])
    if version != VERSION or len(elf) != size or hashlib.sha256(elf).digest() != digest:
        return None
    return elf


def write_virt_bundle(folder: Path, elf: Path, vectors: np.ndarray, backend: str, model_sha256: str) -> Path:
    """A flashable bundle (flasher_args.json + the image) for simulated boards, with the vectors it was built on."""
    write_bundle(folder, {APP_OFFSET: (IMAGE_NAME, pack_image(elf.read_bytes()))})
    np.save(folder / VECTORS_NAME, vectors)
    (folder / INFO_NAME).write_text(json.dumps({"kind": "virt", "backend": backend, "model_sha256": model_sha256,
                                                "vectors": VECTORS_NAME}, indent=2), encoding="utf-8")
    return folder


def read_bundle_info(folder: Path) -> VirtBundleInfo:
    """The side record of a virt bundle; a bundle without one still flashes, its outputs are just not checked."""
    try:
        info = json.loads((folder / INFO_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    name = str(info.get("vectors") or VECTORS_NAME)
    vectors = (folder / name).resolve()
    inside = vectors.is_relative_to(folder.resolve()) and vectors.is_file()
    return VirtBundleInfo(vectors if inside else None, str(info.get("backend", "")), str(info.get("model_sha256", "")))


def is_virt_bundle(images: list[bytes] | tuple[bytes, ...]) -> bool:
    """Whether any of a bundle's images is a virt image (benchd/flash routes on this)."""
    return any(is_virt_image(data) for data in images)
