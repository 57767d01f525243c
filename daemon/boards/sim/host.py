"""Carries simulated boards' bytes over `socket://` ports (or ptys): the "USB cable" of the simulator.

One thread per board serves one host at a time, as a real serial port does; a second client is
dropped at once. Unplugging (a fault, or `unplug()` from a test) drops the line and power-cycles
the board; `remove()` makes the port vanish for good. `stop()` joins every thread.
"""

from __future__ import annotations

import os
import select
import selectors
import socket
import threading
import time
import tty
from collections.abc import Sequence

from daemon.boards.sim.simulator import SimulatedBoard
from daemon.boards.sim.slip import SlipDecoder
from daemon.boards.sim.spec import BoardSpec

POLL_S = 0.02
WDT_DELAY_S = 0.05  # esptool arms the watchdog with ~2000 slow-clock ticks before it fires
REPLUG_S = 0.3  # an unplugged board is away this long before the port answers again


class _Line:
    """One board's port: accept, read frames, answer, play the boot timeline while in the app."""

    def __init__(self, board: SimulatedBoard, host: str, pty: bool, pacing: bool) -> None:
        self.board, self.pacing = board, pacing
        self.listener: socket.socket | None = None
        self.conn: socket.socket | None = None
        self.master: int | None = None
        self._slave: int | None = None
        if pty:
            self.master, self._slave = os.openpty()
            tty.setraw(self._slave)  # no echo, no line editing: the loader protocol is binary
            os.set_blocking(self.master, False)
            self.port = os.ttyname(self._slave)
        else:
            self.listener = socket.create_server((host, 0))
            self.listener.setblocking(False)
            self.port = f"socket://{host}:{self.listener.getsockname()[1]}"
        self.stop_event = threading.Event()
        self.removed = False
        self.away_until = 0.0
        self._decoder = SlipDecoder()
        self._events: list[tuple[float, bytes]] = []
        self._reset_at: float | None = None
        self._sel = selectors.DefaultSelector()
        self.thread = threading.Thread(target=self._serve, name=f"benchd-sim-{board.spec.index}", daemon=True)

    # -- I/O --------------------------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        try:
            if self.master is not None:
                os.write(self.master, data)
            elif self.conn is not None:
                self.conn.sendall(data)
        except (BlockingIOError, OSError):
            self._drop()  # nobody reads: the bytes are lost, as on a real USB-serial port

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self._sel.unregister(self.conn)
            except (KeyError, ValueError, RuntimeError):  # already closed with the selector
                pass
            self.conn.close()
            self.conn = None
        self._decoder.reset()

    def _boot(self) -> None:
        now = time.monotonic()
        self._events = [(now + t, data) for t, data in self.board.power_on()]
        self._reset_at = None
        self._decoder.reset()

    def _unplug(self) -> None:
        # The cable is pulled: the line drops; the board comes back powered up REPLUG_S later.
        self._drop()
        self.board.unplugged = False
        self.away_until = time.monotonic() + REPLUG_S
        self._boot()

    # -- the loop ---------------------------------------------------------------------------------
    def _serve(self) -> None:
        sel = self._sel
        if self.listener is not None:
            sel.register(self.listener, selectors.EVENT_READ, "accept")
        if self.master is not None:
            sel.register(self.master, selectors.EVENT_READ, "data")
        self._boot()
        try:
            while not self.stop_event.is_set():
                for key, _ in sel.select(self._timeout()):
                    if key.data == "accept":
                        self._accept()
                    else:
                        self._receive(key.fileobj)
                self._tick()
        finally:
            sel.close()

    def _timeout(self) -> float:
        due = [t for t, _ in self._events[:1]] + ([self._reset_at] if self._reset_at else [])
        return max(0.0, min([POLL_S] + [t - time.monotonic() for t in due]))

    def _accept(self) -> None:
        assert self.listener is not None
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        if self.removed or self._held() or time.monotonic() < self.away_until:
            conn.close()  # port busy or board away: a real port would refuse the open
            return
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.setblocking(True)
        conn.settimeout(5.0)
        self.conn = conn
        self._sel.register(conn, selectors.EVENT_READ, "data")
        self.board.on_connect()  # a new host stands for the reset a socket cannot carry

    def _held(self) -> bool:
        """Is the current host still there? Its close may be waiting unread while the next host connects."""
        if self.conn is None:
            return False
        if select.select([self.conn], [], [], 0)[0]:
            try:
                closed = self.conn.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                closed = True
            if closed:
                self._drop()
                return False
        return True

    def _receive(self, source: object) -> None:
        try:
            data = os.read(source, 1 << 16) if isinstance(source, int) else self.conn.recv(1 << 16)  # type: ignore[union-attr]
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop()
            return
        if self.pacing:  # a UART moves ~10 bits per byte at the current baud rate
            time.sleep(len(data) * 10 / self.board.baud)
        for frame in self._decoder.feed(data):
            was_app = self.board.mode == "app"
            replies = self.board.on_frame(frame)
            if was_app and self.board.mode != "app":
                self._events = []  # the app stopped: the chip was reset into download mode
            for reply in replies:
                self._send(reply)
            if self.board.unplugged:
                self._unplug()
                return

    def _tick(self) -> None:
        now = time.monotonic()
        board = self.board
        if board.unplugged:  # asked for from outside (a test pulling the cable)
            self._unplug()
        if board.reset_pending and self._reset_at is None:
            self._reset_at = now + WDT_DELAY_S
            board.reset_pending = False
        if board.boot_requested or (self._reset_at is not None and now >= self._reset_at):
            self._boot()
        while self._events and self._events[0][0] <= now:
            _, data = self._events.pop(0)
            if board.mode == "app" and (self.conn is not None or self.master is not None):
                self._send(data)
        console = board.app.read()  # a flashed virt firmware's UART (sim/virtapp.py); dropped when nobody listens
        if console and board.mode == "app" and (self.conn is not None or self.master is not None):
            self._send(console)
        if board.ram_app is not None:  # a program started by load-ram (sim/ramapp.py) runs on, heard or not
            console = board.ram_app.read()
            if console and (self.conn is not None or self.master is not None):
                self._send(console)

    def close(self) -> None:
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        self.board.power_off()  # no QEMU outlives its simulator
        self._drop()
        for fd in (self.master, self._slave):
            if fd is not None:
                os.close(fd)
        self.master = self._slave = None
        if self.listener is not None:
            self.listener.close()


