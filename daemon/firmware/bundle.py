"""The images a firmware build asks to be flashed, read from ESP-IDF's `flasher_args.json`.

`idf.py build` writes `build/flasher_args.json`: `flash_files` maps offsets ("0x0", "0x8000",
"0x10000") to paths relative to the build folder, `flash_settings` holds mode, size and frequency, and
`extra_esptool_args` whether esptool may run its stub (`"stub": false` where the project's configuration asks
for the ROM loader, e.g. ESP-IDF selects CONFIG_ESPTOOLPY_NO_STUB for the C3's USB-Serial-JTAG console) and
the chip. Paths are checked to stay inside the folder: the file comes from a job, not from us.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from daemon.errors import FlashError

FLASHER_ARGS = "flasher_args.json"


@dataclass(frozen=True)
class FlashImage:
    offset: int
    path: Path
    data: bytes

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data).hexdigest()


@dataclass(frozen=True)
class FirmwareBundle:
    folder: Path
    images: tuple[FlashImage, ...]
    flash_mode: str = "keep"
    flash_size: str = "keep"
    flash_freq: str = "keep"
    chip: str = "esp32c3"
    stub: bool = True  # extra_esptool_args.stub: false = flash through the ROM loader, never upload the stub

    @property
    def size(self) -> int:
        return sum(len(image.data) for image in self.images)


def load_bundle(folder: Path) -> FirmwareBundle:
    """Read flasher_args.json and every image it names; FlashError saying what is missing otherwise."""
    args_file = folder / FLASHER_ARGS
    if not args_file.is_file():
        raise FlashError(
            f"no {FLASHER_ARGS} in {folder}: the firmware job must hand over its ESP-IDF build folder "
            "(flasher_args.json plus the .bin files), or set `firmware:` under `with:`"
        )
    try:
        args = json.loads(args_file.read_text(encoding="utf-8"))
        files = args["flash_files"]
        if not isinstance(files, dict) or not files:
            raise ValueError("flash_files is empty")
        offsets = {int(str(offset), 0): str(name) for offset, name in files.items()}
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise FlashError(f"{args_file} is not a usable flasher_args.json ({exc}); rebuild the firmware") from exc
    root = folder.resolve()
    images = []
    for offset, name in sorted(offsets.items()):
        path = (folder / name).resolve()
        if not path.is_relative_to(root):
            raise FlashError(f"{args_file}: image {name!r} points outside {folder}; refusing to flash it")
        if not path.is_file():
            raise FlashError(f"{args_file} names {name} at {offset:#x}, which is missing; rebuild the firmware")
        images.append(FlashImage(offset, path, path.read_bytes()))
    for before, after in zip(images, images[1:], strict=False):
        if before.offset + len(before.data) > after.offset:
            raise FlashError(f"{args_file}: {before.path.name} at {before.offset:#x} overlaps "
                             f"{after.path.name} at {after.offset:#x}; check the partition table")
    settings = args.get("flash_settings") or {}
    extra = args.get("extra_esptool_args") or {}
    stub = extra.get("stub", True)
    if not isinstance(stub, bool):  # ESP-IDF writes a JSON true/false; a string would silently mean "yes"
        raise FlashError(f"{args_file}: extra_esptool_args.stub is {stub!r}, not true or false; rebuild the firmware")
    return FirmwareBundle(
        folder=folder, images=tuple(images),
        flash_mode=str(settings.get("flash_mode", "keep")), flash_size=str(settings.get("flash_size", "keep")),
        flash_freq=str(settings.get("flash_freq", "keep")), chip=str(extra.get("chip", "esp32c3")), stub=stub,
    )


def write_bundle(folder: Path, images: dict[int, tuple[str, bytes]], chip: str = "esp32c3", stub: bool = True,
                 flash: tuple[str, str, str] = ("dio", "4MB", "80m")) -> Path:
    """Write images and a flasher_args.json as ESP-IDF lays them out (the simulator, tests and benchmarks);
    `flash` is (mode, size, frequency)."""
    folder.mkdir(parents=True, exist_ok=True)
    for _offset, (name, data) in images.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    mode, size, freq = flash
    args = {
        "write_flash_args": ["--flash_mode", mode, "--flash_size", size, "--flash_freq", freq],
        "flash_settings": {"flash_mode": mode, "flash_size": size, "flash_freq": freq},
        "flash_files": {f"{offset:#x}": name for offset, (name, _data) in sorted(images.items())},
        "extra_esptool_args": {"after": "hard_reset", "before": "default_reset", "stub": stub, "chip": chip},
    }
    (folder / FLASHER_ARGS).write_text(json.dumps(args, indent=2), encoding="utf-8")
    return folder
