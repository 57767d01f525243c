"""A TCP relay a test puts between a client and a server, to partition them (freeze), heal the partition (thaw)
or reset every connection (cut)."""

from __future__ import annotations

import select
import socket
import threading
from types import TracebackType

CHUNK = 65536
TICK_S = 0.05  # how soon a waiting thread notices cut() or close()


class _Link:
    """One relayed connection: the accepted client socket and, once the relay flows, its upstream socket."""

    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.upstream: socket.socket | None = None
        self.dead = threading.Event()

    def kill(self) -> None:
        """Wake both pumps with an EOF; the link's own thread closes the sockets (closing a socket another
        thread is selecting on is not safe)."""
        self.dead.set()
        for s in (self.client, self.upstream):
            if s is not None:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class TcpRelay:
    """Listens on 127.0.0.1:`port` and relays each connection to target_host:target_port, both directions.

    freeze() is a network partition: no byte is read or forwarded either way, the sockets stay open, and a new
    connection is accepted but not connected upstream until thaw(). A chunk read just before freeze() waits and
    goes on after thaw(), as TCP would retransmit it. cut() resets every connection; close() stops the relay.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._links: list[_Link] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(TICK_S)
        self._port = int(self._listener.getsockname()[1])  # still readable after close()
        self._acceptor = threading.Thread(target=self._accept_loop, name="tcprelay-accept")
        self._acceptor.start()

    @property
    def port(self) -> int:
        return self._port

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def cut(self) -> None:
        with self._lock:
            links, self._links = self._links, []
        for link in links:
            link.kill()

    def close(self) -> None:
        self._closed.set()
        self._acceptor.join()
        self._listener.close()
        self.cut()
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self) -> TcpRelay:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- threads ---------------------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            link = _Link(client)
            # Not a daemon thread: one that outlives close() shows up in the suite's leaked-thread check.
            t = threading.Thread(target=self._serve, args=(link,), name="tcprelay-link")
            with self._lock:
                self._links = [x for x in self._links if not x.dead.is_set()] + [link]
                self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    def _wait_flowing(self, link: _Link) -> bool:
        """Block while frozen; False once the link is cut or the relay closed."""
        while not self._flowing.wait(TICK_S):
            if link.dead.is_set() or self._closed.is_set():
                return False
        return not (link.dead.is_set() or self._closed.is_set())

    def _serve(self, link: _Link) -> None:
        try:
            if not self._wait_flowing(link):
                return
            try:
                link.upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                return
            link.upstream.settimeout(None)  # blocking, as the accepted client socket is
            if link.dead.is_set():  # cut() while connecting saw no upstream socket to shut down
                return
            back = threading.Thread(target=self._pump, args=(link, link.upstream, link.client), name="tcprelay-back")
            back.start()
            self._pump(link, link.client, link.upstream)
            link.kill()
            back.join()
        finally:
            link.kill()
            for s in (link.client, link.upstream):
                if s is not None:
                    s.close()

    def _pump(self, link: _Link, src: socket.socket, dst: socket.socket) -> None:
        try:
            while self._wait_flowing(link):
                ready, _, _ = select.select([src], [], [], TICK_S)
                if not ready:
                    continue
                data = src.recv(CHUNK)
                if not data or not self._wait_flowing(link):
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            link.kill()  # one direction ended: so does the other
