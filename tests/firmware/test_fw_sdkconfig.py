"""target/esp-idf/sdkconfig.defaults: real ESP-IDF v5.3.1 symbols only, and the console and partition choices
a bench needs (UART0 first, USB-Serial-JTAG second; the large single-app table)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = ROOT / "target" / "esp-idf" / "sdkconfig.defaults"
SYMBOLS = Path(__file__).resolve().parent / "data" / "esp_idf_v5.3.1_kconfig_symbols.txt"
# `CONFIG_X=value`, or kconfig's way of saying a bool is off.
SETTING = re.compile(r"^(?:CONFIG_(\w+)=(.*)|# CONFIG_(\w+) is not set)$")


def _settings() -> dict[str, str]:
    found = {}
    for line in DEFAULTS.read_text().splitlines():
        match = SETTING.match(line.strip())
        if match:
            name = match.group(1) or match.group(3)
            found[name] = match.group(2) if match.group(1) else "n"
        else:
            assert not line.strip() or line.startswith("#"), f"not an sdkconfig line: {line!r}"
            assert "CONFIG_" not in line.split("#", 1)[0], line
    return found


def test_every_symbol_is_one_of_esp_idf_v531() -> None:
    known = {line for line in SYMBOLS.read_text().splitlines() if line and not line.startswith("#")}
    assert len(known) > 3000  # the whole list, not a hand-picked few
    unknown = sorted(set(_settings()) - known)
    assert not unknown, f"not Kconfig symbols of ESP-IDF v5.3.1 (misspelt, or renamed): {unknown}"


def test_console_is_uart0_with_usb_serial_jtag_as_the_second() -> None:
    settings = _settings()
    assert settings.get("ESP_CONSOLE_UART_DEFAULT") == "y"
    assert settings.get("ESP_CONSOLE_SECONDARY_USB_SERIAL_JTAG") == "y"
    # A USB-Serial-JTAG primary console hides the output from boards wired through a USB-UART bridge, and
    # selects ESPTOOLPY_NO_STUB on the C3.
    assert "ESP_CONSOLE_USB_SERIAL_JTAG" not in settings
    assert "ESPTOOLPY_NO_STUB" not in settings


def test_the_app_partition_is_the_large_single_app_one() -> None:
    settings = _settings()
    assert settings.get("PARTITION_TABLE_SINGLE_APP_LARGE") == "y"
    assert settings.get("IDF_TARGET") == '"esp32c3"'
    assert settings.get("ESP_TASK_WDT_EN") == "n"


def test_the_recorded_flasher_args_follow_these_defaults() -> None:
    """data/flasher_args.esp32c3.json is what ESP-IDF v5.3.1's CMake wrote for this project (configured by
    tests/firmware/esp_idf_configure_check.sh with a compile-c archive): UART0's console keeps the stub."""
    import json

    args = json.loads((SYMBOLS.parent / "flasher_args.esp32c3.json").read_text())
    settings = _settings()
    assert args["extra_esptool_args"] == {"after": "hard_reset", "before": "default_reset", "stub": True,
                                          "chip": "esp32c3"}
    assert args["flash_settings"]["flash_mode"] == "dio" and settings["ESPTOOLPY_FLASHMODE_DIO"] == "y"
    assert args["flash_settings"]["flash_size"] == "4MB" and settings["ESPTOOLPY_FLASHSIZE_4MB"] == "y"
    assert args["app"]["offset"] == "0x10000" and args["partition-table"]["offset"] == "0x8000"
