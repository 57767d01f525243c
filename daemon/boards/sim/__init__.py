"""The board simulator: the ESP32-C3 ROM bootloader protocol (SLIP frames) on socket:// ports or ptys, so that
the real esptool can detect, flash, verify and reset it; faults can be injected. Product code, not a test double."""
