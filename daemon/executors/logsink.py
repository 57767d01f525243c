"""Where a step's output goes: a log file of bounded size, plus the `::error::` lines it printed.

Both executors feed bytes in as they arrive, so memory stays bounded however much a step prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import structlog

DEFAULT_LIMIT = 20 * 1024 * 1024
ERROR_PREFIX = b"::error::"
WARNING_PREFIX = b"::warning::"
_log = structlog.get_logger("step")


class LogSink:
    def __init__(self, path: Path, limit: int = DEFAULT_LIMIT, max_errors: int = 20) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = path.open("wb")
        self._limit = limit
        self._written = 0
        self._pending = b""
        self._max_errors = max_errors
        self.truncated = False
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.last_line = ""  # the last thing the step said: the best hint when it fails silently

    def write(self, data: bytes) -> None:
        self._scan(data)
        if self.truncated:
            return
        room = self._limit - self._written
        if len(data) > room:
            self._file.write(data[:room])
            self._file.write(
                f"\n[benchd: log truncated after {self._limit} bytes; the step kept running]\n".encode()
            )
            self._written = self._limit
            self.truncated = True
        else:
            self._file.write(data)
            self._written += len(data)
        self._file.flush()

    def _scan(self, data: bytes) -> None:
        # Only whole lines are scanned; a partial line waits for the next chunk (bounded to 4 KiB).
        buf = self._pending + data
        lines = buf.split(b"\n")
        self._pending = lines.pop()[-4096:]
        for line in lines:
            self._line(line)

    def _line(self, line: bytes) -> None:
        text = line.rstrip(b"\r")
        if text.strip():
            # The head of a long line: a message leads with what went wrong (a skip reason names the operator
            # first, then tensor names that run to hundreds of characters).
            self.last_line = text[:500].decode("utf-8", "replace").strip()
        for prefix, found in ((ERROR_PREFIX, self.errors), (WARNING_PREFIX, self.warnings)):
            if text.startswith(prefix) and len(found) < self._max_errors:
                message = text[len(prefix) :].decode("utf-8", "replace").strip()
                found.append(message)
                _log.warning("step says", message=message, kind=prefix.decode().strip(":"))

    def close(self) -> None:
        if self._pending:
            self._line(self._pending)
            self._pending = b""
        self._file.close()

    def __enter__(self) -> LogSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
