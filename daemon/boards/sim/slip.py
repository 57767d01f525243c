"""SLIP framing as the ESP ROM loader uses it (RFC 1055 with 0xC0 delimiters on both ends)."""

from __future__ import annotations

END, ESC, ESC_END, ESC_ESC = b"\xc0", b"\xdb", b"\xdb\xdc", b"\xdb\xdd"


def encode(payload: bytes) -> bytes:
    # Escape ESC first, or the escapes added for END would be escaped again.
    return END + payload.replace(ESC, ESC_ESC).replace(END, ESC_END) + END


def decode(body: bytes) -> bytes:
    return body.replace(ESC_END, END).replace(ESC_ESC, ESC)


class SlipDecoder:
    """Incremental decoder: feed raw bytes, get whole frames.

    Bytes outside a frame (boot noise, a terminal's keystrokes) are dropped, as the ROM drops them.
    Splitting on END keeps the per-byte work in C: a 1 MB image decodes in milliseconds.
    """

    def __init__(self, max_frame: int = 1 << 20) -> None:
        self._buffer = bytearray()
        self._in_frame = False
        self._max_frame = max_frame

    def feed(self, data: bytes) -> list[bytes]:
        frames: list[bytes] = []
        parts = data.split(END)
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if self._in_frame:
                self._buffer += part
                if len(self._buffer) > self._max_frame:  # garbage, not a frame: resynchronise
                    self._buffer.clear()
                    self._in_frame = False
                    continue
                if not last:
                    if self._buffer:
                        frames.append(decode(bytes(self._buffer)))
                        self._buffer.clear()
                        # An END that closes a frame may be followed directly by the next frame's END.
                        self._in_frame = False
                    # An empty buffer means END END: treat the second END as the opening of a frame.
            elif not last:
                self._in_frame = True
        return frames

    def reset(self) -> None:
        self._buffer.clear()
        self._in_frame = False