class BoardSimulator:
    """N simulated boards on local ports; a context manager, so tests never leak its threads."""

    def __init__(self, specs: Sequence[BoardSpec], host: str = "127.0.0.1", pty: bool = False,
                 pacing: bool = False) -> None:
        self.boards = [SimulatedBoard(spec) for spec in specs]
        self._lines = [_Line(board, host, pty, pacing) for board in self.boards]
        self.ports = [line.port for line in self._lines]

    @classmethod
    def make(cls, count: int, chip: str = "esp32c3", faults: Sequence[str] = (), mac_base: int = 0xB0,
             **kwargs: object) -> BoardSimulator:
        specs = [BoardSpec(index=i, chip=chip, faults=frozenset(faults), mac_base=mac_base) for i in range(count)]
        return cls(specs, **kwargs)  # type: ignore[arg-type]

    def start(self) -> BoardSimulator:
        for line in self._lines:
            line.thread.start()
        return self

    def stop(self) -> None:
        for line in self._lines:
            line.close()

    def unplug(self, index: int) -> None:
        """Pull the cable of one board now (mid-transfer if a host is talking to it)."""
        self.boards[index].unplugged = True

    def remove(self, index: int) -> None:
        """The board is gone (cable out for good): its port refuses every connection from now on."""
        line = self._lines[index]
        line.removed = True
        if line.listener is not None:
            line.close()

    def __enter__(self) -> BoardSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
